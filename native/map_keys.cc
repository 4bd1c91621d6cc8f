// WalkKeys: see map_keys.h.
//
// The kernel's get_next_key(key) returns the key after `key`, or — for hash
// maps and LPM tries — the *first* key when `key` is no longer in the map
// (deleted, or deleted and re-inserted, which moves it within its bucket).
// A walk that just follows it would then return keys twice and, capped,
// silently stop short. Here a key already returned means the walk went back:
// it resumes from the latest returned key that still exists (found with
// lookup, which on an LRU map marks that key used, like any lookup), which
// continues right where it was; if that leads back again it
// steps forward through known keys, skipping them. Every step is a syscall,
// and a budget of them bounds a map that never holds still (EAGAIN).
#include "map_keys.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace vnf {

KeyWalk WalkKeys(int fd, uint32_t keySize, uint32_t valueBufSize, uint32_t maxEntries) {
  KeyWalk w;
  // A full walk is max_entries + 1 steps; restarts cost a few more each.
  const uint64_t budget = 8 * (uint64_t(maxEntries) + 1) + 4096;
  std::unordered_set<std::string_view> seen;  // views into w.keys (a deque: stable)
  std::string cur, next(keySize, '\0');
  bool haveCur = false;   // false: ask for the first key
  bool resumed = false;   // the last step went back and we resumed; not yet past known keys
  std::vector<uint8_t> value(valueBufSize);
  auto fail = [&](const char *call, int err) {
    w.call = call;
    w.err = err;
    return std::move(w);
  };
  for (;;) {
    if (++w.calls > budget) return fail("bpf_map_get_next_key", EAGAIN);
    if (bpf_map_get_next_key(fd, haveCur ? cur.data() : nullptr, next.data()) != 0) {
      if (errno == ENOENT) return w;  // past the last key (or an empty map)
      return fail("bpf_map_get_next_key", errno);
    }
    if (seen.count(next) == 0) {
      w.keys.push_back(next);
      seen.insert(w.keys.back());
      cur = next;
      haveCur = true;
      resumed = false;
      continue;
    }
    if (resumed) {  // still among keys we have: step over them
      cur = next;
      continue;
    }
    // Went back to a known key: resume from the latest returned key that is
    // still in the map, or failing that from where the kernel went back to.
    w.restarts++;
    resumed = true;
    cur = next;
    for (auto it = w.keys.rbegin(); it != w.keys.rend(); ++it) {
      if (++w.calls > budget) return fail("bpf_map_lookup_elem", EAGAIN);
      if (bpf_map_lookup_elem(fd, it->data(), value.data()) == 0) {
        cur = *it;
        break;
      }
      if (errno != ENOENT) break;  // cannot tell (e.g. write-only map): step forward instead
    }
  }
}

}  // namespace vnf
