#include "http/worker_pool.h"

#include <algorithm>

namespace tr::http {

WorkerPool::WorkerPool(size_t max_threads, std::chrono::milliseconds idle_timeout)
    : max_threads_(std::max<size_t>(1, max_threads)), idle_timeout_(idle_timeout) {}

WorkerPool::~WorkerPool() { Join(); }

void WorkerPool::Enqueue(std::unique_ptr<Task> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
    // Each idle thread takes one queued task; a task beyond them gets a thread of its own.
    if (tasks_.size() > idle_ && threads_ < max_threads_) {
      ++threads_;
      running_.emplace_back([this] { Work(); });
    } else {
      work_cv_.notify_one();
    }
  }
  JoinFinished();
}

void WorkerPool::Work() {
  std::unique_lock lock(mu_);
  while (true) {
    if (!tasks_.empty()) {
      std::unique_ptr<Task> task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task->Run();
      task.reset();
      lock.lock();
      continue;
    }
    if (stopping_) break;
    ++idle_;
    const bool woken =
        work_cv_.wait_for(lock, idle_timeout_, [this] { return !tasks_.empty() || stopping_; });
    --idle_;
    if (!woken) break;  // idle for too long
  }
  // Hand this thread's handle to whoever joins next (a later Post, or Join).
  const auto self = std::this_thread::get_id();
  auto it = std::find_if(running_.begin(), running_.end(),
                         [self](const std::thread& t) { return t.get_id() == self; });
  if (it != running_.end()) {
    finished_.push_back(std::move(*it));
    running_.erase(it);
  }
  --threads_;
  idle_cv_.notify_all();
}

void WorkerPool::JoinFinished() {
  std::vector<std::thread> finished;
  {
    std::lock_guard lock(mu_);
    finished.swap(finished_);
  }
  for (std::thread& t : finished) t.join();
}

void WorkerPool::Join() {
  {
    std::unique_lock lock(mu_);
    stopping_ = true;
    work_cv_.notify_all();
    idle_cv_.wait(lock, [this] { return threads_ == 0; });
  }
  JoinFinished();
}

size_t WorkerPool::Threads() const {
  std::lock_guard lock(mu_);
  return threads_;
}

}  // namespace tr::http
