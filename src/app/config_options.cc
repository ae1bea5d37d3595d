// The option table: every command-line option s3disk takes (except the S3 ones, which live
// in credentials.cc), its help line and how it sets the Config. Syntax only; the checks of
// values against each other are in config.cc (Validate).
#include "app/config_options.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace s3disk {

Status Usage(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return Status(EINVAL, buf);
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

namespace {

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

Status SetFlag(bool* field) {
  *field = true;
  return Status::Ok();
}

// Sets *field from a count option.
template <typename T>
Status SetCount(const char* name, const std::string& text, uint64_t max, T* field) {
  Result<uint64_t> v = ParseCount(name, text, max);
  S3DISK_RETURN_IF_ERROR(v.status());
  *field = static_cast<T>(*v);
  return Status::Ok();
}

}  // namespace

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
      {"--noWritebackCache", nullptr,
       "each write() reaches the cache before it returns, instead of the kernel buffering "
       "the image's writes until fsync or write-back (slower for random writes)",
       [](Config* c, const std::string&) { return SetFlag(&c->no_writeback_cache); }},
      {"--fileMode", "OCTAL", "permissions of the image file (default: 0600, 0400 with --readOnly)",
       [](Config* c, const std::string& v) -> Status {
         Result<uint32_t> mode = ParseMode(v);
         S3DISK_RETURN_IF_ERROR(mode.status());
         c->file_mode = *mode;
         c->file_mode_given = true;
         return Status::Ok();
       }},
      {"--force", nullptr,
       "mount despite a geometry mismatch or a set mounted flag; --erase without asking",
       [](Config* c, const std::string&) { return SetFlag(&c->force); }},
      {"--reset-mounted-flag", nullptr,
       "clear the bucket's mounted flag (alone with BUCKET: clear it and exit)",
       [](Config* c, const std::string&) { return SetFlag(&c->reset_mounted_flag); }},
      {"--erase", nullptr, "alone with BUCKET: delete every block and the mounted flag, then exit",
       [](Config* c, const std::string&) { return SetFlag(&c->erase); }},
      {"--verify", nullptr,
       "alone with BUCKET: read every block, check MD5, HMAC and decoding, list bad blocks",
       [](Config* c, const std::string&) { return SetFlag(&c->verify); }},
      {"--summary", nullptr,
       "alone with BUCKET: print blocks stored, sizes and the compression ratio",
       [](Config* c, const std::string&) { return SetFlag(&c->summary); }},
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
         return SetCount("--blockCacheSize", v, uint64_t{1} << 31, &c->cache.cache_size_blocks);
       }},
      {"--blockCacheThreads", "NUM", "parallel uploads of dirty blocks (default: 20)",
       [](Config* c, const std::string& v) {
         return SetCount("--blockCacheThreads", v, 1000, &c->cache.threads);
       }},
      {"--blockCacheWriteDelay", "MS",
       "upload a dirty block at most this long after it became dirty (default: 250)",
       [](Config* c, const std::string& v) {
         return SetCount("--blockCacheWriteDelay", v, 3600000, &c->cache.write_delay_ms);
       }},
      {"--blockCacheMaxDirty", "NUM",
       "at most this many dirty blocks; writers wait beyond (default: 90% of the cache)",
       [](Config* c, const std::string& v) {
         return SetCount("--blockCacheMaxDirty", v, uint64_t{1} << 31, &c->cache.max_dirty_blocks);
       }},
      {"--blockCacheSync", nullptr, "write-through: a write returns once it is in the bucket",
       [](Config* c, const std::string&) { return SetFlag(&c->cache.sync); }},
      {"--blockCacheFile", "PATH",
       "keep the cache in this file: it survives restarts and crashes (default: RAM only)",
       [](Config* c, const std::string& v) {
         c->block_cache_file = v;
         return Status::Ok();
       }},
      {"--fsyncTo", "bucket|journal",
       "what fsync (and close, NBD flush and FUA) waits for: bucket (default): every earlier "
       "write is in the bucket; journal (needs --blockCacheFile=PATH): fsync returns once "
       "writes are in PATH.journal on local disk; the bucket follows in flush order; losing "
       "that disk leaves the bucket as it was at an earlier flush",
       [](Config* c, const std::string& v) -> Status {
         if (v == "bucket") {
           c->fsync_to = FsyncTo::kBucket;
         } else if (v == "journal") {
           c->fsync_to = FsyncTo::kJournal;
         } else {
           return Usage(
               "--fsyncTo=%s is neither bucket nor journal; use --fsyncTo=bucket or "
               "--fsyncTo=journal",
               v.c_str());
         }
         return Status::Ok();
       }},
      {"--journalSize", "SIZE",
       "with --fsyncTo=journal: room for writes not yet in the bucket, at least 16m; writers "
       "wait while it is full (default: 1g)",
       [](Config* c, const std::string& v) -> Status {
         Result<uint64_t> size = ParseSize("--journalSize", v);
         S3DISK_RETURN_IF_ERROR(size.status());
         const std::string least = FormatSize(JournalFile::kMinCapacity);
         if (*size < JournalFile::kMinCapacity) {
           return Usage("--journalSize=%s is smaller than %s; use e.g. --journalSize=1g", v.c_str(),
                        least.c_str());
         }
         if (*size % JournalFile::kAlign != 0) {
           return Usage(
               "--journalSize=%s is not a multiple of %llu bytes; use e.g. "
               "--journalSize=1g",
               v.c_str(), static_cast<unsigned long long>(JournalFile::kAlign));
         }
         c->journal.capacity_bytes = *size;
         c->journal_size_given = true;
         return Status::Ok();
       }},
      {"--blockCacheNoVerify", nullptr,
       "reuse clean blocks of --blockCacheFile without checking them against the bucket",
       [](Config* c, const std::string&) { return SetFlag(&c->cache.no_verify); }},
      {"--uploadStaleDirtyBlocks", nullptr,
       "upload the dirty blocks of --blockCacheFile although the bucket was mounted since "
       "they were written: they overwrite whatever that mount wrote to the same blocks",
       [](Config* c, const std::string&) { return SetFlag(&c->upload_stale_dirty_blocks); }},
      {"--readAhead", "NUM", "blocks to fetch ahead of sequential reads; 0: off (default: 4)",
       [](Config* c, const std::string& v) {
         return SetCount("--readAhead", v, 1u << 20, &c->cache.read_ahead_blocks);
       }},
      {"--readAheadMax", "NUM",
       "the read-ahead window grows up to this many blocks during a long sequential run "
       "(default: --blockCacheThreads but at least 32, at most a quarter of --blockCacheSize)",
       [](Config* c, const std::string& v) {
         return SetCount("--readAheadMax", v, 1u << 20, &c->cache.read_ahead_max_blocks);
       }},
      {"--readAheadTrigger", "NUM", "sequential block reads that start read-ahead (default: 2)",
       [](Config* c, const std::string& v) {
         return SetCount("--readAheadTrigger", v, 1u << 20, &c->cache.read_ahead_trigger);
       }},
      {"--md5CacheSize", "NUM",
       "remember the MD5 of this many recently written blocks, to detect stale reads from an "
       "eventually consistent store; 0: off (default: 0)",
       [](Config* c, const std::string& v) {
         return SetCount("--md5CacheSize", v, uint64_t{1} << 32, &c->guard.cache_size);
       }},
      {"--md5CacheTime", "MILLIS",
       "how long a written block's MD5 is remembered; 0: forever (default: 0, needs "
       "--md5CacheSize)",
       [](Config* c, const std::string& v) {
         return SetCount("--md5CacheTime", v, 86400000, &c->guard.cache_time_ms);
       }},
      {"--minWriteDelay", "MILLIS",
       "least time between two writes of one block (default: 0, needs --md5CacheSize)",
       [](Config* c, const std::string& v) {
         return SetCount("--minWriteDelay", v, 86400000, &c->guard.min_write_delay_ms);
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

}  // namespace s3disk
