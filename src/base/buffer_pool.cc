#include "base/buffer_pool.h"

#include <sys/mman.h>

#include <cstring>

#include "base/stats.h"

namespace s3disk {

BufferPool::~BufferPool() {
  for (auto& [size, list] : free_) {
    for (void* p : list) munmap(p, size);
  }
}

void* BufferPool::Allocate(size_t n) {
  if (n < kMinPooledBytes) return ::operator new(n);
  {
    MutexLock lock(mu_);
    auto it = free_.find(n);
    if (it != free_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      spare_bytes_ -= n;
      c_.spare--;
      c_.reuses++;
      return p;
    }
  }
  // Populated now, in one call: a page fault per 4 KiB on first touch cost the daemon more (in
  // a VM, with 20 threads faulting at once) than the mapping itself.
  void* p =
      mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  MutexLock lock(mu_);
  c_.mapped++;
  c_.mapped_bytes += n;
  c_.maps++;
  return p;
}

void BufferPool::Free(void* p, size_t n) noexcept {
  if (p == nullptr) return;
  if (n < kMinPooledBytes) {
    ::operator delete(p);
    return;
  }
  {
    MutexLock lock(mu_);
    if (spare_bytes_ + n <= max_spare_bytes_) {
      free_[n].push_back(p);
      spare_bytes_ += n;
      c_.spare++;
      return;
    }
    c_.mapped--;
    c_.mapped_bytes -= n;
    c_.unmaps++;
  }
  munmap(p, n);
}

BufferPool::Counters BufferPool::counters() {
  MutexLock lock(mu_);
  return c_;
}

void BufferPool::DumpStats(std::string* out) {
  Counters c = counters();
  AppendStat(out, "buffer_pool_buffers", c.mapped);
  AppendStat(out, "buffer_pool_spare", c.spare);
  AppendStat(out, "buffer_pool_bytes", c.mapped_bytes);
  AppendStat(out, "buffer_pool_maps", c.maps);
  AppendStat(out, "buffer_pool_unmaps", c.unmaps);
}

BlockBytes::BlockBytes(BufferPool& pool, size_t n)
    : pool_(&pool), p_(n == 0 ? nullptr : static_cast<uint8_t*>(pool.Allocate(n))), n_(n) {}

BlockBytes BlockBytes::Zeros(BufferPool& pool, size_t n) {
  BlockBytes b(pool, n);
  if (n != 0) memset(b.p_, 0, n);
  return b;
}

BlockBytes BlockBytes::Copy(BufferPool& pool, std::span<const uint8_t> from) {
  BlockBytes b(pool, from.size());
  if (!from.empty()) memcpy(b.p_, from.data(), from.size());
  return b;
}

BlockBytes& BlockBytes::operator=(BlockBytes&& o) noexcept {
  if (this != &o) {
    Release();
    pool_ = std::exchange(o.pool_, nullptr);
    p_ = std::exchange(o.p_, nullptr);
    n_ = std::exchange(o.n_, 0);
  }
  return *this;
}

}  // namespace s3disk
