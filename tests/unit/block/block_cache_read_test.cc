// BlockCache's read side: hits, shared fetches, read-ahead and eviction
// (block_cache_testing.h has the fixture).
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "block/block_cache.h"
#include "block/block_cache_testing.h"

namespace s3disk {
namespace {

using namespace testing;

TEST_CASE("block_cache: reads do not wait behind a stuck upload") {
  Fixture f;
  f.below->SetBlock(2, Fill(9));
  Gate gate;
  f.below->write_gate = &gate;
  f.Write(1, 1);
  f.clock.Advance(250);
  std::thread pump([&] { f.cache->TEST_Pump(); });
  gate.WaitArrived(1);
  CHECK(f.cache->counters().uploads_in_flight == 1);
  CHECK(f.Read(2) == Fill(9));  // a miss, fetched by this thread
  CHECK(f.Read(1) == Fill(1));  // a hit on the block being uploaded
  CHECK(f.below->CountCalls("read 2") == 1);
  gate.Open();
  pump.join();
  CHECK(f.below->Block(1) == Fill(1));
}

TEST_CASE("block_cache: concurrent misses of one block share one fetch") {
  Fixture f;
  f.below->SetBlock(7, Fill(7));
  Gate gate;
  f.below->read_gate = &gate;
  std::vector<uint8_t> a(kBs), b(kBs);
  Status read_a, read_b;  // (Catch2 assertions are for the test's own thread only)
  std::thread first([&] { read_a = f.cache->ReadBlock(7, a); });
  gate.WaitArrived(1);
  std::thread second([&] { read_b = f.cache->ReadBlock(7, b); });
  SpinUntil([&] { return f.cache->counters().shared_fetches == 1; });
  gate.Open();
  first.join();
  second.join();
  CHECK(read_a.ok());
  CHECK(read_b.ok());
  CHECK(a == Fill(7));
  CHECK(b == Fill(7));
  CHECK(f.below->CountCalls("read 7") == 1);
}

TEST_CASE("block_cache: sequential reads trigger read-ahead of the next blocks") {
  Fixture f(Fixture::ReadAhead(4, 16));
  f.FillBelow(12);
  f.Read(10);
  f.Read(0);  // not sequential with 10
  CHECK(f.cache->TEST_Pump() == 0);
  f.Read(1);  // second sequential read: fetch 2..5, in batches of 2 (half the window)
  CHECK(f.below->CountCalls("read") == 3);
  CHECK(f.cache->TEST_Pump() == 2);
  CHECK(f.below->CountCalls("batch 2 3") == 1);
  CHECK(f.below->CountCalls("batch 4 5") == 1);
  CHECK(f.below->CountCalls("read") == 7);
  for (BlockNum n = 2; n < 6; n++) CHECK(f.below->CountCalls("read " + std::to_string(n)) == 1);
  f.below->ClearCalls();
  for (BlockNum n = 2; n < 6; n++) CHECK(f.Read(n)[0] == static_cast<uint8_t>(n + 1));
  CHECK(f.below->CountCalls("read") == 0);  // all hits
  CHECK(f.cache->counters().read_ahead_blocks == 4);
  CHECK(f.cache->TEST_Pump() == 2);  // and the run goes on: 6..9
  CHECK(f.below->CountCalls("read") == 4);
}

TEST_CASE("block_cache: the read-ahead window widens with the run, up to readAheadMax") {
  BlockCacheOptions o = Fixture::Defaults();
  o.read_ahead_blocks = 2;
  o.read_ahead_trigger = 2;
  o.read_ahead_max_blocks = 5;
  o.cache_size_blocks = 32;
  Fixture f(std::move(o));
  f.Read(0);
  CHECK(f.cache->TEST_Pump() == 0);
  // The window is topped up a batch (half the window, at most kFetchBatchBlocks) at a time.
  f.Read(1);  // the trigger: 2..3 (the first window, 2 blocks: batches of 1)
  CHECK(f.cache->TEST_Pump() == 2);
  f.Read(2);  // a hit, one more in the run: the window is 3: 4..5
  CHECK(f.cache->TEST_Pump() == 2);
  f.Read(3);  // window 4: 6..7, one batch
  CHECK(f.cache->TEST_Pump() == 1);
  CHECK(f.below->CountCalls("batch 6 7") == 1);
  f.Read(4);  // window 5 (the most): 8..9
  CHECK(f.cache->TEST_Pump() == 1);
  f.Read(5);  // window 5: only 10 is missing, less than a batch
  CHECK(f.cache->TEST_Pump() == 0);
  f.Read(6);  // 10..11
  CHECK(f.cache->TEST_Pump() == 1);
  auto reads = [&](BlockNum n) { return f.below->CountCalls("read " + GatedBlockStore::Hex(n)); };
  for (BlockNum n = 2; n <= 11; n++) CHECK(reads(n) == 1);
  CHECK(reads(12) == 0);
  f.Read(20);  // a jump ends the run: the window starts again at 2
  f.Read(21);
  CHECK(f.cache->TEST_Pump() == 2);
  CHECK(reads(22) == 1);
  CHECK(reads(23) == 1);
  CHECK(reads(24) == 0);
}

TEST_CASE("block_cache: a wide read-ahead window is fetched in batches of kFetchBatchBlocks") {
  static_assert(ReadAheadPolicy::kFetchBatchBlocks == 16);
  Fixture f(Fixture::ReadAhead(32, 64));
  f.FillBelow(40);
  f.Read(0);
  f.Read(1);
  CHECK(f.cache->TEST_Pump() == 2);
  CHECK(f.below->CountCalls("batch 2 3 4 5 6 7 8 9 a b c d e f 10 11") == 1);
  CHECK(f.below->CountCalls("batch 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 20 21") == 1);
  f.below->ClearCalls();
  for (BlockNum n = 2; n < 34; n++) CHECK(f.Read(n)[0] == static_cast<uint8_t>(n + 1));
  CHECK(f.below->CountCalls("read") == 0);
  CHECK(f.cache->counters().read_ahead_blocks == 32);
}

TEST_CASE("block_cache: a sequential run after one further on still reads ahead in whole batches") {
  // The position an earlier run had scheduled up to once stayed: a later run below it queued
  // one block per read, and the workers fetched them one or two at a time.
  Fixture f(Fixture::ReadAhead(16, 60));  // batches of 8
  f.FillBelow(kBlocks);
  for (BlockNum n = 40; n < 46; n++) f.Read(n);
  while (f.cache->TEST_Pump() > 0) {
  }
  f.below->ClearCalls();
  for (BlockNum n = 0; n < 30; n++) {
    f.Read(n);
    while (f.cache->TEST_Pump() > 0) {
    }
  }
  const auto calls = f.below->calls();
  const auto small = std::count_if(calls.begin(), calls.end(), [](const std::string& c) {
    return c.starts_with("batch") && std::count(c.begin(), c.end(), ' ') < 8;
  });
  CHECK(f.below->CountCalls("batch") >= 3);
  CHECK(small <= 1);  // the one beside blocks 40..45, still cached from the first run
}

TEST_CASE("block_cache: a read-ahead batch caches what it read and drops what failed") {
  Fixture f(Fixture::ReadAhead(16, 64));
  f.FillBelow(20);
  f.Read(0);
  f.Read(1);
  f.below->FailNext(3, EIO);  // blocks 2, 3 and 4 of the first batch
  CHECK(f.cache->TEST_Pump() == 2);
  CHECK(f.cache->counters().cached_blocks == 2 + 13);  // blocks 0, 1 and 5..17
  f.below->ClearCalls();
  CHECK(f.Read(2)[0] == 3);  // not cached: read now, and fine
  CHECK(f.Read(4)[0] == 5);
  CHECK(f.Read(5)[0] == 6);
  CHECK(f.below->calls() == std::vector<std::string>{"read 2", "read 4"});
}

TEST_CASE("block_cache: the read-ahead window's default limit: a fetch per worker, two batches") {
  BlockCacheOptions o = Fixture::Defaults();
  o.threads = 40;
  o.cache_size_blocks = 200;
  Fixture f(std::move(o));
  CHECK(f.cache->TEST_read_ahead_max_blocks() == 40);
  BlockCacheOptions few = Fixture::Defaults();
  few.threads = 6;
  few.cache_size_blocks = 200;
  Fixture h(std::move(few));
  CHECK(h.cache->TEST_read_ahead_max_blocks() == 2 * ReadAheadPolicy::kFetchBatchBlocks);
  BlockCacheOptions small = Fixture::Defaults();
  small.threads = 20;
  small.cache_size_blocks = 40;
  Fixture g(std::move(small));
  CHECK(g.cache->TEST_read_ahead_max_blocks() == 10);  // a quarter of the cache
}

TEST_CASE("block_cache: read-ahead never evicts dirty blocks") {
  BlockCacheOptions o = Fixture::Defaults();
  o.cache_size_blocks = 4;
  o.max_dirty_blocks = 3;
  o.read_ahead_blocks = 3;
  o.read_ahead_trigger = 1;
  Fixture f(std::move(o));
  const std::vector<uint8_t> part(10, 1);  // partial writes: not due before the delay
  for (BlockNum n : {20, 21, 22}) REQUIRE(f.cache->WritePart(n, 0, part).ok());
  f.Read(0);  // one free slot: block 0 takes it; read-ahead wants 1..3
  f.cache->TEST_Pump();
  CHECK(f.cache->counters().dirty_blocks == 3);
  CHECK(f.cache->counters().cached_blocks == 4);
  REQUIRE(f.cache->Flush().ok());
  std::vector<uint8_t> want(kBs, 0);
  std::fill(want.begin(), want.begin() + 10, 1);
  CHECK(f.below->Block(21) == want);
}

TEST_CASE("block_cache: the least recently used clean block is evicted first") {
  BlockCacheOptions o = Fixture::Defaults();
  o.cache_size_blocks = 3;
  o.max_dirty_blocks = 1;
  Fixture f(std::move(o));
  f.Read(1);
  f.Read(2);
  f.Read(3);
  f.Read(1);  // now 2 is the least recently used
  f.Read(4);  // evicts 2
  f.below->ClearCalls();
  f.Read(1);
  f.Read(3);
  f.Read(4);
  CHECK(f.below->calls().empty());
  f.Read(2);  // evicts 1 (the least recent now)
  CHECK(f.below->calls() == std::vector<std::string>{"read 2"});
  CHECK(f.cache->counters().evictions == 2);
}

TEST_CASE("block_cache: a partial write to a cached block sends no read") {
  Fixture f;
  f.below->SetBlock(3, Fill(3));
  f.Read(3);
  f.below->ClearCalls();
  std::vector<uint8_t> part(10, 0xaa);
  REQUIRE(f.cache->WritePart(3, 100, part).ok());
  CHECK(f.below->calls().empty());
  // An uncached block: one read of the whole block, then the write-back.
  f.below->SetBlock(4, Fill(4));
  REQUIRE(f.cache->WritePart(4, 0, part).ok());
  CHECK(f.below->calls() == std::vector<std::string>{"read 4"});
  REQUIRE(f.cache->Flush().ok());
  std::vector<uint8_t> want = Fill(3);
  std::fill(want.begin() + 100, want.begin() + 110, 0xaa);
  CHECK(f.below->Block(3) == want);
  std::vector<uint8_t> part_read(20);
  REQUIRE(f.cache->ReadPart(3, 95, part_read).ok());
  CHECK(part_read[4] == 3);
  CHECK(part_read[5] == 0xaa);
}

TEST_CASE("block_cache: a read-only cache refuses writes at once and still caches reads") {
  BlockCacheOptions o = Fixture::Defaults();
  o.read_only = true;
  Fixture f(std::move(o));
  f.below->SetBlock(1, Fill(1));
  CHECK(f.cache->WriteBlock(1, Fill(2)).code() == EROFS);
  CHECK(f.cache->WritePart(1, 0, std::vector<uint8_t>(3, 1)).code() == EROFS);
  CHECK(f.cache->Trim(0, 2).code() == EROFS);
  CHECK(f.Read(1) == Fill(1));
  CHECK(f.Read(1) == Fill(1));
  CHECK(f.below->calls() == std::vector<std::string>{"read 1"});
}

}  // namespace
}  // namespace s3disk
