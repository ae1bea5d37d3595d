// Unit tests for the command line: parsing, every validation error (message and code), size
// suffixes, and the normalizations Validate makes.
//
// src/config.h is included by path: "config.h" from here would find autoconf's (see there).
#include "app/config.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace s3disk {
namespace {

Result<Config> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "s3disk");
  return ParseArgs(args);
}

// A temporary directory (removed at the end of the test) to mount on.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/s3disk-config-test.XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    char real[PATH_MAX];
    REQUIRE(realpath(tmpl, real) != nullptr);
    path_ = real;
  }
  ~TempDir() {
    for (const std::string& f : files_) unlink(f.c_str());
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) rmdir(it->c_str());
    rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::string MakeDir(const std::string& name) {
    std::string p = path_ + "/" + name;
    REQUIRE(mkdir(p.c_str(), 0755) == 0);
    dirs_.push_back(p);
    return p;
  }
  std::string MakeFile(const std::string& name) {
    std::string p = path_ + "/" + name;
    FILE* f = fopen(p.c_str(), "w");
    REQUIRE(f != nullptr);
    fclose(f);
    files_.push_back(p);
    return p;
  }
  std::string MakeSymlink(const std::string& target, const std::string& name) {
    std::string p = path_ + "/" + name;
    REQUIRE(symlink(target.c_str(), p.c_str()) == 0);
    files_.push_back(p);
    return p;
  }

 private:
  std::string path_;
  std::vector<std::string> dirs_;
  std::vector<std::string> files_;
};

// Parses and validates; the Status of whichever failed.
Status ParseAndValidate(std::vector<std::string> args, Config* out = nullptr) {
  Result<Config> c = Parse(std::move(args));
  if (!c.ok()) return c.status();
  Config config = *c;
  Status st = Validate(&config);
  if (out != nullptr) *out = config;
  return st;
}

// A validation failure: EINVAL, one line, containing every fragment.
void CheckUsageError(const Status& st, std::vector<std::string> fragments) {
  INFO("message: " << st.message());
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == EINVAL);
  CHECK(st.message().find('\n') == std::string::npos);
  for (const std::string& f : fragments) CHECK(st.message().find(f) != std::string::npos);
}

TEST_CASE("config: sizes take k, m, g, t suffixes in either case, with optional b or ib") {
  struct Case {
    const char* text;
    uint64_t bytes;
  };
  const Case cases[] = {
      {"0", 0},
      {"512", 512},
      {"128k", 128 << 10},
      {"128K", 128 << 10},
      {"64kb", 64 << 10},
      {"64KB", 64 << 10},
      {"64KiB", 64 << 10},
      {"64kib", 64 << 10},
      {"1m", 1 << 20},
      {"1M", 1 << 20},
      {"3MiB", 3 << 20},
      {"1g", uint64_t{1} << 30},
      {"1G", uint64_t{1} << 30},
      {"2t", uint64_t{2} << 40},
      {"2TB", uint64_t{2} << 40},
      {"16777215t", uint64_t{16777215} << 40},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    Result<uint64_t> r = ParseSize("--size", c.text);
    REQUIRE(r.ok());
    CHECK(*r == c.bytes);
  }
  for (const char* bad : {"", "k", "12q", "1.5g", "-1", "1kk", "1 k", "1kbb", "1b", "0x10", "1e6",
                          "99999999999999999999999", "16777216t", "18446744073709551616"}) {
    INFO(bad);
    Result<uint64_t> r = ParseSize("--size", bad);
    CheckUsageError(r.status(), {"--size=" + std::string(bad)});
  }
}

TEST_CASE("config: FormatSize gives the shortest exact spelling") {
  CHECK(FormatSize(0) == "0");
  CHECK(FormatSize(1000) == "1000");
  CHECK(FormatSize(131072) == "128k");
  CHECK(FormatSize(64 << 20) == "64m");
  CHECK(FormatSize(uint64_t{3} << 30) == "3g");
  CHECK(FormatSize(uint64_t{5} << 40) == "5t");
  CHECK(FormatSize(uint64_t{1} << 50) == "1024t");
  CHECK(FormatSize((1 << 20) + 1024) == "1025k");
}

TEST_CASE("config: defaults") {
  Result<Config> c = Parse({"mem:", "/mnt"});
  REQUIRE(c.ok());
  CHECK(c->args == std::vector<std::string>{"mem:", "/mnt"});
  CHECK(c->block_size == 0);
  CHECK(c->size_bytes == 0);
  CHECK(c->prefix.empty());
  CHECK_FALSE(c->hash_prefix);
  CHECK_FALSE(c->read_only);
  CHECK_FALSE(c->force);
  CHECK_FALSE(c->reset_mounted_flag);
  CHECK_FALSE(c->list_blocks);
  CHECK_FALSE(c->test_mode);
  CHECK(c->filename == "file");
  CHECK(c->stats_filename == "stats");
  CHECK(c->file_mode == 0600);
  CHECK_FALSE(c->foreground);
  CHECK_FALSE(c->debug);
  CHECK_FALSE(c->no_writeback_cache);
  CHECK(c->fuse_options.empty());
  CHECK_FALSE(c->help);
  CHECK_FALSE(c->version);
}

TEST_CASE("config: --name=value and --name value are both accepted") {
  Result<Config> a = Parse({"--size=1g", "--blockSize=64k", "--prefix=vol/", "--filename=d.img",
                            "--statsFilename=st", "--fileMode=0640", "mem:", "/mnt"});
  Result<Config> b =
      Parse({"--size", "1g", "--blockSize", "64k", "--prefix", "vol/", "--filename", "d.img",
             "--statsFilename", "st", "--fileMode", "0640", "mem:", "/mnt"});
  for (Result<Config>* c : {&a, &b}) {
    REQUIRE(c->ok());
    CHECK((*c)->size_bytes == uint64_t{1} << 30);
    CHECK((*c)->block_size == 64 << 10);
    CHECK((*c)->prefix == "vol/");
    CHECK((*c)->filename == "d.img");
    CHECK((*c)->stats_filename == "st");
    CHECK((*c)->file_mode == 0640);
    CHECK((*c)->args == std::vector<std::string>{"mem:", "/mnt"});
  }
  // An option's value may start with a dash; "--" ends the options.
  Result<Config> c = Parse({"--prefix", "-x-", "--", "-bucket", "/mnt"});
  REQUIRE(c.ok());
  CHECK(c->prefix == "-x-");
  CHECK(c->args == std::vector<std::string>{"-bucket", "/mnt"});
  // The last of a repeated option wins; an empty value is a value.
  c = Parse({"--size=1m", "--size=2m", "--prefix=", "mem:", "/mnt"});
  REQUIRE(c.ok());
  CHECK(c->size_bytes == 2 << 20);
  CHECK(c->prefix.empty());
}

TEST_CASE("config: flags") {
  Result<Config> c =
      Parse({"--blockHashPrefix", "--readOnly", "--force", "--reset-mounted-flag", "--listBlocks",
             "--test", "--debug", "-f", "--noWritebackCache", "mem:", "/mnt"});
  REQUIRE(c.ok());
  CHECK(c->no_writeback_cache);
  CHECK(c->hash_prefix);
  CHECK(c->read_only);
  CHECK(c->force);
  CHECK(c->reset_mounted_flag);
  CHECK(c->list_blocks);
  CHECK(c->test_mode);
  CHECK(c->debug);
  CHECK(c->foreground);

  c = Parse({"--debug", "mem:", "/mnt"});
  REQUIRE(c.ok());
  CHECK(c->debug);
  CHECK_FALSE(c->foreground);  // --debug alone keeps the daemon
  c = Parse({"-d", "mem:", "/mnt"});
  REQUIRE(c.ok());
  CHECK(c->debug);
  CHECK(c->foreground);  // -d implies -f

  c = Parse({"--help"});
  REQUIRE(c.ok());
  CHECK(c->help);
  c = Parse({"-h"});
  REQUIRE(c.ok());
  CHECK(c->help);
  c = Parse({"--version"});
  REQUIRE(c.ok());
  CHECK(c->version);
}

TEST_CASE("config: -o options, separate, attached and comma-separated, accumulate in order") {
  Result<Config> c = Parse({"-o", "allow_other,ro", "-oauto_unmount", "-o", "a,,b", "mem:", "/m"});
  REQUIRE(c.ok());
  CHECK(c->fuse_options == std::vector<std::string>{"allow_other", "ro", "auto_unmount", "a", "b"});
}

TEST_CASE("config: parse errors name the option and the fix") {
  CheckUsageError(Parse({"--frobnicate", "mem:", "/m"}).status(),
                  {"unknown option '--frobnicate'", "--help"});
  CheckUsageError(Parse({"--frobnicate=3", "mem:", "/m"}).status(),
                  {"unknown option '--frobnicate=3'"});
  CheckUsageError(Parse({"-x", "mem:", "/m"}).status(), {"unknown option '-x'"});
  CheckUsageError(Parse({"--blocksize=4k", "mem:", "/m"}).status(),
                  {"unknown option"});  // spellings are exact, as in s3backer
  CheckUsageError(Parse({"mem:", "/m", "--size"}).status(), {"--size needs a value", "--size="});
  CheckUsageError(Parse({"mem:", "/m", "-o"}).status(), {"-o", "needs a value"});
  CheckUsageError(Parse({"--readOnly=yes", "mem:", "/m"}).status(),
                  {"'--readOnly=yes' takes no value"});
  CheckUsageError(Parse({"--size=12q", "mem:", "/m"}).status(), {"--size=12q", "k, m, g or t"});
  CheckUsageError(Parse({"--size=0", "mem:", "/m"}).status(), {"--size=0 is zero"});
  CheckUsageError(Parse({"--blockSize=128m", "mem:", "/m"}).status(),
                  {"--blockSize=128m", "larger than 64m"});
  CheckUsageError(Parse({"--blockSize=8t", "mem:", "/m"}).status(), {"larger than 64m"});
  CheckUsageError(Parse({"--fileMode=rw", "mem:", "/m"}).status(), {"--fileMode=rw", "octal"});
  CheckUsageError(Parse({"--fileMode=0689", "mem:", "/m"}).status(), {"octal"});
  CheckUsageError(Parse({"--fileMode=17777", "mem:", "/m"}).status(), {"too large"});
}

TEST_CASE("config: --readAheadMax is parsed and must fit in the cache") {
  Config c;
  REQUIRE(ParseAndValidate({"--readAheadMax=64", "mem:", "/tmp"}, &c).ok());
  CHECK(c.cache.read_ahead_max_blocks == 64);
  REQUIRE(ParseAndValidate({"mem:", "/tmp"}, &c).ok());
  CHECK(c.cache.read_ahead_max_blocks == 0);  // the cache's default: one fetch per worker
  CheckUsageError(ParseAndValidate({"--readAheadMax=1000", "mem:", "/tmp"}),
                  {"--readAheadMax=1000 must be less than --blockCacheSize=1000"});
}

TEST_CASE("config: the cache and guard flags fill the layers' options, defaults included") {
  Result<Config> plain = Parse({"mem:", "/m"});
  REQUIRE(plain.ok());
  // The layers' own defaults (block_cache.h, consistency_guard.h), as --help states them.
  CHECK(plain->cache.cache_size_blocks == 1000);
  CHECK(plain->cache.threads == 20);
  CHECK(plain->cache.write_delay_ms == 250);
  CHECK(plain->cache.max_dirty_blocks == 0);
  CHECK_FALSE(plain->cache.sync);
  CHECK_FALSE(plain->cache.no_verify);
  CHECK(plain->cache.read_ahead_blocks == 4);
  CHECK(plain->cache.read_ahead_trigger == 2);
  CHECK(plain->cache.read_ahead_max_blocks == 0);
  CHECK(plain->guard.cache_size == 0);
  CHECK(plain->guard.cache_time_ms == 0);
  CHECK(plain->guard.min_write_delay_ms == 0);
  CHECK(plain->fsync_to == FsyncTo::kBucket);
  CHECK(plain->journal.capacity_bytes == uint64_t{1} << 30);  // journal.h's, "1g" in --help
  CHECK_FALSE(plain->journal_size_given);
  Result<Config> set =
      Parse({"--blockCacheSize=64", "--blockCacheThreads=3", "--blockCacheWriteDelay=9",
             "--blockCacheMaxDirty=7", "--blockCacheSync", "--blockCacheNoVerify", "--readAhead=5",
             "--readAheadTrigger=6", "--readAheadMax=8", "--md5CacheSize=10", "--md5CacheTime=11",
             "--minWriteDelay=12", "--fsyncTo=journal", "--journalSize=64m", "mem:", "/m"});
  REQUIRE(set.ok());
  CHECK(set->cache.cache_size_blocks == 64);
  CHECK(set->cache.threads == 3);
  CHECK(set->cache.write_delay_ms == 9);
  CHECK(set->cache.max_dirty_blocks == 7);
  CHECK(set->cache.sync);
  CHECK(set->cache.no_verify);
  CHECK(set->cache.read_ahead_blocks == 5);
  CHECK(set->cache.read_ahead_trigger == 6);
  CHECK(set->cache.read_ahead_max_blocks == 8);
  CHECK(set->guard.cache_size == 10);
  CHECK(set->guard.cache_time_ms == 11);
  CHECK(set->guard.min_write_delay_ms == 12);
  CHECK(set->fsync_to == FsyncTo::kJournal);
  CHECK(set->journal.capacity_bytes == 64 << 20);
  CHECK(set->journal_size_given);
  // The journal's other options keep journal.h's defaults.
  CHECK(set->journal.auto_epoch_bytes == JournalOptions{}.auto_epoch_bytes);
  CHECK(set->journal.start_uploader);
}

TEST_CASE("config: --fsyncTo and --journalSize are parsed strictly") {
  Result<Config> c = Parse({"--fsyncTo=journal", "--fsyncTo", "bucket", "mem:", "/m"});
  REQUIRE(c.ok());
  CHECK(c->fsync_to == FsyncTo::kBucket);  // the last one wins
  CheckUsageError(Parse({"--fsyncTo=disk", "mem:", "/m"}).status(),
                  {"--fsyncTo=disk is neither bucket nor journal", "--fsyncTo=journal"});
  CheckUsageError(Parse({"--fsyncTo=", "mem:", "/m"}).status(), {"--fsyncTo= is neither"});
  CheckUsageError(Parse({"--fsyncTo=Journal", "mem:", "/m"}).status(), {"neither"});
  CheckUsageError(Parse({"mem:", "/m", "--fsyncTo"}).status(), {"--fsyncTo needs a value"});
  CheckUsageError(Parse({"--journalSize=1x", "mem:", "/m"}).status(),
                  {"--journalSize=1x is not a size", "--journalSize=1g"});
  CheckUsageError(Parse({"--journalSize=16383k", "mem:", "/m"}).status(),
                  {"--journalSize=16383k is smaller than 16m", "--journalSize=1g"});
  CheckUsageError(Parse({"--journalSize=16777217", "mem:", "/m"}).status(),
                  {"--journalSize=16777217 is not a multiple of 64 bytes", "--journalSize=1g"});
  for (const char* ok : {"16m", "16777280", "2g", "1T"}) {
    INFO(ok);
    c = Parse({std::string("--journalSize=") + ok, "mem:", "/m"});
    REQUIRE(c.ok());
    CHECK(c->journal.capacity_bytes == *ParseSize("--journalSize", ok));
  }
  CHECK(JournalFile::kMinCapacity == 16 << 20);  // as the message and --help say
}

TEST_CASE("config: --fsyncTo=journal needs a cache file, a cache and a writable mount") {
  TempDir tmp;
  const std::string mnt = tmp.MakeDir("mnt");
  Config c;
  REQUIRE(ParseAndValidate({"--fsyncTo=journal", "--blockCacheFile=cache", "mem:", mnt}, &c).ok());
  CHECK(c.fsync_to == FsyncTo::kJournal);
  CHECK(c.JournalPath() == c.block_cache_file + ".journal");
  CHECK(c.JournalPath()[0] == '/');  // absolute, as the cache file
  REQUIRE(ParseAndValidate({"--fsyncTo=journal", "--journalSize=32m", "--blockCacheFile=cache",
                            "--nbd", "--socket=s", "mem:"},
                           &c)
              .ok());
  CHECK(c.journal.capacity_bytes == 32 << 20);
  // --fsyncTo=bucket is today's behaviour, with or without a cache file.
  REQUIRE(ParseAndValidate({"--fsyncTo=bucket", "--blockCacheSize=0", "mem:", mnt}, &c).ok());
  CHECK(c.fsync_to == FsyncTo::kBucket);

  CheckUsageError(ParseAndValidate({"--fsyncTo=journal", "mem:", mnt}),
                  {"--fsyncTo=journal", "--blockCacheFile=PATH", "PATH.journal"});
  CheckUsageError(ParseAndValidate(
                      {"--fsyncTo=journal", "--blockCacheFile=c", "--blockCacheSync", "mem:", mnt}),
                  {"--blockCacheSync", "--fsyncTo=journal", "give one of them"});
  CheckUsageError(ParseAndValidate({"--fsyncTo=journal", "--blockCacheFile=c", "--blockCacheSize=0",
                                    "mem:", mnt}),
                  {"--fsyncTo=journal needs the block cache; drop --blockCacheSize=0"});
  CheckUsageError(
      ParseAndValidate({"--fsyncTo=journal", "--blockCacheFile=c", "--readOnly", "mem:", mnt}),
      {"--fsyncTo=journal is for writable mounts; drop --readOnly or --fsyncTo=journal"});
  // --journalSize means nothing without the journal: refused, not ignored.
  CheckUsageError(ParseAndValidate({"--journalSize=1g", "--blockCacheFile=c", "mem:", mnt}),
                  {"--journalSize is for --fsyncTo=journal"});
  CheckUsageError(
      ParseAndValidate({"--journalSize=1g", "--fsyncTo=bucket", "--blockCacheFile=c", "mem:", mnt}),
      {"--journalSize is for --fsyncTo=journal"});
  // The reset-only form takes it (it then uploads through the journal).
  REQUIRE(ParseAndValidate(
              {"--reset-mounted-flag", "--fsyncTo=journal", "--blockCacheFile=c", "mem:"}, &c)
              .ok());
  CHECK(c.ResetOnly());
}

TEST_CASE("config: wrong number of arguments") {
  CheckUsageError(ParseAndValidate({}),
                  {"expected BUCKET and MOUNTPOINT, got 0 arguments", "usage: s3disk"});
  CheckUsageError(ParseAndValidate({"mem:"}), {"got 1 argument;"});
  CheckUsageError(ParseAndValidate({"mem:", "/tmp", "extra"}), {"got 3 arguments"});
  // --reset-mounted-flag alone with a bucket is the reset-only form.
  Config c;
  REQUIRE(ParseAndValidate({"--reset-mounted-flag", "mem:"}, &c).ok());
  CHECK(c.ResetOnly());
  CHECK(c.mountpoint.empty());
  CheckUsageError(ParseAndValidate({"--reset-mounted-flag"}), {"got 0 arguments"});
}

TEST_CASE("config: bucket forms") {
  TempDir tmp;
  const std::string mnt = tmp.MakeDir("mnt");
  Config c;

  REQUIRE(ParseAndValidate({"file:///srv/bucket", mnt}, &c).ok());
  CHECK(c.bucket_kind == BucketKind::kDirectory);
  CHECK(c.bucket_dir == "/srv/bucket");
  CHECK(c.bucket_arg == "file:///srv/bucket");
  CHECK(c.prefix.empty());
  CHECK(BucketDisplay(c) == "/srv/bucket");
  CHECK(c.list_blocks);  // implied for local buckets

  // For directories the prefix comes only from --prefix.
  REQUIRE(ParseAndValidate({"--prefix=vol1/", "file:///srv/a/b", mnt}, &c).ok());
  CHECK(c.bucket_dir == "/srv/a/b");
  CHECK(c.prefix == "vol1/");

  REQUIRE(ParseAndValidate({"mem:", mnt}, &c).ok());
  CHECK(c.bucket_kind == BucketKind::kMemory);
  CHECK(BucketDisplay(c) == "mem:");
  CHECK(c.list_blocks);

  // --test: a directory path, made absolute (the daemon leaves the working directory).
  REQUIRE(ParseAndValidate({"--test", "some/dir", mnt}, &c).ok());
  CHECK(c.bucket_kind == BucketKind::kDirectory);
  char cwd[PATH_MAX];
  REQUIRE(getcwd(cwd, sizeof cwd) != nullptr);
  CHECK(c.bucket_dir == std::string(cwd) + "/some/dir");
  REQUIRE(ParseAndValidate({"--test", "/abs/dir", mnt}, &c).ok());
  CHECK(c.bucket_dir == "/abs/dir");

  // A plain name is S3: BUCKET/PREFIX splits at the first '/', and the prefix gets a '/'.
  const std::string id = "--accessId=AKIDEXAMPLE", key = "--accessKey=config-test-secret";
  REQUIRE(ParseAndValidate({id, key, "mybucket", mnt}, &c).ok());
  CHECK(c.bucket_kind == BucketKind::kS3);
  CHECK(c.bucket_name == "mybucket");
  CHECK(c.s3.options.bucket == "mybucket");
  CHECK(c.prefix.empty());
  CHECK_FALSE(c.list_blocks);  // opt-in for S3
  REQUIRE(ParseAndValidate({id, key, "--listBlocks", "mybucket/vol/a", mnt}, &c).ok());
  CHECK(c.bucket_name == "mybucket");
  CHECK(c.prefix == "vol/a/");
  CHECK(c.list_blocks);
  REQUIRE(ParseAndValidate({id, key, "--prefix=p-", "mybucket", mnt}, &c).ok());
  CHECK(c.prefix == "p-");

  CheckUsageError(ParseAndValidate({"file://relative/dir", mnt}),
                  {"'file://relative/dir'", "file:///absolute/dir"});
  CheckUsageError(ParseAndValidate({"file://", mnt}), {"file:///absolute/dir"});
  CheckUsageError(ParseAndValidate({"mem:x", mnt}), {"'mem:x'", "mem:"});
  CheckUsageError(ParseAndValidate({"", mnt}), {"the bucket is empty"});
  CheckUsageError(ParseAndValidate({"/srv/bucket", mnt}), {"has no name", "file:///srv/bucket"});
  CheckUsageError(ParseAndValidate({"--prefix=x/", "b/vol", mnt}),
                  {"'b/vol'", "--prefix=x/", "only one"});
  for (const char* bad : {"b/", "b//x", "b/x/", "b/x//y"}) {
    CheckUsageError(ParseAndValidate({bad, mnt}), {std::string("'") + bad + "'", "malformed"});
  }
  // AWS and Ceph RGW refuse S3 bucket names under 3 characters: refused here, before any
  // request. A directory's name is not an S3 name.
  const std::vector<std::pair<std::string, std::string>> too_short = {
      {"b", "b"}, {"ab", "ab"}, {"ab/vol", "ab"}};
  for (const auto& [arg, name] : too_short) {
    CheckUsageError(
        ParseAndValidate({id, key, arg, mnt}),
        {"bucket name \"" + name + "\" is too short", "at least 3 characters", "file:///DIR"});
  }
  REQUIRE(ParseAndValidate({id, key, "abc", mnt}).ok());
  REQUIRE(ParseAndValidate({"file:///srv/ab", mnt}, &c).ok());
  CHECK(c.bucket_dir == "/srv/ab");
  REQUIRE(ParseAndValidate({"--test", "/srv/b", mnt}, &c).ok());
  CHECK(c.bucket_dir == "/srv/b");
}

TEST_CASE("config: block size and size checks") {
  TempDir tmp;
  const std::string mnt = tmp.MakeDir("mnt");
  CheckUsageError(ParseAndValidate({"--blockSize=3k", "mem:", mnt}),
                  {"--blockSize=3072 is not a power of two", "--blockSize=128k"});
  CheckUsageError(ParseAndValidate({"--blockSize=256", "mem:", mnt}),
                  {"--blockSize=256 is smaller than 512"});
  CheckUsageError(ParseAndValidate({"--size=100k", "--blockSize=64k", "mem:", mnt}),
                  {"--size=100k is not a multiple of --blockSize=64k", "--size=128k"});
  CheckUsageError(ParseAndValidate({"--size=4t", "--blockSize=512", "mem:", mnt}),
                  {"more than 2^32 blocks", "larger --blockSize"});

  Config c;
  REQUIRE(ParseAndValidate({"--size=2t", "--blockSize=512", "mem:", mnt}, &c).ok());  // 2^32
  REQUIRE(ParseAndValidate({"--blockSize=512", "mem:", mnt}, &c).ok());
  REQUIRE(ParseAndValidate({"--blockSize=64m", "mem:", mnt}, &c).ok());
  CHECK(c.block_size == 64u << 20);
  // A size alone is checked later, against the block size the bucket has (stack.h).
  REQUIRE(ParseAndValidate({"--size=1000", "mem:", mnt}, &c).ok());
  CHECK(c.size_bytes == 1000);
}

TEST_CASE("config: file names and modes") {
  TempDir tmp;
  const std::string mnt = tmp.MakeDir("mnt");
  for (const char* bad : {"a/b", "", ".", ".."}) {
    CheckUsageError(ParseAndValidate({std::string("--filename=") + bad, "mem:", mnt}),
                    {"--filename='" + std::string(bad) + "' is not a valid file name"});
    CheckUsageError(ParseAndValidate({std::string("--statsFilename=") + bad, "mem:", mnt}),
                    {"--statsFilename='" + std::string(bad) + "'"});
  }
  CheckUsageError(ParseAndValidate({"--filename=stats", "mem:", mnt}),
                  {"--filename and --statsFilename are both 'stats'"});

  Config c;
  REQUIRE(ParseAndValidate({"mem:", mnt}, &c).ok());
  CHECK(c.file_mode == 0600);
  REQUIRE(ParseAndValidate({"--readOnly", "mem:", mnt}, &c).ok());
  CHECK(c.file_mode == 0400);  // as s3backer
  REQUIRE(ParseAndValidate({"--readOnly", "--fileMode=644", "mem:", mnt}, &c).ok());
  CHECK(c.file_mode == 0644);
}

TEST_CASE("config: a --passwordFile that group or others can access is refused, as chmod 600") {
  TempDir tmp;
  const std::string mnt = tmp.MakeDir("mnt");
  const std::string pw = tmp.MakeFile("pw");
  FILE* f = fopen(pw.c_str(), "w");
  REQUIRE(f != nullptr);
  fputs("config-test-password\n", f);
  fclose(f);
  for (mode_t mode : {0644, 0640, 0604, 0620, 0700 | 0001}) {
    INFO("mode " << std::oct << mode);
    REQUIRE(chmod(pw.c_str(), mode) == 0);
    Status st = ParseAndValidate({"--encrypt", "--passwordFile=" + pw, "mem:", mnt});
    CHECK(st.code() == EACCES);
    char want[512];
    snprintf(want, sizeof want,
             "--passwordFile: %s is accessible by group or others (mode %03o): refusing to use "
             "it; run: chmod 600 %s",
             pw.c_str(), static_cast<unsigned>(mode), pw.c_str());
    CHECK(st.message() == want);
  }
  for (mode_t mode : {0600, 0400}) {
    INFO("mode " << std::oct << mode);
    REQUIRE(chmod(pw.c_str(), mode) == 0);
    Config c;
    REQUIRE(ParseAndValidate({"--encrypt", "--passwordFile=" + pw, "mem:", mnt}, &c).ok());
    CHECK(c.password == "config-test-password");
  }
}

TEST_CASE("config: -o uid= and gid= set the owner and are not passed to FUSE") {
  TempDir tmp;
  const std::string mnt = tmp.MakeDir("mnt");
  Config c;
  REQUIRE(ParseAndValidate({"-o", "allow_other,uid=1000,gid=50", "mem:", mnt}, &c).ok());
  CHECK(c.uid == 1000);
  CHECK(c.gid == 50);
  CHECK(c.fuse_options == std::vector<std::string>{"allow_other"});
  REQUIRE(ParseAndValidate({"mem:", mnt}, &c).ok());
  CHECK(c.uid == getuid());
  CHECK(c.gid == getgid());
  CheckUsageError(ParseAndValidate({"-o", "uid=bob", "mem:", mnt}),
                  {"-o uid=bob: not a numeric id"});
  CheckUsageError(ParseAndValidate({"-o", "gid=", "mem:", mnt}), {"-o gid=:"});
}

TEST_CASE("config: the mount point must be an existing directory that is not mounted") {
  TempDir tmp;
  const std::string dir = tmp.MakeDir("mnt");
  const std::string file = tmp.MakeFile("plain");
  const std::string link = tmp.MakeSymlink(dir, "link");

  Result<std::string> ok = CheckMountPoint(dir);
  REQUIRE(ok.ok());
  CHECK(*ok == dir);
  ok = CheckMountPoint(link);  // symlinks are resolved: FUSE mounts on the target
  REQUIRE(ok.ok());
  CHECK(*ok == dir);

  CheckUsageError(CheckMountPoint(tmp.path() + "/nomnt").status(),
                  {"mount point " + tmp.path() + "/nomnt does not exist", "mkdir -p"});
  CheckUsageError(CheckMountPoint(file).status(), {file + " is not a directory"});
  CheckUsageError(CheckMountPoint("/proc").status(),
                  {"mount point /proc is already a mount point", "unmount it first"});
  CheckUsageError(CheckMountPoint("/").status(), {"/ is already a mount point"});

  // Validate runs the same check and stores the absolute path; a relative one is resolved.
  Config c;
  REQUIRE(ParseAndValidate({"mem:", link}, &c).ok());
  CHECK(c.mountpoint == dir);
  char cwd[PATH_MAX];
  REQUIRE(getcwd(cwd, sizeof cwd) != nullptr);
  REQUIRE(chdir(tmp.path().c_str()) == 0);
  Status st = ParseAndValidate({"mem:", "mnt"}, &c);
  REQUIRE(chdir(cwd) == 0);
  REQUIRE(st.ok());
  CHECK(c.mountpoint == dir);
  CheckUsageError(ParseAndValidate({"mem:", tmp.path() + "/nomnt"}), {"does not exist"});
  CheckUsageError(ParseAndValidate({"mem:", "/proc"}), {"already a mount point"});
}

// Parses and validates with the credentials' environment replaced by env (so the machine's
// AWS_* variables and ~/.s3backer_passwd do not matter).
Status ParseAndValidateS3(std::vector<std::string> args, std::map<std::string, std::string> env,
                          Config* out) {
  Result<Config> c = Parse(std::move(args));
  if (!c.ok()) return c.status();
  *out = *c;
  out->s3.credentials.env = std::move(env);
  return Validate(out);
}

TEST_CASE("config: S3 options are parsed into config.s3") {
  TempDir tmp;
  const std::string mnt = tmp.MakeDir("mnt");
  const std::map<std::string, std::string> no_creds = {{"HOME", tmp.path()}};
  Config c;
  REQUIRE(ParseAndValidateS3(
              {"--accessId=AKIDEXAMPLE", "--accessKey", "config-test-secret",
               "--baseURL=http://127.0.0.1:4568/", "--region", "eu-west-3", "--authVersion=aws2",
               "--vhost", "--insecure", "--timeout=7", "--maxRetryPause=1000",
               "--listBlocksThreads=3", "--rrs", "--listBlocks", "bkt/vol", mnt},
              no_creds, &c)
              .ok());
  const S3Options& o = c.s3.options;
  CHECK(o.bucket == "bkt");
  CHECK(c.prefix == "vol/");
  CHECK(o.access_id == "AKIDEXAMPLE");
  CHECK(o.access_key == "config-test-secret");
  CHECK(o.base_url == "http://127.0.0.1:4568/");
  CHECK(o.region == "eu-west-3");
  CHECK(o.auth_version == "aws2");
  CHECK(o.vhost);
  CHECK(o.insecure);
  CHECK(o.request_timeout_s == 7);
  CHECK(o.max_retry_pause_ms == 1000);
  CHECK(o.list_threads == 3);
  CHECK(o.storage_class == "REDUCED_REDUNDANCY");
  CHECK(o.verify_etag);
  CHECK(c.list_blocks);

  // Bad values name the option; flags take no value; values are required.
  CheckUsageError(Parse({"--authVersion=aws3", "b", mnt}).status(), {"--authVersion=aws3"});
  CheckUsageError(Parse({"--vhost=1", "b", mnt}).status(), {"'--vhost=1' takes no value"});
  CheckUsageError(Parse({"b", mnt, "--region"}).status(), {"--region needs a value"});
  CHECK(FindOptionKind("--accessFile") == OptionKind::kValue);
  CHECK(FindOptionKind("--insecure") == OptionKind::kFlag);
  CHECK(FindOptionKind("--accessFil") == OptionKind::kUnknown);

  // Credentials from an access file (s3backer's format, mode 600).
  const std::string file = tmp.MakeFile("passwd");
  FILE* f = fopen(file.c_str(), "w");
  REQUIRE(f != nullptr);
  fputs("# test\nAKIDFILE:file-secret\n", f);
  fclose(f);
  REQUIRE(chmod(file.c_str(), 0600) == 0);
  REQUIRE(ParseAndValidateS3({"--accessFile=" + file, "bkt", mnt}, no_creds, &c).ok());
  CHECK(c.s3.options.access_id == "AKIDFILE");
  CHECK(c.s3.options.access_key == "file-secret");
  // ... or from the environment.
  std::map<std::string, std::string> env = no_creds;
  env["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  env["AWS_SECRET_ACCESS_KEY"] = "env-secret";
  REQUIRE(ParseAndValidateS3({"bkt", mnt}, env, &c).ok());
  CHECK(c.s3.options.access_id == "AKIDENV");

  // SSE-KMS objects have ETags that are not body MD5s: the ETag check is off.
  REQUIRE(ParseAndValidateS3({"--sse=aws:kms", "bkt", mnt}, env, &c).ok());
  CHECK(c.s3.options.sse == "aws:kms");
  CHECK_FALSE(c.s3.options.verify_etag);
  REQUIRE(ParseAndValidateS3({"--sse=aws:kms", "--sse-key-id=k1", "bkt", mnt}, env, &c).ok());
  CHECK_FALSE(c.s3.options.verify_etag);
  REQUIRE(ParseAndValidateS3({"--sse=AES256", "bkt", mnt}, env, &c).ok());
  CHECK(c.s3.options.verify_etag);
}

TEST_CASE("config: an S3 bucket without credentials mounts only --readOnly") {
  TempDir tmp;
  const std::string mnt = tmp.MakeDir("mnt");
  const std::map<std::string, std::string> no_creds = {{"HOME", tmp.path()}};
  Config c;
  CheckUsageError(ParseAndValidateS3({"bkt", mnt}, no_creds, &c),
                  {"no S3 credentials for bucket bkt", "--accessFile=FILE", "--accessId=ID",
                   "AWS_ACCESS_KEY_ID", "--readOnly"});
  // --reset-mounted-flag writes too.
  CheckUsageError(ParseAndValidateS3({"--reset-mounted-flag", "bkt"}, no_creds, &c),
                  {"no S3 credentials"});
  // A public bucket: unsigned requests, read-only.
  REQUIRE(ParseAndValidateS3({"--readOnly", "bkt", mnt}, no_creds, &c).ok());
  CHECK(c.s3.options.access_id.empty());
  CHECK(c.s3.options.access_key.empty());
  // An --accessFile that is missing or readable by others is refused, naming the file.
  Status st =
      ParseAndValidateS3({"--accessFile=" + tmp.path() + "/none", "bkt", mnt}, no_creds, &c);
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().find(tmp.path() + "/none") != std::string::npos);
  const std::string open_file = tmp.MakeFile("open");
  REQUIRE(chmod(open_file.c_str(), 0644) == 0);
  st = ParseAndValidateS3({"--accessFile=" + open_file, "bkt", mnt}, no_creds, &c);
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().find("chmod 600") != std::string::npos);
}

TEST_CASE("config: every file option is absolute after Validate (the daemon runs in /)") {
  TempDir tmp;
  const std::string mnt = tmp.MakeDir("mnt");
  const std::map<std::string, std::string> no_creds = {{"HOME", tmp.path()}};
  const std::string creds = tmp.MakeFile("creds");
  FILE* f = fopen(creds.c_str(), "w");
  REQUIRE(f != nullptr);
  fputs("AKIDFILE:file-secret\n", f);
  fclose(f);
  REQUIRE(chmod(creds.c_str(), 0600) == 0);
  const std::string pw = tmp.MakeFile("pw");
  f = fopen(pw.c_str(), "w");
  REQUIRE(f != nullptr);
  fputs("secret\n", f);
  fclose(f);
  REQUIRE(chmod(pw.c_str(), 0600) == 0);  // a password file others can read is refused
  char cwd[PATH_MAX];
  REQUIRE(getcwd(cwd, sizeof cwd) != nullptr);
  REQUIRE(chdir(tmp.path().c_str()) == 0);
  Config c;
  Status st = ParseAndValidateS3({"--accessFile=creds", "--cacert", "ca.pem", "--encrypt",
                                  "--passwordFile=pw", "--blockCacheFile=cache", "bkt", mnt},
                                 no_creds, &c);
  REQUIRE(chdir(cwd) == 0);
  REQUIRE(st.ok());
  CHECK(c.s3.options.access_id == "AKIDFILE");
  CHECK(c.s3.credentials.access_file == creds);
  CHECK(c.s3.options.cacert == tmp.path() + "/ca.pem");
  CHECK(c.password == "secret");
  CHECK(c.password_file == pw);
  CHECK(c.block_cache_file == tmp.path() + "/cache");
}

TEST_CASE("config: --help lists every option with a description") {
  const std::string help = UsageText();
  for (const char* opt : {"--blockSize=SIZE",
                          "--size=SIZE",
                          "--prefix=STR",
                          "--blockHashPrefix",
                          "--readOnly",
                          "--filename=NAME",
                          "--statsFilename=NAME",
                          "--force",
                          "--reset-mounted-flag",
                          "--listBlocks",
                          "--test",
                          "--debug",
                          "-f ",
                          "-d ",
                          "-o OPT",
                          "--fileMode=OCTAL",
                          "--fsyncTo=bucket|journal",
                          "--journalSize=SIZE",
                          "--help",
                          "--version"}) {
    INFO(opt);
    size_t at = help.find(std::string("\n  ") + opt);
    REQUIRE(at != std::string::npos);
    size_t eol = help.find('\n', at + 1);
    // Name, padding, then a description on the same line.
    CHECK(eol - at > 30);
  }
  // ... and every S3 option, from credentials.h's table.
  for (const S3CliOption& opt : S3CliOptions()) {
    INFO(opt.name);
    CHECK(help.find(std::string("\n  ") + opt.name) != std::string::npos);
  }
  CHECK(help.find("S3 options") != std::string::npos);
  CHECK(help.find("not supported") == std::string::npos);
  CHECK(help.find("Usage:") == 0);
  CHECK(help.find("file:///") != std::string::npos);
  CHECK(help.find("mem:") != std::string::npos);
  // What fsync waits for in each mode, and the journal's guarantee.
  for (const char* words : {"PATH.journal on local disk", "the bucket follows in flush order",
                            "as it was at an earlier flush", "(default: 1g)", "at least 16m"}) {
    INFO(words);
    CHECK(help.find(words) != std::string::npos);
  }
}

}  // namespace
}  // namespace s3disk
