#include "block/bucket_meta.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>

#include "base/crypto.h"
#include "base/log.h"

namespace s3disk {
namespace {

constexpr char kMountTokenName[] = "s3backer-mounted";

// Strict decimal: digits only, no sign, no spaces, no overflow.
std::optional<uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

// RFC 1123 date, e.g. "Tue, 14 Nov 2023 22:13:20 GMT".
std::string DateText(int64_t wall_seconds) {
  time_t t = static_cast<time_t>(wall_seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  size_t len = strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, len);
}

// The token object: Content-Type text/plain, body = date text, the token header.
Status PutMountToken(ObjectStore& store, const std::string& prefix, uint32_t token, Clock& clock,
                     bool if_absent) {
  char hex[9];
  snprintf(hex, sizeof hex, "%08x", token);
  Metadata meta{{"content-type", "text/plain"}, {kMountTokenHeader, hex}};
  std::string body = DateText(clock.WallSeconds()) + "\n";
  Result<std::string> etag =
      store.Put(MountTokenKey(prefix), AsBytes(body), meta, {.if_absent = if_absent});
  return etag.status();
}

}  // namespace

Result<Geometry> ReadGeometry(ObjectStore& store, const std::string& block0_key,
                              Metadata* block0_meta) {
  Result<ObjectInfo> info = store.Head(block0_key);
  if (!info.ok()) {
    if (info.status().code() == ENOENT) return Geometry{};
    return info.status().WithContext("bucket_meta: read geometry from " + block0_key);
  }
  if (block0_meta != nullptr) *block0_meta = info->meta;
  const Metadata& meta = info->meta;
  auto bs = meta.find(kBlockSizeHeader);
  auto fs = meta.find(kFileSizeHeader);
  if (bs == meta.end() || fs == meta.end()) return Geometry{};
  std::optional<uint64_t> block_size = ParseDecimal(bs->second);
  if (!block_size || *block_size > std::numeric_limits<uint32_t>::max()) {
    return Status::Errorf(EBADMSG, "bucket_meta: %s has a bad %s \"%s\"", block0_key.c_str(),
                          kBlockSizeHeader, bs->second.c_str());
  }
  std::optional<uint64_t> size_bytes = ParseDecimal(fs->second);
  if (!size_bytes) {
    return Status::Errorf(EBADMSG, "bucket_meta: %s has a bad %s \"%s\"", block0_key.c_str(),
                          kFileSizeHeader, fs->second.c_str());
  }
  if (*block_size == 0 || *size_bytes == 0) return Geometry{};
  Geometry g;
  g.block_size = static_cast<uint32_t>(*block_size);
  g.size_bytes = *size_bytes;
  return g;
}

Metadata GeometryMetadata(const Geometry& g) {
  return Metadata{{kBlockSizeHeader, std::to_string(g.block_size)},
                  {kFileSizeHeader, std::to_string(g.size_bytes)}};
}

std::string MountTokenKey(const std::string& prefix) { return prefix + kMountTokenName; }

Result<uint32_t> ReadMountToken(ObjectStore& store, const std::string& prefix) {
  const std::string key = MountTokenKey(prefix);
  Result<ObjectInfo> info = store.Head(key);
  if (!info.ok()) {
    if (info.status().code() == ENOENT) return uint32_t{0};
    return info.status().WithContext("bucket_meta: read mount token " + key);
  }
  auto it = info->meta.find(kMountTokenHeader);
  if (it == info->meta.end()) return uint32_t{1};
  std::optional<uint32_t> token = ParseHexU32(it->second, /*lowercase_only=*/false);
  if (!token || *token == 0) {  // present, so mounted, whatever it says
    LOG_WARN("bucket_meta: %s has a bad %s \"%s\"; treating the bucket as mounted", key.c_str(),
             kMountTokenHeader, it->second.c_str());
    return uint32_t{1};
  }
  return *token;
}

Status WriteMountToken(ObjectStore& store, const std::string& prefix, uint32_t token,
                       Clock& clock) {
  return PutMountToken(store, prefix, token, clock, /*if_absent=*/false)
      .WithContext("bucket_meta: write mount token " + MountTokenKey(prefix));
}

Status CreateMountToken(ObjectStore& store, const std::string& prefix, uint32_t token,
                        Clock& clock) {
  const std::string key = MountTokenKey(prefix);
  const std::string context = "bucket_meta: create mount token " + key;
  const int64_t start_ms = clock.NowMs();
  Status created = PutMountToken(store, prefix, token, clock, /*if_absent=*/true);
  bool settle = false;
  if (created.code() == EOPNOTSUPP) {
    // A server that refuses the condition (501): a plain PUT, then the read-back decides.
    created = PutMountToken(store, prefix, token, clock, /*if_absent=*/false);
    settle = created.ok();
  } else if (created.ok()) {
    Status probe = PutMountToken(store, prefix, token, clock, /*if_absent=*/true);
    if (probe.code() == EEXIST) return Status::Ok();  // the store honours create-only PUTs
    settle = probe.ok();
    if (!probe.ok()) created = probe;
  }
  if (!created.ok() && created.code() != EEXIST) {
    // The token may have landed all the same: ours must not outlive a refused start.
    Result<uint32_t> found = ReadMountToken(store, prefix);
    if (found.ok() && *found == token) (void)ClearMountToken(store, prefix);
    return created.WithContext(context);
  }
  if (settle) {
    // The store ignores create-only PUTs: every mount that saw no token wrote its own; the
    // last one written wins. Wait for the others' PUTs to land (longer on a slow server).
    const int64_t wait_ms = std::max(kTokenSettleMs, 4 * (clock.NowMs() - start_ms));
    LOG_DEBUG("bucket_meta: the store ignores create-only PUTs; checking %s after %lld ms",
              key.c_str(), static_cast<long long>(wait_ms));
    clock.SleepMs(wait_ms);
  }
  Result<uint32_t> found = ReadMountToken(store, prefix);
  if (!found.ok()) return found.status().WithContext(context);
  if (*found == token) return Status::Ok();
  return Status::Errorf(EEXIST, "%s: another mount (token %08x) holds it", context.c_str(), *found);
}

Status ClearMountToken(ObjectStore& store, const std::string& prefix) {
  const std::string key = MountTokenKey(prefix);
  return store.Delete(key).WithContext("bucket_meta: clear mount token " + key);
}

uint32_t NewMountToken() {
  static std::mutex mu;
  static std::mt19937 rng{std::random_device{}()};
  std::lock_guard lock(mu);
  for (;;) {
    uint32_t token = static_cast<uint32_t>(rng());
    if (token != 0 && token != kSharedDiskToken) return token;
  }
}

}  // namespace s3disk
