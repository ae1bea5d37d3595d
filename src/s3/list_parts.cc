#include "s3/list_parts.h"

#include <algorithm>

namespace s3disk {

ListParts::ListParts(std::vector<std::string> cuts, size_t workers) : cuts_(std::move(cuts)) {
  const size_t bounds = cuts_.size() + 1;  // the end's index
  const size_t parts = std::clamp<size_t>(workers, 1, bounds);
  made_ = parts;
  for (size_t k = 0; k < parts; k++)
    queue_.push_back(Part{k * bounds / parts, (k + 1) * bounds / parts});
}

const std::string& ListParts::Bound(size_t i) const {
  return i == 0 || i > cuts_.size() ? none_ : cuts_[i - 1];
}

std::optional<ListParts::Part> ListParts::Take() {
  MutexLock lock(mu_);
  while (queue_.empty() && taken_ > 0 && failed_.ok()) {
    idle_++;
    cv_.wait(mu_);
    idle_--;
  }
  if (queue_.empty() || !failed_.ok()) return std::nullopt;
  Part p = queue_.front();
  queue_.pop_front();
  taken_++;
  return p;
}

bool ListParts::Split(Part* p, const std::string& last) {
  MutexLock lock(mu_);
  if (idle_ == 0 || !failed_.ok()) return false;
  // The first bound above last, and never p's own lower bound.
  size_t above =
      static_cast<size_t>(std::upper_bound(cuts_.begin(), cuts_.end(), last) - cuts_.begin()) + 1;
  size_t low = std::max(above, p->lo + 1);
  if (low >= p->hi) return false;
  size_t mid = (low + p->hi) / 2;
  queue_.push_back(Part{mid, p->hi});
  made_++;
  p->hi = mid;
  cv_.notify_one();
  return true;
}

size_t ListParts::parts_made() {
  MutexLock lock(mu_);
  return made_;
}

size_t ListParts::TEST_idle_workers() {
  MutexLock lock(mu_);
  return idle_;
}

void ListParts::Done(const Status& st) {
  MutexLock lock(mu_);
  taken_--;
  if (!st.ok() && failed_.ok()) {
    failed_ = st;
    queue_.clear();
  }
  cv_.notify_all();
}

Status ListParts::status() {
  MutexLock lock(mu_);
  return failed_;
}

}  // namespace s3disk
