#pragma once

#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/clock.hpp"
#include "actors/lifecycle.hpp"
#include "messages/commands.hpp"
#include "storage/store.hpp"

/// Seed 002, weekend emergency licenses: rules and the desk that issues
/// them.
namespace tenure {

/// The window in which `s` may get an emergency license: from the end of
/// its grace period for `pol.emergency_window`, both ends included.
struct emergency_window {
  time_point opens;
  time_point closes;
};

emergency_window window_of(const subscription& s, const lifecycle_policy& pol);

/// Decides a request: the validity in days, or `errc::refused`
/// with the reason support reads (prospect, no paid plan, outside the
/// window, more than the cap, a license still running) or
/// `errc::invalid_argument` naming a bad field. `sub` is nothing for a
/// prospect (no subscription). `running` is the expiry of a license issued
/// earlier for the same subscription, if any.
caf::expected<uint32_t>
decide_emergency(const std::optional<subscription>& sub,
                 const request_emergency_license& req, time_point now,
                 const lifecycle_policy& pol,
                 std::optional<time_point> running = std::nullopt);

/// The audit title of seed 002: `[Success] - Created a license under EMAIL
/// for N users`, or `[Failure] - No license under EMAIL for N users: WHY`.
std::string emergency_audit_title(const request_emergency_license& req,
                                  const caf::error* failure);

struct emergency_deps {
  storage::store* store = nullptr;
  const tenure::clock* clock = nullptr;
  id_generator* ids = nullptr;
  const lifecycle_policy* policy = nullptr;
  /// Where subscriptions are asked for (`(get_atom, sub_id)`).
  caf::actor registry;
};

struct emergency_state {
  static inline const char* name = "emergency";
};

/// The emergency supervisor: issues emergency licenses, keeps the audit
/// trail and expires the licenses on their durable timer.
///
/// Handles:
/// - `request_emergency_license` → `emergency_license` (with its key) or the
///   refusal; every attempt leaves an `audit_record`, committed before the
///   answer, findable by the recipient's email. A success also writes the
///   license, the email to the recipient, the notice with the ticket URL to
///   the licensing channel and the `emergency_end` timer, in one commit.
/// - `(find_atom, email)` → `std::vector<audit_record>`, oldest first.
/// - `(resend_atom, em_id)` → the license, emailed again (audited).
/// - `(get_atom, em_id)` → the license.
/// - `(fire_atom, timer)` for `emergency_end`: marks the license expired.
caf::behavior emergency_desk(caf::stateful_actor<emergency_state>* self,
                             emergency_deps deps);

} // namespace tenure
