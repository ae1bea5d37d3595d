// JournalFile: the journal's ring file (--fsyncTo=journal; the format is in doc/FORMAT.md and
// at the top of journal_file.cc). No threads, no policy: Journal decides what goes where.
//
// The file is two header copies and a ring of `capacity` bytes. Records are appended at
// logical positions that only grow (the file offset is kRingStart + pos % capacity); each
// carries a sequence number one above the previous record's, the epoch it belongs to and a
// checksum of itself and its data. The header says where the live part of the ring starts
// (the tail: position and sequence number) and which mount last used the file. Open scans
// from the tail and keeps the records up to the first one that is missing, torn or of an
// earlier lap: after a crash, that is every record written before the last Sync.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/crypto.h"
#include "base/file_io.h"
#include "base/status.h"
#include "block/block_store.h"
#include "block/cache_file.h"

namespace s3disk {

struct JournalRecord {
  enum class Kind : uint8_t {
    kData = 1,  // block holds the length (= block size) bytes that follow
    kZero = 2,  // block is all zeros
    kPart = 3,  // bytes [offset, offset + length) of block are the bytes that follow
    kTrim = 4,  // blocks [block, block + count) are all zeros
    kPad = 5,   // nothing: the ring's end follows (the next record is at the ring's start)
  };
  Kind kind = Kind::kData;
  uint64_t pos = 0;    // logical position of the record in the ring
  uint64_t seq = 0;    // one above the previous record's
  uint64_t epoch = 0;  // the flush interval it was written in
  BlockNum block = 0;
  uint32_t offset = 0;
  uint32_t length = 0;  // bytes of data after the record header
  uint64_t count = 0;   // kTrim only
  uint32_t crc = 0;     // of the data (JournalFile::Write sets it)

  // Bytes the record takes in the ring, header and data, rounded up to kAlign.
  uint64_t size() const;
};

class JournalFile {
 public:
  static constexpr uint64_t kHeaderBytes = 64;        // each record's header
  static constexpr uint64_t kAlign = 64;              // records start at multiples of this
  static constexpr uint64_t kRingStart = 8192;        // after the two header copies
  static constexpr uint64_t kMinCapacity = 16 << 20;  // the smallest --journalSize

  // Opens the journal on io (path names it in messages). identity names the bucket and prefix.
  // A new (empty) file is made a journal of capacity bytes (a multiple of kAlign). A journal
  // of another identity or block size is started afresh when it holds no record, and refused
  // (EINVAL) when it does. A file whose two header copies are both invalid is refused
  // (EINVAL) and left as it is, unless it is empty. A journal with records keeps its own
  // capacity; an empty one takes the capacity asked for. Scans the records.
  static Result<std::unique_ptr<JournalFile>> Open(std::unique_ptr<FileIo> io,
                                                   const std::string& path,
                                                   const std::string& identity, uint32_t block_size,
                                                   uint64_t capacity);
  // Opens (or creates) the file at path, locked, then as above.
  static Result<std::unique_ptr<JournalFile>> OpenPath(const std::string& path,
                                                       const std::string& identity,
                                                       uint32_t block_size, uint64_t capacity);
  // The claim of the journal at path: its mount token and how many data records it holds.
  // {} when there is no file or it is empty; EINVAL as Open for a damaged header; EBUSY when
  // a process has it open.
  static Result<CacheClaim> ReadClaim(const std::string& path, const std::string& identity);

  const std::string& path() const { return path_; }
  uint64_t capacity() const { return capacity_; }
  uint32_t block_size() const { return block_size_; }
  // The records Open found, oldest first (pads left out).
  const std::vector<JournalRecord>& found() const { return found_; }
  // Where the ring's live part starts and where the next record goes, as Open found them.
  uint64_t tail_pos() const { return tail_pos_; }
  uint64_t tail_seq() const { return tail_seq_; }
  uint64_t head_pos() const { return head_pos_; }
  uint64_t head_seq() const { return head_seq_; }
  uint32_t mount_token() const { return mount_token_; }
  // Records found at Open that are not pads.
  uint64_t records_found() const { return found_.size(); }

  // Writes rec (its header) and data (rec.length bytes) at rec.pos, and sets rec.crc. The
  // record must fit before the ring's end (the caller writes a kPad record first when it would
  // not; a pad is its header alone). Not synced.
  Status Write(JournalRecord& rec, std::span<const uint8_t> data);
  // Reads rec's data (rec.length bytes) into out and checks it against the record's
  // checksum (EBADMSG on mismatch).
  Status ReadData(const JournalRecord& rec, std::span<uint8_t> out);
  // fdatasync of the file.
  Status Sync();
  // Records, durably, that the ring's live part now starts at pos with sequence number seq,
  // and that no record from there on is of an epoch below epoch: the space before pos may be
  // written over.
  Status SetTail(uint64_t pos, uint64_t seq, uint64_t epoch);
  // SetTail in two steps, for a caller that shares syncs: WriteTail writes the header without
  // syncing it; once a Sync that started after it has succeeded, TailSynced. A WriteTail
  // without its TailSynced is written over by the next WriteTail, never the durable copy.
  Status WriteTail(uint64_t pos, uint64_t seq, uint64_t epoch);
  void TailSynced();
  // Records, durably, a new epoch base above every epoch written so far (by this mount's
  // predecessors, found or torn) and returns it: the epochs of the mount starting now.
  Result<uint64_t> NewEpochBase();
  static constexpr uint64_t kEpochsPerMount = 1ULL << 32;
  // Records, durably, the token of the mount now using the file.
  Status SetMountToken(uint32_t token);

 private:
  struct Header;
  JournalFile(std::unique_ptr<FileIo> io, std::string path);
  // The newer valid header copy (false: none, and the file holds nothing; EINVAL: none, and
  // the file holds data).
  Result<bool> ReadHeader(Header* best);
  // Takes the header's fields, then scans the records from its tail.
  Status Load(const Header& h);
  // Writes the next header copy (generation + 1) and syncs.
  Status WriteHeader();
  // Writes the next header copy, unsynced (generation_ stays).
  Status WriteHeaderCopy();
  // Allocates the ring on disk, so a full disk refuses the mount instead of failing a write;
  // fill: a new ring, written with zeros too.
  Status Reserve(bool fill);
  // Finds the records from the tail: found_, head_pos_, head_seq_.
  Status Scan();
  uint64_t FileOffset(uint64_t pos) const { return kRingStart + pos % capacity_; }

  std::unique_ptr<FileIo> io_;
  const std::string path_;
  std::string identity_;
  uint32_t block_size_ = 0;
  uint64_t capacity_ = 0;
  Md5Digest identity_md5_{};
  uint64_t file_id_ = 0;     // random, in the header and every record
  uint64_t generation_ = 0;  // of the newest header copy; copy generation % 2 is written next
  uint64_t tail_pos_ = 0;
  uint64_t tail_seq_ = 1;
  uint64_t tail_epoch_ = 0;
  uint64_t head_pos_ = 0;
  uint64_t head_seq_ = 1;
  uint32_t mount_token_ = 0;
  uint64_t epoch_base_ = 0;
  std::vector<JournalRecord> found_;
};

}  // namespace s3disk
