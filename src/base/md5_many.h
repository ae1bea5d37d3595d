// Md5Many: the MD5 digests of several buffers computed side by side.
//
// One MD5 is a chain of dependent steps, so a single buffer cannot go faster than OpenSSL's
// assembly (about 4.5 cycles per byte). Sixteen buffers can: with AVX-512 each 32-bit lane
// of a vector register carries one buffer's state, and one pass of the 64 steps advances all
// of them. Up to 8 buffers go on 8 lanes (256-bit registers, AVX-512VL) at half the cost of
// 16. Hashing 8 blocks of 128 KiB this way costs less than one costs with OpenSSL.
// Buffers of different lengths are fine (a lane stops when its buffer ends). Without
// AVX-512, or for a single buffer, each digest comes from OpenSSL (Md5).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/crypto.h"

namespace s3disk {

// out[i] = Md5(inputs[i]); inputs.size() == out.size().
void Md5Many(std::span<const std::span<const uint8_t>> inputs, std::span<Md5Digest> out);

// True if Md5Many hashes buffers side by side on this machine (else it calls Md5 for each).
bool Md5ManyVectorized();

// For tests: the side-by-side code in groups of kMd5Lanes buffers (and of 8 for the narrow
// form), whatever their number. Require Md5ManyVectorized().
constexpr size_t kMd5Lanes = 16;
void TEST_Md5Lanes(std::span<const std::span<const uint8_t>> inputs, std::span<Md5Digest> out);
void TEST_Md5NarrowLanes(std::span<const std::span<const uint8_t>> inputs,
                         std::span<Md5Digest> out);

}  // namespace s3disk
