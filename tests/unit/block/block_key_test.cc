#include "block/block_key.h"

#include <catch2/catch.hpp>

namespace s3disk {
namespace {

TEST_CASE("block_key: hash matches every known vector") {
  CHECK(BlockHash(0) == 0xc448b72cu);
  CHECK(BlockHash(1) == 0xd211cad9u);
  CHECK(BlockHash(2) == 0x7183baa1u);
  CHECK(BlockHash(0xff) == 0x6ad31a26u);
  CHECK(BlockHash(0x100) == 0xe34e7a2cu);
  CHECK(BlockHash(0x12345678) == 0x7fbf2916u);
}

TEST_CASE("block_key: keys are prefix plus 8 lowercase hex digits") {
  CHECK(BlockKey("vol1/", false, 42) == "vol1/0000002a");
  CHECK(BlockKey("", false, 0) == "00000000");
  CHECK(BlockKey("p", false, 0xffffffffu) == "pffffffff");
  CHECK(BlockKey("vol1/", true, 0) == "vol1/c448b72c-00000000");
  CHECK(BlockKey("", true, 0x12345678) == "7fbf2916-12345678");
  CHECK(BlockKey("", true, 0xff) == "6ad31a26-000000ff");
}

TEST_CASE("block_key: parse round-trips every key it makes") {
  for (bool hash : {false, true}) {
    for (BlockNum n : {0u, 1u, 42u, 0xabcdefu, 0x12345678u, 0xffffffffu}) {
      auto parsed = ParseBlockKey("vol1/", hash, BlockKey("vol1/", hash, n));
      REQUIRE(parsed.has_value());
      CHECK(*parsed == n);
    }
  }
  CHECK(ParseBlockKey("", false, "0000002a") == std::optional<BlockNum>(42));
}

TEST_CASE("block_key: parse rejects keys the naming would not produce") {
  const std::string p = "vol1/";
  // Plain naming.
  CHECK_FALSE(ParseBlockKey(p, false, "vol1/0000002A"));   // uppercase
  CHECK_FALSE(ParseBlockKey(p, false, "vol1/000002a"));    // 7 digits
  CHECK_FALSE(ParseBlockKey(p, false, "vol1/00000002a"));  // 9 digits
  CHECK_FALSE(ParseBlockKey(p, false, "vol1/"));           // prefix only
  CHECK_FALSE(ParseBlockKey(p, false, "vol1/0000002g"));   // not hex
  CHECK_FALSE(ParseBlockKey(p, false, "vol1/-000002a"));   // sign
  CHECK_FALSE(ParseBlockKey(p, false, "vol2/0000002a"));   // other prefix
  CHECK_FALSE(ParseBlockKey(p, false, "0000002a"));        // no prefix
  CHECK_FALSE(ParseBlockKey(p, false, "vol1/s3backer-mounted"));
  CHECK_FALSE(ParseBlockKey(p, false, BlockKey(p, true, 42)));  // hashed key, plain mode
  // Hashed naming.
  const std::string good = BlockKey(p, true, 42);
  REQUIRE(ParseBlockKey(p, true, good));
  CHECK_FALSE(ParseBlockKey(p, true, "vol1/0000002a"));  // no hash
  std::string wrong_hash = good;
  wrong_hash[5] = wrong_hash[5] == '0' ? '1' : '0';
  CHECK_FALSE(ParseBlockKey(p, true, wrong_hash));
  // The hash of another block, with this block's number.
  CHECK_FALSE(ParseBlockKey(p, true, "vol1/c448b72c-00000001"));
  CHECK(ParseBlockKey(p, true, "vol1/c448b72c-00000000") == std::optional<BlockNum>(0));
  CHECK_FALSE(ParseBlockKey(p, true, "vol1/C448B72C-00000000"));  // uppercase hash
  CHECK_FALSE(ParseBlockKey(p, true, "vol1/c448b72c_00000000"));  // wrong separator
  CHECK_FALSE(ParseBlockKey(p, true, "vol1/c448b72c-000000000"));
  CHECK_FALSE(ParseBlockKey(p, true, "vol2/c448b72c-00000000"));
}

}  // namespace
}  // namespace s3disk
