// ReadAheadPolicy: when the block cache reads ahead, and which blocks: it spots sequential runs
// of block reads and says which window of blocks after each read to fetch, and in batches of
// how many. It fetches nothing, queues nothing and has no threads nor lock of its own:
// BlockCache calls it under its lock, skips the blocks it already holds and runs the fetches.
//
// - A read continues the run when it comes at most kReorderBlocks after the last one (the
//   kernel sends a sequential reader's reads several at a time, so they may come a little out
//   of order); a read up to kReorderBlocks behind the last one is part of the run and changes
//   nothing; any other read starts a new run of length 1.
// - From the trigger-th read of a run on, the window is the first_blocks blocks after the
//   read, widened by one block per further read of the run, up to max_blocks.
// - The window is handed out a batch at a time (half the window, at most kFetchBatchBlocks,
//   at least 1): nothing while less than a batch past what was already handed out is missing
//   (except at the end of the disk). What was handed out is remembered until a new run starts.
#pragma once

#include <cstdint>
#include <optional>

#include "block/block_store.h"

namespace s3disk {

class ReadAheadPolicy {
 public:
  // Blocks one fetch takes at once (one ReadBlocks below): S3 sends them side by side and
  // hashes them in one pass (md5_many.h: 16 bodies cost about what 3 cost one by one).
  static constexpr uint64_t kFetchBatchBlocks = 16;
  // How far out of order the reads of one sequential run may come.
  static constexpr int64_t kReorderBlocks = 8;

  // The widest window: asked_blocks (--readAheadMax) when not 0, else one fetch per worker
  // (threads) and at least two batches, at most a quarter of the cache (cache_blocks).
  static uint64_t MaxBlocks(uint32_t asked_blocks, uint32_t threads, uint64_t cache_blocks);

  // first_blocks: the first window (0: read-ahead off); trigger: the reads of a run that start
  // it (at least 1 when first_blocks is not 0); max_blocks: the widest window; num_blocks: the
  // disk's blocks (no window goes past them).
  ReadAheadPolicy(uint32_t first_blocks, uint32_t trigger, uint64_t max_blocks,
                  uint64_t num_blocks);

  // Blocks to fetch ahead after one read.
  struct Window {
    uint64_t from = 0, end = 0;  // [from, end): may be empty at the end of the disk
    uint64_t batch = 0;          // blocks one fetch takes
    uint64_t max_queued = 0;     // blocks waiting for a fetch at most: older ones are dropped
  };
  // Notes a read of block n (of any part of it). Returns the blocks to fetch ahead now, or
  // nothing.
  std::optional<Window> NoteRead(BlockNum n);

  uint64_t TEST_max_blocks() const { return max_blocks_; }

 private:
  const uint32_t first_blocks_;
  const uint32_t trigger_;
  const uint64_t max_blocks_;
  const uint64_t num_blocks_;
  int64_t last_read_ = -2;   // the run's furthest block read
  uint32_t run_length_ = 0;  // reads that made the run so far
  uint64_t next_ = 0;        // first block of the run not handed out yet
};

}  // namespace s3disk
