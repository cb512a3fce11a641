#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

/// Logging: one named logger per subsystem, fmt formatting, details as
/// `key=value`. Never log a coupon code, token, license key or full email
/// address: use `redact_email` and ids instead.
namespace tenure::log {

enum class level : int { trace, debug, info, warn, error, off };

/// Parses `trace|debug|info|warn|error|off`.
bool from_string(std::string_view str, level& x);

std::string_view to_string(level x);

/// Sets the process-wide threshold. Default: info.
void set_level(level x);

level current_level();

/// Writes one line, under a lock, to stderr. Timestamps are real UTC time:
/// log lines are correlated with other systems' logs, so they must not
/// follow a manual or accelerated domain clock.
void write(level lvl, std::string_view subsystem, std::string_view msg);

/// `alice@example.edu` → `a***@example.edu`; no `@` → `***`.
std::string redact_email(std::string_view email);

/// A named logger, cheap to copy.
class logger {
public:
  explicit logger(std::string subsystem)
    : subsystem_(std::move(subsystem)) {
    // nop
  }

  template <class... Ts>
  void debug(fmt::format_string<Ts...> f, Ts&&... xs) const {
    emit(level::debug, f, std::forward<Ts>(xs)...);
  }

  template <class... Ts>
  void info(fmt::format_string<Ts...> f, Ts&&... xs) const {
    emit(level::info, f, std::forward<Ts>(xs)...);
  }

  template <class... Ts>
  void warn(fmt::format_string<Ts...> f, Ts&&... xs) const {
    emit(level::warn, f, std::forward<Ts>(xs)...);
  }

  template <class... Ts>
  void error(fmt::format_string<Ts...> f, Ts&&... xs) const {
    emit(level::error, f, std::forward<Ts>(xs)...);
  }

  bool enabled(level lvl) const {
    return lvl >= current_level();
  }

private:
  template <class... Ts>
  void emit(level lvl, fmt::format_string<Ts...> f, Ts&&... xs) const {
    if (enabled(lvl))
      write(lvl, subsystem_, fmt::format(f, std::forward<Ts>(xs)...));
  }

  std::string subsystem_;
};

} // namespace tenure::log
