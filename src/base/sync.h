// Mutex wrappers with thread-safety annotations. Under clang, -Wthread-safety checks that a
// field marked GUARDED_BY(mu_) is only touched with mu_ held (CI builds with it and -Werror);
// under g++ they document intent. Every lock and unlock goes through these classes, so the
// analysis sees all of them: a call that must run unlocked uses a MutexUnlock scope, a wait
// on a condition a CondVar.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define S3DISK_TSA(x) __attribute__((x))
#else
#define S3DISK_TSA(x)
#endif

#define CAPABILITY(x) S3DISK_TSA(capability(x))
#define GUARDED_BY(x) S3DISK_TSA(guarded_by(x))
#define REQUIRES(...) S3DISK_TSA(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) S3DISK_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) S3DISK_TSA(release_capability(__VA_ARGS__))
#define EXCLUDES(...) S3DISK_TSA(locks_excluded(__VA_ARGS__))
#define SCOPED_CAPABILITY S3DISK_TSA(scoped_lockable)
// For what the analysis cannot follow (a run of mutexes taken in a loop): say why at each use.
#define NO_THREAD_SAFETY_ANALYSIS S3DISK_TSA(no_thread_safety_analysis)

namespace s3disk {

class CondVar;

class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds mu from construction to the end of the scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// The reverse: releases mu (held by the caller) from construction to the end of the scope,
// for a call that must not run under it; takes it again on the way out, even by an exception.
class SCOPED_CAPABILITY MutexUnlock {
 public:
  explicit MutexUnlock(Mutex& mu) RELEASE(mu) : mu_(mu) { mu_.unlock(); }
  ~MutexUnlock() RELEASE() { mu_.lock(); }  // (the analysis knows a scoped unlock relocks)
  MutexUnlock(const MutexUnlock&) = delete;
  MutexUnlock& operator=(const MutexUnlock&) = delete;

 private:
  Mutex& mu_;
};

// std::condition_variable for a Mutex the caller holds (the waits release it meanwhile and
// return with it held again, as the analysis assumes). A predicate reads guarded fields, so
// its lambda is annotated too: [&]() REQUIRES(mu_) { ... }.
class CondVar {
 public:
  void wait(Mutex& mu) REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();  // locked again: the caller's
  }
  // The analysis does not see that ready() runs with mu held (ready's own REQUIRES says it).
  template <class Predicate>
  void wait(Mutex& mu, Predicate ready) REQUIRES(mu) NO_THREAD_SAFETY_ANALYSIS {
    while (!ready()) wait(mu);
  }
  // Returns false on timeout.
  template <class Rep, class Period>
  bool wait_for(Mutex& mu, const std::chrono::duration<Rep, Period>& timeout) REQUIRES(mu) {
    return WaitUntil(mu, Deadline(timeout));
  }
  // Returns ready(): false if the timeout passed with it still false.
  template <class Rep, class Period, class Predicate>
  bool wait_for(Mutex& mu, const std::chrono::duration<Rep, Period>& timeout, Predicate ready)
      REQUIRES(mu) NO_THREAD_SAFETY_ANALYSIS {
    const auto deadline = Deadline(timeout);
    while (!ready()) {
      if (!WaitUntil(mu, deadline)) return ready();
    }
    return true;
  }
  void notify_one() noexcept { cv_.notify_one(); }
  void notify_all() noexcept { cv_.notify_all(); }

 private:
  template <class Rep, class Period>
  static std::chrono::steady_clock::time_point Deadline(
      const std::chrono::duration<Rep, Period>& timeout) {
    return std::chrono::steady_clock::now() +
           std::chrono::ceil<std::chrono::steady_clock::duration>(timeout);
  }
  bool WaitUntil(Mutex& mu, std::chrono::steady_clock::time_point deadline) REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    const std::cv_status st = cv_.wait_until(lock, deadline);
    lock.release();
    return st == std::cv_status::no_timeout;
  }

  std::condition_variable cv_;
};

}  // namespace s3disk
