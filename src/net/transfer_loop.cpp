#include "net/transfer_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include <spdlog/spdlog.h>

namespace tr::net {

namespace {

using Clock = std::chrono::steady_clock;

// The longest the loop sleeps without looking at its deadlines.
constexpr std::chrono::milliseconds kMaxPoll{1000};

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The longest the loop keeps used easy handles for new transfers.
constexpr size_t kMaxIdleHandles = 32;

// The transfers whose callbacks asked for a Wake() during the loop thread's current step.
// The loop thread's own (callbacks run on it).
thread_local std::vector<Transfer*> to_wake;

}  // namespace

// What every transfer of one loop shares: TLS sessions and DNS answers (a curl share), and
// used easy handles, reset, for new transfers (each keeps its buffers). The loop thread is
// the only one that runs transfers, but easy handles are set up and cleaned up on others,
// and both touch the share: it has a lock per kind of data, as curl asks.
struct Transfer::Shared {
  Shared() : share(curl_share_init()) {
    if (!share) throw std::runtime_error("cannot create a curl share");
    curl_share_setopt(share, CURLSHOPT_LOCKFUNC, Lock);
    curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, Unlock);
    curl_share_setopt(share, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  }
  ~Shared() {
    for (CURL* easy : idle) curl_easy_cleanup(easy);
    curl_share_cleanup(share);
  }

  CURL* Take() {
    {
      std::lock_guard lock(idle_mu);
      if (!idle.empty()) {
        CURL* easy = idle.back();
        idle.pop_back();
        return easy;
      }
    }
    return curl_easy_init();
  }
  void Give(CURL* easy) {
    curl_easy_reset(easy);
    {
      std::lock_guard lock(idle_mu);
      if (idle.size() < kMaxIdleHandles) {
        idle.push_back(easy);
        return;
      }
    }
    curl_easy_cleanup(easy);
  }

  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Shared*>(user)->locks[static_cast<size_t>(data)].lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Shared*>(user)->locks[static_cast<size_t>(data)].unlock();
  }

  CURLSH* share;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;
  std::mutex idle_mu;
  std::vector<CURL*> idle;  // Guarded by idle_mu
};

class TransferLoop::Impl {
 public:
  struct Command {
    enum Kind { kStart, kResume, kCancel } kind;
    std::shared_ptr<Transfer> transfer;
    std::chrono::milliseconds connect_timeout;
  };

  explicit Impl(PoolLimits limits)
      : limits_(limits),
        shared_(std::make_shared<Transfer::Shared>()),
        wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (wake_fd_ < 0) throw std::runtime_error("cannot create an eventfd");
    multi_ = NewMulti();
    thread_ = std::thread([this] { Run(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    Wake();
    thread_.join();
    curl_multi_cleanup(multi_);
    close(wake_fd_);
  }

  const std::shared_ptr<Transfer::Shared>& shared() const { return shared_; }

  void Prepare(Transfer& t) const {
    if (!t.easy_) return;
    curl_easy_setopt(t.easy_, CURLOPT_SHARE, shared_->share);
    curl_easy_setopt(t.easy_, CURLOPT_MAXAGE_CONN, static_cast<long>(limits_.idle_timeout.count()));
  }

  void Post(Command::Kind kind, std::shared_ptr<Transfer> t, std::chrono::milliseconds timeout) {
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        inbox_.push_back(Command{kind, std::move(t), timeout});
        t = nullptr;
      }
    }
    if (!t) {
      Wake();
    } else if (kind == Command::kStart) {
      t->Done(CURLE_ABORTED_BY_CALLBACK);  // the loop has stopped
    }
  }

 private:
  CURLM* NewMulti() const {
    CURLM* multi = curl_multi_init();
    if (!multi) throw std::runtime_error("cannot create a curl multi handle");
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, limits_.max_per_origin);
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, limits_.max_total);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, limits_.max_total);
    return multi;
  }

  // Makes the loop thread look at its inbox; one write however many commands wait.
  void Wake() {
    if (!wake_pending_.exchange(true)) {
      uint64_t one = 1;
      [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
    }
  }

  void Run() {
    while (true) {
      std::vector<Command> commands;
      bool stopping;
      wake_pending_ = false;
      {
        std::lock_guard lock(mu_);
        commands.swap(inbox_);
        stopping = stopping_;
      }
      for (Command& c : commands) Apply(c);
      WakeAll();  // a resumed transfer may have delivered data at once
      if (stopping) break;
      int still_running = 0;
      curl_multi_perform(multi_, &still_running);
      // The ended first: a transfer whose head, body and end came in this step hears of it
      // once, in Done(), rather than a Wake() with its body seemingly still under way.
      ReadDone();
      WakeAll();
      const auto now = Clock::now();
      const auto next_deadline = ExpireWaiting(now);
      CloseIdle(now);

      long curl_ms = -1;
      curl_multi_timeout(multi_, &curl_ms);
      auto wait = kMaxPoll;
      if (curl_ms >= 0) wait = std::min(wait, std::chrono::milliseconds(curl_ms));
      if (next_deadline) {
        wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(*next_deadline - now));
      }
      if (running_.empty() && pool_used_) {
        wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(
                                  idle_since_ + limits_.idle_timeout - now));
      }
      wait = std::max(wait, std::chrono::milliseconds(0));
      curl_waitfd wake{wake_fd_, CURL_WAIT_POLLIN, 0};
      int ready = 0;
      curl_multi_poll(multi_, &wake, 1, static_cast<int>(wait.count()), &ready);
      if (wake.revents) {
        uint64_t count;
        [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof count);
      }
    }
    // Stopping: whatever still runs or waits to start ends now.
    std::vector<std::shared_ptr<Transfer>> left;
    for (auto& [easy, t] : running_) left.push_back(t);
    for (auto& t : left) Finish(*t, CURLE_ABORTED_BY_CALLBACK);
    std::vector<Command> late;
    {
      std::lock_guard lock(mu_);
      late.swap(inbox_);
    }
    for (Command& c : late) {
      if (c.kind == Command::kStart) c.transfer->Done(CURLE_ABORTED_BY_CALLBACK);
    }
  }

  void Apply(Command& c) {
    Transfer& t = *c.transfer;
    switch (c.kind) {
      case Command::kStart: {
        if (!t.easy_) {
          t.Done(CURLE_OUT_OF_MEMORY);
          return;
        }
        curl_easy_setopt(t.easy_, CURLOPT_PREREQFUNCTION, OnPrereq);
        curl_easy_setopt(t.easy_, CURLOPT_PREREQDATA, &t);
        t.connect_deadline_ = Clock::now() + c.connect_timeout;
        if (CURLMcode rc = curl_multi_add_handle(multi_, t.easy_); rc != CURLM_OK) {
          spdlog::error("curl_multi_add_handle: {}", curl_multi_strerror(rc));
          t.Done(CURLE_FAILED_INIT);
          return;
        }
        t.in_multi_ = true;
        pool_used_ = true;
        running_.emplace(t.easy_, c.transfer);
        waiting_.push_back(c.transfer);
        return;
      }
      case Command::kResume:
        if (t.in_multi_) curl_easy_pause(t.easy_, CURLPAUSE_CONT);
        return;
      case Command::kCancel:
        if (t.in_multi_) Finish(t, CURLE_ABORTED_BY_CALLBACK);
        return;
    }
  }

  static void WakeAll() {
    for (Transfer* t : to_wake) {
      t->wake_pending_ = false;
      t->Wake();
    }
    to_wake.clear();
  }

  static int OnPrereq(void* user, char*, char*, int, int) {
    static_cast<Transfer*>(user)->connected_ = true;
    return CURL_PREREQFUNC_OK;
  }

  void ReadDone() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      auto it = running_.find(msg->easy_handle);
      if (it == running_.end()) continue;
      std::shared_ptr<Transfer> t = it->second;
      Finish(*t, msg->data.result);
    }
  }

  // Takes `t` out of the multi handle and tells it how it ended.
  void Finish(Transfer& t, CURLcode rc) {
    if (t.wake_pending_) {  // Done() tells it all, and the transfer may go with it
      std::erase(to_wake, &t);
      t.wake_pending_ = false;
    }
    curl_multi_remove_handle(multi_, t.easy_);
    t.in_multi_ = false;
    auto it = running_.find(t.easy_);
    std::shared_ptr<Transfer> keep = it->second;  // until Done() returned
    running_.erase(it);
    if (running_.empty()) idle_since_ = Clock::now();
    t.Done(rc);
  }

  // Ends the transfers that waited for a connection past their deadline (curl would leave a
  // transfer queued for a free connection forever). The earliest deadline still ahead.
  std::optional<Clock::time_point> ExpireWaiting(Clock::time_point now) {
    std::optional<Clock::time_point> next;
    std::vector<std::shared_ptr<Transfer>> expired;
    std::erase_if(waiting_, [&](const std::shared_ptr<Transfer>& t) {
      if (!t->in_multi_ || t->connected_) return true;
      if (t->connect_deadline_ <= now) {
        expired.push_back(t);
        return true;
      }
      if (!next || t->connect_deadline_ < *next) next = t->connect_deadline_;
      return false;
    });
    for (auto& t : expired) Finish(*t, CURLE_OPERATION_TIMEDOUT);
    return next;
  }

  // With no transfer for `idle_timeout`, closes every pooled connection (a new multi handle;
  // the share keeps the TLS sessions). While transfers run, curl itself closes connections
  // idle for longer (CURLOPT_MAXAGE_CONN) when it looks for one to reuse.
  void CloseIdle(Clock::time_point now) {
    if (!running_.empty() || !pool_used_ || now - idle_since_ < limits_.idle_timeout) return;
    curl_multi_cleanup(multi_);
    multi_ = NewMulti();
    pool_used_ = false;
  }

  const PoolLimits limits_;
  const std::shared_ptr<Transfer::Shared> shared_;
  const int wake_fd_;
  std::atomic<bool> wake_pending_{false};
  std::mutex mu_;
  std::vector<Command> inbox_;  // Guarded by mu_
  bool stopping_ = false;       // Guarded by mu_
  // The loop thread's own:
  CURLM* multi_ = nullptr;
  std::unordered_map<CURL*, std::shared_ptr<Transfer>> running_;
  std::vector<std::shared_ptr<Transfer>> waiting_;  // running, not yet connected
  Clock::time_point idle_since_ = Clock::now();
  bool pool_used_ = false;  // a transfer ran since the pool was last emptied
  std::thread thread_;
};

Transfer::Transfer(const TransferLoop& loop)
    : shared_(loop.impl_->shared()), easy_(shared_->Take()) {}

Transfer::~Transfer() {
  if (easy_) shared_->Give(easy_);
}

void Transfer::WakeLater() {
  if (!wake_pending_) {
    wake_pending_ = true;
    to_wake.push_back(this);
  }
}

TransferLoop::TransferLoop(PoolLimits limits) {
  GlobalInit();
  impl_ = std::make_unique<Impl>(limits);
}

TransferLoop::~TransferLoop() = default;

void TransferLoop::Prepare(Transfer& transfer) const { impl_->Prepare(transfer); }

void TransferLoop::Start(std::shared_ptr<Transfer> transfer,
                         std::chrono::milliseconds connect_timeout) {
  impl_->Post(Impl::Command::kStart, std::move(transfer), connect_timeout);
}

void TransferLoop::Resume(const std::shared_ptr<Transfer>& transfer) {
  impl_->Post(Impl::Command::kResume, transfer, {});
}

void TransferLoop::Cancel(const std::shared_ptr<Transfer>& transfer) {
  impl_->Post(Impl::Command::kCancel, transfer, {});
}

}  // namespace tr::net
