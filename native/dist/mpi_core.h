// Plain C++17 over MPI, no Node headers: the collectives attnode's data-parallel training uses.
// Every call is made from the one JS thread (MPI_THREAD_FUNNELED); errors are std exceptions.
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>

namespace attnode_mpi {

enum class DType { f32, f64, u8 };

struct Info {
  int rank = 0, size = 1, localRank = 0, localSize = 1;
  int threadLevel = 0;  // what MPI granted (MPI_THREAD_* value)
  std::string processor;  // MPI_Get_processor_name: the host, for error messages
  std::string library;    // MPI_Get_library_version, first line
};

// A wait that ran out of time: the collective is still pending (MPI cannot cancel collectives),
// so the caller's only safe move is to abort the job.
struct Timeout : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Info init();
bool isInitialized();
bool isFinalized();
size_t elementSize(DType dt);

// Sum over all ranks, in place, blocking.
void allreduceSum(void* data, size_t count, DType dt);
// Sum over all ranks into recv (send == recv: in place); returns a handle for test/wait.
int iallreduceSum(const void* send, void* recv, size_t count, DType dt);
// Drives progress; true once the request is complete (the handle stays valid until wait).
bool test(int handle);
// Blocks until complete or timeoutMs passes (timeoutMs <= 0: no limit); frees the handle when
// done. Returns the milliseconds spent waiting; throws Timeout.
double wait(int handle, double timeoutMs);
int pending();

// Root's bytes to every rank (non-blocking broadcast polled against timeoutMs).
void broadcast(void* data, size_t bytes, int root, double timeoutMs);
void barrier(double timeoutMs);
[[noreturn]] void abortJob(int code);
void finalize();

}  // namespace attnode_mpi
