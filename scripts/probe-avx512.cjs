// Prints 1 when the C++ compiler accepts AVX-512 flags and intrinsics, else 0, so that an old
// compiler drops the AVX-512 variant instead of failing the build. Used by binding.gyp.
// With the argument `bf16`: the same for AVX512_BF16 (-mavx512bf16, vdpbf16ps; GCC >= 10).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs'); const os = require('node:os'); const path = require('node:path');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-probe-'));
const src = path.join(dir, 'p.cpp');
const bf16 = process.argv[2] === 'bf16';
fs.writeFileSync(src, bf16
  ? '#include <immintrin.h>\nint main(){__m512 a=_mm512_set1_ps(1.f);__m512bh b=_mm512_cvtne2ps_pbh(a,a);return (int)_mm512_reduce_add_ps(_mm512_dpbf16_ps(a,b,b));}\n'
  : '#include <immintrin.h>\nint main(){__m512 a=_mm512_set1_ps(1.f);return (int)_mm512_reduce_add_ps(_mm512_fmadd_ps(a,a,a));}\n');
let ok = 0;
try {
  execFileSync(process.env.CXX || 'c++', ['-mavx512f', '-mavx512vl', '-mavx512bw', '-mavx512dq', ...(bf16 ? ['-mavx512bf16'] : []), '-c', src, '-o', path.join(dir, 'p.o')], { stdio: 'ignore' });
  ok = 1;
} catch { ok = 0; }
fs.rmSync(dir, { recursive: true, force: true });
console.log(ok);
