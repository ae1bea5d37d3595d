#include "block/object_block_store.h"

#include <catch2/catch.hpp>
#include <random>
#include <set>

#include "base/crypto.h"
#include "block/block_key.h"
#include "block/bucket_meta.h"
#include "block/codec.h"
#include "fakes.h"

namespace s3disk {
namespace {

using Calls = std::vector<std::string>;
using Bytes = std::vector<uint8_t>;

constexpr uint32_t kBlockSize = 64;

struct Fixture {
  explicit Fixture(ObjectBlockOptions o = Options()) : opts(o), blocks(objects, opts) {}
  static ObjectBlockOptions Options() {
    ObjectBlockOptions o;
    o.prefix = "vol/";
    o.block_size = kBlockSize;
    o.size_bytes = 16 * kBlockSize;
    return o;
  }
  std::shared_ptr<RecordingObjectStore> objects = std::make_shared<RecordingObjectStore>();
  ObjectBlockOptions opts;
  ObjectBlockStore blocks;
};

Bytes Pattern(uint8_t seed) {
  Bytes b(kBlockSize);
  for (size_t i = 0; i < b.size(); i++) b[i] = static_cast<uint8_t>(seed + i);
  return b;
}

TEST_CASE("object_block_store: an absent object reads as zeros") {
  Fixture f;
  Bytes buf(kBlockSize, 0xee);
  REQUIRE(f.blocks.ReadBlock(10, buf).ok());
  CHECK(buf == Bytes(kBlockSize, 0));
  CHECK(f.objects->calls() == Calls{"get vol/0000000a"});
  std::string stats;
  f.blocks.DumpStats(&stats);
  CHECK(stats.find("object_blocks_read_absent 1\n") != std::string::npos);
}

TEST_CASE("object_block_store: a written block is one PUT and reads back") {
  Fixture f;
  REQUIRE(f.blocks.WriteBlock(3, Pattern(7)).ok());
  auto obj = f.objects->Peek("vol/00000003");
  REQUIRE(obj);
  CHECK(obj->data == Pattern(7));
  CHECK(obj->info.meta == Metadata{{"content-type", "application/x-s3backer-block"}});
  Bytes buf(kBlockSize);
  REQUIRE(f.blocks.ReadBlock(3, buf).ok());
  CHECK(buf == Pattern(7));
  CHECK(f.objects->calls() == Calls{"put vol/00000003", "get vol/00000003"});
}

TEST_CASE("object_block_store: a zero write becomes a delete") {
  Fixture f;
  f.objects->SetObject("vol/00000003", Pattern(1));
  f.objects->SetObject("vol/00000004", Pattern(2));
  REQUIRE(f.blocks.WriteBlock(3, Bytes(kBlockSize, 0)).ok());
  REQUIRE(f.blocks.WriteBlock(4, {}).ok());
  CHECK(f.objects->calls() == Calls{"delete vol/00000003", "delete vol/00000004"});
  CHECK(f.objects->object_count() == 0);
}

TEST_CASE("object_block_store: block 0 carries the geometry headers") {
  Fixture f;
  REQUIRE(f.blocks.WriteBlock(0, Pattern(9)).ok());
  REQUIRE(f.blocks.WriteBlock(1, Pattern(9)).ok());
  auto b0 = f.objects->Peek("vol/00000000");
  REQUIRE(b0);
  CHECK(b0->info.meta.at("content-type") == "application/x-s3backer-block");
  CHECK(b0->info.meta.at("x-amz-meta-s3backer-blocksize") == "64");
  CHECK(b0->info.meta.at("x-amz-meta-s3backer-filesize") == "1024");
  CHECK(f.objects->Peek("vol/00000001")->info.meta.count("x-amz-meta-s3backer-blocksize") == 0);
}

TEST_CASE("object_block_store: an ETag that is not the body's MD5 is EBADMSG") {
  // Refused by the store, which checks every body it returns (the ObjectStore contract).
  Fixture f;
  f.objects->SetObject("vol/00000005", Pattern(1), {}, Md5Hex(Pattern(2)));
  Bytes buf(kBlockSize, 0xee);
  Status st = f.blocks.ReadBlock(5, buf);
  CHECK(st.code() == EBADMSG);  // (buf may hold the refused body: on failure it is unspecified)
  CHECK(st.message().find("00000005") != std::string::npos);
  std::string stats;
  f.blocks.DumpStats(&stats);
  CHECK(stats.find("object_bad_blocks 1\n") != std::string::npos);

  // Quoted and uppercase MD5 ETags are still checked and accepted when right.
  std::string md5 = Md5Hex(Pattern(1));
  for (auto& c : md5) c = static_cast<char>(toupper(c));
  f.objects->SetObject("vol/00000005", Pattern(1), {}, "\"" + md5 + "\"");
  CHECK(f.blocks.ReadBlock(5, buf).ok());
  // An ETag that is not an MD5 (multipart) cannot be checked and is not an error.
  f.objects->SetObject("vol/00000005", Pattern(1), {}, "d41d8cd98f00b204e9800998ecf8427e-2");
  CHECK(f.blocks.ReadBlock(5, buf).ok());
  CHECK(buf == Pattern(1));
}

// A store that hands up every body with the ETag it holds, checked or not: ObjectBlockStore
// takes any ETag reported as checked (the ObjectStore contract).
class VouchingObjectStore : public RecordingObjectStore {
 public:
  std::vector<Result<Object>> GetMany(const std::vector<std::string>& keys,
                                      std::span<const std::span<uint8_t>>) override {
    std::vector<Result<Object>> out;
    for (const auto& key : keys) {
      std::optional<Object> obj = Peek(key);
      if (obj) {
        out.push_back(std::move(*obj));
      } else {
        out.push_back(Status(ENOENT, "vouching_object_store: no " + key));
      }
    }
    return out;
  }
};

TEST_CASE("object_block_store: no second MD5: the store checked the body") {
  // The planted ETag is wrong, so a second check here would refuse the block: it passes only
  // because the store vouched for it (reported it with the body) and it was not hashed again.
  auto store = std::make_shared<VouchingObjectStore>();
  ObjectBlockStore blocks(store, Fixture::Options());
  store->SetObject("vol/00000005", Pattern(1), {}, Md5Hex(Pattern(2)));
  Bytes buf(kBlockSize, 0xee);
  REQUIRE(blocks.ReadBlock(5, buf).ok());
  CHECK(buf == Pattern(1));
  std::string stats;
  blocks.DumpStats(&stats);
  CHECK(stats.find("object_bad_blocks 0\n") != std::string::npos);
  CHECK(stats.find("object_blocks_read 1\n") != std::string::npos);
  // A store that checks (every backend, and the recording fake) refuses the same object.
  Fixture f;
  f.objects->SetObject("vol/00000005", Pattern(1), {}, Md5Hex(Pattern(2)));
  CHECK(f.blocks.ReadBlock(5, buf).code() == EBADMSG);
}

TEST_CASE("object_block_store: an unknown Content-Encoding is EBADMSG") {
  Fixture f;
  f.objects->SetObject("vol/00000002", Pattern(1), {{"content-encoding", "gzip"}});
  Bytes buf(kBlockSize);
  Status st = f.blocks.ReadBlock(2, buf);
  CHECK(st.code() == EBADMSG);
  CHECK(st.message().find("unknown Content-Encoding 'gzip'") != std::string::npos);
  CHECK(st.message().find("vol/00000002") != std::string::npos);
  // An empty encoding header is plain.
  f.objects->SetObject("vol/00000002", Pattern(1), {{"content-encoding", ""}});
  CHECK(f.blocks.ReadBlock(2, buf).ok());
}

TEST_CASE("object_block_store: a body of the wrong size is EBADMSG") {
  Fixture f;
  f.objects->SetObject("vol/00000002", Bytes(kBlockSize - 1, 1));
  Bytes buf(kBlockSize);
  CHECK(f.blocks.ReadBlock(2, buf).code() == EBADMSG);
  f.objects->SetObject("vol/00000002", Bytes(kBlockSize + 1, 1));
  CHECK(f.blocks.ReadBlock(2, buf).code() == EBADMSG);
}

TEST_CASE("object_block_store: read-only refuses every mutation and sends nothing") {
  ObjectBlockOptions o = Fixture::Options();
  o.read_only = true;
  Fixture f(o);
  CHECK(f.blocks.WriteBlock(1, Pattern(1)).code() == EROFS);
  CHECK(f.blocks.WriteBlock(1, {}).code() == EROFS);
  uint8_t part[4] = {1, 2, 3, 4};
  CHECK(f.blocks.WritePart(1, 8, part).code() == EROFS);
  CHECK(f.blocks.Trim(0, 4).code() == EROFS);
  CHECK(f.objects->calls().empty());
  Bytes buf(kBlockSize);
  CHECK(f.blocks.ReadBlock(1, buf).ok());
  CHECK(f.objects->calls() == Calls{"get vol/00000001"});
}

TEST_CASE("object_block_store: trim deletes in batches of 1000 keys") {
  ObjectBlockOptions o = Fixture::Options();
  o.size_bytes = uint64_t{3000} * kBlockSize;
  Fixture f(o);
  f.objects->SetObject("vol/00000064", Pattern(1));
  f.objects->SetObject("vol/00000a00", Pattern(1));
  REQUIRE(f.blocks.Trim(10, 2500).ok());
  Calls calls = f.objects->calls();
  REQUIRE(calls.size() == 3);
  auto count_keys = [](const std::string& call) {
    return static_cast<size_t>(std::count(call.begin(), call.end(), ' '));
  };
  CHECK(count_keys(calls[0]) == 1000);
  CHECK(count_keys(calls[1]) == 1000);
  CHECK(count_keys(calls[2]) == 500);
  CHECK(calls[0].rfind("delete_many vol/0000000a vol/0000000b ", 0) == 0);
  CHECK(calls[2].substr(calls[2].size() - 13) == " vol/000009cd");  // 10 + 2499
  CHECK(f.objects->object_count() == 1);  // 0x0a00 = 2560 is past the trimmed range
  CHECK(f.objects->Has("vol/00000a00"));

  f.objects->ClearCalls();
  CHECK(f.blocks.Trim(2999, 2).code() == EINVAL);
  CHECK(f.blocks.Trim(0, 0).ok());
  CHECK(f.objects->calls().empty());

  f.objects->FailNext(1, EIO);
  Status st = f.blocks.Trim(1, 5);
  CHECK(st.code() == EIO);
  CHECK(st.message().find("object_block_store: trim vol/00000001..vol/00000005") == 0);
}

TEST_CASE("object_block_store: survey reports only this disk's block keys") {
  for (bool hash : {false, true}) {
    ObjectBlockOptions o = Fixture::Options();
    o.hash_prefix = hash;
    Fixture f(o);
    for (BlockNum n : {1u, 5u, 15u}) f.objects->SetObject(BlockKey("vol/", hash, n), Pattern(1));
    f.objects->SetObject(BlockKey("vol/", hash, 16), Pattern(1));  // past the end
    f.objects->SetObject(BlockKey("vol/", !hash, 7), Pattern(1));  // other naming
    f.objects->SetObject("vol/s3backer-mounted", {'x'});
    f.objects->SetObject("vol/0000000A", Pattern(1));
    f.objects->SetObject("other/00000003", Pattern(1));
    std::set<BlockNum> found;
    REQUIRE(f.blocks.SurveyNonZero([&](BlockNum n) { found.insert(n); }).ok());
    CHECK(found == std::set<BlockNum>{1, 5, 15});
    CHECK(f.objects->calls() == Calls{"list vol/"});  // too small to cut
  }
}

TEST_CASE("object_block_store: a survey cuts plain keys at even block numbers") {
  ObjectBlockOptions o = Fixture::Options();
  o.size_bytes = (uint64_t{1} << 24) * kBlockSize;  // 2^24 blocks
  Fixture big(o);
  REQUIRE(big.blocks.SurveyNonZero([](BlockNum) {}).ok());
  REQUIRE(big.objects->calls().size() == 1);
  std::string call = big.objects->calls()[0];
  CHECK(call.rfind("list vol/ vol/00004000 vol/00008000 ", 0) == 0);  // 2^24 / 1024
  CHECK(call.substr(call.size() - 13) == " vol/00ffc000");
  CHECK(std::count(call.begin(), call.end(), ' ') == 1 + 1023);

  // A part is at least kSurveyPartBlocks blocks: 10,000 blocks get cuts at 4096 and 8192.
  o.size_bytes = 10000ull * kBlockSize;
  Fixture mid(o);
  REQUIRE(mid.blocks.SurveyNonZero([](BlockNum) {}).ok());
  CHECK(mid.objects->calls() == Calls{"list vol/ vol/00001000 vol/00002000"});

  // Hashed keys: no cuts, the store's own split is even.
  o.hash_prefix = true;
  Fixture hashed(o);
  REQUIRE(hashed.blocks.SurveyNonZero([](BlockNum) {}).ok());
  CHECK(hashed.objects->calls() == Calls{"list vol/"});
}

TEST_CASE("object_block_store: hashed keys, partial writes and store errors") {
  ObjectBlockOptions o = Fixture::Options();
  o.hash_prefix = true;
  Fixture f(o);
  const std::string key = BlockKey("vol/", true, 2);
  uint8_t part[3] = {9, 9, 9};
  REQUIRE(f.blocks.WritePart(2, 10, part).ok());  // default read-modify-write
  CHECK(f.objects->calls() == Calls{"get " + key, "put " + key});
  Bytes expect(kBlockSize, 0);
  expect[10] = expect[11] = expect[12] = 9;
  CHECK(f.objects->Peek(key)->data == expect);

  f.objects->FailNext(1, EAGAIN);
  Bytes buf(kBlockSize);
  Status st = f.blocks.ReadBlock(2, buf);
  CHECK(st.code() == EAGAIN);
  CHECK(st.message().find("object_block_store: read block " + key) == 0);
  f.objects->FailNext(1, EIO);
  CHECK(f.blocks.WriteBlock(2, Pattern(3)).code() == EIO);
  CHECK(f.objects->Peek(key)->data == expect);
  CHECK(f.blocks.ReadBlock(16, buf).code() == EINVAL);
}

TEST_CASE("object_block_store: counters, then the store's") {
  Fixture f;
  Bytes buf(kBlockSize);
  REQUIRE(f.blocks.WriteBlock(1, Pattern(1)).ok());
  REQUIRE(f.blocks.ReadBlock(1, buf).ok());
  REQUIRE(f.blocks.ReadBlock(2, buf).ok());
  REQUIRE(f.blocks.WriteBlock(1, {}).ok());
  std::string stats;
  f.blocks.DumpStats(&stats);
  CHECK(stats ==
        "object_blocks_read 1\n"
        "object_blocks_read_absent 1\n"
        "object_blocks_written 1\n"
        "object_blocks_written_hashed_above 0\n"
        "object_blocks_deleted 1\n"
        "object_bytes_read 64\n"
        "object_bytes_written 64\n"
        "object_bad_blocks 0\n"
        "recording_object_store_calls 4\n");
}

std::shared_ptr<const Codec> MakeCodec(const char* compress, bool encrypt,
                                       const char* password = "pw") {
  CodecOptions o;
  if (compress) REQUIRE(ParseCompressSpec(compress, &o).ok());
  o.encrypt = encrypt;
  o.password = password;
  o.bucket = "bucket";
  o.prefix = "vol/";
  auto c = Codec::Create(o);
  REQUIRE(c.ok());
  return *c;
}

ObjectBlockOptions WithCodec(std::shared_ptr<const Codec> codec) {
  ObjectBlockOptions o = Fixture::Options();
  o.codec = std::move(codec);
  return o;
}

TEST_CASE("object_block_store: ReadBlocks answers each block; bad ones fail alone") {
  Fixture f;
  REQUIRE(f.blocks.WriteBlock(1, Pattern(1)).ok());
  f.objects->SetObject("vol/00000003", Pattern(3), {}, Md5Hex(Pattern(9)));  // wrong ETag
  REQUIRE(f.blocks.WriteBlock(4, Pattern(4)).ok());
  f.objects->ClearCalls();
  std::vector<Bytes> bufs(5, Bytes(kBlockSize, 0xee));
  const BlockNum ns[] = {1, 2, 3, 4, 16};  // 16 is past the end
  std::vector<std::span<uint8_t>> spans(bufs.begin(), bufs.end());
  std::vector<Status> st = f.blocks.ReadBlocks(ns, spans);
  REQUIRE(st.size() == 5);
  CHECK(st[0].ok());
  CHECK(bufs[0] == Pattern(1));
  CHECK(st[1].ok());
  CHECK(bufs[1] == Bytes(kBlockSize, 0));  // absent: zeros
  CHECK(st[2].code() == EBADMSG);
  CHECK(st[3].ok());
  CHECK(bufs[3] == Pattern(4));
  CHECK(st[4].code() == EINVAL);
  // One request per block; nothing for the block past the end.
  CHECK(f.objects->calls() ==
        Calls{"get vol/00000001", "get vol/00000002", "get vol/00000003", "get vol/00000004"});
}

TEST_CASE("object_block_store: an encoded body received in its block's buffer still decodes") {
  // The store writes a body into the read buffer when it is exactly a block long; a
  // compressed body of that size must be decoded from a copy, not over itself.
  Fixture f(WithCodec(MakeCodec("deflate:9", false)));
  std::shared_ptr<const Codec> codec = f.opts.codec;
  Bytes block(kBlockSize, 0);
  std::mt19937 rng(5);
  bool found = false;
  for (size_t random_bytes = 1; random_bytes < kBlockSize && !found; random_bytes++) {
    for (size_t i = 0; i < random_bytes; i++) block[i] = static_cast<uint8_t>(rng());
    auto enc = codec->Encode(7, block);
    REQUIRE(enc.ok());
    found = enc->body.size() == kBlockSize;
  }
  REQUIRE(found);
  REQUIRE(f.blocks.WriteBlock(7, block).ok());
  REQUIRE(f.objects->Peek("vol/00000007")->data.size() == kBlockSize);
  Bytes buf(kBlockSize);
  REQUIRE(f.blocks.ReadBlock(7, buf).ok());
  CHECK(buf == block);
}

TEST_CASE("object_block_store: a digest given with a plain block goes to the store") {
  Fixture f;
  const Md5Digest md5 = Md5(Pattern(7));
  REQUIRE(f.blocks.WriteBlock(3, Pattern(7), {.md5 = &md5}).ok());
  CHECK(f.objects->md5_given() == 1);  // the fake checked it is the body's
  CHECK(f.objects->Peek("vol/00000003")->data == Pattern(7));
  std::string stats;
  f.blocks.DumpStats(&stats);
  CHECK(stats.find("object_blocks_written_hashed_above 1\n") != std::string::npos);
  // Zeros are a delete, whatever digest comes with them.
  const Md5Digest zeros_md5 = Md5(Bytes(kBlockSize, 0));
  REQUIRE(f.blocks.WriteBlock(3, Bytes(kBlockSize, 0), {.md5 = &zeros_md5}).ok());
  CHECK(f.objects->calls() == Calls{"put vol/00000003", "delete vol/00000003"});
  CHECK(f.objects->md5_given() == 1);
}

TEST_CASE("object_block_store: a codec that changes the bytes drops the block's digest") {
  Fixture f(WithCodec(MakeCodec("deflate:9", false)));
  const Md5Digest md5 = Md5(Pattern(1));
  REQUIRE(f.blocks.WriteBlock(2, Pattern(1), {.md5 = &md5}).ok());
  CHECK(f.objects->md5_given() == 0);
  auto obj = f.objects->Peek("vol/00000002");
  REQUIRE(obj);
  CHECK(obj->info.etag == Md5Hex(obj->data));  // of the compressed body, computed below
}

TEST_CASE("object_block_store: a compressing codec stores the encoded body and headers") {
  Fixture f(WithCodec(MakeCodec("deflate:9", false)));
  Bytes zeros_tail(kBlockSize, 0);
  zeros_tail[0] = 1;
  REQUIRE(f.blocks.WriteBlock(0, zeros_tail).ok());
  auto obj = f.objects->Peek("vol/00000000");
  REQUIRE(obj);
  Result<EncodedBlock> expect = f.opts.codec->Encode(0, zeros_tail);
  REQUIRE(expect.ok());
  CHECK(obj->data == expect->body);  // the PUT carries the compressed body
  CHECK(obj->data.size() < kBlockSize);
  CHECK(obj->info.meta.at("content-encoding") == "deflate");
  CHECK(obj->info.meta.at("content-type") == "application/x-s3backer-block");
  CHECK(obj->info.meta.at("x-amz-meta-s3backer-blocksize") == "64");  // geometry still there
  CHECK(obj->info.etag == Md5Hex(obj->data));  // Content-MD5 is of the body as sent
  Bytes buf(kBlockSize);
  REQUIRE(f.blocks.ReadBlock(0, buf).ok());
  CHECK(buf == zeros_tail);
  std::string stats;
  f.blocks.DumpStats(&stats);
  CHECK(stats.find("object_bytes_written " + std::to_string(obj->data.size()) + "\n") !=
        std::string::npos);
  // Zero blocks are deletes, never encoded objects.
  REQUIRE(f.blocks.WriteBlock(1, Bytes(kBlockSize, 0)).ok());
  CHECK(f.objects->calls() == Calls{"put vol/00000000", "get vol/00000000", "delete vol/00000001"});
}

TEST_CASE("object_block_store: a plain store still reads compressed blocks") {
  Fixture writer(WithCodec(MakeCodec("deflate", false)));
  REQUIRE(writer.blocks.WriteBlock(4, Pattern(4)).ok());
  Fixture reader;  // no codec given: plain writes, decompressing reads
  reader.objects->SetObject("vol/00000004", writer.objects->Peek("vol/00000004")->data,
                            writer.objects->Peek("vol/00000004")->info.meta);
  Bytes buf(kBlockSize);
  REQUIRE(reader.blocks.ReadBlock(4, buf).ok());
  CHECK(buf == Pattern(4));
  REQUIRE(reader.blocks.WriteBlock(5, Pattern(5)).ok());
  CHECK(reader.objects->Peek("vol/00000005")->info.meta.count("content-encoding") == 0);
}

TEST_CASE("object_block_store: encrypted blocks round trip; bad ones are EBADMSG, not data") {
  Fixture f(WithCodec(MakeCodec(nullptr, true)));
  REQUIRE(f.blocks.WriteBlock(3, Pattern(3)).ok());
  REQUIRE(f.blocks.WriteBlock(4, Pattern(4)).ok());
  auto obj3 = f.objects->Peek("vol/00000003");
  REQUIRE(obj3);
  CHECK(obj3->info.meta.at("content-encoding") == "deflate, encrypt-AES-128-CBC");
  CHECK(obj3->info.meta.count("x-amz-meta-s3backer-hmac") == 1);
  Bytes buf(kBlockSize);
  REQUIRE(f.blocks.ReadBlock(3, buf).ok());
  CHECK(buf == Pattern(3));

  auto expect_bad = [&](BlockNum n, const char* why) {
    INFO(why);
    Bytes out(kBlockSize, 0xee);
    Status st = f.blocks.ReadBlock(n, out);
    CHECK(st.code() == EBADMSG);  // (out is unspecified: it may hold the refused body)
    CHECK(st.message().find("object_block_store: read block vol/0000000") == 0);
  };
  // Block 3's object copied over block 4 (a replay at another block number).
  f.objects->SetObject("vol/00000004", obj3->data, obj3->info.meta);
  expect_bad(4, "moved");
  // A flipped bit, with an ETag that matches the damaged body (so only the HMAC catches it).
  Bytes damaged = obj3->data;
  damaged[3] ^= 0x10;
  f.objects->SetObject("vol/00000003", damaged, obj3->info.meta);
  expect_bad(3, "tampered");
  // The HMAC header stripped.
  Metadata no_hmac = obj3->info.meta;
  no_hmac.erase("x-amz-meta-s3backer-hmac");
  f.objects->SetObject("vol/00000003", obj3->data, no_hmac);
  expect_bad(3, "no hmac");
  // A plain block where encrypted ones are expected.
  f.objects->SetObject("vol/00000003", Pattern(3));
  expect_bad(3, "plain");
  std::string stats;
  f.blocks.DumpStats(&stats);
  CHECK(stats.find("object_bad_blocks 4\n") != std::string::npos);

  // Written under another password: the other codec refuses it too.
  Fixture other(WithCodec(MakeCodec(nullptr, true, "other")));
  other.objects->SetObject("vol/00000003", obj3->data, obj3->info.meta);
  Bytes out(kBlockSize);
  CHECK(other.blocks.ReadBlock(3, out).code() == EBADMSG);
}

TEST_CASE("object_block_store: CheckKey refuses a wrong password at mount") {
  Fixture f(WithCodec(MakeCodec(nullptr, true, "right")));
  // Empty bucket: nothing to check against.
  CHECK(f.blocks.CheckKey("bkt").ok());
  REQUIRE(f.blocks.WriteBlock(0, Pattern(1)).ok());
  f.objects->ClearCalls();
  CHECK(f.blocks.CheckKey("bkt").ok());
  CHECK(f.objects->calls() == Calls{"get vol/00000000"});

  Fixture wrong(WithCodec(MakeCodec(nullptr, true, "wrong")));
  auto b0 = f.objects->Peek("vol/00000000");
  wrong.objects->SetObject("vol/00000000", b0->data, b0->info.meta);
  Status st = wrong.blocks.CheckKey("bkt");
  CHECK(st.code() == EINVAL);
  CHECK(st.message().find("wrong password") != std::string::npos);
  CHECK(wrong.objects->calls() == Calls{"get vol/00000000"});  // nothing written

  // No password for an encrypted bucket, or a password for a plain one.
  Fixture none;
  none.objects->SetObject("vol/00000000", b0->data, b0->info.meta);
  st = none.blocks.CheckKey("bkt");
  CHECK(st.code() == EINVAL);
  CHECK(st.message().find("--encrypt") != std::string::npos);
  wrong.objects->SetObject("vol/00000000", Pattern(2));
  CHECK(wrong.blocks.CheckKey("bkt").code() == EINVAL);
  // Store errors pass through.
  f.objects->FailNext(1, EIO);
  CHECK(f.blocks.CheckKey("bkt").code() == EIO);
}

// Block 0's object: the geometry headers, and (encrypting) what CheckKey verifies.
void CheckZeroBlock0(Fixture& f) {
  auto b0 = f.objects->Peek("vol/00000000");
  REQUIRE(b0);
  CHECK(b0->info.meta.at("content-type") == "application/x-s3backer-block");
  CHECK(b0->info.meta.at("x-amz-meta-s3backer-blocksize") == "64");
  CHECK(b0->info.meta.at("x-amz-meta-s3backer-filesize") == "1024");
  Result<Geometry> g = ReadGeometry(*f.objects, "vol/00000000");
  REQUIRE(g.ok());
  CHECK(g->block_size == kBlockSize);
  CHECK(g->size_bytes == 16 * kBlockSize);
  Bytes buf(kBlockSize, 0xee);
  REQUIRE(f.blocks.ReadBlock(0, buf).ok());
  CHECK(buf == Bytes(kBlockSize, 0));
}

TEST_CASE("object_block_store: zeros written to block 0 keep its object with the geometry") {
  Fixture f;
  REQUIRE(f.blocks.WriteBlock(0, Pattern(1)).ok());
  REQUIRE(f.blocks.WriteBlock(0, Bytes(kBlockSize, 0)).ok());
  CHECK(f.objects->calls() == Calls{"put vol/00000000", "put vol/00000000"});
  CHECK(f.objects->Peek("vol/00000000")->data == Bytes(kBlockSize, 0));  // plain: the zeros
  CheckZeroBlock0(f);
  // Empty data, and zeros with their digest, are stored zeros too; never a delete.
  REQUIRE(f.blocks.WriteBlock(0, {}).ok());
  const Bytes zeros(kBlockSize, 0);
  const Md5Digest zeros_md5 = Md5(zeros);
  REQUIRE(f.blocks.WriteBlock(0, zeros, {.md5 = &zeros_md5}).ok());
  CHECK(f.objects->CountCalls("delete") == 0);
  CheckZeroBlock0(f);
  // A partial write that leaves block 0 all zeros (the read-modify-write).
  REQUIRE(f.blocks.WriteBlock(0, Pattern(1)).ok());
  REQUIRE(f.blocks.WritePart(0, 0, Bytes(kBlockSize, 0)).ok());
  CheckZeroBlock0(f);

  // Compressing: the zero block 0 is encoded like any block.
  Fixture c(WithCodec(MakeCodec("deflate", false)));
  REQUIRE(c.blocks.WriteBlock(0, {}).ok());
  CHECK(c.objects->Peek("vol/00000000")->info.meta.at("content-encoding") == "deflate");
  CHECK(c.objects->Peek("vol/00000000")->data.size() < kBlockSize);
  CheckZeroBlock0(c);
}

TEST_CASE("object_block_store: a trim of block 0 keeps its object with the geometry") {
  Fixture f;
  for (BlockNum n : {0u, 1u, 2u, 5u}) REQUIRE(f.blocks.WriteBlock(n, Pattern(1)).ok());
  f.objects->ClearCalls();
  REQUIRE(f.blocks.Trim(0, 3).ok());
  CHECK(f.objects->calls() == Calls{"put vol/00000000", "delete_many vol/00000001 vol/00000002"});
  CHECK(f.objects->object_count() == 2);  // block 0 (zeros) and block 5
  CheckZeroBlock0(f);
  // The whole disk (mkfs.ext4 discards it first), and block 0 alone.
  REQUIRE(f.blocks.Trim(0, 16).ok());
  CHECK(f.objects->object_count() == 1);
  CheckZeroBlock0(f);
  f.objects->ClearCalls();
  REQUIRE(f.blocks.Trim(0, 1).ok());
  CHECK(f.objects->calls() == Calls{"put vol/00000000"});
  CheckZeroBlock0(f);

  // A failed PUT of block 0 fails the trim before anything is deleted.
  REQUIRE(f.blocks.WriteBlock(1, Pattern(2)).ok());
  f.objects->FailNext(1, EIO);
  Status st = f.blocks.Trim(0, 2);
  CHECK(st.code() == EIO);
  CHECK(st.message().find("object_block_store: write block vol/00000000") == 0);
  CHECK(f.objects->Has("vol/00000001"));
}

TEST_CASE("object_block_store: an encrypted block 0 of zeros still checks the password") {
  for (bool trim : {false, true}) {
    INFO("trim " << trim);
    Fixture f(WithCodec(MakeCodec(nullptr, true, "right")));
    REQUIRE(f.blocks.WriteBlock(0, Pattern(1)).ok());
    REQUIRE((trim ? f.blocks.Trim(0, 16) : f.blocks.WriteBlock(0, {})).ok());
    auto b0 = f.objects->Peek("vol/00000000");
    REQUIRE(b0);
    CHECK(b0->info.meta.at("content-encoding") == "deflate, encrypt-AES-128-CBC");
    CHECK(b0->info.meta.count("x-amz-meta-s3backer-hmac") == 1);
    CheckZeroBlock0(f);
    CHECK(f.blocks.CheckKey("bkt").ok());

    Fixture wrong(WithCodec(MakeCodec(nullptr, true, "wrong")));
    wrong.objects->SetObject("vol/00000000", b0->data, b0->info.meta);
    Status st = wrong.blocks.CheckKey("bkt");
    CHECK(st.code() == EINVAL);
    CHECK(st.message().find("wrong password") != std::string::npos);
    Fixture none;
    none.objects->SetObject("vol/00000000", b0->data, b0->info.meta);
    CHECK(none.blocks.CheckKey("bkt").code() == EINVAL);
  }
}

TEST_CASE("object_block_store: Start never replaces a block 0 that a stale HEAD missed") {
  // A store that answers HEAD from an older view (eventual consistency): block 0 is there.
  class StaleHead : public RecordingObjectStore {
   public:
    Result<ObjectInfo> Head(const std::string& key) override {
      return Status(ENOENT, "stale: no " + key);
    }
  };
  auto objects = std::make_shared<StaleHead>();
  ObjectBlockStore blocks(objects, Fixture::Options());
  objects->SetObject("vol/00000000", Pattern(7));
  REQUIRE(blocks.Start().ok());
  auto b0 = objects->Peek("vol/00000000");
  REQUIRE(b0);
  CHECK(b0->data == Pattern(7));
}

TEST_CASE("object_block_store: Start checks a block 0 that a stale HEAD missed") {
  // The first HEAD (the start-up checks') answers from an older view; later ones see it.
  class StaleOnce : public RecordingObjectStore {
   public:
    Result<ObjectInfo> Head(const std::string& key) override {
      if (heads_++ == 0) return Status(ENOENT, "stale: no " + key);
      return RecordingObjectStore::Head(key);
    }

   private:
    int heads_ = 0;
  };
  auto objects = std::make_shared<StaleOnce>();
  ObjectBlockStore blocks(objects, Fixture::Options());
  Metadata other = GeometryMetadata(Geometry{2 * kBlockSize, 16 * kBlockSize});
  objects->SetObject("vol/00000000", Pattern(7), other);
  Status st = blocks.Start();
  CHECK(st.code() == EINVAL);
  CHECK(st.message().find("appeared after the start-up checks") != std::string::npos);
  CHECK(objects->Peek("vol/00000000")->data == Pattern(7));
}

TEST_CASE(
    "object_block_store: Start stores block 0 plainly on a server that refuses If-None-Match") {
  auto objects = std::make_shared<NoIfAbsentObjectStore>();
  ObjectBlockStore blocks(objects, Fixture::Options());
  REQUIRE(blocks.Start().ok());
  REQUIRE(objects->Peek("vol/00000000"));
  CHECK(objects->Peek("vol/00000000")->data == Bytes(kBlockSize, 0));
}

TEST_CASE("object_block_store: Start stores block 0 as zeros when the bucket has none") {
  Fixture f(WithCodec(MakeCodec(nullptr, true, "right")));
  REQUIRE(f.blocks.Start().ok());
  CHECK(f.objects->calls() == Calls{"head vol/00000000", "put vol/00000000"});
  CheckZeroBlock0(f);
  Fixture wrong(WithCodec(MakeCodec(nullptr, true, "wrong")));
  auto b0 = f.objects->Peek("vol/00000000");
  wrong.objects->SetObject("vol/00000000", b0->data, b0->info.meta);
  CHECK(wrong.blocks.CheckKey("bkt").code() == EINVAL);

  // A block 0 that exists (data, maybe recovered by a cache above) is never replaced.
  REQUIRE(f.blocks.WriteBlock(0, Pattern(4)).ok());
  f.objects->ClearCalls();
  REQUIRE(f.blocks.Start().ok());
  CHECK(f.objects->calls() == Calls{"head vol/00000000"});
  Bytes buf(kBlockSize);
  REQUIRE(f.blocks.ReadBlock(0, buf).ok());
  CHECK(buf == Pattern(4));

  // Read-only: nothing is sent. A failed HEAD fails the start and writes nothing.
  ObjectBlockOptions ro = Fixture::Options();
  ro.read_only = true;
  Fixture r(ro);
  REQUIRE(r.blocks.Start().ok());
  CHECK(r.objects->calls().empty());
  Fixture e;
  e.objects->FailNext(1, EIO);
  Status st = e.blocks.Start();
  CHECK(st.code() == EIO);
  CHECK(st.message().find("vol/00000000") != std::string::npos);
  CHECK(e.objects->object_count() == 0);
}

TEST_CASE("object_block_store: Create validates the geometry") {
  auto store = std::make_shared<RecordingObjectStore>();
  ObjectBlockOptions o = Fixture::Options();
  CHECK(ObjectBlockStore::Create(store, o).ok());
  o.block_size = 0;
  CHECK(ObjectBlockStore::Create(store, o).status().code() == EINVAL);
  o.block_size = 4096;
  o.size_bytes = 4095;
  CHECK(ObjectBlockStore::Create(store, o).status().code() == EINVAL);
  o.block_size = 1;
  o.size_bytes = (uint64_t{1} << 32) + 1;
  CHECK(ObjectBlockStore::Create(store, o).status().code() == EINVAL);
  o.size_bytes = uint64_t{1} << 32;
  auto ok = ObjectBlockStore::Create(store, o);
  REQUIRE(ok.ok());
  CHECK((*ok)->num_blocks() == uint64_t{1} << 32);
  CHECK(store->calls().empty());
}

TEST_CASE("object_block_store: CheckKey refuses an encrypted bucket mounted without --encrypt") {
  Fixture writer(WithCodec(MakeCodec(nullptr, true, "right")));
  REQUIRE(writer.blocks.WriteBlock(0, Pattern(1)).ok());
  auto b0 = writer.objects->Peek("vol/00000000");
  REQUIRE(b0);

  Fixture plain;  // no --encrypt, no password
  plain.objects->SetObject("vol/00000000", b0->data, b0->info.meta);
  Status st = plain.blocks.CheckKey("my-bucket");
  CHECK(st.code() == EINVAL);
  // One line naming the bucket, the cipher and the flags that fix it.
  CHECK(st.message() ==
        "bucket my-bucket holds encrypted blocks (AES-128-CBC); mount it with "
        "--encrypt=aes-128-cbc --passwordFile=FILE");
  // Only block 0's headers were asked for; nothing was written.
  CHECK(plain.objects->calls() == Calls{"head vol/00000000"});

  // Another cipher, named as s3backer writes it, after another layer.
  Metadata other = b0->info.meta;
  other["content-encoding"] = "deflate,Encrypt-AES-256-CBC ";
  plain.objects->SetObject("vol/00000000", b0->data, other);
  st = plain.blocks.CheckKey("b");
  CHECK(st.code() == EINVAL);
  CHECK(st.message().find("(AES-256-CBC); mount it with --encrypt=aes-256-cbc ") !=
        std::string::npos);

  // Compressed blocks need no flag: decompression is always on.
  Fixture compressed(WithCodec(MakeCodec("deflate", false)));
  REQUIRE(compressed.blocks.WriteBlock(0, Pattern(2)).ok());
  auto c0 = compressed.objects->Peek("vol/00000000");
  REQUIRE(c0->info.meta.at("content-encoding") == "deflate");
  plain.objects->SetObject("vol/00000000", c0->data, c0->info.meta);
  CHECK(plain.blocks.CheckKey("b").ok());
  // A plain block 0, or none at all, is fine too.
  plain.objects->SetObject("vol/00000000", Pattern(3));
  CHECK(plain.blocks.CheckKey("b").ok());
  REQUIRE(plain.objects->Delete("vol/00000000").ok());
  plain.objects->ClearCalls();
  CHECK(plain.blocks.CheckKey("b").ok());
  CHECK(plain.objects->calls() == Calls{"head vol/00000000"});

  // An encoding s3disk cannot read at all refuses the mount rather than every read.
  Metadata unknown = c0->info.meta;
  unknown["content-encoding"] = "gzip";
  plain.objects->SetObject("vol/00000000", c0->data, unknown);
  st = plain.blocks.CheckKey("b");
  CHECK(st.code() == EINVAL);
  CHECK(st.message().find("bucket b: ") == 0);
  CHECK(st.message().find("gzip") != std::string::npos);

  // A HEAD that fails passes through, with context.
  plain.objects->FailNext(1, EIO);
  st = plain.blocks.CheckKey("b");
  CHECK(st.code() == EIO);
  CHECK(st.message().find("object_block_store: check encoding: head vol/00000000") == 0);
}

TEST_CASE("object_block_store: CheckKey refuses a plain bucket mounted with --encrypt") {
  Fixture enc(WithCodec(MakeCodec(nullptr, true, "pw")));
  enc.objects->SetObject("vol/00000000", Pattern(1));
  Status st = enc.blocks.CheckKey("plain-bucket");
  CHECK(st.code() == EINVAL);
  CHECK(st.message().find("bucket plain-bucket holds blocks that are not encrypted") == 0);
  CHECK(st.message().find("without --encrypt") != std::string::npos);
  // A compressed but unencrypted block is not encrypted either.
  Fixture compressed(WithCodec(MakeCodec("deflate", false)));
  REQUIRE(compressed.blocks.WriteBlock(0, Pattern(2)).ok());
  auto c0 = compressed.objects->Peek("vol/00000000");
  enc.objects->SetObject("vol/00000000", c0->data, c0->info.meta);
  CHECK(enc.blocks.CheckKey("b").message().find("not encrypted") != std::string::npos);
}

}  // namespace
}  // namespace s3disk
