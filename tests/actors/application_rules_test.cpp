#include "actors/application_rules.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "messages/errc.hpp"

using namespace tenure;

namespace {

const time_point t0 = from_unix_ms(1'795'000'000'000);

eligibility_rules rules() {
  eligibility_rules r;
  r.trade_control_countries = {"CU", "IR", "SY", "KP", "RU", "BY"};
  r.manual_review_countries = {"UA"};
  r.osi_licenses = {"MIT", "Apache-2.0", "GPL-3.0-only"};
  return r;
}

const eligibility_rules the_rules = rules();
const application_context ctx{&the_rules};

app_id an_id() {
  static id_generator gen{9};
  return gen.next<app_id>(t0);
}

application edu_draft() {
  application a;
  a.id = an_id();
  a.program = program::edu;
  a.channel = channel::sheerid;
  a.applicant = {"Ada Lovelace", "ada@uni.example.edu", "Lecturer", "GB"};
  a.organisation = {"uni.example.edu", "Example University", "GB",
                    "https://uni.example.edu"};
  a.edu = {"Example University", edu_level::university};
  a.seats = 25;
  return a;
}

application oss_draft() {
  auto a = edu_draft();
  a.program = program::oss;
  a.oss.project_name = "libfoo";
  a.oss.public_url = "https://example.org/libfoo";
  a.oss.license = "MIT";
  a.oss.public_projects = 3;
  a.oss.private_projects = 0;
  a.oss.attests_not_for_profit = true;
  return a;
}

sku edu_sku() {
  sku s;
  s.id = "edu-saas-ultimate-1y";
  s.program = program::edu;
  s.lines = {{product::ultimate, term::one_year}};
  return s;
}

/// The subscription the application in awaiting_code renews (so that the
/// renewal hand-over applies to it).
const sub_id renewed_sub = id_generator{11}.next<sub_id>(t0);

application in_state(application_state st) {
  auto a = edu_draft();
  a.state = st;
  if (st == application_state::awaiting_code) {
    a.kind = application_kind::renewal;
    a.renews = renewed_sub;
  }
  a.version = 3;
  if (st == application_state::booked)
    a.coupon_code = "CODE-1";
  return a;
}

application_command sample(application_command_kind k, const app_id& id) {
  using ck = application_command_kind;
  switch (k) {
    case ck::submit:
      return submit_application{edu_draft()};
    case ck::verified:
      return record_verification{id, verification_outcome::verified, "",
                                 "verifier", "evt_1"};
    case ck::rejected:
      return record_verification{id, verification_outcome::rejected,
                                 "not enrolled", "verifier", "evt_2"};
    case ck::documents_requested:
      return record_verification{id, verification_outcome::documents_requested,
                                 "proof of employment", "verifier", "evt_3"};
    case ck::to_review:
      return send_to_review{"verifier timed out"};
    case ck::appeal:
      return appeal_rejection{id, "I do teach there", "ada"};
    case ck::withdraw:
      return withdraw_application{id, "changed my mind", "ada"};
    case ck::assign_code:
      return assign_code{"CODE-1"};
    case ck::pool_empty:
      return note_pool_empty{};
    case ck::start_verification: {
      start_verification x;
      x.id = id;
      x.external_ref = "sheerid-1";
      return x;
    }
    case ck::verification_overdue:
      return verification_overdue{3, {}};
    case ck::review_overdue:
      return review_overdue{};
    case ck::renewal_applied:
      return renewal_applied{renewed_sub, t0, {}};
    case ck::redeem: {
      static id_generator gen{5};
      return redeem{"CODE-1", edu_sku(), 25, gen.next<sub_id>(t0)};
    }
  }
  return note_pool_empty{};
}

// The expected table, written independently of the implementation's.
const std::map<std::optional<application_state>,
               std::set<application_command_kind>>
  legal = [] {
    using st = application_state;
    using ck = application_command_kind;
    std::map<std::optional<application_state>,
             std::set<application_command_kind>>
      m;
    m[std::nullopt] = {ck::submit};
    m[st::ineligible] = {};
    m[st::verifying] = {ck::verified,
                        ck::rejected,
                        ck::documents_requested,
                        ck::to_review,
                        ck::withdraw,
                        ck::start_verification,
                        ck::verification_overdue};
    m[st::in_review] = {ck::verified, ck::rejected, ck::documents_requested,
                        ck::withdraw, ck::review_overdue};
    m[st::documents_requested]
      = {ck::verified, ck::rejected, ck::to_review, ck::withdraw};
    m[st::rejected] = {ck::appeal, ck::withdraw};
    // A renewal whose subscription cannot be renewed goes to the team.
    m[st::awaiting_code] = {ck::assign_code, ck::pool_empty, ck::withdraw,
                            ck::to_review, ck::renewal_applied};
    m[st::booked] = {ck::assign_code, ck::redeem};
    m[st::redeemed] = {};
    m[st::withdrawn] = {};
    return m;
  }();

} // namespace

TEST(application_rules, every_cell_of_the_transition_table) {
  size_t cells = 0;
  for (const auto& [row, allowed] : legal) {
    for (size_t k = 0;
         k < std::size(enum_names<application_command_kind>::values); ++k) {
      auto kind = static_cast<application_command_kind>(k);
      std::optional<application> state;
      if (row)
        state = in_state(*row);
      auto id = state ? state->id : an_id();
      auto result = decide(state, sample(kind, id), t0, ctx);
      auto label = (row ? to_string(*row) : std::string{"(new)"}) + " x "
                   + to_string(kind);
      ++cells;
      EXPECT_EQ(application_allows(row, kind), allowed.count(kind) > 0)
        << label;
      if (allowed.count(kind)) {
        EXPECT_TRUE(result) << label << ": " << error_message(result.error());
      } else {
        ASSERT_FALSE(result) << label;
        if (row) {
          EXPECT_TRUE(result.error() == errc::illegal_transition) << label;
          EXPECT_NE(error_message(result.error()).find(state->id.str()),
                    std::string::npos)
            << label;
        } else {
          EXPECT_TRUE(result.error() == errc::not_found) << label;
        }
      }
    }
  }
  EXPECT_EQ(cells, 10u * 14u);
}

TEST(application_rules, illegal_steps_say_what_and_why) {
  auto app = in_state(application_state::rejected);
  auto r
    = decide(app, sample(application_command_kind::redeem, app.id), t0, ctx);
  ASSERT_FALSE(r);
  EXPECT_EQ(error_message(r.error()),
            "cannot redeem: application " + app.id.str()
              + " is rejected; the applicant may appeal a false rejection");
}

// -- eligibility --------------------------------------------------------------

namespace {

application submitted(const application& draft) {
  auto r = decide(std::nullopt, submit_application{draft}, t0, ctx);
  EXPECT_TRUE(r) << error_message(r.error());
  application s;
  for (auto& ev : *r)
    s = apply(s, ev, t0);
  return s;
}

bool has_reason(const application& a, const std::string& needle) {
  for (auto& r : a.reasons)
    if (r.find(needle) != std::string::npos)
      return true;
  return false;
}

} // namespace

TEST(eligibility, a_clean_edu_application_goes_to_the_verifier) {
  auto a = submitted(edu_draft());
  EXPECT_EQ(a.state, application_state::verifying);
  EXPECT_EQ(a.stage, stage::verification);
  EXPECT_EQ(a.path, verification_path::external);
  EXPECT_TRUE(a.reasons.empty());
  EXPECT_EQ(a.version, 1u);
  EXPECT_EQ(a.submitted_at, t0);
}

TEST(eligibility, trade_control_countries_are_refused) {
  for (auto c : {"CU", "IR", "SY", "KP", "RU", "BY"}) {
    auto d = edu_draft();
    d.applicant.country = c;
    auto a = submitted(d);
    EXPECT_EQ(a.state, application_state::ineligible) << c;
    EXPECT_TRUE(has_reason(a, "trade control")) << c;
  }
}

TEST(eligibility, ua_goes_to_manual_review) {
  auto d = edu_draft();
  d.applicant.country = "UA";
  auto a = submitted(d);
  EXPECT_EQ(a.state, application_state::in_review);
  EXPECT_EQ(a.path, verification_path::manual);
  EXPECT_TRUE(has_reason(a, "UA requires manual review"));
}

TEST(eligibility, edu_k12_is_on_hold) {
  auto d = edu_draft();
  d.edu.level = edu_level::k12;
  auto a = submitted(d);
  EXPECT_EQ(a.state, application_state::ineligible);
  EXPECT_TRUE(has_reason(a, "K-12"));
}

TEST(eligibility, oss_rules_each_give_their_own_reason) {
  struct probe {
    const char* what;
    void (*mutate)(application&);
    const char* reason;
  };
  const probe probes[] = {
    {"license", [](application& a) { a.oss.license = "Proprietary-1.0"; },
     "not an OSI-approved license"},
    {"public", [](application& a) { a.oss.public_projects = 0; },
     "public project is required"},
    {"private", [](application& a) { a.oss.private_projects = 2; },
     "private project is allowed"},
    {"attestation",
     [](application& a) { a.oss.attests_not_for_profit = false; },
     "attestation"},
    {"self-managed without reason",
     [](application& a) { a.hosting = hosting::self_managed; },
     "written reason"},
  };
  for (auto& p : probes) {
    auto d = oss_draft();
    p.mutate(d);
    auto a = submitted(d);
    EXPECT_EQ(a.state, application_state::ineligible) << p.what;
    EXPECT_EQ(a.reasons.size(), 1u) << p.what;
    EXPECT_TRUE(has_reason(a, p.reason)) << p.what;
  }
  auto all_bad = oss_draft();
  for (auto& p : probes)
    p.mutate(all_bad);
  EXPECT_EQ(submitted(all_bad).reasons.size(), std::size(probes));
}

TEST(eligibility, oss_self_managed_with_reason_goes_to_manual_review) {
  auto d = oss_draft();
  d.hosting = hosting::self_managed;
  d.oss.self_managed_reason = "air-gapped build farm";
  auto a = submitted(d);
  EXPECT_EQ(a.state, application_state::in_review);
  EXPECT_TRUE(has_reason(a, "air-gapped build farm"));
}

TEST(eligibility, startups_go_to_manual_review) {
  auto d = edu_draft();
  d.program = program::startups;
  d.channel = channel::marketo;
  auto a = submitted(d);
  EXPECT_EQ(a.state, application_state::in_review);
}

TEST(eligibility, malformed_drafts_are_refused_naming_the_field) {
  struct probe {
    void (*mutate)(application&);
    const char* field;
  };
  const probe probes[] = {
    {[](application& a) { a.applicant.email = ""; }, "applicant.email"},
    {[](application& a) { a.applicant.email = "ada at uni"; },
     "applicant.email"},
    {[](application& a) { a.applicant.country = "gb"; }, "applicant.country"},
    {[](application& a) { a.applicant.name = ""; }, "applicant.name"},
    {[](application& a) { a.organisation.name = ""; }, "organisation.name"},
    {[](application& a) { a.seats = 0; }, "seats"},
    {[](application& a) { a.edu.institution = ""; }, "edu.institution"},
    {[](application& a) { a.kind = application_kind::renewal; }, "renews"},
    {[](application& a) { a.applicant.name = std::string(5000, 'x'); },
     "applicant.name"},
  };
  for (auto& p : probes) {
    auto d = edu_draft();
    p.mutate(d);
    auto r = decide(std::nullopt, submit_application{d}, t0, ctx);
    ASSERT_FALSE(r) << p.field;
    EXPECT_TRUE(r.error() == errc::invalid_argument);
    EXPECT_EQ(error_message(r.error()).rfind(p.field, 0), 0u)
      << error_message(r.error());
  }
}

// -- lifecycle ----------------------------------------------------------------

namespace {

application run(application s, const application_command& cmd) {
  auto r = decide(s, cmd, t0 + duration{1000}, ctx);
  EXPECT_TRUE(r) << error_message(r.error());
  if (r)
    for (auto& ev : *r)
      s = apply(s, ev, t0 + duration{1000});
  return s;
}

} // namespace

TEST(application_rules, full_lifecycle_to_redemption) {
  auto a = submitted(edu_draft());
  a = run(a, sample(application_command_kind::verified, a.id));
  EXPECT_EQ(a.state, application_state::awaiting_code);
  EXPECT_EQ(a.stage, stage::booking);
  a = run(a, note_pool_empty{});
  EXPECT_EQ(a.state, application_state::awaiting_code);
  auto v = a.version;
  a = run(a, note_pool_empty{}); // recorded once
  EXPECT_EQ(a.version, v);
  a = run(a, assign_code{"CODE-1"});
  EXPECT_EQ(a.state, application_state::booked);
  EXPECT_EQ(a.coupon_code, "CODE-1");
  v = a.version;
  a = run(a, assign_code{"CODE-1"}); // the booking delivered twice
  EXPECT_EQ(a.version, v);
  auto other = decide(a, assign_code{"CODE-2"}, t0, ctx);
  EXPECT_FALSE(other);
  a = run(a, sample(application_command_kind::redeem, a.id));
  EXPECT_EQ(a.state, application_state::redeemed);
  EXPECT_FALSE(a.subscription.empty());
}

TEST(application_rules, false_rejection_and_appeal_return_to_review) {
  auto a = submitted(edu_draft());
  a = run(a, sample(application_command_kind::rejected, a.id));
  EXPECT_EQ(a.state, application_state::rejected);
  EXPECT_EQ(a.reasons, std::vector<std::string>{"not enrolled"});
  a = run(a, sample(application_command_kind::appeal, a.id));
  EXPECT_EQ(a.state, application_state::in_review);
  EXPECT_EQ(a.path, verification_path::manual);
  a = run(a, sample(application_command_kind::verified, a.id));
  EXPECT_EQ(a.state, application_state::awaiting_code);
}

TEST(application_rules, redemption_checks_code_and_program) {
  auto a = in_state(application_state::booked);
  auto wrong_code = redeem{"CODE-X", edu_sku(), 5, {}};
  auto r = decide(a, wrong_code, t0, ctx);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::code_invalid);
  auto oss = edu_sku();
  oss.program = program::oss;
  oss.id = "oss-saas-ultimate-1y";
  id_generator gen{1};
  auto r2 = decide(a, redeem{"CODE-1", oss, 5, gen.next<sub_id>(t0)}, t0, ctx);
  ASSERT_FALSE(r2);
  EXPECT_TRUE(r2.error() == errc::sku_mismatch);
  EXPECT_NE(error_message(r2.error()).find("oss"), std::string::npos);
}

TEST(application_rules, rejections_need_a_reason) {
  auto a = submitted(edu_draft());
  auto r = decide(a,
                  record_verification{a.id, verification_outcome::rejected, "",
                                      "verifier", ""},
                  t0, ctx);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::invalid_argument);
}

// The applicant's email is indexed in the submission's commit, and only
// there (the index row is written once per application).
TEST(application_rules, the_first_commit_indexes_the_applicants_email) {
  application after;
  after.id = *app_id::parse("app_01M83WJYYNT193ZSDEP2RKA0T2");
  after.applicant.email = "Ada@Uni.edu";
  after.state = application_state::ineligible;
  lifecycle_policy pol;
  auto fx = application_effects(std::nullopt, after, {}, t0, pol);
  auto key = email_index_key("ada@uni.edu", after.id.str());
  auto has = [&](const effects& f) {
    for (auto& [k, v] : f.put_meta)
      if (k == key)
        return true;
    return false;
  };
  EXPECT_TRUE(has(fx));
  EXPECT_FALSE(has(application_effects(after, after, {}, t0, pol)));
}

// Stage 2 is durable: a verified new member holds a `book_code` timer until
// its code is recorded, so a crash after the verification or a coupon pool
// on a cluster member that is down only delays the booking.
TEST(application_rules, a_verified_application_holds_a_book_code_timer) {
  lifecycle_policy pol;
  auto verifying = submitted(edu_draft());
  auto awaiting = verifying;
  awaiting.state = application_state::awaiting_code;
  awaiting.kind = application_kind::new_member;
  auto fx = application_effects(verifying, awaiting, {}, t0, pol);
  auto* t = fx.armed(kinds::book_code);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->owner, owners::verification);
  EXPECT_EQ(t->due, t0);
  EXPECT_EQ(t->entity, awaiting.id.str());
  // Booked: the timer goes with the code's commit.
  auto booked = awaiting;
  booked.state = application_state::booked;
  auto done = application_effects(awaiting, booked, {}, t0, pol);
  EXPECT_EQ(done.armed(kinds::book_code), nullptr);
  EXPECT_NE(std::find(done.cancel.begin(), done.cancel.end(),
                      std::make_pair(awaiting.id.str(),
                                     std::string{kinds::book_code})),
            done.cancel.end());
  // Still waiting (the pool was empty): nothing armed again.
  EXPECT_EQ(application_effects(awaiting, awaiting, {}, t0, pol)
              .armed(kinds::book_code),
            nullptr);
  // A renewal in awaiting_code takes no code from a pool.
  auto renewal = awaiting;
  renewal.kind = application_kind::renewal;
  EXPECT_EQ(application_effects(verifying, renewal, {}, t0, pol)
              .armed(kinds::book_code),
            nullptr);
}
