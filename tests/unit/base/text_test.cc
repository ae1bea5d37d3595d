#include "base/text.h"

#include <catch2/catch.hpp>

namespace s3disk {
namespace {

TEST_CASE("text: lower case, trimming and case-blind comparisons, ASCII only") {
  CHECK(ToLower("Content-MD5 X-Amz-Meta") == "content-md5 x-amz-meta");
  CHECK(ToLower("\xc3\x89t\xc3\xa9") == "\xc3\x89t\xc3\xa9");  // bytes above 127 unchanged
  CHECK(TrimSpace(" \t\r\n a b \v\f") == "a b");
  CHECK(TrimSpace("   ").empty());
  CHECK(TrimSpace("") == "");
  CHECK(EqualsIgnoreCase("ZSTD", "zstd"));
  CHECK_FALSE(EqualsIgnoreCase("zstd", "zstd:3"));
  CHECK_FALSE(EqualsIgnoreCase("a[", "A{"));  // '[' is not 'Z' + 1 in lower case
  CHECK(StartsWithIgnoreCase("Encrypt-AES-128-CBC", "encrypt-"));
  CHECK_FALSE(StartsWithIgnoreCase("enc", "encrypt-"));
}

}  // namespace
}  // namespace s3disk
