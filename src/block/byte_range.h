// ByteRange: byte offsets and lengths over a BlockStore, shared by the FUSE and NBD front ends.
//
// SplitRange cuts [offset, offset + length) into per-block pieces. ByteRange runs them:
// whole-block pieces go straight to ReadBlock/WriteBlock on the caller's buffer (no copy),
// partial ones to ReadPart/WritePart. A write of kMinBlocksHashedTogether or more whole
// blocks with data hashes them side by side (md5_many.h) and passes each digest down with its
// block (WriteHints), when this machine can do that faster than one block at a time. Writes to
// one block are serialized by striped locks (block n uses stripe n % kStripes), so the
// read-modify-write of a partial write is atomic against other writes to the same block. Reads take
// no lock.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "base/sync.h"
#include "block/block_store.h"

namespace s3disk {

struct BlockPiece {
  BlockNum block;
  uint32_t offset;      // inside the block
  uint32_t length;      // bytes in this block
  uint64_t buf_offset;  // where the piece starts in the caller's buffer
  bool operator==(const BlockPiece&) const = default;
};

// Pieces of [offset, offset + length) in block order; empty for length 0. block_size > 0.
// Does not check the device size (ByteRange does).
std::vector<BlockPiece> SplitRange(uint64_t offset, uint64_t length, uint32_t block_size);

class ByteRange {
 public:
  explicit ByteRange(BlockStore& store);  // size = num_blocks * block_size

  uint64_t size_bytes() const { return size_bytes_; }

  Status Read(uint64_t offset, std::span<uint8_t> buf);          // EINVAL past the end
  Status Write(uint64_t offset, std::span<const uint8_t> data);  // EINVAL past the end
  // Zeros [offset, offset+length): whole blocks become Trim (objects deleted), partial
  // ends become WritePart of zeros. Used for fallocate(PUNCH_HOLE), NBD trim and zero.
  // Whole blocks are trimmed in chunks of up to kZeroChunkBlocks consecutive blocks, under
  // the stripes of all their blocks (taken in stripe order, so two holders can never
  // deadlock). A run of more than kZeroChunkBlocks takes every stripe once for up to
  // kZeroSpanBlocks blocks (many chunks), so a huge discard costs no per-block locking.
  Status Zero(uint64_t offset, uint64_t length);
  Status Flush();

  static constexpr uint32_t kStripes = 1024;
  // Md5Many of 2 buffers is no faster than 2 Md5 calls; of 3, 1.3 times (of 8, 3.5 times).
  static constexpr size_t kMinBlocksHashedTogether = 3;
  // At most kStripes, so the blocks of one chunk map to distinct stripes; 1000 matches the
  // DeleteObjects batch size of the object layer.
  static constexpr uint32_t kZeroChunkBlocks = 1000;
  // The most blocks trimmed under all the stripes at once: writers wait at most this long.
  static constexpr uint64_t kZeroSpanBlocks = 64 * kZeroChunkBlocks;

 private:
  Status CheckRange(const char* op, uint64_t offset, uint64_t length) const;
  Mutex& Stripe(BlockNum n) { return stripes_[n % kStripes]; }
  // Trims [first, first + count), count <= kZeroChunkBlocks, under all its stripes. (Both
  // take a run of stripes in a loop, which the thread-safety analysis cannot follow.)
  Status TrimChunk(BlockNum first, uint32_t count) NO_THREAD_SAFETY_ANALYSIS;
  // Trims [first, first + count) in chunks; under every stripe when count > one chunk.
  Status TrimSpan(BlockNum first, uint64_t count) NO_THREAD_SAFETY_ANALYSIS;

  BlockStore& store_;
  const uint32_t block_size_;
  const uint64_t size_bytes_;
  std::array<Mutex, kStripes> stripes_;
};

}  // namespace s3disk
