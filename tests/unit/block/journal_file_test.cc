#include "block/journal_file.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>

#include "power_cut_io.h"

namespace s3disk {
namespace {

constexpr uint32_t kBs = 512;
constexpr uint64_t kCap = 8192;
const std::string kId = "bucket b prefix ''";

struct Opened {
  PowerCutIo* io = nullptr;
  std::unique_ptr<JournalFile> file;
};

Opened OpenOn(std::vector<uint8_t> image, const std::string& id = kId, uint32_t bs = kBs,
              uint64_t cap = kCap) {
  auto io = std::make_unique<PowerCutIo>(std::move(image));
  Opened o;
  o.io = io.get();
  Result<std::unique_ptr<JournalFile>> f = JournalFile::Open(std::move(io), "j", id, bs, cap);
  REQUIRE(f.ok());
  o.file = std::move(*f);
  return o;
}

// Appends a record as Journal does: at pos, with the next sequence number.
JournalRecord Put(JournalFile& f, uint64_t& pos, uint64_t& seq, uint64_t epoch,
                  JournalRecord::Kind kind, BlockNum block, std::vector<uint8_t> data,
                  uint32_t offset = 0) {
  JournalRecord r;
  r.kind = kind;
  r.block = block;
  r.offset = offset;
  r.length = static_cast<uint32_t>(data.size());
  r.epoch = epoch;
  if (f.capacity() - pos % f.capacity() < r.size()) {
    JournalRecord pad;
    pad.kind = JournalRecord::Kind::kPad;
    pad.pos = pos;
    pad.seq = seq++;
    pad.epoch = epoch;
    REQUIRE(f.Write(pad, {}).ok());
    pos += f.capacity() - pos % f.capacity();
  }
  r.pos = pos;
  r.seq = seq++;
  REQUIRE(f.Write(r, data).ok());
  pos += r.size();
  return r;
}

}  // namespace

TEST_CASE("journal file: records written and synced are found again, in order", "[journal]") {
  Opened o = OpenOn({});
  uint64_t pos = o.file->head_pos(), seq = o.file->head_seq();
  Put(*o.file, pos, seq, 1, JournalRecord::Kind::kData, 3, std::vector<uint8_t>(kBs, 7));
  Put(*o.file, pos, seq, 1, JournalRecord::Kind::kPart, 3, {1, 2, 3}, 100);
  Put(*o.file, pos, seq, 2, JournalRecord::Kind::kZero, 4, {});
  JournalRecord trim;
  trim.kind = JournalRecord::Kind::kTrim;
  trim.block = 5;
  trim.count = 9;
  trim.epoch = 3;
  trim.pos = pos;
  trim.seq = seq;
  REQUIRE(o.file->Write(trim, {}).ok());
  REQUIRE(o.file->Sync().ok());

  Opened again = OpenOn(o.io->Image());
  const auto& found = again.file->found();
  REQUIRE(found.size() == 4);
  CHECK(found[0].kind == JournalRecord::Kind::kData);
  CHECK(found[1].kind == JournalRecord::Kind::kPart);
  CHECK(found[1].offset == 100);
  CHECK(found[2].kind == JournalRecord::Kind::kZero);
  CHECK(found[3].kind == JournalRecord::Kind::kTrim);
  CHECK(found[3].count == 9);
  std::vector<uint8_t> part(3);
  REQUIRE(again.file->ReadData(found[1], part).ok());
  CHECK(part == std::vector<uint8_t>{1, 2, 3});
  CHECK(again.file->head_seq() == 5);
}

TEST_CASE("journal file: the ring wraps with a pad; the scan starts at the tail", "[journal]") {
  Opened o = OpenOn({});
  uint64_t pos = 0, seq = 1;
  std::vector<JournalRecord> recs;
  for (int i = 0; i < 20; i++) {
    recs.push_back(Put(*o.file, pos, seq, 1 + i / 4, JournalRecord::Kind::kData,
                       static_cast<BlockNum>(i), std::vector<uint8_t>(kBs, uint8_t(i + 1))));
    if (pos - o.file->tail_pos() > kCap - 2 * 640) {
      // Room for more: the oldest four go (as after an upload).
      const JournalRecord& next = recs[recs.size() - 4 + 1];
      REQUIRE(o.file->SetTail(next.pos, next.seq, next.epoch).ok());
    }
  }
  REQUIRE(o.file->Sync().ok());
  CHECK(pos > kCap);  // it did wrap
  Opened again = OpenOn(o.io->Image());
  const auto& found = again.file->found();
  REQUIRE(!found.empty());
  CHECK(found.back().block == 19);
  CHECK(found.front().pos == again.file->tail_pos());
  for (const JournalRecord& r : found) {
    std::vector<uint8_t> data(kBs);
    REQUIRE(again.file->ReadData(r, data).ok());
    CHECK(data == std::vector<uint8_t>(kBs, uint8_t(r.block + 1)));
  }
}

TEST_CASE("journal file: the scan stops at a torn record", "[journal]") {
  Opened o = OpenOn({});
  uint64_t pos = 0, seq = 1;
  Put(*o.file, pos, seq, 1, JournalRecord::Kind::kData, 1, std::vector<uint8_t>(kBs, 1));
  JournalRecord second =
      Put(*o.file, pos, seq, 1, JournalRecord::Kind::kData, 2, std::vector<uint8_t>(kBs, 2));
  Put(*o.file, pos, seq, 1, JournalRecord::Kind::kData, 3, std::vector<uint8_t>(kBs, 3));
  std::vector<uint8_t> image = o.io->Image();
  image[JournalFile::kRingStart + second.pos + JournalFile::kHeaderBytes + 10] ^= 1;
  Opened again = OpenOn(image);
  REQUIRE(again.file->found().size() == 1);
  CHECK(again.file->head_pos() == second.pos);
}

TEST_CASE("journal file: a stale record of an earlier mount after the new ones is not taken",
          "[journal]") {
  // Mount 1 wrote three records but synced none; the power cut kept the first and third.
  // Mount 2 writes over the second's place with the same sequence number: after another cut,
  // the old third follows it with the right sequence number, but an older epoch.
  Opened o = OpenOn({});
  uint64_t pos = 0, seq = 1;
  Result<uint64_t> base1 = o.file->NewEpochBase();
  REQUIRE(base1.ok());
  Put(*o.file, pos, seq, *base1, JournalRecord::Kind::kData, 1, std::vector<uint8_t>(kBs, 1));
  const uint64_t second_pos = pos, second_seq = seq;
  Put(*o.file, pos, seq, *base1, JournalRecord::Kind::kData, 2, std::vector<uint8_t>(kBs, 2));
  Put(*o.file, pos, seq, *base1, JournalRecord::Kind::kData, 3, std::vector<uint8_t>(kBs, 3));
  std::vector<uint8_t> image = o.io->Image();
  // The second torn: its header gone.
  memset(image.data() + JournalFile::kRingStart + second_pos, 0, JournalFile::kHeaderBytes);
  Opened two = OpenOn(image);
  REQUIRE(two.file->found().size() == 1);
  Result<uint64_t> base2 = two.file->NewEpochBase();
  REQUIRE(base2.ok());
  CHECK(*base2 > *base1);
  uint64_t pos2 = second_pos, seq2 = second_seq;
  Put(*two.file, pos2, seq2, *base2, JournalRecord::Kind::kData, 9, std::vector<uint8_t>(kBs, 9));
  REQUIRE(two.file->Sync().ok());
  Opened three = OpenOn(two.io->Image());
  REQUIRE(three.file->found().size() == 2);
  CHECK(three.file->found()[1].block == 9);
  // Mount 2's records uploaded: the tail passes them and the old third is next in line, with
  // the right sequence number. The tail's epoch keeps it out.
  REQUIRE(three.file->SetTail(pos2, seq2, *base2 + 1).ok());
  Opened four = OpenOn(three.io->Image());
  CHECK(four.file->found().empty());
}

TEST_CASE("journal file: a torn header copy leaves the other; two are refused", "[journal]") {
  Opened o = OpenOn({});
  uint64_t pos = 0, seq = 1;
  Put(*o.file, pos, seq, 1, JournalRecord::Kind::kData, 1, std::vector<uint8_t>(kBs, 1));
  REQUIRE(o.file->SetMountToken(0x1234).ok());
  std::vector<uint8_t> image = o.io->Image();
  // Which copy is newest does not matter: each alone must do.
  for (size_t copy : {0, 4096}) {
    std::vector<uint8_t> torn = image;
    torn[copy + 20] ^= 0xff;
    Opened one = OpenOn(torn);
    CHECK(one.file->found().size() == 1);
  }
  std::vector<uint8_t> both = image;
  both[20] ^= 0xff;
  both[4096 + 20] ^= 0xff;
  auto io = std::make_unique<PowerCutIo>(both);
  PowerCutIo* raw = io.get();
  Result<std::unique_ptr<JournalFile>> refused =
      JournalFile::Open(std::move(io), "j", kId, kBs, kCap);
  REQUIRE(refused.status().code() == EINVAL);
  CHECK(refused.status().message().find("no valid header") != std::string::npos);
  (void)raw;
  // A file no longer than the header area holds no record: it is made afresh.
  Opened fresh = OpenOn(std::vector<uint8_t>(100, 0xab));
  CHECK(fresh.file->found().empty());
}

TEST_CASE("journal file: another bucket's records are refused, an empty one is remade",
          "[journal]") {
  Opened o = OpenOn({});
  uint64_t pos = 0, seq = 1;
  Put(*o.file, pos, seq, 1, JournalRecord::Kind::kData, 1, std::vector<uint8_t>(kBs, 1));
  REQUIRE(o.file->Sync().ok());
  auto io = std::make_unique<PowerCutIo>(o.io->Image());
  Result<std::unique_ptr<JournalFile>> other =
      JournalFile::Open(std::move(io), "j", "bucket other prefix ''", kBs, kCap);
  REQUIRE(other.status().code() == EINVAL);
  CHECK(other.status().message().find("holds 1 writes") != std::string::npos);
  // Empty (tail at head): remade for the new bucket and size.
  REQUIRE(o.file->SetTail(pos, seq, 2).ok());
  Opened remade = OpenOn(o.io->Image(), "bucket other prefix ''", kBs, 2 * kCap);
  CHECK(remade.file->found().empty());
  CHECK(remade.file->capacity() == 2 * kCap);
}

TEST_CASE("journal file: ReadClaim tells the token and the writes waiting", "[journal]") {
  char dir[] = "/tmp/journal_file_test.XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/j";
  Result<CacheClaim> none = JournalFile::ReadClaim(path, kId);
  REQUIRE(none.ok());
  CHECK(none->dirty_blocks == 0);
  {
    Result<std::unique_ptr<JournalFile>> f = JournalFile::OpenPath(path, kId, kBs, kCap);
    REQUIRE(f.ok());
    REQUIRE((*f)->SetMountToken(0xabcd).ok());
    uint64_t pos = 0, seq = 1;
    Put(**f, pos, seq, 1, JournalRecord::Kind::kData, 1, std::vector<uint8_t>(kBs, 1));
    Put(**f, pos, seq, 1, JournalRecord::Kind::kZero, 2, {});
    REQUIRE((*f)->Sync().ok());
    // While it is open, another process could not read it.
    CHECK(JournalFile::ReadClaim(path, kId).status().code() == EBUSY);
  }
  Result<CacheClaim> claim = JournalFile::ReadClaim(path, kId);
  REQUIRE(claim.ok());
  CHECK(claim->token == 0xabcd);
  CHECK(claim->dirty_blocks == 2);
  unlink(path.c_str());
  rmdir(dir);
}

}  // namespace s3disk
