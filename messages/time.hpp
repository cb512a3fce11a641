#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tenure {

/// Durations in the domain are whole milliseconds.
using duration = std::chrono::milliseconds;

/// A point in UTC wall time at millisecond resolution. The domain never reads
/// the wall clock itself: it gets `now` from a `clock` (see nodes/clock.hpp).
using time_point
  = std::chrono::time_point<std::chrono::system_clock, duration>;

/// Whole days, the unit of grace periods, cure periods and terms.
using days = std::chrono::duration<int64_t, std::ratio<86400>>;

/// Milliseconds since the Unix epoch, the storage form of a `time_point`.
constexpr int64_t to_unix_ms(time_point t) noexcept {
  return t.time_since_epoch().count();
}

/// Inverse of `to_unix_ms`.
constexpr time_point from_unix_ms(int64_t ms) noexcept {
  return time_point{duration{ms}};
}

/// Renders `t` as RFC 3339 UTC with milliseconds, e.g.
/// `2026-11-23T03:44:44.123Z`.
std::string to_iso8601(time_point t);

/// Parses RFC 3339 UTC (`2026-11-23T03:44:44Z`, optional `.mmm`), or a plain
/// date `2026-11-23` (midnight UTC). Returns nothing on anything else.
std::optional<time_point> parse_iso8601(std::string_view str);

/// `t` plus `n` calendar years in UTC, keeping the time of day; 29 February
/// becomes 28 February in a common year. Terms and renewals use it.
time_point add_years(time_point t, int n);

/// Parses a duration written as a number and a unit: `250ms`, `30s`, `5min`
/// (or `5m`), `12h`, `30d`, `2w`. Returns nothing on a missing or unknown unit, a
/// negative value or overflow.
std::optional<duration> parse_duration(std::string_view str);

/// Renders a duration in the largest unit that divides it: `30d`, `90min`.
std::string to_string_duration(duration d);

} // namespace tenure
