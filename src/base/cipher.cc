// Stateless: a BlockCipher is an immutable handle on OpenSSL's static cipher table; every call
// makes and frees its own EVP_CIPHER_CTX.
//
// Invariants
//   | what                                  | holds because                                  |
//   |---------------------------------------|------------------------------------------------|
//   | no OpenSSL object leaks               | contexts are held by unique_ptr with a deleter |
//   | a key or IV shorter than the cipher's | Run checks sizes before EVP reads them         |
//   |   is never read past its end          |                                                |
//   | a bad padding never yields data       | EVP_DecryptFinal_ex failure -> EBADMSG         |
#include "base/cipher.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>
#include <memory>

namespace s3disk {
namespace {

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

}  // namespace

Result<std::vector<uint8_t>> Pbkdf2HmacSha1(std::span<const uint8_t> password,
                                            std::span<const uint8_t> salt, int iterations,
                                            size_t length_bytes) {
  if (iterations < 1 || length_bytes == 0 || length_bytes > INT_MAX || password.size() > INT_MAX ||
      salt.size() > INT_MAX) {
    return Status(EINVAL, "cipher: pbkdf2: bad arguments");
  }
  std::vector<uint8_t> out(length_bytes);
  // OpenSSL wants a non-null pointer even for an empty password or salt.
  static const uint8_t kEmpty = 0;
  const char* pass = reinterpret_cast<const char*>(password.empty() ? &kEmpty : password.data());
  const uint8_t* salt_ptr = salt.empty() ? &kEmpty : salt.data();
  if (PKCS5_PBKDF2_HMAC(pass, static_cast<int>(password.size()), salt_ptr,
                        static_cast<int>(salt.size()), iterations, EVP_sha1(),
                        static_cast<int>(length_bytes), out.data()) != 1) {
    return Status(EIO, "cipher: pbkdf2: OpenSSL failed");
  }
  return out;
}

Result<BlockCipher> BlockCipher::Lookup(std::string_view name) {
  std::string n(name);
  const EVP_CIPHER* c = n.empty() ? nullptr : EVP_get_cipherbyname(n.c_str());
  if (c == nullptr) {
    return Status::Errorf(EINVAL, "cipher: unknown cipher '%s' (see `openssl enc -list`)",
                          n.c_str());
  }
  BlockCipher bc;
  bc.cipher_ = c;
  const char* evp_name = EVP_CIPHER_get0_name(c);
  bc.name_ = evp_name != nullptr ? evp_name : n;
  bc.key_bytes_ = static_cast<size_t>(EVP_CIPHER_get_key_length(c));
  bc.iv_bytes_ = static_cast<size_t>(EVP_CIPHER_get_iv_length(c));
  bc.block_bytes_ = static_cast<size_t>(EVP_CIPHER_get_block_size(c));
  if (bc.block_bytes_ <= 1 || bc.iv_bytes_ != bc.block_bytes_ || bc.key_bytes_ == 0) {
    return Status::Errorf(EINVAL,
                          "cipher: '%s' has block size %zu and IV length %zu; s3backer's "
                          "format needs a block cipher mode whose IV is one block (e.g. "
                          "aes-128-cbc)",
                          n.c_str(), bc.block_bytes_, bc.iv_bytes_);
  }
  return bc;
}

Result<std::vector<uint8_t>> BlockCipher::Encrypt(std::span<const uint8_t> key,
                                                  std::span<const uint8_t> iv,
                                                  std::span<const uint8_t> data, bool pad) const {
  return Run(true, key, iv, data, pad);
}

Result<std::vector<uint8_t>> BlockCipher::Decrypt(std::span<const uint8_t> key,
                                                  std::span<const uint8_t> iv,
                                                  std::span<const uint8_t> data, bool pad) const {
  return Run(false, key, iv, data, pad);
}

Result<std::vector<uint8_t>> BlockCipher::Run(bool encrypt, std::span<const uint8_t> key,
                                              std::span<const uint8_t> iv,
                                              std::span<const uint8_t> data, bool pad) const {
  const char* op = encrypt ? "encrypt" : "decrypt";
  if (cipher_ == nullptr || key.size() < key_bytes_ || iv.size() < iv_bytes_ ||
      data.size() > INT_MAX - 2 * block_bytes_) {
    return Status::Errorf(EINVAL, "cipher: %s %s: bad key, IV or data size", name_.c_str(), op);
  }
  if ((!pad || !encrypt) && data.size() % block_bytes_ != 0) {
    return Status::Errorf(EBADMSG,
                          "cipher: %s %s: %zu bytes is not a multiple of the %zu-byte "
                          "cipher block",
                          name_.c_str(), op, data.size(), block_bytes_);
  }
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx ||
      EVP_CipherInit_ex(ctx.get(), cipher_, nullptr, key.data(), iv.data(), encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), pad ? 1 : 0) != 1) {
    return Status::Errorf(EIO, "cipher: %s %s: OpenSSL init failed", name_.c_str(), op);
  }
  std::vector<uint8_t> out(data.size() + 2 * block_bytes_);
  int len = 0;
  int total = 0;
  if (!data.empty() && EVP_CipherUpdate(ctx.get(), out.data(), &len, data.data(),
                                        static_cast<int>(data.size())) != 1) {
    return Status::Errorf(EIO, "cipher: %s %s: OpenSSL update failed", name_.c_str(), op);
  }
  total = len;
  if (EVP_CipherFinal_ex(ctx.get(), out.data() + total, &len) != 1) {
    if (!encrypt) {
      return Status::Errorf(EBADMSG, "cipher: %s decrypt: bad padding (wrong key or corrupt data)",
                            name_.c_str());
    }
    return Status::Errorf(EIO, "cipher: %s encrypt: OpenSSL final failed", name_.c_str());
  }
  total += len;
  out.resize(static_cast<size_t>(total));
  return out;
}

bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace s3disk
