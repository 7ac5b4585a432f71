// The attention kernel contract (../shared/DESIGN.md, "The attention kernel contract").
// Plain C++17, no Node headers. Arguments are assumed valid here: native/binding checks them.
#pragma once
#include <cstdint>

namespace attnode {

// q: [B, Tq, H, D]; k, v: [B, Tk, Hkv, D]; out: [B, Tq, H, D]; lse: [B, H, Tq].
// ldq, ldk, ldv: the row strides (floats between consecutive (b, t) rows) of q and dq, k and dk,
// v and dv; 0 means packed (H*D, Hkv*D, Hkv*D). A larger stride reads q/k/v as column blocks of one
// fused [B*T, width] projection output and writes their gradients into the same layout, so the
// projection's weight gradient is one GEMM. out, dout and lse are always packed.
struct AttnShape {
  int64_t B = 0, H = 0, Hkv = 0, Tq = 0, Tk = 0, D = 0;
  int64_t ldq = 0, ldk = 0, ldv = 0;
};

// Every constraint that is set must hold for key j to be attended by query i.
struct AttnMasks {
  bool causal = false;                    // j <= i + (Tk - Tq)
  const int32_t* key_lengths = nullptr;   // [B]: j < key_lengths[b]
  const uint8_t* key_mask = nullptr;      // [B * Tk]: key_mask[b*Tk + j] != 0
  const int32_t* query_lengths = nullptr; // [B]: rows i >= query_lengths[b] are padding
  const uint8_t* mask = nullptr;          // [mask_batch, mask_heads, Tq, Tk], 1 = may attend
  int64_t mask_batch = 1, mask_heads = 1; // 1 or B; 1 or H (broadcast)
  const float* bias = nullptr;            // [bias_batch, bias_heads, Tq, Tk], added to scaled scores
  int64_t bias_batch = 1, bias_heads = 1;
  // Sparse patterns. window: with c = i + (Tk - Tq), c - window_left <= j <= c + window_right.
  // global_tokens (only with window): keys j < g and queries i < g are exempt from the window.
  bool window = false;
  int64_t window_left = 0, window_right = 0;  // >= 0 (the binding clamps them to Tq + Tk)
  int64_t global_tokens = 0;
  // [ceil(Tq / block_q), ceil(Tk / block_k)], shared by batch and heads: 0 blocks a whole block.
  const uint8_t* block_layout = nullptr;
  int64_t block_q = 1, block_k = 1;
};

struct AttnParams {
  float scale = 0.f;    // the caller resolves the 1/sqrt(D) default
  float dropout = 0.f;  // in [0, 1)
  uint64_t seed = 0;
  // precision 'bf16': the tile products (S = Q K^T, O += P V; in the backward S, dP = dO V^T,
  // dV += P^T dO, dK += dS^T Q, dQ += dS K) take operands rounded to bf16 (nearest even) and
  // accumulate in fp32; the softmax statistics (max, sum, lse), exp, D_i = rowsum(dO * O), dropout
  // and every accumulator (O, dQ, dK, dV) stay fp32. Only the "avx512bf16" variant computes in
  // bf16; every other variant ignores the flag and computes in fp32 (as GemmParams.bf16).
  bool bf16 = false;
};

// Dropout keep/drop of (b, h, i, j): a counter-based hash keyed by the seed, so forward and
// backward agree and nothing depends on threads or tiles. Exposed for tests.
bool attention_dropout_keep(uint64_t seed, int64_t b, int64_t h, int64_t i, int64_t j, float p);

// Inputs are checked for NaN and Infinity as the kernels read them (no extra pass): the result is
// a bitmask of the inputs in which a non-finite value was read (0 when all were finite). Values the
// masks exclude (padding keys and queries) are never read and never reported. With a nonzero
// result the outputs are unspecified.
enum AttnNonFinite : unsigned { kBadQ = 1, kBadK = 2, kBadV = 4, kBadOut = 8, kBadDout = 16 };

unsigned attention_forward(const AttnShape& s, const AttnMasks& m, const AttnParams& p,
                           const float* q, const float* k, const float* v, float* out, float* lse);

unsigned attention_backward(const AttnShape& s, const AttnMasks& m, const AttnParams& p,
                            const float* q, const float* k, const float* v, const float* out,
                            const float* lse, const float* dout, float* dq, float* dk, float* dv);

}  // namespace attnode
