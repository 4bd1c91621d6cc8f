// All keys of a map by BPF_MAP_GET_NEXT_KEY, correct while the map changes.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

namespace vnf {

struct KeyWalk {
  std::deque<std::string> keys;  // in walk order, each once
  int err = 0;                   // errno of the call that failed; 0 on success
  const char *call = "";         // that call
  uint64_t calls = 0;            // syscalls made
  uint32_t restarts = 0;         // times the kernel went back to the first key
};

// Semantics: every key present (and not re-inserted) for the whole walk is
// returned, exactly once; keys inserted or deleted meanwhile may or may not
// be. If the map changes too fast for the walk to end within a bound of
// syscalls (proportional to max_entries), err is EAGAIN: never a short list.
KeyWalk WalkKeys(int fd, uint32_t keySize, uint32_t valueBufSize, uint32_t maxEntries);

}  // namespace vnf
