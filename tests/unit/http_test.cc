// CurlTransport without a network: option checks, header lookup, and transport errors that
// libcurl reports before connecting. Real requests are covered by tests/t_s3_*.sh.
#include "http.h"

#include <curl/curl.h>

#include <catch2/catch.hpp>

namespace s3disk {
namespace {

TEST_CASE("http: options are validated at Create") {
  HttpOptions o;
  o.connect_timeout_s = -1;
  CHECK(CurlTransport::Create(o).status().code() == EINVAL);
  o = HttpOptions();
  o.max_idle_handles = 0;
  CHECK(CurlTransport::Create(o).status().code() == EINVAL);
  CHECK(CurlTransport::Create(HttpOptions()).ok());
}

TEST_CASE("http: response headers are looked up by lowercase name") {
  HttpResponse r;
  r.headers = {{"etag", "\"abc\""}, {"x-amz-meta-a", "1"}, {"x-amz-meta-a", "2"}};
  REQUIRE(r.Header("etag") != nullptr);
  CHECK(*r.Header("etag") == "\"abc\"");
  CHECK(*r.Header("x-amz-meta-a") == "1");
  CHECK(r.Header("content-type") == nullptr);
}

TEST_CASE("http: transport errors come back as curl codes, and handles are reused") {
  auto t = CurlTransport::Create(HttpOptions());
  REQUIRE(t.ok());
  HttpRequest req;
  req.url = "nosuchscheme://example/";
  for (int i = 0; i < 3; i++) {
    HttpResult r = (*t)->Perform(req);
    CHECK(r.curl_code == CURLE_UNSUPPORTED_PROTOCOL);
    CHECK_FALSE(r.curl_error.empty());
    CHECK(r.response.status == 0);
  }
  req.method = "PUT";
  req.url = "http://[bad";
  CHECK((*t)->Perform(req).curl_code == CURLE_URL_MALFORMAT);
  std::string stats;
  (*t)->DumpStats(&stats);
  CHECK(stats.find("http_requests 4\n") != std::string::npos);
  CHECK(stats.find("http_handles_created 1\n") != std::string::npos);  // one handle, reused
  CHECK(stats.find("http_transport_errors 4\n") != std::string::npos);
}

}  // namespace
}  // namespace s3disk
