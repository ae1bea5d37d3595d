// S3Store's listing on a scripted in-memory S3 (FakeS3): the parts listed side by side, cut at
// the first hex digit or at the caller's cuts, each key found once whatever the bucket holds.
#include <catch2/catch.hpp>

#include "s3/fake_s3.h"
#include "s3/s3_store.h"

namespace s3disk {
namespace {

// Every key found by List, with cuts if given (found may be called from many threads).
std::multiset<std::string> ListAll(S3Store& store, const std::string& prefix,
                                   const std::vector<std::string>* cuts = nullptr) {
  std::mutex mu;
  std::multiset<std::string> keys;
  auto found = [&](const std::string& k, uint64_t) {
    std::lock_guard lock(mu);
    keys.insert(k);
  };
  ListOptions options;
  if (cuts != nullptr) options.cuts = *cuts;
  REQUIRE(store.List(prefix, options, found).ok());
  return keys;
}

TEST_CASE("s3_store: List splits the key space yet returns every key once") {
  for (int threads : {1, 3, 8, 16}) {
    S3Options o = Fixture::Options();
    o.list_threads = threads;
    Fixture f(o);
    f.fake->page_size = 7;  // many pages
    std::multiset<std::string> want;
    for (uint32_t n = 0; n < 400; n++) {
      char key[32];
      snprintf(key, sizeof key, "vol1/%08x", n * 0x00a3d70bu);  // spread over all 16 digits
      want.insert(key);
    }
    // Keys beside the cuts (vol1/D0000000) too: before, on and just after them.
    for (const char* odd :
         {"vol1/", "vol1/s3backer-mounted", "vol1/A0000000", "vol1/-x", "vol1/:", "vol1/g",
          "vol1/~", "vol1/0", "vol1/f", "vol1/ff/x", "vol1/1", "vol1/1000000", "vol1/1000000/",
          "vol1/1000000/x", "vol1/10000000", "vol1/10000000-", "vol1/0fffffff~", "vol1/f0000000"}) {
      want.insert(odd);
    }
    for (const auto& k : want) f.fake->objects[k] = {"x", {}};
    for (const char* outside : {"vol0/00000001", "vol10000000", "vol2/00000001", "zzz"}) {
      f.fake->objects[outside] = {"x", {}};
    }
    INFO("list_threads " << threads);
    CHECK(ListAll(*f.store, "vol1/") == want);
    // Each part costs at most one page more than its keys fill.
    size_t pages = f.fake->Count("GET");
    CHECK(pages <= want.size() / 7 + 16 * 2);
    // The whole bucket too, and a prefix with no keys.
    CHECK(ListAll(*f.store, "").size() == want.size() + 4);
    CHECK(ListAll(*f.store, "nothing/").empty());
  }
}

TEST_CASE("s3_store: List asks for pages of list_page_keys keys") {
  S3Options o = Fixture::Options();
  o.list_threads = 1;
  o.list_page_keys = 5;
  Fixture f(o);
  std::multiset<std::string> want;
  for (int n = 0; n < 23; n++) want.insert("k" + std::to_string(100 + n));
  for (const auto& k : want) f.fake->objects[k] = {"x", {}};
  CHECK(ListAll(*f.store, "k") == want);
  std::lock_guard lock(f.fake->mu);
  size_t pages = 0;
  for (const auto& r : f.fake->log) {
    if (r.method != "GET") continue;
    pages++;
    CHECK(r.query.at("max-keys") == "5");
  }
  CHECK(pages == 5);  // 23 keys, 5 a page
}

TEST_CASE("s3_store: List with cuts lists the parts between the caller's cuts") {
  for (int threads : {1, 2, 8}) {
    S3Options o = Fixture::Options();
    o.list_threads = threads;
    Fixture f(o);
    f.fake->page_size = 10;
    // Plain block keys: all under the first hex digit 0, so only the caller's cuts split them.
    std::multiset<std::string> want{"vol/", "vol/s3backer-mounted", "vol/00000063-"};
    std::vector<std::string> cuts;
    for (uint32_t n = 0; n < 1000; n++) {
      char key[32];
      snprintf(key, sizeof key, "vol/%08x", n);
      want.insert(key);
      if (n > 0 && n % 100 == 0) cuts.push_back(key);
    }
    for (const auto& k : want) f.fake->objects[k] = {"x", {}};
    INFO("list_threads " << threads);
    CHECK(ListAll(*f.store, "vol/", &cuts) == want);
    // Parts: one with one thread; else one per thread at first (bounds 0..10 in equal
    // shares), each starting just before its first cut, and more as idle threads split them.
    std::set<std::string> starts;
    for (const auto& r : f.fake->log) {
      if (r.query.count("start-after")) starts.insert(r.query.at("start-after"));
    }
    if (threads == 1) CHECK(starts.empty());
    if (threads == 2) CHECK(starts.count("vol/000001f3") == 1);  // before cut 5, 0x1f4 = 500
    if (threads == 8) CHECK(starts.count("vol/00000063") == 1);  // before cut 1, 0x64 = 100
    CHECK(starts.size() >= std::min<size_t>(threads, 10) - 1);
    for (const auto& start : starts) {
      INFO(start);
      CHECK(start.size() == 12);  // a block key with its last digit one less
    }
    CHECK(f.fake->Count("GET") <= want.size() / 10 + 2 * (starts.size() + 1));
    // Keys bunched between two cuts of many still come out once each.
    std::vector<std::string> wide;
    for (uint32_t n = 0x10000; n < 0x1000000; n += 0x10000) {
      char key[32];
      snprintf(key, sizeof key, "vol/%08x", n);
      wide.push_back(key);
    }
    CHECK(ListAll(*f.store, "vol/", &wide) == want);
    // No cuts: List's own split.
    const std::vector<std::string> none;
    CHECK(ListAll(*f.store, "vol/", &none) == want);
  }
}

TEST_CASE("s3_store: List retries a page whose XML was cut short") {
  Fixture f;
  for (const char* k : {"00000001", "00000002", "zz"}) f.fake->objects[k] = {"x", {}};
  int cut = 1;
  f.fake->after = [&cut](const Recorded& r, HttpResult* res) {
    if (r.method == "GET" && r.query.count("list-type") && cut-- > 0) {
      res->response.body.resize(res->response.body.size() / 2);
    }
  };
  CHECK(ListAll(*f.store, "") == std::multiset<std::string>{"00000001", "00000002", "zz"});
}

}  // namespace
}  // namespace s3disk
