#include "messages/time.hpp"

#include <gtest/gtest.h>

using namespace tenure;

TEST(time, iso8601_round_trips) {
  for (int64_t ms : {int64_t{0}, int64_t{951'782'400'000} /* 2000-02-29 */,
                     int64_t{1'795'405'484'123}, int64_t{4'102'444'799'999}}) {
    auto t = from_unix_ms(ms);
    auto parsed = parse_iso8601(to_iso8601(t));
    ASSERT_TRUE(parsed) << to_iso8601(t);
    EXPECT_EQ(*parsed, t);
  }
  EXPECT_EQ(to_iso8601(from_unix_ms(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(to_iso8601(from_unix_ms(951'782'400'000)),
            "2000-02-29T00:00:00.000Z");
}

TEST(time, iso8601_accepts_dates_and_refuses_junk) {
  auto d = parse_iso8601("2026-11-23");
  ASSERT_TRUE(d);
  EXPECT_EQ(to_iso8601(*d), "2026-11-23T00:00:00.000Z");
  EXPECT_TRUE(parse_iso8601("2026-11-23T03:44:44Z"));
  EXPECT_TRUE(parse_iso8601("2026-11-23T03:44:44.5Z"));
  for (auto bad : {"", "2026-11-2", "2026-13-01", "2026-02-30", "2025-02-29",
                   "2026-11-23T24:00:00Z", "2026-11-23T03:44:44",
                   "2026-11-23T03:44:44+01:00", "2026-11-23X", "tomorrow",
                   "2026-11-23T03:44:44.Z"})
    EXPECT_FALSE(parse_iso8601(bad)) << bad;
}

TEST(time, durations_parse_in_every_unit) {
  EXPECT_EQ(parse_duration("250ms"), duration{250});
  EXPECT_EQ(parse_duration("30s"), duration{30'000});
  EXPECT_EQ(parse_duration("5min"), duration{300'000});
  EXPECT_EQ(parse_duration("5m"), duration{300'000});
  EXPECT_EQ(parse_duration("12h"), duration{43'200'000});
  EXPECT_EQ(parse_duration("30d"), std::chrono::duration_cast<duration>(days{30}));
  EXPECT_EQ(parse_duration("2w"), std::chrono::duration_cast<duration>(days{14}));
  for (auto bad : {"", "d", "30", "-1d", "30 d", "30days", "1.5d",
                   "99999999999999999999d"})
    EXPECT_FALSE(parse_duration(bad)) << bad;
}

TEST(time, durations_render_in_their_largest_unit) {
  EXPECT_EQ(to_string_duration(*parse_duration("30d")), "30d");
  EXPECT_EQ(to_string_duration(*parse_duration("14d")), "2w");
  EXPECT_EQ(to_string_duration(*parse_duration("90min")), "90min");
  EXPECT_EQ(to_string_duration(duration{1500}), "1500ms");
}

TEST(time, add_years_handles_leap_days) {
  EXPECT_EQ(add_years(*parse_iso8601("2028-02-29"), 1),
            *parse_iso8601("2029-02-28"));
  EXPECT_EQ(add_years(*parse_iso8601("2026-11-23T10:00:00Z"), 3),
            *parse_iso8601("2029-11-23T10:00:00Z"));
}
