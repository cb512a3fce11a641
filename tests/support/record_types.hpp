#pragma once

#include <tuple>

#include "messages/commands.hpp"
#include "messages/events.hpp"
#include "messages/outreach.hpp"
#include "messages/records.hpp"

/// Test support: the lists of record types that the codec tests and the fuzz
/// targets (tests/fuzz) run over, kept in one place so that a record added
/// to messages/ is tested, fuzzed and seeded everywhere at once.
namespace tenure::test {

/// Every record type of messages/: the records, the commands and the events
/// inside envelopes. The position of a type is the first byte of its inputs
/// in tests/fuzz/corpus/record: append new types at the end.
using record_types = std::tuple<
  applicant, organisation, edu_facts, oss_facts, startup_facts, application,
  sku_line, sku, subscription_line, subscription, compliance_case,
  emergency_license, coupon, notification, audit_record, timer, history_entry,
  submit_application, record_verification, appeal_rejection,
  withdraw_application, book_code, redeem_code, report_usage, open_case,
  cure_case, revoke_subscription, request_emergency_license, import_coupons,
  import_report, pool_stock, event_envelope, app_submitted, app_verified,
  app_rejected, app_documents_requested, app_sent_to_review, app_appealed,
  app_withdrawn, app_awaiting_code, app_code_assigned, app_redeemed,
  app_verification_started, app_verification_timed_out, app_review_overdue,
  app_renewal_applied, sub_provisioned, sub_usage_reported, sub_reminder_sent,
  sub_expired, sub_lapsed, sub_case_opened, sub_case_cured, sub_terminated,
  sub_revoked, sub_renewed, case_opened, case_cured, case_terminated,
  case_revoked, contact, account, outreach_step, outreach_counts,
  outreach_program, outreach_delivery, survey_response, acct_saved,
  acct_contact_bounced, prg_created, prg_launched, prg_step_sent,
  prg_completed, prg_stopped>;

/// The JSON bodies of the API's POST routes (nodes/api.cpp): submissions,
/// billing registrations, the verifier callback, checkouts, usage reports,
/// compliance cases, revocations, appeals, withdrawals, emergency licenses,
/// and the nested records they carry. The position of a type is the first
/// byte of its inputs in tests/fuzz/corpus/json_body: append at the end.
using api_body_types
  = std::tuple<application, subscription, record_verification, redeem_code,
               report_usage, open_case, cure_case, revoke_subscription,
               appeal_rejection, withdraw_application,
               request_emergency_license, applicant, organisation, edu_facts,
               oss_facts, startup_facts, notification>;

} // namespace tenure::test
