// The dashboard's aggregation (nodes/dashboard.hpp) over a store in
// memory: what each part counts, the day buckets of the domain time, the
// runway, the limits, and the merge of members' parts.

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "messages/codec.hpp"
#include "messages/id.hpp"
#include "messages/records.hpp"
#include "nodes/dashboard.hpp"
#include "storage/keys.hpp"
#include "storage/memory_store.hpp"

using namespace tenure;
using json = nlohmann::json;

namespace {

constexpr int64_t day = 86'400'000;

time_point at(const char* iso) {
  return *parse_iso8601(iso);
}

class dashboard_test : public ::testing::Test {
protected:
  /// 2026-11-23T10:00:00Z: the domain time of every case.
  const time_point now = at("2026-11-23T10:00:00Z");
  storage::memory_store st;
  id_generator ids{42};

  time_point days_ago(double d) {
    return now - std::chrono::milliseconds(static_cast<int64_t>(d * day));
  }

  template <class T>
  void put(const std::string& key, const T& x) {
    storage::batch b;
    b.put_snapshot(key, 1, encode(x), 0);
    ASSERT_FALSE(st.commit_sync(std::move(b)));
  }

  void app(program p, application_state s, stage sg, time_point submitted) {
    application a;
    a.id = ids.next<app_id>(submitted);
    a.program = p;
    a.state = s;
    a.stage = sg;
    a.submitted_at = submitted;
    put(a.id.str(), a);
  }

  void code(const std::string& prog, const std::string& c, coupon_state s,
            time_point reserved = {}) {
    coupon x;
    x.code = c;
    x.program = *parse_enum<program>(prog);
    x.state = s;
    x.reserved_at = reserved;
    storage::batch b;
    b.put(storage::cf::coupons, storage::coupon_key(prog, c), encode(x));
    ASSERT_FALSE(st.commit_sync(std::move(b)));
  }

  void timer_at(const std::string& kind, time_point due) {
    timer t;
    t.id = ids.next<tmr_id>(now);
    t.due = due;
    t.owner = "renewal";
    t.entity = "sub_X" + kind;
    t.kind = kind;
    storage::batch b;
    b.put_timer(t);
    ASSERT_FALSE(st.commit_sync(std::move(b)));
  }

  json part(dashboard_limits limits = {}, int days = 30) {
    dashboard_scope s;
    s.store = &st;
    s.now = now;
    s.days = days;
    s.limits = limits;
    auto p = dashboard_part(s);
    EXPECT_TRUE(p) << (p ? "" : to_string(p.error()));
    return p ? *p : json{};
  }
};

} // namespace

TEST_F(dashboard_test, counts_applications_by_program_state_stage_and_day) {
  app(program::edu, application_state::verifying, stage::verification, now);
  app(program::edu, application_state::booked, stage::booking, days_ago(2));
  app(program::edu, application_state::redeemed, stage::provisioning,
      days_ago(40));
  app(program::oss, application_state::in_review, stage::verification,
      at("2026-11-23T00:00:00Z"));
  app(program::startups, application_state::booked, stage::booking,
      at("2026-11-22T23:59:59Z"));
  auto d = part();
  auto& a = d["applications"];
  EXPECT_EQ(a["total"], 5);
  EXPECT_EQ(a["programs"]["edu"]["total"], 3);
  EXPECT_EQ(a["programs"]["edu"]["by_state"]["booked"], 1);
  EXPECT_EQ(a["programs"]["edu"]["by_state"]["rejected"], 0);
  EXPECT_EQ(a["programs"]["edu"]["by_stage"]["provisioning"], 1);
  EXPECT_EQ(a["programs"]["oss"]["by_state"]["in_review"], 1);
  EXPECT_EQ(a["programs"]["startups"]["by_stage"]["booking"], 1);
  // 30 UTC days, today last; the one of 40 days ago is outside.
  auto& days = a["by_day"];
  ASSERT_EQ(days.size(), 30u);
  EXPECT_EQ(days[29]["date"], "2026-11-23");
  EXPECT_EQ(days[0]["date"], "2026-10-25");
  EXPECT_EQ(days[29]["edu"], 1);
  EXPECT_EQ(days[29]["oss"], 1);      // at midnight: today
  EXPECT_EQ(days[28]["startups"], 1); // a second before: yesterday
  EXPECT_EQ(days[27]["edu"], 1);
  int sum = 0;
  for (auto& x : days)
    sum += x["edu"].get<int>() + x["oss"].get<int>() + x["startups"].get<int>();
  EXPECT_EQ(sum, 4);
  EXPECT_EQ(part({}, 7)["applications"]["by_day"].size(), 7u);
}

TEST_F(dashboard_test, coupon_runway_is_available_over_daily_bookings) {
  code("edu", "E-1", coupon_state::available);
  code("edu", "E-2", coupon_state::available);
  code("edu", "E-3", coupon_state::reserved, days_ago(3));
  code("edu", "E-4", coupon_state::redeemed, days_ago(40));
  code("oss", "O-1", coupon_state::available);
  // A waiting application shares the family: not a code.
  storage::batch b;
  b.put(storage::cf::coupons,
        storage::coupon_key("edu", std::string{"~waiting"} + '\0' + "app_1"),
        "");
  ASSERT_FALSE(st.commit_sync(std::move(b)));
  auto d = part();
  auto& c = d["coupons"];
  ASSERT_EQ(c.size(), 3u) << c.dump();
  EXPECT_EQ(c[0]["program"], "edu");
  EXPECT_EQ(c[0]["available"], 2);
  EXPECT_EQ(c[0]["reserved"], 1);
  EXPECT_EQ(c[0]["redeemed"], 1);
  EXPECT_EQ(c[0]["bookings_30d"], 1);
  EXPECT_DOUBLE_EQ(c[0]["daily_bookings"].get<double>(), 0.03);
  EXPECT_DOUBLE_EQ(c[0]["runway_days"].get<double>(), 60.0);
  EXPECT_EQ(c[1]["program"], "oss");
  EXPECT_TRUE(c[1]["runway_days"].is_null()) << "no bookings, no runway";
  EXPECT_EQ(c[2]["available"], 0);
  // A member that does not hold a pool says nothing of it.
  dashboard_scope s;
  s.store = &st;
  s.now = now;
  s.pools = {{false, true, false}};
  auto only_oss = dashboard_part(s);
  ASSERT_TRUE(only_oss);
  ASSERT_EQ((*only_oss)["coupons"].size(), 1u);
  EXPECT_EQ((*only_oss)["coupons"][0]["program"], "oss");
}

TEST_F(dashboard_test, timers_of_the_next_30_days_by_day_and_kind) {
  timer_at("reminder_30d", days_ago(1)); // overdue: counted today
  timer_at("expiry", now + std::chrono::hours(24 * 5));
  timer_at("expiry", now + std::chrono::hours(24 * 5 + 1));
  timer_at("cure_deadline", now + std::chrono::hours(24 * 40)); // too far
  auto t = part()["timers"];
  EXPECT_EQ(t["total"], 3);
  EXPECT_EQ(t["overdue"], 1);
  EXPECT_EQ(t["by_kind"]["expiry"], 2);
  EXPECT_FALSE(t["by_kind"].contains("cure_deadline"));
  ASSERT_EQ(t["by_day"].size(), 30u);
  EXPECT_EQ(t["by_day"][0]["date"], "2026-11-23");
  EXPECT_EQ(t["by_day"][0]["total"], 1);
  EXPECT_EQ(t["by_day"][5]["kinds"]["expiry"], 2);
}

TEST_F(dashboard_test, open_cases_and_recent_emergency_licenses) {
  compliance_case open;
  open.id = ids.next<case_id>(now);
  open.subscription = ids.next<sub_id>(now);
  open.reason = "shared seats with a for-profit";
  open.deadline = now + std::chrono::hours(24 * 10);
  put(open.id.str(), open);
  compliance_case cured = open;
  cured.id = ids.next<case_id>(now);
  cured.state = case_state::cured;
  put(cured.id.str(), cured);
  emergency_license recent;
  recent.id = ids.next<em_id>(now);
  recent.users = 40;
  recent.days = 5;
  recent.recipient_email = "oncall@customer.example.com";
  recent.license_key = "SECRET";
  recent.issued_at = days_ago(2);
  recent.expires_at = days_ago(2) + std::chrono::hours(24 * 5);
  put(recent.id.str(), recent);
  emergency_license old = recent;
  old.id = ids.next<em_id>(now);
  old.issued_at = days_ago(10);
  put(old.id.str(), old);
  auto d = part();
  auto& cs = d["compliance_cases"];
  EXPECT_EQ(cs["open"], 1);
  EXPECT_EQ(cs["overdue"], 0);
  ASSERT_EQ(cs["items"].size(), 1u);
  EXPECT_EQ(cs["items"][0]["id"], open.id.str());
  EXPECT_DOUBLE_EQ(cs["items"][0]["days_left"].get<double>(), 10.0);
  EXPECT_FALSE(cs["items"][0].contains("reason")) << "read scope: no reason";
  auto& em = d["emergency_licenses"];
  EXPECT_EQ(em["count"], 1);
  EXPECT_EQ(em["users"], 40);
  ASSERT_EQ(em["by_day"].size(), 7u);
  EXPECT_EQ(em["by_day"][4]["count"], 1); // 2026-11-21
  ASSERT_EQ(em["items"].size(), 1u);
  EXPECT_EQ(em["items"][0]["id"], recent.id.str());
  auto text = em.dump();
  EXPECT_EQ(text.find("oncall@"), std::string::npos) << "no email";
  EXPECT_EQ(text.find("SECRET"), std::string::npos) << "no license key";
}

TEST_F(dashboard_test, limits_cut_the_reading_and_say_so) {
  for (int i = 0; i < 5; ++i)
    app(program::edu, application_state::verifying, stage::verification, now);
  dashboard_limits lim;
  lim.applications = 3;
  auto d = part(lim);
  EXPECT_EQ(d["applications"]["total"], 3);
  EXPECT_EQ(d["limits"]["applications"], 3);
  EXPECT_EQ(d["limits"]["truncated"], json::array({"applications"}));
  lim.applications = 5;
  EXPECT_EQ(part(lim)["limits"]["truncated"], json::array());
}

TEST_F(dashboard_test, merge_sums_counts_and_orders_lists) {
  app(program::edu, application_state::verifying, stage::verification, now);
  code("edu", "E-1", coupon_state::reserved, days_ago(1));
  timer_at("expiry", now + std::chrono::hours(1));
  auto a = part();
  auto b = a;
  b["coupons"] = json::array(); // the pools live on the first member
  a["compliance_cases"]["items"] = json::array(
    {json{{"id", "case_B"}, {"deadline", "2026-12-10T00:00:00.000Z"}}});
  a["compliance_cases"]["open"] = 1;
  b["compliance_cases"]["items"] = json::array(
    {json{{"id", "case_A"}, {"deadline", "2026-12-01T00:00:00.000Z"}}});
  b["compliance_cases"]["open"] = 1;
  dashboard_limits lim;
  lim.items = 1;
  auto m = merge_dashboard({a, b}, lim);
  EXPECT_EQ(m["applications"]["total"], 2);
  EXPECT_EQ(m["applications"]["programs"]["edu"]["by_state"]["verifying"], 2);
  EXPECT_EQ(m["applications"]["by_day"][29]["edu"], 2);
  EXPECT_EQ(m["applications"]["by_day"][29]["date"], "2026-11-23");
  EXPECT_EQ(m["timers"]["total"], 2);
  EXPECT_EQ(m["timers"]["by_kind"]["expiry"], 2);
  ASSERT_EQ(m["coupons"].size(), 3u);
  EXPECT_EQ(m["coupons"][0]["reserved"], 1);
  EXPECT_DOUBLE_EQ(m["coupons"][0]["runway_days"].get<double>(), 0.0);
  // Soonest deadline first, cut to the limit, counted whole.
  EXPECT_EQ(m["compliance_cases"]["open"], 2);
  ASSERT_EQ(m["compliance_cases"]["items"].size(), 1u);
  EXPECT_EQ(m["compliance_cases"]["items"][0]["id"], "case_A");
  EXPECT_EQ(m["limits"]["truncated"], json::array({"compliance_cases.items"}));
}
