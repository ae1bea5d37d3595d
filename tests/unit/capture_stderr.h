// CaptureStderr: what a function writes to stderr (the log, in tests).
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

namespace s3disk {

// What fn writes to stderr (the log, in tests), with stderr restored even if fn throws.
inline std::string CaptureStderr(const std::function<void()>& fn) {
  char path[] = "/tmp/s3disk-stderr-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  unlink(path);
  fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  REQUIRE(saved >= 0);
  REQUIRE(dup2(fd, STDERR_FILENO) >= 0);
  struct Restore {
    int saved;
    ~Restore() {
      fflush(stderr);
      dup2(saved, STDERR_FILENO);
      close(saved);
    }
  };
  {
    Restore restore{saved};
    fn();
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  for (off_t off = 0; (n = pread(fd, buf, sizeof buf, off)) > 0; off += n) out.append(buf, n);
  close(fd);
  return out;
}

}  // namespace s3disk
