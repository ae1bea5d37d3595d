#include "s3/retry.h"

#include <curl/curl.h>

#include <algorithm>

#include "s3/s3_xml.h"

namespace s3disk {
namespace {

RetryDecision Retry(int err, std::string reason) {
  return {RetryVerdict::kRetry, err, std::move(reason)};
}

RetryDecision Fail(int err, std::string reason) {
  return {RetryVerdict::kFail, err, std::move(reason)};
}

RetryDecision ClassifyTransport(int curl_code) {
  std::string what =
      std::string("transport error: ") + curl_easy_strerror(static_cast<CURLcode>(curl_code));
  switch (curl_code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return Fail(EINVAL, what + " (check --baseURL)");
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
      return Fail(EIO, what +
                           " (the server's TLS certificate was not verified: give "
                           "--cacert=FILE, or --insecure to skip verification)");
    case CURLE_OUT_OF_MEMORY:
      return Fail(ENOMEM, what);
    case CURLE_OPERATION_TIMEDOUT:
      return Retry(ETIMEDOUT, what);
    case CURLE_COULDNT_CONNECT:
      return Retry(ECONNREFUSED, what);
    case CURLE_PARTIAL_FILE:
      return Retry(EIO, what + " (truncated body)");
    case CURLE_FILESIZE_EXCEEDED:
      // Cut off by the transport at the request's bound (http.h): a bad body, like a
      // damaged one.
      return Retry(EBADMSG, "the response was larger than the request accepts, and was cut off");
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
      return Retry(ECONNRESET, what);
    default:
      // Resolver hiccups, TLS handshakes cut short, proxies...: worth another try.
      return Retry(EIO, what);
  }
}

}  // namespace

RetryDecision ClassifyHttp(int curl_code, long http_status, const HttpHeaders& headers,
                           std::string_view body, const SetupContext& context) {
  if (curl_code != CURLE_OK) return ClassifyTransport(curl_code);
  if (http_status >= 200 && http_status < 300) return {RetryVerdict::kOk, 0, ""};

  S3ErrorXml error;
  if (!body.empty()) {
    auto parsed = ParseErrorBody(body);
    if (parsed.ok()) error = std::move(parsed.value());
  }
  std::string what = "HTTP " + std::to_string(http_status);
  if (!error.code.empty()) what += " " + error.code;
  if (!error.message.empty()) what += ": " + error.message;

  if (http_status == 501) return Fail(EOPNOTSUPP, what);
  if (http_status >= 500 || http_status == 429) return Retry(EIO, what);
  if (http_status == 400 && (error.code == "RequestTimeout" || error.code == "BadDigest" ||
                             error.code == "IncompleteBody" || error.code == "SlowDown")) {
    return Retry(EIO, what);
  }
  // OperationAborted, or ConditionalRequestConflict: another conditional write of the key is
  // under way (it may be our own earlier attempt); the retry learns who won.
  if (http_status == 409 &&
      (error.code == "OperationAborted" || error.code == "ConditionalRequestConflict")) {
    return Retry(EIO, what);
  }
  // A create-only PUT (If-None-Match: *) of a key that exists.
  if (http_status == 412) return Fail(EEXIST, what);
  if (http_status == 404 && error.code != "NoSuchBucket") return Fail(ENOENT, what);

  std::string setup = DescribeSetupError(http_status, error, headers, context);
  if (setup.empty()) return Fail(EIO, what);
  // A missing bucket is never ENOENT: it must not read as zeros.
  if (http_status == 404) return Fail(ENXIO, setup);
  if (http_status == 403) return Fail(EACCES, setup);
  return Fail(EIO, setup);
}

Backoff::Backoff(int64_t initial_ms, int64_t max_total_ms, uint64_t seed, int64_t max_single_ms)
    : initial_ms_(std::max<int64_t>(initial_ms, 1)),
      max_total_ms_(max_total_ms),
      max_single_ms_(std::max<int64_t>(max_single_ms, 1)),
      rng_(seed) {}

int64_t Backoff::NextPauseMs() {
  int shift = std::min(attempts_, 30);
  int64_t d = std::min(initial_ms_ << shift, max_single_ms_);
  if (initial_ms_ << shift < initial_ms_) d = max_single_ms_;  // overflow guard
  std::uniform_int_distribution<int64_t> dist(d / 2, d);
  int64_t pause = dist(rng_);
  if (total_ms_ + pause > max_total_ms_) return -1;
  attempts_++;
  total_ms_ += pause;
  return pause;
}

}  // namespace s3disk
