// TransferLoop: the pool of outbound connections. One libcurl multi handle, driven by one
// thread of its own, runs every outbound transfer of a CurlHttpClient, so that connections
// (and their TLS sessions) are kept open and reused by later calls to the same origin
// (scheme, host and port), whichever thread makes them. Bounded: at most
// `max_per_origin` connections to one origin and `max_total` in all; a transfer beyond them
// waits for a free connection (its connect timeout counts the wait). A connection idle for
// `idle_timeout` is closed. TLS sessions and DNS answers are kept in a share of the loop's
// own, so a new connection to a known origin resumes its TLS session.
//
// Nothing blocks on the loop thread: a transfer's callbacks run there and must return at
// once (a body that cannot take more data pauses the transfer; Resume() goes on).
// Thread-safe: Start(), Resume() and Cancel() from any thread.
#pragma once

#include <chrono>
#include <memory>

#include <curl/curl.h>

namespace tr::net {

class TransferLoop;

// One transfer: an easy handle set up by its owner, and what happens when it ends. The easy
// handle comes from the loop's cache of used ones (reset), and goes back there.
class Transfer {
 public:
  explicit Transfer(const TransferLoop& loop);
  virtual ~Transfer();
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  // The easy handle (null when libcurl could not make one). Set it up before Start(); read
  // its results (CURLINFO_*) after Done() ran.
  CURL* easy() const { return easy_; }

  // Runs once on the loop thread when the transfer has ended and left the multi handle:
  // CURLE_OK, curl's error (CURLE_OPERATION_TIMEDOUT too when it got no connection within
  // its connect timeout), or CURLE_ABORTED_BY_CALLBACK when it was cancelled or the loop
  // stopped.
  virtual void Done(CURLcode rc) = 0;

 protected:
  // For the transfer's callbacks (on the loop thread): Wake() is to run once curl has done
  // what it can for now, so that a head, its body and the end, arriving together, wake a
  // waiting thread once rather than three times.
  void WakeLater();
  // Wakes whoever waits for this transfer. Runs on the loop thread.
  virtual void Wake() {}

 private:
  friend class TransferLoop;
  struct Shared;
  std::shared_ptr<Shared> shared_;  // outlives easy_, which uses it
  CURL* easy_;
  // The loop thread's own bookkeeping.
  bool in_multi_ = false;
  bool connected_ = false;  // CURLOPT_PREREQFUNCTION ran: it has a connection
  bool wake_pending_ = false;
  std::chrono::steady_clock::time_point connect_deadline_;
};

struct PoolLimits {
  long max_per_origin = 32;  // connections to one origin (curl's "host": name and port)
  long max_total = 256;      // connections in all
  std::chrono::seconds idle_timeout{30};
};

class TransferLoop {
 public:
  explicit TransferLoop(PoolLimits limits);
  // Stops the thread; transfers still running end with CURLE_ABORTED_BY_CALLBACK.
  ~TransferLoop();
  TransferLoop(const TransferLoop&) = delete;
  TransferLoop& operator=(const TransferLoop&) = delete;

  // Sets on the transfer's easy handle what the loop needs of every transfer (its share of
  // TLS sessions and DNS, the idle limit of reused connections). Call before Start().
  void Prepare(Transfer& transfer) const;

  // Runs `transfer` (its easy handle set up). It must get a connection within
  // `connect_timeout` (curl's own timeouts take over from there). The loop holds `transfer`
  // until Done() ran. With a null easy handle Done() runs at once with CURLE_OUT_OF_MEMORY.
  void Start(std::shared_ptr<Transfer> transfer, std::chrono::milliseconds connect_timeout);
  // Unpauses `transfer` (both directions) if it is still running. A no-op otherwise.
  void Resume(const std::shared_ptr<Transfer>& transfer);
  // Ends `transfer` if it is still running: its connection is closed, Done() gets
  // CURLE_ABORTED_BY_CALLBACK. A no-op otherwise.
  void Cancel(const std::shared_ptr<Transfer>& transfer);

 private:
  friend class Transfer;
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tr::net
