// Map: a handle on a BPF map fd, owned by its object or (opened from a pin)
// by itself. Keys and values are byte buffers; struct layouts live in TS.
// Single operations are synchronous: each is one bpf(2) syscall.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common.h"
#include "handle.h"
#include "map_keys.h"

namespace vnf {
namespace {

bool IsPerCpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

class MapWrap : public FdHandle<MapWrap> {
 public:
  static constexpr const char *kClassName = "BpfMap";
  static constexpr const char *kPinCall = "bpf_obj_pin";
  static const napi_type_tag &TypeTag() { return kMapTag; }

  static Napi::Function Define(Napi::Env env) {
    return DefineHandle(env, {
                                 Method<&MapWrap::Lookup>("lookup"),
                                 Method<&MapWrap::Update>("update"),
                                 Method<&MapWrap::Delete>("delete"),
                                 Method<&MapWrap::NextKey>("nextKey"),
                                 Method<&MapWrap::Keys>("keys"),
                                 Method<&MapWrap::UpdateBatch>("updateBatch"),
                                 Method<&MapWrap::DeleteBatch>("deleteBatch"),
                                 Method<&MapWrap::LookupBatch>("lookupBatch"),
                                 Method<&MapWrap::Info>("info"),
                                 Getter<&MapWrap::Name>("name"),
                             });
  }

  using FdHandle::FdHandle;

  // Takes `fd` over once the map's info is read; if that fails, `fd` closes itself.
  void Init(Napi::Env env, Fd fd, ObjectStatePtr owner, const std::string &name) {
    struct bpf_map_info mi;
    memset(&mi, 0, sizeof(mi));
    __u32 len = sizeof(mi);
    if (bpf_obj_get_info_by_fd(fd.get(), &mi, &len) != 0) ThrowErrno(env, "bpf_obj_get_info_by_fd(map)", errno);
    name_ = name;
    type_ = mi.type;
    keySize_ = mi.key_size;
    valueSize_ = mi.value_size;
    maxEntries_ = mi.max_entries;
    flags_ = mi.map_flags;
    id_ = mi.id;
    if (name_.empty()) name_ = mi.name;
    // Per-CPU maps exchange one 8-byte-aligned slot per possible CPU.
    valueBufSize_ = IsPerCpu(type_) ? ((valueSize_ + 7) / 8 * 8) * libbpf_num_possible_cpus() : valueSize_;
    Adopt(std::move(fd), std::move(owner));
  }

 private:
  std::vector<uint8_t> Key(Napi::Env env, Napi::Value v) {
    std::vector<uint8_t> k = BufferArg(env, v, "key");
    if (k.size() != keySize_)
      ThrowUsage(env, "map " + name_ + ": key must be " + std::to_string(keySize_) + " bytes, got " + std::to_string(k.size()));
    return k;
  }
  std::vector<uint8_t> Value(Napi::Env env, Napi::Value v) {
    std::vector<uint8_t> val = BufferArg(env, v, "value");
    if (val.size() != valueBufSize_)
      ThrowUsage(env, "map " + name_ + ": value must be " + std::to_string(valueBufSize_) + " bytes, got " + std::to_string(val.size()));
    return val;
  }
  ErrorExtra Where() {
    ErrorExtra e;
    e.path = name_;
    return e;
  }

  // lookup(key) -> Buffer | null (null when the key is absent)
  Napi::Value Lookup(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    std::vector<uint8_t> k = Key(env, info[0]);
    std::vector<uint8_t> v(valueBufSize_);
    if (bpf_map_lookup_elem(fd, k.data(), v.data()) != 0) {
      if (errno == ENOENT) return env.Null();
      ThrowErrno(env, "bpf_map_lookup_elem", errno, Where());
    }
    return CopyBuffer(env, v.data(), v.size());
  }

  // update(key, value, flags = BPF_ANY)
  Napi::Value Update(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    std::vector<uint8_t> k = Key(env, info[0]);
    std::vector<uint8_t> v = Value(env, info[1]);
    uint64_t flags = info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : static_cast<int64_t>(BPF_ANY);
    if (bpf_map_update_elem(fd, k.data(), v.data(), flags) != 0)
      ThrowErrno(env, "bpf_map_update_elem", errno, Where());
    return env.Undefined();
  }

  // delete(key) -> true if deleted, false if it was not there
  Napi::Value Delete(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    std::vector<uint8_t> k = Key(env, info[0]);
    if (bpf_map_delete_elem(fd, k.data()) != 0) {
      if (errno == ENOENT) return Napi::Boolean::New(env, false);
      ThrowErrno(env, "bpf_map_delete_elem", errno, Where());
    }
    return Napi::Boolean::New(env, true);
  }

  // nextKey(key | null) -> Buffer | null (null at the end)
  Napi::Value NextKey(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    std::vector<uint8_t> next(keySize_);
    int rc;
    if (info[0].IsNull() || info[0].IsUndefined()) {
      rc = bpf_map_get_next_key(fd, nullptr, next.data());
    } else {
      std::vector<uint8_t> k = Key(env, info[0]);
      rc = bpf_map_get_next_key(fd, k.data(), next.data());
    }
    if (rc != 0) {
      if (errno == ENOENT) return env.Null();
      ThrowErrno(env, "bpf_map_get_next_key", errno, Where());
    }
    return CopyBuffer(env, next.data(), next.size());
  }

  // keys() -> Buffer[]: all keys, by get_next_key, each once; every key
  // present (and not re-inserted) for the whole call is among them. A map
  // that changes too fast to finish is EAGAIN, never a short list (map_keys.h).
  Napi::Value Keys(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    KeyWalk w = WalkKeys(Live(env), keySize_, valueBufSize_, maxEntries_);
    if (w.err != 0) {
      ErrorExtra extra = Where();
      if (w.err == EAGAIN)
        extra.hint = "the map changed too fast for keys() to finish (" + std::to_string(w.restarts) +
                     " restarts in " + std::to_string(w.calls) + " syscalls): retry, or read it by batch (entries())";
      ThrowErrno(env, w.call, w.err, extra);
    }
    Napi::Array out = Napi::Array::New(env, w.keys.size());
    uint32_t i = 0;
    for (const std::string &k : w.keys) out.Set(i++, CopyBuffer(env, k.data(), k.size()));
    return out;
  }

  // updateBatch(keys, values, count, flags) with keys/values packed back to back.
  Napi::Value UpdateBatch(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    std::vector<uint8_t> keys = BufferArg(env, info[0], "keys");
    std::vector<uint8_t> vals = BufferArg(env, info[1], "values");
    uint32_t count = info[2].As<Napi::Number>().Uint32Value();
    if (keys.size() != size_t(count) * keySize_ || vals.size() != size_t(count) * valueBufSize_)
      ThrowUsage(env, "updateBatch: keys/values sizes do not match count");
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    opts.elem_flags = info[3].IsNumber() ? info[3].As<Napi::Number>().Int64Value() : static_cast<int64_t>(BPF_ANY);
    __u32 n = count;
    if (count > 0 && bpf_map_update_batch(fd, keys.data(), vals.data(), &n, &opts) != 0)
      ThrowErrno(env, "bpf_map_update_batch", errno, Where());
    return Napi::Number::New(env, n);
  }

  // deleteBatch(keys, count) -> number deleted
  Napi::Value DeleteBatch(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    std::vector<uint8_t> keys = BufferArg(env, info[0], "keys");
    uint32_t count = info[1].As<Napi::Number>().Uint32Value();
    if (keys.size() != size_t(count) * keySize_) ThrowUsage(env, "deleteBatch: keys size does not match count");
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    __u32 n = count;
    if (count > 0 && bpf_map_delete_batch(fd, keys.data(), &n, &opts) != 0)
      ThrowErrno(env, "bpf_map_delete_batch", errno, Where());
    return Napi::Number::New(env, n);
  }

  // lookupBatch() -> { keys: Buffer, values: Buffer, count }: the whole map
  // by BPF_MAP_LOOKUP_BATCH (hash-like and array maps).
  Napi::Value LookupBatch(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    const uint32_t chunk = 4096;
    std::vector<uint8_t> keys, vals;
    std::vector<uint8_t> kbuf(size_t(chunk) * keySize_), vbuf(size_t(chunk) * valueBufSize_);
    // Batch cursors are opaque: a u32 bucket for hash maps, but a whole key for
    // maps on the generic batch path (arrays, LPM tries, ...). Size for both.
    std::vector<uint8_t> in(std::max<size_t>(keySize_, 8)), out(std::max<size_t>(keySize_, 8));
    bool first = true;
    for (;;) {
      __u32 n = chunk;
      LIBBPF_OPTS(bpf_map_batch_opts, opts);
      int rc = bpf_map_lookup_batch(fd, first ? nullptr : in.data(), out.data(), kbuf.data(), vbuf.data(), &n, &opts);
      int err = rc != 0 ? errno : 0;
      if (rc != 0 && err != ENOENT) ThrowErrno(env, "bpf_map_lookup_batch", err, Where());
      keys.insert(keys.end(), kbuf.begin(), kbuf.begin() + size_t(n) * keySize_);
      vals.insert(vals.end(), vbuf.begin(), vbuf.begin() + size_t(n) * valueBufSize_);
      if (err == ENOENT) break;
      in.swap(out);
      first = false;
    }
    Napi::Object res = Napi::Object::New(env);
    res.Set("keys", CopyBuffer(env, keys.data(), keys.size()));
    res.Set("values", CopyBuffer(env, vals.data(), vals.size()));
    res.Set("count", Napi::Number::New(env, keySize_ ? keys.size() / keySize_ : 0));
    return res;
  }

  Napi::Value Info(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Live(env);
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", Napi::Number::New(env, id_));
    o.Set("name", Napi::String::New(env, name_));
    o.Set("type", Napi::Number::New(env, type_));
    o.Set("typeName", Napi::String::New(env, libbpf_bpf_map_type_str(static_cast<bpf_map_type>(type_)) ?: "unknown"));
    o.Set("keySize", Napi::Number::New(env, keySize_));
    o.Set("valueSize", Napi::Number::New(env, valueSize_));
    o.Set("valueBufferSize", Napi::Number::New(env, valueBufSize_));
    o.Set("maxEntries", Napi::Number::New(env, maxEntries_));
    o.Set("flags", Napi::Number::New(env, flags_));
    o.Set("perCpu", Napi::Boolean::New(env, IsPerCpu(type_)));
    return o;
  }

  Napi::Value Name(const Napi::CallbackInfo &info) { return Napi::String::New(info.Env(), name_); }

  std::string name_;
  uint32_t type_ = 0, keySize_ = 0, valueSize_ = 0, valueBufSize_ = 0, maxEntries_ = 0, flags_ = 0, id_ = 0;
};

// openPinnedMap(path) -> BpfMap owning its fd
Napi::Value OpenPinnedMap(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) ThrowUsage(env, "openPinnedMap(path)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Fd fd = Fd::Owned(bpf_obj_get(path.c_str()));
  if (fd.get() < 0) ThrowErrno(env, "bpf_obj_get", errno, {"", "", path});
  return NewMap(env, std::move(fd), nullptr, "");
}

}  // namespace

Napi::Object NewMap(Napi::Env env, Fd fd, ObjectStatePtr owner, const std::string &name) {
  FaultPoint(env, Fault::kWrap);
  Napi::Object o = Data(env).mapCtor.New({});
  MapWrap::Unwrap(o)->Init(env, std::move(fd), std::move(owner), name);
  return o;
}

int MapFd(Napi::Env env, Napi::Value v) {
  if (!HasTag(env, v, kMapTag)) ThrowUsage(env, "expected a BpfMap handle");
  return MapWrap::Unwrap(v.As<Napi::Object>())->Live(env);
}

void InitMap(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = MapWrap::Define(env);
  Data(env).mapCtor = Napi::Persistent(ctor);
  Export<OpenPinnedMap>(exports, "openPinnedMap");
}

}  // namespace vnf
