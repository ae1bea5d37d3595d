// The terminal is the only state: its settings are changed (echo off) for the duration of one
// read and put back on every path.
//
// Invariants
//   | what                                   | holds because                                |
//   |----------------------------------------|----------------------------------------------|
//   | echo is back on after PromptPassword   | TerminalGuard's destructor restores the      |
//   |   returns                              |   saved settings                             |
//   | echo is back on after a fatal signal   | the handlers installed for the read restore  |
//   |   during the prompt                    |   them (tcsetattr is async-signal-safe),     |
//   |                                        |   then re-raise with the old disposition     |
//   | the signal dispositions are as before  | the guard reinstalls the saved sigactions    |
//   | the password is never echoed or logged | ECHO off; main registers it as a secret      |
#include "app/password_prompt.h"

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace s3disk {
namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
constexpr size_t kNumSignals = sizeof kSignals / sizeof kSignals[0];

// For the signal handler: the terminal and its settings before echo went off. Set before the
// handlers are installed, cleared after they are removed.
volatile sig_atomic_t g_tty_fd = -1;
struct termios g_saved_termios;
struct sigaction g_saved_actions[kNumSignals];

void RestoreAndReraise(int sig) {
  int fd = g_tty_fd;
  if (fd >= 0) {
    tcsetattr(fd, TCSANOW, &g_saved_termios);
    ssize_t ignored = write(fd, "\n", 1);
    (void)ignored;
  }
  for (size_t i = 0; i < kNumSignals; i++) {
    if (kSignals[i] == sig) sigaction(sig, &g_saved_actions[i], nullptr);
  }
  raise(sig);
}

// Echo off for its lifetime, and the signal handlers that undo it.
class TerminalGuard {
 public:
  // Returns an errno, 0 on success.
  int Begin(int fd) {
    if (tcgetattr(fd, &g_saved_termios) != 0) return errno;
    g_tty_fd = fd;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = RestoreAndReraise;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < kNumSignals; i++) {
      sigaction(kSignals[i], nullptr, &g_saved_actions[i]);
      // A signal the caller ignores stays ignored.
      if (g_saved_actions[i].sa_handler != SIG_IGN) sigaction(kSignals[i], &action, nullptr);
    }
    active_ = true;
    struct termios quiet = g_saved_termios;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK | ECHONL);
    if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) return errno;
    return 0;
  }
  ~TerminalGuard() {
    if (!active_) return;
    int fd = g_tty_fd;
    tcsetattr(fd, TCSANOW, &g_saved_termios);
    for (size_t i = 0; i < kNumSignals; i++) sigaction(kSignals[i], &g_saved_actions[i], nullptr);
    g_tty_fd = -1;
  }

 private:
  bool active_ = false;
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

void WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

bool CanPromptForPassword(const Config& config) {
  return config.encrypt && config.password.empty() && config.password_file.empty() && !config.nbd &&
         !config.nbd_plugin && !config.help && !config.version;
}

Result<std::string> ReadPasswordLine(int fd, size_t max_bytes) {
  std::string line;
  bool any = false;
  for (;;) {
    char c;
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Errorf(EIO, "reading the password: %s", strerror(errno));
    if (n == 0) break;
    any = true;
    if (c == '\n') break;
    if (line.size() >= max_bytes) {
      return Status::Errorf(EIO, "the password is longer than %zu bytes", max_bytes);
    }
    line += c;
  }
  if (!any) return Status(ENODATA, "no password: the input ended");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Result<std::string> PromptPassword(const std::string& prompt) {
  Fd tty(open("/dev/tty", O_RDWR | O_CLOEXEC));
  if (tty.get() < 0) {
    return Status::Errorf(ENXIO,
                          "--encrypt needs a password and there is no terminal to ask on (%s); "
                          "give --passwordFile=FILE",
                          strerror(errno));
  }
  Result<std::string> line = Status(EIO, "the password was not read");
  {
    TerminalGuard guard;
    int err = guard.Begin(tty.get());
    if (err != 0) {
      return Status::Errorf(ENXIO,
                            "cannot turn off echo on the terminal (%s); give "
                            "--passwordFile=FILE",
                            strerror(err));
    }
    WriteAll(tty.get(), prompt);
    line = ReadPasswordLine(tty.get());
  }
  WriteAll(tty.get(), "\n");
  if (!line.ok()) return line.status();
  if (line->empty()) {
    return Status(EINVAL,
                  "the password is empty; type the bucket's password, or give "
                  "--passwordFile=FILE");
  }
  return line;
}

}  // namespace s3disk
