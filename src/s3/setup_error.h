// Setup errors: the S3 answers that mean s3disk is set up wrong for this bucket, not that a
// request failed on the way: a wrong secret key or access key ID, a clock too far off, a
// bucket that does not exist, is in another region or must be reached at another endpoint.
// Each is worded as one line that names the problem, then the fix:
//   the bucket does not exist (HTTP 404 NoSuchBucket): create it, or check ...
// The server's own <Message> is left out where these words say more (AWS's are long); a 403
// for another reason, or a denial that says what was denied, keeps it, on one line.
//
// What the servers answer (the unit tests hold AWS's bodies; Ceph RGW 16 was checked by hand,
// and its answers are the fakes of s3_store_probe_test.cc):
//   | setup                | AWS S3                                  | Ceph RGW                |
//   |----------------------|-----------------------------------------|-------------------------|
//   | wrong secret key     | 403 SignatureDoesNotMatch (V4 and V2)   | the same, empty message |
//   | wrong --region, V4   | 400 AuthorizationHeaderMalformed with   | accepted: any region    |
//   |                      | <Region>, or 301 PermanentRedirect with | the signature names     |
//   |                      | x-amz-bucket-region (another region's   | (even "mars-north-9")   |
//   |                      | endpoint, which --region picks)         |                         |
//   | no such bucket       | 404 NoSuchBucket                        | the same                |
//   | clock 20 min off     | 403 RequestTimeTooSkewed, the times in  | the same, no times in   |
//   |                      | the body and a Date header              | the body; Date header   |
//   | bucket name "ab"     | 400 InvalidBucketName                   | 404 NoSuchBucket to a   |
//   |                      |                                         | listing, 400 Invalid-   |
//   |                      |                                         | BucketName to a create  |
// (config.cc refuses a name that short before any request: CheckBucketName.)
// Pure functions: the caller gives its clock.
#pragma once

#include <cstdint>
#include <string>

#include "s3/http.h"
#include "s3/s3_xml.h"

namespace s3disk {

// What the caller knows that the answer does not say.
struct SetupContext {
  // Where the keys came from (Credentials::source: "access file /x", "environment", ...);
  // empty when not known.
  std::string key_source;
  bool unsigned_requests = false;  // no credentials: a public bucket is expected
  // This machine's clock (epoch seconds) when the answer came; 0 when not known. With the
  // answer's Date header it measures a skewed clock.
  int64_t now_s = 0;
};

// The line for an answer that means a setup error, or "" when it is not one. Setup errors:
// 404 NoSuchBucket; any 403; 301, 302, 307, 308, and a 400 naming a <Region>; 400
// InvalidBucketName.
std::string DescribeSetupError(long http_status, const S3ErrorXml& error,
                               const HttpHeaders& headers, const SetupContext& context);

// "20 minutes", "3 hours", "2 days": a duration in seconds, roughly, for a human.
std::string RoughDuration(int64_t seconds);

}  // namespace s3disk
