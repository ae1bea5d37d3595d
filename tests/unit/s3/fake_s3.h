// FakeS3: a scripted in-memory S3 bucket behind the HttpTransport interface (no network),
// which records every request; Fixture: an S3Store over it, on a fake clock. For the S3Store
// unit tests.
#pragma once

#include <catch2/catch.hpp>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "base/crypto.h"
#include "object_store_contract.h"
#include "s3/s3_sign.h"
#include "s3/s3_store.h"
#include "s3/s3_xml.h"

namespace s3disk {

// Escapes & < > " ' in XML text, as a server does in a listing's keys.
inline std::string XmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

using testing::Bytes;

inline std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

inline std::string Str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

struct Recorded {
  std::string method, url, path, body;
  std::map<std::string, std::string> query;
  HttpHeaders headers;
  uint64_t max_body_bytes = 0;
  std::string Header(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      std::string lower = n;
      for (auto& c : lower) c = static_cast<char>(tolower(c));
      if (lower == name) return v;
    }
    return "";
  }
};

inline HttpResult Respond(long status, std::string body = "", HttpHeaders headers = {}) {
  HttpResult r;
  r.response.status = status;
  r.response.body.assign(body.begin(), body.end());
  r.response.headers = std::move(headers);
  return r;
}

inline HttpResult ErrorResponse(long status, const std::string& code) {
  // AWS's words for a plain AccessDenied; any other message is a reason of its own.
  const std::string message = code == "AccessDenied" ? "Access Denied" : "fake";
  return Respond(status,
                 "<Error><Code>" + code + "</Code><Message>" + message + "</Message></Error>");
}

// An in-memory S3 bucket "bucket" reached at http://127.0.0.1:9000/ (path style).
class FakeS3 : public HttpTransport {
 public:
  struct Stored {
    std::string body;
    Metadata meta;
  };
  // Called first for every request; a result short-circuits the fake bucket.
  std::function<std::optional<HttpResult>(const Recorded&, int n)> hook;
  // Called with every normal answer; may change it (corrupt a body, ...).
  std::function<void(const Recorded&, HttpResult*)> after;
  size_t page_size = 1000;

  std::mutex mu;
  std::map<std::string, Stored> objects;
  std::vector<Recorded> log;

  HttpResult Perform(const HttpRequest& req) override {
    Recorded rec;
    rec.method = req.method;
    rec.url = req.url;
    rec.headers = req.headers;
    rec.max_body_bytes = req.max_body_bytes;
    rec.body.assign(req.body.begin(), req.body.end());
    std::string rest = req.url.substr(req.url.find("://") + 3);
    rest = rest.substr(rest.find('/'));
    size_t q = rest.find('?');
    rec.path = PercentDecode(rest.substr(0, q));
    if (q != std::string::npos) {
      std::string query = rest.substr(q + 1);
      while (!query.empty()) {
        size_t amp = query.find('&');
        std::string part = query.substr(0, amp);
        size_t eq = part.find('=');
        rec.query[PercentDecode(part.substr(0, eq))] =
            eq == std::string::npos ? "" : PercentDecode(part.substr(eq + 1));
        query = amp == std::string::npos ? "" : query.substr(amp + 1);
      }
    }
    std::lock_guard lock(mu);
    log.push_back(rec);
    if (hook) {
      if (auto r = hook(rec, static_cast<int>(log.size()))) return *r;
    }
    HttpResult r = Handle(rec);
    if (after) after(rec, &r);
    return r;
  }

  size_t Count(const std::string& method) {
    std::lock_guard lock(mu);
    size_t n = 0;
    for (const auto& r : log) n += r.method == method;
    return n;
  }

 private:
  HttpResult Handle(const Recorded& rec) {
    std::string path = rec.path;
    if (!path.starts_with("/bucket")) return ErrorResponse(404, "NoSuchBucket");
    path = path.substr(7);
    if (path.empty()) {
      if (rec.method == "POST" && rec.query.count("delete")) return BulkDelete(rec);
      if (rec.method == "GET") return ListPage(rec);
      return ErrorResponse(405, "MethodNotAllowed");
    }
    std::string key = path.substr(1);
    if (rec.method == "PUT") {
      std::vector<uint8_t> md5;
      if (!Base64Decode(rec.Header("content-md5"), &md5) || md5.size() != 16 ||
          HexEncode(md5) != Md5Hex(AsBytes(rec.body))) {
        return ErrorResponse(400, "BadDigest");
      }
      Stored s;
      s.body = rec.body;
      for (const auto& [n, v] : rec.headers) {
        std::string lower = n;
        for (auto& c : lower) c = static_cast<char>(tolower(c));
        if (lower == "content-type" || lower == "content-encoding" ||
            lower.starts_with("x-amz-meta-")) {
          s.meta[lower] = v;
        }
      }
      if (!s.meta.count("content-type")) s.meta["content-type"] = "binary/octet-stream";
      objects[key] = s;
      return Respond(200, "", {{"etag", "\"" + Md5Hex(AsBytes(rec.body)) + "\""}});
    }
    if (rec.method == "DELETE") {
      objects.erase(key);
      return Respond(204);
    }
    auto it = objects.find(key);
    if (it == objects.end()) {
      return rec.method == "HEAD" ? Respond(404) : ErrorResponse(404, "NoSuchKey");
    }
    HttpHeaders headers = {{"etag", "\"" + Md5Hex(AsBytes(it->second.body)) + "\""},
                           {"content-length", std::to_string(it->second.body.size())}};
    for (const auto& [n, v] : it->second.meta) headers.emplace_back(n, v);
    return Respond(200, rec.method == "HEAD" ? "" : it->second.body, headers);
  }

  HttpResult ListPage(const Recorded& rec) {
    std::string prefix = rec.query.count("prefix") ? rec.query.at("prefix") : "";
    std::string after;
    if (rec.query.count("continuation-token")) {
      after = rec.query.at("continuation-token").substr(4);  // "tok:" + last key
    } else if (rec.query.count("start-after")) {
      after = rec.query.at("start-after");
    }
    size_t max = std::min<size_t>(page_size, std::stoul(rec.query.at("max-keys")));
    std::string xml = "<ListBucketResult><Name>bucket</Name>";
    size_t n = 0;
    std::string last;
    bool truncated = false;
    for (auto it = objects.upper_bound(after); it != objects.end(); ++it) {
      if (!it->first.starts_with(prefix)) continue;
      if (n == max) {
        truncated = true;
        break;
      }
      xml += "<Contents><Key>" + XmlEscape(it->first) + "</Key></Contents>";
      last = it->first;
      n++;
    }
    xml += std::string("<IsTruncated>") + (truncated ? "true" : "false") + "</IsTruncated>";
    if (truncated)
      xml += "<NextContinuationToken>tok:" + XmlEscape(last) + "</NextContinuationToken>";
    return Respond(200, xml + "</ListBucketResult>");
  }

  HttpResult BulkDelete(const Recorded& rec) {
    std::vector<uint8_t> md5;
    if (!Base64Decode(rec.Header("content-md5"), &md5) ||
        HexEncode(md5) != Md5Hex(AsBytes(rec.body))) {
      return ErrorResponse(400, "InvalidDigest");
    }
    size_t pos = 0;
    while ((pos = rec.body.find("<Key>", pos)) != std::string::npos) {
      size_t end = rec.body.find("</Key>", pos);
      std::string key = rec.body.substr(pos + 5, end - pos - 5);
      if (key.starts_with("<![CDATA[") && key.ends_with("]]>"))
        key = key.substr(9, key.size() - 12);
      objects.erase(key);
      pos = end;
    }
    return Respond(200, "<DeleteResult></DeleteResult>");
  }
};

struct Fixture {
  FakeClock clock;
  FakeS3* fake = nullptr;
  std::unique_ptr<S3Store> store;

  explicit Fixture(S3Options o = Options()) {
    auto t = std::make_unique<FakeS3>();
    fake = t.get();
    auto s = S3Store::CreateWithTransport(std::move(o), std::move(t), &clock);
    REQUIRE(s.ok());
    store = std::move(s.value());
  }
  static S3Options Options() {
    S3Options o;
    o.base_url = "http://127.0.0.1:9000/";
    o.bucket = "bucket";
    o.access_id = "AKIDTEST";
    o.access_key = "s3-store-test-secret";
    o.initial_retry_pause_ms = 100;
    o.max_retry_pause_ms = 2000;
    o.retry_seed = 1;
    return o;
  }
};

}  // namespace s3disk
