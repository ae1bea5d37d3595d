#include "base/buffer_pool.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <span>
#include <vector>

using s3disk::BlockBytes;
using s3disk::BufferPool;

TEST_CASE("buffer pool: a freed big buffer is reused by the next allocation of its size",
          "[buffer_pool]") {
  BufferPool pool(1 << 20);
  const size_t n = 128 * 1024;
  void* a = pool.Allocate(n);
  memset(a, 7, n);  // mapped and writable
  pool.Free(a, n);
  CHECK(pool.counters().spare == 1);
  void* b = pool.Allocate(n);
  CHECK(b == a);
  BufferPool::Counters c = pool.counters();
  CHECK(c.maps == 1);
  CHECK(c.reuses == 1);
  CHECK(c.spare == 0);
  CHECK(c.mapped_bytes == n);
  // Another size is not served from this one's spare.
  pool.Free(b, n);
  void* other = pool.Allocate(2 * n);
  CHECK(other != b);
  CHECK(pool.counters().maps == 2);
  pool.Free(other, 2 * n);
}

TEST_CASE("buffer pool: beyond the spare limit a freed buffer is returned to the system",
          "[buffer_pool]") {
  const size_t n = 128 * 1024;
  BufferPool pool(2 * n);
  std::vector<void*> held;
  for (int i = 0; i < 5; i++) held.push_back(pool.Allocate(n));
  for (void* p : held) pool.Free(p, n);
  BufferPool::Counters c = pool.counters();
  CHECK(c.spare == 2);
  CHECK(c.unmaps == 3);
  CHECK(c.mapped == 2);
  CHECK(c.mapped_bytes == 2 * n);
}

TEST_CASE("buffer pool: small buffers bypass the pool", "[buffer_pool]") {
  BufferPool pool;
  void* p = pool.Allocate(4096);
  pool.Free(p, 4096);
  BufferPool::Counters c = pool.counters();
  CHECK(c.maps == 0);
  CHECK(c.spare == 0);
}

TEST_CASE("buffer pool: BlockBytes copies, moves and frees its pooled buffer", "[buffer_pool]") {
  BufferPool pool;
  std::vector<uint8_t> bytes(128 * 1024, 1);
  bytes[7] = 9;
  BlockBytes a = BlockBytes::Copy(pool, bytes);
  REQUIRE(a.size() == bytes.size());
  CHECK(std::equal(a.begin(), a.end(), bytes.begin()));
  BlockBytes b = BlockBytes::Copy(pool, a);
  b.data()[5] = 2;
  CHECK(a.data()[5] == 1);
  const uint8_t* buffer = b.data();
  BlockBytes c = std::move(b);
  CHECK(c.data() == buffer);  // moved, not copied
  CHECK(b.empty());
  std::span<const uint8_t> view = c;
  CHECK(view.size() == bytes.size());
  CHECK(view[7] == 9);
  auto in_use = [&pool] {
    BufferPool::Counters k = pool.counters();
    return k.mapped - k.spare;
  };
  const uint64_t before = in_use();
  c = BlockBytes();
  CHECK(c.empty());
  CHECK(in_use() == before - 1);  // given back to the pool
  BlockBytes z = BlockBytes::Zeros(pool, 4096);
  CHECK(std::all_of(z.begin(), z.end(), [](uint8_t x) { return x == 0; }));
  CHECK(BlockBytes::Copy(pool, {}).empty());
}
