// See mpi_core.h. Non-blocking calls are polled with MPI_Test: Open MPI has no progress thread by
// default, so a pending Iallreduce only moves while some MPI call runs (attnode's backward calls
// test() between tape entries for exactly that reason).
#include "mpi_core.h"

#include <dlfcn.h>
#include <mpi.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace attnode_mpi {
namespace {

// handle -> request. A slot is taken from iallreduce until wait(); done: test() saw it complete.
struct Slot {
  MPI_Request req = MPI_REQUEST_NULL;
  bool used = false, done = false;
};
std::vector<Slot> requests;
std::vector<int> freeSlots;
Info info;
bool didInit = false;

std::string errorText(int code) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(buf, static_cast<size_t>(len));
}

void check(int code, const char* what) {
  if (code != MPI_SUCCESS) throw std::runtime_error(std::string(what) + ": " + errorText(code));
}

void requireInit(const char* what) {
  if (!didInit) throw std::logic_error(std::string(what) + ": MPI is not initialised (call init first)");
  if (isFinalized()) throw std::logic_error(std::string(what) + ": MPI was already finalised");
}

MPI_Datatype mpiType(DType dt) {
  switch (dt) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::u8: return MPI_BYTE;
  }
  return MPI_BYTE;
}

int checkedCount(size_t count, const char* what) {
  if (count > static_cast<size_t>(INT_MAX)) throw std::length_error(std::string(what) + ": more than INT_MAX elements in one call");
  return static_cast<int>(count);
}

using Clock = std::chrono::steady_clock;
double msSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Polls req to completion. Spins briefly (a reduction that is nearly done), then sleeps between
// polls so a waiting rank leaves the core to a rank still computing (oversubscribed runs).
double pollUntilDone(MPI_Request& req, double timeoutMs, const char* what) {
  auto t0 = Clock::now();
  for (long iter = 0;; ++iter) {
    int done = 0;
    check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), what);
    if (done) return msSince(t0);
    if (timeoutMs > 0 && msSince(t0) > timeoutMs)
      throw Timeout(std::string(what) + ": no answer from the other ranks after " + std::to_string(static_cast<long>(timeoutMs)) +
                    " ms (a rank died, hangs, or runs a different collective)");
    if (iter > 200) std::this_thread::sleep_for(std::chrono::microseconds(iter > 2000 ? 200 : 20));
  }
}

int store(MPI_Request r) {
  int h;
  if (!freeSlots.empty()) {
    h = freeSlots.back();
    freeSlots.pop_back();
  } else {
    requests.emplace_back();
    h = static_cast<int>(requests.size() - 1);
  }
  requests[static_cast<size_t>(h)] = Slot{r, true, false};
  return h;
}

Slot& slot(int handle, const char* what) {
  if (handle < 0 || static_cast<size_t>(handle) >= requests.size() || !requests[static_cast<size_t>(handle)].used)
    throw std::out_of_range(std::string(what) + ": handle " + std::to_string(handle) + " is not a pending request");
  return requests[static_cast<size_t>(handle)];
}

void release(int handle) {
  requests[static_cast<size_t>(handle)] = Slot{};
  freeSlots.push_back(handle);
}

// Node loads addons with RTLD_LOCAL; Open MPI's plugins resolve symbols of libmpi itself, so the
// already loaded libmpi is promoted to RTLD_GLOBAL before MPI_Init (the mpi4py workaround).
void promoteLibmpi() {
  Dl_info dl;
  if (dladdr(reinterpret_cast<void*>(&MPI_Init_thread), &dl) && dl.dli_fname)
    dlopen(dl.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
}

}  // namespace

size_t elementSize(DType dt) { return dt == DType::f32 ? 4 : dt == DType::f64 ? 8 : 1; }

bool isInitialized() {
  int flag = 0;
  MPI_Initialized(&flag);
  return flag != 0;
}

bool isFinalized() {
  int flag = 0;
  MPI_Finalized(&flag);
  return flag != 0;
}

Info init() {
  if (didInit) return info;
  if (isFinalized()) throw std::logic_error("init: MPI was already finalised in this process");
  promoteLibmpi();
  int provided = 0;
  if (!isInitialized()) check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  else MPI_Query_thread(&provided);
  didInit = true;
  // Errors come back as codes (turned into exceptions) instead of killing the job from inside MPI.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  info.threadLevel = provided;
  check(MPI_Comm_rank(MPI_COMM_WORLD, &info.rank), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &info.size), "MPI_Comm_size");
  MPI_Comm local;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, info.rank, MPI_INFO_NULL, &local), "MPI_Comm_split_type");
  MPI_Comm_rank(local, &info.localRank);
  MPI_Comm_size(local, &info.localSize);
  MPI_Comm_free(&local);
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  if (MPI_Get_processor_name(name, &len) == MPI_SUCCESS) info.processor.assign(name, static_cast<size_t>(len));
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  if (MPI_Get_library_version(lib, &len) == MPI_SUCCESS) {
    std::string s(lib, static_cast<size_t>(len));
    info.library = s.substr(0, s.find_first_of("\n,"));
  }
  return info;
}

void allreduceSum(void* data, size_t count, DType dt) {
  requireInit("allreduce");
  check(MPI_Allreduce(MPI_IN_PLACE, data, checkedCount(count, "allreduce"), mpiType(dt), MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
}

int iallreduceSum(const void* send, void* recv, size_t count, DType dt) {
  requireInit("iallreduce");
  MPI_Request r;
  const void* s = send == recv ? MPI_IN_PLACE : send;
  check(MPI_Iallreduce(s, recv, checkedCount(count, "iallreduce"), mpiType(dt), MPI_SUM, MPI_COMM_WORLD, &r), "MPI_Iallreduce");
  return store(r);
}

bool test(int handle) {
  requireInit("test");
  Slot& sl = slot(handle, "test");
  if (sl.done) return true;
  int done = 0;
  check(MPI_Test(&sl.req, &done, MPI_STATUS_IGNORE), "MPI_Test");
  sl.done = done != 0;
  return sl.done;
}

double wait(int handle, double timeoutMs) {
  requireInit("wait");
  Slot& sl = slot(handle, "wait");
  double ms = sl.done ? 0 : pollUntilDone(sl.req, timeoutMs, "wait (allreduce)");
  release(handle);
  return ms;
}

int pending() {
  int n = 0;
  for (const Slot& s : requests) n += s.used && !s.done;
  return n;
}

void broadcast(void* data, size_t bytes, int root, double timeoutMs) {
  requireInit("broadcast");
  if (root < 0 || root >= info.size) throw std::out_of_range("broadcast: root " + std::to_string(root) + " is not a rank of " + std::to_string(info.size));
  MPI_Request r;
  check(MPI_Ibcast(data, checkedCount(bytes, "broadcast"), MPI_BYTE, root, MPI_COMM_WORLD, &r), "MPI_Ibcast");
  pollUntilDone(r, timeoutMs, "broadcast");
}

void barrier(double timeoutMs) {
  requireInit("barrier");
  MPI_Request r;
  check(MPI_Ibarrier(MPI_COMM_WORLD, &r), "MPI_Ibarrier");
  pollUntilDone(r, timeoutMs, "barrier");
}

void abortJob(int code) {
  if (isInitialized() && !isFinalized()) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

void finalize() {
  if (!didInit || isFinalized()) return;
  // Requests still pending cannot be cancelled (collectives); finalising over them is undefined.
  if (pending() > 0) throw std::logic_error("finalize: " + std::to_string(pending()) + " collectives still pending (wait for them first)");
  check(MPI_Finalize(), "MPI_Finalize");
}

}  // namespace attnode_mpi
