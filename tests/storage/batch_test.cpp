#include "storage/batch.hpp"

#include <string>

#include <gtest/gtest.h>

#include "storage/keys.hpp"
#include "tests/storage/fixture.hpp"

namespace tenure::storage {
namespace {

using test::make_timer;

TEST(storage_batch, records_operations_in_order) {
  batch b;
  EXPECT_TRUE(b.empty());
  b.append_event("sub_1", 1, "e1");
  b.put_snapshot("sub_1", 1, "snap", 0);
  b.put(cf::outbox, "ntf_1", "mail");
  ASSERT_TRUE(b.valid()) << b.problem();
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b.ops()[0].what, batch_op::kind::append_event);
  EXPECT_EQ(b.ops()[0].key, event_key("sub_1", 1));
  EXPECT_EQ(b.ops()[1].what, batch_op::kind::put_snapshot);
  EXPECT_EQ(b.ops()[1].value, be64(1) + "snap");
  EXPECT_EQ(b.ops()[1].expected_version, 0u);
  EXPECT_EQ(b.ops()[2].family, cf::outbox);
  EXPECT_GT(b.bytes(), 0u);
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.bytes(), 0u);
}

TEST(storage_batch, refuses_key_components_with_separator) {
  batch b;
  b.append_event(std::string("sub\0x", 5), 1, "e");
  EXPECT_FALSE(b.valid());
  EXPECT_NE(b.problem().find("0x00"), std::string::npos) << b.problem();
  EXPECT_EQ(b.size(), 0u);
  EXPECT_FALSE(b.empty());
}

TEST(storage_batch, refuses_empty_entity_and_non_growing_version) {
  batch a;
  a.put_snapshot("", 1, "s", 0);
  EXPECT_FALSE(a.valid());
  batch b;
  b.put_snapshot("sub_1", 3, "s", 3);
  EXPECT_FALSE(b.valid());
  EXPECT_NE(b.problem().find("version"), std::string::npos) << b.problem();
}

TEST(storage_batch, refuses_generic_writes_to_column_families_with_invariants) {
  for (auto family : {cf::snapshots, cf::events, cf::timers, cf::timer_index}) {
    batch b;
    b.put(family, "k", "v");
    EXPECT_FALSE(b.valid()) << to_string(family);
  }
  for (auto family :
       {cf::outbox, cf::coupons, cf::audit, cf::idempotency, cf::meta}) {
    batch b;
    b.put(family, "k", "v");
    b.insert(family, "k2", "v");
    b.erase(family, "k");
    EXPECT_TRUE(b.valid()) << to_string(family) << ": " << b.problem();
  }
}

TEST(storage_batch, refuses_incomplete_timers_and_keeps_first_problem) {
  auto t = make_timer(10, "owner", "sub_1", "");
  batch b;
  b.put_timer(t);
  b.put(cf::events, "k", "v");
  EXPECT_FALSE(b.valid());
  EXPECT_NE(b.problem().find("kind is empty"), std::string::npos)
    << b.problem();
}

TEST(storage_batch, problem_never_contains_the_value) {
  batch b;
  b.insert(cf::coupons, "", "SECRET-CODE");
  b.put_snapshot(std::string("SECRET\0", 7), 1, "x", 0);
  EXPECT_FALSE(b.valid());
  EXPECT_EQ(b.problem().find("SECRET"), std::string::npos) << b.problem();
}

TEST(storage_batch, timer_operations_carry_index_rows) {
  auto t = make_timer(1000, "compliance", "sub_1", "cure");
  batch b;
  b.put_timer(t);
  b.cancel_timers("sub_1", "cure");
  b.delete_timer(t);
  ASSERT_TRUE(b.valid()) << b.problem();
  EXPECT_EQ(b.ops()[0].key, timer_key(t.due, t.owner, t.id.str()));
  EXPECT_EQ(b.ops()[0].index_key,
            timer_index_key(t.entity, t.kind, t.id.str()));
  EXPECT_EQ(b.ops()[0].index_value, timer_index_value(t.due, t.owner));
  EXPECT_EQ(b.ops()[1].key, timer_index_prefix("sub_1", "cure"));
  EXPECT_EQ(b.ops()[2].what, batch_op::kind::delete_timer);
}

} // namespace
} // namespace tenure::storage
