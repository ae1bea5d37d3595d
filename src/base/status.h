// Status and Result<T>: how every layer reports failure.
//
// A Status is ok, or a positive errno value with a human message. Layers add context as an
// error travels up ("cache: write block 0000002a: ..."); front ends turn the code into the
// errno the kernel or the NBD client sees (FrontEndErrno below; doc/ARCHITECTURE.md,
// "Errors"). The codes in use:
//   EINVAL      bad configuration or argument (flags, geometry, a malformed header or file)
//   EIO         an operation that failed for good: retries exhausted, an injected fault
//   EBADMSG     corrupt or foreign data: a body that fails its MD5/ETag or HMAC, a bad codec
//               header, a listing that cannot be parsed, a response over its bound
//   ENOENT      an absent object or file
//   EEXIST      a create-only put found the key taken (the mount token)
//   EBUSY       the bucket is mounted by someone else
//   EROFS       a write to a read-only mount
//   ESTALE      an object changed since it was cached (the consistency checks)
//   ENOTSUP, EOPNOTSUPP
//               a layer or server that cannot do this (a survey, bulk delete, a fallocate mode)
//   ETIMEDOUT   a request, or nbdkit's start, took too long (transient while retried)
//   ENXIO       the bucket does not exist; no terminal to ask a password on
//   EACCES      access denied by the server, or an access file others can read
//   ENODEV      nbdkit is not installed
//   ENODATA     the password input ended before a line
//   ECANCELED   the user answered no
//   EADDRINUSE  the NBD socket is taken
//   ENOMEM      an allocation (an XML parser) failed
//   ENOTDIR, ELOOP
//               a directory bucket's path is not a directory, or its links loop
// and any errno of a failed system call (open, pwrite, fsync, ...), whose message names the
// call and the path.
#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace s3disk {

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(int code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  // printf-style constructor for errors.
  static Status Errorf(int code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

  bool ok() const { return code_ == 0; }
  int code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "context: message". Ok stays ok.
  Status WithContext(std::string_view context) const;
  // "message (strerror)"; "ok" when ok.
  std::string ToString() const;

 private:
  int code_ = 0;
  std::string message_;
};

// A value or a failed Status. Accessing value() of a failed Result is a programming error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: must not be ok

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

// The errno a front end (FUSE, NBD) reports for a failed Status: the few codes a user can act
// on pass through (EROFS, ENOSPC, EFBIG, EINVAL, EPERM, EACCES, EOPNOTSUPP, EDQUOT); every
// other failure, corrupt data (EBADMSG) and transient codes included, is EIO. Never 0, never
// ENOSYS (which would make the kernel stop sending that operation).
int FrontEndErrno(const Status& status);

// Propagate a failed Status out of the current function.
#define S3DISK_RETURN_IF_ERROR(expr)         \
  do {                                       \
    ::s3disk::Status s3disk_st_ = (expr);    \
    if (!s3disk_st_.ok()) return s3disk_st_; \
  } while (0)

}  // namespace s3disk
