// What only the RocksDB store does: persistence, group commit, the
// committer's lifetime, opening.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "storage/keys.hpp"
#include "tests/storage/envs.hpp"
#include "tests/storage/fixture.hpp"

namespace tenure::storage {
namespace {

using test::has_code;
using test::make_timer;

batch command(const std::string& entity, uint64_t version, const timer& t) {
  batch b;
  b.append_event(entity, version, "e" + std::to_string(version));
  b.put_snapshot(entity, version, "s" + std::to_string(version), version - 1);
  b.put_timer(t);
  b.put(cf::outbox, "ntf_" + entity + "_" + std::to_string(version), "n");
  return b;
}

TEST(storage_rocksdb, reopen_keeps_everything_committed) {
  test::rocksdb_env env;
  auto t = make_timer(1000, "compliance", "sub_1", "cure");
  auto gone = make_timer(2000, "compliance", "sub_1", "grace");
  ASSERT_FALSE(env.get().commit_sync(command("sub_1", 1, t)));
  batch b;
  b.put_timer(gone);
  b.insert(cf::coupons, coupon_key("edu", "C1"), "free");
  b.put(cf::audit, "aud_1", "a");
  ASSERT_FALSE(env.get().commit_sync(std::move(b)));
  batch c;
  c.cancel_timers("sub_1", "grace");
  c.append_event("sub_1", 2, "e2");
  c.put_snapshot("sub_1", 2, "s2", 1);
  ASSERT_FALSE(env.get().commit_sync(std::move(c)));
  env.reopen();
  auto& st = env.get();
  auto snap = st.get_snapshot("sub_1");
  ASSERT_TRUE(snap && *snap);
  EXPECT_EQ(**snap, (stored_snapshot{2, "s2"}));
  auto evs = st.events("sub_1");
  ASSERT_TRUE(evs);
  EXPECT_EQ(*evs, (std::vector<stored_event>{{1, "e1"}, {2, "e2"}}));
  auto due = st.due_timers(from_unix_ms(10'000));
  ASSERT_TRUE(due);
  EXPECT_EQ(*due, std::vector<timer>{t});
  auto coupon = st.get(cf::coupons, coupon_key("edu", "C1"));
  ASSERT_TRUE(coupon && *coupon);
  EXPECT_EQ(**coupon, "free");
  auto audit = st.get(cf::audit, "aud_1");
  ASSERT_TRUE(audit && *audit);
  auto outbox = st.outbox();
  ASSERT_TRUE(outbox);
  EXPECT_EQ(outbox->size(), 1u);
  // The version check works across the reopen.
  EXPECT_TRUE(has_code(st.commit_sync(command("sub_1", 2, t)), errc::conflict));
}

TEST(storage_rocksdb, commits_queued_together_form_one_group) {
  test::gate hold;
  store_options opts;
  opts.before_group = [&] { hold(); };
  test::rocksdb_env env{opts};
  auto& st = env.get();
  auto t = make_timer(100, "compliance", "sub_1", "cure");
  test::outcomes out;
  // 0: arms a timer; 1: cancels it (must see 0 through the group's index);
  // 2: creates sub_2; 3: a stale writer of sub_2 (must fail alone);
  // 4: an unrelated neighbour (must not be affected by 3).
  std::vector<caf::error> results(5);
  auto record = [&](size_t i) {
    auto cb = out.callback();
    return [&, i, cb](const caf::error& err) {
      results[i] = err;
      cb(err);
    };
  };
  batch b0;
  b0.put_timer(t);
  st.commit(std::move(b0), record(0));
  batch b1;
  b1.cancel_timers("sub_1", "cure");
  st.commit(std::move(b1), record(1));
  batch b2;
  b2.put_snapshot("sub_2", 1, "first", 0);
  b2.append_event("sub_2", 1, "first");
  st.commit(std::move(b2), record(2));
  batch b3;
  b3.put_snapshot("sub_2", 1, "stale", 0);
  b3.append_event("sub_2", 1, "stale");
  b3.put(cf::outbox, "ntf_stale", "n");
  st.commit(std::move(b3), record(3));
  st.commit(command("sub_3", 1, make_timer(50, "renewal", "sub_3", "r")),
            record(4));
  EXPECT_EQ(st.metrics().groups, 0u);
  hold.open();
  ASSERT_TRUE(out.wait());
  EXPECT_FALSE(results[0]) << test::describe(results[0]);
  EXPECT_FALSE(results[1]) << test::describe(results[1]);
  EXPECT_FALSE(results[2]) << test::describe(results[2]);
  EXPECT_TRUE(has_code(results[3], errc::conflict));
  EXPECT_FALSE(results[4]) << test::describe(results[4]);
  auto m = st.metrics();
  EXPECT_EQ(m.groups, 1u);
  EXPECT_EQ(m.syncs, 1u);
  EXPECT_EQ(m.commits, 4u);
  EXPECT_EQ(m.conflicts, 1u);
  EXPECT_EQ(m.largest_group, 4u);
  // The cancel saw the put of the same group: no timer of sub_1, no orphan.
  auto of = st.timers_of("sub_1");
  ASSERT_TRUE(of);
  EXPECT_TRUE(of->empty());
  auto due = st.due_timers(from_unix_ms(1000));
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].entity, "sub_3");
  auto evs = st.events("sub_2");
  ASSERT_TRUE(evs);
  EXPECT_EQ(*evs, (std::vector<stored_event>{{1, "first"}}));
  auto stale = st.get(cf::outbox, "ntf_stale");
  ASSERT_TRUE(stale);
  EXPECT_FALSE(*stale);
}

TEST(storage_rocksdb, group_bounds_split_the_queue) {
  test::gate hold;
  store_options opts;
  opts.before_group = [&] { hold(); };
  opts.max_group_commits = 4;
  test::rocksdb_env env{opts};
  test::outcomes out;
  for (int i = 0; i < 10; ++i) {
    batch b;
    b.put(cf::meta, "k" + std::to_string(i), "v");
    env.get().commit(std::move(b), out.callback());
  }
  hold.open();
  ASSERT_TRUE(out.wait());
  EXPECT_EQ(out.failures(), 0u);
  auto m = env.get().metrics();
  EXPECT_EQ(m.groups, 3u); // 4 + 4 + 2
  EXPECT_EQ(m.largest_group, 4u);
}

TEST(storage_rocksdb, concurrent_committers_share_syncs) {
  test::rocksdb_env env;
  auto& st = env.get();
  constexpr int threads = 16;
  constexpr int per_thread = 100;
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < threads; ++w)
    workers.emplace_back([&, w] {
      auto entity = "sub_c" + std::to_string(w);
      for (int i = 1; i <= per_thread; ++i) {
        auto t = make_timer(i, "o", entity, "k" + std::to_string(i));
        if (st.commit_sync(command(entity, i, t)))
          ++failures;
      }
    });
  for (auto& w : workers)
    w.join();
  EXPECT_EQ(failures.load(), 0);
  auto m = st.metrics();
  EXPECT_EQ(m.commits, uint64_t{threads * per_thread});
  EXPECT_LT(m.groups, m.commits) << "no group formed";
  EXPECT_EQ(m.syncs, m.groups);
  EXPECT_GT(m.avg_group_size(), 1.0);
  env.reopen();
  for (int w = 0; w < threads; ++w) {
    auto entity = "sub_c" + std::to_string(w);
    auto evs = env.get().events(entity);
    ASSERT_TRUE(evs);
    EXPECT_EQ(evs->size(), size_t{per_thread});
    auto of = env.get().timers_of(entity);
    ASSERT_TRUE(of);
    EXPECT_EQ(of->size(), size_t{per_thread});
  }
}

TEST(storage_rocksdb, close_finishes_queued_commits_first) {
  test::gate hold;
  store_options opts;
  opts.before_group = [&] { hold(); };
  test::rocksdb_env env{opts};
  auto& st = env.get();
  test::outcomes out;
  for (int i = 0; i < 50; ++i) {
    batch b;
    b.put(cf::audit, "aud_" + std::to_string(100 + i), "a");
    st.commit(std::move(b), out.callback());
  }
  std::thread closer{[&] { st.close(); }};
  // close() stops intake at once, before it waits for the committer.
  test::outcomes late;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  while (st.is_open() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  if (st.is_open()) {
    hold.open();
    closer.join();
    FAIL() << "close() did not stop taking commits";
  }
  batch b;
  b.put(cf::audit, "aud_late", "a");
  st.commit(std::move(b), late.callback());
  ASSERT_TRUE(late.wait());
  EXPECT_TRUE(has_code(late.errors()[0], errc::unavailable));
  hold.open();
  closer.join();
  ASSERT_TRUE(out.wait());
  EXPECT_EQ(out.failures(), 0u);
  env.reopen();
  auto rows = env.get().scan(cf::audit, "aud_");
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->size(), 50u);
}

TEST(storage_rocksdb, second_open_of_the_same_path_fails_cleanly) {
  test::rocksdb_env env;
  store_options opts;
  opts.path = env.path();
  auto second = rocksdb_store::open(opts);
  ASSERT_FALSE(second);
  EXPECT_TRUE(has_code(second.error(), errc::storage_failure));
  EXPECT_TRUE(env.get().is_open());
}

TEST(storage_rocksdb, open_refuses_bad_options) {
  store_options opts;
  auto no_path = rocksdb_store::open(opts);
  ASSERT_FALSE(no_path);
  EXPECT_TRUE(has_code(no_path.error(), errc::invalid_argument));
  test::temp_dir dir;
  opts.path = dir.sub("db");
  opts.create_if_missing = false;
  auto missing = rocksdb_store::open(opts);
  ASSERT_FALSE(missing);
  EXPECT_TRUE(has_code(missing.error(), errc::storage_failure));
}

TEST(storage_rocksdb, newer_format_is_refused_and_unknown_families_kept) {
  test::temp_dir dir;
  store_options opts;
  opts.path = dir.sub("db");
  {
    auto st = rocksdb_store::open(opts);
    ASSERT_TRUE(st) << test::describe(st.error());
  }
  // A newer build added a column family: we still open.
  test::raw_put(opts.path, "future", "k", "v");
  {
    auto st = rocksdb_store::open(opts);
    ASSERT_TRUE(st) << test::describe(st.error());
  }
  // A newer build wrote a newer format: we refuse rather than damage it.
  test::raw_put(opts.path, "meta", "tenure.storage.format", be64(99));
  auto st = rocksdb_store::open(opts);
  ASSERT_FALSE(st);
  EXPECT_TRUE(has_code(st.error(), errc::schema_too_new));
}

TEST(storage_rocksdb, sync_off_still_persists_on_clean_close) {
  store_options opts;
  opts.sync = false;
  test::rocksdb_env env{opts};
  batch b;
  b.put(cf::meta, "k", "v");
  ASSERT_FALSE(env.get().commit_sync(std::move(b)));
  EXPECT_EQ(env.get().metrics().syncs, 0u);
  EXPECT_EQ(env.get().metrics().groups, 1u);
  env.reopen();
  auto row = env.get().get(cf::meta, "k");
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(**row, "v");
}

} // namespace
} // namespace tenure::storage
