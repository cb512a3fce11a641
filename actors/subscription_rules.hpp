#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <caf/expected.hpp>

#include "messages/commands.hpp"
#include "messages/events.hpp"
#include "actors/lifecycle.hpp"

/// The subscription's domain rules: pure functions, no actors, no I/O.
///
///           provision
///   (new) -----------> active --expire--> expired --lapse--> lapsed
///                      |  ^  ^               |
///    open case         |  |  +----renew------+   (grace period: renew
///    (curable)         v  | cure                  or revoke)
///                    in_cure --terminate--> terminated
///                           (deadline passed: debooked, license revoked)
///
///   revoke (and a case that is not curable): active, expired, in_cure
///   --> revoked.
///
/// `renew` extends the term in place (the subscription stays the member's
/// one subscription in the program) and adds the recorded seat overage at
/// zero true-up cost; `renewed` is kept for a successor that replaces it.
namespace tenure {

/// Create a subscription (redemption, or a paid plan registered from
/// billing). The caller fills the record; `decide` checks it.
struct provision {
  subscription sub;
};

// The timer-driven commands below are records too, so they can travel in
// (local) CAF messages from the supervisors to the subscription actors.

/// The end date passed (renewal supervisor's timer).
struct expire {
  static constexpr const char* record_name = "tenure::expire";
  static constexpr uint32_t schema_version = 1;

  tmr_id timer;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("timer", x.timer));
  }
};

/// The grace period ended (renewal supervisor's timer).
struct lapse {
  static constexpr const char* record_name = "tenure::lapse";
  static constexpr uint32_t schema_version = 1;

  tmr_id timer;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("timer", x.timer));
  }
};

/// A renewal reminder is due `offset` before the end date (renewal
/// supervisor's timer).
struct send_reminder {
  duration offset{};
  tmr_id timer;
};

/// The cure deadline passed without a cure (compliance supervisor's timer).
struct terminate_for_case {
  static constexpr const char* record_name = "tenure::terminate_for_case";
  static constexpr uint32_t schema_version = 1;

  case_id compliance_case;
  std::string reason;
  tmr_id timer;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("compliance_case", x.compliance_case),
                           field("reason", x.reason), field("timer", x.timer));
  }
};

/// A verified renewal application extends the term.
struct renew {
  static constexpr const char* record_name = "tenure::renew";
  static constexpr uint32_t schema_version = 1;

  app_id application;
  term length = term::one_year;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("application", x.application),
                           field("length", x.length));
  }
};

using subscription_command
  = std::variant<provision, report_usage, expire, lapse, open_case, cure_case,
                 terminate_for_case, revoke_subscription, renew,
                 send_reminder>;

enum class subscription_command_kind : uint8_t {
  provision,
  usage,
  expire,
  lapse,
  open_case,
  cure,
  terminate,
  revoke,
  renew,
  remind,
};
TENURE_ENUM_NAMES(subscription_command_kind, "provision", "report usage for",
                  "expire", "lapse", "open a case on", "cure", "terminate",
                  "revoke", "renew", "send a renewal reminder for");

subscription_command_kind kind_of(const subscription_command& cmd);

inline constexpr size_t subscription_new_row
  = std::size(enum_names<subscription_state>::values);

/// The transition table (nullopt: not yet provisioned).
bool subscription_allows(std::optional<subscription_state> state,
                         subscription_command_kind cmd);

/// Context: policy values and the id of a case to open.
struct subscription_context {
  /// Length of the cure period. Default 30 days.
  duration cure_period = std::chrono::duration_cast<duration>(days{30});
  /// Id for a case opened by this command (chosen by the caller).
  case_id new_case;
};

caf::expected<std::vector<subscription_event>>
decide(const std::optional<subscription>& state,
       const subscription_command& cmd, time_point now,
       const subscription_context& ctx);

subscription apply(subscription state, const subscription_event& ev,
                   time_point at);

/// What the events of one command cause besides themselves: renewal
/// reminders, expiry and grace timers (armed at provisioning, moved by a
/// renewal, dropped when the subscription ends), the cure deadline, and the
/// member's emails. `after` is the state with `evs` applied.
effects subscription_effects(const subscription& after,
                             const std::vector<subscription_event>& evs,
                             time_point now, const lifecycle_policy& pol);

/// Arms the renewal timers of a subscription ending at `after.end`:
/// reminders still in the future (community plans only), expiry.
effects renewal_timers(const subscription& after, time_point now,
                       const lifecycle_policy& pol);

// -- compliance cases ---------------------------------------------------------

/// A compliance case's share of one subscription command: a case is
/// written by its subscription's actor, in the same commit as the
/// subscription's events.
struct case_change {
  case_id id;
  std::vector<case_event> events;
  /// The formal notice of a curable case (seed 001, Compliance).
  std::vector<notification> notify;
};

/// The case events for `evs` (decided for `cmd` on `before`), if any.
/// `new_case` is the id of a case the command opens.
std::optional<case_change>
case_change_for(const subscription& before, const subscription_command& cmd,
                const std::vector<subscription_event>& evs,
                const case_id& new_case, time_point now);

compliance_case apply(compliance_case state, const case_event& ev,
                      time_point at);

} // namespace tenure
