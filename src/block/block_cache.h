// BlockCache: a RAM cache of blocks over the layer below, with write-back, read-ahead and an
// optional crash-safe cache file (cache_file.h).
//
// - Clean blocks are kept in an LRU of at most cache_size_blocks entries (s3backer's
//   --blockCacheSize). Reads of cached blocks never reach below.
// - A write lands in the cache and returns; the block becomes dirty and a pool of workers
//   uploads it write_delay_ms after it first became dirty (rewrites do not postpone it), or
//   at once when the write covered the whole block (s3backer's --blockCacheWriteDelay is
//   the longest a dirty block may wait; the wait only helps to collect a block's parts, and
//   idle workers before a flush make that flush wait longer). At
//   most max_dirty_blocks blocks are dirty (or uploading) at once; a writer that would make
//   one more waits, and the oldest dirty blocks are uploaded at once while anyone waits.
//   A block rewritten while its upload is in flight is uploaded again afterwards.
// - A miss is fetched by the reading thread itself (reads never queue behind uploads);
//   concurrent misses of one block share one fetch. When the cache is full of blocks that
//   cannot be evicted (dirty, uploading, being fetched), a read bypasses the cache.
// - After read_ahead_trigger sequential block reads (a few blocks out of order still count),
//   the next read_ahead_blocks blocks are fetched by the workers; as the run goes on the
//   window widens, up to read_ahead_max_blocks (a fetch per worker, and at least two batches,
//   keeps a cold sequential read at the store's parallel speed). ReadAheadPolicy
//   (read_ahead.h) decides which blocks, a batch at a time; one worker fetches a batch with
//   one ReadBlocks, which S3 sends side by side and checks in one MD5 pass. Read-ahead only
//   evicts clean blocks and never blocks the reader.
// - Flush() uploads every block dirty at the time of the call (ignoring the write delay),
//   waits for them, then flushes below. A failed upload is retried with backoff (clock
//   SleepMs) and then kept dirty for a later retry: dirty data is never dropped.
// - With a CacheFile, every cached block is also kept in the file; dirty blocks found in the
//   file at Start() are uploaded before Start() returns, clean ones are reused (verified with
//   verify_clean unless no_verify, up to `threads` checks at once).
//
// threads == 0 starts no workers: uploads and read-ahead then run only from TEST_Pump(),
// Flush() and Shutdown(), on the calling thread.
#pragma once

#include <climits>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/buffer_pool.h"
#include "base/clock.h"
#include "base/sync.h"
#include "block/block_store.h"
#include "block/cache_file.h"
#include "block/cache_file_writer.h"
#include "block/read_ahead.h"

namespace s3disk {

// The cache's settings. Their defaults are written here only: the command line fills the
// Config's copy (app/config.h), which stack.cc hands to Create.
struct BlockCacheOptions {
  uint64_t cache_size_blocks = 1000;  // --blockCacheSize
  uint32_t threads = 20;              // --blockCacheThreads (0: no workers, see TEST_Pump)
  int64_t write_delay_ms = 250;       // --blockCacheWriteDelay
  // --blockCacheMaxDirty; 0 = default: 90% of the cache size (at least 1). Must be less than
  // cache_size_blocks so that clean blocks can always be evicted for a fetch.
  uint64_t max_dirty_blocks = 0;
  bool sync = false;                // --blockCacheSync: a write returns once it is below
  bool read_only = false;           // --readOnly: writes and trims fail with EROFS at once
  uint32_t read_ahead_blocks = 4;   // --readAhead (0: off): the first window
  uint32_t read_ahead_trigger = 2;  // --readAheadTrigger
  // --readAheadMax: each further sequential block read widens the window by one block, up to
  // this many (less than read_ahead_blocks: the window stays read_ahead_blocks). 0 = default:
  // one fetch per worker (threads) and at least two batches (read_ahead.h), at most a quarter
  // of the cache.
  uint32_t read_ahead_max_blocks = 0;
  // Upload retries inside one attempt to write a block: attempts, and the first backoff
  // (doubled each time, up to retry_max_ms). After the last attempt the block stays dirty
  // and is tried again retry_max_ms later.
  int upload_attempts = 4;
  int64_t retry_initial_ms = 200;
  int64_t retry_max_ms = 5000;
  bool no_verify = false;  // --blockCacheNoVerify: reuse the file's clean blocks unchecked
};

// The cache file (--blockCacheFile, which stack.cc opens), and how the cache checks the clean
// blocks it finds there. Empty: no file.
struct BlockCacheFile {
  std::unique_ptr<CacheFile> file;  // the cache takes ownership
  // Checks a clean block found in the file against the bucket: ok if the bucket holds exactly
  // the data whose MD5 (lowercase hex) is given. Unset: clean blocks are not reused.
  std::function<Status(BlockNum n, const std::string& md5_hex)> verify_clean;
};

class BlockCache : public ForwardingBlockStore {
 public:
  // Checks the options and the file's geometry (EINVAL). No I/O: the cache file is read in
  // Start(). The cached blocks are allocated from pool, which must outlive the cache.
  static Result<std::unique_ptr<BlockCache>> Create(std::unique_ptr<BlockStore> below,
                                                    BlockCacheOptions options, BufferPool& pool,
                                                    Clock& clock, BlockCacheFile file = {});
  ~BlockCache() override;

  // ReadBlocks keeps the default: each block is read through the cache. The cache's own
  // batches are its read-ahead's, one ReadBlocks below (FetchMany).
  Status ReadBlock(BlockNum n, std::span<uint8_t> buf) override;
  // hints.md5 stays with the block and goes below with its upload (and into the cache file).
  Status WriteBlock(BlockNum n, std::span<const uint8_t> data,
                    const WriteHints& hints = {}) override;
  Status ReadPart(BlockNum n, uint32_t offset, std::span<uint8_t> buf) override;
  Status WritePart(BlockNum n, uint32_t offset, std::span<const uint8_t> data) override;
  Status Trim(BlockNum first, uint64_t count) override;
  Status Flush() override;
  // Below's answer, plus the blocks dirty here with data (not yet below).
  Status SurveyNonZero(const std::function<void(BlockNum)>& found) override;
  Status Start() override;
  Status Shutdown() override;
  void DumpStats(std::string* out) override;

  // Test hook: runs, on the calling thread, every job due now (pending read-aheads, then
  // uploads whose delay expired or that someone waits for). Returns the jobs run.
  int TEST_Pump();

  // For tests and stats.
  struct Counters {
    uint64_t hits = 0, misses = 0, bypassed_reads = 0, shared_fetches = 0;
    uint64_t cached_blocks = 0, dirty_blocks = 0, uploads_in_flight = 0;
    uint64_t uploads = 0, upload_failures = 0, retries = 0, evictions = 0;
    uint64_t read_ahead_blocks = 0, bytes_up = 0, bytes_down = 0;
    uint64_t reads_below = 0, writes_below = 0, trims_below = 0, flushes = 0;
    uint64_t recovered_blocks = 0, reused_clean_blocks = 0, writers_waiting = 0;
    uint64_t trims_waiting = 0, idle_workers = 0;
    uint64_t dirty_limit_waits = 0;  // times a writer waited for the dirty limit, ever
  };
  Counters counters();
  uint64_t TEST_max_dirty_blocks() const { return max_dirty_; }
  uint64_t TEST_read_ahead_max_blocks();

 private:
  enum class State : uint8_t {
    kReading,    // a fetch is in flight; data not valid yet
    kClean,      // data equals below
    kDirty,      // data newer than below; in dirty_ (due time order)
    kWriting,    // an upload of data is in flight
    kRedirtied,  // an upload is in flight and data was changed since it started
  };
  struct Entry {
    BlockNum n = 0;
    State state = State::kReading;
    uint64_t id = 0;    // unique per entry, so a fetch knows its own entry
    bool zero = false;  // data is all zeros (data may then be empty)
    BlockBytes data;    // block_size bytes unless zero
    // data's MD5, when the write that stored it brought one (WriteHints); reset whenever
    // data changes otherwise.
    std::optional<Md5Digest> md5;
    // The upload in flight reads data's own buffer (no copy): data is then never changed in
    // place nor freed; a write first moves it to lent, which the upload still reads.
    bool data_lent = false;
    BlockBytes lent;             // an upload's buffer once data was replaced; freed when it ends
    uint64_t seq = 0;            // write sequence of the current data
    uint64_t stored_seq = 0;     // highest seq known to be below
    int64_t due_ms = 0;          // kDirty: upload time (key in dirty_)
    int64_t dirty_since_ms = 0;  // when it last became dirty from clean (or redirtied)
    int64_t upload_started_ms = INT64_MIN / 2;  // when its last upload was claimed
    bool urgent = false;                        // someone (Flush, a sync write) waits: upload now
    uint64_t failures = 0;                      // failed upload jobs
    Status last_error;                          // of the last failed upload
    std::list<BlockNum>::iterator lru;          // valid only when kClean
    int slot = -1;                              // cache file slot, or -1
  };
  using Lock = MutexLock;

  BlockCache(std::unique_ptr<BlockStore> below, BlockCacheOptions options, BufferPool& pool,
             Clock& clock, BlockCacheFile file);

  // dirty_ key of a block someone waits for (uploaded before any other).
  static constexpr int64_t kUrgentDue = INT64_MIN;
  bool Dirtyish(const Entry& e) const {
    return e.state == State::kDirty || e.state == State::kWriting || e.state == State::kRedirtied;
  }
  bool HasData(const Entry& e) const { return e.state != State::kReading; }
  // Before e's data changes: an upload in flight that reads data's buffer keeps it.
  static void Unlend(Entry* e) {
    if (e->data_lent) e->lent = std::move(e->data);
    e->data_lent = false;
  }
  // Copies e's data (or a part) into buf.
  static void CopyOut(const Entry& e, uint32_t offset, std::span<uint8_t> buf);

  // ---- block_cache.cc: the states and the LRU, writes
  // Makes room for one more entry by evicting the least recently used clean block. False if
  // the cache is full of blocks that cannot be evicted.
  bool MakeRoom() REQUIRES(mu_);
  Entry* NewEntry(BlockNum n) REQUIRES(mu_);
  void EraseEntry(BlockNum n) REQUIRES(mu_);
  // Moves e to state s, keeping lru_, dirty_ and dirty_count_ exact (due_ms for kDirty).
  void Transition(Entry* e, State s, int64_t due_ms = 0) REQUIRES(mu_);
  // Someone waits for e: upload it now.
  void MarkUrgent(Entry* e) REQUIRES(mu_);
  void Touch(Entry* e) REQUIRES(mu_);
  void PassRoomOn() REQUIRES(mu_);
  // Stores data (a part at offset, or a whole block; zero = all zeros; md5: a whole block's,
  // or null) into the cache.
  Status Write(BlockNum n, uint32_t offset, std::span<const uint8_t> data, bool zero,
               const Md5Digest* md5);

  // ---- block_cache_read.cc: reads, fetches, read-ahead
  // The read path: serve buf (a part at offset) from the cache, or fetch block n.
  Status Read(BlockNum n, uint32_t offset, std::span<uint8_t> buf);
  // Fetches block n from below into a new cache entry, as the reader or as read-ahead.
  // Called with the lock held; drops it around the call below. Returns the fetch status;
  // data (when not null, block_size bytes) receives the block.
  Status Fetch(BlockNum n, std::span<uint8_t> data, bool read_ahead) REQUIRES(mu_);
  // Read-ahead of the blocks not cached yet, as far as there is room, in one ReadBlocks below
  // (fetched side by side and checked together where the store can). Drops the lock for it.
  void FetchMany(const std::vector<BlockNum>& ns) REQUIRES(mu_);
  // A fetch of block n into the new entry id ended with st (data: the block; own: its buffer,
  // when the fetch had its own): caches it, or drops the entry if the fetch failed or raced a
  // trim (epoch) or a write (the entry is no longer that fetch's). Counts the read.
  void Install(BlockNum n, uint64_t id, uint64_t epoch, const Status& st, bool zero, BlockBytes own,
               std::span<const uint8_t> data, bool read_ahead) REQUIRES(mu_);
  // Asks the read-ahead policy about a read of block n and queues the blocks it names that are
  // not cached, waking a worker per batch.
  void NoteRead(BlockNum n) REQUIRES(mu_);
  // A worker's read-ahead job: fetches the next batch of the queue. False if it is empty.
  bool RunReadAhead() REQUIRES(mu_);

  // ---- block_cache_upload.cc: the workers and the uploads
  // Claims the first dirty block that is due (only_urgent: that someone waits for), or block
  // `only` when it is dirty, and uploads it with retries. Drops the lock around the upload.
  // Returns true if it uploaded (or tried to upload) something.
  bool UploadOne(bool only_urgent, const BlockNum* only) REQUIRES(mu_);
  bool IsDue(const Entry& e, int64_t now_ms) const REQUIRES(mu_);
  // Waits until every (block, seq) target is below; uploads them on this thread when
  // upload_here (else the workers do). Fails if one of them failed an upload meanwhile.
  Status WaitStored(const std::vector<std::pair<BlockNum, uint64_t>>& targets, bool upload_here)
      REQUIRES(mu_);
  void WorkerLoop();

  // ---- block_cache_file.cc: the cache file's side
  // Start(): reloads the cache file (its dirty blocks are then uploaded by Start).
  Status Recover();
  // Start(): checks the file's clean blocks against below with verify_clean, in parallel
  // (up to `threads` at once). Result per found() record: true if it may be reused.
  std::vector<bool> VerifyClean();
  // Cache file writes (cache_file_writer.h). Under mu_ they are only queued in file_queue_
  // (with a copy of the data); the file I/O and MD5 run outside mu_, in ApplyFileOps. Every
  // path that queues one applies the queue as it releases mu_ (DrainFileOps, or TakeFileOps
  // and then ApplyFileOps first thing in a MutexUnlock scope), so a write is in the file
  // before it is acknowledged and no queued op outlives its producer's critical section.
  void FilePut(Entry* e) REQUIRES(mu_);
  void FileMarkClean(Entry* e) REQUIRES(mu_);
  void FileClear(int slot) REQUIRES(mu_);
  // Applies the queued file ops with mu_ dropped, then takes it again.
  void DrainFileOps() REQUIRES(mu_);
  // For a call below: takes the queued file ops, which the caller applies first thing in its
  // MutexUnlock scope.
  std::vector<CacheFileOp> TakeFileOps() REQUIRES(mu_);
  // Applies ops (taken from file_queue_) without mu_, and empties them.
  void ApplyFileOps(std::vector<CacheFileOp>& ops);

  Clock& clock_;
  BufferPool& pool_;
  BlockCacheOptions options_;
  const std::unique_ptr<CacheFile> file_;  // or null
  const std::function<Status(BlockNum n, const std::string& md5_hex)> verify_clean_;
  const uint32_t block_size_;
  const uint64_t num_blocks_;
  const uint64_t max_dirty_;

  Mutex mu_;
  CondVar cv_;        // state changes: fetch, upload and trim waiters re-check
  CondVar work_cv_;   // workers: new work or shutdown
  CondVar space_cv_;  // writers at the dirty limit: one woken per block that stops being dirty
  std::map<BlockNum, Entry> entries_ GUARDED_BY(mu_);
  std::list<BlockNum> lru_ GUARDED_BY(mu_);  // clean blocks, least recent first
  std::set<std::pair<int64_t, BlockNum>> dirty_ GUARDED_BY(mu_);  // kDirty by due time
  ReadAheadPolicy read_ahead_ GUARDED_BY(mu_);
  std::deque<BlockNum> read_ahead_queue_ GUARDED_BY(mu_);  // blocks the workers fetch ahead
  std::vector<int> free_slots_ GUARDED_BY(mu_);
  CacheFileQueue file_queue_ GUARDED_BY(mu_);           // empty whenever mu_ is free
  const std::unique_ptr<CacheFileWriter> file_writer_;  // with a cache file only
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  uint64_t next_seq_ GUARDED_BY(mu_) = 1;
  uint64_t dirty_count_ GUARDED_BY(mu_) = 0;         // kDirty + kWriting + kRedirtied
  uint32_t idle_workers_ GUARDED_BY(mu_) = 0;        // workers waiting on work_cv_
  uint32_t timed_idle_workers_ GUARDED_BY(mu_) = 0;  // of those, waiting for a due time
  uint64_t trim_epoch_ GUARDED_BY(mu_) = 0;          // bumped at every trim start and end
  uint64_t read_ahead_batch_ GUARDED_BY(mu_) = 1;    // blocks a read-ahead job takes
  bool stopping_ GUARDED_BY(mu_) = false;
  bool started_ GUARDED_BY(mu_) = false;
  Counters c_ GUARDED_BY(mu_);
  std::vector<std::thread> workers_;
};

}  // namespace s3disk
