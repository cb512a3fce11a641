#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "messages/records.hpp"

/// Events: what happened to an entity, the only thing stored about a change
/// besides the snapshot. An entity's state is the fold of `apply` over its
/// events; its history is the list of them with their times.
///
/// Stored as an `event_envelope` whose payload is the typed event's own
/// record encoding (messages/codec.hpp), so each event type versions on its
/// own. Generated from one table; keep the layout when adding events.
namespace tenure {
// -- application events
// -----------------------------------------------------------
/// The application as submitted, with the eligibility decision (state, path,
/// reasons).
struct app_submitted {
  static constexpr const char* record_name = "tenure::app_submitted";
  static constexpr uint32_t schema_version = 1;

  application app;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("app", x.app));
  }
};

/// Verification succeeded.
struct app_verified {
  static constexpr const char* record_name = "tenure::app_verified";
  static constexpr uint32_t schema_version = 1;

  std::string by;
  std::string external_ref;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("by", x.by),
                           field("external_ref", x.external_ref));
  }
};

/// Verification refused; the applicant may appeal.
struct app_rejected {
  static constexpr const char* record_name = "tenure::app_rejected";
  static constexpr uint32_t schema_version = 1;

  std::string reason;
  std::string by;
  std::string external_ref;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("reason", x.reason), field("by", x.by),
                           field("external_ref", x.external_ref));
  }
};

/// The applicant must send documents.
struct app_documents_requested {
  static constexpr const char* record_name = "tenure::app_documents_requested";
  static constexpr uint32_t schema_version = 1;

  std::string what;
  std::string by;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("what", x.what), field("by", x.by));
  }
};

/// Moved to the manual review queue (appeal, verifier timeout, documents
/// received).
struct app_sent_to_review {
  static constexpr const char* record_name = "tenure::app_sent_to_review";
  static constexpr uint32_t schema_version = 1;

  std::string reason;
  /// The program team's answer is due (business days from now).
  time_point review_due;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("reason", x.reason),
                           field("review_due", x.review_due));
  }
};

/// The applicant appealed a false rejection.
struct app_appealed {
  static constexpr const char* record_name = "tenure::app_appealed";
  static constexpr uint32_t schema_version = 1;

  std::string reason;
  std::string by;
  /// The program team's answer is due (business days from now).
  time_point review_due;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("reason", x.reason), field("by", x.by),
                           field("review_due", x.review_due));
  }
};

/// The applicant withdrew.
struct app_withdrawn {
  static constexpr const char* record_name = "tenure::app_withdrawn";
  static constexpr uint32_t schema_version = 1;

  std::string reason;
  std::string by;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("reason", x.reason), field("by", x.by));
  }
};

/// Verified, but the pool was empty.
struct app_awaiting_code {
  static constexpr const char* record_name = "tenure::app_awaiting_code";
  static constexpr uint32_t schema_version = 1;

  template <class Self>
  static auto fields(Self& x) {
    (void)x;
    return std::make_tuple();
  }
};

/// A code was reserved for the application. The code is secret.
struct app_code_assigned {
  static constexpr const char* record_name = "tenure::app_code_assigned";
  static constexpr uint32_t schema_version = 1;

  std::string code;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("code", x.code));
  }
};

/// The code bought a subscription.
struct app_redeemed {
  static constexpr const char* record_name = "tenure::app_redeemed";
  static constexpr uint32_t schema_version = 1;

  sub_id subscription;
  std::string sku;
  uint32_t seats = 0;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("subscription", x.subscription),
                           field("sku", x.sku), field("seats", x.seats));
  }
};

/// The verifier was asked to verify (attempt 1, 2, ...).
struct app_verification_started {
  static constexpr const char* record_name
    = "tenure::app_verification_started";
  static constexpr uint32_t schema_version = 1;

  std::string external_ref;
  uint32_t attempt = 0;
  tmr_id timer;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("external_ref", x.external_ref),
                           field("attempt", x.attempt),
                           field("timer", x.timer));
  }
};

/// The verifier gave no result in time.
struct app_verification_timed_out {
  static constexpr const char* record_name
    = "tenure::app_verification_timed_out";
  static constexpr uint32_t schema_version = 1;

  uint32_t attempt = 0;
  tmr_id timer;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("attempt", x.attempt),
                           field("timer", x.timer));
  }
};

/// A manual review passed its answer window; the program inbox was told.
struct app_review_overdue {
  static constexpr const char* record_name = "tenure::app_review_overdue";
  static constexpr uint32_t schema_version = 1;

  time_point due;
  tmr_id timer;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("due", x.due), field("timer", x.timer));
  }
};

/// A verified renewal extended the subscription it renews.
struct app_renewal_applied {
  static constexpr const char* record_name = "tenure::app_renewal_applied";
  static constexpr uint32_t schema_version = 1;

  sub_id subscription;
  time_point new_end;
  tmr_id timer;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("subscription", x.subscription),
                           field("new_end", x.new_end),
                           field("timer", x.timer));
  }
};

/// Any application event.
using application_event
  = std::variant<app_submitted, app_verified, app_rejected,
                 app_documents_requested, app_sent_to_review, app_appealed,
                 app_withdrawn, app_awaiting_code, app_code_assigned,
                 app_redeemed, app_verification_started,
                 app_verification_timed_out, app_review_overdue,
                 app_renewal_applied>;

// -- subscription events
// ----------------------------------------------------------
/// Created by redemption or registered from billing.
struct sub_provisioned {
  static constexpr const char* record_name = "tenure::sub_provisioned";
  static constexpr uint32_t schema_version = 1;

  subscription sub;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("sub", x.sub));
  }
};

/// Seats in use; the maximum and the overage are kept.
struct sub_usage_reported {
  static constexpr const char* record_name = "tenure::sub_usage_reported";
  static constexpr uint32_t schema_version = 1;

  uint32_t seats_used = 0;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("seats_used", x.seats_used));
  }
};

/// A renewal reminder went out (offset before the end date).
struct sub_reminder_sent {
  static constexpr const char* record_name = "tenure::sub_reminder_sent";
  static constexpr uint32_t schema_version = 1;

  duration offset{};
  /// The renewal timer that sent it.
  tmr_id timer;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("offset", x.offset), field("timer", x.timer));
  }
};

/// The end date passed; the grace period runs.
struct sub_expired {
  static constexpr const char* record_name = "tenure::sub_expired";
  static constexpr uint32_t schema_version = 1;

  /// The renewal timer that caused it.
  tmr_id timer;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("timer", x.timer));
  }
};

/// The grace period ended.
struct sub_lapsed {
  static constexpr const char* record_name = "tenure::sub_lapsed";
  static constexpr uint32_t schema_version = 1;

  /// The renewal timer that caused it.
  tmr_id timer;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("timer", x.timer));
  }
};

/// A curable compliance case started the cure period.
struct sub_case_opened {
  static constexpr const char* record_name = "tenure::sub_case_opened";
  static constexpr uint32_t schema_version = 1;

  case_id compliance_case;
  time_point deadline;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("compliance_case", x.compliance_case),
                           field("deadline", x.deadline));
  }
};

/// The case was cured in time.
struct sub_case_cured {
  static constexpr const char* record_name = "tenure::sub_case_cured";
  static constexpr uint32_t schema_version = 1;

  case_id compliance_case;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("compliance_case", x.compliance_case));
  }
};

/// Debooked after an uncured case; the license is revoked.
struct sub_terminated {
  static constexpr const char* record_name = "tenure::sub_terminated";
  static constexpr uint32_t schema_version = 1;

  case_id compliance_case;
  std::string reason;
  /// The cure-deadline timer that caused it.
  tmr_id timer;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("compliance_case", x.compliance_case),
                           field("reason", x.reason), field("timer", x.timer));
  }
};

/// Revoked immediately.
struct sub_revoked {
  static constexpr const char* record_name = "tenure::sub_revoked";
  static constexpr uint32_t schema_version = 1;

  std::string reason;
  std::string by;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("reason", x.reason), field("by", x.by));
  }
};

/// A verified renewal extended the term (overage seats added at no cost).
struct sub_renewed {
  static constexpr const char* record_name = "tenure::sub_renewed";
  static constexpr uint32_t schema_version = 1;

  app_id application;
  time_point new_end;
  uint32_t seats_added = 0;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("application", x.application),
                           field("new_end", x.new_end),
                           field("seats_added", x.seats_added));
  }
};

/// Any subscription event.
using subscription_event
  = std::variant<sub_provisioned, sub_usage_reported, sub_reminder_sent,
                 sub_expired, sub_lapsed, sub_case_opened, sub_case_cured,
                 sub_terminated, sub_revoked, sub_renewed>;

// -- case events
// ------------------------------------------------------------------
/// The case as opened.
struct case_opened {
  static constexpr const char* record_name = "tenure::case_opened";
  static constexpr uint32_t schema_version = 1;

  compliance_case opened;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("opened", x.opened));
  }
};

/// Closed: the member remedied the violation.
struct case_cured {
  static constexpr const char* record_name = "tenure::case_cured";
  static constexpr uint32_t schema_version = 1;

  std::string note;
  std::string by;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("note", x.note), field("by", x.by));
  }
};

/// Closed at the deadline without cure: subscription terminated.
struct case_terminated {
  static constexpr const char* record_name = "tenure::case_terminated";
  static constexpr uint32_t schema_version = 1;

  template <class Self>
  static auto fields(Self& x) {
    (void)x;
    return std::make_tuple();
  }
};

/// Closed by immediate revocation.
struct case_revoked {
  static constexpr const char* record_name = "tenure::case_revoked";
  static constexpr uint32_t schema_version = 1;

  std::string by;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("by", x.by));
  }
};

/// Any case event.
using case_event
  = std::variant<case_opened, case_cured, case_terminated, case_revoked>;

// -- envelope
// ------------------------------------------------------------------

/// An event as stored and as it crosses the wire: the entity, its sequence
/// number (1, 2, ... per entity), when it happened, its type (the event
/// record's name without `tenure::`) and the encoded event.
struct event_envelope {
  static constexpr const char* record_name = "tenure::event_envelope";
  static constexpr uint32_t schema_version = 1;

  std::string entity;
  uint64_t seq = 0;
  time_point at;
  std::string type;
  /// The typed event, msgpack-encoded. May hold secrets (a coupon code).
  std::string payload;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("entity", x.entity), field("seq", x.seq),
                           field("at", x.at), field("type", x.type),
                           field("payload", x.payload));
  }
};

/// The event type name of `T`, e.g. `app_verified`.
template <class T>
constexpr std::string_view event_type_name() noexcept {
  std::string_view name = T::record_name;
  return name.substr(name.find("::") + 2);
}

} // namespace tenure
