// The BlockStore contract between layers: the derived operations (ReadBlocks, ReadPart,
// WritePart, Trim) never skip a layer, and the real layers, composed in stack.cc's order, still
// pass a batch, a trim, the parts of a block and a write's MD5 down whole to the bucket.
#include "block/block_store.h"

#include <catch2/catch.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/buffer_pool.h"
#include "base/clock.h"
#include "base/crypto.h"
#include "base/md5_many.h"
#include "block/block_cache.h"
#include "block/block_key.h"
#include "block/byte_range.h"
#include "block/codec.h"
#include "block/consistency_guard.h"
#include "block/object_block_store.h"
#include "block/zero_map.h"
#include "fakes.h"

namespace s3disk {
namespace {

using Bytes = std::vector<uint8_t>;
using Calls = std::vector<std::string>;

constexpr uint32_t kBs = 64;
constexpr uint64_t kBlocks = 64;

Bytes Fill(uint8_t v) { return Bytes(kBs, v); }

// A layer that overrides only the per-block core operations, logging them.
class PerBlockLayer : public ForwardingBlockStore {
 public:
  using ForwardingBlockStore::ForwardingBlockStore;
  Status ReadBlock(BlockNum n, std::span<uint8_t> buf) override {
    Log("read " + BlockHex(n));
    return below().ReadBlock(n, buf);
  }
  Status WriteBlock(BlockNum n, std::span<const uint8_t> data,
                    const WriteHints& hints = {}) override {
    Log("write " + BlockHex(n) + (data.empty() ? " zero" : "") + (hints.md5 ? " md5" : ""));
    return below().WriteBlock(n, data, hints);
  }
  Calls calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  void Log(std::string call) {
    std::lock_guard lock(mu_);
    calls_.push_back(std::move(call));
  }
  std::mutex mu_;
  Calls calls_;
};

TEST_CASE("block_store: the derived operations go through the layer's own ReadBlock/WriteBlock") {
  auto below_owned = std::make_unique<RecordingBlockStore>(kBs, kBlocks);
  RecordingBlockStore* below = below_owned.get();
  PerBlockLayer layer(std::move(below_owned));
  below->SetBlock(1, Fill(1));
  below->SetBlock(2, Fill(2));
  below->SetBlock(4, Fill(4));
  below->SetBlock(5, Fill(5));
  below->SetBlock(6, Fill(6));

  SECTION("ReadBlocks: ReadBlock of each") {
    Bytes a(kBs), b(kBs), c(kBs);
    const BlockNum ns[] = {1, 2, 3};
    const std::span<uint8_t> bufs[] = {a, b, c};
    std::vector<Status> st = layer.ReadBlocks(ns, bufs);
    REQUIRE(st.size() == 3);
    for (const Status& s : st) CHECK(s.ok());
    CHECK(a == Fill(1));
    CHECK(b == Fill(2));
    CHECK(c == Fill(0));
    CHECK(layer.calls() == Calls{"read 00000001", "read 00000002", "read 00000003"});
    CHECK(below->calls() == Calls{"read 1", "read 2", "read 3"});  // no "batch"
  }
  SECTION("ReadPart: ReadBlock, then a copy") {
    uint8_t part[3] = {};
    REQUIRE(layer.ReadPart(4, 10, part).ok());
    CHECK(Bytes(part, part + 3) == Bytes(3, 4));
    CHECK(layer.calls() == Calls{"read 00000004"});
    CHECK(below->calls() == Calls{"read 4"});  // not "read 4 10+3"
  }
  SECTION("WritePart: ReadBlock, then WriteBlock of the merged block") {
    REQUIRE(layer.WritePart(5, 10, Bytes(3, 9)).ok());
    Bytes want = Fill(5);
    std::fill(want.begin() + 10, want.begin() + 13, 9);
    CHECK(below->Block(5) == want);
    CHECK(layer.calls() == Calls{"read 00000005", "write 00000005"});
    CHECK(below->calls() == Calls{"read 5", "write 5"});  // not "part 5 10+3"
  }
  SECTION("Trim: WriteBlock of zeros for each") {
    REQUIRE(layer.Trim(6, 2).ok());
    CHECK(below->Block(6) == Fill(0));
    CHECK(layer.calls() == Calls{"write 00000006 zero", "write 00000007 zero"});
    CHECK(below->calls() == Calls{"write 6 zero", "write 7 zero"});  // not "trim 6+2"
  }
  SECTION("a hinted WriteBlock: the layer's WriteBlock, hints and all") {
    const Md5Digest md5 = Md5(Fill(8));
    REQUIRE(layer.WriteBlock(8, Fill(8), {.md5 = &md5}).ok());
    CHECK(layer.calls() == Calls{"write 00000008 md5"});
    CHECK(below->calls() == Calls{"write 8"});
    CHECK(below->md5_given() == 1);  // the fake checked it is the data's
  }
}

// Records the keys of every GetMany, one entry per call.
class BatchRecordingStore : public RecordingObjectStore {
 public:
  std::vector<Result<Object>> GetMany(const std::vector<std::string>& keys,
                                      std::span<const std::span<uint8_t>> into) override {
    {
      std::lock_guard lock(batches_mu_);
      batches_.push_back(keys);
    }
    return RecordingObjectStore::GetMany(keys, into);
  }
  std::vector<std::vector<std::string>> batches() {
    std::lock_guard lock(batches_mu_);
    return batches_;
  }
  void ClearBatches() {
    std::lock_guard lock(batches_mu_);
    batches_.clear();
  }

 private:
  std::mutex batches_mu_;
  std::vector<std::vector<std::string>> batches_;
};

std::string Key(BlockNum n) { return BlockKey("vol/", false, n); }

std::vector<std::string> Keys(BlockNum first, BlockNum end) {
  std::vector<std::string> keys;
  for (BlockNum n = first; n < end; n++) keys.push_back(Key(n));
  return keys;
}

std::shared_ptr<const Codec> Deflate() {
  CodecOptions o;
  REQUIRE(ParseCompressSpec("deflate:9", &o).ok());
  auto codec = Codec::Create(o);
  REQUIRE(codec.ok());
  return *codec;
}

// The real layers in stack.cc's order, over a BatchRecordingStore: [upper ZeroMap ->
// BlockCache ->] ZeroMap -> [ConsistencyGuard ->] ObjectBlockStore. The cache has no workers
// (TEST_Pump runs its jobs) and reads ahead a first window of 32 blocks (batches of 16).
struct Stack {
  struct Options {
    bool cache = true;
    bool guard = true;
    std::shared_ptr<const Codec> codec = nullptr;  // null: plain
  };
  explicit Stack(Options o) {
    ObjectBlockOptions ob;
    ob.prefix = "vol/";
    ob.block_size = kBs;
    ob.size_bytes = kBlocks * kBs;
    ob.codec = o.codec;
    auto made = ObjectBlockStore::Create(objects, ob);
    REQUIRE(made.ok());
    std::unique_ptr<BlockStore> below = std::move(*made);
    if (o.guard) {
      ConsistencyGuardOptions g;
      g.cache_size = kBlocks;  // entries live forever: one per block
      auto guarded = ConsistencyGuard::Create(std::move(below), g, clock);
      REQUIRE(guarded.ok());
      below = std::move(*guarded);
    }
    below = std::make_unique<ZeroMap>(std::move(below), /*survey_at_start=*/true);
    if (o.cache) {
      BlockCacheOptions c;
      c.cache_size_blocks = kBlocks;
      c.threads = 0;
      c.read_ahead_blocks = 32;
      c.read_ahead_trigger = 2;
      auto cached = BlockCache::Create(std::move(below), std::move(c), pool, clock);
      REQUIRE(cached.ok());
      cache = cached->get();
      below = std::move(*cached);
      below = std::make_unique<ZeroMap>(std::move(below), /*survey_at_start=*/true);
    }
    top = std::move(below);
    bytes = std::make_unique<ByteRange>(*top);
  }
  ~Stack() { CHECK(top->Shutdown().ok()); }
  // Starts the stack (the surveys, block 0) and forgets the start-up traffic.
  void Start() {
    REQUIRE(top->Start().ok());
    objects->ClearCalls();
    ClearBatches();
  }
  void ClearBatches() { objects->ClearBatches(); }
  Bytes Read(BlockNum n) {
    Bytes buf(kBs);
    REQUIRE(top->ReadBlock(n, buf).ok());
    return buf;
  }
  std::string Stat(const std::string& name) {
    std::string out;
    top->DumpStats(&out);
    const size_t at = out.find(name + " ");
    if (at == std::string::npos) return "";
    return out.substr(at + name.size() + 1, out.find('\n', at) - at - name.size() - 1);
  }

  FakeClock clock;
  BufferPool pool;  // (before top: it outlives the cached blocks)
  std::shared_ptr<BatchRecordingStore> objects = std::make_shared<BatchRecordingStore>();
  BlockCache* cache = nullptr;
  std::unique_ptr<BlockStore> top;
  std::unique_ptr<ByteRange> bytes;
};

TEST_CASE(
    "block_store: a batch read reaches the object store as one GetMany through the maps "
    "and the guard") {
  Stack s({.cache = false});
  for (BlockNum n : {1, 2, 3, 5}) s.objects->SetObject(Key(n), Fill(static_cast<uint8_t>(n)));
  s.Start();
  REQUIRE(s.top->WriteBlock(6, Fill(6)).ok());  // the guard checks block 6's reads
  s.ClearBatches();

  std::vector<Bytes> bufs(6, Bytes(kBs));
  const BlockNum ns[] = {1, 2, 3, 4, 5, 6};
  std::vector<std::span<uint8_t>> spans(bufs.begin(), bufs.end());
  std::vector<Status> st = s.top->ReadBlocks(ns, spans);
  REQUIRE(st.size() == 6);
  for (size_t i = 0; i < 6; i++) {
    CHECK(st[i].ok());
    CHECK(bufs[i] == Fill(ns[i] == 4 ? 0 : static_cast<uint8_t>(ns[i])));
  }
  // Block 4 is known zero (the survey found no object); block 6 is read alone, checked.
  CHECK(s.objects->batches() ==
        std::vector<std::vector<std::string>>{{Key(1), Key(2), Key(3), Key(5)}, {Key(6)}});
}

TEST_CASE("block_store: the cache's read-ahead reaches the object store as one GetMany per batch") {
  static_assert(ReadAheadPolicy::kFetchBatchBlocks == 16);
  Stack s({});
  for (BlockNum n = 1; n < 40; n++) s.objects->SetObject(Key(n), Fill(static_cast<uint8_t>(n)));
  s.Start();
  CHECK(s.Read(0) == Fill(0));  // block 0: stored zeros (Start)
  CHECK(s.Read(1) == Fill(1));  // the second sequential read: the window is 2..33
  CHECK(s.cache->TEST_Pump() == 2);
  CHECK(s.objects->batches() ==
        std::vector<std::vector<std::string>>{{Key(0)}, {Key(1)}, Keys(2, 18), Keys(18, 34)});
  s.objects->ClearCalls();
  for (BlockNum n = 2; n < 34; n++) CHECK(s.Read(n) == Fill(static_cast<uint8_t>(n)));
  CHECK(s.objects->CountCalls("get ") == 0);
}

TEST_CASE("block_store: a trim reaches the object store as bulk deletes through every layer") {
  Stack s({});
  for (BlockNum n = 1; n < 40; n++) s.objects->SetObject(Key(n), Fill(static_cast<uint8_t>(n)));
  s.Start();
  REQUIRE(s.bytes->Zero(uint64_t{4} * kBs, uint64_t{30} * kBs).ok());  // blocks 4..33
  std::string deletes = "delete_many";
  for (const std::string& key : Keys(4, 34)) deletes += " " + key;
  CHECK(s.objects->calls() == Calls{deletes});
  CHECK(s.Read(10) == Fill(0));
}

TEST_CASE("block_store: the parts of a block are merged by the cache into one upload") {
  Stack s({});
  s.objects->SetObject(Key(3), Fill(3));
  s.Start();
  REQUIRE(s.bytes->Write(uint64_t{3} * kBs + 5, Bytes(4, 7)).ok());
  REQUIRE(s.bytes->Write(uint64_t{3} * kBs + 20, Bytes(4, 8)).ok());
  REQUIRE(s.bytes->Flush().ok());
  CHECK(s.objects->calls() == Calls{"get " + Key(3), "put " + Key(3)});
  Bytes want = Fill(3);
  std::fill(want.begin() + 5, want.begin() + 9, 7);
  std::fill(want.begin() + 20, want.begin() + 24, 8);
  CHECK(s.objects->Peek(Key(3))->data == want);
}

TEST_CASE("block_store: a write's MD5 reaches the object store's Put through every layer") {
  const bool cache = GENERATE(false, true);
  const bool guard = GENERATE(false, true);
  CAPTURE(cache, guard);
  SECTION("plain blocks: the digest goes with the body") {
    Stack s({.cache = cache, .guard = guard});
    s.Start();
    const Md5Digest md5 = Md5(Fill(5));
    REQUIRE(s.top->WriteBlock(5, Fill(5), {.md5 = &md5}).ok());
    REQUIRE(s.top->Flush().ok());
    CHECK(s.objects->calls() == Calls{"put " + Key(5)});
    CHECK(s.objects->md5_given() == 1);  // the fake checked it is the body's
    CHECK(s.Stat("object_blocks_written_hashed_above") == "1");
    // Whole blocks written together through ByteRange: hashed there, when that is faster.
    Bytes data;
    for (uint8_t v = 10; v < 14; v++) {
      const Bytes block = Fill(v);
      data.insert(data.end(), block.begin(), block.end());
    }
    REQUIRE(s.bytes->Write(uint64_t{10} * kBs, data).ok());
    REQUIRE(s.bytes->Flush().ok());
    CHECK(s.objects->md5_given() == (Md5ManyVectorized() ? 5u : 1u));
  }
  SECTION("a codec that changes the bytes: the digest stays behind") {
    Stack s({.cache = cache, .guard = guard, .codec = Deflate()});
    s.Start();
    const Md5Digest md5 = Md5(Fill(5));
    REQUIRE(s.top->WriteBlock(5, Fill(5), {.md5 = &md5}).ok());
    REQUIRE(s.top->Flush().ok());
    CHECK(s.objects->calls() == Calls{"put " + Key(5)});
    CHECK(s.objects->md5_given() == 0);
    CHECK(s.Stat("object_blocks_written_hashed_above") == "0");
    CHECK(s.Read(5) == Fill(5));
  }
}

}  // namespace
}  // namespace s3disk
