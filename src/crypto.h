// Thin wrappers over OpenSSL 3 EVP digests and the encodings around them.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace s3disk {

using Md5Digest = std::array<uint8_t, 16>;

Md5Digest Md5(std::span<const uint8_t> data);
// Lowercase hex of the MD5: the ETag S3 returns for a single-part object (without quotes).
std::string Md5Hex(std::span<const uint8_t> data);

std::string HexEncode(std::span<const uint8_t> data);
// Returns false on odd length or a non-hex character.
bool HexDecode(std::string_view hex, std::vector<uint8_t>* out);

std::string Base64Encode(std::span<const uint8_t> data);

// Views a string's bytes as a byte span.
inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace s3disk
