// S3Store on a scripted in-memory S3 (FakeS3, no network): headers sent, signing, retries,
// ETag checks and bulk delete. The listing is in s3_store_list_test.cc, the tests against a
// real server in s3_store_real_test.cc.
#include "s3/s3_store.h"

#include <catch2/catch.hpp>

#include "s3/fake_s3.h"
#include "s3/flood_server.h"

namespace s3disk {
namespace {

TEST_CASE("s3_store: put sends Content-MD5 and the PUT headers; get returns data and meta") {
  S3Options o = Fixture::Options();
  o.sse = "aws:kms";
  o.sse_key_id = "key-123";
  o.storage_class = "STANDARD_IA";
  Fixture f(o);
  const auto data = Bytes("block forty-two");
  const Metadata meta = {{"content-type", "application/x-s3backer-block"},
                         {"x-amz-meta-s3backer-blocksize", "4096"}};
  auto put = f.store->Put("vol1/0000002a", data, meta);
  REQUIRE(put.ok());
  CHECK(*put == Md5Hex(data));
  REQUIRE(f.fake->log.size() == 1);
  const Recorded& r = f.fake->log[0];
  CHECK(r.method == "PUT");
  CHECK(r.url == "http://127.0.0.1:9000/bucket/vol1/0000002a");
  CHECK(r.Header("host") == "127.0.0.1:9000");
  CHECK(r.Header("content-md5") == Base64Encode(Md5(data)));
  CHECK(r.Header("content-type") == "application/x-s3backer-block");
  CHECK(r.Header("x-amz-meta-s3backer-blocksize") == "4096");
  CHECK(r.Header("x-amz-acl") == "private");
  CHECK(r.Header("x-amz-server-side-encryption") == "aws:kms");
  CHECK(r.Header("x-amz-server-side-encryption-aws-kms-key-id") == "key-123");
  CHECK(r.Header("x-amz-storage-class") == "STANDARD_IA");
  // The body is signed through its Content-MD5, not hashed a second time.
  CHECK(r.Header("x-amz-content-sha256") == "UNSIGNED-PAYLOAD");
  CHECK(r.Header("x-amz-date") == AmzDate(f.clock.WallSeconds()));
  CHECK(r.Header("authorization")
            .starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/" +
                         AmzDate(f.clock.WallSeconds()).substr(0, 8) +
                         "/us-east-1/s3/aws4_request,SignedHeaders=content-md5;content-type;host;"
                         "x-amz-acl;x-amz-content-sha256;x-amz-date;x-amz-meta-s3backer-blocksize;"
                         "x-amz-server-side-encryption;x-amz-server-side-encryption-aws-kms-key-id;"
                         "x-amz-storage-class,Signature="));

  auto got = f.store->Get("vol1/0000002a");
  REQUIRE(got.ok());
  CHECK(got->data == data);
  // Reported only once checked here, so ObjectBlockStore need not hash the body again.
  CHECK(got->info.etag == Md5Hex(data));
  CHECK(got->info.size == data.size());
  CHECK(got->info.meta == meta);
  auto head = f.store->Head("vol1/0000002a");
  REQUIRE(head.ok());
  CHECK(head->size == data.size());
  CHECK(head->etag == Md5Hex(data));
  CHECK(head->meta == meta);
  // No content type given: the server's default is not reported as metadata.
  REQUIRE(f.store->Put("plain", Bytes("x"), {}).ok());
  CHECK(f.store->Get("plain")->info.meta.empty());
}

TEST_CASE("s3_store: the signature covers what is sent (V4 recomputed from the request)") {
  Fixture f;
  // The store keeps the day's signing key: the second day's requests must not use the first's.
  for (int day = 0; day < 2; day++) {
    if (day == 1) f.clock.Advance(86'400'000);
    REQUIRE(f.store->Put("k", Bytes("abc"), {{"x-amz-meta-a", "1"}}).ok());
    const Recorded& r = f.fake->log.back();
    SigV4Request s;
    s.method = "PUT";
    s.canonical_uri = "/bucket/k";
    for (const auto& h : r.headers) {
      if (h.first != "Authorization") s.headers.push_back(h);
    }
    s.payload_sha256 = "UNSIGNED-PAYLOAD";  // covered by the signed Content-MD5
    CHECK(r.Header("content-md5") == Base64Encode(Md5(AsBytes("abc"))));
    s.amz_date = r.Header("x-amz-date");
    s.region = "us-east-1";
    CHECK(r.Header("authorization") == SignV4(s, "AKIDTEST", "s3-store-test-secret").authorization);
  }
  CHECK(f.fake->log[0].Header("x-amz-date").substr(0, 8) !=
        f.fake->log[1].Header("x-amz-date").substr(0, 8));
}

TEST_CASE("s3_store: V2 signing, session tokens, unsigned requests and vhost addressing") {
  S3Options o = Fixture::Options();
  o.auth_version = "aws2";
  o.session_token = "session-token-value";
  Fixture v2(o);
  REQUIRE(v2.store->Put("a b", Bytes("xyz"), {{"content-type", "text/plain"}}).ok());
  const Recorded& r = v2.fake->log[0];
  CHECK(r.url == "http://127.0.0.1:9000/bucket/a%20b");
  CHECK(r.Header("x-amz-security-token") == "session-token-value");
  CHECK(r.Header("x-amz-date") == HttpDate(v2.clock.WallSeconds()));
  std::string to_sign = StringToSignV2("PUT", Base64Encode(Md5(Bytes("xyz"))), "text/plain", "",
                                       r.headers, "/bucket/a%20b");
  CHECK(r.Header("authorization") ==
        "AWS AKIDTEST:" + SignatureV2("s3-store-test-secret", to_sign));
  // Bulk delete (of several keys) signs its ?delete subresource.
  REQUIRE(v2.store->Delete(std::vector<std::string>{"a b", "c"}).ok());
  const Recorded& d = v2.fake->log.back();
  CHECK(d.url == "http://127.0.0.1:9000/bucket?delete=");
  std::string del_sign = StringToSignV2("POST", d.Header("content-md5"), "application/xml", "",
                                        d.headers, "/bucket?delete");
  CHECK(d.Header("authorization") ==
        "AWS AKIDTEST:" + SignatureV2("s3-store-test-secret", del_sign));

  S3Options anon = Fixture::Options();
  anon.access_id.clear();
  anon.access_key.clear();
  Fixture u(anon);
  CHECK(u.store->Get("x").status().code() == ENOENT);
  CHECK(u.fake->log[0].Header("authorization").empty());
  CHECK(u.fake->log[0].Header("x-amz-date").empty());

  S3Options vh = Fixture::Options();
  vh.vhost = true;
  vh.base_url = "https://s3.example.com";
  Fixture v(vh);
  (void)v.store->Get("vol1/0000002a");
  CHECK(v.fake->log[0].url == "https://bucket.s3.example.com/vol1/0000002a");
  CHECK(v.fake->log[0].Header("host") == "bucket.s3.example.com");
  CHECK(v.store->Describe() == "s3 https://bucket.s3.example.com/");
}

TEST_CASE("s3_store: options are validated at Create, without I/O") {
  auto make = [](S3Options o) {
    return S3Store::CreateWithTransport(std::move(o), std::make_unique<FakeS3>(), &Clock::Real());
  };
  S3Options o = Fixture::Options();
  o.bucket = "";
  CHECK(make(o).status().code() == EINVAL);
  o = Fixture::Options();
  o.auth_version = "aws3";
  CHECK(make(o).status().code() == EINVAL);
  o = Fixture::Options();
  o.base_url = "ftp://x/";
  CHECK(make(o).status().code() == EINVAL);
  o = Fixture::Options();
  o.access_key.clear();
  CHECK(make(o).status().code() == EINVAL);
  o = S3Options();
  o.bucket = "bkt";
  o.region = "eu-west-1";
  auto s = make(o);
  REQUIRE(s.ok());
  CHECK(s.value()->Describe() == "s3 https://s3.eu-west-1.amazonaws.com/bkt");
  o.base_url = "http://minio:9000/s3";
  CHECK(make(o).value()->Describe() == "s3 http://minio:9000/s3/bkt");
  o.max_object_bytes = 0;
  CHECK(make(o).status().code() == EINVAL);
}

TEST_CASE("s3_store: a GET accepts max_object_bytes; a listing or a reply the default bound") {
  S3Options o = Fixture::Options();
  o.max_object_bytes = 70000;
  Fixture f(o);
  REQUIRE(f.store->Put("a", Bytes("x"), {}).ok());
  REQUIRE(f.store->Put("b", Bytes("y"), {}).ok());
  REQUIRE(f.store->Get("a").ok());
  std::vector<std::string> keys = {"a", "b"};
  for (auto& r : f.store->GetMany(keys, {})) REQUIRE(r.ok());
  REQUIRE(f.store->Head("a").ok());
  REQUIRE(f.store->List("", {}, [](const std::string&, uint64_t) {}).ok());
  f.store->SetMaxObjectBytes(5000);  // the block size is known (stack.cc)
  REQUIRE(f.store->Get("b").ok());
  std::vector<std::pair<std::string, uint64_t>> seen;
  for (const Recorded& r : f.fake->log) {
    seen.emplace_back(r.method + (r.path == "/bucket" ? " list" : ""), r.max_body_bytes);
  }
  const uint64_t other = kDefaultMaxBodyBytes;
  std::vector<std::pair<std::string, uint64_t>> want = {{"PUT", other}, {"PUT", other},
                                                        {"GET", 70000}, {"GET", 70000},
                                                        {"GET", 70000}, {"HEAD", other}};
  for (size_t i = want.size(); i + 1 < seen.size(); i++) want.emplace_back("GET list", other);
  want.emplace_back("GET", 5000);
  CHECK(seen == want);
}

// Against a local server that sends more than asked for (flood_server.h), through libcurl.
TEST_CASE("s3_store: an object or listing larger than its bound is an error, not memory") {
  using testing::FloodServer;
  for (auto mode : {FloodServer::Mode::kChunkedEndless, FloodServer::Mode::kHugeLength}) {
    FloodServer server(mode);
    S3Options o = Fixture::Options();
    o.base_url = server.BaseUrl();
    o.max_object_bytes = 1 << 20;
    o.initial_retry_pause_ms = 1;
    o.max_retry_pause_ms = 0;  // one attempt or two (a first pause of 0 ms)
    o.request_timeout_s = 20;
    auto made = S3Store::Create(o);
    REQUIRE(made.ok());
    S3Store& store = **made;
    Result<Object> got = store.Get("0000002a");
    REQUIRE_FALSE(got.ok());
    INFO(got.status().message());
    CHECK(got.status().code() == EIO);
    CHECK_THAT(got.status().message(),
               Catch::StartsWith("s3: get 0000002a: giving up after ") &&
                   Catch::Contains("the response was larger than the request accepts"));
    std::vector<std::string> keys = {"00000001", "00000002"};
    std::vector<uint8_t> a(1 << 20), b(1 << 20);
    const std::span<uint8_t> into[] = {a, b};
    for (const auto& r : store.GetMany(keys, into)) CHECK(r.status().code() == EIO);
    if (mode == FloodServer::Mode::kChunkedEndless) {
      // A listing page is bounded too (kDefaultMaxBodyBytes).
      Status listed = store.Probe();
      CHECK(listed.code() == EIO);
      CHECK_THAT(listed.message(), Catch::Contains("larger than the request accepts"));
    }
    server.Stop();
    // 64 MiB on a connection without a bound; the bound and socket buffers with it.
    CHECK(server.most_sent() < (32ull << 20));
  }
}

TEST_CASE("s3_store: 5xx and resets are retried with backoff, then EIO") {
  Fixture f;
  REQUIRE(f.store->Put("k", Bytes("v"), {}).ok());
  int64_t t0 = f.clock.NowMs();
  f.fake->hook = [](const Recorded&, int n) -> std::optional<HttpResult> {
    if (n == 2) return ErrorResponse(503, "SlowDown");
    if (n == 3) {
      HttpResult reset;
      reset.curl_code = 56;  // CURLE_RECV_ERROR
      return reset;
    }
    return std::nullopt;
  };
  auto got = f.store->Get("k");
  REQUIRE(got.ok());
  CHECK(Str(got->data) == "v");
  CHECK(f.fake->log.size() == 4);
  int64_t slept = f.clock.NowMs() - t0;
  CHECK(slept >= 50 + 100);  // [50,100] then [100,200]
  CHECK(slept <= 100 + 200);

  f.fake->hook = [](const Recorded&, int) -> std::optional<HttpResult> {
    return ErrorResponse(500, "InternalError");
  };
  t0 = f.clock.NowMs();
  size_t before = f.fake->log.size();
  auto fail = f.store->Get("k");
  CHECK(fail.status().code() == EIO);
  CHECK(fail.status().message().find("giving up") != std::string::npos);
  CHECK(fail.status().message().find("get k") != std::string::npos);
  CHECK(f.clock.NowMs() - t0 <= 2000);
  CHECK(f.fake->log.size() - before >= 4);
  std::string stats;
  f.store->DumpStats(&stats);
  CHECK(stats.find("s3_retries ") != std::string::npos);
  CHECK(stats.find("s3_failures 1\n") != std::string::npos);
}

TEST_CASE("s3_store: a 403 fails at once with a message about credentials") {
  Fixture f;
  f.fake->hook = [](const Recorded&, int) -> std::optional<HttpResult> {
    return ErrorResponse(403, "AccessDenied");
  };
  int64_t t0 = f.clock.NowMs();
  auto put = f.store->Put("k", Bytes("v"), {});
  CHECK(put.status().code() == EACCES);
  CHECK(put.status().message().find("credentials") != std::string::npos);
  CHECK(f.fake->log.size() == 1);
  CHECK(f.clock.NowMs() == t0);
}

TEST_CASE("s3_store: absent objects, deletes, and a missing bucket") {
  Fixture f;
  CHECK(f.store->Get("nope").status().code() == ENOENT);
  CHECK(f.store->Head("nope").status().code() == ENOENT);
  CHECK(f.store->Delete("nope").ok());
  f.fake->hook = [](const Recorded& r, int) -> std::optional<HttpResult> {
    if (r.method == "DELETE") return ErrorResponse(404, "NoSuchKey");
    return std::nullopt;
  };
  CHECK(f.store->Delete("nope").ok());  // a 404 on DELETE is success
  CHECK(f.store->Probe().ok());

  S3Options o = Fixture::Options();
  o.bucket = "other";
  Fixture g(o);
  Status probe = g.store->Probe();
  CHECK(probe.code() == ENXIO);
  CHECK(probe.message().find("bucket does not exist") != std::string::npos);
  CHECK(g.store->Get("k").status().code() == ENXIO);  // never reads as an absent block
}

TEST_CASE("s3_store: an ETag mismatch is retried, then EIO naming the key") {
  Fixture f;
  REQUIRE(f.store->Put("vol1/00000007", Bytes("good data"), {}).ok());
  int corrupt = 1;
  f.fake->after = [&corrupt](const Recorded& r, HttpResult* res) {
    if (r.method == "GET" && corrupt-- > 0) res->response.body[0] ^= 1;
  };
  auto once = f.store->Get("vol1/00000007");
  REQUIRE(once.ok());
  CHECK(Str(once->data) == "good data");
  CHECK(f.fake->Count("GET") == 2);

  corrupt = 1000;
  auto always = f.store->Get("vol1/00000007");
  CHECK(always.status().code() == EIO);
  CHECK(always.status().message().find("vol1/00000007") != std::string::npos);
  CHECK(always.status().message().find("ETag") != std::string::npos);
  std::string stats;
  f.store->DumpStats(&stats);
  CHECK(stats.find("s3_etag_mismatches 0\n") == std::string::npos);
}

TEST_CASE("s3_store: GetMany checks the bodies together; a failed one is fetched again alone") {
  Fixture f;
  for (int i = 0; i < 4; i++) {
    REQUIRE(f.store->Put("k" + std::to_string(i), Bytes("data " + std::to_string(i)), {}).ok());
  }
  int k1_gets = 0;
  f.fake->hook = [&k1_gets](const Recorded& r, int) -> std::optional<HttpResult> {
    if (r.method == "GET" && r.path == "/bucket/k1" && k1_gets++ == 0) {
      return ErrorResponse(503, "SlowDown");
    }
    return std::nullopt;
  };
  int corrupt = 1;
  f.fake->after = [&corrupt](const Recorded& r, HttpResult* res) {
    if (r.method == "GET" && r.path == "/bucket/k2" && corrupt-- > 0) res->response.body[0] ^= 1;
  };
  const size_t gets_before = f.fake->Count("GET");
  auto got = f.store->GetMany({"k0", "k1", "k2", "k3", "nope"}, {});
  REQUIRE(got.size() == 5);
  for (int i = 0; i < 4; i++) {
    INFO("k" << i);
    REQUIRE(got[i].ok());
    CHECK(Str(got[i]->data) == "data " + std::to_string(i));
    CHECK(got[i]->info.etag == Md5Hex(Bytes("data " + std::to_string(i))));  // checked
  }
  CHECK(got[4].status().code() == ENOENT);
  CHECK(f.fake->Count("GET") - gets_before == 5 + 2);  // k1 and k2 again
  std::string stats;
  f.store->DumpStats(&stats);
  CHECK(stats.find("s3_gets 5\n") != std::string::npos);
  CHECK(stats.find("s3_gets_batched 5\n") != std::string::npos);
  CHECK(stats.find("s3_retries 2\n") != std::string::npos);
  CHECK(stats.find("s3_etag_mismatches 1\n") != std::string::npos);
}

TEST_CASE("s3_store: a GET reports an ETag only when it checked the body against it") {
  // A multipart ETag is not an MD5: the body is handed up unchecked, with no ETag.
  Fixture f;
  f.fake->hook = [](const Recorded&, int) -> std::optional<HttpResult> {
    return Respond(200, "body", {{"etag", "\"0123-2\""}});
  };
  auto multipart = f.store->Get("k");
  REQUIRE(multipart.ok());
  CHECK(Str(multipart->data) == "body");
  CHECK(multipart->info.etag.empty());
  CHECK(f.store->Head("k")->etag == "0123-2");  // a HEAD reports it as the server sent it
  // ETag checks off (SSE-KMS): a wrong MD5-shaped ETag is not checked, nor reported.
  S3Options o = Fixture::Options();
  o.verify_etag = false;
  Fixture unchecked(o);
  const std::string wrong = Md5Hex(Bytes("other"));
  unchecked.fake->hook = [&wrong](const Recorded&, int) -> std::optional<HttpResult> {
    return Respond(200, "body", {{"etag", "\"" + wrong + "\""}});
  };
  auto got = unchecked.store->Get("k");
  REQUIRE(got.ok());
  CHECK(Str(got->data) == "body");
  CHECK(got->info.etag.empty());
}

TEST_CASE("s3_store: a Delete of several keys posts batches of 1000 with Content-MD5") {
  Fixture f;
  std::vector<std::string> keys;
  for (int i = 0; i < 2500; i++) {
    char key[16];
    snprintf(key, sizeof key, "%08x", i);
    keys.push_back(key);
    f.fake->objects[key] = {"x", {}};
  }
  f.fake->objects["keep"] = {"x", {}};
  REQUIRE(f.store->Delete(keys).ok());
  CHECK(f.fake->Count("POST") == 3);
  CHECK(f.fake->objects.size() == 1);
  CHECK(f.store->Delete(std::vector<std::string>{}).ok());
  CHECK(f.fake->Count("POST") == 3);
  // One key is a plain DELETE; 1001 keys are two POSTs, the second of one key.
  f.fake->objects["one"] = {"x", {}};
  REQUIRE(f.store->Delete(std::vector<std::string>{"one"}).ok());
  CHECK(f.fake->Count("DELETE") == 1);
  CHECK(f.fake->Count("POST") == 3);
  CHECK(f.fake->objects.count("one") == 0);
  keys.resize(1001);
  REQUIRE(f.store->Delete(keys).ok());
  CHECK(f.fake->Count("POST") == 5);
  CHECK(f.fake->Count("DELETE") == 1);

  // A per-key error in the result fails, naming the key; NoSuchKey does not.
  f.fake->hook = [](const Recorded& r, int) -> std::optional<HttpResult> {
    if (r.method != "POST") return std::nullopt;
    return Respond(200,
                   "<DeleteResult><Error><Key>gone</Key><Code>NoSuchKey</Code></Error>"
                   "<Error><Key>locked</Key><Code>AccessDenied</Code><Message>no</Message>"
                   "</Error></DeleteResult>");
  };
  Status st = f.store->Delete(std::vector<std::string>{"gone", "locked"});
  CHECK(st.code() == EIO);
  CHECK(st.message().find("locked") != std::string::npos);

  // A server without bulk delete: one DELETE per key.
  f.fake->hook = [](const Recorded& r, int) -> std::optional<HttpResult> {
    if (r.method == "POST") return ErrorResponse(501, "NotImplemented");
    return std::nullopt;
  };
  f.fake->objects["a"] = {"x", {}};
  size_t deletes = f.fake->Count("DELETE");
  CHECK(f.store->Delete(std::vector<std::string>{"a", "b"}).ok());
  CHECK(f.fake->Count("DELETE") == deletes + 2);
  CHECK(f.fake->objects.count("a") == 0);
}

}  // namespace
}  // namespace s3disk
