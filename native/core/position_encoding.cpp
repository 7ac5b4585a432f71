// Sinusoidal position encoding ("Attention Is All You Need", section 3.5):
//   pe[p, 2i] = sin(pos / base^(2i / dim)),  pe[p, 2i + 1] = cos(pos / base^(2i / dim)),
// pos = offset + p (offset lets a decoder step ask for its own position). Angles are computed in
// double and rounded once, so large positions keep float accuracy.
#include <cmath>
#include <vector>

#include "core/ops.h"

namespace attnode {

void sinusoidal_position_encoding(int64_t length, int64_t dim, int64_t offset, double base, float* pe) {
  if (length <= 0) return;  // no rows: no frequency table either (dim may be huge)
  std::vector<double> freq(static_cast<size_t>((dim + 1) / 2));
  for (size_t i = 0; i < freq.size(); ++i)
    freq[i] = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(dim));
  for (int64_t p = 0; p < length; ++p) {
    const double pos = static_cast<double>(offset + p);
    float* row = pe + p * dim;
    for (int64_t c = 0; c < dim; ++c) {
      const double angle = pos * freq[static_cast<size_t>(c / 2)];
      row[c] = static_cast<float>(c % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  }
}

}  // namespace attnode
