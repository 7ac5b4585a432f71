#include "core/dispatch.h"

#include <atomic>
#include <cstdlib>

#include "core/cpu_features.h"

namespace attnode {

static const KernelTable* table_by_name(const std::string& name) {
  const CpuFeatures& f = cpu_features();
  if (name == "portable") return &portable::kernel_table();
  if (name == "avx2") return (f.avx2 && f.fma) ? &avx2::kernel_table() : nullptr;
#if ATTNODE_HAVE_AVX512
  if (name == "avx512")
    return (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx2 && f.fma) ? &avx512::kernel_table() : nullptr;
#endif
  return nullptr;
}

std::vector<std::string> supported_isas() {
  std::vector<std::string> out;
  for (const char* n : {"portable", "avx2", "avx512"})
    if (table_by_name(n)) out.emplace_back(n);
  return out;
}

std::string best_isa() { return supported_isas().back(); }

static std::string& env_error() {
  static std::string e;
  return e;
}
const std::string& isa_env_error() { return env_error(); }

static const KernelTable* initial_table() {
  if (const char* env = std::getenv("ATTNODE_ISA")) {
    if (*env) {
      if (const KernelTable* t = table_by_name(env)) return t;
      std::string list;
      for (const auto& n : supported_isas()) list += (list.empty() ? "" : ", ") + n;
      env_error() = std::string("ATTNODE_ISA=") + env + " is not a variant this CPU and build support (supported: " + list + ")";
    }
  }
  return table_by_name(best_isa());
}

static std::atomic<const KernelTable*>& active() {
  static std::atomic<const KernelTable*> t{initial_table()};
  return t;
}

const KernelTable& active_kernels() { return *active().load(std::memory_order_acquire); }

std::string set_isa(const std::string& name) {
  const KernelTable* t = table_by_name(name);
  if (!t) {
    std::string list;
    for (const auto& n : supported_isas()) list += (list.empty() ? "" : ", ") + n;
    return "isa '" + name + "' is not supported here (supported: " + list + ")";
  }
  active().store(t, std::memory_order_release);
  return "";
}

unsigned attention_forward(const AttnShape& s, const AttnMasks& m, const AttnParams& p, const float* q,
                           const float* k, const float* v, float* out, float* lse) {
  return active_kernels().attention_forward(s, m, p, q, k, v, out, lse);
}

unsigned attention_backward(const AttnShape& s, const AttnMasks& m, const AttnParams& p, const float* q,
                            const float* k, const float* v, const float* out, const float* lse,
                            const float* dout, float* dq, float* dk, float* dv) {
  return active_kernels().attention_backward(s, m, p, q, k, v, out, lse, dout, dq, dk, dv);
}

}  // namespace attnode
