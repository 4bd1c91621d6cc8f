// See boundary.h.
#include "boundary.h"

#include <cerrno>
#include <new>
#include <stdexcept>

namespace vnf {

Napi::Value ExceptionToJs(Napi::Env env, const char *cls, const char *name) noexcept {
  try {
    int err = EIO;
    std::string detail;
    try {
      throw;
    } catch (const Napi::Error &e) {
      return e.Value();
    } catch (const std::bad_alloc &) {
      err = ENOMEM;
    } catch (const std::length_error &) {  // a size beyond what a container can hold
      err = ENOMEM;
    } catch (const std::exception &e) {
      detail = e.what();
    } catch (...) {
      detail = "unknown C++ exception";
    }
    std::string call = cls != nullptr ? std::string(cls) + "." + name : std::string(name);
    ErrorExtra extra;
    std::string message;
    if (err == ENOMEM) {
      message = call + " failed: out of memory in the native binding (ENOMEM)";
      extra.hint = "a buffer or result was too large for this process (e.g. testRun's dataOutSize, a huge map read)";
    } else {
      message = call + " failed: internal error in the native binding: " + detail;
      extra.hint = "this is a bug in the vnf native binding: please report it with this message";
    }
    Napi::Object e = MakeErrno(env, call, err, extra);
    e.Set("message", Napi::String::New(env, message));
    return e;
  } catch (...) {
    // Building the error failed as well: a plain error from static strings.
    napi_value msg = nullptr, code = nullptr, e = nullptr;
    napi_create_string_utf8(env, "vnf: out of memory in the native binding", NAPI_AUTO_LENGTH, &msg);
    napi_create_string_utf8(env, "ENOMEM", NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, msg, &e);
    return Napi::Value(env, e);
  }
}

}  // namespace vnf
