#include "s3/credentials.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "base/log.h"
#include "object_store_contract.h"  // ScopedTempDir

namespace s3disk {
namespace {

using testing::ScopedTempDir;

void WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }
  REQUIRE(chmod(path.c_str(), mode) == 0);
}

TEST_CASE("credentials: s3backer access file lines") {
  auto c = ParseAccessFile("# comment\n\n  AKIDONE:secretone  \nAKIDTWO:secret:two\n", "", "f");
  REQUIRE(c.ok());
  CHECK(c->access_id == "AKIDONE");
  CHECK(c->access_key == "secretone");
  CHECK(c->source == "access file f");
  // With an access ID, its own line; a secret may contain ':' after the first one.
  auto two = ParseAccessFile("AKIDONE:secretone\r\nAKIDTWO:secret:two\n", "AKIDTWO", "f");
  REQUIRE(two.ok());
  CHECK(two->access_key == "secret:two");
  CHECK(ParseAccessFile("AKIDONE:x\n", "OTHER", "f").status().code() == ENOENT);
  CHECK(ParseAccessFile("# only a comment\n", "", "f").status().code() == ENOENT);
  auto bad = ParseAccessFile("justonefield\n", "", "f");
  CHECK(bad.status().code() == EINVAL);
  CHECK(bad.status().message().find("line 1") != std::string::npos);
  CHECK(bad.status().message().find("justonefield") == std::string::npos);  // never echoed
  CHECK(ParseAccessFile("id:\n", "", "f").status().code() == EINVAL);
}

TEST_CASE("credentials: AWS shared credentials file profiles") {
  const std::string text =
      "[default]\naws_access_key_id = AKIDDEF\naws_secret_access_key = defsecret\n\n"
      "; comment\n[work]\naws_access_key_id=AKIDWORK\naws_secret_access_key=worksecret\n"
      "aws_session_token = work-session-token-value\n[broken]\naws_access_key_id=X\n";
  auto def = ParseAwsCredentials(text, "default", "creds");
  REQUIRE(def.ok());
  CHECK(def->access_id == "AKIDDEF");
  CHECK(def->access_key == "defsecret");
  CHECK(def->session_token.empty());
  auto work = ParseAwsCredentials(text, "work", "creds");
  REQUIRE(work.ok());
  CHECK(work->access_id == "AKIDWORK");
  CHECK(work->session_token == "work-session-token-value");
  CHECK(ParseAwsCredentials(text, "nope", "creds").status().code() == ENOENT);
  CHECK(ParseAwsCredentials(text, "broken", "creds").status().code() == EINVAL);
  CHECK(ParseAwsCredentials("[oops\n", "default", "creds").status().code() == EINVAL);
}

TEST_CASE("credentials: a file readable by others is refused with chmod 600") {
  ScopedTempDir tmp;
  std::string path = tmp.path() + "/passwd";
  WriteFile(path, "id:key\n", 0644);
  Status st = CheckPrivateFile(path);
  CHECK(st.code() == EACCES);
  CHECK(st.message().find("chmod 600 " + path) != std::string::npos);
  WriteFile(path, "id:key\n", 0640);
  CHECK(CheckPrivateFile(path).code() == EACCES);
  WriteFile(path, "id:key\n", 0600);
  CHECK(CheckPrivateFile(path).ok());
  WriteFile(path, "id:key\n", 0400);
  CHECK(CheckPrivateFile(path).ok());
  CHECK(CheckPrivateFile(tmp.path() + "/absent").code() == ENOENT);

  CredentialSources src;
  src.access_file = path;
  src.env = {{"HOME", tmp.path()}};
  WriteFile(path, "id:key\n", 0604);
  auto refused = ResolveCredentials(src);
  CHECK(refused.status().code() == EACCES);
  CHECK(refused.status().message().find("chmod 600") != std::string::npos);
}

TEST_CASE("credentials: precedence, first found wins") {
  ScopedTempDir home;
  std::string aws_dir = home.path() + "/.aws";
  REQUIRE(mkdir(aws_dir.c_str(), 0700) == 0);
  WriteFile(aws_dir + "/credentials",
            "[default]\naws_access_key_id=FILEID\naws_secret_access_key=filekey\n"
            "[other]\naws_access_key_id=OTHERID\naws_secret_access_key=otherkey\n",
            0600);
  std::string access_file = home.path() + "/passwd-s3disk";
  WriteFile(access_file, "ACCESSFILEID:accessfilekey\n", 0600);

  CredentialSources src;
  src.env = {{"HOME", home.path()},
             {"AWS_ACCESS_KEY_ID", "ENVID"},
             {"AWS_SECRET_ACCESS_KEY", "envkey"},
             {"AWS_SESSION_TOKEN", "envtoken"}};
  src.access_file = "~/passwd-s3disk";  // ~ expands with HOME
  src.access_id = "CLIID";
  src.access_key = "clikey";

  auto cli = ResolveCredentials(src);
  REQUIRE(cli.ok());
  CHECK(cli->access_id == "CLIID");
  CHECK(cli->source == "command line");

  src.access_id.clear();
  src.access_key.clear();
  auto file = ResolveCredentials(src);
  REQUIRE(file.ok());
  CHECK(file->access_id == "ACCESSFILEID");
  CHECK(file->access_key == "accessfilekey");

  src.access_file.clear();
  auto env = ResolveCredentials(src);
  REQUIRE(env.ok());
  CHECK(env->access_id == "ENVID");
  CHECK(env->session_token == "envtoken");
  CHECK(env->source == "environment");

  src.env.erase("AWS_ACCESS_KEY_ID");
  auto aws = ResolveCredentials(src);
  REQUIRE(aws.ok());
  CHECK(aws->access_id == "FILEID");
  src.profile = "other";
  auto other = ResolveCredentials(src);
  REQUIRE(other.ok());
  CHECK(other->access_id == "OTHERID");
  src.profile = "missing";
  CHECK(ResolveCredentials(src).status().code() == ENOENT);
  src.profile.clear();

  // s3backer's default access file is used when present, before the environment.
  WriteFile(home.path() + "/.s3backer_passwd", "DEFID:defkey\n", 0600);
  src.env["AWS_ACCESS_KEY_ID"] = "ENVID";
  auto dflt = ResolveCredentials(src);
  REQUIRE(dflt.ok());
  CHECK(dflt->access_id == "DEFID");
}

TEST_CASE("credentials: none found, half given, and missing files") {
  ScopedTempDir home;
  CredentialSources src;
  src.env = {{"HOME", home.path()}};
  auto none = ResolveCredentials(src);
  REQUIRE(none.ok());
  CHECK(none->empty());

  src.access_key = "lonelykey";
  CHECK(ResolveCredentials(src).status().code() == EINVAL);
  src.access_key.clear();

  src.access_id = "IDONLY";
  CHECK(ResolveCredentials(src).status().code() == EINVAL);
  src.access_id.clear();

  src.access_file = home.path() + "/nope";
  CHECK(ResolveCredentials(src).status().code() == ENOENT);
}

TEST_CASE("credentials: secrets found are never logged") {
  auto c = ParseAccessFile("LOGID:TopSecretKeyForRedaction\n", "", "f");
  REQUIRE(c.ok());
  CHECK(RedactSecrets("key is TopSecretKeyForRedaction!") == "key is ***!");
  CredentialSources src;
  src.env = {{"HOME", "/nonexistent"}};
  src.access_id = "X";
  src.access_key = "AnotherSecretFromTheCommandLine";
  REQUIRE(ResolveCredentials(src).ok());
  CHECK(RedactSecrets("AnotherSecretFromTheCommandLine").find("Another") == std::string::npos);
}

}  // namespace
}  // namespace s3disk
