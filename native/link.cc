// Link: a bpf_link fd (tcx, XDP). A link lives while an fd or a bpffs pin
// refers to it: closing an unpinned link detaches it (kernel semantics), a
// pinned link stays attached until detach() or the pin is removed.
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common.h"
#include "handle.h"

namespace vnf {
namespace {

class LinkWrap : public FdHandle<LinkWrap> {
 public:
  static constexpr const char *kClassName = "BpfLink";
  static constexpr const char *kPinCall = "bpf_obj_pin(link)";
  static const napi_type_tag &TypeTag() { return kLinkTag; }

  static Napi::Function Define(Napi::Env env) {
    return DefineHandle(env, {
                                 Method<&LinkWrap::Update>("update"),
                                 Method<&LinkWrap::Detach>("detach"),
                                 Method<&LinkWrap::Info>("info"),
                             });
  }

  using FdHandle::FdHandle;

  // A link is always owned by its handle: closing it detaches an unpinned link.
  void Init(Fd fd) { Adopt(std::move(fd), nullptr); }

 private:
  // update(program, { expected?: program }): atomically swaps the program the
  // link runs; with `expected`, only if that is still the one attached.
  Napi::Value Update(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    int prog = ProgramFd(env, info[0]);
    LIBBPF_OPTS(bpf_link_update_opts, opts);
    if (info[1].IsObject()) {
      Napi::Value exp = info[1].As<Napi::Object>().Get("expected");
      if (!exp.IsUndefined()) {
        opts.old_prog_fd = ProgramFd(env, exp);
        opts.flags = BPF_F_REPLACE;
      }
    }
    if (bpf_link_update(fd, prog, &opts) != 0) ThrowErrno(env, "bpf_link_update", errno);
    return env.Undefined();
  }

  // detach(): detaches even if pinned (the pin then refers to a defunct link;
  // the caller removes it), then closes the fd.
  Napi::Value Detach(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    if (bpf_link_detach(fd) != 0) ThrowErrno(env, "bpf_link_detach", errno);
    Release();
    return env.Undefined();
  }

  Napi::Value Info(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    // struct bpf_link_info, read as raw bytes: Debian 12's uapi header
    // predates tcx. type@0 id@4 prog_id@8, union@16 (tcx/xdp: ifindex@16,
    // tcx attach_type@20).
    uint8_t buf[256];
    memset(buf, 0, sizeof(buf));
    __u32 len = sizeof(buf);
    if (bpf_obj_get_info_by_fd(fd, buf, &len) != 0) ThrowErrno(env, "bpf_obj_get_info_by_fd(link)", errno);
    uint32_t type, id, progId, u0, u1;
    memcpy(&type, buf + 0, 4);
    memcpy(&id, buf + 4, 4);
    memcpy(&progId, buf + 8, 4);
    memcpy(&u0, buf + 16, 4);
    memcpy(&u1, buf + 20, 4);
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", Napi::Number::New(env, id));
    o.Set("type", Napi::Number::New(env, type));
    o.Set("progId", Napi::Number::New(env, progId));
    if (type == 11 /* BPF_LINK_TYPE_TCX */) {
      o.Set("kind", Napi::String::New(env, "tcx"));
      o.Set("ifindex", Napi::Number::New(env, u0));
      o.Set("direction", Napi::String::New(env, u1 == 46 ? "ingress" : u1 == 47 ? "egress" : "unknown"));
    } else if (type == BPF_LINK_TYPE_XDP) {
      o.Set("kind", Napi::String::New(env, "xdp"));
      o.Set("ifindex", Napi::Number::New(env, u0));
    } else {
      o.Set("kind", Napi::String::New(env, "other"));
    }
    return o;
  }
};

Napi::Value OpenPinnedLink(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) ThrowUsage(env, "openPinnedLink(path)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Fd fd = Fd::Owned(bpf_obj_get(path.c_str()));
  if (fd.get() < 0) ThrowErrno(env, "bpf_obj_get", errno, {"", "", path});
  return NewLink(env, std::move(fd));
}

}  // namespace

Napi::Object NewLink(Napi::Env env, Fd fd) {
  FaultPoint(env, Fault::kWrap);
  Napi::Object o = Data(env).linkCtor.New({});
  LinkWrap::Unwrap(o)->Init(std::move(fd));
  return o;
}

void InitLink(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = LinkWrap::Define(env);
  Data(env).linkCtor = Napi::Persistent(ctor);
  Export<OpenPinnedLink>(exports, "openPinnedLink");
}

}  // namespace vnf
