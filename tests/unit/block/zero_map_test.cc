#include "block/zero_map.h"

#include <catch2/catch.hpp>
#include <set>

#include "fakes.h"

namespace s3disk {
namespace {

using Calls = std::vector<std::string>;
using Bytes = std::vector<uint8_t>;

constexpr uint32_t kBlockSize = 16;
constexpr uint64_t kBlocks = 100;  // more than one 32-block word of the map

// A ZeroMap over a RecordingBlockStore where blocks 3 and 40 hold data.
struct Fixture {
  explicit Fixture(bool survey) {
    auto rec = std::make_unique<RecordingBlockStore>(kBlockSize, kBlocks);
    below = rec.get();
    below->SetBlock(3, Bytes(kBlockSize, 3));
    below->SetBlock(40, Bytes(kBlockSize, 40));
    map = std::make_unique<ZeroMap>(std::move(rec), survey);
  }
  // Starts the map and forgets the start-up traffic.
  Fixture& Started() {
    REQUIRE(map->Start().ok());
    below->ClearCalls();
    return *this;
  }
  RecordingBlockStore* below;
  std::unique_ptr<ZeroMap> map;
};

TEST_CASE("zero_map: the start-up survey learns every block") {
  Fixture f(true);
  REQUIRE(f.map->Start().ok());
  CHECK(f.below->calls() == Calls{"start", "survey"});
  CHECK(f.map->known_zero_blocks() == kBlocks - 2);
  CHECK(f.map->unknown_blocks() == 0);
}

TEST_CASE("zero_map: reads of known-zero blocks never go below") {
  Fixture f(true);
  f.Started();
  Bytes buf(kBlockSize, 0xee);
  REQUIRE(f.map->ReadBlock(0, buf).ok());
  CHECK(buf == Bytes(kBlockSize, 0));
  uint8_t part[4] = {1, 1, 1, 1};
  REQUIRE(f.map->ReadPart(99, 4, part).ok());
  CHECK(Bytes(part, part + 4) == Bytes(4, 0));
  CHECK(f.below->calls().empty());
  REQUIRE(f.map->ReadBlock(3, buf).ok());
  CHECK(buf == Bytes(kBlockSize, 3));
  REQUIRE(f.map->ReadPart(40, 4, part).ok());
  CHECK(f.below->calls() == Calls{"read 3", "read 28 4+4"});
  std::string stats;
  f.map->DumpStats(&stats);
  CHECK(stats.find("zero_map_reads_elided 2\n") != std::string::npos);
}

TEST_CASE("zero_map: without a survey every block is asked below") {
  Fixture f(false);
  REQUIRE(f.map->Start().ok());
  Bytes buf(kBlockSize);
  REQUIRE(f.map->ReadBlock(0, buf).ok());
  CHECK(f.below->calls() == Calls{"start", "read 0"});
  CHECK(f.map->unknown_blocks() == kBlocks);
  // A zero write teaches it: afterwards the block is known zero.
  REQUIRE(f.map->WriteBlock(0, {}).ok());
  REQUIRE(f.map->ReadBlock(0, buf).ok());
  CHECK(f.below->calls() == Calls{"start", "read 0", "write 0 zero"});
  // Reads never teach it (block 1 stays unknown).
  REQUIRE(f.map->ReadBlock(1, buf).ok());
  REQUIRE(f.map->ReadBlock(1, buf).ok());
  CHECK(f.below->CountCalls("read 1") == 2);
}

TEST_CASE("zero_map: a zero write to a zero block is elided") {
  Fixture f(true);
  f.Started();
  REQUIRE(f.map->WriteBlock(5, Bytes(kBlockSize, 0)).ok());
  REQUIRE(f.map->WriteBlock(5, {}).ok());
  uint8_t zeros[3] = {0, 0, 0};
  REQUIRE(f.map->WritePart(5, 2, zeros).ok());
  CHECK(f.below->calls().empty());
  std::string stats;
  f.map->DumpStats(&stats);
  CHECK(stats.find("zero_map_writes_elided 3\n") != std::string::npos);
}

TEST_CASE("zero_map: zero writes to non-zero blocks go below as empty writes") {
  Fixture f(true);
  f.Started();
  REQUIRE(f.map->WriteBlock(3, Bytes(kBlockSize, 0)).ok());
  CHECK(f.below->calls() == Calls{"write 3 zero"});
  CHECK_FALSE(f.below->HasData(3));
  Bytes buf(kBlockSize, 0xee);
  REQUIRE(f.map->ReadBlock(3, buf).ok());
  CHECK(buf == Bytes(kBlockSize, 0));
  CHECK(f.below->calls() == Calls{"write 3 zero"});
  CHECK(f.map->known_zero_blocks() == kBlocks - 1);
}

TEST_CASE("zero_map: a data write makes the block non-zero") {
  Fixture f(true);
  f.Started();
  REQUIRE(f.map->WriteBlock(7, Bytes(kBlockSize, 7)).ok());
  Bytes buf(kBlockSize);
  REQUIRE(f.map->ReadBlock(7, buf).ok());
  CHECK(buf == Bytes(kBlockSize, 7));
  CHECK(f.below->calls() == Calls{"write 7", "read 7"});
}

TEST_CASE("zero_map: ReadBlocks sends only the blocks not known to be zero, together") {
  Fixture f(true);
  f.Started();
  REQUIRE(f.map->WriteBlock(5, Bytes(kBlockSize, 5)).ok());
  f.below->ClearCalls();
  std::vector<Bytes> bufs(3, Bytes(kBlockSize, 0xee));
  std::vector<std::span<uint8_t>> spans(bufs.begin(), bufs.end());
  const BlockNum ns[] = {3, 4, 5};
  std::vector<Status> st = f.map->ReadBlocks(ns, spans);
  CHECK((st[0].ok() && st[1].ok() && st[2].ok()));
  CHECK(bufs[0] == Bytes(kBlockSize, 3));
  CHECK(bufs[1] == Bytes(kBlockSize, 0));
  CHECK(bufs[2] == Bytes(kBlockSize, 5));
  CHECK(f.below->calls() == Calls{"batch 3 5", "read 3", "read 5"});
}

TEST_CASE("zero_map: a block's digest goes below with its data, not with zeros") {
  Fixture f(true);
  f.Started();
  const Bytes seven(kBlockSize, 7), zeros(kBlockSize, 0);
  const Md5Digest seven_md5 = Md5(seven), zeros_md5 = Md5(zeros);
  REQUIRE(f.map->WriteBlock(7, seven, {.md5 = &seven_md5}).ok());
  REQUIRE(f.map->WriteBlock(7, zeros, {.md5 = &zeros_md5}).ok());
  CHECK(f.below->calls() == Calls{"write 7", "write 7 zero"});
  CHECK(f.below->md5_given() == 1);  // the fake checked it
  CHECK(f.map->KnownZero(7));
}

TEST_CASE("zero_map: a partial write to a zero block sends no read") {
  Fixture f(true);
  f.Started();
  uint8_t data[3] = {1, 2, 3};
  REQUIRE(f.map->WritePart(6, 5, data).ok());
  CHECK(f.below->calls() == Calls{"write 6"});
  Bytes expect(kBlockSize, 0);
  expect[5] = 1;
  expect[6] = 2;
  expect[7] = 3;
  CHECK(f.below->Block(6) == expect);
  // To a non-zero block it is forwarded as a partial write.
  REQUIRE(f.map->WritePart(6, 0, data).ok());
  CHECK(f.below->calls() == Calls{"write 6", "part 6 0+3"});
  CHECK(f.map->WritePart(6, 14, data).code() == EINVAL);
}

TEST_CASE("zero_map: a failed write leaves the block unknown") {
  Fixture f(true);
  f.Started();
  BlockNum b = 8;
  SECTION("data write to a zero block") {
    f.below->FailNext(1, EIO);
    CHECK(f.map->WriteBlock(b, Bytes(kBlockSize, 8)).code() == EIO);
  }
  SECTION("zero write to a non-zero block") {
    b = 3;
    f.below->FailNext(1, EIO);
    CHECK(f.map->WriteBlock(b, {}).code() == EIO);
  }
  SECTION("partial write to a zero block") {
    f.below->FailNext(1, EIO);
    uint8_t data[2] = {1, 2};
    CHECK(f.map->WritePart(b, 0, data).code() == EIO);
  }
  SECTION("trim") {
    b = 40;
    f.below->FailNext(1, EIO);
    CHECK(f.map->Trim(b, 1).code() == EIO);
  }
  CHECK(f.map->unknown_blocks() == 1);
  f.below->ClearCalls();
  Bytes buf(kBlockSize);
  REQUIRE(f.map->ReadBlock(b, buf).ok());
  CHECK(f.below->calls() == Calls{"read " + RecordingBlockStore::Hex(b)});
  // And the map cannot answer a survey any more.
  REQUIRE(f.map->SurveyNonZero([](BlockNum) {}).ok());
  CHECK(f.below->CountCalls("survey") == 1);
}

TEST_CASE("zero_map: trim forwards only the runs not already zero") {
  Fixture f(true);
  f.Started();
  SECTION("an empty surveyed disk sends nothing") {
    REQUIRE(f.map->WriteBlock(3, {}).ok());
    REQUIRE(f.map->WriteBlock(40, {}).ok());
    f.below->ClearCalls();
    REQUIRE(f.map->Trim(0, kBlocks).ok());
    CHECK(f.below->calls().empty());
  }
  SECTION("runs around known-zero blocks") {
    REQUIRE(f.map->WriteBlock(4, Bytes(kBlockSize, 4)).ok());
    f.below->ClearCalls();
    REQUIRE(f.map->Trim(0, kBlocks).ok());
    CHECK(f.below->calls() == Calls{"trim 3+2", "trim 28+1"});
    CHECK(f.map->known_zero_blocks() == kBlocks);
    f.below->ClearCalls();
    REQUIRE(f.map->Trim(0, kBlocks).ok());
    CHECK(f.below->calls().empty());
  }
  SECTION("a run reaching the end") {
    REQUIRE(f.map->WriteBlock(99, Bytes(kBlockSize, 1)).ok());
    f.below->ClearCalls();
    REQUIRE(f.map->Trim(90, 10).ok());
    CHECK(f.below->calls() == Calls{"trim 63+1"});
  }
  CHECK(f.map->Trim(99, 2).code() == EINVAL);
}

TEST_CASE("zero_map: survey is answered from a fully known map") {
  Fixture f(true);
  f.Started();
  REQUIRE(f.map->WriteBlock(70, Bytes(kBlockSize, 1)).ok());
  REQUIRE(f.map->WriteBlock(3, {}).ok());
  f.below->ClearCalls();
  std::set<BlockNum> found;
  REQUIRE(f.map->SurveyNonZero([&](BlockNum n) { found.insert(n); }).ok());
  CHECK(found == std::set<BlockNum>{40, 70});
  CHECK(f.below->calls().empty());
}

TEST_CASE("zero_map: a failed start-up survey keeps every block unknown") {
  // A survey that reports a block, then fails: nothing it said may be kept.
  struct FailingSurvey : RecordingBlockStore {
    using RecordingBlockStore::RecordingBlockStore;
    Status SurveyNonZero(const std::function<void(BlockNum)>& found) override {
      found(3);
      return Status(EIO, "list failed");
    }
  };
  auto rec = std::make_unique<FailingSurvey>(kBlockSize, kBlocks);
  RecordingBlockStore* below = rec.get();
  ZeroMap map(std::move(rec), true);
  REQUIRE(map.Start().ok());
  CHECK(map.unknown_blocks() == kBlocks);
  CHECK(map.known_zero_blocks() == 0);
  Bytes buf(kBlockSize);
  REQUIRE(map.ReadBlock(0, buf).ok());
  CHECK(below->calls() == Calls{"start", "read 0"});
}

TEST_CASE("zero_map: stats, then the layer below") {
  Fixture f(true);
  f.Started();
  Bytes buf(kBlockSize);
  REQUIRE(f.map->ReadBlock(0, buf).ok());
  REQUIRE(f.map->WriteBlock(0, {}).ok());
  std::string stats;
  f.map->DumpStats(&stats);
  CHECK(stats ==
        "zero_map_known_zero 98\n"
        "zero_map_reads_elided 1\n"
        "zero_map_writes_elided 1\n"
        "recording_block_store_calls 0\n");
}

TEST_CASE("zero_map: stats under the name it was given") {
  auto rec = std::make_unique<RecordingBlockStore>(kBlockSize, kBlocks);
  rec->SetBlock(3, Bytes(kBlockSize, 3));
  ZeroMap map(std::move(rec), true, "lower_zero_map");
  REQUIRE(map.Start().ok());
  std::string stats;
  map.DumpStats(&stats);
  CHECK(stats ==
        "lower_zero_map_known_zero 99\n"
        "lower_zero_map_reads_elided 0\n"
        "lower_zero_map_writes_elided 0\n"
        "recording_block_store_calls 2\n");
}

}  // namespace
}  // namespace s3disk
