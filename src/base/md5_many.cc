#include "base/md5_many.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

namespace s3disk {
namespace {

// RFC 1321: the sine table, the initial state and the rotations of each round.
constexpr uint32_t kK[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};
constexpr uint32_t kInit[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
constexpr int kShift[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};
// The round functions F, G, H, I of (b, c, d) as vpternlogd truth tables.
constexpr int kFunction[4] = {0xca, 0xe4, 0x96, 0x39};

constexpr size_t kChunk = 64;  // bytes per MD5 block

// One lane: its buffer, and the one or two blocks of padding after its last whole block.
struct Lane {
  const uint8_t* data = nullptr;
  size_t whole_blocks = 0;  // blocks read from data
  size_t blocks = 0;        // whole_blocks + 1 or 2 padding blocks
  alignas(64) uint8_t padding[2 * kChunk] = {};

  void Set(std::span<const uint8_t> in) {
    data = in.data();
    whole_blocks = in.size() / kChunk;
    const size_t rest = in.size() % kChunk;
    const size_t pad_blocks = rest < kChunk - 8 ? 1 : 2;
    blocks = whole_blocks + pad_blocks;
    memset(padding, 0, sizeof padding);
    if (rest != 0) memcpy(padding, in.data() + whole_blocks * kChunk, rest);
    padding[rest] = 0x80;
    const uint64_t bits = uint64_t{in.size()} * 8;
    for (int i = 0; i < 8; i++) padding[pad_blocks * kChunk - 8 + i] = uint8_t(bits >> (8 * i));
  }
  // Block j of the padded message, or nullptr past its end.
  const uint8_t* Block(size_t j) const {
    if (j < whole_blocks) return data + j * kChunk;
    if (j < blocks) return padding + (j - whole_blocks) * kChunk;
    return nullptr;
  }
};

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl")
// GCC 12's AVX-512 intrinsics start their results from _mm512_undefined_epi32(), which
// -Wmaybe-uninitialized reports as a use of an uninitialized value.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// The vector operations the steps need, on 16 lanes (zmm registers) or on 8 (ymm, with
// AVX-512VL): 8 buffers on 8 lanes cost half what they cost on 16.
struct Wide {
  using Vec = __m512i;
  using Mask = __mmask16;
  static constexpr size_t kLanes = 16;
  static Vec Set1(uint32_t x) { return _mm512_set1_epi32(static_cast<int>(x)); }
  static Vec Add(Vec a, Vec b) { return _mm512_add_epi32(a, b); }
  static Vec MaskAdd(Vec a, Mask m, Vec b) { return _mm512_mask_add_epi32(a, m, a, b); }
  template <int kTable>
  static Vec Logic(Vec a, Vec b, Vec c) {
    return _mm512_ternarylogic_epi32(a, b, c, kTable);
  }
  template <int kBits>
  static Vec Rotate(Vec a) {
    return _mm512_rol_epi32(a, kBits);
  }
  static void Store(uint32_t* out, Vec a) { _mm512_store_si512(out, a); }

  // Loads block p[i] (64 bytes) of each lane i; afterwards words[w] holds word w of every lane.
  static void LoadWords(const uint8_t* const p[kLanes], Vec words[16]) {
    Vec rows[16], a[16], b[16];
    for (size_t i = 0; i < kLanes; i++) rows[i] = _mm512_loadu_si512(p[i]);
    for (int i = 0; i < 8; i++) {
      a[2 * i] = _mm512_unpacklo_epi32(rows[2 * i], rows[2 * i + 1]);
      a[2 * i + 1] = _mm512_unpackhi_epi32(rows[2 * i], rows[2 * i + 1]);
    }
    // b[4q + m], 128-bit part p: word 4p + m of lanes 4q .. 4q + 3.
    for (int q = 0; q < 4; q++) {
      b[4 * q] = _mm512_unpacklo_epi64(a[4 * q], a[4 * q + 2]);
      b[4 * q + 1] = _mm512_unpackhi_epi64(a[4 * q], a[4 * q + 2]);
      b[4 * q + 2] = _mm512_unpacklo_epi64(a[4 * q + 1], a[4 * q + 3]);
      b[4 * q + 3] = _mm512_unpackhi_epi64(a[4 * q + 1], a[4 * q + 3]);
    }
    for (int m = 0; m < 4; m++) {
      const Vec lo01 = _mm512_shuffle_i32x4(b[m], b[4 + m], _MM_SHUFFLE(1, 0, 1, 0));
      const Vec hi01 = _mm512_shuffle_i32x4(b[m], b[4 + m], _MM_SHUFFLE(3, 2, 3, 2));
      const Vec lo23 = _mm512_shuffle_i32x4(b[8 + m], b[12 + m], _MM_SHUFFLE(1, 0, 1, 0));
      const Vec hi23 = _mm512_shuffle_i32x4(b[8 + m], b[12 + m], _MM_SHUFFLE(3, 2, 3, 2));
      words[m] = _mm512_shuffle_i32x4(lo01, lo23, _MM_SHUFFLE(2, 0, 2, 0));
      words[4 + m] = _mm512_shuffle_i32x4(lo01, lo23, _MM_SHUFFLE(3, 1, 3, 1));
      words[8 + m] = _mm512_shuffle_i32x4(hi01, hi23, _MM_SHUFFLE(2, 0, 2, 0));
      words[12 + m] = _mm512_shuffle_i32x4(hi01, hi23, _MM_SHUFFLE(3, 1, 3, 1));
    }
  }
};

static_assert(Wide::kLanes == kMd5Lanes);

struct Narrow {
  using Vec = __m256i;
  using Mask = __mmask8;
  static constexpr size_t kLanes = 8;
  static Vec Set1(uint32_t x) { return _mm256_set1_epi32(static_cast<int>(x)); }
  static Vec Add(Vec a, Vec b) { return _mm256_add_epi32(a, b); }
  static Vec MaskAdd(Vec a, Mask m, Vec b) { return _mm256_mask_add_epi32(a, m, a, b); }
  template <int kTable>
  static Vec Logic(Vec a, Vec b, Vec c) {
    return _mm256_ternarylogic_epi32(a, b, c, kTable);
  }
  template <int kBits>
  static Vec Rotate(Vec a) {
    return _mm256_rol_epi32(a, kBits);
  }
  static void Store(uint32_t* out, Vec a) { _mm256_store_si256(reinterpret_cast<Vec*>(out), a); }

  // As Wide::LoadWords: an 8 x 8 transpose of each half of the blocks.
  static void LoadWords(const uint8_t* const p[kLanes], Vec words[16]) {
    for (int half = 0; half < 2; half++) {
      Vec rows[8], a[8], b[8];
      for (size_t i = 0; i < kLanes; i++) {
        rows[i] = _mm256_loadu_si256(reinterpret_cast<const Vec*>(p[i] + 32 * half));
      }
      // a[2k], a[2k + 1]: words 0, 1 | 4, 5 and 2, 3 | 6, 7 of lanes 2k, 2k + 1, interleaved.
      for (int k = 0; k < 4; k++) {
        a[2 * k] = _mm256_unpacklo_epi32(rows[2 * k], rows[2 * k + 1]);
        a[2 * k + 1] = _mm256_unpackhi_epi32(rows[2 * k], rows[2 * k + 1]);
      }
      // b[4q + m], 128-bit part h: word 4h + m of lanes 4q .. 4q + 3.
      for (int q = 0; q < 2; q++) {
        b[4 * q] = _mm256_unpacklo_epi64(a[4 * q], a[4 * q + 2]);
        b[4 * q + 1] = _mm256_unpackhi_epi64(a[4 * q], a[4 * q + 2]);
        b[4 * q + 2] = _mm256_unpacklo_epi64(a[4 * q + 1], a[4 * q + 3]);
        b[4 * q + 3] = _mm256_unpackhi_epi64(a[4 * q + 1], a[4 * q + 3]);
      }
      for (int m = 0; m < 4; m++) {
        words[8 * half + m] = _mm256_permute2x128_si256(b[m], b[4 + m], 0x20);
        words[8 * half + 4 + m] = _mm256_permute2x128_si256(b[m], b[4 + m], 0x31);
      }
    }
  }
};

// Steps I .. 63 of one block: F = f(b, c, d) + a + K + M[g]; a = d; d = c; c = b;
// b += F rotated left.
template <class V, int I>
[[gnu::always_inline]] inline void Steps(typename V::Vec& a, typename V::Vec& b, typename V::Vec& c,
                                         typename V::Vec& d, const typename V::Vec words[16]) {
  if constexpr (I < 64) {
    constexpr int round = I / 16;
    constexpr int g = round == 0   ? I
                      : round == 1 ? (5 * I + 1) % 16
                      : round == 2 ? (3 * I + 5) % 16
                                   : (7 * I) % 16;
    typename V::Vec f = V::Add(words[g], V::Set1(kK[I]));
    f = V::Add(f, a);
    f = V::Add(f, V::template Logic<kFunction[round]>(b, c, d));
    a = d;
    d = c;
    c = b;
    b = V::Add(b, V::template Rotate<kShift[round][I % 4]>(f));
    Steps<V, I + 1>(a, b, c, d, words);
  }
}

// The digests of lanes[0 .. n), n <= V::kLanes.
template <class V>
void HashLanes(const Lane* lanes, size_t n, Md5Digest* out) {
  alignas(64) static const uint8_t kUnused[kChunk] = {};
  using Vec = typename V::Vec;
  Vec state[4];
  for (int i = 0; i < 4; i++) state[i] = V::Set1(kInit[i]);
  size_t blocks = 0;
  for (size_t i = 0; i < n; i++) blocks = std::max(blocks, lanes[i].blocks);
  const uint8_t* p[V::kLanes];
  Vec words[16];
  for (size_t j = 0; j < blocks; j++) {
    typename V::Mask active = 0;
    for (size_t i = 0; i < V::kLanes; i++) {
      p[i] = i < n ? lanes[i].Block(j) : nullptr;
      if (p[i] != nullptr) {
        active |= static_cast<typename V::Mask>(1u << i);
      } else {
        p[i] = kUnused;
      }
    }
    V::LoadWords(p, words);
    Vec a = state[0], b = state[1], c = state[2], d = state[3];
    Steps<V, 0>(a, b, c, d, words);
    state[0] = V::MaskAdd(state[0], active, a);
    state[1] = V::MaskAdd(state[1], active, b);
    state[2] = V::MaskAdd(state[2], active, c);
    state[3] = V::MaskAdd(state[3], active, d);
  }
  alignas(64) uint32_t words_out[4][V::kLanes];
  for (int k = 0; k < 4; k++) V::Store(words_out[k], state[k]);
  for (size_t i = 0; i < n; i++) {
    for (int k = 0; k < 4; k++) memcpy(out[i].data() + 4 * k, &words_out[k][i], 4);  // LE
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif

bool HasAvx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
  return has;
}

// Up to V::kLanes inputs, side by side.
template <class V>
void Group(std::span<const std::span<const uint8_t>> inputs, Md5Digest* out) {
  Lane lanes[V::kLanes];
  for (size_t i = 0; i < inputs.size(); i++) lanes[i].Set(inputs[i]);
  HashLanes<V>(lanes, inputs.size(), out);
}

// Groups of up to V::kLanes inputs.
template <class V>
void Groups(std::span<const std::span<const uint8_t>> inputs, std::span<Md5Digest> out) {
  for (size_t i = 0; i < inputs.size(); i += V::kLanes) {
    const size_t n = std::min(V::kLanes, inputs.size() - i);
    Group<V>(inputs.subspan(i, n), &out[i]);
  }
}

}  // namespace

bool Md5ManyVectorized() { return HasAvx512(); }

void TEST_Md5Lanes(std::span<const std::span<const uint8_t>> inputs, std::span<Md5Digest> out) {
  Groups<Wide>(inputs, out);
}

void TEST_Md5NarrowLanes(std::span<const std::span<const uint8_t>> inputs,
                         std::span<Md5Digest> out) {
  Groups<Narrow>(inputs, out);
}

void Md5Many(std::span<const std::span<const uint8_t>> inputs, std::span<Md5Digest> out) {
  if (inputs.size() < 2 || !HasAvx512()) {
    for (size_t i = 0; i < inputs.size(); i++) out[i] = Md5(inputs[i]);
    return;
  }
  for (size_t i = 0; i < inputs.size(); i += kMd5Lanes) {
    const size_t n = std::min(kMd5Lanes, inputs.size() - i);
    if (n == 1) {
      out[i] = Md5(inputs[i]);
    } else if (n <= Narrow::kLanes) {
      Group<Narrow>(inputs.subspan(i, n), &out[i]);
    } else {
      Group<Wide>(inputs.subspan(i, n), &out[i]);
    }
  }
}

}  // namespace s3disk
