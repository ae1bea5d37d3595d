// Unit tests for the parts of the FUSE front end that need no mount: option checking at
// session creation (before anything is mounted or written) and the stats file's content.
// The operations themselves are exercised by mounting (tests/t_*.sh).
#include "app/fuse_frontend.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "block/byte_range.h"
#include "fakes.h"

namespace s3disk {
namespace {

TEST_CASE("fuse_frontend: mount options are checked when the session is created") {
  FuseFrontend ok_frontend(FuseFrontendOptions{});
  CHECK(ok_frontend.CreateSession({"allow_other", "ro", "max_read=131072"}).ok());

  FuseFrontend bad_frontend(FuseFrontendOptions{});
  Status st = bad_frontend.CreateSession({"allow_other", "no_such_option"});
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == EINVAL);
  // libfuse's own complaint is folded into the one line.
  CHECK(st.message() ==
        "FUSE refused the mount options '-o allow_other,no_such_option': fuse: unknown "
        "option(s): `-o no_such_option'; see mount.fuse3(8)");
  // Run without a mount is refused, not attempted.
  CHECK(bad_frontend.Run().code() == EINVAL);
}

TEST_CASE("fuse_frontend: the stats text has the front end's counters, then the stack's") {
  FuseFrontend frontend(FuseFrontendOptions{});
  const std::string before = frontend.StatsText();
  for (const char* name :
       {"fuse_reads 0\n", "fuse_writes 0\n", "fuse_bytes_read 0\n", "fuse_bytes_written 0\n",
        "fuse_fsyncs 0\n", "fuse_punch_holes 0\n", "fuse_errors 0\n"}) {
    CHECK(before.find(name) != std::string::npos);
  }
  RecordingBlockStore below(4096, 8);
  ByteRange bytes(below);
  frontend.Attach(&below, &bytes);
  const std::string after = frontend.StatsText();
  CHECK(after.find(before) == 0);
  CHECK(after.find("recording_block_store_calls") != std::string::npos);
}

}  // namespace
}  // namespace s3disk
