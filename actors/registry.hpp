#pragma once

#include <cstdint>
#include <string>
#include <deque>
#include <functional>
#include <optional>
#include <string_view>
#include <unordered_map>

#include <caf/actor_clock.hpp>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/application_actor.hpp"
#include "actors/subscription_actor.hpp"
#include "messages/id.hpp"

namespace tenure {

struct registry_deps {
  storage::store* store = nullptr;
  const tenure::clock* clock = nullptr;
  const eligibility_rules* rules = nullptr;
  id_generator* ids = nullptr;
  /// Idle time before an entity actor is passivated. Default: 5 min.
  duration idle_after = std::chrono::minutes(5);
  /// The coupon pools by program (edu, oss, startups).
  std::array<caf::actor, 3> pools;
  /// See `application_deps::pools_here`.
  std::array<bool, 3> pools_here{true, true, true};
  /// In a cluster: for an id another member owns, that member's registry
  /// (messages for it are handed there); nothing for ids owned here. Empty:
  /// a single node owns everything.
  std::function<std::optional<caf::actor>(std::string_view)> elsewhere;
  /// The SKU catalog, for checkout. May be null (no checkout).
  const std::vector<sku>* skus = nullptr;
  /// Most entity activations per second (each loads a snapshot); messages
  /// to cold entities beyond it wait in the registry, in order, so a burst
  /// after a restart does not stall the node. 0: no limit. Default: 5000.
  size_t max_activations_per_second = 5000;
  /// The lifecycle policy. Null: defaults.
  const lifecycle_policy* policy = nullptr;
};

struct registry_state {
  static inline const char* name = "registry";

  /// The active entity actors by id. Memory follows this map, not the store.
  std::unordered_map<std::string, caf::actor> active;
  uint64_t activations = 0;
  uint64_t passivations = 0;
  uint64_t crashes = 0;

  // -- activation throttle ----------------------------------------------------

  /// Messages held back, oldest first, with the entity they go to.
  std::deque<std::pair<std::string, std::function<void()>>> deferred;
  /// Held-back messages per entity: a later message to the same entity waits
  /// behind them, so per-entity order holds.
  std::unordered_map<std::string, size_t> deferred_ids;
  uint64_t deferred_total = 0;
  double tokens = 0;
  caf::actor_clock::time_point refilled;
  bool tick_armed = false;
};

/// Routes commands to entity actors by id, activating an actor from its
/// snapshot on the first message and letting it go after it was idle (the
/// actor asks; the registry removes it from the map first and then tells it
/// to stop, so no message is routed to an actor that is leaving). A crashed
/// actor is logged and dropped; the next message activates it afresh from
/// the store.
///
/// Handles the application commands (`submit_application` assigns the id),
/// `(get_atom, app_id)`, `(history_atom, app_id)`, `(idle_atom, id)`,
/// the subscription commands `report_usage`, `open_case`, `(sub_id,
/// cure_case)`, `revoke_subscription`, `(get_atom, sub_id)`,
/// `(history_atom, sub_id)`, `redeem_code` (checkout: routed by the SKU's
/// program to its pool, which hands it to the application with the code),
/// `(whereis_atom, id)` and
/// `(stats_atom)` → active, activations, passivations, crashes.
caf::behavior registry_actor(caf::stateful_actor<registry_state>* self,
                             registry_deps deps);

} // namespace tenure
