// Rendezvous ownership: deterministic, balanced, and minimal movement when
// the member list changes.

#include "actors/ownership.hpp"

#include <gtest/gtest.h>

#include <map>

#include "messages/errc.hpp"
#include "messages/id.hpp"

using namespace tenure;

namespace {

std::vector<cluster_member> members(std::initializer_list<const char*> names) {
  std::vector<cluster_member> out;
  uint16_t port = 9000;
  for (auto* n : names)
    out.push_back(cluster_member{n, "127.0.0.1", port++});
  return out;
}

std::vector<std::string> sample_ids(size_t n) {
  id_generator gen;
  std::vector<std::string> out;
  auto t = from_unix_ms(1'795'000'000'000);
  for (size_t i = 0; i < n; ++i)
    out.push_back(gen.next<app_id>(t).str());
  return out;
}

} // namespace

TEST(ownership, the_weight_is_stable_across_builds) {
  // Pinned values, computed independently (a few lines of Python doing
  // FNV-1a 64 and MurmurHash3's finaliser): a change here would move
  // entities between the nodes of every cluster.
  EXPECT_EQ(rendezvous_weight("", ""), 0xb9034ad37056f5fbull);
  EXPECT_EQ(rendezvous_weight("node-a", "app_01M83WJYYNT193ZSDEP2RKA0T2"),
            0x63143965c4f664a0ull);
  // The separator keeps (member, key) pairs apart.
  EXPECT_NE(rendezvous_weight("ab", "c"), rendezvous_weight("a", "bc"));
}

TEST(ownership, every_node_agrees_whatever_the_order_of_its_list) {
  auto x = ownership::make(members({"a", "b", "c"}));
  auto y = ownership::make(members({"c", "a", "b"}));
  ASSERT_TRUE(x && y);
  for (auto& id : sample_ids(2000))
    EXPECT_EQ(x->owner_of(id).name, y->owner_of(id).name) << id;
}

TEST(ownership, keys_spread_evenly) {
  auto o = ownership::make(members({"a", "b", "c"}));
  ASSERT_TRUE(o);
  std::map<std::string, size_t> counts;
  const size_t n = 30'000;
  for (auto& id : sample_ids(n))
    ++counts[o->owner_of(id).name];
  ASSERT_EQ(counts.size(), 3u);
  for (auto& [name, count] : counts) {
    EXPECT_GT(count, n / 3 * 9 / 10) << name;
    EXPECT_LT(count, n / 3 * 11 / 10) << name;
  }
}

TEST(ownership, a_new_member_takes_a_fair_share_and_nothing_else_moves) {
  auto three = ownership::make(members({"a", "b", "c"}));
  auto four = ownership::make(members({"a", "b", "c", "d"}));
  ASSERT_TRUE(three && four);
  const size_t n = 20'000;
  size_t moved = 0;
  for (auto& id : sample_ids(n)) {
    auto& before = three->owner_of(id).name;
    auto& after = four->owner_of(id).name;
    if (before != after) {
      ++moved;
      EXPECT_EQ(after, "d") << id << " moved between old members";
    }
  }
  EXPECT_GT(moved, n / 4 * 9 / 10);
  EXPECT_LT(moved, n / 4 * 11 / 10);
}

TEST(ownership, a_removed_member_gives_away_only_its_own_keys) {
  auto three = ownership::make(members({"a", "b", "c"}));
  auto two = ownership::make(members({"a", "c"}));
  ASSERT_TRUE(three && two);
  for (auto& id : sample_ids(5000)) {
    auto& before = three->owner_of(id).name;
    if (before != "b") {
      EXPECT_EQ(two->owner_of(id).name, before) << id;
    }
  }
}

TEST(ownership, pools_have_one_owner_per_program) {
  auto o = ownership::make(members({"a", "b", "c"}));
  ASSERT_TRUE(o);
  for (auto p : {program::edu, program::oss, program::startups})
    EXPECT_EQ(o->pool_owner(p).name, o->owner_of("pool/" + to_string(p)).name);
  auto single = ownership::make(members({"solo"}));
  ASSERT_TRUE(single);
  EXPECT_EQ(single->pool_owner(program::oss).name, "solo");
}

TEST(ownership, bad_member_lists_are_refused_with_the_member_named) {
  auto msg = [](std::vector<cluster_member> ms) {
    auto o = ownership::make(std::move(ms));
    EXPECT_FALSE(o);
    return o ? std::string{} : error_message(o.error());
  };
  EXPECT_NE(msg({}).find("at least one member"), std::string::npos);
  EXPECT_NE(msg(members({"a", "a"}))
              .find("cluster.members[1] (a).name: "
                    "named twice"),
            std::string::npos);
  EXPECT_NE(msg(members({"has space"})).find("cluster.members[0].name"),
            std::string::npos);
  auto ms = members({"a", "b"});
  ms[1].port = ms[0].port;
  EXPECT_NE(msg(ms).find("is another member's address too"), std::string::npos);
  ms = members({"a"});
  ms[0].host.clear();
  EXPECT_NE(msg(ms).find("(a).host: missing"), std::string::npos);
  ms = members({"a"});
  ms[0].port = 0;
  EXPECT_NE(msg(ms).find("(a).port"), std::string::npos);
}
