// MemStore: an ObjectStore kept in a map in memory. For unit tests and `mem:` buckets (the
// demo): nothing survives the process. Thread-safe; behaves like the other backends (same
// ETags, metadata kept exactly, absent = ENOENT, delete of an absent key is success).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/sync.h"
#include "object/object_store.h"

namespace s3disk {

class MemStore : public ObjectStore {
 public:
  MemStore();

  // Copies each body into data (a MemStore's bytes cannot change: nothing to check).
  std::vector<Result<Object>> GetMany(const std::vector<std::string>& keys,
                                      std::span<const std::span<uint8_t>> into) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Result<std::string> Put(const std::string& key, std::span<const uint8_t> data,
                          const Metadata& meta, const PutOptions& options = {}) override;
  using ObjectStore::Delete;
  Status Delete(const std::vector<std::string>& keys) override;
  // With sizes always; ignores the cuts.
  Status List(const std::string& prefix, const ListOptions& options,
              const ListFound& found) override;
  // "mem_store_gets N", "mem_store_heads N", "mem_store_puts N", "mem_store_deletes N",
  // "mem_store_lists N", "mem_store_bytes_read N", "mem_store_bytes_written N",
  // "mem_store_objects N".
  void DumpStats(std::string* out) override;
  std::string Describe() const override { return "memory"; }

  // Number of objects stored now (for tests and the demo).
  size_t object_count() const;

 private:
  // One key of GetMany: a copy of the stored object.
  Result<Object> GetOne(const std::string& key);

  struct Stats {
    uint64_t gets = 0;
    uint64_t heads = 0;
    uint64_t puts = 0;
    uint64_t deletes = 0;
    uint64_t lists = 0;
    uint64_t bytes_read = 0;
    uint64_t bytes_written = 0;
  };

  mutable Mutex mu_;
  // Objects are immutable once stored: a Put replaces the pointer, so a reader copies the
  // bytes of the version it found without holding mu_.
  std::map<std::string, std::shared_ptr<const Object>> objects_ GUARDED_BY(mu_);
  Stats stats_ GUARDED_BY(mu_);
};

}  // namespace s3disk
