// Test-only fault injection. With VNF_NATIVE_FAULTS set in the environment
// when the addon loads, `__armFault(site)` arms a one-shot failure at a named
// point, so tests can reach cleanup paths that no real input provokes (a JS
// wrapper failing after the kernel handed out an fd, a failed return from a
// network namespace). Without the variable the hook is not exported and every
// point is a no-op.
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "boundary.h"
#include "common.h"

namespace vnf {
namespace {

std::atomic<bool> g_enabled{false};
std::atomic<unsigned> g_armed{0};

struct Site {
  const char *name;
  Fault fault;
};
const Site kSites[] = {
    {"wrap", Fault::kWrap},
    {"netns-restore", Fault::kNetnsRestore},
    {"netns-unwind", Fault::kNetnsUnwind},
};

// __armFault(site): arms `site` once; __armFault() disarms everything.
Napi::Value ArmFault(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info[0].IsUndefined()) {
    g_armed = 0;
    return env.Undefined();
  }
  if (!info[0].IsString()) ThrowUsage(env, "__armFault(site)");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  for (const Site &s : kSites) {
    if (name == s.name) {
      g_armed |= static_cast<unsigned>(s.fault);
      return env.Undefined();
    }
  }
  ThrowUsage(env, "__armFault: unknown site " + name);
}

}  // namespace

bool FaultFires(Fault f) {
  if (!g_enabled.load(std::memory_order_relaxed)) return false;
  unsigned bit = static_cast<unsigned>(f);
  return (g_armed.fetch_and(~bit) & bit) != 0;
}

void FaultPoint(Napi::Env env, Fault f) {
  if (!FaultFires(f)) return;
  for (const Site &s : kSites)
    if (s.fault == f) ThrowErrno(env, std::string("injected fault (") + s.name + ")", ECANCELED);
  ThrowErrno(env, "injected fault", ECANCELED);
}

void InitFaults(Napi::Env env, Napi::Object exports) {
  const char *v = getenv("VNF_NATIVE_FAULTS");
  if (v == nullptr || *v == '\0') return;
  g_enabled = true;
  Export<ArmFault>(exports, "__armFault");
}

}  // namespace vnf
