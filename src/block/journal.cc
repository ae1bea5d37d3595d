#include "block/journal.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "base/log.h"
#include "base/stats.h"

namespace s3disk {
namespace {

constexpr int64_t kRetryFirstMs = 100;
constexpr int64_t kRetryMaxMs = 5000;

}  // namespace

Journal::Journal(std::unique_ptr<BlockStore> below, std::unique_ptr<JournalFile> file,
                 JournalOptions options, Clock& clock)
    : ForwardingBlockStore(std::move(below)),
      file_(std::move(file)),
      options_(options),
      clock_(clock),
      capacity_(file_->capacity()),
      auto_epoch_bytes_(options.auto_epoch_bytes != 0 ? options.auto_epoch_bytes
                                                      : file_->capacity() / 4) {}

Journal::~Journal() {
  {
    MutexLock lock(mu_);
    stop_ = true;
    abandon_ = true;  // without Shutdown: what is left stays in the ring for the next mount
    work_.notify_all();
  }
  if (uploader_.joinable()) uploader_.join();
}

// ---- Start and stop ----

Status Journal::Start() {
  if (file_->block_size() != block_size()) {
    return Status::Errorf(EINVAL, "journal: %s is for blocks of %u bytes, not %u",
                          file_->path().c_str(), file_->block_size(), block_size());
  }
  for (const JournalRecord& r : file_->found()) {
    const uint64_t end = r.kind == JournalRecord::Kind::kTrim ? r.block + r.count : r.block + 1ULL;
    if (end > num_blocks()) {
      return Status::Errorf(EINVAL,
                            "journal: %s holds a write to block %u, past the disk's end (%llu "
                            "blocks); mount with the size it was written with",
                            file_->path().c_str(), r.block,
                            static_cast<unsigned long long>(num_blocks()));
    }
  }
  S3DISK_RETURN_IF_ERROR(below().Start());
  // What the scan found may sit in the page cache only (a daemon killed, not a machine): make
  // it durable before any of it goes to the bucket.
  S3DISK_RETURN_IF_ERROR(file_->Sync());
  Result<uint64_t> base = file_->NewEpochBase();
  if (!base.ok()) return base.status();
  MutexLock lock(mu_);
  tail_pos_ = file_->tail_pos();
  tail_seq_ = file_->tail_seq();
  head_pos_ = written_pos_ = synced_pos_ = file_->head_pos();
  head_seq_ = file_->head_seq();
  // The records found become closed epochs, as they were written.
  Epoch* ep = nullptr;
  for (const JournalRecord& r : file_->found()) {
    if (ep == nullptr || ep->number != r.epoch) {
      if (ep != nullptr) ep->end_pos = r.pos, ep->end_seq = r.seq;
      closed_.push_back(Epoch{});
      ep = &closed_.back();
      ep->number = r.epoch;
      ep->closed_ms = clock_.NowMs();
    }
    if (r.kind == JournalRecord::Kind::kTrim) {
      ep->trim = true;
      ep->trim_first = r.block;
      ep->trim_count = r.count;
    }
    IndexLocked(r);
  }
  if (ep != nullptr) ep->end_pos = head_pos_, ep->end_seq = head_seq_;
  records_replayed_ = file_->found().size();
  if (records_replayed_ > 0) {
    LOG_INFO("journal: %s holds %llu writes in %zu epochs not yet in the bucket; uploading them",
             file_->path().c_str(), static_cast<unsigned long long>(records_replayed_),
             closed_.size());
  }
  epoch_ = *base;
  epoch_start_pos_ = head_pos_;
  epoch_start_seq_ = head_seq_;
  started_ = true;
  if (options_.start_uploader) uploader_ = std::thread([this] { UploaderLoop(); });
  return Status::Ok();
}

Status Journal::Shutdown() {
  {
    MutexLock lock(mu_);
    stop_ = true;
    CloseEpochLocked(nullptr);
    work_.notify_all();
  }
  Status st;
  if (uploader_.joinable()) {
    uploader_.join();
  } else {
    // No uploader (tests): drain here, once.
    while (true) {
      int r = TEST_UploadEpoch();
      if (r == 0) break;
      if (r < 0) {
        st = Status(EIO, "journal: an epoch could not be uploaded at shutdown");
        break;
      }
    }
  }
  Status below_st = below().Shutdown();
  return st.ok() ? below_st : st;
}

// ---- Writes ----

Status Journal::WriteBlock(BlockNum n, std::span<const uint8_t> data, const WriteHints&) {
  S3DISK_RETURN_IF_ERROR(CheckBlock(n, data.size(), /*empty_ok=*/true));
  JournalRecord rec;
  rec.kind = data.empty() ? JournalRecord::Kind::kZero : JournalRecord::Kind::kData;
  rec.block = n;
  rec.length = static_cast<uint32_t>(data.size());
  return Append(rec, data, /*alone=*/false);
}

Status Journal::WritePart(BlockNum n, uint32_t offset, std::span<const uint8_t> data) {
  S3DISK_RETURN_IF_ERROR(CheckBlock(n, 0, /*empty_ok=*/true));
  if (data.empty()) return Status::Ok();
  if (uint64_t{offset} + data.size() > block_size()) {
    return Status(EINVAL, "journal: a part past the block's end");
  }
  if (offset == 0 && data.size() == block_size()) return WriteBlock(n, data);
  JournalRecord rec;
  rec.kind = JournalRecord::Kind::kPart;
  rec.block = n;
  rec.offset = offset;
  rec.length = static_cast<uint32_t>(data.size());
  return Append(rec, data, /*alone=*/false);
}

Status Journal::Trim(BlockNum first, uint64_t count) {
  if (count == 0) return Status::Ok();
  if (first >= num_blocks() || count > num_blocks() - first) {
    return Status(EINVAL, "journal: a trim past the end");
  }
  JournalRecord rec;
  rec.kind = JournalRecord::Kind::kTrim;
  rec.block = first;
  rec.count = count;
  return Append(rec, {}, /*alone=*/true);
}

Status Journal::Append(JournalRecord rec, std::span<const uint8_t> data, bool alone) {
  const uint64_t size = rec.size();
  JournalRecord pad;
  bool padded = false;
  {
    MutexLock lock(mu_);
    if (!started_ || stop_) return Status(EIO, "journal: not running");
    if (alone) CloseEpochLocked(nullptr);
    // Room: the record, and before it a pad to the ring's end when it would not fit there.
    auto needed = [&]() REQUIRES(mu_) {
      const uint64_t to_end = capacity_ - head_pos_ % capacity_;
      return to_end < size ? to_end + size : size;
    };
    if (head_pos_ + needed() - tail_pos_ > capacity_) {
      full_waits_++;
      while (head_pos_ + needed() - tail_pos_ > capacity_) {
        // With the uploader idle, the open epoch is what fills the ring: it must go up for
        // room to come. (With it busy, room comes anyway; closing more would make small
        // epochs, each a round trip to the bucket.)
        if (closed_.empty()) CloseEpochLocked(nullptr);
        room_.wait(mu_);
        if (stop_) return Status(EIO, "journal: stopped while waiting for room");
      }
    }
    // Writers that got the room first may have opened an epoch meanwhile: a trim is alone.
    if (alone) CloseEpochLocked(nullptr);
    const uint64_t to_end = capacity_ - head_pos_ % capacity_;
    if (to_end < size) {
      pad.kind = JournalRecord::Kind::kPad;
      pad.pos = head_pos_;
      pad.seq = head_seq_++;
      pad.epoch = epoch_;
      head_pos_ += to_end;
      padded = true;
    }
    rec.pos = head_pos_;
    rec.seq = head_seq_++;
    rec.epoch = last_epoch_ = epoch_;
    head_pos_ += size;
    in_flight_[padded ? pad.pos : rec.pos] = head_pos_;
    if (alone) {
      CloseEpochLocked(&rec);
    } else if (head_pos_ - epoch_start_pos_ > auto_epoch_bytes_ && closed_.empty()) {
      CloseEpochLocked(nullptr);  // a flush point of the journal's own (see journal.h)
    }
  }
  Status st;
  if (padded) st = file_->Write(pad, {});
  if (st.ok()) st = file_->Write(rec, data);
  MutexLock lock(mu_);
  const uint64_t start = padded ? pad.pos : rec.pos;
  in_flight_.erase(start);
  written_pos_ = in_flight_.empty() ? head_pos_ : in_flight_.begin()->first;
  room_.notify_all();
  if (!st.ok()) {
    // The ring has a hole here: a scan would stop at it, so no flush is durable until the
    // tail passes it.
    hole_end_ = std::max(hole_end_, rec.pos + size);
    LOG_ERROR("%s", st.ToString().c_str());
    return Status(EIO, "journal: " + st.message());
  }
  IndexLocked(rec);
  return Status::Ok();
}

void Journal::IndexLocked(const JournalRecord& rec) {
  if (rec.kind == JournalRecord::Kind::kTrim) {
    trims_.push_back(rec);
    return;
  }
  std::vector<JournalRecord>& list = pending_[rec.block];
  // Writes to one block come one after another (the BlockStore contract): list is in order.
  if (list.empty() || list.back().epoch != rec.epoch) epoch_blocks_[rec.epoch].push_back(rec.block);
  list.push_back(rec);
}

void Journal::CloseEpochLocked(const JournalRecord* trim) {
  if (head_seq_ == epoch_start_seq_) return;
  Epoch ep;
  ep.number = epoch_;
  ep.end_pos = head_pos_;
  ep.end_seq = head_seq_;
  ep.closed_ms = clock_.NowMs();
  if (trim != nullptr) {
    ep.trim = true;
    ep.trim_first = trim->block;
    ep.trim_count = trim->count;
  }
  closed_.push_back(std::move(ep));
  epoch_++;
  epoch_start_pos_ = head_pos_;
  epoch_start_seq_ = head_seq_;
  work_.notify_all();
}

// ---- Flush and sync ----

Status Journal::Flush() {
  const auto w0 = std::chrono::steady_clock::now();
  uint64_t target;
  {
    MutexLock lock(mu_);
    if (!started_) return Status(EIO, "journal: not running");
    CloseEpochLocked(nullptr);
    target = head_pos_;
  }
  Status st = SyncTo(target, /*for_flush=*/true);
  const uint64_t us = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - w0)
          .count());
  MutexLock lock(mu_);
  fsyncs_++;
  fsync_us_total_ += us;
  fsync_us_max_ = std::max(fsync_us_max_, us);
  return st;
}

Status Journal::SyncTo(uint64_t pos, bool for_flush) {
  MutexLock sync_lock(sync_mu_);
  {
    MutexLock lock(mu_);
    // Every record before pos must be written: a scan stops at the first one missing.
    room_.wait(mu_, [&]() REQUIRES(mu_) { return written_pos_ >= pos; });
    if (for_flush && hole_end_ > tail_pos_) {
      return Status(EIO,
                    "journal: an earlier write to the journal failed; flushes fail until "
                    "the writes before it are in the bucket");
    }
    if (synced_pos_ >= pos) return Status::Ok();
  }
  return SyncOnce();
}

Status Journal::SyncNewer(uint64_t ticket) {
  MutexLock sync_lock(sync_mu_);
  {
    MutexLock lock(mu_);
    if (good_sync_ > ticket) return Status::Ok();  // a flush's sync served this too
  }
  return SyncOnce();
}

Status Journal::SyncOnce() {
  uint64_t upto, number;
  {
    MutexLock lock(mu_);
    upto = written_pos_;
    number = ++syncs_started_;
  }
  Status st = file_->Sync();
  MutexLock lock(mu_);
  if (!st.ok()) {
    // What was written before the sync returned may be lost on disk (the kernel may have
    // dropped those pages, and reports that once): the same as a failed write.
    hole_end_ = std::max(hole_end_, head_pos_);
    LOG_ERROR("%s", st.ToString().c_str());
    return Status(EIO, "journal: " + st.message());
  }
  synced_pos_ = std::max(synced_pos_, upto);
  good_sync_ = number;
  return Status::Ok();
}

// ---- Reads ----

bool Journal::HasPendingLocked(BlockNum n) const {
  if (pending_.count(n) != 0) return true;
  for (const JournalRecord& t : trims_) {
    if (n >= t.block && n - t.block < t.count) return true;
  }
  return false;
}

std::vector<JournalRecord> Journal::RecordsOfLocked(BlockNum n, uint64_t upto) const {
  std::vector<JournalRecord> out;
  auto it = pending_.find(n);
  if (it != pending_.end()) {
    for (const JournalRecord& r : it->second) {
      if (r.seq <= upto) out.push_back(r);
    }
  }
  // The newest trim covering n, if newer than n's own records, replaces the block as a zero
  // record would.
  const JournalRecord* trim = nullptr;
  for (const JournalRecord& t : trims_) {
    if (t.seq <= upto && n >= t.block && n - t.block < t.count) trim = &t;
  }
  if (trim != nullptr) {
    JournalRecord zero = *trim;
    zero.kind = JournalRecord::Kind::kZero;
    zero.block = n;
    auto newer = std::find_if(out.begin(), out.end(),
                              [&](const JournalRecord& r) { return r.seq > trim->seq; });
    out.erase(out.begin(), newer);
    out.insert(out.begin(), zero);
  }
  return out;
}

Status Journal::Materialize(BlockNum n, uint64_t upto, std::span<uint8_t> buf, bool upload) {
  std::vector<uint64_t> lost;  // sequence numbers of records lost with a failed sync
  while (true) {
    bool full = false;
    std::vector<JournalRecord> recs;
    uint64_t hole_end;
    {
      MutexLock lock(mu_);
      recs = RecordsOfLocked(n, upto);
      hole_end = hole_end_;
    }
    std::erase_if(recs, [&](const JournalRecord& r) {
      return std::find(lost.begin(), lost.end(), r.seq) != lost.end();
    });
    // From the newest full version left.
    auto last_full = std::find_if(recs.rbegin(), recs.rend(), [](const JournalRecord& r) {
      return r.kind != JournalRecord::Kind::kPart;
    });
    full = last_full != recs.rend();
    if (full) recs.erase(recs.begin(), last_full.base() - 1);
    if (!full) S3DISK_RETURN_IF_ERROR(below().ReadBlock(n, buf));
    Status st;
    uint64_t failed_pos = 0, failed_seq_no = 0;  // of the record that failed
    for (const JournalRecord& r : recs) {
      switch (r.kind) {
        case JournalRecord::Kind::kZero:
          std::fill(buf.begin(), buf.end(), 0);
          break;
        case JournalRecord::Kind::kData:
        case JournalRecord::Kind::kPart:
          st = file_->ReadData(r, buf.subspan(r.offset, r.length));
          break;
        default:
          break;
      }
      if (!st.ok()) {
        failed_pos = r.pos;
        failed_seq_no = r.seq;
        break;
      }
    }
    // The ring space read may have been written over once the tail passed it: then the
    // records are gone from the index and below holds their version; read again.
    MutexLock lock(mu_);
    bool overwritten = false;
    for (const JournalRecord& r : recs) {
      if (r.length > 0 && head_pos_ > r.pos + capacity_) overwritten = true;
    }
    if (overwritten) continue;
    if (st.ok()) return Status::Ok();
    if (upload && st.code() == EBADMSG && failed_pos < hole_end) {
      // Lost with a failed sync (whose flush said EIO): the block goes up as it would be
      // without this write (built again from the start) rather than never.
      LOG_ERROR("journal: a write of block " S3DISK_BLOCK_FMT
                " was lost with a failed sync of %s; uploading the block without it",
                n, file_->path().c_str());
      lost.push_back(failed_seq_no);
      continue;
    }
    return Status(EIO, st.message());
  }
}

Status Journal::ReadBlock(BlockNum n, std::span<uint8_t> buf) {
  S3DISK_RETURN_IF_ERROR(CheckBlock(n, buf.size(), /*empty_ok=*/false));
  bool pending;
  {
    MutexLock lock(mu_);
    pending = HasPendingLocked(n);
  }
  if (!pending) return below().ReadBlock(n, buf);
  return Materialize(n, UINT64_MAX, buf, /*upload=*/false);
}

std::vector<Status> Journal::ReadBlocks(std::span<const BlockNum> ns,
                                        std::span<const std::span<uint8_t>> bufs) {
  std::vector<Status> out(ns.size());
  std::vector<size_t> below_ones, mine;
  {
    MutexLock lock(mu_);
    for (size_t i = 0; i < ns.size(); i++) {
      if (ns[i] < num_blocks() && HasPendingLocked(ns[i])) {
        mine.push_back(i);
      } else {
        below_ones.push_back(i);
      }
    }
  }
  if (!below_ones.empty()) ReadSomeBlocks(below(), ns, bufs, below_ones, out);
  for (size_t i : mine) out[i] = ReadBlock(ns[i], bufs[i]);
  return out;
}

Status Journal::ReadPart(BlockNum n, uint32_t offset, std::span<uint8_t> buf) {
  bool pending;
  {
    MutexLock lock(mu_);
    pending = n < num_blocks() && HasPendingLocked(n);
  }
  if (!pending) return below().ReadPart(n, offset, buf);
  return BlockStore::ReadPart(n, offset, buf);
}

Status Journal::SurveyNonZero(const std::function<void(BlockNum)>& found) {
  // The ring's blocks first: one uploaded meanwhile is below by the time below answers.
  std::vector<BlockNum> mine;
  {
    MutexLock lock(mu_);
    for (const auto& [n, recs] : pending_) mine.push_back(n);
  }
  S3DISK_RETURN_IF_ERROR(below().SurveyNonZero(found));
  for (BlockNum n : mine) found(n);
  return Status::Ok();
}

// ---- Uploads ----

Status Journal::UploadEpoch(const Epoch& ep) {
  // The bucket never gets a version the ring does not hold durably. After the sync every
  // record of the epoch is written, so indexed.
  S3DISK_RETURN_IF_ERROR(SyncTo(ep.end_pos, /*for_flush=*/false));
  std::vector<BlockNum> blocks;
  {
    MutexLock lock(mu_);
    auto it = epoch_blocks_.find(ep.number);
    if (it != epoch_blocks_.end()) blocks = it->second;
  }
  if (ep.trim) {
    S3DISK_RETURN_IF_ERROR(below().Trim(ep.trim_first, ep.trim_count));
  } else {
    std::vector<uint8_t> buf(block_size());
    for (BlockNum n : blocks) {
      S3DISK_RETURN_IF_ERROR(Materialize(n, ep.end_seq - 1, buf, /*upload=*/true));
      if (IsAllZero(buf)) {
        S3DISK_RETURN_IF_ERROR(below().WriteBlock(n, {}));
      } else {
        S3DISK_RETURN_IF_ERROR(below().WriteBlock(n, buf));
      }
    }
  }
  S3DISK_RETURN_IF_ERROR(below().Flush());
  // In the bucket: the ring may now forget the epoch, durably first. The header's sync is
  // any sync that starts after it was written: a flush's, when one comes, else our own. (An
  // error of a sync may be any page's: SyncOnce takes it as one of the ring's.)
  {
    MutexLock sync_lock(sync_mu_);  // header writes and syncs one at a time
    Status written = file_->WriteTail(ep.end_pos, ep.end_seq, ep.number + 1);
    if (!written.ok()) {
      MutexLock lock(mu_);
      hole_end_ = std::max(hole_end_, head_pos_);
      return written;
    }
  }
  uint64_t ticket;
  {
    MutexLock lock(mu_);
    ticket = syncs_started_;
  }
  S3DISK_RETURN_IF_ERROR(SyncNewer(ticket));
  file_->TailSynced();
  MutexLock lock(mu_);
  tail_pos_ = ep.end_pos;
  tail_seq_ = ep.end_seq;
  for (BlockNum n : blocks) {
    auto it = pending_.find(n);
    if (it == pending_.end()) continue;
    std::vector<JournalRecord>& list = it->second;
    list.erase(list.begin(), std::find_if(list.begin(), list.end(), [&](const JournalRecord& r) {
                 return r.seq >= ep.end_seq;
               }));
    if (list.empty()) pending_.erase(it);
  }
  std::erase_if(trims_, [&](const JournalRecord& t) { return t.seq < ep.end_seq; });
  epoch_blocks_.erase(ep.number);
  closed_.pop_front();
  epochs_uploaded_++;
  blocks_uploaded_ += blocks.size();
  room_.notify_all();
  return Status::Ok();
}

int Journal::TEST_UploadEpoch() {
  Epoch ep;
  {
    MutexLock lock(mu_);
    if (closed_.empty()) return 0;
    ep = closed_.front();
  }
  Status st = UploadEpoch(ep);
  if (!st.ok()) {
    MutexLock lock(mu_);
    upload_errors_++;
    return -1;
  }
  return 1;
}

uint64_t Journal::TEST_last_epoch() {
  MutexLock lock(mu_);
  return last_epoch_;
}

uint64_t Journal::TEST_free_bytes() {
  MutexLock lock(mu_);
  return capacity_ - (head_pos_ - tail_pos_);
}

void Journal::UploaderLoop() {
  int64_t pause_ms = kRetryFirstMs;
  while (true) {
    {
      MutexLock lock(mu_);
      work_.wait(mu_, [&]() REQUIRES(mu_) { return !closed_.empty() || stop_; });
      if (closed_.empty() || abandon_)
        return;  // stopped, and nothing left (Shutdown closed the last)
    }
    int r = TEST_UploadEpoch();
    if (r >= 0) {
      pause_ms = kRetryFirstMs;
      continue;
    }
    LOG_WARN("journal: uploading an epoch failed; retrying in %lld ms",
             static_cast<long long>(pause_ms));
    clock_.SleepMs(pause_ms);
    pause_ms = std::min(pause_ms * 2, kRetryMaxMs);
  }
}

void Journal::DumpStats(std::string* out) {
  {
    MutexLock lock(mu_);
    const bool open_has_records = head_seq_ != epoch_start_seq_;
    AppendStat(out, "journal_bytes", head_pos_ - tail_pos_);
    AppendStat(out, "journal_capacity_bytes", capacity_);
    AppendStat(out, "journal_epochs_pending", closed_.size() + (open_has_records ? 1 : 0));
    const int64_t age = closed_.empty() ? 0 : clock_.NowMs() - closed_.front().closed_ms;
    AppendStat(out, "journal_oldest_pending_ms", static_cast<uint64_t>(std::max<int64_t>(age, 0)));
    AppendStat(out, "journal_fsyncs", fsyncs_);
    AppendStat(out, "journal_fsync_us_total", fsync_us_total_);
    AppendStat(out, "journal_fsync_us_max", fsync_us_max_);
    AppendStat(out, "journal_full_waits", full_waits_);
    AppendStat(out, "journal_epochs_uploaded", epochs_uploaded_);
    AppendStat(out, "journal_blocks_uploaded", blocks_uploaded_);
    AppendStat(out, "journal_records_replayed", records_replayed_);
    AppendStat(out, "journal_upload_errors", upload_errors_);
  }
  below().DumpStats(out);
}

}  // namespace s3disk
