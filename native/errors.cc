// Errors: every failure becomes an instance of the JS error class registered
// by TypeScript (BpfError), carrying errno, code, the failing call and, for
// program loads, the verifier log.
#include <uv.h>
#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "common.h"

namespace vnf {

static thread_local std::string *g_capture = nullptr;

// Called from C (libbpf): nothing may throw out of it. Out of memory, the
// message is lost and the call goes on.
static int PrintToCapture(enum libbpf_print_level level, const char *fmt,
                          va_list args) noexcept {
  if (g_capture == nullptr) return 0;
  char line[1024];
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(line, sizeof(line), fmt, copy);
  va_end(copy);
  if (n < 0) return 0;
  try {
    if (static_cast<size_t>(n) < sizeof(line)) {
      g_capture->append(line, n);
    } else {
      std::string big(static_cast<size_t>(n) + 1, '\0');
      vsnprintf(&big[0], big.size(), fmt, args);
      big.resize(n);
      g_capture->append(big);
    }
  } catch (...) {
    return 0;
  }
  return n;
}

void InstallLibbpfPrint() { libbpf_set_print(PrintToCapture); }

LibbpfCapture::LibbpfCapture() : prev_(g_capture) { g_capture = &buf_; }
LibbpfCapture::~LibbpfCapture() { g_capture = prev_; }
std::string LibbpfCapture::Take() { return std::move(buf_); }

static std::string CodeOf(int err) {
  const char *name = uv_err_name(-err);
  if (name == nullptr || strncmp(name, "Unknown", 7) == 0) return "E" + std::to_string(err);
  return name;
}

Napi::Object MakeErrno(Napi::Env env, const std::string &call, int err,
                       const ErrorExtra &extra) {
  if (err < 0) err = -err;
  std::string code = CodeOf(err);
  std::string message = call + " failed: " + code + " (" + strerror(err) + ")";
  if (!extra.path.empty()) message += ": " + extra.path;
  Napi::Object props = Napi::Object::New(env);
  props.Set("errno", Napi::Number::New(env, err));
  props.Set("code", Napi::String::New(env, code));
  props.Set("call", Napi::String::New(env, call));
  if (!extra.path.empty()) props.Set("path", Napi::String::New(env, extra.path));
  if (!extra.log.empty()) props.Set("log", Napi::String::New(env, extra.log));
  if (!extra.details.empty()) props.Set("details", Napi::String::New(env, extra.details));
  if (!extra.hint.empty()) props.Set("hint", Napi::String::New(env, extra.hint));
  InstanceData &d = Data(env);
  if (d.errorCtor.IsEmpty()) {
    Napi::Error e = Napi::Error::New(env, message);
    Napi::Object o = e.Value();
    for (const auto &k : {"errno", "code", "call", "path", "log", "details", "hint"})
      if (props.Has(k)) o.Set(k, props.Get(k));
    return o;
  }
  return d.errorCtor.New({Napi::String::New(env, message), props});
}

void ThrowErrno(Napi::Env env, const std::string &call, int err,
                const ErrorExtra &extra) {
  throw Napi::Error(env, MakeErrno(env, call, err, extra));
}

void ThrowUsage(Napi::Env env, const std::string &message) {
  throw Napi::TypeError::New(env, message);
}

void ThrowClosed(Napi::Env env, const char *what) {
  ErrorExtra extra;
  Napi::Object e = MakeErrno(env, std::string(what) + " use after close()", EBADF, extra);
  e.Set("message", Napi::String::New(env, std::string(what) + " is closed: it was closed explicitly or by its owner's close()"));
  throw Napi::Error(env, e);
}

}  // namespace vnf
