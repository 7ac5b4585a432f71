// The avx512 variant: 16-float vectors, a 8 x 2-vector register tile. Compiled with this
// variant's flags only (binding.gyp, CMakeLists.txt).
#include "core/cpu/kernels_prelude.h"

namespace attnode {
namespace avx512 {
#define ATTNODE_ISA_NAME "avx512"
#define ATTNODE_VLEN 16
#define ATTNODE_MR 8
#define ATTNODE_NV 2
#include "core/cpu/kernels_body.inc"
}  // namespace avx512
}  // namespace attnode
