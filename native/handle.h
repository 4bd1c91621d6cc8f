// FdHandle: what BpfMap, BpfProgram and BpfLink have in common — an fd owned
// by the handle or borrowed from its bpf_object (whose close() then
// invalidates the handle), and pin(), close(), fd and closed.
#pragma once

#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>

#include "boundary.h"

namespace vnf {

template <typename T>
class FdHandle : public Wrapped<T> {
 public:
  using Wrapped<T>::Wrapped;
  ~FdHandle() override { Release(); }

  // The fd, or a BpfError EBADF if the handle or its object was closed.
  int Live(Napi::Env env) {
    if (IsClosed()) ThrowClosed(env, T::kClassName);
    return fd_;
  }

 protected:
  using Desc = typename Wrapped<T>::Desc;

  // T's own methods and accessors plus the common ones, as class T.
  static Napi::Function DefineHandle(Napi::Env env, std::vector<Desc> props) {
    props.push_back(Wrapped<T>::template Method<&FdHandle::Pin>("pin"));
    props.push_back(Wrapped<T>::template Method<&FdHandle::Close>("close"));
    props.push_back(Wrapped<T>::template Getter<&FdHandle::FdValue>("fd"));
    props.push_back(Wrapped<T>::template Getter<&FdHandle::ClosedValue>("closed"));
    return Wrapped<T>::DefineClass(env, T::kClassName, props);
  }

  // Takes `fd` over: closes it from now on if it is owned.
  void Adopt(Fd fd, ObjectStatePtr owner) {
    ownsFd_ = fd.owned();
    fd_ = fd.Release();
    owner_ = std::move(owner);
  }
  void Release() {
    if (ownsFd_ && fd_ >= 0) close(fd_);
    fd_ = -1;
    owner_.reset();
  }
  bool IsClosed() const { return fd_ < 0 || (owner_ && owner_->obj == nullptr); }

 private:
  Napi::Value Pin(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    if (!info[0].IsString()) ThrowUsage(env, "pin(path)");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    if (bpf_obj_pin(fd, path.c_str()) != 0) ThrowErrno(env, T::kPinCall, errno, {"", "", path});
    return env.Undefined();
  }
  Napi::Value Close(const Napi::CallbackInfo &info) {
    Release();
    return info.Env().Undefined();
  }
  Napi::Value FdValue(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), Live(info.Env())); }
  Napi::Value ClosedValue(const Napi::CallbackInfo &info) { return Napi::Boolean::New(info.Env(), IsClosed()); }

  int fd_ = -1;
  bool ownsFd_ = false;
  ObjectStatePtr owner_;  // set for fds borrowed from a bpf_object
};

}  // namespace vnf
