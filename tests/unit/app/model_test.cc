// The model test: random concurrent reads, writes, zero writes and trims on the whole stack
// (as stack.cc composes it) over a MemStore with injected faults, restarts in the middle, and
// every block compared with a flat reference image.
//
// Each thread locks the test's own per-block mutexes for the blocks an operation touches, so
// the reference image stays exact while operations on different blocks run concurrently in
// the stack. A failed operation is retried until it succeeds, as a user would: the fault must
// never leave the bucket in a state a retry cannot repair.
//
// Replay a failure with S3DISK_MODEL_SEED=N (the seed is printed with every failure).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "app/config.h"
#include "app/stack.h"
#include "block/block_key.h"
#include "block/bucket_meta.h"
#include "object/fault_store.h"
#include "object/mem_store.h"

namespace s3disk {
namespace {

constexpr uint32_t kBlockSize = 4096;
constexpr uint32_t kBlocks = 48;
constexpr uint64_t kImageBytes = uint64_t{kBlockSize} * kBlocks;
constexpr int kThreads = 4;
constexpr int kOpsPerThread = 1500;
constexpr int kMaxTries = 200;

// Lets several stacks, one after another, share one MemStore (the "bucket").
class SharedBucket : public ObjectStore {
 public:
  explicit SharedBucket(std::shared_ptr<MemStore> mem) : mem_(std::move(mem)) {}
  std::vector<Result<Object>> GetMany(const std::vector<std::string>& keys,
                                      std::span<const std::span<uint8_t>> into) override {
    return mem_->GetMany(keys, into);
  }
  Result<ObjectInfo> Head(const std::string& key) override { return mem_->Head(key); }
  Result<std::string> Put(const std::string& key, std::span<const uint8_t> data,
                          const Metadata& meta, const PutOptions& options = {}) override {
    return mem_->Put(key, data, meta, options);
  }
  Status Delete(const std::vector<std::string>& keys) override { return mem_->Delete(keys); }
  Status List(const std::string& prefix, const ListOptions& options,
              const ListFound& found) override {
    return mem_->List(prefix, options, found);
  }
  std::string Describe() const override { return "shared " + mem_->Describe(); }

 private:
  std::shared_ptr<MemStore> mem_;
};

struct Model {
  std::vector<uint8_t> image = std::vector<uint8_t>(kImageBytes, 0);
  std::vector<std::mutex> block_mu = std::vector<std::mutex>(kBlocks);
};

struct Mounted {
  FaultStore* faults = nullptr;
  Stack stack;
};

Mounted Mount(const std::shared_ptr<MemStore>& mem, uint64_t seed, double error_rate,
              const std::string& cache_file = "") {
  Config config;
  config.block_cache_file = cache_file;
  // With a cache file (the crash test), writes stay dirty until the crash.
  if (!cache_file.empty()) config.cache.write_delay_ms = 60000;
  config.bucket_kind = BucketKind::kMemory;
  config.list_blocks = true;
  FaultOptions options;
  options.error_rate = error_rate;
  options.seed = seed;
  options.fail_after = (seed & 1) != 0;
  auto faults = std::make_shared<FaultStore>(std::make_unique<SharedBucket>(mem), options);
  Mounted m;
  m.faults = faults.get();
  // Mount-time reads (BuildStack's key check of block 0, the survey in Start) run without
  // faults: a failed one fails the mount, which is not what this test is about.
  faults->set_error_rate(0);
  auto stack = BuildStack(config, faults, Geometry{kBlockSize, kImageBytes});
  REQUIRE(stack.ok());
  m.stack = std::move(stack.value());
  REQUIRE(m.stack.top->Start().ok());
  faults->set_error_rate(error_rate);
  return m;
}

void Unmount(Mounted& m) {
  m.faults->set_error_rate(0);
  REQUIRE(m.stack.bytes->Flush().ok());
  REQUIRE(m.stack.top->Shutdown().ok());
  m.stack.bytes.reset();
  m.stack.top.reset();
}

// A crash: the stack goes away without Flush or Shutdown (what a cache file keeps survives).
void Crash(Mounted& m) {
  m.stack.bytes.reset();
  m.stack.top.reset();
}

// Retries op until it succeeds (Catch2 assertions are not thread-safe: threads only record).
template <typename Op>
Status UntilOk(Op op) {
  Status last;
  for (int i = 0; i < kMaxTries; i++) {
    last = op();
    if (last.ok()) break;
  }
  return last;
}

void RunThread(Model& model, ByteRange& bytes, uint64_t seed, std::vector<std::string>& errors,
               std::mutex& errors_mu) {
  std::mt19937_64 rng(seed);
  auto below = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
  std::vector<uint8_t> buf;
  for (int i = 0; i < kOpsPerThread; i++) {
    // Ranges are mostly inside one block, sometimes spanning up to three.
    uint64_t offset = below(kImageBytes);
    uint64_t max_len =
        std::min<uint64_t>(kImageBytes - offset, below(4) == 0 ? 3 * kBlockSize : kBlockSize);
    uint64_t length = 1 + below(max_len);
    if (below(4) == 0) {  // block-aligned, whole blocks
      offset -= offset % kBlockSize;
      length = kBlockSize * (1 + below(std::min<uint64_t>(3, (kImageBytes - offset) / kBlockSize)));
    }
    uint32_t first = offset / kBlockSize, last = (offset + length - 1) / kBlockSize;
    std::vector<std::unique_lock<std::mutex>> locks;
    for (uint32_t b = first; b <= last; b++) locks.emplace_back(model.block_mu[b]);

    buf.resize(length);
    int kind = below(10);
    Status st;
    const char* what = "";
    if (kind < 4) {  // write random bytes (sometimes a run of zeros inside)
      for (auto& byte : buf) byte = static_cast<uint8_t>(rng());
      if (below(3) == 0) memset(buf.data(), 0, length / 2);
      st = UntilOk([&] { return bytes.Write(offset, buf); });
      what = "write";
      memcpy(model.image.data() + offset, buf.data(), length);
    } else if (kind < 6) {  // write zeros as data
      std::fill(buf.begin(), buf.end(), 0);
      st = UntilOk([&] { return bytes.Write(offset, buf); });
      what = "zero write";
      memset(model.image.data() + offset, 0, length);
    } else if (kind < 7) {  // trim / punch hole
      st = UntilOk([&] { return bytes.Zero(offset, length); });
      what = "zero range";
      memset(model.image.data() + offset, 0, length);
    } else {  // read and compare
      st = UntilOk([&] { return bytes.Read(offset, buf); });
      what = "read";
      if (st.ok() && memcmp(buf.data(), model.image.data() + offset, length) != 0) {
        std::lock_guard lock(errors_mu);
        errors.push_back("read mismatch at offset " + std::to_string(offset) + " length " +
                         std::to_string(length));
      }
    }
    if (!st.ok()) {
      std::lock_guard lock(errors_mu);
      errors.push_back(std::string(what) + " never succeeded: " + st.ToString());
      return;
    }
  }
}

void RunPhase(Model& model, ByteRange& bytes, uint64_t seed) {
  std::vector<std::string> errors;
  std::mutex errors_mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] { RunThread(model, bytes, seed * 1000 + t, errors, errors_mu); });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) FAIL_CHECK(e);
}

void CheckAgainstModel(const Model& model, ByteRange& bytes, MemStore& mem) {
  // The block cache writes back: the bucket holds every write once flushed.
  REQUIRE(bytes.Flush().ok());
  std::vector<uint8_t> block(kBlockSize);
  size_t stored = 0;
  for (uint32_t b = 0; b < kBlocks; b++) {
    REQUIRE(bytes.Read(uint64_t{b} * kBlockSize, block).ok());
    const uint8_t* want = model.image.data() + uint64_t{b} * kBlockSize;
    INFO("block " << b);
    CHECK(memcmp(block.data(), want, kBlockSize) == 0);
    bool zero = IsAllZero({want, kBlockSize});
    // The bucket holds exactly the non-zero blocks, and block 0 always (the geometry).
    const bool want_object = !zero || b == 0;
    stored += want_object ? 1 : 0;
    CHECK(mem.Head(BlockKey("", false, b)).ok() == want_object);
  }
  CHECK(mem.object_count() == stored);
  Result<Geometry> g = ReadGeometry(mem, BlockKey("", false, 0));
  REQUIRE(g.ok());
  CHECK(g->block_size == kBlockSize);
  CHECK(g->size_bytes == kImageBytes);
}

uint64_t ModelSeed() {
  if (const char* s = getenv("S3DISK_MODEL_SEED")) return strtoull(s, nullptr, 10);
  return std::random_device{}();
}

TEST_CASE("model: concurrent random I/O with faults and restarts matches a flat image") {
  const uint64_t seed = ModelSeed();
  CAPTURE(seed);
  auto mem = std::make_shared<MemStore>();
  Model model;
  for (int round = 0; round < 3; round++) {
    INFO("round " << round);
    Mounted m = Mount(mem, seed + round, round == 0 ? 0.0 : 0.1 * round);
    RunPhase(model, *m.stack.bytes, seed + round);
    m.faults->set_error_rate(0);
    CheckAgainstModel(model, *m.stack.bytes, *mem);
    if (round > 0) CHECK(m.faults->faults_injected() > 0);  // faults really happened
    Unmount(m);
    // After a restart the stack learns the bucket again from the survey.
    Mounted again = Mount(mem, seed + 100 + round, 0.0);
    CheckAgainstModel(model, *again.stack.bytes, *mem);
    Unmount(again);
  }
}

TEST_CASE("model: a crash of a stack with a cache file loses no acknowledged write") {
  const uint64_t seed = ModelSeed();
  CAPTURE(seed);
  char dir[] = "/tmp/model_test.XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string cache_file = std::string(dir) + "/cache";
  auto mem = std::make_shared<MemStore>();
  Model model;
  for (int round = 0; round < 2; round++) {
    INFO("round " << round);
    Mounted m = Mount(mem, seed + round, 0.1, cache_file);
    RunPhase(model, *m.stack.bytes, seed + round);
    Crash(m);  // dirty blocks are only in the cache file now
    // The next mount uploads them before it serves.
    Mounted again = Mount(mem, seed + 100 + round, 0.0, cache_file);
    std::string stats;
    again.stack.top->DumpStats(&stats);
    CHECK(stats.find("block_cache_recovered_blocks 0\n") == std::string::npos);
    CHECK(stats.find("block_cache_recovered_blocks ") != std::string::npos);
    CheckAgainstModel(model, *again.stack.bytes, *mem);
    Unmount(again);
  }
  unlink(cache_file.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace s3disk
