// BlockAllSignals: every signal blocked in the calling thread for its scope. A thread created
// inside it starts with every signal blocked, so process-directed signals (systemd's SIGTERM)
// only ever reach the thread meant to handle them: corrald's event loop. Without it a SIGTERM
// arriving while corrald tears down could land on a helper thread with the default action.
#pragma once

#include <pthread.h>
#include <signal.h>

namespace corral {

class BlockAllSignals {
 public:
  BlockAllSignals() {
    sigset_t all;
    sigfillset(&all);
    // Fails only for an invalid `how`, which this is not.
    (void)::pthread_sigmask(SIG_SETMASK, &all, &old_);
  }
  ~BlockAllSignals() { (void)::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  BlockAllSignals(const BlockAllSignals&) = delete;
  BlockAllSignals& operator=(const BlockAllSignals&) = delete;

 private:
  sigset_t old_{};
};

}  // namespace corral
