#include "buffer_pool.h"

#include <sys/mman.h>

namespace s3disk {

BufferPool::~BufferPool() {
  for (auto& [size, list] : free_) {
    for (void* p : list) munmap(p, size);
  }
}

BufferPool& BufferPool::Global() {
  static BufferPool* pool = new BufferPool();
  return *pool;
}

void* BufferPool::Allocate(size_t n) {
  if (n < kMinPooledBytes) return ::operator new(n);
  {
    std::lock_guard lock(mu_);
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
  void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  std::lock_guard lock(mu_);
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
    std::lock_guard lock(mu_);
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
  std::lock_guard lock(mu_);
  return c_;
}

void BufferPool::DumpStats(std::string* out) {
  Counters c = counters();
  auto line = [out](const char* name, uint64_t v) {
    *out += std::string(name) + " " + std::to_string(v) + "\n";
  };
  line("buffer_pool_buffers", c.mapped);
  line("buffer_pool_spare", c.spare);
  line("buffer_pool_bytes", c.mapped_bytes);
  line("buffer_pool_maps", c.maps);
  line("buffer_pool_unmaps", c.unmaps);
}

}  // namespace s3disk
