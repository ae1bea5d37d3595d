// S3Store: the ObjectStore over HTTP, for AWS S3 and S3-compatible services (MinIO, Ceph RGW,
// s3rver).
//
// - Addressing: path style (https://host/bucket/key) by default, virtual-host style
//   (https://bucket.host/key) with vhost.
// - Signing: SigV4 (default) or V2; unsigned when no credentials are given (public buckets,
//   read-only mounts).
// - Integrity: every PUT sends Content-MD5; every GET of a single-part object checks its ETag
//   against the MD5 of the body received (a mismatch is retried, then EIO naming the key). A
//   GET whose ETag was not checked (multipart, or verify_etag off) reports none.
// - Retries: exponential backoff with jitter on transport errors, 5xx, 429 and truncated
//   bodies, until max_retry_pause_ms of pauses have passed; other 4xx fail at once with a
//   message that says what to fix (see retry.h).
// - List: ListObjectsV2 pages, in parts listed side by side by list_threads threads
//   (list_parts.h). The parts are cut at the caller's keys (ListOptions::cuts), else at the
//   first hex digit after the prefix (block keys are PREFIX + 8 hex digits); a part being
//   listed is split for an idle thread. Each part is exact, whatever keys the bucket holds.
//   Each key comes with its size.
// - Delete: one key is a plain DELETE; several are DeleteObjects (POST ?delete), 1000 keys a
//   request, or a DELETE each when the server has no bulk delete.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/sync.h"
#include "object/object_store.h"
#include "s3/http.h"
#include "s3/list_parts.h"
#include "s3/retry.h"
#include "s3/s3_options.h"
#include "s3/s3_sign.h"
#include "s3/s3_xml.h"

namespace s3disk {

class S3Store : public ObjectStore {
 public:
  // Validates the options; no I/O (the transport connects on first use).
  static Result<std::unique_ptr<S3Store>> Create(S3Options options);
  // For tests: a given transport (a scripted fake) and clock (FakeClock: no sleeping).
  static Result<std::unique_ptr<S3Store>> CreateWithTransport(
      S3Options options, std::unique_ptr<HttpTransport> transport, Clock* clock);

  // The GETs go out side by side (HttpTransport::PerformMany) and their bodies are checked
  // against their ETags in one pass (md5_many.h); one that fails in any way is fetched again
  // alone (with the retries of a single GET). A single key is one GET with its retries.
  std::vector<Result<Object>> GetMany(const std::vector<std::string>& keys,
                                      std::span<const std::span<uint8_t>> into) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Result<std::string> Put(const std::string& key, std::span<const uint8_t> data,
                          const Metadata& meta, const PutOptions& options = {}) override;
  // The batches go out one after the other; the first that fails ends the Delete (a per-key
  // error in a DeleteObjects result, NoSuchKey aside, fails its batch, naming the key).
  using ObjectStore::Delete;
  Status Delete(const std::vector<std::string>& keys) override;
  // Sizes come with every listing.
  Status List(const std::string& prefix, const ListOptions& options,
              const ListFound& found) override;
  void DumpStats(std::string* out) override;
  std::string Describe() const override;

  // One small listing of the bucket: checks at mount time that the bucket exists and that
  // the credentials, region, endpoint and clock are right (a HEAD of a missing object cannot
  // tell a missing bucket from a missing key). A failure is not logged: its message, one line
  // "bucket NAME: what is wrong (HTTP ...): the fix", is for the caller to show.
  Status Probe();

  const S3Options& options() const { return options_; }
  // Lowers max_object_bytes once the block size is known (stack.cc). Thread-safe.
  void SetMaxObjectBytes(uint64_t bytes) { max_object_bytes_ = bytes; }

 private:
  struct Call {
    std::string method;
    std::string key;  // empty: the bucket itself
    bool bucket_level = false;
    std::vector<std::pair<std::string, std::string>> query;
    HttpHeaders headers;  // besides the signing headers
    std::span<const uint8_t> body;
    std::span<uint8_t> body_into;              // see HttpRequest::body_into
    uint64_t max_body = kDefaultMaxBodyBytes;  // see HttpRequest::max_body_bytes
    std::string what;                          // "get 0000002a", for messages
    // Extra check of a 2xx response; a failure (EBADMSG) is retried like a transport error.
    std::function<Status(const HttpResponse&)> validate;
    // Probe's request: its failure is the caller's to report (logged here at debug level
    // only), as "bucket NAME: REASON".
    bool probe = false;
  };
  struct Url {
    std::string url, host, path;
  };

  S3Store(S3Options options, std::unique_ptr<HttpTransport> transport, Clock* clock);
  Url BuildUrl(const Call& call) const;
  HttpRequest Sign(const Call& call, const Url& url) const;
  // Sends with retries. 404 comes back as ENOENT.
  Result<HttpResponse> Execute(const Call& call);
  // Counts and logs (unless call.probe) a request that failed for good, and says why.
  Status Failed(const Call& call, int err, const std::string& reason);
  // What ClassifyHttp words setup errors with: the keys' source, the clock now.
  SetupContext Context() const;
  // One GET with its retries, not counted; the body into `into` when it fits exactly
  // (Object::buffer).
  Result<Object> Fetch(const std::string& key, std::span<uint8_t> into);
  // The MD5 (lowercase hex) r's body must have, or "" when it cannot be checked (no ETag, a
  // multipart one, or ETag checks off).
  std::string CheckableEtag(const HttpResponse& r) const;
  // Counts and logs a body whose MD5 is not its ETag; the error to retry with.
  Status EtagMismatch(const std::string& key, const std::string& want, const std::string& got,
                      size_t body_bytes);
  // The object of a GET answered 2xx; checked_md5: the MD5 of the body, checked against the
  // ETag, which is reported as the object's; "" when it could not be checked (none reported).
  static Object ToObject(HttpResponse&& r, std::string checked_md5);
  Status ListPart(const std::string& prefix, ListParts& parts, ListParts::Part* p,
                  const ListFound& found);
  // Lists the keys under prefix in parts cut at cuts, over list_threads threads.
  Status ListParted(const std::string& prefix, std::vector<std::string> cuts,
                    const ListFound& found);
  // One ListObjectsV2 page: after start_after, or from a continuation token.
  Result<ListPage> ListOnce(const std::string& prefix, const std::string& start_after,
                            const std::string& token, int max_keys, bool probe = false);
  // A plain DELETE; a 404 is success.
  Status DeleteOne(const std::string& key);
  // One DeleteObjects request; EOPNOTSUPP when the server has no bulk delete.
  Status DeleteBatch(const std::vector<std::string>& keys);
  void CountKeyListed();

  const S3Options options_;
  std::string scheme_, authority_, base_path_;  // from base_url
  std::unique_ptr<HttpTransport> transport_;
  Clock* clock_;

  // SigV4's signing key for the day key_day_: four HMACs a day instead of four per request.
  mutable Mutex key_mu_;
  mutable std::string key_day_ GUARDED_BY(key_mu_);
  mutable SigningKeyV4 key_ GUARDED_BY(key_mu_){};

  std::atomic<uint64_t> max_object_bytes_;
  uint64_t seed_base_ = 0;  // jitter seeds: seed_base_ mixed with a per-request counter
  std::atomic<uint64_t> seed_counter_{0};
  std::atomic<uint64_t> gets_{0}, heads_{0}, puts_{0}, deletes_{0}, bulk_deletes_{0};
  std::atomic<uint64_t> list_pages_{0}, keys_listed_{0}, retries_{0}, failures_{0};
  std::atomic<uint64_t> etag_mismatches_{0}, bytes_read_{0}, bytes_written_{0};
  std::atomic<uint64_t> batched_gets_{0};  // of gets_, sent by GetMany side by side
};

}  // namespace s3disk
