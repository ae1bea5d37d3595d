// PowerCutIo: a FileIo over memory that keeps apart what was synced and what was only
// written, so a test can cut the power: Crash() returns the file as a disk could hold it
// afterwards (everything synced, a random subset of the later writes, one of them torn).
// FailWrites/FailSyncs make the next calls fail with an errno. Thread-safe.
#pragma once

#include <algorithm>
#include <cstring>
#include <mutex>
#include <random>
#include <vector>

#include "base/file_io.h"

namespace s3disk {

class PowerCutIo : public FileIo {
 public:
  explicit PowerCutIo(std::vector<uint8_t> durable = {}) : durable_(std::move(durable)) {}

  Result<size_t> ReadAt(std::span<uint8_t> buf, uint64_t offset) override {
    std::lock_guard lock(mu_);
    std::vector<uint8_t> view = ViewLocked();
    if (offset >= view.size()) return size_t{0};
    size_t n = std::min<size_t>(buf.size(), view.size() - offset);
    memcpy(buf.data(), view.data() + offset, n);
    return n;
  }
  Status WriteAt(std::span<const uint8_t> data, uint64_t offset) override {
    std::lock_guard lock(mu_);
    if (fail_writes_ > 0) {
      fail_writes_--;
      return Status(write_errno_, "pwrite");
    }
    pending_.push_back({offset, std::vector<uint8_t>(data.begin(), data.end())});
    writes_++;
    return Status::Ok();
  }
  Status Sync() override {
    std::lock_guard lock(mu_);
    if (fail_syncs_ > 0) {
      fail_syncs_--;
      // As Linux may: the unsynced pages are dropped, and the error is reported once.
      pending_.clear();
      return Status(sync_errno_, "fdatasync");
    }
    durable_ = ViewLocked();
    pending_.clear();
    syncs_++;
    return Status::Ok();
  }
  Status Reserve(uint64_t) override { return Status::Ok(); }
  Result<uint64_t> Size() override {
    std::lock_guard lock(mu_);
    return static_cast<uint64_t>(ViewLocked().size());
  }

  // The file after a power cut now: the synced bytes, then each later write kept or not at
  // random, in order, and one of the kept ones torn (only a random prefix of it written).
  std::vector<uint8_t> Crash(std::mt19937_64& rng) const {
    std::lock_guard lock(mu_);
    std::vector<uint8_t> out = durable_;
    std::vector<size_t> kept;
    for (size_t i = 0; i < pending_.size(); i++) {
      if (rng() % 2 == 0) kept.push_back(i);
    }
    const size_t torn = kept.empty() ? SIZE_MAX : kept[rng() % kept.size()];
    for (size_t i : kept) {
      const Write& w = pending_[i];
      size_t len = w.data.size();
      if (i == torn) len = rng() % (len + 1);
      Apply(out, w.offset, std::span<const uint8_t>(w.data.data(), len));
    }
    return out;
  }
  // Everything written, synced or not (a process killed, the machine still up).
  std::vector<uint8_t> Image() const {
    std::lock_guard lock(mu_);
    return ViewLocked();
  }
  void FailWrites(int calls, int code) {
    std::lock_guard lock(mu_);
    fail_writes_ = calls;
    write_errno_ = code;
  }
  void FailSyncs(int calls, int code) {
    std::lock_guard lock(mu_);
    fail_syncs_ = calls;
    sync_errno_ = code;
  }
  uint64_t syncs() const {
    std::lock_guard lock(mu_);
    return syncs_;
  }
  uint64_t writes() const {
    std::lock_guard lock(mu_);
    return writes_;
  }

 private:
  struct Write {
    uint64_t offset;
    std::vector<uint8_t> data;
  };
  static void Apply(std::vector<uint8_t>& image, uint64_t offset, std::span<const uint8_t> d) {
    if (image.size() < offset + d.size()) image.resize(offset + d.size());
    std::copy(d.begin(), d.end(), image.begin() + static_cast<ptrdiff_t>(offset));
  }
  std::vector<uint8_t> ViewLocked() const {
    std::vector<uint8_t> view = durable_;
    for (const Write& w : pending_) Apply(view, w.offset, w.data);
    return view;
  }

  mutable std::mutex mu_;
  std::vector<uint8_t> durable_;
  std::vector<Write> pending_;
  int fail_writes_ = 0, fail_syncs_ = 0;
  int write_errno_ = EIO, sync_errno_ = EIO;
  uint64_t syncs_ = 0, writes_ = 0;
};

}  // namespace s3disk
