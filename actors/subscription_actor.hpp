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
  /// The cure period (policies.json). Default: 30 days.
  duration cure_period = std::chrono::duration_cast<duration>(days{30});
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
/// timer-driven steps (expire, lapse, terminate at the cure deadline) and
/// renewal arrive from the supervisors.
caf::behavior
subscription_actor(caf::stateful_actor<subscription_actor_state>* self,
                   std::string id, subscription_deps deps);

} // namespace tenure
