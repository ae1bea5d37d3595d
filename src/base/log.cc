#include "base/log.h"

#include <syslog.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <regex>
#include <vector>

namespace s3disk {
namespace {

// A longer message is cut (after its secrets are masked).
constexpr size_t kMaxLineChars = 2047;

struct LogState {
  std::mutex mu;
  LogLevel max_level = LogLevel::kInfo;
  bool syslog = false;
  std::vector<std::string> secrets;
};

LogState& State() {
  static LogState state;
  return state;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "ERROR";
    case LogLevel::kWarn:
      return "WARNING";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kDebug:
      return "DEBUG";
  }
  return "?";
}

int SyslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return LOG_ERR;
    case LogLevel::kWarn:
      return LOG_WARNING;
    case LogLevel::kInfo:
      return LOG_INFO;
    case LogLevel::kDebug:
      return LOG_DEBUG;
  }
  return LOG_INFO;
}

}  // namespace

void LogToStderr(LogLevel max_level) {
  std::lock_guard lock(State().mu);
  State().max_level = max_level;
  State().syslog = false;
}

void LogToSyslog(LogLevel max_level, const char* ident) {
  std::lock_guard lock(State().mu);
  State().max_level = max_level;
  State().syslog = true;
  openlog(ident, LOG_PID, LOG_DAEMON);
}

bool LogEnabled(LogLevel level) {
  std::lock_guard lock(State().mu);
  return level <= State().max_level;
}

void LogRegisterSecret(std::string secret) {
  if (secret.empty()) return;
  std::lock_guard lock(State().mu);
  // Longest first: a secret inside another (a password within a key) must not mask part of
  // the longer one and leave the rest in the line.
  auto& secrets = State().secrets;
  auto at = std::find_if(secrets.begin(), secrets.end(),
                         [&](const std::string& s) { return s.size() < secret.size(); });
  secrets.insert(at, std::move(secret));
}

std::string RedactSecrets(std::string_view text) {
  std::string out(text);
  {
    std::lock_guard lock(State().mu);
    for (const auto& secret : State().secrets) {
      for (size_t pos = out.find(secret); pos != std::string::npos;
           pos = out.find(secret, pos + 3)) {
        out.replace(pos, secret.size(), "***");
      }
    }
  }
  // Credential-bearing headers and query parameters, whatever their value.
  static const std::regex kHeader(
      R"(((?:authorization|x-amz-security-token|x-amz-server-side-encryption-customer-key)\s*:\s*)[^\r\n]*)",
      std::regex::icase);
  static const std::regex kParam(
      R"(((?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|AWSAccessKeyId)=)[^&\s]*)",
      std::regex::icase);
  out = std::regex_replace(out, kHeader, "$1***");
  out = std::regex_replace(out, kParam, "$1***");
  return out;
}

void LogMessage(LogLevel level, const char* fmt, ...) {
  if (!LogEnabled(level)) return;
  // The whole message first: a secret must be masked before the line is cut, or a secret
  // across the cut would be logged in part.
  va_list ap;
  va_start(ap, fmt);
  va_list again;
  va_copy(again, ap);
  const int n = vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  std::string text(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) vsnprintf(text.data(), text.size() + 1, fmt, again);
  va_end(again);
  text = RedactSecrets(text);
  if (text.size() > kMaxLineChars) text.resize(kMaxLineChars);
  std::lock_guard lock(State().mu);
  if (State().syslog) {
    syslog(SyslogPriority(level), "%s", text.c_str());
  } else {
    fprintf(stderr, "s3disk: %s: %s\n", LevelName(level), text.c_str());
  }
}

}  // namespace s3disk
