// Unit tests of the FUSE front end's data operations without a mount: reads and writes at the
// end of the image, fallocate's modes, fsync and flush, stack errors as errnos, read-only
// mode, and the catch-all that stops the process on an exception.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <new>
#include <string>
#include <vector>

#include "app/fuse_frontend.h"
#include "app/fuse_frontend_testing.h"
#include "fakes.h"

namespace s3disk {
namespace {

using fuse_testing::Err;
using fuse_testing::kBlockSize;
using fuse_testing::kSize;
using fuse_testing::Pattern;
using fuse_testing::RecordingReply;
using fuse_testing::Served;

using fuse_testing::kImage;
using fuse_testing::kRoot;
using fuse_testing::kStats;

std::string Text(const std::vector<uint8_t>& bytes, size_t from, size_t n) {
  return std::string(reinterpret_cast<const char*>(bytes.data()) + from, n);
}

TEST_CASE("fuse_frontend: reads are short at the end of the image and empty past it") {
  Served s;
  const std::vector<uint8_t> last = Pattern(kBlockSize, 7);
  s.store.SetBlock(7, last);

  RecordingReply whole;
  s.frontend.Read(whole, kImage, kBlockSize, static_cast<off_t>(kSize - kBlockSize), 0);
  REQUIRE(whole.Only() == "buf 4096");
  CHECK(whole.data == Text(last, 0, kBlockSize));
  CHECK(s.store.calls() == std::vector<std::string>{"read 7"});

  s.store.ClearCalls();
  RecordingReply straddling;
  s.frontend.Read(straddling, kImage, 100, static_cast<off_t>(kSize - 30), 0);
  REQUIRE(straddling.Only() == "buf 30");
  CHECK(straddling.data == Text(last, kBlockSize - 30, 30));
  CHECK(s.store.calls() == std::vector<std::string>{"read 7 4066+30"});

  s.store.ClearCalls();
  for (uint64_t at : {kSize, kSize + 1, kSize + kBlockSize * 10}) {
    RecordingReply past;
    s.frontend.Read(past, kImage, 100, static_cast<off_t>(at), 0);
    CHECK(past.Only() == "buf 0");
  }
  RecordingReply empty;
  s.frontend.Read(empty, kImage, 0, 100, 0);
  CHECK(empty.Only() == "buf 0");
  CHECK(s.store.calls().empty());

  RecordingReply negative;
  s.frontend.Read(negative, kImage, 100, -1, 0);
  CHECK(negative.Only() == Err(EINVAL));
  RecordingReply dir;
  s.frontend.Read(dir, kRoot, 100, 0, 0);
  CHECK(dir.Only() == Err(EISDIR));

  CHECK(s.Counter("fuse_reads") == 6);  // the image's, past the end and empty included
  CHECK(s.Counter("fuse_bytes_read") == kBlockSize + 30);
}

TEST_CASE("fuse_frontend: a write that does not fit in the image is refused whole (EFBIG)") {
  Served s;
  const std::vector<uint8_t> data = Pattern(200, 3);
  const char* buf = reinterpret_cast<const char*>(data.data());

  RecordingReply fits;
  s.frontend.Write(fits, kImage, buf, 100, static_cast<off_t>(kSize - 100));
  REQUIRE(fits.Only() == "written 100");
  CHECK(s.store.calls() == std::vector<std::string>{"part 7 3996+100"});
  CHECK(Text(s.store.Block(7), kBlockSize - 100, 100) == Text(data, 0, 100));

  s.store.ClearCalls();
  for (uint64_t at : {kSize - 100, kSize, kSize + kBlockSize}) {
    RecordingReply r;
    s.frontend.Write(r, kImage, buf, 200, static_cast<off_t>(at));
    CHECK(r.Only() == Err(EFBIG));
  }
  // Nothing of a refused write reaches the stack, not even the part that fits.
  CHECK(s.store.calls().empty());

  RecordingReply empty;
  s.frontend.Write(empty, kImage, buf, 0, 10);
  CHECK(empty.Only() == "written 0");
  // At the end even an empty write is refused (the kernel never sends one).
  RecordingReply empty_at_end;
  s.frontend.Write(empty_at_end, kImage, buf, 0, static_cast<off_t>(kSize));
  CHECK(empty_at_end.Only() == Err(EFBIG));
  CHECK(s.store.calls().empty());

  RecordingReply negative;
  s.frontend.Write(negative, kImage, buf, 10, -1);
  CHECK(negative.Only() == Err(EINVAL));
  RecordingReply dir;
  s.frontend.Write(dir, kRoot, buf, 10, 0);
  CHECK(dir.Only() == Err(EISDIR));

  CHECK(s.Counter("fuse_bytes_written") == 100);
  CHECK(s.Counter("fuse_errors") == 0);  // refusals are not stack errors
}

TEST_CASE("fuse_frontend: a write sets the image's mtime") {
  Served s;
  struct stat old = {};
  old.st_mtim = {5, 0};
  RecordingReply set;
  s.frontend.SetAttr(set, kImage, old, FuseFrontend::kSetMtime);
  REQUIRE(set.attr.st_mtim.tv_sec == 5);
  RecordingReply write;
  s.frontend.Write(write, kImage, "abc", 3, 0);
  REQUIRE(write.Only() == "written 3");
  RecordingReply got;
  s.frontend.GetAttr(got, kImage);
  CHECK(got.attr.st_mtim.tv_sec > 5);
}

TEST_CASE("fuse_frontend: punch hole zeros the range, only with KEEP_SIZE") {
  Served s;
  for (BlockNum n = 0; n < 8; n++) s.store.SetBlock(n, Pattern(kBlockSize, n));
  s.store.ClearCalls();
  const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

  RecordingReply hole;
  s.frontend.Fallocate(hole, kImage, punch, kBlockSize + 100, 3 * kBlockSize);
  REQUIRE(hole.Only() == Err(0));
  CHECK(s.store.calls() == std::vector<std::string>{"part 1 100+3996", "trim 2+2", "part 4 0+100"});
  CHECK(Text(s.store.Block(1), 0, 100) == Text(Pattern(kBlockSize, 1), 0, 100));
  CHECK(s.store.Block(1)[100] == 0);
  CHECK_FALSE(s.store.HasData(2));
  CHECK_FALSE(s.store.HasData(3));
  CHECK(s.store.Block(4)[99] == 0);
  CHECK(s.store.Block(4)[100] == Pattern(kBlockSize, 4)[100]);

  // Straddling the end: clipped to it. Wholly past it: nothing to do.
  s.store.ClearCalls();
  RecordingReply straddling;
  s.frontend.Fallocate(straddling, kImage, punch, static_cast<off_t>(kSize - 10), 1000);
  CHECK(straddling.Only() == Err(0));
  RecordingReply past;
  s.frontend.Fallocate(past, kImage, punch, static_cast<off_t>(kSize + 10), 1000);
  CHECK(past.Only() == Err(0));
  CHECK(s.store.calls() == std::vector<std::string>{"part 7 4086+10"});

  s.store.ClearCalls();
  RecordingReply no_keep;
  s.frontend.Fallocate(no_keep, kImage, FALLOC_FL_PUNCH_HOLE, 0, kBlockSize);
  CHECK(no_keep.Only() == Err(EOPNOTSUPP));
  CHECK(s.store.calls().empty());
  CHECK(s.store.HasData(0));
  CHECK(s.Counter("fuse_punch_holes") == 3);
}

TEST_CASE("fuse_frontend: zero range zeros inside the image; beyond it only with KEEP_SIZE") {
  Served s;
  for (BlockNum n = 0; n < 8; n++) s.store.SetBlock(n, Pattern(kBlockSize, n));
  s.store.ClearCalls();

  RecordingReply zero;
  s.frontend.Fallocate(zero, kImage, FALLOC_FL_ZERO_RANGE, 0, 2 * kBlockSize);
  REQUIRE(zero.Only() == Err(0));
  CHECK(s.store.calls() == std::vector<std::string>{"trim 0+2"});

  s.store.ClearCalls();
  RecordingReply grows;
  s.frontend.Fallocate(grows, kImage, FALLOC_FL_ZERO_RANGE, static_cast<off_t>(kSize - 10), 20);
  CHECK(grows.Only() == Err(EOPNOTSUPP));
  CHECK(s.store.calls().empty());
  RecordingReply kept;
  s.frontend.Fallocate(kept, kImage, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
                       static_cast<off_t>(kSize - 10), 20);
  CHECK(kept.Only() == Err(0));
  CHECK(s.store.calls() == std::vector<std::string>{"part 7 4086+10"});
}

TEST_CASE("fuse_frontend: plain fallocate succeeds inside the image; other modes unsupported") {
  Served s;
  RecordingReply inside;
  s.frontend.Fallocate(inside, kImage, 0, 0, static_cast<off_t>(kSize));
  CHECK(inside.Only() == Err(0));
  RecordingReply grows;
  s.frontend.Fallocate(grows, kImage, 0, static_cast<off_t>(kSize - 10), 20);
  CHECK(grows.Only() == Err(EOPNOTSUPP));
  RecordingReply kept;
  s.frontend.Fallocate(kept, kImage, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(kSize - 10), 20);
  CHECK(kept.Only() == Err(0));

  for (int mode : {FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE,
                   FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE,
                   FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE}) {
    INFO("mode " << mode);
    RecordingReply r;
    s.frontend.Fallocate(r, kImage, mode, 0, kBlockSize);
    CHECK(r.Only() == Err(EOPNOTSUPP));
  }
  for (uint64_t ino : {kRoot, kStats}) {
    RecordingReply r;
    s.frontend.Fallocate(r, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 10);
    CHECK(r.Only() == Err(EOPNOTSUPP));
  }
  for (auto [off, len] : {std::pair<off_t, off_t>{0, 0}, {0, -1}, {-1, 10}}) {
    RecordingReply r;
    s.frontend.Fallocate(r, kImage, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
    CHECK(r.Only() == Err(EINVAL));
  }
  CHECK(s.store.calls().empty());
  CHECK(s.Counter("fuse_punch_holes") == 0);
}

TEST_CASE("fuse_frontend: fsync, and close of a writable descriptor, flush the stack") {
  Served s;
  const uint64_t writable = s.OpenImage(O_WRONLY);
  const uint64_t readable = s.OpenImage(O_RDONLY);

  RecordingReply fsync;
  s.frontend.Fsync(fsync, kImage);
  CHECK(fsync.Only() == Err(0));
  RecordingReply close_writable;
  s.frontend.Flush(close_writable, kImage, writable);
  CHECK(close_writable.Only() == Err(0));
  CHECK(s.store.calls() == std::vector<std::string>{"flush", "flush"});

  s.store.ClearCalls();
  RecordingReply close_readable;
  s.frontend.Flush(close_readable, kImage, readable);
  CHECK(close_readable.Only() == Err(0));
  for (uint64_t ino : {kRoot, kStats}) {
    RecordingReply r;
    s.frontend.Fsync(r, ino);
    CHECK(r.Only() == Err(0));
  }
  RecordingReply release;
  s.frontend.Release(release, kImage, writable);
  CHECK(release.Only() == Err(0));
  CHECK(s.store.calls().empty());
  CHECK(s.Counter("fuse_fsyncs") == 2);
}

TEST_CASE("fuse_frontend: a failing flush answers the errno FrontEndErrno gives") {
  Served s;
  const uint64_t writable = s.OpenImage(O_RDWR);
  for (auto [code, want] : {std::pair{EBADMSG, EIO},
                            {ENOSPC, ENOSPC},
                            {EDQUOT, EDQUOT},
                            {ETIMEDOUT, EIO},
                            {ENOSYS, EIO}}) {
    INFO("stack errno " << code);
    s.store.FailNext(1, code);
    RecordingReply fsync;
    s.frontend.Fsync(fsync, kImage);
    CHECK(fsync.Only() == Err(want));
    s.store.FailNext(1, code);
    RecordingReply close;
    s.frontend.Flush(close, kImage, writable);
    CHECK(close.Only() == Err(want));
  }
  CHECK(s.Counter("fuse_errors") == 10);
}

TEST_CASE("fuse_frontend: stack errors of reads, writes and punch holes become errnos") {
  Served s;
  const std::vector<uint8_t> data = Pattern(2 * kBlockSize, 1);
  const char* buf = reinterpret_cast<const char*>(data.data());
  for (auto [code, want] : {std::pair{EBADMSG, EIO},
                            {EIO, EIO},
                            {ENOENT, EIO},
                            {EROFS, EROFS},
                            {ENOSPC, ENOSPC},
                            {EACCES, EACCES},
                            {ENOSYS, EIO}}) {
    INFO("stack errno " << code);
    s.store.FailNext(1, code);
    RecordingReply read;
    s.frontend.Read(read, kImage, 2 * kBlockSize, 0, 0);
    CHECK(read.Only() == Err(want));
    s.store.FailNext(1, code);
    RecordingReply write;
    s.frontend.Write(write, kImage, buf, 2 * kBlockSize, 0);
    CHECK(write.Only() == Err(want));
    s.store.FailNext(1, code);
    RecordingReply hole;
    s.frontend.Fallocate(hole, kImage, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 10);
    CHECK(hole.Only() == Err(want));
  }
  CHECK(s.Counter("fuse_errors") == 21);
  CHECK(s.Counter("fuse_bytes_read") == 0);
  CHECK(s.Counter("fuse_bytes_written") == 0);
}

TEST_CASE("fuse_frontend: read-only refuses writes with EROFS and still reads") {
  FuseFrontendOptions options;
  options.read_only = true;
  Served s(options);
  s.store.SetBlock(0, Pattern(kBlockSize, 9));
  s.store.ClearCalls();

  for (int flags : {O_WRONLY, O_RDWR}) {
    RecordingReply r;
    s.frontend.Open(r, kImage, flags);
    CHECK(r.Only() == Err(EROFS));
  }
  RecordingReply write;
  s.frontend.Write(write, kImage, "abc", 3, 0);
  CHECK(write.Only() == Err(EROFS));
  for (int mode : {FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_ZERO_RANGE}) {
    RecordingReply r;
    s.frontend.Fallocate(r, kImage, mode, 0, kBlockSize);
    CHECK(r.Only() == Err(EROFS));
  }
  CHECK(s.store.calls().empty());

  const uint64_t fh = s.OpenImage(O_RDONLY);
  RecordingReply read;
  s.frontend.Read(read, kImage, 10, 0, fh);
  REQUIRE(read.Only() == "buf 10");
  CHECK(read.data == Text(Pattern(kBlockSize, 9), 0, 10));
  // fsync flushes (nothing is dirty below; the stack decides).
  RecordingReply fsync;
  s.frontend.Fsync(fsync, kImage);
  CHECK(fsync.Only() == Err(0));
  CHECK(s.store.calls() == std::vector<std::string>{"read 0 0+10", "flush"});
}

TEST_CASE("fuse_frontend: an exception from the stack ends the process, with no reply") {
  // The stack is not exception-safe, so serving on could hang or serve garbage later.
  Served s;
  s.store.SetReadHook([](BlockNum) { throw std::bad_alloc(); });
  fflush(nullptr);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    RecordingReply read;
    s.frontend.Read(read, kImage, kBlockSize, 0, 0);
    _exit(read.replies.empty() ? 0 : 1);  // not reached when Guarded stops the process
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
}

}  // namespace
}  // namespace s3disk
