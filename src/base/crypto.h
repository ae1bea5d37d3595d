// Thin wrappers over OpenSSL 3 EVP digests and the encodings around them.
//
// The digests need OpenSSL's MD5, SHA-256 and SHA-1, which a provider may lack (FIPS-only
// OpenSSL has no MD5). CheckDigests() says so with the fix; start-up calls it before anything
// else (Validate, config.h). After it succeeded the digest functions cannot fail for want of
// an algorithm; if OpenSSL still fails (out of memory), the process ends with a message:
// nothing can go on without hashes, and no exception leaves these functions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace s3disk {

// Ok if every digest below works; else EINVAL naming the missing algorithm and the fix.
Status CheckDigests();

using Md5Digest = std::array<uint8_t, 16>;

Md5Digest Md5(std::span<const uint8_t> data);
// Lowercase hex of the MD5: the ETag S3 returns for a single-part object (without quotes).
std::string Md5Hex(std::span<const uint8_t> data);

std::string HexEncode(std::span<const uint8_t> data);
// Returns false on odd length or a non-hex character.
bool HexDecode(std::string_view hex, std::vector<uint8_t>* out);

// Parses 1 to 8 hex digits as a 32-bit value; lowercase_only rejects 'A'-'F'. nullopt for
// an empty string, more than 8 digits or any other character.
std::optional<uint32_t> ParseHexU32(std::string_view hex, bool lowercase_only);

std::string Base64Encode(std::span<const uint8_t> data);

// Views a string's bytes as a byte span.
inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// --- Added for the S3 backend (signing): SHA-256, HMACs, Base64 decoding. ---

using Sha256Digest = std::array<uint8_t, 32>;
using Sha1Digest = std::array<uint8_t, 20>;

Sha256Digest Sha256(std::span<const uint8_t> data);
// Lowercase hex of the SHA-256 (SigV4's payload hash).
std::string Sha256Hex(std::span<const uint8_t> data);
Sha256Digest HmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data);
Sha1Digest HmacSha1(std::span<const uint8_t> key, std::span<const uint8_t> data);
// Standard Base64 with padding; returns false on a malformed input.
bool Base64Decode(std::string_view text, std::vector<uint8_t>* out);

}  // namespace s3disk
