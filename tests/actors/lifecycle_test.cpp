// The supervisors end to end on the actors, under the manual clock:
// verification, compliance, emergency licenses (seed 002), renewal, and the
// outbox that carries their notifications.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <stdexcept>
#include <mutex>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/coupon_pool.hpp"
#include "actors/registry.hpp"
#include "actors/mail_sink.hpp"
#include "actors/supervisors.hpp"
#include "actors/templates.hpp"
#include "messages/codec.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"
#include "storage/cf.hpp"
#include "storage/memory_store.hpp"
#include "tests/support/process.hpp"

using namespace tenure;
using namespace std::chrono_literals;

namespace {

// A Monday, 09:00 UTC.
const time_point t0 = *parse_iso8601("2026-11-02T09:00:00Z");

struct config : caf::actor_system_config {
  config() {
    tenure::add_message_types(*this);
    set("scheduler.max-threads", 2);
  }
};

/// The shipped templates: every notification the supervisors write must
/// render with them (a missing parameter would fail in production).
const template_set& shipped_templates() {
  static const template_set set = [] {
    program_texts texts{{program::edu,
                         {"Denomas for Education", "education@denomas.com",
                          "https://customers.example.com/edu"}},
                        {program::oss,
                         {"Denomas for Open Source", "opensource@denomas.com",
                          "https://customers.example.com/oss"}},
                        {program::startups,
                         {"Denomas for Startups", "startups@denomas.com",
                          "https://customers.example.com/startups"}}};
    auto x = template_set::load(
      tenure::test::source_dir() + "/config/templates.json", texts);
    if (!x)
      throw std::runtime_error(error_message(x.error()));
    return std::move(*x);
  }();
  return set;
}

/// The sink of the tests: records what was delivered; can be told to fail;
/// writes to a mail directory when given one.
struct mailbox {
  std::mutex mtx;
  std::vector<notification> sent;
  int fail_next = 0;
  int attempts = 0;
  std::unique_ptr<maildir_sink> dir;

  caf::error deliver(const notification& n) {
    auto rendered = shipped_templates().render(n);
    if (!rendered) {
      ADD_FAILURE() << n.template_name << ": "
                    << error_message(rendered.error());
      return rendered.error();
    }
    std::lock_guard<std::mutex> guard{mtx};
    ++attempts;
    if (fail_next > 0) {
      --fail_next;
      return make_error(errc::unavailable, "test sink: connection refused");
    }
    if (dir)
      if (auto err = dir->deliver(n, *rendered))
        return err;
    sent.push_back(n);
    return caf::none;
  }

  std::vector<notification> with(std::string_view name) {
    std::lock_guard<std::mutex> guard{mtx};
    std::vector<notification> out;
    for (auto& n : sent)
      if (n.template_name == name)
        out.push_back(n);
    return out;
  }
};

application edu_draft(const std::string& tag) {
  application a;
  a.program = program::edu;
  a.applicant = {"Ada " + tag, tag + "@uni.example.edu", "Lecturer", "GB"};
  a.organisation = {tag + ".example.edu", "University " + tag, "GB", ""};
  a.edu.institution = "University " + tag;
  a.seats = 10;
  return a;
}

application startup_draft(const std::string& tag) {
  application a;
  a.program = program::startups;
  a.channel = channel::marketo;
  a.applicant = {"Sam " + tag, tag + "@startup.example.com", "CTO", "DE"};
  a.organisation
    = {tag + " GmbH", "Startup", "DE", "https://" + tag + ".example.com"};
  a.startup.company_website = "https://" + tag + ".example.com";
  a.startup.founded_year = 2024;
  a.startup.employees = 5;
  a.seats = 5;
  return a;
}

subscription subscription_of(plan p, time_point start, time_point end,
                             const std::string& tag) {
  subscription s;
  s.plan = p;
  s.program = p == plan::community ? program::edu : program::none;
  s.organisation = {tag + ".example.org", "Org " + tag, "US",
                    "https://" + tag + ".example.org"};
  s.organisation.key = tag + ".example.org";
  s.contact_email = "admin@" + tag + ".example.org";
  s.sku = p == plan::paid ? "paid-ultimate" : "edu-saas-ultimate-1y";
  s.seats = 20;
  s.start = start;
  s.end = end;
  return s;
}

struct node {
  explicit node(storage::store& st, time_point start = t0)
    : st(st)
    , clk(start)
    , sys(cfg)
    , self(sys) {
    verifier = std::make_shared<fake_verifier>();
    coupon_pool_deps pd;
    pd.store = &st;
    pd.clock = &clk;
    pd.ids = &ids;
    for (auto p : {program::edu, program::oss, program::startups})
      pools[static_cast<size_t>(p)] = sys.spawn(coupon_pool_actor, p, pd);
    registry_deps rd;
    rd.store = &st;
    rd.clock = &clk;
    rd.rules = &rules;
    rd.ids = &ids;
    rd.pools = pools;
    rd.policy = &policy;
    registry = sys.spawn(registry_actor, rd);
    for (auto& p : pools)
      self->send(p, registry);
    supervisors_deps sd;
    sd.store = &st;
    sd.clock = &clk;
    sd.ids = &ids;
    sd.policy = &policy;
    sd.registry = registry;
    sd.verifier = verifier;
    sd.deliver = [this](const notification& n) { return mail.deliver(n); };
    sd.timer_backoff = 1ms;
    sv = spawn_supervisors(sys, sd);
  }

  ~node() {
    sv.stop();
    self->send_exit(registry, caf::exit_reason::user_shutdown);
    for (auto& p : pools)
      self->send_exit(p, caf::exit_reason::user_shutdown);
  }

  template <class T, class Dest, class... Ts>
  caf::expected<T> ask(const Dest& dest, Ts... xs) {
    caf::expected<T> out{T{}};
    self->request(dest, 30s, xs...)
      .receive([&](T& x) { out = std::move(x); },
               [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  /// Moves the clock to `t` and fires everything due.
  void at(time_point t) {
    ASSERT_FALSE(clk.set(t));
    settle();
  }

  void settle() {
    ASSERT_FALSE(flush_timers(sys, sv));
  }

  application app(const app_id& id) {
    auto a = ask<application>(registry, get_atom::value, id);
    EXPECT_TRUE(a) << (a ? "" : error_message(a.error()));
    return a ? *a : application{};
  }

  subscription sub(const sub_id& id) {
    auto s = ask<subscription>(registry, get_atom::value, id);
    EXPECT_TRUE(s) << (s ? "" : error_message(s.error()));
    return s ? *s : subscription{};
  }

  subscription register_sub(subscription s) {
    auto out = ask<subscription>(registry, register_subscription{std::move(s)});
    EXPECT_TRUE(out) << (out ? "" : error_message(out.error()));
    settle();
    return out ? *out : subscription{};
  }

  std::vector<std::string> timer_kinds(const std::string& entity) {
    std::vector<std::string> out;
    auto ts = st.timers_of(entity);
    if (ts)
      for (auto& t : *ts)
        out.push_back(t.kind);
    return out;
  }

  storage::store& st;
  manual_clock clk;
  eligibility_rules rules;
  lifecycle_policy policy;
  id_generator ids{9};
  mailbox mail;
  std::shared_ptr<fake_verifier> verifier;
  config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  std::array<caf::actor, 3> pools;
  caf::actor registry;
  supervisors sv;
};

} // namespace

// -- renewal ------------------------------------------------------------------

TEST(renewal, reminders_go_out_once_each_at_their_offsets) {
  storage::memory_store st;
  node n{st};
  auto end = t0 + days{365};
  auto s = n.register_sub(subscription_of(plan::community, t0, end, "r1"));
  EXPECT_EQ(n.timer_kinds(s.id.str()),
            (std::vector<std::string>{"expiry", "reminder_1d", "reminder_30d",
                                      "reminder_7d", "reminder_90d"}));
  n.at(end - days{90} - 1s);
  EXPECT_TRUE(n.mail.with("renewal_reminder").empty());
  n.at(end - days{90});
  auto r = n.mail.with("renewal_reminder");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].recipient, "admin@r1.example.org");
  EXPECT_EQ(r[0].params.at("days_left"), "90");
  n.at(end - days{7});
  EXPECT_EQ(n.mail.with("renewal_reminder").size(), 3u);
  n.at(end - 1s);
  EXPECT_EQ(n.mail.with("renewal_reminder").size(), 4u);
  EXPECT_EQ(n.sub(s.id).state, subscription_state::active);
  // The end date: expired, in the 14-day grace period; then lapsed.
  n.at(end);
  EXPECT_EQ(n.sub(s.id).state, subscription_state::expired);
  ASSERT_EQ(n.mail.with("subscription_expired").size(), 1u);
  EXPECT_EQ(n.timer_kinds(s.id.str()), std::vector<std::string>{"grace_end"});
  n.at(end + days{14} - 1s);
  EXPECT_EQ(n.sub(s.id).state, subscription_state::expired);
  n.at(end + days{14});
  EXPECT_EQ(n.sub(s.id).state, subscription_state::lapsed);
  EXPECT_EQ(n.mail.with("subscription_lapsed").size(), 1u);
  EXPECT_TRUE(n.timer_kinds(s.id.str()).empty());
  EXPECT_EQ(n.mail.with("renewal_reminder").size(), 4u) << "each once";
}

TEST(renewal, a_verified_renewal_moves_the_reminders_and_expiry) {
  storage::memory_store st;
  node n{st};
  auto end = t0 + days{365};
  auto s = n.register_sub(subscription_of(plan::community, t0, end, "r2"));
  ASSERT_TRUE(n.ask<subscription>(n.registry, report_usage{s.id, 26}));
  n.at(end - days{90});
  ASSERT_EQ(n.mail.with("renewal_reminder").size(), 1u);
  // The member re-applies; the program team verifies the renewal.
  auto draft = edu_draft("r2");
  draft.organisation = s.organisation;
  draft.kind = application_kind::renewal;
  draft.renews = s.id;
  auto a = n.ask<application>(n.registry, submit_application{draft});
  ASSERT_TRUE(a) << error_message(a.error());
  n.settle();
  auto v = n.ask<application>(
    n.registry, record_verification{a->id, verification_outcome::verified, "",
                                    "verifier", ""});
  ASSERT_TRUE(v) << error_message(v.error());
  n.settle();
  auto renewed = n.sub(s.id);
  EXPECT_EQ(renewed.state, subscription_state::active);
  EXPECT_EQ(renewed.end, add_years(end, 1));
  EXPECT_EQ(renewed.seats, 26u) << "overage of 6 seats added at no cost";
  auto app = n.app(a->id);
  EXPECT_EQ(app.state, application_state::redeemed);
  EXPECT_EQ(app.subscription, s.id);
  EXPECT_EQ(n.mail.with("subscription_renewed").size(), 1u);
  // The old schedule is gone: nothing at the old 30-day mark or end date.
  n.at(end - days{30});
  EXPECT_EQ(n.mail.with("renewal_reminder").size(), 1u);
  n.at(end + days{1});
  EXPECT_EQ(n.sub(s.id).state, subscription_state::active);
  EXPECT_TRUE(n.mail.with("subscription_expired").empty());
  // The new one runs from the new end date.
  n.at(renewed.end - days{90});
  EXPECT_EQ(n.mail.with("renewal_reminder").size(), 2u);
  n.at(renewed.end);
  EXPECT_EQ(n.sub(s.id).state, subscription_state::expired);
}

// -- compliance ---------------------------------------------------------------

TEST(compliance, a_cure_on_the_last_day_keeps_the_subscription) {
  storage::memory_store st;
  node n{st};
  auto s = n.register_sub(
    subscription_of(plan::community, t0, t0 + days{365}, "c1"));
  auto opened = n.ask<subscription>(
    n.registry, open_case{s.id, "commercial use", true, "program team"});
  ASSERT_TRUE(opened) << error_message(opened.error());
  EXPECT_EQ(opened->state, subscription_state::in_cure);
  EXPECT_EQ(opened->case_deadline, t0 + days{30});
  n.settle();
  auto notice = n.mail.with("compliance_notice");
  ASSERT_EQ(notice.size(), 1u);
  EXPECT_EQ(notice[0].params.at("deadline"), to_iso8601(t0 + days{30}));
  auto c
    = n.ask<compliance_case>(n.registry, get_atom::value, opened->open_case);
  ASSERT_TRUE(c) << error_message(c.error());
  EXPECT_EQ(c->state, case_state::open);
  EXPECT_EQ(c->reason, "commercial use");
  // The last day of the cure period.
  n.at(t0 + days{30} - 1h);
  auto cured = n.ask<subscription>(
    n.registry, cure_case{opened->open_case, "moved to a paid plan", "team"});
  ASSERT_TRUE(cured) << error_message(cured.error());
  EXPECT_EQ(cured->state, subscription_state::active);
  EXPECT_EQ(n.timer_kinds(s.id.str()).size(), 5u) << "cure deadline gone";
  n.at(t0 + days{31});
  EXPECT_EQ(n.sub(s.id).state, subscription_state::active);
  EXPECT_TRUE(n.mail.with("subscription_terminated").empty());
  c = n.ask<compliance_case>(n.registry, get_atom::value, opened->open_case);
  EXPECT_EQ(c->state, case_state::cured);
}

TEST(compliance, the_day_after_the_deadline_the_subscription_is_terminated) {
  storage::memory_store st;
  node n{st};
  auto s = n.register_sub(
    subscription_of(plan::community, t0, t0 + days{365}, "c2"));
  auto opened = n.ask<subscription>(
    n.registry, open_case{s.id, "commercial use", true, "program team"});
  ASSERT_TRUE(opened);
  n.at(t0 + days{30} - 1s);
  EXPECT_EQ(n.sub(s.id).state, subscription_state::in_cure);
  n.at(t0 + days{30});
  EXPECT_EQ(n.sub(s.id).state, subscription_state::terminated);
  ASSERT_EQ(n.mail.with("subscription_terminated").size(), 1u);
  EXPECT_TRUE(n.timer_kinds(s.id.str()).empty()) << "no reminders after";
  n.at(t0 + days{31});
  auto late = n.ask<subscription>(
    n.registry, cure_case{opened->open_case, "too late", "team"});
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error(), errc::illegal_transition);
  auto c
    = n.ask<compliance_case>(n.registry, get_atom::value, opened->open_case);
  EXPECT_EQ(c->state, case_state::terminated);
}

TEST(compliance, a_cure_after_the_deadline_is_refused_even_before_the_timer) {
  storage::memory_store st;
  node n{st};
  auto s = n.register_sub(
    subscription_of(plan::community, t0, t0 + days{365}, "c3"));
  auto opened = n.ask<subscription>(
    n.registry, open_case{s.id, "commercial use", true, "program team"});
  ASSERT_TRUE(opened);
  // The clock passes the deadline; the cure arrives before the supervisor
  // fires (no settle).
  ASSERT_FALSE(n.clk.set(t0 + days{30} + 1s));
  auto late = n.ask<subscription>(n.registry,
                                  cure_case{opened->open_case, "late", "team"});
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error(), errc::illegal_transition);
}

TEST(compliance, immediate_revocation_sends_a_notice_and_closes_the_case) {
  storage::memory_store st;
  node n{st};
  auto s = n.register_sub(
    subscription_of(plan::community, t0, t0 + days{365}, "c4"));
  auto revoked = n.ask<subscription>(
    n.registry, open_case{s.id, "resale of licenses", false, "legal"});
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->state, subscription_state::revoked);
  n.settle();
  EXPECT_EQ(n.mail.with("revocation_notice").size(), 1u);
  EXPECT_TRUE(n.timer_kinds(s.id.str()).empty());
}

// -- emergency licenses (seed 002) -------------------------------------------

namespace {

request_emergency_license emergency_for(const sub_id& id, uint32_t days = 0) {
  return {id,
          25,
          "oncall-admin@customer.example.com",
          "https://support.example.com/tickets/4711",
          "support-anna",
          days};
}

} // namespace

TEST(emergency, the_window_is_three_days_after_the_grace_period) {
  storage::memory_store st;
  node n{st};
  auto end = t0 + days{30};
  auto grace_end = end + days{14};
  // One subscription per probe: a license, once issued, runs for days.
  std::vector<subscription> subs;
  for (int i = 0; i < 4; ++i)
    subs.push_back(n.register_sub(
      subscription_of(plan::paid, t0, end, "w" + std::to_string(i))));
  n.at(grace_end - 1s);
  EXPECT_EQ(n.sub(subs[0].id).state, subscription_state::expired);
  auto before
    = n.ask<emergency_license>(n.sv.emergency, emergency_for(subs[0].id));
  ASSERT_FALSE(before);
  EXPECT_EQ(before.error(), errc::refused);
  EXPECT_NE(error_message(before.error()).find("grace period"),
            std::string::npos);
  n.at(grace_end);
  EXPECT_EQ(n.sub(subs[1].id).state, subscription_state::lapsed);
  auto first
    = n.ask<emergency_license>(n.sv.emergency, emergency_for(subs[1].id));
  ASSERT_TRUE(first) << error_message(first.error());
  EXPECT_EQ(first->days, 5u);
  EXPECT_EQ(first->expires_at, grace_end + days{5});
  n.at(grace_end + days{3});
  auto last
    = n.ask<emergency_license>(n.sv.emergency, emergency_for(subs[2].id));
  ASSERT_TRUE(last) << error_message(last.error());
  n.at(grace_end + days{3} + 1s);
  auto late
    = n.ask<emergency_license>(n.sv.emergency, emergency_for(subs[3].id));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error(), errc::refused);
  EXPECT_NE(error_message(late.error()).find("needs to renew"),
            std::string::npos);
}

TEST(emergency, only_paid_plans_and_never_more_than_ten_days) {
  storage::memory_store st;
  node n{st};
  auto end = t0 + days{30};
  auto paid = n.register_sub(subscription_of(plan::paid, t0, end, "p1"));
  auto paid2 = n.register_sub(subscription_of(plan::paid, t0, end, "p2"));
  auto free = n.register_sub(subscription_of(plan::community, t0, end, "f1"));
  n.at(end + days{15});
  auto community
    = n.ask<emergency_license>(n.sv.emergency, emergency_for(free.id));
  ASSERT_FALSE(community);
  EXPECT_EQ(community.error(), errc::refused);
  EXPECT_NE(error_message(community.error()).find("without a paid plan"),
            std::string::npos);
  auto prospect
    = n.ask<emergency_license>(n.sv.emergency, emergency_for(sub_id{}));
  ASSERT_FALSE(prospect);
  EXPECT_NE(error_message(prospect.error()).find("prospects"),
            std::string::npos);
  auto eleven
    = n.ask<emergency_license>(n.sv.emergency, emergency_for(paid.id, 11));
  ASSERT_FALSE(eleven);
  EXPECT_NE(error_message(eleven.error()).find("at most 10 days"),
            std::string::npos);
  auto ten
    = n.ask<emergency_license>(n.sv.emergency, emergency_for(paid.id, 10));
  ASSERT_TRUE(ten) << error_message(ten.error());
  EXPECT_EQ(ten->expires_at, n.clk.now() + days{10});
  // Not extendable: a second request while it runs is refused.
  auto again
    = n.ask<emergency_license>(n.sv.emergency, emergency_for(paid.id, 5));
  ASSERT_FALSE(again);
  EXPECT_NE(error_message(again.error()).find("cannot be extended"),
            std::string::npos);
  // Generic information, Ultimate, the user count.
  EXPECT_NE(ten->license_key.find("Ultimate"), std::string::npos);
  EXPECT_NE(ten->license_key.find("Users: 25"), std::string::npos);
  EXPECT_EQ(ten->license_key.find("p1"), std::string::npos);
  (void)paid2;
}

TEST(emergency, every_attempt_is_audited_findable_by_email_and_resendable) {
  storage::memory_store st;
  node n{st};
  auto end = t0 + days{30};
  auto paid = n.register_sub(subscription_of(plan::paid, t0, end, "a1"));
  n.at(end + days{14} + 1h);
  auto refused
    = n.ask<emergency_license>(n.sv.emergency, emergency_for(paid.id, 12));
  ASSERT_FALSE(refused);
  auto issued
    = n.ask<emergency_license>(n.sv.emergency, emergency_for(paid.id));
  ASSERT_TRUE(issued);
  n.settle();
  auto found = n.ask<std::vector<audit_record>>(
    n.sv.emergency, find_atom::value,
    std::string{"OnCall-Admin@customer.example.com"});
  ASSERT_TRUE(found) << error_message(found.error());
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ(found->at(0).outcome, outcome::failure);
  EXPECT_EQ(found->at(0).message.rfind("[Failure] - ", 0), 0u);
  EXPECT_EQ(found->at(1).outcome, outcome::success);
  EXPECT_EQ(found->at(1).message,
            "[Success] - Created a license under "
            "oncall-admin@customer.example.com for 25 users");
  EXPECT_EQ(found->at(1).entity, issued->id.str());
  // The email with the license and the notice with the ticket URL.
  auto mails = n.mail.with("emergency_license");
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(mails[0].params.at("license_key"), issued->license_key);
  auto notices = n.mail.with("emergency_license_notice");
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].channel, notification_channel::chat);
  EXPECT_EQ(notices[0].recipient, "#support_licensing-subscription");
  EXPECT_EQ(notices[0].params.at("ticket_url"),
            "https://support.example.com/tickets/4711");
  EXPECT_EQ(notices[0].params.count("license_key"), 0u);
  // "I never got the email": resend from the record.
  auto resent = n.ask<emergency_license>(
    n.sv.emergency, resend_atom::value, issued->id, std::string{"support-ben"});
  ASSERT_TRUE(resent) << error_message(resent.error());
  n.settle();
  EXPECT_EQ(n.mail.with("emergency_license").size(), 2u);
  EXPECT_EQ(resent->resent, 1u);
  // The license expires on its timer.
  n.at(issued->expires_at);
  auto expired
    = n.ask<emergency_license>(n.sv.emergency, get_atom::value, issued->id);
  ASSERT_TRUE(expired);
  EXPECT_TRUE(expired->expired);
}

// -- verification
// --------------------------------------------------------------

TEST(verification, the_verifier_is_asked_again_then_manual_review_takes_over) {
  storage::memory_store st;
  node n{st};
  auto a = n.ask<application>(n.registry, submit_application{edu_draft("v1")});
  ASSERT_TRUE(a) << error_message(a.error());
  EXPECT_EQ(a->state, application_state::verifying);
  n.settle();
  EXPECT_EQ(n.verifier->calls, 1);
  auto app = n.app(a->id);
  EXPECT_EQ(app.verification_attempts, 1u);
  EXPECT_EQ(app.external_ref, "fake-" + a->id.str() + "-1");
  EXPECT_EQ(n.timer_kinds(a->id.str()),
            std::vector<std::string>{"verify_timeout"});
  // No result within the timeout (2 days): asked again, twice.
  n.at(t0 + days{2} - 1s);
  EXPECT_EQ(n.verifier->calls, 1);
  n.at(t0 + days{2});
  EXPECT_EQ(n.verifier->calls, 2);
  n.at(t0 + days{4});
  EXPECT_EQ(n.verifier->calls, 3);
  EXPECT_EQ(n.app(a->id).state, application_state::verifying);
  n.at(t0 + days{6});
  EXPECT_EQ(n.verifier->calls, 3) << "retries are bounded";
  app = n.app(a->id);
  EXPECT_EQ(app.state, application_state::in_review);
  EXPECT_EQ(app.path, verification_path::manual);
  auto notice = n.mail.with("verification_manual_review");
  ASSERT_EQ(notice.size(), 1u);
  EXPECT_EQ(notice[0].recipient, "education@denomas.com");
  // The review queue lists it with its five-business-day window.
  auto q = n.ask<std::vector<review_item>>(n.sv.verification, queue_atom::value,
                                           uint64_t{100});
  ASSERT_TRUE(q) << error_message(q.error());
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ(q->at(0).application, a->id);
  EXPECT_EQ(q->at(0).due, add_business_days(t0 + days{6}, 5));
  // The team decides: the queue empties.
  auto ok = n.ask<application>(
    n.registry, record_verification{a->id, verification_outcome::verified, "",
                                    "reviewer", ""});
  ASSERT_TRUE(ok);
  q = n.ask<std::vector<review_item>>(n.sv.verification, queue_atom::value,
                                      uint64_t{100});
  EXPECT_TRUE(q->empty());
}

TEST(verification, a_failing_verifier_is_retried_with_backoff) {
  storage::memory_store st;
  node n{st};
  n.verifier->fail_next = 3;
  auto a = n.ask<application>(n.registry, submit_application{edu_draft("v2")});
  ASSERT_TRUE(a);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (n.app(a->id).verification_attempts == 0
         && std::chrono::steady_clock::now() < deadline)
    n.settle();
  EXPECT_EQ(n.verifier->calls, 4);
  EXPECT_EQ(n.app(a->id).verification_attempts, 1u);
}

TEST(verification, an_overdue_review_notifies_the_program_inbox_once) {
  storage::memory_store st;
  node n{st};
  auto a
    = n.ask<application>(n.registry, submit_application{startup_draft("s1")});
  ASSERT_TRUE(a) << error_message(a.error());
  EXPECT_EQ(a->state, application_state::in_review);
  // Submitted Monday 09:00: five business days is the next Monday 09:00.
  EXPECT_EQ(a->review_due, t0 + days{7});
  n.at(t0 + days{7} - 1s);
  EXPECT_TRUE(n.mail.with("review_overdue").empty());
  n.at(t0 + days{7});
  auto overdue = n.mail.with("review_overdue");
  ASSERT_EQ(overdue.size(), 1u);
  EXPECT_EQ(overdue[0].recipient, "startups@denomas.com");
  n.at(t0 + days{30});
  EXPECT_EQ(n.mail.with("review_overdue").size(), 1u);
  auto q = n.ask<std::vector<review_item>>(n.sv.verification, queue_atom::value,
                                           uint64_t{10});
  ASSERT_EQ(q->size(), 1u);
  EXPECT_TRUE(q->at(0).overdue);
}

TEST(verification, business_days_skip_weekends) {
  auto friday = *parse_iso8601("2026-11-06T10:00:00Z");
  EXPECT_EQ(add_business_days(friday, 1),
            *parse_iso8601("2026-11-09T10:00:00Z"));
  EXPECT_EQ(add_business_days(friday, 5),
            *parse_iso8601("2026-11-13T10:00:00Z"));
  auto saturday = *parse_iso8601("2026-11-07T15:00:00Z");
  EXPECT_EQ(add_business_days(saturday, 1),
            *parse_iso8601("2026-11-10T00:00:00Z"));
}

// -- booking emails
// --------------------------------------------------------------

TEST(outbox, the_success_email_carries_the_code_and_nothing_logs_it) {
  storage::memory_store st;
  node n{st};
  std::string csv = "EDU-CODE-0001\n";
  auto rep = n.ask<import_report>(n.pools[0],
                                  import_coupons{program::edu, csv, "t.csv"});
  ASSERT_TRUE(rep);
  auto a = n.ask<application>(n.registry, submit_application{edu_draft("b1")});
  ASSERT_TRUE(a);
  ASSERT_TRUE(n.ask<application>(
    n.registry, record_verification{a->id, verification_outcome::verified, "",
                                    "verifier", ""}));
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (n.mail.with("booking_success").empty()
         && std::chrono::steady_clock::now() < deadline)
    n.settle();
  auto mails = n.mail.with("booking_success");
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(mails[0].recipient, "b1@uni.example.edu");
  EXPECT_EQ(mails[0].params.at("code"), "EDU-CODE-0001");
  EXPECT_EQ(mails[0].program, program::edu);
}

TEST(outbox, a_failing_sink_is_retried_with_backoff_then_delivered) {
  storage::memory_store st;
  node n{st};
  n.mail.fail_next = 2;
  auto s = n.register_sub(
    subscription_of(plan::community, t0, t0 + days{365}, "o1"));
  auto revoked = n.ask<subscription>(
    n.registry, revoke_subscription{s.id, "fraud", "legal"});
  ASSERT_TRUE(revoked);
  n.settle();
  EXPECT_TRUE(n.mail.with("revocation_notice").empty());
  auto rows = st.outbox();
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  auto row = decode<notification>(rows->at(0).value);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, delivery_state::pending);
  EXPECT_EQ(row->attempts, 1u);
  EXPECT_NE(row->last_error.find("connection refused"), std::string::npos);
  EXPECT_EQ(row->next_attempt_at, t0 + 1min);
  n.at(t0 + 1min);
  EXPECT_TRUE(n.mail.with("revocation_notice").empty());
  n.at(t0 + 3min);
  ASSERT_EQ(n.mail.with("revocation_notice").size(), 1u);
  row = decode<notification>(st.outbox()->at(0).value);
  EXPECT_EQ(row->state, delivery_state::delivered);
  EXPECT_EQ(row->attempts, 3u);
  auto status = n.ask<outbox_status>(n.sv.outbox, outbox_atom::value);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->delivered, 1u);
  EXPECT_EQ(status->pending, 0u);
}

TEST(outbox, gives_up_after_max_attempts_and_an_operator_can_retry) {
  storage::memory_store st;
  node n{st};
  n.mail.fail_next = 100;
  auto s = n.register_sub(
    subscription_of(plan::community, t0, t0 + days{365}, "o2"));
  ASSERT_TRUE(n.ask<subscription>(n.registry,
                                  revoke_subscription{s.id, "fraud", "legal"}));
  for (int h = 1; h <= 12; ++h)
    n.at(t0 + std::chrono::hours(h));
  auto status = n.ask<outbox_status>(n.sv.outbox, outbox_atom::value);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->failed, 1u);
  ASSERT_EQ(status->failures.size(), 1u);
  EXPECT_EQ(status->failures[0].attempts, 8u);
  EXPECT_TRUE(status->failures[0].params.empty()) << "no secrets in status";
  n.mail.fail_next = 0;
  auto again = n.ask<notification>(n.sv.outbox, retry_atom::value,
                                   status->failures[0].id);
  ASSERT_TRUE(again) << error_message(again.error());
  n.settle();
  EXPECT_EQ(n.mail.with("revocation_notice").size(), 1u);
}

TEST(outbox, a_crash_between_delivery_and_bookkeeping_delivers_no_duplicate) {
  tenure::test::temp_dir mail;
  storage::memory_store st;
  node n{st};
  n.mail.dir = std::make_unique<maildir_sink>(mail.path());
  auto s = n.register_sub(
    subscription_of(plan::community, t0, t0 + days{365}, "o3"));
  ASSERT_TRUE(n.ask<subscription>(n.registry,
                                  revoke_subscription{s.id, "fraud", "legal"}));
  // The message reaches the mail directory; the commit that records it
  // fails, as if the node died right then. The timer is still stored, so
  // the notification goes out again.
  st.fail_next_commits(1);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    n.settle();
    auto row = decode<notification>(st.outbox()->at(0).value);
    ASSERT_TRUE(row);
    if (row->state == delivery_state::delivered
        || std::chrono::steady_clock::now() > deadline)
      break;
  }
  EXPECT_EQ(n.mail.attempts, 2) << "delivered twice";
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(mail.path()))
    files += e.is_regular_file();
  EXPECT_EQ(files, 1u) << "the second delivery overwrote the first";
  auto row = decode<notification>(st.outbox()->at(0).value);
  EXPECT_EQ(row->state, delivery_state::delivered);
  EXPECT_TRUE(n.timer_kinds(row->id.str()).empty());
}

// -- at least once ------------------------------------------------------------

TEST(timers, a_timer_delivered_twice_changes_nothing_the_second_time) {
  storage::memory_store st;
  node n{st};
  auto end = t0 + days{365};
  auto s = n.register_sub(subscription_of(plan::community, t0, end, "t1"));
  auto reminders = st.timers_of(s.id.str(), "reminder_90d");
  ASSERT_TRUE(reminders);
  ASSERT_EQ(reminders->size(), 1u);
  auto t = reminders->at(0);
  ASSERT_FALSE(n.clk.set(t.due));
  // The same firing twice, as after a supervisor restart in the middle.
  auto first = n.ask<bool>(n.registry, fire_atom::value, t);
  ASSERT_TRUE(first) << error_message(first.error());
  EXPECT_TRUE(*first);
  {
    // The row is back, as if the removal had not been seen.
    storage::batch b;
    b.put_timer(t);
    ASSERT_FALSE(st.commit_sync(std::move(b)));
  }
  auto second = n.ask<bool>(n.registry, fire_atom::value, t);
  ASSERT_TRUE(second) << error_message(second.error());
  EXPECT_FALSE(*second);
  n.settle();
  EXPECT_EQ(n.mail.with("renewal_reminder").size(), 1u);
  auto hist
    = n.ask<std::vector<history_entry>>(n.registry, history_atom::value, s.id);
  ASSERT_TRUE(hist);
  size_t sent = 0;
  for (auto& h : *hist)
    sent += h.type == "sub_reminder_sent";
  EXPECT_EQ(sent, 1u);
  EXPECT_TRUE(st.timers_of(s.id.str(), "reminder_90d")->empty());
}

TEST(timers, a_node_reopened_after_the_end_date_expires_the_subscription_once) {
  tenure::test::temp_dir dir;
  storage::store_options opts;
  opts.path = dir.path();
  sub_id id;
  auto end = t0 + days{100};
  {
    auto st = storage::rocksdb_store::open(opts);
    ASSERT_TRUE(st);
    node n{**st};
    id = n.register_sub(subscription_of(plan::community, t0, end, "d1")).id;
    n.at(end - days{30} - 1s);
    EXPECT_TRUE(n.mail.with("renewal_reminder").size() == 1u); // 90d
  }
  // Down from before the 30-day reminder until after the end date.
  auto st = storage::rocksdb_store::open(opts);
  ASSERT_TRUE(st);
  node n{**st, end + days{2}};
  n.settle();
  auto s = n.sub(id);
  EXPECT_EQ(s.state, subscription_state::expired);
  auto hist
    = n.ask<std::vector<history_entry>>(n.registry, history_atom::value, id);
  ASSERT_TRUE(hist);
  std::vector<std::string> types;
  for (auto& h : *hist)
    types.push_back(h.type);
  // Caught up in due order: the 30d, 7d and 1d reminders fire first but no
  // longer apply (the end date passed: a reminder would announce an expiry
  // in the past), so they are consumed without an email; then the expiry,
  // once.
  EXPECT_EQ(types, (std::vector<std::string>{
                     "sub_provisioned", "sub_reminder_sent", "sub_expired"}));
  EXPECT_EQ(n.mail.with("renewal_reminder").size(), 0u);
  EXPECT_EQ(n.mail.with("subscription_expired").size(), 1u);
  EXPECT_EQ(n.timer_kinds(id.str()), std::vector<std::string>{"grace_end"});
  n.settle();
  EXPECT_EQ(n.sub(id).version, s.version) << "nothing fired twice";
}
