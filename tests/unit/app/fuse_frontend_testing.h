// Shared by the FUSE front end's unit tests (fuse_frontend_test.cc, fuse_frontend_io_test.cc):
// a FuseReply that records, and a front end attached to a RecordingBlockStore. No kernel, no
// mount: the tests call the operations as libfuse's callbacks do.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "app/fuse_frontend.h"
#include "block/byte_range.h"
#include "fakes.h"

namespace s3disk {
namespace fuse_testing {

// Records the replies to one request: one line each in replies ("err 5", "buf 12", "attr",
// "entry 2", "written 7", "open", "statfs", "dir 2"), the payload of the last in the fields.
class RecordingReply : public FuseReply {
 public:
  void Err(int code) override { replies.push_back("err " + std::to_string(code)); }
  void Buf(const char* data, size_t size) override {
    replies.push_back("buf " + std::to_string(size));
    this->data.assign(data == nullptr ? "" : std::string(data, size));
  }
  void Attr(const struct stat& st, double timeout_s) override {
    replies.push_back("attr");
    attr = st;
    attr_timeout_s = timeout_s;
  }
  void Entry(uint64_t entry_ino, const struct stat& st, double attr_timeout,
             double entry_timeout) override {
    replies.push_back("entry " + std::to_string(entry_ino));
    ino = entry_ino;
    attr = st;
    attr_timeout_s = attr_timeout;
    entry_timeout_s = entry_timeout;
  }
  void Written(size_t size) override { replies.push_back("written " + std::to_string(size)); }
  bool Open(const FuseOpened& o) override {
    replies.push_back("open");
    opened = o;
    return accept_open;
  }
  void StatFs(const struct statvfs& st) override {
    replies.push_back("statfs");
    stats = st;
  }
  void Dir(std::span<const FuseDirEntry> entries, size_t size) override {
    replies.push_back("dir " + std::to_string(entries.size()));
    dir.clear();
    for (const FuseDirEntry& e : entries) {
      dir.push_back(std::string(e.name) + " " + std::to_string(e.ino) + " " +
                    (e.type == S_IFDIR   ? "dir"
                     : e.type == S_IFREG ? "reg"
                                         : "?") +
                    " " + std::to_string(e.next));
    }
    dir_size = size;
  }

  // The one reply, or "N replies" when there was not exactly one.
  std::string Only() const {
    if (replies.size() == 1) return replies[0];
    return std::to_string(replies.size()) + " replies";
  }

  std::vector<std::string> replies;
  std::string data;
  struct stat attr = {};
  double attr_timeout_s = -1;
  double entry_timeout_s = -1;
  uint64_t ino = 0;
  FuseOpened opened;
  bool accept_open = true;  // what Open answers (false: the request was interrupted)
  struct statvfs stats = {};
  std::vector<std::string> dir;  // "NAME INO dir|reg NEXT"
  size_t dir_size = 0;
};

// The reply an operation gives with errno code.
inline std::string Err(int code) { return "err " + std::to_string(code); }

constexpr uint32_t kBlockSize = 4096;
constexpr uint64_t kBlocks = 8;
constexpr uint64_t kSize = kBlockSize * kBlocks;
// The three inodes.
constexpr uint64_t kRoot = FuseFrontend::kRootIno;
constexpr uint64_t kImage = FuseFrontend::kImageIno;
constexpr uint64_t kStats = FuseFrontend::kStatsIno;

// A front end serving 8 blocks of 4096 bytes of a RecordingBlockStore through a real ByteRange.
struct Served {
  explicit Served(FuseFrontendOptions options = {}) : frontend(std::move(options)) {
    frontend.Attach(&store, &bytes);
  }
  // A counter of the stats text ("fuse_reads"); -1 if missing.
  long long Counter(const std::string& name) {
    const std::string text = frontend.StatsText();
    const std::string key = name + " ";
    size_t at = text.find(key);
    if (at == std::string::npos || (at > 0 && text[at - 1] != '\n')) return -1;
    return std::stoll(text.substr(at + key.size()));
  }
  // Opens the image with open(2) flags; its fh.
  uint64_t OpenImage(int flags) {
    RecordingReply r;
    frontend.Open(r, FuseFrontend::kImageIno, flags);
    REQUIRE(r.Only() == "open");
    return r.opened.fh;
  }

  RecordingBlockStore store{kBlockSize, kBlocks};
  ByteRange bytes{store};
  FuseFrontend frontend;
};

inline std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; i++) v[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 8) + 1);
  return v;
}

}  // namespace fuse_testing
}  // namespace s3disk
