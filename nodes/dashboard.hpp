// The operator dashboard's data (issue 8): `GET /v1/dashboard`, one
// aggregate of what the page at `/` (web/) draws, computed by each member
// from its own store and merged by the member that was asked.
//
// Time is the node's domain clock: "the last N days", "the next 30 days"
// and "the last 7 days" are counted from `clock::now()` in whole UTC days,
// so the manual and accelerated clocks move the dashboard as they move the
// business rules.
//
// Bounded work: each member reads at most `dashboard_limits` rows of each
// kind and lists at most `items` open cases and licenses; what was cut is
// named in `limits.truncated` of the answer.

#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "messages/time.hpp"
#include "nodes/api.hpp"

namespace tenure {

namespace storage {
class store;
} // namespace storage

/// How much one member reads for one dashboard.
struct dashboard_limits {
  /// Application snapshots read at most. Default: 200,000.
  size_t applications = 200'000;
  /// Compliance-case snapshots read at most. Default: 20,000.
  size_t cases = 20'000;
  /// Emergency-license snapshots read at most. Default: 20,000.
  size_t licenses = 20'000;
  /// Coupon rows read per program. Default: 200,000.
  size_t coupons = 200'000;
  /// Timers due in the window read at most. Default: 20,000.
  size_t timers = 20'000;
  /// Open cases and emergency licenses listed at most (counts stay exact).
  /// Default: 200.
  size_t items = 200;
};

/// Days of application history: `days` of the query. Default: 30.
constexpr int dashboard_default_days = 30;
/// The largest `days`. Default: 365.
constexpr int dashboard_max_days = 365;
/// Timers are shown this many days ahead (today included).
constexpr int dashboard_timer_days = 30;
/// Emergency licenses are shown this many days back (today included).
constexpr int dashboard_license_days = 7;
/// Bookings are averaged over this many days for the runway.
constexpr int dashboard_booking_days = 30;

/// What one member's part is computed from.
struct dashboard_scope {
  const storage::store* store = nullptr;
  /// The domain time the dashboard is computed at (in a cluster: the
  /// asking member's, so that every member buckets the same days).
  time_point now;
  /// Days of application history, 1 to `dashboard_max_days`.
  int days = dashboard_default_days;
  /// The programs (edu, oss, startups) whose coupon pool this member holds.
  std::array<bool, 3> pools{{true, true, true}};
  dashboard_limits limits;
};

/// This member's part of the dashboard: the answer's shape (see
/// docs/openapi.yaml, `Dashboard`) without `outreach` and `unavailable`.
/// Reads the store only; no actor is asked.
caf::expected<nlohmann::json> dashboard_part(const dashboard_scope& scope);

/// The members' parts as one: counts summed, lists merged in their order
/// (cases by deadline, licenses newest first) and cut to `limits.items`,
/// runways computed from the summed bookings.
nlohmann::json merge_dashboard(const std::vector<nlohmann::json>& parts,
                               const dashboard_limits& limits);

/// Serves `GET /v1/dashboard`. Alone: this node's part. In a cluster:
/// every member's part (members down are named in `unavailable`). A
/// member asked for its part (`req.local_only`) answers it unmerged.
/// `outreach` gives the `outreach` member (`{"programs": [...]}`); it is
/// called once, and not for a member's part.
api_response serve_dashboard(const api_request& req, const api_deps& deps,
                             const std::function<nlohmann::json()>& outreach,
                             const dashboard_limits& limits = {});

} // namespace tenure
