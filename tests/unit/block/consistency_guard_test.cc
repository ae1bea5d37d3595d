// ConsistencyGuard on a fake store that can serve stale data on demand, with a fake clock:
// every wait of the guard moves the fake clock, so the tests check the exact times at which
// calls reach the store. Races are staged with a gate in the fake, never with sleeps.
#include "block/consistency_guard.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "app/config.h"
#include "app/stack.h"
#include "app/stack_testing.h"
#include "base/clock.h"
#include "block/byte_range.h"
#include "fakes.h"
#include "object/mem_store.h"

namespace s3disk {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint32_t kBs = 64;
constexpr uint64_t kBlocks = uint64_t{1} << 28;  // 16 GiB of 64-byte blocks: trims are huge

Bytes Fill(uint8_t v) { return Bytes(kBs, v); }

// Blocks in a map (absent = zeros). Stale(n, data, reads) makes the next `reads` reads of n
// (-1: all) return data instead. Logs "write 2a" / "trim 0+9" / "read 2a" with the clock time.
class StaleStore : public BlockStore {
 public:
  explicit StaleStore(Clock& clock) : clock_(clock) {}
  uint32_t block_size() const override { return kBs; }
  uint64_t num_blocks() const override { return kBlocks; }

  Status ReadBlock(BlockNum n, std::span<uint8_t> buf) override {
    std::lock_guard lock(mu_);
    Log("read " + Hex(n));
    auto s = stale_.find(n);
    if (s != stale_.end() && s->second.second != 0) {
      if (s->second.second > 0) s->second.second--;
      std::copy(s->second.first.begin(), s->second.first.end(), buf.begin());
      return Status::Ok();
    }
    auto it = blocks_.find(n);
    if (it == blocks_.end()) {
      std::fill(buf.begin(), buf.end(), 0);
    } else {
      std::copy(it->second.begin(), it->second.end(), buf.begin());
    }
    return Status::Ok();
  }
  Status WriteBlock(BlockNum n, std::span<const uint8_t> data, const WriteHints& = {}) override {
    Gate* gate = nullptr;
    {
      std::lock_guard lock(mu_);
      Log("write " + Hex(n));
      gate = std::exchange(gate_, nullptr);
      if (fail_next_) {
        fail_next_ = false;
        return Status(EIO, "stale_store: injected");
      }
    }
    if (gate != nullptr) gate->Pass();  // the data lands when the test opens the gate
    std::lock_guard lock(mu_);
    if (data.empty()) {
      blocks_.erase(n);
    } else {
      blocks_[n].assign(data.begin(), data.end());
    }
    return Status::Ok();
  }
  Status Trim(BlockNum first, uint64_t count) override {
    std::lock_guard lock(mu_);
    Log("trim " + Hex(first) + "+" + std::to_string(count));
    blocks_.erase(blocks_.lower_bound(first), blocks_.lower_bound(first + count));
    return Status::Ok();
  }
  Status Flush() override { return Status::Ok(); }
  Status SurveyNonZero(const std::function<void(BlockNum)>&) override {
    return Status(ENOTSUP, "stale_store: no survey");
  }
  Status Start() override { return Status::Ok(); }
  Status Shutdown() override { return Status::Ok(); }
  void DumpStats(std::string* out) override { *out += "stale_store 1\n"; }

  void Stale(BlockNum n, Bytes data, int reads) {
    std::lock_guard lock(mu_);
    stale_[n] = {std::move(data), reads};
  }
  void GateNextWrite(Gate* gate) {
    std::lock_guard lock(mu_);
    gate_ = gate;
  }
  void FailNextWrite() {
    std::lock_guard lock(mu_);
    fail_next_ = true;
  }
  // "op@ms" with ms relative to start_ms.
  std::vector<std::string> log(int64_t start_ms) {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& [op, ms] : log_) out.push_back(op + "@" + std::to_string(ms - start_ms));
    return out;
  }
  void ClearLog() {
    std::lock_guard lock(mu_);
    log_.clear();
  }

 private:
  static std::string Hex(uint64_t n) {
    char b[24];
    snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(n));
    return b;
  }
  void Log(std::string op) { log_.emplace_back(std::move(op), clock_.NowMs()); }

  Clock& clock_;
  std::mutex mu_;
  std::map<BlockNum, Bytes> blocks_;
  std::map<BlockNum, std::pair<Bytes, int>> stale_;
  std::vector<std::pair<std::string, int64_t>> log_;
  Gate* gate_ = nullptr;
  bool fail_next_ = false;
};

struct Fixture {
  explicit Fixture(uint64_t size = 100, int64_t time_ms = 10000, int64_t delay_ms = 500) {
    auto s = std::make_unique<StaleStore>(clock);
    store = s.get();
    ConsistencyGuardOptions o;
    o.cache_size = size;
    o.cache_time_ms = time_ms;
    o.min_write_delay_ms = delay_ms;
    o.retry_initial_ms = 200;
    o.retry_max_ms = 30000;
    auto g = ConsistencyGuard::Create(std::move(s), o, clock);
    REQUIRE(g.ok());
    guard = std::move(*g);
    t0 = clock.NowMs();
  }
  Bytes Read(BlockNum n) {
    Bytes b(kBs);
    Status st = guard->ReadBlock(n, b);
    REQUIRE(st.ok());
    return b;
  }
  void Write(BlockNum n, const Bytes& data) { REQUIRE(guard->WriteBlock(n, data).ok()); }
  int64_t Elapsed() { return clock.NowMs() - t0; }
  std::string Stat(const std::string& name) {
    std::string out;
    guard->DumpStats(&out);
    size_t at = out.find(name + " ");
    if (at == std::string::npos) return "missing";
    size_t end = out.find('\n', at);
    return out.substr(at + name.size() + 1, end - at - name.size() - 1);
  }

  FakeClock clock;
  StaleStore* store;
  std::unique_ptr<ConsistencyGuard> guard;
  int64_t t0;
};

TEST_CASE("guard: a stale read is re-read after pauses until the new data shows") {
  Fixture f;
  f.Write(0x2a, Fill(2));
  f.store->Stale(0x2a, Fill(1), 2);  // the store serves the old content twice
  CHECK(f.Read(0x2a) == Fill(2));
  CHECK(f.Elapsed() == 200 + 400);  // initial pause, then doubled
  CHECK(f.Stat("guard_stale_reads_retried") == "2");
  CHECK(f.store->log(f.t0) ==
        std::vector<std::string>{"write 2a@0", "read 2a@0", "read 2a@200", "read 2a@600"});
}

TEST_CASE("guard: stale until the entry expires is EIO naming the block") {
  Fixture f;
  f.Write(0x2a, Fill(2));
  f.clock.Advance(1000);
  f.store->Stale(0x2a, Fill(1), -1);
  Bytes b(kBs);
  Status st = f.guard->ReadBlock(0x2a, b);
  CHECK(st.code() == EIO);
  CHECK(st.message().find("guard: read 0000002a: the store keeps returning older data") !=
        std::string::npos);
  CHECK(f.Elapsed() == 10000);  // the last re-read was when the entry expired, not later
  CHECK(f.Stat("guard_stale_reads_failed") == "1");
}

TEST_CASE("guard: --maxRetryPause bounds the re-reads when entries live forever") {
  FakeClock clock;
  auto s = std::make_unique<StaleStore>(clock);
  StaleStore* store = s.get();
  ConsistencyGuardOptions o;
  o.cache_size = kBlocks;
  o.cache_time_ms = 0;
  o.retry_initial_ms = 100;
  o.retry_max_ms = 1000;
  auto g = ConsistencyGuard::Create(std::move(s), o, clock);
  REQUIRE(g.ok());
  const int64_t t0 = clock.NowMs();
  REQUIRE((*g)->WriteBlock(7, Fill(7)).ok());
  store->Stale(7, Fill(1), -1);
  Bytes b(kBs);
  CHECK((*g)->ReadBlock(7, b).code() == EIO);
  CHECK(clock.NowMs() - t0 == 1000);
}

TEST_CASE("guard: forever needs an entry per block, and the delay fits in the entry") {
  FakeClock clock;
  ConsistencyGuardOptions o;
  o.cache_size = 1000;
  o.cache_time_ms = 0;
  auto g = ConsistencyGuard::Create(std::make_unique<StaleStore>(clock), o, clock);
  CHECK(g.status().code() == EINVAL);
  CHECK(g.status().message().find("--md5CacheSize=268435456") != std::string::npos);
  o.cache_time_ms = 100;
  o.min_write_delay_ms = 200;
  g = ConsistencyGuard::Create(std::make_unique<StaleStore>(clock), o, clock);
  CHECK(g.status().code() == EINVAL);
}

TEST_CASE("guard: ReadBlocks checks the recorded blocks, the others go below as they are") {
  Fixture f;
  const Bytes data(kBs, 5);
  f.Write(4, data);
  f.store->Stale(4, Bytes(kBs, 1), 1);  // one stale read of the recorded block
  f.store->Stale(6, Bytes(kBs, 2), 1);  // no record: whatever the store says goes
  std::vector<Bytes> bufs(2, Bytes(kBs));
  std::vector<std::span<uint8_t>> spans(bufs.begin(), bufs.end());
  const BlockNum ns[] = {4, 6};
  std::vector<Status> st = f.guard->ReadBlocks(ns, spans);
  CHECK((st[0].ok() && st[1].ok()));
  CHECK(bufs[0] == data);
  CHECK(bufs[1] == Bytes(kBs, 2));
  CHECK(f.Stat("guard_stale_reads_retried") == "1");
}

TEST_CASE("guard: a write's digest, when given, is what reads are checked against") {
  Fixture f;
  const Bytes data(kBs, 5);
  const Md5Digest md5 = Md5(data);
  REQUIRE(f.guard->WriteBlock(4, data, {.md5 = &md5}).ok());
  f.store->Stale(4, Bytes(kBs, 1), 1);  // one stale read, then the new data
  CHECK(f.Read(4) == data);
  CHECK(f.Stat("guard_stale_reads_retried") == "1");
}

TEST_CASE("guard: once the entry expired, any data goes through") {
  Fixture f;
  f.Write(0x2a, Fill(2));
  f.clock.Advance(10000);
  f.store->Stale(0x2a, Fill(1), -1);
  CHECK(f.Read(0x2a) == Fill(1));
  CHECK(f.Elapsed() == 10000);
  CHECK(f.Stat("guard_stale_reads_retried") == "0");
  CHECK(f.guard->live_entries() == 0);
}

TEST_CASE("guard: a second write of a block waits exactly until --minWriteDelay") {
  Fixture f;
  f.Write(5, Fill(1));
  f.clock.Advance(100);
  f.Write(6, Fill(1));  // another block: no wait
  f.Write(5, Fill(2));
  CHECK(f.store->log(f.t0) == std::vector<std::string>{"write 5@0", "write 6@100", "write 5@500"});
  CHECK(f.Stat("guard_min_write_delay_waits") == "1");
  CHECK(f.Read(5) == Fill(2));
  f.clock.Advance(500);
  f.Write(5, Bytes{});  // a zero write is a write too; the delay has passed
  CHECK(f.store->log(f.t0).back() == "write 5@1000");
  CHECK(f.Stat("guard_min_write_delay_waits") == "1");
}

TEST_CASE("guard: a full MD5 cache makes a writer wait until the oldest entry expires") {
  Fixture f(2);
  f.Write(1, Fill(1));
  f.clock.Advance(100);
  f.Write(2, Fill(2));
  f.Write(1, Fill(3));  // block 1 has its entry: the delay applies, not the size
  CHECK(f.Elapsed() == 500);
  f.Write(3, Fill(3));  // needs a new entry: waits for block 2's (block 1's was renewed)
  CHECK(f.store->log(f.t0).back() == "write 3@10100");
  CHECK(f.Stat("guard_cache_full_waits") == "1");
  CHECK(f.guard->live_entries() == 2);
  // Block 1's entry is still live and still checks reads.
  f.store->Stale(1, Fill(1), 1);
  CHECK(f.Read(1) == Fill(3));
  CHECK(f.Stat("guard_stale_reads_retried") == "1");
}

TEST_CASE("guard: a trim records zero, as one entry however large") {
  Fixture f;
  f.Write(5, Fill(5));
  f.clock.Advance(500);
  REQUIRE(f.guard->Trim(0, kBlocks).ok());  // 16 GiB: one entry, one call below
  CHECK(f.guard->live_entries() == 1);      // block 5's entry is superseded by the range
  f.store->Stale(5, Fill(5), 1);            // the delete is not visible yet
  CHECK(f.Read(5) == Fill(0));
  CHECK(f.Stat("guard_stale_reads_retried") == "1");
  f.store->Stale(123456, Fill(9), 1);  // never written here: still expected zero
  CHECK(f.Read(123456) == Fill(0));
  // Writes after the trim wait once for the delay, then go straight through.
  f.Write(7, Fill(7));
  f.Write(8, Fill(8));
  CHECK(f.store->log(f.t0) == std::vector<std::string>{"write 5@0", "trim 0+268435456@500",
                                                       "read 5@500", "read 5@700", "read 1e240@700",
                                                       "read 1e240@900", "write 7@1000",
                                                       "write 8@1000"});
  CHECK(f.Read(7) == Fill(7));  // the newer write wins over the range
  CHECK(f.guard->live_entries() == 3);
}

TEST_CASE("guard: a trim waits for --minWriteDelay after a write in its range") {
  Fixture f;
  f.Write(5, Fill(5));
  REQUIRE(f.guard->Trim(4, 2).ok());
  REQUIRE(f.guard->Trim(100, 2).ok());  // no write there: no wait
  CHECK(f.store->log(f.t0) ==
        std::vector<std::string>{"write 5@0", "trim 4+2@500", "trim 64+2@500"});
}

TEST_CASE("guard: after a failed write, reads accept anything but the delay still holds") {
  Fixture f;
  f.Write(5, Fill(5));
  f.clock.Advance(500);
  f.store->FailNextWrite();
  Bytes b = Fill(6);
  CHECK(f.guard->WriteBlock(5, b).code() == EIO);
  f.store->Stale(5, Fill(4), 1);
  CHECK(f.Read(5) == Fill(4));  // the write may or may not have landed: no check
  CHECK(f.Stat("guard_stale_reads_retried") == "0");
  f.Write(5, Fill(7));
  CHECK(f.store->log(f.t0).back() == "write 5@1000");
}

TEST_CASE("guard: partial reads of a recorded block are checked, partial writes recorded") {
  Fixture f;
  f.Write(3, Fill(3));
  f.store->Stale(3, Fill(1), 1);
  uint8_t part[4];
  REQUIRE(f.guard->ReadPart(3, 8, part).ok());
  CHECK(Bytes(part, part + 4) == Bytes(4, 3));
  CHECK(f.Stat("guard_stale_reads_retried") == "1");
  f.clock.Advance(500);
  const uint8_t data[2] = {9, 9};
  REQUIRE(f.guard->WritePart(3, 0, data).ok());
  Bytes want = Fill(3);
  want[0] = want[1] = 9;
  f.store->Stale(3, Fill(3), 1);
  CHECK(f.Read(3) == want);
  CHECK(f.Stat("guard_stale_reads_retried") == "2");
}

TEST_CASE("guard: reads pass a write in flight, a second write of the block waits for it") {
  Fixture f;
  f.Write(5, Fill(1));
  f.clock.Advance(1000);
  f.store->ClearLog();
  Gate gate;
  f.store->GateNextWrite(&gate);
  Status wrote_first, wrote_second;  // (Catch2 assertions are for the test's own thread only)
  std::thread first([&] { wrote_first = f.guard->WriteBlock(5, Fill(2)); });
  gate.WaitArrived(1);  // the first write is inside the store, not yet applied
  // The guard holds no lock while the store works: a read returns, and the old content is
  // accepted while the write is in flight.
  CHECK(f.Read(5) == Fill(1));
  std::thread second([&] { wrote_second = f.guard->WriteBlock(5, Fill(3)); });
  while (f.Stat("guard_writers_waiting") != "1") std::this_thread::yield();
  CHECK(f.store->log(f.t0) == std::vector<std::string>{"write 5@1000", "read 5@1000"});
  gate.Open();
  first.join();
  second.join();
  CHECK(wrote_first.ok());
  CHECK(wrote_second.ok());
  // The second write started --minWriteDelay after the first completed.
  CHECK(f.store->log(f.t0) ==
        std::vector<std::string>{"write 5@1000", "read 5@1000", "write 5@1500"});
  CHECK(f.Read(5) == Fill(3));
  CHECK(f.Stat("guard_writers_waiting") == "0");
}

TEST_CASE("guard: writers of many blocks from two threads finish with a full cache") {
  Fixture f(4, 1000, 100);
  std::atomic<int> failures{0};  // (Catch2 assertions are for the test's own thread only)
  auto work = [&](uint8_t base) {
    for (int i = 0; i < 20; i++) {
      const BlockNum n = static_cast<BlockNum>(base + i % 6);
      if (!f.guard->WriteBlock(n, Fill(static_cast<uint8_t>(base + i))).ok()) failures++;
      Bytes b(kBs);
      if (!f.guard->ReadBlock(n, b).ok()) failures++;
    }
  };
  std::thread a(work, uint8_t{10});
  std::thread b(work, uint8_t{40});
  a.join();
  b.join();
  CHECK(failures == 0);
  CHECK(f.guard->live_entries() <= 4);
  CHECK(f.Stat("guard_writers_waiting") == "0");
  std::string stats;
  f.guard->DumpStats(&stats);
  CHECK(stats.find("stale_store 1\n") != std::string::npos);  // the layer below's too
}

TEST_CASE("guard: BuildStack composes the guard only with --md5CacheSize") {
  Config c = stack_testing::LocalConfig();
  const Geometry g{4096, 16 * 4096};
  auto stats_of = [&](const Config& config) {
    Result<Stack> built = BuildStack(config, std::make_shared<MemStore>(), g);
    REQUIRE(built.ok());
    REQUIRE(built->top->Start().ok());
    REQUIRE(built->bytes->Write(5 * 4096, Bytes(4096, 7)).ok());
    REQUIRE(built->bytes->Flush().ok());  // the block cache writes back through the guard
    std::string out;
    built->top->DumpStats(&out);
    REQUIRE(built->top->Shutdown().ok());
    return out;
  };
  CHECK(stats_of(c).find("guard_") == std::string::npos);
  c.guard.cache_size = 10;
  c.guard.cache_time_ms = 60000;
  c.guard.min_write_delay_ms = 10;
  CHECK(stats_of(c).find("guard_entries_live 1\n") != std::string::npos);
  c.guard.cache_time_ms = 0;  // forever, but fewer entries than the 16 blocks
  CHECK(BuildStack(c, std::make_shared<MemStore>(), g).status().code() == EINVAL);
}

}  // namespace
}  // namespace s3disk
