// The FUSE front end: a directory holding the image file and the statistics file, served with
// the libfuse 3 low-level API over a ByteRange (see fuse_frontend.cc for the operations).
//
// Life cycle (main.cc): construct, CreateSession (parses the -o options; nothing mounted),
// Mount, Daemonize, Attach the started stack, Run (until the kernel has unmounted), then the
// caller flushes and shuts the stack down and calls Unmount. libfuse types stay in the .cc
// files (fuse_frontend.cc: the operations; fuse_frontend_stop.cc: Run and stopping).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <ctime>
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

class FuseFrontend {
 public:
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

  // Used by the operation callbacks in fuse_frontend.cc.
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
