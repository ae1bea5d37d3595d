// BlockCache's cache file side (--blockCacheFile): mirroring entries into the file as they
// change, and rebuilding the cache from it at Start(). The states, invariants and the file's
// role are described at the top of block_cache.cc; the file format in cache_file.cc.
#include <algorithm>

#include "block_cache.h"
#include "cache_file.h"
#include "crypto.h"
#include "log.h"

namespace s3disk {

void BlockCache::FilePut(Entry* e) {
  if (e->slot < 0) return;
  Status st = options_.file->Put(e->slot, e->n, Dirtyish(*e), e->seq, e->data, e->zero);
  if (!st.ok()) LOG_WARN("cache: %s", st.ToString().c_str());
}

void BlockCache::FileMarkClean(Entry* e) {
  if (e->slot < 0) return;
  Status st = options_.file->MarkClean(e->slot);
  if (!st.ok()) LOG_WARN("cache: %s", st.ToString().c_str());
}

Status BlockCache::Recover() {
  CacheFile& file = *options_.file;
  std::vector<uint8_t> data(block_size_);
  uint64_t bad = file.bad_records(), stale = 0;
  uint64_t max_seq = 0;
  for (const CacheFile::Found& f : file.found()) max_seq = std::max(max_seq, f.seq);
  for (const CacheFile::Found& f : file.found()) {
    bool keep = f.n < num_blocks_ && file.ReadData(f, data).ok();
    if (!keep) bad++;
    if (keep && !f.dirty && !options_.no_verify) {
      keep = options_.verify_clean != nullptr && options_.verify_clean(f.n, HexEncode(f.md5)).ok();
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
      Status st = file.Clear(f.slot);
      if (!st.ok()) LOG_WARN("cache: %s", st.ToString().c_str());
      free_slots_.push_back(f.slot);
      continue;
    }
    Entry& e = entries_[f.n];
    e.n = f.n;
    e.id = next_id_++;
    e.slot = f.slot;
    e.zero = f.zero;
    if (!f.zero) e.data = data;
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
