// Status and Result<T>: how every layer reports failure.
//
// A Status is ok, or a positive errno value with a human message. Layers add context as an
// error travels up ("cache: write block 0000002a: ..."); front ends turn the code into the
// errno the kernel or the NBD client sees. Codes in use (doc/ARCHITECTURE.md, "Errors"):
//   EIO retries exhausted, ENOENT absent object, EAGAIN/ETIMEDOUT transient,
//   EBADMSG corrupt data, EROFS read-only, EINVAL bad configuration, EBUSY mounted
//   elsewhere, EEXIST a create-only write that lost.
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
