// Classic TC attachment: clsact qdisc + cls_bpf in direct-action mode, for
// kernels without tcx. A filter is no fd: it stays until detached or until
// the qdisc (or the interface) goes away.
#include <bpf/libbpf.h>

#include <cerrno>

#include "boundary.h"
#include "common.h"

namespace vnf {
namespace {

struct TcTarget {
  int ifindex;
  bpf_tc_attach_point point;
  std::string netns;
  uint32_t handle;
  uint32_t priority;
};

TcTarget ParseTarget(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object opts = info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);
  TcTarget t;
  t.netns = OptString(opts, "netns");
  t.ifindex = ResolveIfindex(env, info[0], t.netns);
  std::string dir = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  if (dir == "ingress") t.point = BPF_TC_INGRESS;
  else if (dir == "egress") t.point = BPF_TC_EGRESS;
  else ThrowUsage(env, "direction must be 'ingress' or 'egress'");
  t.handle = opts.Get("handle").IsNumber() ? opts.Get("handle").As<Napi::Number>().Uint32Value() : 1;
  t.priority = opts.Get("priority").IsNumber() ? opts.Get("priority").As<Napi::Number>().Uint32Value() : 1;
  return t;
}

ErrorExtra Where(const TcTarget &t) {
  ErrorExtra e;
  e.path = "ifindex " + std::to_string(t.ifindex) + (t.netns.empty() ? "" : " in " + t.netns);
  return e;
}

// tcAttach(iface, dir, { program, handle?, priority?, replace?, netns? })
//   -> { ifindex, handle, priority, progId }
Napi::Value TcAttach(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  TcTarget t = ParseTarget(info);
  Napi::Object opts = info[2].As<Napi::Object>();
  int progFd = ProgramFd(env, opts.Get("program"));
  bool replace = opts.Get("replace").ToBoolean();
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = t.ifindex, .attach_point = t.point);
  LIBBPF_OPTS(bpf_tc_opts, o);
  o.prog_fd = progFd;
  o.flags = replace ? static_cast<__u32>(BPF_TC_F_REPLACE) : 0u;
  o.handle = t.handle;
  o.priority = t.priority;
  NetnsGuard guard(env, t.netns);
  const char *failed = "bpf_tc_hook_create(clsact)";
  int err = bpf_tc_hook_create(&hook);
  if (err == 0 || err == -EEXIST) {
    failed = "bpf_tc_attach";
    err = bpf_tc_attach(&hook, &o);
  }
  guard.Restore();
  if (err) ThrowErrno(env, failed, err, Where(t));
  Napi::Object r = Napi::Object::New(env);
  r.Set("ifindex", Napi::Number::New(env, t.ifindex));
  r.Set("handle", Napi::Number::New(env, o.handle));
  r.Set("priority", Napi::Number::New(env, o.priority));
  r.Set("progId", Napi::Number::New(env, o.prog_id));
  return r;
}

// tcDetach(iface, dir, { handle?, priority?, netns? }) -> true, or false if absent
Napi::Value TcDetach(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  TcTarget t = ParseTarget(info);
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = t.ifindex, .attach_point = t.point);
  LIBBPF_OPTS(bpf_tc_opts, o, .handle = t.handle, .priority = t.priority);
  NetnsGuard guard(env, t.netns);
  int err = bpf_tc_detach(&hook, &o);
  guard.Restore();
  if (err == -ENOENT || err == -EINVAL) return Napi::Boolean::New(env, false);
  if (err) ThrowErrno(env, "bpf_tc_detach", err, Where(t));
  return Napi::Boolean::New(env, true);
}

// tcQuery(iface, dir, { handle?, priority?, netns? }) -> progId | null
Napi::Value TcQuery(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  TcTarget t = ParseTarget(info);
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = t.ifindex, .attach_point = t.point);
  LIBBPF_OPTS(bpf_tc_opts, o, .handle = t.handle, .priority = t.priority);
  NetnsGuard guard(env, t.netns);
  int err = bpf_tc_query(&hook, &o);
  guard.Restore();
  if (err == -ENOENT || err == -EINVAL) return env.Null();
  if (err) ThrowErrno(env, "bpf_tc_query", err, Where(t));
  return Napi::Number::New(env, o.prog_id);
}

// tcDestroyHook(iface, { netns? }): removes the clsact qdisc and its filters.
Napi::Value TcDestroyHook(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object opts = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  std::string netns = OptString(opts, "netns");
  int ifindex = ResolveIfindex(env, info[0], netns);
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
              .attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
  NetnsGuard guard(env, netns);
  int err = bpf_tc_hook_destroy(&hook);
  guard.Restore();
  if (err == -ENOENT || err == -EINVAL) return Napi::Boolean::New(env, false);
  if (err) ThrowErrno(env, "bpf_tc_hook_destroy", err);
  return Napi::Boolean::New(env, true);
}

}  // namespace

void InitTc(Napi::Env env, Napi::Object exports) {
  Export<TcAttach>(exports, "tcAttach");
  Export<TcDetach>(exports, "tcDetach");
  Export<TcQuery>(exports, "tcQuery");
  Export<TcDestroyHook>(exports, "tcDestroyHook");
}

}  // namespace vnf
