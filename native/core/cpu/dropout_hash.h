// Counter-based dropout decisions shared by every ISA variant and by the tests. Integer-only and
// `static inline`, so each translation unit has its own copy and all copies give the same bits.
#pragma once
#include <cstdint>

namespace attnode {

static inline uint64_t dropout_mix64(uint64_t x) {  // murmur3 fmix64: a bijection
  x ^= x >> 33; x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// One 32-bit key per (seed, b, h, i) row; the per-key step below is cheap and vectorisable.
static inline uint32_t dropout_row_key(uint64_t seed, int64_t b, int64_t h, int64_t i) {
  uint64_t x = dropout_mix64(seed ^ 0x9e3779b97f4a7c15ULL);
  x = dropout_mix64(x ^ static_cast<uint64_t>(b) * 0xd6e8feb86659fd93ULL);
  x = dropout_mix64(x ^ static_cast<uint64_t>(h) * 0xa0761d6478bd642fULL);
  x = dropout_mix64(x ^ static_cast<uint64_t>(i) * 0xe7037ed1a0b428dbULL);
  return static_cast<uint32_t>(x ^ (x >> 32));
}

static inline uint32_t dropout_key_hash(uint32_t row_key, uint32_t j) {  // murmur3 fmix32
  uint32_t x = row_key ^ (j * 0x9e3779b9u);
  x ^= x >> 16; x *= 0x85ebca6bu;
  x ^= x >> 13; x *= 0xc2b2ae35u;
  x ^= x >> 16;
  return x;
}

// p in [0, 1): drop when the top 24 bits fall below p * 2^24.
static inline uint32_t dropout_threshold(float p) {
  return static_cast<uint32_t>(static_cast<double>(p) * 16777216.0);
}

static inline bool dropout_keep_bits(uint32_t row_key, uint32_t j, uint32_t threshold) {
  return (dropout_key_hash(row_key, j) >> 8) >= threshold;
}

}  // namespace attnode
