// Unit tests for s3disk --nbd's pure parts: the command line in NBD mode (config.h), the
// plugin parameters built from it, nbdkit's and nbd-client's argv, finding the plugin and the
// tools, and the message for a missing /dev/nbdX. Nothing is started here; the integration
// tests (tests/t_nbd_*.sh) run nbdkit for real.
#include "app/nbd_launcher.h"

#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace s3disk {
namespace {

std::vector<std::string> Argv(std::vector<std::string> args) {
  args.insert(args.begin(), "s3disk");
  return args;
}

Result<Config> ParseAndValidate(const std::vector<std::string>& args) {
  Result<Config> parsed = ParseArgs(Argv(args));
  if (!parsed.ok()) return parsed.status();
  Config config = std::move(*parsed);
  Status st = Validate(&config);
  if (!st.ok()) return st;
  return config;
}

// A fake file system: only the listed paths exist.
PathExists Only(std::set<std::string> paths) {
  return [paths](const std::string& p) { return paths.count(p) != 0; };
}

TEST_CASE("nbd_launcher: --nbd takes a device or --socket, and no mount point") {
  Result<Config> c = ParseAndValidate({"--nbd", "--size=1g", "mem:", "/dev/nbd3"});
  REQUIRE(c.ok());
  CHECK(c->nbd);
  CHECK(c->nbd_device == "/dev/nbd3");
  CHECK(c->nbd_socket.empty());
  CHECK(c->mountpoint.empty());
  CHECK_FALSE(c->ResetOnly());

  c = ParseAndValidate({"--nbd", "--socket=/run/x.sock", "--statsFile=/tmp/st", "mem:"});
  REQUIRE(c.ok());
  CHECK(c->nbd_socket == "/run/x.sock");
  CHECK(c->stats_file == "/tmp/st");
  CHECK(c->nbd_device.empty());

  // --reset-mounted-flag with --nbd is not the reset-only mode: it serves.
  c = ParseAndValidate({"--nbd", "--socket=/run/x.sock", "--reset-mounted-flag", "mem:"});
  REQUIRE(c.ok());
  CHECK_FALSE(c->ResetOnly());
}

TEST_CASE("nbd_launcher: --nbd without a device or socket says what to give") {
  Result<Config> c = ParseAndValidate({"--nbd", "mem:"});
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == EINVAL);
  CHECK_THAT(c.status().message(), Catch::Contains("/dev/nbd0") && Catch::Contains("--socket"));

  c = ParseAndValidate({"--nbd", "mem:", "/dev/nbd0", "extra"});
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.status().message(), Catch::Contains("got 3 arguments"));

  c = ParseAndValidate({"--nbd", "-o", "allow_other", "mem:", "/dev/nbd0"});
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.status().message(), Catch::Contains("FUSE"));

  // The NBD-only options without --nbd.
  c = ParseAndValidate({"--socket=/s", "mem:", "/tmp"});
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.status().message(), Catch::Contains("--nbd"));
  c = ParseAndValidate({"--statsFile=/s", "mem:", "/tmp"});
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.status().message(), Catch::Contains("--nbd"));
}

TEST_CASE("nbd_launcher: relative socket, stats file and device become absolute") {
  Result<Config> c =
      ParseAndValidate({"--nbd", "--socket", "s.sock", "--statsFile", "st", "mem:", "nbd0"});
  REQUIRE(c.ok());
  CHECK(c->nbd_socket.front() == '/');
  CHECK_THAT(c->nbd_socket, Catch::EndsWith("/s.sock"));
  CHECK(c->nbd_socket.size() > strlen("/s.sock"));
  CHECK(c->stats_file.front() == '/');
  CHECK(c->nbd_device.front() == '/');
}

TEST_CASE("nbd_launcher: the plugin mode needs neither device nor socket") {
  Result<Config> parsed = ParseArgs(Argv({"--size=1g", "mem:"}));
  REQUIRE(parsed.ok());
  parsed->nbd = true;
  parsed->nbd_plugin = true;
  CHECK(Validate(&*parsed).ok());
}

TEST_CASE("nbd_launcher: FindOptionKind knows flags, valued options and strangers") {
  CHECK(FindOptionKind("--size") == OptionKind::kValue);
  CHECK(FindOptionKind("--readOnly") == OptionKind::kFlag);
  CHECK(FindOptionKind("--statsFile") == OptionKind::kValue);
  CHECK(FindOptionKind("--nosuch") == OptionKind::kUnknown);
  CHECK(FindOptionKind("size") == OptionKind::kUnknown);
}

TEST_CASE("nbd_launcher: plugin parameters carry every option but the launcher's") {
  std::vector<std::string> args = {"--nbd",           "-f",         "--size",       "1g",
                                   "--blockSize=64k", "--readOnly", "--socket",     "/run/s.sock",
                                   "--statsFile=st",  "-d",         "--prefix=v1/", "mem:"};
  Result<Config> c = ParseAndValidate(args);
  REQUIRE(c.ok());
  Result<std::vector<std::string>> params = NbdPluginParams(Argv(args), *c);
  REQUIRE(params.ok());
  std::vector<std::string> want = {
      "bucket=mem:", "size=1g",   "blockSize=64k", "readOnly=true", "statsFile=" + c->stats_file,
      "debug=true",  "prefix=v1/"};
  CHECK(*params == want);
  CHECK(c->stats_file.back() == 't');
  CHECK(c->stats_file.front() == '/');
}

TEST_CASE("nbd_launcher: --encrypt and --compress alone take no value from the next argument") {
  CHECK(FindOptionKind("--encrypt") == OptionKind::kOptionalValue);
  CHECK(FindOptionKind("--compress") == OptionKind::kOptionalValue);
  std::vector<std::string> args = {
      "--nbd", "--socket=/s",           "--encrypt", "--compress", "--password",
      "pw",    "--encrypt=aes-256-cbc", "mem:"};
  Result<Config> c = ParseAndValidate(args);
  REQUIRE(c.ok());
  Result<std::vector<std::string>> params = NbdPluginParams(Argv(args), *c);
  REQUIRE(params.ok());
  // "encrypt=" is how the plugin spells --encrypt alone.
  CHECK(*params == std::vector<std::string>{"bucket=mem:", "encrypt=", "compress=", "password=pw",
                                            "encrypt=aes-256-cbc"});
  Result<Config> alone = ParseArgs(Argv({"--encrypt", "mem:"}));
  Result<Config> empty = ParseArgs(Argv({"--encrypt=", "mem:"}));
  REQUIRE(alone.ok());
  REQUIRE(empty.ok());
  CHECK(alone->encrypt == empty->encrypt);
  CHECK(alone->cipher == empty->cipher);
}

TEST_CASE("nbd_launcher: every file option reaches nbdkit as an absolute path") {
  // A daemon's nbdkit runs in "/", where a relative path means something else.
  const std::vector<std::string> names = PathOptionNames();
  for (const char* name : {"--socket", "--statsFile", "--passwordFile", "--blockCacheFile",
                           "--accessFile", "--cacert"}) {
    CHECK(std::find(names.begin(), names.end(), name) != names.end());
  }
  char cwd[PATH_MAX];
  REQUIRE(getcwd(cwd, sizeof cwd) != nullptr);
  const char* home = getenv("HOME");
  Config config;
  config.bucket_arg = "mem:";
  for (const std::string& name : names) {
    if (name == "--socket") continue;  // the launcher's own (Validate made it absolute)
    INFO(name);
    Result<std::vector<std::string>> params =
        NbdPluginParams(Argv({"--nbd", name, "rel/x", name + "=../y", "mem:"}), config);
    REQUIRE(params.ok());
    const std::string key = name.substr(2) + "=";
    CHECK(*params ==
          std::vector<std::string>{"bucket=mem:", key + cwd + "/rel/x", key + cwd + "/../y"});
    if (home != nullptr && home[0] == '/') {
      params = NbdPluginParams(Argv({name + "=~/z", "mem:"}), config);
      REQUIRE(params.ok());
      CHECK(params->back() == key + home + "/z");
    }
    params = NbdPluginParams(Argv({name + "=/abs/f", "mem:"}), config);
    REQUIRE(params.ok());
    CHECK(params->back() == key + "/abs/f");
  }
}

TEST_CASE("nbd_launcher: tools found through a relative PATH entry get an absolute path") {
  char cwd[PATH_MAX];
  REQUIRE(getcwd(cwd, sizeof cwd) != nullptr);
  const std::string want = std::string(cwd) + "/bin/nbdkit";
  Result<std::string> found = FindInPath("nbdkit", "bin:/usr/bin", Only({want}));
  REQUIRE(found.ok());
  CHECK(*found == want);
}

TEST_CASE("nbd_launcher: --test DIR becomes an absolute file:// bucket; -- ends options") {
  std::vector<std::string> args = {"--nbd", "--test", "--socket=/s", "--", "rel/dir"};
  Result<Config> c = ParseAndValidate(args);
  REQUIRE(c.ok());
  Result<std::vector<std::string>> params = NbdPluginParams(Argv(args), *c);
  REQUIRE(params.ok());
  REQUIRE(params->size() == 1);
  CHECK_THAT(params->front(), Catch::StartsWith("bucket=file:///") && Catch::EndsWith("/rel/dir"));
}

TEST_CASE("nbd_launcher: nbdkit argv: foreground child, its own socket, the plugin, params") {
  std::vector<std::string> argv =
      NbdkitArgv("/usr/sbin/nbdkit", "/b/s3disk.so", "/run/s.sock", {"bucket=mem:", "size=1g"});
  std::vector<std::string> want = {
      "/usr/sbin/nbdkit", "--foreground", "--exit-with-parent", "--unix", "/run/s.sock", "--log",
      "stderr",           "/b/s3disk.so", "bucket=mem:",        "size=1g"};
  CHECK(argv == want);
}

TEST_CASE("nbd_launcher: nbd-client argv attaches over the Unix socket and detaches") {
  CHECK(NbdClientAttachArgv("/sbin/nbd-client", "/run/s.sock", "/dev/nbd0", 4096) ==
        std::vector<std::string>{"/sbin/nbd-client", "-unix", "/run/s.sock", "/dev/nbd0",
                                 "-block-size", "4096"});
  CHECK(NbdClientDetachArgv("/sbin/nbd-client", "/dev/nbd0") ==
        std::vector<std::string>{"/sbin/nbd-client", "-d", "/dev/nbd0"});
}

TEST_CASE("nbd_launcher: the plugin is found next to s3disk first, then in pkglibdir") {
  Result<std::string> p = FindNbdPlugin("/build", "/usr/lib/s3disk",
                                        Only({"/build/s3disk.so", "/usr/lib/s3disk/s3disk.so"}));
  REQUIRE(p.ok());
  CHECK(*p == "/build/s3disk.so");
  p = FindNbdPlugin("/usr/bin", "/usr/lib/s3disk", Only({"/usr/lib/s3disk/s3disk.so"}));
  REQUIRE(p.ok());
  CHECK(*p == "/usr/lib/s3disk/s3disk.so");
  p = FindNbdPlugin("/usr/bin", "/usr/lib/s3disk", Only({}));
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == ENOENT);
  CHECK_THAT(p.status().message(),
             Catch::Contains("/usr/bin/s3disk.so") && Catch::Contains("/usr/lib/s3disk"));
}

TEST_CASE("nbd_launcher: tools are looked up in PATH order") {
  Result<std::string> p = FindInPath("nbdkit", "/a::/b:/c", Only({"/b/nbdkit", "/c/nbdkit"}));
  REQUIRE(p.ok());
  CHECK(*p == "/b/nbdkit");
  p = FindInPath("nbd-client", "/a:/b", Only({}));
  REQUIRE_FALSE(p.ok());
  CHECK_THAT(p.status().message(), Catch::Contains("nbd-client is not installed"));
}

TEST_CASE("nbd_launcher: a missing /dev/nbdX says to modprobe nbd or use --socket") {
  Status st = CheckNbdDevice("/dev/nbd0", Only({}));
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == ENODEV);
  CHECK_THAT(st.message(), Catch::Contains("/dev/nbd0") && Catch::Contains("modprobe nbd") &&
                               Catch::Contains("--socket"));
  // Module loaded, wrong device number.
  st = CheckNbdDevice("/dev/nbd99", Only({"/sys/module/nbd"}));
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(st.message(), Catch::Contains("/dev/nbd99") && !Catch::Contains("modprobe"));
  CHECK(CheckNbdDevice("/dev/nbd0", Only({"/dev/nbd0", "/sys/module/nbd"})).ok());
}

}  // namespace
}  // namespace s3disk
