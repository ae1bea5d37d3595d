// Runs the ObjectStore contract against MemStore and DirStore.
#include "object_store_contract.h"

#include <catch2/catch.hpp>

#include "object/dir_store.h"
#include "object/mem_store.h"

namespace s3disk {
namespace {

using testing::Bytes;
using testing::CheckObjectStoreContract;
using testing::ScopedTempDir;

TEST_CASE("object_store_contract: MemStore") {
  CheckObjectStoreContract([] { return std::make_unique<MemStore>(); });
}

TEST_CASE("object_store_contract: DirStore") {
  ScopedTempDir tmp;  // fresh for every section run
  CheckObjectStoreContract([&]() -> std::unique_ptr<ObjectStore> {
    auto store = DirStore::Open(tmp.path(), /*read_only=*/false);
    REQUIRE(store.ok());
    return std::move(store).value();
  });
}

TEST_CASE("object_store_contract: MemStore counts objects and dumps stats") {
  MemStore store;
  CHECK(store.Describe() == "memory");
  CHECK(store.object_count() == 0);
  REQUIRE(store.Put("a", Bytes("abc"), {}).ok());
  REQUIRE(store.Put("b", Bytes("de"), {}).ok());
  REQUIRE(store.Put("a", Bytes("f"), {}).ok());
  CHECK(store.object_count() == 2);
  REQUIRE(store.Get("a").ok());
  CHECK(store.Delete("b").ok());
  CHECK(store.object_count() == 1);
  std::string stats;
  store.DumpStats(&stats);
  CHECK(stats ==
        "mem_store_gets 1\nmem_store_heads 0\nmem_store_puts 3\nmem_store_deletes 1\n"
        "mem_store_lists 0\nmem_store_bytes_read 1\nmem_store_bytes_written 6\n"
        "mem_store_objects 1\n");
}

TEST_CASE("object_store_contract: MemStore refuses a put whose given MD5 is not the body's") {
  // As a server checks Content-MD5: a wrong hint would otherwise become the ETag reads trust.
  MemStore store;
  const std::vector<uint8_t> body(100, 7);
  const Md5Digest wrong = Md5(std::vector<uint8_t>(100, 8));
  Result<std::string> put = store.Put("k", body, {}, {.md5 = &wrong});
  CHECK(put.status().code() == EBADMSG);
  CHECK(store.Head("k").status().code() == ENOENT);
  const Md5Digest right = Md5(body);
  CHECK(store.Put("k", body, {}, {.md5 = &right}).ok());
}

TEST_CASE("object_store_contract: MemStore List may call back into the store") {
  MemStore store;
  REQUIRE(store.Put("k1", Bytes("1"), {}).ok());
  REQUIRE(store.Put("k2", Bytes("2"), {}).ok());
  int seen = 0;
  // Deleting from inside the callback must not deadlock (found runs without the lock).
  CHECK(
      store.List("k", {}, [&](const std::string& key, uint64_t) { seen += store.Delete(key).ok(); })
          .ok());
  CHECK(seen == 2);
  CHECK(store.object_count() == 0);
}

}  // namespace
}  // namespace s3disk
