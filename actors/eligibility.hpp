#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <caf/error.hpp>

#include "messages/records.hpp"

namespace tenure {

/// The eligibility rules of DESIGN.md, loaded from config/eligibility.json.
struct eligibility_rules {
  /// Applicants from these countries are refused (trade control).
  std::set<std::string> trade_control_countries;
  /// Applicants from these countries go to manual review (e.g. UA).
  std::set<std::string> manual_review_countries;
  /// EDU applications from K-12 institutions are on hold.
  bool edu_k12_on_hold = true;
  uint32_t oss_min_public_projects = 1;
  uint32_t oss_max_private_projects = 1;
  bool oss_attestation_required = true;
  /// OSS self-managed needs a written reason and goes to manual review.
  bool oss_self_managed_needs_reason = true;
  /// OSI-approved SPDX identifiers.
  std::set<std::string> osi_licenses;
};

/// What the rules say about a submitted application.
struct eligibility_decision {
  /// One reason per failed rule; non-empty means ineligible.
  std::vector<std::string> reasons;
  /// Who verifies an eligible application.
  verification_path path = verification_path::external;
  /// Why it goes to manual review, for the review queue.
  std::string review_reason;

  bool eligible() const noexcept {
    return reasons.empty();
  }
};

/// Checks that a draft is well-formed (required fields present, sizes
/// bounded, country codes, email shape, seats in range). Returns
/// `errc::invalid_argument` naming the first bad field, e.g.
/// `applicant.email: missing`. This is input validation, not eligibility:
/// a malformed draft is not recorded at all.
caf::error validate_draft(const application& draft);

/// Runs the eligibility rules on a well-formed draft. Every failed rule adds
/// its own reason, so an applicant learns all of them at once.
eligibility_decision check_eligibility(const application& draft,
                                       const eligibility_rules& rules);

} // namespace tenure
