// BlockCache's workers and write-back: the worker loop (and TEST_Pump, its stand-in in
// tests), which takes a read-ahead batch if one is queued, else the first due dirty block; an
// upload with its retries, handing work and time keeping on to idle workers; and waiting until
// given blocks are below (Flush, a sync write, Start). The states, invariants and the
// workers' wake-up rules are described at the top of block_cache.cc.
#include <algorithm>
#include <chrono>

#include "base/log.h"
#include "block/block_cache.h"

namespace s3disk {
namespace {

// An idle worker with a due time to keep looks at the clock at least this often.
constexpr int64_t kMaxWorkerWaitMs = 1000;

}  // namespace

bool BlockCache::IsDue(const Entry& e, int64_t now_ms) const {
  return e.due_ms <= now_ms || c_.writers_waiting > 0;
}

bool BlockCache::UploadOne(bool only_urgent, const BlockNum* only) {
  Entry* e = nullptr;
  if (only != nullptr) {
    auto it = entries_.find(*only);
    if (it == entries_.end() || it->second.state != State::kDirty) return false;
    e = &it->second;
  } else {
    if (dirty_.empty()) return false;
    e = &entries_.at(dirty_.begin()->second);
    if (only_urgent ? e->due_ms != kUrgentDue : !IsDue(*e, clock_.NowMs())) return false;
  }
  const BlockNum n = e->n;
  const bool zero = e->zero;
  // The upload reads the entry's buffer itself: writes meanwhile replace it (Unlend).
  std::span<const uint8_t> body;
  std::optional<Md5Digest> md5;
  if (!zero) {
    body = e->data;
    md5 = e->md5;
    e->data_lent = true;
  }
  const uint64_t seq = e->seq;
  e->urgent = false;
  e->upload_started_ms = clock_.NowMs();
  Transition(e, State::kWriting);
  // Blocks that became due since (their delay ran out, or writers wait at the limit) woke
  // nobody, and this worker may have been the one keeping time for the next: it passes the
  // work on to an idle worker, which takes it or keeps that time.
  if (idle_workers_ > 0 && !dirty_.empty() &&
      (timed_idle_workers_ == 0 || IsDue(entries_.at(dirty_.begin()->second), clock_.NowMs()))) {
    work_cv_.notify_one();
  }
  c_.uploads_in_flight++;
  std::vector<CacheFileOp> ops = TakeFileOps();

  Status st;
  int attempts = 0;
  {
    MutexUnlock unlocked(mu_);
    ApplyFileOps(ops);
    const WriteHints hints{.md5 = md5.has_value() ? &*md5 : nullptr};
    int64_t backoff_ms = options_.retry_initial_ms;
    for (;;) {
      attempts++;
      st = below().WriteBlock(n, body, hints);
      if (st.ok() || attempts >= options_.upload_attempts) break;
      LOG_WARN("cache: upload of block " S3DISK_BLOCK_FMT " failed (%s); retrying in %lld ms", n,
               st.ToString().c_str(), static_cast<long long>(backoff_ms));
      clock_.SleepMs(backoff_ms);
      backoff_ms = std::min(backoff_ms * 2, options_.retry_max_ms);
    }
  }

  c_.uploads_in_flight--;
  c_.writes_below += attempts;
  c_.retries += attempts - 1;
  Entry& after = entries_.at(n);  // WRITING/REDIRTIED entries are never erased
  after.data_lent = false;
  after.lent = BlockBytes();
  if (st.ok()) {
    c_.uploads++;
    if (!zero) c_.bytes_up += block_size_;
    after.stored_seq = std::max(after.stored_seq, seq);
    if (after.state == State::kWriting) {
      Transition(&after, State::kClean);
      FileMarkClean(&after);
    } else {
      Transition(&after, State::kDirty,
                 after.urgent ? kUrgentDue : after.dirty_since_ms + options_.write_delay_ms);
    }
  } else {
    c_.upload_failures++;
    after.failures++;
    after.last_error = st;
    LOG_ERROR("cache: upload of block " S3DISK_BLOCK_FMT
              " failed %d times (%s); keeping it "
              "dirty, next try in %lld ms",
              n, attempts, st.ToString().c_str(), static_cast<long long>(options_.retry_max_ms));
    Transition(&after, State::kDirty, clock_.NowMs() + options_.retry_max_ms);
  }
  cv_.notify_all();
  if (after.state == State::kDirty) work_cv_.notify_one();
  DrainFileOps();  // the MarkClean (after may be evicted meanwhile: not used below)
  return true;
}

Status BlockCache::WaitStored(const std::vector<std::pair<BlockNum, uint64_t>>& targets,
                              bool upload_here) {
  std::vector<uint64_t> failures0(targets.size());
  for (size_t i = 0; i < targets.size(); i++) {
    auto it = entries_.find(targets[i].first);
    if (it == entries_.end()) continue;
    failures0[i] = it->second.failures;
    MarkUrgent(&it->second);
  }
  work_cv_.notify_all();
  // The targets are checked in order, each wait for the first one not yet below: a flush of
  // n blocks costs O(n) checks in all, not O(n) at every upload that completes. A target
  // found failed is reported when the walk reaches it (the others are uploaded meanwhile).
  for (size_t i = 0; i < targets.size();) {
    auto it = entries_.find(targets[i].first);
    if (it == entries_.end()) {
      i++;
      continue;
    }
    const Entry& e = it->second;
    if (!Dirtyish(e) || e.stored_seq >= targets[i].second) {
      i++;
      continue;
    }
    if (e.failures > failures0[i]) {
      return e.last_error.WithContext("cache: block " + BlockHex(e.n) + " not written");
    }
    if (upload_here && e.state == State::kDirty) {
      UploadOne(false, &targets[i].first);  // drops the lock: look again
      continue;
    }
    cv_.wait(mu_);
  }
  return Status::Ok();
}

int BlockCache::TEST_Pump() {
  Lock lock(mu_);
  int jobs = 0;
  while (RunReadAhead() || UploadOne(false, nullptr)) jobs++;
  return jobs;
}

void BlockCache::WorkerLoop() {
  Lock lock(mu_);
  for (;;) {
    if (stopping_) break;
    if (RunReadAhead() || UploadOne(false, nullptr)) continue;
    idle_workers_++;
    if (dirty_.empty()) {
      work_cv_.wait(mu_);
    } else {
      const int64_t due = dirty_.begin()->first;
      const int64_t now = clock_.NowMs();
      const int64_t wait_ms = due <= now ? 1 : std::min(due - now, kMaxWorkerWaitMs);
      timed_idle_workers_++;
      work_cv_.wait_for(mu_, std::chrono::milliseconds(wait_ms));
      timed_idle_workers_--;
    }
    idle_workers_--;
  }
}

}  // namespace s3disk
