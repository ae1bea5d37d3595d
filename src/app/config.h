// The command line: every option s3disk takes, its default, and the checks that run before
// anything is mounted or written.
//
// ParseArgs turns argv into a Config (syntax only: unknown options, missing values, size
// suffixes). Validate checks the values against each other and the file system (block size,
// size, names, the mount point) and makes paths absolute, because the daemon changes its
// working directory to "/". Neither prints nor exits: a failure is a Status with EINVAL and a
// one-line message naming the problem and the fix; main prints it as "s3disk: MESSAGE" and
// exits with kExitFailure. Checks that need the bucket (its stored geometry, the mount token)
// live in stack.h, after the object store is open.
//
// Spellings follow s3backer: "--name=value" and "--name value" are both accepted.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "block/block_cache.h"
#include "block/codec.h"
#include "block/consistency_guard.h"
#include "block/journal.h"
#include "s3/s3_options.h"

namespace s3disk {

// Process exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;

// Block size limits and default (s3backer's format allows any power of two; these bound
// memory per block and per request).
inline constexpr uint32_t kMinBlockSize = 512;
inline constexpr uint32_t kMaxBlockSize = 64u << 20;
inline constexpr uint32_t kDefaultBlockSize = 128u << 10;
// Block numbers are 8 hex digits in the object keys.
inline constexpr uint64_t kMaxBlocks = uint64_t{1} << 32;

// What fsync (FUSE fsync and flush, NBD FLUSH and FUA) waits for: --fsyncTo.
enum class FsyncTo {
  kBucket,   // every earlier write is in the bucket
  kJournal,  // every earlier write is in the journal beside --blockCacheFile (synced)
};

enum class BucketKind {
  kDirectory,  // file:///abs/dir, or a directory path with --test
  kMemory,     // mem: (nothing survives the process; tests and benchmarks)
  kS3,         // a plain bucket name, optionally BUCKET/PREFIX
};

struct Config {
  // Positional arguments as given.
  std::vector<std::string> args;

  // The bucket, from args[0].
  std::string bucket_arg;  // as typed, for messages
  BucketKind bucket_kind = BucketKind::kDirectory;
  std::string bucket_dir;   // kDirectory: the directory (absolute after Validate)
  std::string bucket_name;  // kS3: the name before the first '/'
  // Key prefix: --prefix, or for S3 the part of BUCKET/PREFIX after the first '/'.
  std::string prefix;
  bool hash_prefix = false;  // --blockHashPrefix

  // kS3: the S3 options (credentials.h's S3CliOptions(): --baseURL, --region, --accessFile,
  // ...). Validate sets options.bucket, resolves the credentials (refused without them unless
  // --readOnly), makes --accessFile and --cacert absolute and turns verify_etag off with
  // --sse=aws:kms or --sse-key-id (the ETags of such objects are not the MD5 of their bodies).
  S3CliSettings s3;

  // The mount point, from args[1] (absolute after Validate). Empty in reset-only mode.
  std::string mountpoint;

  // Geometry from the command line; 0 = not given (then the bucket's, or the default).
  uint32_t block_size = 0;  // --blockSize
  uint64_t size_bytes = 0;  // --size

  bool read_only = false;           // --readOnly
  bool force = false;               // --force
  bool reset_mounted_flag = false;  // --reset-mounted-flag
  bool list_blocks = false;         // --listBlocks (implied for local buckets by Validate)
  bool test_mode = false;           // --test: BUCKET is a directory path
  // Admin modes (admin.h), next to --reset-mounted-flag: s3disk --erase|--verify|--summary
  // [options] BUCKET, then exit.
  bool erase = false;    // --erase: delete every block (asks unless --force)
  bool verify = false;   // --verify: read and check every block
  bool summary = false;  // --summary: blocks, sizes, compression ratio

  std::string filename = "file";         // --filename
  std::string stats_filename = "stats";  // --statsFilename
  bool no_writeback_cache = false;       // --noWritebackCache: writes reach the stack at once
  // --fileMode; default 0600, or 0400 with --readOnly (as s3backer).
  uint32_t file_mode = 0600;
  bool file_mode_given = false;

  bool foreground = false;  // -f (or -d)
  bool debug = false;       // --debug or -d: debug logging
  // -o OPT[,OPT...], split at commas, in order. uid=N and gid=N are taken out by Validate
  // (they set the owner of the files); the rest go to FUSE.
  std::vector<std::string> fuse_options;
  // Owner of the files in the mount; -1 = the mounting user (set by Validate).
  int64_t uid = -1;
  int64_t gid = -1;

  // Codecs (codec.h), as s3backer: blocks compressed and/or encrypted in the bucket.
  bool compress = false;      // --compress[=ALGO[:LEVEL]]
  std::string compress_spec;  // its value: "", "9", "deflate", "zstd:3" (checked by Validate)
  bool encrypt = false;       // --encrypt[=CIPHER]
  std::string cipher;         // its value; empty = aes-128-cbc
  std::string password;       // --password, or the first line of --passwordFile (Validate)
  std::string password_file;  // --passwordFile (absolute after Validate)
  uint32_t key_length = 0;    // --keyLength in bytes; 0 = the cipher's key length
  // Set by main, not an option: no password given, stdin is a terminal, so main asks for it
  // after Validate (password_prompt.h); Validate then checks the cipher with a stand-in.
  bool password_prompt = false;

  // The block cache's options as the command line sets them (--blockCacheSize,
  // --blockCacheThreads, --blockCacheWriteDelay, --blockCacheMaxDirty, --blockCacheSync,
  // --blockCacheNoVerify, --readAhead, --readAheadTrigger, --readAheadMax); block_cache.h
  // has each one's default and meaning. cache_size_blocks 0: no cache (every I/O goes to the
  // bucket). Validate checks them against each other; BuildStack passes them on with
  // read_only set from --readOnly.
  BlockCacheOptions cache;
  // --blockCacheFile (absolute after Validate): BuildStack opens it for the cache.
  std::string block_cache_file;
  // --uploadStaleDirtyBlocks: upload the dirty blocks of --blockCacheFile even though the
  // bucket was mounted since they were written (they may overwrite newer data).
  bool upload_stale_dirty_blocks = false;
  // The consistency guard's options as the command line sets them (--md5CacheSize,
  // --md5CacheTime, --minWriteDelay); consistency_guard.h has the defaults. Composed only
  // when cache_size > 0: off by default (AWS S3 is strongly consistent); s3backer's defaults
  // are 1000, 10000, 500. BuildStack passes them on with the retry pauses of the S3 options
  // (--initialRetryPause, --maxRetryPause).
  ConsistencyGuardOptions guard;
  // --fsyncTo=journal: a journal (journal.h) between the upper zero map and the cache, in the
  // file --blockCacheFile + ".journal"; fsync returns once the writes before it are synced
  // there, and the bucket follows in flush order. Validate allows it only with
  // --blockCacheFile, a cache and a writable mount.
  FsyncTo fsync_to = FsyncTo::kBucket;
  // The journal's options as the command line sets them (--journalSize); journal.h has the
  // defaults. Used only with --fsyncTo=journal.
  JournalOptions journal;
  bool journal_size_given = false;  // --journalSize (refused without --fsyncTo=journal)

  bool help = false;     // --help, -h
  bool version = false;  // --version

  // NBD mode (--nbd): serve the disk through nbdkit instead of mounting it with FUSE.
  // args[1], when given, is the kernel NBD device to attach (absolute after Validate).
  bool nbd = false;        // --nbd
  std::string nbd_device;  // args[1] in NBD mode, or empty
  std::string nbd_socket;  // --socket (absolute after Validate); empty: a private one
  std::string stats_file;  // --statsFile (absolute after Validate): NBD mode's statistics
  // Set by the nbdkit plugin, not an option: nbdkit owns the socket, so neither a device nor
  // --socket is needed.
  bool nbd_plugin = false;

  // True for s3disk --reset-mounted-flag BUCKET (no mount point): clear the flag and exit.
  bool ResetOnly() const { return reset_mounted_flag && args.size() == 1 && !nbd; }
  // True for s3disk --erase, --verify or --summary (Validate allows one at a time, BUCKET only).
  bool AdminMode() const { return erase || verify || summary; }
  bool IsLocalBucket() const { return bucket_kind != BucketKind::kS3; }
  // The journal's file, beside the cache file: --blockCacheFile + ".journal".
  std::string JournalPath() const { return block_cache_file + ".journal"; }
};

// Parses argv (argv[0] is the program name). Fails on unknown options, missing or unexpected
// values, and malformed sizes or modes. --help and --version parse even with other errors
// absent; the caller checks them before Validate.
Result<Config> ParseArgs(int argc, char** argv);
Result<Config> ParseArgs(const std::vector<std::string>& argv);

// Checks the parsed config (arguments, bucket form, block size, size, names, mount point),
// then normalizes it: absolute paths, implied --listBlocks for local buckets, --fileMode
// default, uid/gid from -o. Changes nothing outside *config.
Status Validate(Config* config);

// For front ends that take options as NAME=VALUE pairs (the nbdkit plugin): whether the
// option NAME (with its dashes, e.g. "--size") exists and whether it takes a value.
// kOptionalValue: "--name" alone or "--name=VALUE", never the next argument (--compress,
// --encrypt); "--name=" means the same as "--name" alone.
enum class OptionKind { kUnknown, kFlag, kValue, kOptionalValue };
OptionKind FindOptionKind(const std::string& name);

// The options whose value is a file or directory (FILE or PATH in --help): --socket,
// --statsFile, --passwordFile, --blockCacheFile, --accessFile, --cacert.
std::vector<std::string> PathOptionNames();
// A file option's value as Validate stores it, because the daemon (and nbdkit under a daemon
// s3disk --nbd) runs in "/": "~" and "~/..." in $HOME, anything else absolute against the
// working directory.
std::string AbsoluteFilePath(const std::string& path);

// Checks that path can be mounted on: it exists, is a directory, and is not already a mount
// point (or a dead FUSE mount). Returns its absolute, symlink-free path.
Result<std::string> CheckMountPoint(const std::string& path);

// Parses "128k", "1G", "64MiB", "512", ... (powers of 1024; k m g t in either case, then
// optionally "b" or "ib"). Fails on anything else or on overflow. name is used in messages.
Result<uint64_t> ParseSize(const std::string& name, const std::string& text);
// "128k", "1g", "1000": the shortest exact spelling, for messages.
std::string FormatSize(uint64_t bytes);

// The codec settings of a validated config. The key-derivation salt is the bucket name and
// the prefix: for an S3 bucket its name, for a directory bucket the directory's last
// component (so a local copy of an S3 bucket named like the bucket decrypts), "mem" for mem:.
CodecOptions MakeCodecOptions(const Config& config);

// The --help text: usage and every option with a one-line description.
std::string UsageText();

// How the bucket is named in messages: the directory, "mem:", or the S3 bucket name.
std::string BucketDisplay(const Config& config);

}  // namespace s3disk
