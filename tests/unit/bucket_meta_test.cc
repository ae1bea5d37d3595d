#include "bucket_meta.h"

#include <catch2/catch.hpp>
#include <set>

#include "fakes.h"

namespace s3disk {
namespace {

using Calls = std::vector<std::string>;

TEST_CASE("bucket_meta: geometry round trip through block 0's headers") {
  RecordingObjectStore store;
  Geometry g{4096, uint64_t{1} << 40};
  Metadata meta = GeometryMetadata(g);
  CHECK(meta.at("x-amz-meta-s3backer-blocksize") == "4096");
  CHECK(meta.at("x-amz-meta-s3backer-filesize") == "1099511627776");
  meta["content-type"] = "application/x-s3backer-block";
  store.SetObject("vol/00000000", std::vector<uint8_t>(4096, 1), meta);

  Result<Geometry> got = ReadGeometry(store, "vol/00000000");
  REQUIRE(got.ok());
  CHECK(got->block_size == 4096);
  CHECK(got->size_bytes == uint64_t{1} << 40);
  CHECK(store.calls() == Calls{"head vol/00000000"});
}

TEST_CASE("bucket_meta: geometry is unknown when block 0 cannot tell") {
  RecordingObjectStore store;
  SECTION("absent block 0") {}
  SECTION("no headers") { store.SetObject("00000000", {1, 2, 3}); }
  SECTION("only the block size") {
    store.SetObject("00000000", {1}, {{"x-amz-meta-s3backer-blocksize", "4096"}});
  }
  SECTION("size 0 (old s3backer stored the size modulo 2^32)") {
    store.SetObject("00000000", {1}, GeometryMetadata(Geometry{4096, 0}));
  }
  SECTION("block size 0") {
    store.SetObject("00000000", {1}, GeometryMetadata(Geometry{0, 1 << 20}));
  }
  Result<Geometry> got = ReadGeometry(store, "00000000");
  REQUIRE(got.ok());
  CHECK(got->block_size == 0);
  CHECK(got->size_bytes == 0);
  CHECK(store.calls() == Calls{"head 00000000"});
}

TEST_CASE("bucket_meta: malformed geometry and failed HEAD are errors") {
  RecordingObjectStore store;
  SECTION("non-decimal block size") {
    store.SetObject(
        "00000000", {1},
        {{"x-amz-meta-s3backer-blocksize", "4k"}, {"x-amz-meta-s3backer-filesize", "1048576"}});
    CHECK(ReadGeometry(store, "00000000").status().code() == EBADMSG);
  }
  SECTION("block size over 32 bits") {
    store.SetObject("00000000", {1},
                    {{"x-amz-meta-s3backer-blocksize", "4294967296"},
                     {"x-amz-meta-s3backer-filesize", "1048576"}});
    CHECK(ReadGeometry(store, "00000000").status().code() == EBADMSG);
  }
  SECTION("negative file size") {
    store.SetObject(
        "00000000", {1},
        {{"x-amz-meta-s3backer-blocksize", "4096"}, {"x-amz-meta-s3backer-filesize", "-1"}});
    CHECK(ReadGeometry(store, "00000000").status().code() == EBADMSG);
  }
  SECTION("HEAD fails") {
    store.FailNext(1, EIO);
    Result<Geometry> got = ReadGeometry(store, "00000000");
    CHECK(got.status().code() == EIO);
    CHECK(got.status().message().find("bucket_meta") == 0);
  }
}

TEST_CASE("bucket_meta: mount token write, read, clear") {
  RecordingObjectStore store;
  FakeClock clock;
  CHECK(MountTokenKey("vol/") == "vol/s3backer-mounted");

  Result<uint32_t> token = ReadMountToken(store, "vol/");
  REQUIRE(token.ok());
  CHECK(*token == 0);

  REQUIRE(WriteMountToken(store, "vol/", 0x0012abcd, clock).ok());
  auto obj = store.Peek("vol/s3backer-mounted");
  REQUIRE(obj);
  CHECK(obj->info.meta.at("content-type") == "text/plain");
  CHECK(obj->info.meta.at("x-amz-meta-s3backer-mount-token") == "0012abcd");
  std::string body(obj->data.begin(), obj->data.end());
  CHECK(body.find("GMT") != std::string::npos);
  CHECK(body.find("2023") != std::string::npos);  // FakeClock's wall clock is in Nov 2023

  token = ReadMountToken(store, "vol/");
  REQUIRE(token.ok());
  CHECK(*token == 0x0012abcd);

  REQUIRE(ClearMountToken(store, "vol/").ok());
  CHECK_FALSE(store.Has("vol/s3backer-mounted"));
  token = ReadMountToken(store, "vol/");
  REQUIRE(token.ok());
  CHECK(*token == 0);

  CHECK(store.calls() == Calls{"head vol/s3backer-mounted", "put vol/s3backer-mounted",
                               "head vol/s3backer-mounted", "delete vol/s3backer-mounted",
                               "head vol/s3backer-mounted"});
}

TEST_CASE("bucket_meta: a token object without the header counts as 1") {
  RecordingObjectStore store;
  store.SetObject("s3backer-mounted", {'x'}, {{"content-type", "text/plain"}});
  Result<uint32_t> token = ReadMountToken(store, "");
  REQUIRE(token.ok());
  CHECK(*token == 1);
  // An unreadable value is still a present object: mounted.
  store.SetObject("s3backer-mounted", {'x'}, {{"x-amz-meta-s3backer-mount-token", "zz"}});
  token = ReadMountToken(store, "");
  REQUIRE(token.ok());
  CHECK(*token == 1);
  // Shared-disk mode round trip.
  FakeClock clock;
  REQUIRE(WriteMountToken(store, "", kSharedDiskToken, clock).ok());
  CHECK(store.Peek("s3backer-mounted")->info.meta.at("x-amz-meta-s3backer-mount-token") ==
        "7fffffff");
  CHECK(*ReadMountToken(store, "") == kSharedDiskToken);
}

TEST_CASE("bucket_meta: mount token failures are reported with context") {
  RecordingObjectStore store;
  FakeClock clock;
  store.FailNext(1, EIO);
  CHECK(ReadMountToken(store, "").status().code() == EIO);
  store.FailNext(1, EAGAIN);
  Status st = WriteMountToken(store, "", 5, clock);
  CHECK(st.code() == EAGAIN);
  CHECK(st.message().find("bucket_meta: write mount token s3backer-mounted") == 0);
  store.FailNext(1, EIO);
  CHECK(ClearMountToken(store, "").code() == EIO);
  CHECK(store.object_count() == 0);
}

TEST_CASE("bucket_meta: new mount tokens are random, non-zero, not shared") {
  std::set<uint32_t> seen;
  for (int i = 0; i < 1000; i++) {
    uint32_t t = NewMountToken();
    CHECK(t != 0);
    CHECK(t != kSharedDiskToken);
    seen.insert(t);
  }
  CHECK(seen.size() > 990);
}

}  // namespace
}  // namespace s3disk
