// ObjectStore: a flat key -> bytes store with metadata, the bucket seen from below the codec
// boundary. Backends: S3Store (HTTP), DirStore (a local directory, the embedded default),
// MemStore (tests), FaultStore (a wrapper that injects failures).
//
// Metadata is a map of lowercase HTTP header names to values, exactly as they travel over
// S3: "content-type", "content-encoding", "x-amz-meta-s3backer-blocksize", ... Backends keep
// every entry they are given and return them on GetMany and Head.
// An ETag is the lowercase hex MD5 of the stored body (no quotes) for a single-part object.
//
// Integrity: a backend returns a body only once it has checked it against the ETag it
// reports with it. A body that does not match is an error (EBADMSG, or EIO once retries are
// used up), never data, so the layers above do not hash what they read. An ETag that cannot
// be checked is not reported: Object::info.etag is then "" (DirStore: a file without a valid
// MD5 record; S3Store: a multipart ETag, or ETags that are not MD5s, S3Options::verify_etag).
// How each backend keeps it: S3Store hashes each body received against the ETag header and
// fetches it again on a mismatch; DirStore hashes the file's body against the MD5 recorded
// at Put; MemStore returns the bytes it was given, which nothing can change; FaultStore
// injects errors only, and passes bodies up as its store gave them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "base/crypto.h"
#include "base/status.h"

namespace s3disk {

using Metadata = std::map<std::string, std::string>;

struct ObjectInfo {
  std::string etag;
  uint64_t size = 0;
  Metadata meta;
};

struct Object {
  ObjectInfo info;
  // The body, unless the backend wrote it to the caller's buffer (then empty).
  std::vector<uint8_t> data;
  // The caller's buffer when the backend wrote the body there; else empty.
  std::span<const uint8_t> buffer;

  // The body (info.size bytes), wherever it went.
  std::span<const uint8_t> body() const {
    return buffer.empty() ? std::span<const uint8_t>(data) : buffer;
  }
};

// How a Put stores its object.
struct PutOptions {
  // The body's MD5, when the caller has it (blocks hash faster several at once); null: the
  // backend hashes the body.
  const Md5Digest* md5 = nullptr;
  // Create only: EEXIST, nothing written, when the key holds an object. Atomic in DirStore
  // (link) and MemStore (one lock); S3Store sends If-None-Match: *, which a server may
  // ignore (then it overwrites), so a caller that must win alone checks what it wrote.
  bool if_absent = false;
};

// What a List is for; the keys found are the same whatever it says.
struct ListOptions {
  // The caller wants each object's size (of the body as stored). S3Store and MemStore give
  // sizes with every listing; DirStore reads each object's header for them, so only then.
  bool sizes = false;
  // Keys (sorted, under the prefix) that cut the keys into parts of about equal size, from a
  // caller that knows how its keys are spread. S3Store lists the parts side by side (without
  // cuts it cuts at the first hex digit after the prefix); the others ignore them.
  std::vector<std::string> cuts;
};

// A key found by List, with its body's size (0 unless ListOptions::sizes, or the backend has
// sizes for free).
using ListFound = std::function<void(const std::string& key, uint64_t size_bytes)>;

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // The objects at keys (ENOENT for each absent one), in the same order, each body checked
  // (see Integrity above). into is empty, or holds a buffer per key: a backend may write a
  // body of exactly that buffer's size there instead of into Object::data, saving a copy
  // (Object::body() finds it either way). S3Store sends the GETs side by side.
  virtual std::vector<Result<Object>> GetMany(const std::vector<std::string>& keys,
                                              std::span<const std::span<uint8_t>> into) = 0;
  // GetMany of one key: the object, or ENOENT if absent.
  Result<Object> Get(const std::string& key);
  // The object's ETag (as stored: maybe not an MD5), size and metadata, or ENOENT if absent.
  virtual Result<ObjectInfo> Head(const std::string& key) = 0;
  // Stores the object atomically (a reader sees the old or the new one, never a mix) and
  // durably; returns its ETag. options.md5, when given, is the body's MD5, which the caller
  // has already computed (the backends hash every body they store: for Content-MD5, the ETag
  // or the record of it). With options.if_absent an existing object is left as it is and
  // the Put fails with EEXIST; see PutOptions for how atomic that is per backend.
  virtual Result<std::string> Put(const std::string& key, std::span<const uint8_t> data,
                                  const Metadata& meta, const PutOptions& options = {}) = 0;
  // Removes the objects at keys; an absent object is success. On an error, some of the keys
  // may have been removed and others not. S3Store sends one key as a plain DELETE, several as
  // DeleteObjects requests of up to 1000 keys.
  virtual Status Delete(const std::vector<std::string>& keys) = 0;
  // Delete of one key. Backends say `using ObjectStore::Delete;` so that it is not hidden.
  Status Delete(const std::string& key);
  // Calls found for every key that starts with prefix, in any order; an object deleted while
  // the listing runs may be left out. found may be called from several threads at once by
  // backends that list in parallel.
  virtual Status List(const std::string& prefix, const ListOptions& options,
                      const ListFound& found) = 0;
  // Appends counters as "name value\n" lines. Default: none.
  virtual void DumpStats(std::string* out);
  // For logs and messages: "directory /srv/bucket", "memory", "s3 http://host/bucket".
  virtual std::string Describe() const = 0;
};

}  // namespace s3disk
