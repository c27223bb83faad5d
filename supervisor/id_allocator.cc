#include "supervisor/id_allocator.h"

namespace corral::supervisor {

Result<uid_t> IdAllocator::acquire(const std::string& name) {
  auto to_id = [&](uint32_t slot) { return static_cast<uid_t>(base_ + uint64_t{slot} * count_); };
  if (auto it = by_name_.find(name); it != by_name_.end()) return to_id(it->second);
  uint32_t slot = 0;
  for (const auto& [used, owner] : by_slot_) {  // sorted: the first gap is the lowest free slot
    if (used != slot) break;
    ++slot;
  }
  if (slot >= slots_) {
    return make_error(Code::kResourceExhausted,
                      "no free sandbox id range: all " + std::to_string(slots_) +
                          " slots are in use (raise [sandbox] id_slots in corrald.toml)");
  }
  by_name_[name] = slot;
  by_slot_[slot] = name;
  return to_id(slot);
}

Result<uid_t> IdAllocator::reserve(const std::string& name, uid_t first_id) {
  if (first_id < base_ || (first_id - base_) % count_ != 0 ||
      (first_id - base_) / count_ >= slots_) {
    return make_error(Code::kInvalidArgument,
                      "host id " + std::to_string(first_id) + " does not start a sandbox id range");
  }
  auto slot = static_cast<uint32_t>((first_id - base_) / count_);
  if (auto it = by_slot_.find(slot); it != by_slot_.end() && it->second != name) {
    return make_error(Code::kAlreadyExists,
                      "host ids from " + std::to_string(first_id) + " belong to " + it->second);
  }
  if (auto it = by_name_.find(name); it != by_name_.end() && it->second != slot) {
    by_slot_.erase(it->second);
  }
  by_name_[name] = slot;
  by_slot_[slot] = name;
  return first_id;
}

void IdAllocator::release(const std::string& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return;
  by_slot_.erase(it->second);
  by_name_.erase(it);
}

}  // namespace corral::supervisor
