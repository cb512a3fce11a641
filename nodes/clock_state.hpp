#pragma once

#include <optional>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/time.hpp"

namespace tenure {

/// Where a manual or accelerated clock stood, kept in `DATA/clock.json`. A
/// restart resumes from it; without it both clocks started again at wall
/// time, so domain time went back under pending timers and histories after
/// every restart of a demo or test node (the crash test restarts 50 times).
struct clock_state {
  /// `manual` or `accelerated`.
  std::string kind;
  /// Domain time at `wall_ms`.
  int64_t domain_ms = 0;
  /// Wall time (UTC) when it was written.
  int64_t wall_ms = 0;
  /// Domain days per real second (accelerated only).
  double days_per_second = 0;
};

/// Reads `path`: nothing when there is no file; an error (`config_invalid`,
/// naming the file) when it cannot be read or is not a clock state.
caf::expected<std::optional<clock_state>>
read_clock_state(const std::string& path);

/// Writes `st` to `path` atomically (temp file, fsync, rename, fsync of the
/// directory), so a crash leaves the old state or the new one.
caf::error write_clock_state(const std::string& path, const clock_state& st);

/// Where a clock of `kind` starts at wall time `wall`, given what was saved:
/// a manual clock where it stood; an accelerated one where it would be had
/// it kept running (downtime passes at its rate, as for a real clock); any
/// other change of kind at wall time but never before the saved time. Time
/// never goes back.
time_point resume_point(const std::string& kind,
                        const std::optional<clock_state>& saved,
                        time_point wall);

} // namespace tenure
