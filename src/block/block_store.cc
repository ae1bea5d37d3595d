#include "block/block_store.h"

#include <cstdio>
#include <cstring>
#include <vector>

namespace s3disk {

std::string BlockHex(BlockNum n) {
  char buf[16];
  snprintf(buf, sizeof buf, S3DISK_BLOCK_FMT, n);
  return buf;
}

Status BlockStore::CheckBlock(BlockNum n, size_t buf_size, bool empty_ok) const {
  if (n >= num_blocks()) {
    return Status::Errorf(EINVAL, "block " S3DISK_BLOCK_FMT " is past the end (%llu blocks)", n,
                          static_cast<unsigned long long>(num_blocks()));
  }
  if (buf_size != block_size() && !(empty_ok && buf_size == 0)) {
    return Status::Errorf(EINVAL, "block " S3DISK_BLOCK_FMT ": buffer of %zu bytes, expected %u", n,
                          buf_size, block_size());
  }
  return Status::Ok();
}

Status BlockStore::ReadPart(BlockNum n, uint32_t offset, std::span<uint8_t> buf) {
  if (static_cast<uint64_t>(offset) + buf.size() > block_size()) {
    return Status::Errorf(EINVAL, "block " S3DISK_BLOCK_FMT ": part %u+%zu past block end", n,
                          offset, buf.size());
  }
  std::vector<uint8_t> block(block_size());
  S3DISK_RETURN_IF_ERROR(ReadBlock(n, block));
  memcpy(buf.data(), block.data() + offset, buf.size());
  return Status::Ok();
}

Status BlockStore::WritePart(BlockNum n, uint32_t offset, std::span<const uint8_t> data) {
  if (static_cast<uint64_t>(offset) + data.size() > block_size()) {
    return Status::Errorf(EINVAL, "block " S3DISK_BLOCK_FMT ": part %u+%zu past block end", n,
                          offset, data.size());
  }
  std::vector<uint8_t> block(block_size());
  S3DISK_RETURN_IF_ERROR(ReadBlock(n, block));
  memcpy(block.data() + offset, data.data(), data.size());
  return WriteBlock(n, block);
}

std::vector<Status> BlockStore::ReadBlocks(std::span<const BlockNum> ns,
                                           std::span<const std::span<uint8_t>> bufs) {
  std::vector<Status> out;
  out.reserve(ns.size());
  for (size_t i = 0; i < ns.size(); i++) out.push_back(ReadBlock(ns[i], bufs[i]));
  return out;
}

void ReadSomeBlocks(BlockStore& store, std::span<const BlockNum> ns,
                    std::span<const std::span<uint8_t>> bufs, const std::vector<size_t>& which,
                    std::vector<Status>& out) {
  if (which.empty()) return;
  std::vector<BlockNum> some_ns;
  std::vector<std::span<uint8_t>> some_bufs;
  for (size_t i : which) {
    some_ns.push_back(ns[i]);
    some_bufs.push_back(bufs[i]);
  }
  std::vector<Status> got = store.ReadBlocks(some_ns, some_bufs);
  for (size_t k = 0; k < which.size(); k++) out[which[k]] = std::move(got[k]);
}

Status BlockStore::Trim(BlockNum first, uint64_t count) {
  for (uint64_t i = 0; i < count; i++) {
    S3DISK_RETURN_IF_ERROR(WriteBlock(static_cast<BlockNum>(first + i), {}));
  }
  return Status::Ok();
}

bool IsAllZero(std::span<const uint8_t> data) {
  const uint8_t* p = data.data();
  size_t n = data.size();
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    if (*p++ != 0) return false;
    n--;
  }
  for (; n >= 64; p += 64, n -= 64) {
    uint64_t w[8];
    memcpy(w, p, 64);
    if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0) return false;
  }
  while (n-- > 0) {
    if (*p++ != 0) return false;
  }
  return true;
}

}  // namespace s3disk
