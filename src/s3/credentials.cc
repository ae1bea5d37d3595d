#include "s3/credentials.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/log.h"
#include "base/text.h"

extern char** environ;

namespace s3disk {
namespace {

std::string Get(const std::map<std::string, std::string>& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

// Reads a whole file; ENOENT when absent.
Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno != 0 ? errno : EIO;
    return Status::Errorf(err, "credentials: cannot read %s: %s", path.c_str(), strerror(err));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

Credentials Register(Credentials c) {
  LogRegisterSecret(c.access_key);
  LogRegisterSecret(c.session_token);
  return c;
}

Result<Credentials> FromFile(const std::string& path, const std::string& want_id) {
  S3DISK_RETURN_IF_ERROR(CheckPrivateFile(path));
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseAccessFile(*text, want_id, path);
}

}  // namespace

std::map<std::string, std::string> EnvironmentMap() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; e++) {
    std::string_view entry(*e);
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name(entry.substr(0, eq));
    if (name == "HOME" || name.starts_with("AWS_")) env[name] = std::string(entry.substr(eq + 1));
  }
  return env;
}

std::string ExpandHome(const std::string& path, const std::string& home) {
  if (path == "~") return home;
  if (path.starts_with("~/") && !home.empty()) return home + path.substr(1);
  return path;
}

Status CheckPrivateFile(const std::string& path, const std::string& what) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    int err = errno;
    return Status::Errorf(err, "%s: %s: %s", what.c_str(), path.c_str(), strerror(err));
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return Status::Errorf(EACCES,
                          "%s: %s is accessible by group or others (mode %03o): "
                          "refusing to use it; run: chmod 600 %s",
                          what.c_str(), path.c_str(), static_cast<unsigned>(st.st_mode & 0777),
                          path.c_str());
  }
  return Status::Ok();
}

Result<Credentials> ParseAccessFile(std::string_view text, std::string_view want_id,
                                    std::string_view file_name) {
  std::string name(file_name);
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = TrimSpace(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    line_no++;
    if (line.empty() || line.front() == '#') continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == line.size()) {
      // Never echo the line: it may hold a secret.
      return Status::Errorf(EINVAL, "credentials: %s line %zu: expected accessID:accessKey",
                            name.c_str(), line_no);
    }
    std::string_view id = TrimSpace(line.substr(0, colon));
    if (!want_id.empty() && id != want_id) continue;
    Credentials c;
    c.access_id = std::string(id);
    c.access_key = std::string(TrimSpace(line.substr(colon + 1)));
    c.source = "access file " + name;
    return Register(std::move(c));
  }
  if (!want_id.empty()) {
    return Status::Errorf(ENOENT, "credentials: %s has no line for access ID %.*s", name.c_str(),
                          static_cast<int>(want_id.size()), want_id.data());
  }
  return Status::Errorf(ENOENT, "credentials: %s has no accessID:accessKey line", name.c_str());
}

Result<Credentials> ParseAwsCredentials(std::string_view text, std::string_view profile,
                                        std::string_view file_name) {
  std::string name(file_name);
  std::string section;
  bool found = false;
  Credentials c;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = TrimSpace(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    line_no++;
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        return Status::Errorf(EINVAL, "credentials: %s line %zu: bad section header", name.c_str(),
                              line_no);
      }
      section = std::string(TrimSpace(line.substr(1, line.size() - 2)));
      if (section.starts_with("profile ")) section = std::string(TrimSpace(section.substr(8)));
      if (section == profile) found = true;
      continue;
    }
    if (section != profile) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return Status::Errorf(EINVAL, "credentials: %s line %zu: expected name = value", name.c_str(),
                            line_no);
    }
    std::string_view key = TrimSpace(line.substr(0, eq));
    std::string value(TrimSpace(line.substr(eq + 1)));
    if (key == "aws_access_key_id") c.access_id = value;
    if (key == "aws_secret_access_key") c.access_key = value;
    if (key == "aws_session_token") c.session_token = value;
  }
  if (!found) {
    return Status::Errorf(ENOENT, "credentials: %s has no profile [%.*s]", name.c_str(),
                          static_cast<int>(profile.size()), profile.data());
  }
  if (c.access_id.empty() || c.access_key.empty()) {
    LogRegisterSecret(c.access_key);
    return Status::Errorf(EINVAL,
                          "credentials: %s profile [%.*s] lacks aws_access_key_id or "
                          "aws_secret_access_key",
                          name.c_str(), static_cast<int>(profile.size()), profile.data());
  }
  c.source = name + " profile " + std::string(profile);
  return Register(std::move(c));
}

Result<Credentials> ResolveCredentials(const CredentialSources& in) {
  const std::map<std::string, std::string> env = in.env.empty() ? EnvironmentMap() : in.env;
  std::string home = Get(env, "HOME");

  // 1. The command line.
  if (!in.access_id.empty() && !in.access_key.empty()) {
    Credentials c;
    c.access_id = in.access_id;
    c.access_key = in.access_key;
    c.source = "command line";
    return Register(std::move(c));
  }
  if (in.access_id.empty() && !in.access_key.empty()) {
    LogRegisterSecret(in.access_key);
    return Status::Errorf(EINVAL, "credentials: --accessKey needs --accessId");
  }

  // 2. The access file: given, or s3backer's default when present.
  if (!in.access_file.empty()) {
    std::string path = ExpandHome(in.access_file, home);
    auto c = FromFile(path, in.access_id);
    if (!c.ok()) return c.status().WithContext("--accessFile");
    return c;
  }
  if (!home.empty() && Exists(home + "/.s3backer_passwd")) {
    auto c = FromFile(home + "/.s3backer_passwd", in.access_id);
    if (c.ok() || c.status().code() != ENOENT || in.access_id.empty()) return c;
  }

  // 3. The environment.
  std::string env_id = Get(env, "AWS_ACCESS_KEY_ID");
  std::string env_key = Get(env, "AWS_SECRET_ACCESS_KEY");
  if (!env_id.empty() && !env_key.empty() && (in.access_id.empty() || in.access_id == env_id)) {
    Credentials c;
    c.access_id = env_id;
    c.access_key = env_key;
    c.session_token = Get(env, "AWS_SESSION_TOKEN");
    c.source = "environment";
    return Register(std::move(c));
  }

  // 4. The AWS shared credentials file.
  std::string aws_file = Get(env, "AWS_SHARED_CREDENTIALS_FILE");
  if (aws_file.empty() && !home.empty()) aws_file = home + "/.aws/credentials";
  std::string profile = !in.profile.empty() ? in.profile : Get(env, "AWS_PROFILE");
  bool profile_asked = !profile.empty();
  if (profile.empty()) profile = "default";
  if (!aws_file.empty() && Exists(aws_file)) {
    S3DISK_RETURN_IF_ERROR(CheckPrivateFile(aws_file));
    auto text = ReadFile(aws_file);
    if (!text.ok()) return text.status();
    auto c = ParseAwsCredentials(*text, profile, aws_file);
    if (c.ok() || c.status().code() != ENOENT || profile_asked) return c;
  } else if (!in.profile.empty()) {
    return Status::Errorf(ENOENT, "credentials: --profile=%s given but %s does not exist",
                          in.profile.c_str(), aws_file.c_str());
  }

  if (!in.access_id.empty()) {
    return Status::Errorf(EINVAL, "credentials: no secret key found for --accessId=%s",
                          in.access_id.c_str());
  }
  return Credentials{};  // none: unsigned requests
}

}  // namespace s3disk
