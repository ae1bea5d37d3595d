// S3 credentials: where they come from, first found wins:
//   1. --accessId and --accessKey on the command line
//   2. --accessFile (s3backer's format: "accessID:accessKey" lines, '#' comments; with
//      --accessId alone, the line for that ID); default ~/.s3backer_passwd when it exists
//   3. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
//   4. ~/.aws/credentials (or AWS_SHARED_CREDENTIALS_FILE), section --profile (or AWS_PROFILE,
//      else "default")
// None found is not an error here: the caller allows unsigned requests only with --readOnly.
// A credentials file readable by group or others is refused ("chmod 600 FILE").
// Every secret found is registered with LogRegisterSecret, so it never reaches the log.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace s3disk {

struct Credentials {
  std::string access_id;
  std::string access_key;
  std::string session_token;
  std::string source;  // for the log: "command line", "access file /x", "environment", ...
  bool empty() const { return access_id.empty(); }
};

struct CredentialSources {
  std::string access_id;    // --accessId
  std::string access_key;   // --accessKey
  std::string access_file;  // --accessFile; empty = ~/.s3backer_passwd if it exists
  std::string profile;      // --profile; empty = $AWS_PROFILE, else "default"
  // The environment to read (AWS_*, HOME). ResolveCredentials(sources) with env left empty
  // uses EnvironmentMap().
  std::map<std::string, std::string> env;
};

// The process environment variables that credentials use (HOME and AWS_*).
std::map<std::string, std::string> EnvironmentMap();

// Resolves by the precedence above. Errors: EINVAL (half-given pair, malformed file, unknown
// profile asked for explicitly), EACCES (file readable by others), ENOENT (an --accessFile
// that does not exist).
Result<Credentials> ResolveCredentials(const CredentialSources& sources);

// Parses s3backer's access file text. With want_id empty, the first "id:key" line; otherwise
// the line whose id is want_id. ENOENT when no line matches; EINVAL on a malformed line.
Result<Credentials> ParseAccessFile(std::string_view text, std::string_view want_id,
                                    std::string_view file_name);
// Parses an AWS shared credentials file (INI) and returns the section `profile`.
// ENOENT when the section is absent; EINVAL when it lacks a key.
Result<Credentials> ParseAwsCredentials(std::string_view text, std::string_view profile,
                                        std::string_view file_name);
// EACCES (with "chmod 600 FILE") when the file is readable or writable by group or others.
// Messages start with what ("credentials", "--passwordFile").
Status CheckPrivateFile(const std::string& path, const std::string& what = "credentials");
// Expands a leading "~/" with home.
std::string ExpandHome(const std::string& path, const std::string& home);

}  // namespace s3disk
