// s3disk --nbd: nbdkit (with our plugin) as a child process, and nbd-client for a kernel
// device. See nbd_launcher.h for the order of events.
//
// Launcher states:
//   starting  -- nbdkit forked, its socket not yet accepting; nbdkit's death = start failed
//   attaching -- socket accepts; nbd-client runs (only with a device)
//   serving   -- waiting for SIGINT/SIGTERM/SIGHUP or nbdkit's death
//   stopping  -- nbd-client -d (if attached), SIGTERM to nbdkit, wait for it to exit
//
// Invariants
//   | invariant                                          | kept by                          |
//   |----------------------------------------------------|----------------------------------|
//   | nbdkit never outlives s3disk                       | --exit-with-parent; Stop() waits |
//   | a terminal ^C reaches only s3disk, which stops     | nbdkit runs in its own process   |
//   | nbdkit in order (detach first, then nbdkit)        | group                            |
//   | the device is detached before nbdkit stops         | Stop() order                     |
//   | signals are never lost between the checks          | blocked from the start, taken    |
//   |                                                    | with sigtimedwait                |
//   | the private socket directory is removed at exit    | RunNbd's single exit path        |
//   | no threads: the daemon fork is safe                | one thread throughout            |
#include "app/nbd_launcher.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <sstream>

#include "app/stack.h"
#include "base/log.h"

#ifndef S3DISK_PKGLIBDIR
#define S3DISK_PKGLIBDIR "/usr/local/lib/s3disk"
#endif

namespace s3disk {
namespace {

constexpr int kSocketWaitSeconds = 300;  // nbdkit's get_ready may list a large bucket first
constexpr uint32_t kKernelBlockSize = 4096;

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string SelfExeDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return DirName(buf);
}

// fork + exec argv with signals unblocked; own_group puts the child in a new process group;
// stderr_fd >= 0 becomes its stderr, with /dev/null as stdin and stdout. Returns the pid, or
// -1 with errno.
pid_t Spawn(const std::vector<std::string>& argv, bool own_group, int stderr_fd = -1) {
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = fork();
  if (pid != 0) return pid;
  if (own_group) setpgid(0, 0);
  if (stderr_fd >= 0) {
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
    }
    dup2(stderr_fd, 2);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execv(cargv[0], cargv.data());
  fprintf(stderr, "s3disk: cannot run %s: %s\n", cargv[0], strerror(errno));
  _exit(127);
}

std::string DescribeExit(int wstatus) {
  if (WIFEXITED(wstatus)) return "exited with status " + std::to_string(WEXITSTATUS(wstatus));
  if (WIFSIGNALED(wstatus)) return std::string("was killed by ") + strsignal(WTERMSIG(wstatus));
  return "stopped";
}

// Runs argv to completion; Ok if it exited 0.
Status RunCommand(const std::vector<std::string>& argv) {
  pid_t pid = Spawn(argv, false);
  if (pid < 0)
    return Status::Errorf(errno, "nbd: cannot start %s: %s", argv[0].c_str(), strerror(errno));
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return Status::Ok();
  return Status::Errorf(EIO, "nbd: %s %s", argv[0].c_str(), DescribeExit(wstatus).c_str());
}

bool SocketAccepts(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  bool ok = connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

// The daemon's side of the start-up pipe: the parent prints what we write and exits with
// 0 after "ok", 1 otherwise (or on EOF).
struct Daemon {
  int fd = -1;  // -1: foreground

  void Ready() {
    if (fd < 0) return;
    (void)!write(fd, "ok", 2);
    close(fd);
    fd = -1;
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
      if (null > 2) close(null);
    }
  }
  int Failed(const Status& st) {
    if (fd >= 0) {
      std::string text = "s3disk: " + st.message() + "\n";
      (void)!write(fd, text.data(), text.size());
      close(fd);
      fd = -1;
    }
    LOG_ERROR("%s", st.message().c_str());
    return kExitFailure;
  }
};

// Forks; the parent waits for the child's verdict and exits with it; the child returns,
// detached (setsid, cwd "/"), with the pipe in daemon->fd. Nothing is forked before this.
Status Daemonize(Daemon* daemon, LogLevel level) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::Errorf(errno, "nbd: pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0) return Status::Errorf(errno, "nbd: fork: %s", strerror(errno));
  if (pid > 0) {
    close(fds[1]);
    std::string got;
    char buf[512];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    if (got == "ok") _exit(kExitOk);
    if (got.empty()) got = "s3disk: the daemon exited while starting; see the system log\n";
    fputs(got.c_str(), stderr);
    _exit(kExitFailure);
  }
  close(fds[0]);
  daemon->fd = fds[1];
  setsid();
  if (chdir("/") != 0) {
    // Not fatal: every path is absolute by now.
  }
  LogToSyslog(level, "s3disk");
  return Status::Ok();
}

struct Children {
  pid_t nbdkit = -1;
  std::string nbd_client;  // path, when a device is attached
  std::string device;
  bool attached = false;
};

// stopping: detach, then SIGTERM nbdkit (its unload flushes) and wait. Ok if nbdkit exited 0.
Status Stop(Children* c) {
  Status result;
  if (c->attached) {
    LOG_INFO("nbd: detaching %s", c->device.c_str());
    Status st = RunCommand(NbdClientDetachArgv(c->nbd_client, c->device));
    if (!st.ok()) result = st;
    c->attached = false;
  }
  if (c->nbdkit > 0) {
    kill(c->nbdkit, SIGTERM);
    int wstatus = 0;
    while (waitpid(c->nbdkit, &wstatus, 0) < 0 && errno == EINTR) {
    }
    c->nbdkit = -1;
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
      result = Status::Errorf(EIO, "nbd: nbdkit %s while stopping", DescribeExit(wstatus).c_str());
    }
  }
  return result;
}

// A daemon's nbdkit writes to a pipe; its lines go to our stderr until the disk is served
// (the user is still waiting for the start-up verdict), then to our log (syslog).
struct Relay {
  int fd = -1;  // read end, non-blocking; -1: none (foreground: nbdkit has our stderr)
  bool ready = false;
  std::string partial;

  void Emit(const std::string& line) {
    const bool chatter =
        line.find(": INFO: ") != std::string::npos || line.find(": DEBUG: ") != std::string::npos;
    if (!ready && !chatter) {  // a daemon's terminal hears only of problems
      fprintf(stderr, "%s\n", line.c_str());
      return;
    }
    LogLevel level = LogLevel::kInfo;
    if (line.find("ERROR") != std::string::npos || line.find("error:") != std::string::npos) {
      level = LogLevel::kError;
    } else if (line.find("WARNING") != std::string::npos) {
      level = LogLevel::kWarn;
    }
    LogMessage(level, "%s", line.c_str());
  }
  void Drain() {
    if (fd < 0) return;
    char buf[4096];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n == 0 || errno != EAGAIN) {
          close(fd);
          fd = -1;
          if (!partial.empty()) Emit(partial);
          partial.clear();
        }
        return;
      }
      partial.append(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = partial.find('\n')) != std::string::npos;) {
        Emit(partial.substr(0, nl));
        partial.erase(0, nl + 1);
      }
    }
  }
};

// Waits up to timeout_ms for a signal in set (relaying nbdkit's output meanwhile). Returns
// the signal taken, 0 if none came.
int WaitSignal(const sigset_t& set, int timeout_ms, Relay* relay) {
  if (relay->fd >= 0) {
    struct pollfd pfd = {relay->fd, POLLIN, 0};
    poll(&pfd, 1, timeout_ms);
    relay->Drain();
    timeout_ms = 0;
  }
  struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
  int sig = sigtimedwait(&set, nullptr, &ts);
  return sig < 0 ? 0 : sig;
}

// starting: until nbdkit's socket is there (its stale one was removed before). Fails if nbdkit
// dies, a stop signal comes, or kSocketWaitSeconds pass.
Status WaitForSocket(Children* c, const std::string& socket, const sigset_t& set, Relay* relay) {
  const time_t deadline = time(nullptr) + kSocketWaitSeconds;
  bool seen = false;
  for (;;) {
    int wstatus = 0;
    pid_t done = waitpid(c->nbdkit, &wstatus, WNOHANG);
    if (done == c->nbdkit) {
      c->nbdkit = -1;
      relay->Drain();
      return Status::Errorf(EIO, "nbd: nbdkit %s before serving (its messages are above)",
                            DescribeExit(wstatus).c_str());
    }
    // Not a test connection: nbdkit logs an error for a client that leaves mid-handshake.
    // nbdkit binds, then listens at once; one more poll interval covers that gap.
    struct stat st;
    const bool exists = lstat(socket.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
    if (exists && seen) return Status::Ok();
    seen = exists;
    if (time(nullptr) > deadline) {
      return Status::Errorf(ETIMEDOUT, "nbd: nbdkit did not open %s within %d s", socket.c_str(),
                            kSocketWaitSeconds);
    }
    int sig = WaitSignal(set, 50, relay);
    if (sig != 0 && sig != SIGCHLD) {
      return Status::Errorf(EINTR, "nbd: stopped by %s while starting", strsignal(sig));
    }
  }
}

void IgnoreChild(int) {}

}  // namespace

bool PathExistsOnDisk(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

Result<std::string> FindNbdPlugin(const std::string& exe_dir, const std::string& pkglibdir,
                                  const PathExists& exists) {
  const std::string local = exe_dir + "/" + kNbdPluginName;
  if (exists(local)) return local;
  const std::string installed = pkglibdir + "/" + kNbdPluginName;
  if (exists(installed)) return installed;
  return Status::Errorf(ENOENT,
                        "the nbdkit plugin %s is neither next to s3disk (%s) nor in %s; build "
                        "s3disk with nbdkit's plugin header (nbdkit-plugin-dev) installed",
                        kNbdPluginName, local.c_str(), installed.c_str());
}

Result<std::string> FindInPath(const std::string& name, const std::string& path_env,
                               const PathExists& exists) {
  std::stringstream dirs(path_env);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    // Absolute: a daemon runs the tool after chdir("/").
    std::string candidate = AbsoluteFilePath(dir) + "/" + name;
    if (exists(candidate)) return candidate;
  }
  return Status::Errorf(ENOENT, "%s is not installed (not found in PATH); install the %s package",
                        name.c_str(), name.c_str());
}

Result<std::vector<std::string>> NbdPluginParams(const std::vector<std::string>& argv,
                                                 const Config& config) {
  const std::vector<std::string> path_options = PathOptionNames();
  auto is_path_option = [&](const std::string& name) {
    return std::find(path_options.begin(), path_options.end(), name) != path_options.end();
  };
  std::vector<std::string> params;
  params.push_back("bucket=" +
                   (config.test_mode ? "file://" + config.bucket_dir : config.bucket_arg));
  bool options_done = false;
  for (size_t i = 1; i < argv.size(); i++) {
    const std::string& arg = argv[i];
    if (options_done || arg.empty() || arg[0] != '-' || arg == "-") continue;  // positional
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::string name = arg;
    std::string value;
    bool has_value = false;
    size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    } else if (arg.size() > 2 && arg.rfind("-o", 0) == 0) {
      name = "-o";
      value = arg.substr(2);
      has_value = true;
    }
    OptionKind kind = FindOptionKind(name);
    if (kind == OptionKind::kUnknown) {
      return Status::Errorf(EINVAL, "nbd: unknown option '%s'", arg.c_str());
    }
    if (kind == OptionKind::kValue && !has_value) {
      if (i + 1 >= argv.size()) {
        return Status::Errorf(EINVAL, "nbd: option %s needs a value", name.c_str());
      }
      value = argv[++i];
    }
    // The launcher's own options, and those the plugin must not see.
    if (name == "--nbd" || name == "--socket" || name == "-f" || name == "--test") continue;
    if (name == "-d") name = "--debug";
    // A daemon's nbdkit runs in "/": file options become absolute here, as Validate made them.
    if (is_path_option(name)) value = AbsoluteFilePath(value);
    if (name.rfind("--", 0) != 0) {
      return Status::Errorf(EINVAL, "nbd: option %s cannot be passed to nbdkit", name.c_str());
    }
    // A value-optional option alone (--encrypt) becomes "encrypt=", which means the same.
    params.push_back(name.substr(2) + "=" + (kind == OptionKind::kFlag ? "true" : value));
  }
  return params;
}

std::vector<std::string> NbdkitArgv(const std::string& nbdkit, const std::string& plugin,
                                    const std::string& socket,
                                    const std::vector<std::string>& params) {
  std::vector<std::string> argv = {
      nbdkit, "--foreground", "--exit-with-parent", "--unix", socket, "--log", "stderr", plugin};
  argv.insert(argv.end(), params.begin(), params.end());
  return argv;
}

std::vector<std::string> NbdClientAttachArgv(const std::string& nbd_client,
                                             const std::string& socket, const std::string& device,
                                             uint32_t block_size) {
  return {nbd_client, "-unix", socket, device, "-block-size", std::to_string(block_size)};
}

std::vector<std::string> NbdClientDetachArgv(const std::string& nbd_client,
                                             const std::string& device) {
  return {nbd_client, "-d", device};
}

Status CheckNbdDevice(const std::string& device, const PathExists& exists) {
  if (exists(device)) return Status::Ok();
  if (!exists("/sys/module/nbd")) {
    return Status::Errorf(ENODEV,
                          "%s does not exist: the nbd kernel module is not loaded; load it with "
                          "'modprobe nbd' (as root), or serve without a device: s3disk --nbd "
                          "--socket=PATH BUCKET",
                          device.c_str());
  }
  return Status::Errorf(ENODEV,
                        "%s does not exist; the nbd module is loaded, so use one of its devices "
                        "(ls /dev/nbd*), or serve without a device with --socket=PATH",
                        device.c_str());
}

int RunNbd(const Config& config, const std::vector<std::string>& argv) {
  auto fail = [](const Status& st) {
    fprintf(stderr, "s3disk: %s\n", st.message().c_str());
    return kExitFailure;
  };
  const char* path_env = getenv("PATH");
  const std::string path = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  Result<std::string> plugin = FindNbdPlugin(SelfExeDir(), S3DISK_PKGLIBDIR, PathExistsOnDisk);
  if (!plugin.ok()) return fail(plugin.status());
  Result<std::string> nbdkit = FindInPath("nbdkit", path, PathExistsOnDisk);
  if (!nbdkit.ok()) return fail(nbdkit.status());
  Result<std::vector<std::string>> params = NbdPluginParams(argv, config);
  if (!params.ok()) return fail(params.status());
  Children children;
  if (!config.nbd_device.empty()) {
    Status st = CheckNbdDevice(config.nbd_device, PathExistsOnDisk);
    if (!st.ok()) return fail(st);
    Result<std::string> client = FindInPath("nbd-client", path, PathExistsOnDisk);
    if (!client.ok()) {
      return fail(client.status().WithContext("to attach " + config.nbd_device +
                                              " (or serve only, with --socket=PATH)"));
    }
    children.nbd_client = *client;
    children.device = config.nbd_device;
  }
  // An S3 bucket is checked here first (the probe of OpenObjectStore), so that a bad setup, a
  // wrong key or a missing bucket, is one line, not nbdkit's error and then ours. The plugin
  // opens its own store in nbdkit's process.
  if (config.bucket_kind == BucketKind::kS3) {
    Result<std::shared_ptr<ObjectStore>> store = OpenObjectStore(config);
    if (!store.ok()) return fail(store.status());
  }

  // Signals: blocked from here on and taken with sigtimedwait; SIGCHLD needs a handler so it
  // is not discarded.
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal(SIGCHLD, IgnoreChild);

  Daemon daemon;
  if (!config.foreground) {
    Status st = Daemonize(&daemon, config.debug ? LogLevel::kDebug : LogLevel::kInfo);
    if (!st.ok()) return fail(st);
  }

  std::string socket = config.nbd_socket;
  std::string private_dir;
  if (socket.empty()) {
    char tmpl[] = "/tmp/s3disk-nbd.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      return daemon.Failed(Status::Errorf(errno, "nbd: mkdtemp: %s", strerror(errno)));
    }
    private_dir = tmpl;
    socket = private_dir + "/socket";
  }
  // nbdkit leaves its socket file behind, and refuses to start over an existing one.
  if (private_dir.empty()) {
    struct stat st;
    if (lstat(socket.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        return daemon.Failed(Status::Errorf(
            EEXIST, "--socket=%s exists and is not a socket; pick another path", socket.c_str()));
      }
      if (SocketAccepts(socket)) {
        return daemon.Failed(Status::Errorf(EADDRINUSE,
                                            "--socket=%s is in use by a running server; stop it "
                                            "or pick another path",
                                            socket.c_str()));
      }
      LOG_DEBUG("nbd: removing the stale socket %s", socket.c_str());
      unlink(socket.c_str());
    }
  }
  auto remove_socket = [&] {
    unlink(socket.c_str());
    if (!private_dir.empty()) rmdir(private_dir.c_str());
  };

  std::vector<std::string> nbdkit_argv = NbdkitArgv(*nbdkit, *plugin, socket, *params);
  LOG_DEBUG("nbd: starting nbdkit on %s", socket.c_str());
  Relay relay;
  int relay_write = -1;
  if (!config.foreground) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      return daemon.Failed(Status::Errorf(errno, "nbd: pipe: %s", strerror(errno)));
    }
    relay.fd = fds[0];
    relay_write = fds[1];
    fcntl(relay.fd, F_SETFL, O_NONBLOCK);
  }
  children.nbdkit = Spawn(nbdkit_argv, true, relay_write);
  if (relay_write >= 0) close(relay_write);
  if (children.nbdkit < 0) {
    remove_socket();
    return daemon.Failed(Status::Errorf(errno, "nbd: cannot start nbdkit: %s", strerror(errno)));
  }
  Status st = WaitForSocket(&children, socket, set, &relay);
  if (st.ok() && !children.device.empty()) {
    st = RunCommand(
        NbdClientAttachArgv(children.nbd_client, socket, children.device, kKernelBlockSize));
    if (st.ok()) children.attached = true;
  }
  if (!st.ok()) {
    Status stopped = Stop(&children);
    if (!stopped.ok()) LOG_ERROR("%s", stopped.message().c_str());
    remove_socket();
    return daemon.Failed(st);
  }
  LOG_INFO("nbd: serving %s on %s%s%s", config.bucket_arg.c_str(), socket.c_str(),
           children.attached ? ", attached to " : "", children.device.c_str());
  relay.Drain();
  relay.ready = true;
  daemon.Ready();

  // serving: until a stop signal or nbdkit's death.
  int exit_code = kExitOk;
  for (;;) {
    int sig = WaitSignal(set, relay.fd >= 0 ? 200 : 1000, &relay);
    int wstatus = 0;
    if (waitpid(children.nbdkit, &wstatus, WNOHANG) == children.nbdkit) {
      children.nbdkit = -1;
      LOG_ERROR("nbd: nbdkit %s while serving", DescribeExit(wstatus).c_str());
      exit_code = kExitFailure;
      break;
    }
    if (sig != 0 && sig != SIGCHLD) {
      LOG_INFO("nbd: %s: stopping", strsignal(sig));
      break;
    }
  }
  Status stopped = Stop(&children);
  if (!stopped.ok()) {
    LOG_ERROR("%s", stopped.message().c_str());
    exit_code = kExitFailure;
  }
  remove_socket();
  if (exit_code == kExitOk) LOG_INFO("nbd: stopped");
  return exit_code;
}

}  // namespace s3disk
