// Object keys for blocks, as doc/FORMAT.md ("Keys") describes them (the s3backer naming).
//
// Block N lives at PREFIX + N as 8 lowercase hex digits; with --blockHashPrefix at
// PREFIX + hash(N) as 8 lowercase hex digits + "-" + N as 8 hex digits, which spreads the keys
// over the key space. Parsing is strict: a listing only takes keys that this naming would
// have produced, and ignores anything else under the prefix.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "block/block_store.h"

namespace s3disk {

// doc/FORMAT.md ("Keys"): h = N; for n = 12 down to 1: h = ((h >> 8) ^ h) * 0x6b + n (32-bit).
uint32_t BlockHash(BlockNum n);

// The key of block n: prefix + "0000002a", or prefix + "HHHHHHHH-0000002a" with hashing.
std::string BlockKey(const std::string& prefix, bool hash_prefix, BlockNum n);

// Parses a listed key; nullopt unless it is exactly prefix + 8 lowercase hex (with hashing:
// prefix + 8 hex hash + "-" + 8 hex, and the hash must match).
std::optional<BlockNum> ParseBlockKey(const std::string& prefix, bool hash_prefix,
                                      std::string_view key);

}  // namespace s3disk
