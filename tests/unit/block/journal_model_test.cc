// The journal against a model, with power cuts. Random writes (whole, partial, zero), trims,
// flushes and epoch uploads run on a Journal over a recording "bucket" and a PowerCutIo
// ring file; then the power is cut (the ring keeps what was synced, a random subset of the
// later writes, one torn). Checked after every cut, exactly, block by block:
//   (a) with the ring: a journal reopened on it over the bucket reads as the image after some
//       prefix of the writes that includes every write before the last acknowledged flush;
//       after its Shutdown the bucket holds that image;
//   (b) without the ring: the bucket is the image at the end of some epoch k plus, for some
//       blocks, their last version of epoch k + 1 (epochs end at every flush, around every
//       trim, and where the journal closes one itself).
// The seed of each run is printed on failure; S3DISK_JOURNAL_SEED=N replays run N alone.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>

#include "block/journal.h"
#include "fakes.h"
#include "power_cut_io.h"

namespace s3disk {
namespace {

constexpr uint32_t kBs = 512;
constexpr uint64_t kBlocks = 12;
constexpr uint64_t kCapacity = 16 * 1024;  // about 28 whole-block records: the ring wraps
const std::string kIdentity = "bucket model prefix ''";

using Image = std::vector<std::vector<uint8_t>>;

struct Run {
  std::mt19937_64 rng;
  Image image = Image(kBlocks, std::vector<uint8_t>(kBs, 0));
  std::vector<Image> after_op;  // the image after each write (index: write count)
  size_t acked_writes = 0;      // writes before the last acknowledged flush
  // Per epoch with writes, in order: the image at its end and its blocks' last versions.
  std::map<uint64_t, Image> epoch_end;
  std::map<uint64_t, std::map<BlockNum, std::vector<uint8_t>>> epoch_last;

  explicit Run(uint64_t seed) : rng(seed) { after_op.push_back(image); }

  void Wrote(Journal& j, const std::vector<BlockNum>& blocks) {
    const uint64_t e = j.TEST_last_epoch();
    after_op.push_back(image);
    epoch_end[e] = image;
    for (BlockNum b : blocks) epoch_last[e][b] = image[b];
  }
};

std::vector<uint8_t> RandomBytes(std::mt19937_64& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng() % 4);  // few values: zero blocks happen
  return v;
}

Image ReadAll(BlockStore& s) {
  Image out(kBlocks, std::vector<uint8_t>(kBs));
  for (BlockNum n = 0; n < kBlocks; n++) REQUIRE(s.ReadBlock(n, out[n]).ok());
  return out;
}

Image BucketImage(const RecordingBlockStore& bucket) {
  Image out;
  for (BlockNum n = 0; n < kBlocks; n++) out.push_back(bucket.Block(n));
  return out;
}

// (b): some epoch's end image, plus last versions of the next epoch for some blocks.
bool BucketIsConsistent(const Run& run, const Image& bucket) {
  std::vector<const Image*> ends = {&run.after_op.front()};
  std::vector<const std::map<BlockNum, std::vector<uint8_t>>*> nexts;
  for (const auto& [e, img] : run.epoch_end) {
    nexts.push_back(&run.epoch_last.at(e));
    ends.push_back(&img);
  }
  nexts.push_back(nullptr);
  for (size_t k = 0; k < ends.size(); k++) {
    bool ok = true;
    for (BlockNum b = 0; b < kBlocks && ok; b++) {
      if (bucket[b] == (*ends[k])[b]) continue;
      const auto* next = nexts[k];
      ok = next != nullptr && next->count(b) != 0 && next->at(b) == bucket[b];
    }
    if (ok) return true;
  }
  return false;
}

std::unique_ptr<Journal> OpenJournal(RecordingBlockStore*& bucket_out, Image bucket_image,
                                     std::vector<uint8_t> ring, PowerCutIo*& io_out,
                                     uint64_t auto_epoch_bytes) {
  auto bucket = std::make_unique<RecordingBlockStore>(kBs, kBlocks);
  for (BlockNum n = 0; n < kBlocks; n++) bucket->SetBlock(n, bucket_image[n]);
  bucket_out = bucket.get();
  auto io = std::make_unique<PowerCutIo>(std::move(ring));
  io_out = io.get();
  Result<std::unique_ptr<JournalFile>> file =
      JournalFile::Open(std::move(io), "model.journal", kIdentity, kBs, kCapacity);
  REQUIRE(file.ok());
  JournalOptions o;
  o.capacity_bytes = kCapacity;
  o.auto_epoch_bytes = auto_epoch_bytes;
  o.start_uploader = false;
  return std::make_unique<Journal>(std::move(bucket), std::move(*file), o, Clock::Real());
}

void RunOnce(uint64_t seed) {
  INFO("seed " << seed << " (replay: S3DISK_JOURNAL_SEED=" << seed << ")");
  Run run(seed);
  std::mt19937_64& rng = run.rng;
  RecordingBlockStore* bucket = nullptr;
  PowerCutIo* io = nullptr;
  const uint64_t auto_bytes = rng() % 2 == 0 ? 0 : 2048 + rng() % 4096;
  std::unique_ptr<Journal> j = OpenJournal(bucket, run.image, {}, io, auto_bytes);
  REQUIRE(j->Start().ok());
  const int ops = 20 + static_cast<int>(rng() % 200);
  for (int i = 0; i < ops; i++) {
    // Keep room for the next record: a single-threaded test cannot wait for it.
    while (j->TEST_free_bytes() < 2 * (kBs + JournalFile::kHeaderBytes) + 64) {
      REQUIRE(j->Flush().ok());
      run.acked_writes = run.after_op.size() - 1;
      REQUIRE(j->TEST_UploadEpoch() == 1);
    }
    const int op = static_cast<int>(rng() % 100);
    const BlockNum b = static_cast<BlockNum>(rng() % kBlocks);
    if (op < 35) {
      std::vector<uint8_t> data = RandomBytes(rng, kBs);
      const bool empty = rng() % 8 == 0;
      if (empty) data.assign(kBs, 0);
      REQUIRE(j->WriteBlock(b, empty ? std::span<const uint8_t>() : data).ok());
      run.image[b] = data;
      run.Wrote(*j, {b});
    } else if (op < 65) {
      const uint32_t off = static_cast<uint32_t>(rng() % kBs);
      const uint32_t len = 1 + static_cast<uint32_t>(rng() % (kBs - off));
      std::vector<uint8_t> data = RandomBytes(rng, len);
      REQUIRE(j->WritePart(b, off, data).ok());
      std::copy(data.begin(), data.end(), run.image[b].begin() + off);
      run.Wrote(*j, {b});
    } else if (op < 70) {
      const uint64_t count = 1 + rng() % (kBlocks - b);
      REQUIRE(j->Trim(b, count).ok());
      std::vector<BlockNum> blocks;
      for (uint64_t k = 0; k < count; k++) {
        run.image[b + k].assign(kBs, 0);
        blocks.push_back(static_cast<BlockNum>(b + k));
      }
      run.Wrote(*j, blocks);
    } else if (op < 82) {
      REQUIRE(j->Flush().ok());
      run.acked_writes = run.after_op.size() - 1;
    } else if (op < 90) {
      REQUIRE(j->TEST_UploadEpoch() >= 0);
    } else if (op < 95) {
      // An upload that the bucket fails part way: the epoch stays, partly below.
      bucket->FailNext(1 + static_cast<int>(rng() % 4), EIO);
      j->TEST_UploadEpoch();
      bucket->FailNext(0, 0);
    } else {
      // A read: the image so far, whatever is where.
      REQUIRE(ReadAll(*j) == run.image);
    }
  }
  REQUIRE(ReadAll(*j) == run.image);

  // The power cut: the ring as the disk holds it, the bucket as it is.
  const std::vector<uint8_t> ring = io->Crash(rng);
  const Image bucket_at_cut = BucketImage(*bucket);
  j.reset();  // no Shutdown: the process is gone

  // (b) the bucket alone.
  CHECK(BucketIsConsistent(run, bucket_at_cut));

  // (a) with the ring.
  std::unique_ptr<Journal> again = OpenJournal(bucket, bucket_at_cut, ring, io, auto_bytes);
  REQUIRE(again->Start().ok());
  const Image recovered = ReadAll(*again);
  bool prefix = false;
  for (size_t w = run.acked_writes; w < run.after_op.size() && !prefix; w++) {
    prefix = recovered == run.after_op[w];
  }
  CHECK(prefix);
  REQUIRE(again->Shutdown().ok());
  CHECK(BucketImage(*bucket) == recovered);
}

}  // namespace

TEST_CASE("journal model: power cuts keep every acknowledged flush and a consistent bucket",
          "[journal]") {
  if (const char* seed = std::getenv("S3DISK_JOURNAL_SEED")) {
    RunOnce(std::strtoull(seed, nullptr, 10));
    return;
  }
  for (uint64_t seed = 1; seed <= 300; seed++) RunOnce(seed);
}

}  // namespace s3disk
