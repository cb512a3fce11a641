#include "actors/coupon_rules.hpp"

#include <gtest/gtest.h>

#include "messages/errc.hpp"

using namespace tenure;

TEST(coupon_csv, one_column_no_header_with_blanks_duplicates_and_junk) {
  auto csv = "\xEF\xBB\xBF"
             "AAAA-1111\r\n"
             "\n"
             "BBBB-2222\n"
             "  \"CCCC-3333\"  \n"
             "AAAA-1111\n"
             "code,extra\n"
             "no spaces allowed\n"
             "abc\n"
             "DDDD-4444"; // no newline at the end
  auto r = parse_coupon_csv(csv);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->codes, (std::vector<std::string>{"AAAA-1111", "BBBB-2222",
                                                "CCCC-3333", "DDDD-4444"}));
  EXPECT_EQ(r->report.lines, 9u);
  EXPECT_EQ(r->report.blank, 1u);
  EXPECT_EQ(r->report.duplicate_in_file, 1u);
  EXPECT_EQ(r->report.invalid, 3u);
  EXPECT_EQ(r->invalid_lines, (std::vector<uint64_t>{6, 7, 8}));
}

TEST(coupon_csv, an_empty_file_imports_nothing) {
  auto r = parse_coupon_csv("");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->codes.empty());
  EXPECT_EQ(r->report.lines, 0u);
}

TEST(coupon_csv, too_many_lines_is_refused) {
  coupon_csv_limits limits;
  limits.max_lines = 3;
  auto r = parse_coupon_csv("AAAA1\nAAAA2\nAAAA3\nAAAA4\n", limits);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::too_large);
}

TEST(coupon_forecast, yearly_need_follows_seed_001) {
  coupon_forecast f;
  f.applications_per_quarter = 300;
  f.expected_renewals = 200;
  f.reverification_factor = 0.75;
  EXPECT_EQ(yearly_need(f), 450u);
  EXPECT_EQ(runway_days(450, f), 365u);
  EXPECT_EQ(runway_days(45, f), 36u);
  EXPECT_EQ(runway_days(0, f), 0u);
  coupon_forecast none;
  EXPECT_EQ(yearly_need(none), 0u);
  EXPECT_GT(runway_days(1, none), 1'000'000u);
}
