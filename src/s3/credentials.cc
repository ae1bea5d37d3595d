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

namespace {

Status ParseInt(const std::string& name, const std::string& value, int min, int max, int* out) {
  char* end = nullptr;
  errno = 0;
  long v = strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno != 0 || v < min || v > max) {
    return Status::Errorf(EINVAL, "%s=%s: want a whole number from %d to %d", name.c_str(),
                          value.c_str(), min, max);
  }
  *out = static_cast<int>(v);
  return Status::Ok();
}

}  // namespace

const std::vector<S3CliOption>& S3CliOptions() {
  static const std::vector<S3CliOption> kOptions = {
      {"--accessId", "ID", "S3 access key ID (see --accessFile)"},
      {"--accessKey", "KEY", "S3 secret access key (visible to ps: prefer --accessFile)"},
      {"--accessFile", "FILE",
       "file of accessID:accessKey lines, mode 600 (default ~/.s3backer_passwd if present; "
       "then $AWS_ACCESS_KEY_ID..., then ~/.aws/credentials)"},
      {"--profile", "NAME", "profile in ~/.aws/credentials (default $AWS_PROFILE or default)"},
      {"--accessType", "ACL", "x-amz-acl sent with each PUT (default private; empty for none)"},
      {"--authVersion", "VER", "request signing: aws4 (default) or aws2"},
      {"--baseURL", "URL", "S3 service URL (default https://s3.amazonaws.com/)"},
      {"--endpoint", "URL", "same as --baseURL"},
      {"--region", "REGION", "signing region (default us-east-1)"},
      {"--vhost", nullptr, "virtual-host style URLs (https://BUCKET.host/) instead of paths"},
      {"--insecure", nullptr, "do not verify the server's TLS certificate"},
      {"--cacert", "FILE", "CA certificates to verify the server with (default the system's)"},
      {"--sse", "TYPE", "server-side encryption on PUT: AES256 or aws:kms"},
      {"--sse-key-id", "ID", "KMS key for --sse=aws:kms"},
      {"--storageClass", "CLASS", "x-amz-storage-class on PUT (STANDARD_IA, ...)"},
      {"--rrs", nullptr, "same as --storageClass=REDUCED_REDUNDANCY"},
      {"--timeout", "SECONDS", "limit for one HTTP request (default 30)"},
      {"--connectTimeout", "SECONDS", "limit for connecting to the server (default 30)"},
      {"--initialRetryPause", "MILLIS", "first pause before a retry, then doubled (default 200)"},
      {"--maxRetryPause", "MILLIS",
       "total pauses of one request's retries before it fails (default 30000)"},
      {"--maxConnections", "N", "idle HTTP connections kept for reuse (default 32)"},
      {"--listBlocksThreads", "N", "threads listing the bucket in parallel (default 8)"},
  };
  return kOptions;
}

Status SetS3CliOption(const std::string& name, const std::string& value, S3CliSettings* settings) {
  S3Options& o = settings->options;
  CredentialSources& c = settings->credentials;
  if (name == "--accessId") {
    c.access_id = value;
  } else if (name == "--accessKey") {
    LogRegisterSecret(value);
    c.access_key = value;
  } else if (name == "--accessFile") {
    c.access_file = value;
  } else if (name == "--profile") {
    c.profile = value;
  } else if (name == "--accessType") {
    o.access_type = value;
  } else if (name == "--authVersion") {
    if (value != "aws4" && value != "aws2") {
      return Status::Errorf(EINVAL, "--authVersion=%s: use aws4 or aws2", value.c_str());
    }
    o.auth_version = value;
  } else if (name == "--baseURL" || name == "--endpoint") {
    if (!value.starts_with("http://") && !value.starts_with("https://")) {
      return Status::Errorf(EINVAL, "%s=%s: want http://HOST[:PORT]/ or https://HOST[:PORT]/",
                            name.c_str(), value.c_str());
    }
    o.base_url = value;
  } else if (name == "--region") {
    if (value.empty()) return Status::Errorf(EINVAL, "--region needs a region name");
    o.region = value;
  } else if (name == "--vhost") {
    o.vhost = true;
  } else if (name == "--insecure") {
    o.insecure = true;
  } else if (name == "--cacert") {
    o.cacert = value;
  } else if (name == "--sse") {
    o.sse = value;
  } else if (name == "--sse-key-id") {
    o.sse_key_id = value;
  } else if (name == "--storageClass") {
    o.storage_class = value;
  } else if (name == "--rrs") {
    o.storage_class = "REDUCED_REDUNDANCY";
  } else if (name == "--timeout") {
    return ParseInt(name, value, 0, 86400, &o.request_timeout_s);
  } else if (name == "--connectTimeout") {
    return ParseInt(name, value, 0, 3600, &o.connect_timeout_s);
  } else if (name == "--initialRetryPause") {
    return ParseInt(name, value, 1, 3600000, &o.initial_retry_pause_ms);
  } else if (name == "--maxRetryPause") {
    return ParseInt(name, value, 0, 86400000, &o.max_retry_pause_ms);
  } else if (name == "--maxConnections") {
    return ParseInt(name, value, 1, 1024, &o.max_connections);
  } else if (name == "--listBlocksThreads") {
    return ParseInt(name, value, 1, 64, &o.list_threads);
  } else {
    return Status::Errorf(ENOENT, "%s is not an S3 option", name.c_str());
  }
  return Status::Ok();
}

Status FinishS3CliSettings(S3CliSettings* settings, bool read_only) {
  auto creds = ResolveCredentials(settings->credentials);
  if (!creds.ok()) return creds.status();
  if (creds->empty()) {
    if (!read_only) {
      return Status::Errorf(EINVAL,
                            "no S3 credentials: give --accessFile=FILE (accessID:accessKey, "
                            "chmod 600), set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                            "add ~/.aws/credentials; a public bucket mounts with --readOnly");
    }
    LOG_INFO("credentials: none: unsigned requests (read-only, public bucket)");
  } else {
    LOG_INFO("credentials: access key ID from %s", creds->source.c_str());
  }
  settings->options.access_id = creds->access_id;
  settings->options.access_key = creds->access_key;
  settings->options.session_token = creds->session_token;
  return Status::Ok();
}

}  // namespace s3disk
