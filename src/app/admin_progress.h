// Progress reports of the admin modes (--erase, --verify, --summary; admin.h).
//
// On a terminal (stderr is a tty) one line on stderr that updates in place ("\r", the
// percentage, the count, the rate); otherwise a plain log line about every 10% of the work or
// every 5 s, whichever comes first, so a log file or a CI transcript stays short. The
// formatting and the "is a log line due" decision are pure functions, unit-tested; Progress
// only adds the clock, the lock and the output.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/sync.h"

namespace s3disk {

// A log line is due after this much of the work (in percent) or this much time.
inline constexpr uint64_t kProgressLogPercent = 10;
inline constexpr int64_t kProgressLogIntervalMs = 5000;
// A terminal line is redrawn at most this often (and always at the end).
inline constexpr int64_t kProgressRedrawMs = 200;

// A total not known in advance (the keys of a listing): lines show the count and the rate.
inline constexpr uint64_t kProgressUnknownTotal = UINT64_MAX;

// "verify: 45% 450/1000 blocks, 120 blocks/s", or with kProgressUnknownTotal "summary: 4500
// keys listed, 900 keys listed/s". total 0 counts as done (100%). The rate is
// done per second over elapsed_ms; it is left out while elapsed_ms is 0. Rates under 10 keep
// one decimal ("2.5 blocks/s").
std::string FormatProgress(std::string_view what, std::string_view unit, uint64_t done,
                           uint64_t total, int64_t elapsed_ms);

// Whether a plain log gets a line now: the work is finished (done >= total) and last_done was
// not (total 0: never; Finish shows it), or done has moved by kProgressLogPercent of total since
// the last line (last_done), or kProgressLogIntervalMs have passed since it (last_ms) and done has
// moved (with kProgressUnknownTotal, only the last).
bool ProgressLogDue(uint64_t last_done, int64_t last_ms, uint64_t done, uint64_t total,
                    int64_t now_ms);

class Progress {
 public:
  enum class Mode {
    kTerminal,  // one updating line on stderr
    kLog,       // LOG_INFO lines every ~10% or 5 s
    kQuiet,     // nothing (tests that only count)
  };
  // kTerminal when stderr is a terminal, else kLog.
  static Mode ModeForStderr();

  // Receives every line the mode decided to show; final is true for the last one (from
  // Finish). Tests pass a sink; the default redraws the terminal line on stderr ("\r" ... and
  // a newline after the final one) or logs the line with LOG_INFO.
  using Sink = std::function<void(const std::string& line, bool final)>;

  // what: "verify"; unit: "blocks".
  Progress(std::string what, std::string unit, uint64_t total, Clock& clock, Mode mode,
           Sink sink = nullptr);

  // Counts n more units done. Thread-safe.
  void Add(uint64_t n);
  // Shows the final state (on a terminal: the last redraw and a newline). Call once.
  void Finish();

  uint64_t done() const;

 private:
  void Emit(const std::string& line, bool final);

  const std::string what_;
  const std::string unit_;
  const uint64_t total_;
  Clock& clock_;
  const Mode mode_;
  const Sink sink_;
  const int64_t start_ms_;

  mutable Mutex mu_;
  uint64_t done_ GUARDED_BY(mu_) = 0;
  uint64_t last_done_ GUARDED_BY(mu_) = 0;  // at the last line shown
  int64_t last_ms_ GUARDED_BY(mu_) = 0;     // when it was shown
  bool finished_ GUARDED_BY(mu_) = false;
};

}  // namespace s3disk
