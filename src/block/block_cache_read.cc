// BlockCache's read side: reads (a hit, a shared fetch or a fetch of its own), fetches from
// below and installing what they bring, and read-ahead (queueing the blocks ReadAheadPolicy
// names, fetching them a batch at a time). The states and invariants are described at the
// top of block_cache.cc.
#include <cstring>

#include "base/log.h"
#include "block/block_cache.h"

namespace s3disk {

Status BlockCache::ReadBlock(BlockNum n, std::span<uint8_t> buf) {
  S3DISK_RETURN_IF_ERROR(CheckBlock(n, buf.size(), false));
  return Read(n, 0, buf);
}

Status BlockCache::ReadPart(BlockNum n, uint32_t offset, std::span<uint8_t> buf) {
  S3DISK_RETURN_IF_ERROR(CheckBlock(n, 0, true));
  if (uint64_t{offset} + buf.size() > block_size_) {
    return Status::Errorf(EINVAL, "cache: block " S3DISK_BLOCK_FMT ": part %u+%zu past block end",
                          n, offset, buf.size());
  }
  return Read(n, offset, buf);
}

Status BlockCache::Read(BlockNum n, uint32_t offset, std::span<uint8_t> buf) {
  Lock lock(mu_);
  for (;;) {
    auto it = entries_.find(n);
    if (it != entries_.end()) {
      Entry& e = it->second;
      if (HasData(e)) {
        CopyOut(e, offset, buf);
        c_.hits++;
        Touch(&e);
        NoteRead(n);
        return Status::Ok();
      }
      // Someone is fetching it: share that fetch.
      c_.shared_fetches++;
      const uint64_t id = e.id;
      cv_.wait(mu_, [&]() REQUIRES(mu_) {
        auto i = entries_.find(n);
        return i == entries_.end() || i->second.id != id || i->second.state != State::kReading;
      });
      continue;
    }
    c_.misses++;
    NoteRead(n);
    if (offset == 0 && buf.size() == block_size_) return Fetch(n, buf, false);
    BlockBytes block = BlockBytes::ToFill(pool_, block_size_);
    S3DISK_RETURN_IF_ERROR(Fetch(n, block, false));
    memcpy(buf.data(), block.data() + offset, buf.size());
    return Status::Ok();
  }
}

Status BlockCache::Fetch(BlockNum n, std::span<uint8_t> data, bool read_ahead) {
  BlockBytes own;
  if (data.empty()) {
    own = BlockBytes::ToFill(pool_, block_size_);  // used only if the read below succeeds
    data = own;
  }
  if (!MakeRoom()) {
    // Full of blocks that cannot be evicted: serve the read without caching it.
    if (read_ahead) return Status::Ok();
    c_.bypassed_reads++;
    std::vector<CacheFileOp> ops = TakeFileOps();
    Status st;
    {
      MutexUnlock unlocked(mu_);
      ApplyFileOps(ops);
      st = below().ReadBlock(n, data);
    }
    c_.reads_below++;
    if (st.ok()) c_.bytes_down += block_size_;
    return st.WithContext("cache: read block " + BlockHex(n));
  }
  Entry* e = NewEntry(n);
  const uint64_t id = e->id;
  const uint64_t epoch = trim_epoch_;
  // (with the Clear of an evicted block's slot, if any)
  std::vector<CacheFileOp> ops = TakeFileOps();
  Status st;
  bool zero = false;
  {
    MutexUnlock unlocked(mu_);
    ApplyFileOps(ops);
    st = below().ReadBlock(n, data);
    zero = st.ok() && IsAllZero(data);  // (a scan of the block: not under the lock)
  }
  Install(n, id, epoch, st, zero, std::move(own), data, read_ahead);
  DrainFileOps();
  cv_.notify_all();
  if (!st.ok()) return st.WithContext("cache: read block " + BlockHex(n));
  return Status::Ok();
}

void BlockCache::FetchMany(const std::vector<BlockNum>& wanted) {
  std::vector<BlockNum> ns;
  std::vector<uint64_t> ids;
  std::vector<BlockBytes> bufs;
  for (BlockNum n : wanted) {
    if (entries_.count(n) != 0) continue;
    if (!MakeRoom()) break;  // full of blocks that cannot be evicted: fetch no more
    ns.push_back(n);
    ids.push_back(NewEntry(n)->id);
    bufs.push_back(BlockBytes::ToFill(pool_, block_size_));  // used only where the read succeeds
  }
  if (ns.empty()) return;
  const uint64_t epoch = trim_epoch_;
  std::vector<CacheFileOp> ops = TakeFileOps();
  std::vector<std::span<uint8_t>> spans(bufs.begin(), bufs.end());
  std::vector<Status> sts;
  std::vector<bool> zero(ns.size());
  {
    MutexUnlock unlocked(mu_);
    ApplyFileOps(ops);
    sts = below().ReadBlocks(ns, spans);
    for (size_t k = 0; k < ns.size(); k++) zero[k] = sts[k].ok() && IsAllZero(spans[k]);
  }
  for (size_t k = 0; k < ns.size(); k++) {
    Install(ns[k], ids[k], epoch, sts[k], zero[k], std::move(bufs[k]), spans[k], true);
    if (!sts[k].ok()) LOG_DEBUG("cache: read-ahead: %s", sts[k].ToString().c_str());
  }
  DrainFileOps();
  cv_.notify_all();
}

void BlockCache::Install(BlockNum n, uint64_t id, uint64_t epoch, const Status& st, bool zero,
                         BlockBytes own, std::span<const uint8_t> data, bool read_ahead) {
  c_.reads_below++;
  if (st.ok()) c_.bytes_down += block_size_;
  if (read_ahead) c_.read_ahead_blocks++;
  auto it = entries_.find(n);
  if (it == entries_.end() || it->second.id != id || it->second.state != State::kReading) return;
  if (!st.ok() || epoch != trim_epoch_) {
    EraseEntry(n);
    return;
  }
  Entry& mine = it->second;
  mine.zero = zero;
  if (zero) {
    mine.data = BlockBytes();
  } else if (!own.empty()) {
    mine.data = std::move(own);  // nobody else reads into it: no copy
  } else {
    mine.data = BlockBytes::Copy(pool_, data);
  }
  mine.seq = next_seq_++;
  mine.stored_seq = mine.seq;
  Transition(&mine, State::kClean);
  FilePut(&mine);
}

void BlockCache::NoteRead(BlockNum n) {
  const std::optional<ReadAheadPolicy::Window> w = read_ahead_.NoteRead(n);
  if (!w.has_value()) return;
  read_ahead_batch_ = w->batch;
  uint64_t queued = 0;
  for (uint64_t b = w->from; b < w->end; b++) {
    if (entries_.count(static_cast<BlockNum>(b)) != 0) continue;
    read_ahead_queue_.push_back(static_cast<BlockNum>(b));
    // One worker per batch: waking all of them at every read costs more.
    if (queued++ % w->batch == 0) work_cv_.notify_one();
  }
  while (read_ahead_queue_.size() > w->max_queued) {
    read_ahead_queue_.pop_front();
  }
}

bool BlockCache::RunReadAhead() {
  if (read_ahead_queue_.empty()) return false;
  std::vector<BlockNum> batch;
  while (!read_ahead_queue_.empty() && batch.size() < read_ahead_batch_) {
    BlockNum n = read_ahead_queue_.front();
    read_ahead_queue_.pop_front();
    if (entries_.count(n) == 0) batch.push_back(n);
  }
  FetchMany(batch);
  return true;
}

}  // namespace s3disk
