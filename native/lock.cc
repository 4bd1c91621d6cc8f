// flock(2) on a file descriptor the caller opened: an advisory lock the kernel releases when the
// holder's descriptor closes — also when the holder dies, which a pid file cannot promise.
#include <sys/file.h>

#include <cerrno>

#include "boundary.h"
#include "common.h"

namespace vnf {
namespace {

// flock(fd, exclusive: boolean) -> true when taken, false when another holder has it (never
// blocks); flockRelease(fd).
Napi::Value Flock(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsBoolean()) ThrowUsage(env, "flock(fd, exclusive)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int op = (info[1].As<Napi::Boolean>().Value() ? LOCK_EX : LOCK_SH) | LOCK_NB;
  for (;;) {
    if (flock(fd, op) == 0) return Napi::Boolean::New(env, true);
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
    ThrowErrno(env, "flock", errno);
  }
}

Napi::Value FlockRelease(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) ThrowUsage(env, "flockRelease(fd)");
  if (flock(info[0].As<Napi::Number>().Int32Value(), LOCK_UN) != 0) ThrowErrno(env, "flock(LOCK_UN)", errno);
  return env.Undefined();
}

}  // namespace

void InitLock(Napi::Env env, Napi::Object exports) {
  Export<Flock>(exports, "flock");
  Export<FlockRelease>(exports, "flockRelease");
}

}  // namespace vnf
