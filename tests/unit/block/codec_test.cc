#include "block/codec.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <random>

#include "app/config.h"
#include "base/crypto.h"
#include "s3/s3_store.h"

namespace s3disk {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr size_t kBlockSize = 4096;

Bytes Hex(std::string_view hex) {
  Bytes out;
  REQUIRE(HexDecode(hex, &out));
  return out;
}

// "hello" then zeros: the block the s3backer captures below were made from.
Bytes HelloBlock() {
  Bytes b(kBlockSize, 0);
  memcpy(b.data(), "hello", 5);
  return b;
}

Bytes Mixed(uint32_t seed) {
  // Half random, half text: compressible but not trivially.
  std::mt19937 rng(seed);
  Bytes b(kBlockSize);
  for (size_t i = 0; i < b.size(); i++) {
    b[i] = i < b.size() / 2 ? static_cast<uint8_t>(rng()) : static_cast<uint8_t>("abcdefgh"[i % 8]);
  }
  return b;
}

std::shared_ptr<const Codec> Make(CodecOptions o) {
  Result<std::shared_ptr<const Codec>> c = Codec::Create(o);
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  return *c;
}

CodecOptions Encrypted(std::string bucket = "mybucket", std::string prefix = "",
                       std::string password = "secret") {
  CodecOptions o;
  o.encrypt = true;
  o.password = std::move(password);
  o.bucket = std::move(bucket);
  o.prefix = std::move(prefix);
  return o;
}

Status DecodeInto(const Codec& c, BlockNum n, const Bytes& body, const Metadata& meta, Bytes* out) {
  out->assign(kBlockSize, 0xee);
  return c.Decode(n, body, meta, *out);
}

TEST_CASE("codec: the known encryption vectors") {
  auto c = Make(Encrypted());
  CHECK(HexEncode(c->TEST_key()) == "3b601fa6cc45f747a0a6b71800c44a1b");
  CHECK(HexEncode(c->TEST_ivkey()) == "1fae41544d23c71dd58be76991fa4b35");
  Result<Bytes> iv0 = c->BlockIv(0);
  Result<Bytes> iv1 = c->BlockIv(1);
  REQUIRE(iv0.ok());
  REQUIRE(iv1.ok());
  CHECK(HexEncode(*iv0) == "99d3a417c1084355ebfbbf3b77e5f61c");
  CHECK(HexEncode(*iv1) == "7a3da28260b7b28bf271d99e36fdc864");

  // The raw plaintext "hello" as block 0, encrypted by hand with the derived key and IV.
  Result<BlockCipher> aes = BlockCipher::Lookup("aes-128-cbc");
  REQUIRE(aes.ok());
  Result<Bytes> ct = aes->Encrypt(c->TEST_key(), *iv0, AsBytes("hello"), true);
  REQUIRE(ct.ok());
  CHECK(HexEncode(*ct) == "de687ce2d16dfa1c1a0579cc71961d4e");
  // The codec's HMAC over it is the vector's: Authenticate accepts it for block 0 only.
  Metadata meta{{"content-encoding", "encrypt-AES-128-CBC"},
                {"x-amz-meta-s3backer-hmac", "\"e8b5a1173b39cacb58395265aa4684a391f932d9\""}};
  CHECK(c->Authenticate(0, *ct, meta).ok());
  CHECK(c->Authenticate(1, *ct, meta).code() == EBADMSG);
  meta["x-amz-meta-s3backer-hmac"] = "\"e8b5a1173b39cacb58395265aa4684a391f932d8\"";
  CHECK(c->Authenticate(0, *ct, meta).code() == EBADMSG);
}

TEST_CASE("codec: encode of block 0 is byte for byte what s3backer 1.5.4 wrote") {
  // Captured from the real s3backer 1.5.4 (--encrypt --password=secret --blockSize=4k, bucket
  // mybucket, writing "hello" at offset 0) through a recording HTTP server.
  auto c = Make(Encrypted());
  Result<EncodedBlock> e = c->Encode(0, HelloBlock());
  REQUIRE(e.ok());
  CHECK(HexEncode(e->body) ==
        "53a3e8d7d9b0d1f5969f6514f3567ebf2e8329df2085d93bc873f0fa3049cfd45602e46412b5575a48980bc1"
        "30e26f74");
  CHECK(e->meta ==
        Metadata{{"content-encoding", "deflate, encrypt-AES-128-CBC"},
                 {"x-amz-meta-s3backer-hmac", "\"702a99c53c18dff07166749af890cc12a56cc396\""}});
}

TEST_CASE("codec: blocks written by real s3backer 1.5.4 decode") {
  struct Capture {
    const char* what;
    CodecOptions options;
    BlockNum block;
    const char* body_hex;
    const char* encoding;
    const char* hmac;
  };
  CodecOptions aes256 = Encrypted("aes256");
  aes256.cipher = "aes-256-cbc";
  CodecOptions keylen = Encrypted("keylen");
  keylen.key_length_bytes = 32;
  CodecOptions deflate;
  deflate.compression = Compression::kDeflate;
  const Capture captures[] = {
      {"--prefix=vol1/ block 1", Encrypted("pfx", "vol1/"), 1,
       "67aa720c99055c01d26e1446043c11d04076700060777b23054b8043135115c11be79dac802dd7e6073ef0e0"
       "a868acde",
       "deflate, encrypt-AES-128-CBC", "\"dce16abb60d5dc075365a3e3cb34b6b94cccaa2a\""},
      {"--encrypt=aes-256-cbc", aes256, 0,
       "9a6c2183f41480ec949f6bf1d6ef2339e65ddea29b39e3c6d5113cc1cdbb308c1148fb1c8f5aa2f9e1607a88"
       "302bed89",
       "deflate, encrypt-AES-256-CBC", "\"02c3eb69012716839596eb2623a7f755e468ac6f\""},
      {"--keyLength=32", keylen, 0,
       "34d144fec63ef7131b6dffcd90e767cc486425208797514e89f59071dbb5747c9219e01774103d89b9b862b0"
       "4fe67d10",
       "deflate, encrypt-AES-128-CBC", "\"9223ca8981fc8408052dfab9255a07bbd5ad6307\""},
      {"--compress=9", deflate, 0,
       "78daedc1b10900000803309f151c0afebff98724994eb600000080cf0e4db20215", "deflate", nullptr},
  };
  for (const Capture& cap : captures) {
    INFO(cap.what);
    auto c = Make(cap.options);
    Metadata meta{{"content-encoding", cap.encoding}};
    if (cap.hmac) meta["x-amz-meta-s3backer-hmac"] = cap.hmac;
    Bytes out;
    Status st = DecodeInto(*c, cap.block, Hex(cap.body_hex), meta, &out);
    INFO(st.ToString());
    REQUIRE(st.ok());
    CHECK(out == HelloBlock());
    // And our encoder makes the same bytes (deterministic IV; level 9 given for --compress=9).
    if (cap.options.encrypt) {
      Result<EncodedBlock> e = c->Encode(cap.block, HelloBlock());
      REQUIRE(e.ok());
      CHECK(HexEncode(e->body) == cap.body_hex);
      CHECK(e->meta.at("x-amz-meta-s3backer-hmac") == cap.hmac);
    }
  }
}

TEST_CASE("codec: deflate and zstd round trip at several levels") {
  struct Case {
    const char* spec;
    Compression algo;
  };
  std::vector<Case> cases = {{"", Compression::kDeflate},
                             {"1", Compression::kDeflate},
                             {"deflate", Compression::kDeflate},
                             {"deflate:9", Compression::kDeflate},
                             {"zlib:5", Compression::kDeflate}};
  if (ZstdAvailable()) {
    cases.push_back({"zstd", Compression::kZstd});
    cases.push_back({"zstd:1", Compression::kZstd});
    cases.push_back({"zstd:19", Compression::kZstd});
  }
  for (const Case& k : cases) {
    INFO("--compress=" << k.spec);
    CodecOptions o;
    REQUIRE(ParseCompressSpec(k.spec, &o).ok());
    CHECK(o.compression == k.algo);
    auto c = Make(o);
    for (const Bytes& block : {HelloBlock(), Mixed(1), Bytes(kBlockSize, 0x5a)}) {
      Result<EncodedBlock> e = c->Encode(7, block);
      REQUIRE(e.ok());
      CHECK(e->meta == Metadata{{"content-encoding", CompressionName(k.algo)}});
      CHECK(e->body.size() < block.size());
      if (k.algo == Compression::kDeflate) {
        // A zlib stream as compress2 makes: s3backer inflates it.
        Bytes inflated(kBlockSize);
        uLongf len = inflated.size();
        REQUIRE(uncompress(inflated.data(), &len, e->body.data(), e->body.size()) == Z_OK);
        CHECK(inflated == block);
      }
      Bytes out;
      REQUIRE(DecodeInto(*c, 7, e->body, e->meta, &out).ok());
      CHECK(out == block);
      // Decompression is always on: a plain codec reads it too.
      REQUIRE(DecodeInto(*Codec::Plain(), 7, e->body, e->meta, &out).ok());
      CHECK(out == block);
    }
  }
  // Higher levels really are different settings.
  CodecOptions fast, best;
  REQUIRE(ParseCompressSpec("deflate:1", &fast).ok());
  REQUIRE(ParseCompressSpec("deflate:9", &best).ok());
  CHECK(Make(fast)->Encode(0, Mixed(2))->body != Make(best)->Encode(0, Mixed(2))->body);
}

TEST_CASE("codec: no encoding of a block is larger than MaxEncodedBytes") {
  std::vector<std::string> specs = {"deflate:1", "deflate:9"};
  if (ZstdAvailable()) specs.insert(specs.end(), {"zstd:1", "zstd:19"});
  std::mt19937 rng(3);
  for (uint32_t size : {512u, 4096u, 128u << 10}) {
    Bytes random(size);  // incompressible: the worst case
    for (uint8_t& b : random) b = static_cast<uint8_t>(rng());
    for (const std::string& spec : specs) {
      for (bool encrypt : {false, true}) {
        INFO(size << " bytes, " << spec << (encrypt ? ", encrypted" : ""));
        CodecOptions o = encrypt ? Encrypted() : CodecOptions();
        REQUIRE(ParseCompressSpec(spec, &o).ok());
        Result<EncodedBlock> e = Make(o)->Encode(1, random);
        REQUIRE(e.ok());
        CHECK(e->body.size() > size);  // it did grow
        CHECK(e->body.size() <= MaxEncodedBytes(size));
      }
    }
  }
  // S3Store's default bound holds any block s3disk mounts.
  CHECK(MaxEncodedBytes(kMaxBlockSize) <= S3Options().max_object_bytes);
}

TEST_CASE("codec: --compress specs that are refused") {
  for (const char* bad : {"11", "0", "deflate:0", "deflate:10", "deflate:", "lz4", "zstd:x",
                          "zstd:99", ":3", "deflate:-1"}) {
    INFO(bad);
    CodecOptions o;
    Status st = ParseCompressSpec(bad, &o);
    CHECK(st.code() == EINVAL);
    CHECK(st.message().find("--compress") != std::string::npos);
    CHECK(o.compression == Compression::kNone);  // untouched on error
  }
  CodecOptions o;
  o.compression = Compression::kDeflate;
  o.level = 12;
  CHECK(Codec::Create(o).status().code() == EINVAL);
}

TEST_CASE("codec: plain codec writes plain blocks and checks their size") {
  auto c = Codec::Plain();
  CHECK(c->content_encoding().empty());
  CHECK(c->Describe() == "plain");
  Result<EncodedBlock> e = c->Encode(3, Mixed(3));
  REQUIRE(e.ok());
  CHECK(e->body == Mixed(3));
  CHECK(e->meta.empty());
  Bytes out;
  REQUIRE(DecodeInto(*c, 3, e->body, {}, &out).ok());
  CHECK(out == Mixed(3));
  Status st = DecodeInto(*c, 3, Bytes(kBlockSize - 1), {}, &out);
  CHECK(st.code() == EBADMSG);
  CHECK(st.message().find("00000003") != std::string::npos);
  CHECK(DecodeInto(*c, 3, Bytes(kBlockSize + 1), {}, &out).code() == EBADMSG);
}

TEST_CASE("codec: encryption round trips and implies compression") {
  auto c = Make(Encrypted("bucket", "vol/"));
  CHECK(c->encrypting());
  CHECK(c->compression() == Compression::kDeflate);
  CHECK(c->content_encoding() == "deflate, encrypt-AES-128-CBC");
  CHECK(c->Describe().find("secret") == std::string::npos);
  for (BlockNum n : {0u, 1u, 0x2au, 0xffffffffu}) {
    Result<EncodedBlock> e = c->Encode(n, Mixed(n));
    REQUIRE(e.ok());
    CHECK(e->body.size() % 16 == 0);
    CHECK(e->meta.at("x-amz-meta-s3backer-hmac").size() == 42);
    Bytes out;
    REQUIRE(DecodeInto(*c, n, e->body, e->meta, &out).ok());
    CHECK(out == Mixed(n));
  }
  // Same data, other block: other IV, other body.
  CHECK(c->Encode(1, Mixed(9))->body != c->Encode(2, Mixed(9))->body);
  if (ZstdAvailable()) {
    CodecOptions o = Encrypted();
    REQUIRE(ParseCompressSpec("zstd:3", &o).ok());
    auto z = Make(o);
    CHECK(z->content_encoding() == "zstd, encrypt-AES-128-CBC");
    Result<EncodedBlock> e = z->Encode(5, Mixed(5));
    REQUIRE(e.ok());
    Bytes out;
    REQUIRE(DecodeInto(*z, 5, e->body, e->meta, &out).ok());
    CHECK(out == Mixed(5));
  }
}

TEST_CASE("codec: tampered, truncated and foreign encrypted bodies are EBADMSG") {
  auto c = Make(Encrypted("bucket", "vol/"));
  Result<EncodedBlock> e = c->Encode(9, Mixed(9));
  REQUIRE(e.ok());
  Bytes out;
  auto expect_bad = [&](const Bytes& body, const Metadata& meta, BlockNum n, const char* why,
                        const std::shared_ptr<const Codec>& codec) {
    INFO(why);
    Status st = DecodeInto(*codec, n, body, meta, &out);
    CHECK(st.code() == EBADMSG);
    char hex[16];
    snprintf(hex, sizeof(hex), "%08x", n);
    CHECK(st.message().find(hex) != std::string::npos);
    CHECK(out == Bytes(kBlockSize, 0xee));  // nothing decoded was handed out
  };
  Bytes flipped = e->body;
  flipped[flipped.size() / 2] ^= 1;
  expect_bad(flipped, e->meta, 9, "one bit flipped", c);
  expect_bad(Bytes(e->body.begin(), e->body.end() - 16), e->meta, 9, "truncated", c);
  expect_bad(Bytes{}, e->meta, 9, "empty", c);
  expect_bad(e->body, e->meta, 10, "moved to block 10", c);
  Metadata no_hmac = e->meta;
  no_hmac.erase("x-amz-meta-s3backer-hmac");
  expect_bad(e->body, no_hmac, 9, "missing HMAC", c);
  Metadata bad_hmac = e->meta;
  bad_hmac["x-amz-meta-s3backer-hmac"] = "\"" + std::string(40, '0') + "\"";
  expect_bad(e->body, bad_hmac, 9, "wrong HMAC", c);
  bad_hmac["x-amz-meta-s3backer-hmac"] = "\"zz\"";
  expect_bad(e->body, bad_hmac, 9, "malformed HMAC", c);
  expect_bad(e->body, e->meta, 9, "other password", Make(Encrypted("bucket", "vol/", "other")));
  expect_bad(e->body, e->meta, 9, "other prefix", Make(Encrypted("bucket", "vol2/")));
  expect_bad(e->body, e->meta, 9, "other bucket", Make(Encrypted("bucket2", "vol/")));
  CodecOptions aes256 = Encrypted("bucket", "vol/");
  aes256.cipher = "aes-256-cbc";
  expect_bad(e->body, e->meta, 9, "other cipher", Make(aes256));
  expect_bad(e->body, e->meta, 9, "encrypted, no password", Codec::Plain());
  // A plain or merely compressed object where encrypted ones are expected: refused.
  expect_bad(Mixed(9), {}, 9, "plain when encrypting", c);
  expect_bad(Mixed(9), {{"content-encoding", "deflate"}}, 9, "deflate when encrypting", c);
  // The messages say what happened.
  Status st = DecodeInto(*c, 10, e->body, e->meta, &out);
  CHECK(st.message().find("HMAC mismatch") != std::string::npos);
  st = DecodeInto(*Codec::Plain(), 9, e->body, e->meta, &out);
  CHECK(st.message().find("no --encrypt") != std::string::npos);
  // The right codec still reads it (the checks above did not pass by accident).
  REQUIRE(DecodeInto(*c, 9, e->body, e->meta, &out).ok());
  CHECK(out == Mixed(9));
}

TEST_CASE("codec: corrupt, truncated and oversized compressed bodies are EBADMSG") {
  CodecOptions o;
  o.compression = Compression::kDeflate;
  auto c = Make(o);
  Result<EncodedBlock> e = c->Encode(4, Mixed(4));
  REQUIRE(e.ok());
  Bytes out;
  Bytes body = e->body;
  body[body.size() / 2] ^= 0x40;
  CHECK(DecodeInto(*c, 4, body, e->meta, &out).code() == EBADMSG);
  CHECK(DecodeInto(*c, 4, Bytes(e->body.begin(), e->body.end() - 5), e->meta, &out).code() ==
        EBADMSG);
  Bytes trailing = e->body;
  trailing.push_back(0);
  CHECK(DecodeInto(*c, 4, trailing, e->meta, &out).code() == EBADMSG);
  // A stream that inflates to more (or less) than one block.
  Bytes big(kBlockSize * 2, 'x');
  uLongf len = compressBound(big.size());
  Bytes z(len);
  REQUIRE(compress2(z.data(), &len, big.data(), big.size(), 6) == Z_OK);
  z.resize(len);
  Status st = DecodeInto(*c, 4, z, e->meta, &out);
  CHECK(st.code() == EBADMSG);
  CHECK(st.message().find("more than") != std::string::npos);
  len = compressBound(100);
  z.assign(len, 0);
  REQUIRE(compress2(z.data(), &len, big.data(), 100, 6) == Z_OK);
  z.resize(len);
  CHECK(DecodeInto(*c, 4, z, e->meta, &out).code() == EBADMSG);
  if (ZstdAvailable()) {
    CodecOptions zo;
    REQUIRE(ParseCompressSpec("zstd", &zo).ok());
    auto zc = Make(zo);
    Result<EncodedBlock> ze = zc->Encode(4, Mixed(4));
    REQUIRE(ze.ok());
    CHECK(DecodeInto(*zc, 4, Bytes(ze->body.begin(), ze->body.end() - 3), ze->meta, &out).code() ==
          EBADMSG);
    // deflate bytes labelled zstd, and the other way round.
    CHECK(DecodeInto(*zc, 4, e->body, ze->meta, &out).code() == EBADMSG);
    CHECK(DecodeInto(*zc, 4, ze->body, e->meta, &out).code() == EBADMSG);
  }
}

TEST_CASE("codec: unknown or malformed Content-Encoding is refused") {
  auto c = Codec::Plain();
  Bytes out;
  for (const char* enc : {"gzip", "br", "deflate, deflate", "encrypt-AES-128-CBC, deflate",
                          "deflate, gzip", "encrypt-", "identity"}) {
    INFO(enc);
    Status st = DecodeInto(*c, 2, Mixed(2), {{"content-encoding", enc}}, &out);
    CHECK(st.code() == EBADMSG);
  }
  Status st = DecodeInto(*c, 2, Mixed(2), {{"content-encoding", "gzip"}}, &out);
  CHECK(st.message().find("unknown Content-Encoding 'gzip'") != std::string::npos);
  // Spacing and case as other writers may send them.
  auto enc = Make(Encrypted());
  Result<EncodedBlock> e = enc->Encode(2, Mixed(2));
  REQUIRE(e.ok());
  for (const char* spelling : {"deflate,encrypt-AES-128-CBC", " DEFLATE ,  encrypt-aes-128-cbc"}) {
    Metadata meta = e->meta;
    meta["content-encoding"] = spelling;
    CHECK(DecodeInto(*enc, 2, e->body, meta, &out).ok());
  }
  // An empty header is plain.
  CHECK(DecodeInto(*c, 2, Mixed(2), {{"content-encoding", ""}}, &out).ok());
}

TEST_CASE("codec: bad encryption options are refused at Create") {
  CodecOptions o = Encrypted();
  o.password.clear();
  CHECK(Codec::Create(o).status().message().find("password") != std::string::npos);
  o = Encrypted();
  o.cipher = "rot13";
  CHECK(Codec::Create(o).status().code() == EINVAL);
  o = Encrypted();
  o.cipher = "aes-128-ctr";
  CHECK(Codec::Create(o).status().code() == EINVAL);
  o = Encrypted();
  o.key_length_bytes = 8;  // shorter than AES-128's key
  CHECK(Codec::Create(o).status().code() == EINVAL);
  o.key_length_bytes = 65;
  CHECK(Codec::Create(o).status().code() == EINVAL);
  o.key_length_bytes = 64;  // s3backer's old EVP_MAX_KEY_LENGTH keys
  CHECK(Codec::Create(o).ok());
}

// --- The command line (config.h) for the codec options. ---

// A directory to mount on and to hold a password file; removed at the end.
struct CliDir {
  CliDir() {
    char tmpl[] = "/tmp/s3disk-codec-test.XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~CliDir() {
    unlink((path + "/pw").c_str());
    rmdir(path.c_str());
  }
  std::string path;
};

Status ParseAndValidate(std::vector<std::string> args, Config* out) {
  args.insert(args.begin(), "s3disk");
  Result<Config> c = ParseArgs(args);
  if (!c.ok()) return c.status();
  *out = *c;
  return Validate(out);
}

TEST_CASE("codec: command line --compress and --encrypt, with and without values") {
  CliDir dir;
  Config c;
  // A bare --compress does not swallow the next argument.
  REQUIRE(ParseAndValidate({"--compress", "mem:", dir.path}, &c).ok());
  CHECK(c.args == std::vector<std::string>{"mem:", dir.path});
  CodecOptions o = MakeCodecOptions(c);
  CHECK(o.compression == Compression::kDeflate);
  CHECK(o.level == 0);
  CHECK_FALSE(o.encrypt);
  REQUIRE(ParseAndValidate({"--compress=7", "mem:", dir.path}, &c).ok());
  CHECK(MakeCodecOptions(c).level == 7);
  if (ZstdAvailable()) {
    REQUIRE(ParseAndValidate({"--compress=zstd:5", "mem:", dir.path}, &c).ok());
    CHECK(MakeCodecOptions(c).compression == Compression::kZstd);
    CHECK(MakeCodecOptions(c).level == 5);
  }
  REQUIRE(ParseAndValidate({"mem:", dir.path}, &c).ok());
  CHECK(MakeCodecOptions(c).compression == Compression::kNone);

  REQUIRE(
      ParseAndValidate(
          {"--encrypt", "--password", "cli-test-password-1", "--prefix=vol/", "mem:", dir.path}, &c)
          .ok());
  o = MakeCodecOptions(c);
  CHECK(o.encrypt);
  CHECK(o.cipher == "aes-128-cbc");
  CHECK(o.password == "cli-test-password-1");
  CHECK(o.bucket == "mem");
  CHECK(o.prefix == "vol/");
  REQUIRE(ParseAndValidate({"--encrypt=aes-256-cbc", "--password=cli-test-password-2",
                            "--keyLength=64", "file:///srv/buckets/mybucket/", dir.path},
                           &c)
              .ok());
  o = MakeCodecOptions(c);
  CHECK(o.cipher == "aes-256-cbc");
  CHECK(o.key_length_bytes == 64);
  CHECK(o.bucket == "mybucket");  // the salt is the directory's last name, as for an S3 bucket

  // --passwordFile: the first line, without its newline.
  {
    FILE* f = fopen((dir.path + "/pw").c_str(), "w");
    REQUIRE(f != nullptr);
    fputs("cli-test-password-4\r\nsecond line\n", f);
    fclose(f);
    REQUIRE(chmod((dir.path + "/pw").c_str(), 0600) == 0);  // as a password file must be
  }
  REQUIRE(
      ParseAndValidate({"--encrypt", "--passwordFile=" + dir.path + "/pw", "mem:", dir.path}, &c)
          .ok());
  CHECK(MakeCodecOptions(c).password == "cli-test-password-4");
}

TEST_CASE("codec: command line errors name the option and the fix") {
  CliDir dir;
  Config c;
  struct Bad {
    std::vector<std::string> args;
    const char* fragment;
  };
  const Bad bad[] = {
      {{"--compress=11"}, "--compress=11"},
      {{"--compress=lz4"}, "deflate or zstd"},
      {{"--password=cli-test-password-2"}, "need --encrypt"},
      {{"--keyLength=32"}, "need --encrypt"},
      {{"--encrypt"}, "--passwordFile=FILE"},
      {{"--encrypt", "--password=cli-test-password-3", "--passwordFile=/nonexistent"}, "only one"},
      {{"--encrypt", "--passwordFile=/nonexistent/pw"}, "cannot be read"},
      {{"--encrypt=rot13", "--password=cli-test-password-3"}, "rot13"},
      {{"--encrypt=aes-128-ctr", "--password=cli-test-password-3"}, "aes-128-ctr"},
      {{"--encrypt=aes-256-cbc", "--password=cli-test-password-3", "--keyLength=16"},
       "--keyLength=16"},
      {{"--keyLength=65"}, "--keyLength=65"},
  };
  for (const Bad& b : bad) {
    std::vector<std::string> args = b.args;
    args.push_back("mem:");
    args.push_back(dir.path);
    INFO(args[0]);
    Status st = ParseAndValidate(args, &c);
    CHECK(st.code() == EINVAL);
    CHECK(st.message().find(b.fragment) != std::string::npos);
    CHECK(st.message().find('\n') == std::string::npos);
  }
  // The --help text lists the options.
  for (const char* name :
       {"--compress", "--encrypt", "--password", "--passwordFile", "--keyLength"}) {
    CHECK(UsageText().find(std::string("  ") + name) != std::string::npos);
  }
}

}  // namespace
}  // namespace s3disk
