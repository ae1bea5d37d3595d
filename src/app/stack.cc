// Composition of the layers and the start-up decisions that need the bucket. Stateless: every
// function works on what it is given. The only writes to the bucket made here are the mount
// token's (AcquireMountToken, ReleaseMountToken, ResetMountedFlag).
#include "app/stack.h"

#include <memory>
#include <utility>

#include "base/crypto.h"
#include "base/log.h"
#include "block/block_cache.h"
#include "block/block_key.h"
#include "block/codec.h"
#include "block/consistency_guard.h"
#include "block/journal.h"
#include "block/object_block_store.h"
#include "block/zero_map.h"
#include "object/dir_store.h"
#include "object/mem_store.h"
#include "s3/s3_store.h"

namespace s3disk {
namespace {

// "bucket /srv/b prefix 'vol1/'" for messages.
std::string BucketAndPrefix(const Config& config) {
  return "bucket " + BucketDisplay(config) + " prefix '" + config.prefix + "'";
}

Status CheckBlockSize(uint32_t bs, const char* source) {
  if (bs < kMinBlockSize || bs > kMaxBlockSize || (bs & (bs - 1)) != 0) {
    return Status::Errorf(EINVAL,
                          "%s blockSize=%u, which is not a power of two from 512 to 64m; "
                          "s3disk cannot mount it",
                          source, bs);
  }
  return Status::Ok();
}

// Checks a clean block of the cache file against the bucket: the object's ETag is the MD5 of
// its body, which is the block itself only for a plain object (no Content-Encoding); an
// absent object is an all-zero block. Anything else cannot be checked, so is not reused.
Status VerifyCachedBlock(ObjectStore& store, const std::string& key, uint32_t block_size,
                         const std::string& md5_hex) {
  Result<ObjectInfo> info = store.Head(key);
  if (!info.ok()) {
    if (info.status().code() == ENOENT && md5_hex == Md5Hex(std::vector<uint8_t>(block_size))) {
      return Status::Ok();
    }
    return info.status();
  }
  auto enc = info->meta.find("content-encoding");
  if (enc != info->meta.end() && !enc->second.empty()) {
    return Status(ENOTSUP, key + " is encoded; its ETag cannot check the cached block");
  }
  if (info->size != block_size || info->etag != md5_hex) {
    return Status(ESTALE, key + " changed since it was cached");
  }
  return Status::Ok();
}

// The block cache over below (the lower zero map), with its cache file when asked for.
Result<std::unique_ptr<BlockStore>> BuildCache(const Config& config,
                                               const std::shared_ptr<ObjectStore>& store,
                                               const Geometry& g, std::unique_ptr<BlockStore> below,
                                               BufferPool& pool, CacheFile** file_out) {
  BlockCacheOptions o = config.cache;
  o.read_only = config.read_only;
  BlockCacheFile file;
  if (!config.block_cache_file.empty()) {
    // The only local I/O of BuildStack: opening (or making) the cache file. Its dirty blocks
    // are uploaded in Start().
    Result<std::unique_ptr<CacheFile>> opened =
        CacheFile::Open(config.block_cache_file, BucketAndPrefix(config), g.block_size,
                        g.size_bytes / g.block_size, static_cast<uint32_t>(o.cache_size_blocks));
    if (!opened.ok()) return opened.status();
    *file_out = opened->get();  // owned by the cache, which lives as long as the stack
    file.file = std::move(*opened);
    const std::string prefix = config.prefix;
    const bool hash_prefix = config.hash_prefix;
    const uint32_t block_size = g.block_size;
    file.verify_clean = [store, prefix, hash_prefix, block_size](BlockNum n,
                                                                 const std::string& md5) {
      return VerifyCachedBlock(*store, BlockKey(prefix, hash_prefix, n), block_size, md5);
    };
  }
  Result<std::unique_ptr<BlockCache>> cache =
      BlockCache::Create(std::move(below), std::move(o), pool, Clock::Real(), std::move(file));
  if (!cache.ok()) return cache.status();
  return std::unique_ptr<BlockStore>(std::move(*cache));
}

// Without --fsyncTo=journal, a journal beside the cache file must hold no record: its writes
// are newer than the cache file's and the bucket's, and a stack without the journal would
// serve, and then overwrite, the older data.
Status CheckNoPendingJournal(const Config& config) {
  if (config.block_cache_file.empty() || config.fsync_to == FsyncTo::kJournal) {
    return Status::Ok();
  }
  const std::string path = config.JournalPath();
  Result<CacheClaim> claim = JournalFile::ReadClaim(path, BucketAndPrefix(config));
  if (!claim.ok()) return claim.status();
  if (claim->dirty_blocks == 0) return Status::Ok();
  return Status::Errorf(EBUSY,
                        "%s holds %llu writes not yet in the bucket; mount with "
                        "--fsyncTo=journal to upload them first (or remove it to discard them)",
                        path.c_str(), static_cast<unsigned long long>(claim->dirty_blocks));
}

// The journal's ring must hold a few records of whole blocks: a writer waits for room that a
// smaller ring would never have.
Status CheckJournalSize(const Config& config, const Geometry& g) {
  const uint64_t least = 4 * (uint64_t{g.block_size} + JournalFile::kHeaderBytes);
  if (config.journal.capacity_bytes >= least) return Status::Ok();
  const uint64_t mib = uint64_t{1} << 20;
  const uint64_t suggest = (least + mib - 1) / mib * mib;
  return Status::Errorf(EINVAL,
                        "--journalSize=%s holds fewer than 4 blocks of %s; use at least "
                        "--journalSize=%s",
                        FormatSize(config.journal.capacity_bytes).c_str(),
                        FormatSize(g.block_size).c_str(), FormatSize(suggest).c_str());
}

// The journal of --fsyncTo=journal over below (the cache), in config.JournalPath(). Its
// records are replayed in Start().
Result<std::unique_ptr<BlockStore>> BuildJournal(const Config& config, const Geometry& g,
                                                 std::unique_ptr<BlockStore> below,
                                                 JournalFile** file_out) {
  if (config.block_cache_file.empty() || config.cache.cache_size_blocks == 0) {
    return Status(EINVAL, "--fsyncTo=journal needs --blockCacheFile and the block cache");
  }
  // Local I/O, like the cache file's open: opening (or making) the journal's file.
  Result<std::unique_ptr<JournalFile>> file = JournalFile::OpenPath(
      config.JournalPath(), BucketAndPrefix(config), g.block_size, config.journal.capacity_bytes);
  if (!file.ok()) return file.status();
  *file_out = file->get();  // owned by the journal, which lives as long as the stack
  return std::unique_ptr<BlockStore>(
      std::make_unique<Journal>(std::move(below), std::move(*file), config.journal, Clock::Real()));
}

// How the writes of a claim are named in messages: the cache file's dirty blocks, and with
// --fsyncTo=journal its journal's records too.
struct ClaimWords {
  std::string writes;  // "5 dirty blocks"
  std::string holds;   // "--blockCacheFile holds 5 dirty blocks"
  std::string files;   // "the cache file"
};
ClaimWords DescribeClaim(const Config& config, uint64_t count) {
  const std::string n = std::to_string(count);
  if (config.fsync_to == FsyncTo::kJournal) {
    return {n + " writes", "--blockCacheFile and its journal hold " + n + " writes",
            "the cache file and its journal"};
  }
  return {n + " dirty blocks", "--blockCacheFile holds " + n + " dirty blocks", "the cache file"};
}

}  // namespace

Result<std::shared_ptr<ObjectStore>> OpenObjectStore(const Config& config) {
  switch (config.bucket_kind) {
    case BucketKind::kDirectory: {
      Result<std::unique_ptr<DirStore>> dir = DirStore::Open(config.bucket_dir, config.read_only);
      if (!dir.ok()) return dir.status();
      return std::shared_ptr<ObjectStore>(std::move(*dir));
    }
    case BucketKind::kMemory:
      return std::shared_ptr<ObjectStore>(std::make_shared<MemStore>());
    case BucketKind::kS3: {
      // Validate filled config.s3 (bucket, credentials, verify_etag).
      S3Options options = config.s3.options;
      options.bucket = config.bucket_name;
      // A GET brings one block at most; the bucket's block size, when --blockSize is not
      // given, is known only later (BuildStack lowers the bound to it).
      options.max_object_bytes =
          MaxEncodedBytes(config.block_size != 0 ? config.block_size : kMaxBlockSize);
      Result<std::unique_ptr<S3Store>> s3 = S3Store::Create(std::move(options));
      if (!s3.ok()) return s3.status();
      // One small listing now, so a wrong bucket, region, endpoint or key fails the mount
      // with S3's reason instead of the first read of the image.
      S3DISK_RETURN_IF_ERROR((*s3)->Probe());
      return std::shared_ptr<ObjectStore>(std::move(*s3));
    }
  }
  return Status(EINVAL, "unknown bucket kind");
}

Result<Geometry> ResolveGeometry(const Config& config, const Geometry& stored) {
  Geometry g;
  // Block size: the command line's, else the bucket's, else the default.
  if (config.block_size != 0) {
    if (stored.block_size != 0 && stored.block_size != config.block_size) {
      if (!config.force) {
        return Status::Errorf(EINVAL,
                              "bucket says blockSize=%u but --blockSize=%u; use --force to "
                              "override",
                              stored.block_size, config.block_size);
      }
      LOG_WARN("bucket says blockSize=%u but --blockSize=%u; using %u (--force)", stored.block_size,
               config.block_size, config.block_size);
    }
    g.block_size = config.block_size;
  } else if (stored.block_size != 0) {
    S3DISK_RETURN_IF_ERROR(CheckBlockSize(stored.block_size, "bucket says"));
    g.block_size = stored.block_size;
  } else {
    g.block_size = kDefaultBlockSize;
  }
  // Size: the command line's, else the bucket's; there is no default.
  if (config.size_bytes != 0) {
    if (stored.size_bytes != 0 && stored.size_bytes != config.size_bytes) {
      if (!config.force) {
        return Status::Errorf(EINVAL,
                              "bucket says size=%llu but --size=%llu; use --force to override",
                              static_cast<unsigned long long>(stored.size_bytes),
                              static_cast<unsigned long long>(config.size_bytes));
      }
      LOG_WARN("bucket says size=%llu but --size=%llu; using %llu (--force)",
               static_cast<unsigned long long>(stored.size_bytes),
               static_cast<unsigned long long>(config.size_bytes),
               static_cast<unsigned long long>(config.size_bytes));
    }
    g.size_bytes = config.size_bytes;
  } else if (stored.size_bytes != 0) {
    g.size_bytes = stored.size_bytes;
  } else {
    return Status(EINVAL, "--size is required: the bucket holds no geometry yet");
  }
  if (g.size_bytes % g.block_size != 0) {
    uint64_t up = (g.size_bytes / g.block_size + 1) * g.block_size;
    return Status::Errorf(EINVAL, "size=%s is not a multiple of blockSize=%s; use e.g. --size=%s",
                          FormatSize(g.size_bytes).c_str(), FormatSize(g.block_size).c_str(),
                          FormatSize(up).c_str());
  }
  if (g.size_bytes / g.block_size > kMaxBlocks) {
    return Status::Errorf(EINVAL,
                          "size=%s makes more than 2^32 blocks of %s; use a larger --blockSize",
                          FormatSize(g.size_bytes).c_str(), FormatSize(g.block_size).c_str());
  }
  return g;
}

Stack& Stack::operator=(Stack&& other) noexcept {
  if (this != &other) {
    // The destructor's order (bytes, top, then the pool), then other's members: every member,
    // present and future, without listing them.
    std::destroy_at(this);
    std::construct_at(this, std::move(other));
    other.cache_file = nullptr;    // it belongs to the cache now in *this
    other.journal_file = nullptr;  // and this one to the journal
  }
  return *this;
}

Result<Stack> BuildStack(const Config& config, std::shared_ptr<ObjectStore> store,
                         const Geometry& g) {
  // A GET brings one block at most: a server that sends more (or without end) is cut off
  // there, and cannot use up the memory that holds dirty blocks.
  if (auto* s3 = dynamic_cast<S3Store*>(store.get())) {
    s3->SetMaxObjectBytes(MaxEncodedBytes(g.block_size));
  }
  if (config.fsync_to == FsyncTo::kJournal) S3DISK_RETURN_IF_ERROR(CheckJournalSize(config, g));
  ObjectBlockOptions options;
  options.prefix = config.prefix;
  options.hash_prefix = config.hash_prefix;
  options.block_size = g.block_size;
  options.size_bytes = g.size_bytes;
  options.read_only = config.read_only;
  Result<std::shared_ptr<const Codec>> codec = Codec::Create(MakeCodecOptions(config));
  if (!codec.ok()) return codec.status().WithContext("stack");
  options.codec = *codec;
  Result<std::unique_ptr<ObjectBlockStore>> bottom = ObjectBlockStore::Create(store, options);
  if (!bottom.ok()) return bottom.status().WithContext("stack");
  // A wrong password, or none for an encrypted bucket (or one for a plain bucket), is refused
  // here, before the mount token or any block is written.
  S3DISK_RETURN_IF_ERROR((*bottom)->CheckKey(BucketDisplay(config)));
  if ((*codec)->encrypting() || (*codec)->compression() != Compression::kNone) {
    LOG_INFO("stack: blocks are stored %s", (*codec)->Describe().c_str());
  }

  Stack stack;
  stack.store = std::move(store);
  stack.pool = std::make_unique<BufferPool>();
  // Top to bottom (doc/ARCHITECTURE.md): ZeroMap (upper) -> [Journal] -> BlockCache ->
  // ZeroMap (lower) -> ObjectBlockStore. The lower map surveys the bucket in Start(); the
  // upper one surveys through the cache, which answers from the lower map (no second listing)
  // plus its dirty blocks (and the journal adds the blocks of its records), so zero blocks
  // never reach the cache. The journal is there only with --fsyncTo=journal, so that a flush
  // ends at its synced file while the cache uploads behind it. The consistency guard goes
  // between the lower map and ObjectBlockStore, only with --md5CacheSize.
  // --blockCacheSize=0: no cache, one map.
  std::unique_ptr<BlockStore> below = std::move(*bottom);
  if (config.guard.cache_size > 0) {
    ConsistencyGuardOptions guard = config.guard;
    guard.retry_initial_ms = config.s3.options.initial_retry_pause_ms;
    guard.retry_max_ms = config.s3.options.max_retry_pause_ms;
    Result<std::unique_ptr<ConsistencyGuard>> guarded =
        ConsistencyGuard::Create(std::move(below), guard, Clock::Real());
    if (!guarded.ok()) return guarded.status();
    below = std::move(*guarded);
  }
  if (config.cache.cache_size_blocks > 0) {
    // The lower map's counters would repeat the upper map's names: lower_zero_map_*.
    auto lower = std::make_unique<ZeroMap>(std::move(below), config.list_blocks, "lower_zero_map");
    Result<std::unique_ptr<BlockStore>> cache =
        BuildCache(config, stack.store, g, std::move(lower), *stack.pool, &stack.cache_file);
    if (!cache.ok()) return cache.status().WithContext("stack");
    below = std::move(*cache);
  }
  // Checked with the cache file locked: a journal mount writes its journal only while it
  // holds that lock, so none can start between this check and our mount.
  S3DISK_RETURN_IF_ERROR(CheckNoPendingJournal(config));
  if (config.fsync_to == FsyncTo::kJournal) {
    Result<std::unique_ptr<BlockStore>> journal =
        BuildJournal(config, g, std::move(below), &stack.journal_file);
    if (!journal.ok()) return journal.status().WithContext("stack");
    below = std::move(*journal);
  }
  auto zero_map = std::make_unique<ZeroMap>(std::move(below), config.list_blocks);
  const ZeroMap* top_map = zero_map.get();
  stack.known_zero = [top_map](BlockNum n) { return top_map->KnownZero(n); };
  stack.top = std::move(zero_map);
  stack.bytes = std::make_unique<ByteRange>(*stack.top);
  return stack;
}

Result<CacheClaim> MergeClaims(const Config& config, const CacheClaim& cache,
                               const CacheClaim& journal) {
  CacheClaim merged = cache;
  merged.dirty_blocks += journal.dirty_blocks;
  if (journal.dirty_blocks == 0) {
    if (merged.token == 0 && cache.dirty_blocks == 0) merged.token = journal.token;
    return merged;
  }
  if (cache.dirty_blocks > 0 && cache.token != journal.token) {
    // Every mount records its token in both files: only a failure half-way leaves them apart.
    return Status::Errorf(EBUSY,
                          "%s holds %llu dirty blocks of the mount with token %08x but %s holds "
                          "%llu writes of the mount with token %08x, so which are newer is "
                          "unknown; remove one of the two files to discard its writes",
                          config.block_cache_file.c_str(),
                          static_cast<unsigned long long>(cache.dirty_blocks), cache.token,
                          config.JournalPath().c_str(),
                          static_cast<unsigned long long>(journal.dirty_blocks), journal.token);
  }
  merged.token = journal.token;
  return merged;
}

Result<LocalClaim> ReadLocalClaim(const Config& config) {
  LocalClaim claim;
  if (config.block_cache_file.empty()) return claim;
  const std::string bucket = BucketAndPrefix(config);
  Result<CacheClaim> cache = CacheFile::ReadClaim(config.block_cache_file, bucket);
  if (!cache.ok()) return cache.status();
  Result<CacheClaim> journal = JournalFile::ReadClaim(config.JournalPath(), bucket);
  if (!journal.ok()) return journal.status();
  Result<CacheClaim> merged = MergeClaims(config, *cache, *journal);
  if (!merged.ok()) return merged.status();
  claim.cache = *cache;
  claim.journal = *journal;
  claim.merged = *merged;
  return claim;
}

Status CheckNotMounted(uint32_t current, const Config& config, const CacheClaim& claim) {
  if (config.read_only || current == 0 || config.reset_mounted_flag || config.force) {
    return Status::Ok();
  }
  if (claim.token != 0 && current == claim.token) return Status::Ok();  // our crashed mount
  if (current == kSharedDiskToken) {
    return Status::Errorf(EBUSY,
                          "%s is mounted in s3backer's shared-disk mode (token %08x), which "
                          "s3disk does not join; unmount those mounts first",
                          BucketAndPrefix(config).c_str(), current);
  }
  return Status::Errorf(EBUSY,
                        "%s is already mounted (token %08x), or was not unmounted cleanly; if "
                        "it is not in use, run again with --reset-mounted-flag",
                        BucketAndPrefix(config).c_str(), current);
}

bool DirtyBlocksAreCurrent(uint32_t current, const CacheClaim& claim) {
  return claim.dirty_blocks == 0 || (claim.token != 0 && current == claim.token);
}

Result<uint32_t> AcquireMountToken(ObjectStore& store, const Config& config, Clock& clock,
                                   const CacheClaim& claim, uint32_t* replaced) {
  if (replaced != nullptr) *replaced = 0;
  if (config.read_only) return uint32_t{0};
  Result<uint32_t> current = ReadMountToken(store, config.prefix);
  if (!current.ok()) return current.status().WithContext("mount token");
  S3DISK_RETURN_IF_ERROR(CheckNotMounted(*current, config, claim));
  const std::string bucket = BucketAndPrefix(config);
  const ClaimWords words = DescribeClaim(config, claim.dirty_blocks);
  if (!DirtyBlocksAreCurrent(*current, claim)) {
    const std::string since =
        *current != 0 ? "it now holds token " + BlockHex(*current) : "its mount token is gone";
    if (!config.upload_stale_dirty_blocks) {
      return Status::Errorf(
          EBUSY,
          "%s: %s of an earlier mount (token %08x), but the bucket was mounted since (%s), so "
          "uploading them could overwrite newer data; remove %s to discard them, or add "
          "--uploadStaleDirtyBlocks to upload them over whatever the bucket holds now",
          bucket.c_str(), words.holds.c_str(), claim.token, since.c_str(), words.files.c_str());
    }
    LOG_WARN(
        "%s: uploading the %s of an earlier mount (token %08x) although the bucket was "
        "mounted since (%s), as asked by --uploadStaleDirtyBlocks",
        bucket.c_str(), words.writes.c_str(), claim.token, since.c_str());
  }
  const uint32_t token = NewMountToken();
  // Of several mounts creating the token at once, one wins; the others are refused here.
  auto create = [&]() -> Result<uint32_t> {
    Status created = CreateMountToken(store, config.prefix, token, clock);
    if (created.code() == EEXIST) {
      return Status::Errorf(EBUSY, "%s was mounted by another process just now (%s)",
                            bucket.c_str(), created.message().c_str());
    }
    if (!created.ok()) return created;
    return token;
  };
  if (*current == 0) return create();
  if (claim.token != 0 && *current == claim.token) {
    LOG_WARN(
        "%s: the mount recorded in --blockCacheFile (token %08x) did not unmount cleanly; "
        "taking over and uploading its %s",
        bucket.c_str(), *current, words.writes.c_str());
  } else if (config.reset_mounted_flag) {
    LOG_INFO("%s: clearing the mounted flag (token %08x) as asked by --reset-mounted-flag",
             bucket.c_str(), *current);
    S3DISK_RETURN_IF_ERROR(ClearMountToken(store, config.prefix).WithContext("mount token: clear"));
    return create();
  } else {
    LOG_WARN("%s is marked mounted (token %08x); mounting anyway (--force)", bucket.c_str(),
             *current);
  }
  S3DISK_RETURN_IF_ERROR(
      WriteMountToken(store, config.prefix, token, clock).WithContext("mount token: write"));
  if (replaced != nullptr) *replaced = *current;
  return token;
}

namespace {

// After a start that failed: the bucket's token as it was before ours (previous: one ours was
// written over; 0: there was none, or --reset-mounted-flag cleared it), if ours is still there.
Status PutBackMountToken(ObjectStore& store, const Config& config, uint32_t ours,
                         uint32_t previous) {
  if (previous == 0) return ReleaseMountToken(store, config, ours);
  Result<uint32_t> current = ReadMountToken(store, config.prefix);
  if (!current.ok()) return current.status().WithContext("mount token");
  if (*current != ours) return Status::Ok();  // someone else's now
  return WriteMountToken(store, config.prefix, previous, Clock::Real())
      .WithContext("mount token: put back");
}

// Records token in the journal and in the cache file. When the cache file's write fails, the
// journal gets its earlier token back, so the two never name different mounts.
Status RecordMountToken(Stack& stack, uint32_t token) {
  CacheFile* cache = stack.cache_file;
  JournalFile* journal = stack.journal_file;
  // The journal's first: its claim wins whenever it holds writes, so a crash between the two
  // leaves the token that decides in the file that decides.
  const uint32_t journal_had = journal != nullptr ? journal->mount_token() : 0;
  if (journal != nullptr) S3DISK_RETURN_IF_ERROR(journal->SetMountToken(token));
  if (cache == nullptr) return Status::Ok();
  Status recorded = cache->SetMountToken(token);
  if (!recorded.ok() && journal != nullptr) {
    Status undone = journal->SetMountToken(journal_had);
    if (!undone.ok()) LOG_ERROR("%s", undone.WithContext("mount token").ToString().c_str());
  }
  return recorded;
}

}  // namespace

Status ReleaseMountToken(ObjectStore& store, const Config& config, uint32_t token) {
  if (config.read_only || token == 0) return Status::Ok();
  Result<uint32_t> current = ReadMountToken(store, config.prefix);
  if (!current.ok()) return current.status().WithContext("mount token");
  if (*current != token) {
    // A --reset-mounted-flag or --force mount took the bucket over meanwhile: it is theirs.
    LOG_WARN(
        "%s: the mount token is now %08x, not ours (%08x): another mount took the bucket "
        "over; leaving its token",
        BucketAndPrefix(config).c_str(), *current, token);
    return Status::Ok();
  }
  return ClearMountToken(store, config.prefix).WithContext("mount token: clear");
}

Status ReleaseUnservedMount(const OpenedStack& opened, const Config& config) {
  if (config.read_only || opened.mount_token == 0) return Status::Ok();
  const CacheFile* file = opened.stack.cache_file;
  if (file != nullptr && file->dirty_found() > 0) {
    LOG_WARN(
        "leaving the mounted flag (token %08x) of %s: %s holds %llu dirty blocks, which the "
        "next mount with it takes over and uploads",
        opened.mount_token, BucketAndPrefix(config).c_str(), file->path().c_str(),
        static_cast<unsigned long long>(file->dirty_found()));
    return Status::Ok();
  }
  const JournalFile* journal = opened.stack.journal_file;
  if (journal != nullptr && journal->records_found() > 0) {
    LOG_WARN(
        "leaving the mounted flag (token %08x) of %s: %s holds %llu writes, which the next "
        "mount with it (and --fsyncTo=journal) takes over and uploads",
        opened.mount_token, BucketAndPrefix(config).c_str(), journal->path().c_str(),
        static_cast<unsigned long long>(journal->records_found()));
    return Status::Ok();
  }
  return PutBackMountToken(*opened.stack.store, config, opened.mount_token, opened.forced_over);
}

Status ResetMountedFlag(const std::shared_ptr<ObjectStore>& store, const Config& config,
                        Clock& clock) {
  const std::string bucket = BucketAndPrefix(config);
  Result<uint32_t> current = ReadMountToken(*store, config.prefix);
  if (!current.ok()) return current.status().WithContext("mount token");
  if (!config.block_cache_file.empty()) {
    Result<LocalClaim> read = ReadLocalClaim(config);
    if (!read.ok()) return read.status();
    const CacheClaim& claim = read->merged;
    if (config.read_only && claim.dirty_blocks > 0) {
      return Status::Errorf(EINVAL,
                            "%s (and its journal) hold %llu writes to upload first, which "
                            "--readOnly forbids; drop --readOnly",
                            config.block_cache_file.c_str(),
                            static_cast<unsigned long long>(claim.dirty_blocks));
    }
    // The writes the journal holds go up only through a stack with the journal.
    Config takeover = config;
    takeover.reset_mounted_flag = false;
    if (read->journal.dirty_blocks > 0) takeover.fsync_to = FsyncTo::kJournal;
    const ClaimWords words = DescribeClaim(takeover, claim.dirty_blocks);
    if (claim.dirty_blocks > 0 && *current != 0 && claim.token == *current) {
      // The plain crash: the file's mount still holds the bucket. Its blocks go up now, as a
      // mount would take them over, so that no mount in between can be overwritten by them.
      LOG_INFO("%s of the mount that holds %s: uploading them first", words.holds.c_str(),
               bucket.c_str());
      Result<OpenedStack> opened = OpenStack(takeover, store, clock);
      if (!opened.ok()) return opened.status();
      Stack& s = opened->stack;
      Status st = s.top->Start();
      if (st.ok()) st = s.bytes->Flush();
      // With the journal, its Shutdown uploads every record before the cache's.
      Status shut = s.top->Shutdown();
      if (st.ok()) st = shut;
      // On failure the token stays, recorded in the file: the next mount with it takes over.
      if (!st.ok()) return st.WithContext("uploading the " + words.writes + " of --blockCacheFile");
      S3DISK_RETURN_IF_ERROR(ReleaseMountToken(*store, config, opened->mount_token));
      LOG_INFO("%s: %s uploaded and mounted flag cleared", bucket.c_str(), words.writes.c_str());
      return Status::Ok();
    }
    if (claim.dirty_blocks > 0) {
      LOG_WARN(
          "%s of another mount (token %08x), so the bucket may have been written since: a "
          "mount with it refuses them unless --uploadStaleDirtyBlocks (or remove %s to "
          "discard them)",
          words.holds.c_str(), claim.token, words.files.c_str());
    }
  }
  if (*current == 0) {
    LOG_INFO("%s is not marked mounted; nothing to do", bucket.c_str());
    return Status::Ok();
  }
  S3DISK_RETURN_IF_ERROR(ClearMountToken(*store, config.prefix).WithContext("mount token: clear"));
  LOG_INFO("%s: mounted flag (token %08x) cleared", bucket.c_str(), *current);
  return Status::Ok();
}

Result<OpenedStack> OpenStack(const Config& config, std::shared_ptr<ObjectStore> store,
                              Clock& clock) {
  // The mounted flag first: a bucket in use says so, whatever else is wrong with the mount.
  if (!config.read_only) {
    Result<uint32_t> current = ReadMountToken(*store, config.prefix);
    if (!current.ok()) return current.status().WithContext("mount token");
    Result<LocalClaim> claim = ReadLocalClaim(config);
    if (!claim.ok()) return claim.status();
    S3DISK_RETURN_IF_ERROR(CheckNotMounted(*current, config, claim->merged));
  }
  Result<Geometry> stored = ReadGeometry(*store, BlockKey(config.prefix, config.hash_prefix, 0));
  if (!stored.ok()) return stored.status();  // names the key already
  Result<Geometry> g = ResolveGeometry(config, *stored);
  if (!g.ok()) return g.status();
  Result<Stack> stack = BuildStack(config, store, *g);
  if (!stack.ok()) return stack.status();
  // The files are open (and locked) now: their claims as they hold them.
  CacheClaim cache_claim;
  if (stack->cache_file != nullptr) {
    cache_claim.token = stack->cache_file->mount_token();
    cache_claim.dirty_blocks = stack->cache_file->dirty_found();
  }
  CacheClaim journal_claim;
  if (stack->journal_file != nullptr) {
    journal_claim.token = stack->journal_file->mount_token();
    journal_claim.dirty_blocks = stack->journal_file->records_found();
  }
  Result<CacheClaim> claim = MergeClaims(config, cache_claim, journal_claim);
  if (!claim.ok()) return claim.status();
  uint32_t replaced = 0;
  Result<uint32_t> token = AcquireMountToken(*store, config, clock, *claim, &replaced);
  if (!token.ok()) return token.status();
  if (*token != 0) {
    // From now on a crash of this mount is recognised by the token the files record.
    Status recorded = RecordMountToken(*stack, *token);
    if (!recorded.ok()) {
      // Put the bucket back as it was, which the files still match: our crashed mount's
      // token when taking over, a live mount's after --force, else none.
      Status undone = PutBackMountToken(*store, config, *token, replaced);
      if (!undone.ok()) LOG_ERROR("%s", undone.WithContext("mount token").ToString().c_str());
      return recorded;
    }
  }
  OpenedStack opened;
  opened.stack = std::move(*stack);
  opened.geometry = *g;
  opened.mount_token = *token;
  opened.forced_over = replaced != claim->token ? replaced : 0;
  return opened;
}

}  // namespace s3disk
