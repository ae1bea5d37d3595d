// The nbdkit plugin (s3disk.so): the same stack as the FUSE front end, served over NBD.
//
//   nbdkit -U SOCKET s3disk.so bucket=file:///srv/b size=1g blockSize=128k [NAME=VALUE...]
//
// Every s3disk option is a parameter: NAME=VALUE becomes --NAME=VALUE, a flag NAME=true
// becomes --NAME (NAME=false drops it), bucket= is the BUCKET argument (also the magic key:
// a bare first parameter). log=syslog sends our log to syslog (s3disk --nbd uses it when it
// daemonizes); the default is stderr. ParseArgs and Validate (config.h) check them all.
//
// Plugin states (one stack per nbdkit process, shared by every connection):
//   configured -- config_complete parsed and validated the options; nothing opened
//   ready      -- get_ready opened the store, resolved the geometry and wrote the mount token
//   serving    -- after_fork started the stack threads and the stats writer
//   stopped    -- cleanup/unload flushed, shut the stack down, cleared the token
//
// Invariants
//   | invariant                                        | kept by                              |
//   |--------------------------------------------------|--------------------------------------|
//   | I/O callbacks run only in serving                | nbdkit calls open after after_fork   |
//   | every connection sees every other's writes       | one stack, one ByteRange (multi-conn)|
//   | flush and FUA flush the whole stack              | ByteRange::Flush is global           |
//   | the token is cleared only after a clean flush +  | Stop(): release only if both ok      |
//   | shutdown                                         |                                      |
//   | Stop runs once                                   | g_stopped under g_mu                 |
//   | the token lives as long as the serving process:  | g_forked (pthread_atfork): the       |
//   |   the parent of the fork into the background     |   parent that never served leaves it |
//   |   leaves it to the child                         |                                      |
//   | no lock is held while calling the stack          | g_mu guards only the life cycle      |
//   | extents never call below the zero map           | Stack::known_zero is a bitmap lookup |
#define NBDKIT_API_VERSION 2
#include <fcntl.h>
#include <nbdkit-plugin.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "app/config.h"
#include "app/stack.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/stats.h"
#include "base/sync.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

namespace s3disk {
namespace {

// At most this many extents per extents call (nbdkit lets us return fewer than asked; the
// client asks again from where we stopped), and at most this many blocks looked at.
constexpr uint32_t kMaxExtentRuns = 4096;
constexpr uint64_t kMaxExtentBlocks = uint64_t{1} << 22;
// NBD block size advertisement: the protocol's bounds for the preferred size.
constexpr uint32_t kMinAdvertisedBlock = 512;
constexpr uint32_t kMaxPreferredBlock = 32u << 20;
constexpr std::chrono::milliseconds kStatsInterval{1000};

struct Counters {
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> reads{0};
  std::atomic<uint64_t> writes{0};
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<uint64_t> bytes_written{0};
  std::atomic<uint64_t> flushes{0};
  std::atomic<uint64_t> fua_writes{0};
  std::atomic<uint64_t> trims{0};
  std::atomic<uint64_t> zeros{0};
  std::atomic<uint64_t> extents{0};
  std::atomic<uint64_t> errors{0};
};

// Plugin-wide state. The option fields are written by the config callbacks (one thread,
// before any other callback); the stack by get_ready, before any connection.
std::vector<std::string> g_args;  // --NAME[=VALUE] from the parameters
std::string g_bucket;
bool g_log_syslog = false;
Config g_config;
std::unique_ptr<OpenedStack> g_opened;
Counters g_counters;

Mutex g_mu;
bool g_stopped GUARDED_BY(g_mu) = false;
bool g_served GUARDED_BY(g_mu) = false;  // after_fork started the stack
// This process forked after get_ready: unless it then serves (after_fork), the child does
// (nbdkit forks into the background and its parent exits), and the token is the child's.
std::atomic<bool> g_forked{false};
bool g_stats_stop GUARDED_BY(g_mu) = false;
CondVar g_stats_cv;
std::thread g_stats_thread;

// Reports st to nbdkit (message and errno) and returns -1, the callbacks' failure value.
int Fail(const Status& st) {
  g_counters.errors++;
  nbdkit_error("%s", st.ToString().c_str());
  nbdkit_set_error(FrontEndErrno(st));
  return -1;
}

std::string StatsText() {
  std::string out;
  AppendStat(&out, "nbd_connections", g_counters.connections);
  AppendStat(&out, "nbd_reads", g_counters.reads);
  AppendStat(&out, "nbd_writes", g_counters.writes);
  AppendStat(&out, "nbd_bytes_read", g_counters.bytes_read);
  AppendStat(&out, "nbd_bytes_written", g_counters.bytes_written);
  AppendStat(&out, "nbd_flushes", g_counters.flushes);
  AppendStat(&out, "nbd_fua_writes", g_counters.fua_writes);
  AppendStat(&out, "nbd_trims", g_counters.trims);
  AppendStat(&out, "nbd_zeros", g_counters.zeros);
  AppendStat(&out, "nbd_extents", g_counters.extents);
  AppendStat(&out, "nbd_errors", g_counters.errors);
  if (g_opened) g_opened->stack.top->DumpStats(&out);
  return out;
}

// Replaces the stats file atomically (temp file + rename), so readers never see half of it.
void WriteStatsFile() {
  if (g_config.stats_file.empty()) return;
  const std::string text = StatsText();
  const std::string tmp = g_config.stats_file + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    LOG_WARN("nbd: stats file %s: %s", tmp.c_str(), strerror(errno));
    return;
  }
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp.c_str(), g_config.stats_file.c_str()) != 0) {
    LOG_WARN("nbd: stats file %s: %s", g_config.stats_file.c_str(), strerror(errno));
    unlink(tmp.c_str());
  }
}

void StatsLoop() {
  for (;;) {
    WriteStatsFile();
    MutexLock lock(g_mu);
    if (g_stats_cv.wait_for(g_mu, kStatsInterval, []() REQUIRES(g_mu) { return g_stats_stop; })) {
      return;
    }
  }
}

// stopped: flush, shut down, clear the token (only if both succeeded), final stats. Once.
void Stop() {
  {
    MutexLock lock(g_mu);
    if (g_stopped) return;
    g_stopped = true;
    g_stats_stop = true;
    // The parent of nbdkit's fork into the background: the stack and the token are the
    // serving child's (this process never started the stack, so holds nothing to flush).
    if (g_forked && !g_served) return;
  }
  g_stats_cv.notify_all();
  if (g_stats_thread.joinable()) g_stats_thread.join();
  if (!g_opened) return;
  Stack& stack = g_opened->stack;
  Status flushed = stack.bytes->Flush();
  if (!flushed.ok()) LOG_ERROR("%s", flushed.WithContext("nbd: final flush").ToString().c_str());
  Status shut = stack.top->Shutdown();
  if (!shut.ok()) LOG_ERROR("%s", shut.WithContext("nbd: shutdown").ToString().c_str());
  if (flushed.ok() && shut.ok()) {
    Status released = ReleaseMountToken(*stack.store, g_config, g_opened->mount_token);
    if (!released.ok()) LOG_ERROR("nbd: %s", released.ToString().c_str());
  } else if (!g_config.read_only) {
    LOG_ERROR(
        "nbd: leaving the mounted flag set: data may not all be in the bucket; check, then "
        "serve with --reset-mounted-flag");
  }
  WriteStatsFile();
  LOG_INFO("nbd: stopped serving %s", g_config.bucket_arg.c_str());
}

// No exception leaves a callback. One is an allocation that failed, most likely inside the
// stack, whose layers are not exception-safe: serving on could hang or return garbage later,
// so the process ends here with the callback named in the log (as the FUSE front end does;
// the next mount takes over the dirty blocks of a cache file).
template <typename F>
int Guarded(const char* op, F f) noexcept {
  try {
    return f();
  } catch (const std::exception& e) {
    LOG_ERROR("nbd: %s: %s: the stack cannot be trusted after an exception; stopping", op,
              e.what());
  } catch (...) {
    LOG_ERROR("nbd: %s: unknown exception: the stack cannot be trusted; stopping", op);
  }
  abort();
}

// --- nbdkit callbacks ------------------------------------------------------------------------

void Load() { LogToStderr(LogLevel::kInfo); }

int ConfigKey(const char* key, const char* value) {
  const std::string k(key);
  if (k == "bucket") {
    g_bucket = value;
    return 0;
  }
  if (k == "log") {
    if (strcmp(value, "syslog") != 0 && strcmp(value, "stderr") != 0) {
      nbdkit_error("log=%s: use log=stderr or log=syslog", value);
      return -1;
    }
    g_log_syslog = strcmp(value, "syslog") == 0;
    return 0;
  }
  const std::string name = "--" + k;
  switch (FindOptionKind(name)) {
    case OptionKind::kUnknown:
      nbdkit_error(
          "unknown parameter '%s': parameters are s3disk's options as NAME=VALUE, e.g. "
          "size=1g (see s3disk --help), and bucket=BUCKET",
          key);
      return -1;
    case OptionKind::kFlag: {
      int on = nbdkit_parse_bool(value);
      if (on == -1) return -1;  // nbdkit said why
      if (on == 1) g_args.push_back(name);
      return 0;
    }
    case OptionKind::kValue:
    case OptionKind::kOptionalValue:
      g_args.push_back(name + "=" + value);
      return 0;
  }
  return -1;
}

int ConfigComplete() {
  if (g_bucket.empty()) {
    nbdkit_error("no bucket: give bucket=file:///DIR, bucket=mem: or bucket=NAME");
    return -1;
  }
  std::vector<std::string> argv = {"s3disk"};
  argv.insert(argv.end(), g_args.begin(), g_args.end());
  argv.push_back("--");
  argv.push_back(g_bucket);
  Result<Config> parsed = ParseArgs(argv);
  if (!parsed.ok()) return Fail(parsed.status());
  Config config = std::move(*parsed);
  config.nbd = true;
  config.nbd_plugin = true;
  Status st = Validate(&config);
  if (!st.ok()) return Fail(st);
  // As s3disk's main: no core dump of nbdkit holds the keys or the password, unless -d.
  if (!config.debug) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  g_config = std::move(config);
  const LogLevel level = g_config.debug ? LogLevel::kDebug : LogLevel::kInfo;
  if (g_log_syslog) {
    LogToSyslog(level, "s3disk");
  } else {
    LogToStderr(level);
  }
  return 0;
}

// nbdkit exits without cleanup or unload when it cannot serve after get_ready (a socket it
// cannot bind): the token written by get_ready must not outlive such a start. Nothing was
// served, so there is nothing to flush. (Registered from the plugin, the handler runs at
// exit or at dlclose, whichever comes first; after Stop it does nothing.) Not in the parent
// of nbdkit's fork into the background, which exits while its child serves with the token.
void ReleaseTokenIfNeverServed() {
  {
    MutexLock lock(g_mu);
    if (g_stopped || g_served || !g_opened || g_forked) return;
    g_stopped = true;
  }
  Status released = ReleaseUnservedMount(*g_opened, g_config);
  if (!released.ok()) LOG_ERROR("nbd: %s", released.ToString().c_str());
}

void MarkForked() { g_forked = true; }

int GetReady() {
  Result<std::shared_ptr<ObjectStore>> store = OpenObjectStore(g_config);
  if (!store.ok()) return Fail(store.status());
  Result<OpenedStack> opened = OpenStack(g_config, *store, Clock::Real());
  if (!opened.ok()) return Fail(opened.status());
  g_opened = std::make_unique<OpenedStack>(std::move(*opened));
  std::atexit(ReleaseTokenIfNeverServed);
  pthread_atfork(nullptr, MarkForked, nullptr);  // runs in the parent after each fork
  return 0;
}

int AfterFork() {
  {
    MutexLock lock(g_mu);
    g_served = true;
  }
  Status st = g_opened->stack.top->Start();
  if (!st.ok()) {
    // Nothing was served; what a cache file recovered is not uploaded, so its token stays
    // for the next mount with the file (ReleaseUnservedMount). nbdkit exits without cleanup.
    {
      MutexLock lock(g_mu);
      g_stopped = true;
    }
    Status shut = g_opened->stack.top->Shutdown();
    if (!shut.ok()) LOG_ERROR("%s", shut.WithContext("nbd: shutdown").ToString().c_str());
    Status released = ReleaseUnservedMount(*g_opened, g_config);
    if (!released.ok()) LOG_ERROR("nbd: %s", released.ToString().c_str());
    return Fail(st.WithContext("nbd: starting the stack"));
  }
  const Geometry& g = g_opened->geometry;
  const std::string journal =
      g_config.fsync_to == FsyncTo::kJournal ? ", flush to " + g_config.JournalPath() : "";
  LOG_INFO("nbd: serving %s (%s = %llu blocks of %s%s%s)", g_config.bucket_arg.c_str(),
           FormatSize(g.size_bytes).c_str(),
           static_cast<unsigned long long>(g.size_bytes / g.block_size),
           FormatSize(g.block_size).c_str(), g_config.read_only ? ", read-only" : "",
           journal.c_str());
  if (!g_config.stats_file.empty()) g_stats_thread = std::thread(StatsLoop);
  return 0;
}

void Cleanup() {
  Guarded("cleanup", [] {
    Stop();
    return 0;
  });
}

void Unload() {
  Guarded("unload", [] {
    Stop();
    g_opened.reset();
    return 0;
  });
}

void* Open(int /*readonly*/) {
  g_counters.connections++;
  return NBDKIT_HANDLE_NOT_NEEDED;
}

int64_t GetSize(void*) { return static_cast<int64_t>(g_opened->stack.bytes->size_bytes()); }

int BlockSize(void*, uint32_t* minimum, uint32_t* preferred, uint32_t* maximum) {
  *minimum = kMinAdvertisedBlock;
  *preferred = std::min(g_opened->geometry.block_size, kMaxPreferredBlock);
  *maximum = 0xffffffff;  // any request nbdkit accepts
  return 0;
}

int CanWrite(void*) { return g_config.read_only ? 0 : 1; }
int CanYes(void*) { return 1; }
int CanNo(void*) { return 0; }
int CanFua(void*) { return NBDKIT_FUA_NATIVE; }
int CanExtents(void*) { return g_opened->stack.known_zero ? 1 : 0; }

int FlushAll(uint32_t flags) {
  if ((flags & NBDKIT_FLAG_FUA) == 0) return 0;
  g_counters.fua_writes++;
  Status st = g_opened->stack.bytes->Flush();
  return st.ok() ? 0 : Fail(st.WithContext("nbd: FUA flush"));
}

int Pread(void*, void* buf, uint32_t count, uint64_t offset, uint32_t /*flags*/) {
  g_counters.reads++;
  Status st = g_opened->stack.bytes->Read(offset, {static_cast<uint8_t*>(buf), count});
  if (!st.ok()) return Fail(st);
  g_counters.bytes_read += count;
  return 0;
}

int Pwrite(void*, const void* buf, uint32_t count, uint64_t offset, uint32_t flags) {
  g_counters.writes++;
  Status st = g_opened->stack.bytes->Write(offset, {static_cast<const uint8_t*>(buf), count});
  if (!st.ok()) return Fail(st);
  g_counters.bytes_written += count;
  return FlushAll(flags);
}

int Flush(void*, uint32_t /*flags*/) {
  g_counters.flushes++;
  Status st = g_opened->stack.bytes->Flush();
  return st.ok() ? 0 : Fail(st);
}

// Trim and zero are the same to us: whole blocks lose their objects, partial ends are zeroed.
int Trim(void*, uint32_t count, uint64_t offset, uint32_t flags) {
  g_counters.trims++;
  Status st = g_opened->stack.bytes->Zero(offset, count);
  if (!st.ok()) return Fail(st);
  return FlushAll(flags);
}

int Zero(void*, uint32_t count, uint64_t offset, uint32_t flags) {
  g_counters.zeros++;
  Status st = g_opened->stack.bytes->Zero(offset, count);
  if (!st.ok()) return Fail(st);
  return FlushAll(flags);
}

// Known-zero blocks are holes that read as zeros; every other block is data. Runs of equal
// blocks are merged; the answer stops early (at most kMaxExtentRuns runs, kMaxExtentBlocks
// blocks, or one run with REQ_ONE): the client asks again from the end of the last one.
int Extents(void*, uint32_t count, uint64_t offset, uint32_t flags,
            struct nbdkit_extents* extents) {
  g_counters.extents++;
  const std::function<bool(BlockNum)>& known_zero = g_opened->stack.known_zero;
  const uint64_t bs = g_opened->geometry.block_size;
  const uint64_t end = std::min(offset + count, g_opened->stack.bytes->size_bytes());
  const uint32_t max_runs = (flags & NBDKIT_FLAG_REQ_ONE) != 0 ? 1 : kMaxExtentRuns;
  uint64_t pos = offset;
  uint32_t runs = 0;
  uint64_t blocks_seen = 0;
  while (pos < end && runs < max_runs && blocks_seen < kMaxExtentBlocks) {
    uint64_t block = pos / bs;
    const bool hole = known_zero(static_cast<BlockNum>(block));
    uint64_t run_end = (block + 1) * bs;
    blocks_seen++;
    while (run_end < end && blocks_seen < kMaxExtentBlocks &&
           known_zero(static_cast<BlockNum>(run_end / bs)) == hole) {
      run_end += bs;
      blocks_seen++;
    }
    run_end = std::min(run_end, end);
    const uint32_t type = hole ? NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO : 0;
    if (nbdkit_add_extent(extents, pos, run_end - pos, type) == -1) {
      g_counters.errors++;
      return -1;  // nbdkit said why
    }
    runs++;
    pos = run_end;
  }
  return 0;
}

struct nbdkit_plugin MakePlugin() {
  struct nbdkit_plugin p {};
  p.name = "s3disk";
  p.longname = "s3disk: a bucket as a block device";
  p.version = PACKAGE_VERSION;
  p.description = "Serves an s3disk bucket (S3 or a local directory) as a disk.";
  p.load = Load;
  p.unload = Unload;
  p.config = ConfigKey;
  p.config_complete = [] { return Guarded("config", ConfigComplete); };
  p.config_help =
      "bucket=BUCKET      file:///DIR, mem: or an S3 bucket (required)\n"
      "size=SIZE ...      every s3disk option as NAME=VALUE, flags as NAME=true\n"
      "log=syslog|stderr  where s3disk's own messages go (default stderr)";
  p.magic_config_key = "bucket";
  p.get_ready = [] { return Guarded("get_ready", GetReady); };
  p.after_fork = [] { return Guarded("after_fork", AfterFork); };
  p.cleanup = Cleanup;
  p.open = Open;
  p.get_size = GetSize;
  p.block_size = BlockSize;
  p.can_write = CanWrite;
  p.can_flush = CanYes;
  p.is_rotational = CanNo;
  p.can_trim = CanYes;
  p.can_zero = CanYes;
  p.can_fast_zero = CanYes;
  p.can_fua = CanFua;
  p.can_multi_conn = CanYes;
  p.can_extents = CanExtents;
  p.pread = [](void* h, void* buf, uint32_t count, uint64_t offset, uint32_t flags) {
    return Guarded("read", [&] { return Pread(h, buf, count, offset, flags); });
  };
  p.pwrite = [](void* h, const void* buf, uint32_t count, uint64_t offset, uint32_t flags) {
    return Guarded("write", [&] { return Pwrite(h, buf, count, offset, flags); });
  };
  p.flush = [](void* h, uint32_t flags) {
    return Guarded("flush", [&] { return Flush(h, flags); });
  };
  p.trim = [](void* h, uint32_t count, uint64_t offset, uint32_t flags) {
    return Guarded("trim", [&] { return Trim(h, count, offset, flags); });
  };
  p.zero = [](void* h, uint32_t count, uint64_t offset, uint32_t flags) {
    return Guarded("zero", [&] { return Zero(h, count, offset, flags); });
  };
  p.extents = [](void* h, uint32_t count, uint64_t offset, uint32_t flags,
                 struct nbdkit_extents* e) {
    return Guarded("extents", [&] { return Extents(h, count, offset, flags, e); });
  };
  p.errno_is_preserved = 0;
  return p;
}

}  // namespace
}  // namespace s3disk

static struct nbdkit_plugin plugin = s3disk::MakePlugin();

NBDKIT_REGISTER_PLUGIN(plugin)
