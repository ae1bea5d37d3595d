// FUSE front end over the libfuse 3 low-level API.
//
// States of the front end (driven by main.cc, one thread):
//   new -> session (CreateSession) -> mounted (Mount) -> serving (Attach, Run) -> stopped
//   (Run returned: the kernel unmounted) -> unmounted (Unmount). Operations run only while
//   serving, on libfuse's worker threads, all concurrently; ByteRange serializes writes per
//   block. Run and the way a signal stops it are in fuse_frontend_stop.cc.
// The mount directory (inode 1) holds two files with fixed inodes: the image (2) and the
// statistics file (3). Nothing is created, removed or renamed.
// Each libfuse callback (Ops) hands its request to the operation of the same name with a
// RequestReply, the FuseReply that answers it with fuse_reply_*.
//
// Invariants:
//   | what                         | holds because                                           |
//   |------------------------------|---------------------------------------------------------|
//   | top_, bytes_ non-null in ops | Attach precedes Run; no request is read before Run      |
//   | image size never changes     | setattr refuses other sizes; writes past the end EFBIG  |
//   |                              |   (logged: with the write-back cache, the writer sees   |
//   |                              |   EIO only at fsync or close)                           |
//   | every op replies once        | each ends in exactly one FuseReply call, its last step; |
//   |                              |   a body that throws ends the process (Guarded)         |
//   | stack errors are counted and | ReplyStackError is the one path from Status to errno;   |
//   |   logged once, never errno 0 |   code <= 0 and ENOSYS become EIO                       |
//   | attrs_ only under mu_        | StatNode/SetAttr/Write take mu_; the stack is never     |
//   |                              |   called with mu_ held                                  |
//   | stats content stable per fd  | generated at open, owned by fh, freed at release        |
#define FUSE_USE_VERSION 35

#include "app/fuse_frontend.h"

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <linux/falloc.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <mutex>
#include <vector>

#include "base/log.h"
#include "base/stats.h"

namespace s3disk {
namespace {

static_assert(FuseFrontend::kRootIno == FUSE_ROOT_ID);
static_assert(FuseFrontend::kSetMode == FUSE_SET_ATTR_MODE);
static_assert(FuseFrontend::kSetUid == FUSE_SET_ATTR_UID);
static_assert(FuseFrontend::kSetGid == FUSE_SET_ATTR_GID);
static_assert(FuseFrontend::kSetSize == FUSE_SET_ATTR_SIZE);
static_assert(FuseFrontend::kSetAtime == FUSE_SET_ATTR_ATIME);
static_assert(FuseFrontend::kSetMtime == FUSE_SET_ATTR_MTIME);
static_assert(FuseFrontend::kSetAtimeNow == FUSE_SET_ATTR_ATIME_NOW);
static_assert(FuseFrontend::kSetMtimeNow == FUSE_SET_ATTR_MTIME_NOW);
static_assert(FuseFrontend::kSetCtime == FUSE_SET_ATTR_CTIME);

// The image's attributes change only through us, so the kernel may keep them; the stats
// file's size changes all the time.
constexpr double kStableTimeoutS = 60.0;
constexpr double kStatsTimeoutS = 0.0;
double Timeout(uint64_t ino) {
  return ino == FuseFrontend::kStatsIno ? kStatsTimeoutS : kStableTimeoutS;
}
constexpr unsigned kMaxWriteBytes = 1u << 20;
// fh of an image opened for writing (flush/release then flush the stack).
constexpr uint64_t kWritableFh = 1;

timespec Now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

// fsname values are comma-separated mount options: escape ',' and '\'.
std::string EscapeOption(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == ',' || ch == '\\') out += '\\';
    out += ch;
  }
  return out;
}

// libfuse's own messages ("fuse: unknown option(s): ...", "fuse: mount failed: ..."): while
// CreateSession or Mount runs they are captured into that call's one-line error; otherwise
// they go to our log. libfuse logs at DEBUG level only for -o debug, so that shows as INFO.
std::mutex g_fuse_log_mu;
std::string* g_fuse_log_capture = nullptr;  // guarded by g_fuse_log_mu

// libfuse sometimes writes one line in several calls: text is gathered per thread and logged
// at each newline.
void FuseLog(enum fuse_log_level level, const char* fmt, va_list ap) {
  char buf[1024];
  vsnprintf(buf, sizeof buf, fmt, ap);
  {
    std::lock_guard lock(g_fuse_log_mu);
    if (g_fuse_log_capture != nullptr) {
      *g_fuse_log_capture += buf;
      return;
    }
  }
  thread_local std::string pending;
  pending += buf;
  for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
    std::string line = pending.substr(0, nl);
    pending.erase(0, nl + 1);
    if (line.empty()) continue;
    LogLevel ours = level <= FUSE_LOG_ERR       ? LogLevel::kError
                    : level == FUSE_LOG_WARNING ? LogLevel::kWarn
                                                : LogLevel::kInfo;
    LogMessage(ours, "%s", line.c_str());
  }
}

// Captures libfuse's messages for the lifetime of the object.
class FuseLogCapture {
 public:
  FuseLogCapture() {
    fuse_set_log_func(FuseLog);
    std::lock_guard lock(g_fuse_log_mu);
    g_fuse_log_capture = &text_;
  }
  ~FuseLogCapture() {
    std::lock_guard lock(g_fuse_log_mu);
    g_fuse_log_capture = nullptr;
  }
  // ": what libfuse said" (its lines joined with "; "), or "" if it said nothing.
  std::string Suffix() {
    std::lock_guard lock(g_fuse_log_mu);
    std::string out;
    size_t start = 0;
    while (start < text_.size()) {
      size_t nl = text_.find('\n', start);
      if (nl == std::string::npos) nl = text_.size();
      std::string line = text_.substr(start, nl - start);
      if (!line.empty()) out += (out.empty() ? ": " : "; ") + line;
      start = nl + 1;
    }
    return out;
  }

 private:
  std::string text_;
};

// Runs an operation. An exception is an allocation that failed, most likely inside the stack,
// whose layers are not exception-safe (a block left half-changed: a read that waits forever,
// a dirty block without data). Answering EIO and serving on would trade a clear stop for a
// hang or garbage later, so the process ends here, with the operation named in the log,
// before unwinding into libfuse's C frames; the next mount takes over the dirty blocks of a
// cache file (doc/ARCHITECTURE.md, "Conventions"). noexcept: an exception from the logging
// itself (memory is short) ends the process too, never unwinding into C.
template <typename F>
void Guarded(const char* op, F body) noexcept {
  try {
    body();
  } catch (const std::exception& e) {
    LOG_ERROR("fuse: %s: %s: the stack cannot be trusted after an exception; stopping", op,
              e.what());
    abort();
  } catch (...) {
    LOG_ERROR("fuse: %s: unknown exception: the stack cannot be trusted; stopping", op);
    abort();
  }
}

// The reply to one libfuse request: fuse_reply_*. fi is the request's file info (open and
// opendir fill it in).
class RequestReply final : public FuseReply {
 public:
  explicit RequestReply(fuse_req_t req, fuse_file_info* fi = nullptr) : req_(req), fi_(fi) {}

  void Err(int code) override { fuse_reply_err(req_, code); }
  void Buf(const char* data, size_t size) override { fuse_reply_buf(req_, data, size); }
  void Attr(const struct stat& attr, double timeout_s) override {
    fuse_reply_attr(req_, &attr, timeout_s);
  }
  void Entry(uint64_t ino, const struct stat& attr, double attr_timeout_s,
             double entry_timeout_s) override {
    fuse_entry_param e;
    memset(&e, 0, sizeof e);
    e.ino = ino;
    e.attr = attr;
    e.attr_timeout = attr_timeout_s;
    e.entry_timeout = entry_timeout_s;
    fuse_reply_entry(req_, &e);
  }
  void Written(size_t size) override { fuse_reply_write(req_, size); }
  bool Open(const FuseOpened& opened) override {
    fi_->fh = opened.fh;
    fi_->keep_cache = opened.keep_cache;
    fi_->direct_io = opened.direct_io;
    return fuse_reply_open(req_, fi_) == 0;
  }
  void StatFs(const struct statvfs& stats) override { fuse_reply_statfs(req_, &stats); }
  void Dir(std::span<const FuseDirEntry> entries, size_t size) override {
    std::vector<char> buf(size);
    size_t used = 0;
    for (const FuseDirEntry& entry : entries) {
      struct stat st;
      memset(&st, 0, sizeof st);
      st.st_ino = entry.ino;
      st.st_mode = entry.type;
      size_t need =
          fuse_add_direntry(req_, buf.data() + used, size - used, entry.name, &st, entry.next);
      if (need > size - used) break;
      used += need;
    }
    fuse_reply_buf(req_, buf.data(), used);
  }

 private:
  fuse_req_t req_;
  fuse_file_info* fi_;
};

}  // namespace

// libfuse's callbacks: each hands its request to the operation of the same name, with the
// reply that answers it.
struct FuseFrontend::Ops {
  static FuseFrontend& Self(fuse_req_t req) {
    return *static_cast<FuseFrontend*>(fuse_req_userdata(req));
  }

  static void Init(void* userdata, struct fuse_conn_info* conn) {
    const FuseFrontendOptions& options = static_cast<FuseFrontend*>(userdata)->options_;
    // libfuse sizes max_pages from max_write, so 1 MiB requests reach us whole.
    conn->max_write = kMaxWriteBytes;
    if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
    // With the write-back cache the kernel writes dirty pages back before it sends fsync,
    // flush (close) or fallocate, so those still cover every write before them. It sends
    // them in parallel, which a loop device (one request at a time) never does: random
    // writes of partial blocks then fetch their blocks in parallel instead of one by one.
    // A read-only mount must refuse writes at once, so it never buffers them.
    if (options.writeback_cache && !options.read_only &&
        (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) {
      conn->want |= FUSE_CAP_WRITEBACK_CACHE;
    } else {
      conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
    }
    // Every write here goes through this mount, so the kernel's page cache of the image is
    // always current. With auto_inval_data (libfuse's default) the kernel would drop the
    // image's whole cache whenever it saw the mtime a write had just changed: after any write,
    // the next read fetched the entire image again.
    conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
  }

  static void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    RequestReply reply(req);
    Self(req).Lookup(reply, parent, name);
  }
  static void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    RequestReply reply(req);
    Self(req).GetAttr(reply, ino);
  }
  static void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
                      fuse_file_info*) {
    RequestReply reply(req);
    Self(req).SetAttr(reply, ino, *attr, to_set);
  }
  static void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    RequestReply reply(req, fi);
    Self(req).Open(reply, ino, fi->flags);
  }
  static void Release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    RequestReply reply(req);
    Self(req).Release(reply, ino, fi->fh);
  }
  static void Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    RequestReply reply(req);
    Self(req).Read(reply, ino, size, off, fi->fh);
  }
  static void Write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
                    fuse_file_info*) {
    RequestReply reply(req);
    Self(req).Write(reply, ino, buf, size, off);
  }
  static void Flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    RequestReply reply(req);
    Self(req).Flush(reply, ino, fi->fh);
  }
  static void Fsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
    RequestReply reply(req);
    Self(req).Fsync(reply, ino);
  }
  static void Fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
                        fuse_file_info*) {
    RequestReply reply(req);
    Self(req).Fallocate(reply, ino, mode, off, len);
  }
  static void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    RequestReply reply(req, fi);
    Self(req).OpenDir(reply, ino);
  }
  static void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
    RequestReply reply(req);
    Self(req).ReadDir(reply, ino, size, off);
  }
  static void ReleaseDir(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
    RequestReply reply(req);
    Self(req).ReleaseDir(reply);
  }
  static void StatFs(fuse_req_t req, fuse_ino_t) {
    RequestReply reply(req);
    Self(req).StatFs(reply);
  }
  // Refused (EPERM rather than libfuse's default ENOSYS, which reads as "not implemented").
  static void Create(fuse_req_t req, fuse_ino_t, const char*, mode_t, fuse_file_info*) {
    Refuse(req);
  }
  static void MkNod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) { Refuse(req); }
  static void MkDir(fuse_req_t req, fuse_ino_t, const char*, mode_t) { Refuse(req); }
  static void Remove(fuse_req_t req, fuse_ino_t, const char*) { Refuse(req); }
  static void Rename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*,
                     unsigned int) {
    Refuse(req);
  }
  static void SymLink(fuse_req_t req, const char*, fuse_ino_t, const char*) { Refuse(req); }
  static void Link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) { Refuse(req); }
  static void Refuse(fuse_req_t req) {
    RequestReply reply(req);
    Self(req).Refuse(reply);
  }
};

void FuseFrontend::ReplyStackError(FuseReply& reply, const Status& st, const char* op) {
  int code = FrontEndErrno(st);
  errors_++;
  LOG_WARN("fuse: %s: %s", op, st.ToString().c_str());
  reply.Err(code);
}

bool FuseFrontend::StatNode(uint64_t ino, struct stat* st) {
  memset(st, 0, sizeof *st);
  if (ino < kRootIno || ino > kStatsIno) return false;
  uint64_t size = 0;
  if (ino == kImageIno) size = size_bytes_;
  if (ino == kStatsIno) size = StatsText().size();
  MutexLock lock(mu_);
  const NodeAttr& a = attrs_[ino - 1];
  st->st_ino = ino;
  st->st_mode = a.mode | (ino == kRootIno ? S_IFDIR : S_IFREG);
  st->st_nlink = ino == kRootIno ? 2 : 1;
  st->st_uid = a.uid;
  st->st_gid = a.gid;
  st->st_size = static_cast<off_t>(size);
  st->st_blksize = top_ != nullptr ? top_->block_size() : 4096;
  st->st_blocks = static_cast<blkcnt_t>((size + 511) / 512);
  st->st_atim = a.atime;
  st->st_mtim = a.mtime;
  st->st_ctim = a.ctime;
  return true;
}

void FuseFrontend::Lookup(FuseReply& reply, uint64_t parent, const char* name) {
  Guarded("lookup", [&] {
    if (parent != kRootIno) return reply.Err(ENOTDIR);
    uint64_t ino = 0;
    if (options_.filename == name) ino = kImageIno;
    if (options_.stats_filename == name) ino = kStatsIno;
    if (ino == 0) return reply.Err(ENOENT);
    struct stat st;
    StatNode(ino, &st);
    reply.Entry(ino, st, Timeout(ino), kStableTimeoutS);
  });
}

void FuseFrontend::GetAttr(FuseReply& reply, uint64_t ino) {
  Guarded("getattr", [&] {
    struct stat st;
    if (!StatNode(ino, &st)) return reply.Err(ENOENT);
    reply.Attr(st, Timeout(ino));
  });
}

void FuseFrontend::SetAttr(FuseReply& reply, uint64_t ino, const struct stat& attr, int to_set) {
  Guarded("setattr", [&] {
    if (ino < kRootIno || ino > kStatsIno) return reply.Err(ENOENT);
    if (to_set & kSetSize) {
      // The image has a fixed size; truncating to that size (O_TRUNC is refused earlier by
      // the size check, a same-size truncate is harmless) succeeds.
      if (ino == kRootIno) return reply.Err(EISDIR);
      if (ino == kStatsIno) return reply.Err(EPERM);
      if (static_cast<uint64_t>(attr.st_size) != size_bytes_) return reply.Err(EINVAL);
    }
    {
      MutexLock lock(mu_);
      NodeAttr& a = attrs_[ino - 1];
      timespec now = Now();
      if (to_set & kSetMode) a.mode = attr.st_mode & 07777;
      if (to_set & kSetUid) a.uid = attr.st_uid;
      if (to_set & kSetGid) a.gid = attr.st_gid;
      if (to_set & kSetAtime) a.atime = attr.st_atim;
      if (to_set & kSetAtimeNow) a.atime = now;
      if (to_set & kSetMtime) a.mtime = attr.st_mtim;
      if (to_set & kSetMtimeNow) a.mtime = now;
      a.ctime = now;
      if (to_set & kSetCtime) a.ctime = attr.st_ctim;
    }
    struct stat st;
    StatNode(ino, &st);
    reply.Attr(st, Timeout(ino));
  });
}

void FuseFrontend::Open(FuseReply& reply, uint64_t ino, int flags) {
  Guarded("open", [&] {
    bool writing = (flags & O_ACCMODE) != O_RDONLY;
    switch (ino) {
      case kRootIno:
        return reply.Err(EISDIR);
      case kImageIno:
        if (writing && options_.read_only) return reply.Err(EROFS);
        reply.Open({.fh = writing ? kWritableFh : 0, .keep_cache = true});
        return;
      case kStatsIno: {
        if (writing) return reply.Err(EACCES);
        auto* text = new std::string(StatsText());
        FuseOpened opened{.fh = reinterpret_cast<uint64_t>(text), .direct_io = true};
        if (!reply.Open(opened)) delete text;  // interrupted: no release follows
        return;
      }
      default:
        return reply.Err(ENOENT);
    }
  });
}

void FuseFrontend::Release(FuseReply& reply, uint64_t ino, uint64_t fh) {
  Guarded("release", [&] {
    if (ino == kStatsIno) delete reinterpret_cast<std::string*>(fh);
    reply.Err(0);
  });
}

void FuseFrontend::Read(FuseReply& reply, uint64_t ino, size_t size, off_t off, uint64_t fh) {
  Guarded("read", [&] {
    if (off < 0) return reply.Err(EINVAL);
    uint64_t offset = static_cast<uint64_t>(off);
    if (ino == kStatsIno) {
      const std::string& text = *reinterpret_cast<const std::string*>(fh);
      if (offset >= text.size()) return reply.Buf(nullptr, 0);
      size_t n = std::min<uint64_t>(size, text.size() - offset);
      return reply.Buf(text.data() + offset, n);
    }
    if (ino != kImageIno) return reply.Err(EISDIR);
    reads_++;
    // Short read at the end of the image, nothing at or past it.
    if (offset >= size_bytes_) return reply.Buf(nullptr, 0);
    size_t n = std::min<uint64_t>(size, size_bytes_ - offset);
    // One buffer per worker thread, grown once: a fresh zero-filled vector per read cost a
    // memset (and often fresh pages) of up to 1 MiB for bytes the stack overwrites anyway.
    thread_local std::vector<uint8_t> buffer;
    if (buffer.size() < n) buffer.resize(n);
    std::span<uint8_t> buf(buffer.data(), n);
    Status st = bytes_->Read(offset, buf);
    if (!st.ok()) return ReplyStackError(reply, st, "read");
    bytes_read_ += n;
    reply.Buf(reinterpret_cast<const char*>(buf.data()), n);
  });
}

void FuseFrontend::Write(FuseReply& reply, uint64_t ino, const char* buf, size_t size, off_t off) {
  Guarded("write", [&] {
    if (ino != kImageIno) return reply.Err(ino == kStatsIno ? EACCES : EISDIR);
    if (options_.read_only) return reply.Err(EROFS);
    if (off < 0) return reply.Err(EINVAL);
    writes_++;
    uint64_t offset = static_cast<uint64_t>(off);
    // The image cannot grow: a write that does not fit is refused whole. With the write-back
    // cache the writer learns it only at fsync or close (EIO), so it is logged too.
    if (offset >= size_bytes_ || size > size_bytes_ - offset) {
      LOG_ERROR(
          "fuse: a write of %zu bytes at offset %llu is past the end of the image "
          "(%llu bytes); refused",
          size, static_cast<unsigned long long>(offset),
          static_cast<unsigned long long>(size_bytes_));
      return reply.Err(EFBIG);
    }
    Status st = bytes_->Write(offset, {reinterpret_cast<const uint8_t*>(buf), size});
    if (!st.ok()) return ReplyStackError(reply, st, "write");
    bytes_written_ += size;
    {
      MutexLock lock(mu_);
      attrs_[kImageIno - 1].mtime = attrs_[kImageIno - 1].ctime = Now();
    }
    reply.Written(size);
  });
}

void FuseFrontend::FlushStack(FuseReply& reply, const char* op) {
  fsyncs_++;
  Status st = bytes_->Flush();
  if (!st.ok()) return ReplyStackError(reply, st, op);
  reply.Err(0);
}

// close(): a descriptor that could write makes everything written durable first.
void FuseFrontend::Flush(FuseReply& reply, uint64_t ino, uint64_t fh) {
  Guarded("flush", [&] {
    if (ino != kImageIno || fh != kWritableFh) return reply.Err(0);
    FlushStack(reply, "flush");
  });
}

void FuseFrontend::Fsync(FuseReply& reply, uint64_t ino) {
  Guarded("fsync", [&] {
    if (ino != kImageIno) return reply.Err(0);
    FlushStack(reply, "fsync");
  });
}

void FuseFrontend::Fallocate(FuseReply& reply, uint64_t ino, int mode, off_t off, off_t len) {
  Guarded("fallocate", [&] {
    if (ino != kImageIno) return reply.Err(EOPNOTSUPP);
    if (off < 0 || len <= 0) return reply.Err(EINVAL);
    uint64_t start = static_cast<uint64_t>(off);
    uint64_t end = start + static_cast<uint64_t>(len);
    const bool keep_size = mode & FALLOC_FL_KEEP_SIZE;
    const int kind = mode & ~FALLOC_FL_KEEP_SIZE;
    if (kind == 0) {
      // Preallocation: every block is always "allocated"; it cannot grow the image.
      if (keep_size || end <= size_bytes_) return reply.Err(0);
      return reply.Err(EOPNOTSUPP);
    }
    // Discard (PUNCH_HOLE, which the kernel only sends with KEEP_SIZE) and the loop driver's
    // write-zeroes (ZERO_RANGE): both leave zeros, which the stack stores as absent blocks.
    if (kind != FALLOC_FL_PUNCH_HOLE && kind != FALLOC_FL_ZERO_RANGE) {
      return reply.Err(EOPNOTSUPP);
    }
    if (kind == FALLOC_FL_PUNCH_HOLE && !keep_size) return reply.Err(EOPNOTSUPP);
    if (!keep_size && end > size_bytes_) return reply.Err(EOPNOTSUPP);
    if (options_.read_only) return reply.Err(EROFS);
    end = std::min(end, size_bytes_);
    punch_holes_++;
    if (start < end) {
      Status st = bytes_->Zero(start, end - start);
      if (!st.ok()) return ReplyStackError(reply, st, "fallocate");
    }
    reply.Err(0);
  });
}

void FuseFrontend::OpenDir(FuseReply& reply, uint64_t ino) {
  Guarded("opendir", [&] {
    if (ino != kRootIno) return reply.Err(ENOTDIR);
    reply.Open({});
  });
}

void FuseFrontend::ReleaseDir(FuseReply& reply) {
  Guarded("releasedir", [&] { reply.Err(0); });
}

void FuseFrontend::ReadDir(FuseReply& reply, uint64_t ino, size_t size, off_t off) {
  Guarded("readdir", [&] {
    if (ino != kRootIno) return reply.Err(ENOTDIR);
    const FuseDirEntry entries[] = {
        {".", kRootIno, S_IFDIR, 1},
        {"..", kRootIno, S_IFDIR, 2},
        {options_.filename.c_str(), kImageIno, S_IFREG, 3},
        {options_.stats_filename.c_str(), kStatsIno, S_IFREG, 4},
    };
    const size_t first = static_cast<size_t>(std::clamp<off_t>(off, 0, std::size(entries)));
    reply.Dir(std::span(entries).subspan(first), size);
  });
}

// The directory's contents are fixed: creating, removing or renaming anything is refused.
void FuseFrontend::Refuse(FuseReply& reply) {
  Guarded("refused operation", [&] { reply.Err(EPERM); });
}

void FuseFrontend::StatFs(FuseReply& reply) {
  Guarded("statfs", [&] {
    struct statvfs sv;
    memset(&sv, 0, sizeof sv);
    // The image's blocks, all "used": df shows the disk's size.
    sv.f_bsize = top_->block_size();
    sv.f_frsize = top_->block_size();
    sv.f_blocks = top_->num_blocks();
    sv.f_files = 3;
    sv.f_namemax = 255;
    reply.StatFs(sv);
  });
}

FuseFrontend::FuseFrontend(FuseFrontendOptions options) : options_(std::move(options)) {
  timespec now = Now();
  const uint32_t modes[3] = {0755, options_.file_mode & 07777, 0444};
  MutexLock lock(mu_);
  for (int i = 0; i < 3; i++) {
    attrs_[i].mode = modes[i];
    attrs_[i].uid = options_.uid;
    attrs_[i].gid = options_.gid;
    attrs_[i].atime = attrs_[i].mtime = attrs_[i].ctime = now;
  }
}

FuseFrontend::~FuseFrontend() {
  if (session_ != nullptr) {
    Unmount();
    fuse_session_destroy(session_);
  }
}

Status FuseFrontend::CreateSession(const std::vector<std::string>& fuse_options) {
  static const fuse_lowlevel_ops kOps = [] {
    fuse_lowlevel_ops ops;
    memset(&ops, 0, sizeof ops);
    ops.init = Ops::Init;
    ops.lookup = Ops::Lookup;
    ops.getattr = Ops::GetAttr;
    ops.setattr = Ops::SetAttr;
    ops.open = Ops::Open;
    ops.read = Ops::Read;
    ops.write = Ops::Write;
    ops.flush = Ops::Flush;
    ops.release = Ops::Release;
    ops.fsync = Ops::Fsync;
    ops.opendir = Ops::OpenDir;
    ops.readdir = Ops::ReadDir;
    ops.releasedir = Ops::ReleaseDir;
    ops.statfs = Ops::StatFs;
    ops.fallocate = Ops::Fallocate;
    ops.create = Ops::Create;
    ops.mknod = Ops::MkNod;
    ops.mkdir = Ops::MkDir;
    ops.unlink = Ops::Remove;
    ops.rmdir = Ops::Remove;
    ops.rename = Ops::Rename;
    ops.symlink = Ops::SymLink;
    ops.link = Ops::Link;
    return ops;
  }();
  // Ours first, so the user's -o options win where they overlap.
  std::vector<std::string> args = {
      "s3disk", "-o", "default_permissions,subtype=s3disk,fsname=" + EscapeOption(options_.fsname)};
  for (const std::string& opt : fuse_options) {
    args.push_back("-o");
    args.push_back(opt);
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  fuse_args fargs = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  FuseLogCapture capture;
  session_ = fuse_session_new(&fargs, &kOps, sizeof kOps, this);
  fuse_opt_free_args(&fargs);
  if (session_ == nullptr) {
    std::string joined;
    for (const std::string& opt : fuse_options) joined += (joined.empty() ? "" : ",") + opt;
    return Status::Errorf(EINVAL, "FUSE refused the mount options '-o %s'%s; see mount.fuse3(8)",
                          joined.c_str(), capture.Suffix().c_str());
  }
  return Status::Ok();
}

Status FuseFrontend::Mount(const std::string& mountpoint) {
  if (session_ == nullptr) return Status(EINVAL, "fuse: mount before CreateSession");
  FuseLogCapture capture;
  if (fuse_session_mount(session_, mountpoint.c_str()) != 0) {
    std::string why = capture.Suffix();
    return Status::Errorf(EIO, "cannot mount on %s%s", mountpoint.c_str(),
                          why.empty() ? " (see the message above)" : why.c_str());
  }
  mounted_ = true;
  mountpoint_ = mountpoint;
  RememberMountDevice();
  return Status::Ok();
}

void FuseFrontend::Attach(BlockStore* top, ByteRange* bytes) {
  top_ = top;
  bytes_ = bytes;
  size_bytes_ = bytes->size_bytes();
}

std::string FuseFrontend::StatsText() {
  std::string out;
  AppendStat(&out, "fuse_reads", reads_);
  AppendStat(&out, "fuse_writes", writes_);
  AppendStat(&out, "fuse_bytes_read", bytes_read_);
  AppendStat(&out, "fuse_bytes_written", bytes_written_);
  AppendStat(&out, "fuse_fsyncs", fsyncs_);
  AppendStat(&out, "fuse_punch_holes", punch_holes_);
  AppendStat(&out, "fuse_errors", errors_);
  if (top_ != nullptr) top_->DumpStats(&out);
  return out;
}

Status Daemonize(bool foreground) {
  if (fuse_daemonize(foreground ? 1 : 0) != 0) {
    return Status(EIO, "cannot start the daemon (fuse_daemonize failed)");
  }
  return Status::Ok();
}

}  // namespace s3disk
