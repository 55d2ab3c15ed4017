// Coarse deadlines for socket operations. Setting a deadline is a store; one timer per
// sweeper wakes every `period` and expires what is overdue. This replaces a timer armed and
// cancelled around every read and write (a timerfd update and two extra handler dispatches
// each), at the price of timeouts that fire up to one period late.
#pragma once

#include <chrono>
#include <memory>
#include <unordered_set>

#include "http/asio.h"

namespace stratus::http {

class Sweeper;

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~Deadline() = default;

  void arm(std::chrono::milliseconds d) { arm_at(Clock::now() + d); }
  void arm_at(Clock::time_point t);
  void disarm() { at_ = Clock::time_point::max(); }
  bool expired() const { return expired_; }
  void reset_expired() { expired_ = false; }

 protected:
  // Called once the deadline has passed: cancel or close the socket so the pending operation
  // completes with an error.
  virtual void on_expired() = 0;

 private:
  friend class Sweeper;
  Sweeper* sweeper_ = nullptr;
  Clock::time_point at_ = Clock::time_point::max();
  bool expired_ = false;
};

class Sweeper {
 public:
  Sweeper(net::any_io_executor ex, std::chrono::milliseconds period);
  ~Sweeper();
  Sweeper(const Sweeper&) = delete;
  Sweeper& operator=(const Sweeper&) = delete;

  void add(Deadline* d);
  void remove(Deadline* d);
  // Starts the periodic sweep if it is not running (it stops when nothing is armed, so an
  // idle io_context runs out of work).
  void wake();

 private:
  struct State {
    explicit State(net::any_io_executor ex) : timer(std::move(ex)) {}
    net::steady_timer timer;
    std::unordered_set<Deadline*> entries;
    bool alive = true;
    bool running = false;
  };
  static Task<void> run(std::shared_ptr<State> s, std::chrono::milliseconds period);

  std::shared_ptr<State> state_;
  std::chrono::milliseconds period_;
};

}  // namespace stratus::http
