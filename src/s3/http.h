// HTTP transport over libcurl. Knows nothing of S3: it sends one request and returns what came
// back (status, headers, body) or the transport error, and never retries.
//
// HttpTransport is the seam: S3Store talks to it, unit tests replace it with a scripted fake.
// CurlTransport keeps a pool of idle easy handles so connections are reused (keep-alive) and
// any number of requests can be in flight at once: a request takes an idle handle or makes a
// new one, and gives it back when done; no lock is held while a request runs. PerformMany
// runs several requests side by side on the calling thread (a libcurl multi handle, also
// pooled: the connections of its transfers stay open in it for the next batch).
//
// A response is never bigger than the request allows: a success (2xx) body over the request's
// max_body_bytes (announced by Content-Length, or as it arrives), any other body over
// kMaxErrorBodyBytes, or headers over kMaxHeaderBytes cut the transfer off at once and come
// back as CURLE_FILESIZE_EXCEEDED with the bound in curl_error: a server that streams without
// end costs at most the bound in memory.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/sync.h"

namespace s3disk {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// The bounds of a response (see above). A listing page or a reply to a PUT or DELETE is far
// smaller than the default; an S3 error body is a few hundred bytes.
inline constexpr uint64_t kDefaultMaxBodyBytes = 8ull << 20;
inline constexpr uint64_t kMaxErrorBodyBytes = 1ull << 20;
inline constexpr uint64_t kMaxHeaderBytes = 256ull << 10;

struct HttpRequest {
  std::string method = "GET";     // GET, HEAD, PUT, POST, DELETE
  std::string url;                // absolute, already percent-encoded
  HttpHeaders headers;            // sent as given (a Host header overrides the URL's)
  std::span<const uint8_t> body;  // must outlive Perform
  // Where a success (2xx) response's body goes when its Content-Length is exactly this size
  // (then HttpResponse::body_in_place): a block lands in its final buffer with no copy.
  std::span<uint8_t> body_into;
  // The largest success body accepted: the caller knows what it asked for.
  uint64_t max_body_bytes = kDefaultMaxBodyBytes;
};

struct HttpResponse {
  // 0 when the transport failed (see HttpResult::curl_code).
  long status = 0;
  // Header names in lowercase, values trimmed, in the order received (final response only).
  HttpHeaders headers;
  std::vector<uint8_t> body;  // empty when body_in_place
  // The body went to the request's body_into (in_place) instead; in_place_filled bytes came.
  bool body_in_place = false;
  std::span<uint8_t> in_place;
  size_t in_place_filled = 0;

  // The body received, wherever it went.
  std::span<const uint8_t> Body() const {
    if (body_in_place) return std::span<const uint8_t>(in_place).first(in_place_filled);
    return body;
  }
  // The first header of that (lowercase) name, or nullptr.
  const std::string* Header(std::string_view lowercase_name) const;
};

struct HttpResult {
  int curl_code = 0;       // CURLcode; 0 = a response arrived (of any status)
  std::string curl_error;  // human text for curl_code
  HttpResponse response;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends one request. Thread-safe; never throws.
  virtual HttpResult Perform(const HttpRequest& request) = 0;
  // Sends several requests at once and waits for all of them; results in the same order.
  // Default: Perform each in turn.
  virtual std::vector<HttpResult> PerformMany(std::span<const HttpRequest> requests);
  virtual void DumpStats(std::string*) {}
};

struct HttpOptions {
  int connect_timeout_s = 30;  // 0 = libcurl's default
  int request_timeout_s = 30;  // whole request, 0 = none
  bool insecure = false;       // skip TLS certificate and host name verification
  std::string cacert;          // CA bundle file; empty = the system's
  int max_idle_handles = 32;   // idle handles (and so open connections) kept for reuse
  std::string user_agent = "s3disk";
};

class CurlTransport : public HttpTransport {
 public:
  // Validates the options and initializes libcurl once per process; opens no connection.
  static Result<std::unique_ptr<CurlTransport>> Create(HttpOptions options);
  ~CurlTransport() override;

  HttpResult Perform(const HttpRequest& request) override;
  std::vector<HttpResult> PerformMany(std::span<const HttpRequest> requests) override;
  void DumpStats(std::string* out) override;

 private:
  struct Transfer;  // one request on one easy handle (http.cc)
  struct Batch;     // a multi handle and the easy handles of its transfers (http.cc)

  explicit CurlTransport(HttpOptions options);
  void* TakeHandle();               // CURL*
  void ReturnHandle(void* handle);  // CURL*
  std::unique_ptr<Batch> TakeBatch(size_t requests);
  void ReturnBatch(std::unique_ptr<Batch> batch);
  // Sets up t's easy handle for its request; Finish reads the outcome and frees what Start
  // made (not the handle).
  void Start(Transfer& t);
  void Finish(Transfer& t, int curl_code);

  const HttpOptions options_;
  Mutex mu_;
  std::vector<void*> idle_ GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Batch>> idle_batches_ GUARDED_BY(mu_);
  uint64_t batches_ GUARDED_BY(mu_) = 0;
  uint64_t connections_opened_ GUARDED_BY(mu_) = 0;
  uint64_t handles_created_ GUARDED_BY(mu_) = 0;
  uint64_t requests_ GUARDED_BY(mu_) = 0;
  uint64_t in_flight_ GUARDED_BY(mu_) = 0;
  uint64_t max_in_flight_ GUARDED_BY(mu_) = 0;
  uint64_t transport_errors_ GUARDED_BY(mu_) = 0;
};

}  // namespace s3disk
