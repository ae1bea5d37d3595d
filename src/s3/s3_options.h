// The S3 options: what an S3Store is made with (S3Options), and the part of the command line
// that sets them (S3CliOptions and friends), kept here so that the command line's owner
// (app/config) includes these declarations and not the whole S3 client.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "s3/credentials.h"

namespace s3disk {

struct S3Options {
  // --baseURL (alias --endpoint): the service's URL. The default with a --region other than
  // us-east-1 becomes https://s3.REGION.amazonaws.com/.
  std::string base_url = "https://s3.amazonaws.com/";
  std::string region = "us-east-1";   // --region: the SigV4 signing region
  std::string bucket;                 // the BUCKET argument
  bool vhost = false;                 // --vhost: virtual-host style addressing
  bool insecure = false;              // --insecure: do not verify TLS certificates (logged)
  std::string cacert;                 // --cacert=FILE: CA bundle for TLS verification
  std::string auth_version = "aws4";  // --authVersion: aws4 or aws2
  // Resolved credentials (see credentials.h); all empty = unsigned requests.
  std::string access_id, access_key, session_token;
  std::string key_source;               // where they came from (Credentials::source), for messages
  std::string access_type = "private";  // --accessType: x-amz-acl on PUT (empty = none)
  std::string sse;                      // --sse: x-amz-server-side-encryption (AES256, aws:kms)
  std::string sse_key_id;               // --sse-key-id: x-amz-server-side-encryption-aws-kms-key-id
  std::string storage_class;            // --storageClass: x-amz-storage-class (STANDARD_IA, ...)
  int connect_timeout_s = 30;           // --connectTimeout (seconds)
  int request_timeout_s = 30;           // --timeout (seconds, whole request)
  int max_retry_pause_ms = 30000;       // --maxRetryPause: total pauses before giving up
  int initial_retry_pause_ms = 200;     // --initialRetryPause: first pause, doubled each time
  int max_connections = 32;             // --maxConnections: idle keep-alive connections kept
  int list_threads = 8;                 // --listBlocksThreads: parallel listing threads
  int list_page_keys = 1000;            // max-keys of a listing request (no flag; tests page)
  bool verify_etag = true;              // check GET ETags against the body's MD5 (no flag)
  // The largest object body a GET accepts; a larger one is cut off as it arrives and retried
  // as a bad body (http.h). stack.cc gives one block plus what a codec may add
  // (MaxEncodedBytes); the default is above the largest block s3disk mounts (64 MiB).
  // Listings and other replies are bounded by kDefaultMaxBodyBytes.
  uint64_t max_object_bytes = 80ull << 20;
  uint64_t retry_seed = 0;  // jitter seed; 0 = random (tests fix it)
};

// An S3 bucket name as every server takes it: not empty, no '/', at least 3 characters (AWS
// and Ceph RGW refuse shorter names with InvalidBucketName). Longer names and other
// characters are left to the server: some (RGW, old AWS buckets) allow more than AWS's
// 63 lowercase letters, digits, dots and hyphens. EINVAL naming the name otherwise.
Status CheckBucketName(const std::string& bucket);

// Wiring: for each option in S3CliOptions() (same shape as config.cc's Option table), call
// SetS3CliOption(name, value, &settings) where value is "" for flags; after parsing, set
// settings.options.bucket and call FinishS3CliSettings(&settings, read_only), then
// S3Store::Create(settings.options). S3Store::Probe() at mount time checks bucket, region
// and credentials with one small request.

struct S3CliOption {
  const char* name;        // with dashes, s3backer's spelling: "--accessFile"
  const char* value_name;  // nullptr for flags
  const char* help;        // one line, with the default
};

// Every S3 option, in --help order.
const std::vector<S3CliOption>& S3CliOptions();

struct S3CliSettings {
  S3Options options;              // bucket and credentials are filled in later
  CredentialSources credentials;  // --accessId, --accessKey, --accessFile, --profile
};

// Applies one option. ENOENT when name is not an S3 option; EINVAL (with the fix in the
// message) for a bad value.
Status SetS3CliOption(const std::string& name, const std::string& value, S3CliSettings* settings);

// Resolves the credentials into settings->options (see the precedence above). Without
// credentials, requests are unsigned, which is allowed only with read_only (a public bucket):
// otherwise EINVAL saying where credentials can come from.
Status FinishS3CliSettings(S3CliSettings* settings, bool read_only);

}  // namespace s3disk
