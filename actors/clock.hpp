#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "messages/time.hpp"

namespace tenure {

/// The one source of domain time. Nothing else in Tenure reads the wall
/// clock: domain rules take `now` as an argument, actors ask their clock.
///
/// Three implementations:
/// - `system_clock`: UTC wall time, for production.
/// - `manual_clock`: stands still until a test or an operator sets or
///   advances it; listeners hear every change, so supervisors re-check their
///   timers at once instead of polling.
/// - `accelerated_clock`: runs N domain days per real second from a start
///   point, for demos (a 30-day cure period passes in 30 s at 1 d/s).
class clock {
public:
  virtual ~clock();

  /// The current domain time.
  virtual time_point now() const = 0;

  /// How long a real-time wait must be for `d` of domain time to pass, or
  /// nothing when time never passes by itself (manual clock). Supervisors use
  /// it to arm one short in-memory wake-up for their next due timer.
  virtual std::optional<duration> real_wait(duration d) const = 0;

  /// `system`, `manual` or `accelerated`.
  virtual std::string_view kind() const noexcept = 0;

  /// Whether `set`/`advance` are available (manual clock only).
  virtual bool adjustable() const noexcept {
    return false;
  }
};

/// UTC wall time.
class system_clock final : public clock {
public:
  time_point now() const override;
  std::optional<duration> real_wait(duration d) const override;
  std::string_view kind() const noexcept override;
};

/// Time that moves only when told to. Thread-safe.
class manual_clock final : public clock {
public:
  using listener = std::function<void(time_point)>;

  /// Starts at `start`.
  explicit manual_clock(time_point start);

  time_point now() const override;
  std::optional<duration> real_wait(duration d) const override;
  std::string_view kind() const noexcept override;
  bool adjustable() const noexcept override;

  /// Moves to `t`. Time never goes back: an earlier `t` is an error
  /// (`errc::invalid_argument`) and changes nothing, because durable timers
  /// and event histories assume monotonic time.
  caf::error set(time_point t);

  /// Moves forward by `d` (must be ≥ 0) and returns the new time.
  caf::expected<time_point> advance(duration d);

  /// Calls `f(now)` after every change, on the thread that made it.
  /// Returns a token for `unsubscribe`.
  /// Const: listening does not change the time (supervisors hold a
  /// `const clock*`).
  size_t subscribe(listener f) const;

  void unsubscribe(size_t token) const;

private:
  void notify(time_point t);

  std::atomic<int64_t> now_ms_;
  mutable std::mutex listeners_mtx_;
  mutable std::vector<std::pair<size_t, listener>> listeners_;
  mutable size_t next_token_ = 1;
};

/// Domain time = `start` + real time elapsed since construction × `rate`.
class accelerated_clock final : public clock {
public:
  /// `days_per_second` > 0. `start` is the domain time at construction.
  accelerated_clock(double days_per_second, time_point start);

  time_point now() const override;
  std::optional<duration> real_wait(duration d) const override;
  std::string_view kind() const noexcept override;

  /// Domain milliseconds per real millisecond.
  double rate() const noexcept {
    return rate_;
  }

private:
  double rate_;
  time_point start_;
  std::chrono::steady_clock::time_point real_start_;
};

/// Builds the clock named by `kind` (`system`, `manual`, `accelerated`).
/// The manual and accelerated clocks start at the current wall time unless
/// `start` is given. An unknown kind or a non-positive speed is an error
/// (`errc::config_invalid`).
caf::expected<std::unique_ptr<clock>>
make_clock(std::string_view kind, double days_per_second = 1.0,
           std::optional<time_point> start = std::nullopt);

} // namespace tenure
