// BlockCache's write-back: the write delay, uploads and their data, retries, flush, trim,
// write-through, shutdown, stats and options (block_cache_testing.h has the fixture).
#include "block/block_cache.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "block/block_cache_testing.h"
#include "block/byte_range.h"
#include "block/zero_map.h"

namespace s3disk {
namespace {

using namespace testing;

TEST_CASE("block_cache: a partial write is uploaded write-delay after it first became dirty") {
  Fixture f;
  f.below->SetBlock(1, Fill(1));
  f.Read(1);
  f.below->ClearCalls();
  const std::vector<uint8_t> seven(100, 7), eight(100, 8);
  REQUIRE(f.cache->WritePart(1, 0, seven).ok());
  CHECK(f.below->CountCalls("write") == 0);
  f.clock.Advance(200);
  REQUIRE(f.cache->WritePart(1, 100, eight).ok());  // a rewrite does not postpone the upload
  f.clock.Advance(49);
  CHECK(f.cache->TEST_Pump() == 0);
  CHECK(f.below->CountCalls("write") == 0);
  f.clock.Advance(1);
  CHECK(f.cache->TEST_Pump() == 1);
  CHECK(f.below->calls() == std::vector<std::string>{"write 1"});
  std::vector<uint8_t> want = Fill(1);
  std::fill(want.begin(), want.begin() + 100, 7);
  std::fill(want.begin() + 100, want.begin() + 200, 8);
  CHECK(f.below->Block(1) == want);
  CHECK(f.cache->counters().dirty_blocks == 0);
  CHECK(f.Read(1) == want);
  CHECK(f.below->CountCalls("read") == 0);
}

TEST_CASE("block_cache: a block written whole is due at once; its rewrites wait the delay") {
  SECTION("rewritten after its upload: due a delay after that upload began") {
    Fixture f;
    f.Write(1, 7);
    f.clock.Advance(10);
    CHECK(f.cache->TEST_Pump() == 1);  // upload began at 10
    f.clock.Advance(100);
    f.Write(1, 8);  // at 110: not before 260
    f.clock.Advance(149);
    CHECK(f.cache->TEST_Pump() == 0);
    f.clock.Advance(1);
    CHECK(f.cache->TEST_Pump() == 1);
    CHECK(f.below->Block(1) == Fill(8));
    CHECK(f.below->CountCalls("write 1") == 2);
  }
  SECTION("rewritten during its upload: the next upload waits the delay from the rewrite") {
    Fixture f;
    f.Write(1, 7);
    CHECK(f.Read(1) == Fill(7));  // served from the cache
    CHECK(f.below->CountCalls("read") == 0);
    CHECK(f.cache->TEST_Pump() == 1);  // no time has passed
    CHECK(f.below->Block(1) == Fill(7));
    CHECK(f.cache->counters().dirty_blocks == 0);
    f.clock.Advance(250);  // a delay after that upload: the next whole write goes at once
    Gate gate;
    f.below->write_gate = &gate;
    f.Write(1, 8);
    std::thread pump([&] { f.cache->TEST_Pump(); });
    gate.WaitArrived(1);
    f.Write(1, 9);
    gate.Open();
    pump.join();
    f.below->write_gate = nullptr;
    CHECK(f.below->Block(1) == Fill(8));
    f.clock.Advance(249);
    CHECK(f.cache->TEST_Pump() == 0);
    f.clock.Advance(1);
    CHECK(f.cache->TEST_Pump() == 1);
    CHECK(f.below->Block(1) == Fill(9));
  }
}

TEST_CASE("block_cache: a block rewritten while its upload is in flight is uploaded again") {
  Fixture f;
  Gate gate;
  f.below->write_gate = &gate;
  f.Write(5, 1);
  f.clock.Advance(250);
  std::thread pump([&] { f.cache->TEST_Pump(); });
  gate.WaitArrived(1);  // the upload of version 1 is in flight
  f.Write(5, 2);        // does not wait for it
  CHECK(f.Read(5) == Fill(2));
  gate.Open();
  pump.join();
  CHECK(f.below->Block(5) == Fill(1));
  CHECK(f.cache->counters().dirty_blocks == 1);  // version 2 is still to go
  CHECK(f.cache->TEST_Pump() == 0);              // its delay counts from the rewrite
  f.clock.Advance(250);
  CHECK(f.cache->TEST_Pump() == 1);
  CHECK(f.below->Block(5) == Fill(2));
  CHECK(f.below->CountCalls("write 5") == 2);
  CHECK(f.cache->counters().dirty_blocks == 0);
}

TEST_CASE("block_cache: an upload in flight sends the data it started with, whatever follows") {
  // The upload reads the entry's own buffer (no snapshot copy): a rewrite must not touch it.
  enum class Rewrite { kPart, kWhole, kZero };
  for (Rewrite how : {Rewrite::kPart, Rewrite::kWhole, Rewrite::kZero}) {
    Fixture f;
    Gate gate;
    f.below->write_gate = &gate;
    f.Write(5, 1);
    std::thread pump([&] { f.cache->TEST_Pump(); });
    gate.WaitArrived(1);  // the upload of version 1 is in flight
    std::vector<uint8_t> want = Fill(1);
    if (how == Rewrite::kPart) {
      REQUIRE(f.cache->WritePart(5, 10, std::vector<uint8_t>(20, 2)).ok());
      std::fill(want.begin() + 10, want.begin() + 30, 2);
      // A second part goes into the new copy, not into the buffer being uploaded.
      REQUIRE(f.cache->WritePart(5, 100, std::vector<uint8_t>(5, 3)).ok());
      std::fill(want.begin() + 100, want.begin() + 105, 3);
    } else if (how == Rewrite::kWhole) {
      f.Write(5, 2);
      want = Fill(2);
    } else {
      REQUIRE(f.cache->WriteBlock(5, {}).ok());
      want = Fill(0);
    }
    CHECK(f.Read(5) == want);
    gate.Open();
    pump.join();
    CHECK(f.below->Block(5) == Fill(1));
    CHECK(f.Read(5) == want);
    f.clock.Advance(250);
    CHECK(f.cache->TEST_Pump() == 1);
    CHECK(f.below->Block(5) == want);
    CHECK(f.cache->counters().dirty_blocks == 0);
  }
}

TEST_CASE("block_cache: a block's digest goes below with its upload while its data is unchanged") {
  // The fake below refuses a digest that is not its data's (the upload would fail).
  auto hashed_write = [](Fixture& f, BlockNum n, uint8_t v) {
    const Md5Digest md5 = Md5(Fill(v));
    REQUIRE(f.cache->WriteBlock(n, Fill(v), {.md5 = &md5}).ok());
  };
  SECTION("whole: uploaded with it") {
    Fixture f;
    hashed_write(f, 1, 1);
    CHECK(f.cache->TEST_Pump() == 1);
    CHECK(f.below->md5_given() == 1);
    CHECK(f.below->Block(1) == Fill(1));
  }
  SECTION("changed by a part: uploaded without it") {
    Fixture f;
    hashed_write(f, 2, 2);
    REQUIRE(f.cache->WritePart(2, 10, std::vector<uint8_t>(5, 9)).ok());
    f.clock.Advance(250);
    CHECK(f.cache->TEST_Pump() == 1);
    CHECK(f.below->md5_given() == 0);
    std::vector<uint8_t> want = Fill(2);
    std::fill(want.begin() + 10, want.begin() + 15, 9);
    CHECK(f.below->Block(2) == want);
  }
  SECTION("rewritten whole without one, or zeroed: uploaded without it") {
    Fixture f;
    hashed_write(f, 3, 3);
    f.Write(3, 4);
    hashed_write(f, 4, 4);
    hashed_write(f, 4, 0);
    CHECK(f.cache->TEST_Pump() == 2);
    CHECK(f.below->md5_given() == 0);
    CHECK(f.below->Block(3) == Fill(4));
    CHECK(f.below->calls() == std::vector<std::string>{"write 3", "write 4 zero"});
  }
  SECTION("rewritten during its upload: each upload sends its own data's digest") {
    Fixture f;
    Gate gate;
    f.below->write_gate = &gate;
    hashed_write(f, 5, 1);
    std::thread pump([&] { f.cache->TEST_Pump(); });
    gate.WaitArrived(1);
    hashed_write(f, 5, 2);
    gate.Open();
    pump.join();
    f.below->write_gate = nullptr;
    CHECK(f.below->Block(5) == Fill(1));
    f.clock.Advance(250);
    CHECK(f.cache->TEST_Pump() == 1);
    CHECK(f.below->Block(5) == Fill(2));
    CHECK(f.below->md5_given() == 2);
    CHECK(f.cache->counters().upload_failures == 0);
  }
}

TEST_CASE("block_cache: flush uploads exactly the blocks dirty at the call, ignoring the delay") {
  Fixture f;
  f.below->SetBlock(4, Fill(4));
  CHECK(f.Read(4) == Fill(4));  // clean: never written back
  f.Write(1, 1);
  f.Write(2, 2);
  f.below->ClearCalls();
  Gate gate;
  f.below->write_gate = &gate;
  Status flushed;
  std::thread flusher([&] { flushed = f.cache->Flush(); });
  gate.WaitArrived(1);
  f.Write(9, 9);  // dirtied during the flush: not waited for
  gate.Open();
  flusher.join();
  REQUIRE(flushed.ok());
  CHECK(f.below->Block(1) == Fill(1));
  CHECK(f.below->Block(2) == Fill(2));
  CHECK(f.below->CountCalls("write 4") == 0);
  CHECK(f.below->CountCalls("write 9") == 0);
  CHECK(f.below->calls().back() == "flush");
  CHECK(f.cache->counters().dirty_blocks == 1);
}

TEST_CASE("block_cache: a failed upload is retried with backoff and lands") {
  Fixture f;
  f.Write(3, 3);
  f.below->FailNext(2, EIO);
  const int64_t t0 = f.clock.NowMs();
  REQUIRE(f.cache->Flush().ok());
  CHECK(f.below->CountCalls("write 3") == 3);
  CHECK(f.below->Block(3) == Fill(3));
  CHECK(f.clock.NowMs() - t0 == 200 + 400);  // backoff through the clock
  CHECK(f.cache->counters().retries == 2);
}

TEST_CASE("block_cache: an upload that keeps failing fails flush but keeps the data") {
  Fixture f;
  f.Write(3, 3);
  f.below->FailNext(4, EIO);  // every attempt of one upload job
  Status st = f.cache->Flush();
  CHECK(st.code() == EIO);
  CHECK(f.below->CountCalls("write 3") == 4);
  CHECK(f.cache->counters().dirty_blocks == 1);
  CHECK(f.Read(3) == Fill(3));
  CHECK(f.cache->TEST_Pump() == 0);  // next try only after retry_max_ms
  f.clock.Advance(5000);
  CHECK(f.cache->TEST_Pump() == 1);
  CHECK(f.below->Block(3) == Fill(3));
  CHECK(f.cache->Flush().ok());
}

TEST_CASE("block_cache: by default 90% of the cache may be dirty, always less than all of it") {
  auto max_dirty = [](uint64_t cache_size, uint64_t given) {
    BlockCacheOptions o = Fixture::Defaults();
    o.cache_size_blocks = cache_size;
    o.max_dirty_blocks = given;
    return Fixture(std::move(o)).cache->TEST_max_dirty_blocks();
  };
  CHECK(max_dirty(1000, 0) == 900);
  CHECK(max_dirty(2, 0) == 1);  // the smallest cache
  CHECK(max_dirty(8, 7) == 7);
}

TEST_CASE("block_cache: trim zeroes cached blocks and waits for an upload in flight") {
  Fixture f;
  f.Write(1, 1);
  f.Write(2, 2);
  f.below->SetBlock(3, Fill(3));
  f.Read(3);
  f.clock.Advance(250);
  Gate gate;
  f.below->write_gate = &gate;
  std::thread pump([&] { f.cache->TEST_Pump(); });  // uploads 1, then 2; stuck on the first
  gate.WaitArrived(1);
  Status trimmed;
  std::thread trimmer([&] { trimmed = f.cache->Trim(0, 4); });
  SpinUntil([&] { return f.cache->counters().trims_waiting == 1; });
  gate.Open();
  pump.join();
  trimmer.join();
  REQUIRE(trimmed.ok());
  std::vector<std::string> calls = f.below->calls();
  REQUIRE(!calls.empty());
  CHECK(calls.back() == "trim 0+4");  // after the upload in flight, which it supersedes
  for (BlockNum n = 1; n <= 3; n++) {
    CHECK(f.Read(n) == Fill(0));
    CHECK_FALSE(f.below->HasData(n));
  }
  CHECK(f.cache->counters().dirty_blocks == 0);
  REQUIRE(f.cache->Flush().ok());
  CHECK(f.below->CountCalls("write") <= 2);  // nothing resurrected after the trim
  CHECK(f.below->calls().back() == "flush");
  CHECK_FALSE(f.below->HasData(1));
  CHECK_FALSE(f.below->HasData(2));
}

TEST_CASE("block_cache: write-through with sync") {
  BlockCacheOptions o = Fixture::Defaults();
  o.sync = true;
  Fixture f(std::move(o));
  f.Write(6, 6);
  CHECK(f.below->calls() == std::vector<std::string>{"write 6"});
  CHECK(f.cache->counters().dirty_blocks == 0);
  REQUIRE(f.cache->WriteBlock(6, {}).ok());
  CHECK(f.below->calls().back() == "write 6 zero");
}

TEST_CASE("block_cache: workers flush in parallel and shutdown drains") {
  BlockCacheOptions o = Fixture::Defaults();
  o.threads = 3;
  o.cache_size_blocks = 32;
  Fixture f(std::move(o));
  for (BlockNum n = 0; n < 10; n++) f.Write(n, static_cast<uint8_t>(n + 1));
  REQUIRE(f.cache->Flush().ok());
  for (BlockNum n = 0; n < 10; n++) CHECK(f.below->Block(n) == Fill(static_cast<uint8_t>(n + 1)));
  for (BlockNum n = 10; n < 15; n++) f.Write(n, 0x55);
  REQUIRE(f.cache->Shutdown().ok());
  for (BlockNum n = 10; n < 15; n++) CHECK(f.below->Block(n) == Fill(0x55));
  CHECK(f.below->calls().back() == "shutdown");
}

TEST_CASE("block_cache: stats name the counters and go on below") {
  Fixture f;
  f.Write(1, 1);
  f.Read(1);
  f.Read(2);
  std::string stats;
  f.cache->DumpStats(&stats);
  CHECK(stats.find("block_cache_hits 1\n") != std::string::npos);
  CHECK(stats.find("block_cache_misses 1\n") != std::string::npos);
  CHECK(stats.find("block_cache_dirty_blocks 1\n") != std::string::npos);
  CHECK(stats.find("block_cache_uploads_in_flight 0\n") != std::string::npos);
  CHECK(stats.find("block_cache_recovered_blocks 0\n") != std::string::npos);
  CHECK(stats.find("recording_block_store_calls") != std::string::npos);
}

TEST_CASE("block_cache: the survey adds the dirty blocks to below's") {
  Fixture f;
  f.below->SetBlock(1, Fill(1));
  f.Write(2, 2);
  f.Write(3, 0);  // dirty, but zero
  std::vector<BlockNum> found;
  REQUIRE(f.cache->SurveyNonZero([&](BlockNum n) { found.push_back(n); }).ok());
  std::sort(found.begin(), found.end());
  CHECK(found == std::vector<BlockNum>{1, 2});
  CHECK(f.below->calls() == std::vector<std::string>{"survey"});
}

TEST_CASE("block_cache: bad options are refused") {
  auto make = [](BlockCacheOptions o) {
    FakeClock clock;
    BufferPool pool;
    return BlockCache::Create(std::make_unique<RecordingBlockStore>(kBs, kBlocks), std::move(o),
                              pool, clock)
        .status()
        .code();
  };
  BlockCacheOptions o = Fixture::Defaults();
  o.max_dirty_blocks = 8;
  CHECK(make(std::move(o)) == EINVAL);
  BlockCacheOptions p = Fixture::Defaults();
  p.cache_size_blocks = 1;
  CHECK(make(std::move(p)) == EINVAL);
}

// Counts the calls that reach it, then forwards them.
class CountingStore : public ForwardingBlockStore {
 public:
  using ForwardingBlockStore::ForwardingBlockStore;
  Status Trim(BlockNum first, uint64_t count) override {
    trims++;
    trimmed_blocks += count;
    return below().Trim(first, count);
  }
  uint64_t trims = 0, trimmed_blocks = 0;
};

TEST_CASE("block_cache: a huge trim over known-zero blocks sends nothing below, in few calls") {
  // The stack as stack.cc builds it (upper map, cache, lower map) over 2^23 blocks (1 TiB
  // of 128 KiB blocks), driven the way a discard arrives (ByteRange::Zero).
  constexpr uint64_t kHuge = uint64_t{1} << 23;
  auto bottom_owned = std::make_unique<RecordingBlockStore>(kBs, kHuge);
  RecordingBlockStore* bottom = bottom_owned.get();
  FakeClock clock;
  BufferPool pool;
  auto lower = std::make_unique<ZeroMap>(std::move(bottom_owned), /*survey_at_start=*/true);
  auto cache = BlockCache::Create(std::move(lower), Fixture::Defaults(), pool, clock);
  REQUIRE(cache.ok());
  auto upper = std::make_unique<ZeroMap>(std::move(*cache), /*survey_at_start=*/true);
  CountingStore top(std::move(upper));
  ByteRange range(top);
  REQUIRE(top.Start().ok());
  REQUIRE(range.Write(5 * kBs, Fill(5)).ok());
  REQUIRE(range.Write((kHuge - 3) * kBs, Fill(7)).ok());
  REQUIRE(range.Flush().ok());
  bottom->ClearCalls();

  // Only the two blocks that exist go below, each as its own trim.
  REQUIRE(range.Zero(0, kHuge * kBs).ok());
  CHECK(bottom->calls() == std::vector<std::string>{"trim 5+1", "trim 7ffffd+1"});
  // The walk is in chunks, not blocks: at most one call per 1000 blocks reaches the map.
  CHECK(top.trimmed_blocks == kHuge);
  CHECK(top.trims <= kHuge / ByteRange::kZeroChunkBlocks + 1);
  std::vector<uint8_t> buf(kBs);
  REQUIRE(range.Read(5 * kBs, buf).ok());
  CHECK(buf == std::vector<uint8_t>(kBs, 0));

  // Again: now every block is known zero, nothing at all goes below.
  bottom->ClearCalls();
  REQUIRE(range.Zero(0, kHuge * kBs).ok());
  REQUIRE(range.Zero(kBs / 2, (kHuge - 1) * kBs).ok());  // partial ends too
  CHECK(bottom->calls().empty());
  REQUIRE(top.Shutdown().ok());
}

}  // namespace
}  // namespace s3disk
