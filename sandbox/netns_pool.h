// Network namespaces made ahead of need. A new one with `lo` up costs ~0.7 ms of kernel work on
// this VM, which a launch should not wait for: a background thread keeps `depth` ready, and each
// is handed out once. They belong to the host's user namespace, so a sandbox cannot reconfigure
// its own (no addresses, routes, raw sockets or lo going down).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "common/error.h"
#include "common/unique_fd.h"

namespace corral::sandbox {

class NetnsPool {
 public:
  explicit NetnsPool(size_t depth = 4);
  ~NetnsPool();
  NetnsPool(const NetnsPool&) = delete;
  NetnsPool& operator=(const NetnsPool&) = delete;

  // An nsfs fd of a fresh namespace (only lo, up). Waits for the thread when the pool is empty;
  // fails if namespaces cannot be made (then every later call fails the same way).
  [[nodiscard]] Result<UniqueFd> take();

  // Makes one on the calling thread, which returns to `home` (an nsfs fd of its own netns)
  // before this returns. Exposed for tests and for hosts that want no thread.
  [[nodiscard]] static Result<UniqueFd> make_one(int home);

 private:
  void run(std::stop_token stop);

  size_t depth_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<UniqueFd> ready_;
  std::optional<Error> broken_;
  [[nodiscard]] std::jthread start();
  std::jthread thread_;  // last: started once the members above exist
};

}  // namespace corral::sandbox
