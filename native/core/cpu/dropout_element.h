// Elementwise dropout keyed by (seed, element index), on the attention kernel's counter-based
// generator (dropout_hash.h): the index's high 32 bits pick a row key (computed once per 2^32
// elements), the low 32 bits go through the cheap, vectorisable per-key hash. The row key uses
// b = -1, which attention never uses (b >= 0), so the two never share a stream for one seed.
#pragma once
#include <cstdint>

#include "core/cpu/dropout_hash.h"

namespace attnode {

static inline uint32_t dropout_element_row_key(uint64_t seed, uint64_t index_high) {
  return dropout_row_key(seed, -1, static_cast<int64_t>(index_high), 0);
}

static inline bool dropout_element_keep_bits(uint64_t seed, uint64_t index, uint32_t threshold) {
  return dropout_keep_bits(dropout_element_row_key(seed, index >> 32), static_cast<uint32_t>(index), threshold);
}

}  // namespace attnode
