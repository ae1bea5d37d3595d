// ZeroMap: a known-zero bitmap over the layer below (two bits per block).
//
// Each block is unknown, zero (a promise: below reads it as zeros) or nonzero (it was
// written with data or listed by the survey, so it may hold data). Reads of zero blocks never
// go below; a zero write to a zero block is dropped; a partial write to a zero block is built
// here from zeros (no read below); Trim skips blocks already zero. The map learns only from
// writes, trims and the start-up survey, never from reads: a read racing a write would
// otherwise teach it a stale "zero".
//
// Writes to one block must be serialized by the caller (the BlockStore contract; byte_range
// does it); writes to different blocks and all reads may run concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "block/block_store.h"

namespace s3disk {

class ZeroMap : public ForwardingBlockStore {
 public:
  // survey_at_start: Start() calls below().SurveyNonZero() to learn every block's state.
  // stats_name: the prefix of its counters in DumpStats (NAME_known_zero, ...), so that two
  // maps in one stack can be told apart.
  ZeroMap(std::unique_ptr<BlockStore> below, bool survey_at_start,
          std::string stats_name = "zero_map");

  Status ReadBlock(BlockNum n, std::span<uint8_t> buf) override;
  // The blocks not known to be zero go below as one batch.
  std::vector<Status> ReadBlocks(std::span<const BlockNum> ns,
                                 std::span<const std::span<uint8_t>> bufs) override;
  // A zero block goes below as empty data, without the hints.
  Status WriteBlock(BlockNum n, std::span<const uint8_t> data,
                    const WriteHints& hints = {}) override;
  // Parts of blocks not known to be zero go below as parts (the cache merges them).
  Status ReadPart(BlockNum n, uint32_t offset, std::span<uint8_t> buf) override;
  Status WritePart(BlockNum n, uint32_t offset, std::span<const uint8_t> data) override;
  // The runs of blocks not known to be zero go below as trims.
  Status Trim(BlockNum first, uint64_t count) override;
  Status SurveyNonZero(const std::function<void(BlockNum)>& found) override;
  Status Start() override;
  void DumpStats(std::string* out) override;

  // True if block n is known to read as zeros (no object below): thread-safe, lock-free.
  // For NBD extents (holes); unknown and nonzero blocks are false.
  bool KnownZero(BlockNum n) const { return n < num_blocks_ && Get(n) == State::kZero; }

  // For tests and stats.
  uint64_t known_zero_blocks() const { return known_zero_; }
  uint64_t unknown_blocks() const { return unknown_; }

 private:
  enum class State : uint8_t { kUnknown = 0, kZero = 1, kNonZero = 2 };

  State Get(BlockNum n) const;
  // Sets the state and keeps the counters exact; returns the previous state.
  State Set(BlockNum n, State s);
  // Sets every block to s; only while nothing else touches the map (Start).
  void FillAll(State s);
  // Forwards a full-block write (empty = zeros), marking the block unknown while it is in
  // flight and `after` once it succeeded.
  Status ForwardWrite(BlockNum n, std::span<const uint8_t> data, State after,
                      const WriteHints& hints = {});

  static constexpr uint32_t kBlocksPerWord = 32;
  // A word whose 32 blocks are all zero (State::kZero == 1 in every 2-bit field).
  static constexpr uint64_t kAllZeroWord = 0x5555555555555555ULL;

  const uint64_t num_blocks_;
  const bool survey_at_start_;
  const std::string stats_name_;
  // Two bits per block, 32 blocks per word; zero-initialized = all unknown.
  std::unique_ptr<std::atomic<uint64_t>[]> words_;
  std::atomic<uint64_t> known_zero_{0};
  std::atomic<uint64_t> unknown_;
  std::atomic<uint64_t> reads_elided_{0};
  std::atomic<uint64_t> writes_elided_{0};
};

}  // namespace s3disk
