#include "crypto.h"

#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

namespace s3disk {

Md5Digest Md5(std::span<const uint8_t> data) {
  Md5Digest digest{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_md5(), nullptr) != 1 ||
      len != digest.size()) {
    throw std::runtime_error("EVP_Digest(md5) failed");
  }
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
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != digest.size()) {
    throw std::runtime_error("EVP_Digest(sha256) failed");
  }
  return digest;
}

std::string Sha256Hex(std::span<const uint8_t> data) { return HexEncode(Sha256(data)); }

namespace {

template <size_t N>
std::array<uint8_t, N> Hmac(const char* digest, std::span<const uint8_t> key,
                            std::span<const uint8_t> data) {
  std::array<uint8_t, N> out{};
  size_t len = 0;
  // EVP_Q_mac rejects a null key pointer even for an empty key.
  static const uint8_t kEmpty = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, digest, nullptr, key.empty() ? &kEmpty : key.data(),
                key.size(), data.data(), data.size(), out.data(), out.size(), &len) == nullptr ||
      len != N) {
    throw std::runtime_error(std::string("EVP_Q_mac(hmac-") + digest + ") failed");
  }
  return out;
}

}  // namespace

Sha256Digest HmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  return Hmac<32>("SHA256", key, data);
}

Sha1Digest HmacSha1(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  return Hmac<20>("SHA1", key, data);
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
