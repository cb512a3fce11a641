#pragma once

// Eligible application bodies of seed 001's programs, as the end-to-end
// tests submit them over HTTP (gateway, cluster).

#include <string>

#include <nlohmann/json.hpp>

namespace tenure::test {

/// One of seed 001's offerings: what an application asks for and the SKU
/// its code is redeemed for.
struct offering {
  std::string program;
  std::string hosting;
  std::string support;
  std::string term;
  std::string sku;
  /// Whether the external verifier decides (EDU, OSS on SaaS) or the
  /// program team's review queue (Startups, OSS self-managed).
  bool external;
};

inline const offering edu_saas{
  "edu", "saas", "without", "1y", "edu-saas-ultimate-1y", true};
inline const offering oss_saas{
  "oss", "saas", "with", "3y", "oss-saas-ultimate-support-3y", true};
inline const offering oss_self_managed{
  "oss", "self_managed", "with", "3y", "oss-sm-ultimate-support-3y", false};
inline const offering startups_saas{
  "startups", "saas", "without", "1y", "startups-saas-ultimate-1y", false};

/// An eligible application of `o`'s program for `email` and organisation
/// `org` (website https://ORG.example.org).
inline nlohmann::json application_body(const offering& o,
                                       const std::string& email,
                                       const std::string& org, int seats = 25) {
  auto site = "https://" + org + ".example.org";
  nlohmann::json body{
    {"program", o.program},
    {"applicant",
     {{"name", "Ada Lovelace"},
      {"email", email},
      {"job_title", "Maintainer"},
      {"country", "DE"}}},
    {"organisation", {{"name", org}, {"country", "DE"}, {"website", site}}},
    {"hosting", o.hosting},
    {"seats", seats},
    {"support", o.support},
    {"term", o.term}};
  if (o.program == "edu") {
    body["channel"] = "sheerid";
    body["edu"] = {{"institution", org}, {"level", "university"}};
  } else if (o.program == "oss") {
    body["channel"] = "sheerid";
    body["oss"] = {{"project_name", org},
                   {"description", "A compiler for a small language"},
                   {"public_url", site},
                   {"license", "MIT"},
                   {"public_projects", 3},
                   {"private_projects", 0},
                   {"attests_not_for_profit", true}};
    if (o.hosting == "self_managed")
      body["oss"]["self_managed_reason"]
        = "Our CI runs air-gapped for reproducible builds";
  } else {
    body["channel"] = "marketo";
    body["startup"] = {{"company_website", site},
                       {"founded_year", 2023},
                       {"employees", 12},
                       {"funding_stage", "seed"}};
  }
  return body;
}

} // namespace tenure::test
