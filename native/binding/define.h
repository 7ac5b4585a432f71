// Exports a binding function so that no C++ exception escapes into V8: node-addon-api converts
// only Napi::Error, and anything else (std::bad_alloc from a kernel's scratch, a std::exception)
// would terminate the process. Those become JS errors naming the function.
#pragma once
#include <napi.h>

#include <exception>
#include <new>
#include <string>

namespace attnode::binding {

using BindingFn = Napi::Value (*)(const Napi::CallbackInfo&);

inline void define(Napi::Env env, Napi::Object exports, const char* name, BindingFn f) {
  exports.Set(name, Napi::Function::New(env, [f, name](const Napi::CallbackInfo& info) -> Napi::Value {
    try {
      return f(info);
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::bad_alloc&) {
      throw Napi::RangeError::New(info.Env(), std::string(name) + ": out of memory");
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), std::string(name) + ": " + e.what());
    }
  }, name));
}

}  // namespace attnode::binding
