// The avx2 variant: 8-float vectors, a 6 x 2-vector register tile. Compiled with this
// variant's flags only (binding.gyp, CMakeLists.txt).
#include "core/cpu/kernels_prelude.h"

namespace attnode {
namespace avx2 {
#define ATTNODE_ISA_NAME "avx2"
#define ATTNODE_VLEN 8
#define ATTNODE_MR 6
#define ATTNODE_NV 2
#include "core/cpu/kernels_body.inc"
}  // namespace avx2
}  // namespace attnode
