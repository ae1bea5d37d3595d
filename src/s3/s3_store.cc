// S3Store: ObjectStore over the S3 REST API.
//
// The store keeps no per-object state: every call is one or more HTTP requests, and only
// counters are shared between threads. States of one request (Execute):
//   signing   a fresh date and signature for each attempt (a retried request is re-signed)
//   in flight on one pooled connection of the transport (no lock held)
//   judged    ClassifyHttp + the call's validate(): ok / retry after a pause / fail
//
// Invariants:
//   | what                                               | why                                  |
//   |----------------------------------------------------|--------------------------------------|
//   | no mutex is held across a transport call            | requests run in parallel             |
//   | every PUT carries Content-MD5 of the body sent      | the server rejects damaged uploads   |
//   | a GET body is returned only if its MD5 = the ETag   | damaged downloads are retried        |
//   | a GET reports an ETag only once it checked the body | nothing above hashes it again        |
//   | pauses of one request sum to <= max_retry_pause_ms | bounded time before EIO              |
//   | a 404 of NoSuchBucket is never ENOENT              | a missing bucket must not read zeros |
//   | secrets are registered with the log at Create      | -d never prints a key                |
//   | a body over its request's bound is never kept      | a server sending without end cannot  |
//   |   (objects max_object_bytes_, else http.h's bound) | use up memory (cut off: retried)     |
#include "s3/s3_store.h"

#include <algorithm>
#include <array>
#include <random>
#include <thread>

#include "base/crypto.h"
#include "base/log.h"
#include "base/md5_many.h"
#include "base/stats.h"
#include "base/text.h"
#include "s3/list_parts.h"
#include "s3/s3_sign.h"
#include "s3/s3_xml.h"

namespace s3disk {
namespace {

constexpr int kMaxDeleteBatch = 1000;
constexpr uint64_t kListProgressEvery = 100000;

// "\"abc\"" or "W/\"abc\"" -> "abc", lowercase.
std::string NormalizeEtag(std::string_view etag) {
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return ToLower(etag);
}

// The metadata an object carries over S3: content type and encoding, and user metadata.
// A server's default content type (none was given at PUT) is not metadata.
Metadata ExtractMeta(const HttpResponse& r) {
  Metadata meta;
  for (const auto& [name, value] : r.headers) {
    if (name.starts_with("x-amz-meta-") || name == "content-encoding") {
      meta[name] = value;
    } else if (name == "content-type" && value != "binary/octet-stream" &&
               value != "application/octet-stream") {
      meta[name] = value;
    }
  }
  return meta;
}

}  // namespace

Result<std::unique_ptr<S3Store>> S3Store::Create(S3Options options) {
  HttpOptions http;
  http.connect_timeout_s = options.connect_timeout_s;
  http.request_timeout_s = options.request_timeout_s;
  http.insecure = options.insecure;
  http.cacert = options.cacert;
  http.max_idle_handles = options.max_connections;
  auto transport = CurlTransport::Create(std::move(http));
  if (!transport.ok()) return transport.status();
  return CreateWithTransport(std::move(options), std::move(transport.value()), &Clock::Real());
}

Result<std::unique_ptr<S3Store>> S3Store::CreateWithTransport(
    S3Options o, std::unique_ptr<HttpTransport> transport, Clock* clock) {
  LogRegisterSecret(o.access_key);
  LogRegisterSecret(o.session_token);
  S3DISK_RETURN_IF_ERROR(CheckBucketName(o.bucket).WithContext("s3"));
  if (o.auth_version != "aws4" && o.auth_version != "aws2") {
    return Status::Errorf(EINVAL, "s3: --authVersion must be aws4 or aws2, not \"%s\"",
                          o.auth_version.c_str());
  }
  if (o.access_id.empty() != o.access_key.empty()) {
    return Status::Errorf(EINVAL, "s3: an access ID needs an access key and vice versa");
  }
  if (o.region.empty()) return Status::Errorf(EINVAL, "s3: --region must not be empty");
  if (o.connect_timeout_s < 0 || o.request_timeout_s < 0 || o.max_retry_pause_ms < 0 ||
      o.initial_retry_pause_ms < 1 || o.list_threads < 1 || o.max_connections < 1 ||
      o.max_object_bytes < 1 || o.list_page_keys < 1 || o.list_page_keys > 1000) {
    return Status::Errorf(EINVAL,
                          "s3: timeouts and pauses must not be negative, and the first retry "
                          "pause, listing threads, connections and object size bound must be "
                          "at least 1 (and a listing page 1 to 1000 keys)");
  }
  if (o.base_url == S3Options().base_url && o.region != "us-east-1") {
    o.base_url = "https://s3." + o.region + ".amazonaws.com/";
  }
  std::string url = o.base_url;
  size_t sep = url.find("://");
  if (sep == std::string::npos) {
    return Status::Errorf(EINVAL, "s3: --baseURL \"%s\" is not a URL (want http[s]://host/)",
                          url.c_str());
  }
  std::string scheme = ToLower(url.substr(0, sep));
  if (scheme != "http" && scheme != "https") {
    return Status::Errorf(EINVAL, "s3: --baseURL must start with http:// or https://: \"%s\"",
                          url.c_str());
  }
  std::string rest = url.substr(sep + 3);
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (path.back() != '/') path += '/';
  if (authority.empty() || authority.find('@') != std::string::npos ||
      path.find_first_of("?#") != std::string::npos) {
    return Status::Errorf(EINVAL, "s3: --baseURL \"%s\": want http[s]://host[:port]/[path/]",
                          url.c_str());
  }
  std::unique_ptr<S3Store> store(new S3Store(std::move(o), std::move(transport), clock));
  store->scheme_ = scheme;
  store->authority_ = authority;
  store->base_path_ = path;
  store->seed_base_ =
      store->options_.retry_seed != 0 ? store->options_.retry_seed : std::random_device()();
  return store;
}

S3Store::S3Store(S3Options options, std::unique_ptr<HttpTransport> transport, Clock* clock)
    : options_(std::move(options)),
      transport_(std::move(transport)),
      clock_(clock),
      max_object_bytes_(options_.max_object_bytes) {}

std::string S3Store::Describe() const {
  if (options_.vhost)
    return "s3 " + scheme_ + "://" + options_.bucket + "." + authority_ + base_path_;
  return "s3 " + scheme_ + "://" + authority_ + base_path_ + options_.bucket;
}

S3Store::Url S3Store::BuildUrl(const Call& call) const {
  Url u;
  std::string key_path = UriEncode(call.key, true);
  if (options_.vhost) {
    u.host = options_.bucket + "." + authority_;
    u.path = base_path_ + (call.bucket_level ? "" : key_path);
  } else {
    u.host = authority_;
    u.path = base_path_ + options_.bucket + (call.bucket_level ? "" : "/" + key_path);
  }
  u.url = scheme_ + "://" + u.host + u.path;
  if (!call.query.empty()) u.url += "?" + CanonicalQueryV4(call.query);
  return u;
}

HttpRequest S3Store::Sign(const Call& call, const Url& url) const {
  HttpRequest req;
  req.method = call.method;
  req.url = url.url;
  req.body = call.body;
  req.body_into = call.body_into;
  req.max_body_bytes = call.max_body;
  req.headers = call.headers;
  req.headers.emplace_back("Host", url.host);
  if (options_.access_id.empty()) return req;  // unsigned

  int64_t now = clock_->WallSeconds();
  if (!options_.session_token.empty()) {
    req.headers.emplace_back("x-amz-security-token", options_.session_token);
  }
  if (options_.auth_version == "aws4") {
    SigV4Request sr;
    // A body sent with Content-MD5 (every PUT, and DeleteObjects) is already bound to the
    // signature by that signed header, and the server checks it; hashing it again with
    // SHA-256 cost about a tenth of the daemon's CPU in sequential writes.
    const bool has_md5 = std::any_of(req.headers.begin(), req.headers.end(), [](const auto& h) {
      return ToLower(h.first) == "content-md5";
    });
    sr.payload_sha256 = call.body.empty() ? kEmptySha256
                        : has_md5         ? kUnsignedPayload
                                          : Sha256Hex(call.body);
    sr.amz_date = AmzDate(now);
    req.headers.emplace_back("x-amz-content-sha256", sr.payload_sha256);
    req.headers.emplace_back("x-amz-date", sr.amz_date);
    sr.method = call.method;
    sr.canonical_uri = url.path;
    sr.query = call.query;
    sr.headers = req.headers;
    sr.region = options_.region;
    SigningKeyV4 key;
    {
      const std::string day = sr.amz_date.substr(0, 8);
      MutexLock lock(key_mu_);
      if (key_day_ != day) {
        key_ = DeriveSigningKeyV4(options_.access_key, day, sr.region, sr.service);
        key_day_ = day;
      }
      key = key_;
    }
    req.headers.emplace_back("Authorization",
                             SignV4WithKey(sr, options_.access_id, key).authorization);
    return req;
  }
  // V2: x-amz-date stands for the Date line, which is then empty.
  req.headers.emplace_back("x-amz-date", HttpDate(now));
  std::string md5, type;
  for (const auto& [name, value] : req.headers) {
    std::string lower = ToLower(name);
    if (lower == "content-md5") md5 = value;
    if (lower == "content-type") type = value;
  }
  std::string resource = "/" + options_.bucket;
  if (!call.bucket_level) {
    resource += "/" + UriEncode(call.key, true);
  } else if (options_.vhost) {
    resource += "/";
  }
  for (const auto& [name, value] : call.query) {
    if (name == "delete") resource += "?delete";
  }
  std::string to_sign = StringToSignV2(call.method, md5, type, "", req.headers, resource);
  req.headers.emplace_back("Authorization", "AWS " + options_.access_id + ":" +
                                                SignatureV2(options_.access_key, to_sign));
  return req;
}

Result<HttpResponse> S3Store::Execute(const Call& call) {
  Url url = BuildUrl(call);
  uint64_t seed = seed_base_ + 0x9e3779b97f4a7c15ull * ++seed_counter_;
  Backoff backoff(options_.initial_retry_pause_ms, options_.max_retry_pause_ms, seed);
  bytes_written_ += call.body.size();
  for (int attempt = 1;; attempt++) {
    HttpResult res = transport_->Perform(Sign(call, url));
    const HttpResponse& r = res.response;
    RetryDecision d = ClassifyHttp(
        res.curl_code, r.status, r.headers,
        std::string_view(reinterpret_cast<const char*>(r.body.data()), r.body.size()), Context());
    if (d.verdict == RetryVerdict::kOk && call.validate) {
      Status st = call.validate(r);
      if (!st.ok()) d = {RetryVerdict::kRetry, st.code(), st.message()};
    }
    if (d.verdict == RetryVerdict::kOk) {
      bytes_read_ += r.Body().size();
      return std::move(res.response);
    }
    if (d.verdict == RetryVerdict::kFail) {
      if (d.err == ENOENT && !call.probe) {
        return Status(ENOENT, "s3: " + call.what + ": not found");
      }
      // EOPNOTSUPP: the caller has a fallback; EEXIST: a create-only PUT lost, the caller
      // decides.
      if (d.err == EOPNOTSUPP || d.err == EEXIST) {
        return Status(d.err, "s3: " + call.what + ": " + d.reason);
      }
      return Failed(call, d.err, d.reason);
    }
    int64_t pause = backoff.NextPauseMs();
    if (pause < 0) {
      char tried[128];
      snprintf(tried, sizeof tried,
               "giving up after %d attempts (%lld ms of pauses, --maxRetryPause=%d): ", attempt,
               static_cast<long long>(backoff.total_ms()), options_.max_retry_pause_ms);
      return Failed(call, EIO, tried + d.reason);
    }
    retries_++;
    LOG_INFO("s3: %s: %s; retry %d in %lld ms", call.what.c_str(), d.reason.c_str(), attempt,
             static_cast<long long>(pause));
    clock_->SleepMs(pause);
  }
}

Status S3Store::Failed(const Call& call, int err, const std::string& reason) {
  failures_++;
  if (call.probe) {
    LOG_DEBUG("s3: %s: %s", call.what.c_str(), reason.c_str());
    return Status(err, "bucket " + options_.bucket + ": " + reason);
  }
  Status st(err, "s3: " + call.what + ": " + reason);
  LOG_ERROR("%s", st.message().c_str());
  return st;
}

SetupContext S3Store::Context() const {
  SetupContext context;
  context.key_source = options_.key_source;
  context.unsigned_requests = options_.access_id.empty();
  context.now_s = clock_->WallSeconds();
  return context;
}

std::string S3Store::CheckableEtag(const HttpResponse& r) const {
  if (!options_.verify_etag) return "";
  const std::string* etag = r.Header("etag");
  if (etag == nullptr) return "";
  std::string want = NormalizeEtag(*etag);
  if (want.find('-') != std::string::npos) return "";  // multipart: not an MD5
  return want;
}

Status S3Store::EtagMismatch(const std::string& key, const std::string& want,
                             const std::string& got, size_t body_bytes) {
  etag_mismatches_++;
  LOG_WARN("s3: get %s: ETag %s does not match the MD5 %s of the %zu bytes received", key.c_str(),
           want.c_str(), got.c_str(), body_bytes);
  return Status::Errorf(EBADMSG, "ETag %s does not match the body's MD5 %s", want.c_str(),
                        got.c_str());
}

Object S3Store::ToObject(HttpResponse&& r, std::string checked_md5) {
  Object obj;
  obj.info.etag = std::move(checked_md5);
  obj.info.size = r.Body().size();
  obj.info.meta = ExtractMeta(r);
  if (r.body_in_place) {
    obj.buffer = r.Body();
  } else {
    obj.data = std::move(r.body);
  }
  return obj;
}

Result<Object> S3Store::Fetch(const std::string& key, std::span<uint8_t> into) {
  Call call;
  call.method = "GET";
  call.key = key;
  call.body_into = into;
  call.max_body = max_object_bytes_;
  call.what = "get " + key;
  // The MD5 of the body is computed once, here: the layers above do not hash it again.
  std::string checked_md5;
  call.validate = [this, &key, &checked_md5](const HttpResponse& r) -> Status {
    checked_md5.clear();
    std::string want = CheckableEtag(r);
    if (want.empty()) return Status::Ok();
    std::string got = Md5Hex(r.Body());
    if (want != got) return EtagMismatch(key, want, got, r.Body().size());
    checked_md5 = std::move(got);
    return Status::Ok();
  };
  auto r = Execute(call);
  if (!r.ok()) return r.status();
  return ToObject(std::move(*r), std::move(checked_md5));
}

std::vector<Result<Object>> S3Store::GetMany(const std::vector<std::string>& keys,
                                             std::span<const std::span<uint8_t>> into) {
  auto into_of = [&](size_t i) { return into.empty() ? std::span<uint8_t>() : into[i]; };
  gets_ += keys.size();
  if (keys.size() < 2) {
    std::vector<Result<Object>> out;
    for (size_t i = 0; i < keys.size(); i++) out.push_back(Fetch(keys[i], into_of(i)));
    return out;
  }
  batched_gets_ += keys.size();
  std::vector<HttpRequest> requests;
  requests.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); i++) {
    Call call;
    call.method = "GET";
    call.key = keys[i];
    call.body_into = into_of(i);
    call.max_body = max_object_bytes_;
    requests.push_back(Sign(call, BuildUrl(call)));
  }
  std::vector<HttpResult> results = transport_->PerformMany(requests);
  std::vector<Result<Object>> out(keys.size(), Status(EIO, "s3: get: no answer"));
  std::vector<size_t> alone, check;  // to fetch again alone; to check against their ETags
  std::vector<std::string> want;
  for (size_t i = 0; i < keys.size(); i++) {
    HttpResponse& r = results[i].response;
    RetryDecision d = ClassifyHttp(
        results[i].curl_code, r.status, r.headers,
        std::string_view(reinterpret_cast<const char*>(r.body.data()), r.body.size()), Context());
    if (d.verdict == RetryVerdict::kOk) {
      std::string etag = CheckableEtag(r);
      if (etag.empty()) {
        bytes_read_ += r.Body().size();
        out[i] = ToObject(std::move(r), "");
      } else {
        check.push_back(i);
        want.push_back(std::move(etag));
      }
    } else if (d.verdict == RetryVerdict::kFail && d.err == ENOENT) {
      out[i] = Status(ENOENT, "s3: get " + keys[i] + ": not found");
    } else {
      LOG_INFO("s3: get %s: %s; fetching it again alone", keys[i].c_str(), d.reason.c_str());
      alone.push_back(i);
    }
  }
  // The bodies are hashed together (md5_many.h): one pass costs about what one body alone does.
  std::vector<std::span<const uint8_t>> bodies;
  for (size_t i : check) bodies.push_back(results[i].response.Body());
  std::vector<Md5Digest> digests(bodies.size());
  Md5Many(bodies, digests);
  for (size_t k = 0; k < check.size(); k++) {
    const size_t i = check[k];
    HttpResponse& r = results[i].response;
    std::string got = HexEncode(digests[k]);
    if (got != want[k]) {
      (void)EtagMismatch(keys[i], want[k], got, r.Body().size());
      alone.push_back(i);
      continue;
    }
    bytes_read_ += r.Body().size();
    out[i] = ToObject(std::move(r), std::move(got));
  }
  // What did not come back whole is fetched again on its own, with a GET's retries and errors.
  for (size_t i : alone) {
    retries_++;
    out[i] = Fetch(keys[i], into_of(i));
  }
  return out;
}

Result<ObjectInfo> S3Store::Head(const std::string& key) {
  heads_++;
  Call call;
  call.method = "HEAD";
  call.key = key;
  call.what = "head " + key;
  auto r = Execute(call);
  if (!r.ok()) return r.status();
  ObjectInfo info;
  if (const std::string* etag = r->Header("etag")) info.etag = NormalizeEtag(*etag);
  if (const std::string* len = r->Header("content-length")) {
    info.size = strtoull(len->c_str(), nullptr, 10);
  }
  info.meta = ExtractMeta(*r);
  return info;
}

// The one MD5 of the body serves both the Content-MD5 header and the ETag check.
Result<std::string> S3Store::Put(const std::string& key, std::span<const uint8_t> data,
                                 const Metadata& meta, const PutOptions& options) {
  const Md5Digest digest = options.md5 != nullptr ? *options.md5 : Md5(data);
  puts_++;
  std::string md5 = HexEncode(digest);
  Call call;
  call.method = "PUT";
  call.key = key;
  call.body = data;
  call.what = "put " + key;
  call.headers.emplace_back("Content-MD5", Base64Encode(digest));
  // A server that honours it answers 412 (or 409 while another conditional write of the key
  // is under way), which ClassifyHttp turns into EEXIST.
  if (options.if_absent) call.headers.emplace_back("If-None-Match", "*");
  bool has_acl = false;
  for (const auto& [name, value] : meta) {
    std::string lower = ToLower(name);
    if (lower == "content-md5" || lower == "content-length" || lower == "host" ||
        lower == "authorization" || lower == "etag") {
      continue;
    }
    if (lower == "x-amz-acl") has_acl = true;
    call.headers.emplace_back(lower, value);
  }
  if (!has_acl && !options_.access_type.empty()) {
    call.headers.emplace_back("x-amz-acl", options_.access_type);
  }
  if (!options_.sse.empty())
    call.headers.emplace_back("x-amz-server-side-encryption", options_.sse);
  if (!options_.sse_key_id.empty()) {
    call.headers.emplace_back("x-amz-server-side-encryption-aws-kms-key-id", options_.sse_key_id);
  }
  if (!options_.storage_class.empty()) {
    call.headers.emplace_back("x-amz-storage-class", options_.storage_class);
  }
  call.validate = [&md5, &key, this](const HttpResponse& r) -> Status {
    const std::string* etag = r.Header("etag");
    // With SSE-KMS the ETag is not the MD5; trust Content-MD5 then.
    if (etag == nullptr || !options_.sse_key_id.empty() || options_.sse == "aws:kms") {
      return Status::Ok();
    }
    std::string got = NormalizeEtag(*etag);
    if (got == md5 || got.find('-') != std::string::npos) return Status::Ok();
    LOG_WARN("s3: put %s: server ETag %s is not the MD5 %s of the body sent", key.c_str(),
             got.c_str(), md5.c_str());
    return Status::Errorf(EBADMSG, "server ETag %s is not the MD5 %s of the body sent", got.c_str(),
                          md5.c_str());
  };
  auto r = Execute(call);
  if (!r.ok()) return r.status();
  return md5;
}

Status S3Store::DeleteOne(const std::string& key) {
  deletes_++;
  Call call;
  call.method = "DELETE";
  call.key = key;
  call.what = "delete " + key;
  auto r = Execute(call);
  if (!r.ok() && r.status().code() != ENOENT) return r.status();
  return Status::Ok();
}

Status S3Store::Delete(const std::vector<std::string>& keys) {
  if (keys.size() == 1) return DeleteOne(keys[0]);
  for (size_t i = 0; i < keys.size(); i += kMaxDeleteBatch) {
    std::vector<std::string> batch(keys.begin() + i,
                                   keys.begin() + std::min(keys.size(), i + kMaxDeleteBatch));
    Status st = DeleteBatch(batch);
    if (st.code() == EOPNOTSUPP) {
      LOG_INFO("s3: the server has no bulk delete; deleting one key at a time");
      st = Status::Ok();
      for (const auto& key : batch) {
        st = DeleteOne(key);
        if (!st.ok()) break;
      }
    }
    S3DISK_RETURN_IF_ERROR(st);
  }
  return Status::Ok();
}

Status S3Store::DeleteBatch(const std::vector<std::string>& keys) {
  bulk_deletes_++;
  std::string body = BuildDeleteRequest(keys, true);
  Call call;
  call.method = "POST";
  call.bucket_level = true;
  call.query = {{"delete", ""}};
  call.body = AsBytes(body);
  call.what = "delete " + std::to_string(keys.size()) + " keys";
  call.headers.emplace_back("Content-MD5", Base64Encode(Md5(AsBytes(body))));
  call.headers.emplace_back("Content-Type", "application/xml");
  DeleteResultXml result;
  call.validate = [&result](const HttpResponse& r) -> Status {
    auto parsed = ParseDeleteResult(
        std::string_view(reinterpret_cast<const char*>(r.body.data()), r.body.size()));
    if (!parsed.ok()) return parsed.status();
    result = std::move(parsed.value());
    return Status::Ok();
  };
  auto r = Execute(call);
  if (!r.ok()) return r.status();
  for (const auto& e : result.errors) {
    if (e.code == "NoSuchKey") continue;  // absent is success
    Status st = Status::Errorf(EIO, "s3: delete %s: %s: %s (%zu keys failed)", e.key.c_str(),
                               e.code.c_str(), e.message.c_str(), result.errors.size());
    LOG_ERROR("%s", st.message().c_str());
    return st;
  }
  return Status::Ok();
}

Result<ListPage> S3Store::ListOnce(const std::string& prefix, const std::string& start_after,
                                   const std::string& token, int max_keys, bool probe) {
  list_pages_++;
  Call call;
  call.probe = probe;
  call.method = "GET";
  call.bucket_level = true;
  call.query = {{"list-type", "2"}, {"max-keys", std::to_string(max_keys)}};
  if (!prefix.empty()) call.query.emplace_back("prefix", prefix);
  if (!token.empty()) {
    call.query.emplace_back("continuation-token", token);
  } else if (!start_after.empty()) {
    call.query.emplace_back("start-after", start_after);
  }
  call.what = "list " + prefix + "*";
  ListPage page;
  call.validate = [&page](const HttpResponse& r) -> Status {
    auto parsed = ParseListPage(
        std::string_view(reinterpret_cast<const char*>(r.body.data()), r.body.size()));
    if (!parsed.ok()) return parsed.status();
    page = std::move(parsed.value());
    return Status::Ok();
  };
  auto r = Execute(call);
  if (!r.ok()) return r.status();
  return page;
}

void S3Store::CountKeyListed() {
  uint64_t n = ++keys_listed_;
  if (n % kListProgressEvery == 0) {
    LOG_INFO("s3: listing: %llu keys so far", static_cast<unsigned long long>(n));
  }
}

namespace {

// A key before `key` with few keys between them: its last character one less (printable
// ASCII only, so the result stays valid UTF-8), else `key` without its last character.
std::string KeyBefore(const std::string& key) {
  std::string before = key.substr(0, key.size() - 1);
  char last = key.back();
  if (last > '!' && last <= '~') before += static_cast<char>(last - 1);
  return before;
}

}  // namespace

// Lists part *p of the keys under prefix (ListParts), splitting it for idle threads as it
// goes. The listing starts a little before the part's first bound and skips what is before
// it, so a part is exact for any key.
Status S3Store::ListPart(const std::string& prefix, ListParts& parts, ListParts::Part* p,
                         const ListFound& found) {
  const std::string& from = parts.Bound(p->lo);
  const std::string start_after = from.empty() ? "" : KeyBefore(from);
  std::string token;
  for (;;) {
    auto listed = ListOnce(prefix, start_after, token, options_.list_page_keys);
    if (!listed.ok()) return listed.status();
    const ListPage& page = *listed;
    const std::string& to = parts.Bound(p->hi);
    for (size_t i = 0; i < page.keys.size(); i++) {
      const std::string& key = page.keys[i];
      if (key < from) continue;
      if (!to.empty() && key >= to) return Status::Ok();
      found(key, page.sizes[i]);
      CountKeyListed();
    }
    if (!page.truncated) return Status::Ok();
    if (!page.keys.empty()) parts.Split(p, page.keys.back());
    token = page.next_token;
  }
}

Status S3Store::ListParted(const std::string& prefix, std::vector<std::string> cuts,
                           const ListFound& found) {
  int64_t start_ms = clock_->NowMs();
  uint64_t before = keys_listed_.load();
  const size_t threads = static_cast<size_t>(options_.list_threads);
  ListParts parts(std::move(cuts), threads);
  auto worker = [&] {
    while (std::optional<ListParts::Part> p = parts.Take()) {
      Status st;
      try {
        st = ListPart(prefix, parts, &*p, found);
      } catch (const std::exception& e) {
        st = Status::Errorf(EIO, "s3: list %s*: %s", prefix.c_str(), e.what());
      } catch (...) {
        // An exception must not leave a thread (std::terminate).
        st = Status::Errorf(EIO, "s3: list %s*: unknown exception", prefix.c_str());
      }
      parts.Done(st);
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; t++) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  S3DISK_RETURN_IF_ERROR(parts.status());
  LOG_INFO("s3: listed %llu keys under \"%s\" in %lld ms, in %zu parts",
           static_cast<unsigned long long>(keys_listed_.load() - before), prefix.c_str(),
           static_cast<long long>(clock_->NowMs() - start_ms), parts.parts_made());
  return Status::Ok();
}

// With no cuts from the caller: block keys are PREFIX + 8 hex digits, so cut at each first
// digit (even parts for hashed keys, whose first digits are uniform).
Status S3Store::List(const std::string& prefix, const ListOptions& options,
                     const ListFound& found) {
  std::vector<std::string> cuts = options.cuts;
  if (cuts.empty()) {
    for (char d : std::string_view("123456789abcdef")) cuts.push_back(prefix + d + "0000000");
  }
  return ListParted(prefix, std::move(cuts), found);
}

Status S3Store::Probe() {
  auto page = ListOnce("", "", "", 1, true);
  return page.status();
}

void S3Store::DumpStats(std::string* out) {
  AppendStat(out, "s3_gets", gets_);
  AppendStat(out, "s3_gets_batched", batched_gets_);
  AppendStat(out, "s3_heads", heads_);
  AppendStat(out, "s3_puts", puts_);
  AppendStat(out, "s3_deletes", deletes_);
  AppendStat(out, "s3_bulk_deletes", bulk_deletes_);
  AppendStat(out, "s3_list_pages", list_pages_);
  AppendStat(out, "s3_keys_listed", keys_listed_);
  AppendStat(out, "s3_retries", retries_);
  AppendStat(out, "s3_failures", failures_);
  AppendStat(out, "s3_etag_mismatches", etag_mismatches_);
  AppendStat(out, "s3_bytes_read", bytes_read_);
  AppendStat(out, "s3_bytes_written", bytes_written_);
  transport_->DumpStats(out);
}

}  // namespace s3disk
