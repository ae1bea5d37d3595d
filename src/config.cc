// Command-line parsing and validation. No state beyond the Config being built; nothing here
// prints, exits, or writes outside the Config.
#include "config.h"

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

#include "log.h"

namespace s3disk {
namespace {

Status Usage(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
Status Usage(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return Status(EINVAL, buf);
}

Result<uint32_t> ParseMode(const std::string& text) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("01234567") != std::string::npos) {
    return Usage("--fileMode=%s is not an octal mode; use e.g. --fileMode=0600", text.c_str());
  }
  unsigned long mode = strtoul(text.c_str(), nullptr, 8);
  if (mode > 07777) {
    return Usage("--fileMode=%s is too large; use e.g. --fileMode=0600", text.c_str());
  }
  return static_cast<uint32_t>(mode);
}

// One command-line option. apply gets the value ("" for flags).
struct Option {
  const char* name;        // with dashes
  const char* value_name;  // nullptr for flags
  const char* help;
  std::function<Status(Config*, const std::string&)> apply;
  // "--name" alone or "--name=VALUE" (never the next argument): --compress, --encrypt.
  bool value_optional = false;
};

Status SetFlag(bool* field) {
  *field = true;
  return Status::Ok();
}

// A decimal count from 0 to max, for option name.
Result<uint64_t> ParseCount(const char* name, const std::string& text, uint64_t max) {
  uint64_t v = 0;
  if (text.empty()) return Usage("%s needs a number", name);
  for (char ch : text) {
    if (ch < '0' || ch > '9' || v > (max - (ch - '0')) / 10) {
      return Usage("%s=%s is not a number from 0 to %llu", name, text.c_str(),
                   static_cast<unsigned long long>(max));
    }
    v = v * 10 + static_cast<uint64_t>(ch - '0');
  }
  return v;
}

// Sets *field from a count option.
template <typename T>
Status SetCount(const char* name, const std::string& text, uint64_t max, T* field) {
  Result<uint64_t> v = ParseCount(name, text, max);
  S3DISK_RETURN_IF_ERROR(v.status());
  *field = static_cast<T>(*v);
  return Status::Ok();
}

const std::vector<Option>& Options() {
  static const std::vector<Option> kOptions = {
      {"--blockSize", "SIZE",
       "block size, a power of two, 512 to 64m (default: the bucket's, else 128k)",
       [](Config* c, const std::string& v) -> Status {
         Result<uint64_t> size = ParseSize("--blockSize", v);
         S3DISK_RETURN_IF_ERROR(size.status());
         if (*size > kMaxBlockSize) {
           return Usage("--blockSize=%s is larger than 64m; use e.g. --blockSize=128k", v.c_str());
         }
         c->block_size = static_cast<uint32_t>(*size);
         return Status::Ok();
       }},
      {"--size", "SIZE", "image size, a multiple of the block size (default: the bucket's)",
       [](Config* c, const std::string& v) -> Status {
         Result<uint64_t> size = ParseSize("--size", v);
         S3DISK_RETURN_IF_ERROR(size.status());
         if (*size == 0) return Usage("--size=%s is zero; use e.g. --size=1g", v.c_str());
         c->size_bytes = *size;
         return Status::Ok();
       }},
      {"--prefix", "STR", "prefix of every object name in the bucket (default: none)",
       [](Config* c, const std::string& v) {
         c->prefix = v;
         return Status::Ok();
       }},
      {"--blockHashPrefix", nullptr, "put a hash before block numbers in object names",
       [](Config* c, const std::string&) { return SetFlag(&c->hash_prefix); }},
      {"--readOnly", nullptr, "mount read-only: writes fail with EROFS, the bucket is not touched",
       [](Config* c, const std::string&) { return SetFlag(&c->read_only); }},
      {"--filename", "NAME", "name of the image file in the mount (default: file)",
       [](Config* c, const std::string& v) {
         c->filename = v;
         return Status::Ok();
       }},
      {"--statsFilename", "NAME", "name of the statistics file in the mount (default: stats)",
       [](Config* c, const std::string& v) {
         c->stats_filename = v;
         return Status::Ok();
       }},
      {"--fileMode", "OCTAL", "permissions of the image file (default: 0600, 0400 with --readOnly)",
       [](Config* c, const std::string& v) -> Status {
         Result<uint32_t> mode = ParseMode(v);
         S3DISK_RETURN_IF_ERROR(mode.status());
         c->file_mode = *mode;
         c->file_mode_given = true;
         return Status::Ok();
       }},
      {"--force", nullptr, "mount despite a geometry mismatch or a set mounted flag",
       [](Config* c, const std::string&) { return SetFlag(&c->force); }},
      {"--reset-mounted-flag", nullptr,
       "clear the bucket's mounted flag (alone with BUCKET: clear it and exit)",
       [](Config* c, const std::string&) { return SetFlag(&c->reset_mounted_flag); }},
      {"--listBlocks", nullptr,
       "list the bucket at start to learn the zero blocks (on for local buckets)",
       [](Config* c, const std::string&) { return SetFlag(&c->list_blocks); }},
      {"--test", nullptr, "BUCKET is a local directory path (s3backer's test mode)",
       [](Config* c, const std::string&) { return SetFlag(&c->test_mode); }},
      {"--debug", nullptr, "log debug messages",
       [](Config* c, const std::string&) { return SetFlag(&c->debug); }},
      {"-f", nullptr, "stay in the foreground and log to stderr (default: daemon, syslog)",
       [](Config* c, const std::string&) { return SetFlag(&c->foreground); }},
      {"-d", nullptr, "debug: log debug messages to stderr, in the foreground",
       [](Config* c, const std::string&) {
         c->debug = true;
         return SetFlag(&c->foreground);
       }},
      {"-o", "OPT[,OPT...]", "FUSE mount options, e.g. allow_other; uid=N and gid=N set the owner",
       [](Config* c, const std::string& v) {
         std::stringstream in(v);
         for (std::string opt; std::getline(in, opt, ',');) {
           if (!opt.empty()) c->fuse_options.push_back(opt);
         }
         return Status::Ok();
       }},
      {"--nbd", nullptr,
       "serve the disk with nbdkit (NBD) instead of FUSE; see the NBD usage above",
       [](Config* c, const std::string&) { return SetFlag(&c->nbd); }},
      {"--socket", "PATH", "with --nbd: serve on this Unix socket (default: a private one)",
       [](Config* c, const std::string& v) {
         c->nbd_socket = v;
         return Status::Ok();
       }},
      {"--statsFile", "PATH", "with --nbd: write the statistics to this file every second",
       [](Config* c, const std::string& v) {
         c->stats_file = v;
         return Status::Ok();
       }},
      {"--compress", "ALGO[:LEVEL]",
       "compress blocks (=ALGO optional): deflate (default) or zstd, :LEVEL 1-9/1-22",
       [](Config* c, const std::string& v) {
         c->compress = true;
         c->compress_spec = v;
         return Status::Ok();
       },
       true},
      {"--encrypt", "CIPHER",
       "encrypt and authenticate blocks (=CIPHER optional: aes-128-cbc); implies --compress",
       [](Config* c, const std::string& v) {
         c->encrypt = true;
         c->cipher = v;
         return Status::Ok();
       },
       true},
      {"--password", "PASSWORD", "the encryption password (prefer --passwordFile)",
       [](Config* c, const std::string& v) {
         c->password = v;
         return Status::Ok();
       }},
      {"--passwordFile", "FILE", "read the encryption password from the first line of FILE",
       [](Config* c, const std::string& v) {
         c->password_file = v;
         return Status::Ok();
       }},
      {"--keyLength", "BYTES", "derive a key this long (s3backer before 1.3.6: 64)",
       [](Config* c, const std::string& v) -> Status {
         char* end = nullptr;
         unsigned long n = strtoul(v.c_str(), &end, 10);
         if (v.empty() || *end != '\0' || n == 0 || n > kMaxKeyLengthBytes) {
           return Usage("--keyLength=%s is not a key length from 1 to %u; use e.g. --keyLength=64",
                        v.c_str(), kMaxKeyLengthBytes);
         }
         c->key_length = static_cast<uint32_t>(n);
         return Status::Ok();
       }},
      {"--blockCacheSize", "NUM", "blocks kept in the RAM cache; 0: no cache (default: 1000)",
       [](Config* c, const std::string& v) {
         return SetCount("--blockCacheSize", v, uint64_t{1} << 31, &c->block_cache_size);
       }},
      {"--blockCacheThreads", "NUM", "parallel uploads of dirty blocks (default: 20)",
       [](Config* c, const std::string& v) {
         return SetCount("--blockCacheThreads", v, 1000, &c->block_cache_threads);
       }},
      {"--blockCacheWriteDelay", "MS",
       "upload a dirty block at most this long after it became dirty (default: 250)",
       [](Config* c, const std::string& v) {
         return SetCount("--blockCacheWriteDelay", v, 3600000, &c->block_cache_write_delay_ms);
       }},
      {"--blockCacheMaxDirty", "NUM",
       "at most this many dirty blocks; writers wait beyond (default: half the cache)",
       [](Config* c, const std::string& v) {
         return SetCount("--blockCacheMaxDirty", v, uint64_t{1} << 31, &c->block_cache_max_dirty);
       }},
      {"--blockCacheSync", nullptr, "write-through: a write returns once it is in the bucket",
       [](Config* c, const std::string&) { return SetFlag(&c->block_cache_sync); }},
      {"--blockCacheFile", "PATH",
       "keep the cache in this file: it survives restarts and crashes (default: RAM only)",
       [](Config* c, const std::string& v) {
         c->block_cache_file = v;
         return Status::Ok();
       }},
      {"--blockCacheNoVerify", nullptr,
       "reuse clean blocks of --blockCacheFile without checking them against the bucket",
       [](Config* c, const std::string&) { return SetFlag(&c->block_cache_no_verify); }},
      {"--readAhead", "NUM", "blocks to fetch ahead of sequential reads; 0: off (default: 4)",
       [](Config* c, const std::string& v) {
         return SetCount("--readAhead", v, 1u << 20, &c->read_ahead);
       }},
      {"--readAheadTrigger", "NUM", "sequential block reads that start read-ahead (default: 2)",
       [](Config* c, const std::string& v) {
         return SetCount("--readAheadTrigger", v, 1u << 20, &c->read_ahead_trigger);
       }},
      {"--help", nullptr, "show this help and exit",
       [](Config* c, const std::string&) { return SetFlag(&c->help); }},
      {"-h", nullptr, "same as --help",
       [](Config* c, const std::string&) { return SetFlag(&c->help); }},
      {"--version", nullptr, "show the version and exit",
       [](Config* c, const std::string&) { return SetFlag(&c->version); }},
  };
  return kOptions;
}

const Option* FindOption(const std::string& name) {
  for (const Option& opt : Options()) {
    if (name == opt.name) return &opt;
  }
  return nullptr;
}

// The S3 options live in credentials.h (S3CliOptions, SetS3CliOption); the parser takes them
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
    if (!line.empty() && line.back() == '\r') line.pop_back();
    c->password = line;
    if (c->password.empty()) {
      return Usage("--passwordFile=%s: the first line is empty", c->password_file.c_str());
    }
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
  std::string suffix = text.substr(digits);
  for (char& ch : suffix) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
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

OptionKind FindOptionKind(const std::string& name) {
  const Option* opt = FindOption(name);
  const S3CliOption* s3_opt = opt == nullptr ? FindS3Option(name) : nullptr;
  if (opt == nullptr && s3_opt == nullptr) return OptionKind::kUnknown;
  const char* value_name = opt != nullptr ? opt->value_name : s3_opt->value_name;
  return value_name == nullptr ? OptionKind::kFlag : OptionKind::kValue;
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

// The block cache options, against each other.
static Status ValidateCache(Config* c) {
  if (c->block_cache_size == 0) {
    if (!c->block_cache_file.empty()) {
      return Usage("--blockCacheFile needs a cache; drop --blockCacheSize=0");
    }
    return Status::Ok();
  }
  if (c->block_cache_size < 2) {
    return Usage("--blockCacheSize=1 is too small; use 0 (no cache) or at least 2");
  }
  if (c->block_cache_threads == 0) {
    return Usage("--blockCacheThreads=0 would never upload; use e.g. --blockCacheThreads=20");
  }
  if (c->block_cache_max_dirty >= c->block_cache_size) {
    return Usage("--blockCacheMaxDirty=%llu must be less than --blockCacheSize=%llu",
                 static_cast<unsigned long long>(c->block_cache_max_dirty),
                 static_cast<unsigned long long>(c->block_cache_size));
  }
  if (c->read_ahead >= c->block_cache_size) {
    return Usage("--readAhead=%u must be less than --blockCacheSize=%llu", c->read_ahead,
                 static_cast<unsigned long long>(c->block_cache_size));
  }
  if (c->read_ahead > 0 && c->read_ahead_trigger == 0) {
    return Usage("--readAheadTrigger=0: use at least 1, or --readAhead=0 to turn it off");
  }
  if (!c->block_cache_file.empty()) c->block_cache_file = Absolute(c->block_cache_file);
  return Status::Ok();
}

Status Validate(Config* c) {
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

  S3DISK_RETURN_IF_ERROR(ValidateCache(c));
  if (c->bucket_kind == BucketKind::kDirectory) c->bucket_dir = Absolute(c->bucket_dir);
  if (c->nbd) {
    if (c->args.size() == 2) c->nbd_device = Absolute(c->args[1]);
    if (!c->nbd_socket.empty()) c->nbd_socket = Absolute(c->nbd_socket);
    if (!c->stats_file.empty()) c->stats_file = Absolute(c->stats_file);
  } else if (!c->ResetOnly()) {
    Result<std::string> mnt = CheckMountPoint(c->args[1]);
    S3DISK_RETURN_IF_ERROR(mnt.status());
    c->mountpoint = *mnt;
  }
  if (c->bucket_kind == BucketKind::kS3) S3DISK_RETURN_IF_ERROR(FinishS3(c));
  return Status::Ok();
}

std::string UsageText() {
  std::string out =
      "Usage:\n"
      "  s3disk [options] BUCKET[/PREFIX] MOUNTPOINT\n"
      "  s3disk --test [options] DIRECTORY MOUNTPOINT\n"
      "  s3disk --reset-mounted-flag [options] BUCKET\n"
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
