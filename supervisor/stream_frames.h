// Sending a backlog as a stream (logs, events): items split over Responses that each stay under
// a byte budget (half the frame cap), every frame but the last with more = true, the last with
// more = `follow`; and the template of the frames a follower sends afterwards.
#pragma once

#include <cstddef>
#include <memory>

#include "corral/v1/control.pb.h"
#include "proto/status.h"

namespace corral::supervisor {

// send(frame) queues one frame; size(item) estimates an item's wire size; add(resp, item)
// appends it; clear(resp) empties the list.
template <class Send, class Range, class Size, class Add, class Clear>
void send_split(const Send& send, v1::Response& resp, const Range& items, size_t budget,
                bool follow, Size size, Add add, Clear clear) {
  size_t used = 0;
  size_t in_frame = 0;
  for (const auto& item : items) {
    size_t n = size(item);
    if (used + n > budget && in_frame > 0) {
      resp.set_more(true);
      proto::set_ok(resp);
      send(resp);
      clear(resp);
      used = 0;
      in_frame = 0;
    }
    add(resp, item);
    used += n;
    ++in_frame;
  }
  resp.set_more(follow);
  proto::set_ok(resp);
  send(resp);
}

// An OK frame of the same request with more = true, for a follower's new items.
[[nodiscard]] inline v1::Response follow_frame(const v1::Response& resp) {
  v1::Response tmpl;
  tmpl.set_id(resp.id());
  tmpl.set_correlation_id(resp.correlation_id());
  tmpl.set_more(true);
  proto::set_ok(tmpl);
  return tmpl;
}

}  // namespace corral::supervisor
