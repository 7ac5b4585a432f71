// Chooses the kernel table once at load time: ATTNODE_ISA if set, else the best variant the CPU
// and OS support. set_isa() switches at run time (tests compare every variant with portable).
#pragma once
#include <string>
#include <vector>

#include "core/cpu/kernel_table.h"

namespace attnode {

const KernelTable& active_kernels();
std::vector<std::string> supported_isas();  // portable first, best last
std::string best_isa();
// Selects a variant by name; returns an error message (empty on success).
std::string set_isa(const std::string& name);
// Error from ATTNODE_ISA at load time (empty when it was unset or valid).
const std::string& isa_env_error();

}  // namespace attnode
