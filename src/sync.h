// Mutex wrappers with thread-safety annotations. Under clang, -Wthread-safety checks that a
// field marked GUARDED_BY(mu_) is only touched with mu_ held; under g++ they document intent.
#pragma once

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

namespace s3disk {

class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : lock_(mu.native()) {}
  ~MutexLock() RELEASE() {}
  // For condition variables: cv.wait(lock.native()).
  std::unique_lock<std::mutex>& native() { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace s3disk
