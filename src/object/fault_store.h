// FaultStore: wraps an ObjectStore and makes operations fail at a seeded rate, so model tests
// can check that the layers above survive a flaky bucket and replay a failing run by seed.
//
// Each operation (Head, Put, List, and each key of GetMany and Delete) draws one number from
// a seeded generator; below error_rate it fails with error_code. A failing read or List never
// reaches the store below. A failing Put/Delete normally does not reach it either;
// with fail_after it is applied below first and the error is reported afterwards (the request
// succeeded but its acknowledgement was lost), which is the hard case for the layers above.
// Bodies are never changed: GetMany returns what the store below returned, checked by it (the
// ObjectStore contract), so a FaultStore never hands up a damaged body.
#pragma once

#include <cerrno>
#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include "base/sync.h"
#include "object/object_store.h"

namespace s3disk {

struct FaultOptions {
  double error_rate = 0;  // probability each operation fails, 0..1
  uint64_t seed = 1;
  int error_code = EIO;
  bool fail_after = false;  // if true, a failing Put/Delete is applied below first and the
                            // error is reported afterwards (the "ack lost" case)
};

class FaultStore : public ObjectStore {
 public:
  FaultStore(std::unique_ptr<ObjectStore> below, FaultOptions options);

  // Draws once per key, in order; the keys that do not fail go below in one GetMany.
  std::vector<Result<Object>> GetMany(const std::vector<std::string>& keys,
                                      std::span<const std::span<uint8_t>> into) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Result<std::string> Put(const std::string& key, std::span<const uint8_t> data,
                          const Metadata& meta, const PutOptions& options = {}) override;
  // Draws once per key: keys that do not fail (and, with fail_after, those that do) go below
  // in one Delete; if any key failed, returns the error after that.
  using ObjectStore::Delete;
  Status Delete(const std::vector<std::string>& keys) override;
  Status List(const std::string& prefix, const ListOptions& options,
              const ListFound& found) override;
  // "fault_store_faults N", then the store below's lines.
  void DumpStats(std::string* out) override;
  // "faults(" + below's description + ")".
  std::string Describe() const override;

  // Thread-safe; takes effect for the next operation.
  void set_error_rate(double rate);
  uint64_t faults_injected() const;
  // The wrapped store (to inspect what really reached it).
  ObjectStore& below() { return *below_; }

 private:
  // Draws the next number; true (and counts a fault) if this operation must fail.
  bool ShouldFail();
  Status Fault(const char* op, const std::string& key) const;

  const std::unique_ptr<ObjectStore> below_;
  const int error_code_;
  const bool fail_after_;

  mutable Mutex mu_;
  double error_rate_ GUARDED_BY(mu_);
  std::mt19937_64 rng_ GUARDED_BY(mu_);
  uint64_t faults_ GUARDED_BY(mu_) = 0;
};

}  // namespace s3disk
