// ConsistencyGuard: protection against a store that is only eventually consistent.
//
// Sits between the lower ZeroMap and ObjectBlockStore, and is composed only when
// --md5CacheSize is not 0 (off by default: AWS S3 is strongly consistent since 2020).
// - After a write of block n completes, it remembers what n now holds (the MD5 of the block, or
//   "zero" for an all-zero block or a trim) for --md5CacheTime ms (0: forever). A read of n
//   while that entry is live checks the data against it; older data is re-read after pauses
//   (--initialRetryPause, doubled) until the entry expires or --maxRetryPause of pauses have
//   passed, then fails with EIO naming the block.
// - Two writes (or trims) of one block start at least --minWriteDelay ms after the previous
//   one completed, so the store cannot apply them out of order.
// - At most --md5CacheSize entries are live; a writer needing a new one waits until the
//   oldest expires (as s3backer does); a live entry is never dropped.
// - A trim is one entry for its whole range, not one per block, so discarding a 1 TiB image
//   costs one entry and at most one --minWriteDelay wait.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/sync.h"
#include "block/block_store.h"

namespace s3disk {

// The guard's settings. Their defaults are written here only: the command line fills the
// Config's copy (app/config.h), which stack.cc hands to Create with the S3 retry pauses.
struct ConsistencyGuardOptions {
  uint64_t cache_size = 0;         // --md5CacheSize: live entries at most; must be > 0
  int64_t cache_time_ms = 0;       // --md5CacheTime: entry lifetime; 0 = forever
  int64_t min_write_delay_ms = 0;  // --minWriteDelay: between writes of one block
  int64_t retry_initial_ms = 200;  // --initialRetryPause: first pause before a stale re-read
  int64_t retry_max_ms = 30000;    // --maxRetryPause: total pauses of one read
};

class ConsistencyGuard : public ForwardingBlockStore {
 public:
  // Checks the options against each other and the number of blocks below; no I/O.
  static Result<std::unique_ptr<ConsistencyGuard>> Create(std::unique_ptr<BlockStore> below,
                                                          ConsistencyGuardOptions options,
                                                          Clock& clock);

  Status ReadBlock(BlockNum n, std::span<uint8_t> buf) override;
  // The blocks with no live record go below together; the others are read one by one, checked.
  std::vector<Status> ReadBlocks(std::span<const BlockNum> ns,
                                 std::span<const std::span<uint8_t>> bufs) override;
  // Records the block's MD5 (hints.md5 when given), then passes the write and hints below.
  Status WriteBlock(BlockNum n, std::span<const uint8_t> data,
                    const WriteHints& hints = {}) override;
  // A block with no live record: the part goes below; else the whole block is read here
  // and checked. (WritePart keeps the default read-modify-write through this layer, so the
  // write is checked and recorded like any other.)
  Status ReadPart(BlockNum n, uint32_t offset, std::span<uint8_t> buf) override;
  // One record for the whole range, one Trim below.
  Status Trim(BlockNum first, uint64_t count) override;
  void DumpStats(std::string* out) override;

  // Live entries (blocks plus trim ranges), after dropping the expired ones. For tests.
  uint64_t live_entries();

 private:
  // What a block is expected to hold.
  enum class Kind : uint8_t { kAny, kZero, kMd5 };
  struct Expect {
    Kind kind = Kind::kAny;
    Md5Digest md5{};
  };
  // One write of a block, or one trim of a range.
  struct Record {
    Expect now;           // the content once the write completed (kAny if it failed)
    Expect before;        // while writing: what a racing read may still see
    bool writing = true;  // the call below has not returned yet
    int64_t done_ms = 0;  // when it returned (valid once !writing)
    uint64_t seq = 0;     // start order: the newest record covering a block wins
  };
  struct Range {
    uint64_t first = 0, end = 0;  // blocks [first, end)
    Record r;
  };
  struct Expiry {
    int64_t at_ms;
    BlockNum n;
    uint64_t seq;
  };

  ConsistencyGuard(std::unique_ptr<BlockStore> below, ConsistencyGuardOptions options,
                   Clock& clock);

  bool forever() const { return options_.cache_time_ms == 0; }
  void Expire(int64_t now_ms) REQUIRES(mu_);
  uint64_t Live() const REQUIRES(mu_);
  // The newest record covering n, or nullptr.
  const Record* Latest(BlockNum n) const REQUIRES(mu_);
  // True if a read of a block whose newest record is latest needs no check: there is none,
  // or it (or, while it is being written, the content before it) allows anything.
  static bool AcceptsAnything(const Record* latest);
  // The earliest time a completed record expires, or -1 if none will.
  int64_t OldestExpiry() REQUIRES(mu_);
  // Unlocks, sleeps on the clock until until_ms, relocks.
  void SleepUntil(int64_t until_ms) REQUIRES(mu_);
  // Waits until room for one more entry is free, given `freed` entries the caller will drop.
  // Returns false if it waited (the caller re-checks everything).
  bool WaitForRoom(uint64_t freed, bool* counted) REQUIRES(mu_);
  void Complete(Record* r, bool ok, int64_t now_ms) REQUIRES(mu_);

  ConsistencyGuardOptions options_;
  Clock& clock_;
  Mutex mu_;
  CondVar cv_;  // a record completed: waiters re-check
  std::unordered_map<BlockNum, Record> blocks_ GUARDED_BY(mu_);
  std::deque<Range> ranges_ GUARDED_BY(mu_);
  std::deque<Expiry> expiry_ GUARDED_BY(mu_);  // block records in completion order
  uint64_t seq_ GUARDED_BY(mu_) = 0;
  uint64_t stale_retries_ GUARDED_BY(mu_) = 0;
  uint64_t stale_failures_ GUARDED_BY(mu_) = 0;
  uint64_t delay_waits_ GUARDED_BY(mu_) = 0;
  uint64_t full_waits_ GUARDED_BY(mu_) = 0;
  uint64_t waiting_ GUARDED_BY(mu_) = 0;  // writers and trims waiting now
};

}  // namespace s3disk
