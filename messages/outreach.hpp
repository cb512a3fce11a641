#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "messages/enums.hpp"
#include "messages/id.hpp"
#include "messages/record.hpp"
#include "messages/time.hpp"

/// The records of the outreach programs (seed 003): customer accounts and
/// their contacts, the programs that write to them (single emails, series,
/// webinar invitations, newsletters, NPS/CSAT surveys), each email sent
/// (a delivery, tracked by opens, clicks and bounces) and survey responses.
namespace tenure {

// -- enums --------------------------------------------------------------------

/// A contact's role on its account (seed 003, "Program Recipients").
enum class contact_role : uint8_t { admin, owner, maintainer, sold_to };
TENURE_ENUM_NAMES(contact_role, "admin", "owner", "maintainer", "sold_to");

/// The customer success segment of an account.
enum class segment : uint8_t { tech_touch, scale, csm_managed };
TENURE_ENUM_NAMES(segment, "tech_touch", "scale", "csm_managed");

/// Where a customer is in its journey; programs follow it.
enum class lifecycle_stage : uint8_t { onboarding, enablement, retention };
TENURE_ENUM_NAMES(lifecycle_stage, "onboarding", "enablement", "retention");

enum class outreach_kind : uint8_t {
  email,
  series,
  webinar,
  newsletter,
  survey
};
TENURE_ENUM_NAMES(outreach_kind, "email", "series", "webinar", "newsletter",
                  "survey");

enum class survey_kind : uint8_t { none, nps, csat };
TENURE_ENUM_NAMES(survey_kind, "none", "nps", "csat");

///   draft --launch--> running --(last step sent)--> completed
///     |                  |
///     +------stop--------+--> stopped
enum class outreach_state : uint8_t { draft, running, completed, stopped };
TENURE_ENUM_NAMES(outreach_state, "draft", "running", "completed", "stopped");

// -- accounts -----------------------------------------------------------------

/// A person at a customer. Personal data: never logged.
struct contact {
  static constexpr const char* record_name = "tenure::contact";
  static constexpr uint32_t schema_version = 1;

  con_id id;
  std::string name;
  std::string email;
  std::vector<contact_role> roles;
  /// A hard bounce was reported for `email`: nothing more is sent to it
  /// until the address changes.
  bool bounced = false;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("id", x.id), field("name", x.name),
                           field("email", x.email), field("roles", x.roles),
                           field("bounced", x.bounced));
  }
};

/// A customer account with its contacts: the account is the unit of
/// consistency, so a recipient resolution reads one snapshot.
struct account {
  static constexpr const char* record_name = "tenure::account";
  static constexpr uint32_t schema_version = 1;

  acct_id id;
  std::string name;
  /// The CRM's id of the account; an import updates the account with the
  /// same reference instead of creating another.
  std::string external_ref;
  tenure::segment segment = tenure::segment::tech_touch;
  tenure::hosting hosting = tenure::hosting::saas;
  lifecycle_stage stage = lifecycle_stage::onboarding;
  std::vector<contact> contacts;
  time_point created_at;
  time_point updated_at;
  uint64_t version = 0;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(
      field("id", x.id), field("name", x.name),
      field("external_ref", x.external_ref), field("segment", x.segment),
      field("hosting", x.hosting), field("stage", x.stage),
      field("contacts", x.contacts), field("created_at", x.created_at),
      field("updated_at", x.updated_at), field("version", x.version));
  }
};

// -- programs -----------------------------------------------------------------

/// One email of a program, sent `delay` after the launch (see
/// actors/outreach_rules.hpp for each kind).
/// `{{name}}`, `{{account}}`, `{{link_N}}` (the program's Nth link, tracked)
/// and, in surveys, `{{score_N}}` (answer N, tracked) are filled per
/// recipient.
struct outreach_step {
  static constexpr const char* record_name = "tenure::outreach_step";
  static constexpr uint32_t schema_version = 1;

  duration delay{};
  std::string subject;
  std::string body;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("delay", x.delay), field("subject", x.subject),
                           field("body", x.body));
  }
};

/// Delivery counts of a program. Opens and clicks count each delivery once
/// (unique), however often its pixel loads or its links are followed.
struct outreach_counts {
  static constexpr const char* record_name = "tenure::outreach_counts";
  static constexpr uint32_t schema_version = 1;

  uint64_t sent = 0;
  uint64_t opened = 0;
  uint64_t clicked = 0;
  uint64_t bounced = 0;
  uint64_t responses = 0;
  /// NPS: scores 9-10, 7-8, 0-6. CSAT: 4-5 count as satisfied.
  uint64_t promoters = 0;
  uint64_t passives = 0;
  uint64_t detractors = 0;
  uint64_t satisfied = 0;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(
      field("sent", x.sent), field("opened", x.opened),
      field("clicked", x.clicked), field("bounced", x.bounced),
      field("responses", x.responses), field("promoters", x.promoters),
      field("passives", x.passives), field("detractors", x.detractors),
      field("satisfied", x.satisfied));
  }
};

/// An outreach program (seed 003).
struct outreach_program {
  static constexpr const char* record_name = "tenure::outreach_program";
  static constexpr uint32_t schema_version = 1;

  prg_id id;
  std::string name;
  outreach_kind kind = outreach_kind::email;
  lifecycle_stage stage = lifecycle_stage::onboarding;
  /// The audience; an empty list matches every value.
  std::vector<tenure::segment> segments;
  std::vector<lifecycle_stage> stages;
  std::vector<tenure::hosting> hostings;
  std::vector<outreach_step> steps;
  /// Tracked links: `{{link_N}}` in a step is the Nth (from 1).
  std::vector<std::string> links;
  survey_kind survey = survey_kind::none;
  /// Survey responses are stored without the respondent's identity.
  bool anonymous = false;
  /// Webinars: when it starts; a reminder step goes out a day before.
  time_point webinar_at;
  /// Built in (renewal reminders, compliance notices): not launched, its
  /// deliveries are the lifecycle's own notifications.
  bool system = false;
  outreach_state state = outreach_state::draft;
  std::string created_by;
  time_point created_at;
  time_point launched_at;
  time_point ended_at;
  /// Steps sent so far.
  uint32_t steps_sent = 0;
  /// (Its delivery counts are a row of their own, `outreach_counts`,
  /// written with each tracked event: the program's snapshot and history
  /// change only with the program.)
  uint64_t version = 0;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(
      field("id", x.id), field("name", x.name), field("kind", x.kind),
      field("stage", x.stage), field("segments", x.segments),
      field("stages", x.stages), field("hostings", x.hostings),
      field("steps", x.steps), field("links", x.links),
      field("survey", x.survey), field("anonymous", x.anonymous),
      field("webinar_at", x.webinar_at), field("system", x.system),
      field("state", x.state), field("created_by", x.created_by),
      field("created_at", x.created_at), field("launched_at", x.launched_at),
      field("ended_at", x.ended_at), field("steps_sent", x.steps_sent),
      field("version", x.version));
  }
};

/// One email of a program to one contact: the notification with the same
/// id carries it. Personal data (the address): never logged.
struct outreach_delivery {
  static constexpr const char* record_name = "tenure::outreach_delivery";
  static constexpr uint32_t schema_version = 1;

  ntf_id id;
  prg_id program;
  uint32_t step = 0;
  acct_id account;
  con_id contact;
  std::string email;
  time_point sent_at;
  time_point opened_at;
  time_point clicked_at;
  time_point bounced_at;
  /// A survey answer was recorded for this delivery (what it was is in the
  /// response, which for an anonymous survey does not point back here).
  bool responded = false;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(
      field("id", x.id), field("program", x.program), field("step", x.step),
      field("account", x.account), field("contact", x.contact),
      field("email", x.email), field("sent_at", x.sent_at),
      field("opened_at", x.opened_at), field("clicked_at", x.clicked_at),
      field("bounced_at", x.bounced_at), field("responded", x.responded));
  }
};

/// An answer to a survey. Anonymous surveys leave `account` and `contact`
/// empty and keep only the day of `at`, so that neither the row nor its
/// time ties the answer to a recipient.
struct survey_response {
  static constexpr const char* record_name = "tenure::survey_response";
  static constexpr uint32_t schema_version = 1;

  std::string id;
  prg_id program;
  uint32_t score = 0;
  std::string comment;
  acct_id account;
  con_id contact;
  time_point at;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("id", x.id), field("program", x.program),
                           field("score", x.score), field("comment", x.comment),
                           field("account", x.account),
                           field("contact", x.contact), field("at", x.at));
  }
};

// -- events -------------------------------------------------------------------

/// The account as created or changed (contacts included).
struct acct_saved {
  static constexpr const char* record_name = "tenure::acct_saved";
  static constexpr uint32_t schema_version = 1;

  tenure::account account;
  std::string by;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("account", x.account), field("by", x.by));
  }
};

/// A hard bounce marked a contact's address.
struct acct_contact_bounced {
  static constexpr const char* record_name = "tenure::acct_contact_bounced";
  static constexpr uint32_t schema_version = 1;

  con_id contact;
  ntf_id delivery;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("contact", x.contact),
                           field("delivery", x.delivery));
  }
};

using account_event = std::variant<acct_saved, acct_contact_bounced>;

/// The program as created (a draft).
struct prg_created {
  static constexpr const char* record_name = "tenure::prg_created";
  static constexpr uint32_t schema_version = 1;

  outreach_program program;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("program", x.program));
  }
};

struct prg_launched {
  static constexpr const char* record_name = "tenure::prg_launched";
  static constexpr uint32_t schema_version = 1;

  std::string by;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("by", x.by));
  }
};

/// Step `step` went to `recipients` addresses of `accounts` accounts.
struct prg_step_sent {
  static constexpr const char* record_name = "tenure::prg_step_sent";
  static constexpr uint32_t schema_version = 1;

  uint32_t step = 0;
  uint64_t accounts = 0;
  uint64_t recipients = 0;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("step", x.step), field("accounts", x.accounts),
                           field("recipients", x.recipients));
  }
};

struct prg_completed {
  static constexpr const char* record_name = "tenure::prg_completed";
  static constexpr uint32_t schema_version = 1;

  template <class Self>
  static auto fields(Self& x) {
    (void)x;
    return std::make_tuple();
  }
};

struct prg_stopped {
  static constexpr const char* record_name = "tenure::prg_stopped";
  static constexpr uint32_t schema_version = 1;

  std::string by;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("by", x.by));
  }
};

using program_event = std::variant<prg_created, prg_launched, prg_step_sent,
                                   prg_completed, prg_stopped>;

} // namespace tenure
