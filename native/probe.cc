// Kernel feature probes (vnf-ctl doctor): thin wrappers over libbpf's probe API, which loads a
// trivial program or creates a tiny map of the kind asked for and reports whether the kernel
// accepted it. Generic: the caller names the map type, program type and helper by number.
#include <bpf/libbpf.h>

#include "boundary.h"
#include "common.h"

namespace vnf {
namespace {

int32_t IntArg(const Napi::CallbackInfo &info, size_t i, const char *usage) {
  if (!info[i].IsNumber()) ThrowUsage(info.Env(), usage);
  return info[i].As<Napi::Number>().Int32Value();
}

// probeMapType(type) -> 1 supported, 0 not, negative errno when the probe itself failed (EPERM...)
Napi::Value ProbeMapType(const Napi::CallbackInfo &info) {
  int32_t type = IntArg(info, 0, "probeMapType(mapType)");
  return Napi::Number::New(info.Env(), libbpf_probe_bpf_map_type(static_cast<enum bpf_map_type>(type), nullptr));
}

// probeProgType(type) -> as probeMapType
Napi::Value ProbeProgType(const Napi::CallbackInfo &info) {
  int32_t type = IntArg(info, 0, "probeProgType(progType)");
  return Napi::Number::New(info.Env(), libbpf_probe_bpf_prog_type(static_cast<enum bpf_prog_type>(type), nullptr));
}

// probeHelper(progType, helperId) -> whether programs of that type may call the helper
Napi::Value ProbeHelper(const Napi::CallbackInfo &info) {
  int32_t prog = IntArg(info, 0, "probeHelper(progType, helperId)");
  int32_t helper = IntArg(info, 1, "probeHelper(progType, helperId)");
  return Napi::Number::New(info.Env(), libbpf_probe_bpf_helper(static_cast<enum bpf_prog_type>(prog),
                                                               static_cast<enum bpf_func_id>(helper), nullptr));
}

}  // namespace

void InitProbe(Napi::Env env, Napi::Object exports) {
  Export<ProbeMapType>(exports, "probeMapType");
  Export<ProbeProgType>(exports, "probeProgType");
  Export<ProbeHelper>(exports, "probeHelper");
}

}  // namespace vnf
