// CurlTransport: libcurl easy handles pooled for keep-alive.
//
// States of an easy handle:
//   idle     in idle_, not used by any request; its connection (if any) stays open
//   in use   owned by exactly one Perform call, outside the lock
//   freed    curl_easy_cleanup'd (pool full on return, or transport destroyed)
//
// Invariants:
//   | what                                   | why                                          |
//   |----------------------------------------|----------------------------------------------|
//   | a handle is in idle_ xor in use        | libcurl handles are not thread-safe          |
//   | idle_.size() <= max_idle_handles       | bounds open connections kept around          |
//   | mu_ is never held during curl_easy_*   | requests run in parallel, no global lock     |
//   | in_flight_ = handles in use            | stats only                                   |
//   | curl_global_init ran before any handle | required by libcurl, once per process        |
#include "http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>

#include "log.h"
#include "stats.h"

namespace s3disk {
namespace {

// A Content-Length up to this reserves the body's buffer at once (a bad header cannot make us
// allocate more); libcurl's receive buffer is sized for whole block bodies, fewer callbacks.
constexpr unsigned long long kMaxBodyReserveBytes = 64ull << 20;
constexpr long kReceiveBufferBytes = 256 * 1024;

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::vector<uint8_t>*>(user);
  // From uint8_t pointers: from char ones, insert converts byte by byte instead of memcpy.
  const auto* bytes = reinterpret_cast<const uint8_t*>(data);
  body->insert(body->end(), bytes, bytes + size * count);
  return size * count;
}

size_t WriteHeader(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    // A new status line (after 100 Continue, for example): forget earlier headers.
    response->headers.clear();
    return size * count;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name = ToLower(Trim(line.substr(0, colon)));
    std::string value(Trim(line.substr(colon + 1)));
    // Size the body once: growing it chunk by chunk copied a block body about twice over.
    if (name == "content-length") {
      unsigned long long n = strtoull(value.c_str(), nullptr, 10);
      if (n <= kMaxBodyReserveBytes) response->body.reserve(static_cast<size_t>(n));
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

CurlTransport::~CurlTransport() {
  MutexLock lock(mu_);
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

HttpResult CurlTransport::Perform(const HttpRequest& request) {
  HttpResult result;
  CURL* curl = static_cast<CURL*>(TakeHandle());
  if (curl == nullptr) {
    ReturnHandle(nullptr);
    result.curl_code = CURLE_FAILED_INIT;
    result.curl_error = "curl_easy_init failed";
    return result;
  }
  // Reset keeps the live connection, DNS and TLS session caches of the handle.
  curl_easy_reset(curl);
  char error_buf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buf);
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
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.response);

  CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  result.curl_code = code;
  if (code == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    result.response.status = status;
  } else {
    result.curl_error = error_buf[0] != '\0' ? error_buf : curl_easy_strerror(code);
    result.response.status = 0;
  }
  LOG_DEBUG("http: %s %s -> %ld%s%s (%zu bytes)", request.method.c_str(), request.url.c_str(),
            result.response.status, code == CURLE_OK ? "" : " ", result.curl_error.c_str(),
            result.response.body.size());
  if (code != CURLE_OK) {
    MutexLock lock(mu_);
    transport_errors_++;
  }
  // A handle whose transfer failed may hold a broken connection; libcurl closes those itself,
  // so the handle is still fine to reuse.
  ReturnHandle(curl);
  return result;
}

void CurlTransport::DumpStats(std::string* out) {
  MutexLock lock(mu_);
  AppendStat(out, "http_requests", requests_);
  AppendStat(out, "http_transport_errors", transport_errors_);
  AppendStat(out, "http_handles_created", handles_created_);
  AppendStat(out, "http_handles_idle", idle_.size());
  AppendStat(out, "http_max_in_flight", max_in_flight_);
}

}  // namespace s3disk
