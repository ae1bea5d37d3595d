// The FUSE front end: a directory holding the image file and the statistics file, served with
// the libfuse 3 low-level API over a ByteRange (see fuse_frontend.cc for the operations).
//
// Life cycle (main.cc): construct, CreateSession (parses the -o options; nothing mounted),
// Mount, Daemonize, Attach the started stack, Run (until the kernel has unmounted), then the
// caller flushes and shuts the stack down and calls Unmount. libfuse types stay in the .cc
// files (fuse_frontend.cc: the operations; fuse_frontend_stop.cc: Run and stopping).
//
// The operations (Lookup ... Refuse) take plain types and answer through a FuseReply:
// fuse_frontend.cc hands each libfuse request to one of them with a FuseReply that wraps the
// request; the unit tests call them with one that records.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/sync.h"
#include "block/block_store.h"
#include "block/byte_range.h"

struct fuse_session;

namespace s3disk {

struct FuseFrontendOptions {
  std::string filename = "file";         // the image
  std::string stats_filename = "stats";  // read-only, 0444
  uint32_t file_mode = 0600;             // permission bits of the image
  uid_t uid = 0;                         // owner of the files and the root directory
  gid_t gid = 0;
  bool read_only = false;  // opening the image for writing fails with EROFS
  // The kernel's write-back cache for the image (not with read_only): write() returns once
  // the data is in the page cache, and the kernel sends it on in batches, many at once, at
  // write-back or fsync (which still returns only once the data is in the bucket).
  bool writeback_cache = true;
  // Shown as the source of the mount in /proc/mounts, e.g. the bucket.
  std::string fsname = "s3disk";
};

// What Open chooses for an open file: libfuse's fuse_file_info, reduced to what we set.
struct FuseOpened {
  uint64_t fh = 0;          // given back to Read, Flush and Release on this file
  bool keep_cache = false;  // the kernel keeps its page cache of the file across opens
  bool direct_io = false;   // reads bypass the page cache (their size may differ from asked)
};

// One directory entry of a ReadDir reply.
struct FuseDirEntry {
  const char* name;
  uint64_t ino;
  mode_t type;  // S_IFDIR or S_IFREG
  off_t next;   // the offset of the entry after this one
};

// The answer to one request. Every operation makes exactly one of these calls, once.
class FuseReply {
 public:
  virtual ~FuseReply() = default;
  virtual void Err(int code) = 0;  // 0: done, nothing to return
  virtual void Buf(const char* data, size_t size) = 0;
  virtual void Attr(const struct stat& attr, double timeout_s) = 0;
  virtual void Entry(uint64_t ino, const struct stat& attr, double attr_timeout_s,
                     double entry_timeout_s) = 0;
  virtual void Written(size_t size) = 0;
  // False when the request was interrupted: no Release follows, so opened.fh is not given back.
  virtual bool Open(const FuseOpened& opened) = 0;
  virtual void StatFs(const struct statvfs& stats) = 0;
  // The entries from the first on, as many as fit in size bytes of the kernel's format.
  virtual void Dir(std::span<const FuseDirEntry> entries, size_t size) = 0;
};

class FuseFrontend {
 public:
  // The inodes: the mount directory, the image, the statistics file.
  static constexpr uint64_t kRootIno = 1;
  static constexpr uint64_t kImageIno = 2;
  static constexpr uint64_t kStatsIno = 3;
  // The bits of SetAttr's to_set: libfuse's FUSE_SET_ATTR_* (fuse_frontend.cc checks that they
  // match).
  static constexpr int kSetMode = 1 << 0;
  static constexpr int kSetUid = 1 << 1;
  static constexpr int kSetGid = 1 << 2;
  static constexpr int kSetSize = 1 << 3;
  static constexpr int kSetAtime = 1 << 4;
  static constexpr int kSetMtime = 1 << 5;
  static constexpr int kSetAtimeNow = 1 << 7;
  static constexpr int kSetMtimeNow = 1 << 8;
  static constexpr int kSetCtime = 1 << 10;

  explicit FuseFrontend(FuseFrontendOptions options);
  ~FuseFrontend();  // destroys the session (it must not be running)
  FuseFrontend(const FuseFrontend&) = delete;
  FuseFrontend& operator=(const FuseFrontend&) = delete;

  // Creates the FUSE session with these mount options (allow_other, ro, debug, ...) plus
  // default_permissions, fsname and subtype. Unknown options fail (EINVAL) here, before
  // anything is mounted or written.
  Status CreateSession(const std::vector<std::string>& fuse_options);
  // Mounts the session on mountpoint (an absolute path).
  Status Mount(const std::string& mountpoint);
  // Gives the front end the stack to serve. Before Run; top and bytes outlive Run.
  void Attach(BlockStore* top, ByteRange* bytes);
  // Serves requests on several threads until the kernel has unmounted the file system. A
  // signal (SIGINT, SIGTERM, SIGHUP) asks the kernel to unmount, so Run keeps serving while
  // the kernel writes its dirty pages back; if the image is still in use (a loop device), the
  // image is fsync'd, the mount detached, and Run serves until the last user lets go. Ok when
  // unmounted; an error of the loop otherwise. Later signals are ignored: the final flush
  // must finish.
  Status Run();
  // Unmounts (a no-op when already unmounted by umount or fusermount3 -u).
  void Unmount();

  // The statistics file's content: the front end's counters, then the stack's.
  std::string StatsText();

  // The operations, one per kind of request (after Attach). Each answers through reply exactly
  // once; an exception (a failed allocation) becomes an EIO reply instead of leaving them.
  void Lookup(FuseReply& reply, uint64_t parent, const char* name);
  void GetAttr(FuseReply& reply, uint64_t ino);
  void SetAttr(FuseReply& reply, uint64_t ino, const struct stat& attr, int to_set);
  void Open(FuseReply& reply, uint64_t ino, int flags);  // flags: open(2)'s
  void Release(FuseReply& reply, uint64_t ino, uint64_t fh);
  void Read(FuseReply& reply, uint64_t ino, size_t size, off_t off, uint64_t fh);
  void Write(FuseReply& reply, uint64_t ino, const char* buf, size_t size, off_t off);
  void Flush(FuseReply& reply, uint64_t ino, uint64_t fh);  // close() of a descriptor
  void Fsync(FuseReply& reply, uint64_t ino);
  void Fallocate(FuseReply& reply, uint64_t ino, int mode, off_t off, off_t len);
  void OpenDir(FuseReply& reply, uint64_t ino);
  void ReadDir(FuseReply& reply, uint64_t ino, size_t size, off_t off);
  void ReleaseDir(FuseReply& reply);
  void StatFs(FuseReply& reply);
  // create, mknod, mkdir, unlink, rmdir, rename, symlink, link: the directory is fixed.
  void Refuse(FuseReply& reply);

  // libfuse's callbacks (fuse_frontend.cc).
  struct Ops;

 private:
  // In-memory attributes of one of the three inodes (chmod, chown and touch change them; they
  // are not stored in the bucket).
  struct NodeAttr {
    uint32_t mode = 0;  // permission bits only
    uid_t uid = 0;
    gid_t gid = 0;
    struct timespec atime = {0, 0};
    struct timespec mtime = {0, 0};
    struct timespec ctime = {0, 0};
  };

  // Fills st for ino; false if there is no such inode.
  bool StatNode(uint64_t ino, struct stat* st);
  // The one path from a stack failure to an errno reply.
  void ReplyStackError(FuseReply& reply, const Status& st, const char* op);
  void FlushStack(FuseReply& reply, const char* op);

  // Stopping on a signal (fuse_frontend_stop.cc), on the stopper thread while Run serves.
  void WaitForStopSignals(int fd);
  bool UnmountOnSignal(int sig);  // true once the kernel unmounted or detached the mount
  bool StillMountedHere();
  void SyncImage();
  void RememberMountDevice();

  const FuseFrontendOptions options_;
  struct fuse_session* session_ = nullptr;
  bool mounted_ = false;
  std::string mountpoint_;  // set by Mount
  dev_t mount_dev_ = 0;     // the mount's device number; 0: unknown
  BlockStore* top_ = nullptr;
  ByteRange* bytes_ = nullptr;
  uint64_t size_bytes_ = 0;

  Mutex mu_;
  NodeAttr attrs_[3] GUARDED_BY(mu_);  // root, image, stats

  std::atomic<uint64_t> reads_{0};
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> bytes_read_{0};
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> fsyncs_{0};
  std::atomic<uint64_t> punch_holes_{0};
  std::atomic<uint64_t> errors_{0};
};

// Detaches from the terminal unless foreground (fuse_daemonize: fork, setsid, chdir "/",
// stdio to /dev/null). Threads must not have been started yet.
Status Daemonize(bool foreground);

}  // namespace s3disk
