#include "block/journal.h"

#include <catch2/catch.hpp>
#include <thread>

#include "fakes.h"
#include "power_cut_io.h"

namespace s3disk {
namespace {

constexpr uint32_t kBs = 512;
constexpr uint64_t kBlocks = 64;

struct Fixture {
  RecordingBlockStore* bucket = nullptr;
  PowerCutIo* io = nullptr;
  std::unique_ptr<Journal> journal;

  explicit Fixture(uint64_t capacity = 64 * 1024, bool uploader = false) {
    auto below = std::make_unique<RecordingBlockStore>(kBs, kBlocks);
    bucket = below.get();
    auto file_io = std::make_unique<PowerCutIo>();
    io = file_io.get();
    Result<std::unique_ptr<JournalFile>> file =
        JournalFile::Open(std::move(file_io), "j", "bucket b prefix ''", kBs, capacity);
    REQUIRE(file.ok());
    JournalOptions o;
    o.capacity_bytes = capacity;
    o.start_uploader = uploader;
    journal = std::make_unique<Journal>(std::move(below), std::move(*file), o, Clock::Real());
    REQUIRE(journal->Start().ok());
    bucket->ClearCalls();
  }
  uint64_t Stat(const std::string& name) {
    std::string out;
    journal->DumpStats(&out);
    size_t at = out.find(name + " ");
    REQUIRE(at != std::string::npos);
    return std::stoull(out.substr(at + name.size() + 1));
  }
};

std::vector<uint8_t> Filled(uint8_t v) { return std::vector<uint8_t>(kBs, v); }

}  // namespace

TEST_CASE("journal: writes are read back from the ring before they go below", "[journal]") {
  Fixture f;
  f.bucket->SetBlock(2, Filled(9));
  REQUIRE(f.journal->WriteBlock(1, Filled(1)).ok());
  REQUIRE(f.journal->WritePart(2, 10, std::vector<uint8_t>(5, 3)).ok());
  REQUIRE(f.journal->WriteBlock(3, {}).ok());
  std::vector<uint8_t> buf(kBs);
  REQUIRE(f.journal->ReadBlock(1, buf).ok());
  CHECK(buf == Filled(1));
  REQUIRE(f.journal->ReadBlock(2, buf).ok());
  std::vector<uint8_t> want = Filled(9);
  std::fill(want.begin() + 10, want.begin() + 15, 3);
  CHECK(buf == want);
  std::vector<uint8_t> part(6);
  REQUIRE(f.journal->ReadPart(2, 9, part).ok());
  CHECK(part == std::vector<uint8_t>{9, 3, 3, 3, 3, 3});
  REQUIRE(f.journal->ReadBlock(3, buf).ok());
  CHECK(buf == Filled(0));
  for (const std::string& call : f.bucket->calls()) {
    CHECK(call.rfind("write", 0) != 0);
    CHECK(call.rfind("part", 0) != 0);
  }
}

TEST_CASE("journal: a flush syncs the ring and does not wait for below", "[journal]") {
  Fixture f;
  REQUIRE(f.journal->WriteBlock(1, Filled(1)).ok());
  const uint64_t syncs = f.io->syncs();
  REQUIRE(f.journal->Flush().ok());
  CHECK(f.io->syncs() == syncs + 1);
  CHECK(f.bucket->calls().empty());
  // Nothing new: no second sync.
  REQUIRE(f.journal->Flush().ok());
  CHECK(f.io->syncs() == syncs + 1);
  CHECK(f.Stat("journal_fsyncs") == 2);
  CHECK(f.Stat("journal_epochs_pending") == 1);
}

TEST_CASE("journal: epochs go below in order, each block's last version once, then a flush",
          "[journal]") {
  Fixture f;
  REQUIRE(f.journal->WriteBlock(1, Filled(1)).ok());
  REQUIRE(f.journal->WriteBlock(2, Filled(2)).ok());
  REQUIRE(f.journal->WriteBlock(2, Filled(3)).ok());
  REQUIRE(f.journal->Flush().ok());
  REQUIRE(f.journal->WritePart(1, 0, std::vector<uint8_t>(4, 5)).ok());
  REQUIRE(f.journal->Trim(2, 3).ok());
  REQUIRE(f.journal->Flush().ok());
  REQUIRE(f.journal->TEST_UploadEpoch() == 1);
  CHECK(f.bucket->calls() == std::vector<std::string>{"write 1", "write 2", "flush"});
  CHECK(f.bucket->Block(2) == Filled(3));
  f.bucket->ClearCalls();
  REQUIRE(f.journal->TEST_UploadEpoch() == 1);  // the part of block 1
  CHECK(f.bucket->calls() == std::vector<std::string>{"read 1", "write 1", "flush"});
  f.bucket->ClearCalls();
  REQUIRE(f.journal->TEST_UploadEpoch() == 1);  // the trim, an epoch of its own
  CHECK(f.bucket->calls() == std::vector<std::string>{"trim 2+3", "flush"});
  CHECK(f.journal->TEST_UploadEpoch() == 0);
  CHECK(f.Stat("journal_bytes") == 0);
  CHECK(f.Stat("journal_epochs_pending") == 0);
  std::vector<uint8_t> want = Filled(1);
  std::fill(want.begin(), want.begin() + 4, 5);
  CHECK(f.bucket->Block(1) == want);
}

TEST_CASE("journal: a failed upload keeps the epoch, and it goes again", "[journal]") {
  Fixture f;
  REQUIRE(f.journal->WriteBlock(1, Filled(1)).ok());
  REQUIRE(f.journal->Flush().ok());
  f.bucket->FailNext(1, EIO);
  CHECK(f.journal->TEST_UploadEpoch() == -1);
  CHECK(f.Stat("journal_upload_errors") == 1);
  CHECK(f.Stat("journal_epochs_pending") == 1);
  REQUIRE(f.journal->TEST_UploadEpoch() == 1);
  CHECK(f.bucket->Block(1) == Filled(1));
}

TEST_CASE("journal: a failed write to the ring fails the write and the flushes after it",
          "[journal]") {
  for (int code : {ENOSPC, EIO}) {
    Fixture f;
    REQUIRE(f.journal->WriteBlock(1, Filled(1)).ok());
    f.io->FailWrites(1, code);
    Status failed = f.journal->WriteBlock(2, Filled(2));
    CHECK(failed.code() == EIO);
    REQUIRE(f.journal->WriteBlock(3, Filled(3)).ok());
    CHECK(f.journal->Flush().code() == EIO);  // block 3 is behind the hole
    // Once the epoch with the hole is in the bucket, flushes are durable again.
    REQUIRE(f.journal->TEST_UploadEpoch() == 1);
    CHECK(f.bucket->Block(1) == Filled(1));
    CHECK(f.bucket->Block(3) == Filled(3));
    CHECK(f.bucket->Block(2) == Filled(0));
    REQUIRE(f.journal->WriteBlock(4, Filled(4)).ok());
    CHECK(f.journal->Flush().ok());
  }
}

TEST_CASE("journal: a failed sync fails that flush and the next ones until uploaded", "[journal]") {
  for (int code : {ENOSPC, EIO}) {
    Fixture f;
    f.bucket->SetBlock(1, Filled(8));
    f.bucket->SetBlock(5, Filled(5));
    REQUIRE(f.journal->WriteBlock(5, Filled(6)).ok());  // lost too, and read first
    REQUIRE(f.journal->WritePart(1, 0, std::vector<uint8_t>(4, 7)).ok());
    REQUIRE(f.journal->WriteBlock(1, Filled(1)).ok());
    f.io->FailSyncs(1, code);
    CHECK(f.journal->Flush().code() == EIO);
    // A later sync succeeds, but what the failed one dropped is not on disk: still EIO.
    REQUIRE(f.journal->WriteBlock(2, Filled(2)).ok());
    CHECK(f.journal->Flush().code() == EIO);
    REQUIRE(f.journal->TEST_UploadEpoch() == 1);
    REQUIRE(f.journal->TEST_UploadEpoch() == 1);
    // The fake disk dropped the unsynced writes, as Linux may after a failed fdatasync: the
    // blocks go up as they were without them (their flush said EIO), never as other bytes;
    // block 2 was synced since.
    CHECK(f.bucket->Block(1) == Filled(8));
    CHECK(f.bucket->Block(5) == Filled(5));
    CHECK(f.bucket->Block(2) == Filled(2));
    REQUIRE(f.journal->WriteBlock(3, Filled(3)).ok());
    CHECK(f.journal->Flush().ok());
  }
}

TEST_CASE("journal: survey and batched reads see the ring and below", "[journal]") {
  Fixture f;
  f.bucket->SetBlock(5, Filled(5));
  f.bucket->SetBlock(6, Filled(6));
  REQUIRE(f.journal->WriteBlock(7, Filled(7)).ok());
  std::vector<BlockNum> found;
  REQUIRE(f.journal->SurveyNonZero([&](BlockNum n) { found.push_back(n); }).ok());
  std::sort(found.begin(), found.end());
  CHECK(found == std::vector<BlockNum>{5, 6, 7});
  f.bucket->ClearCalls();
  std::vector<std::vector<uint8_t>> bufs(3, std::vector<uint8_t>(kBs));
  std::vector<std::span<uint8_t>> spans(bufs.begin(), bufs.end());
  std::vector<BlockNum> ns = {5, 7, 6};
  std::vector<Status> st = f.journal->ReadBlocks(ns, spans);
  for (const Status& s : st) CHECK(s.ok());
  CHECK(bufs[0] == Filled(5));
  CHECK(bufs[1] == Filled(7));
  CHECK(bufs[2] == Filled(6));
  CHECK(f.bucket->calls().front() == "batch 5 6");
}

TEST_CASE("journal: with the ring full writers wait for the uploader, nothing is dropped",
          "[journal]") {
  Fixture f(4 * 1024, /*uploader=*/true);  // six whole-block records
  for (int round = 0; round < 5; round++) {
    for (BlockNum n = 0; n < kBlocks; n++) {
      REQUIRE(f.journal->WriteBlock(n, Filled(uint8_t(n + round))).ok());
    }
  }
  CHECK(f.Stat("journal_full_waits") > 0);
  REQUIRE(f.journal->Shutdown().ok());
  for (BlockNum n = 0; n < kBlocks; n++) CHECK(f.bucket->Block(n) == Filled(uint8_t(n + 4)));
}

TEST_CASE("journal: a restart takes in the ring's records and uploads them", "[journal]") {
  std::vector<uint8_t> ring;
  {
    Fixture f;
    REQUIRE(f.journal->WriteBlock(1, Filled(1)).ok());
    REQUIRE(f.journal->Flush().ok());
    ring = f.io->Image();
  }
  auto below = std::make_unique<RecordingBlockStore>(kBs, kBlocks);
  RecordingBlockStore* bucket = below.get();
  Result<std::unique_ptr<JournalFile>> file = JournalFile::Open(
      std::make_unique<PowerCutIo>(ring), "j", "bucket b prefix ''", kBs, 64 * 1024);
  REQUIRE(file.ok());
  JournalOptions o;
  o.start_uploader = false;
  Journal j(std::move(below), std::move(*file), o, Clock::Real());
  REQUIRE(j.Start().ok());
  std::vector<uint8_t> buf(kBs);
  REQUIRE(j.ReadBlock(1, buf).ok());
  CHECK(buf == Filled(1));
  REQUIRE(j.Shutdown().ok());
  CHECK(bucket->Block(1) == Filled(1));
}

TEST_CASE("journal: a ring holding writes past the disk's end is refused at start", "[journal]") {
  std::vector<uint8_t> ring;
  {
    Fixture f;
    REQUIRE(f.journal->WriteBlock(kBlocks - 1, Filled(1)).ok());
    REQUIRE(f.journal->Flush().ok());
    ring = f.io->Image();
  }
  // The disk shrank (--size with --force) while the write was pending.
  auto below = std::make_unique<RecordingBlockStore>(kBs, kBlocks / 2);
  RecordingBlockStore* bucket = below.get();
  Result<std::unique_ptr<JournalFile>> file = JournalFile::Open(
      std::make_unique<PowerCutIo>(ring), "j", "bucket b prefix ''", kBs, 64 * 1024);
  REQUIRE(file.ok());
  JournalOptions o;
  o.start_uploader = false;
  Journal j(std::move(below), std::move(*file), o, Clock::Real());
  Status st = j.Start();
  CHECK(st.code() == EINVAL);
  CHECK(st.message().find("past the disk's end") != std::string::npos);
  CHECK(bucket->calls().empty());  // nothing started below, nothing uploaded
}

}  // namespace s3disk
