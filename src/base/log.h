// Leveled printf-style logging to stderr (foreground) or syslog (daemon).
//
// Messages start with the layer name ("dir_store: ..."); block numbers are printed as 8 hex
// digits (kBlockFmt). Secrets never reach the log: every registered secret string is replaced
// by "***", and HTTP credential headers/parameters are masked (see RedactSecrets).
#pragma once

#include <string>
#include <string_view>

namespace s3disk {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// Where messages go and which are kept. Default: stderr, kInfo.
void LogToStderr(LogLevel max_level);
void LogToSyslog(LogLevel max_level, const char* ident);
bool LogEnabled(LogLevel level);

// Registers a string (password, secret key, session token) that must never appear in the log.
void LogRegisterSecret(std::string secret);
// Masks registered secrets and credential-bearing HTTP headers and query parameters.
std::string RedactSecrets(std::string_view text);

void LogMessage(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_ERROR(...) ::s3disk::LogMessage(::s3disk::LogLevel::kError, __VA_ARGS__)
#define LOG_WARN(...) ::s3disk::LogMessage(::s3disk::LogLevel::kWarn, __VA_ARGS__)
#define LOG_INFO(...) ::s3disk::LogMessage(::s3disk::LogLevel::kInfo, __VA_ARGS__)
#define LOG_DEBUG(...)                                               \
  do {                                                               \
    if (::s3disk::LogEnabled(::s3disk::LogLevel::kDebug))            \
      ::s3disk::LogMessage(::s3disk::LogLevel::kDebug, __VA_ARGS__); \
  } while (0)

}  // namespace s3disk
