// DirStore: objects as files in a local directory (format in dir_store.h).
//
// States of a key K (P = DIR/K, symlinks followed):
//   absent     no regular file at P (nothing there, a directory, a dangling link, or a parent
//              is missing)
//   raw        a regular file at P that does not start with the magic line: body = the file
//   headed     a regular file at P that starts with the magic line: header, then the body
//   writing    (during a Put) a temp file ".s3disk-tmp-PID-N" beside P: invisible to readers
// Transitions: Put: any -> writing -> raw|headed (one rename; with if_absent, one rename that
// fails if P exists, RENAME_NOREPLACE, or a link()); Delete: raw|headed -> absent.
//
// Invariants (the filesystem provides the atomicity; DirStore holds no lock):
//   | what                          | rule                                                   |
//   |-------------------------------|--------------------------------------------------------|
//   | the file at P                 | never modified in place: written whole under a temp    |
//   |                               | name, fsynced, then renamed over P                     |
//   | a reader (Get/Head)           | opens P once and reads that inode only: old or new     |
//   |                               | object, data and metadata together, never a mix        |
//   | Put returned ok               | file fsynced, renamed, directory fsynced (and any new  |
//   |                               | parent directory fsynced in its own parent)            |
//   | concurrent Puts of one key    | each has its own temp file; the last rename wins; of   |
//   |                               | create-only Puts exactly one wins                      |
//   | temp files                    | never listed, never returned by Get; removed on error  |
//   | xattr user.s3disk.md5         | set before the rename: "MD5HEX MTIME_S.MTIME_NS SIZE"; |
//   |                               | trusted only while mtime and size still match; else    |
//   |                               | the ETag is "" (unknown), never hashed from the body   |
//   | a body GetMany returns        | hashes to its recorded MD5 (else EBADMSG); without a   |
//   |                               | record it goes up unchecked, with the ETag ""          |
//   | warned_unrecorded_            | set by the one WARNING about unrecorded MD5s           |
//   | List and Get agree            | both follow symlinks; List fails (ELOOP) on a loop     |
//   | read_only_                    | Put/Delete return EROFS before touching the disk       |
#include "object/dir_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string_view>
#include <vector>

#include "base/crypto.h"
#include "base/fd_io.h"
#include "base/log.h"
#include "base/md5_many.h"
#include "base/stats.h"

namespace s3disk {
namespace {

constexpr std::string_view kMagic = "s3disk-object 1\n";
constexpr std::string_view kTempPrefix = ".s3disk-tmp-";
constexpr const char* kMd5Xattr = "user.s3disk.md5";
constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kHeadReadBytes = 4096;
constexpr const char* kUnverified =
    "blocks without a recorded MD5 are read unverified, so damage on disk goes unnoticed";

// Closes a file descriptor on scope exit.
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports close's error (it can carry a delayed write error).
  int Close() {
    int rc = close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status Errno(int err, const std::string& context, const std::string& what) {
  return Status(err, "dir_store: " + context + ": " + what);
}

Status ValidateKey(const std::string& key) {
  if (key.empty()) return Status(EINVAL, "empty key");
  if (key.find('\0') != std::string::npos) return Status(EINVAL, "key contains NUL");
  if (key.front() == '/') return Status(EINVAL, "key starts with '/'");
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string::npos) end = key.size();
    std::string_view comp(key.data() + start, end - start);
    if (comp.empty()) return Status(EINVAL, "key has an empty path component");
    if (comp == "." || comp == "..") return Status(EINVAL, "key has a '.' or '..' component");
    if (comp.starts_with(kTempPrefix)) {
      return Status(EINVAL, "key has a component starting with " + std::string(kTempPrefix));
    }
    start = end + 1;
  }
  return Status::Ok();
}

Status ValidateMeta(const Metadata& meta) {
  for (const auto& [name, value] : meta) {
    if (name.empty()) return Status(EINVAL, "empty metadata name");
    for (unsigned char c : name) {
      if (c <= ' ' || c == ':' || c == 0x7f) {
        return Status(EINVAL, "metadata name '" + name + "' has ':', a space or a control char");
      }
    }
    for (char c : value) {
      if (c == '\n' || c == '\r' || c == '\0') {
        return Status(EINVAL, "metadata " + name + " has CR, LF or NUL in its value");
      }
    }
  }
  return Status::Ok();
}

// The header to write before body: empty when the raw body alone is unambiguous.
std::string EncodeHeader(const Metadata& meta, std::span<const uint8_t> body) {
  std::string_view body_text(reinterpret_cast<const char*>(body.data()), body.size());
  if (meta.empty() && !body_text.starts_with(kMagic)) return "";
  std::string header(kMagic);
  for (const auto& [name, value] : meta) {
    header += name;
    header += ": ";
    header += value;
    header += '\n';
  }
  header += '\n';
  return header;
}

enum class HeaderState { kRaw, kComplete, kNeedMore };

// Parses the header at the start of bytes (the first bytes of a file; at_eof if that is the
// whole file). On kComplete, *header_bytes is the header length and *meta its entries.
Status ParseHeader(std::string_view bytes, bool at_eof, HeaderState* state, Metadata* meta,
                   size_t* header_bytes) {
  meta->clear();
  *header_bytes = 0;
  if (bytes.size() < kMagic.size()) {
    *state = (!at_eof && kMagic.starts_with(bytes)) ? HeaderState::kNeedMore : HeaderState::kRaw;
    return Status::Ok();
  }
  if (!bytes.starts_with(kMagic)) {
    *state = HeaderState::kRaw;
    return Status::Ok();
  }
  size_t pos = kMagic.size();
  for (;;) {
    size_t nl = bytes.find('\n', pos);
    if (nl == std::string_view::npos) {
      if (at_eof) return Status(EBADMSG, "object header has no end");
      *state = HeaderState::kNeedMore;
      return Status::Ok();
    }
    std::string_view line = bytes.substr(pos, nl - pos);
    if (line.empty()) {
      *header_bytes = nl + 1;
      *state = HeaderState::kComplete;
      return Status::Ok();
    }
    size_t colon = line.find(": ");
    if (colon == std::string_view::npos || colon == 0) {
      return Status(EBADMSG, "object header line is not 'name: value'");
    }
    (*meta)[std::string(line.substr(0, colon))] = std::string(line.substr(colon + 2));
    pos = nl + 1;
  }
}

std::string Md5Record(const std::string& md5, const struct stat& st) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s %lld.%09ld %lld", md5.c_str(),
           static_cast<long long>(st.st_mtim.tv_sec), static_cast<long>(st.st_mtim.tv_nsec),
           static_cast<long long>(st.st_size));
  return buf;
}

// The MD5 recorded at Put, or "" if there is none or the file changed since.
std::string RecordedMd5(int fd, const struct stat& st) {
  char buf[128];
  ssize_t n = fgetxattr(fd, kMd5Xattr, buf, sizeof buf - 1);
  if (n <= 32) return "";
  std::string record(buf, static_cast<size_t>(n));
  std::string md5 = record.substr(0, 32);
  if (record != Md5Record(md5, st)) return "";
  return md5;
}

// fsyncs a directory so the names created or removed in it are durable.
int FsyncDir(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  errno = err;
  return rc;
}

// Opens the object file at path for reading. Absent (or not a regular file) is ENOENT.
Status OpenObject(const std::string& path, const std::string& context, int* fd_out,
                  struct stat* st) {
  // O_NONBLOCK: opening a FIFO (no object) must not wait for a writer; regular files ignore it.
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return Errno(ENOENT, context, "no such object");
    return Errno(err, context, "cannot open " + path);
  }
  if (fstat(fd, st) != 0) {
    int err = errno;
    close(fd);
    return Errno(err, context, "cannot stat " + path);
  }
  if (!S_ISREG(st->st_mode)) {
    close(fd);
    return Errno(ENOENT, context, "no such object (" + path + " is not a regular file)");
  }
  *fd_out = fd;
  return Status::Ok();
}

std::string ParentOf(const std::string& path) { return path.substr(0, path.rfind('/')); }

}  // namespace

Result<std::unique_ptr<DirStore>> DirStore::Open(const std::string& dir, bool read_only) {
  if (dir.empty()) return Status(EINVAL, "bucket directory is empty");
  std::string abs = dir;
  if (abs.front() != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) == nullptr) {
      return Status(errno, "cannot resolve bucket directory " + dir + ": getcwd failed");
    }
    abs = std::string(cwd) + "/" + abs;
  }
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();

  struct stat st;
  if (stat(abs.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) {
      return Status(ENOENT,
                    "bucket directory " + dir + " does not exist: create it with mkdir -p " + dir);
    }
    return Status(err, "cannot access bucket directory " + dir);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status(ENOTDIR, "bucket directory " + dir + " is not a directory");
  }
  if (access(abs.c_str(), R_OK | X_OK) != 0) {
    return Status(errno, "bucket directory " + dir + " is not readable");
  }
  if (!read_only && access(abs.c_str(), W_OK) != 0) {
    return Status(errno, "bucket directory " + dir +
                             " is not writable (use --readOnly to mount it read-only)");
  }
  std::unique_ptr<DirStore> store(new DirStore(abs, read_only));
  // ENOTSUP (not ENODATA): the file system keeps no user xattrs at all, so no MD5 is recorded.
  if (getxattr(abs.c_str(), kMd5Xattr, nullptr, 0) < 0 && errno == ENOTSUP) {
    store->WarnUnrecorded("the file system of " + abs + " has no user xattrs, so no MD5 is " +
                          "recorded (" + kMd5Xattr + "): " + kUnverified +
                          "; put the bucket directory on ext4, xfs, btrfs or tmpfs");
  }
  return store;
}

void DirStore::WarnUnrecorded(const std::string& why) {
  if (!warned_unrecorded_.exchange(true)) LOG_WARN("dir_store: %s", why.c_str());
}

Status DirStore::ReadHeader(int fd, const std::string& path, const std::string& context,
                            std::vector<uint8_t>* start, Metadata* meta, size_t* header_bytes) {
  // Just enough of the start of the file to parse the header.
  HeaderState state = HeaderState::kNeedMore;
  while (state == HeaderState::kNeedMore) {
    if (start->size() >= kMaxHeaderBytes) {
      return Errno(EBADMSG, context, "object header of " + path + " is too long");
    }
    const size_t old = start->size();
    start->resize(old + kHeadReadBytes);
    Result<size_t> n = ReadAt(fd, {start->data() + old, kHeadReadBytes}, old);
    if (!n.ok()) return Errno(n.status().code(), context, "cannot read " + path);
    start->resize(old + *n);
    const bool at_eof = *n < kHeadReadBytes;
    std::string_view text(reinterpret_cast<const char*>(start->data()), start->size());
    Status st = ParseHeader(text, at_eof, &state, meta, header_bytes);
    if (!st.ok()) return st.WithContext("dir_store: " + context + ": " + path);
  }
  return Status::Ok();
}

std::vector<Result<Object>> DirStore::GetMany(const std::vector<std::string>& keys,
                                              std::span<const std::span<uint8_t>> into) {
  std::vector<Result<Object>> out;
  out.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); i++) {
    out.push_back(Read(keys[i], into.empty() ? std::span<uint8_t>() : into[i]));
  }
  // The bodies with an MD5 record are hashed together (md5_many.h): one pass costs about what
  // one body alone does.
  std::vector<size_t> recorded;
  std::vector<std::span<const uint8_t>> bodies;
  for (size_t i = 0; i < out.size(); i++) {
    if (!out[i].ok() || out[i]->info.etag.empty()) continue;
    recorded.push_back(i);
    bodies.push_back(out[i]->body());
  }
  std::vector<Md5Digest> digests(bodies.size());
  Md5Many(bodies, digests);
  for (size_t k = 0; k < recorded.size(); k++) {
    const size_t i = recorded[k];
    const std::string md5 = HexEncode(digests[k]);
    if (md5 == out[i]->info.etag) continue;
    out[i] = Errno(EBADMSG, "get " + keys[i],
                   dir_ + "/" + keys[i] + " is damaged: its body's MD5 is " + md5 + ", not the " +
                       out[i]->info.etag + " recorded when it was written (" + kMd5Xattr + ")");
  }
  return out;
}

Result<Object> DirStore::Read(const std::string& key, std::span<uint8_t> into) {
  gets_.fetch_add(1, std::memory_order_relaxed);
  const std::string context = "get " + key;
  Status st = ValidateKey(key);
  if (!st.ok()) return st.WithContext("dir_store: " + context);
  const std::string path = dir_ + "/" + key;
  int raw_fd = -1;
  struct stat sb;
  S3DISK_RETURN_IF_ERROR(OpenObject(path, context, &raw_fd, &sb));
  UniqueFd fd(raw_fd);
  // The inode is never rewritten in place (Put renames a new one over it), so st_size is the
  // whole file.
  const uint64_t file_bytes = static_cast<uint64_t>(sb.st_size);
  Object obj;
  std::vector<uint8_t> start;
  size_t header_bytes = 0;
  S3DISK_RETURN_IF_ERROR(
      ReadHeader(fd.get(), path, context, &start, &obj.info.meta, &header_bytes));
  if (file_bytes < start.size()) return Errno(EBADMSG, context, path + " changed while being read");
  // The body: what came with the header, then the rest of the file, straight into the
  // caller's buffer when it is exactly the body's size.
  const size_t body_bytes = static_cast<size_t>(file_bytes - header_bytes);
  std::span<uint8_t> body = into;
  if (!into.empty() && into.size() == body_bytes) {
    obj.buffer = into;
  } else {
    obj.data.resize(body_bytes);
    body = obj.data;
  }
  const size_t have = start.size() - header_bytes;
  if (have > 0) memcpy(body.data(), start.data() + header_bytes, have);
  Result<size_t> n = ReadAt(fd.get(), {body.data() + have, body_bytes - have}, start.size());
  if (!n.ok()) return Errno(n.status().code(), context, "cannot read " + path);
  if (*n != body_bytes - have) {
    return Errno(EBADMSG, context, path + " changed while being read");
  }
  bytes_read_.fetch_add(file_bytes, std::memory_order_relaxed);
  obj.info.size = body_bytes;
  obj.info.etag = RecordedMd5(fd.get(), sb);
  if (obj.info.etag.empty() && !warned_unrecorded_.load(std::memory_order_relaxed)) {
    WarnUnrecorded(path + " has no MD5 record (" + kMd5Xattr +
                   "; written by s3backer or by hand, or copied without xattrs): " + kUnverified +
                   "; s3disk records one for each block it writes, cp -a and rsync -X keep it "
                   "(said once)");
  }
  return obj;
}

Result<ObjectInfo> DirStore::Head(const std::string& key) {
  heads_.fetch_add(1, std::memory_order_relaxed);
  const std::string context = "head " + key;
  Status st = ValidateKey(key);
  if (!st.ok()) return st.WithContext("dir_store: " + context);
  const std::string path = dir_ + "/" + key;
  int raw_fd = -1;
  struct stat sb;
  S3DISK_RETURN_IF_ERROR(OpenObject(path, context, &raw_fd, &sb));
  UniqueFd fd(raw_fd);
  const uint64_t file_bytes = static_cast<uint64_t>(sb.st_size);

  ObjectInfo info;
  std::vector<uint8_t> buf;
  size_t header_bytes = 0;
  S3DISK_RETURN_IF_ERROR(ReadHeader(fd.get(), path, context, &buf, &info.meta, &header_bytes));
  bytes_read_.fetch_add(buf.size(), std::memory_order_relaxed);
  if (file_bytes < header_bytes) {
    return Errno(EBADMSG, context, path + " changed while being read");
  }
  info.size = file_bytes - header_bytes;
  info.etag = RecordedMd5(fd.get(), sb);  // "" without a valid record: unknown
  return info;
}

Status DirStore::MakeParents(const std::string& key) {
  size_t slash = key.find('/');
  while (slash != std::string::npos) {
    const std::string path = dir_ + "/" + key.substr(0, slash);
    if (mkdir(path.c_str(), 0777) == 0) {
      if (FsyncDir(ParentOf(path)) != 0) {
        return Errno(errno, "put " + key, "cannot fsync directory " + ParentOf(path));
      }
    } else if (errno != EEXIST) {
      return Errno(errno, "put " + key, "cannot create directory " + path);
    }
    slash = key.find('/', slash + 1);
  }
  return Status::Ok();
}

Result<std::string> DirStore::Put(const std::string& key, std::span<const uint8_t> data,
                                  const Metadata& meta, const PutOptions& options) {
  puts_.fetch_add(1, std::memory_order_relaxed);
  const std::string context = "put " + key;
  Status st = ValidateKey(key);
  if (st.ok()) st = ValidateMeta(meta);
  if (!st.ok()) return st.WithContext("dir_store: " + context);
  if (read_only_) {
    return Errno(EROFS, context, "bucket directory " + dir_ + " was opened read-only");
  }
  const std::string path = dir_ + "/" + key;
  const std::string parent = ParentOf(path);
  const std::string header = EncodeHeader(meta, data);
  const std::string etag = HexEncode(options.md5 != nullptr ? *options.md5 : Md5(data));

  // Create the temp file (and the parent directories if they are missing).
  std::string tmp;
  int raw_fd = -1;
  bool made_parents = false;
  for (int attempt = 0; raw_fd < 0; attempt++) {
    tmp = parent + "/" + std::string(kTempPrefix) + std::to_string(getpid()) + "-" +
          std::to_string(tmp_counter_.fetch_add(1));
    raw_fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (raw_fd >= 0) break;
    int err = errno;
    if (err == ENOENT && !made_parents && key.find('/') != std::string::npos) {
      S3DISK_RETURN_IF_ERROR(MakeParents(key));
      made_parents = true;
    } else if (err != EEXIST || attempt >= 100) {  // EEXIST: a stale file of an old process
      return Errno(err, context, "cannot create temp file " + tmp);
    }
  }
  UniqueFd fd(raw_fd);
  auto fail = [&](int err, const std::string& what) {
    unlink(tmp.c_str());
    return Errno(err, context, what);
  };

  Status written = WriteAt(fd.get(), AsBytes(header), 0);
  if (written.ok()) written = WriteAt(fd.get(), data, header.size());
  if (!written.ok()) return fail(written.code(), "cannot write " + tmp);
  struct stat sb;
  if (fstat(fd.get(), &sb) != 0) return fail(errno, "cannot stat " + tmp);
  const std::string record = Md5Record(etag, sb);
  if (fsetxattr(fd.get(), kMd5Xattr, record.data(), record.size(), 0) != 0) {
    // Optional: without it the object's ETag is unknown (Open warned if xattrs are missing).
    LOG_DEBUG("dir_store: put %s: cannot set %s on %s: %s", key.c_str(), kMd5Xattr, tmp.c_str(),
              strerror(errno));
  }
  if (fsync(fd.get()) != 0) return fail(errno, "cannot fsync " + tmp);
  if (fd.Close() != 0) return fail(errno, "cannot close " + tmp);
  if (options.if_absent) {
    // Never replaces: of several creators of one key exactly one succeeds. renameat2 leaves
    // no second name behind; link() serves file systems without RENAME_NOREPLACE.
    int rc = renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
    bool linked = false;
    if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
      rc = link(tmp.c_str(), path.c_str());
      linked = true;
    }
    if (rc != 0) {
      const int err = errno;
      unlink(tmp.c_str());
      if (err == EEXIST) return Status(EEXIST, "dir_store: put " + key + ": the object exists");
      return Errno(err, context, "cannot create " + path + " from " + tmp);
    }
    if (linked) unlink(tmp.c_str());
  } else if (rename(tmp.c_str(), path.c_str()) != 0) {
    return fail(errno, "cannot rename " + tmp + " to " + path);
  }
  if (FsyncDir(parent) != 0) return Errno(errno, context, "cannot fsync directory " + parent);
  bytes_written_.fetch_add(header.size() + data.size(), std::memory_order_relaxed);
  return etag;
}

Status DirStore::Unlink(const std::string& key, std::string* parent_dir) {
  deletes_.fetch_add(1, std::memory_order_relaxed);
  const std::string context = "delete " + key;
  S3DISK_RETURN_IF_ERROR(ValidateKey(key).WithContext("dir_store: " + context));
  if (read_only_) {
    return Errno(EROFS, context, "bucket directory " + dir_ + " was opened read-only");
  }
  const std::string path = dir_ + "/" + key;
  parent_dir->clear();
  if (unlink(path.c_str()) == 0) {
    *parent_dir = ParentOf(path);
    return Status::Ok();
  }
  int err = errno;
  // Nothing there, a missing parent, or a directory: there is no such object.
  if (err == ENOENT || err == ENOTDIR || err == EISDIR) return Status::Ok();
  return Errno(err, context, "cannot remove " + path);
}

Status DirStore::Delete(const std::vector<std::string>& keys) {
  // Each directory touched, with the first key removed from it (for the message).
  std::map<std::string, const std::string*> parents;
  Status result;
  for (const auto& key : keys) {
    std::string parent;
    result = Unlink(key, &parent);
    if (!result.ok()) break;
    if (!parent.empty()) parents.emplace(std::move(parent), &key);
  }
  // Make the removals done so far durable even if one failed.
  for (const auto& [parent, key] : parents) {
    if (FsyncDir(parent) != 0 && result.ok()) {
      result = Errno(errno, "delete " + *key, "cannot fsync directory " + parent);
    }
  }
  return result;
}

std::string DirStore::PathOf(const std::string& rel) const {
  if (rel.empty()) return dir_;
  return dir_ + "/" + (rel.ends_with('/') ? rel.substr(0, rel.size() - 1) : rel);
}

Status DirStore::WalkDir(int dir_fd, const std::string& rel, const std::string& prefix,
                         const std::function<void(const std::string& key)>& found,
                         std::vector<WalkedDir>* walked) {
  const std::string context = "list " + prefix;
  struct stat ds;
  if (fstat(dir_fd, &ds) != 0) {
    int err = errno;
    close(dir_fd);
    return Errno(err, context, "cannot stat directory " + PathOf(rel));
  }
  for (const WalkedDir& above : *walked) {
    if (above.dev == ds.st_dev && above.ino == ds.st_ino) {
      close(dir_fd);
      return Errno(ELOOP, context,
                   PathOf(rel) + " leads back to " + PathOf(above.rel) +
                       " (a symlink loop): remove or re-point the link");
    }
  }
  DIR* d = fdopendir(dir_fd);
  if (d == nullptr) {
    int err = errno;
    close(dir_fd);
    return Errno(err, context, "cannot read directory " + PathOf(rel));
  }
  walked->push_back({ds.st_dev, ds.st_ino, rel});
  struct Cleanup {
    DIR* d;
    std::vector<WalkedDir>* walked;
    ~Cleanup() {
      closedir(d);
      walked->pop_back();
    }
  } cleanup{d, walked};

  for (;;) {
    errno = 0;
    struct dirent* ent = readdir(d);
    if (ent == nullptr) {
      if (errno != 0) return Errno(errno, context, "cannot read directory " + PathOf(rel));
      return Status::Ok();
    }
    std::string_view name(ent->d_name);
    if (name == "." || name == ".." || name.starts_with(kTempPrefix)) continue;
    const std::string key = rel + std::string(name);
    // Neither a key with the prefix nor a directory that can hold some.
    if (!key.starts_with(prefix) && !prefix.starts_with(key)) continue;
    unsigned char type = ent->d_type;
    if (type == DT_LNK || type == DT_UNKNOWN) {
      // Follow links, as Get and Put do (they open the path).
      struct stat sb;
      if (fstatat(dirfd(d), ent->d_name, &sb, 0) != 0) {
        // Gone, or a dangling link: no object, as for Get.
        if (errno == ENOENT || errno == ENOTDIR) continue;
        if (errno == ELOOP) {
          return Errno(ELOOP, context,
                       PathOf(key) + " is a symlink loop: remove or re-point the link");
        }
        return Errno(errno, context, "cannot stat " + PathOf(key));
      }
      type = S_ISREG(sb.st_mode) ? DT_REG : S_ISDIR(sb.st_mode) ? DT_DIR : DT_UNKNOWN;
    }
    if (type == DT_REG) {
      if (key.starts_with(prefix)) found(key);
    } else if (type == DT_DIR) {
      const std::string sub = key + '/';
      // Descend only where keys with the prefix can be.
      if (!sub.starts_with(prefix) && !prefix.starts_with(sub)) continue;
      int sub_fd = openat(dirfd(d), ent->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (sub_fd < 0) {
        if (errno == ENOENT) continue;  // removed while we list
        return Errno(errno, context, "cannot open directory " + PathOf(sub));
      }
      S3DISK_RETURN_IF_ERROR(WalkDir(sub_fd, sub, prefix, found, walked));
    }
  }
}

Status DirStore::List(const std::string& prefix, const ListOptions& options,
                      const ListFound& found) {
  lists_.fetch_add(1, std::memory_order_relaxed);
  int fd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, "list " + prefix, "cannot open bucket directory " + dir_);
  std::vector<WalkedDir> walked;
  if (!options.sizes) {
    return WalkDir(
        fd, "", prefix, [&](const std::string& key) { found(key, 0); }, &walked);
  }
  // A body's size is the file's less its header: the header must be read, as Head does.
  std::vector<std::string> keys;
  S3DISK_RETURN_IF_ERROR(WalkDir(
      fd, "", prefix, [&](const std::string& key) { keys.push_back(key); }, &walked));
  for (const auto& key : keys) {
    Result<ObjectInfo> info = Head(key);
    if (!info.ok() && info.status().code() == ENOENT) continue;
    if (!info.ok()) return info.status();
    found(key, info->size);
  }
  return Status::Ok();
}

void DirStore::DumpStats(std::string* out) {
  AppendStat(out, "dir_store_gets", gets_);
  AppendStat(out, "dir_store_heads", heads_);
  AppendStat(out, "dir_store_puts", puts_);
  AppendStat(out, "dir_store_deletes", deletes_);
  AppendStat(out, "dir_store_lists", lists_);
  AppendStat(out, "dir_store_bytes_read", bytes_read_);
  AppendStat(out, "dir_store_bytes_written", bytes_written_);
}

}  // namespace s3disk
