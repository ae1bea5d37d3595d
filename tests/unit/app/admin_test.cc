// Unit tests for the admin modes (admin.h) and their progress reports (admin_progress.h), on
// in-memory stores: blocks are written through ObjectBlockStore with the real codec, so the
// bucket looks exactly as a mount leaves it. No mount, no network, no sleeping (FakeClock).
#include "app/admin.h"

#include <catch2/catch.hpp>
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "app/config.h"
#include "block/block_key.h"
#include "block/bucket_meta.h"
#include "block/codec.h"
#include "block/object_block_store.h"
#include "fakes.h"

namespace s3disk {
namespace {

constexpr uint32_t kBs = 4096;
constexpr uint64_t kSize = 64 * kBs;  // 64 blocks

Config MakeConfig(std::vector<std::string> args) {
  args.insert(args.begin(), "s3disk");
  Result<Config> parsed = ParseArgs(args);
  REQUIRE(parsed.ok());
  Config c = std::move(*parsed);
  Status st = Validate(&c);
  INFO(st.message());
  REQUIRE(st.ok());
  return c;
}

// Writes blocks through ObjectBlockStore with the codec of args (e.g. {"--compress"}).
void WriteBlocks(const std::shared_ptr<ObjectStore>& store, std::vector<std::string> args,
                 const std::vector<BlockNum>& blocks, uint8_t fill_base = 1) {
  args.push_back("--summary");  // any mode that needs no mount point
  args.push_back("mem:");
  Config c = MakeConfig(args);
  Result<std::shared_ptr<const Codec>> codec = Codec::Create(MakeCodecOptions(c));
  REQUIRE(codec.ok());
  ObjectBlockOptions o;
  o.block_size = kBs;
  o.size_bytes = kSize;
  o.prefix = c.prefix;
  o.codec = *codec;
  Result<std::unique_ptr<ObjectBlockStore>> obs = ObjectBlockStore::Create(store, o);
  REQUIRE(obs.ok());
  for (BlockNum n : blocks) {
    std::vector<uint8_t> data(kBs);
    for (size_t i = 0; i < data.size(); i++) {
      data[i] = static_cast<uint8_t>(fill_base + n + (i % 7 == 0 ? i : 0));
    }
    REQUIRE((*obs)->WriteBlock(n, data).ok());
  }
}

struct TestIo {
  FakeClock clock;
  std::vector<std::string> out;
  std::vector<std::string> questions;
  bool answer = false;
  AdminIo io;
  explicit TestIo(bool terminal = false) {
    io.clock = &clock;
    io.progress_mode = Progress::Mode::kQuiet;
    io.stdin_is_terminal = terminal;
    io.confirm = [this](const std::string& q) {
      questions.push_back(q);
      return answer;
    };
    io.out = [this](const std::string& line) { out.push_back(line); };
  }
};

std::vector<std::string> Keys(RecordingObjectStore& store) {
  std::vector<std::string> keys;
  REQUIRE(store.List("", {}, [&](const std::string& k, uint64_t) { keys.push_back(k); }).ok());
  return keys;
}

// --- progress --------------------------------------------------------------------------------

TEST_CASE("admin_progress: the line shows percentage, count and rate") {
  CHECK(FormatProgress("verify", "blocks", 450, 1000, 2000) ==
        "verify:  45% 450/1000 blocks, 225 blocks/s");
  CHECK(FormatProgress("erase", "blocks", 3, 1000, 2000) ==
        "erase:   0% 3/1000 blocks, 1.5 blocks/s");
  CHECK(FormatProgress("verify", "blocks", 1000, 1000, 0) == "verify: 100% 1000/1000 blocks");
  CHECK(FormatProgress("summary", "blocks", 0, 0, 10) == "summary: 100% 0/0 blocks, 0.0 blocks/s");
  CHECK(FormatProgress("verify", "blocks", 999, 1000, 1000) ==
        "verify:  99% 999/1000 blocks, 999 blocks/s");
  // A listing: no total known.
  CHECK(FormatProgress("summary", "keys listed", 4500, kProgressUnknownTotal, 5000) ==
        "summary: 4500 keys listed, 900 keys listed/s");
}

TEST_CASE("admin_progress: a log line every 10% or 5 s, and one at the end") {
  // 10% of 1000 is 100 units.
  CHECK_FALSE(ProgressLogDue(0, 0, 99, 1000, 10));
  CHECK(ProgressLogDue(0, 0, 100, 1000, 10));
  CHECK(ProgressLogDue(100, 10, 200, 1000, 20));
  CHECK_FALSE(ProgressLogDue(100, 10, 199, 1000, 20));
  // 5 s without 10% of progress: a line, but only if something moved.
  CHECK(ProgressLogDue(100, 0, 101, 1000, 5000));
  CHECK_FALSE(ProgressLogDue(100, 0, 100, 1000, 9000));
  CHECK_FALSE(ProgressLogDue(100, 0, 101, 1000, 4999));
  // The end, once.
  CHECK(ProgressLogDue(950, 0, 1000, 1000, 1));
  CHECK_FALSE(ProgressLogDue(1000, 0, 1000, 1000, 99999));
  CHECK_FALSE(ProgressLogDue(0, 0, 0, 0, 99999));
  // No total known: every 5 s while it moves.
  CHECK_FALSE(ProgressLogDue(0, 0, 1000000, kProgressUnknownTotal, 4999));
  CHECK(ProgressLogDue(0, 0, 1, kProgressUnknownTotal, 5000));
  CHECK_FALSE(ProgressLogDue(7, 0, 7, kProgressUnknownTotal, 9000));
}

TEST_CASE("admin_progress: a log gets about ten lines for a thousand units") {
  FakeClock clock;
  std::vector<std::pair<std::string, bool>> lines;
  Progress p("verify", "blocks", 1000, clock, Progress::Mode::kLog,
             [&](const std::string& line, bool final) { lines.emplace_back(line, final); });
  for (int i = 0; i < 1000; i++) {
    clock.Advance(1);
    p.Add(1);
  }
  p.Finish();
  p.Finish();                   // once only
  REQUIRE(lines.size() == 10);  // 10%..90%, then the final 100%
  CHECK(lines[0].first == "verify:  10% 100/1000 blocks, 1000 blocks/s");
  CHECK_FALSE(lines[0].second);
  CHECK(lines.back().first == "verify: 100% 1000/1000 blocks, 1000 blocks/s");
  CHECK(lines.back().second);
  CHECK(p.done() == 1000);
}

TEST_CASE("admin_progress: a slow job logs every 5 s") {
  FakeClock clock;
  std::vector<std::string> lines;
  Progress p("erase", "blocks", 1000, clock, Progress::Mode::kLog,
             [&](const std::string& line, bool) { lines.push_back(line); });
  for (int i = 0; i < 30; i++) {
    clock.Advance(1000);
    p.Add(1);  // 3% in 30 s
  }
  CHECK(lines.size() == 6);
  CHECK(lines[0] == "erase:   0% 5/1000 blocks, 1.0 blocks/s");
}

TEST_CASE("admin_progress: a terminal line is redrawn at most every 200 ms") {
  FakeClock clock;
  std::vector<std::pair<std::string, bool>> lines;
  Progress p("verify", "blocks", 100, clock, Progress::Mode::kTerminal,
             [&](const std::string& line, bool final) { lines.emplace_back(line, final); });
  for (int i = 0; i < 100; i++) {
    clock.Advance(50);
    p.Add(1);
  }
  p.Finish();
  // 5 s of work, a redraw every 200 ms (not at 100%: Finish draws that), then the final one.
  CHECK(lines.size() == 25);
  CHECK(lines[0].first == "verify:   4% 4/100 blocks, 20 blocks/s");
  CHECK(lines.back().first == "verify: 100% 100/100 blocks, 20 blocks/s");
  CHECK(lines.back().second);
}

// --- erase -----------------------------------------------------------------------------------

TEST_CASE("admin: erase deletes every block and the mounted flag with bulk deletes") {
  auto store = std::make_shared<RecordingObjectStore>();
  std::vector<BlockNum> blocks;
  for (BlockNum n = 0; n < 64; n++) blocks.push_back(n);
  WriteBlocks(store, {}, blocks);
  // A block key named with --blockHashPrefix, the mount token, and a stranger's object.
  store->SetObject(BlockKey("", true, 7), {1, 2, 3});
  FakeClock clock;
  REQUIRE(WriteMountToken(*store, "", 0x1234abcd, clock).ok());
  store->SetObject("notes.txt", {'h', 'i'});
  store->ClearCalls();

  TestIo t;
  Config c = MakeConfig({"--erase", "--force", "--blockCacheThreads=3", "mem:"});
  Result<EraseReport> r = EraseBucket(*store, c, t.io);
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(r->blocks_deleted == 65);
  CHECK(r->mount_token == 0x1234abcd);
  CHECK(Keys(*store) == std::vector<std::string>{"notes.txt"});
  CHECK(store->CountCalls("delete_many ") == 1);  // 65 keys: one request
  CHECK(store->CountCalls("delete 0") == 0);      // no block deleted one at a time
  CHECK(store->CountCalls("delete s3backer-mounted") == 1);
  CHECK(t.questions.empty());  // --force asks nothing
}

TEST_CASE("admin: erase sends 1000 keys per bulk delete, from several threads") {
  auto store = std::make_shared<RecordingObjectStore>();
  for (BlockNum n = 0; n < 2500; n++) store->SetObject(BlockKey("vol/", false, n), {1});
  TestIo t;
  Config c = MakeConfig({"--erase", "--force", "--prefix=vol/", "mem:"});
  Result<EraseReport> r = EraseBucket(*store, c, t.io);
  REQUIRE(r.ok());
  CHECK(r->blocks_deleted == 2500);
  CHECK(store->object_count() == 0);
  std::vector<size_t> sizes;
  for (const std::string& call : store->calls()) {
    if (call.rfind("delete_many", 0) == 0) {
      sizes.push_back(static_cast<size_t>(std::count(call.begin(), call.end(), ' ')));
    }
  }
  std::sort(sizes.begin(), sizes.end());
  CHECK(sizes == std::vector<size_t>{500, 1000, 1000});
}

TEST_CASE("admin: erase without --force refuses when stdin is not a terminal") {
  auto store = std::make_shared<RecordingObjectStore>();
  WriteBlocks(store, {}, {0, 1, 2});
  store->ClearCalls();
  TestIo t(/*terminal=*/false);
  Config c = MakeConfig({"--erase", "mem:"});
  Result<EraseReport> r = EraseBucket(*store, c, t.io);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == EINVAL);
  CHECK_THAT(r.status().message(),
             Catch::Contains("stdin is not a terminal") && Catch::Contains("add --force"));
  CHECK(store->object_count() == 3);
  CHECK(store->CountCalls("list") == 0);  // refused before listing
  CHECK(store->CountCalls("delete") == 0);
}

TEST_CASE("admin: erase refuses while the bucket is marked mounted, unless --force") {
  auto store = std::make_shared<RecordingObjectStore>();
  WriteBlocks(store, {}, {0, 5});
  FakeClock clock;
  REQUIRE(WriteMountToken(*store, "", 0x0badf00d, clock).ok());
  TestIo t(/*terminal=*/true);
  t.answer = true;
  Config c = MakeConfig({"--erase", "mem:"});
  Result<EraseReport> r = EraseBucket(*store, c, t.io);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == EBUSY);
  CHECK_THAT(r.status().message(), Catch::Contains("0badf00d") && Catch::Contains("--force"));
  CHECK(store->object_count() == 3);
  CHECK(t.questions.empty());

  Config forced = MakeConfig({"--erase", "--force", "mem:"});
  REQUIRE(EraseBucket(*store, forced, t.io).ok());
  CHECK(store->object_count() == 0);
}

TEST_CASE("admin: erase on a terminal asks first; no deletes nothing") {
  auto store = std::make_shared<RecordingObjectStore>();
  WriteBlocks(store, {}, {0, 1, 2, 3});
  TestIo t(/*terminal=*/true);
  Config c = MakeConfig({"--erase", "mem:"});
  t.answer = false;
  Result<EraseReport> r = EraseBucket(*store, c, t.io);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ECANCELED);
  CHECK(store->object_count() == 4);
  CHECK(store->CountCalls("delete") == 0);
  REQUIRE(t.questions.size() == 1);
  CHECK_THAT(t.questions[0], Catch::Contains("erase 4 block objects") &&
                                 Catch::Contains("bucket mem:") && Catch::Contains("[y/N]"));

  t.answer = true;
  REQUIRE(EraseBucket(*store, c, t.io).ok());
  CHECK(store->object_count() == 0);
}

// --- verify ----------------------------------------------------------------------------------

// Replaces the body of key with one byte flipped; the ETag is recomputed when keep_md5 is
// false (a store that hashes what it holds, as DirStore does for a file edited in place).
void FlipByte(RecordingObjectStore& store, const std::string& key, bool keep_md5) {
  std::optional<Object> obj = store.Peek(key);
  REQUIRE(obj.has_value());
  std::vector<uint8_t> data = obj->data;
  data[data.size() / 2] ^= 0x20;
  if (keep_md5) {
    store.SetObject(key, data, obj->info.meta, obj->info.etag);
  } else {
    store.SetObject(key, data, obj->info.meta);
  }
}

TEST_CASE("admin: verify a clean bucket: every block checked, none bad") {
  auto store = std::make_shared<RecordingObjectStore>();
  WriteBlocks(store, {}, {0, 1, 2, 40, 63});
  store->ClearCalls();
  TestIo t;
  Config c = MakeConfig({"--verify", "mem:"});
  Result<VerifyReport> r = VerifyBucket(store, c, t.io);
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(r->checked == 5);
  CHECK(r->bad.empty());
  CHECK(store->CountCalls("get ") == 5);
  CHECK(store->CountCalls("put ") == 0);
  CHECK(FormatVerifySummary(*r) == "verify: 5 blocks checked, 0 bad");
  CHECK(c.read_only);
}

TEST_CASE("admin: verify names exactly the block with a flipped byte (bad MD5)") {
  auto store = std::make_shared<RecordingObjectStore>();
  WriteBlocks(store, {}, {0, 1, 2, 3, 4, 5, 6, 7});
  FlipByte(*store, "00000005", /*keep_md5=*/true);
  TestIo t;
  Config c = MakeConfig({"--verify", "--blockCacheThreads=4", "mem:"});
  Result<VerifyReport> r = VerifyBucket(store, c, t.io);
  REQUIRE(r.ok());
  CHECK(r->checked == 8);
  REQUIRE(r->bad.size() == 1);
  CHECK(r->bad[0].n == 5);
  CHECK(r->bad[0].key == "00000005");
  CHECK(r->bad[0].reason == "bad MD5");
  CHECK_THAT(FormatBadBlock(r->bad[0]),
             Catch::StartsWith("bad block 00000005 (key 00000005): bad MD5: "));
  CHECK(FormatVerifySummary(*r) == "verify: 8 blocks checked, 1 bad");
}

TEST_CASE("admin: verify of an encrypted bucket: bad HMAC, wrong password, no --encrypt") {
  auto store = std::make_shared<RecordingObjectStore>();
  const std::vector<std::string> enc = {"--encrypt", "--password=admin-test-pw"};
  WriteBlocks(store, enc, {0, 3, 9});
  TestIo t;
  Config right = MakeConfig({"--verify", "--encrypt", "--password=admin-test-pw", "mem:"});
  Result<VerifyReport> r = VerifyBucket(store, right, t.io);
  REQUIRE(r.ok());
  CHECK(r->checked == 3);
  CHECK(r->bad.empty());

  // A flipped byte with a matching ETag: the HMAC catches it.
  FlipByte(*store, "00000003", /*keep_md5=*/false);
  r = VerifyBucket(store, right, t.io);
  REQUIRE(r.ok());
  REQUIRE(r->bad.size() == 1);
  CHECK(r->bad[0].n == 3);
  CHECK(r->bad[0].reason == "bad HMAC");

  Config wrong = MakeConfig({"--verify", "--encrypt", "--password=not-the-pw", "mem:"});
  r = VerifyBucket(store, wrong, t.io);
  REQUIRE(r.ok());
  CHECK(r->bad.size() == 3);
  for (const BadBlock& b : r->bad) CHECK(b.reason == "bad HMAC");
  CHECK_THAT(FormatVerifySummary(*r), Catch::Contains("every block is bad"));

  Config plain = MakeConfig({"--verify", "mem:"});
  r = VerifyBucket(store, plain, t.io);
  REQUIRE(r.ok());
  REQUIRE(r->bad.size() == 3);
  CHECK(r->bad[0].reason == "foreign block");
}

TEST_CASE("admin: verify: a compressed block that does not inflate cannot be decoded") {
  auto store = std::make_shared<RecordingObjectStore>();
  WriteBlocks(store, {"--compress"}, {0, 2});
  FlipByte(*store, "00000002", /*keep_md5=*/false);
  TestIo t;
  Result<VerifyReport> r = VerifyBucket(store, MakeConfig({"--verify", "mem:"}), t.io);
  REQUIRE(r.ok());
  REQUIRE(r->bad.size() == 1);
  CHECK(r->bad[0].n == 2);
  CHECK(r->bad[0].reason == "cannot decode");
}

TEST_CASE("admin: verify reports blocks beyond the disk and keys of the other naming") {
  auto store = std::make_shared<RecordingObjectStore>();
  WriteBlocks(store, {}, {0, 1});
  store->SetObject(BlockKey("", false, 64), std::vector<uint8_t>(kBs, 1));  // past 64 blocks
  store->SetObject(BlockKey("", true, 3), std::vector<uint8_t>(kBs, 1));
  store->SetObject("s3backer-mounted", {'x'});
  TestIo t;
  Result<VerifyReport> r = VerifyBucket(store, MakeConfig({"--verify", "mem:"}), t.io);
  REQUIRE(r.ok());
  CHECK(r->checked == 4);
  REQUIRE(r->bad.size() == 2);
  CHECK(r->bad[0].n == 3);
  CHECK(r->bad[0].reason == "foreign block");
  CHECK_THAT(r->bad[0].detail, Catch::Contains("--blockHashPrefix"));
  CHECK(r->bad[1].n == 64);
  CHECK_THAT(r->bad[1].detail, Catch::Contains("beyond the end of the disk (64 blocks"));
}

// Forwards to a RecordingObjectStore but fails every Get of one key with EIO.
class FailGetStore : public ObjectStore {
 public:
  FailGetStore(std::shared_ptr<RecordingObjectStore> below, std::string key)
      : below_(std::move(below)), key_(std::move(key)) {}
  std::vector<Result<Object>> GetMany(const std::vector<std::string>& keys,
                                      std::span<const std::span<uint8_t>>) override {
    std::vector<Result<Object>> out;
    for (const auto& key : keys) {
      if (key == key_) {
        out.push_back(Status(EIO, "fail_get_store: get " + key + ": connection reset"));
      } else {
        out.push_back(below_->Get(key));
      }
    }
    return out;
  }
  Result<ObjectInfo> Head(const std::string& key) override { return below_->Head(key); }
  Result<std::string> Put(const std::string& key, std::span<const uint8_t> data,
                          const Metadata& meta, const PutOptions& options = {}) override {
    return below_->Put(key, data, meta, options);
  }
  Status Delete(const std::vector<std::string>& keys) override { return below_->Delete(keys); }
  Status List(const std::string& prefix, const ListOptions& options,
              const ListFound& found) override {
    return below_->List(prefix, options, found);
  }
  std::string Describe() const override { return "fail_get"; }

 private:
  std::shared_ptr<RecordingObjectStore> below_;
  std::string key_;
};

TEST_CASE("admin: verify of an empty bucket checks nothing; a read error is reported") {
  auto store = std::make_shared<RecordingObjectStore>();
  TestIo t;
  Result<VerifyReport> r = VerifyBucket(store, MakeConfig({"--verify", "mem:"}), t.io);
  REQUIRE(r.ok());
  CHECK(r->checked == 0);
  CHECK(r->bad.empty());

  WriteBlocks(store, {}, {0, 1, 2});
  auto failing = std::make_shared<FailGetStore>(store, "00000001");
  r = VerifyBucket(failing, MakeConfig({"--verify", "mem:"}), t.io);
  REQUIRE(r.ok());
  CHECK(r->checked == 3);
  REQUIRE(r->bad.size() == 1);
  CHECK(r->bad[0].n == 1);
  CHECK(r->bad[0].reason == "read error");
  CHECK_THAT(r->bad[0].detail, Catch::Contains("connection reset"));
}

TEST_CASE("admin: bad block reasons") {
  CHECK(BadBlockReason(Status(EBADMSG, "object_block_store: block 00000001: MD5 mismatch")) ==
        "bad MD5");
  CHECK(BadBlockReason(Status(EIO,
                              "s3: get 00000001: giving up after 5 attempts: ETag a does "
                              "not match the body's MD5 b")) == "bad MD5");
  CHECK(BadBlockReason(Status(EBADMSG, "codec: block 00000001: HMAC mismatch: wrong password")) ==
        "bad HMAC");
  CHECK(BadBlockReason(Status(EBADMSG,
                              "codec: block 00000001: encrypted but has no HMAC "
                              "header")) == "bad HMAC");
  CHECK(BadBlockReason(Status(EBADMSG,
                              "codec: block 00000001: encrypted with AES-128-CBC, but "
                              "no --encrypt/--password was given")) == "foreign block");
  CHECK(BadBlockReason(Status(EBADMSG,
                              "codec: block 00000001: not encrypted, but encryption is "
                              "on; refusing unauthenticated data")) == "foreign block");
  CHECK(BadBlockReason(Status(EBADMSG, "codec: block 00000001: deflate body is corrupt")) ==
        "cannot decode");
  CHECK(BadBlockReason(Status(EIO, "connection refused")) == "read error");
}

// --- summary ---------------------------------------------------------------------------------

TEST_CASE("admin: summary numbers are exact on a known bucket") {
  auto store = std::make_shared<RecordingObjectStore>();
  WriteBlocks(store, {}, {0, 1, 2});
  WriteBlocks(store, {"--compress"}, {10, 11});
  store->SetObject("readme", {'x'});
  uint64_t stored = 0;
  for (const char* key : {"00000000", "00000001", "00000002", "0000000a", "0000000b"}) {
    stored += store->Peek(key)->data.size();
  }
  REQUIRE(stored > 3 * kBs);
  REQUIRE(stored < 5 * kBs);
  Config c = MakeConfig({"--summary", "mem:"});
  store->ClearCalls();
  TestIo t;
  std::vector<std::pair<std::string, bool>> progress;
  t.io.progress_mode = Progress::Mode::kLog;
  t.io.progress_sink = [&](const std::string& line, bool final) {
    progress.emplace_back(line, final);
  };
  Result<BucketSummary> s = SummarizeBucket(*store, c, t.io);
  INFO(s.status().message());
  REQUIRE(s.ok());
  CHECK(s->geometry.block_size == kBs);
  CHECK(s->geometry.size_bytes == kSize);
  CHECK(s->blocks_stored == 5);
  CHECK(s->stored_bytes == stored);
  CHECK(s->block0_encoding == "plain");
  CHECK(s->other_objects == 1);
  CHECK(s->foreign_blocks == 0);
  CHECK(s->mount_token == 0);
  // One listing that carries the sizes, and no request per block but block 0's HEAD.
  CHECK(store->calls() == std::vector<std::string>{"head 00000000", "list  sizes"});
  // The progress counts the keys listed: 5 blocks and the readme.
  REQUIRE(progress.size() == 1);
  CHECK(progress[0] == std::make_pair(std::string("summary: 6 keys listed"), true));

  std::vector<std::string> lines = FormatSummary(*s);
  char ratio[32];
  snprintf(ratio, sizeof ratio, "%.2f", 5.0 * kBs / static_cast<double>(stored));
  char human[32];
  snprintf(human, sizeof human, "%.1f KiB", static_cast<double>(stored) / 1024);
  const std::vector<std::string> want = {
      "bucket             mem:",
      "prefix             (none)",
      "block size         4096 (4.0 KiB)",
      "disk size          262144 (256.0 KiB, 64 blocks)",
      "blocks stored      5",
      "zero blocks        59",
      "logical bytes      20480 (20.0 KiB)",
      "stored bytes       " + std::to_string(stored) + " (" + std::string(human) + ")",
      "compression ratio  " + std::string(ratio),
      "encoding           plain (block 0)",
      "foreign blocks     0",
      "other objects      1",
      "mounted            no",
  };
  REQUIRE(lines.size() == want.size());
  CHECK(lines == want);
}

TEST_CASE("admin: summary of an empty bucket, geometry unknown; the mounted flag") {
  auto store = std::make_shared<RecordingObjectStore>();
  FakeClock clock;
  REQUIRE(WriteMountToken(*store, "", 0x00c0ffee, clock).ok());
  TestIo t;
  Result<BucketSummary> s = SummarizeBucket(*store, MakeConfig({"--summary", "mem:"}), t.io);
  REQUIRE(s.ok());
  CHECK(s->blocks_stored == 0);
  CHECK(s->mount_token == 0x00c0ffee);
  std::vector<std::string> lines = FormatSummary(*s);
  CHECK(lines[3] == "disk size          unknown (no block 0 and no --size)");
  CHECK(lines[5] == "zero blocks        unknown");
  CHECK(lines[8] == "compression ratio  -");
  CHECK(lines[9] == "encoding           - (no block 0)");
  CHECK(lines.back() == "mounted            yes (token 00c0ffee)");
}

// --- the command line ------------------------------------------------------------------------

TEST_CASE("admin: command line: one mode, BUCKET only, not with --nbd") {
  struct Bad {
    std::vector<std::string> args;
    const char* fragment;
  };
  const Bad bad[] = {
      {{"--erase", "mem:", "/mnt"}, "--erase takes only the bucket, got 2 arguments"},
      {{"--verify"}, "--verify takes only the bucket, got 0 arguments"},
      {{"--erase", "--verify", "mem:"}, "give only one"},
      {{"--summary", "--nbd", "--socket=/tmp/x", "mem:"}, "drop --nbd"},
      {{"--erase", "--reset-mounted-flag", "mem:"}, "drop --reset-mounted-flag"},
      {{"--erase", "--readOnly", "mem:"}, "drop --readOnly"},
  };
  for (const Bad& b : bad) {
    std::vector<std::string> args = b.args;
    args.insert(args.begin(), "s3disk");
    Result<Config> parsed = ParseArgs(args);
    REQUIRE(parsed.ok());
    Status st = Validate(&*parsed);
    INFO(b.fragment);
    REQUIRE_FALSE(st.ok());
    CHECK(st.code() == EINVAL);
    CHECK_THAT(st.message(), Catch::Contains(b.fragment));
  }
  Config c = MakeConfig({"--summary", "mem:"});
  CHECK(c.AdminMode());
  CHECK(c.read_only);
  CHECK(c.mountpoint.empty());
  Config e = MakeConfig({"--erase", "mem:"});
  CHECK(e.AdminMode());
  CHECK_FALSE(e.read_only);
  CHECK_FALSE(MakeConfig({"--reset-mounted-flag", "mem:"}).AdminMode());
}

}  // namespace
}  // namespace s3disk
