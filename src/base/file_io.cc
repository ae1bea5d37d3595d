#include "base/file_io.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/fd_io.h"

namespace s3disk {

Result<std::unique_ptr<FdFileIo>> FdFileIo::Open(const std::string& path, bool create) {
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
  if (fd < 0) return Status::Errorf(errno, "open %s", path.c_str());
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    close(fd);
    return Status::Errorf(err == EWOULDBLOCK ? EBUSY : err, "%s is in use by another process",
                          path.c_str());
  }
  return std::unique_ptr<FdFileIo>(new FdFileIo(fd));
}

FdFileIo::~FdFileIo() { close(fd_); }

Result<size_t> FdFileIo::ReadAt(std::span<uint8_t> buf, uint64_t offset) {
  return s3disk::ReadAt(fd_, buf, offset);
}

Status FdFileIo::WriteAt(std::span<const uint8_t> data, uint64_t offset) {
  return s3disk::WriteAt(fd_, data, offset);
}

Status FdFileIo::Sync() {
  if (fdatasync(fd_) != 0) return Status(errno, "fdatasync");
  return Status::Ok();
}

Result<uint64_t> FdFileIo::Size() {
  struct stat st;
  if (fstat(fd_, &st) != 0) return Status(errno, "fstat");
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace s3disk
