#include "supervisor/output_pipe.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include <spdlog/spdlog.h>
#include <boost/asio/buffer.hpp>

namespace corral::supervisor {

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

OutputPipe::OutputPipe(boost::asio::io_context& io, UniqueFd fd, LogBuffer& buffer,
                       LogStream stream)
    : sd_(io, fd.release()), buffer_(&buffer), stream_(stream) {}

void OutputPipe::read() {
  sd_.async_read_some(boost::asio::buffer(data_), [self = shared_from_this()](
                                                      boost::system::error_code ec, size_t n) {
    if (self->done_) return;  // closed: the buffer may be gone
    if (n > 0) self->buffer_->append(self->stream_, {self->data_.data(), n}, unix_now_ms());
    if (ec) {
      if (ec != boost::asio::error::eof) {
        spdlog::debug("plugin output pipe: {}", ec.message());
      }
      self->buffer_->flush(self->stream_, unix_now_ms());
      self->close();
      return;
    }
    self->read();
  });
}

void OutputPipe::drain() {
  while (!done_) {
    pollfd p{sd_.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, 0) != 1 || (p.revents & (POLLIN | POLLHUP)) == 0) return;
    ssize_t n = ::read(sd_.native_handle(), data_.data(), data_.size());
    if (n > 0) {
      buffer_->append(stream_, {data_.data(), static_cast<size_t>(n)}, unix_now_ms());
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    buffer_->flush(stream_, unix_now_ms());
    close();
  }
}

void OutputPipe::close() {
  if (done_) return;
  done_ = true;
  boost::system::error_code ignored;
  sd_.close(ignored);  // cancels the pending read; its handler sees done_ and returns
}

}  // namespace corral::supervisor
