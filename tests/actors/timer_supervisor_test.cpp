// Durable timers: fired at their due time and not before, after a restart,
// at least once, cancelled and rescheduled by entity and kind.

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/timer_supervisor.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"
#include "storage/memory_store.hpp"
#include "tests/support/process.hpp"

using namespace tenure;
using namespace std::chrono_literals;

namespace {

const time_point t0 = from_unix_ms(1'795'000'000'000);

struct config : caf::actor_system_config {
  config() {
    tenure::add_message_types(*this);
    set("scheduler.max-threads", 2);
  }
};

/// What the target saw: timer ids in the order they were fired.
struct journal {
  std::mutex mtx;
  std::vector<std::string> fired;
  std::vector<time_point> at;
  /// Fail this many firings before succeeding.
  int fail_next = 0;

  std::vector<std::string> ids() {
    std::lock_guard<std::mutex> guard{mtx};
    return fired;
  }
};

/// A target that records each timer and removes it, as an entity would in
/// the commit of its effect.
caf::behavior recording_target(caf::event_based_actor* self, storage::store* st,
                               const tenure::clock* clk, journal* j) {
  (void)self;
  return {
    [=](fire_atom, const timer& t) -> caf::result<bool> {
      {
        std::lock_guard<std::mutex> guard{j->mtx};
        if (j->fail_next > 0) {
          --j->fail_next;
          return make_error(errc::unavailable, "told to fail");
        }
        j->fired.push_back(t.id.str());
        j->at.push_back(clk->now());
      }
      storage::batch b;
      b.delete_timer(t);
      if (auto err = st->commit_sync(std::move(b)))
        return err;
      return true;
    },
  };
}

timer make_timer(id_generator& ids, time_point due, std::string entity,
                 std::string kind = "expiry") {
  timer t;
  t.id = ids.next<tmr_id>(due);
  t.due = due;
  t.owner = "renewal";
  t.entity = std::move(entity);
  t.kind = std::move(kind);
  return t;
}

struct fixture {
  explicit fixture(storage::store& st, time_point start = t0)
    : st(st)
    , clk(start)
    , sys(cfg)
    , self(sys) {
  }

  ~fixture() {
    stop();
  }

  void start(std::chrono::milliseconds backoff = 500ms) {
    target = sys.spawn(recording_target, &st, &clk, &j);
    timer_supervisor_deps d;
    d.store = &st;
    d.clock = &clk;
    d.owner = "renewal";
    d.target = target;
    d.backoff = backoff;
    d.max_backoff = backoff * 4;
    supervisor = sys.spawn(timer_supervisor, d);
  }

  void stop() {
    if (supervisor)
      self->send_exit(supervisor, caf::exit_reason::user_shutdown);
    if (target)
      self->send_exit(target, caf::exit_reason::user_shutdown);
    supervisor = target = caf::actor{};
  }

  void arm(const timer& t) {
    storage::batch b;
    b.put_timer(t);
    ASSERT_FALSE(st.commit_sync(std::move(b)));
  }

  /// Fires what is due now; returns the number fired so far.
  uint64_t flush() {
    uint64_t fired = 0;
    self->request(supervisor, 10s, flush_atom::value)
      .receive([&](uint64_t n) { fired = n; },
               [&](caf::error& err) { ADD_FAILURE() << error_message(err); });
    return fired;
  }

  size_t stored() {
    auto all = st.due_timers(time_point::max());
    return all ? all->size() : 0;
  }

  storage::store& st;
  manual_clock clk;
  id_generator ids{7};
  journal j;
  config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  caf::actor target;
  caf::actor supervisor;
};

} // namespace

TEST(timer_supervisor, fires_at_its_due_time_and_not_a_second_before) {
  storage::memory_store st;
  fixture f{st};
  auto t = make_timer(f.ids, t0 + days{30}, "sub_a");
  f.arm(t);
  f.start();
  EXPECT_EQ(f.flush(), 0u);
  ASSERT_FALSE(f.clk.set(t.due - 1s));
  EXPECT_EQ(f.flush(), 0u);
  EXPECT_TRUE(f.j.ids().empty());
  ASSERT_FALSE(f.clk.set(t.due));
  EXPECT_EQ(f.flush(), 1u);
  ASSERT_EQ(f.j.ids(), std::vector<std::string>{t.id.str()});
  EXPECT_EQ(f.j.at.at(0), t.due);
  EXPECT_EQ(f.stored(), 0u);
  ASSERT_TRUE(f.clk.advance(days{400}));
  EXPECT_EQ(f.flush(), 1u) << "fired once only";
}

TEST(timer_supervisor, the_manual_clock_wakes_it_without_a_flush) {
  storage::memory_store st;
  fixture f{st};
  auto t = make_timer(f.ids, t0 + days{1}, "sub_a");
  f.arm(t);
  f.start();
  ASSERT_TRUE(f.clk.advance(days{1}));
  // No flush: the clock's listener wakes the supervisor. Wait (bounded)
  // until the target saw it.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (f.j.ids().empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  EXPECT_EQ(f.j.ids().size(), 1u);
}

TEST(timer_supervisor, overdue_timers_fire_after_a_restart_once_in_due_order) {
  tenure::test::temp_dir dir;
  std::vector<timer> ts;
  {
    storage::store_options opts;
    opts.path = dir.path();
    auto st = storage::rocksdb_store::open(opts);
    ASSERT_TRUE(st);
    id_generator ids{3};
    // Armed out of order; due within the downtime.
    for (int d : {5, 2, 9, 7}) {
      ts.push_back(make_timer(ids, t0 + days{d}, "sub_" + std::to_string(d)));
      storage::batch b;
      b.put_timer(ts.back());
      ASSERT_FALSE((*st)->commit_sync(std::move(b)));
    }
  }
  // The node was down for 10 days.
  storage::store_options opts;
  opts.path = dir.path();
  auto st = storage::rocksdb_store::open(opts);
  ASSERT_TRUE(st);
  fixture f{**st, t0 + days{10}};
  f.start();
  EXPECT_EQ(f.flush(), 4u);
  std::sort(ts.begin(), ts.end(),
            [](const timer& x, const timer& y) { return x.due < y.due; });
  std::vector<std::string> want;
  for (auto& t : ts)
    want.push_back(t.id.str());
  EXPECT_EQ(f.j.ids(), want) << "catch-up runs in due order";
  EXPECT_EQ(f.stored(), 0u);
  // Another restart fires nothing again.
  f.stop();
  f.start();
  EXPECT_EQ(f.flush(), 0u);
  EXPECT_EQ(f.j.ids().size(), 4u);
}

TEST(timer_supervisor,
     a_cancelled_timer_never_fires_and_a_rescheduled_one_moves) {
  storage::memory_store st;
  fixture f{st};
  auto a = make_timer(f.ids, t0 + days{3}, "sub_a", "cure_deadline");
  auto b = make_timer(f.ids, t0 + days{3}, "sub_b", "expiry");
  f.arm(a);
  f.arm(b);
  f.start();
  {
    storage::batch cancel;
    cancel.cancel_timers("sub_a", "cure_deadline");
    ASSERT_FALSE(st.commit_sync(std::move(cancel)));
  }
  auto moved = b;
  moved.due = t0 + days{10};
  f.arm(moved); // same id, entity and kind: a reschedule
  ASSERT_FALSE(f.clk.set(t0 + days{5}));
  EXPECT_EQ(f.flush(), 0u);
  EXPECT_TRUE(f.j.ids().empty());
  ASSERT_FALSE(f.clk.set(t0 + days{10}));
  EXPECT_EQ(f.flush(), 1u);
  EXPECT_EQ(f.j.ids(), std::vector<std::string>{b.id.str()});
  EXPECT_EQ(f.j.at.at(0), t0 + days{10});
}

TEST(timer_supervisor, a_failed_firing_is_retried_until_it_succeeds) {
  storage::memory_store st;
  fixture f{st};
  auto t = make_timer(f.ids, t0, "sub_a");
  f.arm(t);
  f.j.fail_next = 3;
  f.start(1ms);
  // Flush does not wait for timers backing off; wait (bounded) for the
  // retries instead.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (f.j.ids().empty() && std::chrono::steady_clock::now() < deadline)
    f.flush();
  EXPECT_EQ(f.j.ids(), std::vector<std::string>{t.id.str()});
  EXPECT_EQ(f.stored(), 0u);
  uint64_t fired = 0, failed = 0, in_flight = 0, backing = 0;
  int64_t late = 0;
  f.self->request(f.supervisor, 10s, stats_atom::value)
    .receive(
      [&](uint64_t a, uint64_t b, uint64_t c, uint64_t d, int64_t e) {
        fired = a;
        failed = b;
        in_flight = c;
        backing = d;
        late = e;
      },
      [](caf::error&) {});
  EXPECT_EQ(fired, 1u);
  EXPECT_EQ(failed, 3u);
  EXPECT_EQ(in_flight, 0u);
  (void)backing;
  (void)late;
}

TEST(timer_supervisor, many_due_timers_fire_in_batches) {
  storage::memory_store st;
  fixture f{st};
  for (int i = 0; i < 2000; ++i)
    f.arm(make_timer(f.ids, t0 + std::chrono::seconds(i),
                     "sub_" + std::to_string(i)));
  f.start();
  ASSERT_FALSE(f.clk.set(t0 + days{1}));
  EXPECT_EQ(f.flush(), 2000u);
  EXPECT_EQ(f.stored(), 0u);
  auto ids = f.j.ids();
  std::set<std::string> distinct(ids.begin(), ids.end());
  EXPECT_EQ(distinct.size(), 2000u) << "none fired twice";
}
