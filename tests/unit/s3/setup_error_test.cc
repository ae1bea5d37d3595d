// The answers of a bad setup, as AWS S3 and Ceph RGW send them (bodies and headers of their
// documented or observed shape; request IDs made up), through ClassifyHttp: each fails at
// once with one line that names the problem and the fix, and never the access key ID or the
// string it signed (the server's message only where it says what these words cannot).
#include "s3/setup_error.h"

#include <curl/curl.h>

#include <catch2/catch.hpp>

#include "s3/retry.h"
#include "s3/s3_sign.h"

namespace s3disk {
namespace {

constexpr int64_t kNow = 1'780'000'000;  // this machine's clock in these tests

std::string Xml(const std::string& inner) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>" + inner + "</Error>";
}

// What a failed answer comes to: the verdict must be kFail, the reason one line.
RetryDecision Classify(long status, const std::string& body, HttpHeaders headers = {},
                       SetupContext context = {}) {
  if (context.now_s == 0) context.now_s = kNow;
  RetryDecision d = ClassifyHttp(CURLE_OK, status, headers, body, context);
  INFO("reason: " << d.reason);
  CHECK(d.verdict == RetryVerdict::kFail);
  CHECK(d.reason.find('\n') == std::string::npos);
  return d;
}

void CheckHas(const std::string& text, std::vector<std::string> fragments) {
  INFO("text: " << text);
  for (const std::string& f : fragments) CHECK(text.find(f) != std::string::npos);
}

void CheckLacks(const std::string& text, std::vector<std::string> fragments) {
  INFO("text: " << text);
  for (const std::string& f : fragments) CHECK(text.find(f) == std::string::npos);
}

TEST_CASE("setup_error: a wrong secret key names where the key came from, and --authVersion") {
  // AWS echoes the access key ID and what it signed; none of it belongs in the line.
  const std::string aws =
      Xml("<Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not "
          "match the signature you provided. Check your key and signing method.</Message>"
          "<AWSAccessKeyId>AKIAEXAMPLEID0000001</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n"
          "20260601T120000Z\n20260601/us-east-1/s3/aws4_request\n0123abcd</StringToSign>"
          "<SignatureProvided>5d1c0ffee</SignatureProvided><CanonicalRequest>GET\n/bucket\n"
          "list-type=2&amp;max-keys=1\nhost:s3.amazonaws.com\n</CanonicalRequest>"
          "<RequestId>4F1A9C2B7D3E5F60</RequestId><HostId>aG9zdC1pZA==</HostId>");
  SetupContext from_file;
  from_file.key_source = "access file /root/.s3backer_passwd";
  RetryDecision d = Classify(403, aws, {}, from_file);
  CHECK(d.err == EACCES);
  CHECK(d.reason ==
        "the server rejects the signature: the secret access key is wrong (HTTP 403 "
        "SignatureDoesNotMatch): check the key in access file /root/.s3backer_passwd, and "
        "--authVersion");
  CheckLacks(d.reason, {"AKIAEXAMPLEID", "AWS4-HMAC", "we calculated"});

  // Ceph RGW: the code alone, an empty message.
  const std::string rgw =
      Xml("<Code>SignatureDoesNotMatch</Code><Message></Message><RequestId>tx000001-0000-default"
          "</RequestId><HostId>100f-default-default</HostId>");
  CheckHas(Classify(403, rgw).reason,
           {"secret access key is wrong", "--accessFile or --accessKey", "--authVersion"});
  SetupContext env;
  env.key_source = "environment";
  CheckHas(Classify(403, rgw, {}, env).reason, {"check the key in AWS_SECRET_ACCESS_KEY"});
  SetupContext line;
  line.key_source = "command line";
  CheckHas(Classify(403, rgw, {}, line).reason, {"check the key in --accessKey"});
}

TEST_CASE("setup_error: an unknown access key ID, and access denied") {
  const std::string aws =
      Xml("<Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not "
          "exist in our records.</Message><AWSAccessKeyId>AKIAEXAMPLEID0000001</AWSAccessKeyId>"
          "<RequestId>0A1B2C3D4E5F6071</RequestId><HostId>aG9zdA==</HostId>");
  SetupContext env;
  env.key_source = "environment";
  RetryDecision d = Classify(403, aws, {}, env);
  CHECK(d.err == EACCES);
  CHECK(d.reason ==
        "the server does not know the access key ID (HTTP 403 InvalidAccessKeyId): check the "
        "ID in AWS_ACCESS_KEY_ID");

  const std::string denied =
      Xml("<Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>1B2C3D4E5F607182"
          "</RequestId><HostId>aG9zdA==</HostId>");
  CheckHas(Classify(403, denied).reason,
           {"access denied (HTTP 403 AccessDenied)", "credentials", "clock"});
  SetupContext anonymous;
  anonymous.unsigned_requests = true;
  CHECK(Classify(403, denied, {}, anonymous).reason ==
        "access denied to unsigned requests (HTTP 403 AccessDenied): the bucket or its blocks "
        "are not public (write them with --accessType=public-read); or give credentials "
        "(--accessFile)");
  CheckHas(Classify(403, "").reason, {"access denied (HTTP 403)"});  // HEAD: no body
  // Another reason: the server's words, on one line; not a hint at credentials or the clock.
  const std::string archived =
      Xml("<Code>InvalidObjectState</Code><Message>The operation is not valid for the\n"
          "object's storage class</Message><RequestId>2C3D4E5F60718293</RequestId>");
  CHECK(Classify(403, archived).reason ==
        "access denied (HTTP 403 InvalidObjectState: The operation is not valid for the "
        "object's storage class)");
  const std::string kms =
      Xml("<Code>AccessDenied</Code><Message>User is not authorized to perform: "
          "kms:GenerateDataKey</Message><RequestId>3D4E5F6071829304</RequestId>");
  CheckHas(Classify(403, kms).reason,
           {"access denied (HTTP 403 AccessDenied: User is not authorized to perform: "
            "kms:GenerateDataKey): check that the credentials",
            "clock"});
}

TEST_CASE("setup_error: a wrong region with V4 names the bucket's region") {
  // The global endpoint with another region's signature.
  const std::string malformed = Xml(
      "<Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is "
      "malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message>"
      "<Region>eu-west-1</Region><RequestId>2C3D4E5F60718293</RequestId><HostId>aG9zdA==</HostId>");
  RetryDecision d = Classify(400, malformed, {{"x-amz-bucket-region", "eu-west-1"}});
  CHECK(d.err == EIO);
  CHECK(d.reason ==
        "the bucket is in region eu-west-1 (HTTP 400 AuthorizationHeaderMalformed): use "
        "--region=eu-west-1");
  CHECK(Classify(400, malformed).reason == d.reason);  // from <Region> alone

  // Another region's endpoint (--region sets it): a redirect, the region in a header.
  const std::string redirect =
      Xml("<Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be "
          "addressed using the specified endpoint. Please send all future requests to this "
          "endpoint.</Message><Endpoint>mybucket.s3.amazonaws.com</Endpoint><Bucket>mybucket"
          "</Bucket><RequestId>3D4E5F6071829304</RequestId><HostId>aG9zdA==</HostId>");
  d = Classify(301, redirect, {{"x-amz-bucket-region", "us-east-1"}});
  CHECK(d.err == EIO);
  CHECK(d.reason ==
        "the bucket is in region us-east-1 (HTTP 301 PermanentRedirect to "
        "mybucket.s3.amazonaws.com): use --region=us-east-1");
  // A HEAD's redirect has no body.
  CHECK(Classify(301, "", {{"x-amz-bucket-region", "ap-south-1"}}).reason ==
        "the bucket is in region ap-south-1 (HTTP 301): use --region=ap-south-1");
  // No region anywhere: the endpoint, and where to look.
  CHECK(Classify(301, redirect).reason ==
        "the bucket must be reached at endpoint mybucket.s3.amazonaws.com (HTTP 301 "
        "PermanentRedirect): check --region and --baseURL");
  CheckHas(Classify(307, "").reason, {"elsewhere (HTTP 307)", "--baseURL", "--region"});
}

TEST_CASE("setup_error: a missing bucket is never 'not found' (ENOENT): create it") {
  const std::string aws =
      Xml("<Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>"
          "<BucketName>no-such-bucket</BucketName><RequestId>4E5F607182930415</RequestId>"
          "<HostId>aG9zdA==</HostId>");
  RetryDecision d = Classify(404, aws);
  CHECK(d.err == ENXIO);
  CHECK(d.reason ==
        "the bucket does not exist (HTTP 404 NoSuchBucket): create it, or check the bucket "
        "name and --baseURL");
  const std::string rgw =
      Xml("<Code>NoSuchBucket</Code><Message></Message><BucketName>no-such-bucket</BucketName>"
          "<RequestId>tx000002-0000-default</RequestId><HostId>100f-default-default</HostId>");
  CHECK(Classify(404, rgw).reason == d.reason);
}

TEST_CASE("setup_error: a skewed clock says by how much, from the answer's Date header") {
  // AWS gives its times in the body too; RGW only the code. Both send a Date header.
  const std::string aws =
      Xml("<Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and "
          "the current time is too large.</Message><RequestTime>20260528T205320Z</RequestTime>"
          "<ServerTime>2026-05-28T20:33:20Z</ServerTime><MaxAllowedSkewMilliseconds>900000"
          "</MaxAllowedSkewMilliseconds><RequestId>5F60718293041526</RequestId><HostId>aG9zdA=="
          "</HostId>");
  const std::string rgw =
      Xml("<Code>RequestTimeTooSkewed</Code><Message></Message><RequestId>tx000003-0000-default"
          "</RequestId><HostId>100f-default-default</HostId>");
  const HttpHeaders server_20_min_behind = {{"date", HttpDate(kNow - 20 * 60)}};
  for (const std::string& body : {aws, rgw}) {
    RetryDecision d = Classify(403, body, server_20_min_behind);
    CHECK(d.err == EACCES);
    CHECK(d.reason ==
          "this machine's clock is 20 minutes ahead of the server's (HTTP 403 "
          "RequestTimeTooSkewed): set it right, e.g. with NTP");
  }
  CheckHas(Classify(403, rgw, {{"date", HttpDate(kNow + 3 * 3600)}}).reason,
           {"is 3 hours behind the server's"});
  // No Date, or one that cannot be read: the problem and the fix all the same.
  // Nor one absurdly far: a bad header, not a clock decades off.
  for (const HttpHeaders& h : {HttpHeaders{}, HttpHeaders{{"date", "yesterday"}},
                               HttpHeaders{{"date", "Thu, 01 Jan 1971 00:00:00 GMT"}}}) {
    CHECK(Classify(403, rgw, h).reason ==
          "this machine's clock is too far from the server's (HTTP 403 RequestTimeTooSkewed): "
          "set it right, e.g. with NTP");
  }
}

TEST_CASE("setup_error: an invalid bucket name") {
  const std::string aws =
      Xml("<Code>InvalidBucketName</Code><Message>The specified bucket is not valid.</Message>"
          "<BucketName>ab</BucketName><RequestId>6071829304152637</RequestId><HostId>aG9zdA=="
          "</HostId>");
  CheckHas(Classify(400, aws).reason,
           {"the bucket name is not valid (HTTP 400 InvalidBucketName)", "3 to 63 characters"});
}

TEST_CASE("setup_error: other answers are not setup errors") {
  S3ErrorXml error;
  error.code = "NoSuchKey";
  CHECK(DescribeSetupError(404, error, {}, {}).empty());
  error.code = "InvalidArgument";
  CHECK(DescribeSetupError(400, error, {}, {}).empty());
  error.code = "InternalError";
  CHECK(DescribeSetupError(500, error, {}, {}).empty());
}

TEST_CASE("setup_error: RoughDuration") {
  CHECK(RoughDuration(1) == "1 second");
  CHECK(RoughDuration(90) == "90 seconds");
  CHECK(RoughDuration(20 * 60 + 10) == "20 minutes");
  CHECK(RoughDuration(3 * 3600) == "3 hours");
  CHECK(RoughDuration(86400 * 400) == "400 days");
}

}  // namespace
}  // namespace s3disk
