// The deadline sweeper.
#include "http/sweeper.h"

#include <vector>

namespace stratus::http {

Sweeper::Sweeper(net::any_io_executor ex, std::chrono::milliseconds period)
    : state_(std::make_shared<State>(std::move(ex))), period_(period) {}

Sweeper::~Sweeper() {
  state_->alive = false;
  state_->entries.clear();
  state_->timer.cancel();
}

void Deadline::arm_at(Clock::time_point t) {
  at_ = t;
  if (sweeper_) sweeper_->wake();
}

void Sweeper::add(Deadline* d) {
  d->sweeper_ = this;
  state_->entries.insert(d);
}

void Sweeper::remove(Deadline* d) {
  d->sweeper_ = nullptr;
  state_->entries.erase(d);
}

void Sweeper::wake() {
  if (state_->running || !state_->alive) return;
  state_->running = true;
  net::co_spawn(state_->timer.get_executor(), run(state_, period_), net::detached);
}

Task<void> Sweeper::run(std::shared_ptr<State> s, std::chrono::milliseconds period) {
  std::vector<Deadline*> due;
  bool armed = true;
  while (s->alive && armed) {
    s->timer.expires_after(period);
    co_await s->timer.async_wait(use_tuple);
    if (!s->alive) co_return;
    auto now = Deadline::Clock::now();
    due.clear();
    armed = false;
    for (auto* d : s->entries) {
      if (d->at_ == Deadline::Clock::time_point::max()) continue;
      armed = true;
      if (d->at_ <= now && !d->expired_) due.push_back(d);
    }
    for (auto* d : due) {
      if (!s->entries.contains(d)) continue;  // removed by an earlier expiry's callback
      d->expired_ = true;
      d->at_ = Deadline::Clock::time_point::max();
      d->on_expired();
    }
  }
  s->running = false;
}

}  // namespace stratus::http
