// Unit tests for the journal in the stack (--fsyncTo=journal): where BuildStack puts it, how
// its claim joins the cache file's in the mount token decisions, and the refusal of a mount
// without the journal while the journal holds writes that are not in the bucket.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "app/admin.h"
#include "app/stack.h"
#include "app/stack_testing.h"
#include "base/clock.h"
#include "block/block_key.h"
#include "block/bucket_meta.h"
#include "block/journal_file.h"
#include "fakes.h"
#include "object/mem_store.h"
#include "object_store_contract.h"

namespace s3disk {
namespace {

using stack_testing::CheckError;
using stack_testing::LocalConfig;
using stack_testing::Pattern;

const char kIdentity[] = "bucket mem: prefix ''";

// A mount of mem: (64 blocks of 4 KiB, 8 cached) with the cache file at path, and with
// --fsyncTo=journal (a journal of the smallest size) when journal is set.
Config FileConfig(const std::string& path, bool journal) {
  Config c = LocalConfig();
  c.size_bytes = 64 * 4096;
  c.block_size = 4096;
  c.cache.cache_size_blocks = 8;
  c.block_cache_file = path;
  if (journal) {
    c.fsync_to = FsyncTo::kJournal;
    c.journal.capacity_bytes = JournalFile::kMinCapacity;
  }
  return c;
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// The claim of the journal beside path.
CacheClaim JournalClaim(const std::string& path) {
  Result<CacheClaim> claim = JournalFile::ReadClaim(path + ".journal", kIdentity);
  REQUIRE(claim.ok());
  return *claim;
}

// A journal mount of mem: that crashed right after an fsync: the bucket holds its token, and
// its journal the two writes before the fsync (blocks 1 and 2), which never went down (no
// uploader); the cache file has no dirty block.
struct CrashedJournalMount {
  CrashedJournalMount() {
    Config c = FileConfig(path, true);
    c.journal.start_uploader = false;
    Result<OpenedStack> opened = OpenStack(c, mem, clock);
    REQUIRE(opened.ok());
    token = opened->mount_token;
    Stack& s = opened->stack;
    REQUIRE(s.top->Start().ok());
    REQUIRE(s.bytes->Write(1 * 4096, Pattern(4096, 5)).ok());
    REQUIRE(s.bytes->Write(2 * 4096, Pattern(4096, 6)).ok());
    REQUIRE(s.bytes->Flush().ok());
    // Dropped without Shutdown: a crash.
  }
  testing::ScopedTempDir dir;
  const std::string path = dir.path() + "/cache";
  FakeClock clock;
  std::shared_ptr<MemStore> mem = std::make_shared<MemStore>();
  uint32_t token = 0;
};

// Blocks 1 and 2 as the crashed mount wrote them, in the bucket.
void CheckUploaded(MemStore& mem) {
  Result<Object> one = mem.Get(BlockKey("", false, 1));
  REQUIRE(one.ok());
  CHECK(one->data == Pattern(4096, 5));
  Result<Object> two = mem.Get(BlockKey("", false, 2));
  REQUIRE(two.ok());
  CHECK(two->data == Pattern(4096, 6));
}

TEST_CASE("stack: the journal is composed only with --fsyncTo=journal, over the cache") {
  testing::ScopedTempDir dir;
  const std::string path = dir.path() + "/cache";
  auto mem = std::make_shared<MemStore>();
  const Geometry g{4096, 64 * 4096};

  // Without it: no journal, and no journal file is made.
  Result<Stack> plain = BuildStack(FileConfig(path, false), mem, g);
  REQUIRE(plain.ok());
  CHECK(plain->cache_file != nullptr);
  CHECK(plain->journal_file == nullptr);
  CHECK_FALSE(Exists(path + ".journal"));
  plain = Status(EIO, "closed");  // the cache file's lock goes with the stack

  Result<Stack> built = BuildStack(FileConfig(path, true), mem, g);
  REQUIRE(built.ok());
  Stack& s = *built;
  REQUIRE(s.journal_file != nullptr);
  CHECK(s.journal_file->path() == path + ".journal");
  CHECK(s.journal_file->capacity() == JournalFile::kMinCapacity);
  CHECK(s.journal_file->block_size() == 4096);
  REQUIRE(s.top->Start().ok());
  REQUIRE(s.bytes->Write(4096, Pattern(4096, 5)).ok());
  REQUIRE(s.bytes->Write(2 * 4096, Pattern(4096, 6)).ok());
  REQUIRE(s.bytes->Flush().ok());
  std::vector<uint8_t> back(4096);
  REQUIRE(s.bytes->Read(4096, back).ok());
  CHECK(back == Pattern(4096, 5));
  // From the top: the upper zero map, the journal, then the cache.
  std::string stats;
  s.top->DumpStats(&stats);
  CHECK(stats.starts_with("zero_map_"));
  const size_t journal = stats.find("\njournal_");
  const size_t cache = stats.find("\nblock_cache_hits ");
  REQUIRE(journal != std::string::npos);
  REQUIRE(cache != std::string::npos);
  CHECK(journal < cache);
  // Shutdown sends every write down: the bucket has them, the journal none.
  REQUIRE(s.top->Shutdown().ok());
  CheckUploaded(*mem);

  // The journal file belongs to the stack it was moved to.
  Stack moved;
  moved = std::move(s);
  CHECK(s.journal_file == nullptr);
  CHECK(s.cache_file == nullptr);
  CHECK(moved.journal_file != nullptr);
  moved = Stack();
  CHECK(JournalClaim(path).dirty_blocks == 0);
}

TEST_CASE("stack: BuildStack refuses a journal too small for four blocks") {
  testing::ScopedTempDir dir;
  Config c = FileConfig(dir.path() + "/cache", true);
  const Geometry g{4u << 20, 16 * (4u << 20)};
  CheckError(BuildStack(c, std::make_shared<MemStore>(), g).status(), EINVAL,
             "--journalSize=16m holds fewer than 4 blocks of 4m; use at least "
             "--journalSize=17m");
  CHECK_FALSE(Exists(c.JournalPath()));
  c.journal.capacity_bytes = 17 << 20;
  CHECK(BuildStack(c, std::make_shared<MemStore>(), g).ok());
}

TEST_CASE("stack: MergeClaims adds the journal's writes to the cache file's") {
  const Config c = FileConfig("/var/cache/d", true);
  auto merge = [&c](CacheClaim cache, CacheClaim journal) {
    Result<CacheClaim> merged = MergeClaims(c, cache, journal);
    REQUIRE(merged.ok());
    return std::pair<uint32_t, uint64_t>{merged->token, merged->dirty_blocks};
  };
  using P = std::pair<uint32_t, uint64_t>;
  CHECK(merge({}, {}) == P{0, 0});
  CHECK(merge({5, 3}, {}) == P{5, 3});
  // Neither holds writes: the cache file's token (every mount with it records it), else the
  // journal's.
  CHECK(merge({5, 0}, {7, 0}) == P{5, 0});
  CHECK(merge({0, 0}, {7, 0}) == P{7, 0});
  // The journal holds writes: its token, unless the cache file holds some of the same mount.
  CHECK(merge({5, 0}, {7, 2}) == P{7, 2});
  CHECK(merge({0, 0}, {7, 2}) == P{7, 2});
  CHECK(merge({7, 3}, {7, 2}) == P{7, 5});
  CHECK(merge({5, 3}, {0, 0}) == P{5, 3});
  // Writes of two mounts: their order is unknown.
  CheckError(MergeClaims(c, {5, 3}, {7, 2}).status(), EBUSY,
             "/var/cache/d holds 3 dirty blocks of the mount with token 00000005 but "
             "/var/cache/d.journal holds 2 writes of the mount with token 00000007, so which are "
             "newer is unknown; remove one of the two files to discard its writes");
}

TEST_CASE("stack: ReadLocalClaim reads the cache file and its journal") {
  CrashedJournalMount crashed;
  Result<LocalClaim> claim = ReadLocalClaim(FileConfig(crashed.path, true));
  REQUIRE(claim.ok());
  CHECK(claim->cache.token == crashed.token);
  CHECK(claim->cache.dirty_blocks == 0);
  CHECK(claim->journal.token == crashed.token);
  CHECK(claim->journal.dirty_blocks == 2);
  CHECK(claim->merged.token == crashed.token);
  CHECK(claim->merged.dirty_blocks == 2);
  // Without the option too: the files say what they hold either way.
  claim = ReadLocalClaim(FileConfig(crashed.path, false));
  REQUIRE(claim.ok());
  CHECK(claim->merged.dirty_blocks == 2);
  // No cache file: nothing claimed.
  claim = ReadLocalClaim(LocalConfig());
  REQUIRE(claim.ok());
  CHECK(claim->merged.token == 0);
  CHECK(claim->merged.dirty_blocks == 0);
}

TEST_CASE("stack: a journal holding writes refuses every mount without --fsyncTo=journal") {
  CrashedJournalMount crashed;
  auto& mem = crashed.mem;
  const std::string want = crashed.path +
                           ".journal holds 2 writes not yet in the bucket; mount with "
                           "--fsyncTo=journal to upload them first (or remove it to discard them)";
  Config plain = FileConfig(crashed.path, false);
  CheckError(OpenStack(plain, mem, crashed.clock).status(), EBUSY, want);
  // Nor as our own crashed mount taken over by force, read-only, or with the flag reset.
  for (int variant = 0; variant < 4; variant++) {
    INFO("variant " << variant);
    Config c = plain;
    c.force = variant == 0;
    c.reset_mounted_flag = variant == 1;
    c.read_only = variant == 2;
    c.upload_stale_dirty_blocks = variant == 3;
    CheckError(OpenStack(c, mem, crashed.clock).status(), EBUSY, want);
  }
  // Composed without a cache (which Validate refuses with --blockCacheFile anyway).
  plain.cache.cache_size_blocks = 0;
  CheckError(BuildStack(plain, mem, Geometry{4096, 64 * 4096}).status(), EBUSY, want);
  // Nothing was written: the crashed mount's token and nothing else.
  CHECK(*ReadMountToken(*mem, "") == crashed.token);
  CHECK_FALSE(mem->Head(BlockKey("", false, 1)).ok());
  CHECK(JournalClaim(crashed.path).dirty_blocks == 2);

  // With the journal the crashed mount is taken over: its writes read back at once and go up.
  {
    Result<OpenedStack> opened = OpenStack(FileConfig(crashed.path, true), mem, crashed.clock);
    REQUIRE(opened.ok());
    CHECK(opened->mount_token != crashed.token);
    CHECK(opened->forced_over == 0);
    CHECK(*ReadMountToken(*mem, "") == opened->mount_token);
    Stack& s = opened->stack;
    REQUIRE(s.top->Start().ok());
    std::vector<uint8_t> back(4096);
    REQUIRE(s.bytes->Read(2 * 4096, back).ok());
    CHECK(back == Pattern(4096, 6));
    REQUIRE(s.bytes->Flush().ok());
    REQUIRE(s.top->Shutdown().ok());
    REQUIRE(ReleaseMountToken(*mem, FileConfig(crashed.path, true), opened->mount_token).ok());
  }
  CheckUploaded(*mem);
  CHECK(JournalClaim(crashed.path).dirty_blocks == 0);
  // An empty journal stands in the way of no mount.
  Result<OpenedStack> again = OpenStack(FileConfig(crashed.path, false), mem, crashed.clock);
  REQUIRE(again.ok());
  CHECK(again->stack.journal_file == nullptr);
  REQUIRE(ReleaseUnservedMount(*again, FileConfig(crashed.path, false)).ok());
  CHECK(*ReadMountToken(*mem, "") == 0);
}

TEST_CASE("stack: the journal's token alone tells our crashed mount") {
  CrashedJournalMount crashed;
  // The cache file is gone (it held no dirty block): the journal still names the mount.
  REQUIRE(unlink(crashed.path.c_str()) == 0);
  Result<OpenedStack> opened =
      OpenStack(FileConfig(crashed.path, true), crashed.mem, crashed.clock);
  REQUIRE(opened.ok());
  CHECK(opened->forced_over == 0);
  // Both files record the new mount.
  CHECK(opened->stack.cache_file->mount_token() == opened->mount_token);
  CHECK(opened->stack.journal_file->mount_token() == opened->mount_token);
  REQUIRE(opened->stack.top->Start().ok());
  REQUIRE(opened->stack.top->Shutdown().ok());
  CheckUploaded(*crashed.mem);
}

TEST_CASE("stack: a start that fails keeps the token while the journal holds writes") {
  CrashedJournalMount crashed;
  auto& mem = crashed.mem;
  const Config c = FileConfig(crashed.path, true);
  {
    Result<OpenedStack> opened = OpenStack(c, mem, crashed.clock);
    REQUIRE(opened.ok());
    CHECK(opened->stack.cache_file->dirty_found() == 0);  // the journal alone holds them
    // The mount (or nbdkit's bind) fails: the token stays, the files record it.
    REQUIRE(ReleaseUnservedMount(*opened, c).ok());
    CHECK(*ReadMountToken(*mem, "") == opened->mount_token);
  }
  CHECK(JournalClaim(crashed.path).dirty_blocks == 2);
  // The next journal mount takes over again.
  Result<OpenedStack> next = OpenStack(c, mem, crashed.clock);
  REQUIRE(next.ok());
  REQUIRE(next->stack.top->Start().ok());
  REQUIRE(next->stack.top->Shutdown().ok());
  CheckUploaded(*mem);
}

TEST_CASE("stack: --reset-mounted-flag uploads a crashed journal's writes, option or not") {
  CrashedJournalMount crashed;
  auto& mem = crashed.mem;
  // s3disk --reset-mounted-flag --blockCacheFile=PATH BUCKET, without --fsyncTo=journal.
  Config reset = FileConfig(crashed.path, false);
  reset.reset_mounted_flag = true;
  reset.args = {"mem:"};
  REQUIRE(ResetMountedFlag(mem, reset, crashed.clock).ok());
  CHECK(*ReadMountToken(*mem, "") == 0);
  CheckUploaded(*mem);
  CHECK(JournalClaim(crashed.path).dirty_blocks == 0);
  // The next mount, journal or not, is a plain one.
  Result<OpenedStack> opened = OpenStack(FileConfig(crashed.path, false), mem, crashed.clock);
  REQUIRE(opened.ok());
  REQUIRE(ReleaseUnservedMount(*opened, FileConfig(crashed.path, false)).ok());
  CHECK(*ReadMountToken(*mem, "") == 0);
}

TEST_CASE("stack: a journal of an earlier mount is refused like stale dirty blocks") {
  CrashedJournalMount crashed;
  auto& mem = crashed.mem;
  FakeClock& clock = crashed.clock;
  REQUIRE(WriteMountToken(*mem, "", 0x5678, clock).ok());  // someone mounted since
  Config c = FileConfig(crashed.path, true);
  CHECK(OpenStack(c, mem, clock).status().code() == EBUSY);  // mounted
  // A reset leaves the files' claim and says so.
  Config reset = c;
  reset.reset_mounted_flag = true;
  reset.args = {"mem:"};
  REQUIRE(ResetMountedFlag(mem, reset, clock).ok());
  CHECK(*ReadMountToken(*mem, "") == 0);
  CHECK(JournalClaim(crashed.path).dirty_blocks == 2);
  char token[9];
  snprintf(token, sizeof token, "%08x", crashed.token);
  CheckError(OpenStack(c, mem, clock).status(), EBUSY,
             std::string("bucket mem: prefix '': --blockCacheFile and its journal hold 2 writes "
                         "of an earlier mount (token ") +
                 token +
                 "), but the bucket was mounted since (its mount token is gone), so uploading "
                 "them could overwrite newer data; remove the cache file and its journal to "
                 "discard them, or add --uploadStaleDirtyBlocks to upload them over whatever "
                 "the bucket holds now");
  CHECK(*ReadMountToken(*mem, "") == 0);  // nothing written
  // Said explicitly: they go up.
  c.upload_stale_dirty_blocks = true;
  Result<OpenedStack> opened = OpenStack(c, mem, clock);
  REQUIRE(opened.ok());
  REQUIRE(opened->stack.top->Start().ok());
  REQUIRE(opened->stack.top->Shutdown().ok());
  CheckUploaded(*mem);
}

}  // namespace
}  // namespace s3disk

namespace s3disk {

TEST_CASE("stack: a read-only reset over a journal holding writes is refused, not stuck") {
  CrashedJournalMount crashed;
  Config reset = FileConfig(crashed.path, false);
  reset.reset_mounted_flag = true;
  reset.read_only = true;
  reset.args = {"mem:"};
  Status st = ResetMountedFlag(crashed.mem, reset, crashed.clock);
  CHECK(st.code() == EINVAL);
  CHECK(st.message().find("drop --readOnly") != std::string::npos);
  CHECK(JournalClaim(crashed.path).dirty_blocks == 2);
  CHECK(*ReadMountToken(*crashed.mem, "") == crashed.token);
}

TEST_CASE("stack: --erase with the cache file of a crashed journal mount is refused") {
  CrashedJournalMount crashed;
  Config erase = FileConfig(crashed.path, false);
  erase.force = true;
  erase.args = {"mem:"};
  AdminIo io;
  io.clock = &crashed.clock;
  Result<EraseReport> r = EraseBucket(*crashed.mem, erase, io);
  CHECK(r.status().code() == EBUSY);
  CHECK(r.status().message().find("hold 2 writes") != std::string::npos);
  CHECK(*ReadMountToken(*crashed.mem, "") == crashed.token);
}

}  // namespace s3disk
