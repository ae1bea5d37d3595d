#include "base/status.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace s3disk {

Status Status::Errorf(int code, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return Status(code, buf);
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message_;
  return Status(code_, std::move(msg));
}

int FrontEndErrno(const Status& status) {
  switch (status.code()) {
    case EROFS:
    case ENOSPC:
    case EFBIG:
    case EINVAL:
    case EPERM:
    case EACCES:
    case EOPNOTSUPP:
    case EDQUOT:
      return status.code();
    default:
      return EIO;
  }
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return message_ + " (" + strerror(code_) + ")";
}

}  // namespace s3disk
