// RecoveryLog: corrald's bounded, in-memory record of every plugin's signals, breaker
// transitions and recovery actions with their causes (`corralctl events`), each with a
// sequence number so that a follower asks for what came after the last one it saw; listeners
// hear each event as it is appended. The Durability issue journals it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace corral::supervisor::recovery {

struct RecoveryEvent {
  uint64_t seq = 0;
  int64_t at_unix_ms = 0;
  int64_t at_ns = 0;  // CLOCK_MONOTONIC
  std::string plugin;
  std::string type;        // "signal", "transition", "action", "alert"
  std::string what;        // "exit", "closed -> open", "restart in 120 ms", ...
  std::string cause;       // why
  uint64_t signal_id = 0;  // the signal it came from (0: none)
};

class RecoveryLog {
 public:
  using Listener = std::function<void(const RecoveryEvent&)>;
  explicit RecoveryLog(size_t capacity = 4096) : capacity_(capacity) {}

  const RecoveryEvent& append(RecoveryEvent e);  // seq and times filled in
  // Events with seq > after (of `plugin` only unless empty), oldest first, at most max.
  [[nodiscard]] std::vector<RecoveryEvent> since(uint64_t after, const std::string& plugin,
                                                 size_t max) const;
  [[nodiscard]] uint64_t last_seq() const { return seq_; }
  // The oldest seq still held (events before it were dropped for space).
  [[nodiscard]] uint64_t first_seq() const {
    return events_.empty() ? seq_ + 1 : events_.front().seq;
  }
  // Returns an id for remove_listener.
  uint64_t add_listener(Listener l);
  void remove_listener(uint64_t id);
  [[nodiscard]] uint64_t next_signal_id() { return ++signal_ids_; }

 private:
  size_t capacity_;
  uint64_t seq_ = 0;
  uint64_t signal_ids_ = 0;
  uint64_t listener_ids_ = 0;
  std::deque<RecoveryEvent> events_;
  std::vector<std::pair<uint64_t, Listener>> listeners_;
};

}  // namespace corral::supervisor::recovery
