// FileIo: the file-I/O seam under the journal. The real one works on a file descriptor; unit
// tests put a simulated disk there that can lose what was not synced (a power cut).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "base/status.h"

namespace s3disk {

class FileIo {
 public:
  virtual ~FileIo() = default;
  // Reads into buf from offset until buf is full or the file ends; the bytes read.
  virtual Result<size_t> ReadAt(std::span<uint8_t> buf, uint64_t offset) = 0;
  // Writes all of data at offset (not durable until Sync).
  virtual Status WriteAt(std::span<const uint8_t> data, uint64_t offset) = 0;
  // fdatasync: every WriteAt that returned before the call is durable.
  virtual Status Sync() = 0;
  // The file's size in bytes.
  virtual Result<uint64_t> Size() = 0;
  // Allocates the file's first `bytes` bytes on disk (ENOSPC now rather than at a write).
  virtual Status Reserve(uint64_t bytes) = 0;
};

// A file of the local file system, open read-write and locked (flock LOCK_EX) by this process.
class FdFileIo : public FileIo {
 public:
  // Opens path, creating it (mode 0600) when create is set; a file it creates is durable in
  // its directory on return. EBUSY when another process holds it; ENOENT when absent and not
  // created.
  static Result<std::unique_ptr<FdFileIo>> Open(const std::string& path, bool create);
  ~FdFileIo() override;
  FdFileIo(const FdFileIo&) = delete;
  FdFileIo& operator=(const FdFileIo&) = delete;

  Result<size_t> ReadAt(std::span<uint8_t> buf, uint64_t offset) override;
  Status WriteAt(std::span<const uint8_t> data, uint64_t offset) override;
  Status Sync() override;
  Result<uint64_t> Size() override;
  Status Reserve(uint64_t bytes) override;

 private:
  explicit FdFileIo(int fd) : fd_(fd) {}
  const int fd_;
};

}  // namespace s3disk
