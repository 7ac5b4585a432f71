// The op table (ggml style): one entry per op, one table per ISA variant. dispatch.cpp picks a
// table once at load time; tests can switch tables to compare every variant with the portable one.
#pragma once
#include "core/attention.h"
#include "core/gemm.h"
#include "core/cpu/ops_table.h"

namespace attnode {

struct KernelTable {
  const char* name;
  unsigned (*attention_forward)(const AttnShape&, const AttnMasks&, const AttnParams&, const float* q,
                            const float* k, const float* v, float* out, float* lse);
  unsigned (*attention_backward)(const AttnShape&, const AttnMasks&, const AttnParams&, const float* q,
                             const float* k, const float* v, const float* out, const float* lse,
                             const float* dout, float* dq, float* dk, float* dv);
  const OpsTable* ops;  // norms, activations, dropout, cross-entropy, optimizer (ops_table.h)
  void (*gemm)(const GemmParams& p);  // core/gemm.h, cpu/gemm.inc
};

namespace portable { const KernelTable& kernel_table(); }
namespace avx2 { const KernelTable& kernel_table(); }
#if ATTNODE_HAVE_AVX512
namespace avx512 { const KernelTable& kernel_table(); }
#endif
#if ATTNODE_HAVE_AVX512BF16
// The bf16 GEMM (cpu/avx512bf16/gemm_bf16.cpp) and attention (attention_bf16.cpp); the
// dispatcher's "avx512bf16" table is avx512's with these for calls that ask for bf16.
// attention_bf16.cpp: cpu/attention.inc with bf16 tile products (AttnParams::bf16).
namespace avx512bf16 {
void gemm_bf16(const GemmParams& p);
unsigned attention_forward_bf16(const AttnShape&, const AttnMasks&, const AttnParams&, const float* q,
                                const float* k, const float* v, float* out, float* lse);
unsigned attention_backward_bf16(const AttnShape&, const AttnMasks&, const AttnParams&, const float* q,
                                 const float* k, const float* v, const float* out, const float* lse,
                                 const float* dout, float* dq, float* dk, float* dv);
}
#endif

}  // namespace attnode
