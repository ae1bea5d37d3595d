// ReadAheadPolicy (read_ahead.h). Its state is one run: the furthest block read, the run's
// length and the first block not yet handed out. A read that starts a new run resets the
// latter to the block after it, so what an earlier run (elsewhere on the disk) handed out
// says nothing about the new one.
#include "block/read_ahead.h"

#include <algorithm>

namespace s3disk {

uint64_t ReadAheadPolicy::MaxBlocks(uint32_t asked_blocks, uint32_t threads,
                                    uint64_t cache_blocks) {
  if (asked_blocks != 0) return asked_blocks;
  return std::min<uint64_t>(std::max<uint64_t>(threads, 2 * kFetchBatchBlocks), cache_blocks / 4);
}

ReadAheadPolicy::ReadAheadPolicy(uint32_t first_blocks, uint32_t trigger, uint64_t max_blocks,
                                 uint64_t num_blocks)
    : first_blocks_(first_blocks),
      trigger_(trigger),
      max_blocks_(max_blocks),
      num_blocks_(num_blocks) {}

std::optional<ReadAheadPolicy::Window> ReadAheadPolicy::NoteRead(BlockNum n) {
  if (int64_t{n} == last_read_) return std::nullopt;  // another part of the same block
  // A read a little behind the last one is part of the run, and one a little ahead extends it.
  const int64_t step = int64_t{n} - last_read_;
  if (step < 0 && step >= -kReorderBlocks) return std::nullopt;
  run_length_ = step > 0 && step <= kReorderBlocks ? run_length_ + 1 : 1;
  last_read_ = n;
  if (run_length_ == 1) next_ = uint64_t{n} + 1;
  if (first_blocks_ == 0 || run_length_ < trigger_) return std::nullopt;
  const uint64_t window = std::max<uint64_t>(
      first_blocks_, std::min<uint64_t>(max_blocks_, first_blocks_ + (run_length_ - trigger_)));
  Window w;
  w.end = std::min<uint64_t>(uint64_t{n} + 1 + window, num_blocks_);
  w.from = uint64_t{n} + 1;
  if (next_ > w.from && next_ <= w.end) w.from = next_;
  // The window is handed out a batch at a time (one worker fetches a batch side by side), so
  // it may lag by less than a batch; a small window tops up at half.
  w.batch = std::min<uint64_t>(kFetchBatchBlocks, std::max<uint64_t>(1, window / 2));
  if (w.end < w.from + w.batch && w.end < num_blocks_) return std::nullopt;
  w.max_queued = 4 * window;
  next_ = w.end;
  return w;
}

}  // namespace s3disk
