// DirStore: the embedded default backend. The bucket is a local directory; each object is one
// file at DIR/KEY (keys with '/' live in subdirectories, created as needed).
//
// File format (one file per object, so metadata is atomic with the data):
//   - no metadata: the raw body, exactly as `s3backer --test` stores a block, so directories
//     written by either program read back in the other;
//   - with metadata: the line "s3disk-object 1\n", one "name: value\n" line per entry, an
//     empty line "\n", then the raw body. A raw body that happens to begin with that magic
//     line is written with an empty header (magic line + "\n") so it cannot be misread.
//   A file that does not start with the magic line is a raw body with no metadata.
// Size and ETag refer to the body only. The body's MD5 is also recorded at Put in the extended
// attribute "user.s3disk.md5" (with the file's mtime and size), so Head need not read the body
// and GetMany checks each body against the MD5 of what was written: a body damaged on disk
// later is EBADMSG for the reader, as a damaged download is with S3. A file without a valid
// record (written by s3backer --test or by hand, copied without its xattrs, changed since, or
// on a file system without user xattrs) has an unknown ETag: GetMany and Head return it
// empty, and the body goes up unchecked (as with an S3 ETag that is not an MD5), never with
// an MD5 made up from the bytes just read. That is said once per store, as a WARNING: at Open
// when the file system has no user xattrs, else at the first read of such a file.
//
// Symlinks are followed everywhere: Get, Head and Put open paths (the kernel follows links),
// and List descends into linked directories and lists linked files, so a bucket or prefix
// directory moved elsewhere and linked back reads the same as before. A listing that meets a
// directory it is already inside (a symlink loop) fails with ELOOP naming the link; a
// dangling link is no object for List and Get alike.
//
// Put writes a temp file ".s3disk-tmp-PID-N" in the target's directory, fsyncs it, renames
// it over the target and fsyncs the directory: a reader never sees a partial object and a
// completed Put survives a crash. List ignores temp files (a crash may leave some behind).
//
// Keys must be relative paths without empty, "." or ".." components, without NUL, and
// without a component starting with ".s3disk-tmp-" (EINVAL). A key cannot be both an object
// and a directory of other keys ("a" and "a/b"): that Put fails with ENOTDIR or EISDIR.
// Delete leaves empty subdirectories in place (removing them would race with Puts).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "object/object_store.h"

namespace s3disk {

class DirStore : public ObjectStore {
 public:
  // Checks the directory exists, is a directory, is readable and (unless read_only) writable.
  // Errors are one line, e.g. "bucket directory /x does not exist: create it with mkdir -p
  // /x". A relative dir is made absolute here (the daemon changes directory later). Logs the
  // WARNING when the directory's file system has no user xattrs.
  static Result<std::unique_ptr<DirStore>> Open(const std::string& dir, bool read_only);

  // Reads each key, a body of exactly its buffer's size straight into it, then checks the
  // bodies against their MD5 records together.
  std::vector<Result<Object>> GetMany(const std::vector<std::string>& keys,
                                      std::span<const std::span<uint8_t>> into) override;
  // Reads only the header and the MD5 record, never the body.
  Result<ObjectInfo> Head(const std::string& key) override;
  // EROFS when read-only, EINVAL for a bad key or a metadata entry that cannot be stored (a
  // name with ':', whitespace or control characters; a value with CR, LF or NUL).
  Result<std::string> Put(const std::string& key, std::span<const uint8_t> data,
                          const Metadata& meta, const PutOptions& options = {}) override;
  // Unlinks the keys in order, stopping at the first that fails, then fsyncs each directory
  // touched once (so the removals done are durable even then). EROFS when read-only, EINVAL
  // for a bad key.
  using ObjectStore::Delete;
  Status Delete(const std::vector<std::string>& keys) override;
  // Walks the tree with readdir (a stat only for links and unknown d_type), descending only
  // into subdirectories that can hold keys with the prefix, following symlinks. Skips temp
  // files and anything that is not (a link to) a regular file. ELOOP on a symlink loop.
  // With options.sizes, the keys are collected first, then each one's header is read as Head
  // does (an object deleted in between is left out). Ignores the cuts.
  Status List(const std::string& prefix, const ListOptions& options,
              const ListFound& found) override;
  // "dir_store_gets N", "dir_store_heads N", "dir_store_puts N", "dir_store_deletes N",
  // "dir_store_lists N", "dir_store_bytes_read N", "dir_store_bytes_written N" (bytes are
  // file bytes, headers included).
  void DumpStats(std::string* out) override;
  // "directory " + the absolute directory.
  std::string Describe() const override { return "directory " + dir_; }

  const std::string& dir() const { return dir_; }
  bool read_only() const { return read_only_; }

 private:
  DirStore(std::string dir, bool read_only) : dir_(std::move(dir)), read_only_(read_only) {}

  // One key of GetMany, its body not yet checked: into `into` when it is exactly that size
  // (Object::buffer); info.etag is the recorded MD5 to check it against, or "".
  Result<Object> Read(const std::string& key, std::span<uint8_t> into);
  // Reads the start of the open object file at path until its header is parsed: *start holds
  // the bytes read (the header, and maybe some of the body), *header_bytes the header's length
  // (0: a raw file).
  static Status ReadHeader(int fd, const std::string& path, const std::string& context,
                           std::vector<uint8_t>* start, Metadata* meta, size_t* header_bytes);
  // The WARNING that objects without an MD5 record are read unverified, the first time only.
  void WarnUnrecorded(const std::string& why);
  // Creates the missing directories of key's parent path (fsyncing each new one's parent).
  Status MakeParents(const std::string& key);
  Status Unlink(const std::string& key, std::string* parent_dir);
  // A directory on the path List is walking: its identity, and rel (its key prefix).
  struct WalkedDir {
    dev_t dev;
    ino_t ino;
    std::string rel;
  };
  // Lists the directory dir_fd (taken over) at rel; `walked` holds the directories above it.
  Status WalkDir(int dir_fd, const std::string& rel, const std::string& prefix,
                 const std::function<void(const std::string& key)>& found,
                 std::vector<WalkedDir>* walked);
  // dir_/rel without rel's trailing '/', for messages.
  std::string PathOf(const std::string& rel) const;

  const std::string dir_;  // absolute, no trailing '/'
  const bool read_only_;

  std::atomic<bool> warned_unrecorded_{false};
  std::atomic<uint64_t> tmp_counter_{0};
  std::atomic<uint64_t> gets_{0};
  std::atomic<uint64_t> heads_{0};
  std::atomic<uint64_t> puts_{0};
  std::atomic<uint64_t> deletes_{0};
  std::atomic<uint64_t> lists_{0};
  std::atomic<uint64_t> bytes_read_{0};
  std::atomic<uint64_t> bytes_written_{0};
};

}  // namespace s3disk
