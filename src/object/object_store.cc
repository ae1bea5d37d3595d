#include "object/object_store.h"

namespace s3disk {

Result<Object> ObjectStore::Get(const std::string& key) {
  std::vector<Result<Object>> got = GetMany({key}, {});
  return std::move(got[0]);
}

Status ObjectStore::DeleteMany(const std::vector<std::string>& keys) {
  for (const auto& key : keys) {
    S3DISK_RETURN_IF_ERROR(Delete(key));
  }
  return Status::Ok();
}

void ObjectStore::DumpStats(std::string*) {}

}  // namespace s3disk
