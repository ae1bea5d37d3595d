// Journal: the durable, ordered write-back journal (--fsyncTo=journal; doc/ARCHITECTURE.md,
// "Durability"). It sits under the upper zero map and over the block cache.
//
// A write appends a record to the ring file (JournalFile) and returns; Flush ends the current
// epoch (the writes since the previous Flush) and syncs the ring, so an acknowledged flush is
// durable on local disk. One uploader thread then sends the epochs down in order: epoch e's
// blocks go to the cache (only the last version of each block, in any order), the cache's
// Flush makes them durable in the bucket, the ring's tail moves past e (durably), and only
// then does any block of e + 1 go down. Reads of a block with records still in the ring are
// built from them (over the layer below's copy); other reads go below.
//
// States of the ring, oldest first: [tail, upload_end) the epoch being uploaded and closed
// epochs waiting; [upload_end .. head) the open epoch. An epoch closes at Flush, before and
// after a Trim (a trim is an epoch of its own), and when it grows past auto_epoch_bytes (the
// journal's own flush point: the bucket stays a disk as it was at some flush point).
//
// Invariants (checked by journal_test.cc and the model test):
//   | every record in [tail, synced) is durable in the file       | Sync before synced_ moves    |
//   | no block of epoch e+1 is below before e is in the bucket    | one uploader; tail persisted |
//   |                                                             | after below's Flush          |
//   | ring space is reused only after the tail passed it durably  | SetTail before tail_ moves   |
//   | a block with records in the ring reads as below's copy with | pending_ holds each block's   |
//   | those records applied in order (below holds a prefix of     | records until the tail passes |
//   | them: idempotent)                                           | them                          |
//   | the bucket never holds a version the ring has not durably  | the uploader syncs an epoch   |
//   | (until the tail passes it)                                  | before sending it down        |
//   | writers wait for room; nothing is dropped                   | Reserve waits on room_        |
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/sync.h"
#include "block/block_store.h"
#include "block/journal_file.h"

namespace s3disk {

struct JournalOptions {
  uint64_t capacity_bytes = 1ULL << 30;  // --journalSize
  // An open epoch with more record bytes than this is closed by the journal itself (0: a
  // quarter of the capacity), so a long write without fsync still flows to the bucket.
  uint64_t auto_epoch_bytes = 0;
  // false: no uploader thread; epochs go down only from TEST_UploadEpoch (unit tests).
  bool start_uploader = true;
};

class Journal : public ForwardingBlockStore {
 public:
  // file: opened by the caller (its records are replayed in Start).
  Journal(std::unique_ptr<BlockStore> below, std::unique_ptr<JournalFile> file,
          JournalOptions options, Clock& clock);
  ~Journal() override;

  Status ReadBlock(BlockNum n, std::span<uint8_t> buf) override;
  // Blocks without records in the ring go below as one batch.
  std::vector<Status> ReadBlocks(std::span<const BlockNum> ns,
                                 std::span<const std::span<uint8_t>> bufs) override;
  Status ReadPart(BlockNum n, uint32_t offset, std::span<uint8_t> buf) override;
  Status WriteBlock(BlockNum n, std::span<const uint8_t> data,
                    const WriteHints& hints = {}) override;
  Status WritePart(BlockNum n, uint32_t offset, std::span<const uint8_t> data) override;
  Status Trim(BlockNum first, uint64_t count) override;
  // Returns once every write acknowledged before the call is durable in the ring file.
  Status Flush() override;
  // Below's blocks and every block with records in the ring.
  Status SurveyNonZero(const std::function<void(BlockNum)>& found) override;
  // Starts below, takes in the records the file holds (as closed epochs), starts the uploader.
  Status Start() override;
  // Uploads every epoch, stops the uploader, empties the ring, then shuts below down.
  Status Shutdown() override;
  void DumpStats(std::string* out) override;

  // Sends the oldest closed epoch down and moves the tail past it; 1 if it did, 0 if no epoch
  // was closed, -1 on an error (the epoch stays). Only without the uploader thread.
  int TEST_UploadEpoch();
  uint64_t TEST_last_epoch();  // the epoch of the last record appended
  uint64_t TEST_free_bytes();  // room in the ring

 private:
  // An epoch waiting to go down: [start, end) of the ring and the blocks it wrote.
  struct Epoch {
    uint64_t number = 0;
    uint64_t end_pos = 0;  // one past its last record: the tail once it is uploaded
    uint64_t end_seq = 0;  // the sequence number at end_pos
    int64_t closed_ms = 0;
    bool trim = false;  // one kTrim record, alone in its epoch: these blocks
    BlockNum trim_first = 0;
    uint64_t trim_count = 0;
  };

  // Appends rec (kind, block, offset, length, count set) with data: waits for room, writes a
  // pad first when the ring's end is near, then rec; indexes it once written. alone: rec is an
  // epoch of its own (a trim). Never holds mu_ over I/O.
  Status Append(JournalRecord rec, std::span<const uint8_t> data, bool alone);
  // Closes the open epoch if it holds records; trim: it is that trim's epoch.
  void CloseEpochLocked(const JournalRecord* trim) REQUIRES(mu_);
  // Adds a written record to the index (pending_, trims_, epoch_blocks_).
  void IndexLocked(const JournalRecord& rec) REQUIRES(mu_);
  // Makes every record before pos written and durable (group commit: one sync serves all
  // waiters). for_flush: EIO while a failed write or sync is in the ring's live part.
  Status SyncTo(uint64_t pos, bool for_flush) EXCLUDES(mu_);
  // Returns once a sync that started after syncs_started_ was ticket has succeeded.
  Status SyncNewer(uint64_t ticket) EXCLUDES(mu_);
  // One fdatasync of the file; the caller holds sync_mu_. A failure poisons (hole_end_).
  Status SyncOnce() REQUIRES(sync_mu_) EXCLUDES(mu_);
  // Fills buf with block n as below's copy plus n's records up to sequence number upto.
  // upload: a record that a failed sync lost (it fails its checksum, before hole_end_) is
  // left out instead of failing the read.
  Status Materialize(BlockNum n, uint64_t upto, std::span<uint8_t> buf, bool upload) EXCLUDES(mu_);
  // The records of n up to upto, oldest first; the newest trim covering n, if newer than
  // some of them, replaces those as a kZero record.
  std::vector<JournalRecord> RecordsOfLocked(BlockNum n, uint64_t upto) const REQUIRES(mu_);
  bool HasPendingLocked(BlockNum n) const REQUIRES(mu_);
  // Sends epoch ep down: its blocks' last versions, below's Flush, then the tail past it.
  Status UploadEpoch(const Epoch& ep) EXCLUDES(mu_);
  void UploaderLoop();

  std::unique_ptr<JournalFile> file_;
  const JournalOptions options_;
  Clock& clock_;
  const uint64_t capacity_;
  const uint64_t auto_epoch_bytes_;

  Mutex mu_;
  CondVar room_;  // the tail moved, or an append finished
  CondVar work_;  // an epoch closed, or stop
  uint64_t tail_pos_ GUARDED_BY(mu_) = 0;
  uint64_t tail_seq_ GUARDED_BY(mu_) = 0;
  uint64_t head_pos_ GUARDED_BY(mu_) = 0;  // the next record goes here
  uint64_t head_seq_ GUARDED_BY(mu_) = 0;
  // Appends reserved and not yet written: start -> end. Every record before written_pos_ is
  // written (or failed: a hole).
  std::map<uint64_t, uint64_t> in_flight_ GUARDED_BY(mu_);
  uint64_t written_pos_ GUARDED_BY(mu_) = 0;
  uint64_t synced_pos_ GUARDED_BY(mu_) = 0;  // every record before it is durable
  uint64_t syncs_started_ GUARDED_BY(mu_) = 0;
  uint64_t good_sync_ GUARDED_BY(mu_) = 0;  // the number of the last sync that succeeded
  // A write or sync of the ring failed: records before hole_end_ may be missing on disk, so
  // Flush says EIO until the tail has passed it (the uploader still sends what it can read
  // back from the file).
  uint64_t hole_end_ GUARDED_BY(mu_) = 0;
  uint64_t epoch_ GUARDED_BY(mu_) = 1;  // the open epoch
  uint64_t epoch_start_pos_ GUARDED_BY(mu_) = 0;
  uint64_t epoch_start_seq_ GUARDED_BY(mu_) = 0;
  uint64_t last_epoch_ GUARDED_BY(mu_) = 0;  // of the last record appended
  // Per epoch, the blocks with records in it, each once (filled as records are written).
  std::map<uint64_t, std::vector<BlockNum>> epoch_blocks_ GUARDED_BY(mu_);
  std::deque<Epoch> closed_ GUARDED_BY(mu_);  // oldest first; the front is being uploaded
  // Per block, its records in the ring, oldest first (kData, kZero, kPart).
  std::unordered_map<BlockNum, std::vector<JournalRecord>> pending_ GUARDED_BY(mu_);
  std::vector<JournalRecord> trims_ GUARDED_BY(mu_);  // kTrim records in the ring
  bool stop_ GUARDED_BY(mu_) = false;
  bool abandon_ GUARDED_BY(mu_) = false;  // destroyed without Shutdown
  bool started_ GUARDED_BY(mu_) = false;
  Mutex sync_mu_;  // one sync at a time; taken before mu_, never under it
  std::thread uploader_;

  // Counters.
  uint64_t fsyncs_ GUARDED_BY(mu_) = 0;
  uint64_t fsync_us_total_ GUARDED_BY(mu_) = 0;
  uint64_t fsync_us_max_ GUARDED_BY(mu_) = 0;
  uint64_t full_waits_ GUARDED_BY(mu_) = 0;
  uint64_t epochs_uploaded_ GUARDED_BY(mu_) = 0;
  uint64_t blocks_uploaded_ GUARDED_BY(mu_) = 0;
  uint64_t records_replayed_ GUARDED_BY(mu_) = 0;
  uint64_t upload_errors_ GUARDED_BY(mu_) = 0;
};

}  // namespace s3disk
