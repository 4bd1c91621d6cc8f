// Program: a loaded BPF program (owned by its object, or opened from a pin).
// testRun() drives BPF_PROG_TEST_RUN; attachTcx()/attachXdp() create bpf_links.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <vector>

#include "common.h"
#include "handle.h"

namespace vnf {

// Linux >= 6.6 attach types, absent from Debian 12's uapi headers.
constexpr int kBpfTcxIngress = 46;
constexpr int kBpfTcxEgress = 47;

namespace {

class ProgramWrap : public FdHandle<ProgramWrap> {
 public:
  static constexpr const char *kClassName = "BpfProgram";
  static constexpr const char *kPinCall = "bpf_obj_pin";
  static const napi_type_tag &TypeTag() { return kProgramTag; }

  static Napi::Function Define(Napi::Env env) {
    return DefineHandle(env, {
                                 Method<&ProgramWrap::TestRun>("testRun"),
                                 Method<&ProgramWrap::AttachTcx>("attachTcx"),
                                 Method<&ProgramWrap::AttachXdp>("attachXdp"),
                                 Method<&ProgramWrap::Info>("info"),
                                 Getter<&ProgramWrap::Name>("name"),
                                 Getter<&ProgramWrap::Section>("section"),
                             });
  }

  using FdHandle::FdHandle;

  void Init(Fd fd, ObjectStatePtr owner, const std::string &name, const std::string &section) {
    name_ = name;
    section_ = section;
    Adopt(std::move(fd), std::move(owner));
  }

 private:
  // testRun({ data: Buffer, ctx?: Buffer, repeat?: number, dataOutSize?: number })
  //   -> { retval, data: Buffer, ctx?: Buffer, duration }
  Napi::Value TestRun(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    if (!info[0].IsObject()) ThrowUsage(env, "testRun(options)");
    Napi::Object o = info[0].As<Napi::Object>();
    std::vector<uint8_t> data = BufferArg(env, o.Get("data"), "testRun: data");
    std::vector<uint8_t> ctx;
    bool hasCtx = o.Has("ctx") && !o.Get("ctx").IsUndefined();
    if (hasCtx) ctx = BufferArg(env, o.Get("ctx"), "testRun: ctx");
    uint32_t outSize = o.Get("dataOutSize").IsNumber() ? o.Get("dataOutSize").As<Napi::Number>().Uint32Value()
                                                       : static_cast<uint32_t>(data.size() + 512);
    std::vector<uint8_t> out(outSize);
    std::vector<uint8_t> ctxOut(ctx.size());
    LIBBPF_OPTS(bpf_test_run_opts, opts);
    opts.data_in = data.data();
    opts.data_size_in = data.size();
    opts.data_out = out.data();
    opts.data_size_out = out.size();
    if (hasCtx) {
      opts.ctx_in = ctx.data();
      opts.ctx_size_in = ctx.size();
      opts.ctx_out = ctxOut.data();
      opts.ctx_size_out = ctxOut.size();
    }
    opts.repeat = o.Get("repeat").IsNumber() ? o.Get("repeat").As<Napi::Number>().Int32Value() : 1;
    if (bpf_prog_test_run_opts(fd, &opts) != 0) {
      ErrorExtra extra;
      extra.path = name_;
      ThrowErrno(env, "bpf_prog_test_run_opts", errno, extra);
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("retval", Napi::Number::New(env, static_cast<int32_t>(opts.retval)));
    r.Set("data", CopyBuffer(env, out.data(), std::min<size_t>(opts.data_size_out, out.size())));
    if (hasCtx) r.Set("ctx", CopyBuffer(env, ctxOut.data(), std::min<size_t>(opts.ctx_size_out, ctxOut.size())));
    r.Set("duration", Napi::Number::New(env, opts.duration));
    return r;
  }

  // attachTcx(iface, 'ingress'|'egress', { netns? }) -> BpfLink
  Napi::Value AttachTcx(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    std::string netns = info[2].IsObject() ? OptString(info[2].As<Napi::Object>(), "netns") : "";
    if (!info[1].IsString()) ThrowUsage(env, "attachTcx: direction must be 'ingress' or 'egress'");
    std::string dir = info[1].As<Napi::String>().Utf8Value();
    if (dir != "ingress" && dir != "egress") ThrowUsage(env, "attachTcx: direction must be 'ingress' or 'egress'");
    int ifindex = ResolveIfindex(env, info[0], netns);
    int type = dir == "ingress" ? kBpfTcxIngress : kBpfTcxEgress;
    NetnsGuard guard(env, netns);
    Fd lfd = Fd::Owned(bpf_link_create(fd, ifindex, static_cast<bpf_attach_type>(type), nullptr));
    int err = errno;
    guard.Restore();  // if this throws, lfd closes the link: nothing stays attached
    if (lfd.get() < 0) ThrowErrno(env, "bpf_link_create(tcx " + dir + ")", err, {"", "", "ifindex " + std::to_string(ifindex)});
    return NewLink(env, std::move(lfd));
  }

  // attachXdp(iface, { mode?: 'native'|'generic', netns? }) -> BpfLink
  Napi::Value AttachXdp(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    Napi::Object opts = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    std::string netns = OptString(opts, "netns");
    std::string mode = OptString(opts, "mode");
    int ifindex = ResolveIfindex(env, info[0], netns);
    LIBBPF_OPTS(bpf_link_create_opts, lopts);
    if (mode == "generic") lopts.flags = XDP_FLAGS_SKB_MODE;
    else if (mode == "native") lopts.flags = XDP_FLAGS_DRV_MODE;
    else if (!mode.empty()) ThrowUsage(env, "attachXdp: mode must be 'native' or 'generic'");
    NetnsGuard guard(env, netns);
    Fd lfd = Fd::Owned(bpf_link_create(fd, ifindex, BPF_XDP, &lopts));
    int err = errno;
    guard.Restore();  // if this throws, lfd closes the link: nothing stays attached
    if (lfd.get() < 0) ThrowErrno(env, "bpf_link_create(xdp)", err, {"", "", "ifindex " + std::to_string(ifindex)});
    return NewLink(env, std::move(lfd));
  }

  Napi::Value Info(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    struct bpf_prog_info pi;
    memset(&pi, 0, sizeof(pi));
    __u32 len = sizeof(pi);
    if (bpf_obj_get_info_by_fd(fd, &pi, &len) != 0) ThrowErrno(env, "bpf_obj_get_info_by_fd(prog)", errno);
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", Napi::Number::New(env, pi.id));
    o.Set("name", Napi::String::New(env, pi.name));
    o.Set("type", Napi::Number::New(env, pi.type));
    o.Set("typeName", Napi::String::New(env, libbpf_bpf_prog_type_str(static_cast<bpf_prog_type>(pi.type)) ?: "unknown"));
    char tag[17];
    for (int i = 0; i < 8; i++) snprintf(tag + 2 * i, 3, "%02x", pi.tag[i]);
    o.Set("tag", Napi::String::New(env, tag));
    o.Set("maps", MapsOf(env, fd, pi.nr_map_ids));
    return o;
  }

  // The maps a program uses: [{ id, name }] (name omitted for a map that went away meanwhile).
  static Napi::Array MapsOf(Napi::Env env, int fd, __u32 count) {
    std::vector<__u32> ids(count);
    Napi::Array out = Napi::Array::New(env);
    if (count == 0) return out;
    struct bpf_prog_info pi;
    memset(&pi, 0, sizeof(pi));
    pi.nr_map_ids = count;
    pi.map_ids = reinterpret_cast<__u64>(ids.data());
    __u32 len = sizeof(pi);
    if (bpf_obj_get_info_by_fd(fd, &pi, &len) != 0) ThrowErrno(env, "bpf_obj_get_info_by_fd(prog maps)", errno);
    __u32 n = pi.nr_map_ids < count ? pi.nr_map_ids : count;
    for (__u32 i = 0; i < n; i++) {
      Napi::Object m = Napi::Object::New(env);
      m.Set("id", Napi::Number::New(env, ids[i]));
      int mfd = bpf_map_get_fd_by_id(ids[i]);
      if (mfd >= 0) {
        struct bpf_map_info mi;
        memset(&mi, 0, sizeof(mi));
        __u32 mlen = sizeof(mi);
        if (bpf_obj_get_info_by_fd(mfd, &mi, &mlen) == 0) m.Set("name", Napi::String::New(env, mi.name));
        close(mfd);
      }
      out.Set(i, m);
    }
    return out;
  }

  Napi::Value Name(const Napi::CallbackInfo &info) { return Napi::String::New(info.Env(), name_); }
  Napi::Value Section(const Napi::CallbackInfo &info) { return Napi::String::New(info.Env(), section_); }

  std::string name_, section_;
};

Napi::Value OpenPinnedProgram(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) ThrowUsage(env, "openPinnedProgram(path)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Fd fd = Fd::Owned(bpf_obj_get(path.c_str()));
  if (fd.get() < 0) ThrowErrno(env, "bpf_obj_get", errno, {"", "", path});
  struct bpf_prog_info pi;
  memset(&pi, 0, sizeof(pi));
  __u32 len = sizeof(pi);
  if (bpf_obj_get_info_by_fd(fd.get(), &pi, &len) != 0)
    ThrowErrno(env, "bpf_obj_get_info_by_fd(prog)", errno, {"", "", path});
  return NewProgram(env, std::move(fd), nullptr, pi.name, "");
}

}  // namespace

Napi::Object NewProgram(Napi::Env env, Fd fd, ObjectStatePtr owner, const std::string &name,
                        const std::string &section) {
  FaultPoint(env, Fault::kWrap);
  Napi::Object o = Data(env).programCtor.New({});
  ProgramWrap::Unwrap(o)->Init(std::move(fd), std::move(owner), name, section);
  return o;
}

int ProgramFd(Napi::Env env, Napi::Value v) {
  if (!HasTag(env, v, kProgramTag)) ThrowUsage(env, "expected a BpfProgram handle");
  return ProgramWrap::Unwrap(v.As<Napi::Object>())->Live(env);
}

void InitProgram(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = ProgramWrap::Define(env);
  Data(env).programCtor = Napi::Persistent(ctor);
  Export<OpenPinnedProgram>(exports, "openPinnedProgram");
}

}  // namespace vnf
