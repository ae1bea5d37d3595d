// FaultStore: seeded fault injection in front of another ObjectStore.
//
// State: the generator position, the error rate and the fault count, all under mu_.
// Invariants:
//   | what                  | rule                                                          |
//   |-----------------------|---------------------------------------------------------------|
//   | draws                 | exactly one per operation (per key for Delete and GetMany),    |
//   |                       | in call order, so one seed and one sequence of calls give one  |
//   |                       | pattern                                                        |
//   | faults_               | == number of draws that failed                                 |
//   | mu_                   | never held while calling below_                                |
//   | a failing op, !after  | does not reach below_                                          |
//   | a failing Put/Delete, | reaches below_ first; its result is discarded and the injected |
//   |   fail_after          | error returned                                                 |
#include "object/fault_store.h"

#include <vector>

#include "base/stats.h"

namespace s3disk {

FaultStore::FaultStore(std::unique_ptr<ObjectStore> below, FaultOptions options)
    : below_(std::move(below)),
      error_code_(options.error_code),
      fail_after_(options.fail_after),
      error_rate_(options.error_rate),
      rng_(options.seed) {}

bool FaultStore::ShouldFail() {
  MutexLock lock(mu_);
  // 53 random bits -> [0, 1): the same on every platform, unlike std distributions.
  double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  if (u < error_rate_) {
    faults_++;
    return true;
  }
  return false;
}

Status FaultStore::Fault(const char* op, const std::string& key) const {
  return Status(error_code_, std::string("fault_store: ") + op + " " + key + ": injected fault");
}

std::vector<Result<Object>> FaultStore::GetMany(const std::vector<std::string>& keys,
                                                std::span<const std::span<uint8_t>> into) {
  std::vector<Result<Object>> out(keys.size(), Status(EIO, "unset"));
  std::vector<std::string> pass;
  std::vector<std::span<uint8_t>> pass_into;
  std::vector<size_t> where;
  for (size_t i = 0; i < keys.size(); i++) {
    if (ShouldFail()) {
      out[i] = Fault("get", keys[i]);
    } else {
      pass.push_back(keys[i]);
      if (!into.empty()) pass_into.push_back(into[i]);
      where.push_back(i);
    }
  }
  if (pass.empty()) return out;
  std::vector<Result<Object>> got = below_->GetMany(pass, pass_into);
  for (size_t k = 0; k < got.size(); k++) out[where[k]] = std::move(got[k]);
  return out;
}

Result<ObjectInfo> FaultStore::Head(const std::string& key) {
  if (ShouldFail()) return Fault("head", key);
  return below_->Head(key);
}

Result<std::string> FaultStore::Put(const std::string& key, std::span<const uint8_t> data,
                                    const Metadata& meta, const PutOptions& options) {
  if (!ShouldFail()) return below_->Put(key, data, meta, options);
  if (fail_after_) (void)below_->Put(key, data, meta, options);
  return Fault("put", key);
}

Status FaultStore::Delete(const std::vector<std::string>& keys) {
  std::vector<std::string> apply;
  const std::string* failed = nullptr;
  for (const auto& key : keys) {
    if (ShouldFail()) {
      if (failed == nullptr) failed = &key;
      if (!fail_after_) continue;
    }
    apply.push_back(key);
  }
  Status st = apply.empty() ? Status::Ok() : below_->Delete(apply);
  if (failed != nullptr) return Fault("delete", *failed);
  return st;
}

Status FaultStore::List(const std::string& prefix, const ListOptions& options,
                        const ListFound& found) {
  if (ShouldFail()) return Fault("list", prefix);
  return below_->List(prefix, options, found);
}

void FaultStore::DumpStats(std::string* out) {
  AppendStat(out, "fault_store_faults", faults_injected());
  below_->DumpStats(out);
}

std::string FaultStore::Describe() const { return "faults(" + below_->Describe() + ")"; }

void FaultStore::set_error_rate(double rate) {
  MutexLock lock(mu_);
  error_rate_ = rate;
}

uint64_t FaultStore::faults_injected() const {
  MutexLock lock(mu_);
  return faults_;
}

}  // namespace s3disk
