// DATA/clock.json: a manual or accelerated clock resumes across restarts.

#include <gtest/gtest.h>

#include "messages/errc.hpp"
#include "nodes/clock_state.hpp"
#include "tests/support/process.hpp"

using namespace tenure;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

const time_point wall = from_unix_ms(1'800'000'000'000);

TEST(clock_state, a_manual_clock_resumes_where_it_stood) {
  clock_state st{"manual", to_unix_ms(wall + hours(24 * 40)),
                 to_unix_ms(wall - hours(1)), 0};
  EXPECT_EQ(resume_point("manual", st, wall), wall + hours(24 * 40));
}

TEST(clock_state, an_accelerated_clock_counts_its_downtime_at_its_rate) {
  // 2 days per second, written 10 s of wall time ago: 20 days passed.
  clock_state st{"accelerated", to_unix_ms(wall + hours(24)),
                 to_unix_ms(wall - seconds(10)), 2.0};
  EXPECT_EQ(resume_point("accelerated", st, wall), wall + hours(24 * 21));
  // A wall clock that went back does not move domain time back.
  clock_state ahead{"accelerated", to_unix_ms(wall + hours(24)),
                    to_unix_ms(wall + seconds(10)), 2.0};
  EXPECT_EQ(resume_point("accelerated", ahead, wall), wall + hours(24));
}

TEST(clock_state, another_kind_starts_at_wall_time_but_never_earlier) {
  clock_state later{"manual", to_unix_ms(wall + hours(5)), to_unix_ms(wall), 0};
  EXPECT_EQ(resume_point("accelerated", later, wall), wall + hours(5));
  clock_state earlier{"manual", to_unix_ms(wall - hours(5)), to_unix_ms(wall),
                      0};
  EXPECT_EQ(resume_point("accelerated", earlier, wall), wall);
  EXPECT_EQ(resume_point("manual", std::nullopt, wall), wall);
}

TEST(clock_state, written_states_read_back_and_bad_files_are_refused) {
  tenure::test::temp_dir dir{"tenure-clock-state"};
  auto path = dir.path() + "/clock.json";
  auto none = read_clock_state(path);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  clock_state st{"accelerated", 123'456, 789, 1.5};
  ASSERT_FALSE(write_clock_state(path, st));
  auto back = read_clock_state(path);
  ASSERT_TRUE(back && *back);
  EXPECT_EQ((*back)->kind, "accelerated");
  EXPECT_EQ((*back)->domain_ms, 123'456);
  EXPECT_EQ((*back)->wall_ms, 789);
  EXPECT_EQ((*back)->days_per_second, 1.5);
  for (auto* text :
       {"", "[]", "{\"kind\":\"manual\"}",
        "{\"kind\":\"sundial\",\"domain_ms\":1,\"wall_ms\":1}",
        "{\"kind\":\"accelerated\",\"domain_ms\":1,\"wall_ms\":1,"
        "\"days_per_second\":-1}",
        "{\"kind\":\"manual\",\"domain_ms\":\"1\",\"wall_ms\":1}"}) {
    tenure::test::write_file(path, text);
    auto bad = read_clock_state(path);
    ASSERT_FALSE(bad) << text;
    EXPECT_TRUE(bad.error() == errc::config_invalid) << text;
    EXPECT_NE(error_message(bad.error()).find(path), std::string::npos);
  }
}

} // namespace
