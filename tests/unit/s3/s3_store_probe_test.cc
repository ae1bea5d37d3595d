// S3Store::Probe, the mount-time check, on a fake S3 answering as Ceph RGW answered s3disk for
// each bad setup: one line for the caller to show ("bucket NAME: what is wrong (HTTP ...):
// the fix"), nothing logged, no retry. And a bucket name too short for any server.
#include <catch2/catch.hpp>

#include "base/log.h"
#include "capture_stderr.h"
#include "s3/fake_s3.h"
#include "s3/s3_store.h"

namespace s3disk {
namespace {

// RGW's error body: the code, an empty message.
std::string RgwError(const std::string& code) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
         "</Code><Message></Message><RequestId>tx0000042-0000-default</RequestId>"
         "<HostId>100f-default-default</HostId></Error>";
}

struct BadSetup {
  long status;
  std::string code;
  int64_t server_ahead_s;  // the server's clock against ours, for its Date header
  int err;
  std::string line;
};

TEST_CASE("s3_store: Probe reports a bad setup in one line that only the caller shows") {
  const std::vector<BadSetup> cases = {
      {403, "SignatureDoesNotMatch", 0, EACCES,
       "bucket bucket: the server rejects the signature: the secret access key is wrong (HTTP "
       "403 SignatureDoesNotMatch): check the key in access file /etc/s3disk.passwd, and "
       "--authVersion"},
      {404, "NoSuchBucket", 0, ENXIO,
       "bucket bucket: the bucket does not exist (HTTP 404 NoSuchBucket): create it, or check "
       "the bucket name and --baseURL"},
      {403, "RequestTimeTooSkewed", -20 * 60, EACCES,
       "bucket bucket: this machine's clock is 20 minutes ahead of the server's (HTTP 403 "
       "RequestTimeTooSkewed): set it right, e.g. with NTP"},
  };
  for (const BadSetup& c : cases) {
    INFO(c.code);
    S3Options o = Fixture::Options();
    o.key_source = "access file /etc/s3disk.passwd";
    Fixture f(o);
    const int64_t server_now = f.clock.WallSeconds() + c.server_ahead_s;
    f.fake->hook = [&](const Recorded&, int) -> std::optional<HttpResult> {
      return Respond(c.status, RgwError(c.code), {{"date", HttpDate(server_now)}});
    };
    LogToStderr(LogLevel::kInfo);
    Status st;
    const std::string logged = CaptureStderr([&] { st = f.store->Probe(); });
    CHECK(logged.empty());
    CHECK(st.code() == c.err);
    CHECK(st.message() == c.line);
    CHECK(f.fake->log.size() == 1);  // not retried
    CHECK(f.fake->log[0].query.at("max-keys") == "1");

    // The same answer to a request of the mounted disk is logged, once, as an ERROR.
    const std::string get_logged =
        CaptureStderr([&] { CHECK(f.store->Get("0000002a").status().code() == c.err); });
    CHECK(get_logged.find("ERROR: s3: get 0000002a: ") != std::string::npos);
    CHECK(get_logged.find(c.code) != std::string::npos);
    CHECK(get_logged.find('\n') == get_logged.size() - 1);
  }
}

TEST_CASE("s3_store: Probe's give-up after retries is one line too, logged at debug only") {
  S3Options o = Fixture::Options();
  o.max_retry_pause_ms = 500;
  Fixture f(o);
  f.fake->hook = [](const Recorded&, int) -> std::optional<HttpResult> {
    return Respond(503, RgwError("ServiceUnavailable"));
  };
  LogToStderr(LogLevel::kWarn);  // a daemon's terminal: the retries' INFO lines are not shown
  Status st;
  const std::string logged = CaptureStderr([&] { st = f.store->Probe(); });
  CHECK(logged.empty());
  CHECK(st.code() == EIO);
  CHECK(st.message().starts_with("bucket bucket: giving up after "));
  CHECK(st.message().find("HTTP 503 ServiceUnavailable") != std::string::npos);
  CHECK(f.fake->log.size() > 1);
  LogToStderr(LogLevel::kInfo);
}

TEST_CASE("s3_store: a bucket name shorter than 3 characters is refused at Create") {
  for (const char* name : {"a", "ab"}) {
    S3Options o = Fixture::Options();
    o.bucket = name;
    auto made =
        S3Store::CreateWithTransport(std::move(o), std::make_unique<FakeS3>(), &Clock::Real());
    CHECK(made.status().code() == EINVAL);
    CHECK(made.status().message() == "s3: bucket name \"" + std::string(name) +
                                         "\" is too short: S3 bucket names have at least 3 "
                                         "characters");
  }
  S3Options o = Fixture::Options();
  o.bucket = "abc";
  CHECK(
      S3Store::CreateWithTransport(std::move(o), std::make_unique<FakeS3>(), &Clock::Real()).ok());
}

}  // namespace
}  // namespace s3disk
