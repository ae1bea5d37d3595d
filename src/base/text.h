// Small ASCII text helpers shared by the option parser, the HTTP and S3 code and the codecs.
// ASCII only: header names, option values and codec names are ASCII.
#pragma once

#include <string>
#include <string_view>

namespace s3disk {

// s with A-Z turned into a-z.
std::string ToLower(std::string_view s);
// s without the whitespace (space, \t, \n, \v, \f, \r) at either end.
std::string_view TrimSpace(std::string_view s);
// True if a and b are equal ignoring the case of A-Z.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// True if s starts with prefix, ignoring the case of A-Z.
bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix);

}  // namespace s3disk
