// Command-line parsing and validation. No state beyond the Config being built; nothing here
// prints, exits, or writes outside the Config.
#include "app/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

#include "app/config_options.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/text.h"
#include "s3/credentials.h"

namespace s3disk {
namespace {

// The S3 options live in s3/s3_options.h (S3CliOptions, SetS3CliOption); the parser takes them
// after its own.
const S3CliOption* FindS3Option(const std::string& name) {
  for (const S3CliOption& opt : S3CliOptions()) {
    if (name == opt.name) return &opt;
  }
  return nullptr;
}

// Splits args[0] into the bucket fields.
Status ParseBucket(Config* c) {
  const std::string& b = c->bucket_arg;
  if (b.empty()) return Usage("the bucket is empty; give file:///DIR, mem: or a bucket name");
  if (b.rfind("file://", 0) == 0) {
    c->bucket_kind = BucketKind::kDirectory;
    c->bucket_dir = b.substr(strlen("file://"));
    if (c->bucket_dir.empty() || c->bucket_dir[0] != '/') {
      return Usage("bucket '%s' is not an absolute file URL; use file:///absolute/dir", b.c_str());
    }
    return Status::Ok();
  }
  if (b.rfind("mem:", 0) == 0) {
    if (b != "mem:") return Usage("bucket '%s': the memory bucket is spelled mem:", b.c_str());
    c->bucket_kind = BucketKind::kMemory;
    return Status::Ok();
  }
  if (c->test_mode) {
    c->bucket_kind = BucketKind::kDirectory;
    c->bucket_dir = b;
    return Status::Ok();
  }
  c->bucket_kind = BucketKind::kS3;
  size_t slash = b.find('/');
  c->bucket_name = b.substr(0, slash);
  if (c->bucket_name.empty()) {
    return Usage("bucket '%s' has no name; for a directory use file://%s or --test", b.c_str(),
                 b.c_str());
  }
  if (slash != std::string::npos) {
    // As s3backer: BUCKET/DIR means prefix "DIR/"; DIR has no leading, trailing or double '/'.
    std::string sub = b.substr(slash + 1);
    if (sub.empty() || sub.front() == '/' || sub.back() == '/' ||
        sub.find("//") != std::string::npos) {
      return Usage("bucket '%s' has a malformed prefix; write BUCKET/DIR or BUCKET/DIR/SUBDIR",
                   b.c_str());
    }
    if (!c->prefix.empty()) {
      return Usage("bucket '%s' has a prefix and --prefix=%s is given too; use only one", b.c_str(),
                   c->prefix.c_str());
    }
    c->prefix = sub + "/";
  }
  if (Status name = CheckBucketName(c->bucket_name); !name.ok()) {
    return Usage("%s; for a directory use file:///DIR or --test", name.message().c_str());
  }
  return Status::Ok();
}

Status CheckFileName(const char* option, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return Usage("%s='%s' is not a valid file name; use a plain name like 'file'", option,
                 name.c_str());
  }
  return Status::Ok();
}

Result<int64_t> ParseId(const std::string& opt) {
  std::string value = opt.substr(opt.find('=') + 1);
  char* end = nullptr;
  errno = 0;
  unsigned long long id = strtoull(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno != 0 || id > UINT32_MAX - 1) {
    return Usage("-o %s: not a numeric id; use e.g. -o uid=1000", opt.c_str());
  }
  return static_cast<int64_t>(id);
}

std::string Absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == nullptr) return path;
  std::string dir(cwd);
  if (dir.back() != '/') dir += '/';
  return dir + path;
}

// Undoes the octal escapes (\040 for space, ...) of /proc/self/mountinfo fields.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t j = 1; j <= 3; j++) {
        if (s[i + j] < '0' || s[i + j] > '7') ok = false;
        v = v * 8 + (s[i + j] - '0');
      }
      if (ok) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

bool IsListedMountPoint(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mnt;
    if (fields >> id >> parent >> devno >> root >> mnt && Unescape(mnt) == path) return true;
  }
  return false;
}

// The S3 settings of an S3 bucket: its name, the credentials (none is allowed only with
// --readOnly: a public bucket, unsigned requests), and whether ETags are body MD5s.
Status FinishS3(Config* c) {
  S3CliSettings& s3 = c->s3;
  s3.options.bucket = c->bucket_name;
  Result<Credentials> creds = ResolveCredentials(s3.credentials);
  if (!creds.ok()) return creds.status().WithContext("bucket " + c->bucket_name);
  if (creds->empty() && !c->read_only) {
    return Usage(
        "no S3 credentials for bucket %s: give --accessFile=FILE (accessID:accessKey lines, "
        "chmod 600) or --accessId=ID --accessKey=KEY, set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, or add ~/.aws/credentials; a public bucket mounts with "
        "--readOnly",
        c->bucket_name.c_str());
  }
  Status st = FinishS3CliSettings(&s3, c->read_only);
  if (!st.ok()) return st.WithContext("bucket " + c->bucket_name);
  // SSE-KMS objects have ETags that are not the MD5 of their bodies: checking them would fail
  // every read. (PUTs still send Content-MD5, which S3 checks.)
  if (s3.options.sse == "aws:kms" || !s3.options.sse_key_id.empty()) {
    s3.options.verify_etag = false;
  }
  return Status::Ok();
}

// The codec options: the --compress spec, the password (read from --passwordFile), and the
// cipher and key length (by building the codec once: no I/O, two PBKDF2 runs).
Status ValidateCodec(Config* c) {
  if (c->compress) {
    CodecOptions o;
    S3DISK_RETURN_IF_ERROR(ParseCompressSpec(c->compress_spec, &o));
  }
  if (!c->encrypt) {
    if (!c->password.empty() || !c->password_file.empty() || c->key_length != 0) {
      return Usage("--password, --passwordFile and --keyLength need --encrypt");
    }
    return Status::Ok();
  }
  if (!c->password.empty() && !c->password_file.empty()) {
    return Usage("--password and --passwordFile are both given; use only one");
  }
  if (!c->password_file.empty()) {
    std::ifstream in(c->password_file);
    std::string line;
    if (!in || !std::getline(in, line)) {
      return Usage(
          "--passwordFile=%s cannot be read; give a file whose first line is the "
          "password",
          c->password_file.c_str());
    }
    // Like an access file: a password that other users can read protects nothing.
    S3DISK_RETURN_IF_ERROR(CheckPrivateFile(c->password_file, "--passwordFile"));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    c->password = line;
    if (c->password.empty()) {
      return Usage("--passwordFile=%s: the first line is empty", c->password_file.c_str());
    }
  }
  if (c->password.empty() && c->password_prompt) {
    // main asks on the terminal after Validate; check the cipher and key length now, so a
    // mistake is reported before anyone types. The stand-in is never used for data.
    CodecOptions o = MakeCodecOptions(*c);
    o.password = "stand-in";
    Result<std::shared_ptr<const Codec>> codec = Codec::Create(o);
    if (!codec.ok()) return Status(EINVAL, codec.status().message());
    return Status::Ok();
  }
  if (c->password.empty()) {
    return Usage("--encrypt needs a password: give --passwordFile=FILE or --password=PASSWORD");
  }
  LogRegisterSecret(c->password);  // never in a log line from now on
  Result<std::shared_ptr<const Codec>> codec = Codec::Create(MakeCodecOptions(*c));
  if (!codec.ok()) return Status(EINVAL, codec.status().message());
  return Status::Ok();
}

}  // namespace

Result<uint64_t> ParseSize(const std::string& name, const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') digits++;
  uint64_t shift = 0;
  bool ok = digits > 0 && digits <= 20;
  std::string suffix = ToLower(std::string_view(text).substr(digits));
  if (ok && !suffix.empty()) {
    static const char kUnits[] = "kmgt";
    const char* unit = strchr(kUnits, suffix[0]);
    std::string rest = suffix.substr(1);
    if (unit == nullptr || suffix[0] == '\0' || !(rest.empty() || rest == "b" || rest == "ib")) {
      ok = false;
    } else {
      shift = 10 * static_cast<uint64_t>(unit - kUnits + 1);
    }
  }
  if (ok) {
    errno = 0;
    unsigned long long n = strtoull(text.substr(0, digits).c_str(), nullptr, 10);
    if (errno != 0 || (shift > 0 && n > (UINT64_MAX >> shift))) {
      return Usage("%s=%s is too large", name.c_str(), text.c_str());
    }
    return static_cast<uint64_t>(n) << shift;
  }
  return Usage("%s=%s is not a size; use a number with an optional k, m, g or t suffix, e.g. %s=1g",
               name.c_str(), text.c_str(), name.c_str());
}

std::string FormatSize(uint64_t bytes) {
  static const char kUnits[] = "kmgt";
  int unit = -1;
  while (unit < 3 && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    unit++;
  }
  std::string out = std::to_string(bytes);
  if (unit >= 0) out += kUnits[unit];
  return out;
}

Result<Config> ParseArgs(const std::vector<std::string>& argv) {
  Config c;
  bool options_done = false;
  for (size_t i = 1; i < argv.size(); i++) {
    const std::string& arg = argv[i];
    if (options_done || arg.empty() || arg[0] != '-' || arg == "-") {
      c.args.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::string name = arg;
    std::string value;
    bool has_value = false;
    if (arg.rfind("--", 0) == 0) {
      size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        has_value = true;
      }
    } else if (arg.size() > 2 && arg.rfind("-o", 0) == 0) {
      name = "-o";  // -oallow_other
      value = arg.substr(2);
      has_value = true;
    }
    const Option* opt = FindOption(name);
    const S3CliOption* s3_opt = opt == nullptr ? FindS3Option(name) : nullptr;
    if (opt == nullptr && s3_opt == nullptr) {
      return Usage("unknown option '%s'; run 's3disk --help' for the list", arg.c_str());
    }
    const char* value_name = opt != nullptr ? opt->value_name : s3_opt->value_name;
    if (value_name == nullptr && has_value) {
      return Usage("option '%s' takes no value; write just %s", arg.c_str(), name.c_str());
    }
    if (value_name != nullptr && !has_value && !(opt != nullptr && opt->value_optional)) {
      if (i + 1 >= argv.size()) {
        return Usage("option %s needs a value, as in %s%s%s", name.c_str(), name.c_str(),
                     name[1] == '-' ? "=" : " ", value_name);
      }
      value = argv[++i];
    }
    if (opt != nullptr) {
      S3DISK_RETURN_IF_ERROR(opt->apply(&c, value));
    } else {
      S3DISK_RETURN_IF_ERROR(SetS3CliOption(name, value, &c.s3));
    }
  }
  return c;
}

Result<Config> ParseArgs(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  if (args.empty()) args.push_back("s3disk");
  return ParseArgs(args);
}

std::vector<std::string> PathOptionNames() {
  std::vector<std::string> names;
  auto is_path = [](const char* value_name) {
    return value_name != nullptr &&
           (strcmp(value_name, "FILE") == 0 || strcmp(value_name, "PATH") == 0);
  };
  for (const Option& opt : Options()) {
    if (is_path(opt.value_name)) names.push_back(opt.name);
  }
  for (const S3CliOption& opt : S3CliOptions()) {
    if (is_path(opt.value_name)) names.push_back(opt.name);
  }
  return names;
}

std::string AbsoluteFilePath(const std::string& path) {
  const char* home = getenv("HOME");
  if (home != nullptr && home[0] != '\0') return Absolute(ExpandHome(path, home));
  return Absolute(path);
}

OptionKind FindOptionKind(const std::string& name) {
  const Option* opt = FindOption(name);
  const S3CliOption* s3_opt = opt == nullptr ? FindS3Option(name) : nullptr;
  if (opt == nullptr && s3_opt == nullptr) return OptionKind::kUnknown;
  const char* value_name = opt != nullptr ? opt->value_name : s3_opt->value_name;
  if (value_name == nullptr) return OptionKind::kFlag;
  return opt != nullptr && opt->value_optional ? OptionKind::kOptionalValue : OptionKind::kValue;
}

Result<std::string> CheckMountPoint(const std::string& path) {
  std::string abs = Absolute(path);
  struct stat st;
  if (stat(abs.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) {
      return Usage("mount point %s does not exist; create it with mkdir -p %s", abs.c_str(),
                   abs.c_str());
    }
    if (err == ENOTCONN) {
      return Usage("mount point %s is a dead FUSE mount; unmount it with fusermount3 -u %s",
                   abs.c_str(), abs.c_str());
    }
    return Usage("mount point %s: %s; pick another directory", abs.c_str(), strerror(err));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Usage("mount point %s is not a directory; give an empty directory", abs.c_str());
  }
  char real[PATH_MAX];
  if (realpath(abs.c_str(), real) == nullptr) {
    return Usage("mount point %s: %s; pick another directory", abs.c_str(), strerror(errno));
  }
  std::string canonical(real);
  struct stat parent;
  std::string parent_path = canonical == "/" ? "/" : canonical + "/..";
  bool is_mount = canonical == "/";
  if (!is_mount && stat(parent_path.c_str(), &parent) == 0) {
    is_mount = parent.st_dev != st.st_dev || parent.st_ino == st.st_ino;
  }
  if (is_mount || IsListedMountPoint(canonical)) {
    return Usage(
        "mount point %s is already a mount point; unmount it first or pick another "
        "directory",
        canonical.c_str());
  }
  return canonical;
}

// --fsyncTo=journal and --journalSize: the journal lives beside the cache file, over a cache,
// and only a writable mount writes.
static Status ValidateJournal(const Config& c) {
  if (c.fsync_to != FsyncTo::kJournal) {
    if (c.journal_size_given) {
      return Usage("--journalSize is for --fsyncTo=journal; add --fsyncTo=journal, or drop it");
    }
    return Status::Ok();
  }
  if (c.block_cache_file.empty()) {
    return Usage(
        "--fsyncTo=journal keeps its journal beside the cache file; give "
        "--blockCacheFile=PATH (the journal is PATH.journal), or drop --fsyncTo=journal");
  }
  if (c.cache.cache_size_blocks == 0) {
    return Usage("--fsyncTo=journal needs the block cache; drop --blockCacheSize=0");
  }
  if (c.cache.sync) {
    return Usage(
        "--blockCacheSync makes every write wait for the bucket and --fsyncTo=journal makes "
        "fsync wait for the journal; give one of them");
  }
  // The admin commands that only read run as --readOnly; the option does nothing there.
  if (c.read_only && !c.AdminMode()) {
    return Usage("--fsyncTo=journal is for writable mounts; drop --readOnly or --fsyncTo=journal");
  }
  return Status::Ok();
}

// The block cache options, against each other.
static Status ValidateCache(Config* c) {
  if (c->upload_stale_dirty_blocks && c->block_cache_file.empty()) {
    return Usage(
        "--uploadStaleDirtyBlocks is about the dirty blocks of --blockCacheFile; "
        "give --blockCacheFile=PATH, or drop it");
  }
  if (c->cache.cache_size_blocks == 0) {
    if (!c->block_cache_file.empty()) {
      return Usage("--blockCacheFile needs a cache; drop --blockCacheSize=0");
    }
    return Status::Ok();
  }
  if (c->cache.cache_size_blocks < 2) {
    return Usage("--blockCacheSize=1 is too small; use 0 (no cache) or at least 2");
  }
  if (c->cache.threads == 0) {
    return Usage("--blockCacheThreads=0 would never upload; use e.g. --blockCacheThreads=20");
  }
  if (c->cache.max_dirty_blocks >= c->cache.cache_size_blocks) {
    return Usage("--blockCacheMaxDirty=%llu must be less than --blockCacheSize=%llu",
                 static_cast<unsigned long long>(c->cache.max_dirty_blocks),
                 static_cast<unsigned long long>(c->cache.cache_size_blocks));
  }
  if (c->cache.read_ahead_blocks >= c->cache.cache_size_blocks) {
    return Usage("--readAhead=%u must be less than --blockCacheSize=%llu",
                 c->cache.read_ahead_blocks,
                 static_cast<unsigned long long>(c->cache.cache_size_blocks));
  }
  if (c->cache.read_ahead_max_blocks >= c->cache.cache_size_blocks) {
    return Usage("--readAheadMax=%u must be less than --blockCacheSize=%llu",
                 c->cache.read_ahead_max_blocks,
                 static_cast<unsigned long long>(c->cache.cache_size_blocks));
  }
  if (c->cache.read_ahead_blocks > 0 && c->cache.read_ahead_trigger == 0) {
    return Usage("--readAheadTrigger=0: use at least 1, or --readAhead=0 to turn it off");
  }
  return Status::Ok();
}

// The consistency guard options, against each other (s3backer's rules). md5CacheTime=0 with a
// cache means "forever", which BuildStack checks against the number of blocks.
static Status ValidateGuard(const Config& c) {
  if (c.guard.cache_size == 0) {
    if (c.guard.cache_time_ms != 0 || c.guard.min_write_delay_ms != 0) {
      return Usage(
          "--md5CacheTime and --minWriteDelay need the MD5 cache: add --md5CacheSize "
          "(e.g. --md5CacheSize=1000 --md5CacheTime=10000 --minWriteDelay=500)");
    }
    return Status::Ok();
  }
  if (c.guard.cache_time_ms > 0 && c.guard.min_write_delay_ms > c.guard.cache_time_ms) {
    return Usage("--minWriteDelay=%lld must not be longer than --md5CacheTime=%lld",
                 static_cast<long long>(c.guard.min_write_delay_ms),
                 static_cast<long long>(c.guard.cache_time_ms));
  }
  return Status::Ok();
}

// The admin modes (admin.h): one at a time, not with --nbd or --reset-mounted-flag, BUCKET
// only. --verify and --summary only read: they run as --readOnly (no write can happen, and a
// public S3 bucket needs no credentials); --erase cannot.
static Status ValidateAdminMode(Config* c) {
  const char* mode = c->erase ? "--erase" : c->verify ? "--verify" : "--summary";
  if (!c->AdminMode()) return Status::Ok();
  if (int{c->erase} + int{c->verify} + int{c->summary} > 1) {
    return Usage("--erase, --verify and --summary are separate commands; give only one");
  }
  if (c->nbd || c->reset_mounted_flag) {
    return Usage("%s is a command of its own; drop %s", mode,
                 c->nbd ? "--nbd" : "--reset-mounted-flag");
  }
  if (c->args.size() != 1) {
    return Usage(
        "%s takes only the bucket, got %zu arguments; usage: s3disk %s [options] "
        "BUCKET[/PREFIX]",
        mode, c->args.size(), mode);
  }
  if (c->erase && c->read_only) return Usage("--erase deletes blocks; drop --readOnly");
  if (!c->erase) c->read_only = true;
  return Status::Ok();
}

Status Validate(Config* c) {
  S3DISK_RETURN_IF_ERROR(CheckDigests());
  S3DISK_RETURN_IF_ERROR(ValidateAdminMode(c));
  if (c->nbd) {
    if (c->args.empty() || c->args.size() > 2) {
      return Usage(
          "expected BUCKET and an NBD device with --nbd, got %zu arguments; usage: s3disk "
          "--nbd [options] BUCKET /dev/nbdX, or s3disk --nbd --socket=PATH [options] BUCKET",
          c->args.size());
    }
    if (c->args.size() == 1 && c->nbd_socket.empty() && !c->nbd_plugin) {
      return Usage(
          "--nbd needs a device to attach (s3disk --nbd BUCKET /dev/nbd0) or --socket=PATH "
          "to only serve");
    }
    if (!c->fuse_options.empty()) {
      return Usage("-o %s is a FUSE mount option; it does not apply with --nbd",
                   c->fuse_options[0].c_str());
    }
  } else if (!c->nbd_socket.empty() || !c->stats_file.empty()) {
    return Usage("--socket and --statsFile are for --nbd; a FUSE mount shows its stats file");
  } else if (c->args.size() == 1 && c->reset_mounted_flag) {
    // Reset-only mode: s3disk --reset-mounted-flag BUCKET.
  } else if (c->AdminMode()) {
    // s3disk --erase|--verify|--summary BUCKET: ValidateAdminMode checked the arguments.
  } else if (c->args.size() != 2) {
    return Usage(
        "expected BUCKET and MOUNTPOINT, got %zu argument%s; usage: s3disk [options] "
        "BUCKET[/PREFIX] MOUNTPOINT",
        c->args.size(), c->args.size() == 1 ? "" : "s");
  }
  c->bucket_arg = c->args[0];
  S3DISK_RETURN_IF_ERROR(ParseBucket(c));
  S3DISK_RETURN_IF_ERROR(ValidateCodec(c));

  if (c->block_size != 0) {
    uint32_t bs = c->block_size;
    if ((bs & (bs - 1)) != 0) {
      return Usage("--blockSize=%u is not a power of two; use e.g. --blockSize=128k", bs);
    }
    if (bs < kMinBlockSize) {
      return Usage("--blockSize=%u is smaller than 512; use e.g. --blockSize=128k", bs);
    }
  }
  if (c->block_size != 0 && c->size_bytes != 0) {
    if (c->size_bytes % c->block_size != 0) {
      uint64_t up = (c->size_bytes / c->block_size + 1) * c->block_size;
      return Usage("--size=%s is not a multiple of --blockSize=%s; use e.g. --size=%s",
                   FormatSize(c->size_bytes).c_str(), FormatSize(c->block_size).c_str(),
                   FormatSize(up).c_str());
    }
    if (c->size_bytes / c->block_size > kMaxBlocks) {
      return Usage("--size=%s makes more than 2^32 blocks of %s; use a larger --blockSize",
                   FormatSize(c->size_bytes).c_str(), FormatSize(c->block_size).c_str());
    }
  }
  S3DISK_RETURN_IF_ERROR(CheckFileName("--filename", c->filename));
  S3DISK_RETURN_IF_ERROR(CheckFileName("--statsFilename", c->stats_filename));
  if (c->filename == c->stats_filename) {
    return Usage("--filename and --statsFilename are both '%s'; give them different names",
                 c->filename.c_str());
  }

  std::vector<std::string> fuse_options;
  for (const std::string& opt : c->fuse_options) {
    if (opt.rfind("uid=", 0) == 0 || opt.rfind("gid=", 0) == 0) {
      Result<int64_t> id = ParseId(opt);
      S3DISK_RETURN_IF_ERROR(id.status());
      (opt[0] == 'u' ? c->uid : c->gid) = *id;
    } else {
      fuse_options.push_back(opt);
    }
  }
  c->fuse_options = std::move(fuse_options);
  if (c->uid < 0) c->uid = getuid();
  if (c->gid < 0) c->gid = getgid();
  if (!c->file_mode_given && c->read_only) c->file_mode = 0400;
  if (c->IsLocalBucket()) c->list_blocks = true;

  S3DISK_RETURN_IF_ERROR(ValidateJournal(*c));
  S3DISK_RETURN_IF_ERROR(ValidateCache(c));
  S3DISK_RETURN_IF_ERROR(ValidateGuard(*c));
  if (c->bucket_kind == BucketKind::kDirectory) c->bucket_dir = Absolute(c->bucket_dir);
  if (c->nbd) {
    if (c->args.size() == 2) c->nbd_device = Absolute(c->args[1]);
  } else if (!c->ResetOnly() && !c->AdminMode()) {
    Result<std::string> mnt = CheckMountPoint(c->args[1]);
    S3DISK_RETURN_IF_ERROR(mnt.status());
    c->mountpoint = *mnt;
  }
  if (c->bucket_kind == BucketKind::kS3) S3DISK_RETURN_IF_ERROR(FinishS3(c));
  // Every file option (PathOptionNames), as s3disk --nbd passes them on to nbdkit.
  for (std::string* path : {&c->nbd_socket, &c->stats_file, &c->password_file, &c->block_cache_file,
                            &c->s3.credentials.access_file, &c->s3.options.cacert}) {
    if (!path->empty()) *path = AbsoluteFilePath(*path);
  }
  return Status::Ok();
}

std::string UsageText() {
  std::string out =
      "Usage:\n"
      "  s3disk [options] BUCKET[/PREFIX] MOUNTPOINT\n"
      "  s3disk --test [options] DIRECTORY MOUNTPOINT\n"
      "  s3disk --reset-mounted-flag [options] BUCKET\n"
      "  s3disk --erase [--force] [options] BUCKET[/PREFIX]  (delete every block)\n"
      "  s3disk --verify [options] BUCKET[/PREFIX]   (check every block; exit 2 if one is bad)\n"
      "  s3disk --summary [options] BUCKET[/PREFIX]  (blocks, sizes, compression ratio)\n"
      "  s3disk --nbd [options] BUCKET /dev/nbdX      (serve with nbdkit and attach)\n"
      "  s3disk --nbd --socket=PATH [options] BUCKET  (serve on a Unix socket only)\n"
      "BUCKET is file:///absolute/dir (a local directory), mem: (in memory, lost at exit),\n"
      "or an S3 bucket name (BUCKET/PREFIX puts the objects under PREFIX/). The mount point\n"
      "shows the image file and the statistics file. SIZE takes a k, m, g or t suffix\n"
      "(powers of 1024).\n"
      "Options:\n";
  auto add = [&out](const char* name, const char* value_name, const char* help) {
    std::string left = std::string("  ") + name;
    if (value_name != nullptr) {
      left += name[1] == '-' ? "=" : " ";
      left += value_name;
    }
    if (left.size() < 26)
      left.resize(26, ' ');
    else
      left += "  ";
    out += left + help + "\n";
  };
  for (const Option& opt : Options()) add(opt.name, opt.value_name, opt.help);
  out += "S3 options (for an S3 bucket):\n";
  for (const S3CliOption& opt : S3CliOptions()) add(opt.name, opt.value_name, opt.help);
  return out;
}

CodecOptions MakeCodecOptions(const Config& config) {
  CodecOptions o;
  if (config.compress) {
    Status st = ParseCompressSpec(config.compress_spec, &o);  // Validate checked it
    (void)st;
  }
  o.encrypt = config.encrypt;
  if (!config.cipher.empty()) o.cipher = config.cipher;
  o.password = config.password;
  o.key_length_bytes = config.key_length;
  o.prefix = config.prefix;
  switch (config.bucket_kind) {
    case BucketKind::kS3:
      o.bucket = config.bucket_name;
      break;
    case BucketKind::kDirectory: {
      std::string dir = config.bucket_dir;
      while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
      size_t slash = dir.rfind('/');
      o.bucket = slash == std::string::npos ? dir : dir.substr(slash + 1);
      break;
    }
    case BucketKind::kMemory:
      o.bucket = "mem";
      break;
  }
  return o;
}

std::string BucketDisplay(const Config& config) {
  switch (config.bucket_kind) {
    case BucketKind::kDirectory:
      return config.bucket_dir;
    case BucketKind::kMemory:
      return "mem:";
    case BucketKind::kS3:
      return config.bucket_name;
  }
  return config.bucket_arg;
}

}  // namespace s3disk
