#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <caf/expected.hpp>

#include "actors/eligibility.hpp"
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

/// Everything an application can be asked to do.
using application_command
  = std::variant<submit_application, record_verification, send_to_review,
                 appeal_rejection, withdraw_application, assign_code,
                 note_pool_empty, redeem>;

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
};
TENURE_ENUM_NAMES(application_command_kind, "submit", "verify", "reject",
                  "request documents for", "send to review", "appeal",
                  "withdraw", "book", "book", "redeem");

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

} // namespace tenure
