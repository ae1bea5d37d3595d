// A Codec holds no mutable state: its options and derived keys are fixed by Create, so any
// number of threads may Encode and Decode at once. Every call works on its own buffers.
//
// Invariants
//   | what                                          | holds because                           |
//   |-----------------------------------------------|-----------------------------------------|
//   | Decode never yields data it cannot vouch for  | every failure path returns EBADMSG and  |
//   |                                               | callers copy out only on success        |
//   | an encrypted block is authenticated before    | CheckHmac runs before Decrypt; constant-|
//   |   it is decrypted                             |   time compare                          |
//   | with encryption on, plain blocks are refused  | ParseLayers requires the encrypt layer  |
//   | decompression cannot exceed one block         | output buffers are exactly block-sized  |
//   | keys never reach a log or a message           | Describe and errors name only the cipher|
#include "block/codec.h"

#include <zlib.h>

#include <cstring>

#include "base/crypto.h"
#include "base/text.h"

#ifdef HAVE_ZSTD
#include <zstd.h>
#endif

namespace s3disk {
namespace {

constexpr char kEncryptPrefix[] = "encrypt-";

bool ParseInt(std::string_view s, int* out) {
  if (s.empty() || s.size() > 3) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

Result<std::vector<uint8_t>> Compress(Compression c, int level, std::span<const uint8_t> in) {
  if (c == Compression::kDeflate) {
    uLongf len = compressBound(static_cast<uLong>(in.size()));
    std::vector<uint8_t> out(len);
    int rc = compress2(out.data(), &len, in.data(), static_cast<uLong>(in.size()),
                       level == 0 ? Z_DEFAULT_COMPRESSION : level);
    if (rc != Z_OK) return Status::Errorf(EIO, "deflate failed (zlib error %d)", rc);
    out.resize(len);
    return out;
  }
#ifdef HAVE_ZSTD
  if (c == Compression::kZstd) {
    std::vector<uint8_t> out(ZSTD_compressBound(in.size()));
    size_t len = ZSTD_compress(out.data(), out.size(), in.data(), in.size(),
                               level == 0 ? ZSTD_CLEVEL_DEFAULT : level);
    if (ZSTD_isError(len)) return Status::Errorf(EIO, "zstd failed: %s", ZSTD_getErrorName(len));
    out.resize(len);
    return out;
  }
#endif
  return Status(EINVAL, "unsupported compression");
}

// Decompresses into exactly out.size() bytes; anything else is EBADMSG.
Status Decompress(Compression c, std::span<const uint8_t> in, std::span<uint8_t> out) {
  if (c == Compression::kDeflate) {
    uLongf out_len = static_cast<uLongf>(out.size());
    uLong in_len = static_cast<uLong>(in.size());
    int rc = uncompress2(out.data(), &out_len, in.data(), &in_len);
    if (rc == Z_BUF_ERROR && out_len == out.size()) {
      return Status::Errorf(EBADMSG, "deflate body inflates to more than %zu bytes", out.size());
    }
    if (rc != Z_OK) {
      return Status::Errorf(EBADMSG, "deflate body is corrupt or truncated (zlib: %s)",
                            rc == Z_DATA_ERROR  ? "data error"
                            : rc == Z_BUF_ERROR ? "truncated"
                                                : "error");
    }
    if (in_len != in.size()) {
      return Status::Errorf(EBADMSG, "deflate body has %zu bytes after the end of the stream",
                            static_cast<size_t>(in.size() - in_len));
    }
    if (out_len != out.size()) {
      return Status::Errorf(EBADMSG, "deflate body inflates to %zu bytes, not the block's %zu",
                            static_cast<size_t>(out_len), out.size());
    }
    return Status::Ok();
  }
#ifdef HAVE_ZSTD
  if (c == Compression::kZstd) {
    size_t len = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
    if (ZSTD_isError(len)) {
      return Status::Errorf(EBADMSG, "zstd body is corrupt, truncated or too large (%s)",
                            ZSTD_getErrorName(len));
    }
    if (len != out.size()) {
      return Status::Errorf(EBADMSG, "zstd body decompresses to %zu bytes, not the block's %zu",
                            len, out.size());
    }
    return Status::Ok();
  }
  return Status(EBADMSG, "unsupported compression");
#else
  if (c == Compression::kZstd) {
    return Status(EBADMSG, "zstd body, but s3disk was built without libzstd");
  }
  return Status(EBADMSG, "unsupported compression");
#endif
}

}  // namespace

uint64_t MaxEncodedBytes(uint32_t block_size) {
  return uint64_t{block_size} + block_size / 16 + 4096;
}

bool ZstdAvailable() {
#ifdef HAVE_ZSTD
  return true;
#else
  return false;
#endif
}

int ZstdMaxLevel() {
#ifdef HAVE_ZSTD
  return ZSTD_maxCLevel();
#else
  return 0;
#endif
}

const char* CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kDeflate:
      return "deflate";
    case Compression::kZstd:
      return "zstd";
  }
  return "?";
}

Status ParseCompressSpec(std::string_view spec, CodecOptions* options) {
  std::string_view algo = spec;
  std::string_view level_text;
  size_t colon = spec.find(':');
  if (colon != std::string_view::npos) {
    algo = spec.substr(0, colon);
    level_text = spec.substr(colon + 1);
    if (algo.empty() || level_text.empty()) {
      return Status::Errorf(EINVAL, "--compress=%.*s: use ALGORITHM:LEVEL, e.g. zstd:3",
                            static_cast<int>(spec.size()), spec.data());
    }
  } else if (!spec.empty() && spec[0] >= '0' && spec[0] <= '9') {
    algo = "";  // s3backer's --compress=LEVEL
    level_text = spec;
  }
  Compression c;
  if (algo.empty() || algo == "deflate" || algo == "zlib") {
    c = Compression::kDeflate;
  } else if (algo == "zstd") {
    if (!ZstdAvailable()) {
      return Status(EINVAL, "--compress=zstd: this s3disk was built without libzstd");
    }
    c = Compression::kZstd;
  } else {
    return Status::Errorf(EINVAL, "--compress=%.*s: unknown algorithm; use deflate or zstd",
                          static_cast<int>(spec.size()), spec.data());
  }
  int level = 0;
  if (!level_text.empty()) {
    int max = c == Compression::kDeflate ? 9 : ZstdMaxLevel();
    if (!ParseInt(level_text, &level) || level < 1 || level > max) {
      return Status::Errorf(EINVAL, "--compress=%.*s: %s level must be 1 to %d",
                            static_cast<int>(spec.size()), spec.data(), CompressionName(c), max);
    }
  }
  options->compression = c;
  options->level = level;
  return Status::Ok();
}

struct Codec::Layers {
  Compression compression = Compression::kNone;
  bool encrypted = false;
  std::string cipher_name;  // as the header spells it
};

std::shared_ptr<const Codec> Codec::Plain() {
  static const std::shared_ptr<const Codec> plain(new Codec());
  return plain;
}

Result<std::shared_ptr<const Codec>> Codec::Create(const CodecOptions& options) {
  std::shared_ptr<Codec> c(new Codec());
  c->compression_ = options.compression;
  c->level_ = options.level;
  int max = options.compression == Compression::kDeflate ? 9
            : options.compression == Compression::kZstd  ? ZstdMaxLevel()
                                                         : 0;
  if (options.compression == Compression::kZstd && !ZstdAvailable()) {
    return Status(EINVAL, "codec: zstd requested, but s3disk was built without libzstd");
  }
  if (options.level < 0 || options.level > max) {
    return Status::Errorf(EINVAL, "codec: %s level %d is out of range 1..%d",
                          CompressionName(options.compression), options.level, max);
  }
  if (options.encrypt) {
    Result<BlockCipher> cipher = BlockCipher::Lookup(options.cipher);
    if (!cipher.ok()) return cipher.status().WithContext("codec: --encrypt");
    if (cipher->iv_bytes() < 8) {
      return Status::Errorf(EINVAL,
                            "codec: --encrypt=%s: its %zu-byte IV cannot hold a block "
                            "number",
                            options.cipher.c_str(), cipher->iv_bytes());
    }
    if (options.password.empty()) {
      return Status(EINVAL, "codec: --encrypt needs a password (--password or --passwordFile)");
    }
    size_t key_len = cipher->key_bytes();
    if (options.key_length_bytes != 0) {
      if (options.key_length_bytes < cipher->key_bytes() ||
          options.key_length_bytes > kMaxKeyLengthBytes) {
        return Status::Errorf(EINVAL, "codec: --keyLength=%u: %s needs %zu to %u",
                              options.key_length_bytes, cipher->name().c_str(), cipher->key_bytes(),
                              kMaxKeyLengthBytes);
      }
      key_len = options.key_length_bytes;
    }
    std::string salt = options.bucket + "/" + options.prefix;
    Result<std::vector<uint8_t>> key =
        Pbkdf2HmacSha1(AsBytes(options.password), AsBytes(salt), kKeyIterations, key_len);
    if (!key.ok()) return key.status().WithContext("codec: key");
    Result<std::vector<uint8_t>> ivkey = Pbkdf2HmacSha1(*key, *key, kKeyIterations, key_len);
    if (!ivkey.ok()) return ivkey.status().WithContext("codec: ivkey");
    c->encrypt_ = true;
    c->cipher_.emplace(std::move(*cipher));
    c->key_ = std::move(*key);
    c->ivkey_ = std::move(*ivkey);
    if (c->compression_ == Compression::kNone) c->compression_ = Compression::kDeflate;
  }
  if (c->compression_ != Compression::kNone)
    c->content_encoding_ = CompressionName(c->compression_);
  if (c->encrypt_) {
    if (!c->content_encoding_.empty()) c->content_encoding_ += ", ";
    c->content_encoding_ += kEncryptPrefix + c->cipher_->name();
  }
  return std::shared_ptr<const Codec>(std::move(c));
}

std::string Codec::Describe() const {
  std::string out;
  if (compression_ != Compression::kNone) {
    out = CompressionName(compression_);
    out += level_ == 0 ? " default level" : " level " + std::to_string(level_);
  }
  if (encrypt_) {
    if (!out.empty()) out += ", ";
    out += "encrypt " + cipher_->name() + " (" + std::to_string(key_.size() * 8) + "-bit key)";
  }
  return out.empty() ? "plain" : out;
}

Result<std::vector<uint8_t>> Codec::BlockIv(BlockNum n) const {
  if (!encrypt_) return Status(EINVAL, "codec: not encrypting");
  std::vector<uint8_t> plain(cipher_->iv_bytes(), 0);
  std::string hex = BlockHex(n);
  memcpy(plain.data(), hex.data(), std::min(hex.size(), plain.size()));
  Result<std::vector<uint8_t>> iv = cipher_->Encrypt(ivkey_, ivkey_, plain, false);
  if (!iv.ok()) return iv.status();
  iv->resize(cipher_->iv_bytes());
  return iv;
}

std::vector<uint8_t> Codec::Hmac(BlockNum n, std::span<const uint8_t> body) const {
  std::string hex = BlockHex(n);
  std::vector<uint8_t> input;
  input.reserve(hex.size() + cipher_->name().size() + body.size());
  input.insert(input.end(), hex.begin(), hex.end());
  input.insert(input.end(), cipher_->name().begin(), cipher_->name().end());
  input.insert(input.end(), body.begin(), body.end());
  Sha1Digest d = HmacSha1(key_, input);
  return {d.begin(), d.end()};
}

Result<EncodedBlock> Codec::Encode(BlockNum n, std::span<const uint8_t> block) const {
  const std::string ctx = "codec: encode block " + BlockHex(n);
  EncodedBlock out;
  if (compression_ != Compression::kNone) {
    Result<std::vector<uint8_t>> z = Compress(compression_, level_, block);
    if (!z.ok()) return z.status().WithContext(ctx);
    out.body = std::move(*z);
  } else {
    out.body.assign(block.begin(), block.end());
  }
  if (encrypt_) {
    Result<std::vector<uint8_t>> iv = BlockIv(n);
    if (!iv.ok()) return iv.status().WithContext(ctx);
    Result<std::vector<uint8_t>> sealed = cipher_->Encrypt(key_, *iv, out.body, true);
    if (!sealed.ok()) return sealed.status().WithContext(ctx);
    out.body = std::move(*sealed);
    out.meta[kHmacHeader] = "\"" + HexEncode(Hmac(n, out.body)) + "\"";
  }
  if (!content_encoding_.empty()) out.meta[kContentEncodingHeader] = content_encoding_;
  return out;
}

Status Codec::ParseLayers(BlockNum n, const Metadata& meta, Layers* layers) const {
  std::string header;
  if (auto it = meta.find(kContentEncodingHeader); it != meta.end()) header = it->second;
  std::vector<std::string_view> names;
  std::string_view rest = header;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view name = TrimSpace(rest.substr(0, comma));
    if (!name.empty()) names.push_back(name);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  // Allowed, in the order applied: [compression] [encrypt-CIPHER].
  size_t i = 0;
  if (i < names.size()) {
    if (EqualsIgnoreCase(names[i], "deflate")) {
      layers->compression = Compression::kDeflate;
      i++;
    } else if (EqualsIgnoreCase(names[i], "zstd")) {
      layers->compression = Compression::kZstd;
      i++;
    }
  }
  if (i < names.size() && names[i].size() > strlen(kEncryptPrefix) &&
      StartsWithIgnoreCase(names[i], kEncryptPrefix)) {
    layers->encrypted = true;
    layers->cipher_name = std::string(names[i].substr(strlen(kEncryptPrefix)));
    i++;
  }
  if (i != names.size()) {
    return Status::Errorf(EBADMSG,
                          "codec: block " S3DISK_BLOCK_FMT
                          ": unknown Content-Encoding '%s' (s3disk reads deflate, zstd and "
                          "encrypt-CIPHER)",
                          n, header.c_str());
  }
  if (layers->encrypted && !encrypt_) {
    return Status::Errorf(EBADMSG,
                          "codec: block " S3DISK_BLOCK_FMT
                          ": encrypted with %s, but no --encrypt/--password was given",
                          n, layers->cipher_name.c_str());
  }
  if (encrypt_ && !layers->encrypted) {
    return Status::Errorf(EBADMSG,
                          "codec: block " S3DISK_BLOCK_FMT
                          ": not encrypted, but encryption is on; refusing unauthenticated data",
                          n);
  }
  if (layers->encrypted && !EqualsIgnoreCase(layers->cipher_name, cipher_->name())) {
    return Status::Errorf(EBADMSG,
                          "codec: block " S3DISK_BLOCK_FMT
                          ": encrypted with %s, but %s is "
                          "configured",
                          n, layers->cipher_name.c_str(), cipher_->name().c_str());
  }
  return Status::Ok();
}

Status Codec::CheckHmac(BlockNum n, std::span<const uint8_t> body, const Metadata& meta) const {
  auto it = meta.find(kHmacHeader);
  if (it == meta.end()) {
    return Status::Errorf(EBADMSG,
                          "codec: block " S3DISK_BLOCK_FMT ": encrypted but has no HMAC header", n);
  }
  std::string_view text = TrimSpace(it->second);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    text = text.substr(1, text.size() - 2);
  }
  std::vector<uint8_t> given;
  if (!HexDecode(text, &given) || given.size() != sizeof(Sha1Digest)) {
    return Status::Errorf(EBADMSG, "codec: block " S3DISK_BLOCK_FMT ": malformed HMAC header", n);
  }
  if (!ConstantTimeEqual(given, Hmac(n, body))) {
    return Status::Errorf(EBADMSG,
                          "codec: block " S3DISK_BLOCK_FMT
                          ": HMAC mismatch: wrong password, or the object was altered, moved "
                          "from another block or written with another key",
                          n);
  }
  return Status::Ok();
}

Status Codec::Authenticate(BlockNum n, std::span<const uint8_t> body, const Metadata& meta) const {
  Layers layers;
  S3DISK_RETURN_IF_ERROR(ParseLayers(n, meta, &layers));
  return layers.encrypted ? CheckHmac(n, body, meta) : Status::Ok();
}

Status Codec::Decode(BlockNum n, std::span<const uint8_t> body, const Metadata& meta,
                     std::span<uint8_t> block) const {
  Layers layers;
  S3DISK_RETURN_IF_ERROR(ParseLayers(n, meta, &layers));
  std::vector<uint8_t> opened;
  if (layers.encrypted) {
    S3DISK_RETURN_IF_ERROR(CheckHmac(n, body, meta));
    Result<std::vector<uint8_t>> iv = BlockIv(n);
    if (!iv.ok()) return iv.status();
    Result<std::vector<uint8_t>> plain = cipher_->Decrypt(key_, *iv, body, true);
    if (!plain.ok()) {
      return Status::Errorf(EBADMSG, "codec: block " S3DISK_BLOCK_FMT ": %s", n,
                            plain.status().message().c_str());
    }
    opened = std::move(*plain);
    body = opened;
  }
  if (layers.compression == Compression::kNone) {
    if (body.size() != block.size()) {
      return Status::Errorf(EBADMSG,
                            "codec: block " S3DISK_BLOCK_FMT
                            ": object is %zu bytes, block size "
                            "is %zu",
                            n, body.size(), block.size());
    }
    // (A body received in place is the block already.)
    if (!body.empty() && body.data() != block.data())
      memcpy(block.data(), body.data(), body.size());
    return Status::Ok();
  }
  Status st = Decompress(layers.compression, body, block);
  if (!st.ok()) {
    return Status::Errorf(EBADMSG, "codec: block " S3DISK_BLOCK_FMT ": %s", n,
                          st.message().c_str());
  }
  return Status::Ok();
}

}  // namespace s3disk
