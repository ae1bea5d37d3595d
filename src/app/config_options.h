// The option table behind ParseArgs (config.h), shared by config.cc and config_options.cc.
// Not for other modules: they use config.h.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "app/config.h"
#include "base/status.h"

namespace s3disk {

// A usage error: Status(EINVAL, printf-formatted message).
Status Usage(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// A decimal count from 0 to max, for option name.
Result<uint64_t> ParseCount(const char* name, const std::string& text, uint64_t max);

// One command-line option. apply gets the value ("" for flags).
struct Option {
  const char* name;        // with dashes
  const char* value_name;  // nullptr for flags
  const char* help;
  std::function<Status(Config*, const std::string&)> apply;
  // "--name" alone or "--name=VALUE" (never the next argument): --compress, --encrypt.
  bool value_optional = false;
};

// Every option but the S3 ones, in --help order.
const std::vector<Option>& Options();

// The option called name (with its dashes), or nullptr.
const Option* FindOption(const std::string& name);

}  // namespace s3disk
