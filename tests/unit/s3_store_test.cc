// S3Store on a scripted in-memory S3 (FakeS3, no network): headers sent, signing, retries,
// ETag checks, bulk delete and the parallel listing. Then, only when S3DISK_TEST_S3_URL is set
// (tests/t_s3_*.sh start s3rver for it), the ObjectStore contract against a real server.
#include "s3_store.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "crypto.h"
#include "object_store_contract.h"
#include "s3_sign.h"
#include "s3_xml.h"

namespace s3disk {
namespace {

using testing::Bytes;

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string Str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

struct Recorded {
  std::string method, url, path, body;
  std::map<std::string, std::string> query;
  HttpHeaders headers;
  std::string Header(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      std::string lower = n;
      for (auto& c : lower) c = static_cast<char>(tolower(c));
      if (lower == name) return v;
    }
    return "";
  }
};

HttpResult Respond(long status, std::string body = "", HttpHeaders headers = {}) {
  HttpResult r;
  r.response.status = status;
  r.response.body.assign(body.begin(), body.end());
  r.response.headers = std::move(headers);
  return r;
}

HttpResult ErrorResponse(long status, const std::string& code) {
  return Respond(status, "<Error><Code>" + code + "</Code><Message>fake</Message></Error>");
}

// An in-memory S3 bucket "bucket" reached at http://127.0.0.1:9000/ (path style).
class FakeS3 : public HttpTransport {
 public:
  struct Stored {
    std::string body;
    Metadata meta;
  };
  // Called first for every request; a result short-circuits the fake bucket.
  std::function<std::optional<HttpResult>(const Recorded&, int n)> hook;
  // Called with every normal answer; may change it (corrupt a body, ...).
  std::function<void(const Recorded&, HttpResult*)> after;
  size_t page_size = 1000;

  std::mutex mu;
  std::map<std::string, Stored> objects;
  std::vector<Recorded> log;

  HttpResult Perform(const HttpRequest& req) override {
    Recorded rec;
    rec.method = req.method;
    rec.url = req.url;
    rec.headers = req.headers;
    rec.body.assign(req.body.begin(), req.body.end());
    std::string rest = req.url.substr(req.url.find("://") + 3);
    rest = rest.substr(rest.find('/'));
    size_t q = rest.find('?');
    rec.path = PercentDecode(rest.substr(0, q));
    if (q != std::string::npos) {
      std::string query = rest.substr(q + 1);
      while (!query.empty()) {
        size_t amp = query.find('&');
        std::string part = query.substr(0, amp);
        size_t eq = part.find('=');
        rec.query[PercentDecode(part.substr(0, eq))] =
            eq == std::string::npos ? "" : PercentDecode(part.substr(eq + 1));
        query = amp == std::string::npos ? "" : query.substr(amp + 1);
      }
    }
    std::lock_guard lock(mu);
    log.push_back(rec);
    if (hook) {
      if (auto r = hook(rec, static_cast<int>(log.size()))) return *r;
    }
    HttpResult r = Handle(rec);
    if (after) after(rec, &r);
    return r;
  }

  size_t Count(const std::string& method) {
    std::lock_guard lock(mu);
    size_t n = 0;
    for (const auto& r : log) n += r.method == method;
    return n;
  }

 private:
  HttpResult Handle(const Recorded& rec) {
    std::string path = rec.path;
    if (!path.starts_with("/bucket")) return ErrorResponse(404, "NoSuchBucket");
    path = path.substr(7);
    if (path.empty()) {
      if (rec.method == "POST" && rec.query.count("delete")) return BulkDelete(rec);
      if (rec.method == "GET") return ListPage(rec);
      return ErrorResponse(405, "MethodNotAllowed");
    }
    std::string key = path.substr(1);
    if (rec.method == "PUT") {
      std::vector<uint8_t> md5;
      if (!Base64Decode(rec.Header("content-md5"), &md5) || md5.size() != 16 ||
          HexEncode(md5) != Md5Hex(AsBytes(rec.body))) {
        return ErrorResponse(400, "BadDigest");
      }
      Stored s;
      s.body = rec.body;
      for (const auto& [n, v] : rec.headers) {
        std::string lower = n;
        for (auto& c : lower) c = static_cast<char>(tolower(c));
        if (lower == "content-type" || lower == "content-encoding" ||
            lower.starts_with("x-amz-meta-")) {
          s.meta[lower] = v;
        }
      }
      if (!s.meta.count("content-type")) s.meta["content-type"] = "binary/octet-stream";
      objects[key] = s;
      return Respond(200, "", {{"etag", "\"" + Md5Hex(AsBytes(rec.body)) + "\""}});
    }
    if (rec.method == "DELETE") {
      objects.erase(key);
      return Respond(204);
    }
    auto it = objects.find(key);
    if (it == objects.end()) {
      return rec.method == "HEAD" ? Respond(404) : ErrorResponse(404, "NoSuchKey");
    }
    HttpHeaders headers = {{"etag", "\"" + Md5Hex(AsBytes(it->second.body)) + "\""},
                           {"content-length", std::to_string(it->second.body.size())}};
    for (const auto& [n, v] : it->second.meta) headers.emplace_back(n, v);
    return Respond(200, rec.method == "HEAD" ? "" : it->second.body, headers);
  }

  HttpResult ListPage(const Recorded& rec) {
    std::string prefix = rec.query.count("prefix") ? rec.query.at("prefix") : "";
    std::string after;
    if (rec.query.count("continuation-token")) {
      after = rec.query.at("continuation-token").substr(4);  // "tok:" + last key
    } else if (rec.query.count("start-after")) {
      after = rec.query.at("start-after");
    }
    size_t max = std::min<size_t>(page_size, std::stoul(rec.query.at("max-keys")));
    std::string xml = "<ListBucketResult><Name>bucket</Name>";
    size_t n = 0;
    std::string last;
    bool truncated = false;
    for (auto it = objects.upper_bound(after); it != objects.end(); ++it) {
      if (!it->first.starts_with(prefix)) continue;
      if (n == max) {
        truncated = true;
        break;
      }
      xml += "<Contents><Key>" + XmlEscape(it->first) + "</Key></Contents>";
      last = it->first;
      n++;
    }
    xml += std::string("<IsTruncated>") + (truncated ? "true" : "false") + "</IsTruncated>";
    if (truncated)
      xml += "<NextContinuationToken>tok:" + XmlEscape(last) + "</NextContinuationToken>";
    return Respond(200, xml + "</ListBucketResult>");
  }

  HttpResult BulkDelete(const Recorded& rec) {
    std::vector<uint8_t> md5;
    if (!Base64Decode(rec.Header("content-md5"), &md5) ||
        HexEncode(md5) != Md5Hex(AsBytes(rec.body))) {
      return ErrorResponse(400, "InvalidDigest");
    }
    size_t pos = 0;
    while ((pos = rec.body.find("<Key>", pos)) != std::string::npos) {
      size_t end = rec.body.find("</Key>", pos);
      std::string key = rec.body.substr(pos + 5, end - pos - 5);
      if (key.starts_with("<![CDATA[") && key.ends_with("]]>"))
        key = key.substr(9, key.size() - 12);
      objects.erase(key);
      pos = end;
    }
    return Respond(200, "<DeleteResult></DeleteResult>");
  }
};

struct Fixture {
  FakeClock clock;
  FakeS3* fake = nullptr;
  std::unique_ptr<S3Store> store;

  explicit Fixture(S3Options o = Options()) {
    auto t = std::make_unique<FakeS3>();
    fake = t.get();
    auto s = S3Store::CreateWithTransport(std::move(o), std::move(t), &clock);
    REQUIRE(s.ok());
    store = std::move(s.value());
  }
  static S3Options Options() {
    S3Options o;
    o.base_url = "http://127.0.0.1:9000/";
    o.bucket = "bucket";
    o.access_id = "AKIDTEST";
    o.access_key = "s3-store-test-secret";
    o.initial_retry_pause_ms = 100;
    o.max_retry_pause_ms = 2000;
    o.retry_seed = 1;
    return o;
  }
};

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
  CHECK(got->info.etag == Md5Hex(data));
  CHECK(got->info.md5_verified);  // checked here, so ObjectBlockStore need not hash it again
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
  REQUIRE(f.store->Put("k", Bytes("abc"), {{"x-amz-meta-a", "1"}}).ok());
  const Recorded& r = f.fake->log[0];
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
  // Bulk delete signs its ?delete subresource.
  REQUIRE(v2.store->DeleteMany({"a b"}).ok());
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
  o.bucket = "b";
  o.region = "eu-west-1";
  auto s = make(o);
  REQUIRE(s.ok());
  CHECK(s.value()->Describe() == "s3 https://s3.eu-west-1.amazonaws.com/b");
  o.base_url = "http://minio:9000/s3";
  CHECK(make(o).value()->Describe() == "s3 http://minio:9000/s3/b");
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

TEST_CASE("s3_store: a GET is md5_verified only when its ETag was checked") {
  // A multipart ETag is not an MD5: handed up as the server sent it, unverified.
  Fixture f;
  f.fake->hook = [](const Recorded&, int) -> std::optional<HttpResult> {
    return Respond(200, "body", {{"etag", "\"0123-2\""}});
  };
  auto multipart = f.store->Get("k");
  REQUIRE(multipart.ok());
  CHECK(multipart->info.etag == "0123-2");
  CHECK_FALSE(multipart->info.md5_verified);
  // --no-verify-etag (SSE-KMS): a wrong MD5-shaped ETag is passed up unverified.
  S3Options o = Fixture::Options();
  o.verify_etag = false;
  Fixture unchecked(o);
  const std::string wrong = Md5Hex(Bytes("other"));
  unchecked.fake->hook = [&wrong](const Recorded&, int) -> std::optional<HttpResult> {
    return Respond(200, "body", {{"etag", "\"" + wrong + "\""}});
  };
  auto got = unchecked.store->Get("k");
  REQUIRE(got.ok());
  CHECK(got->info.etag == wrong);
  CHECK_FALSE(got->info.md5_verified);
}

TEST_CASE("s3_store: DeleteMany posts batches of 1000 with Content-MD5") {
  Fixture f;
  std::vector<std::string> keys;
  for (int i = 0; i < 2500; i++) {
    char key[16];
    snprintf(key, sizeof key, "%08x", i);
    keys.push_back(key);
    f.fake->objects[key] = {"x", {}};
  }
  f.fake->objects["keep"] = {"x", {}};
  REQUIRE(f.store->DeleteMany(keys).ok());
  CHECK(f.fake->Count("POST") == 3);
  CHECK(f.fake->objects.size() == 1);
  CHECK(f.store->DeleteMany({}).ok());
  CHECK(f.fake->Count("POST") == 3);

  // A per-key error in the result fails, naming the key; NoSuchKey does not.
  f.fake->hook = [](const Recorded& r, int) -> std::optional<HttpResult> {
    if (r.method != "POST") return std::nullopt;
    return Respond(200,
                   "<DeleteResult><Error><Key>gone</Key><Code>NoSuchKey</Code></Error>"
                   "<Error><Key>locked</Key><Code>AccessDenied</Code><Message>no</Message>"
                   "</Error></DeleteResult>");
  };
  Status st = f.store->DeleteMany({"gone", "locked"});
  CHECK(st.code() == EIO);
  CHECK(st.message().find("locked") != std::string::npos);

  // A server without bulk delete: one DELETE per key.
  f.fake->hook = [](const Recorded& r, int) -> std::optional<HttpResult> {
    if (r.method == "POST") return ErrorResponse(501, "NotImplemented");
    return std::nullopt;
  };
  f.fake->objects["a"] = {"x", {}};
  size_t deletes = f.fake->Count("DELETE");
  CHECK(f.store->DeleteMany({"a", "b"}).ok());
  CHECK(f.fake->Count("DELETE") == deletes + 2);
  CHECK(f.fake->objects.count("a") == 0);
}

std::multiset<std::string> ListAll(S3Store& store, const std::string& prefix) {
  std::mutex mu;
  std::multiset<std::string> keys;
  REQUIRE(store
              .List(prefix,
                    [&](const std::string& k) {
                      std::lock_guard lock(mu);
                      keys.insert(k);
                    })
              .ok());
  return keys;
}

TEST_CASE("s3_store: List splits the key space yet returns every key once") {
  for (int threads : {1, 3, 8, 16}) {
    S3Options o = Fixture::Options();
    o.list_threads = threads;
    Fixture f(o);
    f.fake->page_size = 7;  // many pages
    std::multiset<std::string> want;
    for (uint32_t n = 0; n < 400; n++) {
      char key[32];
      snprintf(key, sizeof key, "vol1/%08x", n * 0x00a3d70bu);  // spread over all 16 digits
      want.insert(key);
    }
    // Keys beside the cuts (vol1/D0000000) too: before, on and just after them.
    for (const char* odd :
         {"vol1/", "vol1/s3backer-mounted", "vol1/A0000000", "vol1/-x", "vol1/:", "vol1/g",
          "vol1/~", "vol1/0", "vol1/f", "vol1/ff/x", "vol1/1", "vol1/1000000", "vol1/1000000/",
          "vol1/1000000/x", "vol1/10000000", "vol1/10000000-", "vol1/0fffffff~", "vol1/f0000000"}) {
      want.insert(odd);
    }
    for (const auto& k : want) f.fake->objects[k] = {"x", {}};
    for (const char* outside : {"vol0/00000001", "vol10000000", "vol2/00000001", "zzz"}) {
      f.fake->objects[outside] = {"x", {}};
    }
    INFO("list_threads " << threads);
    CHECK(ListAll(*f.store, "vol1/") == want);
    // Each part costs at most one page more than its keys fill.
    size_t pages = f.fake->Count("GET");
    CHECK(pages <= want.size() / 7 + 16 * 2);
    // The whole bucket too, and a prefix with no keys.
    CHECK(ListAll(*f.store, "").size() == want.size() + 4);
    CHECK(ListAll(*f.store, "nothing/").empty());
  }
}

TEST_CASE("s3_store: ListSpread lists the parts between the caller's cuts") {
  for (int threads : {1, 2, 8}) {
    S3Options o = Fixture::Options();
    o.list_threads = threads;
    Fixture f(o);
    f.fake->page_size = 10;
    // Plain block keys: all under the first hex digit 0, so only the caller's cuts split them.
    std::multiset<std::string> want{"vol/", "vol/s3backer-mounted", "vol/00000063-"};
    std::vector<std::string> cuts;
    for (uint32_t n = 0; n < 1000; n++) {
      char key[32];
      snprintf(key, sizeof key, "vol/%08x", n);
      want.insert(key);
      if (n > 0 && n % 100 == 0) cuts.push_back(key);
    }
    for (const auto& k : want) f.fake->objects[k] = {"x", {}};
    std::mutex mu;
    std::multiset<std::string> got;
    REQUIRE(f.store
                ->ListSpread("vol/", cuts,
                             [&](const std::string& k) {
                               std::lock_guard lock(mu);
                               got.insert(k);
                             })
                .ok());
    INFO("list_threads " << threads);
    CHECK(got == want);
    // Parts: one with one thread; else one per thread at first (bounds 0..10 in equal
    // shares), each starting just before its first cut, and more as idle threads split them.
    std::set<std::string> starts;
    for (const auto& r : f.fake->log) {
      if (r.query.count("start-after")) starts.insert(r.query.at("start-after"));
    }
    if (threads == 1) CHECK(starts.empty());
    if (threads == 2) CHECK(starts.count("vol/000001f3") == 1);  // before cut 5, 0x1f4 = 500
    if (threads == 8) CHECK(starts.count("vol/00000063") == 1);  // before cut 1, 0x64 = 100
    CHECK(starts.size() >= std::min<size_t>(threads, 10) - 1);
    for (const auto& start : starts) {
      INFO(start);
      CHECK(start.size() == 12);  // a block key with its last digit one less
    }
    CHECK(f.fake->Count("GET") <= want.size() / 10 + 2 * (starts.size() + 1));
    // Keys bunched between two cuts of many still come out once each.
    std::vector<std::string> wide;
    for (uint32_t n = 0x10000; n < 0x1000000; n += 0x10000) {
      char key[32];
      snprintf(key, sizeof key, "vol/%08x", n);
      wide.push_back(key);
    }
    got.clear();
    REQUIRE(f.store
                ->ListSpread("vol/", wide,
                             [&](const std::string& k) {
                               std::lock_guard lock(mu);
                               got.insert(k);
                             })
                .ok());
    CHECK(got == want);
    // No cuts: List's own split.
    got.clear();
    REQUIRE(f.store->ListSpread("vol/", {}, [&](const std::string& k) { got.insert(k); }).ok());
    CHECK(got == want);
  }
}

TEST_CASE("s3_store: List retries a page whose XML was cut short") {
  Fixture f;
  for (const char* k : {"00000001", "00000002", "zz"}) f.fake->objects[k] = {"x", {}};
  int cut = 1;
  f.fake->after = [&cut](const Recorded& r, HttpResult* res) {
    if (r.method == "GET" && r.query.count("list-type") && cut-- > 0) {
      res->response.body.resize(res->response.body.size() / 2);
    }
  };
  CHECK(ListAll(*f.store, "") == std::multiset<std::string>{"00000001", "00000002", "zz"});
}

// --- Against a real server (s3rver), only when the integration scripts ask. ---

const char* Env(const char* name, const char* dflt) {
  const char* v = getenv(name);
  return v != nullptr && *v != '\0' ? v : dflt;
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
  Result<Object> Get(const std::string& key) override {
    std::lock_guard lock(For(key));
    return inner_->Get(key);
  }
  Result<ObjectInfo> Head(const std::string& key) override {
    std::lock_guard lock(For(key));
    return inner_->Head(key);
  }
  Result<std::string> Put(const std::string& key, std::span<const uint8_t> data,
                          const Metadata& meta) override {
    std::lock_guard lock(For(key));
    return inner_->Put(key, data, meta);
  }
  Status Delete(const std::string& key) override {
    std::lock_guard lock(For(key));
    return inner_->Delete(key);
  }
  Status DeleteMany(const std::vector<std::string>& keys) override {
    return inner_->DeleteMany(keys);
  }
  Status List(const std::string& prefix,
              const std::function<void(const std::string& key)>& found) override {
    return inner_->List(prefix, found);
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

TEST_CASE("s3_store: the ObjectStore contract on a real S3 server", "[s3]") {
  const char* url = getenv("S3DISK_TEST_S3_URL");
  if (url == nullptr || *url == '\0') {
    WARN("SKIPPED: S3DISK_TEST_S3_URL is not set (tests/t_s3_contract.sh sets it)");
    return;
  }
  testing::CheckObjectStoreContract([&]() -> std::unique_ptr<ObjectStore> {
    auto made = S3Store::Create(RealServerOptions(url));
    REQUIRE(made.ok());
    std::unique_ptr<S3Store> store = std::move(made.value());
    // Empty the bucket: the contract wants a fresh store for every section.
    std::vector<std::string> keys;
    std::mutex mu;
    REQUIRE(store
                ->List("",
                       [&](const std::string& k) {
                         std::lock_guard lock(mu);
                         keys.push_back(k);
                       })
                .ok());
    REQUIRE(store->DeleteMany(keys).ok());
    return std::make_unique<PerKeySerialized>(std::move(store));
  });
}

TEST_CASE("s3_store: a wrong secret key on a real server fails fast with EACCES", "[s3]") {
  const char* url = getenv("S3DISK_TEST_S3_URL");
  if (url == nullptr || *url == '\0' || std::string(Env("S3DISK_TEST_S3_AUTH", "")) != "aws2") {
    WARN(
        "SKIPPED: needs S3DISK_TEST_S3_URL and S3DISK_TEST_S3_AUTH=aws2 (s3rver checks only "
        "V2 signatures)");
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
  const char* url = getenv("S3DISK_TEST_S3_FORBIDDEN_URL");
  if (url == nullptr || *url == '\0') {
    WARN("SKIPPED: S3DISK_TEST_S3_FORBIDDEN_URL is not set (tests/t_s3_faults.sh sets it)");
    return;
  }
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
