// bf16 attention on AVX512_BF16 (Zen 4, Cooper Lake and later): the tiled flash-attention kernel of
// cpu/attention.inc compiled with ATTNODE_ATTN_BF16, so its tile products run on vdpbf16ps.
// Compiled with -mavx512bf16 in its own translation unit (as gemm_bf16.cpp); the dispatcher calls
// it only on CPUs that report AVX512_BF16 (the "avx512bf16" variant) and only for calls with
// AttnParams::bf16 set.
//
// What is bf16: the operands of the tile products. Q (times scale), K, V and dO are rounded to bf16
// (nearest even) once, when a tile is packed; P and dS are rounded from their fp32 values after the
// softmax math. vdpbf16ps multiplies bf16 pairs exactly and adds them to fp32 accumulators. What
// stays fp32: the scores' masking and bias, the online-softmax max and sum, lse, exp, dropout,
// D_i = rowsum(dO * O), and the accumulators O, dQ, dK, dV (the tile products accumulate into them
// in fp32, in the same fixed order as the fp32 kernel, so results do not depend on thread count).
//
// Accuracy: each product operand is rounded with relative error <= u = 2^-8, so a tile product over k
// terms is off by <= (2^-7 + 2^-16 + k 2^-24) sum |a b|; propagated through the softmax this bounds
// every output elementwise (native/tests/test_attention_bf16.cpp states and checks the bounds).
//
// Layout: vdpbf16ps consumes k in pairs (k even, k odd) packed into one 32-bit word. An A operand
// (the broadcast side) is either "words" (a row of bf16 in k order: consecutive k are already
// pairs) or "pairs" (two rows k, k+1 interleaved word by word, when k runs down the rows); a B
// operand (the vector side) is always pairs. An odd k count is padded with a zero partner.
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own masked intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "core/cpu/kernels_prelude.h"

namespace attnode {
namespace avx512bf16 {
namespace attn {

#define ATTNODE_VLEN 16
#define ATTNODE_MR 8
#define ATTNODE_NV 2
#define ATTNODE_ATTN_BF16 1
#include "core/cpu/simd.inc"
#include "core/cpu/shares.inc"

static inline __mmask16 lanes16(int64_t n) {
  return n >= 16 ? 0xffff : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1);
}

// 32 bf16 (lo's 16 then hi's 16, from _mm512_cvtne2ps_pbh(hi, lo)) reordered so word i holds
// (lo[i], hi[i]): the pair interleave of two rows.
static inline __m512i interleave_pairs(__m512 lo, __m512 hi) {
  alignas(64) static const uint16_t order[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                                 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  return _mm512_permutexvar_epi16(_mm512_load_si512(order), (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

// Pairs: dst[r][c] = (src[2r][c], src[2r+1][c]) as bf16, for 2r < n and c < ncols (a multiple of
// 16); the partner of an odd last row is 0. Rows `lds` floats apart, dst rows `ldd` words apart.
static void bf_pairs(const float* src, int64_t lds, int64_t n, int64_t ncols, uint32_t* dst, int64_t ldd) {
  for (int64_t r = 0; 2 * r < n; ++r) {
    const float* a = src + 2 * r * lds;
    const bool two = 2 * r + 1 < n;
    uint32_t* d = dst + r * ldd;
    for (int64_t c = 0; c < ncols; c += 16) {
      const __m512 lo = _mm512_loadu_ps(a + c), hi = two ? _mm512_loadu_ps(a + lds + c) : _mm512_setzero_ps();
      _mm512_storeu_si512(d + c, interleave_pairs(lo, hi));
    }
  }
}

// Words: dst[r][w] = (src[r][2w], src[r][2w+1]) as bf16 for r < n and w < ncols / 2 (ncols a
// multiple of 16), columns >= count read as 0 (never loaded).
static void bf_words(const float* src, int64_t lds, int64_t n, int64_t count, int64_t ncols, uint32_t* dst,
                     int64_t ldd) {
  for (int64_t r = 0; r < n; ++r) {
    const float* a = src + r * lds;
    uint32_t* d = dst + r * ldd;
    for (int64_t c = 0; c < ncols; c += 32) {
      const __m512 lo = _mm512_maskz_loadu_ps(lanes16(count - c), a + c);
      const __m512 hi = c + 16 < ncols ? _mm512_maskz_loadu_ps(lanes16(count - c - 16), a + c + 16) : _mm512_setzero_ps();
      const __m512i w = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
      _mm512_mask_storeu_epi32(d + c / 2, c + 16 < ncols ? 0xffff : 0x00ff, w);
    }
  }
}

// C[M x N] (+)= A[M x 2KP] B[2KP x N] on vdpbf16ps: A's word (m, kp) at A[m * sam + kp * sak] is
// broadcast, B's pair rows are runs of N words (N a multiple of 16) `ldb` apart, C's rows fp32
// `ldc` apart. The same MR x NV register tile and driver as simd.inc's gemm_tile; each C element
// sums its k pairs in order, so the bits do not depend on the tile shape of the call.
template <int MR, int NV>
static inline void micro_tile_bf16(int KP, const uint32_t* A, long sam, long sak, const uint32_t* B, long ldb,
                                   float* C, long ldc, bool accumulate) {
  __m512 acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < NV; ++c) acc[r][c] = accumulate ? _mm512_loadu_ps(C + r * ldc + c * 16) : _mm512_setzero_ps();
  for (int kp = 0; kp < KP; ++kp) {
    const uint32_t* b = B + kp * ldb;
    __m512bh bv[NV];
#pragma GCC unroll 4
    for (int c = 0; c < NV; ++c) bv[c] = (__m512bh)_mm512_loadu_si512(b + c * 16);
    const uint32_t* a = A + kp * sak;
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[r * sam]));
#pragma GCC unroll 4
      for (int c = 0; c < NV; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], av, bv[c]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < NV; ++c) _mm512_storeu_ps(C + r * ldc + c * 16, acc[r][c]);
}

template <int NV>
static inline void micro_rows_bf16(int mr, int KP, const uint32_t* A, long sam, long sak, const uint32_t* B,
                                   long ldb, float* C, long ldc, bool acc) {
  switch (mr) {
#define ATTNODE_ROWS(R) case R: micro_tile_bf16<R, NV>(KP, A, sam, sak, B, ldb, C, ldc, acc); break;
    ATTNODE_ROWS(1) ATTNODE_ROWS(2) ATTNODE_ROWS(3) ATTNODE_ROWS(4)
    ATTNODE_ROWS(5) ATTNODE_ROWS(6) ATTNODE_ROWS(7) ATTNODE_ROWS(8)
#undef ATTNODE_ROWS
    default: break;
  }
}

static void gemm_tile_bf16(int M, int N, int KP, const uint32_t* A, long sam, long sak, const uint32_t* B,
                           long ldb, float* C, long ldc, bool accumulate) {
  constexpr int NV = ATTNODE_NV;
  int n0 = 0;
  for (; n0 + NV * 16 <= N; n0 += NV * 16)
    for (int m0 = 0; m0 < M; m0 += ATTNODE_MR) {
      const int mr = M - m0 < ATTNODE_MR ? M - m0 : ATTNODE_MR;
      micro_rows_bf16<NV>(mr, KP, A + m0 * sam, sam, sak, B + n0, ldb, C + m0 * ldc + n0, ldc, accumulate);
    }
  for (; n0 < N; n0 += 16)
    for (int m0 = 0; m0 < M; m0 += ATTNODE_MR) {
      const int mr = M - m0 < ATTNODE_MR ? M - m0 : ATTNODE_MR;
      micro_rows_bf16<1>(mr, KP, A + m0 * sam, sam, sak, B + n0, ldb, C + m0 * ldc + n0, ldc, accumulate);
    }
}

#include "core/cpu/attention.inc"

}  // namespace attn

unsigned attention_forward_bf16(const AttnShape& s, const AttnMasks& m, const AttnParams& p, const float* q,
                                const float* k, const float* v, float* out, float* lse) {
  return attn::attention_forward_impl(s, m, p, q, k, v, out, lse);
}

unsigned attention_backward_bf16(const AttnShape& s, const AttnMasks& m, const AttnParams& p, const float* q,
                                 const float* k, const float* v, const float* out, const float* lse,
                                 const float* dout, float* dq, float* dk, float* dv) {
  return attn::attention_backward_impl(s, m, p, q, k, v, out, lse, dout, dq, dk, dv);
}

}  // namespace avx512bf16
}  // namespace attnode
