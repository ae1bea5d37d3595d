// DirStore specifics: the on-disk format, atomic replace, key validation, read-only mode and
// the Open errors. The shared behaviour is in object_store_contract_test.cc.
#include "object/dir_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <sstream>

#include "base/crypto.h"
#include "capture_stderr.h"
#include "object_store_contract.h"

namespace s3disk {
namespace {

using testing::Bytes;
using testing::ListKeys;
using testing::ScopedTempDir;

constexpr char kMagic[] = "s3disk-object 1\n";

std::unique_ptr<DirStore> OpenOk(const std::string& dir, bool read_only = false) {
  auto store = DirStore::Open(dir, read_only);
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return std::move(store).value();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  REQUIRE(out.good());
}

std::set<std::string> DirEntries(const std::string& path) {
  std::set<std::string> names;
  DIR* d = opendir(path.c_str());
  REQUIRE(d != nullptr);
  while (struct dirent* ent = readdir(d)) {
    std::string name = ent->d_name;
    if (name != "." && name != "..") names.insert(name);
  }
  closedir(d);
  return names;
}

uint64_t Stat(ObjectStore& store, const std::string& name) {
  std::string stats;
  store.DumpStats(&stats);
  std::istringstream in(stats);
  std::string n;
  uint64_t v = 0;
  while (in >> n >> v) {
    if (n == name) return v;
  }
  FAIL("no stat " << name << " in:\n" << stats);
  return 0;
}

size_t CountLines(const std::string& text, const std::string& needle) {
  size_t count = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) count += line.find(needle) != std::string::npos;
  return count;
}

TEST_CASE("dir_store: put replaces atomically and leaves no temp file; List ignores temp files") {
  ScopedTempDir tmp;
  auto store = OpenOk(tmp.path());
  REQUIRE(store->Put("0000002a", Bytes("one"), {}).ok());
  REQUIRE(store->Put("0000002a", Bytes("two"), {}).ok());
  REQUIRE(store->Put("vol1/0000002a", Bytes("three"), {}).ok());
  CHECK(DirEntries(tmp.path()) == std::set<std::string>{"0000002a", "vol1"});
  CHECK(DirEntries(tmp.path() + "/vol1") == std::set<std::string>{"0000002a"});
  CHECK(ReadFile(tmp.path() + "/0000002a") == "two");

  // Leftovers of a crashed Put are invisible.
  WriteFile(tmp.path() + "/.s3disk-tmp-999-1", "partial");
  WriteFile(tmp.path() + "/vol1/.s3disk-tmp-999-2", "partial");
  CHECK(ListKeys(*store, "") == std::set<std::string>{"0000002a", "vol1/0000002a"});
  CHECK(store->Get(".s3disk-tmp-999-1").status().code() == EINVAL);
}

TEST_CASE("dir_store: no metadata writes the raw body; metadata writes a header") {
  ScopedTempDir tmp;
  auto store = OpenOk(tmp.path());
  REQUIRE(store->Put("00000001", Bytes("raw block"), {}).ok());
  CHECK(ReadFile(tmp.path() + "/00000001") == "raw block");

  Metadata meta = {{"content-encoding", "deflate"}, {"x-amz-meta-s3backer-blocksize", "4096"}};
  REQUIRE(store->Put("00000000", Bytes("body"), meta).ok());
  CHECK(ReadFile(tmp.path() + "/00000000") ==
        std::string(kMagic) +
            "content-encoding: deflate\nx-amz-meta-s3backer-blocksize: 4096\n\nbody");
  auto head = store->Head("00000000");
  REQUIRE(head.ok());
  CHECK(head->size == 4);
  CHECK(head->meta == meta);
}

TEST_CASE("dir_store: a raw s3backer-style file reads back with empty metadata") {
  ScopedTempDir tmp;
  const std::string body("\x01\x02raw\n\ndata\0tail", 15);
  REQUIRE(mkdir((tmp.path() + "/vol1").c_str(), 0755) == 0);
  WriteFile(tmp.path() + "/vol1/0000002a", body);
  auto store = OpenOk(tmp.path());
  auto got = store->Get("vol1/0000002a");
  REQUIRE(got.ok());
  CHECK(got->data == Bytes(body));
  CHECK(got->info.meta.empty());
  // No MD5 record: the ETag is unknown (empty), not made up from the bytes just read.
  CHECK(got->info.etag.empty());
  auto head = store->Head("vol1/0000002a");
  REQUIRE(head.ok());
  CHECK(head->size == body.size());
  CHECK(head->etag.empty());
  CHECK(head->meta.empty());
  // A short raw file that is a prefix of the magic line is raw too.
  WriteFile(tmp.path() + "/short", "s3disk");
  auto short_obj = store->Get("short");
  REQUIRE(short_obj.ok());
  CHECK(short_obj->data == Bytes("s3disk"));
  CHECK(store->Head("short")->size == 6);
}

TEST_CASE("dir_store: GetMany reads a body of its buffer's size straight into the buffer") {
  ScopedTempDir tmp;
  auto store = OpenOk(tmp.path());
  // Bodies shorter and longer than the first read of the header; with a header and raw
  // (an s3backer-style file, written here by hand).
  std::string small(1000, 's'), big(20000, 'b');
  for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<char>(i * 7);
  REQUIRE(store->Put("headed-small", AsBytes(small), {{"content-type", "x/y"}}).ok());
  REQUIRE(store->Put("headed-big", AsBytes(big), {{"content-type", "x/y"}}).ok());
  WriteFile(tmp.path() + "/raw-big", big);
  const std::vector<std::string> keys = {"headed-small", "headed-big", "raw-big", "absent"};
  std::vector<std::vector<uint8_t>> bufs = {
      std::vector<uint8_t>(small.size()), std::vector<uint8_t>(big.size()),
      std::vector<uint8_t>(big.size()), std::vector<uint8_t>(10)};
  std::vector<std::span<uint8_t>> into(bufs.begin(), bufs.end());
  auto got = store->GetMany(keys, into);
  for (size_t i = 0; i < 3; i++) {
    INFO(keys[i]);
    REQUIRE(got[i].ok());
    CHECK(got[i]->body().data() == bufs[i].data());
    CHECK(got[i]->data.empty());
    CHECK(got[i]->info.size == bufs[i].size());
    // The file written by hand has no MD5 record: no ETag.
    CHECK(got[i]->info.etag == (i < 2 ? Md5Hex(bufs[i]) : ""));
  }
  CHECK(bufs[0] == Bytes(small));
  CHECK(bufs[1] == Bytes(big));
  CHECK(bufs[2] == Bytes(big));
  CHECK(got[0]->info.meta.at("content-type") == "x/y");
  CHECK(got[2]->info.meta.empty());
  CHECK(got[3].status().code() == ENOENT);
  // A buffer of another size: the body comes in data.
  std::vector<uint8_t> other(big.size() + 1);
  const std::span<uint8_t> one[] = {other};
  auto copied = store->GetMany({"headed-big"}, one);
  REQUIRE(copied[0].ok());
  CHECK(copied[0]->body().data() != other.data());
  CHECK(copied[0]->data == Bytes(big));
}

TEST_CASE("dir_store: a body that begins with the magic line is stored with an empty header") {
  ScopedTempDir tmp;
  auto store = OpenOk(tmp.path());
  const std::string body = std::string(kMagic) + "x-amz-meta-evil: yes\n\nrest";
  REQUIRE(store->Put("00000005", AsBytes(body), {}).ok());
  CHECK(ReadFile(tmp.path() + "/00000005") == std::string(kMagic) + "\n" + body);
  auto got = store->Get("00000005");
  REQUIRE(got.ok());
  CHECK(got->data == Bytes(body));
  CHECK(got->info.meta.empty());
  auto head = store->Head("00000005");
  REQUIRE(head.ok());
  CHECK(head->size == body.size());
  CHECK(head->meta.empty());

  // A file with the magic line but a broken header is reported as corrupt, not guessed at.
  WriteFile(tmp.path() + "/bad1", std::string(kMagic) + "no separator\n\nbody");
  CHECK(store->Get("bad1").status().code() == EBADMSG);
  CHECK(store->Head("bad1").status().code() == EBADMSG);
  WriteFile(tmp.path() + "/bad2", std::string(kMagic) + "name: value\n");  // no end
  CHECK(store->Get("bad2").status().code() == EBADMSG);
  CHECK(store->Head("bad2").status().code() == EBADMSG);
}

TEST_CASE("dir_store: Head reads the header, not the body") {
  ScopedTempDir tmp;
  auto store = OpenOk(tmp.path());
  std::vector<uint8_t> big(1 << 20, 0x5a);
  REQUIRE(store->Put("big", big, {{"content-type", "text/plain"}}).ok());
  uint64_t before = Stat(*store, "dir_store_bytes_read");
  auto head = store->Head("big");
  REQUIRE(head.ok());
  CHECK(head->size == big.size());
  CHECK(head->etag == Md5Hex(big));
  CHECK(Stat(*store, "dir_store_bytes_read") - before <= 4096);
}

TEST_CASE("dir_store: a body damaged on disk is EBADMSG, never data") {
  ScopedTempDir tmp;
  auto store = OpenOk(tmp.path());
  const auto data = Bytes("precious block data");
  REQUIRE(store->Put("00000007", data, {}).ok());
  const std::string path = tmp.path() + "/00000007";
  struct stat before;
  REQUIRE(stat(path.c_str(), &before) == 0);
  // Flip a byte in place and restore the mtime, as silent corruption would.
  int fd = open(path.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(pwrite(fd, "P", 1, 0) == 1);
  struct timespec times[2] = {before.st_atim, before.st_mtim};
  REQUIRE(futimens(fd, times) == 0);
  close(fd);
  // What was written is not what is there: the reader gets an error naming both MD5s.
  auto got = store->Get("00000007");
  REQUIRE_FALSE(got.ok());
  CHECK(got.status().code() == EBADMSG);
  std::vector<uint8_t> damaged = data;
  damaged[0] = 'P';
  CHECK(got.status().message() == "dir_store: get 00000007: " + path + " is damaged: its body's " +
                                      "MD5 is " + Md5Hex(damaged) + ", not the " + Md5Hex(data) +
                                      " recorded when it was written (user.s3disk.md5)");
  CHECK(store->Head("00000007")->etag == Md5Hex(data));  // Head reads no body: nothing to check
  // In a batch only the damaged body is refused; the body may have landed in its buffer.
  REQUIRE(store->Put("00000008", Bytes("intact"), {}).ok());
  std::vector<uint8_t> buf7(data.size()), buf8(6);
  const std::span<uint8_t> into[] = {buf7, buf8};
  auto both = store->GetMany({"00000007", "00000008"}, into);
  CHECK(both[0].status().code() == EBADMSG);
  REQUIRE(both[1].ok());
  CHECK(Bytes(both[1]->body()) == Bytes("intact"));
  CHECK(both[1]->info.etag == Md5Hex(Bytes("intact")));
  // A file rewritten by someone else (new mtime): the record no longer holds, the MD5 of what
  // should be there is unknown.
  WriteFile(path, "replaced by hand");
  got = store->Get("00000007");
  REQUIRE(got.ok());
  CHECK(got->data == Bytes("replaced by hand"));
  CHECK(got->info.etag.empty());
  CHECK(store->Head("00000007")->etag.empty());
}

TEST_CASE("dir_store: a changed body without an MD5 record is not passed off as verified") {
  ScopedTempDir tmp;
  auto store = OpenOk(tmp.path());
  REQUIRE(store->Put("00000008", Bytes("precious block data"), {}).ok());
  const std::string path = tmp.path() + "/00000008";
  // The record lost (a copy without xattrs), then the bytes changed.
  REQUIRE(removexattr(path.c_str(), "user.s3disk.md5") == 0);
  int fd = open(path.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(pwrite(fd, "P", 1, 0) == 1);
  close(fd);
  auto got = store->Get("00000008");
  REQUIRE(got.ok());
  CHECK(got->data == Bytes("Precious block data"));
  // No ETag that matches whatever is there: the body could not be checked.
  CHECK(got->info.etag.empty());
  auto head = store->Head("00000008");
  REQUIRE(head.ok());
  CHECK(head->etag.empty());
  CHECK(head->size == 19);
}

TEST_CASE("dir_store: reading objects without an MD5 record logs one WARNING") {
  ScopedTempDir tmp;
  auto store = OpenOk(tmp.path());
  REQUIRE(store->Put("recorded", Bytes("x"), {}).ok());
  WriteFile(tmp.path() + "/00000001", "by hand");
  WriteFile(tmp.path() + "/00000002", "by hand too");
  std::string log = CaptureStderr([&] {
    CHECK(store->Get("recorded").ok());
    CHECK(store->Head("00000001").ok());
  });
  CHECK(log.empty());  // a Head verifies nothing: no warning yet
  log = CaptureStderr([&] {
    CHECK(store->Get("00000001").ok());
    CHECK(store->Get("00000002").ok());
    CHECK(store->Get("00000001").ok());
  });
  INFO(log);
  CHECK(CountLines(log, "WARNING") == 1);
  CHECK(CountLines(log, "dir_store: " + tmp.path() + "/00000001 has no MD5 record") == 1);
  CHECK(CountLines(log, "blocks without a recorded MD5 are read unverified") == 1);
}

TEST_CASE("dir_store: a file system without user xattrs is reported once at Open") {
  // procfs has no user xattrs; read-only, Open accepts it as a directory like any other.
  std::unique_ptr<DirStore> store;
  std::string log = CaptureStderr([&] { store = OpenOk("/proc", /*read_only=*/true); });
  INFO(log);
  CHECK(CountLines(log, "WARNING") == 1);
  CHECK(CountLines(log, "dir_store: the file system of /proc has no user xattrs") == 1);
  CHECK(CountLines(log, "blocks without a recorded MD5 are read unverified") == 1);
  // A directory with user xattrs says nothing at Open.
  ScopedTempDir tmp;
  log = CaptureStderr([&] { OpenOk(tmp.path()); });
  CHECK(log.empty());
}

TEST_CASE("dir_store: bad keys and metadata are EINVAL and touch nothing") {
  ScopedTempDir tmp;
  REQUIRE(mkdir((tmp.path() + "/bucket").c_str(), 0755) == 0);
  auto store = OpenOk(tmp.path() + "/bucket");
  const std::vector<std::string> bad = {"",
                                        "/abs",
                                        "a//b",
                                        "a/",
                                        "..",
                                        "../escape",
                                        "a/../../escape",
                                        "./a",
                                        "a/.",
                                        std::string("a\0b", 3),
                                        ".s3disk-tmp-1",
                                        "vol1/.s3disk-tmp-2"};
  for (const auto& key : bad) {
    INFO("key '" << key << "'");
    CHECK(store->Put(key, Bytes("x"), {}).status().code() == EINVAL);
    CHECK(store->Get(key).status().code() == EINVAL);
    CHECK(store->Head(key).status().code() == EINVAL);
    CHECK(store->Delete(key).code() == EINVAL);
  }
  CHECK(DirEntries(tmp.path()) == std::set<std::string>{"bucket"});
  CHECK(DirEntries(tmp.path() + "/bucket").empty());

  CHECK(store->Put("k", Bytes("x"), {{"bad:name", "v"}}).status().code() == EINVAL);
  CHECK(store->Put("k", Bytes("x"), {{"bad name", "v"}}).status().code() == EINVAL);
  CHECK(store->Put("k", Bytes("x"), {{"", "v"}}).status().code() == EINVAL);
  CHECK(store->Put("k", Bytes("x"), {{"name", "two\nlines"}}).status().code() == EINVAL);
  CHECK(store->Put("k", Bytes("x"), {{"name", "cr\r"}}).status().code() == EINVAL);
  auto st = store->Put("k", Bytes("x"), {{"name", "two\nlines"}}).status();
  CHECK(st.message().find("dir_store: put k: ") == 0);
  CHECK(DirEntries(tmp.path() + "/bucket").empty());

  // Odd but legal: dots inside a component, an empty value, spaces around a value.
  REQUIRE(store->Put("a..b/.hidden", Bytes("x"), {{"x-amz-meta-e", ""}, {"n", " v "}}).ok());
  auto got = store->Get("a..b/.hidden");
  REQUIRE(got.ok());
  CHECK(got->info.meta == Metadata{{"x-amz-meta-e", ""}, {"n", " v "}});
}

TEST_CASE("dir_store: a key that is a directory, or under a file, is no object") {
  ScopedTempDir tmp;
  auto store = OpenOk(tmp.path());
  REQUIRE(store->Put("a/b", Bytes("x"), {}).ok());
  CHECK(store->Get("a").status().code() == ENOENT);
  CHECK(store->Head("a").status().code() == ENOENT);
  CHECK(store->Delete("a").ok());
  CHECK(store->Get("a/b").ok());  // Delete("a") did not remove the directory's content
  REQUIRE(store->Put("f", Bytes("x"), {}).ok());
  CHECK(store->Get("f/g").status().code() == ENOENT);
  CHECK(store->Delete("f/g").ok());
  auto put = store->Put("f/g", Bytes("y"), {});
  CHECK(put.status().code() == ENOTDIR);
  CHECK(put.status().message().find(tmp.path() + "/f") != std::string::npos);
  // Delete leaves the (now empty) prefix directory in place.
  CHECK(store->Delete("a/b").ok());
  CHECK(DirEntries(tmp.path() + "/a").empty());
  CHECK(ListKeys(*store, "") == std::set<std::string>{"f"});
}

TEST_CASE("dir_store: List skips non-matching keys, directories and non-regular files") {
  ScopedTempDir tmp;
  auto store = OpenOk(tmp.path());
  for (const char* key : {"vol1/0000002a", "vol1/sub/x", "vol10/y", "0000002b", "v"}) {
    REQUIRE(store->Put(key, Bytes(key), {}).ok());
  }
  REQUIRE(mkdir((tmp.path() + "/vol1/emptydir").c_str(), 0755) == 0);
  REQUIRE(symlink("nowhere", (tmp.path() + "/vol1/dangling").c_str()) == 0);
  REQUIRE(symlink("fifo", (tmp.path() + "/vol1/tofifo").c_str()) == 0);
  REQUIRE(mkfifo((tmp.path() + "/vol1/fifo").c_str(), 0644) == 0);
  // Not objects for Get either (opening a FIFO does not wait for a writer).
  CHECK(store->Get("vol1/fifo").status().code() == ENOENT);
  CHECK(store->Get("vol1/dangling").status().code() == ENOENT);
  CHECK(store->Get("vol1/tofifo").status().code() == ENOENT);
  CHECK(ListKeys(*store, "vol1/") == std::set<std::string>{"vol1/0000002a", "vol1/sub/x"});
  CHECK(ListKeys(*store, "vol1") ==
        std::set<std::string>{"vol1/0000002a", "vol1/sub/x", "vol10/y"});
  CHECK(ListKeys(*store, "vol1/sub/") == std::set<std::string>{"vol1/sub/x"});
  CHECK(ListKeys(*store, "v") ==
        std::set<std::string>{"v", "vol1/0000002a", "vol1/sub/x", "vol10/y"});
  CHECK(ListKeys(*store, "0") == std::set<std::string>{"0000002b"});
  CHECK(Stat(*store, "dir_store_lists") == 5);
}

TEST_CASE("dir_store: List follows symlinks as Get and Put do") {
  ScopedTempDir tmp;
  const std::string bucket = tmp.path() + "/bucket", other = tmp.path() + "/other";
  REQUIRE(mkdir(bucket.c_str(), 0755) == 0);
  REQUIRE(mkdir(other.c_str(), 0755) == 0);
  {
    // Written through the real path, then the prefix directory moved away and linked back.
    auto real = OpenOk(bucket);
    REQUIRE(real->Put("vol1/00000001", Bytes("one"), {}).ok());
    REQUIRE(real->Put("vol1/sub/00000002", Bytes("two"), {}).ok());
  }
  REQUIRE(rename((bucket + "/vol1").c_str(), (other + "/vol1").c_str()) == 0);
  REQUIRE(symlink((other + "/vol1").c_str(), (bucket + "/vol1").c_str()) == 0);
  // An object file that is a link, too.
  WriteFile(other + "/file", "three");
  REQUIRE(symlink((other + "/file").c_str(), (bucket + "/vol1/00000003").c_str()) == 0);

  auto store = OpenOk(bucket);
  const std::set<std::string> keys = {"vol1/00000001", "vol1/00000003", "vol1/sub/00000002"};
  CHECK(ListKeys(*store, "vol1/") == keys);
  CHECK(ListKeys(*store, "") == keys);
  CHECK(ListKeys(*store, "vol1/sub/") == std::set<std::string>{"vol1/sub/00000002"});
  for (const auto& key : keys) {
    INFO(key);
    CHECK(store->Get(key).ok());
  }
  CHECK(store->Get("vol1/00000001")->data == Bytes("one"));
  // A Put lands behind the link, where the listing sees it.
  REQUIRE(store->Put("vol1/00000004", Bytes("four"), {}).ok());
  CHECK(ReadFile(other + "/vol1/00000004") == "four");
  CHECK(ListKeys(*store, "vol1/").count("vol1/00000004") == 1);

  // A bucket directory given as a link lists the same.
  REQUIRE(symlink(bucket.c_str(), (tmp.path() + "/link").c_str()) == 0);
  auto linked = OpenOk(tmp.path() + "/link");
  CHECK(ListKeys(*linked, "vol1/").size() == 4);
}

TEST_CASE("dir_store: List refuses a symlink loop and names the link") {
  ScopedTempDir tmp;
  auto store = OpenOk(tmp.path());
  REQUIRE(store->Put("vol1/00000001", Bytes("one"), {}).ok());
  REQUIRE(symlink("..", (tmp.path() + "/vol1/up").c_str()) == 0);
  std::set<std::string> keys;
  Status st = store->List("vol1/", {}, [&](const std::string& key, uint64_t) { keys.insert(key); });
  CHECK(st.code() == ELOOP);
  CHECK(st.message() == "dir_store: list vol1/: " + tmp.path() + "/vol1/up leads back to " +
                            tmp.path() + " (a symlink loop): remove or re-point the link");
  // A link that loops on itself is refused too, like a Get of it.
  REQUIRE(unlink((tmp.path() + "/vol1/up").c_str()) == 0);
  REQUIRE(symlink("self", (tmp.path() + "/vol1/self").c_str()) == 0);
  st = store->List("vol1/", {}, [&](const std::string&, uint64_t) {});
  CHECK(st.code() == ELOOP);
  CHECK(st.message().find(tmp.path() + "/vol1/self") != std::string::npos);
  CHECK(store->Get("vol1/self").status().code() == ELOOP);
  // Links outside the prefix are not visited.
  REQUIRE(unlink((tmp.path() + "/vol1/self").c_str()) == 0);
  REQUIRE(symlink(".", (tmp.path() + "/loop").c_str()) == 0);
  CHECK(ListKeys(*store, "vol1/") == std::set<std::string>{"vol1/00000001"});
}

TEST_CASE("dir_store: read-only rejects writes with EROFS and changes nothing") {
  ScopedTempDir tmp;
  {
    auto rw = OpenOk(tmp.path());
    REQUIRE(rw->Put("0000002a", Bytes("keep"), {{"content-type", "text/plain"}}).ok());
  }
  const std::string before = ReadFile(tmp.path() + "/0000002a");
  auto ro = OpenOk(tmp.path(), /*read_only=*/true);
  CHECK(ro->read_only());
  CHECK(ro->Put("0000002a", Bytes("new"), {}).status().code() == EROFS);
  CHECK(ro->Put("vol1/00000001", Bytes("new"), {}).status().code() == EROFS);
  CHECK(ro->Delete("0000002a").code() == EROFS);
  CHECK(ro->Delete(std::vector<std::string>{"0000002a", "0000002b"}).code() == EROFS);
  CHECK(DirEntries(tmp.path()) == std::set<std::string>{"0000002a"});
  CHECK(ReadFile(tmp.path() + "/0000002a") == before);
  auto got = ro->Get("0000002a");
  REQUIRE(got.ok());
  CHECK(got->data == Bytes("keep"));
  CHECK(ListKeys(*ro, "") == std::set<std::string>{"0000002a"});
}

TEST_CASE("dir_store: Open checks the directory with one-line errors") {
  ScopedTempDir tmp;
  const std::string missing = tmp.path() + "/nope";
  auto r = DirStore::Open(missing, false);
  CHECK(r.status().code() == ENOENT);
  CHECK(r.status().message() ==
        "bucket directory " + missing + " does not exist: create it with mkdir -p " + missing);

  WriteFile(tmp.path() + "/file", "x");
  r = DirStore::Open(tmp.path() + "/file", true);
  CHECK(r.status().code() == ENOTDIR);
  CHECK(r.status().message() == "bucket directory " + tmp.path() + "/file is not a directory");

  CHECK(DirStore::Open("", false).status().code() == EINVAL);

  // Trailing slashes are dropped; Describe names the directory.
  auto store = OpenOk(tmp.path() + "//");
  CHECK(store->Describe() == "directory " + tmp.path());
  CHECK(store->dir() == tmp.path());
}

TEST_CASE("dir_store: a relative directory is made absolute at Open") {
  ScopedTempDir tmp;
  char cwd[4096];
  REQUIRE(getcwd(cwd, sizeof cwd) != nullptr);
  REQUIRE(chdir(tmp.path().c_str()) == 0);
  REQUIRE(mkdir("rel", 0755) == 0);
  auto r = DirStore::Open("rel", false);
  REQUIRE(chdir(cwd) == 0);  // the store must not depend on the working directory
  REQUIRE(r.ok());
  CHECK(r.value()->dir() == tmp.path() + "/rel");
  REQUIRE(r.value()->Put("k", Bytes("v"), {}).ok());
  CHECK(ReadFile(tmp.path() + "/rel/k") == "v");
}

// Unwritable directories. Tests run as root, which may write anywhere, so the checks run in a
// child process that drops to user nobody (no mount needed). Exit code: 0 = all good, else the
// number of the first failed check.
TEST_CASE("dir_store: an unwritable directory is refused and EACCES names the path") {
  ScopedTempDir tmp;
  const std::string dir = tmp.path() + "/ro";
  REQUIRE(chmod(tmp.path().c_str(), 0755) == 0);
  REQUIRE(mkdir(dir.c_str(), 0755) == 0);
  REQUIRE(chmod(dir.c_str(), 0555) == 0);  // mkdir's mode is subject to umask
  // Opened while still root: a Put by the unprivileged child will hit EACCES.
  auto rw = geteuid() == 0 ? OpenOk(dir) : nullptr;

  auto checks = [&]() -> int {
    auto r = DirStore::Open(dir, false);
    if (r.status().code() != EACCES) return 1;
    if (r.status().message() !=
        "bucket directory " + dir + " is not writable (use --readOnly to mount it read-only)") {
      return 2;
    }
    if (!DirStore::Open(dir, true).ok()) return 3;
    if (rw != nullptr) {
      auto put = rw->Put("k", AsBytes("v"), {});
      if (put.status().code() != EACCES) return 4;
      if (put.status().message().find("dir_store: put k: ") != 0) return 5;
      if (put.status().message().find(dir + "/.s3disk-tmp-") == std::string::npos) return 6;
    }
    return 0;
  };

  if (geteuid() != 0) {
    CHECK(checks() == 0);
    return;
  }
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child: only plain calls, then _exit (no Catch2 in here).
    if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(100);
    _exit(checks());
  }
  int wstatus = 0;
  REQUIRE(waitpid(pid, &wstatus, 0) == pid);
  REQUIRE(WIFEXITED(wstatus));
  CHECK(WEXITSTATUS(wstatus) == 0);
}

TEST_CASE("dir_store: DumpStats counts operations and file bytes") {
  ScopedTempDir tmp;
  auto store = OpenOk(tmp.path());
  REQUIRE(store->Put("a", Bytes("12345"), {}).ok());
  REQUIRE(store->Put("b", Bytes("1"), {{"n", "v"}}).ok());
  REQUIRE(store->Get("a").ok());
  CHECK(store->Get("zz").status().code() == ENOENT);
  CHECK(store->Delete("a").ok());
  CHECK(store->Delete(std::vector<std::string>{"b", "c"}).ok());
  ListKeys(*store, "");
  std::string stats;
  store->DumpStats(&stats);
  const size_t header = std::string(kMagic).size() + std::string("n: v\n\n").size();
  CHECK(stats ==
        "dir_store_gets 2\ndir_store_heads 0\ndir_store_puts 2\ndir_store_deletes 3\n"
        "dir_store_lists 1\ndir_store_bytes_read 5\ndir_store_bytes_written " +
            std::to_string(5 + header + 1) + "\n");
}

}  // namespace
}  // namespace s3disk
