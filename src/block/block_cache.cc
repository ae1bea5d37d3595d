// BlockCache's state machine (block_cache.h): the entries, their states and the LRU; writes,
// trims, flush, start and shutdown; the stats. Its reads are in block_cache_read.cc, its upload
// workers in block_cache_upload.cc, its side of the cache file in block_cache_file.cc; the
// states and invariants of all of them are here.
//
// Block states (one Entry per cached block in entries_):
//   (absent)   -- not cached: a read fetches it, a write creates it
//   READING    -- a fetch from below is in flight (by a reader or read-ahead); no data yet.
//                 Other readers wait for it (one shared fetch); a whole-block write takes it over
//   CLEAN      -- data equals below; in lru_; the only state that may be evicted
//   DIRTY      -- data newer than below; in dirty_ keyed by its due time
//   WRITING    -- one upload of data is in flight (by a worker, TEST_Pump or Flush); it reads
//                 data's own buffer, which is lent to it (data_lent) until it ends
//   REDIRTIED  -- WRITING, and data was rewritten since the upload began: uploaded again after
//
//   absent -> READING -> CLEAN (fetch ok) | absent (fetch failed, or a trim ran meanwhile)
//   absent/READING/CLEAN -> DIRTY (write; due = now + write delay; written whole: now, or a
//                                  delay after its last upload began if that is later)
//   DIRTY -> DIRTY (rewrite: due unchanged, so a hot block is still uploaded in time)
//   DIRTY -> WRITING (claimed) -> CLEAN (ok) | DIRTY (failed: due = now + retry_max_ms)
//   WRITING -> REDIRTIED (rewrite) -> DIRTY (upload done; due = redirty time + delay)
//   CLEAN/DIRTY -> CLEAN zero (trim, once no upload of the block is in flight)
//   CLEAN -> absent (evicted, least recently used first)
//
// Invariants
//   | invariant                                           | kept by                          |
//   |-----------------------------------------------------|----------------------------------|
//   | entries_.size() <= cache_size_blocks                | MakeRoom before every NewEntry   |
//   | dirty_count_ == #DIRTY + #WRITING + #REDIRTIED      | every state change: Transition   |
//   |   <= max_dirty_ < cache_size_blocks                 | writers wait in Write            |
//   | lru_ holds exactly the CLEAN blocks; dirty_ the     | Transition                       |
//   |   DIRTY ones (with their due_ms)                    |                                  |
//   | dirty data is never dropped: only CLEAN is evicted; | MakeRoom, UploadOne (failure     |
//   |   a failed upload goes back to DIRTY               |   path), Trim (waits, see below) |
//   | at most one upload per block in flight              | only DIRTY can be claimed        |
//   | an upload never overwrites newer data below: a      | REDIRTIED -> DIRTY -> uploaded   |
//   |   rewrite during it is uploaded after it            |   again                          |
//   | an upload sends the bytes it began with: a lent     | Write moves it to lent (Unlend)  |
//   |   buffer is never written nor freed until it ends   |   first; UploadOne frees lent    |
//   | a trimmed block is not resurrected by an upload     | Trim waits for in-flight uploads |
//   |                                                     |   in its range, then sets zero   |
//   | a fetch that raced a trim or a write is not cached  | trim_epoch_ and the entry id     |
//   | mu_ is never held while calling below()             | unlock around below() calls      |
//   | each cache file slot belongs to at most one entry   | free_slots_, NewEntry/EraseEntry |
//
// Wake-ups (work_cv_: the workers; cv_: everyone waiting for a state change; space_cv_: the
// writers at the dirty limit)
//   | a due block never waits while a worker is idle, and | Write wakes one for a block due  |
//   |   some idle worker keeps time for the first due     |   now or first due; UploadOne    |
//   |   block (timed_idle_workers_)                       |   hands due work and the timing  |
//   |                                                     |   on when it claims, and wakes   |
//   |                                                     |   one for a block back to DIRTY  |
//   |                                                     |   when it ends; the first writer |
//   |                                                     |   at the limit wakes all (every  |
//   |                                                     |   dirty block is then due:       |
//   |                                                     |   IsDue); WaitStored wakes all   |
//   |                                                     |   for the blocks it made urgent  |
//   | an idle worker sleeps without a timeout only while  | WorkerLoop: else it waits until  |
//   |   no block is dirty                                 |   the first due time (at most    |
//   |                                                     |   kMaxWorkerWaitMs)              |
//   | queued read-ahead never waits while a worker is     | NoteRead wakes one per batch it  |
//   |   idle                                              |   queues; a worker looks at the  |
//   |                                                     |   queue before it sleeps         |
//   | the workers end once stopping_ is set               | Shutdown and ~BlockCache wake    |
//   |                                                     |   all                            |
//   | a writer at the limit sleeps only while there is no | Transition wakes one per block   |
//   |   room (space_cv_)                                  |   of room; PassRoomOn hands on   |
//   |                                                     |   a wake-up that was not used    |
//   | a waiter on cv_ (a shared fetch, a partial write    | the end of every fetch and       |
//   |   waiting for a fetch, a write waiting for an       |   upload, a trim zeroing its     |
//   |   evictable entry, a trim, WaitStored) sees every   |   range, and a write that takes  |
//   |   change it waits for                               |   a fetch over notify all        |
//
// Cache file (cache_file.h): an entry with a slot has its data and state there: written at
// each write (dirty) and fetch (clean), marked clean after its upload, emptied when the entry
// goes. Under mu_ these are only queued in file_queue_ (cache_file_writer.h: a copy of the
// data, and a ticket taken in mu_ order); file_writer_ runs the MD5 and the pwrites with mu_
// dropped, each op after its slot's previous one, so the file sees each slot's updates in the
// order mu_ decided them. The fdatasync in Flush also runs outside mu_.
//   | cache file I/O and MD5 never run under mu_          | file_queue_, ApplyFileOps        |
//   | a slot's file updates land in mu_ order             | queued under mu_ (tickets)       |
//   | file_queue_ is empty whenever mu_ is free, so a     | every queuing path calls         |
//   |   write is in the file before it is acknowledged,   |   DrainFileOps or TakeFileOps    |
//   |   and a waiting op's predecessor is being applied   |   before it releases mu_         |
#include "block/block_cache.h"

#include <algorithm>
#include <cstring>

#include "base/crypto.h"
#include "base/log.h"
#include "base/stats.h"
#include "block/cache_file.h"

namespace s3disk {

Result<std::unique_ptr<BlockCache>> BlockCache::Create(std::unique_ptr<BlockStore> below,
                                                       BlockCacheOptions options, BufferPool& pool,
                                                       Clock& clock, BlockCacheFile file) {
  if (options.cache_size_blocks < 2) {
    return Status(EINVAL, "cache: blockCacheSize must be at least 2 blocks");
  }
  if (options.max_dirty_blocks >= options.cache_size_blocks) {
    return Status::Errorf(EINVAL,
                          "cache: blockCacheMaxDirty=%llu must be less than "
                          "blockCacheSize=%llu",
                          static_cast<unsigned long long>(options.max_dirty_blocks),
                          static_cast<unsigned long long>(options.cache_size_blocks));
  }
  if (options.threads > 1000) return Status(EINVAL, "cache: blockCacheThreads is at most 1000");
  if (options.write_delay_ms < 0) return Status(EINVAL, "cache: negative blockCacheWriteDelay");
  if (options.read_ahead_blocks > 0 && options.read_ahead_trigger == 0) {
    return Status(EINVAL, "cache: readAheadTrigger must be at least 1");
  }
  if (options.read_ahead_blocks >= options.cache_size_blocks ||
      options.read_ahead_max_blocks >= options.cache_size_blocks) {
    return Status(EINVAL, "cache: readAhead and readAheadMax must be less than blockCacheSize");
  }
  if (options.upload_attempts < 1) options.upload_attempts = 1;
  if (file.file != nullptr && (file.file->slots() != options.cache_size_blocks ||
                               file.file->block_size() != below->block_size())) {
    return Status(EINVAL, "cache: the cache file's geometry does not match the cache");
  }
  return std::unique_ptr<BlockCache>(
      new BlockCache(std::move(below), std::move(options), pool, clock, std::move(file)));
}

BlockCache::BlockCache(std::unique_ptr<BlockStore> below, BlockCacheOptions options,
                       BufferPool& pool, Clock& clock, BlockCacheFile file)
    : ForwardingBlockStore(std::move(below)),
      clock_(clock),
      pool_(pool),
      options_(std::move(options)),
      file_(std::move(file.file)),
      verify_clean_(std::move(file.verify_clean)),
      block_size_(this->below().block_size()),
      num_blocks_(this->below().num_blocks()),
      max_dirty_(options_.max_dirty_blocks != 0
                     ? options_.max_dirty_blocks
                     : std::max<uint64_t>(1, options_.cache_size_blocks * 9 / 10)),
      read_ahead_(options_.read_ahead_blocks, options_.read_ahead_trigger,
                  ReadAheadPolicy::MaxBlocks(options_.read_ahead_max_blocks, options_.threads,
                                             options_.cache_size_blocks),
                  num_blocks_),
      file_queue_(file_ != nullptr ? file_->slots() : 0),
      file_writer_(file_ != nullptr ? std::make_unique<CacheFileWriter>(*file_) : nullptr) {
  if (file_ != nullptr) {
    for (uint32_t s = file_->slots(); s > 0; s--) free_slots_.push_back(s - 1);
  }
}

BlockCache::~BlockCache() {
  {
    Lock lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void BlockCache::CopyOut(const Entry& e, uint32_t offset, std::span<uint8_t> buf) {
  if (e.zero) {
    memset(buf.data(), 0, buf.size());
  } else {
    memcpy(buf.data(), e.data.data() + offset, buf.size());
  }
}

bool BlockCache::MakeRoom() {
  if (entries_.size() < options_.cache_size_blocks) return true;
  if (lru_.empty()) return false;
  EraseEntry(lru_.front());
  c_.evictions++;
  return true;
}

BlockCache::Entry* BlockCache::NewEntry(BlockNum n) {
  Entry& e = entries_[n];
  e.n = n;
  e.id = next_id_++;
  e.state = State::kReading;
  if (!free_slots_.empty()) {
    e.slot = free_slots_.back();
    free_slots_.pop_back();
  }
  return &e;
}

void BlockCache::EraseEntry(BlockNum n) {
  auto it = entries_.find(n);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  Transition(&e, State::kReading);  // unlinks from lru_/dirty_, fixes dirty_count_
  if (e.slot >= 0) {
    FileClear(e.slot);
    free_slots_.push_back(e.slot);
  }
  entries_.erase(it);
}

void BlockCache::Transition(Entry* e, State s, int64_t due_ms) {
  const bool was_dirty = Dirtyish(*e);
  if (e->state == State::kClean) lru_.erase(e->lru);
  if (e->state == State::kDirty) dirty_.erase({e->due_ms, e->n});
  e->state = s;
  if (s == State::kClean) {
    lru_.push_back(e->n);
    e->lru = std::prev(lru_.end());
  } else if (s == State::kDirty) {
    e->due_ms = due_ms;
    dirty_.insert({due_ms, e->n});
  }
  const bool now_dirty = Dirtyish(*e);
  if (now_dirty && !was_dirty) dirty_count_++;
  if (!now_dirty && was_dirty) {
    dirty_count_--;
    // One block of room: one writer. Waking them all at every upload cost a context switch
    // per waiting writer per block (a third of the daemon's CPU in a long sequential write).
    if (c_.writers_waiting > 0) space_cv_.notify_one();
  }
}

void BlockCache::MarkUrgent(Entry* e) {
  if (!Dirtyish(*e)) return;
  e->urgent = true;
  if (e->state == State::kDirty && e->due_ms != kUrgentDue)
    Transition(e, State::kDirty, kUrgentDue);
}

void BlockCache::Touch(Entry* e) {
  if (e->state == State::kClean) lru_.splice(lru_.end(), lru_, e->lru);
}

// A writer woken for room that leaves without using it (it failed, or waits for something
// else first) passes the wake-up on, so no writer sleeps while there is room.
void BlockCache::PassRoomOn() {
  if (c_.writers_waiting > 0 && dirty_count_ < max_dirty_) space_cv_.notify_one();
}

// ---- writes ----

Status BlockCache::WriteBlock(BlockNum n, std::span<const uint8_t> data, const WriteHints& hints) {
  S3DISK_RETURN_IF_ERROR(CheckBlock(n, data.size(), true));
  const bool zero = data.empty() || IsAllZero(data);
  return Write(n, 0, data, zero, zero ? nullptr : hints.md5);
}

Status BlockCache::WritePart(BlockNum n, uint32_t offset, std::span<const uint8_t> data) {
  S3DISK_RETURN_IF_ERROR(CheckBlock(n, 0, true));
  if (uint64_t{offset} + data.size() > block_size_) {
    return Status::Errorf(EINVAL, "cache: block " S3DISK_BLOCK_FMT ": part %u+%zu past block end",
                          n, offset, data.size());
  }
  if (offset == 0 && data.size() == block_size_) return WriteBlock(n, data);
  return Write(n, offset, data, false, nullptr);
}

Status BlockCache::Write(BlockNum n, uint32_t offset, std::span<const uint8_t> data, bool zero,
                         const Md5Digest* md5) {
  if (options_.read_only) {
    return Status::Errorf(EROFS, "cache: write block " S3DISK_BLOCK_FMT ": read-only mount", n);
  }
  const bool whole = offset == 0 && (zero || data.size() == block_size_);
  Lock lock(mu_);
  Entry* e = nullptr;
  for (;;) {
    auto it = entries_.find(n);
    e = it == entries_.end() ? nullptr : &it->second;
    if (e != nullptr && e->state == State::kReading && !whole) {
      // A partial write needs the block: wait for the fetch in flight.
      const uint64_t id = e->id;
      PassRoomOn();
      cv_.wait(mu_, [&]() REQUIRES(mu_) {
        auto i = entries_.find(n);
        return i == entries_.end() || i->second.id != id || i->second.state != State::kReading;
      });
      continue;
    }
    if ((e == nullptr || !Dirtyish(*e)) && dirty_count_ >= max_dirty_) {
      // Back-pressure: one more dirty block would pass the limit.
      // The first waiter makes every dirty block due (IsDue): wake every idle worker once.
      if (c_.writers_waiting++ == 0 && idle_workers_ > 0) work_cv_.notify_all();
      c_.dirty_limit_waits++;
      space_cv_.wait(mu_, [&]() REQUIRES(mu_) { return dirty_count_ < max_dirty_; });
      c_.writers_waiting--;
      continue;
    }
    if (e == nullptr) {
      if (entries_.size() >= options_.cache_size_blocks && lru_.empty()) {
        // Every entry is dirty or being fetched; wait for one to finish.
        PassRoomOn();
        cv_.wait(mu_);
        continue;
      }
      if (!whole) {
        // The rest of the block comes from below (one GET, and then it is cached).
        PassRoomOn();
        S3DISK_RETURN_IF_ERROR(Fetch(n, {}, false));
        c_.misses++;
        continue;
      }
      MakeRoom();
      e = NewEntry(n);
    }
    break;
  }
  e->md5.reset();
  if (zero && whole) {
    Unlend(e);
    e->zero = true;
    e->data = BlockBytes();
  } else if (whole) {
    Unlend(e);
    e->zero = false;
    e->data = BlockBytes::Copy(pool_, data);
    if (md5 != nullptr) e->md5 = *md5;
  } else {
    if (e->data_lent) {
      Unlend(e);
      e->data = BlockBytes::Copy(pool_, e->lent);  // the upload keeps the old bytes
    }
    if (e->zero) e->data = BlockBytes::Zeros(pool_, block_size_);
    e->zero = false;
    memcpy(e->data.data() + offset, data.data(), data.size());
  }
  e->seq = next_seq_++;
  const int64_t now = clock_.NowMs();
  const bool took_over = e->state == State::kReading;  // a fetch's readers wait on cv_
  bool queued = false;                                 // newly dirty: in dirty_ with a due time
  switch (e->state) {
    case State::kReading:
    case State::kClean:
      queued = true;
      // The delay collects the other parts of a block written in pieces; a block written
      // whole has nothing left to collect, so it goes at once, unless its last upload began
      // less than a delay ago: a hot block is still sent at most once per delay.
      e->dirty_since_ms = now;
      Transition(e, State::kDirty,
                 whole ? std::max(now, e->upload_started_ms + options_.write_delay_ms)
                       : now + options_.write_delay_ms);
      break;
    case State::kWriting:
      e->dirty_since_ms = now;
      Transition(e, State::kRedirtied);
      break;
    case State::kDirty:
    case State::kRedirtied:
      break;  // the first dirty time still rules
  }
  FilePut(e);
  const uint64_t seq = e->seq;
  if (took_over) cv_.notify_all();  // readers waiting for the fetch this write took over
  // Idle workers sleep until the earliest due time (or for new work when none is dirty). A
  // write wakes one only if its block is now the first due (the sleepers' time changed) or
  // is due now and a worker is idle; waking one at every write cost two context switches per
  // small write, for nothing.
  if (queued && (dirty_.begin()->second == n || (idle_workers_ > 0 && IsDue(*e, now)))) {
    work_cv_.notify_one();
  }
  PassRoomOn();    // (woken for room, this write may have needed none)
  DrainFileOps();  // in the cache file before the write is acknowledged (e may go)
  if (!options_.sync) return Status::Ok();
  return WaitStored({{n, seq}}, true).WithContext("cache: write-through");
}

// ---- flush ----

Status BlockCache::Flush() {
  Status st;
  {
    Lock lock(mu_);
    c_.flushes++;
    std::vector<std::pair<BlockNum, uint64_t>> targets;
    for (auto& [n, e] : entries_) {
      if (Dirtyish(e)) targets.push_back({n, e.seq});
    }
    st = WaitStored(targets, workers_.empty());
  }
  if (!st.ok()) return st.WithContext("cache: flush");
  if (file_ != nullptr) {
    S3DISK_RETURN_IF_ERROR(file_->Sync().WithContext("cache: flush"));
  }
  return below().Flush();
}

Status BlockCache::SurveyNonZero(const std::function<void(BlockNum)>& found) {
  std::vector<BlockNum> dirty;
  {
    Lock lock(mu_);
    for (const auto& [n, e] : entries_) {
      if (Dirtyish(e) && !e.zero) dirty.push_back(n);
    }
  }
  for (BlockNum n : dirty) found(n);
  return below().SurveyNonZero(found);
}

// ---- trim ----

Status BlockCache::Trim(BlockNum first, uint64_t count) {
  if (count == 0) return Status::Ok();
  if (first >= num_blocks_ || count > num_blocks_ - first) {
    return Status::Errorf(EINVAL, "cache: trim " S3DISK_BLOCK_FMT "+%llu is past the end", first,
                          static_cast<unsigned long long>(count));
  }
  if (options_.read_only) return Status(EROFS, "cache: trim: read-only mount");
  const uint64_t end = uint64_t{first} + count;
  auto in_range = [&](auto fn) REQUIRES(mu_) {
    for (auto it = entries_.lower_bound(first); it != entries_.end() && it->first < end; ++it) {
      fn(it->second);
    }
  };
  Lock lock(mu_);
  // An upload in flight must not land after the trim: wait for those in the range.
  c_.trims_waiting++;
  cv_.wait(mu_, [&]() REQUIRES(mu_) {
    bool busy = false;
    in_range([&](Entry& e) {
      if (e.state == State::kWriting || e.state == State::kRedirtied) busy = true;
    });
    return !busy;
  });
  c_.trims_waiting--;
  trim_epoch_++;  // fetches in flight for the range must not cache what they read
  in_range([&](Entry& e) REQUIRES(mu_) {
    if (e.state == State::kReading) return;
    e.zero = true;
    e.data = BlockBytes();
    e.md5.reset();
    e.seq = next_seq_++;
    e.stored_seq = e.seq;
    e.urgent = false;
    Transition(&e, State::kClean);
    FilePut(&e);
  });
  cv_.notify_all();  // writers waiting for an entry to evict (Transition woke those at the limit)
  std::vector<CacheFileOp> ops = TakeFileOps();  // the zeroed entries' file records first
  Status st;
  {
    MutexUnlock unlocked(mu_);
    ApplyFileOps(ops);
    st = below().Trim(first, count);
  }
  trim_epoch_++;
  c_.trims_below++;
  if (!st.ok()) {
    // Below is unknown now: forget the zeros promised above (clean entries only).
    std::vector<BlockNum> drop;
    in_range([&](Entry& e) {
      if (e.state == State::kClean) drop.push_back(e.n);
    });
    for (BlockNum n : drop) EraseEntry(n);
    DrainFileOps();
    return st.WithContext("cache: trim");
  }
  return Status::Ok();
}

// ---- lifecycle ----

Status BlockCache::Start() {
  S3DISK_RETURN_IF_ERROR(below().Start());
  {
    Lock lock(mu_);
    if (started_) return Status(EINVAL, "cache: started twice");
    started_ = true;
  }
  if (file_ != nullptr) S3DISK_RETURN_IF_ERROR(Recover());
  // The recovered dirty blocks are counted before the workers start taking them.
  std::vector<std::pair<BlockNum, uint64_t>> targets;
  {
    Lock lock(mu_);
    for (auto& [n, e] : entries_) {
      if (Dirtyish(e)) targets.push_back({n, e.seq});
    }
  }
  for (uint32_t i = 0; i < options_.threads; i++) workers_.emplace_back([this] { WorkerLoop(); });
  Lock lock(mu_);
  if (targets.empty()) return Status::Ok();
  LOG_INFO("cache: recovered %zu dirty blocks from %s; uploading them", targets.size(),
           file_->path().c_str());
  Status st = WaitStored(targets, workers_.empty());
  if (!st.ok()) return st.WithContext("cache: uploading recovered blocks");
  LOG_INFO("cache: %zu recovered blocks uploaded", targets.size());
  return Status::Ok();
}

Status BlockCache::Shutdown() {
  Status st = Flush();
  uint64_t left = 0;
  {
    Lock lock(mu_);
    stopping_ = true;
    left = dirty_count_;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  if (!st.ok()) {
    LOG_ERROR("cache: shutdown: %s; %llu dirty blocks not written%s", st.ToString().c_str(),
              static_cast<unsigned long long>(left),
              file_ != nullptr ? " (kept in the cache file for the next mount)" : "");
  }
  if (file_ != nullptr) {
    Status sync = file_->Sync();
    if (st.ok()) st = sync;
  }
  Status below_st = below().Shutdown();
  return st.ok() ? below_st : st;
}

uint64_t BlockCache::TEST_read_ahead_max_blocks() {
  Lock lock(mu_);
  return read_ahead_.TEST_max_blocks();
}

BlockCache::Counters BlockCache::counters() {
  Lock lock(mu_);
  Counters c = c_;
  c.cached_blocks = entries_.size();
  c.dirty_blocks = dirty_count_;
  c.idle_workers = idle_workers_;
  return c;
}

void BlockCache::DumpStats(std::string* out) {
  Counters c = counters();
  AppendStat(out, "block_cache_hits", c.hits);
  AppendStat(out, "block_cache_misses", c.misses);
  AppendStat(out, "block_cache_shared_fetches", c.shared_fetches);
  AppendStat(out, "block_cache_bypassed_reads", c.bypassed_reads);
  AppendStat(out, "block_cache_cached_blocks", c.cached_blocks);
  AppendStat(out, "block_cache_dirty_blocks", c.dirty_blocks);
  AppendStat(out, "block_cache_uploads_in_flight", c.uploads_in_flight);
  AppendStat(out, "block_cache_uploads", c.uploads);
  AppendStat(out, "block_cache_upload_failures", c.upload_failures);
  AppendStat(out, "block_cache_retries", c.retries);
  AppendStat(out, "block_cache_evictions", c.evictions);
  AppendStat(out, "block_cache_read_ahead_blocks", c.read_ahead_blocks);
  AppendStat(out, "block_cache_bytes_up", c.bytes_up);
  AppendStat(out, "block_cache_bytes_down", c.bytes_down);
  AppendStat(out, "block_cache_requests_read", c.reads_below);
  AppendStat(out, "block_cache_requests_write", c.writes_below);
  AppendStat(out, "block_cache_requests_trim", c.trims_below);
  AppendStat(out, "block_cache_flushes", c.flushes);
  AppendStat(out, "block_cache_recovered_blocks", c.recovered_blocks);
  AppendStat(out, "block_cache_reused_clean_blocks", c.reused_clean_blocks);
  AppendStat(out, "block_cache_writers_waiting", c.writers_waiting);
  AppendStat(out, "block_cache_idle_workers", c.idle_workers);
  AppendStat(out, "block_cache_dirty_limit_waits", c.dirty_limit_waits);
  pool_.DumpStats(out);  // the pool holds the cache's blocks
  below().DumpStats(out);
}

}  // namespace s3disk
