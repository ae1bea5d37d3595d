// What to do with an HTTP outcome (retry, fail, succeed) and how long to wait before retrying.
// ClassifyHttp is a pure function so every case is unit-tested without a server.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "s3/http.h"
#include "s3/setup_error.h"

namespace s3disk {

enum class RetryVerdict { kOk, kRetry, kFail };

struct RetryDecision {
  RetryVerdict verdict = RetryVerdict::kOk;
  int err = 0;         // errno for kFail (and the transient errno for kRetry)
  std::string reason;  // human text: what happened and, for kFail, what to do about it
};

// Classifies one outcome:
//   kOk     2xx, or 404 (ENOENT: the caller decides whether absent is fine; a NoSuchBucket
//           body fails with ENXIO instead, so a missing bucket never reads as zeros)
//   kRetry  transport errors (timeouts, resets, truncated bodies, refused connections, and
//           responses over the request's bound: EBADMSG),
//           5xx, 429, and the 4xx that S3 uses for transient trouble (RequestTimeout,
//           BadDigest/IncompleteBody: the body was damaged on the way, SlowDown,
//           OperationAborted)
//   kFail   everything else: 403 (credentials or clock), 301/307/400 redirects naming the
//           right region or endpoint, other 4xx, TLS verification failures, bad URLs
// `headers` are the response headers (for x-amz-bucket-region); `body` the response body.
// The setup errors (setup_error.h) are worded with context (where the keys came from, the
// clock) as one line that says what to fix.
RetryDecision ClassifyHttp(int curl_code, long http_status, const HttpHeaders& headers,
                           std::string_view body, const SetupContext& context = {});

// Exponential backoff with jitter: the n-th pause is uniform in [d/2, d] with
// d = initial_ms * 2^n, capped at max_single_ms; the caller gives up once the total of the
// pauses would exceed max_total_ms.
class Backoff {
 public:
  Backoff(int64_t initial_ms, int64_t max_total_ms, uint64_t seed, int64_t max_single_ms = 30'000);
  // The next pause, or -1 when the budget is spent (then stop retrying).
  int64_t NextPauseMs();
  int attempts() const { return attempts_; }
  int64_t total_ms() const { return total_ms_; }

 private:
  int64_t initial_ms_, max_total_ms_, max_single_ms_;
  int attempts_ = 0;
  int64_t total_ms_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace s3disk
