#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <caf/expected.hpp>

#include "actors/eligibility.hpp"
#include "actors/lifecycle.hpp"
#include "messages/commands.hpp"
#include "messages/events.hpp"

/// The application's domain rules: pure functions, no actors, no I/O.
///
///                   submit
///   (new) ----+--------------+---------------------+
///             v              v                     v
///        ineligible      verifying ---review---> in_review <-------+
///                         |  |  |                  |  |  |          |
///                         |  |  +-docs-+   +-docs--+  |  |        appeal
///                         |  |         v   v          |  |          |
///                         |  |  documents_requested   |  |          |
///                         |  |  (verify, reject, or   |  |          |
///                         |  |   back to review)      |  |          |
///                         |  +---reject----------> rejected <-reject-+
///                      verify (from verifying, in_review, documents)
///                         v
///                   awaiting_code --book--> booked --redeem--> redeemed
///
///   withdraw: verifying, in_review, documents_requested, rejected and
///   awaiting_code --> withdrawn. ineligible, redeemed and withdrawn are
///   final.
///
/// `verified` leaves the verification stage and waits for a code; booking
/// assigns one from the program's pool (immediately, or when codes are
/// imported). A second delivery of the same code changes nothing, so a
/// booking message delivered twice books once.
namespace tenure {

// -- domain commands not on the wire ------------------------------------------

/// Verification moves to the manual review queue (verifier timeout,
/// documents received).
struct send_to_review {
  std::string reason;
};

/// The pool reserved `code` for the application.
struct assign_code {
  std::string code;
};

/// The pool had no code; the application waits.
struct note_pool_empty {};

/// Checkout: redeem the application's code. The caller resolved the code to
/// this application, looked up the SKU and chose the new subscription's id.
struct redeem {
  std::string code;
  sku chosen;
  uint32_t seats = 0;
  sub_id subscription;
};

// -- commands of the verification and renewal supervisors' timers ------------

/// The external verifier accepted verification attempt `attempts + 1`
/// (from the verification desk, which fired the `verify_start` timer).
struct start_verification {
  static constexpr const char* record_name = "tenure::start_verification";
  static constexpr uint32_t schema_version = 1;

  app_id id;
  std::string external_ref;
  /// The `verify_start` timer, removed in the same commit.
  timer fired;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("id", x.id),
                           field("external_ref", x.external_ref),
                           field("fired", x.fired));
  }
};

/// The verifier's result is overdue: ask again, or after `max_attempts`
/// send the application to manual review.
struct verification_overdue {
  uint32_t max_attempts = 3;
  tmr_id timer;
};

/// A manual review passed its answer window.
struct review_overdue {
  tmr_id timer;
};

/// A verified renewal extended its subscription to `new_end`.
struct renewal_applied {
  sub_id subscription;
  time_point new_end;
  tmr_id timer;
};

/// Everything an application can be asked to do.
using application_command
  = std::variant<submit_application, record_verification, send_to_review,
                 appeal_rejection, withdraw_application, assign_code,
                 note_pool_empty, redeem, start_verification,
                 verification_overdue, review_overdue, renewal_applied>;

/// The column index of a command in the transition table.
enum class application_command_kind : uint8_t {
  submit,
  verified,
  rejected,
  documents_requested,
  to_review,
  appeal,
  withdraw,
  assign_code,
  pool_empty,
  redeem,
  start_verification,
  verification_overdue,
  review_overdue,
  renewal_applied,
};
TENURE_ENUM_NAMES(application_command_kind, "submit", "verify", "reject",
                  "request documents for", "send to review", "appeal",
                  "withdraw", "book", "book", "redeem",
                  "start the verification of",
                  "time out the verification of", "flag the review of",
                  "apply the renewal of");

application_command_kind kind_of(const application_command& cmd);

/// The row of a not-yet-submitted application.
inline constexpr size_t application_new_row
  = std::size(enum_names<application_state>::values);

/// Whether `cmd` may be applied in `state` (nullopt: not yet submitted).
/// This is the transition table; `decide` adds the checks that depend on
/// the command's data.
bool application_allows(std::optional<application_state> state,
                        application_command_kind cmd);

/// Context `decide` needs besides the state: the eligibility rules.
struct application_context {
  const eligibility_rules* rules = nullptr;
  /// The program team answers manual reviews within this many business
  /// days.
  uint32_t review_business_days = 5;
};

/// Decides what happens: the events to record, or an error a user can act
/// on (`cannot redeem: application app_… is rejected`). `state` is nullopt
/// before submission. An empty vector means "already done" (idempotent
/// repeat). Precondition for submit: `draft.id` set by the caller.
caf::expected<std::vector<application_event>>
decide(const std::optional<application>& state, const application_command& cmd,
       time_point now, const application_context& ctx);

/// Applies one event; `at` is the event's time.
application apply(application state, const application_event& ev,
                  time_point at);

/// What the events of one command cause besides themselves: the
/// verification timers (create at the verifier, result overdue), the manual
/// review queue row and its answer-window timer, the renewal hand-over, and
/// the applicant's and program team's emails. `after` has `evs` applied.
effects application_effects(const std::optional<application>& before,
                            const application& after,
                            const std::vector<application_event>& evs,
                            time_point now, const lifecycle_policy& pol);

} // namespace tenure
