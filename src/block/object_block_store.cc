// ObjectBlockStore keeps no block state: the bucket is the state. A block is either an
// object (non-zero data, possibly encoded; or block 0 of zeros) or absent (all zeros). Only
// counters live here.
//
// Invariants
//   | what                          | holds because                                        |
//   |-------------------------------|------------------------------------------------------|
//   | a zero block has no object    | WriteBlock of empty/all-zero data DELETEs, Trim too   |
//   |   (but block 0)               |   (block 0: PutZeroBlock0 instead)                    |
//   | block 0 exists once started   | Start() PUTs it when absent; nothing here deletes it  |
//   |   read-write                  |   (only --erase does)                                 |
//   | a read never returns bad data | the store checked the body against its ETag (the     |
//   |                               |   ObjectStore contract), then codec Decode (HMAC,     |
//   |                               |   stream, size) into a scratch buffer; else EBADMSG   |
//   | a zero block is never encoded | the zero test runs before Encode (block 0: encoded,   |
//   |   (but block 0)               |   so its HMAC checks the password like any block's)   |
//   | block 0 carries the geometry  | every PUT of block 0 (Put) adds GeometryMetadata      |
//   | read-only sends no mutation   | WriteBlock/WritePart/Trim refuse with EROFS first     |
//   | survey reports only our keys  | ParseBlockKey is strict and n < num_blocks is checked |
#include "block/object_block_store.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "base/crypto.h"
#include "base/log.h"
#include "base/stats.h"
#include "base/text.h"
#include "block/block_key.h"
#include "block/bucket_meta.h"

namespace s3disk {
namespace {

constexpr uint64_t kMaxBlocks = uint64_t{1} << 32;

}  // namespace

ObjectBlockStore::ObjectBlockStore(std::shared_ptr<ObjectStore> store, ObjectBlockOptions options)
    : store_(std::move(store)),
      options_(std::move(options)),
      num_blocks_(options_.block_size == 0 ? 0 : options_.size_bytes / options_.block_size),
      codec_(options_.codec ? options_.codec : Codec::Plain()) {}

Result<std::unique_ptr<ObjectBlockStore>> ObjectBlockStore::Create(
    std::shared_ptr<ObjectStore> store, ObjectBlockOptions options) {
  if (!store) return Status(EINVAL, "object_block_store: no object store");
  if (options.block_size == 0) return Status(EINVAL, "object_block_store: block size is 0");
  uint64_t blocks = options.size_bytes / options.block_size;
  if (blocks == 0 || blocks > kMaxBlocks) {
    return Status::Errorf(EINVAL,
                          "object_block_store: %llu bytes of %u-byte blocks is %llu blocks; "
                          "need 1 to 2^32",
                          static_cast<unsigned long long>(options.size_bytes), options.block_size,
                          static_cast<unsigned long long>(blocks));
  }
  return std::make_unique<ObjectBlockStore>(std::move(store), std::move(options));
}

std::string ObjectBlockStore::Key(BlockNum n) const {
  return BlockKey(options_.prefix, options_.hash_prefix, n);
}

Status ObjectBlockStore::ReadOnlyError(const char* op, BlockNum n) const {
  return Status::Errorf(EROFS, "object_block_store: %s block " S3DISK_BLOCK_FMT ": read-only", op,
                        n);
}

Status ObjectBlockStore::DecodeBody(BlockNum n, std::span<const uint8_t> body, const Metadata& meta,
                                    std::span<uint8_t> buf) {
  auto enc = meta.find(kContentEncodingHeader);
  if (enc == meta.end() || enc->second.empty()) {
    // Plain: the codec checks the size (and refuses it when encrypting) before copying (a
    // body received in place is already there).
    return codec_->Decode(n, body, meta, buf);
  }
  // Encoded: decompression may fill part of its output before failing; hand up nothing then.
  // A body received in place is buf itself: decode it from a copy.
  std::vector<uint8_t> received;
  if (body.data() == buf.data()) {
    received.assign(body.begin(), body.end());
    body = received;
  }
  std::vector<uint8_t> scratch(buf.size());
  S3DISK_RETURN_IF_ERROR(codec_->Decode(n, body, meta, scratch));
  memcpy(buf.data(), scratch.data(), buf.size());
  return Status::Ok();
}

namespace {

// The cipher an object's Content-Encoding names ("AES-128-CBC" of "deflate,
// encrypt-AES-128-CBC"), or "" when the object is not encrypted.
std::string EncryptedWith(const Metadata& meta) {
  auto it = meta.find(kContentEncodingHeader);
  if (it == meta.end()) return "";
  constexpr std::string_view kEncrypt = "encrypt-";
  std::string_view rest = it->second;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view name = rest.substr(0, comma);
    name = TrimSpace(name);
    if (name.size() > kEncrypt.size() && StartsWithIgnoreCase(name, kEncrypt)) {
      return std::string(name.substr(kEncrypt.size()));
    }
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return "";
}

}  // namespace

Status ObjectBlockStore::CheckKey(const std::string& bucket) {
  const std::string key = Key(0);
  if (!codec_->encrypting()) {
    // The headers are enough: a HEAD, no body.
    Result<ObjectInfo> info = store_->Head(key);
    if (!info.ok()) {
      if (info.status().code() == ENOENT) return Status::Ok();
      return info.status().WithContext("object_block_store: check encoding: head " + key);
    }
    const std::string cipher = EncryptedWith(info->meta);
    if (!cipher.empty()) {
      return Status::Errorf(EINVAL,
                            "bucket %s holds encrypted blocks (%s); mount it with --encrypt=%s "
                            "--passwordFile=FILE",
                            bucket.c_str(), cipher.c_str(), ToLower(cipher).c_str());
    }
    // Compressed blocks need no flag; an encoding s3disk cannot read at all refuses the mount.
    Status st = codec_->Authenticate(0, {}, info->meta);
    if (st.ok()) return st;
    return Status::Errorf(EINVAL, "bucket %s: %s", bucket.c_str(), st.message().c_str());
  }
  Result<Object> obj = store_->Get(key);
  if (!obj.ok()) {
    if (obj.status().code() == ENOENT) return Status::Ok();
    return obj.status().WithContext("object_block_store: check key: read " + key);
  }
  if (EncryptedWith(obj->info.meta).empty()) {
    return Status::Errorf(EINVAL,
                          "bucket %s holds blocks that are not encrypted (%s); mount it without "
                          "--encrypt and --password/--passwordFile",
                          bucket.c_str(), key.c_str());
  }
  Status st = codec_->Authenticate(0, obj->body(), obj->info.meta);
  if (st.ok()) return st;
  return Status::Errorf(EINVAL,
                        "wrong password? block 0 (%s) of bucket %s does not verify with this "
                        "password, cipher and --keyLength (%s)",
                        key.c_str(), bucket.c_str(), st.message().c_str());
}

Status ObjectBlockStore::Start() {
  if (options_.read_only) return Status::Ok();
  const std::string key = Key(0);
  Result<ObjectInfo> info = store_->Head(key);
  if (info.ok()) return Status::Ok();
  if (info.status().code() != ENOENT) {
    return info.status().WithContext("object_block_store: start: head " + key);
  }
  LOG_INFO("object_block_store: no block 0 yet; storing it as zeros to record the geometry%s",
           codec_->encrypting() ? " and the password check" : "");
  // Create only: a block 0 that the HEAD missed (a store that served a stale answer) stays.
  Status st = PutZeroBlock0(/*if_absent=*/true);
  if (st.code() == EOPNOTSUPP) st = PutZeroBlock0();  // a server that refuses the condition
  if (st.code() != EEXIST) return st;
  // The start-up checks (geometry, password) missed that block 0 too: check it now.
  Result<Geometry> g = ReadGeometry(*store_, key);
  if (!g.ok()) return g.status();
  if (g->block_size != 0 &&
      (g->block_size != block_size() || g->size_bytes != options_.size_bytes)) {
    return Status::Errorf(EINVAL,
                          "block 0 (%s) appeared after the start-up checks, with blockSize=%u "
                          "size=%llu, not this mount's %u and %llu: mount again",
                          key.c_str(), g->block_size,
                          static_cast<unsigned long long>(g->size_bytes), block_size(),
                          static_cast<unsigned long long>(options_.size_bytes));
  }
  return CheckKey("of this mount");
}

Status ObjectBlockStore::ReadBlock(BlockNum n, std::span<uint8_t> buf) {
  const BlockNum ns[1] = {n};
  const std::span<uint8_t> bufs[1] = {buf};  // a plain block lands in buf: no copy
  return ReadBlocks(ns, bufs)[0];
}

std::vector<Status> ObjectBlockStore::ReadBlocks(std::span<const BlockNum> ns,
                                                 std::span<const std::span<uint8_t>> bufs) {
  std::vector<Status> out(ns.size());
  std::vector<size_t> valid;
  std::vector<std::string> keys;
  std::vector<std::span<uint8_t>> into;
  for (size_t i = 0; i < ns.size(); i++) {
    out[i] = CheckBlock(ns[i], bufs[i].size(), false);
    if (!out[i].ok()) continue;
    valid.push_back(i);
    keys.push_back(Key(ns[i]));
    into.push_back(bufs[i]);
  }
  if (keys.empty()) return out;
  // The store has checked each body against its ETag (the ObjectStore contract).
  std::vector<Result<Object>> objs = store_->GetMany(keys, into);
  for (size_t k = 0; k < objs.size(); k++) {
    const size_t i = valid[k];
    out[i] = FinishRead(ns[i], keys[k], objs[k], bufs[i]);
  }
  return out;
}

Status ObjectBlockStore::FinishRead(BlockNum n, const std::string& key, const Result<Object>& obj,
                                    std::span<uint8_t> buf) {
  if (!obj.ok()) {
    if (obj.status().code() == ENOENT) {
      blocks_read_absent_++;
      memset(buf.data(), 0, buf.size());
      return Status::Ok();
    }
    if (obj.status().code() == EBADMSG) bad_blocks_++;  // refused by the store as damaged
    return obj.status().WithContext("object_block_store: read block " + key);
  }
  const std::span<const uint8_t> body = obj->body();
  bytes_read_ += body.size();
  Status st = DecodeBody(n, body, obj->info.meta, buf);
  if (!st.ok()) {
    bad_blocks_++;
    return st.WithContext("object_block_store: read block " + key);
  }
  blocks_read_++;
  return Status::Ok();
}

Status ObjectBlockStore::WriteBlock(BlockNum n, std::span<const uint8_t> data,
                                    const WriteHints& hints) {
  S3DISK_RETURN_IF_ERROR(CheckBlock(n, data.size(), true));
  if (options_.read_only) return ReadOnlyError("write", n);
  if (data.empty() || IsAllZero(data)) {
    if (n == 0) return PutZeroBlock0();
    const std::string key = Key(n);
    S3DISK_RETURN_IF_ERROR(store_->Delete(key).WithContext("object_block_store: delete " + key));
    blocks_deleted_++;
    return Status::Ok();
  }
  return Put(n, data, hints.md5);
}

Status ObjectBlockStore::PutZeroBlock0(bool if_absent) {
  const std::vector<uint8_t> zeros(block_size());
  return Put(0, zeros, nullptr, if_absent);
}

Status ObjectBlockStore::Put(BlockNum n, std::span<const uint8_t> data, const Md5Digest* md5,
                             bool if_absent) {
  const std::string key = Key(n);
  // A plain codec stores the block as it is: no copy of it to encode.
  Metadata meta;
  std::span<const uint8_t> body = data;
  std::vector<uint8_t> encoded_body;
  if (!codec_->content_encoding().empty()) {
    Result<EncodedBlock> encoded = codec_->Encode(n, data);
    if (!encoded.ok()) {
      return encoded.status().WithContext("object_block_store: write block " + key);
    }
    meta = std::move(encoded->meta);
    encoded_body = std::move(encoded->body);
    body = encoded_body;
    md5 = nullptr;  // of the block, not of the body
  }
  meta["content-type"] = kBlockContentType;
  if (n == 0) meta.merge(GeometryMetadata(Geometry{block_size(), options_.size_bytes}));
  Result<std::string> etag =
      store_->Put(key, body, meta, PutOptions{.md5 = md5, .if_absent = if_absent});
  if (!etag.ok() && etag.status().code() == EEXIST) return etag.status();
  if (!etag.ok()) return etag.status().WithContext("object_block_store: write block " + key);
  blocks_written_++;
  if (md5 != nullptr) blocks_written_hashed_above_++;
  bytes_written_ += body.size();
  return Status::Ok();
}

Status ObjectBlockStore::WritePart(BlockNum n, uint32_t offset, std::span<const uint8_t> data) {
  if (options_.read_only) return ReadOnlyError("write", n);
  return BlockStore::WritePart(n, offset, data);
}

Status ObjectBlockStore::Trim(BlockNum first, uint64_t count) {
  if (count == 0) return Status::Ok();
  if (first >= num_blocks_ || count > num_blocks_ - first) {
    return Status::Errorf(
        EINVAL, "object_block_store: trim " S3DISK_BLOCK_FMT "+%llu is past the end (%llu blocks)",
        first, static_cast<unsigned long long>(count),
        static_cast<unsigned long long>(num_blocks_));
  }
  if (options_.read_only) return ReadOnlyError("trim", first);
  if (first == 0) {
    // Block 0 keeps its object (the geometry, the password check): zeros, not a delete.
    S3DISK_RETURN_IF_ERROR(PutZeroBlock0());
    first = 1;
    count--;
  }
  std::vector<std::string> keys;
  keys.reserve(static_cast<size_t>(std::min<uint64_t>(count, kDeleteBatchKeys)));
  for (uint64_t i = 0; i < count;) {
    keys.clear();
    for (; i < count && keys.size() < kDeleteBatchKeys; i++) {
      keys.push_back(Key(static_cast<BlockNum>(first + i)));
    }
    Status st = store_->Delete(keys);
    if (!st.ok()) {
      return st.WithContext("object_block_store: trim " + keys.front() + ".." + keys.back());
    }
    blocks_deleted_ += keys.size();
  }
  return Status::Ok();
}

Status ObjectBlockStore::SurveyNonZero(const std::function<void(BlockNum)>& found) {
  // Backends may call the listing callback from several threads; callers of SurveyNonZero
  // are promised one call at a time.
  std::mutex mu;
  uint64_t ignored = 0;
  // Plain keys are in block order: cut them at even block numbers. Hashed keys are spread by
  // their hash, which the store's own cuts already split evenly.
  std::vector<std::string> cuts;
  if (!options_.hash_prefix) {
    const uint64_t step = std::max(num_blocks_ / kSurveyMaxParts, kSurveyPartBlocks);
    for (uint64_t b = step; b < num_blocks_; b += step)
      cuts.push_back(Key(static_cast<BlockNum>(b)));
  }
  const ListOptions list{.cuts = std::move(cuts)};
  Status st = store_->List(options_.prefix, list, [&](const std::string& key, uint64_t) {
    std::optional<BlockNum> n = ParseBlockKey(options_.prefix, options_.hash_prefix, key);
    std::lock_guard lock(mu);
    if (!n || *n >= num_blocks_) {
      ignored++;
      return;
    }
    found(*n);
  });
  if (ignored > 0) {
    LOG_DEBUG("object_block_store: survey ignored %llu keys that are not blocks of this disk",
              static_cast<unsigned long long>(ignored));
  }
  return st.WithContext("object_block_store: list " + options_.prefix);
}

void ObjectBlockStore::DumpStats(std::string* out) {
  AppendStat(out, "object_blocks_read", blocks_read_);
  AppendStat(out, "object_blocks_read_absent", blocks_read_absent_);
  AppendStat(out, "object_blocks_written", blocks_written_);
  AppendStat(out, "object_blocks_written_hashed_above", blocks_written_hashed_above_);
  AppendStat(out, "object_blocks_deleted", blocks_deleted_);
  AppendStat(out, "object_bytes_read", bytes_read_);
  AppendStat(out, "object_bytes_written", bytes_written_);
  AppendStat(out, "object_bad_blocks", bad_blocks_);
  store_->DumpStats(out);
}

}  // namespace s3disk
