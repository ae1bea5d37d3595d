// Recording fakes for unit tests: in-memory stores that log every call as a short string, so
// a test can assert both behaviour and the exact traffic a layer sends below it, and that can
// be told to fail the next N calls.
//
// RecordingObjectStore (an ObjectStore) records:
//   "get KEY" (each key of GetMany), "head KEY", "put KEY",
//   "delete KEY" (a Delete of one key: a plain DELETE in S3Store),
//   "delete_many KEY1 KEY2 ..." (a Delete of any other number of keys, in the order given:
//   DeleteObjects requests in S3Store),
//   "list PREFIX[ sizes][ CUT CUT ...]" (as ListOptions asks).
// ETags are Md5Hex of the body, as the ObjectStore contract says; SetObject can plant any.
// GetMany keeps the contract as a backend must: a planted ETag that is an MD5 (quotes and
// case aside) is checked against the body (EBADMSG, naming both MD5s, if it is not the
// body's) and reported lowercase; any other ETag (multipart "...-2", "") cannot be checked and
// is reported as "". A body goes into the caller's buffer when it fits exactly, as S3Store's
// does (Object::buffer).
//
// RecordingBlockStore (a BlockStore, absent block = zeros) records, block numbers in
// unpadded lowercase hex:
//   "read 2a"            ReadBlock
//   "read 2a 100+20"     ReadPart at offset 100, 20 bytes (decimal)
//   "batch 2a 2b 2c"     ReadBlocks of those blocks, then a "read" of each as ReadBlock (only
//                        those can be made to fail)
//   "write 2a"           WriteBlock with a full buffer (even one of zero bytes)
//   "write 2a zero"      WriteBlock with empty data (the "all zeros" spelling)
//   "part 2a 100+20"     WritePart at offset 100, 20 bytes
//   "trim 2a+3"          Trim(0x2a, 3) (count in decimal)
//   "flush", "survey", "start", "shutdown"
// With set_native_parts(false), ReadPart/WritePart fall back to BlockStore's defaults (read,
// or read-modify-write, of the whole block), recorded as the "read"/"write" calls they make.
// A block written with data that is all zeros is dropped (like a deleted object), so
// SurveyNonZero reports exactly the blocks holding non-zero data.
//
// Both: FailNext(calls, errno) makes the next `calls` recorded calls fail with that errno
// (the call is still recorded; the failed call changes nothing). Thread-safe.
// A WriteBlock with WriteHints.md5 (a Put with PutOptions.md5) is recorded as the call without
// it, after checking that the digest given is the data's (EBADMSG, recording nothing, if not);
// md5_given() counts those calls.
#pragma once

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/crypto.h"
#include "base/status.h"
#include "block/block_store.h"
#include "object/object_store.h"

namespace s3disk {

// The shared part of both fakes: the call log and the failure injection.
class CallRecorder {
 public:
  void FailNext(int calls, int code) {
    std::lock_guard lock(rec_mu_);
    fail_calls_ = calls;
    fail_code_ = code;
  }
  std::vector<std::string> calls() const {
    std::lock_guard lock(rec_mu_);
    return calls_;
  }
  void ClearCalls() {
    std::lock_guard lock(rec_mu_);
    calls_.clear();
  }
  size_t md5_given() const {
    std::lock_guard lock(rec_mu_);
    return md5_given_;
  }
  // How many recorded calls start with prefix ("get ", "put 0000002a", "trim").
  size_t CountCalls(std::string_view prefix) const {
    std::lock_guard lock(rec_mu_);
    return static_cast<size_t>(std::count_if(calls_.begin(), calls_.end(), [&](const auto& c) {
      return std::string_view(c).substr(0, prefix.size()) == prefix;
    }));
  }

 protected:
  // Records the call; returns the injected failure if one is due, else ok.
  Status Record(std::string call) {
    std::lock_guard lock(rec_mu_);
    calls_.push_back(call);
    if (fail_calls_ > 0) {
      fail_calls_--;
      return Status(fail_code_, "injected failure: " + call);
    }
    return Status::Ok();
  }
  // Records the call; never fails.
  void Note(std::string call) {
    std::lock_guard lock(rec_mu_);
    calls_.push_back(std::move(call));
  }
  // For the calls given an MD5: EBADMSG unless md5 is data's; counts them.
  Status CheckGivenMd5(const std::string& what, std::span<const uint8_t> data,
                       const Md5Digest& md5) {
    if (md5 != Md5(data)) return Status(EBADMSG, "fake: " + what + ": the MD5 given is wrong");
    std::lock_guard lock(rec_mu_);
    md5_given_++;
    return Status::Ok();
  }

 private:
  mutable std::mutex rec_mu_;
  size_t md5_given_ = 0;
  std::vector<std::string> calls_;
  int fail_calls_ = 0;
  int fail_code_ = 0;
};

class RecordingObjectStore : public ObjectStore, public CallRecorder {
 public:
  std::vector<Result<Object>> GetMany(const std::vector<std::string>& keys,
                                      std::span<const std::span<uint8_t>> into) override {
    std::vector<Result<Object>> out;
    for (size_t i = 0; i < keys.size(); i++) {
      out.push_back(GetOne(keys[i], into.empty() ? std::span<uint8_t>() : into[i]));
    }
    return out;
  }
  Result<ObjectInfo> Head(const std::string& key) override {
    S3DISK_RETURN_IF_ERROR(Record("head " + key));
    std::lock_guard lock(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return Status(ENOENT, "recording_object_store: no " + key);
    return it->second.info;
  }
  Result<std::string> Put(const std::string& key, std::span<const uint8_t> data,
                          const Metadata& meta, const PutOptions& options = {}) override {
    if (options.md5 != nullptr) {
      S3DISK_RETURN_IF_ERROR(CheckGivenMd5("put " + key, data, *options.md5));
    }
    S3DISK_RETURN_IF_ERROR(Record("put " + key));
    Object obj;
    obj.data.assign(data.begin(), data.end());
    obj.info.etag = Md5Hex(data);
    obj.info.size = data.size();
    obj.info.meta = meta;
    std::string etag = obj.info.etag;
    std::lock_guard lock(mu_);
    if (options.if_absent && objects_.count(key) != 0) {
      return Status(EEXIST, "recording_object_store: " + key + " exists");
    }
    objects_[key] = std::move(obj);
    return etag;
  }
  using ObjectStore::Delete;
  Status Delete(const std::vector<std::string>& keys) override {
    std::string call = keys.size() == 1 ? "delete" : "delete_many";
    for (const auto& key : keys) call += " " + key;
    S3DISK_RETURN_IF_ERROR(Record(std::move(call)));
    std::lock_guard lock(mu_);
    for (const auto& key : keys) objects_.erase(key);
    return Status::Ok();
  }
  // As S3Store's: the sizes come with every listing.
  Status List(const std::string& prefix, const ListOptions& options,
              const ListFound& found) override {
    std::string call = "list " + prefix;
    if (options.sizes) call += " sizes";
    for (const auto& cut : options.cuts) call += " " + cut;
    S3DISK_RETURN_IF_ERROR(Record(std::move(call)));
    for (const auto& [key, size] : Listed(prefix)) found(key, size);
    return Status::Ok();
  }
  void DumpStats(std::string* out) override {
    *out += "recording_object_store_calls " + std::to_string(calls().size()) + "\n";
  }
  std::string Describe() const override { return "recording"; }

  // Direct access for tests; not recorded.
  void SetObject(const std::string& key, std::vector<uint8_t> data, Metadata meta = {},
                 std::optional<std::string> etag = std::nullopt) {
    Object obj;
    obj.info.etag = etag ? *etag : Md5Hex(data);
    obj.info.size = data.size();
    obj.info.meta = std::move(meta);
    obj.data = std::move(data);
    std::lock_guard lock(mu_);
    objects_[key] = std::move(obj);
  }
  std::optional<Object> Peek(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }
  bool Has(const std::string& key) const { return Peek(key).has_value(); }
  size_t object_count() const {
    std::lock_guard lock(mu_);
    return objects_.size();
  }

 private:
  // A planted ETag that is an MD5 (32 hex digits, maybe quoted), lowercase; else "".
  static std::string Md5Etag(std::string_view etag) {
    if (etag.size() == 34 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, 32);
    if (etag.size() != 32) return "";
    std::string out;
    for (char c : etag) {
      if (!isxdigit(static_cast<unsigned char>(c))) return "";
      out += static_cast<char>(tolower(static_cast<unsigned char>(c)));
    }
    return out;
  }
  Result<Object> GetOne(const std::string& key, std::span<uint8_t> into) {
    S3DISK_RETURN_IF_ERROR(Record("get " + key));
    Object obj;
    {
      std::lock_guard lock(mu_);
      auto it = objects_.find(key);
      if (it == objects_.end()) return Status(ENOENT, "recording_object_store: no " + key);
      obj = it->second;
    }
    obj.info.etag = Md5Etag(obj.info.etag);
    if (!obj.info.etag.empty() && obj.info.etag != Md5Hex(obj.data)) {
      return Status(EBADMSG, "recording_object_store: get " + key + ": ETag " + obj.info.etag +
                                 " is not the body's MD5 " + Md5Hex(obj.data));
    }
    if (!into.empty() && !obj.data.empty() && obj.data.size() == into.size()) {
      memcpy(into.data(), obj.data.data(), obj.data.size());
      obj.data.clear();
      obj.buffer = into;
    }
    return obj;
  }
  std::vector<std::pair<std::string, uint64_t>> Listed(const std::string& prefix) const {
    std::lock_guard lock(mu_);
    std::vector<std::pair<std::string, uint64_t>> out;
    for (auto it = objects_.lower_bound(prefix);
         it != objects_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      out.emplace_back(it->first, it->second.data.size());
    }
    return out;
  }
  mutable std::mutex mu_;
  std::map<std::string, Object> objects_;
};

// A RecordingObjectStore on a server that does not implement create-only PUTs: a Put with
// if_absent fails as an HTTP 501 does (EOPNOTSUPP); every other Put goes through.
class NoIfAbsentObjectStore : public RecordingObjectStore {
 public:
  Result<std::string> Put(const std::string& key, std::span<const uint8_t> data,
                          const Metadata& meta, const PutOptions& options = {}) override {
    if (options.if_absent) return Status(EOPNOTSUPP, "HTTP 501 NotImplemented");
    return RecordingObjectStore::Put(key, data, meta, options);
  }
};

class RecordingBlockStore : public BlockStore, public CallRecorder {
 public:
  RecordingBlockStore(uint32_t block_size, uint64_t num_blocks)
      : block_size_(block_size), num_blocks_(num_blocks) {}

  uint32_t block_size() const override { return block_size_; }
  uint64_t num_blocks() const override { return num_blocks_; }

  Status ReadBlock(BlockNum n, std::span<uint8_t> buf) override {
    S3DISK_RETURN_IF_ERROR(Record("read " + Hex(n)));
    S3DISK_RETURN_IF_ERROR(CheckBlock(n, buf.size(), false));
    std::function<void(BlockNum)> hook;
    {
      std::lock_guard lock(mu_);
      auto it = blocks_.find(n);
      if (it == blocks_.end()) {
        memset(buf.data(), 0, buf.size());
      } else {
        memcpy(buf.data(), it->second.data(), buf.size());
      }
      hook = read_hook_;
    }
    if (hook) hook(n);
    return Status::Ok();
  }
  std::vector<Status> ReadBlocks(std::span<const BlockNum> ns,
                                 std::span<const std::span<uint8_t>> bufs) override {
    std::string call = "batch";
    for (BlockNum n : ns) call += " " + Hex(n);
    Note(std::move(call));
    return BlockStore::ReadBlocks(ns, bufs);
  }
  Status WriteBlock(BlockNum n, std::span<const uint8_t> data,
                    const WriteHints& hints = {}) override {
    if (hints.md5 != nullptr) {
      S3DISK_RETURN_IF_ERROR(CheckGivenMd5("write " + Hex(n), data, *hints.md5));
    }
    S3DISK_RETURN_IF_ERROR(Record("write " + Hex(n) + (data.empty() ? " zero" : "")));
    S3DISK_RETURN_IF_ERROR(CheckBlock(n, data.size(), true));
    std::lock_guard lock(mu_);
    if (data.empty() || IsAllZero(data)) {
      blocks_.erase(n);
    } else {
      blocks_[n].assign(data.begin(), data.end());
    }
    return Status::Ok();
  }
  Status ReadPart(BlockNum n, uint32_t offset, std::span<uint8_t> buf) override {
    if (!native_parts_) return BlockStore::ReadPart(n, offset, buf);
    S3DISK_RETURN_IF_ERROR(Record("read " + Hex(n) + " " + Part(offset, buf.size())));
    S3DISK_RETURN_IF_ERROR(CheckPart(n, offset, buf.size()));
    std::lock_guard lock(mu_);
    auto it = blocks_.find(n);
    if (it == blocks_.end()) {
      memset(buf.data(), 0, buf.size());
    } else {
      memcpy(buf.data(), it->second.data() + offset, buf.size());
    }
    return Status::Ok();
  }
  Status WritePart(BlockNum n, uint32_t offset, std::span<const uint8_t> data) override {
    if (!native_parts_) return BlockStore::WritePart(n, offset, data);
    S3DISK_RETURN_IF_ERROR(Record("part " + Hex(n) + " " + Part(offset, data.size())));
    S3DISK_RETURN_IF_ERROR(CheckPart(n, offset, data.size()));
    std::lock_guard lock(mu_);
    std::vector<uint8_t>& block = blocks_[n];
    block.resize(block_size_);
    std::copy(data.begin(), data.end(), block.begin() + offset);
    if (IsAllZero(block)) blocks_.erase(n);
    return Status::Ok();
  }
  Status Trim(BlockNum first, uint64_t count) override {
    S3DISK_RETURN_IF_ERROR(Record("trim " + Hex(first) + "+" + std::to_string(count)));
    if (first + count > num_blocks_) return Status(EINVAL, "recording_block_store: trim past end");
    std::lock_guard lock(mu_);
    for (uint64_t i = 0; i < count; i++) blocks_.erase(static_cast<BlockNum>(first + i));
    return Status::Ok();
  }
  Status Flush() override { return Record("flush"); }
  Status SurveyNonZero(const std::function<void(BlockNum)>& found) override {
    S3DISK_RETURN_IF_ERROR(Record("survey"));
    std::vector<BlockNum> present;
    {
      std::lock_guard lock(mu_);
      for (const auto& [n, data] : blocks_) present.push_back(n);
    }
    for (BlockNum n : present) found(n);
    return Status::Ok();
  }
  Status Start() override { return Record("start"); }
  Status Shutdown() override { return Record("shutdown"); }
  void DumpStats(std::string* out) override {
    *out += "recording_block_store_calls " + std::to_string(calls().size()) + "\n";
  }

  // Test controls; not recorded.
  void set_native_parts(bool native) { native_parts_ = native; }
  // Called after every ReadBlock has copied its data, outside any lock (e.g. to yield and
  // widen a race window).
  void SetReadHook(std::function<void(BlockNum)> hook) {
    std::lock_guard lock(mu_);
    read_hook_ = std::move(hook);
  }
  void SetBlock(BlockNum n, std::vector<uint8_t> data) {
    data.resize(block_size_);
    std::lock_guard lock(mu_);
    if (IsAllZero(data)) {
      blocks_.erase(n);
    } else {
      blocks_[n] = std::move(data);
    }
  }
  // The block's bytes (zeros if absent).
  std::vector<uint8_t> Block(BlockNum n) const {
    std::lock_guard lock(mu_);
    auto it = blocks_.find(n);
    return it == blocks_.end() ? std::vector<uint8_t>(block_size_) : it->second;
  }
  bool HasData(BlockNum n) const {
    std::lock_guard lock(mu_);
    return blocks_.count(n) != 0;
  }

  static std::string Hex(BlockNum n) {
    char buf[16];
    snprintf(buf, sizeof buf, "%x", n);
    return buf;
  }

 private:
  static std::string Part(uint32_t offset, size_t length) {
    return std::to_string(offset) + "+" + std::to_string(length);
  }
  Status CheckPart(BlockNum n, uint32_t offset, size_t length) const {
    S3DISK_RETURN_IF_ERROR(CheckBlock(n, 0, true));
    if (uint64_t{offset} + length > block_size_) {
      return Status(EINVAL, "recording_block_store: part past block end");
    }
    return Status::Ok();
  }

  const uint32_t block_size_;
  const uint64_t num_blocks_;
  bool native_parts_ = true;
  mutable std::mutex mu_;
  std::map<BlockNum, std::vector<uint8_t>> blocks_;
  std::function<void(BlockNum)> read_hook_;
};

// A door a thread stops at until the test opens it.
class Gate {
 public:
  void Pass() {
    std::unique_lock lock(mu_);
    arrived_++;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void WaitArrived(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return arrived_ >= n; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  bool open_ = false;
};

}  // namespace s3disk
