// The outreach programs of seed 003: each recipient rule, each program
// kind's schedule, a series sent under the manual clock through the desk
// and its timer supervisor, rates from a scripted set of events, and
// anonymous survey responses without identity.

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/clock.hpp"
#include "actors/outreach_desk.hpp"
#include "actors/outreach_rules.hpp"
#include "actors/timer_supervisor.hpp"
#include "messages/codec.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"
#include "storage/memory_store.hpp"

using namespace tenure;
using namespace std::chrono_literals;

namespace {

const time_point t0 = from_unix_ms(1'795'000'000'000);

contact person(std::string name, std::vector<contact_role> roles,
               bool bounced = false) {
  static id_generator ids{3};
  contact c;
  c.id = ids.next<con_id>(t0);
  c.name = name;
  c.email = name + "@acme.example";
  c.roles = std::move(roles);
  c.bounced = bounced;
  return c;
}

account acme(hosting h, std::vector<contact> contacts) {
  account a;
  a.id = acct_id::from_body("01JAAAAAAAAAAAAAAAAAAAAAA1");
  a.name = "Acme";
  a.segment = segment::scale;
  a.hosting = h;
  a.stage = lifecycle_stage::enablement;
  a.contacts = std::move(contacts);
  return a;
}

outreach_program program_of(outreach_kind k, size_t steps = 1) {
  outreach_program p;
  p.id = prg_id::from_body("01JAAAAAAAAAAAAAAAAAAAAAA2");
  p.name = "Enablement: CI";
  p.kind = k;
  p.stage = lifecycle_stage::enablement;
  for (size_t i = 0; i < steps; ++i) {
    outreach_step s;
    s.subject = "Step " + std::to_string(i + 1) + " for {{account}}";
    s.body = "Hello {{name}}, read {{link_1}}";
    s.delay = std::chrono::duration_cast<duration>(days{7 * int(i)});
    p.steps.push_back(s);
  }
  p.links = {"https://docs.example/ci"};
  if (k == outreach_kind::survey) {
    p.survey = survey_kind::nps;
    p.steps[0].body = "Hello {{name}}";
  }
  return p;
}

std::vector<std::string> names(const resolution& r) {
  std::vector<std::string> out;
  for (auto& x : r.recipients)
    out.push_back(x.name);
  return out;
}

bool says(const resolution& r, const std::string& who,
          const std::string& what) {
  return std::any_of(r.lines.begin(), r.lines.end(), [&](auto& l) {
    return l.rfind(who, 0) == 0 && l.find(what) != std::string::npos;
  });
}

} // namespace

// -- recipient rules ----------------------------------------------------------

TEST(outreach_recipients, admin_contacts_receive_every_program) {
  auto a
    = acme(hosting::self_managed, {person("ann", {contact_role::admin}),
                                   person("abe", {contact_role::admin}),
                                   person("sam", {contact_role::sold_to})});
  auto r = resolve_recipients(program_of(outreach_kind::email), a);
  EXPECT_TRUE(r.in_audience);
  EXPECT_EQ(names(r), (std::vector<std::string>{"ann", "abe"}));
  EXPECT_TRUE(says(r, "ann", "Admin contact: receives it"));
  EXPECT_TRUE(says(r, "sam", "the account has Admin contacts: not sent"));
}

TEST(outreach_recipients, owners_and_maintainers_receive_on_saas_only) {
  std::vector<contact> cs{person("ann", {contact_role::admin}),
                          person("oli", {contact_role::owner}),
                          person("max", {contact_role::maintainer})};
  auto saas = resolve_recipients(program_of(outreach_kind::email),
                                 acme(hosting::saas, cs));
  EXPECT_EQ(names(saas), (std::vector<std::string>{"ann", "oli", "max"}));
  EXPECT_TRUE(says(saas, "oli", "Owner user (SaaS): receives it"));
  auto sm = resolve_recipients(program_of(outreach_kind::email),
                               acme(hosting::self_managed, cs));
  EXPECT_EQ(names(sm), (std::vector<std::string>{"ann"}));
  EXPECT_TRUE(says(sm, "max", "self-managed"));
  EXPECT_TRUE(says(sm, "oli", "not sent"));
}

TEST(outreach_recipients, without_an_admin_the_sold_to_contact_stands_in) {
  auto a = acme(hosting::saas, {person("sam", {contact_role::sold_to}),
                                person("oli", {contact_role::owner})});
  auto r = resolve_recipients(program_of(outreach_kind::series, 2), a);
  EXPECT_EQ(names(r), (std::vector<std::string>{"sam", "oli"}));
  EXPECT_TRUE(says(r, "sam", "no Admin contact"));
  EXPECT_TRUE(std::any_of(r.lines.begin(), r.lines.end(), [](auto& l) {
    return l.find("goes to the Sold-To contact") != std::string::npos;
  }));
}

TEST(outreach_recipients, sold_to_contacts_never_receive_nps_or_csat) {
  auto a
    = acme(hosting::self_managed, {person("sam", {contact_role::sold_to})});
  for (auto k : {survey_kind::nps, survey_kind::csat}) {
    auto p = program_of(outreach_kind::survey);
    p.survey = k;
    auto r = resolve_recipients(p, a);
    EXPECT_TRUE(r.in_audience);
    EXPECT_TRUE(r.recipients.empty()) << to_string(k);
    EXPECT_TRUE(says(r, "sam", "never receive")) << to_string(k);
  }
  // An Admin who is also the Sold-To contact answers as the Admin.
  auto both
    = acme(hosting::self_managed,
           {person("bea", {contact_role::sold_to, contact_role::admin})});
  EXPECT_EQ(names(resolve_recipients(program_of(outreach_kind::survey), both)),
            std::vector<std::string>{"bea"});
}

TEST(outreach_recipients, bounced_and_repeated_addresses_are_skipped) {
  auto twin = person("ann", {contact_role::owner});
  twin.name = "Ann again";
  auto a
    = acme(hosting::saas, {person("ann", {contact_role::admin}),
                           person("bob", {contact_role::admin}, true), twin});
  auto r = resolve_recipients(program_of(outreach_kind::email), a);
  EXPECT_EQ(names(r), std::vector<std::string>{"ann"});
  EXPECT_TRUE(says(r, "bob", "bounced"));
  EXPECT_TRUE(says(r, "Ann again", "receives it already"));
}

TEST(outreach_recipients, the_audience_decides_first) {
  auto a = acme(hosting::saas, {person("ann", {contact_role::admin})});
  auto p = program_of(outreach_kind::email);
  p.segments = {segment::tech_touch};
  auto r = resolve_recipients(p, a);
  EXPECT_FALSE(r.in_audience);
  EXPECT_TRUE(r.recipients.empty());
  EXPECT_TRUE(says(r, "segment scale", "does not match"));
  p.segments = {segment::scale, segment::csm_managed};
  p.stages = {lifecycle_stage::enablement};
  p.hostings = {hosting::saas};
  r = resolve_recipients(p, a);
  EXPECT_TRUE(r.in_audience);
  EXPECT_TRUE(says(r, "hosting saas", "matches"));
  EXPECT_EQ(names(r), std::vector<std::string>{"ann"});
}

TEST(outreach_recipients, explanations_never_show_a_whole_address) {
  auto a = acme(hosting::saas, {person("ann", {contact_role::admin})});
  auto r = resolve_recipients(program_of(outreach_kind::email), a);
  for (auto& l : r.lines)
    EXPECT_EQ(l.find("ann@acme.example"), std::string::npos) << l;
  EXPECT_TRUE(says(r, "ann (a***@acme.example)", "receives"));
}

// -- program kinds ------------------------------------------------------------

TEST(outreach_kinds, each_kind_validates_its_shape) {
  auto now = t0;
  EXPECT_FALSE(validate_program(program_of(outreach_kind::email), now));
  EXPECT_TRUE(validate_program(program_of(outreach_kind::email, 2), now));
  EXPECT_TRUE(validate_program(program_of(outreach_kind::series, 1), now));
  EXPECT_FALSE(validate_program(program_of(outreach_kind::series, 3), now));
  auto back = program_of(outreach_kind::series, 3);
  back.steps[2].delay = days{1};
  EXPECT_TRUE(validate_program(back, now));
  auto web = program_of(outreach_kind::webinar, 2);
  EXPECT_TRUE(validate_program(web, now)) << "needs webinar_at";
  web.webinar_at = now + days{10};
  EXPECT_FALSE(validate_program(web, now));
  web.webinar_at = now - 1h;
  EXPECT_TRUE(validate_program(web, now));
  auto news = program_of(outreach_kind::newsletter, 3);
  for (auto& s : news.steps)
    s.delay = {};
  EXPECT_FALSE(validate_program(news, now));
  auto survey = program_of(outreach_kind::survey);
  EXPECT_FALSE(validate_program(survey, now));
  auto reminded = program_of(outreach_kind::survey, 2);
  reminded.steps[1].delay = {};
  EXPECT_TRUE(validate_program(reminded, now)) << "a reminder at once";
  reminded.steps[1].delay = days{7};
  EXPECT_FALSE(validate_program(reminded, now));
  survey.survey = survey_kind::none;
  EXPECT_TRUE(validate_program(survey, now));
  auto anon = program_of(outreach_kind::email);
  anon.anonymous = true;
  EXPECT_TRUE(validate_program(anon, now));
  auto typo = program_of(outreach_kind::email);
  typo.steps[0].body = "{{link_2}}";
  auto err = validate_program(typo, now);
  ASSERT_TRUE(err);
  EXPECT_NE(error_message(err).find("unknown placeholder {{link_2}}"),
            std::string::npos)
    << error_message(err);
}

TEST(outreach_kinds, steps_go_out_when_each_kind_says) {
  auto email = step_times(program_of(outreach_kind::email), t0);
  ASSERT_EQ(email.size(), 1u);
  EXPECT_EQ(email[0], t0);
  auto series = step_times(program_of(outreach_kind::series, 3), t0);
  ASSERT_EQ(series.size(), 3u);
  EXPECT_EQ(series[1], t0 + days{7});
  EXPECT_EQ(series[2], t0 + days{14});
  auto web = program_of(outreach_kind::webinar, 2);
  web.webinar_at = t0 + days{10};
  auto w = step_times(web, t0);
  EXPECT_EQ(w[0], t0);
  EXPECT_EQ(w[1], t0 + days{9});
  web.webinar_at = t0 + 12h;
  EXPECT_FALSE(step_times(web, t0)[1]) << "a reminder after the start";
  auto news = program_of(outreach_kind::newsletter, 3);
  for (auto& s : news.steps)
    s.delay = {};
  auto n = step_times(news, t0);
  EXPECT_EQ(n[1], t0 + days{30});
  EXPECT_EQ(n[2], t0 + days{60});
  auto survey = program_of(outreach_kind::survey, 2);
  EXPECT_FALSE(only_non_responders(survey, 0));
  EXPECT_TRUE(only_non_responders(survey, 1));
  EXPECT_FALSE(only_non_responders(program_of(outreach_kind::series, 2), 1));
}

TEST(outreach_kinds, transitions_follow_the_table) {
  auto p = program_of(outreach_kind::series, 2);
  auto ok = decide(p, launch_program{"op"}, t0);
  ASSERT_TRUE(ok);
  p = apply(p, ok->at(0), t0);
  EXPECT_EQ(p.state, outreach_state::running);
  EXPECT_FALSE(decide(p, launch_program{"op"}, t0));
  EXPECT_FALSE(decide(p, finish_step{1, 0, 0}, t0)) << "step 0 first";
  auto s0 = decide(p, finish_step{0, 1, 1}, t0);
  ASSERT_TRUE(s0);
  EXPECT_EQ(s0->size(), 1u);
  p = apply(p, s0->at(0), t0);
  auto s1 = decide(p, finish_step{1, 1, 1}, t0 + days{7});
  ASSERT_TRUE(s1);
  ASSERT_EQ(s1->size(), 2u) << "the last step completes it";
  for (auto& ev : *s1)
    p = apply(p, ev, t0 + days{7});
  EXPECT_EQ(p.state, outreach_state::completed);
  EXPECT_FALSE(decide(p, stop_program{"op"}, t0));
  auto sys = program_of(outreach_kind::email);
  sys.system = true;
  EXPECT_FALSE(decide(sys, launch_program{"op"}, t0));
}

TEST(outreach_kinds, a_survey_invitation_carries_a_link_per_score) {
  auto p = program_of(outreach_kind::survey);
  p.anonymous = true;
  auto a = acme(hosting::saas, {person("ann", {contact_role::admin})});
  tracking_urls u;
  u.pixel = "https://t.example/o/x";
  for (auto s : survey_scores(survey_kind::nps))
    u.scores[s] = "https://t.example/s/x?score=" + std::to_string(s);
  auto n
    = outreach_email(p, 0, a, resolve_recipients(p, a).recipients.at(0), u);
  EXPECT_EQ(n.template_name, "outreach");
  EXPECT_EQ(n.recipient, "ann@acme.example");
  auto& body = n.params.at("body");
  EXPECT_EQ(body.rfind("Hello ann", 0), 0u) << body;
  for (int s = 0; s <= 10; ++s)
    EXPECT_NE(body.find("score=" + std::to_string(s) + "\n"), std::string::npos)
      << s;
  EXPECT_NE(body.find("anonymous"), std::string::npos);
  EXPECT_EQ(n.params.at("tracking_pixel"), u.pixel);
}

// -- rates --------------------------------------------------------------------

TEST(outreach_rates, rates_follow_a_scripted_set_of_events) {
  outreach_counts c;
  std::vector<outreach_delivery> ds(10);
  c.sent = ds.size();
  auto t = t0;
  // 6 opens (one opened three times), 3 clicks (one without an open: a
  // blocked pixel), 2 bounces, a bounce after an open that is not believed.
  for (int i = 0; i < 6; ++i)
    EXPECT_TRUE(track(ds[i], c, track_kind::open, t));
  EXPECT_FALSE(track(ds[0], c, track_kind::open, t + 1h));
  EXPECT_FALSE(track(ds[0], c, track_kind::open, t + 2h));
  EXPECT_TRUE(track(ds[1], c, track_kind::click, t));
  EXPECT_FALSE(track(ds[1], c, track_kind::click, t + 1h));
  EXPECT_TRUE(track(ds[2], c, track_kind::click, t));
  EXPECT_TRUE(track(ds[6], c, track_kind::click, t));
  EXPECT_TRUE(track(ds[8], c, track_kind::bounce, t));
  EXPECT_TRUE(track(ds[9], c, track_kind::bounce, t));
  EXPECT_FALSE(track(ds[9], c, track_kind::bounce, t));
  EXPECT_FALSE(track(ds[3], c, track_kind::bounce, t));
  EXPECT_FALSE(track(ds[8], c, track_kind::open, t)) << "bounced";
  EXPECT_EQ(c.opened, 7u);
  EXPECT_EQ(c.clicked, 3u);
  EXPECT_EQ(c.bounced, 2u);
  auto r = rates_of(c, survey_kind::none);
  EXPECT_DOUBLE_EQ(r.open_rate, 0.7);
  EXPECT_DOUBLE_EQ(r.click_rate, 0.3);
  EXPECT_DOUBLE_EQ(r.bounce_rate, 0.2);
  EXPECT_FALSE(r.nps);
  EXPECT_DOUBLE_EQ(rates_of(outreach_counts{}, survey_kind::nps).open_rate,
                   0.0);
}

TEST(outreach_rates, nps_and_csat_from_answers) {
  auto p = program_of(outreach_kind::survey);
  outreach_counts c;
  c.sent = 5;
  std::vector<outreach_delivery> ds(5);
  uint32_t scores[] = {10, 9, 8, 3, 0};
  for (size_t i = 0; i < 5; ++i) {
    ds[i].account = acct_id::from_body("01JAAAAAAAAAAAAAAAAAAAAAA1");
    ASSERT_TRUE(
      respond(p, ds[i], c, scores[i], "", "r" + std::to_string(i), t0));
  }
  auto r = rates_of(c, survey_kind::nps);
  ASSERT_TRUE(r.nps);
  EXPECT_DOUBLE_EQ(*r.nps, 0.0); // 2 promoters, 2 detractors of 5
  EXPECT_DOUBLE_EQ(r.response_rate, 1.0);
  EXPECT_DOUBLE_EQ(r.open_rate, 1.0) << "an answer counts as an open";
  p.survey = survey_kind::csat;
  outreach_counts cs;
  std::vector<outreach_delivery> es(4);
  uint32_t csat[] = {5, 4, 2, 1};
  for (size_t i = 0; i < 4; ++i)
    ASSERT_TRUE(respond(p, es[i], cs, csat[i], "", "c", t0));
  EXPECT_DOUBLE_EQ(*rates_of(cs, survey_kind::csat).csat, 50.0);
  outreach_delivery d;
  EXPECT_FALSE(respond(p, d, cs, 0, "", "x", t0)) << "CSAT is 1-5";
  EXPECT_FALSE(respond(p, d, cs, 6, "", "x", t0));
  EXPECT_EQ(respond(p, es[0], cs, 5, "", "x", t0).error(),
            errc::already_exists);
}

// -- anonymous surveys --------------------------------------------------------

TEST(outreach_surveys, anonymous_responses_carry_no_identity) {
  auto p = program_of(outreach_kind::survey);
  p.anonymous = true;
  outreach_delivery d;
  d.id = ntf_id::from_body("01JAAAAAAAAAAAAAAAAAAAAAA3");
  d.account = acct_id::from_body("01JAAAAAAAAAAAAAAAAAAAAAA1");
  d.contact = con_id::from_body("01JAAAAAAAAAAAAAAAAAAAAAA4");
  d.email = "ann@acme.example";
  outreach_counts c;
  auto at = t0 + 13h + 17min + 5s;
  auto r = respond(p, d, c, 9, "great", "3f2a", at);
  ASSERT_TRUE(r) << error_message(r.error());
  EXPECT_TRUE(r->account.empty());
  EXPECT_TRUE(r->contact.empty());
  EXPECT_EQ(to_unix_ms(r->at) % 86'400'000, 0) << "only the day is kept";
  EXPECT_EQ(to_unix_ms(d.opened_at) % 86'400'000, 0)
    << "nor does the delivery date the answer";
  auto bytes = encode(*r);
  for (auto& secret : {d.account.str(), d.contact.str(), d.email, d.id.str()})
    EXPECT_EQ(bytes.find(secret), std::string::npos) << secret;
  EXPECT_TRUE(d.responded);
  // Not anonymous: who answered is kept.
  p.anonymous = false;
  outreach_delivery e = d;
  e.responded = false;
  auto named = respond(p, e, c, 9, "", "77", at);
  ASSERT_TRUE(named);
  EXPECT_EQ(named->account, d.account);
  EXPECT_EQ(named->contact, d.contact);
  EXPECT_EQ(named->at, at);
}

// -- the desk under the manual clock ------------------------------------------

namespace {

struct config : caf::actor_system_config {
  config() {
    tenure::add_message_types(*this);
    set("scheduler.max-threads", 2);
  }
};

struct desk_fixture {
  desk_fixture()
    : clk(t0)
    , sys(cfg)
    , self(sys) {
    outreach_deps d;
    d.store = &st;
    d.clock = &clk;
    d.ids = &ids;
    d.page = 3; // several pages per step
    d.urls = [](const outreach_program& p, const ntf_id& n) {
      tracking_urls u;
      u.pixel = "https://t.example/o/" + n.str();
      for (size_t i = 0; i < p.links.size(); ++i)
        u.links.push_back("https://t.example/c/" + n.str() + "/"
                          + std::to_string(i + 1));
      for (auto s : survey_scores(p.survey))
        u.scores[s]
          = "https://t.example/s/" + n.str() + "?score=" + std::to_string(s);
      return u;
    };
    desk = sys.spawn<caf::detached>(outreach_desk, d);
    timer_supervisor_deps td;
    td.store = &st;
    td.clock = &clk;
    td.owner = std::string{outreach_owner};
    td.target = desk;
    td.backoff = 50ms; // a failed firing is retried soon
    supervisor = sys.spawn(timer_supervisor, td);
  }

  ~desk_fixture() {
    self->send_exit(supervisor, caf::exit_reason::user_shutdown);
    self->send_exit(desk, caf::exit_reason::user_shutdown);
  }

  template <class T, class... Ts>
  caf::expected<T> ask(Ts&&... xs) {
    caf::expected<T> out{caf::error{}};
    self->request(desk, 10s, std::forward<Ts>(xs)...)
      .receive([&](T& x) { out = std::move(x); },
               [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  void flush() {
    self->request(supervisor, 10s, flush_atom::value)
      .receive([](uint64_t) {},
               [](caf::error& err) { ADD_FAILURE() << error_message(err); });
  }

  /// The outreach emails in the outbox: (recipient, subject).
  std::vector<notification> outbox() {
    std::vector<notification> out;
    auto rows = st.outbox();
    EXPECT_TRUE(rows);
    for (auto& r : *rows)
      if (auto n = decode<notification>(r.value))
        out.push_back(*n);
    return out;
  }

  storage::memory_store st;
  manual_clock clk;
  id_generator ids{11};
  config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  caf::actor desk;
  caf::actor supervisor;
};

account customer(int i, segment s, hosting h) {
  account a;
  a.name = "Customer " + std::to_string(i);
  a.external_ref = "crm-" + std::to_string(i);
  a.segment = s;
  a.hosting = h;
  a.stage = lifecycle_stage::onboarding;
  contact admin;
  admin.name = "Admin " + std::to_string(i);
  admin.email
    = "admin" + std::to_string(i) + "@c" + std::to_string(i) + ".example";
  admin.roles = {contact_role::admin};
  a.contacts.push_back(admin);
  contact owner;
  owner.name = "Owner " + std::to_string(i);
  owner.email
    = "owner" + std::to_string(i) + "@c" + std::to_string(i) + ".example";
  owner.roles = {contact_role::owner};
  a.contacts.push_back(owner);
  return a;
}

} // namespace

TEST(outreach_desk, a_series_goes_out_step_by_step_under_the_manual_clock) {
  desk_fixture f;
  // 8 accounts, 2 contacts each; 5 on SaaS (admin + owner), 3 self-managed
  // (admin only); 2 of them outside the audience (csm_managed).
  for (int i = 0; i < 8; ++i) {
    auto s = i < 6 ? segment::tech_touch : segment::csm_managed;
    auto h = i % 2 == 0 ? hosting::saas : hosting::self_managed;
    ASSERT_TRUE(f.ask<account>(put_account{customer(i, s, h), "test"}));
  }
  auto p = program_of(outreach_kind::series, 3);
  p.segments = {segment::tech_touch};
  auto made = f.ask<program_view>(create_program{p});
  ASSERT_TRUE(made) << error_message(made.error());
  auto id = made->program.id;
  EXPECT_EQ(made->program.state, outreach_state::draft);
  f.flush();
  EXPECT_TRUE(f.outbox().empty()) << "a draft sends nothing";
  auto launched = f.ask<program_view>(start_program{id, "op"});
  ASSERT_TRUE(launched) << error_message(launched.error());
  f.flush();
  // Accounts 0-5: 0, 2, 4 on SaaS (2 each), 1, 3, 5 self-managed (1 each).
  EXPECT_EQ(f.outbox().size(), 9u);
  auto v = f.ask<program_view>(get_atom::value, id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->program.steps_sent, 1u);
  EXPECT_EQ(v->counts.sent, 9u);
  // Nothing more until a week has passed, to the second.
  ASSERT_FALSE(f.clk.set(t0 + days{7} - 1s));
  f.flush();
  EXPECT_EQ(f.outbox().size(), 9u);
  ASSERT_FALSE(f.clk.set(t0 + days{7}));
  f.flush();
  EXPECT_EQ(f.outbox().size(), 18u);
  // A contact added meanwhile receives the third step only.
  auto acc = f.ask<std::vector<account>>(list_accounts{"", 100});
  ASSERT_TRUE(acc);
  ASSERT_EQ(acc->size(), 8u);
  contact late;
  late.name = "Late";
  late.email = "late@c1.example";
  late.roles = {contact_role::admin};
  auto first = std::find_if(acc->begin(), acc->end(), [](const account& a) {
    return a.name == "Customer 1";
  });
  ASSERT_TRUE(f.ask<account>(add_contact{first->id, late, "op"}));
  ASSERT_TRUE(f.clk.advance(days{7}));
  f.flush();
  auto mails = f.outbox();
  EXPECT_EQ(mails.size(), 28u);
  v = f.ask<program_view>(get_atom::value, id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->program.state, outreach_state::completed);
  EXPECT_EQ(v->counts.sent, 28u);
  // Subjects per step, placeholders filled, links tracked.
  std::map<std::string, int> by_subject;
  for (auto& n : mails) {
    by_subject[n.params.at("subject")]++;
    EXPECT_EQ(n.entity, id.str());
    EXPECT_NE(
      n.params.at("body").find("https://t.example/c/" + n.id.str() + "/1"),
      std::string::npos);
  }
  EXPECT_EQ(by_subject["Step 1 for Customer 0"], 2);
  EXPECT_EQ(by_subject["Step 3 for Customer 1"], 2);
  EXPECT_EQ(by_subject["Step 2 for Customer 1"], 1);
  // Advancing further sends nothing more.
  ASSERT_TRUE(f.clk.advance(days{60}));
  f.flush();
  EXPECT_EQ(f.outbox().size(), 28u);
}

TEST(outreach_desk, tracking_counts_once_and_a_bounce_marks_the_address) {
  desk_fixture f;
  ASSERT_TRUE(f.ask<account>(
    put_account{customer(0, segment::scale, hosting::saas), "test"}));
  auto made
    = f.ask<program_view>(create_program{program_of(outreach_kind::email)});
  ASSERT_TRUE(made);
  auto id = made->program.id;
  ASSERT_TRUE(f.ask<program_view>(start_program{id, "op"}));
  f.flush();
  auto mails = f.outbox();
  ASSERT_EQ(mails.size(), 2u);
  auto a = mails[0].id, b = mails[1].id;
  EXPECT_EQ(f.ask<bool>(track_delivery{id, a, track_kind::open}), true);
  EXPECT_EQ(f.ask<bool>(track_delivery{id, a, track_kind::open}), false);
  EXPECT_EQ(f.ask<bool>(track_delivery{id, a, track_kind::click}), true);
  EXPECT_EQ(f.ask<bool>(report_bounce{b}), true);
  auto other = prg_id::from_body("01JAAAAAAAAAAAAAAAAAAAAAA9");
  EXPECT_EQ(f.ask<bool>(track_delivery{other, a, track_kind::open}).error(),
            errc::not_found);
  auto v = f.ask<program_view>(get_atom::value, id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->counts.sent, 2u);
  EXPECT_EQ(v->counts.opened, 1u);
  EXPECT_EQ(v->counts.clicked, 1u);
  EXPECT_EQ(v->counts.bounced, 1u);
  EXPECT_DOUBLE_EQ(rates_of(v->counts, v->program.survey).bounce_rate, 0.5);
  // The bounced address gets nothing more, and the explanation says why.
  auto accts = f.ask<std::vector<account>>(list_accounts{"", 10});
  ASSERT_TRUE(accts);
  auto bounced
    = std::count_if(accts->at(0).contacts.begin(), accts->at(0).contacts.end(),
                    [](const contact& c) { return c.bounced; });
  EXPECT_EQ(bounced, 1);
  auto why = f.ask<resolution>(explain_recipients{id, accts->at(0).id});
  ASSERT_TRUE(why);
  EXPECT_EQ(why->recipients.size(), 1u);
}

TEST(outreach_desk, an_anonymous_survey_stores_answers_without_identity) {
  desk_fixture f;
  ASSERT_TRUE(f.ask<account>(
    put_account{customer(0, segment::scale, hosting::saas), "test"}));
  auto p = program_of(outreach_kind::survey, 2);
  p.anonymous = true;
  p.steps[1].delay = days{3};
  auto made = f.ask<program_view>(create_program{p});
  ASSERT_TRUE(made) << error_message(made.error());
  auto id = made->program.id;
  ASSERT_TRUE(f.ask<program_view>(start_program{id, "op"}));
  f.flush();
  auto mails = f.outbox();
  ASSERT_EQ(mails.size(), 2u);
  auto r = f.ask<survey_response>(answer_survey{id, mails[0].id, 10, "ok"});
  ASSERT_TRUE(r) << error_message(r.error());
  EXPECT_TRUE(r->account.empty());
  EXPECT_TRUE(r->contact.empty());
  EXPECT_EQ(
    f.ask<survey_response>(answer_survey{id, mails[0].id, 3, ""}).error(),
    errc::already_exists);
  auto all = f.ask<std::vector<survey_response>>(list_responses{id, "", 10});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->at(0).score, 10u);
  // Stored bytes name neither the account nor the contact nor the address.
  auto rows = f.st.scan(storage::cf::outreach, "r/");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  auto accts = f.ask<std::vector<account>>(list_accounts{"", 10});
  ASSERT_TRUE(accts);
  for (auto& c : accts->at(0).contacts) {
    EXPECT_EQ(rows->at(0).value.find(c.id.str()), std::string::npos);
    EXPECT_EQ(rows->at(0).value.find(c.email), std::string::npos);
  }
  EXPECT_EQ(rows->at(0).value.find(accts->at(0).id.str()), std::string::npos);
  // The reminder goes only to the one who did not answer.
  ASSERT_TRUE(f.clk.advance(days{3}));
  f.flush();
  mails = f.outbox();
  ASSERT_EQ(mails.size(), 3u);
  EXPECT_EQ(mails[2].recipient, mails[1].recipient);
  // One answer per person: from the reminder, then not again from the
  // invitation.
  ASSERT_TRUE(f.ask<survey_response>(answer_survey{id, mails[2].id, 4, ""}));
  EXPECT_EQ(
    f.ask<survey_response>(answer_survey{id, mails[1].id, 9, ""}).error(),
    errc::already_exists);
  auto v = f.ask<program_view>(get_atom::value, id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->counts.responses, 2u);
  EXPECT_EQ(v->counts.promoters, 1u);
  EXPECT_EQ(v->counts.detractors, 1u);
  EXPECT_DOUBLE_EQ(*rates_of(v->counts, v->program.survey).nps, 0.0);
}

TEST(outreach_desk, accounts_upsert_by_reference_and_refuse_bad_input) {
  desk_fixture f;
  auto a = f.ask<account>(
    put_account{customer(0, segment::scale, hosting::saas), "test"});
  ASSERT_TRUE(a);
  auto again = customer(0, segment::csm_managed, hosting::saas);
  auto b = f.ask<account>(put_account{again, "test"});
  ASSERT_TRUE(b);
  EXPECT_EQ(b->id, a->id) << "same external_ref: the same account";
  EXPECT_EQ(b->segment, segment::csm_managed);
  EXPECT_EQ(b->contacts.at(0).id, a->contacts.at(0).id);
  EXPECT_EQ(b->version, 2u);
  auto bad = customer(1, segment::scale, hosting::saas);
  bad.contacts[1].email = "not-an-address";
  auto err = f.ask<account>(put_account{bad, "test"});
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error(), errc::invalid_argument);
  EXPECT_NE(error_message(err.error()).find("contacts[1].email"),
            std::string::npos);
  auto list = f.ask<std::vector<account>>(list_accounts{"", 10});
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 1u) << "the bad one changed nothing";
}

// -- CSV import ---------------------------------------------------------------

TEST(outreach_import, lines_group_into_accounts_and_every_line_is_checked) {
  std::string csv
    = "\xEF\xBB\xBF"
      "account_ref,account_name,segment,hosting,stage,contact_name,email,"
      "roles\r\n"
      "crm-1,\"Acme, Inc.\",scale,saas,enablement,Ann,ann@acme.example,"
      "admin|owner\r\n"
      "\r\n"
      "crm-2,Beta,tech_touch,self_managed,,Bea,bea@beta.example,sold_to\r\n"
      "CRM-1,\"Acme, Inc.\",scale,saas,enablement,\"Oli \"\"O\"\"\","
      "oli@acme.example,maintainer\r\n";
  auto got = parse_account_csv(csv);
  ASSERT_TRUE(got) << error_message(got.error());
  ASSERT_EQ(got->size(), 2u);
  auto& acme = got->at(0);
  EXPECT_EQ(acme.name, "Acme, Inc.");
  EXPECT_EQ(acme.hosting, hosting::saas);
  ASSERT_EQ(acme.contacts.size(), 2u) << "references match case-blind";
  EXPECT_EQ(
    acme.contacts[0].roles,
    (std::vector<contact_role>{contact_role::admin, contact_role::owner}));
  EXPECT_EQ(acme.contacts[1].name, "Oli \"O\"");
  EXPECT_EQ(got->at(1).stage, lifecycle_stage::onboarding) << "the default";
  auto refused = [](const std::string& body, const std::string& what) {
    auto r = parse_account_csv(
      "account_ref,account_name,segment,hosting,stage,contact_name,email,"
      "roles\n"
      + body);
    EXPECT_FALSE(r) << body;
    if (!r)
      EXPECT_NE(error_message(r.error()).find(what), std::string::npos)
        << error_message(r.error());
  };
  refused("crm-1,A,scale,saas,,N,n@a.example,admin\ncrm-1,A,huge,saas,,M,"
          "m@a.example,admin\n",
          "line 3: segment: expected one of");
  refused("crm-1,A,scale,saas,,N,n@a.example,boss\n", "line 2: roles");
  refused("crm-1,A,scale,saas,,N,nowhere,admin\n", "line 2: contacts[0].email");
  refused("crm-1,A,scale,saas,,N,n@a.example,admin\ncrm-1,B,scale,saas,,M,"
          "m@a.example,admin\n",
          "line 3: account crm-1 is described differently");
  refused("crm-1,A,scale,saas\n", "line 2: expected 8 fields");
  refused(",A,scale,saas,,N,n@a.example,admin\n", "account_ref: required");
  refused("crm-1,\"A,scale,saas,,N,n@a.example,admin\n", "quote");
  EXPECT_FALSE(parse_account_csv("name,email\nx,y\n"));
  EXPECT_FALSE(parse_account_csv(""));
}

TEST(outreach_import, a_merge_keeps_contacts_the_file_does_not_name) {
  auto stored
    = acme(hosting::saas, {person("ann", {contact_role::admin}),
                           person("bob", {contact_role::owner}, true)});
  auto in
    = acme(hosting::self_managed, {person("bob", {contact_role::admin}),
                                   person("cat", {contact_role::maintainer})});
  in.name = "Acme Corp";
  auto m = merge_import(stored, in);
  EXPECT_EQ(m.name, "Acme Corp");
  EXPECT_EQ(m.hosting, hosting::self_managed);
  ASSERT_EQ(m.contacts.size(), 3u);
  EXPECT_EQ(m.contacts[0].name, "ann");
  EXPECT_EQ(m.contacts[1].id, stored.contacts[1].id) << "matched by address";
  EXPECT_EQ(m.contacts[1].roles,
            std::vector<contact_role>{contact_role::admin});
  EXPECT_TRUE(m.contacts[1].bounced) << "the desk clears it only when the "
                                        "address changes";
  EXPECT_TRUE(m.contacts[2].id.empty()) << "a new contact gets its id later";
}

TEST(outreach_desk, renewal_reminders_and_compliance_notices_are_counted_too) {
  desk_fixture f;
  notification n;
  n.id = f.ids.next<ntf_id>(t0);
  n.template_name = "renewal_reminder";
  n.recipient = "owner@member.example";
  auto first = f.ask<std::string>(enroll_notification{n});
  ASSERT_TRUE(first) << error_message(first.error());
  EXPECT_EQ(*first, "https://t.example/o/" + n.id.str());
  // Delivered again (at least once): counted once.
  EXPECT_EQ(f.ask<std::string>(enroll_notification{n}), *first);
  auto sys = system_program_for("renewal_reminder");
  ASSERT_TRUE(sys);
  auto v = f.ask<program_view>(get_atom::value, sys->id);
  ASSERT_TRUE(v) << error_message(v.error());
  EXPECT_TRUE(v->program.system);
  EXPECT_EQ(v->program.name, "Renewal reminders");
  EXPECT_EQ(v->counts.sent, 1u);
  EXPECT_EQ(f.ask<bool>(track_delivery{sys->id, n.id, track_kind::open}), true);
  v = f.ask<program_view>(get_atom::value, sys->id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->counts.opened, 1u);
  EXPECT_EQ(f.ask<program_view>(start_program{sys->id, "op"}).error(),
            errc::illegal_transition)
    << "a built-in program is not launched";
  // Other templates are not tracked.
  n.id = f.ids.next<ntf_id>(t0);
  n.template_name = "booking_success";
  EXPECT_EQ(f.ask<std::string>(enroll_notification{n}), std::string{});
  auto list = f.ask<std::vector<program_view>>(list_programs{"", 10});
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 1u);
  EXPECT_TRUE(system_program_for("compliance_notice"));
}

TEST(outreach_desk, a_failed_page_is_sent_again_by_its_timer) {
  desk_fixture f; // 3 accounts per page
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE(f.ask<account>(
      put_account{customer(i, segment::scale, hosting::self_managed), "t"}));
  auto made
    = f.ask<program_view>(create_program{program_of(outreach_kind::email)});
  ASSERT_TRUE(made);
  auto id = made->program.id;
  // The launch commits; the first page's commit fails after it: the timer
  // stays and the supervisor fires it again (after its backoff).
  ASSERT_TRUE(f.ask<program_view>(start_program{id, "op"}));
  storage::memory_store* st = &f.st;
  st->fail_next_commits(1);
  f.flush();
  auto v = f.ask<program_view>(get_atom::value, id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->program.steps_sent, 0u) << "the step is not done";
  // Fired again (the flush waits out the supervisor's backoff).
  auto deadline = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    f.flush();
    auto x = f.ask<program_view>(get_atom::value, id);
    if ((x && x->program.steps_sent == 1)
        || std::chrono::steady_clock::now() > deadline)
      break;
    std::this_thread::sleep_for(20ms); // a poll, until the backoff passed
  }
  auto mails = f.outbox();
  std::set<std::string> to;
  for (auto& n : mails)
    to.insert(n.recipient);
  EXPECT_EQ(mails.size(), 8u);
  EXPECT_EQ(to.size(), 8u) << "nobody twice";
  v = f.ask<program_view>(get_atom::value, id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->counts.sent, 8u);
  EXPECT_EQ(v->program.state, outreach_state::completed);
}

TEST(outreach_desk, webinar_reminders_and_newsletter_issues_go_out_on_time) {
  desk_fixture f;
  ASSERT_TRUE(f.ask<account>(
    put_account{customer(0, segment::scale, hosting::self_managed), "t"}));
  auto web = program_of(outreach_kind::webinar, 2);
  web.webinar_at = t0 + days{10} + 15h;
  auto w = f.ask<program_view>(create_program{web});
  ASSERT_TRUE(w) << error_message(w.error());
  auto news = program_of(outreach_kind::newsletter, 3);
  for (auto& s : news.steps)
    s.delay = {};
  auto n = f.ask<program_view>(create_program{news});
  ASSERT_TRUE(n) << error_message(n.error());
  ASSERT_TRUE(f.ask<program_view>(start_program{w->program.id, "op"}));
  ASSERT_TRUE(f.ask<program_view>(start_program{n->program.id, "op"}));
  f.flush();
  EXPECT_EQ(f.outbox().size(), 2u) << "the invitation and the first issue";
  ASSERT_FALSE(f.clk.set(t0 + days{9} + 15h - 1s));
  f.flush();
  EXPECT_EQ(f.outbox().size(), 2u);
  ASSERT_FALSE(f.clk.set(t0 + days{9} + 15h));
  f.flush();
  EXPECT_EQ(f.outbox().size(), 3u) << "the reminder, a day before";
  ASSERT_FALSE(f.clk.set(t0 + days{30}));
  f.flush();
  EXPECT_EQ(f.outbox().size(), 4u) << "the second issue, a month on";
  ASSERT_FALSE(f.clk.set(t0 + days{60}));
  f.flush();
  EXPECT_EQ(f.outbox().size(), 5u);
  auto done = f.ask<program_view>(get_atom::value, n->program.id);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->program.state, outreach_state::completed);
  EXPECT_EQ(f.ask<program_view>(get_atom::value, w->program.id)->program.state,
            outreach_state::completed);
}

TEST(outreach_desk, a_step_resumes_after_the_last_page_written) {
  desk_fixture f; // 3 accounts per page
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE(f.ask<account>(
      put_account{customer(i, segment::scale, hosting::self_managed), "t"}));
  auto made
    = f.ask<program_view>(create_program{program_of(outreach_kind::email)});
  ASSERT_TRUE(made);
  auto id = made->program.id;
  // As if the node died after the first page's commit: its cursor names
  // the third account and the totals so far.
  auto accts = f.ask<std::vector<account>>(list_accounts{"", 100});
  ASSERT_TRUE(accts);
  ASSERT_EQ(accts->size(), 8u);
  storage::batch b;
  b.put(storage::cf::outreach, outreach_cursor_key(id, 0),
        accts->at(2).id.str() + "\n3\n3");
  ASSERT_FALSE(f.st.commit_sync(std::move(b)));
  ASSERT_TRUE(f.ask<program_view>(start_program{id, "op"}));
  f.flush();
  std::set<std::string> to;
  for (auto& n : f.outbox())
    to.insert(n.recipient);
  EXPECT_EQ(to.size(), 5u) << "only the accounts after the cursor";
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(to.count(accts->at(i).contacts.at(0).email), 0u) << i;
  auto v = f.ask<program_view>(get_atom::value, id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->program.state, outreach_state::completed);
  auto cursor = f.st.get(storage::cf::outreach, outreach_cursor_key(id, 0));
  ASSERT_TRUE(cursor);
  EXPECT_FALSE(*cursor) << "the cursor goes with the last page";
}
