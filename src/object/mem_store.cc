// MemStore: a map from key to an immutable Object.
//
// States of a key: absent (no map entry) | present (entry -> immutable Object).
// Invariants (under mu_):
//   | what                         | rule                                                  |
//   |------------------------------|-------------------------------------------------------|
//   | objects_[k]                  | never null; the Object it points to is never modified |
//   | objects_[k]->info.etag       | == Md5Hex(objects_[k]->data)                           |
//   | objects_[k]->info.size       | == objects_[k]->data.size()                            |
//   | callbacks (List's found)     | run without mu_ held (they may call back into us)      |
// A Put builds the new Object outside the lock and swaps the pointer in, so a reader sees the
// old or the new version whole (data and metadata together), never a mix.
#include "object/mem_store.h"

#include <vector>

#include "base/crypto.h"
#include "base/stats.h"

namespace s3disk {

MemStore::MemStore() = default;

std::vector<Result<Object>> MemStore::GetMany(const std::vector<std::string>& keys,
                                              std::span<const std::span<uint8_t>>) {
  std::vector<Result<Object>> out;
  out.reserve(keys.size());
  for (const auto& key : keys) out.push_back(GetOne(key));
  return out;
}

Result<Object> MemStore::GetOne(const std::string& key) {
  std::shared_ptr<const Object> obj;
  {
    MutexLock lock(mu_);
    stats_.gets++;
    auto it = objects_.find(key);
    if (it == objects_.end()) {
      return Status(ENOENT, "mem_store: get " + key + ": no such object");
    }
    obj = it->second;
    stats_.bytes_read += obj->data.size();
  }
  return Object(*obj);
}

Result<ObjectInfo> MemStore::Head(const std::string& key) {
  MutexLock lock(mu_);
  stats_.heads++;
  auto it = objects_.find(key);
  if (it == objects_.end()) {
    return Status(ENOENT, "mem_store: head " + key + ": no such object");
  }
  return it->second->info;
}

Result<std::string> MemStore::Put(const std::string& key, std::span<const uint8_t> data,
                                  const Metadata& meta, const PutOptions& options) {
  // As a server checks Content-MD5: a wrong digest from the caller is refused, never stored
  // as the ETag that later reads would be checked against.
  const Md5Digest md5 = Md5(data);
  if (options.md5 != nullptr && *options.md5 != md5) {
    return Status(EBADMSG, "mem_store: put " + key + ": the given MD5 " + HexEncode(*options.md5) +
                               " is not the body's " + HexEncode(md5));
  }
  auto obj = std::make_shared<Object>();
  obj->data.assign(data.begin(), data.end());
  obj->info.etag = HexEncode(md5);
  obj->info.size = data.size();
  obj->info.meta = meta;
  std::string etag = obj->info.etag;
  MutexLock lock(mu_);
  if (options.if_absent && objects_.count(key) != 0) {
    return Status(EEXIST, "mem_store: put " + key + ": the object exists (create only)");
  }
  stats_.puts++;
  stats_.bytes_written += data.size();
  objects_[key] = std::move(obj);
  return etag;
}

Status MemStore::Delete(const std::vector<std::string>& keys) {
  MutexLock lock(mu_);
  for (const auto& key : keys) {
    stats_.deletes++;
    objects_.erase(key);
  }
  return Status::Ok();
}

Status MemStore::List(const std::string& prefix, const ListOptions&, const ListFound& found) {
  std::vector<std::pair<std::string, uint64_t>> listed;
  {
    MutexLock lock(mu_);
    stats_.lists++;
    for (auto it = objects_.lower_bound(prefix);
         it != objects_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      listed.emplace_back(it->first, it->second->data.size());
    }
  }
  for (const auto& [key, size] : listed) found(key, size);
  return Status::Ok();
}

void MemStore::DumpStats(std::string* out) {
  MutexLock lock(mu_);
  AppendStat(out, "mem_store_gets", stats_.gets);
  AppendStat(out, "mem_store_heads", stats_.heads);
  AppendStat(out, "mem_store_puts", stats_.puts);
  AppendStat(out, "mem_store_deletes", stats_.deletes);
  AppendStat(out, "mem_store_lists", stats_.lists);
  AppendStat(out, "mem_store_bytes_read", stats_.bytes_read);
  AppendStat(out, "mem_store_bytes_written", stats_.bytes_written);
  AppendStat(out, "mem_store_objects", objects_.size());
}

size_t MemStore::object_count() const {
  MutexLock lock(mu_);
  return objects_.size();
}

}  // namespace s3disk
