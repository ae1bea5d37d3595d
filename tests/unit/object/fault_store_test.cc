// FaultStore: seeded failures in front of a MemStore; checks what reaches the store below.
#include "object/fault_store.h"

#include <catch2/catch.hpp>

#include "object/mem_store.h"
#include "object_store_contract.h"

namespace s3disk {
namespace {

using testing::Bytes;
using testing::ListKeys;

struct Rig {
  explicit Rig(FaultOptions options) {
    auto mem_owned = std::make_unique<MemStore>();
    mem = mem_owned.get();
    faults = std::make_unique<FaultStore>(std::move(mem_owned), options);
  }
  MemStore* mem;  // owned by faults
  std::unique_ptr<FaultStore> faults;
};

TEST_CASE("fault_store: rate 0 never fails and forwards everything") {
  Rig rig(FaultOptions{.error_rate = 0, .seed = 7});
  for (int i = 0; i < 500; i++) {
    const std::string key = "k" + std::to_string(i % 10);
    REQUIRE(rig.faults->Put(key, Bytes(key), {{"x-amz-meta-i", std::to_string(i)}}).ok());
    auto got = rig.faults->Get(key);
    REQUIRE(got.ok());
    CHECK(got->data == Bytes(key));
    REQUIRE(rig.faults->Head(key).ok());
  }
  CHECK(rig.mem->object_count() == 10);
  CHECK(ListKeys(*rig.faults, "k").size() == 10);
  uint64_t listed_bytes = 0;
  REQUIRE(rig.faults
              ->List("k", {.sizes = true, .cuts = {}},
                     [&](const std::string&, uint64_t size) { listed_bytes += size; })
              .ok());
  CHECK(listed_bytes == 10 * 2);  // "k0".."k9", from the store below
  size_t spread = 0;
  REQUIRE(rig.faults
              ->List("k", {.sizes = false, .cuts = {"k5"}},
                     [&](const std::string&, uint64_t) { spread++; })
              .ok());
  CHECK(spread == 10);
  CHECK(rig.faults->Delete(std::vector<std::string>{"k1", "k2"}).ok());
  CHECK(rig.faults->Delete("k3").ok());
  CHECK(rig.mem->object_count() == 7);
  CHECK(rig.faults->faults_injected() == 0);
  CHECK(rig.faults->Describe() == "faults(memory)");
}

TEST_CASE("fault_store: rate 1 always fails and nothing reaches the store below") {
  Rig rig(FaultOptions{.error_rate = 1, .seed = 7, .error_code = ENOSPC});
  REQUIRE(rig.mem->Put("old", Bytes("old"), {}).ok());
  for (int i = 0; i < 50; i++) {
    auto put = rig.faults->Put("k", Bytes("v"), {});
    CHECK(put.status().code() == ENOSPC);
    CHECK(rig.faults->Get("old").status().code() == ENOSPC);
    CHECK(rig.faults->Head("old").status().code() == ENOSPC);
    CHECK(rig.faults->Delete("old").code() == ENOSPC);
    CHECK(rig.faults->List("", {}, [](const std::string&, uint64_t) {}).code() == ENOSPC);
  }
  CHECK(rig.faults->Delete(std::vector<std::string>{"old", "x"}).code() == ENOSPC);
  CHECK(rig.faults->faults_injected() == 50 * 5 + 2);
  CHECK(rig.faults->List("", {.sizes = true, .cuts = {}}, [](const std::string&, uint64_t) {})
            .code() == ENOSPC);
  CHECK(rig.faults->List("", {.sizes = false, .cuts = {"k"}}, [](const std::string&, uint64_t) {})
            .code() == ENOSPC);
  CHECK(rig.mem->object_count() == 1);
  CHECK(rig.mem->Get("old").ok());
  std::string stats;
  rig.mem->DumpStats(&stats);
  CHECK(stats.find("mem_store_puts 1\n") != std::string::npos);  // only the direct one
  CHECK(stats.find("mem_store_gets 1\n") != std::string::npos);
  CHECK(stats.find("mem_store_deletes 0\n") != std::string::npos);
  CHECK(stats.find("mem_store_lists 0\n") != std::string::npos);
  auto put = rig.faults->Put("k", Bytes("v"), {});
  CHECK(put.status().message() == "fault_store: put k: injected fault");

  rig.faults->set_error_rate(0);
  CHECK(rig.faults->Put("k", Bytes("v"), {}).ok());
  CHECK(rig.mem->object_count() == 2);
}

std::vector<bool> Pattern(uint64_t seed, int n) {
  Rig rig(FaultOptions{.error_rate = 0.3, .seed = seed});
  REQUIRE(rig.mem->Put("k", Bytes("v"), {}).ok());
  std::vector<bool> failed;
  for (int i = 0; i < n; i++) {
    // Mix operations: every kind draws exactly once.
    bool f = false;
    switch (i % 4) {
      case 0:
        f = !rig.faults->Get("k").ok();
        break;
      case 1:
        f = !rig.faults->Head("k").ok();
        break;
      case 2:
        f = !rig.faults->Put("k", Bytes("v"), {}).ok();
        break;
      case 3:
        f = !rig.faults->List("", {}, [](const std::string&, uint64_t) {}).ok();
        break;
    }
    failed.push_back(f);
  }
  uint64_t count = 0;
  for (bool f : failed) count += f;
  CHECK(rig.faults->faults_injected() == count);
  return failed;
}

TEST_CASE("fault_store: the same seed gives the same sequence of faults") {
  const auto a = Pattern(42, 1000);
  const auto b = Pattern(42, 1000);
  const auto c = Pattern(43, 1000);
  CHECK(a == b);
  CHECK(a != c);
  size_t fails = 0;
  for (bool f : a) fails += f;
  CHECK(fails > 200);  // 0.3 of 1000, give or take
  CHECK(fails < 400);
}

TEST_CASE("fault_store: fail_after applies the write below, then reports the error") {
  Rig rig(FaultOptions{.error_rate = 1, .seed = 3, .error_code = EIO, .fail_after = true});
  auto put = rig.faults->Put("k", Bytes("applied"), {{"x-amz-meta-a", "1"}});
  CHECK(put.status().code() == EIO);
  auto below = rig.mem->Get("k");
  REQUIRE(below.ok());
  CHECK(below->data == Bytes("applied"));
  CHECK(below->info.meta == Metadata{{"x-amz-meta-a", "1"}});

  CHECK(rig.faults->Delete("k").code() == EIO);
  CHECK(rig.mem->Get("k").status().code() == ENOENT);

  REQUIRE(rig.mem->Put("m1", Bytes("1"), {}).ok());
  REQUIRE(rig.mem->Put("m2", Bytes("2"), {}).ok());
  CHECK(rig.faults->Delete(std::vector<std::string>{"m1", "m2"}).code() == EIO);
  CHECK(rig.mem->object_count() == 0);

  // Reads are not applied "after": a failing Get does not reach the store below.
  std::string before;
  rig.mem->DumpStats(&before);
  CHECK(rig.faults->Get("k").status().code() == EIO);
  CHECK(rig.faults->Head("k").status().code() == EIO);
  std::string after;
  rig.mem->DumpStats(&after);
  CHECK(after == before);
}

TEST_CASE("fault_store: without fail_after a failing write is not applied; Delete is per key") {
  Rig rig(FaultOptions{.error_rate = 0.5, .seed = 11});
  for (int i = 0; i < 100; i++) {
    const std::string key = "k" + std::to_string(i);
    auto put = rig.faults->Put(key, Bytes(key), {});
    CHECK(put.ok() == rig.mem->Get(key).ok());
  }
  const size_t stored = rig.mem->object_count();
  CHECK(stored == 100 - rig.faults->faults_injected());
  std::vector<std::string> all;
  for (int i = 0; i < 100; i++) all.push_back("k" + std::to_string(i));
  uint64_t before = rig.faults->faults_injected();
  Status st = rig.faults->Delete(all);
  const uint64_t failed_keys = rig.faults->faults_injected() - before;
  CHECK(failed_keys > 0);
  CHECK(st.code() == EIO);
  // Keys whose draw failed were not deleted; the others were.
  CHECK(rig.mem->object_count() <= failed_keys);
  CHECK(rig.mem->object_count() > 0);
  std::string stats;
  rig.faults->DumpStats(&stats);
  CHECK(stats.find("fault_store_faults " + std::to_string(rig.faults->faults_injected()) +
                   "\nmem_store_gets") == 0);
}

TEST_CASE("fault_store: GetMany draws per key and sends the others below together") {
  Rig rig(FaultOptions{.error_rate = 0.5, .seed = 3});
  std::vector<std::string> keys;
  for (int i = 0; i < 40; i++) {
    keys.push_back("k" + std::to_string(i));
    REQUIRE(rig.mem->Put(keys.back(), Bytes(keys.back()), {}).ok());
  }
  auto got = rig.faults->GetMany(keys, {});
  REQUIRE(got.size() == keys.size());
  uint64_t failed = 0;
  for (size_t i = 0; i < keys.size(); i++) {
    if (got[i].ok()) {
      CHECK(got[i]->data == Bytes(keys[i]));
    } else {
      CHECK(got[i].status().code() == EIO);
      CHECK(got[i].status().message().find(keys[i] + ": injected fault") != std::string::npos);
      failed++;
    }
  }
  CHECK(failed == rig.faults->faults_injected());
  CHECK((failed > 0 && failed < keys.size()));
  std::string stats;
  rig.mem->DumpStats(&stats);
  CHECK(stats.find("mem_store_gets " + std::to_string(keys.size() - failed) + "\n") !=
        std::string::npos);
}

}  // namespace
}  // namespace s3disk
