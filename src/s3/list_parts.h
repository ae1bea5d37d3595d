// ListParts: hands out the parts of one key listing to the threads that list it side by side.
//
// The caller's cuts (sorted keys) number the bounds: bound 0 is the start, bound i the cut
// cuts[i - 1], bound cuts.size() + 1 the end. A part [lo, hi) is the keys from bound lo up to,
// not including, bound hi. The listing starts as up to `workers` parts of equal numbers of
// cuts. When a worker is idle, a part still being listed is split at its middle cut above the
// last key listed: keys bunched between a few cuts still end up spread over the threads.
//
// States of a part: queued (in queue_) or taken (by one worker, which alone changes it, through
// Split). Invariants: the queued and taken parts are disjoint and, with the keys already
// listed, cover the whole listing; idle_ counts the workers waiting in Take; once failed_ is
// set (a worker failed), the queue is empty and Take hands out nothing more.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/sync.h"

namespace s3disk {

class ListParts {
 public:
  struct Part {
    size_t lo = 0, hi = 0;
  };

  ListParts(std::vector<std::string> cuts, size_t workers);

  // "" for the start and the end.
  const std::string& Bound(size_t i) const;
  // The next part to list; waits while other workers may still split theirs. nullopt: nothing
  // is left (or a worker failed).
  std::optional<Part> Take();
  // The worker of *p has listed up to `last` and has more to list: if a worker is idle, *p keeps
  // its lower half (above last) and the upper half is queued. Returns true if it split.
  bool Split(Part* p, const std::string& last);
  // The worker is done with its part; a failure stops the listing.
  void Done(const Status& st);
  // The first failure passed to Done, else ok.
  Status status();
  // Parts made so far: the first ones and the splits.
  size_t parts_made();
  // For tests: workers waiting in Take.
  size_t TEST_idle_workers();

 private:
  const std::vector<std::string> cuts_;
  const std::string none_;
  Mutex mu_;
  CondVar cv_;
  std::deque<Part> queue_ GUARDED_BY(mu_);
  size_t taken_ GUARDED_BY(mu_) = 0;
  size_t idle_ GUARDED_BY(mu_) = 0;
  size_t made_ GUARDED_BY(mu_) = 0;
  Status failed_ GUARDED_BY(mu_);
};

}  // namespace s3disk
