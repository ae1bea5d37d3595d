// s3disk: mount a bucket as a directory holding one disk image file.
//
// Start-up order (nothing is written to the bucket before every check has passed):
//   1. parse and validate the command line (config.h); no core dumps unless -d; ask for the
//      --encrypt password on the terminal if none was given (password_prompt.h); create the
//      FUSE session (checks -o)
//      (--reset-mounted-flag, --erase, --verify and --summary stop here: stack.h, admin.h)
//   2. open the object store
//   3. unless --readOnly: refuse a bucket that is mounted (stack.h)
//   4. read block 0's geometry and resolve it against --size/--blockSize (--force)
//   5. build the stack (stack.h; doc/ARCHITECTURE.md, "The stack"); block 0 checks the password
//   6. unless --readOnly: write the mount token
//   7. mount (on failure the token just written is cleared, unless the cache file holds dirty
//      blocks: then the next mount with it recovers them)
//   8. daemonize unless -f; log to syslog from then on
//   9. start the stack: block 0 stored if absent, the survey of the bucket, the cache file's
//      dirty blocks uploaded
//  10. serve FUSE requests until the kernel has unmounted (SIGINT/SIGTERM/SIGHUP ask it to,
//      and we serve on while it writes back its dirty pages: fuse_frontend_stop.cc)
//  11. flush, shut the stack down, clear the mount token, unmount
// Errors before daemonizing are one line on stderr and exit 1; after, they are logged.
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include "app/admin.h"
#include "app/config.h"
#include "app/fuse_frontend.h"
#include "app/nbd_launcher.h"
#include "app/password_prompt.h"
#include "app/stack.h"
#include "base/clock.h"
#include "base/log.h"

namespace s3disk {
namespace {

int Fail(const Status& st) {
  fprintf(stderr, "s3disk: %s\n", st.message().c_str());
  return kExitFailure;
}

// Logs a failure after start-up, when stderr may be gone.
int FailLogged(const Status& st) {
  LOG_ERROR("%s", st.ToString().c_str());
  return kExitFailure;
}

std::string Describe(const Config& config, const Geometry& g) {
  std::string out = config.bucket_arg;
  if (!config.prefix.empty()) out += " prefix '" + config.prefix + "'";
  out += " (" + FormatSize(g.size_bytes) + " = " + std::to_string(g.size_bytes / g.block_size) +
         " blocks of " + FormatSize(g.block_size);
  if (config.read_only) out += ", read-only";
  if (config.fsync_to == FsyncTo::kJournal) out += ", fsync to " + config.JournalPath();
  return out + ")";
}

int ResetOnly(const Config& config) {
  Result<std::shared_ptr<ObjectStore>> store = OpenObjectStore(config);
  if (!store.ok()) return Fail(store.status());
  Status st = ResetMountedFlag(*store, config, Clock::Real());
  if (!st.ok()) return Fail(st);
  return kExitOk;
}

// Steps 9 to 11, once mounted (and daemonized).
int Serve(const Config& config, FuseFrontend& frontend, OpenedStack& opened) {
  Stack& stack = opened.stack;
  int exit_code = kExitOk;
  Status st = stack.top->Start();
  const bool started = st.ok();
  if (!started) {
    exit_code = FailLogged(st.WithContext("starting the stack"));
  } else {
    frontend.Attach(stack.top.get(), stack.bytes.get());
    LOG_INFO("serving %s on %s", Describe(config, opened.geometry).c_str(),
             config.mountpoint.c_str());
    st = frontend.Run();
    if (!st.ok()) exit_code = FailLogged(st);
  }

  // A stack that never started has nothing of this mount to flush (a journal would refuse).
  Status flushed = started ? stack.bytes->Flush() : Status::Ok();
  if (!flushed.ok()) exit_code = FailLogged(flushed.WithContext("final flush"));
  Status shut = stack.top->Shutdown();
  if (!shut.ok()) exit_code = FailLogged(shut.WithContext("shutdown"));
  if (flushed.ok() && shut.ok()) {
    // A stack that never started has not uploaded what a cache file recovered: then the
    // token stays for the next mount with the file (ReleaseUnservedMount).
    Status released = started ? ReleaseMountToken(*stack.store, config, opened.mount_token)
                              : ReleaseUnservedMount(opened, config);
    if (!released.ok()) exit_code = FailLogged(released);
  } else if (!config.read_only) {
    LOG_ERROR(
        "leaving the mounted flag set: data may not all be in the bucket; check, then "
        "mount with --reset-mounted-flag");
  }
  frontend.Unmount();
  LOG_INFO("unmounted %s", config.mountpoint.c_str());
  return exit_code;
}

int Main(int argc, char** argv) {
  LogToStderr(LogLevel::kInfo);
  Result<Config> parsed = ParseArgs(argc, argv);
  if (!parsed.ok()) return Fail(parsed.status());
  Config config = std::move(*parsed);
  // The level is known from the flags alone: Validate's own lines (where the keys came
  // from) obey it too, and a daemon's terminal stays quiet unless something is wrong.
  const LogLevel level = config.debug ? LogLevel::kDebug : LogLevel::kInfo;
  LogToStderr(config.foreground || config.ResetOnly() || config.AdminMode() ? level
                                                                            : LogLevel::kWarn);
  if (config.help) {
    fputs(UsageText().c_str(), stdout);
    return kExitOk;
  }
  if (config.version) {
    printf("s3disk %s\n", PACKAGE_VERSION);
    return kExitOk;
  }
  // --encrypt without a password, on a terminal: ask after Validate (password_prompt.h).
  config.password_prompt = CanPromptForPassword(config) && isatty(STDIN_FILENO);
  Status st = Validate(&config);
  if (!st.ok()) return Fail(st);
  // No core dump (nor /proc/PID/mem or environ for other processes of the user) holds the keys
  // or the password, unless -d asks for debugging.
  if (!config.debug) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (config.password_prompt) {
    Result<std::string> password = PromptPassword("Password: ");
    if (!password.ok()) return Fail(password.status());
    config.password = std::move(*password);
    LogRegisterSecret(config.password);  // never in a log line
  }

  if (config.ResetOnly()) return ResetOnly(config);
  // s3disk --erase|--verify|--summary BUCKET: admin.h; no mount.
  if (config.AdminMode()) return RunAdmin(config);
  // s3disk --nbd: nbdkit serves the stack (nbd_launcher.h); no FUSE.
  if (config.nbd) return RunNbd(config, std::vector<std::string>(argv, argv + argc));

  FuseFrontendOptions fuse_options;
  fuse_options.filename = config.filename;
  fuse_options.stats_filename = config.stats_filename;
  fuse_options.file_mode = config.file_mode;
  fuse_options.uid = static_cast<uid_t>(config.uid);
  fuse_options.gid = static_cast<gid_t>(config.gid);
  fuse_options.read_only = config.read_only;
  fuse_options.writeback_cache = !config.no_writeback_cache;
  fuse_options.fsname = "s3disk:" + config.bucket_arg;
  FuseFrontend frontend(fuse_options);
  st = frontend.CreateSession(config.fuse_options);
  if (!st.ok()) return Fail(st);

  Result<std::shared_ptr<ObjectStore>> store = OpenObjectStore(config);
  if (!store.ok()) return Fail(store.status());
  Result<OpenedStack> opened = OpenStack(config, *store, Clock::Real());
  if (!opened.ok()) return Fail(opened.status());

  st = frontend.Mount(config.mountpoint);
  if (st.ok()) st = Daemonize(config.foreground);
  if (!st.ok()) {
    frontend.Unmount();
    Status released = ReleaseUnservedMount(*opened, config);
    if (!released.ok()) LOG_ERROR("%s", released.ToString().c_str());
    return Fail(st);
  }
  if (!config.foreground) LogToSyslog(level, "s3disk");
  return Serve(config, frontend, *opened);
}

}  // namespace
}  // namespace s3disk

// No exception may leave main: one last catch turns it into a message and exit status 1.
int main(int argc, char** argv) {
  try {
    return s3disk::Main(argc, argv);
  } catch (const std::exception& e) {
    LOG_ERROR("internal error: %s", e.what());
  } catch (...) {
    LOG_ERROR("internal error: unknown exception");
  }
  return s3disk::kExitFailure;
}
