// CacheFile: the block cache's file (--blockCacheFile), so cached blocks survive a restart and
// dirty blocks survive a crash (the format is described at the top of cache_file.cc).
//
// The file holds a fixed number of slots; each slot holds one block and a small record
// (block number, clean/dirty, sequence number, MD5 of the data) that is checksummed, so a
// record or block torn by a crash is detected and ignored, never served. BlockCache decides
// what goes where; this class only reads and writes slots. Thread-safe for calls on
// different slots; callers serialize calls on one slot (BlockCache does, under its lock).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/crypto.h"
#include "base/status.h"
#include "block/block_store.h"

namespace s3disk {

// What a cache file says about the mount that last used it.
struct CacheClaim {
  uint32_t token = 0;         // its mount token (0: none recorded)
  uint64_t dirty_blocks = 0;  // dirty blocks waiting in the file
};

class CacheFile {
 public:
  // A valid slot found when the file was opened.
  struct Found {
    uint32_t slot = 0;
    BlockNum n = 0;
    bool dirty = false;
    bool zero = false;  // the block is all zeros (its data area is not used)
    uint64_t seq = 0;
    Md5Digest md5{};  // of the data (of block_size zeros when zero)
  };

  // Opens path, creating it when absent. identity names the bucket and prefix the blocks
  // belong to. A file made for another identity, block size, block count or slot count is
  // started afresh when it holds no dirty block, and refused (EINVAL) when it does: its
  // dirty blocks belong to the bucket it was made for. A file with data but no valid header
  // (another program's, or damaged) is refused (EINVAL) and left as it is. Scans every slot's
  // record.
  static Result<std::unique_ptr<CacheFile>> Open(const std::string& path,
                                                 const std::string& identity, uint32_t block_size,
                                                 uint64_t num_blocks, uint32_t slots);
  ~CacheFile();
  CacheFile(const CacheFile&) = delete;
  CacheFile& operator=(const CacheFile&) = delete;

  uint32_t slots() const { return slots_; }
  uint32_t block_size() const { return block_size_; }
  const std::string& path() const { return path_; }
  // Slots whose record was valid at Open. Their data is checked by ReadData.
  const std::vector<Found>& found() const { return found_; }
  // Records at Open that were neither empty nor valid (torn or foreign).
  uint64_t bad_records() const { return bad_records_; }
  // True if Open started the file afresh (it was new, or made for something else).
  bool fresh() const { return fresh_; }

  // Reads slot's data into data (block_size bytes) and checks it against the record's MD5
  // (EBADMSG on mismatch: a torn write). A zero record fills zeros.
  Status ReadData(const Found& f, std::span<uint8_t> data);
  // Writes the block into slot: data first (unless zero), then the record. Not synced.
  // md5: data's, when the caller knows it (else it is computed here).
  Status Put(uint32_t slot, BlockNum n, bool dirty, uint64_t seq, std::span<const uint8_t> data,
             bool zero, const Md5Digest* md5 = nullptr);
  // Rewrites slot's record as clean, for the data last Put there (after an upload).
  Status MarkClean(uint32_t slot);
  // Empties slot (its record no longer names a block).
  Status Clear(uint32_t slot);
  // fdatasync: every Put/MarkClean/Clear before it is durable.
  Status Sync();
  // The mount token of the mount that last used this file (0: none recorded), and how many
  // dirty blocks Open found. Together they tell a crashed mount of ours (the bucket still
  // holds this token) from a bucket someone else mounted since (stack.cc decides).
  uint32_t mount_token() const { return mount_token_; }
  uint64_t dirty_found() const;
  // Records the token of the mount now using the file, durably.
  Status SetMountToken(uint32_t token);
  // The claim of the file at path, read with the file's own geometry, for decisions taken
  // before the mount's geometry is known (stack.cc). {} when there is no file, or it is not a
  // cache file of identity (Open decides about those). EBUSY when a process has it open;
  // EINVAL, as Open, for a file with data but no valid header (not ours, or damaged).
  static Result<CacheClaim> ReadClaim(const std::string& path, const std::string& identity);

 private:
  CacheFile(std::string path, int fd, uint32_t block_size, uint32_t slots, uint64_t file_id);
  uint64_t SlotOffset(uint32_t slot) const;
  Status WriteRecord(uint32_t slot, const Found& f);

  const std::string path_;
  const int fd_;
  const uint32_t block_size_;
  const uint32_t slots_;
  const uint64_t file_id_;  // random, in the header and every record
  std::vector<Found> found_;
  uint64_t bad_records_ = 0;
  uint32_t mount_token_ = 0;
  bool fresh_ = false;
  // The last record written per slot (for MarkClean); guarded by the caller's per-slot
  // serialization.
  std::vector<Found> last_;
};

}  // namespace s3disk
