#include "object/object_store.h"

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

void ObjectStore::DumpStats(std::string*) {}

}  // namespace s3disk
