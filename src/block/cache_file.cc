// CacheFile slot states (the record at the start of each slot):
//   empty  -- the record is all zero bytes: the slot holds nothing
//   clean  -- the data area holds block N as it is in the bucket
//   dirty  -- the data area holds block N newer than the bucket: upload it at the next mount
//   bad    -- anything else (torn, foreign file id, wrong checksum): ignored, never served
//
// Format (integers in host byte order; the file is local to one machine):
//   header, 4096 bytes at offset 0:
//     0  char[8]  magic "S3DKCACH"
//     8  u32      version (1)
//     12 u32      block size in bytes
//     16 u64      number of blocks of the disk
//     24 u32      number of slots
//     28 u32      mount token of the mount that last used the file (0: none recorded)
//     32 u64      file id: random, chosen when the file is (re)made; every record repeats it
//     40 u8[16]   MD5 of the identity (bucket and prefix) the blocks belong to
//     56 u8[16]   MD5 of bytes 0..55
//   slot i at 4096 + i * (512 + block size): a 512-byte record area, then the block's data.
//   record, 64 bytes at the start of the record area:
//     0  u32      magic 0x52434453
//     4  u32      flags: 1 dirty, 2 zero (the block is all zeros; the data area is unused)
//     8  u32      block number
//     12 u32      zero
//     16 u64      sequence number (larger is newer)
//     24 u64      file id (as in the header)
//     32 u8[16]   MD5 of the block's data (of block-size zeros when zero)
//     48 u8[16]   MD5 of record bytes 0..47
//
// Writing a block into a slot writes the data first, then the record. A crash in between (or
// a torn record, or a disk that reordered the two) leaves a record whose checksum or data MD5
// does not match: the slot is then ignored. Nothing is synced until Sync() (fdatasync).
//
// Invariants
//   | invariant                                          | kept by                          |
//   |----------------------------------------------------|----------------------------------|
//   | a valid record's data MD5 matches the slot's data  | Put writes data before record;   |
//   |   (else ReadData says EBADMSG)                     |   MarkClean keeps the data MD5   |
//   | records from an earlier incarnation are invalid    | file id in header and records    |
//   | a file with dirty blocks is never reset silently   | Open refuses a mismatch (EINVAL) |
//   | a file whose header is not ours is never touched   | Open and ReadClaim refuse it     |
//   |   (a damaged header, another program's file)       |   unless it holds no data        |
//   |                                                    |   (CheckUnused)                  |
//   | one process uses the file at a time                | flock(LOCK_EX) held while open   |
#include "block/cache_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <random>

#include "base/fd_io.h"
#include "base/log.h"

namespace s3disk {
namespace {

constexpr char kMagic[8] = {'S', '3', 'D', 'K', 'C', 'A', 'C', 'H'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kHeaderBytes = 4096;
constexpr uint64_t kRecordArea = 512;
constexpr uint32_t kRecordMagic = 0x52434453;
constexpr uint32_t kFlagDirty = 1;
constexpr uint32_t kFlagZero = 2;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t block_size;
  uint64_t num_blocks;
  uint32_t slots;
  uint32_t mount_token;
  uint64_t file_id;
  uint8_t identity_md5[16];
  uint8_t header_md5[16];
};
static_assert(sizeof(Header) == 72);

struct Record {
  uint32_t magic;
  uint32_t flags;
  uint32_t block;
  uint32_t zero;
  uint64_t seq;
  uint64_t file_id;
  uint8_t data_md5[16];
  uint8_t record_md5[16];
};
static_assert(sizeof(Record) == 64);

Md5Digest Md5Of(const void* p, size_t n) {
  return Md5(std::span<const uint8_t>(static_cast<const uint8_t*>(p), n));
}

Status PwriteAll(int fd, const void* p, size_t n, uint64_t off, const std::string& path) {
  return WriteAt(fd, {static_cast<const uint8_t*>(p), n}, off)
      .WithContext("cache_file: write " + path);
}

// Reads n bytes; a short file reads as zeros.
Status PreadAll(int fd, void* p, size_t n, uint64_t off, const std::string& path) {
  uint8_t* b = static_cast<uint8_t*>(p);
  Result<size_t> got = ReadAt(fd, {b, n}, off);
  if (!got.ok()) return got.status().WithContext("cache_file: read " + path);
  memset(b + *got, 0, n - *got);
  return Status::Ok();
}

uint64_t SlotOffsetFor(uint32_t block_size, uint32_t slot) {
  return kHeaderBytes + uint64_t{slot} * (kRecordArea + block_size);
}

// Parses the record of slot; returns true and fills f if it is valid for file_id.
bool ParseRecord(const Record& r, uint64_t file_id, uint32_t slot, CacheFile::Found* f) {
  if (r.magic != kRecordMagic || r.file_id != file_id || r.zero != 0 ||
      (r.flags & ~(kFlagDirty | kFlagZero)) != 0) {
    return false;
  }
  Md5Digest sum = Md5Of(&r, offsetof(Record, record_md5));
  if (memcmp(sum.data(), r.record_md5, 16) != 0) return false;
  f->slot = slot;
  f->n = r.block;
  f->dirty = (r.flags & kFlagDirty) != 0;
  f->zero = (r.flags & kFlagZero) != 0;
  f->seq = r.seq;
  memcpy(f->md5.data(), r.data_md5, 16);
  return true;
}

bool IsEmptyRecord(const Record& r) {
  static const Record kEmpty{};
  return memcmp(&r, &kEmpty, sizeof r) == 0;
}

// The header at the start of fd, and whether it is a valid one.
Status ReadHeader(int fd, const std::string& path, Header* h, bool* valid) {
  *h = Header{};
  S3DISK_RETURN_IF_ERROR(PreadAll(fd, h, sizeof *h, 0, path));
  Md5Digest hsum = Md5Of(h, offsetof(Header, header_md5));
  *valid = memcmp(h->magic, kMagic, 8) == 0 && h->version == kVersion &&
           memcmp(hsum.data(), h->header_md5, 16) == 0 && h->slots > 0 && h->block_size > 0;
  return Status::Ok();
}

// Rewrites the header with token, durably. The header is rewritten in place: 72 bytes inside
// the first sector, which devices write whole; its checksum still catches a torn write.
Status WriteHeaderToken(int fd, const std::string& path, uint32_t token) {
  Header h{};
  S3DISK_RETURN_IF_ERROR(PreadAll(fd, &h, sizeof h, 0, path));
  h.mount_token = token;
  Md5Digest sum = Md5Of(&h, offsetof(Header, header_md5));
  memcpy(h.header_md5, sum.data(), 16);
  S3DISK_RETURN_IF_ERROR(PwriteAll(fd, &h, sizeof h, 0, path));
  if (fdatasync(fd) != 0) return Status::Errorf(errno, "cache_file: sync %s", path.c_str());
  return Status::Ok();
}

// Every slot's record, read with the header's own geometry: the valid ones into found, the
// count of the others (neither valid nor empty) into bad.
Status ScanRecords(int fd, const std::string& path, const Header& h,
                   std::vector<CacheFile::Found>* found, uint64_t* bad) {
  for (uint32_t s = 0; s < h.slots; s++) {
    Record r{};
    S3DISK_RETURN_IF_ERROR(PreadAll(fd, &r, sizeof r, SlotOffsetFor(h.block_size, s), path));
    CacheFile::Found f;
    if (ParseRecord(r, h.file_id, s, &f)) {
      found->push_back(f);
    } else if (!IsEmptyRecord(r)) {
      (*bad)++;
    }
  }
  return Status::Ok();
}

uint64_t CountDirty(const std::vector<CacheFile::Found>& found) {
  uint64_t dirty = 0;
  for (const CacheFile::Found& f : found) dirty += f.dirty ? 1 : 0;
  return dirty;
}

// For a file without a valid header: ok if it holds no data at all (a new file, or one whose
// creation stopped before its header: it is made sparse and the header written last, so no
// record can precede the header); else EINVAL. The file may be someone else's, or hold the
// dirty blocks of a crashed mount behind a damaged header: it is never overwritten.
Status CheckUnused(int fd, const std::string& path) {
  struct stat sb;
  if (fstat(fd, &sb) != 0) return Status::Errorf(errno, "cache_file: stat %s", path.c_str());
  if (sb.st_size == 0) return Status::Ok();
  // Only holes: SEEK_DATA finds no data (a file system without holes reports data at 0).
  if (lseek(fd, 0, SEEK_DATA) < 0 && errno == ENXIO) return Status::Ok();
  return Status::Errorf(EINVAL,
                        "cache_file: %s is not a cache file this s3disk can read (a damaged "
                        "header, another version, or another program's file); it was left as "
                        "it is: move it aside or give another --blockCacheFile",
                        path.c_str());
}

// Opens path and takes its lock (EBUSY when another process holds it). Without create, a
// missing file gives -1.
Result<int> OpenLocked(const std::string& path, bool create) {
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
  if (fd < 0) {
    if (errno == ENOENT && !create) return -1;
    return Status::Errorf(errno, "cache_file: open %s", path.c_str());
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    close(fd);
    return Status::Errorf(err == EWOULDBLOCK ? EBUSY : err,
                          "cache_file: %s is in use by another process", path.c_str());
  }
  return fd;
}

}  // namespace

CacheFile::CacheFile(std::string path, int fd, uint32_t block_size, uint32_t slots,
                     uint64_t file_id)
    : path_(std::move(path)),
      fd_(fd),
      block_size_(block_size),
      slots_(slots),
      file_id_(file_id),
      last_(slots) {}

CacheFile::~CacheFile() { close(fd_); }

uint64_t CacheFile::SlotOffset(uint32_t slot) const { return SlotOffsetFor(block_size_, slot); }

Result<std::unique_ptr<CacheFile>> CacheFile::Open(const std::string& path,
                                                   const std::string& identity, uint32_t block_size,
                                                   uint64_t num_blocks, uint32_t slots) {
  if (slots == 0 || block_size == 0) return Status(EINVAL, "cache_file: empty geometry");
  Result<int> opened = OpenLocked(path, /*create=*/true);
  if (!opened.ok()) return opened.status();
  const int fd = *opened;
  auto fail = [fd](Status st) {
    close(fd);
    return st;
  };
  const Md5Digest identity_md5 = Md5(AsBytes(identity));

  Header h{};
  bool valid = false;
  Status st = ReadHeader(fd, path, &h, &valid);
  if (!st.ok()) return fail(st);
  const bool same = valid && h.block_size == block_size && h.num_blocks == num_blocks &&
                    h.slots == slots && memcmp(h.identity_md5, identity_md5.data(), 16) == 0;

  if (!valid) {
    st = CheckUnused(fd, path);
    if (!st.ok()) return fail(st);
  }

  std::unique_ptr<CacheFile> file;
  if (valid) {
    // Scan the records (with the file's own geometry, which may differ from ours).
    std::vector<Found> found;
    uint64_t bad = 0;
    st = ScanRecords(fd, path, h, &found, &bad);
    if (!st.ok()) return fail(st);
    const uint64_t dirty = CountDirty(found);
    if (!same && dirty > 0) {
      return fail(Status::Errorf(
          EINVAL,
          "cache_file: %s holds %llu dirty blocks of another disk (other bucket, prefix, "
          "block size, size or blockCacheSize); mount with the options it was made with so "
          "they are uploaded, or remove the file to discard them",
          path.c_str(), static_cast<unsigned long long>(dirty)));
    }
    if (same) {
      file.reset(new CacheFile(path, fd, block_size, slots, h.file_id));
      file->found_ = std::move(found);
      file->bad_records_ = bad;
      file->mount_token_ = h.mount_token;
      for (const Found& f : file->found_) file->last_[f.slot] = f;
      return file;
    }
    LOG_INFO(
        "cache_file: %s was made for another disk and holds no dirty block; starting it "
        "afresh",
        path.c_str());
  }

  // A new file: fresh id, sparse slots, header last (then synced).
  std::random_device rd;
  uint64_t file_id = (uint64_t{rd()} << 32) ^ rd();
  if (ftruncate(fd, 0) != 0 ||
      ftruncate(fd, static_cast<off_t>(SlotOffsetFor(block_size, slots))) != 0) {
    return fail(Status::Errorf(errno, "cache_file: size %s", path.c_str()));
  }
  Header nh{};
  memcpy(nh.magic, kMagic, 8);
  nh.version = kVersion;
  nh.block_size = block_size;
  nh.num_blocks = num_blocks;
  nh.slots = slots;
  nh.file_id = file_id;
  memcpy(nh.identity_md5, identity_md5.data(), 16);
  Md5Digest nsum = Md5Of(&nh, offsetof(Header, header_md5));
  memcpy(nh.header_md5, nsum.data(), 16);
  st = PwriteAll(fd, &nh, sizeof nh, 0, path);
  if (!st.ok()) return fail(st);
  if (fdatasync(fd) != 0) return fail(Status::Errorf(errno, "cache_file: sync %s", path.c_str()));
  file.reset(new CacheFile(path, fd, block_size, slots, file_id));
  file->fresh_ = true;
  return file;
}

uint64_t CacheFile::dirty_found() const { return CountDirty(found_); }

Status CacheFile::SetMountToken(uint32_t token) {
  S3DISK_RETURN_IF_ERROR(WriteHeaderToken(fd_, path_, token));
  mount_token_ = token;
  return Status::Ok();
}

Result<CacheClaim> CacheFile::ReadClaim(const std::string& path, const std::string& identity) {
  Result<int> opened = OpenLocked(path, /*create=*/false);
  if (!opened.ok()) return opened.status();
  if (*opened < 0) return CacheClaim{};
  const int fd = *opened;
  Header h{};
  bool valid = false;
  Status st = ReadHeader(fd, path, &h, &valid);
  if (st.ok() && !valid) st = CheckUnused(fd, path);  // refused here as Open refuses it
  const Md5Digest identity_md5 = Md5(AsBytes(identity));
  CacheClaim claim;
  if (st.ok() && valid && memcmp(h.identity_md5, identity_md5.data(), 16) == 0) {
    std::vector<Found> found;
    uint64_t bad = 0;
    st = ScanRecords(fd, path, h, &found, &bad);
    claim.token = h.mount_token;
    claim.dirty_blocks = CountDirty(found);
  }
  close(fd);
  if (!st.ok()) return st;
  return claim;
}

Status CacheFile::ReadData(const Found& f, std::span<uint8_t> data) {
  if (data.size() != block_size_ || f.slot >= slots_) {
    return Status(EINVAL, "cache_file: bad ReadData call");
  }
  if (f.zero) {
    memset(data.data(), 0, data.size());
  } else {
    S3DISK_RETURN_IF_ERROR(
        PreadAll(fd_, data.data(), data.size(), SlotOffset(f.slot) + kRecordArea, path_));
  }
  if (Md5(data) != f.md5) {
    return Status::Errorf(EBADMSG, "cache_file: %s slot %u: data does not match its record",
                          path_.c_str(), f.slot);
  }
  return Status::Ok();
}

Status CacheFile::WriteRecord(uint32_t slot, const Found& f) {
  Record r{};
  r.magic = kRecordMagic;
  r.flags = (f.dirty ? kFlagDirty : 0) | (f.zero ? kFlagZero : 0);
  r.block = f.n;
  r.seq = f.seq;
  r.file_id = file_id_;
  memcpy(r.data_md5, f.md5.data(), 16);
  Md5Digest sum = Md5Of(&r, offsetof(Record, record_md5));
  memcpy(r.record_md5, sum.data(), 16);
  S3DISK_RETURN_IF_ERROR(PwriteAll(fd_, &r, sizeof r, SlotOffset(slot), path_));
  last_[slot] = f;
  return Status::Ok();
}

Status CacheFile::Put(uint32_t slot, BlockNum n, bool dirty, uint64_t seq,
                      std::span<const uint8_t> data, bool zero, const Md5Digest* md5) {
  if (slot >= slots_ || (!zero && data.size() != block_size_)) {
    return Status(EINVAL, "cache_file: bad Put call");
  }
  Found f;
  f.slot = slot;
  f.n = n;
  f.dirty = dirty;
  f.zero = zero;
  f.seq = seq;
  if (zero) {
    static thread_local std::vector<uint8_t> zeros;
    zeros.assign(block_size_, 0);
    f.md5 = Md5(zeros);
  } else {
    f.md5 = md5 != nullptr ? *md5 : Md5(data);
    S3DISK_RETURN_IF_ERROR(
        PwriteAll(fd_, data.data(), data.size(), SlotOffset(slot) + kRecordArea, path_));
  }
  return WriteRecord(slot, f);
}

Status CacheFile::MarkClean(uint32_t slot) {
  if (slot >= slots_) return Status(EINVAL, "cache_file: bad MarkClean call");
  Found f = last_[slot];
  if (!f.dirty) return Status::Ok();
  f.dirty = false;
  return WriteRecord(slot, f);
}

Status CacheFile::Clear(uint32_t slot) {
  if (slot >= slots_) return Status(EINVAL, "cache_file: bad Clear call");
  Record r{};
  S3DISK_RETURN_IF_ERROR(PwriteAll(fd_, &r, sizeof r, SlotOffset(slot), path_));
  last_[slot] = Found{};
  return Status::Ok();
}

Status CacheFile::Sync() {
  if (fdatasync(fd_) != 0) return Status::Errorf(errno, "cache_file: sync %s", path_.c_str());
  return Status::Ok();
}

}  // namespace s3disk
