#include "collectors/bpf_support.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace corral::collectors::bpf {

namespace {

struct LogState {
  std::mutex mu;
  LibbpfSink sink;
  std::string* capture = nullptr;  // the live LibbpfLog's buffer
};

LogState& state() {
  static LogState s;
  return s;
}

std::string& capture_buffer() {
  static std::string buf;
  return buf;
}

int print(libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[4096];
  int n = std::vsnprintf(line, sizeof line, fmt, args);
  if (n < 0) return 0;
  std::string_view text(line, std::min<size_t>(static_cast<size_t>(n), sizeof line - 1));
  LogState& s = state();
  std::lock_guard lock(s.mu);
  if (s.capture != nullptr) {
    s.capture->append(text);
    if (s.capture->size() > (1u << 20)) s.capture->erase(0, s.capture->size() - (1u << 19));
  }
  if (s.sink) {
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    s.sink(level, text);
  } else if (level == LIBBPF_WARN && s.capture == nullptr) {
    std::fwrite(text.data(), 1, text.size(), stderr);
  }
  return 0;
}

void install_print() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(print); });
}

}  // namespace

void set_libbpf_sink(LibbpfSink sink) {
  install_print();
  std::lock_guard lock(state().mu);
  state().sink = std::move(sink);
}

LibbpfLog::LibbpfLog() {
  install_print();
  std::lock_guard lock(state().mu);
  capture_buffer().clear();
  state().capture = &capture_buffer();
}

LibbpfLog::~LibbpfLog() {
  std::lock_guard lock(state().mu);
  state().capture = nullptr;
}

std::string LibbpfLog::tail(size_t max_bytes) const {
  std::lock_guard lock(state().mu);
  const std::string& buf = capture_buffer();
  std::string out = buf.size() > max_bytes ? buf.substr(buf.size() - max_bytes) : buf;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

Error libbpf_error(std::string_view what, int err, const LibbpfLog* log) {
  int errnum = err < 0 ? -err : err;
  std::string message(what);
  if (log != nullptr) {
    std::string t = log->tail();
    if (!t.empty()) message += " (libbpf: " + t + ")";
  }
  return sys_error(std::move(message), errnum).error();
}

Result<UniqueFd> enable_run_time_stats() {
  int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (fd < 0) return sys_error("bpf(BPF_ENABLE_STATS, run time)", -fd);
  return UniqueFd(fd);
}

Result<ProgStats> prog_stats(int prog_fd) {
  bpf_prog_info info{};
  __u32 len = sizeof info;
  if (int err = bpf_obj_get_info_by_fd(prog_fd, &info, &len); err != 0) {
    return sys_error("bpf(BPF_OBJ_GET_INFO_BY_FD) of a program", -err);
  }
  return ProgStats{info.run_time_ns, info.run_cnt};
}

Result<std::unique_ptr<RingBuffer>> RingBuffer::create(int map_fd, Handler handler) {
  std::unique_ptr<RingBuffer> rb(new RingBuffer());
  rb->handler_ = std::move(handler);
  rb->rb_ = ring_buffer__new(map_fd, &RingBuffer::on_record, rb.get(), nullptr);
  if (rb->rb_ == nullptr) return sys_error("creating the ring buffer consumer");
  return rb;
}

RingBuffer::~RingBuffer() {
  if (rb_ != nullptr) ring_buffer__free(rb_);
}

int RingBuffer::fd() const { return ring_buffer__epoll_fd(rb_); }

Result<size_t> RingBuffer::drain() {
  int n = ring_buffer__consume(rb_);
  if (n < 0) return sys_error("consuming the ring buffer", -n);
  return static_cast<size_t>(n);
}

int RingBuffer::on_record(void* self, void* data, size_t size) {
  auto* rb = static_cast<RingBuffer*>(self);
  rb->handler_(std::span<const std::byte>(static_cast<const std::byte*>(data), size));
  return 0;
}

Result<unsigned> possible_cpus() {
  int n = libbpf_num_possible_cpus();
  if (n <= 0) return sys_error("counting the possible CPUs (/sys/devices/system/cpu/possible)", -n);
  return static_cast<unsigned>(n);
}

namespace {

// BPF_MAP_LOOKUP_BATCH until the kernel says ENOENT (the map is done). False: not supported.
bool read_batched(int map_fd, size_t max_entries, PercpuEntries& e) {
  const size_t per_value = e.stride * e.cpus;
  e.keys.assign(max_entries * e.key_size, std::byte{});
  e.values.assign(max_entries * per_value, std::byte{});
  uint64_t token = 0;
  bool first = true;
  e.count = 0;
  while (e.count < max_entries) {
    __u32 n = static_cast<__u32>(max_entries - e.count);
    int err = bpf_map_lookup_batch(map_fd, first ? nullptr : &token, &token,
                                   e.keys.data() + e.count * e.key_size,
                                   e.values.data() + e.count * per_value, &n, nullptr);
    first = false;
    if (err != 0 && errno != ENOENT) return false;
    e.count += n;
    if (err != 0) break;  // ENOENT: the last batch
  }
  e.batched = true;
  return true;
}

Result<void> read_by_key(int map_fd, size_t max_entries, PercpuEntries& e) {
  const size_t per_value = e.stride * e.cpus;
  e.keys.clear();
  e.values.clear();
  e.count = 0;
  e.batched = false;
  std::vector<std::byte> key(e.key_size), next(e.key_size), value(per_value);
  const void* prev = nullptr;
  while (e.count < max_entries) {
    if (bpf_map_get_next_key(map_fd, prev, next.data()) != 0) {
      if (errno == ENOENT) break;
      return sys_error("bpf(BPF_MAP_GET_NEXT_KEY)");
    }
    key = next;
    prev = key.data();
    if (bpf_map_lookup_elem(map_fd, key.data(), value.data()) != 0) {
      if (errno == ENOENT) continue;  // deleted meanwhile
      return sys_error("bpf(BPF_MAP_LOOKUP_ELEM)");
    }
    e.keys.insert(e.keys.end(), key.begin(), key.end());
    e.values.insert(e.values.end(), value.begin(), value.end());
    ++e.count;
  }
  return {};
}

}  // namespace

Result<PercpuEntries> read_percpu_map(int map_fd, size_t key_size, size_t value_size,
                                      size_t max_entries, bool allow_batch) {
  auto cpus = possible_cpus();
  if (!cpus) return std::unexpected(cpus.error());
  PercpuEntries e;
  e.key_size = key_size;
  e.stride = (value_size + 7) / 8 * 8;
  e.cpus = *cpus;
  if (allow_batch && read_batched(map_fd, max_entries, e)) return e;
  if (auto r = read_by_key(map_fd, max_entries, e); !r) return std::unexpected(r.error());
  return e;
}

}  // namespace corral::collectors::bpf
