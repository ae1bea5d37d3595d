#include "base/clock.h"

#include <thread>

namespace s3disk {
namespace {

class RealClock : public Clock {
 public:
  int64_t NowMs() override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }
  int64_t WallSeconds() override {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
  }
  void SleepMs(int64_t ms) override { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
};

}  // namespace

Clock& Clock::Real() {
  static RealClock clock;
  return clock;
}

int64_t FakeClock::NowMs() {
  MutexLock lock(mu_);
  return now_ms_;
}

int64_t FakeClock::WallSeconds() {
  MutexLock lock(mu_);
  return 1'700'000'000 + now_ms_ / 1000;
}

void FakeClock::Advance(int64_t ms) {
  MutexLock lock(mu_);
  now_ms_ += ms;
}

}  // namespace s3disk
