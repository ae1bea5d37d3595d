// The journal's ring file (doc/FORMAT.md, "Journal file").
//
// Format (integers in host byte order; the file is local to one machine):
//   header copies A at offset 0 and B at 4096 (104 bytes each):
//     0  char[8]  magic "S3DKJRNL"
//     8  u32      version (1)
//     12 u32      block size in bytes
//     16 u64      ring capacity in bytes (a multiple of 64)
//     24 u64      file id: random, chosen when the journal is (re)made; every record repeats it
//     32 u64      generation: the newer valid copy wins; copy (generation % 2) is written next
//     40 u64      tail position (logical: the ring offset is position % capacity)
//     48 u64      tail sequence number (of the record at the tail)
//     56 u64      tail epoch: the record at the tail, and every one after it, is of this
//                 epoch or a later one
//     64 u32      mount token of the mount that last used the file (0: none recorded)
//     68 u32      zero
//     72 u64      epoch base: every epoch of the mount that wrote it is at or above it
//     80 u8[16]   MD5 of the identity (bucket and prefix) the blocks belong to
//     96 u32      CRC-32 (zlib) of bytes 0..95
//     100 u32     zero
//   the ring: capacity bytes from offset 8192. A record is a 64-byte header and its data,
//   padded to a multiple of 64, never split by the ring's end:
//     0  u32      magic 0x4C4E524A
//     4  u8       kind: 1 data, 2 zero, 3 part, 4 trim, 5 pad (JournalRecord::Kind)
//     5  u8[3]    zero
//     8  u64      sequence number (one above the previous record's)
//     16 u64      epoch (never below the previous record's)
//     24 u32      block (trim: the first block)
//     28 u32      offset in the block (part)
//     32 u32      length of the data that follows (data: block size; part: > 0; else 0)
//     36 u32      zero
//     40 u64      count of blocks (trim)
//     48 u64      file id (as in the header)
//     56 u32      CRC-32 of the data
//     60 u32      CRC-32 of bytes 0..59
//
// A mount's epochs start at a base above every epoch an earlier mount could have written
// (NewEpochBase, synced before its first record), so a stale record of an earlier mount that
// happens to follow a new one with the right sequence number has a lower epoch: the scan
// stops there, as at any record whose epoch goes down. The tail epoch does the same once the
// tail has passed the new mount's records: the scan starts with it as the lowest epoch.
//
// Header copies alternate, so a torn header write leaves the other copy, one step older,
// which is still right: the tail it names is not yet written over (Journal moves its tail in
// memory only after SetTail returned). A scan from the tail accepts records while each is
// valid, has the next sequence number and fits; the first that does not ends the journal.
// Records of an earlier lap have lower sequence numbers; of an earlier file, another file id.
//
// Invariants
//   | invariant                                          | kept by                          |
//   |----------------------------------------------------|----------------------------------|
//   | the records found are a prefix of those written    | scan stops at the first invalid  |
//   |   since the tail (so every synced one is there)    |   record (sequence, CRCs, id)    |
//   | a journal with records is never reset silently     | Open refuses another identity or |
//   |                                                    |   block size (EINVAL)            |
//   | a file whose headers are not ours is never touched | Open refuses it unless it is no  |
//   |                                                    |   longer than the header area    |
//   | one process uses the file at a time                | FdFileIo holds flock(LOCK_EX)    |
#include "block/journal_file.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "base/crypto.h"

namespace s3disk {
namespace {

constexpr char kMagic[8] = {'S', '3', 'D', 'K', 'J', 'R', 'N', 'L'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kCopyOffset[2] = {0, 4096};
constexpr uint32_t kRecordMagic = 0x4C4E524A;

struct RecordHeader {
  uint32_t magic;
  uint8_t kind;
  uint8_t zero[3];
  uint64_t seq;
  uint64_t epoch;
  uint32_t block;
  uint32_t offset;
  uint32_t length;
  uint32_t zero2;
  uint64_t count;
  uint64_t file_id;
  uint32_t data_crc;
  uint32_t header_crc;
};
static_assert(sizeof(RecordHeader) == JournalFile::kHeaderBytes);

uint32_t Crc(const void* p, size_t n) {
  return static_cast<uint32_t>(crc32(0, static_cast<const Bytef*>(p), static_cast<uInt>(n)));
}

uint32_t DataCrc(std::span<const uint8_t> data) {
  // zlib takes at most 4 GiB at a time; a block is far smaller.
  return Crc(data.data(), data.size());
}

uint64_t NewFileId() {
  std::random_device rd;
  uint64_t id = (uint64_t{rd()} << 32) | rd();
  return id == 0 ? 1 : id;
}

}  // namespace

struct JournalFile::Header {
  char magic[8];
  uint32_t version;
  uint32_t block_size;
  uint64_t capacity;
  uint64_t file_id;
  uint64_t generation;
  uint64_t tail_pos;
  uint64_t tail_seq;
  uint64_t tail_epoch;
  uint32_t mount_token;
  uint32_t zero;
  uint64_t epoch_base;
  uint8_t identity_md5[16];
  uint32_t crc;
  uint32_t zero2;

  bool Valid() const {
    static_assert(sizeof(Header) == 104);
    return memcmp(magic, kMagic, 8) == 0 && version == kVersion &&
           crc == Crc(this, offsetof(Header, crc)) && block_size > 0 && capacity >= kAlign &&
           capacity % kAlign == 0 && file_id != 0;
  }
};

uint64_t JournalRecord::size() const {
  uint64_t n = JournalFile::kHeaderBytes + length;
  return (n + JournalFile::kAlign - 1) / JournalFile::kAlign * JournalFile::kAlign;
}

JournalFile::JournalFile(std::unique_ptr<FileIo> io, std::string path)
    : io_(std::move(io)), path_(std::move(path)) {}

Result<std::unique_ptr<JournalFile>> JournalFile::OpenPath(const std::string& path,
                                                           const std::string& identity,
                                                           uint32_t block_size, uint64_t capacity) {
  Result<std::unique_ptr<FdFileIo>> io = FdFileIo::Open(path, /*create=*/true);
  if (!io.ok()) return io.status().WithContext("journal");
  return Open(std::move(*io), path, identity, block_size, capacity);
}

Result<std::unique_ptr<JournalFile>> JournalFile::Open(std::unique_ptr<FileIo> io,
                                                       const std::string& path,
                                                       const std::string& identity,
                                                       uint32_t block_size, uint64_t capacity) {
  // Room for two records of a whole block at least (the option asks for kMinCapacity).
  if (capacity < 2 * (kHeaderBytes + block_size) || capacity % kAlign != 0) {
    return Status::Errorf(EINVAL,
                          "journal: a capacity of %llu bytes is too small or not a multiple of 64",
                          static_cast<unsigned long long>(capacity));
  }
  std::unique_ptr<JournalFile> f(new JournalFile(std::move(io), path));
  Header best{};
  Result<bool> found = f->ReadHeader(&best);
  if (!found.ok()) return found.status();
  Md5Digest id_md5 = Md5({reinterpret_cast<const uint8_t*>(identity.data()), identity.size()});
  if (*found) {
    S3DISK_RETURN_IF_ERROR(f->Load(best));
    const bool same =
        best.block_size == block_size && memcmp(best.identity_md5, id_md5.data(), 16) == 0;
    if (!same && !f->found_.empty()) {
      return Status::Errorf(EINVAL,
                            "journal: %s holds %zu writes of another bucket or block size than "
                            "%s; mount that bucket with it to upload them, or remove it to "
                            "discard them",
                            path.c_str(), f->found_.size(), identity.c_str());
    }
    if (same && (!f->found_.empty() || best.capacity == capacity)) {
      f->identity_ = identity;
      S3DISK_RETURN_IF_ERROR(f->Reserve(/*fill=*/false));
      return f;
    }
  }
  // A new journal (or an empty one made for something else, or of another size).
  f->identity_ = identity;
  f->block_size_ = block_size;
  f->capacity_ = capacity;
  f->file_id_ = NewFileId();
  f->tail_pos_ = f->head_pos_ = 0;
  f->tail_seq_ = f->head_seq_ = 1;
  f->tail_epoch_ = 0;
  f->mount_token_ = 0;
  f->found_.clear();
  memcpy(f->identity_md5_.data(), id_md5.data(), 16);
  // Both copies, so neither can name the old file id.
  S3DISK_RETURN_IF_ERROR(f->WriteHeader());
  S3DISK_RETURN_IF_ERROR(f->WriteHeader());
  S3DISK_RETURN_IF_ERROR(f->Reserve(/*fill=*/true));
  return f;
}

Result<bool> JournalFile::ReadHeader(Header* best) {
  Result<uint64_t> size = io_->Size();
  if (!size.ok()) return size.status().WithContext("journal: " + path_);
  bool found = false;
  for (uint64_t off : kCopyOffset) {
    Header h{};
    Result<size_t> got = io_->ReadAt({reinterpret_cast<uint8_t*>(&h), sizeof h}, off);
    if (!got.ok()) return got.status().WithContext("journal: read " + path_);
    if (*got == sizeof h && h.Valid() && (!found || h.generation > best->generation)) {
      *best = h;
      found = true;
    }
  }
  // No record is written before a header is synced: a file no longer than the header area
  // holds none (a new file, or one whose making stopped half way).
  if (!found && *size > kRingStart) {
    return Status::Errorf(EINVAL,
                          "journal: %s has no valid header (both copies are damaged, or it is "
                          "another program's file) and may hold acknowledged writes; it was left "
                          "as it is: move it aside, or remove it to discard what it holds",
                          path_.c_str());
  }
  return found;
}

Status JournalFile::Load(const Header& h) {
  block_size_ = h.block_size;
  capacity_ = h.capacity;
  file_id_ = h.file_id;
  generation_ = h.generation;
  tail_pos_ = h.tail_pos;
  tail_seq_ = h.tail_seq;
  tail_epoch_ = h.tail_epoch;
  mount_token_ = h.mount_token;
  epoch_base_ = h.epoch_base;
  memcpy(identity_md5_.data(), h.identity_md5, 16);
  return Scan();
}

Status JournalFile::Reserve(bool fill) {
  // After the headers: a file cut short here still has them, so it is not taken for one
  // holding records behind a damaged header.
  Status st = io_->Reserve(kRingStart + capacity_);
  if (st.ok() && fill) {
    // Written once with zeros, the ring's blocks are plain data to the file system: an
    // fdatasync then writes the records alone, without converting allocated-but-unwritten
    // extents in its own journal first (which doubles the cost of every flush).
    std::vector<uint8_t> zeros(std::min<uint64_t>(capacity_, 1 << 20));
    for (uint64_t off = 0; off < capacity_ && st.ok(); off += zeros.size()) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), capacity_ - off));
      st = io_->WriteAt({zeros.data(), n}, kRingStart + off);
    }
    if (st.ok()) st = io_->Sync();
  }
  if (st.ok()) return st;
  return Status::Errorf(st.code(),
                        "journal: no room for %s (%s); give a smaller --journalSize, or put "
                        "--blockCacheFile where there is room",
                        path_.c_str(), st.message().c_str());
}

Status JournalFile::Scan() {
  found_.clear();
  uint64_t pos = tail_pos_;
  uint64_t seq = tail_seq_;
  uint64_t epoch = tail_epoch_;
  std::vector<uint8_t> data;
  while (true) {
    const uint64_t room_to_end = capacity_ - pos % capacity_;
    RecordHeader h{};
    Result<size_t> got = io_->ReadAt({reinterpret_cast<uint8_t*>(&h), sizeof h}, FileOffset(pos));
    if (!got.ok()) return got.status().WithContext("journal: read " + path_);
    if (*got != sizeof h || h.magic != kRecordMagic || h.file_id != file_id_ || h.seq != seq ||
        h.header_crc != Crc(&h, offsetof(RecordHeader, header_crc)) || h.epoch < epoch ||
        h.zero[0] != 0 || h.zero[1] != 0 || h.zero[2] != 0 || h.zero2 != 0) {
      break;
    }
    JournalRecord r;
    r.kind = static_cast<JournalRecord::Kind>(h.kind);
    r.pos = pos;
    r.seq = h.seq;
    r.epoch = h.epoch;
    r.block = h.block;
    r.offset = h.offset;
    r.length = h.length;
    r.count = h.count;
    r.crc = h.data_crc;
    bool shape_ok = false;
    switch (r.kind) {
      case JournalRecord::Kind::kData:
        shape_ok = r.length == block_size_ && r.offset == 0;
        break;
      case JournalRecord::Kind::kPart:
        shape_ok = r.length > 0 && uint64_t{r.offset} + r.length <= block_size_;
        break;
      case JournalRecord::Kind::kZero:
      case JournalRecord::Kind::kPad:
        shape_ok = r.length == 0 && r.offset == 0;
        break;
      case JournalRecord::Kind::kTrim:
        shape_ok = r.length == 0 && r.offset == 0 && r.count > 0;
        break;
    }
    const uint64_t span = r.kind == JournalRecord::Kind::kPad ? room_to_end : r.size();
    if (!shape_ok || r.size() > room_to_end || pos + span - tail_pos_ > capacity_) break;
    if (r.length > 0) {
      data.resize(r.length);
      Status read = ReadData(r, data);
      if (!read.ok()) {
        if (read.code() == EBADMSG) break;  // torn: the journal ends here
        return read;
      }
    }
    if (r.kind != JournalRecord::Kind::kPad) found_.push_back(r);
    epoch = r.epoch;
    pos += span;
    seq++;
  }
  head_pos_ = pos;
  head_seq_ = seq;
  return Status::Ok();
}

Status JournalFile::WriteHeader() {
  S3DISK_RETURN_IF_ERROR(WriteHeaderCopy());
  S3DISK_RETURN_IF_ERROR(io_->Sync().WithContext("journal: sync " + path_));
  generation_++;
  return Status::Ok();
}

Status JournalFile::WriteHeaderCopy() {
  Header h{};
  memcpy(h.magic, kMagic, 8);
  h.version = kVersion;
  h.block_size = block_size_;
  h.capacity = capacity_;
  h.file_id = file_id_;
  h.generation = generation_ + 1;
  h.tail_pos = tail_pos_;
  h.tail_seq = tail_seq_;
  h.tail_epoch = tail_epoch_;
  h.mount_token = mount_token_;
  h.epoch_base = epoch_base_;
  memcpy(h.identity_md5, identity_md5_.data(), 16);
  h.crc = Crc(&h, offsetof(Header, crc));
  S3DISK_RETURN_IF_ERROR(
      io_->WriteAt({reinterpret_cast<const uint8_t*>(&h), sizeof h}, kCopyOffset[h.generation % 2])
          .WithContext("journal: write " + path_));
  return Status::Ok();
}

Status JournalFile::Write(JournalRecord& rec, std::span<const uint8_t> data) {
  if (data.size() != rec.length || rec.pos % kAlign != 0 ||
      rec.pos % capacity_ + (rec.kind == JournalRecord::Kind::kPad ? kHeaderBytes : rec.size()) >
          capacity_) {
    return Status(EINVAL, "journal: a record that does not fit where it was placed");
  }
  RecordHeader h{};
  h.magic = kRecordMagic;
  h.kind = static_cast<uint8_t>(rec.kind);
  h.seq = rec.seq;
  h.epoch = rec.epoch;
  h.block = rec.block;
  h.offset = rec.offset;
  h.length = rec.length;
  h.count = rec.count;
  h.file_id = file_id_;
  rec.crc = h.data_crc = DataCrc(data);
  h.header_crc = Crc(&h, offsetof(RecordHeader, header_crc));
  const uint64_t at = FileOffset(rec.pos);
  if (!data.empty()) {
    S3DISK_RETURN_IF_ERROR(
        io_->WriteAt(data, at + kHeaderBytes).WithContext("journal: write " + path_));
  }
  return io_->WriteAt({reinterpret_cast<const uint8_t*>(&h), sizeof h}, at)
      .WithContext("journal: write " + path_);
}

Status JournalFile::ReadData(const JournalRecord& rec, std::span<uint8_t> out) {
  if (out.size() != rec.length) return Status(EINVAL, "journal: wrong buffer size");
  Result<size_t> got = io_->ReadAt(out, FileOffset(rec.pos) + kHeaderBytes);
  if (!got.ok()) return got.status().WithContext("journal: read " + path_);
  if (*got != out.size() || DataCrc(out) != rec.crc) {
    return Status::Errorf(EBADMSG, "journal: %s: the record at %llu fails its checksum",
                          path_.c_str(), static_cast<unsigned long long>(rec.pos));
  }
  return Status::Ok();
}

Status JournalFile::Sync() { return io_->Sync().WithContext("journal: sync " + path_); }

Status JournalFile::WriteTail(uint64_t pos, uint64_t seq, uint64_t epoch) {
  tail_pos_ = pos;
  tail_seq_ = seq;
  tail_epoch_ = std::max(tail_epoch_, epoch);
  // Into the copy after the newest durable one; until TailSynced, every call writes that same
  // copy again, so the durable one is never written over before another is durable.
  return WriteHeaderCopy();
}

void JournalFile::TailSynced() { generation_++; }

Status JournalFile::SetTail(uint64_t pos, uint64_t seq, uint64_t epoch) {
  S3DISK_RETURN_IF_ERROR(WriteTail(pos, seq, epoch));
  S3DISK_RETURN_IF_ERROR(Sync());
  TailSynced();
  return Status::Ok();
}

Result<uint64_t> JournalFile::NewEpochBase() {
  // 2^32 epochs per mount: a flush a microsecond for over an hour per mount before two
  // mounts' epochs could meet; the field has room for 2^32 mounts.
  const uint64_t last = std::max(tail_epoch_, found_.empty() ? 0 : found_.back().epoch);
  const uint64_t old = epoch_base_;
  epoch_base_ = (std::max(old, last) / kEpochsPerMount + 1) * kEpochsPerMount;
  Status st = WriteHeader();
  if (!st.ok()) {
    epoch_base_ = old;
    return st;
  }
  return epoch_base_;
}

Status JournalFile::SetMountToken(uint32_t token) {
  const uint32_t old = mount_token_;
  mount_token_ = token;
  Status st = WriteHeader();
  if (!st.ok()) mount_token_ = old;
  return st;
}

Result<CacheClaim> JournalFile::ReadClaim(const std::string& path, const std::string& identity) {
  Result<std::unique_ptr<FdFileIo>> io = FdFileIo::Open(path, /*create=*/false);
  if (!io.ok()) {
    if (io.status().code() == ENOENT) return CacheClaim{};
    return io.status().WithContext("journal");
  }
  // Read with the file's own geometry.
  std::unique_ptr<JournalFile> f(new JournalFile(std::move(*io), path));
  Header best{};
  Result<bool> found = f->ReadHeader(&best);
  if (!found.ok()) return found.status();
  if (!*found) return CacheClaim{};
  f->identity_ = identity;
  S3DISK_RETURN_IF_ERROR(f->Load(best));
  CacheClaim claim;
  claim.token = f->mount_token_;
  claim.dirty_blocks = f->found_.size();
  return claim;
}

}  // namespace s3disk
