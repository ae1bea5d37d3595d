// The admin modes: commands that work on a bucket without mounting it, take only
// BUCKET[/PREFIX] (no mount point) and exit, like --reset-mounted-flag (stack.h).
//
//   s3disk --erase [--force] [options] BUCKET[/PREFIX]
//       Deletes every block object under the prefix (keys named as with or without
//       --blockHashPrefix, so a forgotten flag still erases everything) with the store's bulk
//       delete (S3 DeleteObjects, 1000 keys a request, --blockCacheThreads requests at once),
//       then the mount token object; block 0 goes with the blocks, and with it the geometry.
//       Other objects under the prefix are left alone. Refused while the bucket's mounted flag
//       is set (a live mount, or one that crashed) unless --force; asks for confirmation on the
//       terminal unless --force, and refuses when stdin is not a terminal.
//   s3disk --verify [options] BUCKET[/PREFIX]
//       Reads every block object exactly as a mount would (ObjectBlockStore: the ETag against
//       the body's MD5, the codec's HMAC and decoding), --blockCacheThreads at once, and lists
//       the bad ones on stdout with the reason: bad MD5, bad HMAC, cannot decode, foreign
//       block (beyond the disk's end, named with the other --blockHashPrefix setting, or
//       written with another codec), read error. Ends with "verify: N blocks checked, M bad".
//       Exit 0 when clean, kExitBadBlocks when a block is bad, 1 when it could not run.
//       Encrypted buckets need --encrypt and the password, as a mount does.
//   s3disk --summary [options] BUCKET[/PREFIX]
//       A HEAD of block 0 (the geometry and its Content-Encoding, which a mount also takes as
//       the bucket's) and one listing with sizes (ListOptions::sizes: on S3 the sizes come
//       with the listing, no request per block): blocks stored, zero blocks, logical and
//       stored bytes, compression ratio, block 0's encoding, the mounted flag, as a small
//       aligned table on stdout. Its progress counts the keys listed (no total is known).
// --verify and --summary open the bucket read-only (Validate sets --readOnly): they never
// write, and a public S3 bucket needs no credentials. Each mode reports progress on stderr
// (admin_progress.h). The geometry comes from block 0, or --size/--blockSize as for a mount.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/admin_progress.h"
#include "app/config.h"
#include "base/clock.h"
#include "base/status.h"
#include "block/block_store.h"
#include "block/bucket_meta.h"
#include "object/object_store.h"

namespace s3disk {

// Exit status of --verify when it found bad blocks (kExitFailure: it could not run).
inline constexpr int kExitBadBlocks = 2;

// The world the admin modes talk to; tests replace every part.
struct AdminIo {
  Clock* clock = &Clock::Real();
  Progress::Mode progress_mode = Progress::Mode::kLog;
  Progress::Sink progress_sink;  // null: Progress's default output
  bool stdin_is_terminal = false;
  // Asks a yes/no question; true for yes. Null: asks on stderr, reads a line from stdin.
  std::function<bool(const std::string& question)> confirm;
  // Receives the report lines (bad blocks, the summary table). Null: stdout.
  std::function<void(const std::string& line)> out;
};

// The real process: the progress mode for stderr, isatty(stdin).
AdminIo ProcessAdminIo();

// --erase.
struct EraseReport {
  uint64_t blocks_deleted = 0;
  uint32_t mount_token = 0;  // the token found (and deleted); 0: none
};
// EBUSY while the mounted flag is set and no --force; EINVAL when confirmation is needed but
// stdin is not a terminal; ECANCELED when the user says no (nothing deleted then).
Result<EraseReport> EraseBucket(ObjectStore& store, const Config& config, const AdminIo& io);

// --verify.
struct BadBlock {
  BlockNum n = 0;
  std::string key;
  std::string reason;  // BadBlockReason's words
  std::string detail;  // the error message
};
struct VerifyReport {
  uint64_t checked = 0;       // block objects read
  std::vector<BadBlock> bad;  // sorted by block number, then key
};
Result<VerifyReport> VerifyBucket(std::shared_ptr<ObjectStore> store, const Config& config,
                                  const AdminIo& io);
// "bad MD5", "bad HMAC", "foreign block" (written with another codec), "cannot decode"
// (another EBADMSG), or "read error" (anything else: the block could not be checked).
std::string BadBlockReason(const Status& st);
// "bad block 0000002a (key vol/0000002a): bad MD5: DETAIL"
std::string FormatBadBlock(const BadBlock& b);
// "verify: 12 blocks checked, 1 bad", plus a hint when every block checked is bad.
std::string FormatVerifySummary(const VerifyReport& r);

// --summary.
struct BucketSummary {
  std::string bucket;  // BucketDisplay
  std::string prefix;
  Geometry geometry;           // 0 = unknown (no block 0 and no --size)
  uint64_t blocks_stored = 0;  // block objects within the disk (all of them if its size is unknown)
  uint64_t stored_bytes = 0;   // the sum of their object sizes
  uint64_t foreign_blocks = 0;  // block keys beyond the disk or named with the other hash setting
  uint64_t other_objects = 0;   // anything else under the prefix but the mount token
  std::string block0_encoding;  // block 0's Content-Encoding ("plain" if none; "" no block 0)
  uint32_t mount_token = 0;     // 0: not mounted
};
Result<BucketSummary> SummarizeBucket(ObjectStore& store, const Config& config, const AdminIo& io);
// The aligned table, one line per entry, "name" padded to one column, then the value.
std::vector<std::string> FormatSummary(const BucketSummary& s);

// Runs the admin mode of a validated config (config.AdminMode()) on the real process: opens
// the object store (stack.h), runs the mode, prints. Returns the exit status.
int RunAdmin(const Config& config);

}  // namespace s3disk
