// OpenSSL 3 EVP wrappers for block encryption as s3backer does it (doc/FORMAT.md, "Encoding"):
// PBKDF2-HMAC-SHA1 key derivation and a named block cipher (CBC-style: block size == IV
// length) with or without PKCS#7 padding. HMAC-SHA1 is HmacSha1 in crypto.h.
//
// Pure functions and an immutable cipher handle: safe to use from any number of threads.
// Failures are Status values (EINVAL for bad arguments, EBADMSG for data that does not
// decrypt), never exceptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

typedef struct evp_cipher_st EVP_CIPHER;

namespace s3disk {

// PBKDF2 with HMAC-SHA1 (RFC 8018), as OpenSSL's PKCS5_PBKDF2_HMAC_SHA1.
Result<std::vector<uint8_t>> Pbkdf2HmacSha1(std::span<const uint8_t> password,
                                            std::span<const uint8_t> salt, int iterations,
                                            size_t length_bytes);

// A block cipher known to OpenSSL by name ("aes-128-cbc", "AES-256-CBC", "camellia-128-cbc").
class BlockCipher {
 public:
  // Looks the cipher up. EINVAL if OpenSSL does not know it, or if its block size is not its
  // IV length (stream and counter modes, ECB): the per-block IV scheme needs one cipher block.
  static Result<BlockCipher> Lookup(std::string_view name);

  // The name as OpenSSL's EVP_CIPHER_name prints it ("AES-128-CBC"): s3backer puts it in the
  // Content-Encoding ("encrypt-AES-128-CBC") and in the HMAC input.
  const std::string& name() const { return name_; }
  size_t key_bytes() const { return key_bytes_; }
  size_t iv_bytes() const { return iv_bytes_; }
  size_t block_bytes() const { return block_bytes_; }

  // Encrypts data with key (at least key_bytes(); extra bytes are ignored, as OpenSSL does)
  // and iv (at least iv_bytes()). With pad, PKCS#7 padding is added; without, data must be
  // a multiple of block_bytes().
  Result<std::vector<uint8_t>> Encrypt(std::span<const uint8_t> key, std::span<const uint8_t> iv,
                                       std::span<const uint8_t> data, bool pad) const;
  // The inverse. EBADMSG if the length or the padding is wrong (wrong key or corrupt data).
  Result<std::vector<uint8_t>> Decrypt(std::span<const uint8_t> key, std::span<const uint8_t> iv,
                                       std::span<const uint8_t> data, bool pad) const;

 private:
  BlockCipher() = default;
  Result<std::vector<uint8_t>> Run(bool encrypt, std::span<const uint8_t> key,
                                   std::span<const uint8_t> iv, std::span<const uint8_t> data,
                                   bool pad) const;

  const EVP_CIPHER* cipher_ = nullptr;  // OpenSSL's static table entry: never freed
  std::string name_;
  size_t key_bytes_ = 0;
  size_t iv_bytes_ = 0;
  size_t block_bytes_ = 0;
};

// Constant-time comparison of two byte strings of the same length (false if lengths differ).
bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b);

}  // namespace s3disk
