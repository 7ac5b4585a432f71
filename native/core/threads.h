// The thread count every parallel region uses. Kept as our own setting (not omp_set_num_threads,
// which only affects the calling thread) so calls from libuv worker threads obey it too.
#pragma once

namespace attnode {

int num_threads();           // >= 1
void set_num_threads(int n); // n >= 1
int max_hardware_threads();

}  // namespace attnode
