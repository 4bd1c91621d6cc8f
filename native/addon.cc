// Module entry of the vnf libbpf binding.
#include <bpf/libbpf.h>
#include <bpf/libbpf_version.h>
#include <net/if.h>

#include <cerrno>

#include "boundary.h"
#include "common.h"

namespace vnf {

const napi_type_tag kObjectTag = {0x766e66206f626a65ULL, 0x0000000000000001ULL};
const napi_type_tag kMapTag = {0x766e66206d617020ULL, 0x0000000000000002ULL};
const napi_type_tag kProgramTag = {0x766e662070726f67ULL, 0x0000000000000003ULL};
const napi_type_tag kLinkTag = {0x766e66206c696e6bULL, 0x0000000000000004ULL};

InstanceData &Data(Napi::Env env) { return *env.GetInstanceData<InstanceData>(); }

void Tag(Napi::Object obj, const napi_type_tag &tag) { obj.TypeTag(&tag); }

bool HasTag(Napi::Env env, Napi::Value v, const napi_type_tag &tag) {
  return v.IsObject() && v.As<Napi::Object>().CheckTypeTag(&tag);
}

Napi::Buffer<uint8_t> CopyBuffer(Napi::Env env, const void *data, size_t len) {
  return Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t *>(data), len);
}

std::vector<uint8_t> BufferArg(Napi::Env env, Napi::Value v, const char *what) {
  if (v.IsBuffer()) {
    auto b = v.As<Napi::Buffer<uint8_t>>();
    return std::vector<uint8_t>(b.Data(), b.Data() + b.Length());
  }
  if (v.IsTypedArray()) {
    auto a = v.As<Napi::Uint8Array>();
    return std::vector<uint8_t>(a.Data(), a.Data() + a.ByteLength());
  }
  ThrowUsage(env, std::string(what) + " must be a Buffer or Uint8Array");
}

namespace {

Napi::Value SetErrorClass(const Napi::CallbackInfo &info) {
  if (!info[0].IsFunction()) ThrowUsage(info.Env(), "setErrorClass(constructor)");
  Data(info.Env()).errorCtor = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// ifindex(name, netnsPath?) -> number
Napi::Value Ifindex(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string netns = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  return Napi::Number::New(env, ResolveIfindex(env, info[0], netns));
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new InstanceData());
  InstallLibbpfPrint();
  InitObject(env, exports);
  InitMap(env, exports);
  InitProgram(env, exports);
  InitLink(env, exports);
  InitTc(env, exports);
  InitBtf(env, exports);
  InitLock(env, exports);
  InitRingBuf(env, exports);
  InitFaults(env, exports);
  InitProbe(env, exports);
  Export<SetErrorClass>(exports, "setErrorClass");
  Export<Ifindex>(exports, "ifindex");
  exports.Set("libbpfVersion", Napi::String::New(env, std::to_string(LIBBPF_MAJOR_VERSION) + "." +
                                                          std::to_string(LIBBPF_MINOR_VERSION)));
  exports.Set("numPossibleCpus", Napi::Number::New(env, libbpf_num_possible_cpus()));
  return exports;
}

}  // namespace vnf

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return vnf::Init(env, exports); }

NODE_API_MODULE(vnf_native, InitModule)
