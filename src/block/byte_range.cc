// ByteRange keeps no block state; its only state is the stripe locks.
//
// Invariants
//   | invariant                                        | kept by                             |
//   |--------------------------------------------------|-------------------------------------|
//   | at most one write/zero runs on a block at a time | every write path holds Stripe(n)    |
//   | no deadlock between multi-stripe holders         | TrimChunk/TrimSpan lock stripes in  |
//   |                                                  | ascending index order; others hold  |
//   |                                                  | only one                            |
//   | reads never wait for writes                      | Read takes no lock                  |
//   | nothing past size_bytes() reaches the store      | CheckRange before splitting         |
#include "block/byte_range.h"

#include <algorithm>

#include "base/md5_many.h"

namespace s3disk {

std::vector<BlockPiece> SplitRange(uint64_t offset, uint64_t length, uint32_t block_size) {
  std::vector<BlockPiece> pieces;
  if (length == 0 || block_size == 0) return pieces;
  const uint64_t first = offset / block_size;
  const uint64_t last = (offset + length - 1) / block_size;
  pieces.reserve(static_cast<size_t>(last - first + 1));
  uint64_t pos = offset;
  const uint64_t end = offset + length;
  while (pos < end) {
    const uint64_t block = pos / block_size;
    const uint32_t in_block = static_cast<uint32_t>(pos % block_size);
    const uint32_t len =
        static_cast<uint32_t>(std::min<uint64_t>(end - pos, uint64_t{block_size} - in_block));
    pieces.push_back(BlockPiece{static_cast<BlockNum>(block), in_block, len, pos - offset});
    pos += len;
  }
  return pieces;
}

ByteRange::ByteRange(BlockStore& store)
    : store_(store),
      block_size_(store.block_size()),
      size_bytes_(store.num_blocks() * store.block_size()) {}

Status ByteRange::CheckRange(const char* op, uint64_t offset, uint64_t length) const {
  if (offset > size_bytes_ || length > size_bytes_ - offset) {
    return Status::Errorf(EINVAL, "byte_range: %s %llu+%llu is past the end (%llu bytes)", op,
                          static_cast<unsigned long long>(offset),
                          static_cast<unsigned long long>(length),
                          static_cast<unsigned long long>(size_bytes_));
  }
  return Status::Ok();
}

Status ByteRange::Read(uint64_t offset, std::span<uint8_t> buf) {
  S3DISK_RETURN_IF_ERROR(CheckRange("read", offset, buf.size()));
  for (const BlockPiece& p : SplitRange(offset, buf.size(), block_size_)) {
    std::span<uint8_t> part = buf.subspan(p.buf_offset, p.length);
    Status st = p.length == block_size_ ? store_.ReadBlock(p.block, part)
                                        : store_.ReadPart(p.block, p.offset, part);
    S3DISK_RETURN_IF_ERROR(st);
  }
  return Status::Ok();
}

Status ByteRange::Write(uint64_t offset, std::span<const uint8_t> data) {
  S3DISK_RETURN_IF_ERROR(CheckRange("write", offset, data.size()));
  const std::vector<BlockPiece> pieces = SplitRange(offset, data.size(), block_size_);
  auto part = [&](const BlockPiece& p) { return data.subspan(p.buf_offset, p.length); };
  // The whole blocks with data are hashed here, together, when there are enough of them for
  // that to beat hashing each alone where it is stored; their digests go down with them.
  std::vector<std::span<const uint8_t>> hashed;
  if (Md5ManyVectorized()) {
    for (const BlockPiece& p : pieces) {
      if (p.length == block_size_ && !IsAllZero(part(p))) hashed.push_back(part(p));
    }
    if (hashed.size() < kMinBlocksHashedTogether) hashed.clear();
  }
  std::vector<Md5Digest> digests(hashed.size());
  Md5Many(hashed, digests);
  size_t next_hashed = 0;
  for (const BlockPiece& p : pieces) {
    std::span<const uint8_t> bytes = part(p);
    MutexLock lock(Stripe(p.block));
    Status st;
    if (next_hashed < hashed.size() && hashed[next_hashed].data() == bytes.data()) {
      st = store_.WriteBlock(p.block, bytes, {.md5 = &digests[next_hashed++]});
    } else if (p.length == block_size_) {
      st = store_.WriteBlock(p.block, bytes);
    } else {
      st = store_.WritePart(p.block, p.offset, bytes);
    }
    S3DISK_RETURN_IF_ERROR(st);
  }
  return Status::Ok();
}

Status ByteRange::TrimChunk(BlockNum first, uint32_t count) {
  // The stripes of count (<= kZeroChunkBlocks < kStripes) consecutive blocks, in ascending
  // index order: the low ones (when the range wraps past stripe kStripes - 1) come first.
  const uint32_t start = first % kStripes;
  const uint32_t wrapped = start + count > kStripes ? start + count - kStripes : 0;
  const uint32_t upper_end = std::min<uint32_t>(start + count, kStripes);
  for (uint32_t s = 0; s < wrapped; s++) stripes_[s].lock();
  for (uint32_t s = start; s < upper_end; s++) stripes_[s].lock();
  Status st = store_.Trim(first, count);
  for (uint32_t s = upper_end; s > start; s--) stripes_[s - 1].unlock();
  for (uint32_t s = wrapped; s > 0; s--) stripes_[s - 1].unlock();
  return st;
}

Status ByteRange::TrimSpan(BlockNum first, uint64_t count) {
  if (count <= kZeroChunkBlocks) return TrimChunk(first, static_cast<uint32_t>(count));
  // Every stripe is needed anyway: take them all once, in index order, instead of taking
  // (and sorting) up to kZeroChunkBlocks stripes per chunk. Below, a chunk over known-zero
  // blocks costs next to nothing, so a 1 TiB discard is a few thousand cheap calls.
  for (Mutex& m : stripes_) m.lock();
  Status st;
  for (uint64_t done = 0; done < count && st.ok();) {
    const uint32_t chunk =
        static_cast<uint32_t>(std::min<uint64_t>(count - done, kZeroChunkBlocks));
    st = store_.Trim(static_cast<BlockNum>(first + done), chunk);
    done += chunk;
  }
  for (size_t s = kStripes; s > 0; s--) stripes_[s - 1].unlock();
  return st;
}

Status ByteRange::Zero(uint64_t offset, uint64_t length) {
  S3DISK_RETURN_IF_ERROR(CheckRange("zero", offset, length));
  // Only the first and last pieces can be partial, so walk the range arithmetically instead
  // of materializing one piece per block (punching 1 TiB is 8M blocks).
  const uint64_t end = offset + length;
  uint64_t pos = offset;
  while (pos < end) {
    const uint64_t block = pos / block_size_;
    const uint32_t in_block = static_cast<uint32_t>(pos % block_size_);
    if (in_block == 0 && end - pos >= block_size_) {
      const uint64_t whole = (end - pos) / block_size_;
      for (uint64_t done = 0; done < whole;) {
        const uint64_t span = std::min<uint64_t>(whole - done, kZeroSpanBlocks);
        S3DISK_RETURN_IF_ERROR(TrimSpan(static_cast<BlockNum>(block + done), span));
        done += span;
      }
      pos += whole * block_size_;
      continue;
    }
    const uint32_t len =
        static_cast<uint32_t>(std::min<uint64_t>(end - pos, uint64_t{block_size_} - in_block));
    const std::vector<uint8_t> zeros(len, 0);
    MutexLock lock(Stripe(static_cast<BlockNum>(block)));
    S3DISK_RETURN_IF_ERROR(store_.WritePart(static_cast<BlockNum>(block), in_block, zeros));
    pos += len;
  }
  return Status::Ok();
}

Status ByteRange::Flush() { return store_.Flush(); }

}  // namespace s3disk
