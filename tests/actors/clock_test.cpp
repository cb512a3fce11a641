#include "actors/clock.hpp"

#include <gtest/gtest.h>

#include "messages/errc.hpp"

using namespace tenure;

namespace {

const time_point t0 = from_unix_ms(1'795'000'000'000);

} // namespace

TEST(manual_clock, stands_still_until_advanced) {
  manual_clock clk{t0};
  EXPECT_EQ(clk.now(), t0);
  EXPECT_EQ(clk.now(), t0);
  auto t = clk.advance(*parse_duration("30d"));
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, t0 + days{30});
  EXPECT_EQ(clk.now(), t0 + days{30});
  EXPECT_FALSE(clk.real_wait(duration{1}));
}

TEST(manual_clock, never_goes_back) {
  manual_clock clk{t0};
  EXPECT_TRUE(clk.set(t0 - duration{1}) == errc::invalid_argument);
  EXPECT_EQ(clk.now(), t0);
  EXPECT_FALSE(clk.advance(duration{-5}));
  EXPECT_EQ(clk.now(), t0);
  EXPECT_FALSE(clk.set(t0 + duration{5}));
  EXPECT_EQ(clk.now(), t0 + duration{5});
}

TEST(manual_clock, listeners_hear_every_change_until_unsubscribed) {
  manual_clock clk{t0};
  std::vector<time_point> heard;
  auto token = clk.subscribe([&](time_point t) { heard.push_back(t); });
  ASSERT_TRUE(clk.advance(duration{10}));
  ASSERT_FALSE(clk.set(t0 + duration{20}));
  clk.unsubscribe(token);
  ASSERT_TRUE(clk.advance(duration{10}));
  ASSERT_EQ(heard.size(), 2u);
  EXPECT_EQ(heard[0], t0 + duration{10});
  EXPECT_EQ(heard[1], t0 + duration{20});
}

TEST(accelerated_clock, runs_days_per_second) {
  accelerated_clock clk{1.0, t0};
  // One domain day is one real second; a 30-day cure is 30 s.
  EXPECT_EQ(clk.real_wait(*parse_duration("30d")), duration{30'000});
  EXPECT_EQ(clk.real_wait(*parse_duration("1d")), duration{1'000});
  EXPECT_GE(clk.now(), t0);
  accelerated_clock fast{10.0, t0};
  EXPECT_EQ(fast.real_wait(*parse_duration("30d")), duration{3'000});
}

TEST(accelerated_clock, never_goes_back) {
  accelerated_clock clk{1000.0, t0};
  auto prev = clk.now();
  for (int i = 0; i < 1000; ++i) {
    auto t = clk.now();
    EXPECT_GE(t, prev);
    prev = t;
  }
}

TEST(make_clock, builds_each_kind_and_refuses_unknown_ones) {
  for (auto kind : {"system", "manual", "accelerated"}) {
    auto clk = make_clock(kind, 1.0, t0);
    ASSERT_TRUE(clk) << kind;
    EXPECT_EQ((*clk)->kind(), kind);
  }
  auto manual = make_clock("manual", 1.0, t0);
  EXPECT_EQ((*manual)->now(), t0);
  EXPECT_TRUE((*manual)->adjustable());
  auto bad = make_clock("sundial");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error() == errc::config_invalid);
  EXPECT_NE(error_message(bad.error()).find("sundial"), std::string::npos);
  EXPECT_FALSE(make_clock("accelerated", 0.0));
  EXPECT_FALSE(make_clock("accelerated", -1.0));
}

TEST(system_clock, reads_current_utc) {
  system_clock clk;
  // After 2026-01-01 and before 2100: a sanity bound, not a timing check.
  EXPECT_GT(clk.now(), *parse_iso8601("2026-01-01"));
  EXPECT_LT(clk.now(), *parse_iso8601("2100-01-01"));
  EXPECT_EQ(clk.real_wait(duration{5}), duration{5});
}
