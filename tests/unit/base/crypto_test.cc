#include "base/crypto.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace s3disk {
namespace {

TEST_CASE("crypto: the digests s3disk needs are there") { CHECK(CheckDigests().ok()); }

TEST_CASE("crypto: MD5, SHA-256 and their HMACs match published vectors") {
  CHECK(Md5Hex(AsBytes("abc")) == "900150983cd24fb0d6963f7d28e17f72");
  CHECK(Sha256Hex(AsBytes("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231 test case 2 and RFC 2202 test case 2: key "Jefe".
  CHECK(HexEncode(HmacSha256(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"))) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(HexEncode(HmacSha1(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"))) ==
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  // A key longer than the 64-byte block is hashed first (RFC 4231 test case 6).
  const std::vector<uint8_t> long_key(131, 0xaa);
  CHECK(HexEncode(HmacSha256(long_key,
                             AsBytes("Test Using Larger Than Block-Size Key - Hash Key First"))) ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST_CASE("crypto: hex and Base64 round trips and rejects") {
  std::vector<uint8_t> out;
  CHECK(HexDecode("00ff7a", &out));
  CHECK(out == std::vector<uint8_t>{0x00, 0xff, 0x7a});
  CHECK_FALSE(HexDecode("abc", &out));
  CHECK_FALSE(HexDecode("zz", &out));
  CHECK(ParseHexU32("0000002a", true) == 42u);
  CHECK_FALSE(ParseHexU32("0000002A", true).has_value());
  CHECK(ParseHexU32("2A", false) == 42u);
  CHECK_FALSE(ParseHexU32("", false).has_value());
  CHECK_FALSE(ParseHexU32("123456789", false).has_value());
  CHECK(Base64Encode(AsBytes("hello")) == "aGVsbG8=");
  CHECK(Base64Decode("aGVsbG8=", &out));
  CHECK(std::string(out.begin(), out.end()) == "hello");
  CHECK_FALSE(Base64Decode("aGVsbG8", &out));
  CHECK_FALSE(Base64Decode("a=Vs", &out));
}

}  // namespace
}  // namespace s3disk
