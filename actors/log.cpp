#include "actors/log.hpp"

#include <atomic>
#include <chrono>
#include <mutex>

#include "messages/time.hpp"

namespace tenure::log {

namespace {

std::atomic<int> threshold{static_cast<int>(level::info)};
std::mutex out_mtx;

constexpr std::string_view names[]
  = {"trace", "debug", "info", "warn", "error", "off"};

} // namespace

bool from_string(std::string_view str, level& x) {
  for (size_t i = 0; i < std::size(names); ++i)
    if (names[i] == str) {
      x = static_cast<level>(i);
      return true;
    }
  return false;
}

std::string_view to_string(level x) {
  auto i = static_cast<size_t>(x);
  return i < std::size(names) ? names[i] : "?";
}

void set_level(level x) {
  threshold = static_cast<int>(x);
}

level current_level() {
  return static_cast<level>(threshold.load());
}

void write(level lvl, std::string_view subsystem, std::string_view msg) {
  // Real time on purpose (see the header); the domain clock is not involved.
  auto now
    = std::chrono::time_point_cast<duration>(std::chrono::system_clock::now());
  auto line = fmt::format("{} {:<5} {}: {}\n", to_iso8601(now), to_string(lvl),
                          subsystem, msg);
  std::lock_guard<std::mutex> guard{out_mtx};
  std::fwrite(line.data(), 1, line.size(), stderr);
}

std::string redact_email(std::string_view email) {
  auto at = email.find('@');
  if (at == std::string_view::npos || at == 0)
    return "***";
  std::string out;
  out += email[0];
  out += "***";
  out += email.substr(at);
  return out;
}

} // namespace tenure::log
