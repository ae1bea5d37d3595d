// The stats file's format (README, "How it works"): one "name value" line per counter, from
// the top layer down.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace s3disk {

inline void AppendStat(std::string* out, std::string_view name, uint64_t value) {
  out->append(name);
  out->push_back(' ');
  out->append(std::to_string(value));
  out->push_back('\n');
}

}  // namespace s3disk
