// WorkerPool: threads start when tasks wait and none is idle, up to the bound, and end when
// idle. Written to run under ThreadSanitizer too (cmake/tsan.cmake).
#include "http/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace tr::http {
namespace {

using namespace std::chrono_literals;

// A gate that tasks wait at until the test opens it.
class Gate {
 public:
  void Wait() {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }
  void AwaitWaiting(int n) {
    std::unique_lock lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, 5s, [&] { return waiting_ >= n; })) << waiting_ << " of " << n;
  }
  int Waiting() {
    std::lock_guard lock(mu_);
    return waiting_;
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  bool open_ = false;
};

template <typename Pred>
bool Eventually(Pred pred, std::chrono::milliseconds limit = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST(WorkerPoolTest, StartsNoThreadUntilWorkAndOneForTasksInTurn) {
  WorkerPool pool(64, 10s);
  EXPECT_EQ(pool.Threads(), 0u);
  for (int i = 0; i < 50; ++i) {
    std::atomic<bool> ran{false};
    pool.Post([&ran] { ran = true; });
    ASSERT_TRUE(Eventually([&] { return ran.load(); }));
  }
  // Each task found the last one's thread idle (or about to be).
  EXPECT_LE(pool.Threads(), 2u);
}

TEST(WorkerPoolTest, BlockedTasksEachGetAThreadUpToTheBound) {
  WorkerPool pool(4, 10s);
  Gate gate;
  std::atomic<int> done{0};
  for (int i = 0; i < 10; ++i) {
    pool.Post([&] {
      gate.Wait();
      ++done;
    });
  }
  gate.AwaitWaiting(4);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(gate.Waiting(), 4) << "no more than the bound run at once";
  EXPECT_EQ(pool.Threads(), 4u);
  gate.Open();
  ASSERT_TRUE(Eventually([&] { return done == 10; }));
}

TEST(WorkerPoolTest, IdleThreadsEnd) {
  WorkerPool pool(8, 50ms);
  Gate gate;
  for (int i = 0; i < 6; ++i) pool.Post([&] { gate.Wait(); });
  gate.AwaitWaiting(6);
  EXPECT_EQ(pool.Threads(), 6u);
  gate.Open();
  EXPECT_TRUE(Eventually([&] { return pool.Threads() == 0; })) << pool.Threads();
  // And it grows again.
  std::atomic<bool> ran{false};
  pool.Post([&] { ran = true; });
  EXPECT_TRUE(Eventually([&] { return ran.load(); }));
}

TEST(WorkerPoolTest, JoinRunsWhatIsQueuedAndTasksMayBeMoveOnly) {
  std::atomic<int> sum{0};
  {
    WorkerPool pool(2, 10s);
    for (int i = 1; i <= 100; ++i) {
      auto value = std::make_unique<int>(i);
      pool.Post([value = std::move(value), &sum] { sum += *value; });
    }
    pool.Join();
    EXPECT_EQ(sum, 5050);
    EXPECT_EQ(pool.Threads(), 0u);
  }
  EXPECT_EQ(sum, 5050);
}

TEST(WorkerPoolTest, ManyPostersAtOnce) {
  WorkerPool pool(16, 20ms);
  std::atomic<int> ran{0};
  std::vector<std::thread> posters;
  for (int p = 0; p < 8; ++p) {
    posters.emplace_back([&] {
      for (int i = 0; i < 500; ++i) pool.Post([&] { ++ran; });
    });
  }
  for (auto& t : posters) t.join();
  ASSERT_TRUE(Eventually([&] { return ran == 4000; }));
  EXPECT_LE(pool.Threads(), 16u);
}

}  // namespace
}  // namespace tr::http
