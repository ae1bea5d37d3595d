// Request signing for S3: AWS Signature Version 4 (the default) and Version 2 (--authVersion=aws2).
// Pure functions of their inputs (no clock, no I/O), so they are checked against the examples
// AWS publishes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace s3disk {

using SignHeaders = std::vector<std::pair<std::string, std::string>>;

// SHA-256 of the empty string: the payload hash of a request without a body.
inline constexpr char kEmptySha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// The payload hash of a request whose body is not hashed into the signature.
inline constexpr char kUnsignedPayload[] = "UNSIGNED-PAYLOAD";

// RFC 3986 percent-encoding as SigV4 wants it: every byte but A-Z a-z 0-9 - . _ ~ is encoded
// (uppercase hex); '/' is kept when keep_slash (object key paths).
std::string UriEncode(std::string_view s, bool keep_slash);

// "20130524T000000Z" for SigV4's x-amz-date.
std::string AmzDate(int64_t epoch_s);
// "Fri, 24 May 2013 00:00:00 GMT" (RFC 1123), for the Date header.
std::string HttpDate(int64_t epoch_s);
// The epoch seconds of an RFC 1123 date as HttpDate writes it (servers' Date header); nullopt
// when it is not one.
std::optional<int64_t> ParseHttpDate(std::string_view date);

struct SigV4Request {
  std::string method;
  std::string canonical_uri;  // the path as sent, already percent-encoded ("/bucket/key")
  // Query parameters, not encoded ("prefix" -> "vol1/"); a flag parameter has an empty value.
  std::vector<std::pair<std::string, std::string>> query;
  // Every header to sign, any case (must include host and x-amz-date; x-amz-content-sha256
  // for S3).
  SignHeaders headers;
  std::string payload_sha256;  // lowercase hex, or "UNSIGNED-PAYLOAD"
  std::string amz_date;        // "20130524T000000Z", equal to the x-amz-date header
  std::string region;          // "us-east-1"
  std::string service = "s3";
};

struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;range;x-amz-content-sha256;x-amz-date"
  std::string signature;       // 64 lowercase hex digits
  std::string authorization;   // the whole Authorization header value
};

// The canonical query string: names and values encoded, sorted, joined with '&'.
std::string CanonicalQueryV4(const std::vector<std::pair<std::string, std::string>>& query);
SigV4Result SignV4(const SigV4Request& request, std::string_view access_id,
                   std::string_view secret_key);

// The SigV4 signing key of one day ("20130524"), region and service: four HMACs that are the
// same for every request of that day, so a caller signing many may derive it once a day.
using SigningKeyV4 = std::array<uint8_t, 32>;
SigningKeyV4 DeriveSigningKeyV4(std::string_view secret_key, std::string_view day,
                                std::string_view region, std::string_view service);
// SignV4 with the key DeriveSigningKeyV4 gives for the request's day, region and service.
SigV4Result SignV4WithKey(const SigV4Request& request, std::string_view access_id,
                          const SigningKeyV4& key);

// Signature Version 2. The string to sign is
//   METHOD \n Content-MD5 \n Content-Type \n Date \n CanonicalizedAmzHeaders CanonicalizedResource
// where the amz headers (x-amz-*, lowercased, sorted, duplicates joined with ',') each end with
// '\n', and date is empty when an x-amz-date header is sent instead.
std::string StringToSignV2(std::string_view method, std::string_view content_md5,
                           std::string_view content_type, std::string_view date,
                           const SignHeaders& headers, std::string_view canonical_resource);
// Base64 of HMAC-SHA1(secret, string_to_sign).
std::string SignatureV2(std::string_view secret_key, std::string_view string_to_sign);

}  // namespace s3disk
