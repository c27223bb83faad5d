// LogBuffer: one plugin's captured stdout/stderr. Splits raw bytes into lines (a line longer than
// kMaxLineBytes is split and marked truncated), keeps the last N lines in memory with increasing
// sequence numbers, appends them to a size-capped file (rotated once to .1), and notifies
// followers of each new line. Survives restarts of the plugin: one buffer per plugin.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.h"

namespace corral::supervisor {

enum class LogStream { kStdout = 1, kStderr = 2 };

struct LogLine {
  uint64_t seq = 0;
  int64_t at_unix_ms = 0;
  LogStream stream = LogStream::kStdout;
  std::string text;
  bool truncated = false;
  bool note = false;  // written by corrald (note()), not by the plugin
};

class LogBuffer {
 public:
  static constexpr size_t kMaxLineBytes = 16 * 1024;
  using Follower = std::function<void(const LogLine&)>;

  // file_path empty: memory only.
  LogBuffer(size_t ring_lines, std::string file_path, uint64_t file_max_bytes);

  void append(LogStream stream, std::string_view bytes, int64_t now_ms);
  // The stream reached EOF: emit its unterminated tail as a line.
  void flush(LogStream stream, int64_t now_ms);
  // A line written by corrald itself about the plugin (exit, restart), on stderr's stream.
  void note(std::string_view text, int64_t now_ms);

  [[nodiscard]] std::vector<LogLine> tail(size_t n) const;
  [[nodiscard]] uint64_t total_lines() const { return next_seq_ - 1; }

  uint64_t follow(Follower f);
  void unfollow(uint64_t id);
  [[nodiscard]] size_t followers() const { return followers_.size(); }

  // The first error writing the file, if any (the ring keeps working without the file).
  [[nodiscard]] const std::string& file_error() const { return file_error_; }

 private:
  void emit(LogStream stream, std::string text, bool truncated, int64_t now_ms, bool note = false);
  void write_file(const LogLine& line);
  void open_file();

  size_t ring_lines_;
  std::string file_path_;
  uint64_t file_max_bytes_;
  UniqueFd file_;
  uint64_t file_bytes_ = 0;
  std::string file_error_;

  std::deque<LogLine> ring_;
  uint64_t next_seq_ = 1;
  std::string partial_[2];  // stdout, stderr
  std::map<uint64_t, Follower> followers_;
  uint64_t next_follower_ = 1;
};

}  // namespace corral::supervisor
