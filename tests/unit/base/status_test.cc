#include "base/status.h"

#include <catch2/catch.hpp>

#include "base/crypto.h"
#include "base/log.h"
#include "block/block_store.h"

namespace s3disk {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::Errorf(EINVAL, "%d is odd", x);
  return x / 2;
}

Status Chain(int x) {
  S3DISK_RETURN_IF_ERROR(Half(x).status().WithContext("half"));
  return Status::Ok();
}

TEST_CASE("Status carries code, message and context") {
  Status st = Status::Errorf(ENOENT, "block %08x", 42u);
  CHECK_FALSE(st.ok());
  CHECK(st.code() == ENOENT);
  CHECK(st.WithContext("dir_store").message() == "dir_store: block 0000002a");
  CHECK(Status::Ok().WithContext("x").ok());
  CHECK(st.ToString().find("No such file") != std::string::npos);
}

TEST_CASE("Result holds a value or a status") {
  CHECK(Half(4).value() == 2);
  CHECK(Half(3).status().code() == EINVAL);
  CHECK(Chain(3).message() == "half: 3 is odd");
  CHECK(Chain(4).ok());
}

TEST_CASE("status: front ends report corrupt and transient failures as EIO") {
  CHECK(FrontEndErrno(Status(EBADMSG, "block 0000002a: bad HMAC")) == EIO);
  CHECK(FrontEndErrno(Status(ETIMEDOUT, "x")) == EIO);
  CHECK(FrontEndErrno(Status(ENOSYS, "x")) == EIO);
  CHECK(FrontEndErrno(Status(ENOENT, "x")) == EIO);
  CHECK(FrontEndErrno(Status(EROFS, "x")) == EROFS);
  CHECK(FrontEndErrno(Status(ENOSPC, "x")) == ENOSPC);
}

TEST_CASE("IsAllZero checks every byte at any alignment") {
  std::vector<uint8_t> buf(1000, 0);
  CHECK(IsAllZero(buf));
  for (size_t i : {0u, 1u, 7u, 63u, 64u, 500u, 999u}) {
    buf[i] = 1;
    CHECK_FALSE(IsAllZero(buf));
    CHECK_FALSE(IsAllZero(std::span<const uint8_t>(buf).subspan(i > 3 ? i - 3 : 0)));
    buf[i] = 0;
  }
  CHECK(IsAllZero({}));
}

TEST_CASE("MD5, hex and base64 match known vectors") {
  CHECK(Md5Hex(AsBytes("")) == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(Md5Hex(AsBytes("hello")) == "5d41402abc4b2a76b9719d911017c592");
  CHECK(Base64Encode(Md5(AsBytes(""))) == "1B2M2Y8AsgTpgAmY7PhCfg==");
  std::vector<uint8_t> out;
  CHECK(HexDecode("00ffA0", &out));
  CHECK(out == std::vector<uint8_t>{0x00, 0xff, 0xa0});
  CHECK_FALSE(HexDecode("0g", &out));
  CHECK_FALSE(HexDecode("abc", &out));
  CHECK(ParseHexU32("7fffffff", true) == 0x7fffffffu);
  CHECK(ParseHexU32("ABC", false) == 0xabcu);
  CHECK_FALSE(ParseHexU32("ABC", true));
  CHECK_FALSE(ParseHexU32("", false));
  CHECK_FALSE(ParseHexU32("123456789", false));
  CHECK_FALSE(ParseHexU32("12g4", false));
}

TEST_CASE("RedactSecrets hides registered secrets and credential headers") {
  LogRegisterSecret("wJalrXUtnFEMI/K7MDENG");
  CHECK(RedactSecrets("key=wJalrXUtnFEMI/K7MDENG end") == "key=*** end");
  CHECK(RedactSecrets("Authorization: AWS4-HMAC-SHA256 Credential=AKID/x, Signature=abc") ==
        "Authorization: ***");
  CHECK(RedactSecrets("GET /b?X-Amz-Signature=deadbeef&x=1") == "GET /b?X-Amz-Signature=***&x=1");
}

}  // namespace
}  // namespace s3disk
