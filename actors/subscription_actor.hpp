#pragma once

#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/clock.hpp"
#include "actors/subscription_rules.hpp"
#include "storage/store.hpp"

namespace tenure {

struct subscription_deps {
  storage::store* store = nullptr;
  const tenure::clock* clock = nullptr;
  /// Ids of compliance cases opened here.
  id_generator* ids = nullptr;
  /// The lifecycle policy (cure period, grace, reminders). Null: defaults.
  const lifecycle_policy* policy = nullptr;
  duration idle_after = std::chrono::minutes(5);
  caf::actor registry;
};

struct subscription_actor_state {
  static inline const char* name = "subscription";

  std::string id;
  std::optional<subscription> sub;
};

/// One subscription as an actor, activated from its snapshot (redemption
/// creates it in the application's commit). Handles `report_usage`,
/// `open_case`, `(sub_id, cure_case)`, `revoke_subscription`, `(get_atom)`,
/// `(history_atom)`; replies with the `subscription` after the commit. The
/// timer-driven steps arrive as `(fire_atom, timer)` from the supervisors
/// (renewal: reminders, expiry, grace end; compliance: cure deadline) and
/// reply `true` when the timer's effect was recorded, `false` when it no
/// longer applied; either way the timer is gone after the reply. Renewal
/// arrives as `renew` from the renewing application.
///
/// Every command writes, in one commit, the subscription's events and
/// snapshot, the events and snapshot of the compliance case it touches, the
/// timers it arms or cancels, and its notifications.
caf::behavior
subscription_actor(caf::stateful_actor<subscription_actor_state>* self,
                   std::string id, subscription_deps deps);

} // namespace tenure
