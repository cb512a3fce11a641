// The contract of `store`, run against both implementations: whatever passes
// here on the memory_store can be relied on with the rocksdb_store.

#include <algorithm>
#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "messages/codec.hpp"
#include "storage/keys.hpp"
#include "tests/storage/envs.hpp"
#include "tests/storage/fixture.hpp"

namespace tenure::storage {
namespace {

using test::has_code;
using test::make_timer;

template <class Env>
class storage_contract : public ::testing::Test {
protected:
  store& st() {
    return env_.get();
  }

  caf::error commit(batch b) {
    return st().commit_sync(std::move(b));
  }

  /// Everything one command of an entity writes, in every column family.
  batch full_batch(const std::string& entity, uint64_t version,
                   uint64_t expected, const timer& t) {
    batch b;
    b.append_event(entity, version, "event-" + std::to_string(version));
    b.put_timer(t);
    b.put(cf::outbox, "ntf_" + entity + std::to_string(version), "mail");
    b.put(cf::coupons,
          coupon_key("edu", "C-" + entity + std::to_string(version)), "used");
    b.put(cf::audit, "aud_" + entity + std::to_string(version), "audit");
    b.insert(cf::idempotency,
             idempotency_key("http", "k-" + entity + std::to_string(version)),
             "response");
    b.put(cf::meta, "watermark-" + entity, std::to_string(version));
    // Last, so that a failed check has to roll back the rows before it.
    b.put_snapshot(entity, version, "state-" + std::to_string(version),
                   expected);
    return b;
  }

  /// How many of `full_batch(entity, version, ...)`'s rows are stored.
  int rows_present(const std::string& entity, uint64_t version,
                   const timer& t) {
    int n = 0;
    auto v = std::to_string(version);
    auto snap = st().get_snapshot(entity);
    n += snap && *snap && (*snap)->version == version;
    auto evs = st().events(entity, version, 1);
    n += evs && evs->size() == 1 && (*evs)[0].seq == version;
    auto tms = st().timers_of(entity);
    n += tms && std::count(tms->begin(), tms->end(), t) == 1;
    auto due = st().due_timers(t.due + duration{1});
    n += due && std::count(due->begin(), due->end(), t) == 1;
    for (auto [family, key] :
         {std::pair{cf::outbox, "ntf_" + entity + v},
          std::pair{cf::coupons, coupon_key("edu", "C-" + entity + v)},
          std::pair{cf::audit, "aud_" + entity + v},
          std::pair{cf::idempotency,
                    idempotency_key("http", "k-" + entity + v)}}) {
      auto row = st().get(family, key);
      n += row && row->has_value();
    }
    // Shared by all versions: counts when it holds this version.
    auto meta = st().get(cf::meta, "watermark-" + entity);
    n += meta && *meta && **meta == v;
    return n;
  }

  static constexpr int all_rows = 9;

  Env env_;
};

struct env_names {
  template <class T>
  static std::string GetName(int) {
    return T::name;
  }
};

using envs = ::testing::Types<test::memory_env, test::rocksdb_env>;
TYPED_TEST_SUITE(storage_contract, envs, env_names);

// -- atomicity ----------------------------------------------------------------

TYPED_TEST(storage_contract, commit_writes_all_column_families_together) {
  auto t = make_timer(5000, "compliance", "sub_1", "cure");
  EXPECT_EQ(this->rows_present("sub_1", 1, t), 0);
  auto err = this->commit(this->full_batch("sub_1", 1, 0, t));
  ASSERT_FALSE(err) << test::describe(err);
  EXPECT_EQ(this->rows_present("sub_1", 1, t), this->all_rows);
  auto snap = this->st().get_snapshot("sub_1");
  ASSERT_TRUE(snap);
  ASSERT_TRUE(*snap);
  EXPECT_EQ(**snap, (stored_snapshot{1, "state-1"}));
}

TYPED_TEST(storage_contract, version_conflict_aborts_the_whole_commit) {
  auto t1 = make_timer(5000, "compliance", "sub_1", "cure");
  ASSERT_FALSE(this->commit(this->full_batch("sub_1", 1, 0, t1)));
  // A stale writer: expects no snapshot, but version 1 is stored.
  auto t2 = make_timer(6000, "compliance", "sub_1", "reminder");
  auto err = this->commit(this->full_batch("sub_1", 2, 0, t2));
  EXPECT_TRUE(has_code(err, errc::conflict));
  // Nothing of the failed commit, in any column family.
  EXPECT_EQ(this->rows_present("sub_1", 2, t2), 0);
  // What was there before is intact, also the meta row the failed commit
  // had overwritten before its check failed.
  EXPECT_EQ(this->rows_present("sub_1", 1, t1), this->all_rows);
  // The right expectation succeeds.
  EXPECT_FALSE(this->commit(this->full_batch("sub_1", 2, 1, t2)));
  EXPECT_EQ(this->rows_present("sub_1", 2, t2), this->all_rows);
  auto m = this->st().metrics();
  EXPECT_EQ(m.commits, 2u);
  EXPECT_EQ(m.failed_commits, 1u);
  EXPECT_EQ(m.conflicts, 1u);
}

TYPED_TEST(storage_contract, insert_of_existing_key_aborts_the_whole_commit) {
  batch first;
  first.insert(cf::idempotency, idempotency_key("http", "k1"), "r1");
  ASSERT_FALSE(this->commit(std::move(first)));
  batch second;
  second.append_event("sub_9", 1, "e");
  second.put_snapshot("sub_9", 1, "s", 0);
  second.insert(cf::idempotency, idempotency_key("http", "k1"), "r2");
  EXPECT_TRUE(has_code(this->commit(std::move(second)), errc::already_exists));
  auto snap = this->st().get_snapshot("sub_9");
  ASSERT_TRUE(snap);
  EXPECT_FALSE(*snap);
  auto evs = this->st().events("sub_9");
  ASSERT_TRUE(evs);
  EXPECT_TRUE(evs->empty());
  auto row = this->st().get(cf::idempotency, idempotency_key("http", "k1"));
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(**row, "r1");
}

TYPED_TEST(storage_contract, invalid_batch_is_refused_without_effect) {
  batch b;
  b.put(cf::outbox, "ntf_1", "mail");
  b.append_event(std::string("sub\0bad", 7), 1, "e");
  EXPECT_TRUE(has_code(this->commit(std::move(b)), errc::invalid_argument));
  auto rows = this->st().outbox();
  ASSERT_TRUE(rows);
  EXPECT_TRUE(rows->empty());
}

TYPED_TEST(storage_contract, erase_raw_removes_rows_of_any_family) {
  // tenure-move prune deletes whole entities: snapshot, events, timer rows
  // and the timer index included.
  auto t = make_timer(5000, "compliance", "sub_1", "cure");
  ASSERT_FALSE(this->commit(this->full_batch("sub_1", 1, 0, t)));
  std::vector<std::pair<cf, std::string>> rows;
  for (auto family : all_cfs) {
    auto found = this->st().scan(family, "", 1000);
    ASSERT_TRUE(found);
    for (auto& r : *found)
      rows.emplace_back(family, r.key);
  }
  ASSERT_FALSE(rows.empty());
  batch b;
  for (auto& [family, key] : rows)
    b.erase_raw(family, key);
  ASSERT_FALSE(this->commit(std::move(b)));
  EXPECT_EQ(this->rows_present("sub_1", 1, t), 0);
  for (auto family : all_cfs) {
    auto left = this->st().scan(family, "", 1000);
    ASSERT_TRUE(left);
    EXPECT_TRUE(left->empty()) << to_string(family);
  }
  // The generic erase still refuses the families with invariants.
  batch g;
  g.erase(cf::snapshots, "sub_1");
  EXPECT_TRUE(has_code(this->commit(std::move(g)), errc::invalid_argument));
}

TYPED_TEST(storage_contract, empty_batch_commits) {
  EXPECT_FALSE(this->commit(batch{}));
}

// -- events -------------------------------------------------------------------

TYPED_TEST(storage_contract, events_come_back_in_sequence_order) {
  std::vector<uint64_t> seqs(300);
  for (uint64_t i = 0; i < 300; ++i)
    seqs[i] = i + 1;
  std::shuffle(seqs.begin(), seqs.end(), std::mt19937{42});
  // Several commits, out of order; a neighbour whose id extends ours.
  for (size_t i = 0; i < seqs.size(); i += 50) {
    batch b;
    for (size_t j = i; j < i + 50; ++j)
      b.append_event("sub_1", seqs[j], "e" + std::to_string(seqs[j]));
    b.append_event("sub_10", seqs[i], "other");
    ASSERT_FALSE(this->commit(std::move(b)));
  }
  auto evs = this->st().events("sub_1");
  ASSERT_TRUE(evs);
  ASSERT_EQ(evs->size(), 300u);
  for (uint64_t i = 0; i < 300; ++i) {
    EXPECT_EQ((*evs)[i].seq, i + 1);
    EXPECT_EQ((*evs)[i].bytes, "e" + std::to_string(i + 1));
  }
  auto page = this->st().events("sub_1", 250, 10);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 10u);
  EXPECT_EQ(page->front().seq, 250u);
  EXPECT_EQ(page->back().seq, 259u);
  auto tail = this->st().events("sub_1", 255, 3);
  ASSERT_TRUE(tail);
  ASSERT_EQ(tail->size(), 3u);
  EXPECT_EQ((*tail)[1].seq, 256u);
  auto none = this->st().events("sub_1", 301);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto other = this->st().events("sub_10");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->size(), 6u);
}

// -- timers -------------------------------------------------------------------

TYPED_TEST(storage_contract, timers_come_back_in_due_order) {
  std::vector<timer> timers;
  std::vector<int64_t> dues{900, -50, 300, 1'700'000'000'000, 0, 301, 299, 5};
  for (size_t i = 0; i < dues.size(); ++i)
    timers.push_back(make_timer(dues[i], i % 2 ? "renewal" : "compliance",
                                "sub_" + std::to_string(i), "k"));
  // Insert in two commits, reversed.
  batch a, b;
  for (size_t i = 0; i < timers.size(); ++i)
    (i < 4 ? b : a).put_timer(timers[timers.size() - 1 - i]);
  ASSERT_FALSE(this->commit(std::move(a)));
  ASSERT_FALSE(this->commit(std::move(b)));
  auto due = this->st().due_timers(from_unix_ms(301));
  ASSERT_TRUE(due);
  std::vector<int64_t> got;
  for (auto& t : *due)
    got.push_back(to_unix_ms(t.due));
  EXPECT_EQ(got, (std::vector<int64_t>{-50, 0, 5, 299, 300}));
  auto limited = this->st().due_timers(from_unix_ms(2'000'000'000'000), 2);
  ASSERT_TRUE(limited);
  ASSERT_EQ(limited->size(), 2u);
  EXPECT_EQ(to_unix_ms((*limited)[1].due), 0);
  auto renewal = this->st().due_timers(from_unix_ms(2'000'000'000'000),
                                       store::no_limit, "renewal");
  ASSERT_TRUE(renewal);
  got.clear();
  for (auto& t : *renewal) {
    EXPECT_EQ(t.owner, "renewal");
    got.push_back(to_unix_ms(t.due));
  }
  EXPECT_EQ(got, (std::vector<int64_t>{-50, 5, 301, 1'700'000'000'000}));
  // A supervisor resumes after the last timer it dispatched.
  std::vector<timer> ours;
  for (auto& t : timers)
    if (t.owner == "renewal")
      ours.push_back(t);
  std::sort(ours.begin(), ours.end(),
            [](auto& x, auto& y) { return x.due < y.due; });
  timer_position pos{ours[1].due, ours[1].id.str()};
  auto resumed = this->st().due_timers(from_unix_ms(2'000'000'000'000),
                                       store::no_limit, "renewal", &pos);
  ASSERT_TRUE(resumed);
  got.clear();
  for (auto& t : *resumed)
    got.push_back(to_unix_ms(t.due));
  EXPECT_EQ(got, (std::vector<int64_t>{301, 1'700'000'000'000}));
  // An owner whose name starts with another's is another owner.
  auto other = make_timer(-100, "renewals", "sub_x", "k");
  batch c;
  c.put_timer(other);
  ASSERT_FALSE(this->commit(std::move(c)));
  renewal = this->st().due_timers(from_unix_ms(0), store::no_limit, "renewal");
  ASSERT_TRUE(renewal);
  ASSERT_EQ(renewal->size(), 1u);
  EXPECT_EQ(to_unix_ms(renewal->at(0).due), -50);
  auto merged = this->st().due_timers(from_unix_ms(1), 2);
  ASSERT_TRUE(merged);
  ASSERT_EQ(merged->size(), 2u);
  EXPECT_EQ(merged->at(0).owner, "renewals");
  EXPECT_EQ(to_unix_ms(merged->at(1).due), -50);
  {
    batch undo;
    undo.delete_timer(other);
    ASSERT_FALSE(this->commit(std::move(undo)));
  }
  // The rows come back whole.
  auto all = this->st().due_timers(from_unix_ms(2'000'000'000'000));
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), timers.size());
  for (auto& t : timers)
    EXPECT_EQ(std::count(all->begin(), all->end(), t), 1);
}

TYPED_TEST(storage_contract, cancel_timers_by_entity_and_kind) {
  auto cure = make_timer(100, "compliance", "sub_1", "cure");
  auto cure2 = make_timer(150, "compliance", "sub_1", "cure");
  auto remind = make_timer(200, "renewal", "sub_1", "reminder_30d");
  auto other = make_timer(120, "compliance", "sub_10", "cure");
  batch b;
  for (auto* t : {&cure, &cure2, &remind, &other})
    b.put_timer(*t);
  ASSERT_FALSE(this->commit(std::move(b)));
  batch cancel;
  cancel.cancel_timers("sub_1", "cure");
  ASSERT_FALSE(this->commit(std::move(cancel)));
  auto left = this->st().timers_of("sub_1");
  ASSERT_TRUE(left);
  EXPECT_EQ(*left, std::vector<timer>{remind});
  auto due = this->st().due_timers(from_unix_ms(1000));
  ASSERT_TRUE(due);
  EXPECT_EQ(*due, (std::vector<timer>{other, remind}));
  batch all;
  all.cancel_timers("sub_1");
  ASSERT_FALSE(this->commit(std::move(all)));
  left = this->st().timers_of("sub_1");
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->empty());
  due = this->st().due_timers(from_unix_ms(1000));
  ASSERT_TRUE(due);
  EXPECT_EQ(*due, std::vector<timer>{other});
}

TYPED_TEST(storage_contract, reschedule_moves_the_timer) {
  auto t = make_timer(500, "renewal", "sub_1", "reminder");
  batch b;
  b.put_timer(t);
  ASSERT_FALSE(this->commit(std::move(b)));
  auto later = t;
  later.due = from_unix_ms(900);
  batch r;
  r.put_timer(later);
  ASSERT_FALSE(this->commit(std::move(r)));
  auto due = this->st().due_timers(from_unix_ms(10'000));
  ASSERT_TRUE(due);
  EXPECT_EQ(*due, std::vector<timer>{later});
  auto of = this->st().timers_of("sub_1", "reminder");
  ASSERT_TRUE(of);
  EXPECT_EQ(*of, std::vector<timer>{later});
}

TYPED_TEST(storage_contract, deleting_a_fired_timer_keeps_a_reschedule) {
  auto fired = make_timer(500, "renewal", "sub_1", "reminder");
  batch b;
  b.put_timer(fired);
  ASSERT_FALSE(this->commit(std::move(b)));
  // Rescheduled while the old firing was in flight.
  auto later = fired;
  later.due = from_unix_ms(900);
  batch r;
  r.put_timer(later);
  ASSERT_FALSE(this->commit(std::move(r)));
  batch d;
  d.delete_timer(fired);
  ASSERT_FALSE(this->commit(std::move(d)));
  auto of = this->st().timers_of("sub_1");
  ASSERT_TRUE(of);
  EXPECT_EQ(*of, std::vector<timer>{later});
  auto due = this->st().due_timers(from_unix_ms(10'000));
  ASSERT_TRUE(due);
  EXPECT_EQ(*due, std::vector<timer>{later});
  // Deleting the current schedule removes both rows.
  batch d2;
  d2.delete_timer(later);
  ASSERT_FALSE(this->commit(std::move(d2)));
  of = this->st().timers_of("sub_1");
  due = this->st().due_timers(from_unix_ms(10'000));
  ASSERT_TRUE(of && due);
  EXPECT_TRUE(of->empty());
  EXPECT_TRUE(due->empty());
}

TYPED_TEST(storage_contract, cancel_sees_a_put_earlier_in_the_batch) {
  auto t = make_timer(100, "compliance", "sub_1", "cure");
  batch b;
  b.put_timer(t);
  b.cancel_timers("sub_1", "cure");
  ASSERT_FALSE(this->commit(std::move(b)));
  auto due = this->st().due_timers(from_unix_ms(1000));
  ASSERT_TRUE(due);
  EXPECT_TRUE(due->empty());
  // Cancel, then re-arm: the usual "reschedule everything of this kind".
  auto t2 = make_timer(200, "compliance", "sub_1", "cure");
  batch c;
  c.put_timer(t);
  ASSERT_FALSE(this->commit(std::move(c)));
  batch d;
  d.cancel_timers("sub_1", "cure");
  d.put_timer(t2);
  ASSERT_FALSE(this->commit(std::move(d)));
  due = this->st().due_timers(from_unix_ms(1000));
  ASSERT_TRUE(due);
  EXPECT_EQ(*due, std::vector<timer>{t2});
}

// -- generic rows -------------------------------------------------------------

TYPED_TEST(storage_contract, prefix_scan_pages_in_key_order) {
  batch b;
  for (auto code : {"C3", "C1", "C2", "C4"})
    b.put(cf::coupons, coupon_key("edu", code), code);
  b.put(cf::coupons, coupon_key("oss", "C0"), "C0");
  b.put(cf::coupons, coupon_key("eduX", "C0"), "C0");
  ASSERT_FALSE(this->commit(std::move(b)));
  auto prefix = coupon_key("edu", "");
  auto first = this->st().scan(cf::coupons, prefix, 3);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 3u);
  EXPECT_EQ((*first)[0].value, "C1");
  EXPECT_EQ((*first)[2].value, "C3");
  auto second = this->st().scan(cf::coupons, prefix, 3, first->back().key);
  ASSERT_TRUE(second);
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].value, "C4");
  auto all = this->st().scan(cf::coupons, "");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 6u);
}

TYPED_TEST(storage_contract, outbox_comes_back_oldest_first_and_erases) {
  id_generator gen{3};
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(gen.next<ntf_id>(from_unix_ms(1000 + i)).str());
  batch b;
  for (auto i = ids.rbegin(); i != ids.rend(); ++i)
    b.put(cf::outbox, *i, "n");
  ASSERT_FALSE(this->commit(std::move(b)));
  auto rows = this->st().outbox(2);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].key, ids[0]);
  EXPECT_EQ((*rows)[1].key, ids[1]);
  batch e;
  e.erase(cf::outbox, ids[0]);
  ASSERT_FALSE(this->commit(std::move(e)));
  rows = this->st().outbox(1);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].key, ids[1]);
}

// -- corrupt bytes ------------------------------------------------------------

TYPED_TEST(storage_contract, short_snapshot_row_is_an_error) {
  this->env_.plant(cf::snapshots, "sub_1", "abc");
  auto snap = this->st().get_snapshot("sub_1");
  ASSERT_FALSE(snap);
  EXPECT_TRUE(has_code(snap.error(), errc::corrupt_data));
  // A commit over it fails instead of guessing a version.
  batch b;
  b.put_snapshot("sub_1", 1, "s", 0);
  b.put(cf::outbox, "ntf_1", "n");
  EXPECT_TRUE(has_code(this->commit(std::move(b)), errc::corrupt_data));
  auto rows = this->st().outbox();
  ASSERT_TRUE(rows);
  EXPECT_TRUE(rows->empty());
}

TYPED_TEST(storage_contract, corrupt_timer_rows_are_errors) {
  auto t = make_timer(100, "compliance", "sub_1", "cure");
  this->env_.plant(cf::timers, timer_key(t.due, t.owner, t.id.str()),
                   "\xdd\xff\x00\x00\x00");
  auto due = this->st().due_timers(from_unix_ms(1000));
  ASSERT_FALSE(due);
  EXPECT_TRUE(has_code(due.error(), errc::corrupt_data));
  // A valid row under the wrong key.
  this->env_.plant(cf::timers, timer_key(t.due, t.owner, t.id.str()),
                   encode(make_timer(100, "compliance", "sub_1", "cure")));
  due = this->st().due_timers(from_unix_ms(1000));
  ASSERT_FALSE(due);
  EXPECT_TRUE(has_code(due.error(), errc::corrupt_data));
  // An index row too short to hold its due time.
  this->env_.plant(cf::timer_index, timer_index_key("sub_2", "k", t.id.str()),
                   "x");
  auto of = this->st().timers_of("sub_2");
  ASSERT_FALSE(of);
  EXPECT_TRUE(has_code(of.error(), errc::corrupt_data));
  batch b;
  b.cancel_timers("sub_2");
  EXPECT_TRUE(has_code(this->commit(std::move(b)), errc::corrupt_data));
  // An index row with a malformed id.
  this->env_.plant(cf::timer_index, timer_index_key("sub_3", "k", "nope"),
                   timer_index_value(t.due, "o"));
  of = this->st().timers_of("sub_3");
  ASSERT_FALSE(of);
  EXPECT_TRUE(has_code(of.error(), errc::corrupt_data));
}

// -- lifetime -----------------------------------------------------------------

TYPED_TEST(storage_contract, closed_store_refuses_commits_and_reads) {
  ASSERT_TRUE(this->st().is_open());
  this->st().close();
  EXPECT_FALSE(this->st().is_open());
  test::outcomes out;
  batch b;
  b.put(cf::outbox, "ntf_1", "n");
  this->st().commit(std::move(b), out.callback());
  ASSERT_TRUE(out.wait());
  ASSERT_EQ(out.errors().size(), 1u);
  EXPECT_TRUE(has_code(out.errors()[0], errc::unavailable));
  auto rows = this->st().outbox();
  ASSERT_FALSE(rows);
  EXPECT_TRUE(has_code(rows.error(), errc::unavailable));
  this->st().close(); // Idempotent.
}

TYPED_TEST(storage_contract, commit_sync_from_a_callback_does_not_deadlock) {
  test::outcomes out;
  caf::error inner;
  auto cb = out.callback();
  this->st().commit(batch{}, [&](const caf::error& err) {
    batch b;
    b.put(cf::meta, "k", "v");
    inner = this->st().commit_sync(std::move(b));
    cb(err);
  });
  ASSERT_TRUE(out.wait());
  // The memory store runs callbacks outside its lock, so there nesting
  // works; the RocksDB store refuses instead of waiting for itself.
  if (TypeParam::persistent)
    EXPECT_TRUE(has_code(inner, errc::unavailable));
  else
    EXPECT_FALSE(inner) << test::describe(inner);
}

// -- concurrency --------------------------------------------------------------

TYPED_TEST(storage_contract, concurrent_commits_are_all_acknowledged) {
  constexpr int threads = 8;
  constexpr int per_thread = 100;
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < threads; ++w)
    workers.emplace_back([&, w] {
      auto entity = "sub_w" + std::to_string(w);
      for (int i = 1; i <= per_thread; ++i) {
        batch b;
        b.append_event(entity, i, "e");
        b.put_snapshot(entity, i, "s" + std::to_string(i), i - 1);
        b.put(cf::outbox, entity + "-" + std::to_string(i), "n");
        if (auto err = this->st().commit_sync(std::move(b)))
          ++failures;
      }
    });
  for (auto& w : workers)
    w.join();
  EXPECT_EQ(failures.load(), 0);
  for (int w = 0; w < threads; ++w) {
    auto entity = "sub_w" + std::to_string(w);
    auto snap = this->st().get_snapshot(entity);
    ASSERT_TRUE(snap && *snap);
    EXPECT_EQ((*snap)->version, uint64_t{per_thread});
    auto evs = this->st().events(entity);
    ASSERT_TRUE(evs);
    EXPECT_EQ(evs->size(), size_t{per_thread});
  }
  auto rows = this->st().outbox();
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->size(), size_t{threads * per_thread});
  EXPECT_EQ(this->st().metrics().commits, uint64_t{threads * per_thread});
}

} // namespace
} // namespace tenure::storage
