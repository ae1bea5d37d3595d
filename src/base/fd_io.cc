#include "base/fd_io.h"

#include <unistd.h>

#include <cerrno>

namespace s3disk {

Result<size_t> ReadAt(int fd, std::span<uint8_t> buf, uint64_t offset) {
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n = pread(fd, buf.data() + done, buf.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status(errno, "pread");
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Status WriteAt(int fd, std::span<const uint8_t> data, uint64_t offset) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n =
        pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status(errno, "pwrite");
    }
    if (n == 0) return Status(EIO, "pwrite wrote nothing");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace s3disk
