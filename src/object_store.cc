#include "object_store.h"

namespace s3disk {

Status ObjectStore::DeleteMany(const std::vector<std::string>& keys) {
  for (const auto& key : keys) {
    S3DISK_RETURN_IF_ERROR(Delete(key));
  }
  return Status::Ok();
}

void ObjectStore::DumpStats(std::string*) {}

}  // namespace s3disk
