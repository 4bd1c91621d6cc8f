// BpfObject: an ELF object opened with libbpf. It owns its maps and programs;
// close() cascades to them, is idempotent, and makes every later use throw.
// load() runs the verifier on a worker thread and returns a Promise.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "boundary.h"
#include "common.h"

namespace vnf {

ObjectState::~ObjectState() { Close(); }

void ObjectState::Close() {
  if (obj != nullptr) {
    // Closes the object's map and program fds. Links are separate fds owned
    // by Link handles, so nothing attached is detached here.
    bpf_object__close(obj);
    obj = nullptr;
  }
}

namespace {

std::string Between(const std::string &s, const char *begin, const char *end) {
  size_t b = s.find(begin);
  if (b == std::string::npos) return "";
  b = s.find('\n', b);
  if (b == std::string::npos) return "";
  size_t e = s.find(end, b);
  std::string out = s.substr(b + 1, e == std::string::npos ? std::string::npos : e - b - 1);
  // libbpf prefixes the END marker line with "libbpf: prog 'x': "; drop it.
  size_t lastNl = out.rfind('\n');
  if (e != std::string::npos && lastNl != std::string::npos) out.resize(lastNl + 1);
  return out;
}

class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, ObjectStatePtr st, Napi::Object self)
      : Napi::AsyncWorker(env, "vnf:bpf_object__load"),
        st_(std::move(st)),
        deferred_(Napi::Promise::Deferred::New(env)) {
    self_ = Napi::Persistent(self);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  // On a worker thread: nothing here may throw into libuv.
  void Execute() override {
    try {
      LibbpfCapture cap;
      err_ = bpf_object__load(st_->obj);
      if (err_ != 0 && errno != 0 && err_ == -1) err_ = -errno;
      captured_ = cap.Take();
    } catch (const std::bad_alloc &) {
      err_ = -ENOMEM;
    } catch (...) {
      err_ = -EIO;
    }
  }

  // Back on the JS thread: settles the promise, whatever happens.
  void OnOK() override {
    Napi::Env env = Env();
    st_->loading = false;
    try {
      Settle(env);
    } catch (...) {
      deferred_.Reject(ExceptionToJs(env, "BpfObject", "load"));
    }
  }

 private:
  void Settle(Napi::Env env) {
    if (err_ == 0) {
      st_->loaded = true;
      deferred_.Resolve(env.Undefined());
      return;
    }
    ErrorExtra extra;
    extra.path = st_->path;
    extra.details = captured_;
    extra.log = Between(captured_, "-- BEGIN PROG LOAD LOG --", "-- END PROG LOAD LOG --");
    deferred_.Reject(MakeErrno(env, "bpf_object__load", err_, extra));
  }

  ObjectStatePtr st_;
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference self_;
  int err_ = 0;
  std::string captured_;
};

class ObjectWrap : public Wrapped<ObjectWrap> {
 public:
  static constexpr const char *kClassName = "BpfObject";
  static const napi_type_tag &TypeTag() { return kObjectTag; }

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, kClassName,
                       {
                           Method<&ObjectWrap::Load>("load"),
                           Method<&ObjectWrap::Close>("close"),
                           Method<&ObjectWrap::Programs>("programs"),
                           Method<&ObjectWrap::Maps>("maps"),
                           Method<&ObjectWrap::SetGlobal>("setGlobal"),
                           Method<&ObjectWrap::ResizeMap>("resizeMap"),
                           Method<&ObjectWrap::DeclaredMaps>("declaredMaps"),
                           Method<&ObjectWrap::PrivateMap>("privateMap"),
                           Method<&ObjectWrap::ReuseMap>("reuseMap"),
                           Getter<&ObjectWrap::Path>("path"),
                           Getter<&ObjectWrap::Loaded>("loaded"),
                           Getter<&ObjectWrap::Closed>("closed"),
                       });
  }

  // new BpfObject(path, { pinRoot?: string })
  explicit ObjectWrap(const Napi::CallbackInfo &info) : Wrapped<ObjectWrap>(info) {
    AtBoundary(info.Env(), nullptr, "new BpfObject", [&] {
      Open(info);
      return Napi::Value();
    });
  }

 private:
  void Open(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) ThrowUsage(env, "BpfObject: path must be a string");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    std::string pinRoot;
    if (info[1].IsObject()) pinRoot = OptString(info[1].As<Napi::Object>(), "pinRoot");
    LIBBPF_OPTS(bpf_object_open_opts, opts);
    if (!pinRoot.empty()) opts.pin_root_path = pinRoot.c_str();
    LibbpfCapture cap;
    errno = 0;
    bpf_object *obj = bpf_object__open_file(path.c_str(), &opts);
    if (obj == nullptr) {
      int err = errno != 0 ? errno : EINVAL;
      ErrorExtra extra;
      extra.path = path;
      extra.details = cap.Take();
      ThrowErrno(env, "bpf_object__open_file", err, extra);
    }
    // A throw from here on must not leak the object.
    std::unique_ptr<bpf_object, void (*)(bpf_object *)> guard(obj, bpf_object__close);
    state_ = std::make_shared<ObjectState>();
    state_->obj = guard.release();
    state_->path = path;
  }

  bpf_object *Live(Napi::Env env) {
    if (state_->obj == nullptr) ThrowClosed(env, "BpfObject");
    if (state_->loading) ThrowErrno(env, "BpfObject: load() in progress", EBUSY);
    return state_->obj;
  }

  Napi::Value Load(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Live(env);
    if (state_->loaded) ThrowUsage(env, "BpfObject: already loaded");
    state_->loading = true;
    auto *w = new LoadWorker(env, state_, info.This().As<Napi::Object>());
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    if (state_->loading) ThrowErrno(info.Env(), "BpfObject.close: load() in progress", EBUSY);
    state_->Close();
    return info.Env().Undefined();
  }

  Napi::Value Programs(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    bpf_object *obj = Live(env);
    if (!state_->loaded) ThrowUsage(env, "BpfObject.programs: load() first");
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    bpf_program *p;
    bpf_object__for_each_program(p, obj) {
      out.Set(i++, NewProgram(env, Fd::Borrowed(bpf_program__fd(p)), state_, bpf_program__name(p),
                              bpf_program__section_name(p)));
    }
    return out;
  }

  Napi::Value Maps(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    bpf_object *obj = Live(env);
    if (!state_->loaded) ThrowUsage(env, "BpfObject.maps: load() first");
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    bpf_map *m;
    bpf_object__for_each_map(m, obj) {
      out.Set(i++, NewMap(env, Fd::Borrowed(bpf_map__fd(m)), state_, bpf_map__name(m)));
    }
    return out;
  }

  // setGlobal(name, bytes): sets a `const volatile` (or other global) variable
  // before load, found by name in the BTF of the .rodata/.data/.bss sections.
  Napi::Value SetGlobal(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    bpf_object *obj = Live(env);
    if (state_->loaded) ThrowUsage(env, "BpfObject.setGlobal: globals are set before load()");
    if (!info[0].IsString()) ThrowUsage(env, "setGlobal: name must be a string");
    std::string name = info[0].As<Napi::String>().Utf8Value();
    std::vector<uint8_t> value = BufferArg(env, info[1], "setGlobal: value");
    const struct btf *btf = bpf_object__btf(obj);
    if (btf == nullptr) ThrowErrno(env, "setGlobal: object has no BTF", ENOENT);
    bpf_map *m;
    bpf_object__for_each_map(m, obj) {
      if (!bpf_map__is_internal(m)) continue;
      __u32 tid = bpf_map__btf_value_type_id(m);
      const struct btf_type *t = btf__type_by_id(btf, tid);
      if (t == nullptr || !btf_is_datasec(t)) continue;
      const struct btf_var_secinfo *vs = btf_var_secinfos(t);
      for (unsigned i = 0; i < btf_vlen(t); i++, vs++) {
        const struct btf_type *var = btf__type_by_id(btf, vs->type);
        if (name != btf__name_by_offset(btf, var->name_off)) continue;
        if (value.size() != vs->size)
          ThrowUsage(env, "setGlobal: " + name + " is " + std::to_string(vs->size) +
                              " bytes, got " + std::to_string(value.size()));
        size_t size = 0;
        const void *init = bpf_map__initial_value(m, &size);
        if (init == nullptr || vs->offset + vs->size > size)
          ThrowErrno(env, "bpf_map__initial_value", EINVAL);
        std::vector<uint8_t> data(static_cast<const uint8_t *>(init),
                                  static_cast<const uint8_t *>(init) + size);
        memcpy(data.data() + vs->offset, value.data(), value.size());
        int err = bpf_map__set_initial_value(m, data.data(), data.size());
        if (err) ThrowErrno(env, "bpf_map__set_initial_value", err);
        return env.Undefined();
      }
    }
    ErrorExtra extra;
    extra.path = name;
    ThrowErrno(env, "setGlobal: no such global variable", ENOENT, extra);
  }

  // resizeMap(name, maxEntries): before load, e.g. to size rule tables.
  Napi::Value ResizeMap(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    bpf_object *obj = Live(env);
    if (state_->loaded) ThrowUsage(env, "BpfObject.resizeMap: maps are sized before load()");
    if (!info[0].IsString() || !info[1].IsNumber()) ThrowUsage(env, "resizeMap(name, maxEntries)");
    std::string name = info[0].As<Napi::String>().Utf8Value();
    bpf_map *m = bpf_object__find_map_by_name(obj, name.c_str());
    if (m == nullptr) ThrowErrno(env, "bpf_object__find_map_by_name", ENOENT, {"", "", name});
    int err = bpf_map__set_max_entries(m, info[1].As<Napi::Number>().Uint32Value());
    if (err) ThrowErrno(env, "bpf_map__set_max_entries", err, {"", "", name});
    return env.Undefined();
  }

  // declaredMaps(): the object's own maps (not .rodata/.data/.bss), before or
  // after load: [{ name, pinned }], pinned when libbpf pins (or reuses) it by
  // name under the pinRoot.
  Napi::Value DeclaredMaps(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    bpf_object *obj = Live(env);
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    bpf_map *m;
    bpf_object__for_each_map(m, obj) {
      if (bpf_map__is_internal(m)) continue;
      Napi::Object d = Napi::Object::New(env);
      d.Set("name", Napi::String::New(env, bpf_map__name(m)));
      d.Set("pinned", Napi::Boolean::New(env, bpf_map__pin_path(m) != nullptr));
      out.Set(i++, d);
    }
    return out;
  }

  bpf_map *BeforeLoadMap(Napi::Env env, const Napi::CallbackInfo &info, const char *what) {
    bpf_object *obj = Live(env);
    if (state_->loaded) ThrowUsage(env, std::string("BpfObject.") + what + ": maps are chosen before load()");
    if (!info[0].IsString()) ThrowUsage(env, std::string(what) + ": name must be a string");
    std::string name = info[0].As<Napi::String>().Utf8Value();
    bpf_map *m = bpf_object__find_map_by_name(obj, name.c_str());
    if (m == nullptr || bpf_map__is_internal(m)) ThrowErrno(env, "bpf_object__find_map_by_name", ENOENT, {"", "", name});
    // Without a pin path libbpf neither reuses a pin nor pins the map at load.
    int err = bpf_map__set_pin_path(m, nullptr);
    if (err) ThrowErrno(env, "bpf_map__set_pin_path", err, {"", "", name});
    return m;
  }

  // privateMap(name): before load, the map is created for this object alone,
  // even when the object pins it by name under its pinRoot (no pin is reused
  // or made).
  Napi::Value PrivateMap(const Napi::CallbackInfo &info) {
    BeforeLoadMap(info.Env(), info, "privateMap");
    return info.Env().Undefined();
  }

  // reuseMap(name, map): before load, the object uses the given map (a BpfMap
  // handle) for `name` instead of creating or reusing a pinned one. libbpf
  // dups the fd, so the given handle may be closed afterwards.
  Napi::Value ReuseMap(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int fd = MapFd(env, info[1]);
    bpf_map *m = BeforeLoadMap(env, info, "reuseMap");
    int err = bpf_map__reuse_fd(m, fd);
    if (err) ThrowErrno(env, "bpf_map__reuse_fd", err, {"", "", bpf_map__name(m)});
    return env.Undefined();
  }

  Napi::Value Path(const Napi::CallbackInfo &info) { return Napi::String::New(info.Env(), state_->path); }
  Napi::Value Loaded(const Napi::CallbackInfo &info) { return Napi::Boolean::New(info.Env(), state_->loaded && state_->obj); }
  Napi::Value Closed(const Napi::CallbackInfo &info) { return Napi::Boolean::New(info.Env(), state_->obj == nullptr); }

  ObjectStatePtr state_;
};

}  // namespace

void InitObject(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = ObjectWrap::Define(env);
  Data(env).objectCtor = Napi::Persistent(ctor);
  exports.Set("BpfObject", ctor);
}

}  // namespace vnf
