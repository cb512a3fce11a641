#include "actors/clock.hpp"

#include <cmath>

#include "messages/errc.hpp"

namespace tenure {

namespace {

time_point wall_now() {
  return std::chrono::time_point_cast<duration>(
    std::chrono::system_clock::now());
}

} // namespace

clock::~clock() {
  // nop
}

// -- system_clock -------------------------------------------------------------

time_point system_clock::now() const {
  return wall_now();
}

std::optional<duration> system_clock::real_wait(duration d) const {
  return d;
}

std::string_view system_clock::kind() const noexcept {
  return "system";
}

// -- manual_clock -------------------------------------------------------------

manual_clock::manual_clock(time_point start)
  : now_ms_(to_unix_ms(start)) {
  // nop
}

time_point manual_clock::now() const {
  return from_unix_ms(now_ms_.load());
}

std::optional<duration> manual_clock::real_wait(duration) const {
  return std::nullopt;
}

std::string_view manual_clock::kind() const noexcept {
  return "manual";
}

bool manual_clock::adjustable() const noexcept {
  return true;
}

caf::error manual_clock::set(time_point t) {
  auto target = to_unix_ms(t);
  auto cur = now_ms_.load();
  do {
    if (target < cur)
      return make_error(errc::invalid_argument,
                        "the manual clock cannot go back from "
                          + to_iso8601(from_unix_ms(cur)) + " to "
                          + to_iso8601(t));
  } while (!now_ms_.compare_exchange_weak(cur, target));
  notify(t);
  return caf::none;
}

caf::expected<time_point> manual_clock::advance(duration d) {
  if (d.count() < 0)
    return make_error(errc::invalid_argument,
                      "the manual clock only advances; got "
                        + std::to_string(d.count()) + "ms");
  auto t = from_unix_ms(now_ms_.fetch_add(d.count()) + d.count());
  notify(t);
  return t;
}

size_t manual_clock::subscribe(listener f) const {
  std::lock_guard<std::mutex> guard{listeners_mtx_};
  auto token = next_token_++;
  listeners_.emplace_back(token, std::move(f));
  return token;
}

void manual_clock::unsubscribe(size_t token) const {
  std::lock_guard<std::mutex> guard{listeners_mtx_};
  for (auto i = listeners_.begin(); i != listeners_.end(); ++i)
    if (i->first == token) {
      listeners_.erase(i);
      return;
    }
}

void manual_clock::notify(time_point t) {
  // Copy under the lock, call outside it, so a listener may (un)subscribe.
  std::vector<listener> fs;
  {
    std::lock_guard<std::mutex> guard{listeners_mtx_};
    for (auto& entry : listeners_)
      fs.push_back(entry.second);
  }
  for (auto& f : fs)
    f(t);
}

// -- accelerated_clock --------------------------------------------------------

accelerated_clock::accelerated_clock(double days_per_second, time_point start)
  : rate_(days_per_second * 86400.0)
  , start_(start)
  , real_start_(std::chrono::steady_clock::now()) {
  // nop
}

time_point accelerated_clock::now() const {
  // steady_clock, not system_clock: domain time must not jump when the host's
  // wall clock is adjusted.
  auto real = std::chrono::duration<double, std::milli>(
    std::chrono::steady_clock::now() - real_start_);
  return start_ + duration{static_cast<int64_t>(real.count() * rate_)};
}

std::optional<duration> accelerated_clock::real_wait(duration d) const {
  return duration{static_cast<int64_t>(std::ceil(d.count() / rate_))};
}

std::string_view accelerated_clock::kind() const noexcept {
  return "accelerated";
}

// -- factory ------------------------------------------------------------------

caf::expected<std::unique_ptr<clock>>
make_clock(std::string_view kind, double days_per_second,
           std::optional<time_point> start) {
  auto t0 = start ? *start : wall_now();
  if (kind == "system")
    return std::unique_ptr<clock>{new system_clock};
  if (kind == "manual")
    return std::unique_ptr<clock>{new manual_clock(t0)};
  if (kind == "accelerated") {
    if (!(days_per_second > 0) || !std::isfinite(days_per_second))
      return make_error(errc::config_invalid,
                        "tenure.node.clock-days-per-second must be > 0");
    return std::unique_ptr<clock>{new accelerated_clock(days_per_second, t0)};
  }
  return make_error(errc::config_invalid,
                    "unknown clock '" + std::string{kind.substr(0, 40)}
                      + "'; expected system, manual or accelerated");
}

} // namespace tenure
