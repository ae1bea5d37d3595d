// SigV4 and V2 signing, following the AWS documentation of both algorithms.
#include "s3/s3_sign.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>

#include "base/crypto.h"
#include "base/text.h"

namespace s3disk {
namespace {

// Trims the ends and collapses inner runs of spaces, as both canonical forms require.
std::string CanonicalValue(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// lowercase name -> values joined with ',' (sorted by name, which std::map gives).
std::map<std::string, std::string> CanonicalHeaders(const SignHeaders& headers, bool amz_only) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : headers) {
    std::string lower = ToLower(name);
    if (amz_only && !lower.starts_with("x-amz-")) continue;
    std::string v = CanonicalValue(value);
    auto [it, inserted] = out.emplace(lower, v);
    if (!inserted) it->second += "," + v;
  }
  return out;
}

std::string FormatTime(int64_t epoch_s, const char* fmt) {
  time_t t = static_cast<time_t>(epoch_s);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

}  // namespace

std::string UriEncode(std::string_view s, bool keep_slash) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string AmzDate(int64_t epoch_s) { return FormatTime(epoch_s, "%Y%m%dT%H%M%SZ"); }

std::string HttpDate(int64_t epoch_s) {
  // strftime's %a/%b follow the locale; HTTP wants the English names.
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t t = static_cast<time_t>(epoch_s);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday,
           kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::optional<int64_t> ParseHttpDate(std::string_view date) {
  static const std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  char day[4] = {}, month[4] = {};
  struct tm tm {};
  int used = 0;
  const std::string text(date);
  // Field widths keep every number in range of its int.
  if (sscanf(text.c_str(), "%3s, %2d %3s %4d %2d:%2d:%2d GMT%n", day, &tm.tm_mday, month,
             &tm.tm_year, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 7 ||
      static_cast<size_t>(used) != text.size()) {
    return std::nullopt;
  }
  const size_t m = kMonths.find(month);
  if (strlen(month) != 3 || m == std::string_view::npos || m % 3 != 0 || tm.tm_mday < 1 ||
      tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 ||
      tm.tm_sec < 0 || tm.tm_sec > 60 || tm.tm_year < 1970) {
    return std::nullopt;
  }
  tm.tm_mon = static_cast<int>(m / 3);
  tm.tm_year -= 1900;
  const time_t t = timegm(&tm);
  if (t == static_cast<time_t>(-1)) return std::nullopt;
  return static_cast<int64_t>(t);
}

std::string CanonicalQueryV4(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& [name, value] : query) {
    encoded.emplace_back(UriEncode(name, false), UriEncode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

SigningKeyV4 DeriveSigningKeyV4(std::string_view secret_key, std::string_view day,
                                std::string_view region, std::string_view service) {
  std::string secret = "AWS4" + std::string(secret_key);
  auto k_date = HmacSha256(AsBytes(secret), AsBytes(day));
  auto k_region = HmacSha256(k_date, AsBytes(region));
  auto k_service = HmacSha256(k_region, AsBytes(service));
  return HmacSha256(k_service, AsBytes("aws4_request"));
}

SigV4Result SignV4(const SigV4Request& request, std::string_view access_id,
                   std::string_view secret_key) {
  return SignV4WithKey(
      request, access_id,
      DeriveSigningKeyV4(secret_key, std::string_view(request.amz_date).substr(0, 8),
                         request.region, request.service));
}

SigV4Result SignV4WithKey(const SigV4Request& request, std::string_view access_id,
                          const SigningKeyV4& key) {
  SigV4Result r;
  auto headers = CanonicalHeaders(request.headers, false);
  std::string canonical_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name + ":" + value + "\n";
    if (!r.signed_headers.empty()) r.signed_headers += ';';
    r.signed_headers += name;
  }
  r.canonical_request = request.method + "\n" + request.canonical_uri + "\n" +
                        CanonicalQueryV4(request.query) + "\n" + canonical_headers + "\n" +
                        r.signed_headers + "\n" + request.payload_sha256;

  std::string day = request.amz_date.substr(0, 8);
  std::string scope = day + "/" + request.region + "/" + request.service + "/aws4_request";
  r.string_to_sign = "AWS4-HMAC-SHA256\n" + request.amz_date + "\n" + scope + "\n" +
                     Sha256Hex(AsBytes(r.canonical_request));
  r.signature = HexEncode(HmacSha256(key, AsBytes(r.string_to_sign)));
  r.authorization = "AWS4-HMAC-SHA256 Credential=" + std::string(access_id) + "/" + scope +
                    ",SignedHeaders=" + r.signed_headers + ",Signature=" + r.signature;
  return r;
}

std::string StringToSignV2(std::string_view method, std::string_view content_md5,
                           std::string_view content_type, std::string_view date,
                           const SignHeaders& headers, std::string_view canonical_resource) {
  std::string out;
  out.append(method).append("\n");
  out.append(content_md5).append("\n");
  out.append(content_type).append("\n");
  out.append(date).append("\n");
  for (const auto& [name, value] : CanonicalHeaders(headers, true)) {
    out += name + ":" + value + "\n";
  }
  out.append(canonical_resource);
  return out;
}

std::string SignatureV2(std::string_view secret_key, std::string_view string_to_sign) {
  return Base64Encode(HmacSha1(AsBytes(secret_key), AsBytes(string_to_sign)));
}

}  // namespace s3disk
