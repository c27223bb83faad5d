// What every BPF loader in collectors/ shares: libbpf's messages captured around a load (so an
// Error carries the verifier's own words) and otherwise forwarded to one sink, kernel run-time
// statistics of programs, and a ring buffer owned as a value. Loaders run on one thread.
#pragma once

#include <bpf/libbpf.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace corral::collectors::bpf {

// Where libbpf's messages go when no LibbpfLog is capturing (corrald: its log). Default: stderr
// for warnings, nothing for info and debug.
using LibbpfSink = std::function<void(libbpf_print_level level, std::string_view line)>;
void set_libbpf_sink(LibbpfSink sink);

// While alive, libbpf's warnings and info lines are also kept here (one capture at a time).
class LibbpfLog {
 public:
  LibbpfLog();
  ~LibbpfLog();
  LibbpfLog(const LibbpfLog&) = delete;
  LibbpfLog& operator=(const LibbpfLog&) = delete;
  // The last `max_bytes` of what was captured (the verifier's verdict is at the end).
  [[nodiscard]] std::string tail(size_t max_bytes = 2048) const;
};

// A libbpf call's failure (a negative errno, or errno for calls that return null) as an Error,
// with the captured log's tail appended when there is one.
[[nodiscard]] Error libbpf_error(std::string_view what, int err, const LibbpfLog* log = nullptr);

// Kernel accounting of every BPF program's run time (BPF_ENABLE_STATS) while the fd is open.
[[nodiscard]] Result<UniqueFd> enable_run_time_stats();

struct ProgStats {
  uint64_t run_time_ns = 0;
  uint64_t run_cnt = 0;
};
[[nodiscard]] Result<ProgStats> prog_stats(int prog_fd);

// A bpftool skeleton owned as a value: Skeleton<proc_bpf> destroys it when dropped.
template <class T>
struct SkeletonDeleter {
  void operator()(T* skel) const { T::destroy(skel); }
};
template <class T>
using Skeleton = std::unique_ptr<T, SkeletonDeleter<T>>;

// A BPF_MAP_TYPE_RINGBUF consumer: fd() is readable (epoll) when records wait; drain() hands
// each record to the handler without blocking.
class RingBuffer {
 public:
  using Handler = std::function<void(std::span<const std::byte> record)>;
  [[nodiscard]] static Result<std::unique_ptr<RingBuffer>> create(int map_fd, Handler handler);
  ~RingBuffer();
  RingBuffer(const RingBuffer&) = delete;
  RingBuffer& operator=(const RingBuffer&) = delete;
  [[nodiscard]] int fd() const;
  // Records consumed, or the error.
  [[nodiscard]] Result<size_t> drain();

 private:
  RingBuffer() = default;
  static int on_record(void* self, void* data, size_t size);
  ring_buffer* rb_ = nullptr;
  Handler handler_;
};

// Every entry of a per-CPU hash map, read by BPF_MAP_LOOKUP_BATCH (a few syscalls for the whole
// map) or, where the kernel refuses batches (or allow_batch is false), key by key. Values come
// as the kernel lays them out: for entry i, one value per possible CPU, each `stride` bytes.
struct PercpuEntries {
  size_t key_size = 0;
  size_t stride = 0;  // value_size rounded up to 8
  unsigned cpus = 0;
  size_t count = 0;
  bool batched = false;  // how they were read
  std::vector<std::byte> keys;
  std::vector<std::byte> values;
  [[nodiscard]] std::span<const std::byte> key(size_t i) const {
    return std::span(keys).subspan(i * key_size, key_size);
  }
  [[nodiscard]] const std::byte* value(size_t i, unsigned cpu) const {
    return values.data() + (i * cpus + cpu) * stride;
  }
};
[[nodiscard]] Result<unsigned> possible_cpus();
[[nodiscard]] Result<PercpuEntries> read_percpu_map(int map_fd, size_t key_size, size_t value_size,
                                                    size_t max_entries, bool allow_batch = true);

}  // namespace corral::collectors::bpf
