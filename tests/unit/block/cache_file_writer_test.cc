// CacheFileQueue and CacheFileWriter on a real CacheFile: tickets, the per-slot order across
// threads, and what a failed update leaves.
#include "block/cache_file_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>
#include <vector>

#include "base/buffer_pool.h"
#include "base/crypto.h"
#include "block/cache_file.h"

namespace s3disk {
namespace {

constexpr uint32_t kBs = 512;
constexpr uint64_t kBlocks = 64;
constexpr uint32_t kSlots = 4;

struct Fixture {
  Fixture() {
    char tmpl[] = "/tmp/cache_file_writer_test.XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    Open();
  }
  ~Fixture() {
    writer.reset();
    file.reset();
    std::filesystem::remove_all(dir);
  }
  std::string Path() const { return dir + "/cache"; }
  // (Re)opens the file: found() then says what the writes before left in it.
  void Open() {
    writer.reset();
    file.reset();
    auto opened = CacheFile::Open(Path(), "bucket/prefix", kBs, kBlocks, kSlots);
    REQUIRE(opened.ok());
    file = std::move(*opened);
    writer = std::make_unique<CacheFileWriter>(*file);
  }
  BlockBytes Fill(uint8_t v) { return BlockBytes::Copy(pool, std::vector<uint8_t>(kBs, v)); }
  // True if slot's record area is not empty (read beside the CacheFile, format in
  // cache_file.cc).
  bool SlotWritten(uint32_t slot) {
    int fd = open(Path().c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    uint32_t magic = 0;
    const off_t at = static_cast<off_t>(4096 + uint64_t{slot} * (512 + kBs));
    REQUIRE(pread(fd, &magic, sizeof magic, at) == sizeof magic);
    close(fd);
    return magic != 0;
  }
  // The record Open found for slot (REQUIREs one).
  CacheFile::Found Found(uint32_t slot) {
    for (const CacheFile::Found& f : file->found()) {
      if (f.slot == slot) return f;
    }
    FAIL("no record in slot " << slot);
    return {};
  }

  BufferPool pool;
  std::string dir;
  std::unique_ptr<CacheFile> file;
  std::unique_ptr<CacheFileWriter> writer;
  CacheFileQueue queue{kSlots};
};

TEST_CASE("cache_file_writer: the queue chains each slot's ops by ticket") {
  BufferPool pool;
  CacheFileQueue queue(kSlots);
  CHECK(queue.empty());
  queue.Put(1, 0x10, true, 5, BlockBytes::Copy(pool, std::vector<uint8_t>(kBs, 1)), false, {});
  queue.Clear(2);
  queue.MarkClean(1);
  CHECK_FALSE(queue.empty());
  std::vector<CacheFileOp> ops = queue.Take();
  CHECK(queue.empty());
  REQUIRE(ops.size() == 3);
  CHECK(ops[0].kind == CacheFileOp::Kind::kPut);
  CHECK(ops[0].n == 0x10);
  CHECK(ops[0].data.size() == kBs);
  CHECK(ops[1].kind == CacheFileOp::Kind::kClear);
  CHECK(ops[2].kind == CacheFileOp::Kind::kMarkClean);
  CHECK((ops[0].ticket == 1 && ops[1].ticket == 2 && ops[2].ticket == 3));
  CHECK(ops[0].prev == 0);  // the slot's first
  CHECK(ops[1].prev == 0);
  CHECK(ops[2].prev == 1);  // after slot 1's Put
  // Tickets and chains go on across takes.
  queue.Clear(1);
  ops = queue.Take();
  REQUIRE(ops.size() == 1);
  CHECK(ops[0].ticket == 4);
  CHECK(ops[0].prev == 3);
}

TEST_CASE("cache_file_writer: applied ops land in the file") {
  Fixture f;
  f.queue.Put(0, 0x20, true, 7, f.Fill(2), false, {});
  f.queue.Put(1, 0x21, true, 8, BlockBytes(), true, {});
  f.queue.Put(2, 0x22, true, 9, f.Fill(4), false, Md5(std::vector<uint8_t>(kBs, 4)));
  f.queue.MarkClean(0);
  f.queue.Clear(2);
  std::vector<CacheFileOp> ops = f.queue.Take();
  f.writer->Apply(ops);
  CHECK(ops.empty());
  f.Open();
  REQUIRE(f.file->found().size() == 2);
  const CacheFile::Found a = f.Found(0);
  CHECK(a.n == 0x20);
  CHECK_FALSE(a.dirty);
  CHECK(a.seq == 7);
  std::vector<uint8_t> data(kBs);
  REQUIRE(f.file->ReadData(a, data).ok());
  CHECK(data == std::vector<uint8_t>(kBs, 2));
  const CacheFile::Found b = f.Found(1);
  CHECK(b.n == 0x21);
  CHECK(b.dirty);
  CHECK(b.zero);
}

TEST_CASE("cache_file_writer: a slot's later op waits for the earlier one, on another thread") {
  Fixture f;
  f.queue.Put(0, 0x30, true, 1, f.Fill(1), false, {});
  std::vector<CacheFileOp> first = f.queue.Take();
  f.queue.Put(1, 0x31, true, 2, f.Fill(2), false, {});  // another slot: need not wait
  f.queue.Put(0, 0x30, true, 3, f.Fill(3), false, {});  // after the first batch's Put
  std::vector<CacheFileOp> second = f.queue.Take();
  // The second batch is applied first: slot 1 goes at once, slot 0 waits for the first.
  std::thread later([&] { f.writer->Apply(second); });
  while (!f.SlotWritten(1)) std::this_thread::yield();
  CHECK_FALSE(f.SlotWritten(0));
  f.writer->Apply(first);
  later.join();
  f.Open();
  const CacheFile::Found a = f.Found(0);
  CHECK(a.seq == 3);  // the later Put, last
  std::vector<uint8_t> data(kBs);
  REQUIRE(f.file->ReadData(a, data).ok());
  CHECK(data == std::vector<uint8_t>(kBs, 3));
}

TEST_CASE("cache_file_writer: a failed op does not hold up its slot's next ones") {
  Fixture f;
  // A Put of a block of the wrong size fails (logged); the slot's next Put still runs.
  f.queue.Put(3, 0x40, true, 1, BlockBytes::Copy(f.pool, std::vector<uint8_t>(10, 1)), false, {});
  f.queue.Put(3, 0x40, true, 2, f.Fill(5), false, {});
  std::vector<CacheFileOp> ops = f.queue.Take();
  f.writer->Apply(ops);
  f.Open();
  CHECK(f.Found(3).seq == 2);
}

}  // namespace
}  // namespace s3disk
