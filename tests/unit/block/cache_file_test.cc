// CacheFile on its own (records, torn writes, geometry checks), and BlockCache with a cache
// file across a simulated crash (the cache destroyed without Shutdown) and a clean restart.
#include "block/cache_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "base/buffer_pool.h"
#include "base/clock.h"
#include "block/block_cache.h"
#include "fakes.h"

namespace s3disk {
namespace {

constexpr uint32_t kBs = 512;
constexpr uint64_t kBlocks = 64;
constexpr uint32_t kSlots = 8;
// Where slot s's record and data start (the format in cache_file.cc).
constexpr uint64_t RecordOffset(uint32_t s) { return 4096 + uint64_t{s} * (512 + kBs); }

std::vector<uint8_t> Fill(uint8_t v) { return std::vector<uint8_t>(kBs, v); }

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/cache_file_test.XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string File() const { return path + "/cache"; }
  std::string path;
};

std::unique_ptr<CacheFile> OpenFile(const std::string& path, uint32_t slots = kSlots,
                                    const std::string& id = "bucket/prefix") {
  auto f = CacheFile::Open(path, id, kBs, kBlocks, slots);
  REQUIRE(f.ok());
  return std::move(*f);
}

void Poke(const std::string& path, uint64_t offset, uint8_t byte) {
  int fd = open(path.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(pwrite(fd, &byte, 1, static_cast<off_t>(offset)) == 1);
  close(fd);
}

TEST_CASE("cache_file: records survive a reopen; clear and mark clean change them") {
  TempDir dir;
  {
    auto f = OpenFile(dir.File());
    CHECK(f->fresh());
    CHECK(f->found().empty());
    REQUIRE(f->Put(0, 0x2a, true, 5, Fill(1), false).ok());
    REQUIRE(f->Put(1, 0x2b, true, 6, {}, true).ok());
    REQUIRE(f->Put(2, 0x2c, true, 7, Fill(3), false).ok());
    REQUIRE(f->MarkClean(2).ok());
    REQUIRE(f->Put(3, 0x2d, false, 8, Fill(4), false).ok());
    REQUIRE(f->Clear(3).ok());
    REQUIRE(f->Sync().ok());
  }
  auto f = OpenFile(dir.File());
  CHECK_FALSE(f->fresh());
  CHECK(f->bad_records() == 0);
  REQUIRE(f->found().size() == 3);
  const CacheFile::Found& a = f->found()[0];
  CHECK(a.slot == 0);
  CHECK(a.n == 0x2a);
  CHECK(a.dirty);
  CHECK(a.seq == 5);
  std::vector<uint8_t> data(kBs);
  REQUIRE(f->ReadData(a, data).ok());
  CHECK(data == Fill(1));
  CHECK(f->found()[1].zero);
  REQUIRE(f->ReadData(f->found()[1], data).ok());
  CHECK(data == Fill(0));
  CHECK_FALSE(f->found()[2].dirty);
  REQUIRE(f->ReadData(f->found()[2], data).ok());
  CHECK(data == Fill(3));
}

TEST_CASE("cache_file: the mount token and the dirty count survive a reopen") {
  TempDir dir;
  {
    auto f = OpenFile(dir.File());
    CHECK(f->mount_token() == 0);
    REQUIRE(f->Put(0, 0x2a, true, 5, Fill(1), false).ok());
    REQUIRE(f->Put(1, 0x2b, false, 6, Fill(2), false).ok());
    REQUIRE(f->SetMountToken(0x1234abcd).ok());
    CHECK(f->mount_token() == 0x1234abcd);
  }
  auto f = OpenFile(dir.File());
  CHECK_FALSE(f->fresh());  // the rewritten header still checks out
  CHECK(f->mount_token() == 0x1234abcd);
  CHECK(f->dirty_found() == 1);
}

TEST_CASE("cache_file: ReadClaim reads token and dirty count without the geometry") {
  TempDir dir;
  Result<CacheClaim> none = CacheFile::ReadClaim(dir.File(), "bucket/prefix");
  REQUIRE(none.ok());
  CHECK(none->token == 0);
  CHECK(none->dirty_blocks == 0);
  {
    auto f = OpenFile(dir.File());
    REQUIRE(f->Put(0, 0x2a, true, 5, Fill(1), false).ok());
    REQUIRE(f->Put(1, 0x2b, false, 6, Fill(2), false).ok());
    REQUIRE(f->SetMountToken(0x1234abcd).ok());
    // In use by a mount: EBUSY, not a guess.
    CHECK(CacheFile::ReadClaim(dir.File(), "bucket/prefix").status().code() == EBUSY);
  }
  Result<CacheClaim> claim = CacheFile::ReadClaim(dir.File(), "bucket/prefix");
  REQUIRE(claim.ok());
  CHECK(claim->token == 0x1234abcd);
  CHECK(claim->dirty_blocks == 1);
  // Another bucket's file says nothing about this one.
  Result<CacheClaim> other = CacheFile::ReadClaim(dir.File(), "bucket/other");
  REQUIRE(other.ok());
  CHECK(other->token == 0);
  CHECK(other->dirty_blocks == 0);
}

TEST_CASE("cache_file: a file whose header is not ours is refused and left untouched") {
  TempDir dir;
  {
    auto f = OpenFile(dir.File());
    REQUIRE(f->Put(0, 1, true, 1, Fill(1), false).ok());  // a dirty block behind the header
  }
  Poke(dir.File(), 30, 0x5a);  // inside the header (the mount token): its checksum fails
  const auto before = std::filesystem::file_size(dir.File());
  auto damaged = CacheFile::Open(dir.File(), "bucket/prefix", kBs, kBlocks, kSlots);
  CHECK(damaged.status().code() == EINVAL);
  CHECK(damaged.status().message().find(dir.File()) != std::string::npos);
  CHECK(damaged.status().message().find("move it aside") != std::string::npos);
  CHECK(std::filesystem::file_size(dir.File()) == before);
  Poke(dir.File(), 30, 0);  // put the byte back: the dirty block is still there
  auto f = OpenFile(dir.File());
  CHECK(f->dirty_found() == 1);

  // Another program's file is never truncated either; a file of zeros is a new cache file.
  const std::string other = dir.path + "/notes.txt";
  { std::ofstream(other) << "my notes\n"; }
  CHECK(CacheFile::Open(other, "bucket/prefix", kBs, kBlocks, kSlots).status().code() == EINVAL);
  CHECK(std::filesystem::file_size(other) == 9);
  // Nor one that starts with zeros (a disk image: its first sectors are often empty).
  const std::string image = dir.path + "/disk.img";
  { std::ofstream(image) << std::string(8192, '\0') << "superblock"; }
  CHECK(CacheFile::Open(image, "bucket/prefix", kBs, kBlocks, kSlots).status().code() == EINVAL);
  CHECK(std::filesystem::file_size(image) == 8202);
  // ReadClaim, which decides about the mount token before Open, refuses it the same way.
  CHECK(CacheFile::ReadClaim(image, "bucket/prefix").status().code() == EINVAL);
  // A file of holes only (a creation that stopped before its header) is a new cache file.
  const std::string holes = dir.path + "/holes";
  { std::ofstream created{holes}; }
  std::filesystem::resize_file(holes, 1 << 20);
  auto fresh = CacheFile::Open(holes, "bucket/prefix", kBs, kBlocks, kSlots);
  REQUIRE(fresh.ok());
  CHECK((*fresh)->fresh());
}

TEST_CASE("cache_file: a torn record or torn data is detected, never served") {
  TempDir dir;
  {
    auto f = OpenFile(dir.File());
    REQUIRE(f->Put(0, 1, true, 1, Fill(1), false).ok());
    REQUIRE(f->Put(1, 2, true, 2, Fill(2), false).ok());
  }
  Poke(dir.File(), RecordOffset(0) + 17, 0xff);         // inside record 0 (its seq)
  Poke(dir.File(), RecordOffset(1) + 512 + 100, 0xff);  // inside slot 1's data
  auto f = OpenFile(dir.File());
  CHECK(f->bad_records() == 1);
  REQUIRE(f->found().size() == 1);
  CHECK(f->found()[0].n == 2);
  std::vector<uint8_t> data(kBs);
  CHECK(f->ReadData(f->found()[0], data).code() == EBADMSG);
}

TEST_CASE("cache_file: another geometry starts afresh, unless dirty blocks would be lost") {
  TempDir dir;
  {
    auto f = OpenFile(dir.File());
    REQUIRE(f->Put(0, 1, false, 1, Fill(1), false).ok());
  }
  {
    auto f = OpenFile(dir.File(), kSlots * 2);  // clean only: reset
    CHECK(f->fresh());
    CHECK(f->found().empty());
    REQUIRE(f->Put(0, 1, true, 1, Fill(1), false).ok());
  }
  auto other = CacheFile::Open(dir.File(), "bucket/prefix", kBs, kBlocks, kSlots);
  CHECK(other.status().code() == EINVAL);
  auto foreign = CacheFile::Open(dir.File(), "another/bucket", kBs, kBlocks, kSlots * 2);
  CHECK(foreign.status().code() == EINVAL);
  auto same = CacheFile::Open(dir.File(), "bucket/prefix", kBs, kBlocks, kSlots * 2);
  REQUIRE(same.ok());
  CHECK((*same)->found().size() == 1);
  // One process at a time.
  auto twice = CacheFile::Open(dir.File(), "bucket/prefix", kBs, kBlocks, kSlots * 2);
  CHECK(twice.status().code() == EBUSY);
}

// A BlockCache over a recording store with a cache file at path.
struct FileCache {
  FileCache(const std::string& path, RecordingBlockStore** below_out,
            std::function<Status(BlockNum, const std::string&)> verify = nullptr,
            bool no_verify = false, uint32_t threads = 0) {
    BlockCacheOptions o;
    o.cache_size_blocks = kSlots;
    o.threads = threads;
    o.read_ahead_blocks = 0;
    o.no_verify = no_verify;
    BlockCacheFile file;
    file.file = OpenFile(path);
    file.verify_clean = std::move(verify);
    auto below = std::make_unique<RecordingBlockStore>(kBs, kBlocks);
    *below_out = below.get();
    made = BlockCache::Create(std::move(below), std::move(o), pool, clock, std::move(file));
  }
  BlockCache& cache() { return **made; }
  FakeClock clock;
  BufferPool pool;  // (before made: it outlives the cached blocks)
  Result<std::unique_ptr<BlockCache>> made = Status(EINVAL, "unset");
};

TEST_CASE("cache_file: dirty blocks of a crashed cache are uploaded at the next start") {
  TempDir dir;
  RecordingBlockStore* below = nullptr;
  {
    FileCache crashed(dir.File(), &below);
    REQUIRE(crashed.made.ok());
    REQUIRE(crashed.cache().Start().ok());
    REQUIRE(crashed.cache().WriteBlock(3, Fill(3)).ok());
    REQUIRE(crashed.cache().WritePart(4, 10, std::vector<uint8_t>(5, 4)).ok());
    REQUIRE(crashed.cache().WriteBlock(5, Fill(5)).ok());
    REQUIRE(crashed.cache().WriteBlock(5, {}).ok());  // dirty zero
    CHECK(below->CountCalls("write") == 0);
    // Crash: the cache goes away without Flush or Shutdown.
  }
  FileCache next(dir.File(), &below);
  REQUIRE(next.made.ok());
  below->SetBlock(5, Fill(0x55));  // the bucket's stale version
  REQUIRE(next.cache().Start().ok());
  // Uploaded before Start returned, without waiting for the write delay.
  CHECK(below->Block(3) == Fill(3));
  std::vector<uint8_t> want(kBs, 0);
  std::fill(want.begin() + 10, want.begin() + 15, 4);
  CHECK(below->Block(4) == want);
  CHECK_FALSE(below->HasData(5));
  CHECK(next.cache().counters().recovered_blocks == 3);
  CHECK(next.cache().counters().dirty_blocks == 0);
  std::string stats;
  next.cache().DumpStats(&stats);
  CHECK(stats.find("block_cache_recovered_blocks 3\n") != std::string::npos);
  // They are cached too.
  below->ClearCalls();
  std::vector<uint8_t> buf(kBs);
  REQUIRE(next.cache().ReadBlock(3, buf).ok());
  CHECK(buf == Fill(3));
  CHECK(below->CountCalls("read") == 0);
  REQUIRE(next.cache().Shutdown().ok());
}

TEST_CASE("cache_file: a torn dirty record is ignored, never served") {
  TempDir dir;
  RecordingBlockStore* below = nullptr;
  {
    FileCache crashed(dir.File(), &below);
    REQUIRE(crashed.cache().Start().ok());
    REQUIRE(crashed.cache().WriteBlock(3, Fill(3)).ok());
  }
  // A power cut tore the block's data after its record was written: tear every slot's data
  // (whichever slot holds the block).
  for (uint32_t s = 0; s < kSlots; s++) Poke(dir.File(), RecordOffset(s) + 512 + 7, 0x99);
  FileCache next(dir.File(), &below);
  below->SetBlock(3, Fill(0x33));
  REQUIRE(next.cache().Start().ok());
  CHECK(next.cache().counters().recovered_blocks == 0);
  CHECK(below->CountCalls("write") == 0);
  std::vector<uint8_t> buf(kBs);
  REQUIRE(next.cache().ReadBlock(3, buf).ok());
  CHECK(buf == Fill(0x33));  // the bucket's data, not the torn slot's
  REQUIRE(next.cache().Shutdown().ok());
}

TEST_CASE("cache_file: clean blocks are reused after a restart when the bucket agrees") {
  TempDir dir;
  RecordingBlockStore* below = nullptr;
  std::vector<std::string> asked;
  auto agree = [&](BlockNum n, const std::string& md5) {
    asked.push_back(RecordingBlockStore::Hex(n) + " " + md5);
    return Status::Ok();
  };
  auto disagree = [](BlockNum, const std::string&) { return Status(ENOENT, "changed"); };
  {
    FileCache first(dir.File(), &below);
    REQUIRE(first.cache().Start().ok());
    REQUIRE(first.cache().WriteBlock(2, Fill(2)).ok());
    REQUIRE(first.cache().Shutdown().ok());  // uploaded, then marked clean in the file
  }
  {
    FileCache second(dir.File(), &below, agree);
    REQUIRE(second.cache().Start().ok());
    CHECK(asked == std::vector<std::string>{"2 " + Md5Hex(Fill(2))});
    below->ClearCalls();
    std::vector<uint8_t> buf(kBs);
    REQUIRE(second.cache().ReadBlock(2, buf).ok());
    CHECK(buf == Fill(2));
    CHECK(below->CountCalls("read") == 0);
    CHECK(second.cache().counters().reused_clean_blocks == 1);
    REQUIRE(second.cache().Shutdown().ok());
  }
  {
    FileCache third(dir.File(), &below, disagree);
    REQUIRE(third.cache().Start().ok());
    CHECK(third.cache().counters().reused_clean_blocks == 0);
    std::vector<uint8_t> buf(kBs);
    REQUIRE(third.cache().ReadBlock(2, buf).ok());
    CHECK(below->CountCalls("read 2") == 1);  // the stale copy was dropped
    REQUIRE(third.cache().Shutdown().ok());
  }
  {
    FileCache fourth(dir.File(), &below, disagree, /*no_verify=*/true);
    REQUIRE(fourth.cache().Start().ok());
    CHECK(fourth.cache().counters().reused_clean_blocks == 1);  // refetched by third
    REQUIRE(fourth.cache().Shutdown().ok());
  }
}

TEST_CASE("cache_file: clean blocks are verified several at a time at start") {
  TempDir dir;
  RecordingBlockStore* below = nullptr;
  {
    FileCache first(dir.File(), &below);
    REQUIRE(first.cache().Start().ok());
    for (uint8_t n = 1; n <= 4; n++) REQUIRE(first.cache().WriteBlock(n, Fill(n)).ok());
    REQUIRE(first.cache().Shutdown().ok());  // uploaded, marked clean in the file
  }
  // A gate: each check waits until a second one is in flight. Checked one at a time, the
  // first would wait alone (the bounded wait is only a safety net so a failure cannot hang).
  std::mutex m;
  std::condition_variable cv;
  int in_flight = 0, max_in_flight = 0, calls = 0;
  bool open = false;
  auto gated = [&](BlockNum, const std::string&) {
    std::unique_lock<std::mutex> lock(m);
    calls++;
    in_flight++;
    max_in_flight = std::max(max_in_flight, in_flight);
    if (in_flight >= 2) open = true;
    cv.notify_all();
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return open; })) open = true;
    in_flight--;
    return Status::Ok();
  };
  FileCache second(dir.File(), &below, gated, /*no_verify=*/false, /*threads=*/4);
  REQUIRE(second.cache().Start().ok());
  CHECK(calls == 4);
  CHECK(max_in_flight >= 2);
  CHECK(second.cache().counters().reused_clean_blocks == 4);
  REQUIRE(second.cache().Shutdown().ok());
}

}  // namespace
}  // namespace s3disk
