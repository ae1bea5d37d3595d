// Codec: block bytes <-> object body and headers, compatible with s3backer (doc/FORMAT.md).
//
// Encode(n, block) compresses (deflate = a zlib stream as compress2 makes, or zstd) and then
// encrypts, and returns the body with the headers that describe it:
//   content-encoding           "deflate", "zstd", "deflate, encrypt-AES-128-CBC", absent if plain
//   x-amz-meta-s3backer-hmac   "\"<40 hex>\"" for encrypted blocks
// Decode(n, body, headers) undoes the layers named by content-encoding, whatever this codec
// was built to write: decompression is always on. It fails with EBADMSG, naming the block, on
// an unknown or malformed encoding, a missing or wrong HMAC (wrong password, tampering, an
// object moved from another block number), an encrypted block when no password was given, a
// plain block when encryption is on (unauthenticated), and a body that does not decompress to
// exactly one block. It never hands back partial or garbage data.
//
// Encryption (as s3backer 1.5.4 does it, checked against its real output):
//   key   = PBKDF2-HMAC-SHA1(password, salt = "BUCKET/PREFIX", 5000 iterations, key length)
//   ivkey = PBKDF2-HMAC-SHA1(key, salt = key, 5000 iterations, key length)
//   IV(n) = cipher(ivkey, iv = ivkey, no padding) of the block number as 8 hex digits + zeros
//   body  = cipher(key, IV(n), PKCS#7) of the compressed block
//   HMAC  = HMAC-SHA1(key, 8 hex digits of n + EVP cipher name ("AES-128-CBC") + body)
// The key length is the cipher's, or --keyLength (s3backer's compatibility knob for buckets
// written before 1.3.6): the cipher then uses the first bytes, the HMAC the whole key.
//
// A Codec is immutable after Create: share one (shared_ptr<const Codec>) between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/cipher.h"
#include "base/status.h"
#include "block/block_store.h"
#include "object/object_store.h"

namespace s3disk {

enum class Compression { kNone, kDeflate, kZstd };

inline constexpr char kDefaultCipher[] = "aes-128-cbc";
inline constexpr int kKeyIterations = 5000;
// s3backer refuses longer keys (OpenSSL's EVP_MAX_KEY_LENGTH).
inline constexpr uint32_t kMaxKeyLengthBytes = 64;
inline constexpr char kHmacHeader[] = "x-amz-meta-s3backer-hmac";
inline constexpr char kContentEncodingHeader[] = "content-encoding";

struct CodecOptions {
  Compression compression = Compression::kNone;  // --compress[=deflate|zstd][:LEVEL]
  int level = 0;                                 // 0 = the algorithm's default
  bool encrypt = false;                          // --encrypt[=CIPHER]; implies compression
  std::string cipher = kDefaultCipher;
  std::string password;           // --password or the first line of --passwordFile
  uint32_t key_length_bytes = 0;  // --keyLength; 0 = the cipher's key length
  // The key derivation salt is BUCKET "/" PREFIX (for a local directory bucket, stack.cc
  // passes the directory's last component, so a synced copy of an S3 bucket still decrypts).
  std::string bucket;
  std::string prefix;
};

// Parses the value of --compress into options->compression and ->level: "" (deflate at the
// default level), "LEVEL" (s3backer's form: deflate), "deflate", "zstd", "deflate:LEVEL",
// "zstd:LEVEL". Levels: deflate 1..9, zstd 1..ZstdMaxLevel(). EINVAL with a message otherwise
// (and for zstd when s3disk was built without libzstd).
Status ParseCompressSpec(std::string_view spec, CodecOptions* options);
bool ZstdAvailable();
int ZstdMaxLevel();  // 0 without libzstd
// "deflate" / "zstd" / "none".
const char* CompressionName(Compression c);
// The largest object body one block of block_size bytes is stored as, whoever wrote it:
// the block plus the worst growth of deflate or zstd on incompressible data (under 1%) plus a
// cipher's padding, with room to spare. A larger body is not a block (the S3 bound on a GET).
uint64_t MaxEncodedBytes(uint32_t block_size);

// The object body and the headers that describe it (merged into the PUT's metadata).
struct EncodedBlock {
  std::vector<uint8_t> body;
  Metadata meta;
};

class Codec {
 public:
  // Validates the options (levels, the cipher, the key length, a non-empty password) and
  // derives the keys. CPU only (two PBKDF2 runs when encrypting), no I/O.
  static Result<std::shared_ptr<const Codec>> Create(const CodecOptions& options);
  // The codec with no compression and no encryption: writes plain blocks, still decodes
  // compressed ones.
  static std::shared_ptr<const Codec> Plain();

  Result<EncodedBlock> Encode(BlockNum n, std::span<const uint8_t> block) const;
  // Fills block (exactly one block: its size is the block size) from body, or fails with
  // EBADMSG (leaving block unspecified). A plain body may be block itself.
  Status Decode(BlockNum n, std::span<const uint8_t> body, const Metadata& meta,
                std::span<uint8_t> block) const;
  // Checks only the encoding and encryption of a stored object, not its data: when this codec
  // encrypts, that the object is encrypted with its cipher and its HMAC verifies with its key;
  // when it does not, that the object is not encrypted. Used at mount to refuse a wrong (or
  // missing) password before anything is written.
  Status Authenticate(BlockNum n, std::span<const uint8_t> body, const Metadata& meta) const;

  bool encrypting() const { return encrypt_; }
  Compression compression() const { return compression_; }
  // The Content-Encoding this codec writes ("" for plain), e.g. "deflate, encrypt-AES-128-CBC".
  const std::string& content_encoding() const { return content_encoding_; }
  // For logs: "plain", "deflate level 6", "zstd level 3, encrypt AES-128-CBC". Never a key.
  std::string Describe() const;

  // Exposed for tests (the known vectors). Empty when not encrypting.
  const std::vector<uint8_t>& TEST_key() const { return key_; }
  const std::vector<uint8_t>& TEST_ivkey() const { return ivkey_; }
  Result<std::vector<uint8_t>> BlockIv(BlockNum n) const;

 private:
  Codec() = default;
  struct Layers;  // a parsed content-encoding
  Status ParseLayers(BlockNum n, const Metadata& meta, Layers* layers) const;
  Status CheckHmac(BlockNum n, std::span<const uint8_t> body, const Metadata& meta) const;
  std::vector<uint8_t> Hmac(BlockNum n, std::span<const uint8_t> body) const;

  Compression compression_ = Compression::kNone;
  int level_ = 0;
  bool encrypt_ = false;
  std::optional<BlockCipher> cipher_;
  std::vector<uint8_t> key_;
  std::vector<uint8_t> ivkey_;
  std::string content_encoding_;
};

}  // namespace s3disk
