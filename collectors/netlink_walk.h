// Walking a buffer of netlink messages without the NLMSG_* casting macros: each header is
// copied out (no alignment assumed) and checked against the bytes actually received.
#pragma once

#include <linux/netlink.h>

#include <cstddef>
#include <cstring>

namespace corral::collectors {

// Calls f(header, payload, payload_len) for each complete message in buf[0, len).
template <class F>
void for_each_nlmsg(const char* buf, size_t len, F&& f) {
  size_t off = 0;
  while (len - off >= sizeof(nlmsghdr)) {
    nlmsghdr h;
    std::memcpy(&h, buf + off, sizeof h);
    if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len - off) return;
    f(h, buf + off + NLMSG_HDRLEN, static_cast<size_t>(h.nlmsg_len - NLMSG_HDRLEN));
    size_t step = NLMSG_ALIGN(h.nlmsg_len);
    if (step > len - off) return;
    off += step;
  }
}

}  // namespace corral::collectors
