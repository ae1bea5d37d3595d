#include "s3/setup_error.h"

#include <cstdlib>

#include "s3/s3_sign.h"

namespace s3disk {
namespace {

const std::string* FindHeader(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return &v;
  }
  return nullptr;
}

// Where the user set the secret key (or, with id, the access key ID) that came from source.
std::string KeyPlace(const std::string& source, bool id) {
  if (source == "command line") return id ? "--accessId" : "--accessKey";
  if (source == "environment") return id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY";
  if (!source.empty()) return source;  // "access file /x", "/x/credentials profile p"
  return id ? "--accessFile or --accessId" : "--accessFile or --accessKey";
}

// This machine's clock against the server's, from the answer's Date header; "" when either is
// unknown or they are within a minute (then the server's own limit is what was crossed).
std::string Skew(const HttpHeaders& headers, int64_t now_s) {
  const std::string* date = FindHeader(headers, "date");
  if (date == nullptr || now_s == 0) return "";
  std::optional<int64_t> server_s = ParseHttpDate(*date);
  if (!server_s) return "";
  const int64_t ahead = now_s - *server_s;
  // Under a minute: the server's own limit is what was crossed; over a year: a bad header.
  if (std::llabs(ahead) < 60 || std::llabs(ahead) > 366 * 86400) return "";
  return RoughDuration(std::llabs(ahead)) + (ahead > 0 ? " ahead of" : " behind");
}

// The server's own words, on one line and bounded: a body may hold anything.
std::string OneLine(const std::string& text) {
  std::string out;
  for (char c : text.substr(0, 200)) out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
  return out;
}

std::string Forbidden(const S3ErrorXml& error, const std::string& status,
                      const HttpHeaders& headers, const SetupContext& context) {
  const std::string& code = error.code;
  if (code == "RequestTimeTooSkewed") {
    std::string skew = Skew(headers, context.now_s);
    return "this machine's clock is " + (skew.empty() ? "too far from" : skew) + " the server's (" +
           status + "): set it right, e.g. with NTP";
  }
  if (code == "SignatureDoesNotMatch") {
    return "the server rejects the signature: the secret access key is wrong (" + status +
           "): check the key in " + KeyPlace(context.key_source, false) + ", and --authVersion";
  }
  if (code == "InvalidAccessKeyId") {
    return "the server does not know the access key ID (" + status + "): check the ID in " +
           KeyPlace(context.key_source, true);
  }
  if (context.unsigned_requests) {
    return "access denied to unsigned requests (" + status +
           "): the bucket or its blocks are not public (write them with "
           "--accessType=public-read); or give credentials (--accessFile)";
  }
  // Another reason (InvalidObjectState, ...): the server's words say which. A denial may name
  // what was denied (a KMS key the user may not use): its words go before the usual hints.
  const std::string words = error.message.empty() ? "" : ": " + OneLine(error.message);
  if (!code.empty() && code != "AccessDenied") return "access denied (" + status + words + ")";
  const std::string detail = error.message == "Access Denied" ? "" : words;
  std::string from = context.key_source.empty() ? "" : " (from " + context.key_source + ")";
  return "access denied (" + status + detail + "): check that the credentials" + from +
         " are right and may use this bucket, and that the system clock is right";
}

std::string Redirect(const S3ErrorXml& error, const std::string& status,
                     const HttpHeaders& headers) {
  std::string region = error.region;
  if (const std::string* r = FindHeader(headers, "x-amz-bucket-region"); r && !r->empty()) {
    region = *r;
  }
  if (!region.empty()) {
    std::string to = error.endpoint.empty() ? "" : " to " + error.endpoint;
    return "the bucket is in region " + region + " (" + status + to + "): use --region=" + region;
  }
  if (!error.endpoint.empty()) {
    return "the bucket must be reached at endpoint " + error.endpoint + " (" + status +
           "): check --region and --baseURL";
  }
  return "the server sends this bucket elsewhere (" + status + "): check --baseURL and --region";
}

}  // namespace

std::string DescribeSetupError(long http_status, const S3ErrorXml& error,
                               const HttpHeaders& headers, const SetupContext& context) {
  std::string status = "HTTP " + std::to_string(http_status);
  if (!error.code.empty()) status += " " + error.code;
  if (http_status == 404 && error.code == "NoSuchBucket") {
    return "the bucket does not exist (" + status +
           "): create it, or check the bucket name and --baseURL";
  }
  if (http_status == 403) return Forbidden(error, status, headers, context);
  if (http_status == 301 || http_status == 302 || http_status == 307 || http_status == 308 ||
      (http_status == 400 && !error.region.empty())) {
    return Redirect(error, status, headers);
  }
  if (http_status == 400 && error.code == "InvalidBucketName") {
    return "the bucket name is not valid (" + status +
           "): check it (3 to 63 characters: lowercase letters, digits, dots, hyphens)";
  }
  return "";
}

std::string RoughDuration(int64_t seconds) {
  auto count = [](int64_t n, const char* unit) {
    return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
  };
  if (seconds < 120) return count(seconds, "second");
  if (seconds < 2 * 3600) return count((seconds + 30) / 60, "minute");
  if (seconds < 2 * 86400) return count((seconds + 1800) / 3600, "hour");
  return count((seconds + 43200) / 86400, "day");
}

}  // namespace s3disk
