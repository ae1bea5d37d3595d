#include "s3/retry.h"

#include <curl/curl.h>

#include <catch2/catch.hpp>

namespace s3disk {
namespace {

RetryDecision Http(long status, std::string body = "", HttpHeaders headers = {}) {
  return ClassifyHttp(CURLE_OK, status, headers, body);
}

std::string ErrorBody(const std::string& code, const std::string& extra = "") {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
         "</Code><Message>msg</Message>" + extra + "</Error>";
}

TEST_CASE("retry: 2xx is success") {
  CHECK(Http(200).verdict == RetryVerdict::kOk);
  CHECK(Http(204).verdict == RetryVerdict::kOk);
  CHECK(Http(206).verdict == RetryVerdict::kOk);
}

TEST_CASE("retry: transport errors are retried, except configuration mistakes") {
  for (int code :
       {CURLE_OPERATION_TIMEDOUT, CURLE_COULDNT_CONNECT, CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING,
        CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_COULDNT_RESOLVE_HOST, CURLE_SSL_CONNECT_ERROR}) {
    INFO("curl code " << code);
    auto d = ClassifyHttp(code, 0, {}, "");
    CHECK(d.verdict == RetryVerdict::kRetry);
    CHECK(d.err != 0);
  }
  CHECK(ClassifyHttp(CURLE_OPERATION_TIMEDOUT, 0, {}, "").err == ETIMEDOUT);
  CHECK(ClassifyHttp(CURLE_RECV_ERROR, 0, {}, "").err == ECONNRESET);
  CHECK(ClassifyHttp(CURLE_PARTIAL_FILE, 0, {}, "").reason.find("truncated") != std::string::npos);
  // A response over the request's bound (http.h): a bad body, retried as one.
  auto big = ClassifyHttp(CURLE_FILESIZE_EXCEEDED, 0, {}, "");
  CHECK(big.verdict == RetryVerdict::kRetry);
  CHECK(big.err == EBADMSG);
  CHECK(big.reason.find("larger than the request accepts") != std::string::npos);

  auto tls = ClassifyHttp(CURLE_PEER_FAILED_VERIFICATION, 0, {}, "");
  CHECK(tls.verdict == RetryVerdict::kFail);
  CHECK(tls.reason.find("--cacert") != std::string::npos);
  CHECK(tls.reason.find("--insecure") != std::string::npos);
  auto url = ClassifyHttp(CURLE_URL_MALFORMAT, 0, {}, "");
  CHECK(url.verdict == RetryVerdict::kFail);
  CHECK(url.err == EINVAL);
}

TEST_CASE("retry: 5xx, 429 and transient 4xx codes are retried") {
  CHECK(Http(500, ErrorBody("InternalError")).verdict == RetryVerdict::kRetry);
  CHECK(Http(502, "<html>bad gateway</html>").verdict == RetryVerdict::kRetry);
  CHECK(Http(503, ErrorBody("SlowDown")).verdict == RetryVerdict::kRetry);
  CHECK(Http(503).reason.find("503") != std::string::npos);
  CHECK(Http(429).verdict == RetryVerdict::kRetry);
  CHECK(Http(400, ErrorBody("RequestTimeout")).verdict == RetryVerdict::kRetry);
  CHECK(Http(400, ErrorBody("BadDigest")).verdict == RetryVerdict::kRetry);
  CHECK(Http(400, ErrorBody("IncompleteBody")).verdict == RetryVerdict::kRetry);
  CHECK(Http(409, ErrorBody("OperationAborted")).verdict == RetryVerdict::kRetry);
  // 501 means "never": not retried.
  auto ni = Http(501, ErrorBody("NotImplemented"));
  CHECK(ni.verdict == RetryVerdict::kFail);
  CHECK(ni.err == EOPNOTSUPP);
}

TEST_CASE("retry: other 4xx fail at once") {
  auto bad = Http(400, ErrorBody("InvalidArgument"));
  CHECK(bad.verdict == RetryVerdict::kFail);
  CHECK(bad.err == EIO);
  CHECK(bad.reason == "HTTP 400 InvalidArgument: msg");
  CHECK(Http(405).verdict == RetryVerdict::kFail);
  CHECK(Http(409, ErrorBody("BucketNotEmpty")).verdict == RetryVerdict::kFail);
  CHECK(Http(412).verdict == RetryVerdict::kFail);
}

TEST_CASE("retry: 404 is ENOENT, but a missing bucket is not") {
  auto key = Http(404, ErrorBody("NoSuchKey"));
  CHECK(key.verdict == RetryVerdict::kFail);
  CHECK(key.err == ENOENT);
  CHECK(Http(404).err == ENOENT);  // HEAD: no body
  auto bucket = Http(404, ErrorBody("NoSuchBucket"));
  CHECK(bucket.verdict == RetryVerdict::kFail);
  CHECK(bucket.err == ENXIO);
  CHECK(bucket.reason.find("bucket does not exist") != std::string::npos);
}

TEST_CASE("retry: 403 says what is wrong: credentials or clock") {
  auto denied =
      Http(403, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>");
  CHECK(denied.verdict == RetryVerdict::kFail);
  CHECK(denied.err == EACCES);
  CHECK(denied.reason.find("credentials") != std::string::npos);
  CHECK(denied.reason.find("clock") != std::string::npos);
  auto skew = Http(403, ErrorBody("RequestTimeTooSkewed"));
  CHECK(skew.err == EACCES);
  CHECK(skew.reason.find("clock") != std::string::npos);
  auto sig = Http(403, ErrorBody("SignatureDoesNotMatch"));
  CHECK(sig.reason.find("secret access key") != std::string::npos);
  auto id = Http(403, ErrorBody("InvalidAccessKeyId"));
  CHECK(id.reason.find("access key ID") != std::string::npos);
  CHECK(Http(403).err == EACCES);  // HEAD: no body
}

TEST_CASE("retry: redirects name the right region or endpoint") {
  auto by_header = Http(301, "", {{"x-amz-bucket-region", "eu-west-1"}});
  CHECK(by_header.verdict == RetryVerdict::kFail);
  CHECK(by_header.reason.find("--region=eu-west-1") != std::string::npos);
  auto by_body = Http(
      301, ErrorBody("PermanentRedirect", "<Endpoint>b.s3.eu-west-1.amazonaws.com</Endpoint>"));
  CHECK(by_body.reason.find("b.s3.eu-west-1.amazonaws.com") != std::string::npos);
  CHECK(by_body.reason.find("--baseURL") != std::string::npos);
  auto temp = Http(307, ErrorBody("TemporaryRedirect", "<Endpoint>x.example</Endpoint>"),
                   {{"x-amz-bucket-region", "us-west-2"}});
  CHECK(temp.reason.find("--region=us-west-2") != std::string::npos);
  CHECK(temp.reason.find("x.example") != std::string::npos);
  auto malformed =
      Http(400, ErrorBody("AuthorizationHeaderMalformed", "<Region>eu-central-1</Region>"));
  CHECK(malformed.verdict == RetryVerdict::kFail);
  CHECK(malformed.reason.find("--region=eu-central-1") != std::string::npos);
}

TEST_CASE("retry: backoff doubles with jitter and stops at the budget") {
  Backoff b(100, 1000, 42);
  int64_t p1 = b.NextPauseMs();
  CHECK(p1 >= 50);
  CHECK(p1 <= 100);
  int64_t p2 = b.NextPauseMs();
  CHECK(p2 >= 100);
  CHECK(p2 <= 200);
  int64_t p3 = b.NextPauseMs();
  CHECK(p3 >= 200);
  CHECK(p3 <= 400);
  // Keep going until the budget is spent: never more than 1000 ms in total.
  while (b.NextPauseMs() >= 0) {
  }
  CHECK(b.total_ms() <= 1000);
  CHECK(b.attempts() >= 3);
  CHECK(b.NextPauseMs() == -1);

  // Same seed, same pauses; no budget, no retry; a single pause is capped.
  Backoff c(100, 1000, 42);
  CHECK(c.NextPauseMs() == p1);
  Backoff none(100, 0, 1);
  CHECK(none.NextPauseMs() == -1);
  Backoff capped(1000, 1'000'000, 7, 1500);
  for (int i = 0; i < 20; i++) CHECK(capped.NextPauseMs() <= 1500);
}

}  // namespace
}  // namespace s3disk
