// Network namespace switching for operations on interfaces that live in a
// container. setns(2) with CLONE_NEWNET affects only the calling thread, and
// the guard always switches back before returning to JavaScript.
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>

#include "common.h"

namespace vnf {

NetnsGuard::NetnsGuard(Napi::Env env, const std::string &path) {
  if (path.empty()) return;
  int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) ThrowErrno(env, "open(netns)", errno, {"", "", path});
  orig_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (orig_ < 0) {
    int err = errno;
    close(target);
    ThrowErrno(env, "open(/proc/thread-self/ns/net)", err);
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    int err = errno;
    close(target);
    close(orig_);
    orig_ = -1;
    ThrowErrno(env, "setns", err, {"", "", path});
  }
  close(target);
}

NetnsGuard::~NetnsGuard() {
  if (orig_ < 0) return;
  // Cannot fail for a namespace we were in a moment ago.
  if (!FaultFires(Fault::kNetnsRestore)) (void)setns(orig_, CLONE_NEWNET);
  close(orig_);
}

std::string OptString(Napi::Object opts, const char *key) {
  Napi::Value v = opts.Get(key);
  if (v.IsUndefined() || v.IsNull()) return "";
  if (!v.IsString()) ThrowUsage(opts.Env(), std::string("option ") + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

int ResolveIfindex(Napi::Env env, Napi::Value iface, const std::string &netns) {
  if (iface.IsNumber()) {
    int idx = iface.As<Napi::Number>().Int32Value();
    if (idx <= 0) ThrowUsage(env, "ifindex must be a positive integer");
    return idx;
  }
  if (!iface.IsString()) ThrowUsage(env, "interface must be a name or an ifindex");
  std::string name = iface.As<Napi::String>().Utf8Value();
  NetnsGuard guard(env, netns);
  FaultPoint(env, Fault::kNetnsUnwind);
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) {
    ErrorExtra extra;
    extra.path = netns.empty() ? name : name + " in " + netns;
    ThrowErrno(env, "if_nametoindex", errno == 0 ? ENODEV : errno, extra);
  }
  return static_cast<int>(idx);
}

}  // namespace vnf
