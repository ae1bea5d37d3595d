// CurlTransport without a network: option checks, header lookup, and transport errors that
// libcurl reports before connecting; and the bounds of a response, against a local server
// that sends too much (flood_server.h). Real requests are covered by tests/t_s3_*.sh.
#include "s3/http.h"

#include <curl/curl.h>

#include <catch2/catch.hpp>

#include "s3/flood_server.h"

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

using testing::FloodServer;

constexpr uint64_t kBound = 1 << 20;
// What a client that cuts off at kBound lets the server send on one connection: the bound
// plus what the socket buffers of the loopback connection hold (about 12 MiB at most seen).
// The server sends 64 MiB to a client without a bound.
constexpr uint64_t kMostSentWhenCut = 32ull << 20;

std::unique_ptr<CurlTransport> Transport() {
  HttpOptions o;
  o.request_timeout_s = 20;  // a hang fails the test instead of blocking it
  auto t = CurlTransport::Create(o);
  REQUIRE(t.ok());
  return std::move(*t);
}

void CheckCutOff(const HttpResult& r, const std::string& bound) {
  INFO("curl " << r.curl_code << " (" << r.curl_error << "), status " << r.response.status
               << ", body " << r.response.Body().size() << " bytes");
  CHECK(r.curl_code == CURLE_FILESIZE_EXCEEDED);
  CHECK(r.curl_error.find(bound + " bytes") != std::string::npos);
  CHECK(r.response.status == 0);
  CHECK(r.response.Body().size() <= kBound);
}

TEST_CASE("http: a body over the request's bound is cut off as it arrives, whatever its framing") {
  const struct {
    FloodServer::Mode mode;
    uint64_t cap;
    const char* what;
  } cases[] = {
      {FloodServer::Mode::kChunkedEndless, 64ull << 20, "chunked, without end"},
      {FloodServer::Mode::kHugeLength, 64ull << 20, "Content-Length: 1 TiB"},
      {FloodServer::Mode::kTooLongLength, 8ull << 20, "Content-Length: 8 MiB, all sent"},
  };
  auto t = Transport();
  for (const auto& c : cases) {
    INFO(c.what);
    FloodServer server(c.mode, c.cap);
    HttpRequest req;
    req.url = server.BaseUrl() + "bucket/key";
    req.max_body_bytes = kBound;
    CheckCutOff(t->Perform(req), std::to_string(kBound));
    // Into a caller's buffer of the bound's size (a block): the same.
    std::vector<uint8_t> block(kBound);
    req.body_into = block;
    CheckCutOff(t->Perform(req), std::to_string(kBound));
    server.Stop();
    CHECK(server.connections() == 2);
    CHECK(server.most_sent() < kMostSentWhenCut);
  }
}

TEST_CASE("http: PerformMany cuts off each oversized body of its batch") {
  FloodServer server(FloodServer::Mode::kChunkedEndless);
  auto t = Transport();
  std::vector<HttpRequest> reqs(3);
  std::vector<std::vector<uint8_t>> blocks(3, std::vector<uint8_t>(kBound));
  for (size_t i = 0; i < reqs.size(); i++) {
    reqs[i].url = server.BaseUrl() + "bucket/key" + std::to_string(i);
    reqs[i].max_body_bytes = kBound;
    reqs[i].body_into = blocks[i];
  }
  std::vector<HttpResult> results = t->PerformMany(reqs);
  REQUIRE(results.size() == 3);
  for (const HttpResult& r : results) CheckCutOff(r, std::to_string(kBound));
  server.Stop();
  CHECK(server.connections() == 3);
  CHECK(server.most_sent() < kMostSentWhenCut);
}

TEST_CASE("http: an error body is bounded however much the request accepts") {
  FloodServer server(FloodServer::Mode::kErrorEndless);
  auto t = Transport();
  HttpRequest req;
  req.url = server.BaseUrl() + "bucket/key";
  req.max_body_bytes = 1ull << 30;  // a success body this big would do; an error body not
  CheckCutOff(t->Perform(req), std::to_string(kMaxErrorBodyBytes));
  server.Stop();
  CHECK(server.most_sent() < kMostSentWhenCut);
}

TEST_CASE("http: response headers without end are cut off") {
  FloodServer server(FloodServer::Mode::kHeadersEndless, 16ull << 20);
  auto t = Transport();
  HttpRequest req;
  req.url = server.BaseUrl() + "bucket/key";
  HttpResult r = t->Perform(req);
  INFO("curl " << r.curl_code << " (" << r.curl_error << ")");
  CHECK(r.curl_code == CURLE_FILESIZE_EXCEEDED);
  CHECK(r.curl_error.find("headers") != std::string::npos);
  CHECK(r.response.headers.size() * 1000 <= kMaxHeaderBytes);
  server.Stop();
  CHECK(server.most_sent() < kMostSentWhenCut);
}

TEST_CASE("http: a body within the bound, and a HEAD's Content-Length, are fine") {
  FloodServer server(FloodServer::Mode::kTooLongLength, 256 << 10);
  auto t = Transport();
  HttpRequest req;
  req.url = server.BaseUrl() + "bucket/key";
  req.max_body_bytes = 256 << 10;
  HttpResult r = t->Perform(req);
  CHECK(r.curl_code == CURLE_OK);
  CHECK(r.response.status == 200);
  CHECK(r.response.Body().size() == 256 << 10);
  // A HEAD's Content-Length is the object's size, not a body that comes.
  req.method = "HEAD";
  req.max_body_bytes = 1;
  r = t->Perform(req);
  CHECK(r.curl_code == CURLE_OK);
  CHECK(r.response.status == 200);
}

}  // namespace
}  // namespace s3disk
