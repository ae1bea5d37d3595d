// The block cache's updates of its CacheFile (cache_file.h), in the order the cache decided
// them, with the file I/O and the MD5s outside the cache's lock.
//
// The cache decides what each slot must hold under its lock, where file I/O would stall every
// reader and writer. So it only queues the update there (CacheFileQueue, which it keeps under
// that lock), with a copy of the data and a ticket that fixes the order of the slot's
// updates; before it releases the lock it takes what it queued, and applies it right after
// (CacheFileWriter::Apply, without the lock). Two threads may then apply updates of one slot
// at once: each update waits until its slot's previous one has been applied, so the file
// sees them in the order the cache decided them.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "base/buffer_pool.h"
#include "base/crypto.h"
#include "base/sync.h"
#include "block/block_store.h"
#include "block/cache_file.h"

namespace s3disk {

// One update of a slot (CacheFile's Put, MarkClean or Clear).
struct CacheFileOp {
  enum class Kind : uint8_t { kPut, kMarkClean, kClear };
  Kind kind = Kind::kPut;
  uint32_t slot = 0;
  uint64_t ticket = 0;  // order of all the queue's ops
  uint64_t prev = 0;    // ticket of the slot's previous op (0: none): applied after it
  // kPut only: CacheFile::Put's arguments.
  BlockNum n = 0;
  bool dirty = false;
  bool zero = false;
  uint64_t seq = 0;
  BlockBytes data;               // a copy of the block (empty when zero)
  std::optional<Md5Digest> md5;  // data's, if known
};

// The updates queued in the cache's order. Not thread-safe: its owner keeps it under a lock,
// and the order of the calls is the order the slots' updates land in the file.
class CacheFileQueue {
 public:
  explicit CacheFileQueue(uint32_t slots) : slot_last_ticket_(slots, 0) {}

  void Put(uint32_t slot, BlockNum n, bool dirty, uint64_t seq, BlockBytes data, bool zero,
           std::optional<Md5Digest> md5);
  void MarkClean(uint32_t slot);
  void Clear(uint32_t slot);

  bool empty() const { return ops_.empty(); }
  // The ops queued since the last Take, in ticket order; the queue is empty after.
  std::vector<CacheFileOp> Take();

 private:
  void Add(CacheFileOp op);

  std::vector<CacheFileOp> ops_;
  uint64_t next_ticket_ = 1;
  std::vector<uint64_t> slot_last_ticket_;  // per slot: the last ticket queued
};

// Applies taken ops to the file. Thread-safe.
class CacheFileWriter {
 public:
  explicit CacheFileWriter(CacheFile& file) : file_(file), slot_applied_(file.slots(), 0) {}

  // Applies ops (one Take, in ticket order), each once its slot's previous op has been
  // applied, then empties ops (the data copies go at once). A failed update is logged and
  // counts as applied, so the slot's later updates still run. Every op taken from the queue
  // must be applied, or the slot's later ones wait for ever.
  void Apply(std::vector<CacheFileOp>& ops);

 private:
  CacheFile& file_;
  Mutex mu_;  // guards slot_applied_ only; never held during file I/O
  CondVar cv_;
  std::vector<uint64_t> slot_applied_ GUARDED_BY(mu_);  // per slot: the last ticket applied
};

}  // namespace s3disk
