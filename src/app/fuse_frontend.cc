// FUSE front end over the libfuse 3 low-level API.
//
// States of the front end (driven by main.cc, one thread):
//   new -> session (CreateSession) -> mounted (Mount) -> serving (Attach, Run) -> stopped
//   (Run returned: the kernel unmounted) -> unmounted (Unmount). Operations run only while
//   serving, on libfuse's worker threads, all concurrently; ByteRange serializes writes per
//   block. Run and the way a signal stops it are in fuse_frontend_stop.cc.
// The mount directory (inode 1) holds two files with fixed inodes: the image (2) and the
// statistics file (3). Nothing is created, removed or renamed.
//
// Invariants:
//   | what                         | holds because                                           |
//   |------------------------------|---------------------------------------------------------|
//   | top_, bytes_ non-null in ops | Attach precedes Run; no request is read before Run      |
//   | image size never changes     | setattr refuses other sizes; writes past the end EFBIG  |
//   |                              |   (logged: with the write-back cache, the writer sees   |
//   |                              |   EIO only at fsync or close)                           |
//   | every failed op replies once | each op ends in exactly one fuse_reply_* call           |
//   | stack errors are counted and | ReplyStackError is the one path from Status to errno;   |
//   |   logged once, never errno 0 |   code <= 0 and ENOSYS become EIO                       |
//   | attrs_ only under mu_        | NodeFor/SetAttr take mu_; the stack is never called     |
//   |                              |   with mu_ held                                         |
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
#include <cstring>
#include <ctime>
#include <exception>
#include <mutex>
#include <vector>

#include "base/log.h"
#include "base/stats.h"

namespace s3disk {
namespace {

constexpr fuse_ino_t kRootIno = FUSE_ROOT_ID;  // 1
constexpr fuse_ino_t kImageIno = 2;
constexpr fuse_ino_t kStatsIno = 3;
// The image's attributes change only through us, so the kernel may keep them; the stats
// file's size changes all the time.
constexpr double kStableTimeoutS = 60.0;
constexpr double kStatsTimeoutS = 0.0;
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

// Runs a request's callback; an exception (an allocation that failed) becomes an EIO reply
// instead of unwinding into libfuse's C frames, which would end the process. The replies are
// C calls that do not throw, so when an exception is caught no reply has gone out yet.
template <auto kCallback>
struct Guarded;
template <typename... Args, void (*kCallback)(fuse_req_t, Args...)>
struct Guarded<kCallback> {
  static void Call(fuse_req_t req, Args... args) {
    try {
      kCallback(req, args...);
    } catch (const std::exception& e) {
      LOG_ERROR("fuse: %s; answering EIO", e.what());
      fuse_reply_err(req, EIO);
    } catch (...) {
      LOG_ERROR("fuse: unknown exception; answering EIO");
      fuse_reply_err(req, EIO);
    }
  }
};

}  // namespace

// The callbacks: each gets the FuseFrontend from the request and replies exactly once.
struct FuseFrontend::Ops {
  static FuseFrontend& Self(fuse_req_t req) {
    return *static_cast<FuseFrontend*>(fuse_req_userdata(req));
  }

  // The one path from a stack failure to an errno reply.
  static void ReplyStackError(fuse_req_t req, const Status& st, const char* op) {
    FuseFrontend& self = Self(req);
    int code = FrontEndErrno(st);
    self.errors_++;
    LOG_WARN("fuse: %s: %s", op, st.ToString().c_str());
    fuse_reply_err(req, code);
  }

  static bool Stat(FuseFrontend& self, fuse_ino_t ino, struct stat* st) {
    memset(st, 0, sizeof *st);
    if (ino < kRootIno || ino > kStatsIno) return false;
    uint64_t size = 0;
    if (ino == kImageIno) size = self.size_bytes_;
    if (ino == kStatsIno) size = self.StatsText().size();
    MutexLock lock(self.mu_);
    const NodeAttr& a = self.attrs_[ino - 1];
    st->st_ino = ino;
    st->st_mode = a.mode | (ino == kRootIno ? S_IFDIR : S_IFREG);
    st->st_nlink = ino == kRootIno ? 2 : 1;
    st->st_uid = a.uid;
    st->st_gid = a.gid;
    st->st_size = static_cast<off_t>(size);
    st->st_blksize = self.top_ != nullptr ? self.top_->block_size() : 4096;
    st->st_blocks = static_cast<blkcnt_t>((size + 511) / 512);
    st->st_atim = a.atime;
    st->st_mtim = a.mtime;
    st->st_ctim = a.ctime;
    return true;
  }

  static double Timeout(fuse_ino_t ino) {
    return ino == kStatsIno ? kStatsTimeoutS : kStableTimeoutS;
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
    FuseFrontend& self = Self(req);
    if (parent != kRootIno) return (void)fuse_reply_err(req, ENOTDIR);
    fuse_ino_t ino = 0;
    if (self.options_.filename == name) ino = kImageIno;
    if (self.options_.stats_filename == name) ino = kStatsIno;
    if (ino == 0) return (void)fuse_reply_err(req, ENOENT);
    fuse_entry_param e;
    memset(&e, 0, sizeof e);
    e.ino = ino;
    e.attr_timeout = Timeout(ino);
    e.entry_timeout = kStableTimeoutS;
    Stat(self, ino, &e.attr);
    fuse_reply_entry(req, &e);
  }

  static void GetAttr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info*) {
    struct stat st;
    if (!Stat(Self(req), ino, &st)) return (void)fuse_reply_err(req, ENOENT);
    fuse_reply_attr(req, &st, Timeout(ino));
  }

  static void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
                      struct fuse_file_info*) {
    FuseFrontend& self = Self(req);
    if (ino < kRootIno || ino > kStatsIno) return (void)fuse_reply_err(req, ENOENT);
    if (to_set & FUSE_SET_ATTR_SIZE) {
      // The image has a fixed size; truncating to that size (O_TRUNC is refused earlier by
      // the size check, a same-size truncate is harmless) succeeds.
      if (ino == kRootIno) return (void)fuse_reply_err(req, EISDIR);
      if (ino == kStatsIno) return (void)fuse_reply_err(req, EPERM);
      if (static_cast<uint64_t>(attr->st_size) != self.size_bytes_) {
        return (void)fuse_reply_err(req, EINVAL);
      }
    }
    {
      MutexLock lock(self.mu_);
      NodeAttr& a = self.attrs_[ino - 1];
      timespec now = Now();
      if (to_set & FUSE_SET_ATTR_MODE) a.mode = attr->st_mode & 07777;
      if (to_set & FUSE_SET_ATTR_UID) a.uid = attr->st_uid;
      if (to_set & FUSE_SET_ATTR_GID) a.gid = attr->st_gid;
      if (to_set & FUSE_SET_ATTR_ATIME) a.atime = attr->st_atim;
      if (to_set & FUSE_SET_ATTR_ATIME_NOW) a.atime = now;
      if (to_set & FUSE_SET_ATTR_MTIME) a.mtime = attr->st_mtim;
      if (to_set & FUSE_SET_ATTR_MTIME_NOW) a.mtime = now;
      a.ctime = now;
      if (to_set & FUSE_SET_ATTR_CTIME) a.ctime = attr->st_ctim;
    }
    struct stat st;
    Stat(self, ino, &st);
    fuse_reply_attr(req, &st, Timeout(ino));
  }

  static void Open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
    FuseFrontend& self = Self(req);
    bool writing = (fi->flags & O_ACCMODE) != O_RDONLY;
    switch (ino) {
      case kRootIno:
        return (void)fuse_reply_err(req, EISDIR);
      case kImageIno:
        if (writing && self.options_.read_only) return (void)fuse_reply_err(req, EROFS);
        fi->fh = writing ? kWritableFh : 0;
        fi->keep_cache = 1;
        break;
      case kStatsIno: {
        if (writing) return (void)fuse_reply_err(req, EACCES);
        auto* text = new std::string(self.StatsText());
        fi->fh = reinterpret_cast<uint64_t>(text);
        fi->direct_io = 1;
        fi->keep_cache = 0;
        if (fuse_reply_open(req, fi) != 0) delete text;  // interrupted: no release follows
        return;
      }
      default:
        return (void)fuse_reply_err(req, ENOENT);
    }
    fuse_reply_open(req, fi);
  }

  static void Release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
    if (ino == kStatsIno) delete reinterpret_cast<std::string*>(fi->fh);
    fuse_reply_err(req, 0);
  }

  static void Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                   struct fuse_file_info* fi) {
    FuseFrontend& self = Self(req);
    if (off < 0) return (void)fuse_reply_err(req, EINVAL);
    uint64_t offset = static_cast<uint64_t>(off);
    if (ino == kStatsIno) {
      const std::string& text = *reinterpret_cast<const std::string*>(fi->fh);
      if (offset >= text.size()) return (void)fuse_reply_buf(req, nullptr, 0);
      size_t n = std::min<uint64_t>(size, text.size() - offset);
      return (void)fuse_reply_buf(req, text.data() + offset, n);
    }
    if (ino != kImageIno) return (void)fuse_reply_err(req, EISDIR);
    self.reads_++;
    // Short read at the end of the image, nothing at or past it.
    if (offset >= self.size_bytes_) return (void)fuse_reply_buf(req, nullptr, 0);
    size_t n = std::min<uint64_t>(size, self.size_bytes_ - offset);
    // One buffer per worker thread, grown once: a fresh zero-filled vector per read cost a
    // memset (and often fresh pages) of up to 1 MiB for bytes the stack overwrites anyway.
    thread_local std::vector<uint8_t> buffer;
    if (buffer.size() < n) buffer.resize(n);
    std::span<uint8_t> buf(buffer.data(), n);
    Status st = self.bytes_->Read(offset, buf);
    if (!st.ok()) return ReplyStackError(req, st, "read");
    self.bytes_read_ += n;
    fuse_reply_buf(req, reinterpret_cast<const char*>(buf.data()), n);
  }

  static void Write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
                    struct fuse_file_info*) {
    FuseFrontend& self = Self(req);
    if (ino != kImageIno) return (void)fuse_reply_err(req, ino == kStatsIno ? EACCES : EISDIR);
    if (self.options_.read_only) return (void)fuse_reply_err(req, EROFS);
    if (off < 0) return (void)fuse_reply_err(req, EINVAL);
    self.writes_++;
    uint64_t offset = static_cast<uint64_t>(off);
    // The image cannot grow: a write that does not fit is refused whole. With the write-back
    // cache the writer learns it only at fsync or close (EIO), so it is logged too.
    if (offset >= self.size_bytes_ || size > self.size_bytes_ - offset) {
      LOG_ERROR(
          "fuse: a write of %zu bytes at offset %llu is past the end of the image "
          "(%llu bytes); refused",
          size, static_cast<unsigned long long>(offset),
          static_cast<unsigned long long>(self.size_bytes_));
      return (void)fuse_reply_err(req, EFBIG);
    }
    Status st = self.bytes_->Write(offset, {reinterpret_cast<const uint8_t*>(buf), size});
    if (!st.ok()) return ReplyStackError(req, st, "write");
    self.bytes_written_ += size;
    {
      MutexLock lock(self.mu_);
      self.attrs_[kImageIno - 1].mtime = self.attrs_[kImageIno - 1].ctime = Now();
    }
    fuse_reply_write(req, size);
  }

  static void FlushStack(fuse_req_t req, const char* op) {
    FuseFrontend& self = Self(req);
    self.fsyncs_++;
    Status st = self.bytes_->Flush();
    if (!st.ok()) return ReplyStackError(req, st, op);
    fuse_reply_err(req, 0);
  }

  // close(): a descriptor that could write makes everything written durable first.
  static void Flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
    if (ino != kImageIno || fi->fh != kWritableFh) return (void)fuse_reply_err(req, 0);
    FlushStack(req, "flush");
  }

  static void Fsync(fuse_req_t req, fuse_ino_t ino, int, struct fuse_file_info*) {
    if (ino != kImageIno) return (void)fuse_reply_err(req, 0);
    FlushStack(req, "fsync");
  }

  static void Fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
                        struct fuse_file_info*) {
    FuseFrontend& self = Self(req);
    if (ino != kImageIno) return (void)fuse_reply_err(req, EOPNOTSUPP);
    if (off < 0 || len <= 0) return (void)fuse_reply_err(req, EINVAL);
    uint64_t start = static_cast<uint64_t>(off);
    uint64_t end = start + static_cast<uint64_t>(len);
    const bool keep_size = mode & FALLOC_FL_KEEP_SIZE;
    const int kind = mode & ~FALLOC_FL_KEEP_SIZE;
    if (kind == 0) {
      // Preallocation: every block is always "allocated"; it cannot grow the image.
      if (keep_size || end <= self.size_bytes_) return (void)fuse_reply_err(req, 0);
      return (void)fuse_reply_err(req, EOPNOTSUPP);
    }
    // Discard (PUNCH_HOLE, which the kernel only sends with KEEP_SIZE) and the loop driver's
    // write-zeroes (ZERO_RANGE): both leave zeros, which the stack stores as absent blocks.
    if (kind != FALLOC_FL_PUNCH_HOLE && kind != FALLOC_FL_ZERO_RANGE) {
      return (void)fuse_reply_err(req, EOPNOTSUPP);
    }
    if (kind == FALLOC_FL_PUNCH_HOLE && !keep_size) return (void)fuse_reply_err(req, EOPNOTSUPP);
    if (!keep_size && end > self.size_bytes_) return (void)fuse_reply_err(req, EOPNOTSUPP);
    if (self.options_.read_only) return (void)fuse_reply_err(req, EROFS);
    end = std::min(end, self.size_bytes_);
    self.punch_holes_++;
    if (start < end) {
      Status st = self.bytes_->Zero(start, end - start);
      if (!st.ok()) return ReplyStackError(req, st, "fallocate");
    }
    fuse_reply_err(req, 0);
  }

  static void OpenDir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
    if (ino != kRootIno) return (void)fuse_reply_err(req, ENOTDIR);
    fuse_reply_open(req, fi);
  }

  static void ReleaseDir(fuse_req_t req, fuse_ino_t, struct fuse_file_info*) {
    fuse_reply_err(req, 0);
  }

  static void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                      struct fuse_file_info*) {
    FuseFrontend& self = Self(req);
    if (ino != kRootIno) return (void)fuse_reply_err(req, ENOTDIR);
    struct Entry {
      const char* name;
      fuse_ino_t ino;
      mode_t type;
    };
    const Entry entries[] = {
        {".", kRootIno, S_IFDIR},
        {"..", kRootIno, S_IFDIR},
        {self.options_.filename.c_str(), kImageIno, S_IFREG},
        {self.options_.stats_filename.c_str(), kStatsIno, S_IFREG},
    };
    std::vector<char> buf(size);
    size_t used = 0;
    for (off_t i = std::max<off_t>(off, 0); i < static_cast<off_t>(std::size(entries)); i++) {
      struct stat st;
      memset(&st, 0, sizeof st);
      st.st_ino = entries[i].ino;
      st.st_mode = entries[i].type;
      size_t need =
          fuse_add_direntry(req, buf.data() + used, size - used, entries[i].name, &st, i + 1);
      if (need > size - used) break;
      used += need;
    }
    fuse_reply_buf(req, buf.data(), used);
  }

  // The directory's contents are fixed: creating, removing or renaming anything is refused
  // (EPERM rather than the default ENOSYS, which reads as "not implemented").
  static void Create(fuse_req_t req, fuse_ino_t, const char*, mode_t, struct fuse_file_info*) {
    fuse_reply_err(req, EPERM);
  }
  static void MkNod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) {
    fuse_reply_err(req, EPERM);
  }
  static void MkDir(fuse_req_t req, fuse_ino_t, const char*, mode_t) { fuse_reply_err(req, EPERM); }
  static void Remove(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, EPERM); }
  static void Rename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*,
                     unsigned int) {
    fuse_reply_err(req, EPERM);
  }
  static void SymLink(fuse_req_t req, const char*, fuse_ino_t, const char*) {
    fuse_reply_err(req, EPERM);
  }
  static void Link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) {
    fuse_reply_err(req, EPERM);
  }

  static void StatFs(fuse_req_t req, fuse_ino_t) {
    FuseFrontend& self = Self(req);
    struct statvfs sv;
    memset(&sv, 0, sizeof sv);
    // The image's blocks, all "used": df shows the disk's size.
    sv.f_bsize = self.top_->block_size();
    sv.f_frsize = self.top_->block_size();
    sv.f_blocks = self.top_->num_blocks();
    sv.f_files = 3;
    sv.f_namemax = 255;
    fuse_reply_statfs(req, &sv);
  }
};

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
    ops.lookup = Guarded<Ops::Lookup>::Call;
    ops.getattr = Guarded<Ops::GetAttr>::Call;
    ops.setattr = Guarded<Ops::SetAttr>::Call;
    ops.open = Guarded<Ops::Open>::Call;
    ops.read = Guarded<Ops::Read>::Call;
    ops.write = Guarded<Ops::Write>::Call;
    ops.flush = Guarded<Ops::Flush>::Call;
    ops.release = Guarded<Ops::Release>::Call;
    ops.fsync = Guarded<Ops::Fsync>::Call;
    ops.opendir = Guarded<Ops::OpenDir>::Call;
    ops.readdir = Guarded<Ops::ReadDir>::Call;
    ops.releasedir = Guarded<Ops::ReleaseDir>::Call;
    ops.statfs = Guarded<Ops::StatFs>::Call;
    ops.fallocate = Guarded<Ops::Fallocate>::Call;
    ops.create = Guarded<Ops::Create>::Call;
    ops.mknod = Guarded<Ops::MkNod>::Call;
    ops.mkdir = Guarded<Ops::MkDir>::Call;
    ops.unlink = Guarded<Ops::Remove>::Call;
    ops.rmdir = Guarded<Ops::Remove>::Call;
    ops.rename = Guarded<Ops::Rename>::Call;
    ops.symlink = Guarded<Ops::SymLink>::Call;
    ops.link = Guarded<Ops::Link>::Call;
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
