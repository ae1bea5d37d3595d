// ObjectBlockStore: the bottom BlockStore, block <-> object (doc/FORMAT.md).
//
// Block n is the object BlockKey(prefix, hash_prefix, n). An all-zero block has no object:
// writing zeros deletes it, reading an absent object gives zeros, Trim deletes in batches.
// Except block 0: its object carries the geometry headers and is what CheckKey verifies the
// password against, so it is never deleted. Zeros written to it (or a trim of it) are stored
// as a block of zeros, encoded like any block; Start() stores that zero block 0 when the
// bucket has none yet, so every bucket mounted read-write records its geometry and password.
// A reader (s3backer too) sees an ordinary block of zeros.
// Reads get bodies the store has checked against their ETags (the ObjectStore contract: a
// damaged one is the store's error, EBADMSG or EIO) and check the body size against the block
// size; a mismatch is EBADMSG. This is the codec boundary: above it, blocks; below it,
// objects with metadata. Stored blocks are encoded by options.codec (compression,
// encryption; codec.h) before the PUT; every object read is decoded by it, whatever its
// Content-Encoding (decompression is always on; an unknown encoding, a bad HMAC or a bad
// stream is EBADMSG naming the block). Zero blocks other than block 0 are never encoded:
// they are deletes.
//
// Stateless apart from counters: every write is synchronous, so Flush has nothing to do.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "block/block_store.h"
#include "block/codec.h"
#include "object/object_store.h"

namespace s3disk {

struct ObjectBlockOptions {
  std::string prefix;
  bool hash_prefix = false;  // --blockHashPrefix
  uint32_t block_size = 0;
  uint64_t size_bytes = 0;  // image size; num_blocks = size_bytes / block_size
  bool read_only = false;
  // Encodes written blocks and decodes read ones; null means Codec::Plain() (plain writes,
  // reads still decompress).
  std::shared_ptr<const Codec> codec;
};

inline constexpr char kBlockContentType[] = "application/x-s3backer-block";
// S3 DeleteObjects takes at most 1000 keys per request.
inline constexpr size_t kDeleteBatchKeys = 1000;
// A survey cuts its listing (ListOptions::cuts) into at most this many parts of at least
// kSurveyPartBlocks blocks: fine enough for the store to split where the blocks are bunched,
// not so fine that empty parts cost many requests.
inline constexpr uint64_t kSurveyMaxParts = 1024;
inline constexpr uint64_t kSurveyPartBlocks = 4096;

class ObjectBlockStore : public BlockStore {
 public:
  ObjectBlockStore(std::shared_ptr<ObjectStore> store, ObjectBlockOptions options);

  // Validates the options (block size > 0, 1 <= num_blocks <= 2^32) without any I/O.
  static Result<std::unique_ptr<ObjectBlockStore>> Create(std::shared_ptr<ObjectStore> store,
                                                          ObjectBlockOptions options);

  uint32_t block_size() const override { return options_.block_size; }
  uint64_t num_blocks() const override { return num_blocks_; }

  Status ReadBlock(BlockNum n, std::span<uint8_t> buf) override;
  // One GetMany of the blocks' keys, each body in its buffer when the store can.
  std::vector<Status> ReadBlocks(std::span<const BlockNum> ns,
                                 std::span<const std::span<uint8_t>> bufs) override;
  // With a plain codec the body is data itself, so hints.md5 goes to the store with it; a
  // codec that changes the bytes drops it.
  Status WriteBlock(BlockNum n, std::span<const uint8_t> data,
                    const WriteHints& hints = {}) override;
  // The default read-modify-write, but refused up front (nothing sent) when read-only.
  Status WritePart(BlockNum n, uint32_t offset, std::span<const uint8_t> data) override;
  Status Trim(BlockNum first, uint64_t count) override;
  Status Flush() override { return Status::Ok(); }
  Status SurveyNonZero(const std::function<void(BlockNum)>& found) override;
  // Read-write: HEADs block 0 and, when it is absent, stores it as zeros (with the geometry
  // headers, and the HMAC when encrypting). The stack starts bottom up, so this runs before
  // any layer above uploads a block (the cache's recovered dirty blocks), and it never
  // replaces a block 0 that exists. Read-only: nothing.
  Status Start() override;
  Status Shutdown() override { return Status::Ok(); }
  void DumpStats(std::string* out) override;

  std::string Key(BlockNum n) const;

  // A mount-time check that the codec matches the bucket, so a wrong or missing password is
  // refused before anything is written. Encrypting: GETs block 0 and checks that it is
  // encrypted with our cipher and its HMAC verifies under our key. Not encrypting: HEADs block
  // 0 and refuses it when its Content-Encoding says encrypted (or names an encoding s3disk
  // cannot read); compressed blocks are fine. OK when block 0 is absent (a new bucket, or one
  // s3backer wrote: it deletes a zero block 0). EINVAL with a
  // one-line message naming `bucket` (for messages only) and the fix; store errors pass
  // through with context.
  Status CheckKey(const std::string& bucket);

 private:
  // Turns a stored object into the block's bytes in buf (only on success).
  Status DecodeBody(BlockNum n, std::span<const uint8_t> body, const Metadata& meta,
                    std::span<uint8_t> buf);
  // The store's answer for block n into buf: absent = zeros, else the (checked) body decoded.
  Status FinishRead(BlockNum n, const std::string& key, const Result<Object>& obj,
                    std::span<uint8_t> buf);
  Status ReadOnlyError(const char* op, BlockNum n) const;
  // Encodes and PUTs block n (block 0 with the geometry headers); md5: data's, or null.
  Status Put(BlockNum n, std::span<const uint8_t> data, const Md5Digest* md5,
             bool if_absent = false);
  // Block 0 all zeros, stored (not deleted): it keeps the geometry and the password check.
  Status PutZeroBlock0(bool if_absent = false);

  std::shared_ptr<ObjectStore> store_;
  const ObjectBlockOptions options_;
  const uint64_t num_blocks_;
  const std::shared_ptr<const Codec> codec_;

  std::atomic<uint64_t> blocks_read_{0};
  std::atomic<uint64_t> blocks_read_absent_{0};
  std::atomic<uint64_t> blocks_written_{0};
  std::atomic<uint64_t> blocks_written_hashed_above_{0};  // stored with a digest from above
  std::atomic<uint64_t> blocks_deleted_{0};
  std::atomic<uint64_t> bytes_read_{0};
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> bad_blocks_{0};
};

}  // namespace s3disk
