#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "messages/enums.hpp"
#include "messages/id.hpp"
#include "messages/record.hpp"
#include "messages/time.hpp"

/// The domain's records: plain structs, one field list each (see
/// messages/record.hpp). Absent values are empty (empty string, empty id,
/// zero time) rather than optional, which keeps both encodings simple.
namespace tenure {

// -- parties ------------------------------------------------------------------

/// The person who applies (seed 001, stage 0).
struct applicant {
  static constexpr const char* record_name = "tenure::applicant";
  static constexpr uint32_t schema_version = 1;

  std::string name;
  /// Personal data: never logged in full.
  std::string email;
  std::string job_title;
  /// ISO 3166-1 alpha-2, upper case.
  std::string country;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("name", x.name), field("email", x.email),
                           field("job_title", x.job_title),
                           field("country", x.country));
  }
};

/// The organisation an application or subscription belongs to. `key` is the
/// normalised identity used for "one active subscription per program"
/// (the email domain or website host when known, else the lower-cased name).
struct organisation {
  static constexpr const char* record_name = "tenure::organisation";
  static constexpr uint32_t schema_version = 1;

  std::string key;
  std::string name;
  std::string country;
  std::string website;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("key", x.key), field("name", x.name),
                           field("country", x.country),
                           field("website", x.website));
  }
};

// -- program-specific facts ---------------------------------------------------

struct edu_facts {
  static constexpr const char* record_name = "tenure::edu_facts";
  static constexpr uint32_t schema_version = 1;

  std::string institution;
  edu_level level = edu_level::university;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("institution", x.institution),
                           field("level", x.level));
  }
};

struct oss_facts {
  static constexpr const char* record_name = "tenure::oss_facts";
  static constexpr uint32_t schema_version = 1;

  std::string project_name;
  std::string description;
  std::string public_url;
  /// SPDX identifier, checked against the OSI-approved list in config.
  std::string license;
  uint32_t public_projects = 0;
  uint32_t private_projects = 0;
  bool attests_not_for_profit = false;
  /// Required for self-managed hosting; read by the program team.
  std::string self_managed_reason;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(
      field("project_name", x.project_name),
      field("description", x.description), field("public_url", x.public_url),
      field("license", x.license), field("public_projects", x.public_projects),
      field("private_projects", x.private_projects),
      field("attests_not_for_profit", x.attests_not_for_profit),
      field("self_managed_reason", x.self_managed_reason));
  }
};

struct startup_facts {
  static constexpr const char* record_name = "tenure::startup_facts";
  static constexpr uint32_t schema_version = 1;

  std::string company_website;
  uint32_t founded_year = 0;
  uint32_t employees = 0;
  std::string funding_stage;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("company_website", x.company_website),
                           field("founded_year", x.founded_year),
                           field("employees", x.employees),
                           field("funding_stage", x.funding_stage));
  }
};

// -- applications -------------------------------------------------------------

/// An application to a community program, stages 0-3 of seed 001.
struct application {
  static constexpr const char* record_name = "tenure::application";
  static constexpr uint32_t schema_version = 1;

  app_id id;
  application_kind kind = application_kind::new_member;
  tenure::program program = tenure::program::edu;
  tenure::channel channel = tenure::channel::portal;
  tenure::applicant applicant;
  tenure::organisation organisation;
  edu_facts edu;
  oss_facts oss;
  startup_facts startup;
  tenure::hosting hosting = tenure::hosting::saas;
  uint32_t seats = 0;
  tenure::support support = tenure::support::without;
  tenure::term term = tenure::term::one_year;
  /// For renewals: the subscription this application renews.
  sub_id renews;
  application_state state = application_state::verifying;
  tenure::stage stage = tenure::stage::application;
  verification_path path = verification_path::external;
  /// Eligibility failures, the rejection reason or the documents requested.
  std::vector<std::string> reasons;
  /// Secret: never logged; shown only to the coupon-admin role.
  std::string coupon_code;
  /// Set when the code is redeemed (for renewals: the renewed subscription).
  sub_id subscription;
  /// External path: verifications created at the verifier so far.
  uint32_t verification_attempts = 0;
  /// The verifier's reference of the current verification.
  std::string external_ref;
  /// Manual path: when the program team's answer is due (five business
  /// days after the application entered the review queue).
  time_point review_due;
  /// The durable timers whose effect this application recorded (the latest
  /// few): a timer delivered twice changes nothing.
  std::vector<tmr_id> handled_timers;
  time_point submitted_at;
  time_point updated_at;
  /// Sequence number of the last event applied.
  uint64_t version = 0;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(
      field("id", x.id), field("kind", x.kind), field("program", x.program),
      field("channel", x.channel), field("applicant", x.applicant),
      field("organisation", x.organisation), field("edu", x.edu),
      field("oss", x.oss), field("startup", x.startup),
      field("hosting", x.hosting), field("seats", x.seats),
      field("support", x.support), field("term", x.term),
      field("renews", x.renews), field("state", x.state),
      field("stage", x.stage), field("path", x.path),
      field("reasons", x.reasons), field("coupon_code", x.coupon_code),
      field("subscription", x.subscription),
      field("verification_attempts", x.verification_attempts),
      field("external_ref", x.external_ref),
      field("review_due", x.review_due),
      field("handled_timers", x.handled_timers),
      field("submitted_at", x.submitted_at),
      field("updated_at", x.updated_at), field("version", x.version));
  }
};

// -- catalog ------------------------------------------------------------------

/// One line of a SKU: a product with its own term.
struct sku_line {
  static constexpr const char* record_name = "tenure::sku_line";
  static constexpr uint32_t schema_version = 1;

  tenure::product product = tenure::product::ultimate;
  tenure::term term = tenure::term::one_year;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("product", x.product), field("term", x.term));
  }
};

/// An offering of the catalog (seed 001, Provisioning), loaded from
/// config/catalog.json.
struct sku {
  static constexpr const char* record_name = "tenure::sku";
  static constexpr uint32_t schema_version = 1;

  /// Stable identifier, e.g. `oss-saas-ultimate-support-3y`.
  std::string id;
  /// The handbook's name, e.g. `[OSS Program] SaaS - Ultimate (formerly
  /// Gold) w/ Support - 3 Year`.
  std::string name;
  tenure::program program = tenure::program::edu;
  tenure::hosting hosting = tenure::hosting::saas;
  tenure::support support = tenure::support::without;
  std::vector<sku_line> lines;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("id", x.id), field("name", x.name),
                           field("program", x.program),
                           field("hosting", x.hosting),
                           field("support", x.support),
                           field("lines", x.lines));
  }
};

// -- subscriptions ------------------------------------------------------------

/// A provisioned line of a subscription: `[start, end)`.
struct subscription_line {
  static constexpr const char* record_name = "tenure::subscription_line";
  static constexpr uint32_t schema_version = 1;

  tenure::product product = tenure::product::ultimate;
  tenure::term term = tenure::term::one_year;
  time_point start;
  time_point end;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("product", x.product), field("term", x.term),
                           field("start", x.start), field("end", x.end));
  }
};

/// A subscription license (stages 3-5 and seed 002).
struct subscription {
  static constexpr const char* record_name = "tenure::subscription";
  static constexpr uint32_t schema_version = 1;

  sub_id id;
  tenure::plan plan = tenure::plan::community;
  tenure::program program = tenure::program::none;
  tenure::organisation organisation;
  /// Who gets renewal reminders and notices. Personal data.
  std::string contact_email;
  std::string sku;
  tenure::hosting hosting = tenure::hosting::saas;
  std::vector<subscription_line> lines;
  uint32_t seats = 0;
  /// Highest seat usage reported during the current term.
  uint32_t max_seats_used = 0;
  /// Seats used above `seats`; added to the renewal term at no cost for
  /// community programs.
  uint32_t overage_seats = 0;
  /// `[start, end)` of the Ultimate line, the license's validity.
  time_point start;
  time_point end;
  subscription_state state = subscription_state::active;
  /// The application that created it (empty for paid plans).
  app_id application;
  /// The open compliance case, if any, and the end of its cure period.
  case_id open_case;
  time_point case_deadline;
  /// The durable timers whose effect this subscription recorded (the latest
  /// few): a timer delivered twice changes nothing.
  std::vector<tmr_id> handled_timers;
  time_point created_at;
  time_point updated_at;
  uint64_t version = 0;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(
      field("id", x.id), field("plan", x.plan), field("program", x.program),
      field("organisation", x.organisation),
      field("contact_email", x.contact_email), field("sku", x.sku),
      field("hosting", x.hosting), field("lines", x.lines),
      field("seats", x.seats), field("max_seats_used", x.max_seats_used),
      field("overage_seats", x.overage_seats), field("start", x.start),
      field("end", x.end), field("state", x.state),
      field("application", x.application), field("open_case", x.open_case),
      field("case_deadline", x.case_deadline),
      field("handled_timers", x.handled_timers),
      field("created_at", x.created_at), field("updated_at", x.updated_at),
      field("version", x.version));
  }
};

/// A compliance case (stage 4): curable cases run a 30-day cure period.
struct compliance_case {
  static constexpr const char* record_name = "tenure::compliance_case";
  static constexpr uint32_t schema_version = 1;

  case_id id;
  sub_id subscription;
  std::string reason;
  bool curable = true;
  std::string opened_by;
  time_point opened_at;
  /// End of the cure period (curable cases only).
  time_point deadline;
  case_state state = case_state::open;
  std::string resolution;
  time_point closed_at;
  uint64_t version = 0;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(
      field("id", x.id), field("subscription", x.subscription),
      field("reason", x.reason), field("curable", x.curable),
      field("opened_by", x.opened_by), field("opened_at", x.opened_at),
      field("deadline", x.deadline), field("state", x.state),
      field("resolution", x.resolution), field("closed_at", x.closed_at),
      field("version", x.version));
  }
};

/// A temporary Ultimate license for a weekend emergency (seed 002).
struct emergency_license {
  static constexpr const char* record_name = "tenure::emergency_license";
  static constexpr uint32_t schema_version = 1;

  em_id id;
  /// The paid subscription whose grace period ended.
  sub_id subscription;
  uint32_t users = 0;
  /// The person who opened the ticket. Personal data.
  std::string recipient_email;
  std::string ticket_url;
  std::string requested_by;
  /// Validity in days: 5 by default, never more than the policy cap (10).
  uint32_t days = 0;
  time_point issued_at;
  time_point expires_at;
  /// The license text (generic information). Secret like a coupon code.
  std::string license_key;
  /// Set by the emergency supervisor when `expires_at` passed.
  bool expired = false;
  /// How often the license email was sent again on request.
  uint32_t resent = 0;
  uint64_t version = 0;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(
      field("id", x.id), field("subscription", x.subscription),
      field("users", x.users), field("recipient_email", x.recipient_email),
      field("ticket_url", x.ticket_url), field("requested_by", x.requested_by),
      field("days", x.days), field("issued_at", x.issued_at),
      field("expires_at", x.expires_at), field("license_key", x.license_key),
      field("expired", x.expired), field("resent", x.resent),
      field("version", x.version));
  }
};

// -- coupons ------------------------------------------------------------------

/// A single-use coupon code of a program's pool. The code is secret.
struct coupon {
  static constexpr const char* record_name = "tenure::coupon";
  static constexpr uint32_t schema_version = 1;

  std::string code;
  tenure::program program = tenure::program::edu;
  coupon_state state = coupon_state::available;
  /// The application it was given to (reserved and redeemed codes).
  app_id application;
  /// The subscription it bought (redeemed codes).
  sub_id subscription;
  imp_id import;
  time_point imported_at;
  time_point reserved_at;
  time_point redeemed_at;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(
      field("code", x.code), field("program", x.program),
      field("state", x.state), field("application", x.application),
      field("subscription", x.subscription), field("import", x.import),
      field("imported_at", x.imported_at), field("reserved_at", x.reserved_at),
      field("redeemed_at", x.redeemed_at));
  }
};

// -- outbox, audit, timers ----------------------------------------------------

/// An outgoing message, written to the outbox in the same commit as the
/// change that causes it and delivered at least once.
struct notification {
  static constexpr const char* record_name = "tenure::notification";
  static constexpr uint32_t schema_version = 1;

  ntf_id id;
  notification_channel channel = notification_channel::email;
  /// An email address, or a chat channel name such as
  /// `#support_licensing-subscription`.
  std::string recipient;
  /// The template, e.g. `booking_success`, `cure_notice`.
  std::string template_name;
  tenure::program program = tenure::program::none;
  /// Template parameters. May hold secrets (a coupon code): never logged.
  std::map<std::string, std::string> params;
  /// The entity that caused it, e.g. an application id.
  std::string entity;
  time_point created_at;
  delivery_state state = delivery_state::pending;
  uint32_t attempts = 0;
  time_point next_attempt_at;
  std::string last_error;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(
      field("id", x.id), field("channel", x.channel),
      field("recipient", x.recipient),
      field("template_name", x.template_name), field("program", x.program),
      field("params", x.params), field("entity", x.entity),
      field("created_at", x.created_at), field("state", x.state),
      field("attempts", x.attempts),
      field("next_attempt_at", x.next_attempt_at),
      field("last_error", x.last_error));
  }
};

/// A record of an attempted operation, kept for operators (seed 002:
/// `[Success] - Created a license under EMAIL for N users`).
struct audit_record {
  static constexpr const char* record_name = "tenure::audit_record";
  static constexpr uint32_t schema_version = 1;

  aud_id id;
  time_point at;
  /// Who did it: an operator, a token name, or `system`.
  std::string actor;
  /// What was attempted, e.g. `emergency_license.issue`.
  std::string action;
  /// What it is found by, e.g. the recipient email.
  std::string subject;
  tenure::outcome outcome = tenure::outcome::success;
  /// The title line shown to operators.
  std::string message;
  /// The entity the attempt produced or concerned, if any.
  std::string entity;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("id", x.id), field("at", x.at),
                           field("actor", x.actor), field("action", x.action),
                           field("subject", x.subject),
                           field("outcome", x.outcome),
                           field("message", x.message),
                           field("entity", x.entity));
  }
};

/// A durable timer: a store row, fired by its owning supervisor at or after
/// `due`, at least once.
struct timer {
  static constexpr const char* record_name = "tenure::timer";
  static constexpr uint32_t schema_version = 1;

  tmr_id id;
  time_point due;
  /// The supervisor that fires it, e.g. `compliance`.
  std::string owner;
  /// The entity it concerns, e.g. a subscription id.
  std::string entity;
  /// What it does, e.g. `cure_deadline`, `reminder_30d`.
  std::string kind;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("id", x.id), field("due", x.due),
                           field("owner", x.owner), field("entity", x.entity),
                           field("kind", x.kind));
  }
};

/// One entry of an entity's history as shown to users: the event's sequence
/// number, time, type and a one-line summary without secrets.
struct history_entry {
  static constexpr const char* record_name = "tenure::history_entry";
  static constexpr uint32_t schema_version = 1;

  uint64_t seq = 0;
  time_point at;
  std::string type;
  std::string summary;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("seq", x.seq), field("at", x.at),
                           field("type", x.type), field("summary", x.summary));
  }
};

} // namespace tenure
