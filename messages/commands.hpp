#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "messages/records.hpp"

/// Commands: what callers (gateway, shell, supervisors, other nodes) ask of
/// the actors. Each is a record, so it crosses the wire and can be stored
/// (idempotency, audit). Who may send what is checked at the edge; the
/// domain rules check whether it is allowed in the entity's state.
namespace tenure {

/// Stage 0: submit an application. The registry assigns `draft.id`; state,
/// stage and reasons are decided by the eligibility rules.
struct submit_application {
  static constexpr const char* record_name = "tenure::submit_application";
  static constexpr uint32_t schema_version = 1;

  application draft;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("draft", x.draft));
  }
};

/// Stage 1: the verifier's or a reviewer's decision.
struct record_verification {
  static constexpr const char* record_name = "tenure::record_verification";
  static constexpr uint32_t schema_version = 1;

  app_id id;
  verification_outcome result = verification_outcome::verified;
  /// Rejection reason or documents requested.
  std::string reason;
  /// `verifier` or the reviewer's name.
  std::string decided_by;
  /// The verifier's event id, for de-duplicating repeated callbacks.
  std::string external_ref;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("id", x.id), field("result", x.result),
                           field("reason", x.reason),
                           field("decided_by", x.decided_by),
                           field("external_ref", x.external_ref));
  }
};

/// Stage 1: the applicant appeals a false rejection; back to verification
/// by the program team.
struct appeal_rejection {
  static constexpr const char* record_name = "tenure::appeal_rejection";
  static constexpr uint32_t schema_version = 1;

  app_id id;
  std::string reason;
  std::string by;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("id", x.id), field("reason", x.reason),
                           field("by", x.by));
  }
};

/// The applicant withdraws before redemption.
struct withdraw_application {
  static constexpr const char* record_name = "tenure::withdraw_application";
  static constexpr uint32_t schema_version = 1;

  app_id id;
  std::string reason;
  std::string by;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("id", x.id), field("reason", x.reason),
                           field("by", x.by));
  }
};

/// Stage 2: give a verified application a code from its program's pool.
/// Idempotent: a second delivery finds the application booked.
struct book_code {
  static constexpr const char* record_name = "tenure::book_code";
  static constexpr uint32_t schema_version = 1;

  app_id id;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("id", x.id));
  }
};

/// Stage 3: checkout redeems a code for a SKU and a seat count.
struct redeem_code {
  static constexpr const char* record_name = "tenure::redeem_code";
  static constexpr uint32_t schema_version = 1;

  /// Secret: never logged.
  std::string code;
  std::string sku;
  uint32_t seats = 0;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("code", x.code), field("sku", x.sku),
                           field("seats", x.seats));
  }
};

/// A seat-usage report for a subscription.
struct report_usage {
  static constexpr const char* record_name = "tenure::report_usage";
  static constexpr uint32_t schema_version = 1;

  sub_id id;
  uint32_t seats_used = 0;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("id", x.id),
                           field("seats_used", x.seats_used));
  }
};

/// Stage 4: open a compliance case on a subscription.
struct open_case {
  static constexpr const char* record_name = "tenure::open_case";
  static constexpr uint32_t schema_version = 1;

  sub_id subscription;
  std::string reason;
  /// Curable cases get the 30-day cure period; others revoke at once.
  bool curable = true;
  std::string opened_by;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("subscription", x.subscription),
                           field("reason", x.reason),
                           field("curable", x.curable),
                           field("opened_by", x.opened_by));
  }
};

/// Stage 4: the member remedied the violation before the deadline.
struct cure_case {
  static constexpr const char* record_name = "tenure::cure_case";
  static constexpr uint32_t schema_version = 1;

  case_id id;
  std::string note;
  std::string by;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("id", x.id), field("note", x.note),
                           field("by", x.by));
  }
};

/// Stage 4: immediate revocation (best-effort notice first).
struct revoke_subscription {
  static constexpr const char* record_name = "tenure::revoke_subscription";
  static constexpr uint32_t schema_version = 1;

  sub_id id;
  std::string reason;
  std::string by;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("id", x.id), field("reason", x.reason),
                           field("by", x.by));
  }
};

/// Billing registers a subscription (a paid plan, so the emergency flow
/// knows it; or a community subscription migrated from elsewhere). The
/// registry chooses the id.
struct register_subscription {
  static constexpr const char* record_name = "tenure::register_subscription";
  static constexpr uint32_t schema_version = 1;

  subscription sub;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("sub", x.sub));
  }
};

/// Seed 002: support asks for a weekend emergency license.
struct request_emergency_license {
  static constexpr const char* record_name
    = "tenure::request_emergency_license";
  static constexpr uint32_t schema_version = 1;

  /// The customer's subscription; empty for a prospect (refused).
  sub_id subscription;
  uint32_t users = 0;
  std::string recipient_email;
  std::string ticket_url;
  std::string requested_by;
  /// Requested validity; 0 means the policy default (5 days).
  uint32_t days = 0;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(
      field("subscription", x.subscription), field("users", x.users),
      field("recipient_email", x.recipient_email),
      field("ticket_url", x.ticket_url), field("requested_by", x.requested_by),
      field("days", x.days));
  }
};

/// Import coupon codes into a program's pool from a CSV file of one column
/// without header. The codes are secret: the command is never logged.
struct import_coupons {
  static constexpr const char* record_name = "tenure::import_coupons";
  static constexpr uint32_t schema_version = 1;

  tenure::program program = tenure::program::edu;
  /// The raw CSV text.
  std::string csv;
  /// File name or other origin, for the report.
  std::string source;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("program", x.program), field("csv", x.csv),
                           field("source", x.source));
  }
};

/// What an import did; repeating an import reports everything as already
/// present.
struct import_report {
  static constexpr const char* record_name = "tenure::import_report";
  static constexpr uint32_t schema_version = 1;

  imp_id id;
  tenure::program program = tenure::program::edu;
  uint64_t lines = 0;
  uint64_t imported = 0;
  uint64_t blank = 0;
  uint64_t duplicate_in_file = 0;
  uint64_t already_present = 0;
  /// Lines that are not a single plausible code (e.g. several columns).
  uint64_t invalid = 0;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(
      field("id", x.id), field("program", x.program), field("lines", x.lines),
      field("imported", x.imported), field("blank", x.blank),
      field("duplicate_in_file", x.duplicate_in_file),
      field("already_present", x.already_present),
      field("invalid", x.invalid));
  }
};

/// A pool's stock and runway (seed 001's yearly-need formula).
struct pool_stock {
  static constexpr const char* record_name = "tenure::pool_stock";
  static constexpr uint32_t schema_version = 1;

  tenure::program program = tenure::program::edu;
  uint64_t available = 0;
  uint64_t reserved = 0;
  uint64_t redeemed = 0;
  /// Applications expected per quarter + expected renewals × factor.
  uint64_t yearly_need = 0;
  /// Days until the available codes run out at the forecast rate.
  uint64_t runway_days = 0;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(
      field("program", x.program), field("available", x.available),
      field("reserved", x.reserved), field("redeemed", x.redeemed),
      field("yearly_need", x.yearly_need),
      field("runway_days", x.runway_days));
  }
};

} // namespace tenure
