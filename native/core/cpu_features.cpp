#include "core/cpu_features.h"

#include <cpuid.h>
#include <cstring>

namespace attnode {

static unsigned long long read_xcr0() {
  unsigned int lo = 0, hi = 0;
  // xgetbv with ecx = 0; encoded by hand so the baseline TU needs no -mxsave.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

static CpuFeatures detect() {
  CpuFeatures f;
  unsigned int a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  const unsigned int max_leaf = a;
  std::memcpy(f.vendor, &b, 4);
  std::memcpy(f.vendor + 4, &d, 4);
  std::memcpy(f.vendor + 8, &c, 4);
  __get_cpuid(1, &a, &b, &c, &d);
  f.sse42 = (c >> 20) & 1;
  f.fma = (c >> 12) & 1;
  const bool osxsave = (c >> 27) & 1;
  const bool avx_bit = (c >> 28) & 1;
  if (osxsave) {
    const unsigned long long xcr0 = read_xcr0();
    f.os_avx = (xcr0 & 0x6) == 0x6;             // xmm + ymm state
    f.os_avx512 = f.os_avx && (xcr0 & 0xe0) == 0xe0;  // opmask, zmm_hi256, hi16_zmm
  }
  f.avx = avx_bit && f.os_avx;
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = ((b >> 5) & 1) && f.os_avx;
    f.avx512f = ((b >> 16) & 1) && f.os_avx512;
    f.avx512dq = ((b >> 17) & 1) && f.os_avx512;
    f.avx512bw = ((b >> 30) & 1) && f.os_avx512;
    f.avx512vl = ((b >> 31) & 1) && f.os_avx512;
    f.avx512_fp16 = ((d >> 23) & 1) && f.os_avx512;
    f.amx_bf16 = (d >> 22) & 1;
    f.amx_tile = (d >> 24) & 1;
    __cpuid_count(7, 1, a, b, c, d);
    f.avx512_bf16 = ((a >> 5) & 1) && f.os_avx512;
  }
  f.fma = f.fma && f.os_avx;
  return f;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace attnode
