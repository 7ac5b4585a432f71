#include "core/attention.h"
#include "core/cpu/dropout_hash.h"

namespace attnode {

bool attention_dropout_keep(uint64_t seed, int64_t b, int64_t h, int64_t i, int64_t j, float p) {
  return dropout_keep_bits(dropout_row_key(seed, b, h, i), static_cast<uint32_t>(j), dropout_threshold(p));
}

}  // namespace attnode
