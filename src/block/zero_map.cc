// ZeroMap states, per block (2 bits in words_):
//   unknown  (0) -- not surveyed, a write/trim is in flight, or one failed: ask below
//   zero     (1) -- below reads the block as zeros (it has no object)
//   nonzero  (2) -- written with data or listed by the survey: may hold data
//
// Invariants
//   | invariant                                   | kept by                                    |
//   |---------------------------------------------|--------------------------------------------|
//   | zero => below reads zeros                    | zero is set only after a zero write or    |
//   |                                              | trim succeeded below, or by the survey    |
//   | a block is unknown while a write to it runs  | ForwardWrite/Trim set unknown before the  |
//   |                                              | call, the final state after it            |
//   | failed write/trim => unknown                 | the final state is set only on success    |
//   | known_zero_/unknown_ count the map exactly   | every change goes through Set (CAS)       |
//   | no lock is held while calling below          | the map is lock-free (atomic words)       |
//   | reads never change the map                   | a racing write would make it stale        |
#include "block/zero_map.h"

#include <cstring>
#include <vector>

#include "base/log.h"
#include "base/stats.h"

namespace s3disk {

ZeroMap::ZeroMap(std::unique_ptr<BlockStore> below, bool survey_at_start, std::string stats_name)
    : ForwardingBlockStore(std::move(below)),
      num_blocks_(this->below().num_blocks()),
      survey_at_start_(survey_at_start),
      stats_name_(std::move(stats_name)),
      words_(std::make_unique<std::atomic<uint64_t>[]>((num_blocks_ + kBlocksPerWord - 1) /
                                                       kBlocksPerWord)),
      unknown_(num_blocks_) {}

ZeroMap::State ZeroMap::Get(BlockNum n) const {
  uint64_t word = words_[n / kBlocksPerWord].load(std::memory_order_acquire);
  return static_cast<State>((word >> (2 * (n % kBlocksPerWord))) & 3);
}

ZeroMap::State ZeroMap::Set(BlockNum n, State s) {
  std::atomic<uint64_t>& word = words_[n / kBlocksPerWord];
  const unsigned shift = 2 * (n % kBlocksPerWord);
  uint64_t old_word = word.load(std::memory_order_relaxed);
  uint64_t new_word;
  do {
    new_word = (old_word & ~(uint64_t{3} << shift)) | (uint64_t{static_cast<uint8_t>(s)} << shift);
  } while (!word.compare_exchange_weak(old_word, new_word, std::memory_order_acq_rel));
  State old = static_cast<State>((old_word >> shift) & 3);
  if (old != s) {
    if (old == State::kZero) known_zero_--;
    if (s == State::kZero) known_zero_++;
    if (old == State::kUnknown) unknown_--;
    if (s == State::kUnknown) unknown_++;
  }
  return old;
}

void ZeroMap::FillAll(State s) {
  uint64_t pattern = 0;
  for (uint32_t i = 0; i < kBlocksPerWord; i++) {
    pattern |= uint64_t{static_cast<uint8_t>(s)} << (2 * i);
  }
  const uint64_t words = (num_blocks_ + kBlocksPerWord - 1) / kBlocksPerWord;
  for (uint64_t w = 0; w < words; w++) words_[w].store(pattern, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  known_zero_ = s == State::kZero ? num_blocks_ : 0;
  unknown_ = s == State::kUnknown ? num_blocks_ : 0;
}

Status ZeroMap::ReadBlock(BlockNum n, std::span<uint8_t> buf) {
  S3DISK_RETURN_IF_ERROR(CheckBlock(n, buf.size(), false));
  if (Get(n) == State::kZero) {
    reads_elided_++;
    memset(buf.data(), 0, buf.size());
    return Status::Ok();
  }
  return below().ReadBlock(n, buf);
}

std::vector<Status> ZeroMap::ReadBlocks(std::span<const BlockNum> ns,
                                        std::span<const std::span<uint8_t>> bufs) {
  std::vector<Status> out(ns.size());
  std::vector<size_t> below_ones;
  for (size_t i = 0; i < ns.size(); i++) {
    out[i] = CheckBlock(ns[i], bufs[i].size(), false);
    if (!out[i].ok()) continue;
    if (Get(ns[i]) == State::kZero) {
      reads_elided_++;
      memset(bufs[i].data(), 0, bufs[i].size());
    } else {
      below_ones.push_back(i);
    }
  }
  ReadSomeBlocks(below(), ns, bufs, below_ones, out);
  return out;
}

Status ZeroMap::ReadPart(BlockNum n, uint32_t offset, std::span<uint8_t> buf) {
  S3DISK_RETURN_IF_ERROR(CheckBlock(n, 0, true));
  if (Get(n) == State::kZero && uint64_t{offset} + buf.size() <= block_size()) {
    reads_elided_++;
    memset(buf.data(), 0, buf.size());
    return Status::Ok();
  }
  return below().ReadPart(n, offset, buf);
}

Status ZeroMap::ForwardWrite(BlockNum n, std::span<const uint8_t> data, State after,
                             const WriteHints& hints) {
  Set(n, State::kUnknown);
  Status st = below().WriteBlock(n, data, hints);
  if (st.ok()) Set(n, after);
  return st;
}

Status ZeroMap::WriteBlock(BlockNum n, std::span<const uint8_t> data, const WriteHints& hints) {
  S3DISK_RETURN_IF_ERROR(CheckBlock(n, data.size(), true));
  if (data.empty() || IsAllZero(data)) {
    if (Get(n) == State::kZero) {
      writes_elided_++;
      return Status::Ok();
    }
    return ForwardWrite(n, {}, State::kZero);
  }
  return ForwardWrite(n, data, State::kNonZero, hints);
}

Status ZeroMap::WritePart(BlockNum n, uint32_t offset, std::span<const uint8_t> data) {
  S3DISK_RETURN_IF_ERROR(CheckBlock(n, 0, true));
  if (uint64_t{offset} + data.size() > block_size()) {
    return Status::Errorf(EINVAL,
                          "zero_map: block " S3DISK_BLOCK_FMT ": part %u+%zu past block end", n,
                          offset, data.size());
  }
  if (Get(n) == State::kZero) {
    if (IsAllZero(data)) {
      writes_elided_++;
      return Status::Ok();
    }
    // The rest of the block is known zero: no need to read it from below.
    std::vector<uint8_t> block(block_size());
    memcpy(block.data() + offset, data.data(), data.size());
    return ForwardWrite(n, block, State::kNonZero);
  }
  // The result may or may not be all zeros; nonzero only says "may hold data", which is true.
  Set(n, State::kUnknown);
  Status st = below().WritePart(n, offset, data);
  if (st.ok()) Set(n, State::kNonZero);
  return st;
}

Status ZeroMap::Trim(BlockNum first, uint64_t count) {
  if (count == 0) return Status::Ok();
  if (first >= num_blocks_ || count > num_blocks_ - first) {
    return Status::Errorf(EINVAL, "zero_map: trim " S3DISK_BLOCK_FMT "+%llu is past the end", first,
                          static_cast<unsigned long long>(count));
  }
  const uint64_t end = uint64_t{first} + count;
  uint64_t i = first;
  while (i < end) {
    // Skip the blocks already zero, then forward the run of blocks that are not.
    uint64_t run = i;
    while (run < end && Get(static_cast<BlockNum>(run)) == State::kZero) {
      run++;
      // Whole words of zero blocks at once: a discard of a huge, mostly empty range costs
      // one load per kBlocksPerWord blocks.
      while (run % kBlocksPerWord == 0 && end - run >= kBlocksPerWord &&
             words_[run / kBlocksPerWord].load(std::memory_order_acquire) == kAllZeroWord) {
        run += kBlocksPerWord;
      }
    }
    writes_elided_ += run - i;
    if (run == end) break;
    uint64_t run_end = run;
    while (run_end < end && Get(static_cast<BlockNum>(run_end)) != State::kZero) run_end++;
    for (uint64_t b = run; b < run_end; b++) Set(static_cast<BlockNum>(b), State::kUnknown);
    S3DISK_RETURN_IF_ERROR(below().Trim(static_cast<BlockNum>(run), run_end - run));
    for (uint64_t b = run; b < run_end; b++) Set(static_cast<BlockNum>(b), State::kZero);
    i = run_end;
  }
  return Status::Ok();
}

Status ZeroMap::SurveyNonZero(const std::function<void(BlockNum)>& found) {
  if (unknown_ != 0) return below().SurveyNonZero(found);
  for (uint64_t n = 0; n < num_blocks_; n++) {
    if (Get(static_cast<BlockNum>(n)) == State::kNonZero) found(static_cast<BlockNum>(n));
  }
  return Status::Ok();
}

Status ZeroMap::Start() {
  S3DISK_RETURN_IF_ERROR(below().Start());
  if (!survey_at_start_) return Status::Ok();
  // Start runs before the first I/O, so nothing races with filling the map.
  FillAll(State::kZero);
  std::atomic<uint64_t> found{0};
  Status st = below().SurveyNonZero([&](BlockNum n) {
    if (n >= num_blocks_) return;
    if (Set(n, State::kNonZero) != State::kNonZero) found++;
  });
  if (!st.ok()) {
    LOG_WARN("zero_map: survey failed, every block stays unknown: %s", st.ToString().c_str());
    FillAll(State::kUnknown);
    return Status::Ok();
  }
  LOG_INFO("zero_map: survey found %llu non-zero blocks of %llu",
           static_cast<unsigned long long>(found.load()),
           static_cast<unsigned long long>(num_blocks_));
  return Status::Ok();
}

void ZeroMap::DumpStats(std::string* out) {
  AppendStat(out, stats_name_ + "_known_zero", known_zero_.load());
  AppendStat(out, stats_name_ + "_reads_elided", reads_elided_.load());
  AppendStat(out, stats_name_ + "_writes_elided", writes_elided_.load());
  below().DumpStats(out);
}

}  // namespace s3disk
