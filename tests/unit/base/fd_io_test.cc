#include "base/fd_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include <vector>

namespace s3disk {
namespace {

TEST_CASE("fd_io: whole writes and reads at offsets, short at the end of the file") {
  char path[] = "/tmp/fd_io_test.XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  unlink(path);
  const std::vector<uint8_t> data(300000, 0x5a);
  REQUIRE(WriteAt(fd, data, 4096).ok());
  std::vector<uint8_t> back(data.size() + 100);
  Result<size_t> got = ReadAt(fd, back, 4096);
  REQUIRE(got.ok());
  CHECK(*got == data.size());  // the file ends there
  CHECK(std::equal(data.begin(), data.end(), back.begin()));
  got = ReadAt(fd, std::span<uint8_t>(back.data(), 10), 0);  // a hole reads as zeros
  REQUIRE(got.ok());
  CHECK(*got == 10);
  CHECK(back[0] == 0);
  got = ReadAt(fd, back, 1 << 30);  // past the end
  REQUIRE(got.ok());
  CHECK(*got == 0);
  close(fd);
}

TEST_CASE("fd_io: a failed call is its errno") {
  std::vector<uint8_t> buf(16);
  CHECK(ReadAt(-1, buf, 0).status().code() == EBADF);
  CHECK(WriteAt(-1, buf, 0).code() == EBADF);
  const int ro = open("/dev/null", O_RDONLY);
  REQUIRE(ro >= 0);
  CHECK(WriteAt(ro, buf, 0).code() == EBADF);
  close(ro);
}

}  // namespace
}  // namespace s3disk
