// Whole reads and writes at an offset of a file descriptor: the loops around pread and pwrite
// (short transfers, EINTR) written once. Errors are the errno of the failed call; callers add
// what and which file ("cache_file: write /x: ...").
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/status.h"

namespace s3disk {

// Reads into buf from offset until buf is full or the file ends; the bytes read.
Result<size_t> ReadAt(int fd, std::span<uint8_t> buf, uint64_t offset);
// Writes all of data at offset. A write that makes no progress is EIO.
Status WriteAt(int fd, std::span<const uint8_t> data, uint64_t offset);

}  // namespace s3disk
