// The Clock seam: layers that wait or time things take a Clock, so unit tests drive time with
// FakeClock instead of sleeping.
#pragma once

#include <chrono>
#include <cstdint>

#include "base/sync.h"

namespace s3disk {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic milliseconds since an arbitrary start.
  virtual int64_t NowMs() = 0;
  // Wall-clock seconds since the Unix epoch (for dates written to the bucket).
  virtual int64_t WallSeconds() = 0;
  virtual void SleepMs(int64_t ms) = 0;

  // The process-wide real clock.
  static Clock& Real();
};

// Time moves only when a test says so; SleepMs advances it instead of blocking.
class FakeClock : public Clock {
 public:
  int64_t NowMs() override;
  int64_t WallSeconds() override;
  void SleepMs(int64_t ms) override { Advance(ms); }
  void Advance(int64_t ms);

 private:
  Mutex mu_;
  int64_t now_ms_ GUARDED_BY(mu_) = 1'000'000;
};

}  // namespace s3disk
