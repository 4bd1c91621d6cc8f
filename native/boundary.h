// The boundary between JavaScript and C++: every entry point of the binding
// (exported functions, methods and accessors of the wrapped classes, the
// BpfObject constructor, the load() completion) runs behind it, so no C++
// exception reaches node, where it would abort the process. A Napi::Error
// passes through as is; std::bad_alloc becomes a BpfError with code ENOMEM
// and any other C++ exception a BpfError EIO, naming the failing call.
#pragma once

#include "common.h"

namespace vnf {

// The exception being handled, as a JS error value. Call only in a catch block.
Napi::Value ExceptionToJs(Napi::Env env, const char *cls, const char *name) noexcept;

template <typename F>
Napi::Value AtBoundary(Napi::Env env, const char *cls, const char *name, F &&body) {
  try {
    return body();
  } catch (...) {
    throw Napi::Error(env, ExceptionToJs(env, cls, name));
  }
}

// A free function behind the boundary; the name it is exported under names
// the call in errors.
template <Napi::Value (*F)(const Napi::CallbackInfo &)>
Napi::Value Guarded(const Napi::CallbackInfo &info) {
  return AtBoundary(info.Env(), nullptr, static_cast<const char *>(info.Data()), [&] { return F(info); });
}

template <Napi::Value (*F)(const Napi::CallbackInfo &)>
void Export(Napi::Object exports, const char *name) {
  exports.Set(name, Napi::Function::New<Guarded<F>>(exports.Env(), name, const_cast<char *>(name)));
}

// Base of the wrapped classes: a type-tagged ObjectWrap whose methods and
// accessors are registered behind the boundary. T provides kClassName and
// TypeTag().
template <typename T>
class Wrapped : public Napi::ObjectWrap<T> {
 public:
  explicit Wrapped(const Napi::CallbackInfo &info) : Napi::ObjectWrap<T>(info) {
    Tag(info.This().As<Napi::Object>(), T::TypeTag());
  }

 protected:
  using Desc = Napi::ClassPropertyDescriptor<T>;
  using Member = Napi::Value (T::*)(const Napi::CallbackInfo &);

  template <auto M>
  static Desc Method(const char *name) {
    return Napi::ObjectWrap<T>::InstanceMethod(name, static_cast<Member>(&Wrapped::template Call<M>), napi_default,
                                               const_cast<char *>(name));
  }
  template <auto M>
  static Desc Getter(const char *name) {
    return Napi::ObjectWrap<T>::InstanceAccessor(name, static_cast<Member>(&Wrapped::template Call<M>), nullptr,
                                                 napi_default, const_cast<char *>(name));
  }

 private:
  template <auto M>
  Napi::Value Call(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    return AtBoundary(env, T::kClassName, static_cast<const char *>(info.Data()), [&] {
      // A method taken off the prototype and called on another object.
      if (!HasTag(env, info.This(), T::TypeTag()))
        ThrowUsage(env, std::string(T::kClassName) + " method called on an object that is not a " + T::kClassName);
      return (static_cast<T *>(this)->*M)(info);
    });
  }
};

}  // namespace vnf
