// A float64 reference of the attention kernel contract (shared/DESIGN.md, "The attention kernel
// contract"), written straight from the text: one query row at a time, no tiles, no online softmax,
// no log2 units. It reads the same AttnShape/AttnMasks/AttnParams the kernels read, so the masks'
// meaning (broadcasting included) is checked, not re-encoded by the test.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/attention.h"

namespace attnode_test {

struct RefForward {
  std::vector<double> out, lse;  // [B, Tq, H, D], [B, H, Tq]
};
struct RefGrads {
  std::vector<double> dq, dk, dv;  // shaped like q, k, v
};

// Whether query i of (b, h) may attend key j: every given constraint must hold.
inline bool ref_allowed(const attnode::AttnShape& s, const attnode::AttnMasks& m, int64_t b, int64_t h,
                        int64_t i, int64_t j) {
  if (m.query_lengths && i >= m.query_lengths[b]) return false;  // padding row: sees nothing
  if (m.causal && j > i + (s.Tk - s.Tq)) return false;
  if (m.key_lengths && j >= m.key_lengths[b]) return false;
  if (m.key_mask && m.key_mask[b * s.Tk + j] == 0) return false;
  if (m.window) {  // c - left <= j <= c + right, unless query i or key j is a global token
    const int64_t c = i + (s.Tk - s.Tq);
    const bool global = i < m.global_tokens || j < m.global_tokens;
    if (!global && (j < c - m.window_left || j > c + m.window_right)) return false;
  }
  if (m.block_layout) {
    const int64_t cols = (s.Tk + m.block_k - 1) / m.block_k;
    if (m.block_layout[(i / m.block_q) * cols + j / m.block_k] == 0) return false;
  }
  if (m.mask) {
    const int64_t mb = m.mask_batch == 1 ? 0 : b, mh = m.mask_heads == 1 ? 0 : h;
    if (m.mask[((mb * m.mask_heads + mh) * s.Tq + i) * s.Tk + j] == 0) return false;
  }
  return true;
}

// Scaled score plus bias; -inf where blocked (by a mask or by a -inf bias).
inline double ref_score(const attnode::AttnShape& s, const attnode::AttnMasks& m, double scale,
                        const std::vector<double>& q, const std::vector<double>& k, int64_t b, int64_t h,
                        int64_t i, int64_t j) {
  if (!ref_allowed(s, m, b, h, i, j)) return -std::numeric_limits<double>::infinity();
  const int64_t hk = h / (s.H / s.Hkv);
  const double* qr = &q[((b * s.Tq + i) * s.H + h) * s.D];
  const double* kr = &k[((b * s.Tk + j) * s.Hkv + hk) * s.D];
  double dot = 0.0;
  for (int64_t d = 0; d < s.D; ++d) dot += qr[d] * kr[d];
  double x = scale * dot;
  if (m.bias) {
    const int64_t bb = m.bias_batch == 1 ? 0 : b, bh = m.bias_heads == 1 ? 0 : h;
    x += m.bias[((bb * m.bias_heads + bh) * s.Tq + i) * s.Tk + j];
  }
  return x;
}

// Dropout factor of (b, h, i, j): 1/(1-p) where kept, 0 where dropped, 1 without dropout.
inline double ref_dropout(const attnode::AttnParams& p, int64_t b, int64_t h, int64_t i, int64_t j) {
  if (!(p.dropout > 0.f)) return 1.0;
  return attnode::attention_dropout_keep(p.seed, b, h, i, j, p.dropout) ? 1.0 / (1.0 - static_cast<double>(p.dropout)) : 0.0;
}

// Probabilities of one query row (softmax over its scores; all zero for a row with no key allowed)
// and its natural-log logsumexp.
inline double ref_row(const attnode::AttnShape& s, const attnode::AttnMasks& m, const attnode::AttnParams& p,
                      const std::vector<double>& q, const std::vector<double>& k, int64_t b, int64_t h,
                      int64_t i, std::vector<double>& P) {
  const double ninf = -std::numeric_limits<double>::infinity();
  P.assign(s.Tk, 0.0);
  double mx = ninf;
  for (int64_t j = 0; j < s.Tk; ++j) {
    P[j] = ref_score(s, m, p.scale, q, k, b, h, i, j);
    mx = std::fmax(mx, P[j]);
  }
  if (mx == ninf) {
    P.assign(s.Tk, 0.0);
    return ninf;
  }
  double sum = 0.0;
  for (int64_t j = 0; j < s.Tk; ++j) sum += std::exp(P[j] - mx);  // exp(-inf) = 0
  const double lse = mx + std::log(sum);
  for (int64_t j = 0; j < s.Tk; ++j) P[j] = std::exp(P[j] - lse);
  return lse;
}

inline RefForward reference_forward(const attnode::AttnShape& s, const attnode::AttnMasks& m,
                                    const attnode::AttnParams& p, const std::vector<double>& q,
                                    const std::vector<double>& k, const std::vector<double>& v) {
  RefForward r;
  r.out.assign(s.B * s.Tq * s.H * s.D, 0.0);
  r.lse.assign(s.B * s.H * s.Tq, 0.0);
  std::vector<double> P;
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h) {
      const int64_t hk = h / (s.H / s.Hkv);
      for (int64_t i = 0; i < s.Tq; ++i) {
        r.lse[(b * s.H + h) * s.Tq + i] = ref_row(s, m, p, q, k, b, h, i, P);
        double* o = &r.out[((b * s.Tq + i) * s.H + h) * s.D];
        for (int64_t j = 0; j < s.Tk; ++j) {
          const double w = P[j] * ref_dropout(p, b, h, i, j);
          if (w == 0.0) continue;
          const double* vr = &v[((b * s.Tk + j) * s.Hkv + hk) * s.D];
          for (int64_t d = 0; d < s.D; ++d) o[d] += w * vr[d];
        }
      }
    }
  return r;
}

// Gradients of sum(out * dout) with respect to q, k, v (bias and masks are constants).
// With Pd = P * z (z the dropout factor): dPd = dout . v, dP = z * dPd, dS = P (dP - sum(P dP)),
// dq = scale dS k, dk = scale dS^T q, dv = Pd^T dout.
inline RefGrads reference_backward(const attnode::AttnShape& s, const attnode::AttnMasks& m,
                                   const attnode::AttnParams& p, const std::vector<double>& q,
                                   const std::vector<double>& k, const std::vector<double>& v,
                                   const std::vector<double>& dout) {
  RefGrads g;
  g.dq.assign(q.size(), 0.0);
  g.dk.assign(k.size(), 0.0);
  g.dv.assign(v.size(), 0.0);
  std::vector<double> P, dP(s.Tk), Z(s.Tk);
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h) {
      const int64_t hk = h / (s.H / s.Hkv);
      for (int64_t i = 0; i < s.Tq; ++i) {
        if (std::isinf(ref_row(s, m, p, q, k, b, h, i, P))) continue;  // no key allowed: no gradient
        const double* dor = &dout[((b * s.Tq + i) * s.H + h) * s.D];
        const double* qr = &q[((b * s.Tq + i) * s.H + h) * s.D];
        double dsum = 0.0;
        for (int64_t j = 0; j < s.Tk; ++j) {
          Z[j] = ref_dropout(p, b, h, i, j);
          const double* vr = &v[((b * s.Tk + j) * s.Hkv + hk) * s.D];
          double dot = 0.0;
          for (int64_t d = 0; d < s.D; ++d) dot += dor[d] * vr[d];
          dP[j] = Z[j] * dot;
          dsum += P[j] * dP[j];
        }
        double* dqr = &g.dq[((b * s.Tq + i) * s.H + h) * s.D];
        for (int64_t j = 0; j < s.Tk; ++j) {
          if (P[j] == 0.0) continue;
          const double ds = P[j] * (dP[j] - dsum), pd = P[j] * Z[j];
          const int64_t kv = ((b * s.Tk + j) * s.Hkv + hk) * s.D;
          for (int64_t d = 0; d < s.D; ++d) {
            dqr[d] += p.scale * ds * k[kv + d];
            g.dk[kv + d] += p.scale * ds * qr[d];
            g.dv[kv + d] += pd * dor[d];
          }
        }
      }
    }
  return g;
}

}  // namespace attnode_test
