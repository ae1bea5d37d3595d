// Progress: a counter and the time of the last line shown; no other state.
//
// Invariants
//   | what                                      | holds because                            |
//   |-------------------------------------------|------------------------------------------|
//   | lines never interleave                    | Emit runs under mu_ (output, not a layer |
//   |                                           |   below: nothing else is called)         |
//   | a terminal is redrawn <= 5 times a second | kProgressRedrawMs since last_ms_         |
//   | a log gets ~10 lines, never one per unit  | ProgressLogDue                           |
//   | the final state is always shown once      | Finish emits with final = true, once     |
#include "app/admin_progress.h"

#include <unistd.h>

#include <cinttypes>
#include <cstdio>

#include "base/log.h"

namespace s3disk {

std::string FormatProgress(std::string_view what, std::string_view unit, uint64_t done,
                           uint64_t total, int64_t elapsed_ms) {
  uint64_t percent = total == 0 ? 100 : (done >= total ? 100 : done * 100 / total);
  char buf[160];
  if (total == kProgressUnknownTotal) {
    snprintf(buf, sizeof buf, "%.*s: %" PRIu64 " %.*s", static_cast<int>(what.size()), what.data(),
             done, static_cast<int>(unit.size()), unit.data());
  } else {
    snprintf(buf, sizeof buf, "%.*s: %3" PRIu64 "%% %" PRIu64 "/%" PRIu64 " %.*s",
             static_cast<int>(what.size()), what.data(), percent, done, total,
             static_cast<int>(unit.size()), unit.data());
  }
  std::string out = buf;
  if (elapsed_ms > 0) {
    double rate = static_cast<double>(done) * 1000.0 / static_cast<double>(elapsed_ms);
    snprintf(buf, sizeof buf, rate < 10 ? ", %.1f %.*s/s" : ", %.0f %.*s/s", rate,
             static_cast<int>(unit.size()), unit.data());
    out += buf;
  }
  return out;
}

bool ProgressLogDue(uint64_t last_done, int64_t last_ms, uint64_t done, uint64_t total,
                    int64_t now_ms) {
  if (done >= total) return last_done < total;
  if (done <= last_done) return false;
  if (total == kProgressUnknownTotal) return now_ms - last_ms >= kProgressLogIntervalMs;
  if ((done - last_done) * 100 >= total * kProgressLogPercent) return true;
  return now_ms - last_ms >= kProgressLogIntervalMs;
}

Progress::Mode Progress::ModeForStderr() {
  return isatty(STDERR_FILENO) ? Mode::kTerminal : Mode::kLog;
}

Progress::Progress(std::string what, std::string unit, uint64_t total, Clock& clock, Mode mode,
                   Sink sink)
    : what_(std::move(what)),
      unit_(std::move(unit)),
      total_(total),
      clock_(clock),
      mode_(mode),
      sink_(std::move(sink)),
      start_ms_(clock.NowMs()) {
  MutexLock lock(mu_);
  last_ms_ = start_ms_;
}

uint64_t Progress::done() const {
  MutexLock lock(mu_);
  return done_;
}

void Progress::Emit(const std::string& line, bool final) {
  if (sink_) {
    sink_(line, final);
  } else if (mode_ == Mode::kTerminal) {
    fprintf(stderr, "\r%s\033[K%s", line.c_str(), final ? "\n" : "");
    fflush(stderr);
  } else {
    LOG_INFO("%s", line.c_str());
  }
}

void Progress::Add(uint64_t n) {
  if (mode_ == Mode::kQuiet) {
    MutexLock lock(mu_);
    done_ += n;
    return;
  }
  int64_t now = clock_.NowMs();
  MutexLock lock(mu_);
  done_ += n;
  bool due = false;
  if (mode_ == Mode::kTerminal) {
    due = now - last_ms_ >= kProgressRedrawMs && done_ < total_;
  } else {
    // The 100% line is left to Finish, so it shows once.
    due = done_ < total_ && ProgressLogDue(last_done_, last_ms_, done_, total_, now);
  }
  if (!due) return;
  last_done_ = done_;
  last_ms_ = now;
  Emit(FormatProgress(what_, unit_, done_, total_, now - start_ms_), false);
}

void Progress::Finish() {
  int64_t now = clock_.NowMs();
  MutexLock lock(mu_);
  if (finished_ || mode_ == Mode::kQuiet) return;
  finished_ = true;
  Emit(FormatProgress(what_, unit_, done_, total_, now - start_ms_), true);
}

}  // namespace s3disk
