// The ObjectStore contract: behaviour every backend (MemStore, DirStore, S3Store) must share.
//
// Call CheckObjectStoreContract(make) from a TEST_CASE. It runs Catch2 SECTIONs, so the test
// case body runs once per section: make() is called at the start of each run and must return
// a store that is EMPTY (a fresh directory, a fresh bucket or prefix nobody else uses). Keys
// used: "0000002a"-style block keys, "vol1/..." and "a/...", "ab", "b/...", "c/...", "v/...",
// "w/...", "big", "empty", "same". No key is both an object and a prefix directory of another
// ("a" and "a/b"), which a directory backend cannot hold.
//
// Also: ScopedTempDir, a mkdtemp directory removed (recursively) when it goes out of scope.
#pragma once

#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/crypto.h"
#include "object/object_store.h"

namespace s3disk {
namespace testing {

class ScopedTempDir {
 public:
  ScopedTempDir() {
    char tmpl[] = "/tmp/s3disk-test-XXXXXX";
    const char* made = mkdtemp(tmpl);
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  ~ScopedTempDir() {
    nftw(
        path_.c_str(),
        [](const char* p, const struct stat*, int, struct FTW*) {
          ::remove(p);  // best effort: keep going
          return 0;
        },
        16, FTW_DEPTH | FTW_PHYS);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }

// Every key under prefix, collected thread-safely (backends may call found concurrently).
inline std::set<std::string> ListKeys(ObjectStore& store, const std::string& prefix,
                                      const ListOptions& options = {}) {
  std::mutex mu;
  std::set<std::string> keys;
  Status st = store.List(prefix, options, [&](const std::string& key, uint64_t) {
    std::lock_guard lock(mu);
    keys.insert(key);
  });
  REQUIRE(st.ok());
  return keys;
}

inline std::vector<uint8_t> Bytes(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

// Body written by writer w in iteration i of the concurrency check: its first 8 bytes name
// (w, i), the rest is a function of (w, i, position), and the size depends on (w, i).
inline size_t ContractBodySize(uint32_t w, uint32_t i) { return 65536 + ((w * 7 + i) % 13) * 100; }
inline std::vector<uint8_t> ContractBody(uint32_t w, uint32_t i) {
  std::vector<uint8_t> body(ContractBodySize(w, i));
  uint32_t x = w * 2654435761u + i * 40503u + 1;
  for (size_t p = 0; p < body.size(); p++) {
    x = x * 1103515245u + 12345u;
    body[p] = static_cast<uint8_t>(x >> 16);
  }
  for (int b = 0; b < 4; b++) {
    body[b] = static_cast<uint8_t>(w >> (8 * b));
    body[4 + b] = static_cast<uint8_t>(i >> (8 * b));
  }
  return body;
}

// if_absent_honoured: the backend refuses a create-only Put of an existing key (false only
// for an S3 server that ignores If-None-Match, such as s3rver: it then overwrites).
inline void CheckObjectStoreContract(const std::function<std::unique_ptr<ObjectStore>()>& make,
                                     bool if_absent_honoured = true) {
  std::unique_ptr<ObjectStore> store = make();
  REQUIRE(store != nullptr);
  const Metadata meta = {
      {"content-type", "application/x-s3backer-block"},
      {"content-encoding", "deflate, encrypt-aes-128-cbc"},
      {"x-amz-meta-s3backer-hmac", "\"e8b5a1173b39cacb58395265aa4684a391f932d9\""},
      {"x-amz-meta-note", "a value with spaces, commas: and a colon"},
  };

  SECTION("get and head of an absent key are ENOENT") {
    auto got = store->Get("0000002a");
    CHECK(got.status().code() == ENOENT);
    auto head = store->Head("vol1/0000002a");
    CHECK(head.status().code() == ENOENT);
  }

  SECTION("GetMany: each key's object or ENOENT; a body may land in its buffer, whole") {
    const auto big = ContractBody(1, 2);
    const auto small = Bytes("a short one");
    REQUIRE(store->Put("0000002a", big, meta).ok());
    const Md5Digest small_md5 = Md5(small);
    REQUIRE(store->Put("0000002b", small, {}, {.md5 = &small_md5}).ok());  // the digest given
    std::vector<uint8_t> buf_a(big.size()), buf_b(big.size()), buf_c(big.size());
    const std::span<uint8_t> into[] = {buf_a, buf_b, buf_c};
    auto got = store->GetMany({"0000002a", "0000002b", "0000002c"}, into);
    REQUIRE(got.size() == 3);
    REQUIRE(got[0].ok());
    // Wherever the body went, it is whole and the ETag is its MD5.
    CHECK(Bytes(got[0]->body()) == big);
    CHECK(got[0]->info.size == big.size());
    CHECK(got[0]->info.etag == Md5Hex(big));
    CHECK(got[0]->info.meta == meta);
    REQUIRE(got[1].ok());
    CHECK(got[1]->body().data() != buf_b.data());  // not the buffer's size
    CHECK(got[1]->data == small);
    CHECK(got[1]->info.etag == Md5Hex(small));
    CHECK(got[2].status().code() == ENOENT);
    auto without = store->GetMany({"0000002b", "0000002a"}, {});
    REQUIRE(without.size() == 2);
    REQUIRE(without[1].ok());
    CHECK(without[1]->body().data() == without[1]->data.data());  // no buffer given
    CHECK(without[1]->data == big);
  }

  SECTION("put then get returns the same bytes, the MD5 ETag and the metadata") {
    const auto data = Bytes("hello, block 42");
    auto put = store->Put("0000002a", data, meta);
    REQUIRE(put.ok());
    CHECK(*put == Md5Hex(data));
    auto got = store->Get("0000002a");
    REQUIRE(got.ok());
    CHECK(got->data == data);
    CHECK(got->info.etag == Md5Hex(data));
    CHECK(got->info.size == data.size());
    CHECK(got->info.meta == meta);
    auto head = store->Head("0000002a");
    REQUIRE(head.ok());
    CHECK(head->etag == Md5Hex(data));
    CHECK(head->size == data.size());
    CHECK(head->meta == meta);
    // A nested key works the same way.
    REQUIRE(store->Put("vol1/0000002a", data, {{"content-type", "text/plain"}}).ok());
    auto nested = store->Get("vol1/0000002a");
    REQUIRE(nested.ok());
    CHECK(nested->data == data);
    CHECK(nested->info.meta == Metadata{{"content-type", "text/plain"}});
  }

  SECTION("overwrite replaces data and metadata together") {
    REQUIRE(store->Put("same", Bytes("first version, longer"), meta).ok());
    const Metadata meta2 = {{"content-type", "text/plain"}, {"x-amz-meta-v", "2"}};
    REQUIRE(store->Put("same", Bytes("second"), meta2).ok());
    auto got = store->Get("same");
    REQUIRE(got.ok());
    CHECK(got->data == Bytes("second"));
    CHECK(got->info.meta == meta2);
    CHECK(got->info.etag == Md5Hex(Bytes("second")));
    auto head = store->Head("same");
    REQUIRE(head.ok());
    CHECK(head->size == 6);
    CHECK(head->meta == meta2);
  }

  SECTION("a create-only put stores an absent key, and refuses (EEXIST) a present one") {
    const auto first = Bytes("the first");
    const auto second = Bytes("the second");
    auto put = store->Put("same", first, meta, {.if_absent = true});
    REQUIRE(put.ok());
    auto again = store->Put("same", second, {}, {.if_absent = true});
    auto got = store->Get("same");
    REQUIRE(got.ok());
    if (if_absent_honoured) {
      REQUIRE(!again.ok());
      CHECK(again.status().code() == EEXIST);
      CHECK(got->data == first);
      CHECK(got->info.meta.count("x-amz-meta-note") == 1);
    } else {
      CHECK((again.ok() ? got->data == second : got->data == first));
    }
  }

  SECTION("an empty body round-trips") {
    auto put = store->Put("empty", {}, {{"content-type", "text/plain"}});
    REQUIRE(put.ok());
    CHECK(*put == "d41d8cd98f00b204e9800998ecf8427e");
    auto got = store->Get("empty");
    REQUIRE(got.ok());
    CHECK(got->data.empty());
    CHECK(got->info.size == 0);
    CHECK(got->info.etag == "d41d8cd98f00b204e9800998ecf8427e");
    auto head = store->Head("empty");
    REQUIRE(head.ok());
    CHECK(head->size == 0);
    CHECK(head->etag == "d41d8cd98f00b204e9800998ecf8427e");
  }

  SECTION("delete of an absent key is ok; after delete, get and head are ENOENT") {
    CHECK(store->Delete("0000002a").ok());
    CHECK(store->Delete("vol1/0000002a").ok());
    REQUIRE(store->Put("0000002a", Bytes("x"), meta).ok());
    REQUIRE(store->Put("0000002b", Bytes("y"), meta).ok());
    CHECK(store->Delete("0000002a").ok());
    CHECK(store->Get("0000002a").status().code() == ENOENT);
    CHECK(store->Head("0000002a").status().code() == ENOENT);
    CHECK(store->Get("0000002b").ok());  // the neighbour is untouched
    CHECK(store->Delete("0000002a").ok());
    CHECK(ListKeys(*store, "") == std::set<std::string>{"0000002b"});
  }

  SECTION("a Delete of several keys removes exactly those, absent ones included") {
    for (const char* key : {"00000001", "00000002", "00000003", "vol1/00000001"}) {
      REQUIRE(store->Put(key, Bytes(key), {}).ok());
    }
    CHECK(store->Delete(std::vector<std::string>{"00000001", "vol1/00000001", "00000009"}).ok());
    CHECK(store->Get("00000001").status().code() == ENOENT);
    CHECK(store->Get("vol1/00000001").status().code() == ENOENT);
    CHECK(ListKeys(*store, "") == std::set<std::string>{"00000002", "00000003"});
    CHECK(store->Delete(std::vector<std::string>{}).ok());
  }

  SECTION("List returns exactly the keys under the prefix, nested ones included") {
    const std::set<std::string> all = {"a/b/c", "a/b/d", "a/x", "ab", "b/1", "c/a/b"};
    for (const auto& key : all) REQUIRE(store->Put(key, Bytes(key), {}).ok());
    CHECK(ListKeys(*store, "") == all);
    CHECK(ListKeys(*store, "a/") == std::set<std::string>{"a/b/c", "a/b/d", "a/x"});
    CHECK(ListKeys(*store, "a") == std::set<std::string>{"a/b/c", "a/b/d", "a/x", "ab"});
    CHECK(ListKeys(*store, "a/b") == std::set<std::string>{"a/b/c", "a/b/d"});
    CHECK(ListKeys(*store, "a/b/") == std::set<std::string>{"a/b/c", "a/b/d"});
    CHECK(ListKeys(*store, "a/b/c") == std::set<std::string>{"a/b/c"});
    CHECK(ListKeys(*store, "b/") == std::set<std::string>{"b/1"});
    CHECK(ListKeys(*store, "c/a/b/").empty());
    CHECK(ListKeys(*store, "zzz").empty());
  }

  SECTION("List with sizes gives each key under the prefix once, with its body's size") {
    const std::map<std::string, uint64_t> want = {
        {"v/00000000", 0}, {"v/00000001", 1}, {"v/0000000f", 4096}, {"v/s3backer-mounted", 5}};
    for (const auto& [key, size] : want) {
      REQUIRE(store->Put(key, std::vector<uint8_t>(size, 'x'), {}).ok());
    }
    REQUIRE(store->Put("w/00000002", Bytes("other"), {}).ok());
    std::mutex mu;
    std::map<std::string, uint64_t> got;
    int calls = 0;
    ListOptions sizes;
    sizes.sizes = true;
    REQUIRE(store
                ->List("v/", sizes,
                       [&](const std::string& key, uint64_t size) {
                         std::lock_guard lock(mu);
                         calls++;
                         got[key] = size;
                       })
                .ok());
    CHECK(got == want);
    CHECK(calls == static_cast<int>(want.size()));
  }

  SECTION("List with cuts finds the same keys, wherever the cuts fall") {
    const std::set<std::string> all = {"v/00000001", "v/00000002", "v/0000000f",
                                       "v/1000000a", "v/f0000000", "v/s3backer-mounted",
                                       "w/00000002"};
    for (const auto& key : all) REQUIRE(store->Put(key, Bytes(key), {}).ok());
    std::set<std::string> under_v = all;
    under_v.erase("w/00000002");
    for (const std::vector<std::string>& cuts : {std::vector<std::string>{"v/00000002"},
                                                 {"v/00000002", "v/0000000f", "v/80000000"},
                                                 {"v/00000000", "v/ffffffff"},
                                                 {"v/00000001", "v/zzz"}}) {
      CHECK(ListKeys(*store, "v/", ListOptions{.sizes = false, .cuts = cuts}) == under_v);
    }
  }

  SECTION("concurrent puts and gets never return a torn object") {
    constexpr uint32_t kThreads = 4;
    constexpr uint32_t kIterations = 25;
    const std::vector<std::string> keys = {"0000000a", "vol1/0000000b", "0000000c"};
    std::atomic<int> failures{0};
    std::atomic<int> bodies_checked{0};
    std::mutex err_mu;
    std::string first_error;
    auto fail = [&](const std::string& why) {
      failures++;
      std::lock_guard lock(err_mu);
      if (first_error.empty()) first_error = why;
    };
    auto check_get = [&](const std::string& key) {
      auto got = store->Get(key);
      if (!got.ok()) {
        if (got.status().code() != ENOENT) fail("get " + key + ": " + got.status().ToString());
        return;
      }
      const auto& data = got->data;
      if (data.size() < 8) return fail("get " + key + ": short body");
      uint32_t w = 0, i = 0;
      for (int b = 0; b < 4; b++) {
        w |= static_cast<uint32_t>(data[b]) << (8 * b);
        i |= static_cast<uint32_t>(data[4 + b]) << (8 * b);
      }
      if (w >= kThreads || i >= kIterations || data != ContractBody(w, i)) {
        return fail("get " + key + ": torn or unknown body");
      }
      if (got->info.etag != Md5Hex(data)) fail("get " + key + ": etag mismatch");
      auto it = got->info.meta.find("x-amz-meta-writer");
      if (it == got->info.meta.end() || it->second != std::to_string(w) + "/" + std::to_string(i)) {
        fail("get " + key + ": metadata does not belong to the body");
      }
      bodies_checked++;
    };
    auto check_head = [&](const std::string& key) {
      auto head = store->Head(key);
      if (!head.ok()) {
        if (head.status().code() != ENOENT) fail("head " + key + ": " + head.status().ToString());
        return;
      }
      auto it = head->meta.find("x-amz-meta-writer");
      if (it == head->meta.end()) return fail("head " + key + ": no writer metadata");
      uint32_t w = 0, i = 0;
      if (sscanf(it->second.c_str(), "%u/%u", &w, &i) != 2 ||
          head->size != ContractBodySize(w, i)) {
        fail("head " + key + ": size does not belong to the metadata");
      }
    };
    std::vector<std::thread> threads;
    for (uint32_t w = 0; w < kThreads; w++) {
      threads.emplace_back([&, w] {
        for (uint32_t i = 0; i < kIterations; i++) {
          const std::string& key = keys[(w + i) % keys.size()];
          Metadata m = {{"content-type", "application/x-s3backer-block"},
                        {"x-amz-meta-writer", std::to_string(w) + "/" + std::to_string(i)}};
          auto put = store->Put(key, ContractBody(w, i), m);
          if (!put.ok()) fail("put " + key + ": " + put.status().ToString());
          check_get(keys[(w + i + 1) % keys.size()]);
          check_head(keys[(w + i + 2) % keys.size()]);
          check_get(key);
        }
      });
    }
    for (auto& t : threads) t.join();
    INFO(first_error);
    CHECK(failures.load() == 0);
    CHECK(bodies_checked.load() >= static_cast<int>(kThreads * kIterations));
    for (const auto& key : keys) check_get(key);  // all three exist now and are whole
    CHECK(failures.load() == 0);
  }

  SECTION("a 1 MiB body round-trips") {
    std::vector<uint8_t> big(1 << 20);
    uint32_t x = 12345;
    for (auto& b : big) {
      x = x * 1664525u + 1013904223u;
      b = static_cast<uint8_t>(x >> 24);
    }
    auto put = store->Put("big", big, meta);
    REQUIRE(put.ok());
    CHECK(*put == Md5Hex(big));
    auto got = store->Get("big");
    REQUIRE(got.ok());
    CHECK(got->data == big);
    CHECK(got->info.etag == Md5Hex(big));
    CHECK(got->info.meta == meta);
    auto head = store->Head("big");
    REQUIRE(head.ok());
    CHECK(head->size == big.size());
    CHECK(head->etag == Md5Hex(big));
  }
}

}  // namespace testing
}  // namespace s3disk
