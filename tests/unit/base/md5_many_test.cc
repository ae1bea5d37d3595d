#include "base/md5_many.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "base/crypto.h"

namespace s3disk {
namespace {

// Buffers of the lengths given, of random bytes.
std::vector<std::vector<uint8_t>> RandomBuffers(std::mt19937& rng,
                                                const std::vector<size_t>& lengths) {
  std::vector<std::vector<uint8_t>> out;
  for (size_t len : lengths) {
    std::vector<uint8_t> b(len);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    out.push_back(std::move(b));
  }
  return out;
}

using HashFn = void (*)(std::span<const std::span<const uint8_t>>, std::span<Md5Digest>);

// Every digest hash() gives equals OpenSSL's.
void CheckAgainstOpenSsl(HashFn hash, const std::vector<std::vector<uint8_t>>& buffers) {
  std::vector<std::span<const uint8_t>> inputs(buffers.begin(), buffers.end());
  std::vector<Md5Digest> out(inputs.size());
  hash(inputs, out);
  for (size_t i = 0; i < inputs.size(); i++) {
    INFO("buffer " << i << " of " << inputs.size() << ", " << inputs[i].size() << " bytes");
    CHECK(HexEncode(out[i]) == Md5Hex(inputs[i]));
  }
}

// The implementations under test: the dispatcher, and the side-by-side code when it runs here.
std::vector<std::pair<std::string, HashFn>> Implementations() {
  std::vector<std::pair<std::string, HashFn>> fns = {{"Md5Many", &Md5Many}};
  if (Md5ManyVectorized()) {
    fns.emplace_back("lanes", &TEST_Md5Lanes);
    fns.emplace_back("narrow lanes", &TEST_Md5NarrowLanes);
  }
  return fns;
}

TEST_CASE("md5_many: RFC 1321 test suite, side by side") {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", "d41d8cd98f00b204e9800998ecf8427e"},
      {"a", "0cc175b9c0f1b6a831c399e269772661"},
      {"abc", "900150983cd24fb0d6963f7d28e17f72"},
      {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
      {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
       "d174ab98d277d9f5a5611c2c9f419d9f"},
      {"1234567890123456789012345678901234567890123456789012345678901234567890123456789"
       "0",
       "57edf4a22be3c955ac49da2e2107b67a"},
  };
  std::vector<std::span<const uint8_t>> inputs;
  for (const auto& v : vectors) inputs.push_back(AsBytes(v.first));
  for (const auto& [name, hash] : Implementations()) {
    INFO(name);
    std::vector<Md5Digest> out(inputs.size());
    hash(inputs, out);
    for (size_t i = 0; i < vectors.size(); i++) CHECK(HexEncode(out[i]) == vectors[i].second);
  }
}

TEST_CASE("md5_many: every length around the padding edges, in one group") {
  // Lengths 0..130 cover one and two padding blocks (the length field fits after 55 bytes
  // of a block, not after 56) and the whole-block boundaries.
  std::mt19937 rng(1);
  for (const auto& [name, hash] : Implementations()) {
    INFO(name);
    for (size_t start = 0; start <= 130; start += 10) {
      std::vector<size_t> lengths;
      for (size_t len = start; len < start + 10; len++) lengths.push_back(len);
      CheckAgainstOpenSsl(hash, RandomBuffers(rng, lengths));
    }
  }
}

TEST_CASE("md5_many: any number of buffers of mixed lengths, past one group of lanes") {
  std::mt19937 rng(2);
  for (const auto& [name, hash] : Implementations()) {
    INFO(name);
    for (size_t count : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, kMd5Lanes - 1, kMd5Lanes,
                         kMd5Lanes + 1, 2 * kMd5Lanes + 5}) {
      INFO(count << " buffers");
      std::vector<size_t> lengths;
      for (size_t i = 0; i < count; i++) lengths.push_back(rng() % 3000);
      CheckAgainstOpenSsl(hash, RandomBuffers(rng, lengths));
    }
  }
}

TEST_CASE("md5_many: blocks of 128 KiB, as the cache uploads them") {
  std::mt19937 rng(3);
  for (const auto& [name, hash] : Implementations()) {
    INFO(name);
    CheckAgainstOpenSsl(hash, RandomBuffers(rng, std::vector<size_t>(8, 128 * 1024)));
    // One short lane among long ones stops early without disturbing the others.
    CheckAgainstOpenSsl(hash, RandomBuffers(rng, {128 * 1024, 7, 128 * 1024, 64 * 1024}));
  }
}

}  // namespace
}  // namespace s3disk
