// BlockStore: the one interface every layer of the stack implements (doc/ARCHITECTURE.md).
//
// A BlockStore is num_blocks() fixed-size blocks of block_size() bytes, addressed by number.
// An absent block reads as zeros. Every method is thread-safe. Errors come back as Status; no
// exception leaves a method. A layer owns the layer below it.
//
// The core operations (block_size, num_blocks, ReadBlock, WriteBlock, Flush, SurveyNonZero,
// Start, Shutdown, DumpStats) are what every layer provides; ForwardingBlockStore forwards
// them, so a layer overrides only the ones it changes. The derived operations (ReadBlocks,
// ReadPart, WritePart, Trim) default to the core ones of the same object, never to the layer
// below, so no call skips a layer; a layer that passes a batch, a part or a trim down whole
// overrides that operation itself.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/crypto.h"
#include "base/status.h"

namespace s3disk {

using BlockNum = uint32_t;  // the bucket format names blocks with 8 hex digits

// What the caller of WriteBlock knows about the data, so no layer works it out again.
struct WriteHints {
  // The MD5 of data, when the caller computed it (blocks hash faster several at once:
  // md5_many.h), else null. A layer that stores the bytes as they are passes it down with
  // them, so the object store need not hash them again; a layer that changes them drops it.
  const Md5Digest* md5 = nullptr;
};

// Printf format for a block number: fixed-width lowercase hex, as in the object keys.
#define S3DISK_BLOCK_FMT "%08x"
// A block number in that format, for messages.
std::string BlockHex(BlockNum n);

class BlockStore {
 public:
  virtual ~BlockStore() = default;

  virtual uint32_t block_size() const = 0;
  virtual uint64_t num_blocks() const = 0;

  // Fills buf (exactly block_size() bytes) with block n. On failure buf is unspecified (a
  // store may have received a body there that then failed its check).
  virtual Status ReadBlock(BlockNum n, std::span<uint8_t> buf) = 0;
  // Stores block n. data is exactly block_size() bytes, or empty meaning all zeros.
  virtual Status WriteBlock(BlockNum n, std::span<const uint8_t> data,
                            const WriteHints& hints = {}) = 0;
  // Returns once every write acknowledged before the call is durable: in the bucket, or in the
  // local journal when the stack has one (journal.h), which then uploads it in order.
  virtual Status Flush() = 0;
  // Calls found(n) for every block that may be non-zero (has an object in the bucket), in any
  // order. Layers that cannot answer return ENOTSUP.
  virtual Status SurveyNonZero(const std::function<void(BlockNum)>& found) = 0;
  // Starts background work; called once, after daemonizing, before the first I/O.
  virtual Status Start() = 0;
  // Drains pending work, stops threads, then shuts down the layer below. Called once.
  virtual Status Shutdown() = 0;
  // Appends this layer's counters, then the layer below's, as "name value\n" lines.
  virtual void DumpStats(std::string* out) = 0;

  // Derived operations: each default works through this object's ReadBlock/WriteBlock.
  //
  // Reads several blocks: bufs[i] (block_size() bytes) receives block ns[i]; one Status per
  // block, in the same order. Layers that can fetch blocks side by side and check them
  // together (the object layer over S3), or that pass such a batch down, override; default:
  // ReadBlock of each in turn.
  virtual std::vector<Status> ReadBlocks(std::span<const BlockNum> ns,
                                         std::span<const std::span<uint8_t>> bufs);
  // Reads buf.size() bytes at offset inside block n. Default: read the whole block and copy.
  virtual Status ReadPart(BlockNum n, uint32_t offset, std::span<uint8_t> buf);
  // Writes data at offset inside block n. Default: read-modify-write of the whole block.
  // Callers serialize writes to one block (byte_range does), so the default is atomic.
  virtual Status WritePart(BlockNum n, uint32_t offset, std::span<const uint8_t> data);
  // Makes blocks [first, first + count) all zeros and frees their storage.
  // Default: WriteBlock(n, {}) for each.
  virtual Status Trim(BlockNum first, uint64_t count);

 protected:
  // Checks n < num_blocks() (and that a full-block buffer has the right size).
  Status CheckBlock(BlockNum n, size_t buf_size, bool empty_ok) const;
};

// Forwards the core operations to the layer below, which it owns. The derived ones
// (ReadBlocks, ReadPart, WritePart, Trim) keep BlockStore's defaults, which go through this
// layer's own ReadBlock/WriteBlock; a layer overrides them to pass them below.
class ForwardingBlockStore : public BlockStore {
 public:
  explicit ForwardingBlockStore(std::unique_ptr<BlockStore> below) : below_(std::move(below)) {}

  uint32_t block_size() const override { return below_->block_size(); }
  uint64_t num_blocks() const override { return below_->num_blocks(); }
  Status ReadBlock(BlockNum n, std::span<uint8_t> buf) override {
    return below_->ReadBlock(n, buf);
  }
  Status WriteBlock(BlockNum n, std::span<const uint8_t> data,
                    const WriteHints& hints = {}) override {
    return below_->WriteBlock(n, data, hints);
  }
  Status Flush() override { return below_->Flush(); }
  Status SurveyNonZero(const std::function<void(BlockNum)>& found) override {
    return below_->SurveyNonZero(found);
  }
  Status Start() override { return below_->Start(); }
  Status Shutdown() override { return below_->Shutdown(); }
  void DumpStats(std::string* out) override { below_->DumpStats(out); }

 protected:
  BlockStore& below() { return *below_; }
  const BlockStore& below() const { return *below_; }

 private:
  std::unique_ptr<BlockStore> below_;
};

// ReadBlocks on store of the blocks at the indexes `which` of ns and bufs; each Status goes to
// the same index of out. For layers that answer some blocks of a ReadBlocks themselves.
void ReadSomeBlocks(BlockStore& store, std::span<const BlockNum> ns,
                    std::span<const std::span<uint8_t>> bufs, const std::vector<size_t>& which,
                    std::vector<Status>& out);

// True if every byte of data is zero (fast, word at a time).
bool IsAllZero(std::span<const uint8_t> data);

}  // namespace s3disk
