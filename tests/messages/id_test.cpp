#include "messages/id.hpp"

#include <gtest/gtest.h>

#include <set>
#include <thread>

using namespace tenure;

TEST(id, generated_ids_carry_their_prefix_and_parse_back) {
  id_generator gen{1};
  auto a = gen.next<app_id>(from_unix_ms(1'700'000'000'000));
  EXPECT_EQ(a.str().substr(0, 4), "app_");
  EXPECT_EQ(a.str().size(), 4 + id_body_length);
  auto parsed = app_id::parse(a.str());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, a);
}

TEST(id, parse_refuses_wrong_prefix_length_and_alphabet) {
  id_generator gen{1};
  auto s = gen.next<sub_id>(from_unix_ms(1)).str();
  EXPECT_FALSE(app_id::parse(s));
  EXPECT_FALSE(sub_id::parse(s.substr(0, s.size() - 1)));
  EXPECT_FALSE(sub_id::parse(s + "0"));
  auto bad = s;
  bad.back() = 'U'; // not in Crockford base32
  EXPECT_FALSE(sub_id::parse(bad));
  bad.back() = 'a'; // lower case
  EXPECT_FALSE(sub_id::parse(bad));
  EXPECT_FALSE(sub_id::parse(""));
  EXPECT_TRUE(sub_id::parse(s));
}

TEST(id, ids_sort_by_time_then_creation_order) {
  id_generator gen{7};
  std::vector<std::string> ids;
  for (int64_t ms : {1000, 1000, 1000, 1001, 5000, 5000, 99999999})
    ids.push_back(gen.next<case_id>(from_unix_ms(ms)).str());
  for (size_t i = 1; i < ids.size(); ++i)
    EXPECT_LT(ids[i - 1], ids[i]) << i;
}

TEST(id, clock_going_back_keeps_ids_increasing) {
  id_generator gen{3};
  auto a = gen.next<em_id>(from_unix_ms(10'000));
  auto b = gen.next<em_id>(from_unix_ms(9'000));
  EXPECT_LT(a, b);
}

TEST(id, concurrent_generation_never_repeats) {
  id_generator gen;
  std::vector<std::set<std::string>> seen(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10'000; ++i)
        seen[t].insert(gen.next<ntf_id>(from_unix_ms(42)).str());
    });
  for (auto& th : threads)
    th.join();
  std::set<std::string> all;
  for (auto& s : seen)
    all.insert(s.begin(), s.end());
  EXPECT_EQ(all.size(), 40'000u);
}

TEST(id, timestamp_prefix_encodes_milliseconds) {
  id_generator gen{1};
  // 2^48 - 1 ms is the largest ULID time: "7ZZZZZZZZZ".
  auto max = gen.next_body(from_unix_ms((int64_t{1} << 48) - 1));
  EXPECT_EQ(max.substr(0, 10), "7ZZZZZZZZZ");
  auto zero = id_generator{2}.next_body(from_unix_ms(0));
  EXPECT_EQ(zero.substr(0, 10), "0000000000");
}
