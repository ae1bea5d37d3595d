// Unit tests for the mount token decisions of src/stack.cc: creating, refusing, taking over,
// releasing and resetting it, and what a cache file's dirty blocks may do.
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "app/stack.h"
#include "app/stack_testing.h"
#include "base/clock.h"
#include "base/crypto.h"
#include "block/block_key.h"
#include "block/bucket_meta.h"
#include "block/codec.h"
#include "block/object_block_store.h"
#include "fakes.h"
#include "object/mem_store.h"
#include "object_store_contract.h"
#include "s3/s3_store.h"

namespace s3disk {
namespace {

using stack_testing::CheckError;
using stack_testing::LocalConfig;
using stack_testing::Pattern;

TEST_CASE("stack: AcquireMountToken writes a token on a free bucket") {
  FakeClock clock;
  Config c = LocalConfig();
  c.prefix = "p/";
  RecordingObjectStore rec;
  Result<uint32_t> token = AcquireMountToken(rec, c, clock);
  REQUIRE(token.ok());
  CHECK(*token != 0);
  CHECK(*token != kSharedDiskToken);
  // Created only if absent, then once more to learn whether the store honoured that.
  CHECK(rec.CountCalls("put " + MountTokenKey("p/")) == 2);
  Result<uint32_t> stored = ReadMountToken(rec, "p/");
  REQUIRE(stored.ok());
  CHECK(*stored == *token);

  // A clean unmount deletes it.
  REQUIRE(ReleaseMountToken(rec, c, *token).ok());
  CHECK_FALSE(rec.Has(MountTokenKey("p/")));
}

TEST_CASE("stack: AcquireMountToken refuses a mounted bucket unless told otherwise") {
  FakeClock clock;
  Config c = LocalConfig();
  RecordingObjectStore rec;
  REQUIRE(WriteMountToken(rec, "", 0x1234abcd, clock).ok());
  rec.ClearCalls();

  Result<uint32_t> refused = AcquireMountToken(rec, c, clock);
  CheckError(refused.status(), EBUSY,
             "bucket mem: prefix '' is already mounted (token 1234abcd), or was not unmounted "
             "cleanly; if it is not in use, run again with --reset-mounted-flag");
  CHECK(rec.CountCalls("put") == 0);
  CHECK(rec.CountCalls("delete") == 0);
  CHECK(*ReadMountToken(rec, "") == 0x1234abcd);

  // --force: go on, with a new token.
  c.force = true;
  Result<uint32_t> forced = AcquireMountToken(rec, c, clock);
  REQUIRE(forced.ok());
  CHECK(*ReadMountToken(rec, "") == *forced);

  // --reset-mounted-flag: clear, then take it.
  c.force = false;
  c.reset_mounted_flag = true;
  rec.ClearCalls();
  Result<uint32_t> reset = AcquireMountToken(rec, c, clock);
  REQUIRE(reset.ok());
  CHECK(rec.CountCalls("delete " + MountTokenKey("")) == 1);
  CHECK(rec.CountCalls("put " + MountTokenKey("")) == 2);
  CHECK(*ReadMountToken(rec, "") == *reset);

  // Another prefix in the same bucket is another disk.
  c.reset_mounted_flag = false;
  c.prefix = "other/";
  CHECK(AcquireMountToken(rec, c, clock).ok());
}

TEST_CASE("stack: a cache file's token tells our crashed mount from someone else's") {
  FakeClock clock;
  Config c = LocalConfig();
  RecordingObjectStore rec;

  // The bucket still holds the token the cache file recorded: our own crash, taken over.
  REQUIRE(WriteMountToken(rec, "", 0x1234abcd, clock).ok());
  Result<uint32_t> token = AcquireMountToken(rec, c, clock, CacheClaim{0x1234abcd, 5});
  REQUIRE(token.ok());
  CHECK(*token != 0x1234abcd);
  CHECK(*ReadMountToken(rec, "") == *token);

  // Another token: someone else holds the bucket; the claim does not help.
  token = AcquireMountToken(rec, c, clock, CacheClaim{0x1234abcd, 5});
  REQUIRE_FALSE(token.ok());
  CHECK(token.status().code() == EBUSY);

  // No token but dirty blocks: the bucket was mounted (and cleanly released) since. Not
  // even --force uploads them: only the option that says so.
  REQUIRE(ClearMountToken(rec, "").ok());
  rec.ClearCalls();
  token = AcquireMountToken(rec, c, clock, CacheClaim{0x1234abcd, 5});
  CheckError(token.status(), EBUSY,
             "bucket mem: prefix '': --blockCacheFile holds 5 dirty blocks of an earlier mount "
             "(token 1234abcd), but the bucket was mounted since (its mount token is gone), so "
             "uploading them could overwrite newer data; remove the cache file to discard them, "
             "or add --uploadStaleDirtyBlocks to upload them over whatever the bucket holds now");
  c.force = true;
  CHECK(AcquireMountToken(rec, c, clock, CacheClaim{0x1234abcd, 5}).status().code() == EBUSY);
  CHECK(rec.CountCalls("put") == 0);  // refused before writing anything
  c.force = false;
  c.upload_stale_dirty_blocks = true;
  CHECK(AcquireMountToken(rec, c, clock, CacheClaim{0x1234abcd, 5}).ok());
  c.upload_stale_dirty_blocks = false;

  // No dirty blocks: nothing to protect, a plain mount.
  REQUIRE(ClearMountToken(rec, "").ok());
  CHECK(AcquireMountToken(rec, c, clock, CacheClaim{0x1234abcd, 0}).ok());
}

TEST_CASE("stack: a read-only mount neither reads nor writes the token") {
  FakeClock clock;
  Config c = LocalConfig();
  c.read_only = true;
  RecordingObjectStore rec;
  REQUIRE(WriteMountToken(rec, "", 7, clock).ok());
  rec.ClearCalls();
  Result<uint32_t> token = AcquireMountToken(rec, c, clock);
  REQUIRE(token.ok());
  CHECK(*token == 0);
  REQUIRE(ReleaseMountToken(rec, c, *token).ok());
  CHECK(rec.calls().empty());
}

TEST_CASE("stack: ResetMountedFlag clears the token, and is fine without one") {
  FakeClock clock;
  Config c = LocalConfig();
  auto rec = std::make_shared<RecordingObjectStore>();
  REQUIRE(ResetMountedFlag(rec, c, clock).ok());
  CHECK(rec->CountCalls("delete") == 0);
  REQUIRE(WriteMountToken(*rec, "", 42, clock).ok());
  REQUIRE(ResetMountedFlag(rec, c, clock).ok());
  CHECK_FALSE(rec->Has(MountTokenKey("")));
}

TEST_CASE("stack: a clean unmount deletes only its own token") {
  FakeClock clock;
  Config c = LocalConfig();
  RecordingObjectStore rec;
  Result<uint32_t> ours = AcquireMountToken(rec, c, clock);
  REQUIRE(ours.ok());
  // Another mount took the bucket over with --reset-mounted-flag meanwhile.
  REQUIRE(WriteMountToken(rec, "", 0x5678, clock).ok());
  REQUIRE(ReleaseMountToken(rec, c, *ours).ok());
  CHECK(*ReadMountToken(rec, "") == 0x5678);
}

TEST_CASE("stack: of 20 mounts starting together, exactly one gets the bucket") {
  auto mem = std::make_shared<MemStore>();
  Config c = LocalConfig();
  std::atomic<int> won{0}, busy{0};
  std::vector<std::thread> mounts;
  for (int i = 0; i < 20; i++) {
    mounts.emplace_back([&] {
      FakeClock clock;
      Result<uint32_t> token = AcquireMountToken(*mem, c, clock);
      if (token.ok()) won++;
      if (!token.ok() && token.status().code() == EBUSY) busy++;
    });
  }
  for (auto& t : mounts) t.join();
  CHECK(won == 1);
  CHECK(busy == 19);
}

TEST_CASE("stack: a mounted bucket is refused before anything else is looked at") {
  FakeClock clock;
  auto rec = std::make_shared<RecordingObjectStore>();
  Config c = LocalConfig();  // no --size, and the bucket holds no geometry yet
  REQUIRE(WriteMountToken(*rec, "", 0x1234abcd, clock).ok());
  rec->ClearCalls();
  Status st = OpenStack(c, rec, clock).status();
  CHECK(st.code() == EBUSY);
  CHECK(st.message().find("already mounted") != std::string::npos);
  CHECK(rec->calls() == std::vector<std::string>{"head " + MountTokenKey("")});
}

TEST_CASE("stack: --reset-mounted-flag never uploads dirty blocks over a newer mount's data") {
  FakeClock clock;
  Config c = LocalConfig();
  c.reset_mounted_flag = true;
  RecordingObjectStore rec;
  // Host A crashed with token 1234abcd and 5 dirty blocks; host B reset the flag and mounted
  // (token 5678); A restarts with --reset-mounted-flag.
  REQUIRE(WriteMountToken(rec, "", 0x5678, clock).ok());
  rec.ClearCalls();
  Result<uint32_t> token = AcquireMountToken(rec, c, clock, CacheClaim{0x1234abcd, 5});
  REQUIRE_FALSE(token.ok());
  CHECK(token.status().code() == EBUSY);
  CHECK(token.status().message().find("it now holds token 00005678") != std::string::npos);
  CHECK(token.status().message().find("--uploadStaleDirtyBlocks") != std::string::npos);
  CHECK(rec.CountCalls("put") + rec.CountCalls("delete") == 0);
  CHECK(*ReadMountToken(rec, "") == 0x5678);
  // Said explicitly: the flag is cleared and the blocks go up.
  c.upload_stale_dirty_blocks = true;
  token = AcquireMountToken(rec, c, clock, CacheClaim{0x1234abcd, 5});
  REQUIRE(token.ok());
  CHECK(*ReadMountToken(rec, "") == *token);
}

// A cache file as a crashed mount with token leaves it: dirty blocks 0 and 1 (of 64 blocks of
// 4096 bytes, 8 slots), for the bucket of LocalConfig().
void MakeCrashedCacheFile(const std::string& path, uint32_t token) {
  auto file = CacheFile::Open(path, "bucket mem: prefix ''", 4096, 64, 8);
  REQUIRE(file.ok());
  REQUIRE((*file)->Put(0, 0, true, 1, Pattern(4096, 3), false).ok());
  REQUIRE((*file)->Put(1, 1, true, 2, Pattern(4096, 4), false).ok());
  REQUIRE((*file)->SetMountToken(token).ok());
}

// A bucket in memory and the cache file a crashed mount with token 0x1234abcd left.
struct CrashedMount {
  CrashedMount() { MakeCrashedCacheFile(path, 0x1234abcd); }
  testing::ScopedTempDir dir;
  const std::string path = dir.path() + "/cache";
  FakeClock clock;
  std::shared_ptr<MemStore> mem = std::make_shared<MemStore>();
};

Config CacheFileConfig(const std::string& path) {
  Config c = LocalConfig();
  c.size_bytes = 64 * 4096;
  c.block_size = 4096;
  c.cache.cache_size_blocks = 8;
  c.block_cache_file = path;
  return c;
}

TEST_CASE("stack: reset with the cache file of the crashed mount uploads its blocks first") {
  CrashedMount crashed;
  const std::string& path = crashed.path;
  FakeClock& clock = crashed.clock;
  auto& mem = crashed.mem;
  REQUIRE(WriteMountToken(*mem, "", 0x1234abcd, clock).ok());

  // s3disk --reset-mounted-flag --blockCacheFile=PATH BUCKET: the blocks go up now, so that
  // no mount between the reset and the next one with the file can be overwritten by them.
  Config reset = CacheFileConfig(path);
  reset.reset_mounted_flag = true;
  reset.args = {"mem:"};
  REQUIRE(ResetMountedFlag(mem, reset, clock).ok());
  CHECK(*ReadMountToken(*mem, "") == 0);
  Result<Object> block1 = mem->Get(BlockKey("", false, 1));
  REQUIRE(block1.ok());
  CHECK(block1->data == Pattern(4096, 4));
  Result<CacheClaim> claim = CacheFile::ReadClaim(path, "bucket mem: prefix ''");
  REQUIRE(claim.ok());
  CHECK(claim->dirty_blocks == 0);
  // The next mount with the file is a plain one.
  Result<OpenedStack> opened = OpenStack(CacheFileConfig(path), mem, clock);
  REQUIRE(opened.ok());
  REQUIRE(ReleaseUnservedMount(*opened, CacheFileConfig(path)).ok());
  CHECK(*ReadMountToken(*mem, "") == 0);
}

TEST_CASE("stack: reset with the cache file of another mount leaves the file's claim") {
  CrashedMount crashed;
  const std::string& path = crashed.path;
  FakeClock& clock = crashed.clock;
  auto& mem = crashed.mem;
  REQUIRE(WriteMountToken(*mem, "", 0x5678, clock).ok());  // someone mounted since
  Config reset = CacheFileConfig(path);
  reset.reset_mounted_flag = true;
  reset.args = {"mem:"};
  REQUIRE(ResetMountedFlag(mem, reset, clock).ok());
  CHECK(*ReadMountToken(*mem, "") == 0);
  Result<CacheClaim> claim = CacheFile::ReadClaim(path, "bucket mem: prefix ''");
  REQUIRE(claim.ok());
  CHECK(claim->token == 0x1234abcd);
  CHECK(claim->dirty_blocks == 2);
  Status st = OpenStack(CacheFileConfig(path), mem, clock).status();
  CHECK(st.code() == EBUSY);
  CHECK(st.message().find("--uploadStaleDirtyBlocks") != std::string::npos);
  CHECK(*ReadMountToken(*mem, "") == 0);  // nothing written
}

TEST_CASE("stack: a --force start that fails puts the live mount's token back") {
  FakeClock clock;
  auto mem = std::make_shared<MemStore>();
  Config c = LocalConfig();
  c.size_bytes = 64 * 4096;
  c.block_size = 4096;
  c.force = true;
  REQUIRE(WriteMountToken(*mem, "", 0x5678, clock).ok());  // a live mount
  Result<OpenedStack> opened = OpenStack(c, mem, clock);
  REQUIRE(opened.ok());
  CHECK(*ReadMountToken(*mem, "") == opened->mount_token);
  CHECK(opened->forced_over == 0x5678);
  // The FUSE mount fails: the bucket must not be left without the live mount's flag.
  REQUIRE(ReleaseUnservedMount(*opened, c).ok());
  CHECK(*ReadMountToken(*mem, "") == 0x5678);
}

TEST_CASE("stack: a start that fails after recovery began keeps the token for the next mount") {
  CrashedMount crashed;
  const std::string& path = crashed.path;
  FakeClock& clock = crashed.clock;
  auto& mem = crashed.mem;
  REQUIRE(WriteMountToken(*mem, "", 0x1234abcd, clock).ok());
  {
    Result<OpenedStack> opened = OpenStack(CacheFileConfig(path), mem, clock);
    REQUIRE(opened.ok());
    // The FUSE mount (or nbdkit's bind) fails: the token stays, the file records it.
    REQUIRE(ReleaseUnservedMount(*opened, CacheFileConfig(path)).ok());
    CHECK(*ReadMountToken(*mem, "") == opened->mount_token);
  }
  // The next plain mount takes over.
  Result<OpenedStack> again = OpenStack(CacheFileConfig(path), mem, clock);
  REQUIRE(again.ok());
  // Without dirty blocks, a failed start leaves the bucket unmounted.
  REQUIRE(again->stack.top->Start().ok());
  REQUIRE(again->stack.bytes->Flush().ok());
  REQUIRE(again->stack.top->Shutdown().ok());
  REQUIRE(ReleaseMountToken(*mem, CacheFileConfig(path), again->mount_token).ok());
  again = Status(EIO, "closed");  // the cache file's lock goes with the stack
  Result<OpenedStack> clean = OpenStack(CacheFileConfig(path), mem, clock);
  REQUIRE(clean.ok());
  REQUIRE(ReleaseUnservedMount(*clean, CacheFileConfig(path)).ok());
  CHECK(*ReadMountToken(*mem, "") == 0);
}

}  // namespace
}  // namespace s3disk
