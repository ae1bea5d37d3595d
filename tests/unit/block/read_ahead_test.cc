// ReadAheadPolicy on its own: runs, windows and batches, read by read (no cache, no threads).
#include "block/read_ahead.h"

#include <catch2/catch.hpp>
#include <optional>
#include <string>

namespace s3disk {
namespace {

using Window = ReadAheadPolicy::Window;

// The window after a read of n as "from end batch", or "none".
std::string Read(ReadAheadPolicy& p, BlockNum n) {
  const std::optional<Window> w = p.NoteRead(n);
  if (!w.has_value()) return "none";
  return std::to_string(w->from) + " " + std::to_string(w->end) + " " + std::to_string(w->batch);
}

TEST_CASE("read_ahead: the trigger-th sequential read hands out the first window") {
  ReadAheadPolicy p(4, 2, 32, 1000);
  CHECK(Read(p, 10) == "none");
  CHECK(Read(p, 0) == "none");   // not sequential with 10: a new run
  CHECK(Read(p, 1) == "2 6 2");  // the second read of the run: 2..5, batches of half
  const std::optional<Window> w = p.NoteRead(2);
  REQUIRE(w.has_value());
  CHECK(w->max_queued == 4 * 5);  // four windows (the window is 5 now)
}

TEST_CASE("read_ahead: the window widens by a block per read, up to the most") {
  ReadAheadPolicy p(2, 2, 5, 1000);
  CHECK(Read(p, 0) == "none");
  CHECK(Read(p, 1) == "2 4 1");     // window 2, batches of 1
  CHECK(Read(p, 2) == "4 6 1");     // window 3: what is not handed out yet
  CHECK(Read(p, 3) == "6 8 2");     // window 4
  CHECK(Read(p, 4) == "8 10 2");    // window 5, the most
  CHECK(Read(p, 5) == "none");      // only 10 is missing: less than a batch
  CHECK(Read(p, 6) == "10 12 2");   // now a batch
  CHECK(Read(p, 20) == "none");     // a jump ends the run
  CHECK(Read(p, 21) == "22 24 1");  // and the window starts again at 2
}

TEST_CASE("read_ahead: a wide window goes in batches of kFetchBatchBlocks") {
  static_assert(ReadAheadPolicy::kFetchBatchBlocks == 16);
  ReadAheadPolicy p(32, 2, 64, 1000);
  CHECK(Read(p, 0) == "none");
  CHECK(Read(p, 1) == "2 34 16");
}

TEST_CASE("read_ahead: reads a little out of order stay in the run") {
  constexpr BlockNum kReorder = ReadAheadPolicy::kReorderBlocks;
  ReadAheadPolicy p(4, 3, 32, 1000);
  CHECK(Read(p, 100) == "none");
  CHECK(Read(p, 102) == "none");             // a little ahead: extends the run (2 reads)
  CHECK(Read(p, 101) == "none");             // a little behind: part of the run, changes nothing
  CHECK(Read(p, 102) == "none");             // the same block again (another part of it)
  CHECK(Read(p, 103) == "104 108 2");        // the third read of the run
  CHECK(Read(p, 103 - kReorder) == "none");  // as far behind as may be: in the run
  CHECK(Read(p, 103 + kReorder) == "112 117 2");  // as far ahead: the fourth read, window 5
  CHECK(Read(p, 111 + kReorder + 1) == "none");   // further: a new run
}

TEST_CASE("read_ahead: a new run forgets what an earlier run handed out") {
  ReadAheadPolicy p(16, 2, 64, 1000);
  CHECK(Read(p, 40) == "none");
  CHECK(Read(p, 41) == "42 58 8");
  CHECK(Read(p, 0) == "none");
  CHECK(Read(p, 1) == "2 18 8");  // whole batches from the new run's start
  CHECK(Read(p, 2) == "none");    // only 18 and 19 are new: less than a batch
}

TEST_CASE("read_ahead: no window goes past the end of the disk") {
  ReadAheadPolicy p(4, 2, 32, 10);
  CHECK(Read(p, 7) == "none");
  CHECK(Read(p, 8) == "9 10 2");   // less than a batch, but the disk ends there
  CHECK(Read(p, 9) == "10 10 2");  // nothing left to hand out
}

TEST_CASE("read_ahead: a first window of 0 turns it off") {
  ReadAheadPolicy p(0, 0, 32, 1000);
  for (BlockNum n = 0; n < 40; n++) CHECK(Read(p, n) == "none");
}

TEST_CASE("read_ahead: the widest window by default: a fetch per worker, two batches") {
  CHECK(ReadAheadPolicy::MaxBlocks(5, 40, 200) == 5);  // asked for
  CHECK(ReadAheadPolicy::MaxBlocks(0, 40, 200) == 40);
  CHECK(ReadAheadPolicy::MaxBlocks(0, 6, 200) == 2 * ReadAheadPolicy::kFetchBatchBlocks);
  CHECK(ReadAheadPolicy::MaxBlocks(0, 20, 40) == 10);  // a quarter of the cache
  CHECK(ReadAheadPolicy(4, 2, 7, 1000).TEST_max_blocks() == 7);
}

}  // namespace
}  // namespace s3disk
