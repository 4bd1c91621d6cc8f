// RingBuffer: a consumer of a BPF ring buffer map (BPF_MAP_TYPE_RINGBUF). It
// knows nothing of what the records mean: a worker thread waits on the ring
// (libbpf's ring_buffer, through its epoll fd, beside an eventfd that close()
// signals), copies each record out and hands batches of records to a JS
// callback through a thread-safe function: the event loop never waits for
// the kernel.
//
// Backpressure: at most kMaxQueued batches wait for JS. When that many are
// queued the worker stops reading until JS catches up; the ring buffer then
// fills and the producers count what they could not write. Nothing blocks
// the main thread: close() wakes the worker through the eventfd and joins it
// (it never waits inside a call into JS: NonBlockingCall only).
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "boundary.h"
#include "common.h"

namespace vnf {

const napi_type_tag kRingBufTag = {0x766e662072696e67ULL, 0x0000000000000005ULL};

namespace {

constexpr size_t kMaxQueued = 16;        // batches waiting for JS
constexpr size_t kMaxBatch = 8192;       // records per batch
constexpr int kRetryMs = 10;             // wait before retrying a full queue

struct Batch {
  std::vector<std::vector<uint8_t>> records;
  int err = 0;  // a failure of the worker: delivered as an error, then it stops
  std::string call;
};

void CallJs(Napi::Env env, Napi::Function cb, std::nullptr_t *, Batch *batch);
using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, Batch, CallJs>;

void CallJs(Napi::Env env, Napi::Function cb, std::nullptr_t *, Batch *batch) {
  std::unique_ptr<Batch> b(batch);
  if (env == nullptr || cb.IsEmpty()) return;  // torn down: the batch is dropped
  try {
    if (b->err != 0) {
      cb.Call({MakeErrno(env, b->call, b->err, {}), env.Null()});
      return;
    }
    Napi::Array arr = Napi::Array::New(env, b->records.size());
    for (size_t i = 0; i < b->records.size(); i++) {
      auto &r = b->records[i];
      arr.Set(static_cast<uint32_t>(i), CopyBuffer(env, r.data(), r.size()));
    }
    cb.Call({env.Null(), arr});
  } catch (const Napi::Error &e) {
    // A throwing callback: report it as node does for any uncaught exception.
    napi_fatal_exception(env, e.Value());
  } catch (...) {
  }
}

class RingBufWrap : public Wrapped<RingBufWrap> {
 public:
  static constexpr const char *kClassName = "RingBuffer";
  static const napi_type_tag &TypeTag() { return kRingBufTag; }

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, kClassName,
                       {
                           Method<&RingBufWrap::Close>("close"),
                           Getter<&RingBufWrap::ClosedValue>("closed"),
                       });
  }

  using Wrapped::Wrapped;
  ~RingBufWrap() override { Stop(); }

  // Takes `fd` (a ring buffer map) over and starts the worker.
  void Init(Napi::Env env, Fd fd, Napi::Function cb) {
    struct bpf_map_info mi;
    memset(&mi, 0, sizeof(mi));
    __u32 len = sizeof(mi);
    if (bpf_obj_get_info_by_fd(fd.get(), &mi, &len) != 0) ThrowErrno(env, "bpf_obj_get_info_by_fd(map)", errno);
    if (mi.type != BPF_MAP_TYPE_RINGBUF) {
      ErrorExtra extra;
      extra.hint = "map " + std::string(mi.name) + " is a " +
                   (libbpf_bpf_map_type_str(static_cast<bpf_map_type>(mi.type)) ?: "unknown") +
                   " map, not a ringbuf";
      ThrowErrno(env, "ring_buffer__new", EINVAL, extra);
    }
    Fd wake = Fd::Owned(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (wake.get() < 0) ThrowErrno(env, "eventfd", errno);
    Fd ep = Fd::Owned(epoll_create1(EPOLL_CLOEXEC));
    if (ep.get() < 0) ThrowErrno(env, "epoll_create1", errno);
    LibbpfCapture cap;
    ring_buffer *rb = ring_buffer__new(fd.get(), &RingBufWrap::Sample, this, nullptr);
    if (rb == nullptr) {
      int err = errno;
      ErrorExtra extra;
      extra.details = cap.Take();
      ThrowErrno(env, "ring_buffer__new", err, extra);
    }
    struct epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.u32 = 0;
    if (epoll_ctl(ep.get(), EPOLL_CTL_ADD, ring_buffer__epoll_fd(rb), &ev) != 0 ||
        (ev.data.u32 = 1, epoll_ctl(ep.get(), EPOLL_CTL_ADD, wake.get(), &ev) != 0)) {
      int err = errno;
      ring_buffer__free(rb);
      ThrowErrno(env, "epoll_ctl", err);
    }
    tsfn_ = Tsfn::New(env, cb, "vnf:ring_buffer", kMaxQueued, 1);
    rb_ = rb;
    mapFd_ = std::move(fd);
    wake_ = std::move(wake);
    ep_ = std::move(ep);
    env_ = env;
    napi_add_env_cleanup_hook(env, &RingBufWrap::Cleanup, this);
    hooked_ = true;
    open_ = true;
    worker_ = std::thread([this] { Run(); });
  }

 private:
  static int Sample(void *ctx, void *data, size_t size) {
    auto *self = static_cast<RingBufWrap *>(ctx);
    try {
      auto *p = static_cast<const uint8_t *>(data);
      self->pending_->records.emplace_back(p, p + size);
    } catch (...) {
      return -ENOMEM;  // stops this consume; the record is lost
    }
    // A full batch stops ring_buffer__consume (libbpf stops on a negative
    // return, after consuming this record), so the rest stays in the ring
    // until this batch is queued.
    return self->pending_->records.size() >= kMaxBatch ? -EFBIG : 0;
  }

  // Hands the pending batch to JS; false when the queue is full (try again).
  bool Deliver() {
    Batch *b = pending_.get();
    napi_status st = tsfn_.NonBlockingCall(b);
    if (st == napi_ok) {
      pending_.release();
      return true;
    }
    if (st == napi_queue_full) return false;
    stop_ = true;  // napi_closing: the environment is going away
    return true;
  }

  void Fail(const char *call, int err) {
    pending_.reset(new Batch());
    pending_->err = err < 0 ? -err : err;
    pending_->call = call;
    while (!stop_ && !Deliver()) WaitWake(kRetryMs);
    stop_ = true;
  }

  // Waits up to `ms` for close(); true when woken.
  bool WaitWake(int ms) {
    struct epoll_event evs[2];
    int n = epoll_wait(ep_.get(), evs, 2, ms);
    for (int i = 0; i < n; i++)
      if (evs[i].data.u32 == 1) return true;
    return false;
  }

  void Run() {
    while (!stop_) {
      struct epoll_event evs[2];
      int n = epoll_wait(ep_.get(), evs, 2, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        Fail("epoll_wait", errno);
        break;
      }
      if (stop_) break;
      // Drain: batch after batch while records are there, each queued before the next is read.
      for (;;) {
        pending_.reset(new Batch());
        int r = ring_buffer__consume(rb_);
        if (r < 0 && r != -ENOMEM && r != -EFBIG) {
          Fail("ring_buffer__consume", r);
          break;
        }
        if (pending_->records.empty()) break;
        while (!stop_ && !Deliver()) WaitWake(kRetryMs);
        if (stop_) break;
      }
      pending_.reset();
    }
  }

  // Stops the worker and frees everything; idempotent. Main thread only.
  void Stop() {
    if (hooked_) {
      napi_remove_env_cleanup_hook(env_, &RingBufWrap::Cleanup, this);
      hooked_ = false;
    }
    if (!open_) return;
    open_ = false;
    stop_ = true;
    uint64_t one = 1;
    ssize_t w = write(wake_.get(), &one, sizeof(one));
    (void)w;
    if (worker_.joinable()) worker_.join();
    // Batches still queued are dropped by CallJs once the function is released.
    tsfn_.Release();
    ring_buffer__free(rb_);
    rb_ = nullptr;
    pending_.reset();
    wake_.Reset();
    ep_.Reset();
    mapFd_.Reset();
  }

  static void Cleanup(void *arg) {
    auto *self = static_cast<RingBufWrap *>(arg);
    self->hooked_ = false;  // being run: removing it now is not allowed
    self->Stop();
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    Stop();
    return info.Env().Undefined();
  }
  Napi::Value ClosedValue(const Napi::CallbackInfo &info) { return Napi::Boolean::New(info.Env(), !open_); }

  napi_env env_ = nullptr;
  bool hooked_ = false;
  bool open_ = false;
  std::atomic<bool> stop_{false};
  ring_buffer *rb_ = nullptr;
  Fd mapFd_, wake_, ep_;
  Tsfn tsfn_;
  std::thread worker_;
  std::unique_ptr<Batch> pending_;  // worker thread only
};

// openRingBuffer(map: string (pin path) | BpfMap, onRecords(err, records: Buffer[])) -> RingBuffer
Napi::Value OpenRingBuffer(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[1].IsFunction()) ThrowUsage(env, "openRingBuffer(pinPathOrMap, onRecords)");
  Fd fd;
  if (info[0].IsString()) {
    std::string path = info[0].As<Napi::String>().Utf8Value();
    int f = bpf_obj_get(path.c_str());
    if (f < 0) ThrowErrno(env, "bpf_obj_get", errno, {"", "", path, ""});
    fd = Fd::Owned(f);
  } else if (HasTag(env, info[0], kMapTag)) {
    Napi::Value v = info[0].As<Napi::Object>().Get("fd");  // throws EBADF when the map is closed
    int f = fcntl(v.As<Napi::Number>().Int32Value(), F_DUPFD_CLOEXEC, 0);
    if (f < 0) ThrowErrno(env, "fcntl(F_DUPFD_CLOEXEC)", errno);
    fd = Fd::Owned(f);  // our own: the map handle may be closed before us
  } else {
    ThrowUsage(env, "openRingBuffer: the first argument must be a pin path or a BpfMap");
  }
  Napi::Object o = Data(env).ringBufCtor.New({});
  RingBufWrap::Unwrap(o)->Init(env, std::move(fd), info[1].As<Napi::Function>());
  return o;
}

}  // namespace

void InitRingBuf(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = RingBufWrap::Define(env);
  Data(env).ringBufCtor = Napi::Persistent(ctor);
  Export<OpenRingBuffer>(exports, "openRingBuffer");
}

}  // namespace vnf
