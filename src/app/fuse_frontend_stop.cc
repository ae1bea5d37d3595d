// Serving and stopping the FUSE front end: Run, and what SIGINT, SIGTERM and SIGHUP do.
//
// A signal must not just end the request loop. With the write-back cache the kernel holds
// dirty pages of the image (a loop device on the image holds more, and a file system on that
// loop device more still), and they reach us only while we serve: closing /dev/fuse first
// loses them. So a signal asks the kernel to unmount, and Run goes on serving: the kernel
// writes everything back before it lets the mount go, then closes the connection, which ends
// the loop. A mount still in use (the image open, e.g. by a loop device) cannot be unmounted;
// then the image is fsync'd (what the kernel holds so far reaches the bucket), the mount is
// detached (lazily: it goes once its last user lets go), and Run serves until then.
//
// States of the stopper thread (it runs while Run serves):
//   waiting -- for a byte on the signal pipe (the handler writes the signal's number)
//   asked   -- the kernel unmounted the mount or detached it; later signals are only logged
//   done    -- Run wrote 0 after the loop ended; the thread returns
//
// Invariants:
//   | what                                  | holds because                                 |
//   |---------------------------------------|-----------------------------------------------|
//   | the handler is async-signal-safe      | it writes one byte to a non-blocking pipe and |
//   |                                       |   reads one lock-free atomic                  |
//   | a handler never writes to a stranger  | the pipe's write end is never closed          |
//   | no dirty page is dropped at a signal  | the loop ends only when the kernel closes the |
//   |                                       |   connection, after its last write-back       |
//   | no other file system is unmounted     | the path is unmounted only while its device   |
//   |                                       |   is still the one Mount saw                  |
//   | the final flush is never cut short    | signals are ignored once the loop has ended   |
#define FUSE_USE_VERSION 35

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "app/fuse_frontend.h"
#include "base/log.h"

extern char** environ;

namespace s3disk {
namespace {

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

// The signal pipe's write end while Run serves; -1 otherwise.
std::atomic<int> g_stop_pipe{-1};

void OnStopSignal(int sig) {
  const int saved = errno;
  const int fd = g_stop_pipe.load();
  if (fd >= 0) {
    const unsigned char byte = static_cast<unsigned char>(sig);
    (void)!write(fd, &byte, 1);
  }
  errno = saved;
}

const char* SignalName(int sig) {
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "a signal";
  }
}

// The device number of the file system at path, without asking the FUSE server (which is
// not serving yet when Mount asks): statx with no fields wanted and AT_STATX_DONT_SYNC is
// answered from the kernel's cache.
bool MountDevice(const std::string& path, dev_t* dev) {
  struct statx stx;
  if (statx(AT_FDCWD, path.c_str(), AT_STATX_DONT_SYNC | AT_SYMLINK_NOFOLLOW, 0, &stx) != 0) {
    return false;
  }
  *dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
  return true;
}

// fusermount3 -u [-z] PATH, for a mount we may not unmount ourselves (not root): Ok if it
// exited 0; EBUSY otherwise (the likely reason; it printed the real one on stderr).
Status Fusermount(const std::string& path, bool lazy) {
  std::vector<std::string> args = {"fusermount3", "-u", "-q"};
  if (lazy) args.push_back("-z");
  args.push_back("--");
  args.push_back(path);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
  if (rc != 0) return Status::Errorf(rc, "cannot run fusermount3: %s", strerror(rc));
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return Status::Ok();
  return Status::Errorf(EBUSY, "fusermount3 -u%s failed", lazy ? " -z" : "");
}

// Asks the kernel to unmount path; lazy detaches a busy mount (it goes when its last user
// lets go). EBUSY when not lazy and the mount is in use.
Status KernelUnmount(const std::string& path, bool lazy) {
  if (geteuid() == 0) {
    if (umount2(path.c_str(), UMOUNT_NOFOLLOW | (lazy ? MNT_DETACH : 0)) == 0) return Status::Ok();
    if (errno != EPERM) return Status::Errorf(errno, "%s", strerror(errno));
  }
  return Fusermount(path, lazy);  // as libfuse unmounts without the privilege
}

}  // namespace

Status FuseFrontend::Run() {
  if (session_ == nullptr || !mounted_ || top_ == nullptr) {
    return Status(EINVAL, "fuse: Run before Mount and Attach");
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status::Errorf(errno, "fuse: cannot create the signal pipe: %s", strerror(errno));
  }
  g_stop_pipe = fds[1];
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int sig : kStopSignals) sigaction(sig, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
  std::thread stopper([this, fd = fds[0]] { WaitForStopSignals(fd); });

  fuse_loop_config config;
  memset(&config, 0, sizeof config);
  config.clone_fd = 0;
  config.max_idle_threads = 10;
  int rc = fuse_session_loop_mt(session_, &config);

  // The kernel has unmounted; what is left is the final flush, which no signal may cut short.
  for (int sig : kStopSignals) signal(sig, SIG_IGN);
  g_stop_pipe = -1;
  const unsigned char done = 0;
  (void)!write(fds[1], &done, 1);
  stopper.join();
  close(fds[0]);  // the write end stays open: a handler may still be running elsewhere
  if (rc < 0) return Status::Errorf(-rc, "fuse: the request loop failed");
  return Status::Ok();
}

void FuseFrontend::WaitForStopSignals(int fd) {
  bool asked = false;
  for (;;) {
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, -1) < 0) {
      if (errno == EINTR) continue;
      LOG_ERROR("fuse: cannot wait for signals (%s); stop s3disk with umount", strerror(errno));
      return;
    }
    unsigned char byte = 0;
    if (read(fd, &byte, 1) != 1) continue;
    if (byte == 0) return;
    if (asked) {
      LOG_INFO("fuse: %s: already unmounting %s; serving until its last user lets go",
               SignalName(byte), mountpoint_.c_str());
      continue;
    }
    asked = UnmountOnSignal(byte);
  }
}

bool FuseFrontend::UnmountOnSignal(int sig) {
  const char* mnt = mountpoint_.c_str();
  LOG_INFO("fuse: %s: unmounting %s (serving until the kernel has written everything back)",
           SignalName(sig), mnt);
  if (!StillMountedHere()) {
    LOG_WARN(
        "fuse: %s is no longer this mount (it was unmounted lazily); serving until the last "
        "user of the image lets go",
        mnt);
    return true;
  }
  Status st = KernelUnmount(mountpoint_, false);
  if (st.ok()) return true;
  if (st.code() != EBUSY) {
    LOG_ERROR("fuse: cannot unmount %s: %s; still serving: unmount it with umount", mnt,
              st.message().c_str());
    return false;
  }
  // In use: a loop device (or a process) holds the image, or something is mounted inside.
  SyncImage();
  // The sync can take long: the path must still be this mount before it is detached.
  if (!StillMountedHere()) {
    LOG_WARN("fuse: %s is no longer this mount; serving until the last user of the image lets go",
             mnt);
    return true;
  }
  st = KernelUnmount(mountpoint_, true);
  if (!st.ok()) {
    LOG_ERROR("fuse: cannot detach %s: %s; still serving: unmount it with umount -l", mnt,
              st.message().c_str());
    return false;
  }
  LOG_WARN(
      "fuse: %s is in use (the image is open, e.g. by a loop device): detached it, serving "
      "until the last user lets go; unmount what is mounted on the image and detach its loop "
      "device (losetup -d)",
      mnt);
  return true;
}

bool FuseFrontend::StillMountedHere() {
  if (mount_dev_ == 0) return true;  // unknown: trust the path
  dev_t now = 0;
  return MountDevice(mountpoint_, &now) && now == mount_dev_;
}

// Like `sync FILE`: the kernel writes the image's dirty pages back, then our fsync flushes
// the stack, so what reached the image before the signal is durable (in the bucket, or with
// --fsyncTo=journal in the journal, which the shutdown then uploads).
void FuseFrontend::SyncImage() {
  const std::string path = mountpoint_ + "/" + options_.filename;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    LOG_WARN("fuse: cannot open %s to write it back: %s", path.c_str(), strerror(errno));
    return;
  }
  if (fsync(fd) == 0) {
    LOG_INFO("fuse: what was written to %s so far is durable", path.c_str());
  } else {
    LOG_WARN("fuse: fsync %s: %s (its data stays in the cache)", path.c_str(), strerror(errno));
  }
  close(fd);
}

void FuseFrontend::RememberMountDevice() {
  if (!MountDevice(mountpoint_, &mount_dev_)) mount_dev_ = 0;
}

void FuseFrontend::Unmount() {
  if (session_ != nullptr && mounted_) {
    fuse_session_unmount(session_);
    mounted_ = false;
  }
}

}  // namespace s3disk
