// Shared declarations of the vnf libbpf binding. The binding is generic: it
// knows objects, maps, programs and links, never a particular VNF.
#pragma once

#include <napi.h>
#include <memory>
#include <string>
#include <vector>

#include "fd.h"

struct bpf_object;

namespace vnf {

// Per-environment state: constructors of the wrapped classes and the JS error
// class every failure is raised as (set from TypeScript at load time).
struct InstanceData {
  Napi::FunctionReference objectCtor;
  Napi::FunctionReference mapCtor;
  Napi::FunctionReference programCtor;
  Napi::FunctionReference linkCtor;
  Napi::FunctionReference ringBufCtor;
  Napi::FunctionReference errorCtor;
};

InstanceData &Data(Napi::Env env);

// Type tags make sure a handle passed back into the binding is what it claims
// to be (napi_unwrap on a foreign wrapper would be undefined behaviour).
extern const napi_type_tag kObjectTag, kMapTag, kProgramTag, kLinkTag;
void Tag(Napi::Object obj, const napi_type_tag &tag);
bool HasTag(Napi::Env env, Napi::Value v, const napi_type_tag &tag);

// Shared ownership of a libbpf object: maps and programs keep it alive, and
// close() on the object invalidates them all at once (the cascade).
struct ObjectState {
  bpf_object *obj = nullptr;
  bool loaded = false;
  bool loading = false;
  std::string path;
  ~ObjectState();
  void Close();
};
using ObjectStatePtr = std::shared_ptr<ObjectState>;

// errors.cc -----------------------------------------------------------------
struct ErrorExtra {
  std::string log;      // verifier log, when the kernel rejected a program
  std::string details;  // libbpf's own messages captured during the call
  std::string path;     // file or pin path involved
  std::string hint;     // overrides the TS-side hint for this failure
};
[[noreturn]] void ThrowErrno(Napi::Env env, const std::string &call, int err,
                             const ErrorExtra &extra = {});
[[noreturn]] void ThrowUsage(Napi::Env env, const std::string &message);
[[noreturn]] void ThrowClosed(Napi::Env env, const char *what);
Napi::Object MakeErrno(Napi::Env env, const std::string &call, int err,
                       const ErrorExtra &extra);

// libbpf's print callback writes into the capture of the calling thread, if
// any; otherwise the message is dropped (nothing goes to stderr behind the
// caller's back).
class LibbpfCapture {
 public:
  LibbpfCapture();
  ~LibbpfCapture();
  std::string Take();

 private:
  std::string buf_;
  std::string *prev_;
};
void InstallLibbpfPrint();

// netns.cc ------------------------------------------------------------------
// Enters the network namespace at `path` on the calling thread only; an empty
// path means "stay where we are". Callers call Restore() before returning or
// throwing what the kernel said: it comes back, or throws (and the thread
// refuses later calls, see CheckNetnsHome). The destructor is the fallback for
// an exception that skipped Restore(): it comes back or aborts the process.
class NetnsGuard {
 public:
  NetnsGuard(Napi::Env env, const std::string &path);
  ~NetnsGuard();
  void Restore();
  NetnsGuard(const NetnsGuard &) = delete;
  NetnsGuard &operator=(const NetnsGuard &) = delete;

 private:
  Napi::Env env_;
  std::string path_;
  int orig_ = -1;
};
// Throws if an earlier return from a namespace failed on this thread.
void CheckNetnsHome(Napi::Env env);
// Resolves an interface given by name or index in the given netns.
int ResolveIfindex(Napi::Env env, Napi::Value iface, const std::string &netns);
std::string OptString(Napi::Object opts, const char *key);

// Buffers ----------------------------------------------------------------------
Napi::Buffer<uint8_t> CopyBuffer(Napi::Env env, const void *data, size_t len);
std::vector<uint8_t> BufferArg(Napi::Env env, Napi::Value v, const char *what);

// faults.cc (test-only fault injection, see there) -----------------------------
enum class Fault : unsigned { kWrap = 1, kNetnsRestore = 2, kNetnsUnwind = 4 };
bool FaultFires(Fault f);              // true once after the site was armed
void FaultPoint(Napi::Env env, Fault f);  // throws an injected error once armed
void InitFaults(Napi::Env env, Napi::Object exports);

// Class registration ------------------------------------------------------------
void InitObject(Napi::Env env, Napi::Object exports);
void InitMap(Napi::Env env, Napi::Object exports);
void InitProgram(Napi::Env env, Napi::Object exports);
void InitLink(Napi::Env env, Napi::Object exports);
void InitTc(Napi::Env env, Napi::Object exports);
void InitBtf(Napi::Env env, Napi::Object exports);
void InitLock(Napi::Env env, Napi::Object exports);
void InitRingBuf(Napi::Env env, Napi::Object exports);
void InitProbe(Napi::Env env, Napi::Object exports);

// Factories used across files. Each takes the fd over only once its wrapper
// exists; if making the wrapper fails, `fd` closes it (when owned).
Napi::Object NewMap(Napi::Env env, Fd fd, ObjectStatePtr owner, const std::string &name);
Napi::Object NewProgram(Napi::Env env, Fd fd, ObjectStatePtr owner, const std::string &name,
                        const std::string &section);
Napi::Object NewLink(Napi::Env env, Fd fd);
int ProgramFd(Napi::Env env, Napi::Value v);
int MapFd(Napi::Env env, Napi::Value v);

}  // namespace vnf
