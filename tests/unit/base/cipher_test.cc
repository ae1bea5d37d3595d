#include "base/cipher.h"

#include <catch2/catch.hpp>

#include "base/crypto.h"

namespace s3disk {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes Hex(std::string_view hex) {
  Bytes out;
  REQUIRE(HexDecode(hex, &out));
  return out;
}

TEST_CASE("cipher: PBKDF2-HMAC-SHA1 matches RFC 6070") {
  struct Vector {
    int iterations;
    const char* hex;
  };
  for (Vector v : {Vector{1, "0c60c80f961f0e71f3a9b524af6012062fe037a6"},
                   Vector{2, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"},
                   Vector{4096, "4b007901b765489abead49d926f721d065a429c1"}}) {
    Result<Bytes> key = Pbkdf2HmacSha1(AsBytes("password"), AsBytes("salt"), v.iterations, 20);
    REQUIRE(key.ok());
    CHECK(HexEncode(*key) == v.hex);
  }
  // Longer than one SHA-1 output (RFC 6070 vector 5).
  Result<Bytes> key = Pbkdf2HmacSha1(AsBytes("passwordPASSWORDpassword"),
                                     AsBytes("saltSALTsaltSALTsaltSALTsaltSALTsalt"), 4096, 25);
  REQUIRE(key.ok());
  CHECK(HexEncode(*key) == "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038");
  CHECK(Pbkdf2HmacSha1(AsBytes("p"), AsBytes("s"), 0, 16).status().code() == EINVAL);
  CHECK(Pbkdf2HmacSha1(AsBytes("p"), AsBytes("s"), 1, 0).status().code() == EINVAL);
}

TEST_CASE("cipher: lookup gives OpenSSL's name and sizes, refuses non-block modes") {
  Result<BlockCipher> aes = BlockCipher::Lookup("aes-128-cbc");
  REQUIRE(aes.ok());
  CHECK(aes->name() == "AES-128-CBC");  // what s3backer puts in the header and the HMAC
  CHECK(aes->key_bytes() == 16);
  CHECK(aes->iv_bytes() == 16);
  CHECK(aes->block_bytes() == 16);
  Result<BlockCipher> aes256 = BlockCipher::Lookup("AES-256-CBC");
  REQUIRE(aes256.ok());
  CHECK(aes256->name() == "AES-256-CBC");
  CHECK(aes256->key_bytes() == 32);

  CHECK(BlockCipher::Lookup("no-such-cipher").status().code() == EINVAL);
  CHECK(BlockCipher::Lookup("").status().code() == EINVAL);
  Status ctr = BlockCipher::Lookup("aes-128-ctr").status();
  CHECK(ctr.code() == EINVAL);
  CHECK(ctr.message().find("IV") != std::string::npos);
  CHECK(BlockCipher::Lookup("aes-128-ecb").status().code() == EINVAL);
}

TEST_CASE("cipher: AES-128-CBC matches NIST SP 800-38A F.2.1 and round trips") {
  Result<BlockCipher> aes = BlockCipher::Lookup("aes-128-cbc");
  REQUIRE(aes.ok());
  Bytes key = Hex("2b7e151628aed2a6abf7158809cf4f3c");
  Bytes iv = Hex("000102030405060708090a0b0c0d0e0f");
  Bytes plain = Hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
  Result<Bytes> ct = aes->Encrypt(key, iv, plain, false);
  REQUIRE(ct.ok());
  CHECK(HexEncode(*ct) == "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2");
  Result<Bytes> back = aes->Decrypt(key, iv, *ct, false);
  REQUIRE(back.ok());
  CHECK(*back == plain);

  // With padding: a whole extra block for aligned input, and back.
  Result<Bytes> padded = aes->Encrypt(key, iv, plain, true);
  REQUIRE(padded.ok());
  CHECK(padded->size() == plain.size() + 16);
  Result<Bytes> unpadded = aes->Decrypt(key, iv, *padded, true);
  REQUIRE(unpadded.ok());
  CHECK(*unpadded == plain);
  Result<Bytes> five = aes->Encrypt(key, iv, AsBytes("hello"), true);
  REQUIRE(five.ok());
  CHECK(five->size() == 16);
}

TEST_CASE("cipher: bad sizes, bad padding and short keys are errors, not data") {
  Result<BlockCipher> aes = BlockCipher::Lookup("aes-128-cbc");
  REQUIRE(aes.ok());
  Bytes key(16, 7), iv(16, 9);
  // Unpadded input must be whole blocks.
  CHECK(aes->Encrypt(key, iv, Bytes(15, 1), false).status().code() == EBADMSG);
  // Ciphertext of a wrong length.
  CHECK(aes->Decrypt(key, iv, Bytes(17, 1), true).status().code() == EBADMSG);
  CHECK(aes->Decrypt(key, iv, Bytes{}, true).status().code() == EBADMSG);
  // A wrong key garbles the padding of this message (checked: the last byte is not a valid
  // PKCS#7 pad under key 8...).
  Result<Bytes> ct = aes->Encrypt(key, iv, AsBytes("some block data"), true);
  REQUIRE(ct.ok());
  Result<Bytes> wrong = aes->Decrypt(Bytes(16, 8), iv, *ct, true);
  CHECK(wrong.status().code() == EBADMSG);
  CHECK(wrong.status().message().find("padding") != std::string::npos);
  // Key or IV shorter than the cipher needs: refused before OpenSSL reads past them.
  CHECK(aes->Encrypt(Bytes(15, 1), iv, Bytes(16, 1), false).status().code() == EINVAL);
  CHECK(aes->Encrypt(key, Bytes(8, 1), Bytes(16, 1), false).status().code() == EINVAL);
  // A longer key is allowed: only the first key_bytes() are used (s3backer's --keyLength).
  Bytes long_key = key;
  long_key.resize(32, 0xaa);
  Result<Bytes> a = aes->Encrypt(key, iv, Bytes(16, 3), false);
  Result<Bytes> b = aes->Encrypt(long_key, iv, Bytes(16, 3), false);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(*a == *b);
}

TEST_CASE("cipher: constant-time equality") {
  CHECK(ConstantTimeEqual(Bytes{1, 2, 3}, Bytes{1, 2, 3}));
  CHECK_FALSE(ConstantTimeEqual(Bytes{1, 2, 3}, Bytes{1, 2, 4}));
  CHECK_FALSE(ConstantTimeEqual(Bytes{1, 2, 3}, Bytes{1, 2}));
  CHECK(ConstantTimeEqual(Bytes{}, Bytes{}));
}

}  // namespace
}  // namespace s3disk
