#pragma once

#include <caf/type_id.hpp>

#include "messages/commands.hpp"
#include "messages/events.hpp"
#include "messages/records.hpp"

/// Every type that crosses the wire, in one CAF type-id block. Append only:
/// ids are positional, and all nodes of a cluster must agree on them.
CAF_BEGIN_TYPE_ID_BLOCK(tenure, caf::first_custom_type_id)

  // ids
  CAF_ADD_TYPE_ID(tenure, (tenure::app_id))
  CAF_ADD_TYPE_ID(tenure, (tenure::sub_id))
  CAF_ADD_TYPE_ID(tenure, (tenure::case_id))
  CAF_ADD_TYPE_ID(tenure, (tenure::em_id))
  CAF_ADD_TYPE_ID(tenure, (tenure::org_id))
  CAF_ADD_TYPE_ID(tenure, (tenure::ntf_id))
  CAF_ADD_TYPE_ID(tenure, (tenure::tmr_id))
  CAF_ADD_TYPE_ID(tenure, (tenure::aud_id))
  CAF_ADD_TYPE_ID(tenure, (tenure::imp_id))

  // records
  CAF_ADD_TYPE_ID(tenure, (tenure::applicant))
  CAF_ADD_TYPE_ID(tenure, (tenure::organisation))
  CAF_ADD_TYPE_ID(tenure, (tenure::edu_facts))
  CAF_ADD_TYPE_ID(tenure, (tenure::oss_facts))
  CAF_ADD_TYPE_ID(tenure, (tenure::startup_facts))
  CAF_ADD_TYPE_ID(tenure, (tenure::application))
  CAF_ADD_TYPE_ID(tenure, (tenure::sku_line))
  CAF_ADD_TYPE_ID(tenure, (tenure::sku))
  CAF_ADD_TYPE_ID(tenure, (tenure::subscription_line))
  CAF_ADD_TYPE_ID(tenure, (tenure::subscription))
  CAF_ADD_TYPE_ID(tenure, (tenure::compliance_case))
  CAF_ADD_TYPE_ID(tenure, (tenure::emergency_license))
  CAF_ADD_TYPE_ID(tenure, (tenure::coupon))
  CAF_ADD_TYPE_ID(tenure, (tenure::notification))
  CAF_ADD_TYPE_ID(tenure, (tenure::audit_record))
  CAF_ADD_TYPE_ID(tenure, (tenure::timer))
  CAF_ADD_TYPE_ID(tenure, (tenure::history_entry))
  // (add_message_types also registers std::vector<T> of each type.)

  // commands
  CAF_ADD_TYPE_ID(tenure, (tenure::submit_application))
  CAF_ADD_TYPE_ID(tenure, (tenure::record_verification))
  CAF_ADD_TYPE_ID(tenure, (tenure::appeal_rejection))
  CAF_ADD_TYPE_ID(tenure, (tenure::withdraw_application))
  CAF_ADD_TYPE_ID(tenure, (tenure::book_code))
  CAF_ADD_TYPE_ID(tenure, (tenure::redeem_code))
  CAF_ADD_TYPE_ID(tenure, (tenure::report_usage))
  CAF_ADD_TYPE_ID(tenure, (tenure::open_case))
  CAF_ADD_TYPE_ID(tenure, (tenure::cure_case))
  CAF_ADD_TYPE_ID(tenure, (tenure::revoke_subscription))
  CAF_ADD_TYPE_ID(tenure, (tenure::request_emergency_license))
  CAF_ADD_TYPE_ID(tenure, (tenure::import_coupons))
  CAF_ADD_TYPE_ID(tenure, (tenure::import_report))
  CAF_ADD_TYPE_ID(tenure, (tenure::pool_stock))

  // events (wire form: an entity's history travels as history_entry)
  CAF_ADD_TYPE_ID(tenure, (tenure::event_envelope))

CAF_END_TYPE_ID_BLOCK(tenure)

namespace caf {
class actor_system_config;
} // namespace caf

namespace tenure {

/// Registers the type-id block and the `tenure` error category with `cfg`.
/// Call once per actor system, before constructing it.
void add_message_types(caf::actor_system_config& cfg);

} // namespace tenure
