// bf16 GEMM on AVX512_BF16 (Zen 4, Cooper Lake and later): C = epilogue(alpha * op(A) op(B)) with
// op(A) and op(B) rounded to bf16 (round to nearest even) as they are packed, products and sums in
// fp32 (vdpbf16ps multiplies bf16 pairs exactly and adds them to fp32 accumulators), and the same
// fused epilogue as the fp32 path (core/gemm.h: beta, bias, addend, gate, relu, the bit masks).
// Compiled with -mavx512bf16 in its own translation unit; the dispatcher calls it only on CPUs
// that report AVX512_BF16 (the "avx512bf16" variant) and only for calls that ask for bf16.
//
// Why bf16: vdpbf16ps does 2 multiply-adds per fp32 lane per instruction, twice an fp32 FMA, and
// bf16 operands halve the bytes packed and streamed.
//
// Layout: k is taken in pairs (k even, k odd) packed into one 32-bit word, the unit vdpbf16ps
// consumes. op(A) is packed into MR-row panels [K/2][MR] words (the micro-kernel broadcasts one
// word per row), op(B) into NR-column panels [K/2][NR] words (two zmm loads per k pair); an odd K
// is padded with a zero. Each tile of C is reduced over all of K by one thread, in k order, so
// the result does not depend on the thread count. Packing rounds each input element to bf16
// once, so the error of an element of C is bounded by (2^-7 + 2^-16) sum_k |a_ik b_kj| from the
// rounding of the inputs plus the fp32 accumulation error (at most K * 2^-24 of the same sum).
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own masked intrinsics (a known
// false positive: the '__Y' of _mm512_undefined_*).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "core/gemm.h"
#include "core/scratch.h"
#include "core/threads.h"

namespace attnode {
namespace avx512bf16 {
namespace {

constexpr int MR = 14;             // rows of a register tile: 28 accumulators + 2 B vectors + 1 broadcast
constexpr int NR = 32;             // columns: two zmm of fp32
constexpr int64_t RB = 24;         // row panels per unit (336 rows)
constexpr int64_t B_BLOCK = 1 << 19;  // bytes of packed op(B) one unit streams from L2
constexpr int64_t GROUP = 8;          // panels packed together when k runs down the rows of the source

inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
#include "core/cpu/lane_sums.inc"  // hsum_lanes

// 16 floats at src (the first n of them; the rest read as 0).
inline __m512 load16(const float* src, int64_t n) {
  if (n >= 16) return _mm512_loadu_ps(src);
  if (n <= 0) return _mm512_setzero_ps();
  return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), src);
}

// Two rows of 16 values, rounded to bf16, as 16 words (lo row in the low half of each word).
inline __m512i pair_rows(__m512 lo, __m512 hi) {
  const __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo));
  const __m512i h = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(hi));
  return _mm512_or_si512(l, _mm512_slli_epi32(h, 16));
}

// One row of n consecutive k values, rounded to bf16, as cdiv(n, 2) words (pairs in k order).
void row_pairs(const float* src, int64_t n, uint32_t* dst) {
  for (int64_t k = 0; k < n; k += 32) {
    const __m512 lo = load16(src + k, n - k), hi = load16(src + k + 16, n - k - 16);
    const __m512i w = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);  // 32 bf16 in k order = 16 pairs
    const int64_t words = imin(16, cdiv(n - k, 2));
    _mm512_mask_storeu_epi32(dst + k / 2, static_cast<__mmask16>((1u << words) - 1), w);
  }
}

// 16 bf16 values at src (the first n; the rest read as 0), zero-extended to 16 words.
inline __m512i load16_bits(const uint16_t* src, int64_t n) {
  if (n <= 0) return _mm512_setzero_si512();
  const __mmask16 m = n >= 16 ? 0xffff : static_cast<__mmask16>((1u << n) - 1);
  return _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src));
}

// One row of n consecutive k values given as bf16 bits, as cdiv(n, 2) words (row_pairs without the
// rounding); an odd n gets a zero upper half in its last word.
void row_words(const uint16_t* src, int64_t n, uint32_t* dst) {
  std::memcpy(dst, src, static_cast<size_t>(n) * 2);
  if (n & 1) reinterpret_cast<uint16_t*>(dst)[n] = 0;
}

// In-register transpose of 16 vectors of 16 words (as floats: the shuffles move bits unchanged).
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) { t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]); t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]); }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int h = 0; h < 16; h += 8)
    for (int j = 0; j < 4; ++j) {
      t[h + j] = _mm512_shuffle_f32x4(r[h + j], r[h + j + 4], 0x88);
      t[h + j + 4] = _mm512_shuffle_f32x4(r[h + j], r[h + j + 4], 0xdd);
    }
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
    r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
  }
}

// dst[kp * ldd + c] = rows[c][kp] for kp < KP and the `keep` lanes c (rows c >= n read as zero):
// n <= 16 converted rows of pairs, `ld` words apart (each with 16 words of slack past KP), turned
// into a panel's [kp][lanes] layout 16 x 16 words at a time (one scalar store per word was a
// tenth of an NT GEMM's time).
void transpose_pairs(const uint32_t* rows, int64_t ld, int64_t n, int64_t KP, uint32_t* dst, int64_t ldd, __mmask16 keep) {
  for (int64_t kp0 = 0; kp0 < KP; kp0 += 16) {
    __m512 v[16];
    for (int64_t c = 0; c < 16; ++c) v[c] = c < n ? _mm512_loadu_ps(reinterpret_cast<const float*>(rows + c * ld + kp0)) : _mm512_setzero_ps();
    transpose16(v);
    for (int64_t x = 0; x < imin(16, KP - kp0); ++x) _mm512_mask_storeu_ps(reinterpret_cast<float*>(dst + (kp0 + x) * ldd), keep, v[x]);
  }
}

// row_sums_a[i] given the fp32 sum s of op(A)'s row i (core/gemm.h: beta scales the old value).
inline void finish_row_sum(const GemmParams& p, int64_t i, float s) {
  p.row_sums_a[i] = (p.row_sums_beta != 0.f ? p.row_sums_beta * p.row_sums_a[i] : 0.f) + s;
}

// For A stored K x M (trans_a): panels [q0, q0 + n) (n <= GROUP) of op(A) (rows from i0 = q0 * MR),
// each at dst + q * KP * MR. Rows 2kp and 2kp + 1 of A hold the pair of every column i, so k runs
// outside the panels: each step reads two rows' spans of n * MR contiguous floats (one or two
// pages) instead of visiting every row once per panel (a row of A is often a page: one TLB miss
// per row per panel). With `sums`, also the panels' rows of row_sums_a, from the unrounded values
// read here (each lane adds its row's values in k order: the bits of a plain loop), which spares a
// second pass over A (a weight gradient's dy^T and its bias gradient).
void pack_a_panels_t(const GemmParams& p, const float* A, int64_t i0, int64_t n, int64_t KP, uint32_t* dst, bool sums) {
  const __mmask16 keep = static_cast<__mmask16>((1u << MR) - 1);
  const int64_t span = imin(n * MR, p.M - i0);  // floats of each row this call reads
  __m512 s[GROUP];
  for (int64_t q = 0; q < GROUP; ++q) s[q] = _mm512_setzero_ps();
  // Rows lda floats apart are usually in different pages, where the hardware prefetchers stop:
  // fetch the span of the rows PD pairs ahead by hand, so the misses of a cold A overlap.
  constexpr int64_t PD = 8;
  for (int64_t kp = 0; kp < KP; ++kp) {
    const float* r0 = A + (2 * kp) * p.lda;
    const float* r1 = 2 * kp + 1 < p.K ? r0 + p.lda : nullptr;
    if (2 * (kp + PD) + 1 < p.K)
      for (int64_t x = 0; x < span; x += 16) {
        __builtin_prefetch(r0 + 2 * PD * p.lda + i0 + x);
        __builtin_prefetch(r0 + (2 * PD + 1) * p.lda + i0 + x);
      }
    for (int64_t q = 0; q < n; ++q) {
      const int64_t i = i0 + q * MR, mr = imin(MR, p.M - i);
      const __m512 lo = load16(r0 + i, mr), hi = r1 ? load16(r1 + i, mr) : _mm512_setzero_ps();
      _mm512_mask_storeu_epi32(dst + q * KP * MR + kp * MR, keep, pair_rows(lo, hi));
      if (sums) {
        s[q] = _mm512_add_ps(s[q], lo);
        if (r1) s[q] = _mm512_add_ps(s[q], hi);
      }
    }
  }
  if (!sums) return;
  for (int64_t q = 0; q < n; ++q) {
    float t[16];
    _mm512_storeu_ps(t, s[q]);
    for (int64_t r = 0; r < imin(MR, p.M - i0 - q * MR); ++r) finish_row_sum(p, i0 + q * MR + r, t[r]);
  }
}

// A panel of op(A) for A stored M x K (rows of A hold consecutive k): rows [i0, i0 + mr) into
// dst[kp * MR + r], zero rows for r >= mr. Each row is converted to words, then the rows are
// transposed into the panel.
void pack_a_panel(const GemmParams& p, const float* A, int64_t i0, int64_t mr, int64_t KP, uint32_t* dst,
                  uint32_t* row_buf) {
  const int64_t ld = KP + 16;
  for (int64_t r = 0; r < mr; ++r) row_pairs(A + (i0 + r) * p.lda, p.K, row_buf + r * ld);
  transpose_pairs(row_buf, ld, mr, KP, dst, MR, static_cast<__mmask16>((1u << MR) - 1));
}

// 16 words of one column block of two consecutive rows of B (r1 null past K, read as zero): word c
// holds the pair (r0[c], r1[c]), the first n columns (the rest zero). From fp32 (rounded here) or
// from bf16 bits (as they are).
inline __m512i column_pairs(const float* r0, const float* r1, int64_t n) {
  return pair_rows(load16(r0, n), r1 ? load16(r1, n) : _mm512_setzero_ps());
}
inline __m512i column_pairs(const uint16_t* r0, const uint16_t* r1, int64_t n) {
  const __m512i hi = r1 ? load16_bits(r1, n) : _mm512_setzero_si512();
  return _mm512_or_si512(load16_bits(r0, n), _mm512_slli_epi32(hi, 16));
}

// For B stored K x N (elements T: fp32 or bf16 bits): k pairs [kp0, kp1) of panels [w0, w0 + n)
// of op(B) (columns from j0 = w0 * NR), each panel at dst + w * KP * NR; k outside the panels, as
// pack_a_panels_t and for the same reason. (A range of k, so that a B of few panels, a 256-wide
// weight, is still packed by every thread.)
template <typename T>
void pack_b_panels_n(const GemmParams& p, const T* B, int64_t j0, int64_t n, int64_t KP, int64_t kp0, int64_t kp1, uint32_t* dst) {
  for (int64_t kp = kp0; kp < kp1; ++kp) {
    const T* r0 = B + (2 * kp) * p.ldb;
    const T* r1 = 2 * kp + 1 < p.K ? r0 + p.ldb : nullptr;
    for (int64_t w = 0; w < n; ++w) {
      const int64_t j = j0 + w * NR, nr = imin(NR, p.N - j);
      for (int v = 0; v < 2; ++v)
        _mm512_storeu_si512(dst + w * KP * NR + kp * NR + 16 * v,
                            column_pairs(r0 + j + 16 * v, r1 ? r1 + j + 16 * v : nullptr, nr - 16 * v));
    }
  }
}
void pack_b_panels_n(const GemmParams& p, const float* B, const uint16_t* B16, int64_t j0, int64_t n, int64_t KP, int64_t kp0,
                     int64_t kp1, uint32_t* dst) {
  if (B16) pack_b_panels_n(p, B16, j0, n, KP, kp0, kp1, dst);
  else pack_b_panels_n(p, B, j0, n, KP, kp0, kp1, dst);
}

// A panel of op(B) for B stored N x K (a Linear weight: each row is one column of op(B), k
// consecutive): columns [j0, j0 + nr) into dst[kp * NR + c], zero columns for c >= nr.
void pack_b_panel(const GemmParams& p, const float* B, const uint16_t* B16, int64_t j0, int64_t nr, int64_t KP, uint32_t* dst,
                  uint32_t* row_buf) {
  const int64_t ld = KP + 16;
  for (int64_t c = 0; c < nr; ++c)
    if (B16) row_words(B16 + (j0 + c) * p.ldb, p.K, row_buf + c * ld);
    else row_pairs(B + (j0 + c) * p.ldb, p.K, row_buf + c * ld);
  for (int64_t h = 0; h < NR; h += 16)
    transpose_pairs(row_buf + h * ld, ld, std::max<int64_t>(0, imin(16, nr - h)), KP, dst + h, NR, 0xffff);
}

inline __mmask16 lanes(int64_t n) { return n >= 16 ? 0xffff : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1); }

// Bits [col, col + n) of a bit-mask row (col a multiple of 16), without reading past its bytes.
inline __mmask16 read_bits(const uint8_t* row, int64_t col, int64_t n) {
  const uint8_t* b = row + col / 8;
  unsigned v = b[0];
  if (n > 8) v |= unsigned(b[1]) << 8;
  return static_cast<__mmask16>(v) & lanes(n);
}
inline void write_bits(uint8_t* row, int64_t col, int64_t n, __mmask16 bits) {
  uint8_t* b = row + col / 8;
  b[0] = static_cast<uint8_t>(bits & lanes(imin(n, 8)));
  if (n > 8) b[1] = static_cast<uint8_t>((bits >> 8) & lanes(n - 8));
}

// The epilogue of one 16-column vector of row i, columns [j, j + n) (n <= 16): C = relu?(alpha *
// (acc .* [gate > 0] .* gate bits) + beta * C + bias + addend), and the relu mask (core/gemm.h).
inline void epilogue(const GemmParams& p, float* C, const float* bias, int64_t i, int64_t j, int64_t n, __m512 acc) {
  const __mmask16 m = lanes(n);
  __m512 x = _mm512_mul_ps(_mm512_set1_ps(p.alpha), acc);
  if (p.gate) {
    const __m512 g = _mm512_maskz_loadu_ps(m, p.gate + i * p.ld_gate + j);
    x = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(g, _mm512_setzero_ps(), _CMP_GT_OQ), x);
  }
  if (p.gate_mask) x = _mm512_maskz_mov_ps(read_bits(p.gate_mask + i * p.ld_gate_mask, j, n), x);
  float* c = C + i * p.ldc + j;
  if (p.beta != 0.f) x = _mm512_fmadd_ps(_mm512_set1_ps(p.beta), _mm512_maskz_loadu_ps(m, c), x);
  if (bias) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, bias + j));
  if (p.addend) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, p.addend + i * p.ld_addend + j));
  if (p.relu) {
    x = _mm512_max_ps(x, _mm512_setzero_ps());  // NaN gives 0 (max returns its second operand)
    if (p.relu_mask)
      write_bits(p.relu_mask + i * p.ld_relu_mask, j, n, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ));
  }
  _mm512_mask_storeu_ps(c, m, x);
}

// The R x NR micro-kernel over all k pairs, then the epilogue of the tile at (i0, j0), nr columns.
template <int R>
void micro_kernel(const GemmParams& p, int64_t KP, const uint32_t* __restrict a, const uint32_t* __restrict b,
                  float* C, const float* bias, int64_t i0, int64_t j0, int64_t nr) {
  // Start fetching the C tile (for ownership: it is written) so the stores at the end do not wait
  // on misses: C is often larger than the caches (1024 x 1024 floats in a training step).
  for (int r = 0; r < R; ++r) {
    const float* c = C + (i0 + r) * p.ldc + j0;
    __builtin_prefetch(c, 1, 3);
    if (nr > 16) __builtin_prefetch(c + nr - 1, 1, 3);
  }
  __m512 acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t kp = 0; kp < KP; ++kp) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + kp * NR);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + kp * NR + 16);
    const uint32_t* ak = a + kp * MR;
    for (int r = 0; r < R; ++r) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(ak[r]));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
    }
  }
  for (int r = 0; r < R; ++r) {
    epilogue(p, C, bias, i0 + r, j0, imin(16, nr), acc[r][0]);
    if (nr > 16) epilogue(p, C, bias, i0 + r, j0 + 16, nr - 16, acc[r][1]);
  }
}

using MicroFn = void (*)(const GemmParams&, int64_t, const uint32_t*, const uint32_t*, float*, const float*,
                         int64_t, int64_t, int64_t);
template <int... R>
inline MicroFn pick_micro(int mr, std::integer_sequence<int, R...>) {
  MicroFn f = nullptr;
  ((mr == R + 1 ? (f = micro_kernel<R + 1>, 0) : 0), ...);
  return f;
}

// op(A) row sums in fp32 from the unrounded values, in k order (row_sums_a: a Linear layer's bias
// gradient keeps full precision), for A stored M x K; a transposed A (dy^T of a weight gradient,
// the usual case) has them summed while it is packed (pack_a_panels_t).
void row_sums(const GemmParams& p, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t i = 0; i < p.M; ++i) {
    float s = 0.f;
    for (int64_t k = 0; k < p.K; ++k) s += p.a[i * p.lda + k];
    finish_row_sum(p, i, s);
  }
}

// One GEMM of a batch (batch entry e), all threads.
void gemm_one(const GemmParams& p, int64_t e, int nt, uint32_t* apack, uint32_t* bpack, uint32_t* bufs) {
  const float* A = p.a + e * p.stride_a;
  const float* B = p.b16 ? nullptr : p.b + e * p.stride_b;
  const uint16_t* B16 = p.b16 ? p.b16 + e * p.stride_b : nullptr;
  float* C = p.c + e * p.stride_c;
  const float* bias = p.bias ? p.bias + e * p.stride_bias : nullptr;
  const int64_t KP = cdiv(p.K, 2), mpan = cdiv(p.M, MR), npan = cdiv(p.N, NR);
  const int64_t cb = imin(npan, B_BLOCK / (NR * 4 * KP) > 0 ? B_BLOCK / (NR * 4 * KP) : 1);  // col panels per unit
  // Row panels per unit: at most RB, and few enough that there are ~8 units per thread (each tile
  // is one thread's work whatever the unit, so this changes no bits): with 4 units of 24 panels
  // (M = 1024, N = 256) one thread idled a third of the call.
  const int64_t col_units = cdiv(npan, cb);
  const int64_t rb = std::max<int64_t>(1, std::min<int64_t>(RB, mpan * col_units / (8 * int64_t(nt))));
  const int64_t row_units = cdiv(mpan, rb);
  const int64_t buf_words = NR * (KP + 16);  // per thread: up to NR converted rows (pack_*_panel)
  // Transposed-A and untransposed-B panels are packed in groups (k outside the group's panels), of
  // at most GROUP panels and few enough panels that every thread gets about 4 groups (how they are
  // packed changes no bits); untransposed B also in ranges of k, so that a B of a few panels (a
  // 256-wide weight: 8) is not packed by one thread while the others wait.
  const int64_t ag = p.trans_a ? std::max<int64_t>(1, imin(GROUP, cdiv(mpan, 4 * int64_t(nt)))) : 1;
  const int64_t bg = p.trans_b ? 1 : GROUP, bgroups = cdiv(npan, bg);
  const int64_t bkr = p.trans_b ? 1 : std::max<int64_t>(1, imin(cdiv(4 * int64_t(nt), bgroups), cdiv(KP, 32)));
  const int64_t bkp = cdiv(KP, bkr);  // k pairs per range
  const bool sums = p.row_sums_a && p.trans_a;  // batch 1 (core/gemm.h)
#pragma omp parallel num_threads(nt)
  {
    uint32_t* row_buf = bufs + omp_get_thread_num() * buf_words;
    // One list of packing tasks, A's groups then B's, taken dynamically: a thread that finishes its
    // share (or was descheduled) does not leave the other waiting at the barrier with work queued.
    const int64_t atasks = cdiv(mpan, ag), tasks = atasks + bgroups * bkr;
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; ++t) {
      if (t < atasks) {
        const int64_t q = t * ag, n = imin(ag, mpan - q);
        if (p.trans_a) pack_a_panels_t(p, A, q * MR, n, KP, apack + q * KP * MR, sums);
        else pack_a_panel(p, A, q * MR, imin(MR, p.M - q * MR), KP, apack + q * KP * MR, row_buf);
        continue;
      }
      const int64_t q = (t - atasks) / bkr * bg, n = imin(bg, npan - q), kp0 = (t - atasks) % bkr * bkp;
      if (!p.trans_b) pack_b_panels_n(p, B, B16, q * NR, n, KP, kp0, imin(KP, kp0 + bkp), bpack + q * KP * NR);
      else pack_b_panel(p, B, B16, q * NR, imin(NR, p.N - q * NR), KP, bpack + q * KP * NR, row_buf);
    }
    // Units: a block of row panels x a block of column panels; each tile over all of K by one thread.
#pragma omp for schedule(dynamic, 1)
    for (int64_t u = 0; u < row_units * col_units; ++u) {
      const int64_t ru = u / col_units, cu = u % col_units;
      for (int64_t q = ru * rb; q < imin(mpan, (ru + 1) * rb); ++q) {
        const int64_t i0 = q * MR, mr = imin(MR, p.M - i0);
        const MicroFn f = pick_micro(static_cast<int>(mr), std::make_integer_sequence<int, MR>{});
        for (int64_t w = cu * cb; w < imin(npan, (cu + 1) * cb); ++w) {
          const int64_t j0 = w * NR;
          f(p, KP, apack + q * KP * MR, bpack + w * KP * NR, C, bias, i0, j0, imin(NR, p.N - j0));
        }
      }
    }
  }
}

// ---- Few rows (decoding: one token per sequence, or a few beams) ------------------------------
// With M <= SMALL_M rows, packing op(B) into panels costs as much as the product (each element of
// B is used M times) and a 14-row register tile is mostly empty. For B stored N x K (a Linear
// weight, trans_b), every C element is instead a dot product of a row of A and a row of B, read
// straight from B (bf16 bits or fp32 rounded on the fly with the packing's instruction, so both give
// the same bits): the call streams B once, at 2 bytes an element from a bf16 copy. Each dot is
// reduced by one thread in a fixed order (16-word chunks in k order, then a fixed lane tree): the
// same bits for any thread count.
constexpr int64_t SMALL_M = 8;

// 32 consecutive k values of row j of B from k0 (those past K read as 0), as 16 bf16 pairs.
inline __m512bh b_row_words(const GemmParams& p, const float* B, const uint16_t* B16, int64_t j, int64_t k0) {
  const int64_t left = p.K - k0;
  if (B16) {
    const __mmask32 m = left >= 32 ? 0xffffffffu : static_cast<__mmask32>((1ull << left) - 1);
    return (__m512bh)_mm512_maskz_loadu_epi16(m, B16 + j * p.ldb + k0);
  }
  const float* r = B + j * p.ldb + k0;
  return _mm512_cvtne2ps_pbh(load16(r + 16, left - 16), load16(r, left));
}

// part[r][off + c] = the 16 lane sums of dot(row r of A, row j + c of B) for r < R, c < CN (zero
// for c >= nc <= CN); a: R rows of KW words. The chunks of 32 k inside K load B unmasked, with no
// select or mask arithmetic in the loop (which took more issue slots than the vdpbf16ps did); the
// last partial chunk goes through b_row_words. A column c >= nc reads row j again (valid memory)
// and is zeroed at the end.
template <int R, int CN>
void small_dots(const GemmParams& p, const uint32_t* a, int64_t KW, const float* B, const uint16_t* B16, int64_t j,
                int nc, __m512 (*part)[16], int off) {
  const int64_t KP = cdiv(p.K, 2), full = p.K / 32;
  int64_t rows[CN];
  for (int c = 0; c < CN; ++c) rows[c] = j + (c < nc ? c : 0);
  __m512 acc[R][CN];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < CN; ++c) acc[r][c] = _mm512_setzero_ps();
  const auto step = [&](int64_t kp0, const __m512bh* bv) {
    for (int r = 0; r < R; ++r) {
      const __m512bh av = (__m512bh)_mm512_loadu_si512(a + r * KW + kp0);
      for (int c = 0; c < CN; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], av, bv[c]);
    }
  };
  if (B16) {
    const uint16_t* br[CN];
    for (int c = 0; c < CN; ++c) br[c] = B16 + rows[c] * p.ldb;
    for (int64_t q = 0; q < full; ++q) {
      __m512bh bv[CN];
      for (int c = 0; c < CN; ++c) bv[c] = (__m512bh)_mm512_loadu_si512(br[c] + 32 * q);
      step(16 * q, bv);
    }
  } else {
    const float* br[CN];
    for (int c = 0; c < CN; ++c) br[c] = B + rows[c] * p.ldb;
    for (int64_t q = 0; q < full; ++q) {
      __m512bh bv[CN];
      for (int c = 0; c < CN; ++c)
        bv[c] = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(br[c] + 32 * q + 16), _mm512_loadu_ps(br[c] + 32 * q));
      step(16 * q, bv);
    }
  }
  if (16 * full < KP) {
    __m512bh bv[CN];
    for (int c = 0; c < CN; ++c) bv[c] = b_row_words(p, B, B16, rows[c], 32 * full);
    step(16 * full, bv);
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < CN; ++c) part[r][off + c] = c < nc ? acc[r][c] : _mm512_setzero_ps();
}

// The columns [j0, j0 + n) (n <= 16) of every row, and their epilogue. The 16 lane sums of each
// row's 16 dot products are reduced together (hsum_lanes: the tree of _mm512_reduce_add_ps, a few
// shuffles per result instead of a dependent chain each and a scalar store the epilogue's vector
// load then waits on).
template <int R>
void small_block(const GemmParams& p, const uint32_t* a, int64_t KW, const float* B, const uint16_t* B16, float* C,
                 const float* bias, int64_t j0, int64_t n) {
  constexpr int CN = R <= 4 ? 4 : 2;  // R x CN accumulators: 16 of the 32 zmm registers
  __m512 part[R][16];
  for (int c = 0; c < 16; c += CN) {
    if (c < n) {
      small_dots<R, CN>(p, a, KW, B, B16, j0 + c, static_cast<int>(imin(CN, n - c)), part, c);
    } else {
      for (int r = 0; r < R; ++r)
        for (int q = 0; q < CN; ++q) part[r][c + q] = _mm512_setzero_ps();
    }
  }
  for (int r = 0; r < R; ++r) epilogue(p, C, bias, r, j0, n, hsum_lanes(part[r]));
}

using SmallFn = void (*)(const GemmParams&, const uint32_t*, int64_t, const float*, const uint16_t*, float*, const float*,
                         int64_t, int64_t);
template <int... R>
inline SmallFn pick_small(int64_t m, std::integer_sequence<int, R...>) {
  SmallFn f = nullptr;
  ((m == R + 1 ? (f = small_block<R + 1>, 0) : 0), ...);
  return f;
}

void gemm_small(const GemmParams& p, int64_t e, int nt, uint32_t* abuf) {
  const float* A = p.a + e * p.stride_a;
  const float* B = p.b16 ? nullptr : p.b + e * p.stride_b;
  const uint16_t* B16 = p.b16 ? p.b16 + e * p.stride_b : nullptr;
  float* C = p.c + e * p.stride_c;
  const float* bias = p.bias ? p.bias + e * p.stride_bias : nullptr;
  const int64_t KP = cdiv(p.K, 2), KW = cdiv(KP, 16) * 16;
  for (int64_t r = 0; r < p.M; ++r) {
    uint32_t* row = abuf + r * KW;
    row_pairs(A + r * p.lda, p.K, row);
    std::memset(row + KP, 0, static_cast<size_t>(KW - KP) * 4);
  }
  const SmallFn f = pick_small(p.M, std::make_integer_sequence<int, SMALL_M>{});
  const int64_t blocks = cdiv(p.N, 16);
  // Below ~1 MB of bf16 B the whole product takes microseconds: on a quiet 2-core host a second
  // thread gave no measurable gain in greedy decoding, and on a loaded one the region's end barrier
  // can wait out a scheduler slice for a preempted thread (decoding steps measured 30x slower).
  const bool wide = blocks > 1 && p.N * p.K >= (int64_t(1) << 19);
#pragma omp parallel for num_threads(nt) schedule(static) if (wide)
  for (int64_t q = 0; q < blocks; ++q) f(p, abuf, KW, B, B16, C, bias, q * 16, imin(16, p.N - q * 16));
}

}  // namespace

// src rounded to bf16 bits with the packing's own instruction (core/gemm.h to_bf16 on this variant).
void to_bf16_bits(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    _mm512_storeu_si512(dst + i, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i)));
  for (; i < n; i += 16) {
    const __mmask16 m = lanes(n - i);
    _mm256_mask_storeu_epi16(dst + i, m, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + i)));
  }
}

// Called by the dispatcher (the "avx512bf16" variant) for calls with bf16 set and M, N, K and
// alpha nonzero; everything else runs on the fp32 path.
void gemm_bf16(const GemmParams& p) {
  const int nt = num_threads();
  if (p.row_sums_a && !p.trans_a) row_sums(p, nt);
  const int64_t KP = cdiv(p.K, 2);
  if (p.M <= SMALL_M && p.trans_b && !p.trans_a) {
    uint32_t* abuf = static_cast<uint32_t*>(scratch_acquire(4 * static_cast<size_t>(p.M * cdiv(KP, 16) * 16) + 64));
    for (int64_t e = 0; e < p.batch; ++e) gemm_small(p, e, nt, abuf);
    scratch_release(abuf);
    return;
  }
  const int64_t a_words = cdiv(p.M, MR) * MR * KP, b_words = cdiv(p.N, NR) * NR * KP, buf_words = NR * (KP + 16) * nt;
  uint32_t* scratch = static_cast<uint32_t*>(scratch_acquire(4 * static_cast<size_t>(a_words + b_words + buf_words) + 64));
  for (int64_t e = 0; e < p.batch; ++e) gemm_one(p, e, nt, scratch, scratch + a_words, scratch + a_words + b_words);
  scratch_release(scratch);
}

}  // namespace avx512bf16
}  // namespace attnode
