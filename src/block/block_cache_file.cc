// BlockCache's cache file side (--blockCacheFile): mirroring entries into the file as they
// change, and rebuilding the cache from it at Start(). The states, invariants and the file's
// role are described at the top of block_cache.cc; the file format in cache_file.cc.
#include <algorithm>
#include <atomic>
#include <thread>

#include "base/crypto.h"
#include "base/log.h"
#include "block/block_cache.h"
#include "block/cache_file.h"

namespace s3disk {

void BlockCache::QueueFileOp(FileOp op) {
  op.ticket = next_file_ticket_++;
  op.prev = slot_last_ticket_[op.slot];
  slot_last_ticket_[op.slot] = op.ticket;
  file_ops_.push_back(std::move(op));
}

void BlockCache::FilePut(Entry* e) {
  if (e->slot < 0) return;
  FileOp op;
  op.kind = FileOp::Kind::kPut;
  op.slot = e->slot;
  op.n = e->n;
  op.dirty = Dirtyish(*e);
  op.zero = e->zero;
  op.seq = e->seq;
  if (!e->zero) op.data = BlockBytes::Copy(pool_, e->data);
  op.md5 = e->md5;
  QueueFileOp(std::move(op));
}

void BlockCache::FileMarkClean(Entry* e) {
  if (e->slot < 0) return;
  FileOp op;
  op.kind = FileOp::Kind::kMarkClean;
  op.slot = e->slot;
  QueueFileOp(std::move(op));
}

void BlockCache::FileClear(int slot) {
  FileOp op;
  op.kind = FileOp::Kind::kClear;
  op.slot = slot;
  QueueFileOp(std::move(op));
}

void BlockCache::DrainFileOps() {
  if (file_ops_.empty()) return;
  std::vector<FileOp> ops = TakeFileOps();
  MutexUnlock unlocked(mu_);
  ApplyFileOps(ops);
}

std::vector<BlockCache::FileOp> BlockCache::TakeFileOps() {
  std::vector<FileOp> ops;
  ops.swap(file_ops_);
  return ops;
}

void BlockCache::ApplyFileOps(std::vector<FileOp>& ops) {
  // ops are in ticket order. An op waits only for a smaller ticket, held by a thread that
  // applies its own (also ordered) batch without waiting on mu_: no cycle, no deadlock.
  if (ops.empty()) return;
  CacheFile& file = *options_.file;
  for (FileOp& op : ops) {
    {
      MutexLock lock(file_mu_);
      file_cv_.wait(file_mu_,
                    [&]() REQUIRES(file_mu_) { return slot_applied_[op.slot] == op.prev; });
    }
    Status st;
    switch (op.kind) {
      case FileOp::Kind::kPut:
        st = file.Put(op.slot, op.n, op.dirty, op.seq, op.data, op.zero,
                      op.md5.has_value() ? &*op.md5 : nullptr);
        break;
      case FileOp::Kind::kMarkClean:
        st = file.MarkClean(op.slot);
        break;
      case FileOp::Kind::kClear:
        st = file.Clear(op.slot);
        break;
    }
    if (!st.ok()) LOG_WARN("cache: %s", st.ToString().c_str());
    {
      MutexLock lock(file_mu_);
      slot_applied_[op.slot] = op.ticket;
    }
    file_cv_.notify_all();
  }
  ops.clear();  // the data copies go now, not at the end of the caller's unlocked call
}

std::vector<bool> BlockCache::VerifyClean() {
  const std::vector<CacheFile::Found>& found = options_.file->found();
  std::vector<char> agrees(found.size(), 0);
  if (options_.no_verify || options_.verify_clean == nullptr) {
    return std::vector<bool>(found.size(), false);
  }
  std::vector<size_t> todo;
  for (size_t i = 0; i < found.size(); i++) {
    if (!found[i].dirty && found[i].n < num_blocks_) todo.push_back(i);
  }
  // One HEAD per clean block: run them on up to `threads` threads (at least one), each
  // taking the next block; they share nothing but the counter and their own result slot.
  std::atomic<size_t> next{0};
  auto run = [&] {
    for (size_t k = next++; k < todo.size(); k = next++) {
      const CacheFile::Found& f = found[todo[k]];
      try {
        agrees[todo[k]] = options_.verify_clean(f.n, HexEncode(f.md5)).ok() ? 1 : 0;
      } catch (...) {
        agrees[todo[k]] = 0;  // unverified: the block is fetched again when read
      }
    }
  };
  const size_t pool = std::min<size_t>(std::max<uint32_t>(1, options_.threads), todo.size());
  std::vector<std::thread> threads;
  for (size_t t = 1; t < pool; t++) threads.emplace_back(run);
  run();
  for (auto& t : threads) t.join();
  return std::vector<bool>(agrees.begin(), agrees.end());
}

Status BlockCache::Recover() {
  CacheFile& file = *options_.file;
  BlockBytes data = BlockBytes::Zeros(pool_, block_size_);
  uint64_t bad = file.bad_records(), stale = 0;
  uint64_t max_seq = 0;
  for (const CacheFile::Found& f : file.found()) max_seq = std::max(max_seq, f.seq);
  const std::vector<bool> agrees = VerifyClean();
  for (size_t i = 0; i < file.found().size(); i++) {
    const CacheFile::Found& f = file.found()[i];
    bool keep = f.n < num_blocks_ && file.ReadData(f, data).ok();
    if (!keep) bad++;
    if (keep && !f.dirty && !options_.no_verify) {
      keep = agrees[i];
      if (!keep) stale++;
    }
    Lock lock(mu_);
    if (keep && entries_.count(f.n) != 0) {
      // Two slots name one block (a crash between two Puts): keep the newer one.
      Entry& other = entries_.at(f.n);
      if (other.seq > f.seq) keep = false;
      if (keep) EraseEntry(f.n);
    }
    free_slots_.erase(std::remove(free_slots_.begin(), free_slots_.end(), int(f.slot)),
                      free_slots_.end());
    if (!keep) {
      FileClear(f.slot);
      free_slots_.push_back(f.slot);
      DrainFileOps();
      continue;
    }
    Entry& e = entries_[f.n];
    e.n = f.n;
    e.id = next_id_++;
    e.slot = f.slot;
    e.zero = f.zero;
    if (!f.zero) e.data = BlockBytes::Copy(pool_, data);
    e.seq = f.seq;
    if (f.dirty) {
      e.dirty_since_ms = clock_.NowMs();
      Transition(&e, State::kDirty, kUrgentDue);
      e.urgent = true;
      c_.recovered_blocks++;
    } else {
      e.stored_seq = e.seq;
      Transition(&e, State::kClean);
      c_.reused_clean_blocks++;
    }
    DrainFileOps();  // the Clear of a superseded slot, if any
  }
  Lock lock(mu_);
  next_seq_ = std::max(next_seq_, max_seq + 1);
  if (bad + stale > 0 || !entries_.empty()) {
    LOG_INFO(
        "cache: %s: %llu dirty and %llu clean blocks reused, %llu stale, %llu torn or "
        "invalid records ignored",
        file.path().c_str(), static_cast<unsigned long long>(c_.recovered_blocks),
        static_cast<unsigned long long>(c_.reused_clean_blocks),
        static_cast<unsigned long long>(stale), static_cast<unsigned long long>(bad));
  }
  return Status::Ok();
}

}  // namespace s3disk
