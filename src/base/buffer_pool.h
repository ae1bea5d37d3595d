// BufferPool: big byte buffers (block data) recycled through one free list for all threads.
//
// Why: malloc keeps a freed buffer in the arena of the thread that allocated it, and the cache's
// blocks are allocated by many threads (FUSE readers and writers, fetch workers) and freed by
// others (eviction). Each arena then held its own high-water mark of blocks, and the daemon's
// heap grew to about 1.7x the cache. Here a freed buffer goes on one list that any thread takes
// from, so the memory is the most buffers ever in use at once plus a bounded spare.
//
// Buffers of at least kMinPooledBytes are mapped (mmap) and returned to the system (munmap)
// when the spare list is full; smaller ones are plain operator new (malloc does well there).
// There is no global pool: its owner (stack.cc, for the block cache) hands it to whoever
// allocates, and keeps it alive as long as any BlockBytes of it.
// Invariants: every buffer on free_ is mapped, unused and of its key's size; spare_bytes_ is
// the sum of their sizes and never above max_spare_bytes_.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <new>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/sync.h"

namespace s3disk {

class BufferPool {
 public:
  static constexpr size_t kMinPooledBytes = 64 * 1024;
  static constexpr size_t kDefaultMaxSpareBytes = 8 * 1024 * 1024;

  explicit BufferPool(size_t max_spare_bytes = kDefaultMaxSpareBytes)
      : max_spare_bytes_(max_spare_bytes) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // n bytes (contents unspecified); throws std::bad_alloc like operator new.
  void* Allocate(size_t n);
  void Free(void* p, size_t n) noexcept;

  struct Counters {
    uint64_t mapped = 0;        // pooled buffers mapped now (in use or spare)
    uint64_t spare = 0;         // of them, on the free list
    uint64_t mapped_bytes = 0;  // their bytes
    uint64_t maps = 0, unmaps = 0, reuses = 0;
  };
  Counters counters();
  void DumpStats(std::string* out);

 private:
  const size_t max_spare_bytes_;
  Mutex mu_;
  std::map<size_t, std::vector<void*>> free_ GUARDED_BY(mu_);  // by size
  size_t spare_bytes_ GUARDED_BY(mu_) = 0;
  Counters c_ GUARDED_BY(mu_);
};

// Block data held for a while (cache entries, upload snapshots, fetch buffers): n bytes from a
// BufferPool, which it keeps a pointer to and frees them into. Move-only, so every copy is
// written out as Copy, one memcpy (a std::vector with a custom allocator copied these byte by
// byte, under the cache's lock).
class BlockBytes {
 public:
  BlockBytes() = default;
  static BlockBytes Zeros(BufferPool& pool, size_t n);
  // n bytes whose contents are unspecified (what an earlier user left), for a buffer that is
  // filled whole before it is read: a fetch's (ReadBlock fills its buffer when it succeeds).
  static BlockBytes ToFill(BufferPool& pool, size_t n) { return BlockBytes(pool, n); }
  static BlockBytes Copy(BufferPool& pool, std::span<const uint8_t> from);
  BlockBytes(BlockBytes&& o) noexcept
      : pool_(std::exchange(o.pool_, nullptr)),
        p_(std::exchange(o.p_, nullptr)),
        n_(std::exchange(o.n_, 0)) {}
  BlockBytes& operator=(BlockBytes&& o) noexcept;
  BlockBytes(const BlockBytes&) = delete;
  BlockBytes& operator=(const BlockBytes&) = delete;
  ~BlockBytes() { Release(); }

  uint8_t* data() { return p_; }
  const uint8_t* data() const { return p_; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  // (begin/end make it a contiguous range: it converts to std::span.)
  uint8_t* begin() { return p_; }
  uint8_t* end() { return p_ + n_; }
  const uint8_t* begin() const { return p_; }
  const uint8_t* end() const { return p_ + n_; }

 private:
  BlockBytes(BufferPool& pool, size_t n);  // contents unspecified
  void Release() noexcept {
    if (pool_ != nullptr) pool_->Free(p_, n_);
  }
  BufferPool* pool_ = nullptr;  // null when default-made or moved from
  uint8_t* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace s3disk
