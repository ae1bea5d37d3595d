// Unit tests for the composition and the start-up decisions: the object store for each bucket
// form, geometry resolution, a full stack on an in-memory bucket, and OpenStack's order.
// The mount token's decisions are in mount_token_test.cc.
#include "app/stack.h"

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

TEST_CASE("stack: OpenObjectStore for each bucket form") {
  Config c = LocalConfig();
  Result<std::shared_ptr<ObjectStore>> mem = OpenObjectStore(c);
  REQUIRE(mem.ok());
  CHECK((*mem)->Describe() == "memory");

  char tmpl[] = "/tmp/s3disk-stack-test.XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  c.bucket_kind = BucketKind::kDirectory;
  c.bucket_dir = tmpl;
  Result<std::shared_ptr<ObjectStore>> dir = OpenObjectStore(c);
  REQUIRE(dir.ok());
  CHECK((*dir)->Describe().find(tmpl) != std::string::npos);
  rmdir(tmpl);

  // A missing directory: DirStore's own one-line message, and nothing is created.
  c.bucket_dir = std::string(tmpl) + "/missing";
  Result<std::shared_ptr<ObjectStore>> missing = OpenObjectStore(c);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message().find(c.bucket_dir) != std::string::npos);
  CHECK(missing.status().message().find('\n') == std::string::npos);
  struct stat st;
  CHECK(stat(c.bucket_dir.c_str(), &st) != 0);

  // S3: the store is built from config.s3 (here an option S3Store::Create refuses before any
  // request, so no network is needed; t_s3_mount.sh probes a real bucket).
  c.bucket_kind = BucketKind::kS3;
  c.bucket_name = "mybucket";
  c.s3.options.access_id = "AKIDEXAMPLE";
  CheckError(OpenObjectStore(c).status(), EINVAL,
             "s3: an access ID needs an access key and vice versa");
  c.s3.options.access_id.clear();
  c.s3.options.region.clear();
  CheckError(OpenObjectStore(c).status(), EINVAL, "s3: --region must not be empty");
}

// An S3 server that answers every GET with the same body and an MD5-shaped ETag that is not
// the body's MD5, as S3 does for SSE-KMS objects. Counts the requests.
class KmsEtagTransport : public HttpTransport {
 public:
  explicit KmsEtagTransport(std::vector<uint8_t> body) : body_(std::move(body)) {}
  HttpResult Perform(const HttpRequest& request) override {
    requests++;
    HttpResult r;
    r.response.status = request.method == "GET" ? 200 : 404;
    if (request.method == "GET") {
      r.response.headers.emplace_back("etag", "\"" + Md5Hex(std::vector<uint8_t>{1, 2, 3}) + "\"");
      r.response.body = body_;
      get_bound = request.max_body_bytes;
    }
    return r;
  }
  std::atomic<int> requests{0};
  std::atomic<uint64_t> get_bound{0};  // the last GET's max_body_bytes

 private:
  const std::vector<uint8_t> body_;
};

// Config as s3disk --reset-mounted-flag ARGS BUCKET leaves it (no mount point needed).
Config S3Config(std::vector<std::string> args) {
  args.insert(args.begin(), "s3disk");
  args.insert(args.end(), {"--reset-mounted-flag", "--accessId=AKIDEXAMPLE",
                           "--accessKey=stack-test-secret", "--maxRetryPause=1000", "bkt"});
  Result<Config> c = ParseArgs(args);
  REQUIRE(c.ok());
  REQUIRE(Validate(&*c).ok());
  return *c;
}

TEST_CASE("stack: --sse=aws:kms reads S3 objects whose ETag is not the body's MD5") {
  const std::vector<uint8_t> body = Pattern(4096, 9);
  std::vector<uint8_t> back(4096);
  FakeClock clock;
  for (bool kms : {false, true}) {
    INFO("kms " << kms);
    Config c =
        S3Config(kms ? std::vector<std::string>{"--sse=aws:kms"} : std::vector<std::string>{});
    auto transport = std::make_unique<KmsEtagTransport>(body);
    KmsEtagTransport* t = transport.get();
    Result<std::unique_ptr<S3Store>> s3 =
        S3Store::CreateWithTransport(c.s3.options, std::move(transport), &clock);
    REQUIRE(s3.ok());
    c.read_only = true;
    Result<Stack> built =
        BuildStack(c, std::shared_ptr<ObjectStore>(std::move(*s3)), Geometry{4096, 16 * 4096});
    REQUIRE(built.ok());
    REQUIRE(built->top->Start().ok());
    Status st = built->bytes->Read(4096, back);
    if (kms) {
      REQUIRE(st.ok());
      CHECK(back == body);
      CHECK(t->requests == 2);  // the mount-time HEAD of block 0 (CheckKey), one GET, no retry
    } else {
      // Without SSE-KMS the mismatch is a corrupt body: retried, then an error, never data.
      CHECK_FALSE(st.ok());
      CHECK(t->requests > 1);
    }
    REQUIRE(built->top->Shutdown().ok());
  }
}

TEST_CASE("stack: a GET from S3 accepts one encoded block at most") {
  const std::vector<uint8_t> body = Pattern(4096, 3);
  std::vector<uint8_t> back(4096);
  FakeClock clock;
  Config c = S3Config({"--sse=aws:kms"});  // the fake's ETags are not MD5s
  c.read_only = true;
  auto transport = std::make_unique<KmsEtagTransport>(body);
  KmsEtagTransport* t = transport.get();
  Result<std::unique_ptr<S3Store>> s3 =
      S3Store::CreateWithTransport(c.s3.options, std::move(transport), &clock);
  REQUIRE(s3.ok());
  Result<Stack> built =
      BuildStack(c, std::shared_ptr<ObjectStore>(std::move(*s3)), Geometry{4096, 16 * 4096});
  REQUIRE(built.ok());
  REQUIRE(built->top->Start().ok());
  REQUIRE(built->bytes->Read(4096, back).ok());
  CHECK(t->get_bound == MaxEncodedBytes(4096));
  REQUIRE(built->top->Shutdown().ok());
}

TEST_CASE("stack: ResolveGeometry takes the command line, the bucket, or the default") {
  Config c = LocalConfig();
  const Geometry none;
  const Geometry stored{65536, 4 << 20};

  c.size_bytes = 8 << 20;
  Result<Geometry> g = ResolveGeometry(c, none);
  REQUIRE(g.ok());
  CHECK(g->block_size == kDefaultBlockSize);
  CHECK(g->size_bytes == 8 << 20);

  c.block_size = 4096;
  g = ResolveGeometry(c, none);
  REQUIRE(g.ok());
  CHECK(g->block_size == 4096);

  c = LocalConfig();
  g = ResolveGeometry(c, stored);
  REQUIRE(g.ok());
  CHECK(g->block_size == 65536);
  CHECK(g->size_bytes == 4 << 20);

  // The command line agreeing with the bucket is fine, in part or in full.
  c.block_size = 65536;
  g = ResolveGeometry(c, stored);
  REQUIRE(g.ok());
  CHECK(g->size_bytes == 4 << 20);
  c.size_bytes = 4 << 20;
  g = ResolveGeometry(c, stored);
  REQUIRE(g.ok());
  c.block_size = 0;
  g = ResolveGeometry(c, stored);
  REQUIRE(g.ok());
  CHECK(g->block_size == 65536);
}

TEST_CASE("stack: ResolveGeometry refuses what does not fit, naming the fix") {
  Config c = LocalConfig();
  const Geometry stored{131072, 64 << 20};

  CheckError(ResolveGeometry(c, Geometry{}).status(), EINVAL,
             "--size is required: the bucket holds no geometry yet");

  c.block_size = 65536;
  CheckError(ResolveGeometry(c, stored).status(), EINVAL,
             "bucket says blockSize=131072 but --blockSize=65536; use --force to override");
  c.block_size = 0;
  c.size_bytes = 128 << 20;
  CheckError(ResolveGeometry(c, stored).status(), EINVAL,
             "bucket says size=67108864 but --size=134217728; use --force to override");

  // --force: the command line wins.
  c.force = true;
  c.block_size = 65536;
  Result<Geometry> g = ResolveGeometry(c, stored);
  REQUIRE(g.ok());
  CHECK(g->block_size == 65536);
  CHECK(g->size_bytes == 128 << 20);

  // Checks on the combination, wherever each value came from.
  c = LocalConfig();
  c.size_bytes = 1000000;
  CheckError(ResolveGeometry(c, Geometry{}).status(), EINVAL,
             "size=1000000 is not a multiple of blockSize=128k; use e.g. --size=1m");
  c = LocalConfig();
  c.block_size = 512;
  c.force = true;
  CheckError(ResolveGeometry(c, Geometry{65536, uint64_t{4} << 40}).status(), EINVAL,
             "size=4t makes more than 2^32 blocks of 512; use a larger --blockSize");
  c = LocalConfig();
  CheckError(ResolveGeometry(c, Geometry{1000, 10000}).status(), EINVAL,
             "bucket says blockSize=1000, which is not a power of two from 512 to 64m; s3disk "
             "cannot mount it");
}

TEST_CASE("stack: BuildStack reads and writes through ByteRange on a MemStore") {
  Config c = LocalConfig();
  auto mem = std::make_shared<MemStore>();
  Result<Stack> built = BuildStack(c, mem, Geometry{4096, 64 * 4096});
  REQUIRE(built.ok());
  Stack& s = *built;
  REQUIRE(s.store == mem);
  CHECK(s.top->block_size() == 4096);
  CHECK(s.top->num_blocks() == 64);
  CHECK(s.bytes->size_bytes() == 64 * 4096);
  REQUIRE(s.top->Start().ok());

  // Unaligned, across three blocks (1, 2, 3).
  const std::vector<uint8_t> data = Pattern(9000, 3);
  REQUIRE(s.bytes->Write(4096 + 100, data).ok());
  std::vector<uint8_t> back(9000);
  REQUIRE(s.bytes->Read(4096 + 100, back).ok());
  CHECK(back == data);
  // The bytes around it are zeros.
  std::vector<uint8_t> around(200);
  REQUIRE(s.bytes->Read(4096, std::span<uint8_t>(around).first(100)).ok());
  CHECK(IsAllZero(std::span<const uint8_t>(around).first(100)));
  REQUIRE(s.bytes->Flush().ok());
  // One object per written block, under the block keys, and block 0 (zeros, stored by Start:
  // it records the geometry).
  CHECK(mem->object_count() == 4);
  for (BlockNum n : {0u, 1u, 2u, 3u}) CHECK(mem->Head(BlockKey("", false, n)).ok());
  REQUIRE(s.top->Shutdown().ok());

  // The stats walk the whole stack, down to the store.
  std::string stats;
  s.top->DumpStats(&stats);
  CHECK(stats.find("zero_map_") != std::string::npos);
  CHECK(stats.find("object_blocks_written") != std::string::npos);
  CHECK(stats.find("mem_store_puts") != std::string::npos);
}

TEST_CASE("stack: the lower zero map's stats are named lower_zero_map_*") {
  Config c = LocalConfig();
  Result<Stack> built = BuildStack(c, std::make_shared<MemStore>(), Geometry{4096, 64 * 4096});
  REQUIRE(built.ok());
  Stack& s = *built;
  REQUIRE(s.top->Start().ok());
  std::string stats;
  s.top->DumpStats(&stats);
  // From the top: the upper map, the cache and its buffer pool, then the lower map.
  const size_t cache = stats.find("\nblock_cache_hits ");
  REQUIRE(cache != std::string::npos);
  CHECK(stats.starts_with("zero_map_known_zero "));
  CHECK(stats.find("\nbuffer_pool_unmaps 0\nlower_zero_map_known_zero ", cache) !=
        std::string::npos);
  CHECK(stats.find("\nlower_zero_map_known_zero 63\nlower_zero_map_reads_elided 0\n") !=
        std::string::npos);
  CHECK(stats.find("\nzero_map_", cache) == std::string::npos);  // one map is zero_map_*
  REQUIRE(s.top->Shutdown().ok());
}

TEST_CASE("stack: a stack assigned over a live one frees its cached blocks before its pool") {
  // Blocks of 64 KiB and more come from the pool; the old cache's clean blocks go back to the
  // old pool when the old top is dropped, so the pool must go after it (ASan checks).
  Config c = LocalConfig();
  auto rec = std::make_shared<RecordingObjectStore>();
  const Geometry big{128 * 1024, 16 * 128 * 1024};
  Result<Stack> built = BuildStack(c, rec, big);
  REQUIRE(built.ok());
  REQUIRE(built->top->Start().ok());
  REQUIRE(built->bytes->Write(3 * big.block_size, Pattern(big.block_size, 1)).ok());
  REQUIRE(built->bytes->Flush().ok());  // block 3 stays cached, clean, in a pooled buffer
  REQUIRE(built->top->Shutdown().ok());
  built = BuildStack(c, rec, big);
  REQUIRE(built.ok());
  REQUIRE(built->top->Start().ok());
  std::vector<uint8_t> back(big.block_size);
  REQUIRE(built->bytes->Read(3 * big.block_size, back).ok());
  CHECK(back == Pattern(big.block_size, 1));
  REQUIRE(built->top->Shutdown().ok());
}

TEST_CASE("stack: BuildStack uses the prefix, the hash prefix and read-only") {
  Config c = LocalConfig();
  c.prefix = "vol/";
  c.hash_prefix = true;
  auto rec = std::make_shared<RecordingObjectStore>();
  Result<Stack> built = BuildStack(c, rec, Geometry{4096, 16 * 4096});
  REQUIRE(built.ok());
  REQUIRE(built->top->Start().ok());
  // The codec check of block 0 (CheckKey), the object layer's Start storing the absent block 0,
  // then the survey (--listBlocks).
  CHECK(rec->calls() == std::vector<std::string>{"head vol/c448b72c-00000000",
                                                 "head vol/c448b72c-00000000",
                                                 "put vol/c448b72c-00000000", "list vol/"});
  REQUIRE(built->bytes->Write(5 * 4096, Pattern(4096, 1)).ok());
  REQUIRE(built->bytes->Flush().ok());  // the block cache writes back
  CHECK(rec->Has(BlockKey("vol/", true, 5)));
  REQUIRE(built->top->Shutdown().ok());

  c.read_only = true;
  rec->ClearCalls();
  built = BuildStack(c, rec, Geometry{4096, 16 * 4096});
  REQUIRE(built.ok());
  REQUIRE(built->top->Start().ok());
  Status st = built->bytes->Write(6 * 4096, Pattern(4096, 2));
  CHECK(st.code() == EROFS);
  CHECK(rec->CountCalls("put") == 0);

  // Without --listBlocks there is no survey (S3 default).
  c = LocalConfig();
  c.list_blocks = false;
  rec->ClearCalls();
  built = BuildStack(c, rec, Geometry{4096, 16 * 4096});
  REQUIRE(built.ok());
  REQUIRE(built->top->Start().ok());
  CHECK(rec->CountCalls("list") == 0);

  // A geometry the object layer cannot take fails without I/O.
  rec->ClearCalls();
  CHECK_FALSE(BuildStack(c, rec, Geometry{4096, 0}).ok());
  CHECK(rec->calls().empty());
}

TEST_CASE("stack: zero writes leave no object") {
  Config c = LocalConfig();
  auto rec = std::make_shared<RecordingObjectStore>();
  Result<Stack> built = BuildStack(c, rec, Geometry{4096, 16 * 4096});
  REQUIRE(built.ok());
  REQUIRE(built->top->Start().ok());
  REQUIRE(rec->Has(BlockKey("", false, 0)));  // Start stored block 0 (zeros, the geometry)
  rec->ClearCalls();

  // Zeros over an empty bucket: nothing is sent but for block 0, which keeps its object.
  std::vector<uint8_t> zeros(3 * 4096);
  REQUIRE(built->bytes->Write(4096, zeros).ok());
  REQUIRE(built->bytes->Write(100, std::span<const uint8_t>(zeros).first(50)).ok());
  REQUIRE(built->bytes->Zero(0, 16 * 4096).ok());
  REQUIRE(built->bytes->Flush().ok());
  CHECK(rec->CountCalls("put") == rec->CountCalls("put 00000000"));
  CHECK(rec->CountCalls("delete") == 0);
  CHECK(rec->object_count() == 1);
  CHECK(rec->Has(BlockKey("", false, 0)));

  // Data, then zeros over it: the object goes away.
  REQUIRE(built->bytes->Write(2 * 4096 + 10, Pattern(100, 9)).ok());
  REQUIRE(built->bytes->Flush().ok());  // the block cache writes back
  CHECK(rec->Has(BlockKey("", false, 2)));
  REQUIRE(built->bytes->Write(2 * 4096, std::span<const uint8_t>(zeros).first(4096)).ok());
  REQUIRE(built->bytes->Flush().ok());
  CHECK_FALSE(rec->Has(BlockKey("", false, 2)));
  std::vector<uint8_t> back(4096, 0xff);
  REQUIRE(built->bytes->Read(2 * 4096, back).ok());
  CHECK(IsAllZero(back));
  REQUIRE(built->top->Shutdown().ok());
}

TEST_CASE("stack: block 0 carries the geometry") {
  Config c = LocalConfig();
  auto mem = std::make_shared<MemStore>();
  const Geometry g{8192, 32 * 8192};
  Result<Stack> built = BuildStack(c, mem, g);
  REQUIRE(built.ok());
  REQUIRE(built->top->Start().ok());
  REQUIRE(built->bytes->Write(0, Pattern(512, 5)).ok());
  REQUIRE(built->bytes->Flush().ok());
  // Zeros over the whole disk (mkfs.ext4 discards it first): block 0 keeps its object.
  REQUIRE(built->bytes->Zero(0, g.size_bytes).ok());
  REQUIRE(built->bytes->Flush().ok());
  REQUIRE(built->top->Shutdown().ok());

  Result<Geometry> read = ReadGeometry(*mem, BlockKey("", false, 0));
  REQUIRE(read.ok());
  CHECK(read->block_size == g.block_size);
  CHECK(read->size_bytes == g.size_bytes);
  // So a later start with no --size and no --blockSize gets it back.
  Result<Geometry> resolved = ResolveGeometry(LocalConfig(), *read);
  REQUIRE(resolved.ok());
  CHECK(resolved->block_size == 8192);
  CHECK(resolved->size_bytes == 32 * 8192);
}

TEST_CASE("stack: a recovered dirty block 0 is uploaded after Start's zero block 0") {
  // A cache file holds a dirty block 0 of a crashed mount, and the bucket has no block 0 (a
  // bucket of an older s3disk): the object layer starts first, so its zero block 0 comes
  // before the upload of the data, never over it.
  char dir[] = "/tmp/stack_test.XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  Config c = LocalConfig();
  c.block_cache_file = std::string(dir) + "/cache";
  c.cache.write_delay_ms = 60000;  // stays dirty until the crash
  auto mem = std::make_shared<MemStore>();
  const Geometry g{4096, 16 * 4096};
  {
    Result<Stack> crashed = BuildStack(c, mem, g);
    REQUIRE(crashed.ok());
    REQUIRE(crashed->top->Start().ok());
    // A part of the block waits the write delay (a whole block would go at once).
    REQUIRE(crashed->bytes->Write(10, Pattern(100, 3)).ok());
    // Dropped without Flush or Shutdown: a crash.
  }
  REQUIRE(mem->Delete(BlockKey("", false, 0)).ok());
  Result<Stack> again = BuildStack(c, mem, g);
  REQUIRE(again.ok());
  REQUIRE(again->top->Start().ok());
  Result<Object> b0 = mem->Get(BlockKey("", false, 0));
  REQUIRE(b0.ok());
  std::vector<uint8_t> want(4096, 0);
  const std::vector<uint8_t> part = Pattern(100, 3);
  std::copy(part.begin(), part.end(), want.begin() + 10);
  CHECK(b0->data == want);
  std::string stats;
  again->top->DumpStats(&stats);
  CHECK(stats.find("block_cache_recovered_blocks 1\n") != std::string::npos);
  CHECK(b0->info.meta.at(kBlockSizeHeader) == "4096");
  REQUIRE(again->top->Shutdown().ok());
  unlink(c.block_cache_file.c_str());
  rmdir(dir);
}

TEST_CASE("stack: OpenStack writes nothing unless every check passed") {
  FakeClock clock;
  auto rec = std::make_shared<RecordingObjectStore>();
  Config c = LocalConfig();

  // No geometry anywhere.
  CheckError(OpenStack(c, rec, clock).status(), EINVAL,
             "--size is required: the bucket holds no geometry yet");
  CHECK(rec->CountCalls("put") + rec->CountCalls("delete") == 0);

  // A bucket with an image: a mismatch is refused before the token.
  Metadata meta = GeometryMetadata(Geometry{4096, 16 * 4096});
  meta["content-type"] = kBlockContentType;
  rec->SetObject(BlockKey("", false, 0), Pattern(4096, 1), meta);
  c.block_size = 8192;
  CheckError(OpenStack(c, rec, clock).status(), EINVAL,
             "bucket says blockSize=4096 but --blockSize=8192; use --force to override");
  // A mounted bucket is refused too.
  c.block_size = 0;
  REQUIRE(WriteMountToken(*rec, "", 99, clock).ok());
  rec->ClearCalls();
  CHECK(OpenStack(c, rec, clock).status().code() == EBUSY);
  CHECK(rec->CountCalls("put") + rec->CountCalls("delete") == 0);

  // All good: the token is the only write, and the stack serves the stored image.
  c.reset_mounted_flag = true;
  rec->ClearCalls();
  Result<OpenedStack> opened = OpenStack(c, rec, clock);
  REQUIRE(opened.ok());
  CHECK(opened->geometry.block_size == 4096);
  CHECK(opened->geometry.size_bytes == 16 * 4096);
  CHECK(opened->mount_token != 0);
  CHECK(rec->CountCalls("put") == 2);
  CHECK(rec->CountCalls("put " + MountTokenKey("")) == 2);
  Stack& s = opened->stack;
  REQUIRE(s.top->Start().ok());
  std::vector<uint8_t> back(4096);
  REQUIRE(s.bytes->Read(0, back).ok());
  CHECK(back == Pattern(4096, 1));
  REQUIRE(s.bytes->Flush().ok());
  REQUIRE(s.top->Shutdown().ok());
  REQUIRE(ReleaseMountToken(*s.store, c, opened->mount_token).ok());
  CHECK_FALSE(rec->Has(MountTokenKey("")));
}

TEST_CASE("stack: OpenStack surfaces a failing bucket with context") {
  FakeClock clock;
  auto rec = std::make_shared<RecordingObjectStore>();
  rec->FailNext(1, EIO);
  Config c = LocalConfig();
  c.size_bytes = 1 << 20;
  Status st = OpenStack(c, rec, clock).status();
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == EIO);
  CHECK(st.message().find(MountTokenKey("")) != std::string::npos);  // the first thing read
  CHECK(rec->CountCalls("put") == 0);
  // Read-only: the geometry is the first thing read.
  rec->FailNext(1, EIO);
  c.read_only = true;
  st = OpenStack(c, rec, clock).status();
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().find("00000000") != std::string::npos);
}

TEST_CASE("stack: OpenStack refuses an encrypted bucket mounted without --encrypt") {
  FakeClock clock;
  auto rec = std::make_shared<RecordingObjectStore>();
  Config c = LocalConfig();
  Metadata meta = GeometryMetadata(Geometry{4096, 16 * 4096});
  meta["content-type"] = kBlockContentType;
  meta["content-encoding"] = "deflate, encrypt-AES-128-CBC";
  meta["x-amz-meta-s3backer-hmac"] = "\"" + std::string(40, '0') + "\"";
  rec->SetObject(BlockKey("", false, 0), Pattern(4096, 1), meta);
  for (bool read_only : {false, true}) {
    INFO("read_only " << read_only);
    c.read_only = read_only;
    rec->ClearCalls();
    CheckError(OpenStack(c, rec, clock).status(), EINVAL,
               "bucket mem: holds encrypted blocks (AES-128-CBC); mount it with "
               "--encrypt=aes-128-cbc --passwordFile=FILE");
    CHECK(rec->CountCalls("put") + rec->CountCalls("delete") == 0);  // not even the token
  }
  // A compressed bucket needs no flag.
  meta["content-encoding"] = "deflate";
  meta.erase("x-amz-meta-s3backer-hmac");
  rec->SetObject(BlockKey("", false, 0), Pattern(4096, 1), meta);
  c.read_only = false;
  Result<OpenedStack> opened = OpenStack(c, rec, clock);
  REQUIRE(opened.ok());
  REQUIRE(ReleaseMountToken(*opened->stack.store, c, opened->mount_token).ok());
}

}  // namespace
}  // namespace s3disk
