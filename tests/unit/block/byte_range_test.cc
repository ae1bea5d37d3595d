#include "block/byte_range.h"

#include <catch2/catch.hpp>
#include <limits>
#include <thread>

#include "base/md5_many.h"
#include "fakes.h"

namespace Catch {
template <>
struct StringMaker<s3disk::BlockPiece> {
  static std::string convert(const s3disk::BlockPiece& p) {
    return "{" + std::to_string(p.block) + ", " + std::to_string(p.offset) + ", " +
           std::to_string(p.length) + ", " + std::to_string(p.buf_offset) + "}";
  }
};
}  // namespace Catch

namespace s3disk {
namespace {

using Calls = std::vector<std::string>;
using Bytes = std::vector<uint8_t>;

using Pieces = std::vector<BlockPiece>;

TEST_CASE("byte_range: SplitRange at every boundary") {
  constexpr uint32_t bs = 100;
  CHECK(SplitRange(0, 0, bs).empty());
  CHECK(SplitRange(0, 100, bs) == Pieces{{0, 0, 100, 0}});              // exactly one block
  CHECK(SplitRange(0, 1, bs) == Pieces{{0, 0, 1, 0}});                  // offset 0, one byte
  CHECK(SplitRange(150, 1, bs) == Pieces{{1, 50, 1, 0}});               // one byte inside
  CHECK(SplitRange(99, 2, bs) == Pieces{{0, 99, 1, 0}, {1, 0, 1, 1}});  // two bytes straddle
  CHECK(SplitRange(50, 200, bs) ==                                      // unaligned start/end
        Pieces{{0, 50, 50, 0}, {1, 0, 100, 50}, {2, 0, 50, 150}});
  CHECK(SplitRange(100, 300, bs) ==  // spanning 3 blocks
        Pieces{{1, 0, 100, 0}, {2, 0, 100, 100}, {3, 0, 100, 200}});
  CHECK(SplitRange(50, 150, bs) == Pieces{{0, 50, 50, 0}, {1, 0, 100, 50}});   // aligned end
  CHECK(SplitRange(100, 150, bs) == Pieces{{1, 0, 100, 0}, {2, 0, 50, 100}});  // aligned start
  CHECK(SplitRange(950, 50, bs) == Pieces{{9, 50, 50, 0}});  // end of a 10-block device
  // Past 4 GiB: offsets are 64-bit.
  CHECK(SplitRange(uint64_t{5} << 32, 1, 4096) ==
        Pieces{{static_cast<BlockNum>((uint64_t{5} << 32) / 4096), 0, 1, 0}});
}

struct Fixture {
  Fixture() : store(100, 10), range(store) {}
  RecordingBlockStore store;
  ByteRange range;
};

Bytes Seq(size_t n, uint8_t start) {
  Bytes b(n);
  for (size_t i = 0; i < n; i++) b[i] = static_cast<uint8_t>(start + i);
  return b;
}

TEST_CASE("byte_range: whole blocks go whole, partial ends go as parts") {
  Fixture f;
  CHECK(f.range.size_bytes() == 1000);
  Bytes data = Seq(200, 1);
  REQUIRE(f.range.Write(50, data).ok());
  CHECK(f.store.calls() == Calls{"part 0 50+50", "write 1", "part 2 0+50"});
  CHECK(f.store.Block(1) == Bytes(data.begin() + 50, data.begin() + 150));

  f.store.ClearCalls();
  Bytes back(200);
  REQUIRE(f.range.Read(50, back).ok());
  CHECK(back == data);
  CHECK(f.store.calls() == Calls{"read 0 50+50", "read 1", "read 2 0+50"});

  f.store.ClearCalls();
  Bytes end(1);
  REQUIRE(f.range.Read(999, end).ok());  // the last byte
  REQUIRE(f.range.Write(999, end).ok());
  CHECK(f.store.calls() == Calls{"read 9 99+1", "part 9 99+1"});
}

TEST_CASE("byte_range: whole blocks of one write are hashed together, and only those") {
  Fixture f;
  Bytes data = Seq(560, 1);  // blocks 1..5 whole (block 3 zeros), 0 and 6 partial
  std::fill(data.begin() + 250, data.begin() + 350, 0);
  REQUIRE(f.range.Write(50, data).ok());
  CHECK(f.store.calls() == Calls{"part 0 50+50", "write 1", "write 2", "write 3", "write 4",
                                 "write 5", "part 6 0+10"});
  // The fake refuses a digest that is not its block's; zero blocks are not hashed.
  CHECK(f.store.md5_given() == (Md5ManyVectorized() ? 4u : 0u));
  Bytes back(560);
  REQUIRE(f.range.Read(50, back).ok());
  CHECK(back == data);

  // Two whole blocks hash no faster together: each goes without a digest.
  REQUIRE(f.range.Write(100, Seq(200, 9)).ok());
  CHECK(f.store.md5_given() == (Md5ManyVectorized() ? 4u : 0u));
}

TEST_CASE("byte_range: nothing past the end reaches the store") {
  Fixture f;
  Bytes buf(20);
  CHECK(f.range.Read(990, buf).code() == EINVAL);
  CHECK(f.range.Write(1000, std::span<const uint8_t>(buf).first(1)).code() == EINVAL);
  CHECK(f.range.Read(std::numeric_limits<uint64_t>::max() - 5, buf).code() == EINVAL);
  CHECK(f.range.Zero(0, 1001).code() == EINVAL);
  CHECK(f.range.Zero(std::numeric_limits<uint64_t>::max(), 2).code() == EINVAL);
  CHECK(f.store.calls().empty());
  CHECK(f.range.Read(1000, {}).ok());  // empty at the very end is fine
  CHECK(f.range.Zero(1000, 0).ok());
  CHECK(f.store.calls().empty());
}

// Remembers where the data of full-block calls lives, to prove there is no copy.
struct PointerStore : RecordingBlockStore {
  using RecordingBlockStore::RecordingBlockStore;
  Status ReadBlock(BlockNum n, std::span<uint8_t> buf) override {
    read_ptr = buf.data();
    return RecordingBlockStore::ReadBlock(n, buf);
  }
  Status WriteBlock(BlockNum n, std::span<const uint8_t> data,
                    const WriteHints& hints = {}) override {
    write_ptr = data.data();
    return RecordingBlockStore::WriteBlock(n, data, hints);
  }
  const void* read_ptr = nullptr;
  const void* write_ptr = nullptr;
};

TEST_CASE("byte_range: whole blocks use the caller's buffer") {
  PointerStore store(100, 10);
  ByteRange range(store);
  Bytes data = Seq(250, 3);
  REQUIRE(range.Write(50, data).ok());
  CHECK(store.write_ptr == data.data() + 150);  // block 2 starts 150 bytes into the buffer
  Bytes back(250);
  REQUIRE(range.Read(50, back).ok());
  CHECK(store.read_ptr == back.data() + 150);
  CHECK(back == data);
}

TEST_CASE("byte_range: zero trims whole blocks and writes zeros into partial ends") {
  Fixture f;
  for (BlockNum n = 0; n < 10; n++) f.store.SetBlock(n, Bytes(100, 0xaa));
  REQUIRE(f.range.Zero(50, 250).ok());
  CHECK(f.store.calls() == Calls{"part 0 50+50", "trim 1+2"});
  Bytes expect(100, 0xaa);
  std::fill(expect.begin() + 50, expect.end(), 0);
  CHECK(f.store.Block(0) == expect);
  CHECK_FALSE(f.store.HasData(1));
  CHECK_FALSE(f.store.HasData(2));
  CHECK(f.store.HasData(3));

  f.store.ClearCalls();
  REQUIRE(f.range.Zero(310, 20).ok());   // inside one block
  REQUIRE(f.range.Zero(400, 100).ok());  // exactly one block
  REQUIRE(f.range.Zero(550, 450).ok());  // to the end of the device
  CHECK(f.store.calls() == Calls{"part 3 10+20", "trim 4+1", "part 5 50+50", "trim 6+4"});
}

TEST_CASE("byte_range: zeroing many blocks trims in chunks") {
  RecordingBlockStore store(1, 2500);
  ByteRange range(store);
  REQUIRE(range.Zero(0, 2500).ok());
  CHECK(store.calls() == Calls{"trim 0+1000", "trim 3e8+1000", "trim 7d0+500"});
  store.ClearCalls();
  store.FailNext(1, EIO);
  CHECK(range.Zero(0, 2500).code() == EIO);
  CHECK(store.calls() == Calls{"trim 0+1000"});
}

TEST_CASE("byte_range: flush forwards, errors come back") {
  Fixture f;
  REQUIRE(f.range.Flush().ok());
  CHECK(f.store.calls() == Calls{"flush"});
  f.store.FailNext(1, EIO);
  Bytes data(300, 1);
  CHECK(f.range.Write(0, data).code() == EIO);
  CHECK(f.store.calls() == Calls{"flush", "write 0"});  // stops at the first failure
}

TEST_CASE("byte_range: concurrent partial writes to one block all land") {
  constexpr uint32_t kBlockSize = 4096;
  constexpr int kThreads = 8;
  constexpr uint32_t kSlice = kBlockSize / kThreads;
  constexpr int kRounds = 200;
  RecordingBlockStore store(kBlockSize, 4);
  store.set_native_parts(false);  // BlockStore's default read-modify-write
  store.SetReadHook([](BlockNum) { std::this_thread::yield(); });
  ByteRange range(store);

  std::atomic<int> lost{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      const uint64_t offset = kBlockSize + uint64_t{kSlice} * t;  // all in block 1
      Bytes slice(kSlice), back(kSlice);
      for (int round = 1; round <= kRounds; round++) {
        std::fill(slice.begin(), slice.end(), static_cast<uint8_t>(t * 16 + round % 16 + 1));
        if (!range.Write(offset, slice).ok()) lost++;
        // No one else writes this slice: it must read back exactly.
        if (!range.Read(offset, back).ok() || back != slice) lost++;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(lost == 0);
  Bytes block = store.Block(1);
  for (int t = 0; t < kThreads; t++) {
    CHECK(block[uint64_t{kSlice} * t] == static_cast<uint8_t>(t * 16 + kRounds % 16 + 1));
  }
}

}  // namespace
}  // namespace s3disk
