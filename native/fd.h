// Fd: a file descriptor that is closed unless it was released. It guards an
// fd between the syscall that returned it and the JS wrapper that takes it
// over, so a failure in between (the wrapper cannot be created, a later check
// throws) closes it instead of leaking it. A leaked link fd keeps its program
// attached until the process exits. Borrowed fds (owned by a bpf_object) are
// carried the same way but never closed.
#pragma once

#include <unistd.h>

namespace vnf {

class Fd {
 public:
  static Fd Owned(int fd) { return Fd(fd, true); }
  static Fd Borrowed(int fd) { return Fd(fd, false); }

  Fd() = default;
  Fd(Fd &&o) noexcept : fd_(o.fd_), owned_(o.owned_) { o.fd_ = -1; }
  Fd &operator=(Fd &&o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = o.fd_;
      owned_ = o.owned_;
      o.fd_ = -1;
    }
    return *this;
  }
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  ~Fd() { Reset(); }

  int get() const { return fd_; }
  bool owned() const { return owned_; }
  // Hands the fd over: the caller closes it from now on (if owned()).
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset() {
    if (owned_ && fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  Fd(int fd, bool owned) : fd_(fd), owned_(owned) {}
  int fd_ = -1;
  bool owned_ = false;
};

}  // namespace vnf
