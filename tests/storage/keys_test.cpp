#include "storage/keys.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tenure::storage {
namespace {

TEST(storage_keys, be64_round_trips_and_is_big_endian) {
  EXPECT_EQ(be64(0x0102030405060708), std::string("\x01\x02\x03\x04\x05\x06"
                                                  "\x07\x08",
                                                  8));
  for (uint64_t x : {uint64_t{0}, uint64_t{255}, uint64_t{256},
                     uint64_t{0xffffffffffffffff}})
    EXPECT_EQ(read_be64(be64(x)), x);
  EXPECT_FALSE(read_be64("1234567"));
}

TEST(storage_keys, event_keys_sort_by_sequence_across_byte_boundaries) {
  std::vector<std::string> keys;
  for (uint64_t seq : {1, 255, 256, 257, 65535, 65536, 2})
    keys.push_back(event_key("sub_1", seq));
  auto sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::string> expected;
  for (uint64_t seq : {1, 2, 255, 256, 257, 65535, 65536})
    expected.push_back(event_key("sub_1", seq));
  EXPECT_EQ(sorted, expected);
}

TEST(storage_keys, event_prefix_does_not_match_longer_entity) {
  auto prefix = event_prefix("sub_1");
  auto other = event_key("sub_10", 1);
  EXPECT_NE(other.substr(0, prefix.size()), prefix);
  EXPECT_EQ(event_key("sub_1", 7).substr(0, prefix.size()), prefix);
}

TEST(storage_keys, timer_keys_sort_by_due_time_including_before_1970) {
  std::vector<int64_t> dues{5000, -5000, 0, 1, -1, 1'700'000'000'000, 256};
  std::vector<std::string> keys;
  for (auto due : dues)
    keys.push_back(timer_key(from_unix_ms(due), "owner", "tmr_x"));
  std::sort(keys.begin(), keys.end());
  std::sort(dues.begin(), dues.end());
  for (size_t i = 0; i < dues.size(); ++i)
    EXPECT_EQ(from_due_bits(*read_be64(keys[i].substr(6))),
              from_unix_ms(dues[i]));
}

TEST(storage_keys, timer_bound_is_exclusive_and_per_owner) {
  auto t = from_unix_ms(1000);
  EXPECT_LT(timer_key(from_unix_ms(999), "own", "tmr_x"),
            timer_bound("own", t));
  EXPECT_GE(timer_key(t, "own", "tmr_x"), timer_bound("own", t));
  // Other owners' timers are outside the range, whatever their due time.
  EXPECT_GE(timer_key(from_unix_ms(-5), "own2", "tmr_x"),
            timer_bound("own", t));
  EXPECT_LT(timer_key(from_unix_ms(1'900'000'000'000), "ow", "tmr_x"),
            timer_prefix("own"));
  EXPECT_GE(timer_key(from_unix_ms(-5), "own", "tmr_x"), timer_prefix("own"));
}

TEST(storage_keys, timer_index_value_plus_id_is_the_timer_key) {
  auto due = from_unix_ms(42);
  EXPECT_EQ(timer_index_value(due, "own") + '\0' + "tmr_1",
            timer_key(due, "own", "tmr_1"));
  EXPECT_EQ(timer_index_key("sub_1", "cure", "tmr_1"),
            std::string("sub_1\0cure\0tmr_1", 16));
  EXPECT_EQ(timer_index_prefix("sub_1", "cure"),
            std::string("sub_1\0cure\0", 11));
  EXPECT_EQ(timer_index_prefix("sub_1"), std::string("sub_1\0", 6));
}

TEST(storage_keys, prefix_successor_bounds_the_prefix) {
  EXPECT_EQ(prefix_successor("abc"), "abd");
  EXPECT_EQ(prefix_successor(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefix_successor(std::string("\xff\xff", 2)), "");
  EXPECT_EQ(prefix_successor(""), "");
  EXPECT_EQ(prefix_successor(std::string("a\0", 2)), std::string("a\1", 2));
}

TEST(storage_keys, split_key_splits_at_separators) {
  std::string_view parts[3];
  std::string key("e\0k\0id", 6);
  ASSERT_EQ(split_key(key, parts, 3), 3u);
  EXPECT_EQ(parts[0], "e");
  EXPECT_EQ(parts[1], "k");
  EXPECT_EQ(parts[2], "id");
  EXPECT_EQ(split_key("plain", parts, 3), 1u);
  EXPECT_EQ(coupon_key("edu", "CODE"), std::string("edu\0CODE", 8));
  EXPECT_EQ(idempotency_key("http", "k1"), std::string("http\0k1", 7));
}

} // namespace
} // namespace tenure::storage
