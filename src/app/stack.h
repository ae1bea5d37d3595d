// The one place the layers are composed (doc/ARCHITECTURE.md, "The stack"), and the start-up
// decisions that need the bucket: which object store, which geometry, and the mount token.
//
// Start-up (main.cc) runs, in order: ParseArgs + Validate (config.h), OpenObjectStore,
// OpenStack (= CheckNotMounted, ReadGeometry, ResolveGeometry, BuildStack,
// AcquireMountToken), then mounts.
// Everything before AcquireMountToken only reads; AcquireMountToken is the first write, so a
// refused start leaves the bucket exactly as it was.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "app/config.h"
#include "base/buffer_pool.h"
#include "base/clock.h"
#include "base/status.h"
#include "block/block_store.h"
#include "block/bucket_meta.h"
#include "block/byte_range.h"
#include "block/cache_file.h"
#include "block/journal_file.h"
#include "object/object_store.h"

namespace s3disk {

// A composed stack. bytes refers to *top; destroy in member order reversed (bytes first).
// Call top->Start() after daemonizing, and Flush + Shutdown before dropping it.
struct Stack {
  Stack() = default;
  Stack(Stack&&) = default;
  // Drops this stack in destruction order (bytes, top, then the pool top's blocks go back
  // to) before taking other's: member-wise assignment would free the pool first.
  Stack& operator=(Stack&& other) noexcept;

  std::shared_ptr<ObjectStore> store;
  // The block buffers of the cache in top (before top: it outlives every block).
  std::unique_ptr<BufferPool> pool;
  std::unique_ptr<BlockStore> top;
  std::unique_ptr<ByteRange> bytes;
  // True if block n is known to read as zeros (it has no object): the top zero map's view,
  // for NBD extents. Thread-safe; refers to *top.
  std::function<bool(BlockNum)> known_zero;
  // The --blockCacheFile, owned by the cache inside top; nullptr without one.
  CacheFile* cache_file = nullptr;
  // Its journal (--fsyncTo=journal), owned by the journal inside top; nullptr without one.
  JournalFile* journal_file = nullptr;
};

// The bucket's object store: DirStore for file:///DIR and --test DIR, MemStore for mem:,
// S3Store for an S3 bucket (from config.s3, after Validate). An S3 bucket is probed with one
// small listing: a missing bucket, a wrong region or endpoint, refused credentials or a wrong
// clock fail here with S3's reason and the fix. No write happens here.
Result<std::shared_ptr<ObjectStore>> OpenObjectStore(const Config& config);

// The geometry to mount with, from the command line and the bucket's (stored; 0 = unknown):
// the command line wins when it agrees or with --force; a disagreement without --force, a
// missing size, or a size that is not a whole number of at most 2^32 blocks fails (EINVAL).
// The block size defaults to the bucket's, else kDefaultBlockSize.
Result<Geometry> ResolveGeometry(const Config& config, const Geometry& stored);

// Composes, with geometry g: ByteRange over ZeroMap (upper) -> [Journal] -> BlockCache ->
// ZeroMap (lower) -> [ConsistencyGuard] -> ObjectBlockStore(store); with --blockCacheSize=0,
// ByteRange over ZeroMap -> [ConsistencyGuard] -> ObjectBlockStore. The journal is there with
// --fsyncTo=journal only. Its I/O: opening --blockCacheFile and, with the journal, its
// JournalPath() (local), and reading block 0 to check the password and encoding (CheckKey);
// the lower ZeroMap surveys the bucket (when config.list_blocks) in top->Start(), where the
// cache also uploads dirty blocks recovered from its file and the journal replays its records.
// Without --fsyncTo=journal, a journal beside --blockCacheFile that holds records is refused
// (EBUSY): they are newer than the bucket and the cache file, and only the journal uploads them.
Result<Stack> BuildStack(const Config& config, std::shared_ptr<ObjectStore> store,
                         const Geometry& g);

// What the local files of --blockCacheFile hold that is not in the bucket yet, and for which
// mount: the cache file's dirty blocks and its journal's records (CacheFile::ReadClaim,
// JournalFile::ReadClaim), each and together. All {} without --blockCacheFile.
struct LocalClaim {
  CacheClaim cache;
  CacheClaim journal;  // dirty_blocks: its records
  CacheClaim merged;   // as AcquireMountToken takes it (MergeClaims)
};
// The two claims as one: their writes added up, under the token of the file that holds
// writes (the cache file's when neither does, or the journal's if the cache file has none).
// Both holding writes of different mounts is refused (EBUSY): which came later is unknown.
Result<CacheClaim> MergeClaims(const Config& config, const CacheClaim& cache,
                               const CacheClaim& journal);
// Reads both files' claims (read-only; EBUSY while a process holds either) and merges them.
Result<LocalClaim> ReadLocalClaim(const Config& config);

// The "already mounted" check, which writes nothing: EBUSY if the bucket holds a token
// (current) other than the one the local files' claim records (our own crashed mount), unless
// --reset-mounted-flag, --force or --readOnly.
Status CheckNotMounted(uint32_t current, const Config& config, const CacheClaim& claim);
// True if the claim's dirty blocks (if any) may be uploaded into a bucket whose token is
// current: nobody can have written it since they were made, as the bucket still holds the
// file's token (its mount crashed).
bool DirtyBlocksAreCurrent(uint32_t current, const CacheClaim& claim);

// The mounted flag, before a read-write mount: CheckNotMounted; then, when the local files'
// dirty blocks (and journal records) are not current (DirtyBlocksAreCurrent), refused (EBUSY)
// unless
// --uploadStaleDirtyBlocks, as they could overwrite newer data; then a new token: created
// only if absent (CreateMountToken: of mounts starting together one wins, the others get
// EBUSY), after deleting the old one with --reset-mounted-flag; written over the old one when
// taking over our own crashed mount or with --force. Returns the token written, or 0 for a
// --readOnly mount (which neither reads nor writes it). replaced, if given, receives the token
// written over (our crashed mount's, or a live one's with --force); 0 if none.
Result<uint32_t> AcquireMountToken(ObjectStore& store, const Config& config, Clock& clock,
                                   const CacheClaim& claim = {}, uint32_t* replaced = nullptr);
// After a clean shutdown of a read-write mount: deletes the token if it is still ours (token);
// a mount that took the bucket over meanwhile (--reset-mounted-flag, --force) keeps its own.
Status ReleaseMountToken(ObjectStore& store, const Config& config, uint32_t token);
// s3disk --reset-mounted-flag BUCKET: deletes the token if present; says what it found. With
// --blockCacheFile whose crashed mount holds the token, that mount is taken over first and its
// dirty blocks and journal records uploaded (so, as with s3backer, they are not lost, and no
// later mount can be overwritten by them): with the journal when it holds records, whether or
// not --fsyncTo=journal was given. A file of another mount is left as it is, and says so.
Status ResetMountedFlag(const std::shared_ptr<ObjectStore>& store, const Config& config,
                        Clock& clock);

// Everything OpenStack decided.
struct OpenedStack {
  Stack stack;
  Geometry geometry;
  uint32_t mount_token = 0;  // 0: none written (read-only)
  uint32_t forced_over = 0;  // a live mount's token that --force wrote over (0: none)
};

// CheckNotMounted + ReadGeometry + ResolveGeometry + BuildStack + AcquireMountToken, in that
// order: nothing is written to the bucket unless every check before the token passed.
Result<OpenedStack> OpenStack(const Config& config, std::shared_ptr<ObjectStore> store,
                              Clock& clock);
// After OpenStack, when the start fails before serving (mount, daemonize, nbdkit cannot
// bind): deletes the token, unless the cache file holds dirty blocks or its journal records
// (crash recovery had begun): the token then stays, so the next mount with the file takes
// over and uploads them.
// A live mount's token that --force wrote over is put back.
Status ReleaseUnservedMount(const OpenedStack& opened, const Config& config);

}  // namespace s3disk
