#include "s3/list_parts.h"

#include <catch2/catch.hpp>
#include <cerrno>
#include <thread>

namespace s3disk {
namespace {

std::vector<std::string> Cuts(int n) {
  std::vector<std::string> cuts;
  for (int i = 1; i <= n; i++) cuts.push_back("k" + std::to_string(100 + i));  // k101..
  return cuts;
}

TEST_CASE("list_parts: starts as equal parts over the bounds, and ends when all are done") {
  ListParts parts(Cuts(9), 4);  // bounds 0..10: [0,2) [2,5) [5,7) [7,10)
  CHECK(parts.Bound(0).empty());
  CHECK(parts.Bound(1) == "k101");
  CHECK(parts.Bound(9) == "k109");
  CHECK(parts.Bound(10).empty());
  std::vector<std::pair<size_t, size_t>> got;
  for (int i = 0; i < 4; i++) {
    auto p = parts.Take();
    REQUIRE(p);
    got.emplace_back(p->lo, p->hi);
  }
  CHECK(got == std::vector<std::pair<size_t, size_t>>{{0, 2}, {2, 5}, {5, 7}, {7, 10}});
  for (int i = 0; i < 4; i++) parts.Done(Status::Ok());
  CHECK_FALSE(parts.Take());

  // No cuts: one part, the whole listing.
  ListParts whole({}, 8);
  auto p = whole.Take();
  REQUIRE(p);
  CHECK((p->lo == 0 && p->hi == 1));
  CHECK_FALSE(whole.Split(&*p, "zzz"));  // nobody idle, nothing to split anyway
  whole.Done(Status::Ok());
  CHECK_FALSE(whole.Take());
}

TEST_CASE("list_parts: a part is split above the last key only for an idle worker") {
  ListParts parts(Cuts(15), 1);  // one part, bounds [0, 16)
  auto p = parts.Take();
  REQUIRE(p);
  CHECK_FALSE(parts.Split(&*p, "k103"));  // no one idle
  std::optional<ListParts::Part> other;
  std::thread idle([&] { other = parts.Take(); });
  // Split only succeeds once the other thread waits in Take.
  while (!parts.Split(&*p, "k103x")) std::this_thread::yield();
  idle.join();
  // Above k103x the first bound is k104 (index 4): the rest [4, 16) is cut at 10.
  CHECK((p->lo == 0 && p->hi == 10));
  REQUIRE(other);
  CHECK((other->lo == 10 && other->hi == 16));

  // Past the last cut there is nothing to split at.
  ListParts tail(Cuts(3), 1);  // [0, 4)
  auto t = tail.Take();
  REQUIRE(t);
  std::optional<ListParts::Part> got;
  std::thread waiter([&] { got = tail.Take(); });
  while (tail.TEST_idle_workers() == 0) std::this_thread::yield();
  CHECK_FALSE(tail.Split(&*t, "k103"));
  CHECK(tail.Split(&*t, "k101"));  // bounds above: k102 (2), k103 (3): [3, 4) is queued
  waiter.join();
  CHECK((t->lo == 0 && t->hi == 3));
  REQUIRE(got);
  CHECK((got->lo == 3 && got->hi == 4));
  CHECK(tail.parts_made() == 2);
  tail.Done(Status::Ok());
  tail.Done(Status::Ok());
  CHECK_FALSE(tail.Take());
}

TEST_CASE("list_parts: a failure stops the listing for every worker") {
  ListParts parts(Cuts(9), 3);
  auto a = parts.Take();
  REQUIRE(a);
  parts.Done(Status(EIO, "first"));
  CHECK_FALSE(parts.Take());  // the two queued parts are dropped
  CHECK(parts.status().message() == "first");
}

}  // namespace
}  // namespace s3disk
