// RecoveryLog: corrald's bounded, in-memory record of every plugin's signals, breaker
// transitions and recovery actions with their causes (`corralctl events`), each with a
// sequence number so that a follower asks for what came after the last one it saw; listeners
// hear each event as it is appended (the store keeps them: StoreService). Each event gets a
// severity, and a correlation id (the command or signal its chain began with) and causation id
// (what led to it directly); a Context names the command being handled.
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
  std::string severity;    // "info" | "warning" | "critical" (filled in by append if empty)
  std::string correlation_id;
  std::string causation_id;
};

// "info", "warning" or "critical" for an event of this type and what.
[[nodiscard]] std::string severity_of(const RecoveryEvent& e);
// 0 info, 1 warning, 2 critical; -1 for an unknown name.
[[nodiscard]] int severity_rank(std::string_view s);

class RecoveryLog {
 public:
  using Listener = std::function<void(const RecoveryEvent&)>;
  explicit RecoveryLog(size_t capacity = 4096) : capacity_(capacity) {}

  // While one lives, events appended (and signals they carry) belong to that request.
  class Context {
   public:
    Context(RecoveryLog* log, const std::string& correlation_id);
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

   private:
    RecoveryLog* log_;
    std::string saved_;
  };

  const RecoveryEvent& append(RecoveryEvent e);  // seq, times, severity and ids filled in
  // Numbering continues after `seq` (the store's last, at start).
  void resume_after(uint64_t seq) {
    if (seq > seq_) seq_ = seq;
  }
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
  std::string context_;  // the correlation id of the request being handled
  // signal id -> the correlation id of its chain, for the signals still held.
  std::deque<std::pair<uint64_t, std::string>> chains_;
  std::vector<std::pair<uint64_t, Listener>> listeners_;
};

}  // namespace corral::supervisor::recovery
