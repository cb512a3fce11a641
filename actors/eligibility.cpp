#include "actors/eligibility.hpp"

#include <cctype>

#include "messages/errc.hpp"

namespace tenure {

namespace {

constexpr size_t max_text = 2000;
constexpr size_t max_name = 200;
constexpr uint32_t max_seats = 100'000;

bool is_country_code(const std::string& str) {
  return str.size() == 2 && std::isupper(static_cast<unsigned char>(str[0]))
         && std::isupper(static_cast<unsigned char>(str[1]));
}

bool plausible_email(const std::string& str) {
  auto at = str.find('@');
  return at != std::string::npos && at > 0 && at + 1 < str.size()
         && str.find('@', at + 1) == std::string::npos
         && str.find('.', at) != std::string::npos && str.size() <= 254
         && str.find_first_of(" \t\r\n<>,;") == std::string::npos;
}

caf::error bad(const char* field, const std::string& what) {
  return make_error(errc::invalid_argument, std::string{field} + ": " + what);
}

caf::error check_text(const char* field, const std::string& str, size_t max,
                      bool required) {
  if (required && str.empty())
    return bad(field, "missing");
  if (str.size() > max)
    return bad(field, "longer than " + std::to_string(max) + " characters");
  return caf::none;
}

} // namespace

caf::error validate_draft(const application& d) {
  if (auto err = check_text("applicant.name", d.applicant.name, max_name, true))
    return err;
  if (d.applicant.email.empty())
    return bad("applicant.email", "missing");
  if (!plausible_email(d.applicant.email))
    return bad("applicant.email", "not an email address");
  if (!is_country_code(d.applicant.country))
    return bad("applicant.country",
               "expected an ISO 3166-1 alpha-2 code such as DE");
  if (auto err = check_text("applicant.job_title", d.applicant.job_title,
                            max_name, false))
    return err;
  if (auto err
      = check_text("organisation.name", d.organisation.name, max_name, true))
    return err;
  if (!d.organisation.country.empty()
      && !is_country_code(d.organisation.country))
    return bad("organisation.country",
               "expected an ISO 3166-1 alpha-2 code such as DE");
  if (d.seats == 0)
    return bad("seats", "must be at least 1");
  if (d.seats > max_seats)
    return bad("seats", "must be at most " + std::to_string(max_seats));
  if (d.kind == application_kind::renewal && d.renews.empty())
    return bad("renews", "a renewal names the subscription it renews");
  switch (d.program) {
    case program::edu:
      return check_text("edu.institution", d.edu.institution, max_name, true);
    case program::oss:
      if (auto err
          = check_text("oss.project_name", d.oss.project_name, max_name, true))
        return err;
      if (auto err
          = check_text("oss.description", d.oss.description, max_text, false))
        return err;
      if (auto err = check_text("oss.license", d.oss.license, 100, true))
        return err;
      if (auto err
          = check_text("oss.public_url", d.oss.public_url, max_name, false))
        return err;
      return check_text("oss.self_managed_reason", d.oss.self_managed_reason,
                        max_text, false);
    case program::startups:
      return check_text("startup.company_website", d.startup.company_website,
                        max_name, false);
    case program::none:
      return bad("program", "must be edu, oss or startups");
  }
  return caf::none;
}

eligibility_decision check_eligibility(const application& d,
                                       const eligibility_rules& rules) {
  eligibility_decision out;
  auto manual = [&](std::string why) {
    out.path = verification_path::manual;
    if (!out.review_reason.empty())
      out.review_reason += "; ";
    out.review_reason += why;
  };
  const auto& country = d.applicant.country;
  if (rules.trade_control_countries.count(country)
      || rules.trade_control_countries.count(d.organisation.country))
    out.reasons.push_back("trade control: applicants from " + country
                          + " cannot be accepted into the program");
  if (rules.manual_review_countries.count(country))
    manual("applicant country " + country + " requires manual review");
  switch (d.program) {
    case program::edu:
      if (rules.edu_k12_on_hold && d.edu.level == edu_level::k12)
        out.reasons.push_back(
          "EDU applications from K-12 institutions are on hold");
      break;
    case program::oss:
      if (!rules.osi_licenses.count(d.oss.license))
        out.reasons.push_back("license '" + d.oss.license.substr(0, 100)
                              + "' is not an OSI-approved license (SPDX id)");
      if (d.oss.public_projects < rules.oss_min_public_projects)
        out.reasons.push_back("at least "
                              + std::to_string(rules.oss_min_public_projects)
                              + " public project is required");
      if (d.oss.private_projects > rules.oss_max_private_projects)
        out.reasons.push_back("at most "
                              + std::to_string(rules.oss_max_private_projects)
                              + " private project is allowed; found "
                              + std::to_string(d.oss.private_projects));
      if (rules.oss_attestation_required && !d.oss.attests_not_for_profit)
        out.reasons.push_back(
          "the attestation that the project does not seek profit is missing");
      if (d.hosting == hosting::self_managed) {
        if (rules.oss_self_managed_needs_reason
            && d.oss.self_managed_reason.empty())
          out.reasons.push_back("self-managed hosting needs a written reason");
        else
          manual("OSS self-managed: "
                 + d.oss.self_managed_reason.substr(0, 300));
      }
      break;
    case program::startups:
      // Startups apply through the form channel; the team reviews each one.
      manual("Startups applications are reviewed by the program team");
      break;
    case program::none:
      out.reasons.push_back("no program");
      break;
  }
  return out;
}

} // namespace tenure
