// BlockCache's cache file side (--blockCacheFile): what each entry's slot must hold as it
// changes (queued for CacheFileWriter, cache_file_writer.h), and rebuilding the cache from
// the file at Start(). The states, invariants and the file's role are described at the top
// of block_cache.cc; the file format in cache_file.cc.
#include <algorithm>
#include <atomic>
#include <thread>

#include "base/crypto.h"
#include "base/log.h"
#include "block/block_cache.h"
#include "block/cache_file.h"

namespace s3disk {

void BlockCache::FilePut(Entry* e) {
  if (e->slot < 0) return;
  file_queue_.Put(e->slot, e->n, Dirtyish(*e), e->seq,
                  e->zero ? BlockBytes() : BlockBytes::Copy(pool_, e->data), e->zero, e->md5);
}

void BlockCache::FileMarkClean(Entry* e) {
  if (e->slot < 0) return;
  file_queue_.MarkClean(e->slot);
}

void BlockCache::FileClear(int slot) { file_queue_.Clear(slot); }

void BlockCache::DrainFileOps() {
  if (file_queue_.empty()) return;
  std::vector<CacheFileOp> ops = file_queue_.Take();
  MutexUnlock unlocked(mu_);
  ApplyFileOps(ops);
}

std::vector<CacheFileOp> BlockCache::TakeFileOps() { return file_queue_.Take(); }

void BlockCache::ApplyFileOps(std::vector<CacheFileOp>& ops) {
  if (ops.empty()) return;
  file_writer_->Apply(ops);
}

std::vector<bool> BlockCache::VerifyClean() {
  const std::vector<CacheFile::Found>& found = file_->found();
  std::vector<char> agrees(found.size(), 0);
  if (options_.no_verify || verify_clean_ == nullptr) {
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
        agrees[todo[k]] = verify_clean_(f.n, HexEncode(f.md5)).ok() ? 1 : 0;
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
  CacheFile& file = *file_;
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
