// The portable variant: 4-float vectors, a 6 x 2-vector register tile. Compiled with this
// variant's flags only (binding.gyp, CMakeLists.txt).
#include "core/cpu/kernels_prelude.h"

namespace attnode {
namespace portable {
#define ATTNODE_ISA_NAME "portable"
#define ATTNODE_VLEN 4
#define ATTNODE_MR 6
#define ATTNODE_NV 2
#include "core/cpu/kernels_body.inc"
}  // namespace portable
}  // namespace attnode
