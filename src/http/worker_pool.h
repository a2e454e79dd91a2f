// WorkerPool: threads for work that may block (a handler's outbound call, a PostgreSQL read,
// a streamed body's next piece), as many as the work needs. A task posted while every thread
// is busy starts a new thread, up to `max_threads`; a thread with nothing to do for
// `idle_timeout` ends. An idle server therefore holds no worker threads, and a busy one
// about one per task that is blocked at the moment.
//
// Thread-safe: Post() from any thread, Join() once, from the thread that owns the pool.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace tr::http {

class WorkerPool {
 public:
  WorkerPool(size_t max_threads, std::chrono::milliseconds idle_timeout);
  ~WorkerPool();  // Join()s
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs `task()` on a pool thread; tasks start in the order posted. `task` may be move-only
  // (a coroutine's completion handler is). After Join() the task runs nowhere.
  template <typename F>
  void Post(F&& task) {
    Enqueue(std::make_unique<Model<std::decay_t<F>>>(std::forward<F>(task)));
  }

  // Waits until every posted task has run and every thread has ended.
  void Join();

  // Threads running now (busy or idle), for tests and metrics.
  size_t Threads() const;

 private:
  struct Task {
    virtual ~Task() = default;
    virtual void Run() = 0;
  };
  template <typename F>
  struct Model final : Task {
    explicit Model(F f) : f_(std::move(f)) {}
    void Run() override { std::move(f_)(); }
    F f_;
  };

  void Enqueue(std::unique_ptr<Task> task);
  void Work();
  void JoinFinished();  // REQUIRES: mu_ not held

  const size_t max_threads_;
  const std::chrono::milliseconds idle_timeout_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;          // a task was queued, or the pool stops
  std::condition_variable idle_cv_;          // a thread ended
  std::deque<std::unique_ptr<Task>> tasks_;  // Guarded by mu_
  size_t threads_ = 0;                       // started and not yet ended. Guarded by mu_
  size_t idle_ = 0;                          // waiting for a task. Guarded by mu_
  bool stopping_ = false;                    // Guarded by mu_
  std::vector<std::thread> running_;         // Guarded by mu_
  std::vector<std::thread> finished_;        // ended, to be joined. Guarded by mu_
};

}  // namespace tr::http
