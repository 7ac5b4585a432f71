// A tiny test harness for the native tests (no framework): CHECK counts passes and failures and
// prints each failure with its location; finish() prints "N passed, N failed" and gives main's
// exit status. Plus a seeded PRNG and the error measures every kernel test uses.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace attnode_test {

struct Counters {
  long passed = 0, failed = 0;
};
inline Counters& counters() {
  static Counters c;
  return c;
}

// Context printed with every failure (which ISA, which case), set by the test as it goes.
inline std::string& context() {
  static std::string c;
  return c;
}

inline bool check_impl(bool ok, const char* expr, const char* file, int line, const std::string& detail) {
  if (ok) {
    ++counters().passed;
  } else {
    ++counters().failed;
    std::fprintf(stderr, "FAIL %s:%d [%s] %s %s\n", file, line, context().c_str(), expr, detail.c_str());
  }
  return ok;
}

#define CHECK(cond) ::attnode_test::check_impl(static_cast<bool>(cond), #cond, __FILE__, __LINE__, "")
#define CHECK_MSG(cond, msg) ::attnode_test::check_impl(static_cast<bool>(cond), #cond, __FILE__, __LINE__, (msg))

inline int finish() {
  std::printf("%ld passed, %ld failed\n", counters().passed, counters().failed);
  return counters().failed == 0 ? 0 : 1;
}

// splitmix64: seeded, portable and identical on every machine, so a failure reproduces.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  float symmetric(float a) { return static_cast<float>((2.0 * uniform() - 1.0) * a); }         // [-a, a)
  int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
};

inline void fill(std::vector<float>& x, Rng& r, float a) {
  for (float& v : x) v = r.symmetric(a);
}

inline void poison(std::vector<float>& x) {
  for (float& v : x) v = std::numeric_limits<float>::quiet_NaN();
}

// Normwise relative error max|a - ref| / max(max|ref|, floor). The floor keeps a tensor whose
// exact value is (nearly) zero, e.g. dq and dk when each row sees a single key, from turning
// float32 round-off into a huge "relative" error. Entries where both are the same infinity count
// as equal; any NaN, or an infinity on one side only, gives NaN or infinity, so a
// `!(err <= tol)` check fails on them.
template <class A, class R>
double rel_error(const A& a, const R& ref, double floor) {
  if (a.size() != ref.size()) return std::numeric_limits<double>::infinity();
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double x = a[i], y = ref[i];
    if (std::isinf(y) && x == y) continue;
    if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<double>::quiet_NaN();
    num = std::fmax(num, std::fabs(x - y));
    if (std::isinf(num)) return num;
    den = std::fmax(den, std::fabs(y));
  }
  return num / std::fmax(den, floor);
}

inline bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    uint32_t x, y;
    std::memcpy(&x, &a[i], 4);
    std::memcpy(&y, &b[i], 4);
    if (x != y) return false;
  }
  return true;
}

}  // namespace attnode_test
