// S3Store against a real server, only when S3DISK_TEST_S3_URL is set (tests/t_s3_*.sh start
// s3rver for it): the ObjectStore contract, wrong credentials, and TLS verification.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <mutex>

#include "object_store_contract.h"
#include "s3/s3_store.h"

namespace s3disk {
namespace {

using testing::Bytes;

const char* Env(const char* name, const char* dflt) {
  const char* v = getenv(name);
  return v != nullptr && *v != '\0' ? v : dflt;
}

// The server's URL from the environment variable name, or nullptr after saying the test is
// skipped (the script named, which sets it, checks that it never is).
const char* ServerUrl(const char* name, const char* script) {
  const char* url = Env(name, nullptr);
  if (url == nullptr) WARN("SKIPPED: " << name << " is not set (" << script << " sets it)");
  return url;
}

// S3DISK_TEST_S3_URL=http://127.0.0.1:PORT/bucket -> options for that bucket.
S3Options RealServerOptions(const std::string& url) {
  S3Options o;
  size_t slash = url.find_last_of('/');
  o.base_url = url.substr(0, slash + 1);
  o.bucket = url.substr(slash + 1);
  o.auth_version = Env("S3DISK_TEST_S3_AUTH", "aws4");
  o.access_id = Env("S3DISK_TEST_S3_ACCESS_ID", "S3RVER");
  o.access_key = Env("S3DISK_TEST_S3_ACCESS_KEY", "S3RVER");
  o.list_page_keys = std::atoi(Env("S3DISK_TEST_S3_LIST_PAGE_KEYS", "1000"));
  o.initial_retry_pause_ms = 10;
  o.max_retry_pause_ms = 30000;
  o.request_timeout_s = 10;
  o.connect_timeout_s = 5;
  return o;
}

// s3rver keeps an object's body, MD5 and metadata in separate files written one after the
// other, so two concurrent PUTs of one key can leave the body of one with the ETag and
// metadata of the other, for good (S3 itself replaces objects atomically). Operations on the
// same key are serialized here so that the contract tests the client, not s3rver; different
// keys still run in parallel.
class PerKeySerialized : public ObjectStore {
 public:
  explicit PerKeySerialized(std::unique_ptr<ObjectStore> inner) : inner_(std::move(inner)) {}
  // A single key (a Get, a Delete) is serialized; several are not: the contract gets or
  // deletes several keys at once on one thread only. S3Store's own GetMany (side by side,
  // bodies in place) is what it tests.
  std::vector<Result<Object>> GetMany(const std::vector<std::string>& keys,
                                      std::span<const std::span<uint8_t>> into) override {
    if (keys.size() != 1) return inner_->GetMany(keys, into);
    std::lock_guard lock(For(keys[0]));
    return inner_->GetMany(keys, into);
  }
  Result<ObjectInfo> Head(const std::string& key) override {
    std::lock_guard lock(For(key));
    return inner_->Head(key);
  }
  Result<std::string> Put(const std::string& key, std::span<const uint8_t> data,
                          const Metadata& meta, const PutOptions& options = {}) override {
    std::lock_guard lock(For(key));
    return inner_->Put(key, data, meta, options);
  }
  Status Delete(const std::vector<std::string>& keys) override {
    if (keys.size() != 1) return inner_->Delete(keys);
    std::lock_guard lock(For(keys[0]));
    return inner_->Delete(keys);
  }
  Status List(const std::string& prefix, const ListOptions& options,
              const ListFound& found) override {
    return inner_->List(prefix, options, found);
  }
  std::string Describe() const override { return inner_->Describe(); }

 private:
  std::mutex& For(const std::string& key) {
    std::lock_guard lock(mu_);
    return locks_[key];
  }
  std::unique_ptr<ObjectStore> inner_;
  std::mutex mu_;
  std::map<std::string, std::mutex> locks_;
};

// Every key under a prefix (S3DISK_TEST_S3_KEY_PREFIX, say "a dir+x/"), so that the
// contract also checks the encoding of such keys in paths, signatures and listings.
class KeyPrefixed : public ObjectStore {
 public:
  KeyPrefixed(std::unique_ptr<ObjectStore> inner, std::string prefix)
      : inner_(std::move(inner)), prefix_(std::move(prefix)) {}
  std::vector<Result<Object>> GetMany(const std::vector<std::string>& keys,
                                      std::span<const std::span<uint8_t>> into) override {
    return inner_->GetMany(Under(keys), into);
  }
  Result<ObjectInfo> Head(const std::string& key) override { return inner_->Head(prefix_ + key); }
  Result<std::string> Put(const std::string& key, std::span<const uint8_t> data,
                          const Metadata& meta, const PutOptions& options = {}) override {
    return inner_->Put(prefix_ + key, data, meta, options);
  }
  Status Delete(const std::vector<std::string>& keys) override {
    return inner_->Delete(Under(keys));
  }
  Status List(const std::string& prefix, const ListOptions& options,
              const ListFound& found) override {
    ListOptions under = options;
    for (auto& cut : under.cuts) cut = prefix_ + cut;
    // found runs on the listing threads, where Catch2 may not assert: a stray key is counted.
    std::atomic<int> outside{0};
    Status st = inner_->List(prefix_ + prefix, under, [&](const std::string& key, uint64_t size) {
      if (key.compare(0, prefix_.size(), prefix_) != 0) {
        outside++;
        return;
      }
      found(key.substr(prefix_.size()), size);
    });
    CHECK(outside == 0);
    return st;
  }
  std::string Describe() const override { return inner_->Describe(); }

 private:
  std::vector<std::string> Under(const std::vector<std::string>& keys) const {
    std::vector<std::string> out;
    for (const auto& key : keys) out.push_back(prefix_ + key);
    return out;
  }
  std::unique_ptr<ObjectStore> inner_;
  std::string prefix_;
};

TEST_CASE("s3_store: the ObjectStore contract on a real S3 server", "[s3]") {
  const char* url = ServerUrl("S3DISK_TEST_S3_URL", "tests/t_s3_contract.sh");
  if (url == nullptr) return;
  testing::CheckObjectStoreContract(
      [&]() -> std::unique_ptr<ObjectStore> {
        auto made = S3Store::Create(RealServerOptions(url));
        REQUIRE(made.ok());
        std::unique_ptr<S3Store> store = std::move(made.value());
        // Empty the bucket: the contract wants a fresh store for every section.
        const std::string prefix = Env("S3DISK_TEST_S3_KEY_PREFIX", "");
        std::vector<std::string> keys;
        std::mutex mu;
        REQUIRE(store
                    ->List(prefix, {},
                           [&](const std::string& k, uint64_t) {
                             std::lock_guard lock(mu);
                             keys.push_back(k);
                           })
                    .ok());
        REQUIRE(store->Delete(keys).ok());
        return std::make_unique<PerKeySerialized>(
            std::make_unique<KeyPrefixed>(std::move(store), prefix));
      },
      /*if_absent_honoured=*/std::getenv("S3DISK_TEST_S3_HONOURS_IF_NONE_MATCH") != nullptr);
}

TEST_CASE("s3_store: GetMany on a real server: side by side, block bodies in their buffers",
          "[s3]") {
  const char* url = ServerUrl("S3DISK_TEST_S3_URL", "tests/t_s3_contract.sh");
  if (url == nullptr) return;
  auto made = S3Store::Create(RealServerOptions(url));
  REQUIRE(made.ok());
  S3Store& store = **made;
  std::vector<std::string> keys;
  std::vector<std::vector<uint8_t>> bodies;
  for (uint32_t i = 0; i < 6; i++) {
    keys.push_back("getmany/0000000" + std::to_string(i));
    bodies.push_back(testing::ContractBody(9, i));
    bodies.back().resize(65536);
    REQUIRE(store.Put(keys.back(), bodies.back(), {}).ok());
  }
  std::vector<std::vector<uint8_t>> bufs(keys.size(), std::vector<uint8_t>(65536));
  std::vector<std::span<uint8_t>> into(bufs.begin(), bufs.end());
  auto got = store.GetMany(keys, into);
  for (size_t i = 0; i < keys.size(); i++) {
    INFO(keys[i]);
    REQUIRE(got[i].ok());
    CHECK(got[i]->body().data() == bufs[i].data());
    CHECK(got[i]->data.empty());
    CHECK(got[i]->info.etag == Md5Hex(bodies[i]));  // checked: reported
    CHECK(bufs[i] == bodies[i]);
  }
  std::string stats;
  store.DumpStats(&stats);
  CHECK(stats.find("s3_gets_batched 6\n") != std::string::npos);
  CHECK(stats.find("http_batches 1\n") != std::string::npos);
  REQUIRE(store.Delete(keys).ok());
}

TEST_CASE("s3_store: a wrong secret key on a real server fails fast with EACCES", "[s3]") {
  const char* url = getenv("S3DISK_TEST_S3_URL");
  if (url == nullptr || *url == '\0' || *Env("S3DISK_TEST_S3_CHECKS_SIGNATURES", "") == '\0') {
    WARN(
        "SKIPPED: needs S3DISK_TEST_S3_URL and S3DISK_TEST_S3_CHECKS_SIGNATURES (s3rver checks "
        "only V2 signatures)");
    return;
  }
  S3Options o = RealServerOptions(url);
  o.access_key = "not-the-right-secret";
  auto store = S3Store::Create(o);
  REQUIRE(store.ok());
  auto got = (*store)->Get("00000001");
  CHECK(got.status().code() == EACCES);
  CHECK(got.status().message().find("SignatureDoesNotMatch") != std::string::npos);
}

TEST_CASE("s3_store: a server that always answers 403 fails fast with a clear message",
          "[s3-403]") {
  const char* url = ServerUrl("S3DISK_TEST_S3_FORBIDDEN_URL", "tests/t_s3_faults.sh");
  if (url == nullptr) return;
  auto store = S3Store::Create(RealServerOptions(url));
  REQUIRE(store.ok());
  auto t0 = std::chrono::steady_clock::now();
  auto got = (*store)->Get("00000001");
  CHECK(got.status().code() == EACCES);
  CHECK(got.status().message().find("credentials") != std::string::npos);
  CHECK((*store)->Put("00000001", Bytes("x"), {}).status().code() == EACCES);
  CHECK((*store)->Probe().code() == EACCES);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  CHECK(ms < 2000);
  std::string stats;
  (*store)->DumpStats(&stats);
  CHECK(stats.find("s3_retries 0\n") != std::string::npos);
}

TEST_CASE("s3_store: HTTPS is verified unless --insecure; --cacert trusts a server", "[s3-tls]") {
  const char* url = getenv("S3DISK_TEST_S3_TLS_URL");
  const char* cacert = getenv("S3DISK_TEST_S3_CACERT");
  if (url == nullptr || *url == '\0' || cacert == nullptr) {
    WARN(
        "SKIPPED: S3DISK_TEST_S3_TLS_URL and S3DISK_TEST_S3_CACERT are not set "
        "(tests/t_s3_tls.sh sets them)");
    return;
  }
  // A self-signed certificate fails verification at once, with the fix in the message.
  auto strict = S3Store::Create(RealServerOptions(url));
  REQUIRE(strict.ok());
  auto refused = (*strict)->Put("00000001", Bytes("tls"), {});
  CHECK(refused.status().code() == EIO);
  CHECK(refused.status().message().find("--cacert") != std::string::npos);
  std::string stats;
  (*strict)->DumpStats(&stats);
  CHECK(stats.find("s3_retries 0\n") != std::string::npos);

  S3Options trusted = RealServerOptions(url);
  trusted.cacert = cacert;
  auto with_ca = S3Store::Create(trusted);
  REQUIRE(with_ca.ok());
  REQUIRE((*with_ca)->Put("00000001", Bytes("tls"), {}).ok());
  auto got = (*with_ca)->Get("00000001");
  REQUIRE(got.ok());
  CHECK(got->data == Bytes("tls"));

  S3Options insecure = RealServerOptions(url);
  insecure.insecure = true;
  auto no_check = S3Store::Create(insecure);
  REQUIRE(no_check.ok());
  auto again = (*no_check)->Get("00000001");
  REQUIRE(again.ok());
  CHECK(again->data == Bytes("tls"));
  CHECK((*no_check)->Delete("00000001").ok());
}

}  // namespace
}  // namespace s3disk
