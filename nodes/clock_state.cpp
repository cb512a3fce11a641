#include "nodes/clock_state.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "messages/errc.hpp"

namespace tenure {

namespace {

caf::error invalid(const std::string& path, const std::string& what) {
  return make_error(errc::config_invalid, path + ": " + what);
}

bool fsync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0)
    return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

} // namespace

caf::expected<std::optional<clock_state>>
read_clock_state(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return std::optional<clock_state>{};
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return invalid(path, "cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().size() > 4096)
    return invalid(path, "larger than 4 KiB; not a clock state");
  auto doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (!doc.is_object() || !doc["kind"].is_string()
      || !doc["domain_ms"].is_number_integer()
      || !doc["wall_ms"].is_number_integer())
    return invalid(path, "expected {\"kind\", \"domain_ms\", \"wall_ms\"}; "
                         "delete the file to start the clock at wall time");
  clock_state st;
  st.kind = doc["kind"].get<std::string>();
  st.domain_ms = doc["domain_ms"].get<int64_t>();
  st.wall_ms = doc["wall_ms"].get<int64_t>();
  if (doc.contains("days_per_second")) {
    if (!doc["days_per_second"].is_number())
      return invalid(path, "days_per_second: expected a number");
    st.days_per_second = doc["days_per_second"].get<double>();
  }
  if (st.kind != "manual" && st.kind != "accelerated")
    return invalid(path, "kind: expected manual or accelerated");
  if (st.kind == "accelerated"
      && !(st.days_per_second > 0 && std::isfinite(st.days_per_second)))
    return invalid(path, "days_per_second: must be > 0");
  return std::optional<clock_state>{std::move(st)};
}

caf::error write_clock_state(const std::string& path, const clock_state& st) {
  nlohmann::json doc{
    {"kind", st.kind}, {"domain_ms", st.domain_ms}, {"wall_ms", st.wall_ms}};
  if (st.kind == "accelerated")
    doc["days_per_second"] = st.days_per_second;
  auto tmp = path + ".tmp";
  {
    std::ofstream out{tmp, std::ios::binary | std::ios::trunc};
    out << doc.dump() << '\n';
    if (!out.flush())
      return make_error(errc::storage_failure, "cannot write " + tmp);
  }
  if (!fsync_path(tmp, O_RDONLY))
    return make_error(errc::storage_failure, "cannot fsync " + tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return make_error(errc::storage_failure, "cannot rename " + tmp);
  auto dir = std::filesystem::path{path}.parent_path().string();
  fsync_path(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY);
  return {};
}

time_point resume_point(const std::string& kind,
                        const std::optional<clock_state>& saved,
                        time_point wall) {
  if (!saved)
    return wall;
  auto saved_at = from_unix_ms(saved->domain_ms);
  if (kind == "manual" && saved->kind == "manual")
    return saved_at;
  if (kind == "accelerated" && saved->kind == "accelerated") {
    auto real_ms = to_unix_ms(wall) - saved->wall_ms;
    if (real_ms <= 0)
      return saved_at;
    // Domain ms per real ms: days per second.
    auto passed
      = static_cast<double>(real_ms) * saved->days_per_second * 86'400.0;
    if (!std::isfinite(passed) || passed > 1e15)
      return saved_at;
    return saved_at + std::chrono::milliseconds(static_cast<int64_t>(passed));
  }
  return std::max(wall, saved_at);
}

} // namespace tenure
