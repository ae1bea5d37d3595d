// The admin modes keep no state between calls: each lists the bucket once, works through the
// keys it found with a bounded pool of threads (joined before it returns), and reports.
//
// Invariants
//   | what                                         | holds because                          |
//   |----------------------------------------------|----------------------------------------|
//   | erase deletes nothing before every check     | token, terminal and confirmation are   |
//   |   passed and the user said yes               |   checked before the first Delete      |
//   | erase removes the mount token last           | ClearMountToken after all batches      |
//   | verify reads a block exactly as a mount does | ObjectBlockStore::ReadBlock, the codec |
//   |                                              |   of MakeCodecOptions (no copy here)   |
//   | verify and summary never write               | Validate sets --readOnly for them; the |
//   |                                              |   ObjectBlockStore is read-only        |
//   | no thread outlives a call                    | ParallelFor joins before returning     |
//   | no exception leaves a worker thread          | ParallelFor catches and makes a Status |
#include "app/admin.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>

#include "app/stack.h"
#include "base/log.h"
#include "base/text.h"
#include "block/block_key.h"
#include "block/codec.h"
#include "block/object_block_store.h"

namespace s3disk {
namespace {

int Fail(const Status& st) {
  fprintf(stderr, "s3disk: %s\n", st.message().c_str());
  return kExitFailure;
}

// "bucket /srv/b" or "bucket b prefix 'vol/'", for messages.
std::string Where(const Config& config) {
  std::string out = "bucket " + BucketDisplay(config);
  if (!config.prefix.empty()) out += " prefix '" + config.prefix + "'";
  return out;
}

void Out(const AdminIo& io, const std::string& line) {
  if (io.out) {
    io.out(line);
  } else {
    fputs((line + "\n").c_str(), stdout);
  }
}

bool AskOnTerminal(const std::string& question) {
  fputs(question.c_str(), stderr);
  fflush(stderr);
  char line[64];
  if (fgets(line, sizeof line, stdin) == nullptr) return false;
  std::string answer(line);
  while (!answer.empty() && (answer.back() == '\n' || answer.back() == '\r')) answer.pop_back();
  answer = ToLower(answer);
  return answer == "y" || answer == "yes";
}

uint32_t Workers(const Config& config) { return std::max<uint32_t>(1, config.cache.threads); }

// Runs work(i) for every i in [0, count) on up to `threads` threads, all joined before it
// returns. The first failure stops the threads from taking new items and is returned.
Status ParallelFor(uint64_t count, uint32_t threads, const std::function<Status(uint64_t)>& work) {
  std::atomic<uint64_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  Status first;
  auto run = [&] {
    while (!stop.load()) {
      uint64_t i = next++;
      if (i >= count) return;
      Status st;
      try {
        st = work(i);
      } catch (const std::exception& e) {
        st = Status::Errorf(EIO, "admin: internal error: %s", e.what());
      } catch (...) {
        st = Status(EIO, "admin: internal error: unknown exception");
      }
      if (!st.ok()) {
        std::lock_guard lock(mu);
        if (first.ok()) first = st;
        stop = true;
      }
    }
  };
  uint64_t n = std::min<uint64_t>(threads, count);
  if (n <= 1) {
    run();
  } else {
    std::vector<std::thread> pool;
    for (uint64_t t = 0; t < n; t++) pool.emplace_back(run);
    for (auto& t : pool) t.join();
  }
  return first;
}

// What one listing of the prefix found.
struct Listing {
  std::vector<std::pair<BlockNum, std::string>> blocks;      // named as config.hash_prefix says
  std::vector<std::pair<BlockNum, std::string>> other_form;  // named with the other setting
  bool mount_token = false;
  uint64_t other_objects = 0;
  std::map<std::string, uint64_t> size_bytes;  // of each block key (with sized only)
};

// One listing (with sized: with the objects' sizes, ListOptions::sizes). progress (if not
// null) counts the keys.
Status ListBucket(ObjectStore& store, const Config& config, Listing* out, bool sized = false,
                  Progress* progress = nullptr) {
  const std::string token_key = MountTokenKey(config.prefix);
  std::mutex mu;  // backends may call found from several threads
  auto found = [&](const std::string& key, uint64_t size) {
    std::optional<BlockNum> n = ParseBlockKey(config.prefix, config.hash_prefix, key);
    std::optional<BlockNum> other =
        n ? std::nullopt : ParseBlockKey(config.prefix, !config.hash_prefix, key);
    if (progress != nullptr) progress->Add(1);
    std::lock_guard lock(mu);
    if (n) {
      out->blocks.emplace_back(*n, key);
      if (sized) out->size_bytes[key] = size;
    } else if (other) {
      out->other_form.emplace_back(*other, key);
    } else if (key == token_key) {
      out->mount_token = true;
    } else {
      out->other_objects++;
    }
  };
  ListOptions options;
  options.sizes = sized;
  Status st = store.List(config.prefix, options, found);
  if (!st.ok()) return st.WithContext("listing " + Where(config));
  std::sort(out->blocks.begin(), out->blocks.end());
  std::sort(out->other_form.begin(), out->other_form.end());
  return Status::Ok();
}

// The disk's geometry as a mount would resolve it (block 0's headers, --size, --blockSize).
// When neither block 0 nor --size gives the size: Geometry{} with the block size if known.
// block0_meta (if not null) receives block 0's metadata; empty when block 0 is absent.
Result<Geometry> AdminGeometry(ObjectStore& store, const Config& config,
                               Metadata* block0_meta = nullptr) {
  Result<Geometry> stored =
      ReadGeometry(store, BlockKey(config.prefix, config.hash_prefix, 0), block0_meta);
  if (!stored.ok()) return stored.status();
  if (stored->size_bytes == 0 && config.size_bytes == 0) {
    Geometry g;
    g.block_size = config.block_size;
    return g;
  }
  return ResolveGeometry(config, *stored);
}

std::string HumanBytes(uint64_t bytes) {
  static const char* const kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    unit++;
  }
  char buf[48];
  if (unit == 0) {
    snprintf(buf, sizeof buf, "%" PRIu64 " bytes", bytes);
  } else {
    snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  }
  return buf;
}

bool Contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

AdminIo ProcessAdminIo() {
  AdminIo io;
  io.progress_mode = Progress::ModeForStderr();
  io.stdin_is_terminal = isatty(STDIN_FILENO) != 0;
  return io;
}

// --- erase -----------------------------------------------------------------------------------

Result<EraseReport> EraseBucket(ObjectStore& store, const Config& config, const AdminIo& io) {
  const std::string where = Where(config);
  if (!config.block_cache_file.empty()) {
    // Writes of a crashed mount waiting there would outlive the erase, then be refused (or,
    // forced, land on an erased disk): they go first, or the files go.
    Result<LocalClaim> local = ReadLocalClaim(config);
    if (!local.ok()) return local.status().WithContext("erase");
    if (local->merged.dirty_blocks > 0) {
      return Status::Errorf(EBUSY,
                            "erase: %s (and its journal) hold %llu writes of a mount (token "
                            "%08x) not yet in %s; mount it to upload them first, or remove the "
                            "files to discard them",
                            config.block_cache_file.c_str(),
                            static_cast<unsigned long long>(local->merged.dirty_blocks),
                            local->merged.token, where.c_str());
    }
  }
  Result<uint32_t> token = ReadMountToken(store, config.prefix);
  if (!token.ok()) return token.status().WithContext("erase: mount token");
  if (*token != 0 && !config.force) {
    return Status::Errorf(EBUSY,
                          "%s is mounted (token %08x), or its last mount did not end cleanly: "
                          "unmount it first; if no mount is live, add --force to erase it anyway",
                          where.c_str(), *token);
  }
  if (!config.force && !io.stdin_is_terminal) {
    return Status::Errorf(EINVAL,
                          "--erase asks for confirmation, but stdin is not a terminal; add "
                          "--force to erase %s without asking",
                          where.c_str());
  }
  Listing listing;
  S3DISK_RETURN_IF_ERROR(ListBucket(store, config, &listing));
  std::vector<std::string> keys;
  keys.reserve(listing.blocks.size() + listing.other_form.size());
  for (const auto& [n, key] : listing.blocks) keys.push_back(key);
  for (const auto& [n, key] : listing.other_form) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  const bool has_token = *token != 0 || listing.mount_token;
  if (!config.force) {
    std::string question = "s3disk: erase " + std::to_string(keys.size()) + " block objects" +
                           (has_token ? " and the mounted flag" : "") + " of " + where +
                           "? This cannot be undone. [y/N] ";
    bool yes = io.confirm ? io.confirm(question) : AskOnTerminal(question);
    if (!yes) return Status(ECANCELED, "erase cancelled; nothing was deleted");
  }

  LOG_INFO("erase: deleting %zu block objects of %s", keys.size(), where.c_str());
  const uint64_t batches = (keys.size() + kDeleteBatchKeys - 1) / kDeleteBatchKeys;
  Progress progress("erase", "blocks", keys.size(), *io.clock, io.progress_mode, io.progress_sink);
  Status st = ParallelFor(batches, Workers(config), [&](uint64_t i) {
    size_t begin = static_cast<size_t>(i * kDeleteBatchKeys);
    size_t end = std::min(keys.size(), begin + kDeleteBatchKeys);
    std::vector<std::string> batch(keys.begin() + static_cast<ptrdiff_t>(begin),
                                   keys.begin() + static_cast<ptrdiff_t>(end));
    Status deleted = store.Delete(batch);
    if (!deleted.ok()) {
      return deleted.WithContext("erase: delete " + batch.front() + ".." + batch.back());
    }
    progress.Add(batch.size());
    return Status::Ok();
  });
  progress.Finish();
  S3DISK_RETURN_IF_ERROR(st);
  if (has_token) {
    S3DISK_RETURN_IF_ERROR(
        ClearMountToken(store, config.prefix).WithContext("erase: clear the mounted flag"));
  }
  EraseReport report;
  report.blocks_deleted = keys.size();
  report.mount_token = *token;
  return report;
}

// --- verify ----------------------------------------------------------------------------------

std::string BadBlockReason(const Status& st) {
  const std::string& m = st.message();
  if (Contains(m, "MD5")) return "bad MD5";
  if (Contains(m, "HMAC")) return "bad HMAC";
  if (Contains(m, ": encrypted with ") || Contains(m, "not encrypted, but encryption is on")) {
    return "foreign block";
  }
  if (st.code() == EBADMSG) return "cannot decode";
  return "read error";
}

std::string FormatBadBlock(const BadBlock& b) {
  char num[16];
  snprintf(num, sizeof num, S3DISK_BLOCK_FMT, b.n);
  return "bad block " + std::string(num) + " (key " + b.key + "): " + b.reason + ": " + b.detail;
}

std::string FormatVerifySummary(const VerifyReport& r) {
  std::string out = "verify: " + std::to_string(r.checked) + " block" +
                    (r.checked == 1 ? "" : "s") + " checked, " + std::to_string(r.bad.size()) +
                    " bad";
  if (r.checked > 1 && r.bad.size() == r.checked) {
    out +=
        " (every block is bad: check --encrypt and the password, --prefix and "
        "--blockHashPrefix)";
  }
  return out;
}

Result<VerifyReport> VerifyBucket(std::shared_ptr<ObjectStore> store, const Config& config,
                                  const AdminIo& io) {
  Result<Geometry> g = AdminGeometry(*store, config);
  if (!g.ok()) return g.status();
  Listing listing;
  S3DISK_RETURN_IF_ERROR(ListBucket(*store, config, &listing));
  VerifyReport report;
  if (g->size_bytes == 0) {
    if (listing.blocks.empty() && listing.other_form.empty()) return report;  // nothing stored
    // The mount's rules give the message (it names --size).
    Result<Geometry> resolved = ResolveGeometry(config, Geometry{});
    if (!resolved.ok()) return resolved.status().WithContext("verify");
    g = resolved;
  }
  Result<std::shared_ptr<const Codec>> codec = Codec::Create(MakeCodecOptions(config));
  if (!codec.ok()) return codec.status().WithContext("verify");
  ObjectBlockOptions options;
  options.prefix = config.prefix;
  options.hash_prefix = config.hash_prefix;
  options.block_size = g->block_size;
  options.size_bytes = g->size_bytes;
  options.read_only = true;
  options.codec = *codec;
  Result<std::unique_ptr<ObjectBlockStore>> blocks = ObjectBlockStore::Create(store, options);
  if (!blocks.ok()) return blocks.status().WithContext("verify");
  const uint64_t num_blocks = (*blocks)->num_blocks();

  std::vector<std::pair<BlockNum, std::string>> todo;
  for (const auto& [n, key] : listing.blocks) {
    if (n < num_blocks) {
      todo.emplace_back(n, key);
    } else {
      report.bad.push_back({n, key, "foreign block",
                            "beyond the end of the disk (" + std::to_string(num_blocks) +
                                " blocks of " + FormatSize(g->block_size) + ")"});
    }
  }
  for (const auto& [n, key] : listing.other_form) {
    report.bad.push_back(
        {n, key, "foreign block",
         config.hash_prefix ? "named without --blockHashPrefix" : "named with --blockHashPrefix"});
  }
  report.checked = todo.size() + report.bad.size();

  LOG_INFO("verify: reading %zu block objects of %s (%s blocks; codec: %s)", todo.size(),
           Where(config).c_str(), FormatSize(g->block_size).c_str(), (*codec)->Describe().c_str());
  std::mutex mu;
  Progress progress("verify", "blocks", todo.size(), *io.clock, io.progress_mode, io.progress_sink);
  ObjectBlockStore& reader = **blocks;
  const uint32_t block_size = g->block_size;
  Status st = ParallelFor(todo.size(), Workers(config), [&](uint64_t i) {
    std::vector<uint8_t> buf(block_size);
    Status read = reader.ReadBlock(todo[i].first, buf);
    if (!read.ok()) {
      std::lock_guard lock(mu);
      report.bad.push_back({todo[i].first, todo[i].second, BadBlockReason(read), read.message()});
    }
    progress.Add(1);
    return Status::Ok();
  });
  progress.Finish();
  S3DISK_RETURN_IF_ERROR(st);
  std::sort(report.bad.begin(), report.bad.end(), [](const BadBlock& a, const BadBlock& b) {
    return a.n != b.n ? a.n < b.n : a.key < b.key;
  });
  return report;
}

// --- summary ---------------------------------------------------------------------------------

Result<BucketSummary> SummarizeBucket(ObjectStore& store, const Config& config, const AdminIo& io) {
  BucketSummary s;
  s.bucket = BucketDisplay(config);
  s.prefix = config.prefix;
  Metadata block0;
  Result<Geometry> g = AdminGeometry(store, config, &block0);
  if (!g.ok()) return g.status();
  s.geometry = *g;
  if (!block0.empty()) {
    auto enc = block0.find(kContentEncodingHeader);
    s.block0_encoding = enc == block0.end() || enc->second.empty() ? "plain" : enc->second;
  }
  Listing listing;
  Progress progress("summary", "keys listed", kProgressUnknownTotal, *io.clock, io.progress_mode,
                    io.progress_sink);
  Status listed = ListBucket(store, config, &listing, /*sized=*/true, &progress);
  progress.Finish();
  S3DISK_RETURN_IF_ERROR(listed);
  const uint64_t num_blocks =
      g->size_bytes == 0 || g->block_size == 0 ? 0 : g->size_bytes / g->block_size;
  for (const auto& [n, key] : listing.blocks) {
    if (num_blocks == 0 || n < num_blocks) {
      s.blocks_stored++;
      s.stored_bytes += listing.size_bytes[key];
    } else {
      s.foreign_blocks++;
    }
  }
  s.foreign_blocks += listing.other_form.size();
  s.other_objects = listing.other_objects;
  if (listing.mount_token) {
    Result<uint32_t> token = ReadMountToken(store, config.prefix);
    if (!token.ok()) return token.status().WithContext("summary: mount token");
    s.mount_token = *token;
  }
  return s;
}

std::vector<std::string> FormatSummary(const BucketSummary& s) {
  std::vector<std::string> lines;
  auto row = [&lines](const char* name, const std::string& value) {
    std::string line = name;
    line.resize(std::max<size_t>(line.size() + 2, 19), ' ');
    lines.push_back(line + value);
  };
  const Geometry& g = s.geometry;
  const bool sized = g.size_bytes != 0 && g.block_size != 0;
  const uint64_t num_blocks = sized ? g.size_bytes / g.block_size : 0;
  row("bucket", s.bucket);
  row("prefix", s.prefix.empty() ? "(none)" : s.prefix);
  row("block size", g.block_size == 0
                        ? "unknown (no block 0 and no --blockSize)"
                        : std::to_string(g.block_size) + " (" + HumanBytes(g.block_size) + ")");
  row("disk size", sized ? std::to_string(g.size_bytes) + " (" + HumanBytes(g.size_bytes) + ", " +
                               std::to_string(num_blocks) + " blocks)"
                         : "unknown (no block 0 and no --size)");
  row("blocks stored", std::to_string(s.blocks_stored));
  row("zero blocks",
      sized ? std::to_string(num_blocks - std::min(num_blocks, s.blocks_stored)) : "unknown");
  if (g.block_size != 0) {
    uint64_t logical = s.blocks_stored * g.block_size;
    row("logical bytes", std::to_string(logical) + " (" + HumanBytes(logical) + ")");
  } else {
    row("logical bytes", "unknown");
  }
  row("stored bytes", std::to_string(s.stored_bytes) + " (" + HumanBytes(s.stored_bytes) + ")");
  if (g.block_size != 0 && s.stored_bytes != 0) {
    char ratio[32];
    snprintf(
        ratio, sizeof ratio, "%.2f",
        static_cast<double>(s.blocks_stored) * g.block_size / static_cast<double>(s.stored_bytes));
    row("compression ratio", ratio);
  } else {
    row("compression ratio", "-");
  }
  row("encoding", s.block0_encoding.empty() ? "- (no block 0)" : s.block0_encoding + " (block 0)");
  row("foreign blocks", std::to_string(s.foreign_blocks));
  row("other objects", std::to_string(s.other_objects));
  char token[64];
  if (s.mount_token == 0) {
    snprintf(token, sizeof token, "no");
  } else if (s.mount_token == kSharedDiskToken) {
    snprintf(token, sizeof token, "yes (shared-disk mode)");
  } else {
    snprintf(token, sizeof token, "yes (token %08x)", s.mount_token);
  }
  row("mounted", token);
  return lines;
}

// --- the process -----------------------------------------------------------------------------

int RunAdmin(const Config& config) {
  AdminIo io = ProcessAdminIo();
  Result<std::shared_ptr<ObjectStore>> store = OpenObjectStore(config);
  if (!store.ok()) return Fail(store.status());
  if (config.erase) {
    Result<EraseReport> r = EraseBucket(**store, config, io);
    if (!r.ok()) return Fail(r.status());
    LOG_INFO("erase: %s: deleted %llu block objects%s", Where(config).c_str(),
             static_cast<unsigned long long>(r->blocks_deleted),
             r->mount_token != 0 ? " and the mounted flag" : "");
    return kExitOk;
  }
  if (config.verify) {
    Result<VerifyReport> r = VerifyBucket(*store, config, io);
    if (!r.ok()) return Fail(r.status());
    for (const BadBlock& b : r->bad) Out(io, FormatBadBlock(b));
    Out(io, FormatVerifySummary(*r));
    fflush(stdout);
    return r->bad.empty() ? kExitOk : kExitBadBlocks;
  }
  if (config.summary) {
    Result<BucketSummary> r = SummarizeBucket(**store, config, io);
    if (!r.ok()) return Fail(r.status());
    for (const std::string& line : FormatSummary(*r)) Out(io, line);
    fflush(stdout);
    return kExitOk;
  }
  return Fail(Status(EINVAL, "no admin mode given; use --erase, --verify or --summary"));
}

}  // namespace s3disk
