#include "s3/s3_options.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string>

#include "base/log.h"

namespace s3disk {

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

Status CheckBucketName(const std::string& bucket) {
  if (bucket.empty() || bucket.find('/') != std::string::npos) {
    return Status::Errorf(EINVAL, "invalid bucket name \"%s\"", bucket.c_str());
  }
  if (bucket.size() < 3) {
    return Status::Errorf(EINVAL,
                          "bucket name \"%s\" is too short: S3 bucket names have at least 3 "
                          "characters",
                          bucket.c_str());
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
    LOG_DEBUG("credentials: access key ID from %s", creds->source.c_str());
  }
  settings->options.key_source = creds->source;
  settings->options.access_id = creds->access_id;
  settings->options.access_key = creds->access_key;
  settings->options.session_token = creds->session_token;
  return Status::Ok();
}

}  // namespace s3disk
