#pragma once

#include <array>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/application_rules.hpp"
#include "actors/clock.hpp"
#include "storage/store.hpp"

namespace tenure {

/// What an application actor needs; owned by the node, outliving actors.
struct application_deps {
  storage::store* store = nullptr;
  const tenure::clock* clock = nullptr;
  const eligibility_rules* rules = nullptr;
  /// After this long without a message the actor asks the registry to let it
  /// go. Default: 5 min.
  duration idle_after = std::chrono::minutes(5);
  /// The registry that spawned the actor (receives `idle`); may be empty.
  caf::actor registry;
  /// The coupon pools, indexed by program; a missing pool leaves verified
  /// applications waiting.
  std::array<caf::actor, 3> pools;
  /// Whether each pool's store is this node's (always, on a single node).
  /// A verified application joins its pool's waiting list in its own commit
  /// only there; a remote pool is asked by the `book_code` timer instead.
  std::array<bool, 3> pools_here{true, true, true};
  /// The SKU catalog, for redemption. May be null (no checkout).
  const std::vector<sku>* skus = nullptr;
  /// Ids of subscriptions provisioned at checkout, timers, notifications.
  id_generator* ids = nullptr;
  /// The lifecycle policy. Null: defaults.
  const lifecycle_policy* policy = nullptr;
};

struct application_actor_state {
  static inline const char* name = "application";

  std::string id;
  std::optional<application> app;
};

/// The identity of an organisation for "one active subscription per
/// program": the lower-cased website host when given, else the lower-cased
/// name without surrounding spaces. In a cluster, an organisation's
/// applications are answered by the owner of `org/<program>/<key>`, so that
/// this rule is checked on one member.
std::string organisation_key(const organisation& org);

/// The catalog entry `id`, or `errc::invalid_argument` naming it.
caf::expected<const sku*> find_sku(const std::vector<sku>* skus,
                                   std::string_view id);

/// One application as an actor: receives a command, decides on its state,
/// commits the events and snapshot as one batch, then replies with the new
/// state. Activated from its snapshot; the registry spawns it.
///
/// Handles: `submit_application`, `record_verification`, `appeal_rejection`,
/// `withdraw_application`, `book_code`, `(checkout_atom, redeem_code,
/// coupon)` (from the pool; replies with the new `subscription`),
/// `(get_atom)`, `(history_atom)`; replies with
/// `application` (or `std::vector<history_entry>`) or a `tenure::errc`.
/// From the supervisors: `(fire_atom, timer)` for verify_timeout,
/// review_due and renewal_apply, and `(start_verification)` from the
/// verification desk once the verifier accepted; the fired timer is removed
/// in the commit of its effect.
caf::behavior
application_actor(caf::stateful_actor<application_actor_state>* self,
                  std::string id, application_deps deps);

} // namespace tenure
