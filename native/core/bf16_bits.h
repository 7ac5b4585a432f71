// One fp32 value rounded to bf16, as bits: the rounding of vcvtneps2bf16 (the instruction the bf16
// GEMM packs with), so a copy made here and a value rounded while packing give the same bits.
// Round to nearest even; zero and denormal inputs give a zero of the same sign (the instruction
// treats denormals as zero); NaN keeps its sign and top mantissa bits with the quiet bit set;
// values past the largest bf16 round to infinity. Branch-free, so loops over it vectorise.
#pragma once
#include <cstdint>
#include <cstring>

namespace attnode {

inline uint16_t bf16_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const uint32_t zero = (u >> 16) & 0x8000u, nan = (u >> 16) | 0x40u;
  const bool is_nan = (u & 0x7fffffffu) > 0x7f800000u, tiny = (u & 0x7f800000u) == 0;
  return static_cast<uint16_t>(is_nan ? nan : tiny ? zero : rounded);
}

// bf16 bits widened to fp32 (exact).
inline float bf16_widen(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

}  // namespace attnode
