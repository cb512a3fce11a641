#include "actors/subscription_rules.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "messages/errc.hpp"

using namespace tenure;

namespace {

const time_point t0 = *parse_iso8601("2026-01-15");
id_generator gen{11};

subscription a_sub() {
  subscription s;
  s.id = gen.next<sub_id>(t0);
  s.plan = plan::community;
  s.program = program::oss;
  s.organisation = {"example.org", "Example", "DE", ""};
  s.sku = "oss-saas-ultimate-support-3y";
  s.lines = {{product::support, term::three_years, t0, add_years(t0, 3)},
             {product::ultimate, term::one_year, t0, add_years(t0, 1)}};
  s.seats = 10;
  s.start = t0;
  s.end = add_years(t0, 1);
  return s;
}

subscription in_state(subscription_state st) {
  auto s = a_sub();
  s.state = st;
  s.version = 4;
  if (st == subscription_state::in_cure) {
    s.open_case = gen.next<case_id>(t0);
    s.case_deadline = t0 + days{30};
  }
  return s;
}

subscription_command sample(subscription_command_kind k,
                            const subscription& s) {
  using ck = subscription_command_kind;
  switch (k) {
    case ck::provision:
      return provision{a_sub()};
    case ck::usage:
      return report_usage{s.id, 12};
    case ck::expire:
      return expire{};
    case ck::lapse:
      return lapse{};
    case ck::open_case:
      return open_case{s.id, "commercial use", true, "bbehr"};
    case ck::cure:
      return cure_case{s.open_case, "now non-commercial", "bbehr"};
    case ck::terminate:
      return terminate_for_case{s.open_case, "not cured", {}};
    case ck::revoke:
      return revoke_subscription{s.id, "fraud", "legal"};
    case ck::renew:
      return renew{gen.next<app_id>(t0), term::one_year};
    case ck::remind:
      return send_reminder{std::chrono::duration_cast<duration>(days{30}),
                           gen.next<tmr_id>(t0)};
  }
  return expire{};
}

const std::map<std::optional<subscription_state>,
               std::set<subscription_command_kind>>
  legal = [] {
    using st = subscription_state;
    using ck = subscription_command_kind;
    std::map<std::optional<subscription_state>,
             std::set<subscription_command_kind>>
      m;
    m[std::nullopt] = {ck::provision};
    m[st::active] = {ck::usage,  ck::expire, ck::open_case,
                     ck::revoke, ck::renew,  ck::remind};
    m[st::expired] = {ck::usage, ck::lapse, ck::revoke, ck::renew};
    m[st::lapsed] = {};
    // A case may run past the end date: expiry, grace and reminders go on.
    m[st::in_cure] = {ck::usage,     ck::cure,   ck::terminate, ck::revoke,
                      ck::expire,    ck::lapse,  ck::remind};
    m[st::terminated] = {};
    m[st::revoked] = {};
    m[st::renewed] = {};
    return m;
  }();

subscription_context ctx() {
  subscription_context c;
  c.new_case = gen.next<case_id>(t0);
  return c;
}

subscription run(subscription s, const subscription_command& cmd,
                 time_point now) {
  auto r = decide(s, cmd, now, ctx());
  EXPECT_TRUE(r) << error_message(r.error());
  if (r)
    for (auto& ev : *r)
      s = apply(s, ev, now);
  return s;
}

} // namespace

TEST(subscription_rules, every_cell_of_the_transition_table) {
  size_t cells = 0;
  auto after_end = add_years(t0, 1) + duration{1};
  for (const auto& [row, allowed] : legal) {
    for (size_t k = 0;
         k < std::size(enum_names<subscription_command_kind>::values); ++k) {
      auto kind = static_cast<subscription_command_kind>(k);
      std::optional<subscription> state;
      if (row)
        state = in_state(*row);
      // Each command at a time it applies: reminders before the end date,
      // a cure within the cure period, the rest after the end date (and
      // after the cure deadline).
      auto now = after_end;
      if (kind == subscription_command_kind::remind)
        now = add_years(t0, 1) - days{1};
      if (kind == subscription_command_kind::cure && state)
        state->case_deadline = now + days{1};
      auto r = decide(state, sample(kind, state ? *state : a_sub()), now,
                      ctx());
      auto label = (row ? to_string(*row) : std::string{"(new)"}) + " x "
                   + to_string(kind);
      ++cells;
      EXPECT_EQ(subscription_allows(row, kind), allowed.count(kind) > 0)
        << label;
      if (allowed.count(kind)) {
        EXPECT_TRUE(r) << label << ": " << error_message(r.error());
      } else {
        ASSERT_FALSE(r) << label;
        EXPECT_TRUE(r.error()
                    == (row ? errc::illegal_transition : errc::not_found))
          << label;
      }
    }
  }
  EXPECT_EQ(cells, 8u * 10u);
}

TEST(subscription_rules, usage_keeps_the_maximum_and_the_overage) {
  auto r = decide(std::nullopt, provision{a_sub()}, t0, ctx());
  ASSERT_TRUE(r);
  subscription s;
  for (auto& ev : *r)
    s = apply(s, ev, t0);
  EXPECT_EQ(s.state, subscription_state::active);
  EXPECT_EQ(s.version, 1u);
  s = run(s, report_usage{s.id, 8}, t0);
  EXPECT_EQ(s.max_seats_used, 8u);
  EXPECT_EQ(s.overage_seats, 0u);
  s = run(s, report_usage{s.id, 14}, t0);
  EXPECT_EQ(s.overage_seats, 4u);
  auto v = s.version;
  s = run(s, report_usage{s.id, 11}, t0); // lower: nothing to record
  EXPECT_EQ(s.version, v);
  EXPECT_EQ(s.max_seats_used, 14u);
}

TEST(subscription_rules, renewal_extends_and_adds_overage_at_no_cost) {
  auto s = in_state(subscription_state::active);
  s = run(s, report_usage{s.id, 13}, t0);
  auto old_end = s.end;
  s = run(s, renew{gen.next<app_id>(t0), term::one_year}, t0);
  EXPECT_EQ(s.state, subscription_state::active);
  EXPECT_EQ(s.start, old_end);
  EXPECT_EQ(s.end, add_years(old_end, 1));
  EXPECT_EQ(s.seats, 13u);
  EXPECT_EQ(s.overage_seats, 0u);
  // Lines keep their own terms: Support 3 years, Ultimate 1 year.
  EXPECT_EQ(s.lines[0].end, add_years(old_end, 3));
  EXPECT_EQ(s.lines[1].end, add_years(old_end, 1));
}

TEST(subscription_rules, expiry_only_after_the_end_date) {
  auto s = in_state(subscription_state::active);
  auto r = decide(s, expire{}, s.end - duration{1}, ctx());
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::illegal_transition);
  s = run(s, expire{}, s.end);
  EXPECT_EQ(s.state, subscription_state::expired);
  s = run(s, lapse{}, s.end + days{14});
  EXPECT_EQ(s.state, subscription_state::lapsed);
}

TEST(subscription_rules, cure_period_cure_and_termination) {
  auto s = in_state(subscription_state::active);
  auto c = ctx();
  auto r = decide(s, open_case{s.id, "commercial use", true, "bbehr"}, t0, c);
  ASSERT_TRUE(r);
  for (auto& ev : *r)
    s = apply(s, ev, t0);
  EXPECT_EQ(s.state, subscription_state::in_cure);
  EXPECT_EQ(s.open_case, c.new_case);
  auto& opened = std::get<sub_case_opened>(r->front());
  EXPECT_EQ(opened.deadline, t0 + days{30});
  auto cured = run(s, cure_case{c.new_case, "fixed", "bbehr"}, t0 + days{29});
  EXPECT_EQ(cured.state, subscription_state::active);
  EXPECT_TRUE(cured.open_case.empty());
  auto ended = run(s, terminate_for_case{c.new_case, "not cured", {}},
                   t0 + days{30});
  EXPECT_EQ(ended.state, subscription_state::terminated);
  // A deadline of a case that was cured changes nothing.
  auto v = cured.version;
  auto again = decide(cured, terminate_for_case{c.new_case, "late", {}},
                      t0 + days{30}, ctx());
  EXPECT_FALSE(again); // cured: active rejects terminate
  EXPECT_EQ(cured.version, v);
}

TEST(subscription_rules, a_case_that_is_not_curable_revokes_at_once) {
  auto s = in_state(subscription_state::active);
  s = run(s, open_case{s.id, "export violation", false, "legal"}, t0);
  EXPECT_EQ(s.state, subscription_state::revoked);
}
