#include "base/file_io.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/fd_io.h"
#include "base/log.h"

namespace s3disk {

namespace {

// fsync of the directory holding path, so a file just made there survives a power cut.
Status SyncParent(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::Errorf(errno, "open %s", dir.c_str());
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0) return Status::Errorf(err, "fsync %s", dir.c_str());
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<FdFileIo>> FdFileIo::Open(const std::string& path, bool create) {
  bool made = false;
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && create) {
    fd = open(path.c_str(), O_RDWR | O_CLOEXEC | O_CREAT | O_EXCL, 0600);
    made = fd >= 0;
    if (fd < 0 && errno == EEXIST) fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  }
  if (fd < 0) return Status::Errorf(errno, "open %s", path.c_str());
  if (made) {
    Status synced = SyncParent(path);
    if (!synced.ok()) {
      close(fd);
      return synced;
    }
  }
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

Status FdFileIo::Reserve(uint64_t bytes) {
  struct stat st;
  if (fstat(fd_, &st) != 0) return Status(errno, "fstat");
  int rc = posix_fallocate(fd_, 0, static_cast<off_t>(bytes));
  if (rc == 0) return Status::Ok();
  // Give back what was allocated before it failed: the file as it was. (Should that fail too,
  // the allocation's error is still the one to report.)
  if (ftruncate(fd_, st.st_size) != 0) LOG_WARN("ftruncate: %s", strerror(errno));
  return Status::Errorf(rc, "allocating %llu bytes: %s", static_cast<unsigned long long>(bytes),
                        strerror(rc));
}

Result<uint64_t> FdFileIo::Size() {
  struct stat st;
  if (fstat(fd_, &st) != 0) return Status(errno, "fstat");
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace s3disk
