// BlockCache on a recording fake below, with a fake clock. Tests run the write-back with
// threads = 0 and drive it with Pump() (or Flush), so time moves only when a test advances
// the clock; races are staged with gates in the fake below, never with sleeps.
#include "block_cache.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "byte_range.h"
#include "clock.h"
#include "fakes.h"
#include "zero_map.h"

namespace s3disk {
namespace {

constexpr uint32_t kBs = 512;
constexpr uint64_t kBlocks = 64;

// RecordingBlockStore whose full-block reads and writes can be held at a gate (before they
// are recorded).
class GatedBlockStore : public RecordingBlockStore {
 public:
  using RecordingBlockStore::RecordingBlockStore;
  Status ReadBlock(BlockNum n, std::span<uint8_t> buf) override {
    if (Gate* g = read_gate.load()) g->Pass();
    return RecordingBlockStore::ReadBlock(n, buf);
  }
  Status WriteBlock(BlockNum n, std::span<const uint8_t> data) override {
    if (Gate* g = write_gate.load()) g->Pass();
    return RecordingBlockStore::WriteBlock(n, data);
  }
  std::atomic<Gate*> read_gate{nullptr};
  std::atomic<Gate*> write_gate{nullptr};
};

std::vector<uint8_t> Fill(uint8_t v) { return std::vector<uint8_t>(kBs, v); }

struct Fixture {
  explicit Fixture(BlockCacheOptions options = Defaults()) {
    auto below_owned = std::make_unique<GatedBlockStore>(kBs, kBlocks);
    below = below_owned.get();
    auto made = BlockCache::Create(std::move(below_owned), std::move(options), clock);
    REQUIRE(made.ok());
    cache = std::move(*made);
    REQUIRE(cache->Start().ok());
    below->ClearCalls();
  }
  static BlockCacheOptions Defaults() {
    BlockCacheOptions o;
    o.cache_size_blocks = 8;
    o.threads = 0;
    o.write_delay_ms = 250;
    o.read_ahead_blocks = 0;
    return o;
  }
  std::vector<uint8_t> Read(BlockNum n) {
    std::vector<uint8_t> buf(kBs);
    REQUIRE(cache->ReadBlock(n, buf).ok());
    return buf;
  }
  void Write(BlockNum n, uint8_t v) { REQUIRE(cache->WriteBlock(n, Fill(v)).ok()); }
  // Blocks 0..count-1 below hold n + 1 in every byte.
  void FillBelow(BlockNum count) {
    for (BlockNum n = 0; n < count; n++) below->SetBlock(n, Fill(static_cast<uint8_t>(n + 1)));
  }
  // Defaults with read-ahead: a first window of `window` blocks after 2 sequential reads.
  static BlockCacheOptions ReadAhead(uint32_t window, uint64_t cache_blocks) {
    BlockCacheOptions o = Defaults();
    o.read_ahead_blocks = window;
    o.read_ahead_trigger = 2;
    o.cache_size_blocks = cache_blocks;
    return o;
  }

  FakeClock clock;
  GatedBlockStore* below = nullptr;
  std::unique_ptr<BlockCache> cache;
};

template <typename Pred>
void SpinUntil(Pred pred) {
  while (!pred()) std::this_thread::yield();
}

// SpinUntil, but a wait that never ends (a worker nobody woke) fails after 30 s instead.
template <typename Pred>
void SpinAtMost30s(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!pred() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  REQUIRE(pred());
}

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
  CHECK(f.cache->Pump() == 0);
  CHECK(f.below->CountCalls("write") == 0);
  f.clock.Advance(1);
  CHECK(f.cache->Pump() == 1);
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
    CHECK(f.cache->Pump() == 1);  // upload began at 10
    f.clock.Advance(100);
    f.Write(1, 8);  // at 110: not before 260
    f.clock.Advance(149);
    CHECK(f.cache->Pump() == 0);
    f.clock.Advance(1);
    CHECK(f.cache->Pump() == 1);
    CHECK(f.below->Block(1) == Fill(8));
    CHECK(f.below->CountCalls("write 1") == 2);
  }
  SECTION("rewritten during its upload: the next upload waits the delay from the rewrite") {
    Fixture f;
    f.Write(1, 7);
    CHECK(f.Read(1) == Fill(7));  // served from the cache
    CHECK(f.below->CountCalls("read") == 0);
    CHECK(f.cache->Pump() == 1);  // no time has passed
    CHECK(f.below->Block(1) == Fill(7));
    CHECK(f.cache->counters().dirty_blocks == 0);
    f.clock.Advance(250);  // a delay after that upload: the next whole write goes at once
    Gate gate;
    f.below->write_gate = &gate;
    f.Write(1, 8);
    std::thread pump([&] { f.cache->Pump(); });
    gate.WaitArrived(1);
    f.Write(1, 9);
    gate.Open();
    pump.join();
    f.below->write_gate = nullptr;
    CHECK(f.below->Block(1) == Fill(8));
    f.clock.Advance(249);
    CHECK(f.cache->Pump() == 0);
    f.clock.Advance(1);
    CHECK(f.cache->Pump() == 1);
    CHECK(f.below->Block(1) == Fill(9));
  }
}

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
  CHECK(f.cache->Pump() >= 1);
  writer.join();
  CHECK(done.load());
  CHECK(written.ok());
  CHECK(f.cache->counters().dirty_limit_waits == 1);
  CHECK(f.below->CountCalls("write 1") + f.below->CountCalls("write 2") >= 1);
  CHECK(f.cache->counters().dirty_blocks <= 2);
  CHECK(f.Read(3) == Fill(3));
}

// Workers whose uploads stop in a gate, for counting how many run at once. The gate opens
// when the test ends, so a failed REQUIRE does not leave the workers (or a writer) in it.
struct GatedWorkers {
  explicit GatedWorkers(uint32_t threads, uint64_t max_dirty = 0) : f(Options(threads, max_dirty)) {
    f.below->write_gate = &gate;
  }
  ~GatedWorkers() {
    gate.Open();
    if (writer.joinable()) writer.join();
  }
  static BlockCacheOptions Options(uint32_t threads, uint64_t max_dirty) {
    BlockCacheOptions o = Fixture::Defaults();
    o.threads = threads;
    o.cache_size_blocks = 16;
    o.max_dirty_blocks = max_dirty;
    return o;
  }
  void WaitUploading(uint64_t n) {
    SpinAtMost30s([&] { return f.cache->counters().uploads_in_flight == n; });
  }
  Gate gate;  // (first: the workers in f leave it before it goes)
  Fixture f;
  std::thread writer;
};

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

TEST_CASE("block_cache: a block rewritten while its upload is in flight is uploaded again") {
  Fixture f;
  Gate gate;
  f.below->write_gate = &gate;
  f.Write(5, 1);
  f.clock.Advance(250);
  std::thread pump([&] { f.cache->Pump(); });
  gate.WaitArrived(1);  // the upload of version 1 is in flight
  f.Write(5, 2);        // does not wait for it
  CHECK(f.Read(5) == Fill(2));
  gate.Open();
  pump.join();
  CHECK(f.below->Block(5) == Fill(1));
  CHECK(f.cache->counters().dirty_blocks == 1);  // version 2 is still to go
  CHECK(f.cache->Pump() == 0);                   // its delay counts from the rewrite
  f.clock.Advance(250);
  CHECK(f.cache->Pump() == 1);
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
    std::thread pump([&] { f.cache->Pump(); });
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
    CHECK(f.cache->Pump() == 1);
    CHECK(f.below->Block(5) == want);
    CHECK(f.cache->counters().dirty_blocks == 0);
  }
}

TEST_CASE("block_cache: a block's digest goes below with its upload while its data is unchanged") {
  // The fake below refuses a digest that is not its data's (the upload would fail).
  auto hashed_write = [](Fixture& f, BlockNum n, uint8_t v) {
    REQUIRE(f.cache->WriteBlockMd5(n, Fill(v), Md5(Fill(v))).ok());
  };
  SECTION("whole: uploaded with it") {
    Fixture f;
    hashed_write(f, 1, 1);
    CHECK(f.cache->Pump() == 1);
    CHECK(f.below->md5_given() == 1);
    CHECK(f.below->Block(1) == Fill(1));
  }
  SECTION("changed by a part: uploaded without it") {
    Fixture f;
    hashed_write(f, 2, 2);
    REQUIRE(f.cache->WritePart(2, 10, std::vector<uint8_t>(5, 9)).ok());
    f.clock.Advance(250);
    CHECK(f.cache->Pump() == 1);
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
    REQUIRE(f.cache->WriteBlockMd5(4, Fill(0), Md5(Fill(0))).ok());
    CHECK(f.cache->Pump() == 2);
    CHECK(f.below->md5_given() == 0);
    CHECK(f.below->Block(3) == Fill(4));
    CHECK(f.below->calls() == std::vector<std::string>{"write 3", "write 4 zero"});
  }
  SECTION("rewritten during its upload: each upload sends its own data's digest") {
    Fixture f;
    Gate gate;
    f.below->write_gate = &gate;
    hashed_write(f, 5, 1);
    std::thread pump([&] { f.cache->Pump(); });
    gate.WaitArrived(1);
    hashed_write(f, 5, 2);
    gate.Open();
    pump.join();
    f.below->write_gate = nullptr;
    CHECK(f.below->Block(5) == Fill(1));
    f.clock.Advance(250);
    CHECK(f.cache->Pump() == 1);
    CHECK(f.below->Block(5) == Fill(2));
    CHECK(f.below->md5_given() == 2);
    CHECK(f.cache->counters().upload_failures == 0);
  }
}

TEST_CASE("block_cache: reads do not wait behind a stuck upload") {
  Fixture f;
  f.below->SetBlock(2, Fill(9));
  Gate gate;
  f.below->write_gate = &gate;
  f.Write(1, 1);
  f.clock.Advance(250);
  std::thread pump([&] { f.cache->Pump(); });
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
  CHECK(f.cache->Pump() == 0);  // next try only after retry_max_ms
  f.clock.Advance(5000);
  CHECK(f.cache->Pump() == 1);
  CHECK(f.below->Block(3) == Fill(3));
  CHECK(f.cache->Flush().ok());
}

TEST_CASE("block_cache: sequential reads trigger read-ahead of the next blocks") {
  Fixture f(Fixture::ReadAhead(4, 16));
  f.FillBelow(12);
  f.Read(10);
  f.Read(0);  // not sequential with 10
  CHECK(f.cache->Pump() == 0);
  f.Read(1);  // second sequential read: fetch 2..5, in batches of 2 (half the window)
  CHECK(f.below->CountCalls("read") == 3);
  CHECK(f.cache->Pump() == 2);
  CHECK(f.below->CountCalls("batch 2 3") == 1);
  CHECK(f.below->CountCalls("batch 4 5") == 1);
  CHECK(f.below->CountCalls("read") == 7);
  for (BlockNum n = 2; n < 6; n++) CHECK(f.below->CountCalls("read " + std::to_string(n)) == 1);
  f.below->ClearCalls();
  for (BlockNum n = 2; n < 6; n++) CHECK(f.Read(n)[0] == static_cast<uint8_t>(n + 1));
  CHECK(f.below->CountCalls("read") == 0);  // all hits
  CHECK(f.cache->counters().read_ahead_blocks == 4);
  CHECK(f.cache->Pump() == 2);  // and the run goes on: 6..9
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
  CHECK(f.cache->Pump() == 0);
  // The window is topped up a batch (half the window, at most kFetchBatchBlocks) at a time.
  f.Read(1);  // the trigger: 2..3 (the first window, 2 blocks: batches of 1)
  CHECK(f.cache->Pump() == 2);
  f.Read(2);  // a hit, one more in the run: the window is 3: 4..5
  CHECK(f.cache->Pump() == 2);
  f.Read(3);  // window 4: 6..7, one batch
  CHECK(f.cache->Pump() == 1);
  CHECK(f.below->CountCalls("batch 6 7") == 1);
  f.Read(4);  // window 5 (the most): 8..9
  CHECK(f.cache->Pump() == 1);
  f.Read(5);  // window 5: only 10 is missing, less than a batch
  CHECK(f.cache->Pump() == 0);
  f.Read(6);  // 10..11
  CHECK(f.cache->Pump() == 1);
  auto reads = [&](BlockNum n) { return f.below->CountCalls("read " + GatedBlockStore::Hex(n)); };
  for (BlockNum n = 2; n <= 11; n++) CHECK(reads(n) == 1);
  CHECK(reads(12) == 0);
  f.Read(20);  // a jump ends the run: the window starts again at 2
  f.Read(21);
  CHECK(f.cache->Pump() == 2);
  CHECK(reads(22) == 1);
  CHECK(reads(23) == 1);
  CHECK(reads(24) == 0);
}

TEST_CASE("block_cache: a wide read-ahead window is fetched in batches of kFetchBatchBlocks") {
  static_assert(BlockCache::kFetchBatchBlocks == 16);
  Fixture f(Fixture::ReadAhead(32, 64));
  f.FillBelow(40);
  f.Read(0);
  f.Read(1);
  CHECK(f.cache->Pump() == 2);
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
  while (f.cache->Pump() > 0) {
  }
  f.below->ClearCalls();
  for (BlockNum n = 0; n < 30; n++) {
    f.Read(n);
    while (f.cache->Pump() > 0) {
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
  CHECK(f.cache->Pump() == 2);
  CHECK(f.cache->counters().cached_blocks == 2 + 13);  // blocks 0, 1 and 5..17
  f.below->ClearCalls();
  CHECK(f.Read(2)[0] == 3);  // not cached: read now, and fine
  CHECK(f.Read(4)[0] == 5);
  CHECK(f.Read(5)[0] == 6);
  CHECK(f.below->calls() == std::vector<std::string>{"read 2", "read 4"});
}

TEST_CASE("block_cache: by default 90% of the cache may be dirty, always less than all of it") {
  auto max_dirty = [](uint64_t cache_size, uint64_t given) {
    BlockCacheOptions o = Fixture::Defaults();
    o.cache_size_blocks = cache_size;
    o.max_dirty_blocks = given;
    return Fixture(std::move(o)).cache->max_dirty_blocks();
  };
  CHECK(max_dirty(1000, 0) == 900);
  CHECK(max_dirty(2, 0) == 1);  // the smallest cache
  CHECK(max_dirty(8, 7) == 7);
}

TEST_CASE("block_cache: the read-ahead window's default limit: a fetch per worker, two batches") {
  BlockCacheOptions o = Fixture::Defaults();
  o.threads = 40;
  o.cache_size_blocks = 200;
  Fixture f(std::move(o));
  CHECK(f.cache->read_ahead_max_blocks() == 40);
  BlockCacheOptions few = Fixture::Defaults();
  few.threads = 6;
  few.cache_size_blocks = 200;
  Fixture h(std::move(few));
  CHECK(h.cache->read_ahead_max_blocks() == 2 * BlockCache::kFetchBatchBlocks);
  BlockCacheOptions small = Fixture::Defaults();
  small.threads = 20;
  small.cache_size_blocks = 40;
  Fixture g(std::move(small));
  CHECK(g.cache->read_ahead_max_blocks() == 10);  // a quarter of the cache
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
  f.cache->Pump();
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

TEST_CASE("block_cache: trim zeroes cached blocks and waits for an upload in flight") {
  Fixture f;
  f.Write(1, 1);
  f.Write(2, 2);
  f.below->SetBlock(3, Fill(3));
  f.Read(3);
  f.clock.Advance(250);
  Gate gate;
  f.below->write_gate = &gate;
  std::thread pump([&] { f.cache->Pump(); });  // uploads 1, then 2; stuck on the first
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

// Stats of a layer below that name themselves like the upper zero map's.
class ZeroMapNamedStats : public RecordingBlockStore {
 public:
  using RecordingBlockStore::RecordingBlockStore;
  void DumpStats(std::string* out) override {
    *out += "zero_map_known_zero 3\nzero_map_reads_elided 1\nother 2\n";
  }
};

TEST_CASE("block_cache: the lower zero map's stats are renamed lower_zero_map_*") {
  FakeClock clock;
  auto made = BlockCache::Create(std::make_unique<ZeroMapNamedStats>(kBs, kBlocks),
                                 Fixture::Defaults(), clock);
  REQUIRE(made.ok());
  std::string stats;
  (*made)->DumpStats(&stats);
  CHECK(stats.find("\nlower_zero_map_known_zero 3\nlower_zero_map_reads_elided 1\nother 2\n") !=
        std::string::npos);
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

TEST_CASE("block_cache: bad options are refused") {
  auto make = [](BlockCacheOptions o) {
    FakeClock clock;
    return BlockCache::Create(std::make_unique<RecordingBlockStore>(kBs, kBlocks), std::move(o),
                              clock)
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
    return ForwardingBlockStore::Trim(first, count);
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
  auto lower = std::make_unique<ZeroMap>(std::move(bottom_owned), /*survey_at_start=*/true);
  auto cache = BlockCache::Create(std::move(lower), Fixture::Defaults(), clock);
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
