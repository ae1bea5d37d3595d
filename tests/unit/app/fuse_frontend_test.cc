// Unit tests of the FUSE front end without a mount: option checking at session creation
// (before anything is mounted or written), the stats file, and the replies of the operations
// on names and attributes (lookup, getattr, setattr, open, readdir, statfs, the refused ones).
// Reads, writes, fallocate, fsync and failures: fuse_frontend_io_test.cc.
#include "app/fuse_frontend.h"

#include <fcntl.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "app/fuse_frontend_testing.h"
#include "block/byte_range.h"
#include "fakes.h"

namespace s3disk {
namespace {

using fuse_testing::Err;
using fuse_testing::kBlockSize;
using fuse_testing::kSize;
using fuse_testing::RecordingReply;
using fuse_testing::Served;

using fuse_testing::kImage;
using fuse_testing::kRoot;
using fuse_testing::kStats;

TEST_CASE("fuse_frontend: mount options are checked when the session is created") {
  FuseFrontend ok_frontend(FuseFrontendOptions{});
  CHECK(ok_frontend.CreateSession({"allow_other", "ro", "max_read=131072"}).ok());

  FuseFrontend bad_frontend(FuseFrontendOptions{});
  Status st = bad_frontend.CreateSession({"allow_other", "no_such_option"});
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == EINVAL);
  // libfuse's own complaint is folded into the one line.
  CHECK(st.message() ==
        "FUSE refused the mount options '-o allow_other,no_such_option': fuse: unknown "
        "option(s): `-o no_such_option'; see mount.fuse3(8)");
  // Run without a mount is refused, not attempted.
  CHECK(bad_frontend.Run().code() == EINVAL);
}

TEST_CASE("fuse_frontend: the stats text has the front end's counters, then the stack's") {
  FuseFrontend frontend(FuseFrontendOptions{});
  const std::string before = frontend.StatsText();
  for (const char* name :
       {"fuse_reads 0\n", "fuse_writes 0\n", "fuse_bytes_read 0\n", "fuse_bytes_written 0\n",
        "fuse_fsyncs 0\n", "fuse_punch_holes 0\n", "fuse_errors 0\n"}) {
    CHECK(before.find(name) != std::string::npos);
  }
  RecordingBlockStore below(4096, 8);
  ByteRange bytes(below);
  frontend.Attach(&below, &bytes);
  const std::string after = frontend.StatsText();
  CHECK(after.find(before) == 0);
  CHECK(after.find("recording_block_store_calls") != std::string::npos);
}

TEST_CASE("fuse_frontend: lookup finds the image and the stats file in the root only") {
  FuseFrontendOptions options;
  options.filename = "disk.img";
  options.stats_filename = "counters";
  options.file_mode = 0640;
  options.uid = 1000;
  options.gid = 100;
  Served s(options);

  RecordingReply image;
  s.frontend.Lookup(image, kRoot, "disk.img");
  REQUIRE(image.Only() == "entry 2");
  CHECK(image.attr.st_ino == kImage);
  CHECK(image.attr.st_mode == (S_IFREG | 0640));
  CHECK(image.attr.st_nlink == 1);
  CHECK(image.attr.st_uid == 1000);
  CHECK(image.attr.st_gid == 100);
  CHECK(image.attr.st_size == static_cast<off_t>(kSize));
  CHECK(image.attr.st_blocks == static_cast<blkcnt_t>(kSize / 512));
  CHECK(image.attr.st_blksize == static_cast<blksize_t>(kBlockSize));
  // The image changes only through us: the kernel may keep its attributes and the name.
  CHECK(image.attr_timeout_s > 0);
  CHECK(image.entry_timeout_s > 0);

  RecordingReply stats;
  s.frontend.Lookup(stats, kRoot, "counters");
  REQUIRE(stats.Only() == "entry 3");
  CHECK(stats.attr.st_mode == (S_IFREG | 0444));
  CHECK(stats.attr.st_size == static_cast<off_t>(s.frontend.StatsText().size()));
  CHECK(stats.attr_timeout_s == 0);  // its size changes all the time
  CHECK(stats.entry_timeout_s > 0);

  for (const char* name : {"file", "stats", "disk.img.bak", ""}) {
    RecordingReply r;
    s.frontend.Lookup(r, kRoot, name);
    CHECK(r.Only() == Err(ENOENT));
  }
  RecordingReply in_file;
  s.frontend.Lookup(in_file, kImage, "disk.img");
  CHECK(in_file.Only() == Err(ENOTDIR));
}

TEST_CASE("fuse_frontend: getattr of the three inodes; any other is ENOENT") {
  Served s;
  RecordingReply root;
  s.frontend.GetAttr(root, kRoot);
  REQUIRE(root.Only() == "attr");
  CHECK(root.attr.st_ino == kRoot);
  CHECK(root.attr.st_mode == (S_IFDIR | 0755));
  CHECK(root.attr.st_nlink == 2);
  CHECK(root.attr.st_size == 0);

  RecordingReply image;
  s.frontend.GetAttr(image, kImage);
  REQUIRE(image.Only() == "attr");
  CHECK(image.attr.st_mode == (S_IFREG | 0600));
  CHECK(image.attr.st_size == static_cast<off_t>(kSize));
  CHECK(image.attr_timeout_s > 0);

  RecordingReply stats;
  s.frontend.GetAttr(stats, kStats);
  REQUIRE(stats.Only() == "attr");
  CHECK(stats.attr.st_mode == (S_IFREG | 0444));
  CHECK(stats.attr.st_size == static_cast<off_t>(s.frontend.StatsText().size()));
  CHECK(stats.attr_timeout_s == 0);

  for (uint64_t ino : {uint64_t{0}, uint64_t{4}, uint64_t{1} << 40}) {
    RecordingReply r;
    s.frontend.GetAttr(r, ino);
    CHECK(r.Only() == Err(ENOENT));
  }
}

TEST_CASE("fuse_frontend: chmod, chown and utimens change the attributes of each inode") {
  Served s;
  for (uint64_t ino : {kRoot, kImage, kStats}) {
    INFO("inode " << ino);
    struct stat want = {};
    want.st_mode = S_IFREG | 04751;  // the type bits are ignored
    want.st_uid = 42;
    want.st_gid = 43;
    want.st_atim = {1000, 1};
    want.st_mtim = {2000, 2};
    want.st_ctim = {3000, 3};
    RecordingReply r;
    s.frontend.SetAttr(r, ino, want,
                       FuseFrontend::kSetMode | FuseFrontend::kSetUid | FuseFrontend::kSetGid |
                           FuseFrontend::kSetAtime | FuseFrontend::kSetMtime |
                           FuseFrontend::kSetCtime);
    REQUIRE(r.Only() == "attr");
    CHECK((r.attr.st_mode & 07777) == 04751);
    CHECK((r.attr.st_mode & S_IFMT) == (ino == kRoot ? S_IFDIR : S_IFREG));
    CHECK(r.attr.st_uid == 42);
    CHECK(r.attr.st_gid == 43);
    CHECK(r.attr.st_atim.tv_sec == 1000);
    CHECK(r.attr.st_mtim.tv_sec == 2000);
    CHECK(r.attr.st_ctim.tv_sec == 3000);

    // What was set stays (getattr), and only the bits in to_set change.
    RecordingReply uid_only;
    want.st_uid = 7;
    want.st_gid = 8;
    s.frontend.SetAttr(uid_only, ino, want, FuseFrontend::kSetUid);
    REQUIRE(uid_only.Only() == "attr");
    RecordingReply got;
    s.frontend.GetAttr(got, ino);
    REQUIRE(got.Only() == "attr");
    CHECK(got.attr.st_uid == 7);
    CHECK(got.attr.st_gid == 43);
    CHECK((got.attr.st_mode & 07777) == 04751);
    CHECK(got.attr.st_mtim.tv_sec == 2000);
    CHECK(got.attr.st_ctim.tv_sec > 3000);  // a change sets ctime to now

    // touch: both times to now.
    RecordingReply now;
    s.frontend.SetAttr(now, ino, want, FuseFrontend::kSetAtimeNow | FuseFrontend::kSetMtimeNow);
    REQUIRE(now.Only() == "attr");
    CHECK(now.attr.st_atim.tv_sec > 2000);
    CHECK(now.attr.st_mtim.tv_sec > 2000);
  }
  RecordingReply none;
  s.frontend.SetAttr(none, 4, {}, FuseFrontend::kSetMode);
  CHECK(none.Only() == Err(ENOENT));
}

TEST_CASE("fuse_frontend: truncate keeps the image's size or is refused") {
  Served s;
  struct stat size = {};
  size.st_size = static_cast<off_t>(kSize);
  RecordingReply same;
  s.frontend.SetAttr(same, kImage, size, FuseFrontend::kSetSize);
  REQUIRE(same.Only() == "attr");
  CHECK(same.attr.st_size == static_cast<off_t>(kSize));

  for (off_t other : {off_t{0}, static_cast<off_t>(kSize - 1), static_cast<off_t>(kSize + 1)}) {
    size.st_size = other;
    RecordingReply r;
    s.frontend.SetAttr(r, kImage, size, FuseFrontend::kSetSize | FuseFrontend::kSetMode);
    CHECK(r.Only() == Err(EINVAL));
  }
  // A refused truncate changes nothing else either (the mode above).
  RecordingReply got;
  s.frontend.GetAttr(got, kImage);
  CHECK((got.attr.st_mode & 07777) == 0600);

  size.st_size = 0;
  RecordingReply stats;
  s.frontend.SetAttr(stats, kStats, size, FuseFrontend::kSetSize);
  CHECK(stats.Only() == Err(EPERM));
  RecordingReply root;
  s.frontend.SetAttr(root, kRoot, size, FuseFrontend::kSetSize);
  CHECK(root.Only() == Err(EISDIR));
  CHECK(s.store.calls().empty());
}

TEST_CASE("fuse_frontend: open chooses the image's caching; the root and others are refused") {
  Served s;
  RecordingReply reading;
  s.frontend.Open(reading, kImage, O_RDONLY);
  REQUIRE(reading.Only() == "open");
  CHECK(reading.opened.keep_cache);
  CHECK_FALSE(reading.opened.direct_io);
  RecordingReply writing;
  s.frontend.Open(writing, kImage, O_RDWR);
  REQUIRE(writing.Only() == "open");
  CHECK(writing.opened.keep_cache);
  // Only a descriptor that can write flushes the stack at close.
  CHECK(writing.opened.fh != reading.opened.fh);

  RecordingReply root;
  s.frontend.Open(root, kRoot, O_RDONLY);
  CHECK(root.Only() == Err(EISDIR));
  RecordingReply other;
  s.frontend.Open(other, 4, O_RDONLY);
  CHECK(other.Only() == Err(ENOENT));
}

TEST_CASE("fuse_frontend: the stats file is read at offsets, as it was when opened") {
  Served s;
  RecordingReply open;
  s.frontend.Open(open, kStats, O_RDONLY);
  REQUIRE(open.Only() == "open");
  CHECK(open.opened.direct_io);  // its size changes: reads must not stop at a cached size
  CHECK_FALSE(open.opened.keep_cache);
  const uint64_t fh = open.opened.fh;
  const std::string text = s.frontend.StatsText();
  REQUIRE(text.size() > 20);

  RecordingReply all;
  s.frontend.Read(all, kStats, 1 << 20, 0, fh);
  REQUIRE(all.Only() == "buf " + std::to_string(text.size()));
  CHECK(all.data == text);
  RecordingReply middle;
  s.frontend.Read(middle, kStats, 10, 5, fh);
  REQUIRE(middle.Only() == "buf 10");
  CHECK(middle.data == text.substr(5, 10));
  RecordingReply tail;
  s.frontend.Read(tail, kStats, 100, static_cast<off_t>(text.size() - 3), fh);
  REQUIRE(tail.Only() == "buf 3");
  CHECK(tail.data == text.substr(text.size() - 3));
  for (off_t off : {static_cast<off_t>(text.size()), static_cast<off_t>(text.size() + 100)}) {
    RecordingReply past;
    s.frontend.Read(past, kStats, 100, off, fh);
    CHECK(past.Only() == "buf 0");
  }

  // Counters move (an image read), but this descriptor keeps what it saw at open.
  RecordingReply image_read;
  s.frontend.Read(image_read, kImage, 10, 0, 0);
  REQUIRE(image_read.Only() == "buf 10");
  CHECK(s.frontend.StatsText() != text);
  RecordingReply again;
  s.frontend.Read(again, kStats, 1 << 20, 0, fh);
  CHECK(again.data == text);

  RecordingReply release;
  s.frontend.Release(release, kStats, fh);
  CHECK(release.Only() == Err(0));
}

TEST_CASE("fuse_frontend: the stats file cannot be opened for writing or written") {
  Served s;
  for (int flags : {O_WRONLY, O_RDWR, O_WRONLY | O_TRUNC}) {
    RecordingReply r;
    s.frontend.Open(r, kStats, flags);
    CHECK(r.Only() == Err(EACCES));
  }
  RecordingReply write;
  s.frontend.Write(write, kStats, "x", 1, 0);
  CHECK(write.Only() == Err(EACCES));
  CHECK(s.Counter("fuse_writes") == 0);
}

TEST_CASE("fuse_frontend: readdir lists ., .., the image and the stats file from an offset") {
  FuseFrontendOptions options;
  options.filename = "img";
  Served s(options);
  RecordingReply opendir;
  s.frontend.OpenDir(opendir, kRoot);
  REQUIRE(opendir.Only() == "open");
  CHECK(opendir.opened.fh == 0);

  RecordingReply all;
  s.frontend.ReadDir(all, kRoot, 4096, 0);
  REQUIRE(all.Only() == "dir 4");
  CHECK(all.dir ==
        std::vector<std::string>{". 1 dir 1", ".. 1 dir 2", "img 2 reg 3", "stats 3 reg 4"});
  CHECK(all.dir_size == 4096);
  // The kernel continues at the last entry's next offset.
  RecordingReply rest;
  s.frontend.ReadDir(rest, kRoot, 100, 2);
  REQUIRE(rest.Only() == "dir 2");
  CHECK(rest.dir == std::vector<std::string>{"img 2 reg 3", "stats 3 reg 4"});
  CHECK(rest.dir_size == 100);
  for (off_t off : {off_t{4}, off_t{1000}}) {
    RecordingReply end;
    s.frontend.ReadDir(end, kRoot, 4096, off);
    CHECK(end.Only() == "dir 0");
  }
  RecordingReply negative;
  s.frontend.ReadDir(negative, kRoot, 4096, -1);
  CHECK(negative.Only() == "dir 4");

  for (uint64_t ino : {kImage, kStats}) {
    RecordingReply not_dir;
    s.frontend.OpenDir(not_dir, ino);
    CHECK(not_dir.Only() == Err(ENOTDIR));
    RecordingReply read_not_dir;
    s.frontend.ReadDir(read_not_dir, ino, 4096, 0);
    CHECK(read_not_dir.Only() == Err(ENOTDIR));
  }
  RecordingReply releasedir;
  s.frontend.ReleaseDir(releasedir);
  CHECK(releasedir.Only() == Err(0));
}

TEST_CASE("fuse_frontend: creating, removing or renaming anything is refused with EPERM") {
  Served s;
  RecordingReply r;
  s.frontend.Refuse(r);
  CHECK(r.Only() == Err(EPERM));
  CHECK(s.store.calls().empty());
}

TEST_CASE("fuse_frontend: statfs shows the image's blocks, all used") {
  Served s;
  RecordingReply r;
  s.frontend.StatFs(r);
  REQUIRE(r.Only() == "statfs");
  CHECK(r.stats.f_bsize == kBlockSize);
  CHECK(r.stats.f_frsize == kBlockSize);
  CHECK(r.stats.f_blocks == fuse_testing::kBlocks);
  CHECK(r.stats.f_bfree == 0);
  CHECK(r.stats.f_bavail == 0);
  CHECK(r.stats.f_files == 3);
  CHECK(r.stats.f_namemax == 255);
}

}  // namespace
}  // namespace s3disk
