// Shared by the unit tests that build stacks (stack_test.cc, mount_token_test.cc,
// consistency_guard_test.cc).
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "app/config.h"
#include "base/status.h"

namespace s3disk {
namespace stack_testing {

// A config as Validate leaves it for a local bucket (no file system checks here).
inline Config LocalConfig() {
  Config c;
  c.args = {"mem:", "/mnt"};
  c.bucket_arg = "mem:";
  c.bucket_kind = BucketKind::kMemory;
  c.mountpoint = "/mnt";
  c.list_blocks = true;
  return c;
}

inline std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; i++) v[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 8));
  return v;
}

inline void CheckError(const Status& st, int code, const std::string& message) {
  INFO("message: " << st.message());
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == code);
  CHECK(st.message() == message);
}

}  // namespace stack_testing
}  // namespace s3disk
