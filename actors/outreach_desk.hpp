#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <caf/behavior.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/clock.hpp"
#include "actors/outreach_rules.hpp"
#include "messages/id.hpp"
#include "storage/store.hpp"

/// The outreach desk (seed 003): the one writer of accounts, contacts,
/// outreach programs, their deliveries, counts and survey responses. One
/// desk serves the whole system (in a cluster, on the owner of
/// `outreach`): a recipient resolution and a step's sending read every
/// account, and counts must add up, so one writer keeps both simple. Each
/// command is one commit; a step goes out in pages of accounts, each page
/// one commit with its deliveries, their notifications and the step's
/// cursor, so a crash resumes after the last page.
namespace tenure {

/// The timer owner of the outreach steps.
inline constexpr std::string_view outreach_owner = "outreach";

struct outreach_deps {
  storage::store* store = nullptr;
  const tenure::clock* clock = nullptr;
  id_generator* ids = nullptr;
  /// The tracked addresses of a delivery (signed by the node); empty urls
  /// when not set (tests).
  std::function<tracking_urls(const outreach_program&, const ntf_id&)> urls;
  /// Accounts per commit while a step goes out. Default: 200.
  size_t page = 200;
};

// -- messages -----------------------------------------------------------------
// Records, so that CAF can carry them (and inspect them in its logs).

#define TENURE_OUTREACH_MESSAGE(name, ...)                                     \
  static constexpr const char* record_name = "tenure::" #name;                 \
  static constexpr uint32_t schema_version = 1;                                \
  template <class Self>                                                        \
  static auto fields(Self& x) {                                                \
    return std::make_tuple(__VA_ARGS__);                                       \
  }

/// Creates an account (empty id), or replaces the one with this id or this
/// `external_ref`; contacts without an id get one (or keep the one of the
/// contact with their address), and keep their bounce mark while their
/// address stays.
struct put_account {
  account acct;
  std::string by;
  TENURE_OUTREACH_MESSAGE(put_account, field("acct", x.acct), field("by", x.by))
};

/// An account of a CSV import: created, or merged into the account with
/// its `external_ref` (see `merge_import`).
struct import_account {
  account acct;
  std::string by;
  TENURE_OUTREACH_MESSAGE(import_account, field("acct", x.acct),
                          field("by", x.by))
};

/// Adds one contact to an account.
struct add_contact {
  acct_id account;
  tenure::contact contact;
  std::string by;
  TENURE_OUTREACH_MESSAGE(add_contact, field("account", x.account),
                          field("contact", x.contact), field("by", x.by))
};

/// One page of accounts, ordered by id, after `after`.
struct list_accounts {
  std::string after;
  uint64_t limit = 100;
  TENURE_OUTREACH_MESSAGE(list_accounts, field("after", x.after),
                          field("limit", x.limit))
};

struct create_program {
  outreach_program program;
  TENURE_OUTREACH_MESSAGE(create_program, field("program", x.program))
};

struct list_programs {
  std::string after;
  uint64_t limit = 100;
  TENURE_OUTREACH_MESSAGE(list_programs, field("after", x.after),
                          field("limit", x.limit))
};

/// A program with its counts (rates: `rates_of(counts, program.survey)`).
struct program_view {
  outreach_program program;
  outreach_counts counts;
  TENURE_OUTREACH_MESSAGE(program_view, field("program", x.program),
                          field("counts", x.counts))
};

struct start_program {
  prg_id program;
  std::string by;
  TENURE_OUTREACH_MESSAGE(start_program, field("program", x.program),
                          field("by", x.by))
};

struct halt_program {
  prg_id program;
  std::string by;
  TENURE_OUTREACH_MESSAGE(halt_program, field("program", x.program),
                          field("by", x.by))
};

struct explain_recipients {
  prg_id program;
  acct_id account;
  TENURE_OUTREACH_MESSAGE(explain_recipients, field("program", x.program),
                          field("account", x.account))
};

/// An open, click or bounce of delivery `delivery` of `program`; answers
/// whether it changed anything. A bounce marks the contact's address.
struct track_delivery {
  prg_id program;
  ntf_id delivery;
  track_kind kind = track_kind::open;
  TENURE_OUTREACH_MESSAGE(track_delivery, field("program", x.program),
                          field("delivery", x.delivery), field("kind", x.kind))
};

/// A bounce reported by the mail system for a notification id alone.
struct report_bounce {
  ntf_id delivery;
  TENURE_OUTREACH_MESSAGE(report_bounce, field("delivery", x.delivery))
};

struct answer_survey {
  prg_id program;
  ntf_id delivery;
  uint32_t score = 0;
  std::string comment;
  TENURE_OUTREACH_MESSAGE(answer_survey, field("program", x.program),
                          field("delivery", x.delivery),
                          field("score", x.score), field("comment", x.comment))
};

/// Responses of a program, after `after`, by id (random: no order that
/// could tie an anonymous answer to the time it was given).
struct list_responses {
  prg_id program;
  std::string after;
  uint64_t limit = 100;
  TENURE_OUTREACH_MESSAGE(list_responses, field("program", x.program),
                          field("after", x.after), field("limit", x.limit))
};

/// A lifecycle notification about to be delivered (renewal reminders,
/// compliance notices): recorded as a delivery of its built-in program
/// (made on first use), counted as sent once per notification however
/// often it is delivered; answers its open pixel's address (empty for a
/// template without a built-in program).
struct enroll_notification {
  notification ntf;
  TENURE_OUTREACH_MESSAGE(enroll_notification, field("ntf", x.ntf))
};

#undef TENURE_OUTREACH_MESSAGE

/// The built-in program that counts the lifecycle notifications of
/// `template_name` (`renewal_reminder`, `compliance_notice`), if any.
std::optional<outreach_program>
system_program_for(const std::string& template_name);

struct outreach_desk_state {
  static inline const char* name = "outreach";
};

/// Handles the messages above, `(get_atom, acct_id)` → account,
/// `(get_atom, std::string reference)` → the account with that CRM
/// reference,
/// `(get_atom, prg_id)` → program_view, and `(fire_atom, timer)` from the
/// `outreach` timer supervisor (a step comes due: one page, and the timer
/// again while pages remain). Spawn it detached: it commits synchronously.
caf::behavior outreach_desk(caf::stateful_actor<outreach_desk_state>* self,
                            outreach_deps deps);

// -- store rows (cf::outreach) ------------------------------------------------

std::string outreach_counts_key(const prg_id& p);
std::string outreach_delivery_key(const ntf_id& n);
std::string outreach_response_key(const prg_id& p, const std::string& id);
std::string outreach_answered_key(const prg_id& p, const con_id& c);
std::string outreach_cursor_key(const prg_id& p, uint32_t step);

} // namespace tenure
