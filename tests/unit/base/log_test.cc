// The log: secrets are masked before a line is cut to length.
#include "base/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

namespace s3disk {
namespace {

// What LOG_ERROR(fmt, text) writes to stderr.
std::string LoggedLine(const std::string& text) {
  char path[] = "/tmp/s3disk-log-test.XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  unlink(path);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  REQUIRE(saved >= 0);
  REQUIRE(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
  LOG_ERROR("%s", text.c_str());
  fflush(stderr);
  REQUIRE(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
  close(saved);
  std::string out;
  char buf[4096];
  ssize_t n;
  REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST_CASE("log: a secret across the cut of a long line is masked whole, never in part") {
  const std::string secret = "Qz7vKp2Wm9XrTb4Ny6Lc";  // no 4 characters of it repeat
  LogRegisterSecret(secret);
  LogToStderr(LogLevel::kInfo);
  const std::string probe = LoggedLine("x");
  const size_t cut = probe.size();  // not the cut yet: find it with a line too long
  const std::string longest = LoggedLine(std::string(10000, 'a'));
  REQUIRE(longest.size() < 5000);                // lines are cut
  const size_t kept = longest.size() - cut + 1;  // characters of the message kept
  for (size_t start = kept - secret.size() - 2; start <= kept + 2; start++) {
    INFO("secret at " << start << " of a line cut after " << kept);
    std::string line = LoggedLine(std::string(start, 'a') + secret + std::string(100, 'b'));
    CHECK(line.size() <= longest.size());
    size_t leaked = 0;  // the longest start of the secret in the line
    while (leaked < secret.size() && line.find(secret.substr(0, leaked + 1)) != std::string::npos) {
      leaked++;
    }
    CHECK(leaked < 4);
  }
}

TEST_CASE("log: a secret that holds another is masked whole, whichever came first") {
  LogRegisterSecret("Hq8Zp");                 // e.g. a password ...
  LogRegisterSecret("Wd3Hq8ZpRt6Yk1Ms5Nv0");  // ... inside a secret key registered later
  LogToStderr(LogLevel::kInfo);
  const std::string line = LoggedLine("key=Wd3Hq8ZpRt6Yk1Ms5Nv0 end");
  CHECK(line.find("Wd3") == std::string::npos);
  CHECK(line.find("Rt6Yk1") == std::string::npos);
  CHECK(line.find("Hq8Zp") == std::string::npos);
}

}  // namespace
}  // namespace s3disk
