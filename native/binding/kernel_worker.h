// Runs one kernel call on a libuv worker thread and settles a Promise on the main thread.
// The closures own everything the call touches (its arrays are held by references inside them),
// and they are destroyed on the main thread with the worker.
#pragma once
#include <napi.h>

#include "binding/args.h"
#include "binding/staging.h"

#include <exception>
#include <functional>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace attnode::binding {

// References that keep JS values (input and output arrays) alive while native code uses them,
// and where each array's elements were when it was checked.
class Keepalive {
 public:
  // persist: the call outlives the JS call that made it (async), so hold references. A sync call
  // ends within its callback, whose handle scope keeps the values alive: plain handles suffice.
  explicit Keepalive(bool persist = true) : persist_(persist) {}
  void add(const Napi::TypedArray& a) {
    if (persist_) refs_.push_back(Napi::Persistent(static_cast<Napi::Value>(a)));
    else vals_.push_back(a);
    seen_.push_back(a.ElementLength());  // cached by node-addon-api: no N-API call
  }
  // Throws a RangeError unless every array kept is still where it was, with its length. The JS
  // wrappers read every option before the addon runs; a caller of the addon's own functions may
  // pass a getter that detaches or shrinks an array after it was checked: refuse, never touch it.
  void check(const ArgContext& c) const {
    for (size_t i = 0; i < seen_.size(); ++i) {
      const napi_value v = persist_ ? static_cast<napi_value>(refs_[i].Value()) : static_cast<napi_value>(vals_[i]);
      if (!same_length(c.env, v, seen_[i]))
        c.range_error("an array argument", "was detached or resized while the arguments were read (by a getter)");
    }
  }

 private:
  bool persist_;
  std::vector<Napi::Reference<Napi::Value>> refs_;
  std::vector<Napi::Value> vals_;
  std::vector<size_t> seen_;
};

class KernelWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;

  static Napi::Value Start(Napi::Env env, const char* name, Work work, Done done) {
    auto* w = new KernelWorker(env, name, std::move(work), std::move(done));
    Napi::Promise p = w->deferred_.Promise();
    w->Napi::AsyncWorker::Queue();
    return p;
  }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (const std::bad_alloc&) {
      SetError(name_ + ": out of memory");
    } catch (const std::exception& e) {
      SetError(name_ + ": " + e.what());
    }
  }
  void OnOK() override {
    // done_ may find the result invalid (e.g. non-finite inputs) and throw a JS error: reject
    // with it rather than let it escape as an uncaught exception.
    Napi::Value v;
    try {
      v = done_(Env());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
      return;
    } catch (const std::bad_alloc&) {
      deferred_.Reject(Napi::RangeError::New(Env(), name_ + ": out of memory").Value());
      return;
    }
    deferred_.Resolve(v);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  KernelWorker(Napi::Env env, const char* name, Work work, Done done)
      : Napi::AsyncWorker(env, name), name_(name), deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)), done_(std::move(done)) {}

  std::string name_;
  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
};

// One kernel call in its sync form (run now, return done's value) or its async form (a Promise
// settled with done's value, or rejected with what work or done threw).
template <bool Async, class Work, class Done>
Napi::Value run_call(Napi::Env env, const char* name, const Keepalive& keep, Work work, Done done) {
  keep.check(ArgContext{env, name});
  if constexpr (Async) {
    return KernelWorker::Start(env, name, std::move(work), std::move(done));
  } else {
    work();
    return done(env);
  }
}

}  // namespace attnode::binding
