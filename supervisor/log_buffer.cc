#include "supervisor/log_buffer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>

#include <spdlog/spdlog.h>

namespace corral::supervisor {

LogBuffer::LogBuffer(size_t ring_lines, std::string file_path, uint64_t file_max_bytes)
    : ring_lines_(ring_lines == 0 ? 1 : ring_lines),
      file_path_(std::move(file_path)),
      file_max_bytes_(file_max_bytes) {
  if (!file_path_.empty()) open_file();
}

void LogBuffer::open_file() {
  file_.reset(::open(file_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!file_) {
    file_error_ = "cannot open " + file_path_ + ": " + std::strerror(errno);
    spdlog::warn("plugin log file: {}; logs stay in memory only", file_error_);
    return;
  }
  struct stat st {};
  file_bytes_ = ::fstat(file_.get(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

void LogBuffer::append(LogStream stream, std::string_view bytes, int64_t now_ms) {
  std::string& partial = partial_[stream == LogStream::kStdout ? 0 : 1];
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    std::string_view chunk = bytes.substr(0, nl);
    if (partial.size() + chunk.size() > kMaxLineBytes) {
      // The line would exceed the cap: emit what fits now, marked truncated.
      size_t room = kMaxLineBytes - partial.size();
      partial.append(chunk.substr(0, room));
      emit(stream, std::move(partial), true, now_ms);
      partial.clear();
      bytes.remove_prefix(room);
      continue;
    }
    partial.append(chunk);
    if (nl == std::string_view::npos) break;
    emit(stream, std::move(partial), false, now_ms);
    partial.clear();
    bytes.remove_prefix(nl + 1);
  }
}

void LogBuffer::flush(LogStream stream, int64_t now_ms) {
  std::string& partial = partial_[stream == LogStream::kStdout ? 0 : 1];
  if (partial.empty()) return;
  emit(stream, std::move(partial), false, now_ms);
  partial.clear();
}

void LogBuffer::note(std::string_view text, int64_t now_ms) {
  emit(LogStream::kStderr, "[corrald] " + std::string(text), false, now_ms, true);
}

void LogBuffer::emit(LogStream stream, std::string text, bool truncated, int64_t now_ms,
                     bool note) {
  LogLine line{next_seq_++, now_ms, stream, std::move(text), truncated, note};
  write_file(line);
  for (auto it = followers_.begin(); it != followers_.end();) {
    // A follower may unfollow itself (or others) from inside the callback.
    auto current = it++;
    current->second(line);
  }
  ring_.push_back(std::move(line));
  while (ring_.size() > ring_lines_) ring_.pop_front();
}

void LogBuffer::write_file(const LogLine& line) {
  if (!file_) return;
  char stamp[40];
  std::time_t secs = static_cast<std::time_t>(line.at_unix_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string record(stamp, n);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03dZ", static_cast<int>(line.at_unix_ms % 1000));
  record += ms;
  record += line.stream == LogStream::kStdout ? " out " : " err ";
  record += line.text;
  record += line.truncated ? "\\\n" : "\n";

  if (file_bytes_ + record.size() > file_max_bytes_) {
    std::string old = file_path_ + ".1";
    if (::rename(file_path_.c_str(), old.c_str()) != 0) {
      spdlog::warn("cannot rotate {}: {}", file_path_, std::strerror(errno));
    }
    file_bytes_ = 0;
    open_file();
    if (!file_) return;
  }
  ssize_t w = ::write(file_.get(), record.data(), record.size());
  if (w < 0) {
    if (file_error_.empty()) {
      file_error_ = "cannot write " + file_path_ + ": " + std::strerror(errno);
      spdlog::warn("plugin log file: {}", file_error_);
    }
    return;
  }
  file_bytes_ += static_cast<uint64_t>(w);
}

std::vector<LogLine> LogBuffer::tail(size_t n) const {
  size_t start = ring_.size() > n ? ring_.size() - n : 0;
  return {ring_.begin() + static_cast<std::ptrdiff_t>(start), ring_.end()};
}

uint64_t LogBuffer::follow(Follower f) {
  uint64_t id = next_follower_++;
  followers_.emplace(id, std::move(f));
  return id;
}

void LogBuffer::unfollow(uint64_t id) { followers_.erase(id); }

}  // namespace corral::supervisor
