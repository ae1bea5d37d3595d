// ConsistencyGuard states, per block (derived from the newest record covering it: its own
// block record or a trim range):
//   clean    -- no live record: reads and writes pass straight through
//   writing  -- a write or trim is below: a read accepts the old or the new content; another
//               write of the block waits for it
//   written  -- completed done_ms ago: reads must match `now`; a write waits until
//               done_ms + min_write_delay; the record expires at done_ms + cache_time
//
// Invariants
//   | invariant                                         | kept by                              |
//   |---------------------------------------------------|--------------------------------------|
//   | live records <= cache_size (trim ranges count one | WriteBlock and Trim wait for room    |
//   |   each, except when records live forever)         |   (WaitForRoom) before adding one    |
//   | a live record is dropped only when it expires, or | Expire; Trim drops the records its   |
//   |   when a newer trim covers all it covered         |   range supersedes, none writing     |
//   | at most one record covering a block is writing    | WriteBlock and Trim wait (cv_) for   |
//   |                                                   |   any writing record they overlap    |
//   | a write of a block starts >= min_write_delay after| the same loops sleep on the clock,   |
//   |   the previous write or trim of it completed      |   with mu_ released                  |
//   | seq order = completion order among the records    | follows from the two rows above      |
//   |   covering one block, so the newest seq is truth  |                                      |
//   | expiry_ is in completion (done_ms) order          | pushed under mu_ with NowMs()        |
//   | records never expire while writing                | expiry_ is pushed on completion      |
//   | no lock is held while calling below or sleeping   | SleepUntil unlocks; MutexLock scopes |
//   |                                                   |   end before every call below        |
#include "block/consistency_guard.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <optional>
#include <vector>

#include "base/log.h"
#include "base/stats.h"

namespace s3disk {
namespace {
constexpr int64_t kNever = INT64_MAX;

// Counts a writer in *count from its first wait until it starts (for guard_writers_waiting).
class Waiting {
 public:
  explicit Waiting(uint64_t* count) : count_(count) {}
  ~Waiting() {
    if (started_) (*count_)--;
  }
  void Start() {
    if (!started_) (*count_)++;
    started_ = true;
  }

 private:
  uint64_t* count_;
  bool started_ = false;
};
}  // namespace

Result<std::unique_ptr<ConsistencyGuard>> ConsistencyGuard::Create(
    std::unique_ptr<BlockStore> below, ConsistencyGuardOptions options, Clock& clock) {
  if (options.cache_size == 0) {
    return Status(EINVAL, "guard: md5CacheSize is 0; the guard must not be composed");
  }
  if (options.cache_time_ms < 0 || options.min_write_delay_ms < 0) {
    return Status(EINVAL, "guard: negative md5CacheTime or minWriteDelay");
  }
  if (options.cache_time_ms > 0 && options.min_write_delay_ms > options.cache_time_ms) {
    return Status::Errorf(
        EINVAL,
        "--minWriteDelay=%lld is longer than --md5CacheTime=%lld; the delay "
        "is kept by the MD5 cache entry, so use --md5CacheTime >= --minWriteDelay",
        static_cast<long long>(options.min_write_delay_ms),
        static_cast<long long>(options.cache_time_ms));
  }
  if (options.cache_time_ms == 0 && options.cache_size < below->num_blocks()) {
    return Status::Errorf(EINVAL,
                          "--md5CacheTime=0 keeps MD5 entries forever, so --md5CacheSize=%llu "
                          "would fill up and block every new write; use --md5CacheSize=%llu "
                          "(the number of blocks) or a finite --md5CacheTime (e.g. 10000)",
                          static_cast<unsigned long long>(options.cache_size),
                          static_cast<unsigned long long>(below->num_blocks()));
  }
  return std::unique_ptr<ConsistencyGuard>(new ConsistencyGuard(std::move(below), options, clock));
}

ConsistencyGuard::ConsistencyGuard(std::unique_ptr<BlockStore> below,
                                   ConsistencyGuardOptions options, Clock& clock)
    : ForwardingBlockStore(std::move(below)), options_(options), clock_(clock) {}

void ConsistencyGuard::Expire(int64_t now_ms) {
  if (forever()) return;
  const int64_t life = options_.cache_time_ms;
  while (!expiry_.empty()) {
    const Expiry& e = expiry_.front();
    auto it = blocks_.find(e.n);
    const bool current = it != blocks_.end() && it->second.seq == e.seq && !it->second.writing;
    if (current) {
      if (e.at_ms > now_ms) break;
      blocks_.erase(it);
    }
    expiry_.pop_front();  // expired, or outdated by a newer write or a trim
  }
  std::erase_if(ranges_,
                [&](const Range& g) { return !g.r.writing && g.r.done_ms + life <= now_ms; });
}

uint64_t ConsistencyGuard::Live() const {
  return blocks_.size() + (forever() ? 0 : ranges_.size());
}

bool ConsistencyGuard::AcceptsAnything(const Record* latest) {
  return latest == nullptr || latest->now.kind == Kind::kAny ||
         (latest->writing && latest->before.kind == Kind::kAny);
}

const ConsistencyGuard::Record* ConsistencyGuard::Latest(BlockNum n) const {
  const Record* best = nullptr;
  auto it = blocks_.find(n);
  if (it != blocks_.end()) best = &it->second;
  for (const Range& g : ranges_) {
    if (n >= g.first && n < g.end && (best == nullptr || g.r.seq > best->seq)) best = &g.r;
  }
  return best;
}

int64_t ConsistencyGuard::OldestExpiry() {
  if (forever()) return -1;
  int64_t oldest = -1;
  if (!expiry_.empty()) oldest = expiry_.front().at_ms;  // Expire left a current one in front
  for (const Range& g : ranges_) {
    if (g.r.writing) continue;
    const int64_t at = g.r.done_ms + options_.cache_time_ms;
    if (oldest < 0 || at < oldest) oldest = at;
  }
  return oldest;
}

void ConsistencyGuard::SleepUntil(int64_t until_ms) {
  const int64_t now = clock_.NowMs();
  if (until_ms <= now) return;
  MutexUnlock unlocked(mu_);
  clock_.SleepMs(until_ms - now);
}

bool ConsistencyGuard::WaitForRoom(uint64_t freed, bool* counted) {
  if (Live() < options_.cache_size + freed) return true;
  if (!*counted) {
    full_waits_++;
    *counted = true;
  }
  const int64_t at = OldestExpiry();
  if (at >= 0) {
    SleepUntil(at);
  } else {
    cv_.wait(mu_);  // every entry is being written: wait for one to complete
  }
  return false;
}

void ConsistencyGuard::Complete(Record* r, bool ok, int64_t now_ms) {
  if (!ok) r->now = Expect{};  // it may or may not have landed: accept anything
  r->writing = false;
  r->done_ms = now_ms;
  cv_.notify_all();
}

Status ConsistencyGuard::WriteBlock(BlockNum n, std::span<const uint8_t> data,
                                    const WriteHints& hints) {
  S3DISK_RETURN_IF_ERROR(CheckBlock(n, data.size(), true));
  Expect want;
  WriteHints pass = hints;
  if (data.empty() || IsAllZero(data)) {
    want.kind = Kind::kZero;
    pass.md5 = nullptr;
  } else {
    want.kind = Kind::kMd5;
    want.md5 = hints.md5 != nullptr ? *hints.md5 : Md5(data);
  }
  uint64_t seq = 0;
  {
    MutexLock lock(mu_);
    Waiting waiting(&waiting_);
    bool delay_counted = false, full_counted = false;
    for (;;) {
      const int64_t now = clock_.NowMs();
      Expire(now);
      const Record* latest = Latest(n);
      if (latest != nullptr && latest->writing) {
        waiting.Start();
        cv_.wait(mu_);
        continue;
      }
      if (latest != nullptr && now < latest->done_ms + options_.min_write_delay_ms) {
        waiting.Start();
        if (!delay_counted) {
          delay_waits_++;
          delay_counted = true;
        }
        SleepUntil(latest->done_ms + options_.min_write_delay_ms);
        continue;
      }
      const bool have = blocks_.count(n) > 0;
      if (!have && !WaitForRoom(0, &full_counted)) {
        waiting.Start();
        continue;
      }
      const Expect before = latest != nullptr ? latest->now : Expect{};
      Record& r = blocks_[n];
      r = Record{want, before, true, 0, ++seq_};
      seq = r.seq;
      break;
    }
  }
  Status st = below().WriteBlock(n, data, pass);
  MutexLock lock(mu_);
  auto it = blocks_.find(n);
  if (it != blocks_.end() && it->second.seq == seq) {  // always: a writing record stays
    const int64_t now = clock_.NowMs();
    Complete(&it->second, st.ok(), now);
    if (!forever()) expiry_.push_back(Expiry{now + options_.cache_time_ms, n, seq});
  }
  return st;
}

Status ConsistencyGuard::Trim(BlockNum first, uint64_t count) {
  if (count == 0) return Status::Ok();
  if (first >= num_blocks() || count > num_blocks() - first) {
    return Status::Errorf(EINVAL, "guard: trim " S3DISK_BLOCK_FMT "+%llu is past the end", first,
                          static_cast<unsigned long long>(count));
  }
  const uint64_t end = uint64_t{first} + count;
  uint64_t seq = 0;
  {
    MutexLock lock(mu_);
    Waiting waiting(&waiting_);
    bool delay_counted = false, full_counted = false;
    for (;;) {
      const int64_t now = clock_.NowMs();
      Expire(now);
      // Every record overlapping [first, end): the newest completion, any still writing, and
      // how many this trim supersedes (drops) once it starts.
      bool writing = false;
      int64_t last_done = INT64_MIN;
      uint64_t superseded = 0;
      auto look = [&](const Record& r) {
        if (r.writing) writing = true;
        last_done = std::max(last_done, r.done_ms);
      };
      if (count < blocks_.size()) {  // probe the range, or scan the map, whichever is smaller
        for (uint64_t b = first; b < end; b++) {
          auto it = blocks_.find(static_cast<BlockNum>(b));
          if (it == blocks_.end()) continue;
          look(it->second);
          superseded++;
        }
      } else {
        for (const auto& [b, r] : blocks_) {
          if (b < first || b >= end) continue;
          look(r);
          superseded++;
        }
      }
      for (const Range& g : ranges_) {
        if (g.first < end && g.end > first) look(g.r);
        if (g.first >= first && g.end <= end && !forever()) superseded++;
      }
      if (writing) {
        waiting.Start();
        cv_.wait(mu_);
        continue;
      }
      if (last_done != INT64_MIN && now < last_done + options_.min_write_delay_ms) {
        waiting.Start();
        if (!delay_counted) {
          delay_waits_++;
          delay_counted = true;
        }
        SleepUntil(last_done + options_.min_write_delay_ms);
        continue;
      }
      // With entries kept forever, ranges are not counted (see Live()).
      if (!forever() && !WaitForRoom(superseded, &full_counted)) {
        waiting.Start();
        continue;
      }
      // Start: drop what the new range covers entirely (it is newer and no record in it is
      // writing, so nothing a reader or writer needs is lost), then add it.
      std::erase_if(blocks_, [&](const auto& kv) { return kv.first >= first && kv.first < end; });
      std::erase_if(ranges_, [&](const Range& g) { return g.first >= first && g.end <= end; });
      Range g;
      g.first = first;
      g.end = end;
      g.r = Record{Expect{Kind::kZero, {}}, Expect{}, true, 0, ++seq_};
      seq = g.r.seq;
      ranges_.push_back(g);
      break;
    }
  }
  Status st = below().Trim(first, count);
  MutexLock lock(mu_);
  for (Range& g : ranges_) {
    if (g.r.seq == seq) Complete(&g.r, st.ok(), clock_.NowMs());
  }
  return st;
}

std::vector<Status> ConsistencyGuard::ReadBlocks(std::span<const BlockNum> ns,
                                                 std::span<const std::span<uint8_t>> bufs) {
  std::vector<Status> out(ns.size());
  std::vector<size_t> unchecked, checked;
  {
    MutexLock lock(mu_);
    Expire(clock_.NowMs());
    for (size_t i = 0; i < ns.size(); i++) {
      const bool any = ns[i] >= num_blocks() || AcceptsAnything(Latest(ns[i]));
      (any ? unchecked : checked).push_back(i);
    }
  }
  ReadSomeBlocks(below(), ns, bufs, unchecked, out);
  for (size_t i : checked) out[i] = ReadBlock(ns[i], bufs[i]);
  return out;
}

Status ConsistencyGuard::ReadBlock(BlockNum n, std::span<uint8_t> buf) {
  S3DISK_RETURN_IF_ERROR(CheckBlock(n, buf.size(), false));
  // What the read may return: the newest record's content, or while it is being written,
  // the content before it too.
  Expect accept[2];
  int64_t deadline = kNever;
  uint64_t seq = 0;
  bool any = false;
  {
    MutexLock lock(mu_);
    Expire(clock_.NowMs());
    const Record* latest = Latest(n);
    any = AcceptsAnything(latest);
    if (latest != nullptr) {
      accept[0] = latest->now;
      accept[1] = latest->writing ? latest->before : latest->now;
      if (!latest->writing && !forever()) deadline = latest->done_ms + options_.cache_time_ms;
      seq = latest->seq;
    }
  }
  if (any) return below().ReadBlock(n, buf);  // nothing to check
  int64_t paused_ms = 0;
  int64_t pause_ms = std::max<int64_t>(options_.retry_initial_ms, 1);
  for (;;) {
    S3DISK_RETURN_IF_ERROR(below().ReadBlock(n, buf));
    std::optional<Md5Digest> md5;
    auto matches = [&](const Expect& e) {
      if (e.kind == Kind::kAny) return true;
      if (e.kind == Kind::kZero) return IsAllZero(buf);
      if (!md5) md5 = Md5(buf);
      return *md5 == e.md5;
    };
    if (matches(accept[0]) || matches(accept[1])) return Status::Ok();
    MutexLock lock(mu_);
    const int64_t now = clock_.NowMs();
    Expire(now);
    // A write that started after this read did may have changed the block meanwhile.
    const Record* latest = Latest(n);
    if (latest != nullptr && latest->seq != seq &&
        (matches(latest->now) || (latest->writing && matches(latest->before)))) {
      return Status::Ok();
    }
    const int64_t left = std::min(deadline - now, options_.retry_max_ms - paused_ms);
    if (left <= 0) {
      stale_failures_++;
      return Status::Errorf(EIO,
                            "guard: read " S3DISK_BLOCK_FMT
                            ": the store keeps returning older data than was last written "
                            "(re-read for %lld ms); it is not consistent within "
                            "--md5CacheTime=%lld ms, so raise --md5CacheTime or "
                            "--maxRetryPause",
                            n, static_cast<long long>(paused_ms),
                            static_cast<long long>(options_.cache_time_ms));
    }
    stale_retries_++;
    const int64_t sleep_ms = std::min(pause_ms, left);
    if (stale_retries_ == 1 || stale_retries_ % 100 == 0) {
      LOG_WARN("guard: read " S3DISK_BLOCK_FMT ": stale data from the store; re-reading in %lld ms",
               n, static_cast<long long>(sleep_ms));
    }
    SleepUntil(now + sleep_ms);
    paused_ms += sleep_ms;
    pause_ms = std::min<int64_t>(pause_ms * 2, INT64_MAX / 4);
  }
}

Status ConsistencyGuard::ReadPart(BlockNum n, uint32_t offset, std::span<uint8_t> buf) {
  S3DISK_RETURN_IF_ERROR(CheckBlock(n, 0, true));
  bool checked;
  {
    MutexLock lock(mu_);
    Expire(clock_.NowMs());
    checked = Latest(n) != nullptr;
  }
  // A part cannot be checked against a whole block's MD5: read the whole block then.
  if (!checked) return below().ReadPart(n, offset, buf);
  return BlockStore::ReadPart(n, offset, buf);
}

uint64_t ConsistencyGuard::live_entries() {
  MutexLock lock(mu_);
  Expire(clock_.NowMs());
  return Live();
}

void ConsistencyGuard::DumpStats(std::string* out) {
  {
    MutexLock lock(mu_);
    Expire(clock_.NowMs());
    AppendStat(out, "guard_entries_live", Live());
    AppendStat(out, "guard_entries_max", options_.cache_size);
    AppendStat(out, "guard_stale_reads_retried", stale_retries_);
    AppendStat(out, "guard_stale_reads_failed", stale_failures_);
    AppendStat(out, "guard_min_write_delay_waits", delay_waits_);
    AppendStat(out, "guard_cache_full_waits", full_waits_);
    AppendStat(out, "guard_writers_waiting", waiting_);
  }
  below().DumpStats(out);
}

}  // namespace s3disk
