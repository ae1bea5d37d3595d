#include "block/block_key.h"

#include <cstdio>

#include "base/crypto.h"

namespace s3disk {
namespace {

constexpr size_t kHexDigits = 8;

// Parses exactly 8 lowercase hex digits; uppercase and anything else are rejected, because
// the writer only ever produces lowercase and a listing must not adopt foreign keys.
std::optional<uint32_t> ParseHex8(std::string_view s) {
  if (s.size() != kHexDigits) return std::nullopt;
  return ParseHexU32(s, /*lowercase_only=*/true);
}

void AppendHex8(std::string* out, uint32_t value) {
  char buf[kHexDigits + 1];
  snprintf(buf, sizeof buf, "%08x", value);
  out->append(buf, kHexDigits);
}

}  // namespace

uint32_t BlockHash(BlockNum n) {
  uint32_t h = n;
  for (uint32_t round = 12; round >= 1; round--) {
    h = ((h >> 8) ^ h) * 0x6bu + round;
  }
  return h;
}

std::string BlockKey(const std::string& prefix, bool hash_prefix, BlockNum n) {
  std::string key;
  key.reserve(prefix.size() + 2 * kHexDigits + 1);
  key = prefix;
  if (hash_prefix) {
    AppendHex8(&key, BlockHash(n));
    key += '-';
  }
  AppendHex8(&key, n);
  return key;
}

std::optional<BlockNum> ParseBlockKey(const std::string& prefix, bool hash_prefix,
                                      std::string_view key) {
  if (key.size() < prefix.size() || key.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view rest = key.substr(prefix.size());
  if (!hash_prefix) return ParseHex8(rest);
  if (rest.size() != 2 * kHexDigits + 1 || rest[kHexDigits] != '-') return std::nullopt;
  std::optional<uint32_t> hash = ParseHex8(rest.substr(0, kHexDigits));
  std::optional<uint32_t> n = ParseHex8(rest.substr(kHexDigits + 1));
  if (!hash || !n || *hash != BlockHash(*n)) return std::nullopt;
  return *n;
}

}  // namespace s3disk
