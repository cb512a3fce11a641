#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/error.hpp>

#include "actors/emergency.hpp"
#include "actors/outbox.hpp"
#include "actors/timer_supervisor.hpp"
#include "actors/verification.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace tenure {

/// What the supervisors need; owned by the node, outliving the actors.
struct supervisors_deps {
  storage::store* store = nullptr;
  const tenure::clock* clock = nullptr;
  id_generator* ids = nullptr;
  const lifecycle_policy* policy = nullptr;
  /// The entity registry.
  caf::actor registry;
  std::shared_ptr<verifier_client> verifier;
  /// Renders and sends one notification.
  deliver_fn deliver;
  /// Outbox retries (see `outbox_deps`).
  uint32_t outbox_max_attempts = 8;
  duration outbox_backoff = std::chrono::minutes(1);
  /// The outreach desk, when this node runs it: its steps' timers (owner
  /// `outreach`) get a supervisor too.
  caf::actor outreach;
  /// Timer supervisors' batch and poll (see `timer_supervisor_deps`).
  size_t timer_batch = 256;
  std::chrono::milliseconds timer_poll{250};
  /// First real-time backoff after a failed firing.
  std::chrono::milliseconds timer_backoff{500};
};

/// The lifecycle's supervisors, one timer supervisor per owner (verification,
/// compliance, emergency, renewal, outbox) and the desks they fire into.
struct supervisors {
  caf::actor verification;
  caf::actor emergency;
  caf::actor outbox;
  /// Timer supervisors by owner.
  std::map<std::string, caf::actor> timers;

  /// Stops them all (the node's shutdown).
  void stop();
};

/// Spawns the supervisors; each fires whatever came due while the node was
/// down right away.
supervisors spawn_supervisors(caf::actor_system& sys, supervisors_deps deps);

/// Fires everything due now on every supervisor, repeatedly, until a round
/// fires nothing new (a fired timer may arm another one due now, e.g. a
/// verification timeout asks the verifier again). For tests and the manual
/// clock's `clock advance`. Fails with `errc::timeout` after `limit`.
caf::error flush_timers(caf::actor_system& sys, const supervisors& sv,
                        std::chrono::milliseconds limit
                        = std::chrono::seconds(30));

} // namespace tenure
