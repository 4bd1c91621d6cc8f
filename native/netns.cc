// Network namespace switching for operations on interfaces that live in a
// container. setns(2) with CLONE_NEWNET affects only the calling thread, so
// the thread must come back before returning to JavaScript: callers invoke
// NetnsGuard::Restore() before they return (or throw what the kernel said),
// and a failure to come back is an error on that call. The thread then stays
// in the other namespace, so every later call on it refuses (CheckNetnsHome).
// The destructor is the fallback for an exception that skipped Restore(); if
// it cannot come back either, it aborts the process: a process stuck in
// another namespace must not keep running.
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common.h"

namespace vnf {
namespace {

// Set on a thread whose return from a namespace failed.
struct Stuck {
  bool stuck = false;
  int err = 0;
  std::string path;
};
thread_local Stuck t_stuck;

int SetnsBack(int orig) {
  if (FaultFires(Fault::kNetnsRestore)) {  // test-only: as if setns failed
    errno = EPERM;
    return -1;
  }
  return setns(orig, CLONE_NEWNET);
}

}  // namespace

void CheckNetnsHome(Napi::Env env) {
  if (!t_stuck.stuck) return;
  ErrorExtra extra;
  extra.path = t_stuck.path;
  extra.hint = "restart the process: this thread cannot leave " + t_stuck.path;
  Napi::Object e = MakeErrno(env, "setns(restore)", t_stuck.err, extra);
  e.Set("message", Napi::String::New(env, "this thread is still in network namespace " + t_stuck.path +
                                              " since returning from it failed; the binding refuses every call "
                                              "that depends on the namespace: restart the process"));
  throw Napi::Error(env, e);
}

NetnsGuard::NetnsGuard(Napi::Env env, const std::string &path) : env_(env), path_(path) {
  CheckNetnsHome(env);
  if (path.empty()) return;
  Fd target = Fd::Owned(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (target.get() < 0) ThrowErrno(env, "open(netns)", errno, {"", "", path});
  Fd orig = Fd::Owned(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (orig.get() < 0) ThrowErrno(env, "open(/proc/thread-self/ns/net)", errno);
  if (setns(target.get(), CLONE_NEWNET) < 0) ThrowErrno(env, "setns", errno, {"", "", path});
  orig_ = orig.Release();
}

void NetnsGuard::Restore() {
  if (orig_ < 0) return;
  int rc = SetnsBack(orig_);
  int err = errno;
  close(orig_);
  orig_ = -1;
  if (rc == 0) return;
  t_stuck.stuck = true;
  t_stuck.err = err;
  t_stuck.path = path_;
  ErrorExtra extra;
  extra.path = path_;
  extra.hint = "this thread stays in " + path_ + " and the binding refuses later calls: restart the process";
  Napi::Object e = MakeErrno(env_, "setns(restore)", err, extra);
  e.Set("message", Napi::String::New(env_, std::string("setns(restore) failed: ") + strerror(err) +
                                               ": could not return from " + path_ + " to the original network namespace"));
  throw Napi::Error(env_, e);
}

NetnsGuard::~NetnsGuard() {
  if (orig_ < 0) return;
  if (SetnsBack(orig_) == 0) {
    close(orig_);
    return;
  }
  std::string msg = "could not return from network namespace " + path_ + " (setns: " + strerror(errno) +
                    ") while unwinding an error; the thread would keep running there";
  napi_fatal_error("vnf native binding:", NAPI_AUTO_LENGTH, msg.c_str(), NAPI_AUTO_LENGTH);
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
  FaultPoint(env, Fault::kNetnsUnwind);  // test-only: an exception before Restore()
  errno = 0;
  unsigned idx = if_nametoindex(name.c_str());
  int err = errno;
  guard.Restore();
  if (idx == 0) {
    ErrorExtra extra;
    extra.path = netns.empty() ? name : name + " in " + netns;
    ThrowErrno(env, "if_nametoindex", err == 0 ? ENODEV : err, extra);
  }
  return static_cast<int>(idx);
}

}  // namespace vnf
