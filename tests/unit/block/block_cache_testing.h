// Shared by the BlockCache unit tests (block_cache_*test.cc): BlockCache on a recording fake
// below, with a fake clock. Tests run the write-back with threads = 0 and drive it with
// TEST_Pump() (or Flush), so time moves only when a test advances the clock; races are staged
// with gates in the fake below, never with sleeps.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "base/buffer_pool.h"
#include "base/clock.h"
#include "block/block_cache.h"
#include "fakes.h"

namespace s3disk::testing {

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
  Status WriteBlock(BlockNum n, std::span<const uint8_t> data,
                    const WriteHints& hints = {}) override {
    if (Gate* g = write_gate.load()) g->Pass();
    return RecordingBlockStore::WriteBlock(n, data, hints);
  }
  std::atomic<Gate*> read_gate{nullptr};
  std::atomic<Gate*> write_gate{nullptr};
};

inline std::vector<uint8_t> Fill(uint8_t v) { return std::vector<uint8_t>(kBs, v); }

struct Fixture {
  explicit Fixture(BlockCacheOptions options = Defaults()) {
    auto below_owned = std::make_unique<GatedBlockStore>(kBs, kBlocks);
    below = below_owned.get();
    auto made = BlockCache::Create(std::move(below_owned), std::move(options), pool, clock);
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
  BufferPool pool;  // (before cache: it outlives the cached blocks)
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

}  // namespace s3disk::testing
