#include "object/object_store.h"

namespace s3disk {

Result<Object> ObjectStore::Get(const std::string& key) {
  std::vector<Result<Object>> got = GetMany({key}, {});
  return std::move(got[0]);
}

Status ObjectStore::Delete(const std::string& key) { return Delete(std::vector<std::string>{key}); }

void ObjectStore::DumpStats(std::string*) {}

}  // namespace s3disk
