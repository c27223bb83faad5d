// OutputPipe: reads one end of a plugin's stdout or stderr pipe on the event loop and appends the
// bytes to the plugin's LogBuffer until EOF. Keeps itself alive while a read is pending; close()
// cancels it (after which it never touches the buffer again).
#pragma once

#include <array>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "common/unique_fd.h"
#include "supervisor/log_buffer.h"

namespace corral::supervisor {

class OutputPipe : public std::enable_shared_from_this<OutputPipe> {
 public:
  OutputPipe(boost::asio::io_context& io, UniqueFd fd, LogBuffer& buffer, LogStream stream);
  void start() { read(); }
  void close();
  // Reads what is already in the pipe, now, without blocking (the writer has exited: its last
  // output must be logged before its exit). EOF closes the pipe as the async reader would.
  void drain();
  [[nodiscard]] bool open() const { return !done_; }

 private:
  void read();

  boost::asio::posix::stream_descriptor sd_;
  LogBuffer* buffer_;
  LogStream stream_;
  bool done_ = false;
  std::array<char, 16384> data_{};
};

// Milliseconds since the Unix epoch (for timestamps shown to people, not for timing).
[[nodiscard]] int64_t unix_now_ms();

}  // namespace corral::supervisor
