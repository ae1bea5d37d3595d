#include "s3/s3_options.h"

#include <catch2/catch.hpp>
#include <string>

#include "object_store_contract.h"  // ScopedTempDir

namespace s3disk {
namespace {

using testing::ScopedTempDir;

TEST_CASE("s3_options: S3 command-line options set S3Options and the credential sources") {
  S3CliSettings s;
  // Every option in the help table is accepted by the setter.
  for (const auto& opt : S3CliOptions()) {
    INFO(opt.name);
    std::string value = opt.value_name == nullptr ? "" : "1";
    if (std::string(opt.name) == "--baseURL" || std::string(opt.name) == "--endpoint") {
      value = "http://127.0.0.1:9000/";
    }
    if (std::string(opt.name) == "--authVersion") value = "aws2";
    CHECK(SetS3CliOption(opt.name, value, &s).code() != ENOENT);
  }
  CHECK(SetS3CliOption("--blockSize", "1", &s).code() == ENOENT);

  S3CliSettings t;
  REQUIRE(SetS3CliOption("--baseURL", "https://minio.local:9000/", &t).ok());
  REQUIRE(SetS3CliOption("--region", "eu-west-3", &t).ok());
  REQUIRE(SetS3CliOption("--vhost", "", &t).ok());
  REQUIRE(SetS3CliOption("--authVersion", "aws2", &t).ok());
  REQUIRE(SetS3CliOption("--sse", "AES256", &t).ok());
  REQUIRE(SetS3CliOption("--rrs", "", &t).ok());
  REQUIRE(SetS3CliOption("--timeout", "45", &t).ok());
  REQUIRE(SetS3CliOption("--maxRetryPause", "1000", &t).ok());
  REQUIRE(SetS3CliOption("--listBlocksThreads", "4", &t).ok());
  REQUIRE(SetS3CliOption("--accessFile", "~/x", &t).ok());
  CHECK(t.options.base_url == "https://minio.local:9000/");
  CHECK(t.options.region == "eu-west-3");
  CHECK(t.options.vhost);
  CHECK(t.options.auth_version == "aws2");
  CHECK(t.options.sse == "AES256");
  CHECK(t.options.storage_class == "REDUCED_REDUNDANCY");
  CHECK(t.options.request_timeout_s == 45);
  CHECK(t.options.max_retry_pause_ms == 1000);
  CHECK(t.options.list_threads == 4);
  CHECK(t.credentials.access_file == "~/x");

  CHECK(SetS3CliOption("--authVersion", "aws3", &t).code() == EINVAL);
  CHECK(SetS3CliOption("--baseURL", "s3.amazonaws.com", &t).code() == EINVAL);
  CHECK(SetS3CliOption("--timeout", "ten", &t).code() == EINVAL);
  CHECK(SetS3CliOption("--timeout", "-1", &t).code() == EINVAL);
  CHECK(SetS3CliOption("--listBlocksThreads", "0", &t).code() == EINVAL);
}

TEST_CASE("s3_options: unsigned requests only with --readOnly") {
  ScopedTempDir home;
  S3CliSettings s;
  s.credentials.env = {{"HOME", home.path()}};
  Status st = FinishS3CliSettings(&s, /*read_only=*/false);
  CHECK(st.code() == EINVAL);
  CHECK(st.message().find("--accessFile") != std::string::npos);
  CHECK(st.message().find("--readOnly") != std::string::npos);
  CHECK(FinishS3CliSettings(&s, /*read_only=*/true).ok());
  CHECK(s.options.access_id.empty());

  s.credentials.env["AWS_ACCESS_KEY_ID"] = "ENVID";
  s.credentials.env["AWS_SECRET_ACCESS_KEY"] = "env-secret-for-finish";
  REQUIRE(FinishS3CliSettings(&s, false).ok());
  CHECK(s.options.access_id == "ENVID");
  CHECK(s.options.access_key == "env-secret-for-finish");
}

}  // namespace
}  // namespace s3disk
