// What the CPU and the OS support, read once from cpuid and xgetbv.
#pragma once

namespace attnode {

struct CpuFeatures {
  bool sse42 = false, avx = false, avx2 = false, fma = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512_bf16 = false, avx512_fp16 = false, amx_tile = false, amx_bf16 = false;
  bool os_avx = false;     // XCR0 saves ymm state
  bool os_avx512 = false;  // XCR0 saves opmask and zmm state
  char vendor[13] = {0};
};

const CpuFeatures& cpu_features();

}  // namespace attnode
