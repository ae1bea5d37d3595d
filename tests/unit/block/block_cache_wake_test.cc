// BlockCache's wake-ups: writers at the dirty limit and idle workers, each woken when there
// is work for it (block_cache_testing.h has the fixture).
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "block/block_cache.h"
#include "block/block_cache_testing.h"

namespace s3disk {
namespace {

using namespace testing;

TEST_CASE("block_cache: an idle worker wakes for a write that is due before any other") {
  // Workers sleep until the first due time, untimed while nothing is dirty: a write that
  // becomes the first due must wake one (writes behind it need not).
  BlockCacheOptions o = Fixture::Defaults();
  o.threads = 1;
  o.write_delay_ms = 0;
  Fixture f(std::move(o));
  REQUIRE(f.cache->WritePart(1, 0, std::vector<uint8_t>(10, 1)).ok());
  SpinAtMost30s([&] { return f.cache->counters().uploads == 1; });
  f.Write(2, 2);
  SpinAtMost30s([&] { return f.cache->counters().uploads == 2; });
  CHECK(f.below->Block(2) == Fill(2));
}

TEST_CASE("block_cache: writers wait beyond max dirty blocks until uploads make room") {
  BlockCacheOptions o = Fixture::Defaults();
  o.max_dirty_blocks = 2;
  Fixture f(std::move(o));
  f.Write(1, 1);
  f.Write(2, 2);
  f.Write(1, 3);  // already dirty: no wait
  CHECK(f.cache->counters().dirty_limit_waits == 0);
  std::atomic<bool> done{false};
  Status written;  // (Catch2 assertions are for the test's own thread only)
  std::thread writer([&] {
    written = f.cache->WriteBlock(3, Fill(3));
    done = true;
  });
  SpinUntil([&] { return f.cache->counters().writers_waiting == 1; });
  CHECK_FALSE(done.load());
  CHECK(f.below->CountCalls("write") == 0);
  // A waiting writer makes the dirty blocks due now, without advancing the clock.
  CHECK(f.cache->TEST_Pump() >= 1);
  writer.join();
  CHECK(done.load());
  CHECK(written.ok());
  CHECK(f.cache->counters().dirty_limit_waits == 1);
  CHECK(f.below->CountCalls("write 1") + f.below->CountCalls("write 2") >= 1);
  CHECK(f.cache->counters().dirty_blocks <= 2);
  CHECK(f.Read(3) == Fill(3));
}

TEST_CASE("block_cache: each block written whole wakes an idle worker") {
  // Only a write that became the first due block woke a worker: blocks written right after it
  // waited for that one worker while the others slept (a sequential write ran one or two
  // uploads at a time).
  GatedWorkers g(4);
  SpinAtMost30s([&] { return g.f.cache->counters().idle_workers == 4; });
  for (BlockNum n = 1; n <= 3; n++) g.f.Write(n, static_cast<uint8_t>(n));
  g.WaitUploading(3);
  g.gate.Open();
  REQUIRE(g.f.cache->Flush().ok());
  for (BlockNum n = 1; n <= 3; n++) CHECK(g.f.below->Block(n) == Fill(static_cast<uint8_t>(n)));
}

TEST_CASE("block_cache: blocks that become due later are taken by every idle worker") {
  // Partial writes are due a delay later: only the first (the head of the queue) woke a
  // worker, which then uploaded them all one after another while the others slept.
  GatedWorkers g(2);
  SpinAtMost30s([&] { return g.f.cache->counters().idle_workers == 2; });
  const std::vector<uint8_t> part(10, 1);
  REQUIRE(g.f.cache->WritePart(1, 0, part).ok());
  REQUIRE(g.f.cache->WritePart(2, 0, part).ok());
  g.f.clock.Advance(250);
  g.WaitUploading(2);
  g.gate.Open();
  REQUIRE(g.f.cache->Flush().ok());
}

TEST_CASE("block_cache: a block that becomes due during an upload is taken by an idle worker") {
  // The worker that kept time for the queue took the first block; the next became due while
  // that upload ran, and the other worker slept on (it had gone idle with nothing dirty).
  GatedWorkers g(2);
  SpinAtMost30s([&] { return g.f.cache->counters().idle_workers == 2; });
  const std::vector<uint8_t> part(10, 1);
  REQUIRE(g.f.cache->WritePart(1, 0, part).ok());  // due at 250
  g.f.clock.Advance(10);
  REQUIRE(g.f.cache->WritePart(2, 0, part).ok());  // due at 260
  g.f.clock.Advance(240);
  g.WaitUploading(1);  // block 1, held in the gate
  g.f.clock.Advance(10);
  g.WaitUploading(2);
  g.gate.Open();
  REQUIRE(g.f.cache->Flush().ok());
}

TEST_CASE("block_cache: a writer at the dirty limit wakes the idle workers") {
  GatedWorkers g(4, 4);
  const std::vector<uint8_t> part(10, 1);  // not due before the write delay
  for (BlockNum n = 0; n < 4; n++) REQUIRE(g.f.cache->WritePart(n, 0, part).ok());
  Status written;
  g.writer = std::thread([&] { written = g.f.cache->WriteBlock(4, Fill(4)); });
  // The waiting writer made the four due: all four workers upload them at once.
  g.WaitUploading(4);
  g.gate.Open();
  g.writer.join();
  CHECK(written.ok());
  REQUIRE(g.f.cache->Flush().ok());
  CHECK(g.f.below->Block(4) == Fill(4));
}

}  // namespace
}  // namespace s3disk
