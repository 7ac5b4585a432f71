// Registers every non-GEMM op binding (norm, elementwise, embedding, cross-entropy, optimizer);
// addon.cpp calls register_ops once.
#include <napi.h>

namespace attnode::binding {

void register_norm(Napi::Env env, Napi::Object exports);
void register_elementwise(Napi::Env env, Napi::Object exports);
void register_embedding(Napi::Env env, Napi::Object exports);
void register_xent(Napi::Env env, Napi::Object exports);
void register_optim(Napi::Env env, Napi::Object exports);

void register_ops(Napi::Env env, Napi::Object exports) {
  register_norm(env, exports);
  register_elementwise(env, exports);
  register_embedding(env, exports);
  register_xent(env, exports);
  register_optim(env, exports);
}

}  // namespace attnode::binding
