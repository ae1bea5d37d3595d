#include "block/bucket_meta.h"

#include <catch2/catch.hpp>
#include <functional>
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

// A store like s3rver: it ignores If-None-Match, so a create-only Put overwrites.
class IgnoresIfAbsent : public RecordingObjectStore {
 public:
  Result<std::string> Put(const std::string& key, std::span<const uint8_t> data,
                          const Metadata& meta, const PutOptions& options = {}) override {
    PutOptions plain = options;
    plain.if_absent = false;
    return RecordingObjectStore::Put(key, data, meta, plain);
  }
};

// A clock whose sleep lets something else happen meanwhile (another mount's PUT landing).
class ClockWithInterleaving : public FakeClock {
 public:
  std::function<void()> during_sleep;
  void SleepMs(int64_t ms) override {
    if (during_sleep) during_sleep();
    FakeClock::SleepMs(ms);
  }
};

TEST_CASE("bucket_meta: CreateMountToken: of two creators, one wins, on a store that honours it") {
  RecordingObjectStore store;
  FakeClock clock;
  REQUIRE(CreateMountToken(store, "vol/", 0x1111, clock).ok());
  Status second = CreateMountToken(store, "vol/", 0x2222, clock);
  REQUIRE_FALSE(second.ok());
  CHECK(second.code() == EEXIST);
  CHECK(second.message().find("token 00001111") != std::string::npos);
  CHECK(*ReadMountToken(store, "vol/") == 0x1111);
  // The winner learned from its second create-only PUT that the store honours them: no wait.
  CHECK(clock.NowMs() == FakeClock().NowMs());
}

TEST_CASE("bucket_meta: CreateMountToken on a store that ignores create-only: the last wins") {
  IgnoresIfAbsent store;
  ClockWithInterleaving clock;
  const int64_t start = clock.NowMs();
  // Alone: it waits kTokenSettleMs, reads its own token back, and has the bucket.
  REQUIRE(CreateMountToken(store, "vol/", 0x1111, clock).ok());
  CHECK(clock.NowMs() - start == kTokenSettleMs);
  REQUIRE(ClearMountToken(store, "vol/").ok());

  // Another mount's token lands while we wait: we read back theirs and give way.
  clock.during_sleep = [&] {
    clock.during_sleep = nullptr;
    REQUIRE(WriteMountToken(store, "vol/", 0x2222, clock).ok());
  };
  Status lost = CreateMountToken(store, "vol/", 0x1111, clock);
  REQUIRE_FALSE(lost.ok());
  CHECK(lost.code() == EEXIST);
  CHECK(*ReadMountToken(store, "vol/") == 0x2222);  // theirs stays
}

TEST_CASE("bucket_meta: CreateMountToken: a lost reply of the PUT that created it still wins") {
  // The create succeeded but its reply was lost; the retry finds the key (412 -> EEXIST).
  class LostReply : public RecordingObjectStore {
   public:
    Result<std::string> Put(const std::string& key, std::span<const uint8_t> data,
                            const Metadata& meta, const PutOptions& options = {}) override {
      Result<std::string> put = RecordingObjectStore::Put(key, data, meta, options);
      if (put.ok() && !lost_) {
        lost_ = true;
        return Status(EEXIST, "412 on the retry of a PUT whose reply was lost");
      }
      return put;
    }

   private:
    bool lost_ = false;
  };
  LostReply store;
  FakeClock clock;
  REQUIRE(CreateMountToken(store, "vol/", 0x1111, clock).ok());
  CHECK(*ReadMountToken(store, "vol/") == 0x1111);
}

TEST_CASE("bucket_meta: CreateMountToken takes its token back when it fails after the PUT") {
  // The probe PUT fails (a transport error): the token may be ours and must not stay.
  FakeClock clock;
  class FailSecondPut : public RecordingObjectStore {
   public:
    Result<std::string> Put(const std::string& key, std::span<const uint8_t> data,
                            const Metadata& meta, const PutOptions& options = {}) override {
      if (++puts_ == 2) return Status(EIO, "connection reset");
      return RecordingObjectStore::Put(key, data, meta, options);
    }

   private:
    int puts_ = 0;
  };
  FailSecondPut failing;
  Status st = CreateMountToken(failing, "vol/", 0x1111, clock);
  CHECK(st.code() == EIO);
  CHECK_FALSE(failing.Has("vol/s3backer-mounted"));
}

TEST_CASE("bucket_meta: CreateMountToken on a server that refuses If-None-Match (501)") {
  NoIfAbsentObjectStore store;
  FakeClock clock;
  const int64_t start = clock.NowMs();
  REQUIRE(CreateMountToken(store, "vol/", 0x1111, clock).ok());
  CHECK(*ReadMountToken(store, "vol/") == 0x1111);
  CHECK(clock.NowMs() - start == kTokenSettleMs);  // a plain PUT, then the read-back
}

TEST_CASE("bucket_meta: a token object whose header says 0 still means mounted") {
  RecordingObjectStore store;
  store.SetObject("s3backer-mounted", {},
                  Metadata{{"content-type", "text/plain"}, {kMountTokenHeader, "00000000"}});
  Result<uint32_t> token = ReadMountToken(store, "");
  REQUIRE(token.ok());
  CHECK(*token == 1);
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
