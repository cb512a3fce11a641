#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/clock.hpp"
#include "messages/id.hpp"
#include "messages/records.hpp"
#include "storage/store.hpp"

namespace tenure {

/// Renders and hands one notification to its sink (mail directory, SMTP,
/// chat). Blocking is fine: the dispatcher runs on its own thread. An error
/// with `errc::invalid_argument` or `errc::config_invalid` is permanent (a
/// template that cannot render will not render next time); any other error
/// is retried.
using deliver_fn = std::function<caf::error(const notification&)>;

struct outbox_deps {
  storage::store* store = nullptr;
  const tenure::clock* clock = nullptr;
  deliver_fn deliver;
  /// Ids of timers armed by an operator's retry.
  id_generator* ids = nullptr;
  /// Attempts before a notification is marked failed. Default: 8.
  uint32_t max_attempts = 8;
  /// Domain-time backoff after the first failure; doubles up to
  /// `max_backoff`. Defaults: 1 min, 1 h.
  duration backoff = std::chrono::minutes(1);
  duration max_backoff = std::chrono::hours(1);
};

/// Delivery counts for operators and `/metrics`.
struct outbox_status {
  static constexpr const char* record_name = "tenure::outbox_status";
  static constexpr uint32_t schema_version = 1;

  uint64_t pending = 0;
  uint64_t delivered = 0;
  uint64_t failed = 0;
  /// The failed notifications (without params: they may hold secrets),
  /// oldest first, at most 100.
  std::vector<notification> failures;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(
      field("pending", x.pending), field("delivered", x.delivered),
      field("failed", x.failed), field("failures", x.failures));
  }
};

struct outbox_state {
  static inline const char* name = "outbox";
  uint64_t delivered = 0;
  uint64_t attempts_failed = 0;
};

/// The outbox dispatcher: the target of the `outbox` timer supervisor. Each
/// notification is written with a `deliver` timer in the commit of the
/// change that caused it; when the timer fires the dispatcher delivers the
/// notification and records the outcome in one commit with the timer's
/// removal (delivered), its rescheduling with backoff (retry), or its
/// removal with the state `failed` and the last error (gave up). A crash
/// between delivery and that commit delivers again: sinks are idempotent by
/// notification id (the mail directory overwrites its file).
///
/// Spawn it detached: delivery may block.
///
/// Handles `(fire_atom, timer)`, `(outbox_atom)` → `outbox_status`,
/// `(retry_atom, ntf_id)` → the notification, pending again (failed only).
caf::behavior outbox_dispatcher(caf::stateful_actor<outbox_state>* self,
                                outbox_deps deps);

} // namespace tenure
