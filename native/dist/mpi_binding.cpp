// N-API surface of attnode_mpi.node: argument checks and typed-array views only; the MPI calls
// live in mpi_core.cpp. Buffers of a pending non-blocking reduction are kept alive by a reference
// held until its wait(), so a collected typed array can never be written by MPI.
#include <napi.h>

#include <cmath>
#include <map>
#include <string>

#include "mpi_core.h"

namespace {

using attnode_mpi::DType;

struct View {
  void* data;
  size_t count;
  DType dt;
};

// The data pointer from napi_get_typedarray_info: valid for views of a SharedArrayBuffer too
// (attnode's parameters live on one), where asking the buffer itself is refused.
View viewOf(const Napi::Env& env, const Napi::Value& v, const char* fn, const char* arg, bool anyType) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(env, std::string(fn) + ": " + arg + " must be a typed array");
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* data = nullptr;
  napi_value buffer;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset) != napi_ok)
    throw Napi::TypeError::New(env, std::string(fn) + ": " + arg + " is not a readable typed array");
  DType dt;
  size_t bytesPer = 1;
  switch (type) {
    case napi_float32_array: dt = DType::f32; break;
    case napi_float64_array: dt = DType::f64; break;
    default:
      if (!anyType) throw Napi::TypeError::New(env, std::string(fn) + ": " + arg + " must be a Float32Array or Float64Array");
      dt = DType::u8;
      bytesPer = v.As<Napi::TypedArray>().ElementSize();
  }
  if (data == nullptr && length > 0) throw Napi::TypeError::New(env, std::string(fn) + ": " + arg + " is detached");
  return {data, dt == DType::u8 ? length * bytesPer : length, dt};
}

double numberArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* arg) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + arg + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (std::isnan(d)) throw Napi::RangeError::New(info.Env(), std::string(fn) + ": " + arg + " must not be NaN");
  return d;
}

// std exceptions from the core become JS errors; a timeout carries code ATTNODE_MPI_TIMEOUT.
template <typename F>
auto guarded(const Napi::Env& env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const attnode_mpi::Timeout& e) {
    Napi::Error err = Napi::Error::New(env, e.what());
    err.Set("code", Napi::String::New(env, "ATTNODE_MPI_TIMEOUT"));
    throw err;
  } catch (const std::out_of_range& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const std::length_error& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

struct Pending {
  Napi::ObjectReference send, recv;
  double bytes;
};
std::map<int, Pending> keepAlive;

Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  attnode_mpi::Info i = guarded(env, [] { return attnode_mpi::init(); });
  Napi::Object o = Napi::Object::New(env);
  o.Set("rank", i.rank);
  o.Set("size", i.size);
  o.Set("localRank", i.localRank);
  o.Set("localSize", i.localSize);
  o.Set("threadLevel", i.threadLevel);
  o.Set("processor", i.processor);
  o.Set("library", i.library);
  return o;
}

Napi::Value Allreduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View v = viewOf(env, info[0], "allreduce", "data", false);
  guarded(env, [&] { attnode_mpi::allreduceSum(v.data, v.count, v.dt); return 0; });
  return env.Undefined();
}

Napi::Value Iallreduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View s = viewOf(env, info[0], "iallreduce", "send", false);
  View r = viewOf(env, info[1], "iallreduce", "recv", false);
  if (s.dt != r.dt || s.count != r.count) throw Napi::TypeError::New(env, "iallreduce: send and recv must have the same type and length");
  int h = guarded(env, [&] { return attnode_mpi::iallreduceSum(s.data, r.data, s.count, s.dt); });
  keepAlive[h] = Pending{Napi::Persistent(info[0].As<Napi::Object>()), Napi::Persistent(info[1].As<Napi::Object>()),
                         static_cast<double>(s.count * attnode_mpi::elementSize(s.dt))};
  return Napi::Number::New(env, h);
}

int handleArg(const Napi::CallbackInfo& info, const char* fn) {
  double h = numberArg(info, 0, fn, "handle");
  if (h != std::floor(h) || h < 0 || h > 1e9) throw Napi::RangeError::New(info.Env(), std::string(fn) + ": handle must be a request handle");
  return static_cast<int>(h);
}

Napi::Value Test(const Napi::CallbackInfo& info) {
  int h = handleArg(info, "test");
  return Napi::Boolean::New(info.Env(), guarded(info.Env(), [&] { return attnode_mpi::test(h); }));
}

Napi::Value Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int h = handleArg(info, "wait");
  double timeout = info.Length() > 1 ? numberArg(info, 1, "wait", "timeoutMs") : 0;
  double ms = guarded(env, [&] { return attnode_mpi::wait(h, timeout); });
  Napi::Object o = Napi::Object::New(env);
  auto it = keepAlive.find(h);
  o.Set("bytes", it == keepAlive.end() ? 0.0 : it->second.bytes);
  o.Set("waitMs", ms);
  if (it != keepAlive.end()) keepAlive.erase(it);
  return o;
}

Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View v = viewOf(env, info[0], "broadcast", "data", true);
  double root = numberArg(info, 1, "broadcast", "root");
  if (root != std::floor(root)) throw Napi::RangeError::New(env, "broadcast: root must be an integer rank");
  double timeout = info.Length() > 2 ? numberArg(info, 2, "broadcast", "timeoutMs") : 0;
  guarded(env, [&] { attnode_mpi::broadcast(v.data, v.count * attnode_mpi::elementSize(v.dt), static_cast<int>(root), timeout); return 0; });
  return env.Undefined();
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  double timeout = info.Length() > 0 ? numberArg(info, 0, "barrier", "timeoutMs") : 0;
  guarded(info.Env(), [&] { attnode_mpi::barrier(timeout); return 0; });
  return info.Env().Undefined();
}

Napi::Value Abort(const Napi::CallbackInfo& info) {
  double code = info.Length() > 0 ? numberArg(info, 0, "abort", "code") : 1;
  attnode_mpi::abortJob(static_cast<int>(code));
}

Napi::Value Finalize(const Napi::CallbackInfo& info) {
  guarded(info.Env(), [] { attnode_mpi::finalize(); return 0; });
  return info.Env().Undefined();
}

Napi::Value Pending_(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), attnode_mpi::pending()); }

Napi::Object Register(Napi::Env env, Napi::Object exports) {
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("allreduce", Napi::Function::New(env, Allreduce));
  exports.Set("iallreduce", Napi::Function::New(env, Iallreduce));
  exports.Set("test", Napi::Function::New(env, Test));
  exports.Set("wait", Napi::Function::New(env, Wait));
  exports.Set("broadcast", Napi::Function::New(env, Broadcast));
  exports.Set("barrier", Napi::Function::New(env, Barrier));
  exports.Set("abort", Napi::Function::New(env, Abort));
  exports.Set("finalize", Napi::Function::New(env, Finalize));
  exports.Set("pending", Napi::Function::New(env, Pending_));
  return exports;
}

}  // namespace

NODE_API_MODULE(attnode_mpi, Register)
