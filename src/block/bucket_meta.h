// Bucket metadata (doc/FORMAT.md): the geometry stored in block 0's headers, and the mount token
// object that keeps two read-write mounts off one bucket.
//
// Geometry: every PUT of block 0 carries x-amz-meta-s3backer-blocksize and
// x-amz-meta-s3backer-filesize (decimal). At start a HEAD of block 0 recovers them; when block
// 0 is absent the geometry must come from the command line. s3disk keeps block 0's object
// even when it is all zeros (ObjectBlockStore), so it is absent only in a new bucket or one
// whose zero block 0 s3backer deleted.
// Old s3backer stored the file size modulo 2^32, so a size of 0 means "unknown".
//
// Mount token: PREFIX + "s3backer-mounted", Content-Type text/plain, body the date, header
// x-amz-meta-s3backer-mount-token: 8 hex digits. Absent = not mounted; present without the
// header counts as token 1 (mounted). 7fffffff is shared-disk mode.
#pragma once

#include <cstdint>
#include <string>

#include "base/clock.h"
#include "base/status.h"
#include "object/object_store.h"

namespace s3disk {

inline constexpr char kBlockSizeHeader[] = "x-amz-meta-s3backer-blocksize";
inline constexpr char kFileSizeHeader[] = "x-amz-meta-s3backer-filesize";
inline constexpr char kMountTokenHeader[] = "x-amz-meta-s3backer-mount-token";

// Either field 0 = unknown. ReadGeometry returns both known or both unknown.
struct Geometry {
  uint32_t block_size = 0;
  uint64_t size_bytes = 0;
};

// HEADs block 0. Geometry{} if block 0 is absent, lacks the headers, or says size 0 (or block
// size 0). A header that is not a decimal number in range is EBADMSG; a failed HEAD is
// returned with context.
// block0_meta (if not null) receives block 0's metadata (empty when block 0 is absent).
Result<Geometry> ReadGeometry(ObjectStore& store, const std::string& block0_key,
                              Metadata* block0_meta = nullptr);

// The two geometry headers, in decimal.
Metadata GeometryMetadata(const Geometry& g);

inline constexpr uint32_t kSharedDiskToken = 0x7fffffff;

// prefix + "s3backer-mounted"
std::string MountTokenKey(const std::string& prefix);

// 0 if absent; 1 if present without the header; else the header's value. A header that is
// not hex, or is 0, counts as 1 (the object is there, so the bucket is mounted) and logs a
// warning.
Result<uint32_t> ReadMountToken(ObjectStore& store, const std::string& prefix);

// PUTs the token object: Content-Type text/plain, body = date text, the token header.
// Replaces any token there (taking over our own crashed mount, or --force).
Status WriteMountToken(ObjectStore& store, const std::string& prefix, uint32_t token, Clock& clock);

// Creates the token object only if the bucket holds none, so of several mounts starting at
// once exactly one wins; the others get EEXIST. A create-only PUT (PutOptions::if_absent)
// decides; a second one of the same token then shows whether the store honoured the
// condition (EEXIST). A store that ignores it (it accepted both), or refuses it (EOPNOTSUPP:
// then a plain PUT), is settled by waiting kTokenSettleMs (or 4 times as long as our PUTs
// took, if longer), then reading the token back: only the last writer finds its own. There a
// mount whose PUT lands later than that still wins too: no store-side check is left to stop
// it. A lost reply of a PUT that did create the token is found by the read-back; a failure
// after our token may have landed deletes it again if it is ours.
Status CreateMountToken(ObjectStore& store, const std::string& prefix, uint32_t token,
                        Clock& clock);
inline constexpr int64_t kTokenSettleMs = 1000;

// DELETEs the token object (absent is success).
Status ClearMountToken(ObjectStore& store, const std::string& prefix);

// Random, non-zero, not kSharedDiskToken.
uint32_t NewMountToken();

}  // namespace s3disk
