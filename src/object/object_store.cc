#include "object/object_store.h"

#include <cerrno>
#include <mutex>

namespace s3disk {

std::vector<Result<Object>> ObjectStore::GetMany(const std::vector<std::string>& keys,
                                                 std::span<const std::span<uint8_t>>) {
  std::vector<Result<Object>> out;
  out.reserve(keys.size());
  for (const auto& key : keys) out.push_back(Get(key));
  return out;
}

Status ObjectStore::DeleteMany(const std::vector<std::string>& keys) {
  for (const auto& key : keys) {
    S3DISK_RETURN_IF_ERROR(Delete(key));
  }
  return Status::Ok();
}

Status ObjectStore::ListSpread(const std::string& prefix, const std::vector<std::string>&,
                               const std::function<void(const std::string& key)>& found) {
  return List(prefix, found);
}

Status ObjectStore::ListSized(const std::string& prefix, const SizedFound& found) {
  std::vector<std::string> keys;
  std::mutex mu;  // List may call back from several threads
  S3DISK_RETURN_IF_ERROR(List(prefix, [&](const std::string& key) {
    std::lock_guard lock(mu);
    keys.push_back(key);
  }));
  for (const auto& key : keys) {
    Result<ObjectInfo> info = Head(key);
    if (!info.ok() && info.status().code() == ENOENT) continue;
    if (!info.ok()) return info.status();
    found(key, info->size);
  }
  return Status::Ok();
}

void ObjectStore::DumpStats(std::string*) {}

}  // namespace s3disk
