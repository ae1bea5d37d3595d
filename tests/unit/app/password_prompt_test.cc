// Unit tests for the password prompt's pure parts (password_prompt.h) and the command-line
// side of it: when main may ask, and that Validate accepts a missing password only when main
// will ask, checking the cipher first. The prompt itself (a terminal, echo off, signals) is
// tested in tests/t_admin.sh under a pseudo-terminal.
#include "app/password_prompt.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <string>
#include <vector>

namespace s3disk {
namespace {

// A pipe holding text (written, then closed for writing): its read end.
class TextPipe {
 public:
  explicit TextPipe(const std::string& text) {
    REQUIRE(pipe(fds_) == 0);
    REQUIRE(write(fds_[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    close(fds_[1]);
  }
  ~TextPipe() { close(fds_[0]); }
  int fd() const { return fds_[0]; }

 private:
  int fds_[2];
};

Result<Config> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "s3disk");
  return ParseArgs(args);
}

TEST_CASE("password_prompt: reads one line, without its line end") {
  {
    TextPipe p("s3cret\nnext line\n");
    Result<std::string> line = ReadPasswordLine(p.fd());
    REQUIRE(line.ok());
    CHECK(*line == "s3cret");
    // Nothing after the newline was consumed.
    Result<std::string> next = ReadPasswordLine(p.fd());
    REQUIRE(next.ok());
    CHECK(*next == "next line");
  }
  {
    TextPipe p("with cr\r\n");
    CHECK(*ReadPasswordLine(p.fd()) == "with cr");
  }
  {
    TextPipe p("no newline at the end");
    CHECK(*ReadPasswordLine(p.fd()) == "no newline at the end");
  }
  {
    TextPipe p("\n");
    Result<std::string> line = ReadPasswordLine(p.fd());
    REQUIRE(line.ok());
    CHECK(line->empty());
  }
  {
    TextPipe p("");
    Result<std::string> line = ReadPasswordLine(p.fd());
    REQUIRE_FALSE(line.ok());
    CHECK(line.status().code() == ENODATA);
  }
  {
    TextPipe p(std::string(20, 'x') + "\n");
    Result<std::string> line = ReadPasswordLine(p.fd(), 10);
    REQUIRE_FALSE(line.ok());
    CHECK(line.status().code() == EIO);
  }
}

TEST_CASE("password_prompt: main may ask only for --encrypt without a password, not for NBD") {
  auto can = [](std::vector<std::string> args) {
    Result<Config> c = Parse(std::move(args));
    REQUIRE(c.ok());
    return CanPromptForPassword(*c);
  };
  CHECK(can({"--encrypt", "mem:", "/mnt"}));
  CHECK(can({"--encrypt=aes-256-cbc", "--verify", "mem:"}));
  CHECK_FALSE(can({"mem:", "/mnt"}));
  CHECK_FALSE(can({"--encrypt", "--password=x", "mem:", "/mnt"}));
  CHECK_FALSE(can({"--encrypt", "--passwordFile=/x", "mem:", "/mnt"}));
  CHECK_FALSE(can({"--encrypt", "--nbd", "--socket=/tmp/s", "mem:"}));
  CHECK_FALSE(can({"--encrypt", "--help"}));
}

TEST_CASE("password_prompt: Validate defers the password only when main will ask") {
  // Without a terminal (password_prompt unset): today's one-line error.
  Result<Config> c = Parse({"--encrypt", "--verify", "mem:"});
  REQUIRE(c.ok());
  Status st = Validate(&*c);
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == EINVAL);
  CHECK_THAT(st.message(), Catch::Contains("--encrypt needs a password") &&
                               Catch::Contains("--passwordFile=FILE"));

  // main will ask: Validate passes and leaves the password empty.
  c = Parse({"--encrypt", "--verify", "mem:"});
  REQUIRE(c.ok());
  c->password_prompt = true;
  st = Validate(&*c);
  INFO(st.message());
  REQUIRE(st.ok());
  CHECK(c->password.empty());

  // ... but a bad cipher is still refused before anyone types.
  c = Parse({"--encrypt=rot13", "--verify", "mem:"});
  REQUIRE(c.ok());
  c->password_prompt = true;
  st = Validate(&*c);
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(st.message(), Catch::Contains("rot13"));
}

}  // namespace
}  // namespace s3disk
