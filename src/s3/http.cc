// CurlTransport: libcurl easy handles pooled for keep-alive.
//
// States of an easy handle:
//   idle     in idle_, not used by any request; its connection (if any) stays open
//   in use   owned by exactly one Perform or PerformMany call, outside the lock
//   freed    curl_easy_cleanup'd (pool full on return, or transport destroyed)
// A Batch (a multi handle and its own easy handles, for PerformMany) is idle in idle_batches_
// or owned by one PerformMany call; the connections its transfers opened stay in it, open for
// its next batch, until it is freed.
//
// Invariants:
//   | what                                   | why                                          |
//   |----------------------------------------|----------------------------------------------|
//   | a handle is in idle_ xor in use        | libcurl handles are not thread-safe          |
//   | idle_.size() <= max_idle_handles       | bounds open connections kept around          |
//   | idle_batches_.size() <= kMaxIdleMultis | (and the connections kept in them)           |
//   | mu_ is never held during curl_easy_*   | requests run in parallel, no global lock     |
//   | in_flight_ = handles in use            | stats only                                   |
//   | curl_global_init ran before any handle | required by libcurl, once per process        |
//   | a body held <= its bound (http.h)      | a server streaming without end cannot use up |
//   |                                        | the memory that holds dirty blocks           |
#include "s3/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "base/log.h"
#include "base/stats.h"
#include "base/text.h"

namespace s3disk {
namespace {

// A Content-Length up to this reserves the body's buffer at once (a bad header cannot make us
// allocate more).
constexpr unsigned long long kMaxBodyReserveBytes = 64ull << 20;
// libcurl's receive buffer. Small enough to stay in the CPU's cache while it is copied out:
// with 256 KiB buffers and 8 transfers on one thread (PerformMany), cache misses in those
// copies cost more than the MD5 of the bodies (a cold 512 MiB read: 258 vs 211 ticks).
constexpr long kReceiveBufferBytes = 32 * 1024;
// Multi handles kept for PerformMany (more than the batches that usually run at once: one
// freed closes its connections), and the idle connections each keeps: a read-ahead batch
// (ReadAheadPolicy::kFetchBatchBlocks). With fewer, every batch closed the rest and opened them
// again (a cold 1 GiB read opened a connection for every other GET).
constexpr size_t kMaxIdleMultis = 8;
constexpr long kMultiConnections = 16;

// What the callbacks of one transfer share: the response being filled and its bounds.
struct Receiver {
  HttpResponse* response = nullptr;
  uint64_t max_body = kDefaultMaxBodyBytes;  // of a success body
  bool head = false;                         // a HEAD: Content-Length announces no body
  uint64_t header_bytes = 0;                 // of every response of the transfer (1xx too)
  std::string cut;                           // why the transfer was cut off; "" if not

  uint64_t BodyBound() const {
    return response->status / 100 == 2 ? max_body : std::min(max_body, kMaxErrorBodyBytes);
  }
  // Returns 0, which makes libcurl end the transfer with CURLE_WRITE_ERROR.
  size_t CutOff(std::string why) {
    cut = std::move(why);
    return 0;
  }
  size_t BodyTooLarge(const char* how) {
    return CutOff(std::string("the response body ") + how + " " + std::to_string(BodyBound()) +
                  " bytes, the most this request accepts");
  }
};

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* receiver = static_cast<Receiver*>(user);
  HttpResponse* response = receiver->response;
  const size_t n = size * count;
  const size_t have = response->body_in_place ? response->in_place_filled : response->body.size();
  if (n > receiver->BodyBound() - std::min<uint64_t>(have, receiver->BodyBound())) {
    return receiver->BodyTooLarge("grew past");
  }
  // From uint8_t pointers: from char ones, insert converts byte by byte instead of memcpy.
  const auto* bytes = reinterpret_cast<const uint8_t*>(data);
  if (response->body_in_place) {
    if (n <= response->in_place.size() - response->in_place_filled) {
      memcpy(response->in_place.data() + response->in_place_filled, bytes, n);
      response->in_place_filled += n;
      return n;
    }
    // More than the Content-Length announced: keep it all in body instead.
    response->body.assign(response->in_place.begin(),
                          response->in_place.begin() + response->in_place_filled);
    response->body_in_place = false;
  }
  response->body.insert(response->body.end(), bytes, bytes + n);
  return n;
}

size_t WriteHeader(char* data, size_t size, size_t count, void* user) {
  auto* receiver = static_cast<Receiver*>(user);
  HttpResponse* response = receiver->response;
  std::string_view line(data, size * count);
  receiver->header_bytes += line.size();
  if (receiver->header_bytes > kMaxHeaderBytes) {
    return receiver->CutOff("the response headers are larger than " +
                            std::to_string(kMaxHeaderBytes) + " bytes");
  }
  if (line.starts_with("HTTP/")) {
    // A new status line (after 100 Continue, for example): forget earlier headers.
    response->headers.clear();
    response->body_in_place = false;
    // "HTTP/1.1 200 OK": only a success body may go in place.
    size_t sp = line.find(' ');
    response->status = sp == std::string_view::npos ? 0 : strtol(line.data() + sp + 1, nullptr, 10);
    return size * count;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name = ToLower(TrimSpace(line.substr(0, colon)));
    std::string value(TrimSpace(line.substr(colon + 1)));
    // Size the body once: growing it chunk by chunk copied a block body about twice over.
    if (name == "content-length" && !receiver->head) {
      unsigned long long n = strtoull(value.c_str(), nullptr, 10);
      if (n > receiver->BodyBound()) {
        return receiver->BodyTooLarge(("of " + std::to_string(n) + " bytes is over").c_str());
      }
      if (n == response->in_place.size() && n > 0 && response->status / 100 == 2) {
        response->body_in_place = true;  // straight into the caller's buffer, no copy
        response->in_place_filled = 0;
      } else if (n <= kMaxBodyReserveBytes) {
        response->body.reserve(static_cast<size_t>(n));
      }
    }
    response->headers.emplace_back(std::move(name), std::move(value));
  }
  return size * count;
}

Status InitCurlOnce() {
  static std::once_flag once;
  static CURLcode code = CURLE_OK;
  std::call_once(once, [] { code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (code != CURLE_OK) {
    return Status::Errorf(EIO, "http: curl_global_init: %s", curl_easy_strerror(code));
  }
  return Status::Ok();
}

}  // namespace

std::vector<HttpResult> HttpTransport::PerformMany(std::span<const HttpRequest> requests) {
  std::vector<HttpResult> results;
  results.reserve(requests.size());
  for (const HttpRequest& request : requests) results.push_back(Perform(request));
  return results;
}

const std::string* HttpResponse::Header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return &value;
  }
  return nullptr;
}

Result<std::unique_ptr<CurlTransport>> CurlTransport::Create(HttpOptions options) {
  if (options.connect_timeout_s < 0 || options.request_timeout_s < 0) {
    return Status::Errorf(EINVAL, "http: timeouts must not be negative");
  }
  if (options.max_idle_handles < 1) {
    return Status::Errorf(EINVAL, "http: need at least one connection (got %d)",
                          options.max_idle_handles);
  }
  S3DISK_RETURN_IF_ERROR(InitCurlOnce());
  if (options.insecure) {
    LOG_WARN(
        "http: TLS certificate verification is OFF (--insecure): the server is not "
        "authenticated");
  }
  return std::unique_ptr<CurlTransport>(new CurlTransport(std::move(options)));
}

// Its easy handles serve only its transfers: an easy handle that joins a multi handle loses
// the connection it kept for curl_easy_perform, and its connection stays in the multi handle.
struct CurlTransport::Batch {
  CURLM* multi = nullptr;
  std::vector<CURL*> easies;  // at least one per request of the batch now running
  ~Batch() {
    for (CURL* easy : easies) curl_easy_cleanup(easy);
    if (multi != nullptr) curl_multi_cleanup(multi);
  }
};

CurlTransport::CurlTransport(HttpOptions options) : options_(std::move(options)) {}

CurlTransport::~CurlTransport() {
  MutexLock lock(mu_);
  idle_batches_.clear();
  for (void* handle : idle_) curl_easy_cleanup(static_cast<CURL*>(handle));
  idle_.clear();
}

void* CurlTransport::TakeHandle() {
  {
    MutexLock lock(mu_);
    requests_++;
    in_flight_++;
    max_in_flight_ = std::max(max_in_flight_, in_flight_);
    if (!idle_.empty()) {
      void* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
    handles_created_++;
  }
  return curl_easy_init();
}

void CurlTransport::ReturnHandle(void* handle) {
  {
    MutexLock lock(mu_);
    in_flight_--;
    if (handle != nullptr && idle_.size() < static_cast<size_t>(options_.max_idle_handles)) {
      idle_.push_back(handle);
      return;
    }
  }
  if (handle != nullptr) curl_easy_cleanup(static_cast<CURL*>(handle));
}

struct CurlTransport::Transfer {
  const HttpRequest* request = nullptr;
  HttpResult* result = nullptr;
  CURL* curl = nullptr;
  struct curl_slist* headers = nullptr;
  char error_buf[CURL_ERROR_SIZE] = "";
  Receiver receiver;
};

void CurlTransport::Start(Transfer& t) {
  CURL* curl = t.curl;
  const HttpRequest& request = *t.request;
  // Reset keeps the live connection, DNS and TLS session caches of the handle.
  curl_easy_reset(curl);
  t.error_buf[0] = '\0';
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, t.error_buf);
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options_.connect_timeout_s));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, static_cast<long>(options_.request_timeout_s));
  if (options_.insecure) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!options_.cacert.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.cacert.c_str());

  bool has_content_type = false;
  struct curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    if (ToLower(name) == "content-type") has_content_type = true;
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    headers = curl_slist_append(headers, line.c_str());
  }
  // No "Expect: 100-continue" round trip; no form content type libcurl would invent for POST.
  headers = curl_slist_append(headers, "Expect:");
  if (!has_content_type) headers = curl_slist_append(headers, "Content-Type:");
  t.headers = headers;
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (request.method == "PUT" || request.method == "POST" || !request.body.empty()) {
      // POSTFIELDS with a custom method sends exactly these bytes with a Content-Length.
      static const char kEmpty[] = "";
      curl_easy_setopt(
          curl, CURLOPT_POSTFIELDS,
          request.body.empty() ? kEmpty : reinterpret_cast<const char*>(request.body.data()));
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    }
  }
  t.result->response.in_place = request.body_into;
  t.receiver = Receiver();
  t.receiver.response = &t.result->response;
  t.receiver.max_body = request.max_body_bytes;
  t.receiver.head = request.method == "HEAD";
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t.receiver);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t.receiver);
}

void CurlTransport::Finish(Transfer& t, int curl_code) {
  // A transfer the callbacks cut off ends in CURLE_WRITE_ERROR; say why instead.
  const bool cut = !t.receiver.cut.empty();
  const auto code = cut ? CURLE_FILESIZE_EXCEEDED : static_cast<CURLcode>(curl_code);
  HttpResult& result = *t.result;
  curl_slist_free_all(t.headers);
  t.headers = nullptr;
  curl_easy_setopt(t.curl, CURLOPT_ERRORBUFFER, nullptr);
  result.curl_code = code;
  long connects = 0;
  curl_easy_getinfo(t.curl, CURLINFO_NUM_CONNECTS, &connects);
  if (connects > 0) {
    MutexLock lock(mu_);
    connections_opened_ += static_cast<uint64_t>(connects);
  }
  if (code == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &status);
    result.response.status = status;
  } else {
    result.curl_error = cut                      ? t.receiver.cut
                        : t.error_buf[0] != '\0' ? t.error_buf
                                                 : curl_easy_strerror(code);
    result.response.status = 0;
  }
  if (cut) {
    LOG_WARN("http: %s %s: %s; transfer cut off", t.request->method.c_str(), t.request->url.c_str(),
             result.curl_error.c_str());
  }
  LOG_DEBUG("http: %s %s -> %ld%s%s (%zu bytes)", t.request->method.c_str(), t.request->url.c_str(),
            result.response.status, code == CURLE_OK ? "" : " ", result.curl_error.c_str(),
            result.response.Body().size());
  if (code != CURLE_OK) {
    MutexLock lock(mu_);
    transport_errors_++;
  }
}

HttpResult CurlTransport::Perform(const HttpRequest& request) {
  HttpResult result;
  Transfer t;
  t.request = &request;
  t.result = &result;
  t.curl = static_cast<CURL*>(TakeHandle());
  if (t.curl == nullptr) {
    ReturnHandle(nullptr);
    result.curl_code = CURLE_FAILED_INIT;
    result.curl_error = "curl_easy_init failed";
    return result;
  }
  Start(t);
  Finish(t, curl_easy_perform(t.curl));
  // A handle whose transfer failed may hold a broken connection; libcurl closes those itself,
  // so the handle is still fine to reuse.
  ReturnHandle(t.curl);
  return result;
}

std::unique_ptr<CurlTransport::Batch> CurlTransport::TakeBatch(size_t requests) {
  std::unique_ptr<Batch> batch;
  {
    MutexLock lock(mu_);
    batches_++;
    requests_ += requests;
    in_flight_ += requests;
    max_in_flight_ = std::max(max_in_flight_, in_flight_);
    if (!idle_batches_.empty()) {
      batch = std::move(idle_batches_.back());
      idle_batches_.pop_back();
    }
  }
  if (batch == nullptr) {
    batch = std::make_unique<Batch>();
    batch->multi = curl_multi_init();
    if (batch->multi == nullptr) return nullptr;
    curl_multi_setopt(batch->multi, CURLMOPT_MAXCONNECTS, kMultiConnections);
  }
  while (batch->easies.size() < requests) {
    CURL* easy = curl_easy_init();
    if (easy == nullptr) return nullptr;
    batch->easies.push_back(easy);
  }
  return batch;
}

void CurlTransport::ReturnBatch(std::unique_ptr<Batch> batch) {
  MutexLock lock(mu_);
  if (idle_batches_.size() < kMaxIdleMultis) idle_batches_.push_back(std::move(batch));
  // else freed here, closing its connections (rare: more batches than that at once)
}

std::vector<HttpResult> CurlTransport::PerformMany(std::span<const HttpRequest> requests) {
  if (requests.size() < 2) return HttpTransport::PerformMany(requests);
  std::unique_ptr<Batch> batch = TakeBatch(requests.size());
  std::vector<HttpResult> results(requests.size());
  if (batch == nullptr) {
    {
      MutexLock lock(mu_);
      in_flight_ -= requests.size();
    }
    for (HttpResult& r : results) {
      r.curl_code = CURLE_FAILED_INIT;
      r.curl_error = "curl_multi_init or curl_easy_init failed";
    }
    return results;
  }
  CURLM* multi = batch->multi;
  std::vector<Transfer> transfers(requests.size());
  size_t active = 0;
  for (size_t i = 0; i < requests.size(); i++) {
    Transfer& t = transfers[i];
    t.request = &requests[i];
    t.result = &results[i];
    t.curl = batch->easies[i];
    Start(t);
    curl_easy_setopt(t.curl, CURLOPT_PRIVATE, &t);
    if (curl_multi_add_handle(multi, t.curl) != CURLM_OK) {
      Finish(t, CURLE_FAILED_INIT);
      t.curl = nullptr;
      continue;
    }
    active++;
  }
  auto done = [&](Transfer& t, int code) {
    curl_multi_remove_handle(multi, t.curl);
    Finish(t, code);
    t.curl = nullptr;
    active--;
  };
  while (active > 0) {
    int running = 0;
    if (curl_multi_perform(multi, &running) != CURLM_OK) break;
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      done(*t, msg->data.result);
    }
    if (active > 0 && running > 0 &&
        curl_multi_poll(multi, nullptr, 0, 1000, nullptr) != CURLM_OK) {
      break;
    }
  }
  // Only after a failure of the multi handle itself: the transfers still in it fail.
  for (Transfer& t : transfers) {
    if (t.curl != nullptr) done(t, CURLE_FAILED_INIT);
  }
  {
    MutexLock lock(mu_);
    in_flight_ -= requests.size();
  }
  ReturnBatch(std::move(batch));
  return results;
}

void CurlTransport::DumpStats(std::string* out) {
  MutexLock lock(mu_);
  AppendStat(out, "http_requests", requests_);
  AppendStat(out, "http_batches", batches_);
  AppendStat(out, "http_connections_opened", connections_opened_);
  AppendStat(out, "http_transport_errors", transport_errors_);
  AppendStat(out, "http_handles_created", handles_created_);
  AppendStat(out, "http_handles_idle", idle_.size());
  AppendStat(out, "http_max_in_flight", max_in_flight_);
}

}  // namespace s3disk
