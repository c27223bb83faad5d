// IdAllocator: hands each plugin a host uid/gid range of its own for its sandbox's user
// namespace, the lowest free slot, held while the plugin is known to corrald; two live plugins
// never share ids. The same name gets the same slot back while it holds one.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include "common/error.h"

namespace corral::supervisor {

class IdAllocator {
 public:
  IdAllocator(uid_t base, uint32_t count, uint32_t slots)
      : base_(base), count_(count), slots_(slots) {}

  // The first host id of name's range; kResourceExhausted when every slot is taken.
  [[nodiscard]] Result<uid_t> acquire(const std::string& name);
  // The slot whose range starts at first_id, for name (a run adopted after a restart keeps its
  // ids); fails if it is not a slot start or another name holds it.
  [[nodiscard]] Result<uid_t> reserve(const std::string& name, uid_t first_id);
  void release(const std::string& name);
  [[nodiscard]] uint32_t count() const { return count_; }
  [[nodiscard]] size_t in_use() const { return by_name_.size(); }

 private:
  uid_t base_;
  uint32_t count_;
  uint32_t slots_;
  std::map<std::string, uint32_t> by_name_;
  std::map<uint32_t, std::string> by_slot_;
};

}  // namespace corral::supervisor
