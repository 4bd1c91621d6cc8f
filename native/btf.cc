// BTF struct layouts, read from a compiled object (or the kernel's vmlinux
// BTF) so tests can check TS codecs against what the compiler laid out.
// Needs no privileges: it parses a file.
#include <bpf/btf.h>

#include <cerrno>

#include "boundary.h"
#include "common.h"

namespace vnf {
namespace {

const char *KindName(const struct btf_type *t) {
  switch (btf_kind(t)) {
    case BTF_KIND_INT: return "int";
    case BTF_KIND_PTR: return "ptr";
    case BTF_KIND_ARRAY: return "array";
    case BTF_KIND_STRUCT: return "struct";
    case BTF_KIND_UNION: return "union";
    case BTF_KIND_ENUM: return "enum";
    case BTF_KIND_TYPEDEF: return "typedef";
    default: return "other";
  }
}

// btfStructLayout(file, name) -> { name, size, members: [{ name, offset, size, bitfieldSize, kind }] }
// offset is in bytes (bit offset / 8 for non-bitfields).
Napi::Value BtfStructLayout(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsString()) ThrowUsage(env, "btfStructLayout(file, structName)");
  std::string file = info[0].As<Napi::String>().Utf8Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  LibbpfCapture cap;
  struct btf *btf = btf__parse(file.c_str(), nullptr);
  if (btf == nullptr) ThrowErrno(env, "btf__parse", errno ? errno : EINVAL, {"", cap.Take(), file});
  int id = btf__find_by_name_kind(btf, name.c_str(), BTF_KIND_STRUCT);
  if (id < 0) id = btf__find_by_name_kind(btf, name.c_str(), BTF_KIND_UNION);
  if (id < 0) {
    btf__free(btf);
    ThrowErrno(env, "btf__find_by_name_kind", ENOENT, {"", "", file + ": struct " + name});
  }
  const struct btf_type *t = btf__type_by_id(btf, id);
  Napi::Object out = Napi::Object::New(env);
  out.Set("name", Napi::String::New(env, name));
  out.Set("size", Napi::Number::New(env, t->size));
  Napi::Array members = Napi::Array::New(env);
  const struct btf_member *m = btf_members(t);
  for (unsigned i = 0; i < btf_vlen(t); i++, m++) {
    Napi::Object mo = Napi::Object::New(env);
    uint32_t bitOff = btf_member_bit_offset(t, i);
    uint32_t bitSize = btf_member_bitfield_size(t, i);
    const struct btf_type *mt = btf__type_by_id(btf, btf__resolve_type(btf, m->type));
    mo.Set("name", Napi::String::New(env, btf__name_by_offset(btf, m->name_off)));
    mo.Set("offset", Napi::Number::New(env, bitOff / 8));
    mo.Set("bitOffset", Napi::Number::New(env, bitOff));
    mo.Set("bitfieldSize", Napi::Number::New(env, bitSize));
    mo.Set("size", Napi::Number::New(env, btf__resolve_size(btf, m->type)));
    mo.Set("kind", Napi::String::New(env, mt ? KindName(mt) : "unknown"));
    members.Set(i, mo);
  }
  out.Set("members", members);
  btf__free(btf);
  return out;
}

}  // namespace

void InitBtf(Napi::Env env, Napi::Object exports) {
  Export<BtfStructLayout>(exports, "btfStructLayout");
}

}  // namespace vnf
