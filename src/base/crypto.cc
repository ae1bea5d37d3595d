#include "base/crypto.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>

namespace s3disk {

namespace {

// The digests, fetched once: EVP_md5() and its kin make OpenSSL 3 look the algorithm up in
// its providers again at every use, under a lock (as long as hashing a SigV4 string to sign).
// Null when the providers lack the algorithm (CheckDigests reports it).
const EVP_MD* Fetched(const char* name) {
  return EVP_MD_fetch(nullptr, name, nullptr);  // kept for the life of the process
}
const EVP_MD* Md5Md() {
  static const EVP_MD* md = Fetched("MD5");
  return md;
}
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = Fetched("SHA256");
  return md;
}
const EVP_MD* Sha1Md() {
  static const EVP_MD* md = Fetched("SHA1");
  return md;
}

// One digest of the concatenation of parts into out (exactly the digest's size).
void Digest(const EVP_MD* md, std::initializer_list<std::span<const uint8_t>> parts,
            std::span<uint8_t> out) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned int len = 0;
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx.get(), md, nullptr) == 1;
  for (std::span<const uint8_t> p : parts) {
    ok = ok && EVP_DigestUpdate(ctx.get(), p.data(), p.size()) == 1;
  }
  ok = ok && EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1 && len == out.size();
  if (!ok) {
    // Only after CheckDigests passed, so OpenSSL itself failed (memory): see crypto.h.
    fprintf(stderr, "s3disk: FATAL: OpenSSL failed to compute a %s digest\n",
            md != nullptr ? EVP_MD_get0_name(md) : "missing");
    abort();
  }
}

}  // namespace

Status CheckDigests() {
  const std::pair<const char*, const EVP_MD*> digests[] = {
      {"MD5", Md5Md()}, {"SHA256", Sha256Md()}, {"SHA1", Sha1Md()}};
  for (const auto& [name, md] : digests) {
    if (md == nullptr) {
      return Status::Errorf(EINVAL,
                            "OpenSSL offers no %s digest (a FIPS-only configuration?): s3disk "
                            "needs MD5, SHA-256 and SHA-1; enable OpenSSL's default provider",
                            name);
    }
  }
  return Status::Ok();
}

Md5Digest Md5(std::span<const uint8_t> data) {
  Md5Digest digest{};
  Digest(Md5Md(), {data}, digest);
  return digest;
}

std::string Md5Hex(std::span<const uint8_t> data) { return HexEncode(Md5(data)); }

std::string HexEncode(std::span<const uint8_t> data) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

bool HexDecode(std::string_view hex, std::vector<uint8_t>* out) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return false;
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return true;
}

std::optional<uint32_t> ParseHexU32(std::string_view hex, bool lowercase_only) {
  if (hex.empty() || hex.size() > 8) return std::nullopt;
  uint32_t value = 0;
  for (char c : hex) {
    uint32_t digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint32_t>(c - 'a' + 10);
    } else if (!lowercase_only && c >= 'A' && c <= 'F') {
      digit = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    value = (value << 4) | digit;
  }
  return value;
}

std::string Base64Encode(std::span<const uint8_t> data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                          static_cast<int>(data.size()));
  out.resize(n);
  return out;
}

Sha256Digest Sha256(std::span<const uint8_t> data) {
  Sha256Digest digest{};
  Digest(Sha256Md(), {data}, digest);
  return digest;
}

std::string Sha256Hex(std::span<const uint8_t> data) { return HexEncode(Sha256(data)); }

namespace {

// HMAC (RFC 2104) over a fetched digest with 64-byte blocks (SHA-1, SHA-256):
// H((K ^ opad) || H((K ^ ipad) || data)), K hashed first when longer than a block.
template <size_t N>
std::array<uint8_t, N> Hmac(const EVP_MD* md, std::span<const uint8_t> key,
                            std::span<const uint8_t> data) {
  constexpr size_t kBlock = 64;
  std::array<uint8_t, kBlock> k{};
  if (key.size() > kBlock) {
    Digest(md, {key}, std::span<uint8_t>(k.data(), N));
  } else if (!key.empty()) {
    memcpy(k.data(), key.data(), key.size());
  }
  std::array<uint8_t, kBlock> pad;
  std::array<uint8_t, N> inner, out;
  for (size_t i = 0; i < kBlock; i++) pad[i] = k[i] ^ 0x36;
  Digest(md, {pad, data}, inner);
  for (size_t i = 0; i < kBlock; i++) pad[i] = k[i] ^ 0x5c;
  Digest(md, {pad, inner}, out);
  return out;
}

}  // namespace

Sha256Digest HmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  return Hmac<32>(Sha256Md(), key, data);
}

Sha1Digest HmacSha1(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  return Hmac<20>(Sha1Md(), key, data);
}

bool Base64Decode(std::string_view text, std::vector<uint8_t>* out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out->clear();
  if (text.size() % 4 != 0) return false;
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int pad = 0;
    uint32_t group = 0;
    for (size_t j = 0; j < 4; j++) {
      char c = text[i + j];
      if (c == '=' && last && j >= 2) {
        pad++;
        group <<= 6;
        continue;
      }
      int v = value(c);
      if (v < 0 || pad > 0) return false;
      group = group << 6 | static_cast<uint32_t>(v);
    }
    out->push_back(static_cast<uint8_t>(group >> 16));
    if (pad < 2) out->push_back(static_cast<uint8_t>(group >> 8));
    if (pad < 1) out->push_back(static_cast<uint8_t>(group));
  }
  return true;
}

}  // namespace s3disk
