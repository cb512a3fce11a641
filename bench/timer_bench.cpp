// timer_bench: durable timers on one node.
//
//   timer_bench [--pending N] [--due N] [--lateness N] [--dir DIR]
//               [--summary FILE]
//
// Durable timers are rows of the store; a `timer_supervisor` (one per owner)
// reads the due ones in batches and sends `(fire_atom, timer)` to a target
// that commits `delete_timer(t)` (one commit per firing, like an entity
// committing its effect) and answers `true`. On a fresh RocksDB store with
// synced commits (under DIR, default the temp dir; removed at the end):
//
// 1. Memory vs pending timers: RSS with the system and one supervisor
//    ("bench") up and 0 pending timers, then after bulk-inserting N/4, N/2
//    and N timers due in 30 days (10,000 per synced commit), each after ~1 s
//    of polling. Baseline: the RSS with 0 pending. Also the process CPU in
//    those 1 s windows and the supervisor's stats (nothing may fire early).
// 2. Firing N timers due at once (owner "burst", batch 256) into the same
//    store: wall time until the target committed all of them; then
//    `due_timers` must hold none and the target must have seen each id
//    exactly once. Baseline: the same number of timers (owner "direct")
//    deleted straight through the store, one `delete_timer` per async
//    `commit`, 256 in flight, no actors.
// 3. Lateness under the system clock: N timers (owner "late") due evenly over
//    the next 5 s, fired by a supervisor with the default poll; the target
//    records now - due. Baseline: the same schedule as in-memory
//    `delayed_send`s to the same kind of recorder.
//
// Also, to explain the figures: how long a supervisor takes to answer
// `stats` right after its last firing and to stop, and what the two store
// reads of its scan cost (the due range, which steps over deleted timers,
// and the next timer, which steps over other owners' timers).
//
// A program, not a test: it prints a table, and exits non-zero when a check
// fails or a deadline passes.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <caf/after.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include "actors/atoms.hpp"
#include "actors/clock.hpp"
#include "actors/log.hpp"
#include "actors/timer_supervisor.hpp"
#include "bench/summary.hpp"
#include "messages/errc.hpp"
#include "messages/id.hpp"
#include "messages/type_ids.hpp"
#include "storage/store.hpp"

using namespace tenure;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

struct config : caf::actor_system_config {
  config() {
    tenure::add_message_types(*this);
    set("scheduler.max-threads", 2);
    set("scheduler.policy", caf::atom("sharing"));
  }
};

constexpr size_t insert_batch = 10'000;
constexpr size_t direct_inflight = 256;
constexpr auto fire_deadline = std::chrono::minutes(10);
constexpr auto lateness_window = std::chrono::milliseconds(5000);
/// Time between arming the lateness schedule and its first timer.
constexpr auto lateness_lead = std::chrono::milliseconds(100);

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: timer_bench [--pending N] [--due N] [--lateness N] "
               "[--dir DIR] [--summary FILE]\n"
               "  --pending N   timers pending 30 days out, memory measured "
               "at N/4, N/2, N\n"
               "                (default 1000000)\n"
               "  --due N       timers due at once, fired by a supervisor "
               "(default 100000)\n"
               "  --lateness N  timers due evenly over the next 5 s "
               "(default 2000)\n"
               "  --dir DIR     where the store's directory "
               "timer_bench-<pid> is made and\n"
               "                removed (default: the temp dir)\n"
               "  --summary F   append the table's rows to F, tab-separated "
               "(scripts/bench)\n"
               "  --help        this text\n");
}

// -- measurements of the process ----------------------------------------------

/// Resident set size in bytes, from /proc/self/statm.
size_t rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f)
    return 0;
  unsigned long size = 0, resident = 0;
  if (std::fscanf(f, "%lu %lu", &size, &resident) != 2)
    resident = 0;
  std::fclose(f);
  return static_cast<size_t>(resident)
         * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

/// User plus system CPU time of the process, in seconds.
double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec)
           + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

/// Sleeps `d` and returns the process CPU used meanwhile, in % of one core.
double idle_cpu_percent(std::chrono::milliseconds d) {
  auto c0 = cpu_seconds();
  auto t0 = steady::now();
  std::this_thread::sleep_for(d);
  auto secs = std::chrono::duration<double>(steady::now() - t0).count();
  return 100.0 * (cpu_seconds() - c0) / secs;
}

double mib(size_t bytes) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

// -- the target ---------------------------------------------------------------

/// What a target saw; shared with the main thread.
struct record {
  std::mutex mtx;
  std::condition_variable cv;
  /// Firings per timer id.
  std::unordered_map<std::string, uint32_t> seen;
  /// `clock.now() - due` at receipt, in ms.
  std::vector<int64_t> lateness_ms;
  /// Firings whose effect was committed and answered.
  size_t done = 0;
  /// Firings whose commit failed (answered with the error).
  size_t failed = 0;

  /// Waits until `n` firings are done; false when `deadline` passed first.
  bool wait_done(size_t n, steady::time_point deadline) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_until(guard, deadline, [&] { return done >= n; });
  }
};

/// Records each firing; with a store, commits `delete_timer(t)` (async, so
/// firings of one batch share fsyncs like separate entities do) and answers
/// `true` after the commit, or its error. Without a store it answers at once
/// (the in-memory baseline).
caf::behavior target_actor(caf::event_based_actor* self,
                           std::shared_ptr<record> rec, storage::store* st,
                           const tenure::clock* clk) {
  struct pending_state {
    uint64_t next = 0;
    std::unordered_map<uint64_t, caf::response_promise> promises;
  };
  auto ps = std::make_shared<pending_state>();
  auto finish = [rec](bool ok) {
    std::lock_guard<std::mutex> guard{rec->mtx};
    ++rec->done;
    if (!ok)
      ++rec->failed;
    rec->cv.notify_all();
  };
  return {
    [=](fire_atom, const timer& t) -> caf::result<bool> {
      auto late = std::chrono::duration_cast<std::chrono::milliseconds>(
                    clk->now() - t.due)
                    .count();
      {
        std::lock_guard<std::mutex> guard{rec->mtx};
        ++rec->seen[t.id.str()];
        rec->lateness_ms.push_back(late);
      }
      if (st == nullptr) {
        finish(true);
        return true;
      }
      auto rp = self->make_response_promise();
      auto key = ps->next++;
      ps->promises.emplace(key, rp);
      storage::batch b;
      b.delete_timer(t);
      auto hdl = caf::actor_cast<caf::actor>(self);
      st->commit(std::move(b), [hdl, key](const caf::error& err) {
        // Runs on the store's thread: only send.
        caf::anon_send(hdl, committed_atom::value, key, err);
      });
      return rp;
    },
    [=](committed_atom, uint64_t key, const caf::error& err) {
      auto i = ps->promises.find(key);
      if (i == ps->promises.end())
        return;
      auto rp = std::move(i->second);
      ps->promises.erase(i);
      finish(!err);
      if (err)
        rp.deliver(err);
      else
        rp.deliver(true);
    },
  };
}

// -- helpers ------------------------------------------------------------------

struct sup_stats {
  bool ok = false;
  uint64_t fired = 0;
  uint64_t failed = 0;
  uint64_t in_flight = 0;
  uint64_t backing_off = 0;
  int64_t max_lateness_ms = 0;
  /// Seconds until the answer (or the timeout).
  double answer_secs = 0;

  std::string str() const {
    if (!ok)
      return "no answer";
    return "fired " + std::to_string(fired) + ", failed "
           + std::to_string(failed) + ", in flight " + std::to_string(in_flight)
           + ", backing off " + std::to_string(backing_off) + ", max lateness "
           + std::to_string(max_lateness_ms) + " ms";
  }
};

sup_stats stats_of(caf::scoped_actor& self, const caf::actor& sup,
                   std::chrono::seconds timeout = 30s) {
  sup_stats s;
  auto t0 = steady::now();
  self->request(sup, timeout, stats_atom::value)
    .receive(
      [&](uint64_t fired, uint64_t failed, uint64_t in_flight,
          uint64_t backing_off, int64_t max_late) {
        s.ok = true;
        s.fired = fired;
        s.failed = failed;
        s.in_flight = in_flight;
        s.backing_off = backing_off;
        s.max_lateness_ms = max_late;
      },
      [&](caf::error& err) {
        std::fprintf(stderr, "stats failed: %s\n", error_message(err).c_str());
      });
  s.answer_secs = std::chrono::duration<double>(steady::now() - t0).count();
  return s;
}

/// Ends `x` and waits (at most `timeout`) until it is gone, so what it was
/// still doing does not run into the next measurement. Returns the seconds
/// waited, or -1 on timeout.
double stop_and_wait(caf::scoped_actor& self, const caf::actor& x,
                     std::chrono::seconds timeout) {
  auto t0 = steady::now();
  self->monitor(x);
  self->send_exit(x, caf::exit_reason::user_shutdown);
  bool down = false;
  self->receive([&](const caf::down_msg&) { down = true; },
                caf::after(timeout) >> [] {});
  if (!down)
    return -1;
  return std::chrono::duration<double>(steady::now() - t0).count();
}

/// Median wall time of three calls of `f`, in ms.
double median_ms(const std::function<void()>& f) {
  std::vector<double> xs;
  for (int i = 0; i < 3; ++i) {
    auto t0 = steady::now();
    f();
    xs.push_back(
      std::chrono::duration<double, std::milli>(steady::now() - t0).count());
  }
  std::sort(xs.begin(), xs.end());
  return xs[1];
}

/// Timers [from, to) of `owner` for entities `<prefix><n>`, kind `expiry`,
/// due at `due(n)`, written 10,000 per synced commit. Appends them to `out`
/// when given.
caf::error insert_timers(storage::store& st, id_generator& ids,
                         const tenure::clock& clk, const std::string& owner,
                         const std::string& prefix, size_t from, size_t to,
                         const std::function<time_point(size_t)>& due,
                         std::vector<timer>* out) {
  for (size_t n = from; n < to;) {
    storage::batch b;
    auto now = clk.now();
    for (size_t k = 0; k < insert_batch && n < to; ++k, ++n) {
      timer t;
      t.id = ids.next<tmr_id>(now);
      t.due = due(n);
      t.owner = owner;
      t.entity = prefix + std::to_string(n);
      t.kind = "expiry";
      b.put_timer(t);
      if (out)
        out->push_back(std::move(t));
    }
    if (auto err = st.commit_sync(std::move(b)))
      return err;
  }
  return {};
}

/// Deletes `ts` straight through the store: one `delete_timer` per async
/// commit, `direct_inflight` outstanding. Returns seconds, or -1 on a
/// failed commit or a passed deadline.
double delete_direct(storage::store& st, const std::vector<timer>& ts) {
  std::mutex mtx;
  std::condition_variable cv;
  size_t outstanding = 0, done = 0, failed = 0;
  auto deadline = steady::now() + fire_deadline;
  auto t0 = steady::now();
  for (auto& t : ts) {
    {
      std::unique_lock<std::mutex> guard{mtx};
      if (!cv.wait_until(guard, deadline,
                         [&] { return outstanding < direct_inflight; }))
        break;
      ++outstanding;
    }
    storage::batch b;
    b.delete_timer(t);
    st.commit(std::move(b), [&](const caf::error& err) {
      std::lock_guard<std::mutex> guard{mtx};
      --outstanding;
      ++done;
      if (err)
        ++failed;
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> guard{mtx};
  // Wait for every commit queued, even past the deadline: the callbacks
  // refer to this frame. The store answers each one (closed: at once).
  cv.wait(guard, [&] { return outstanding == 0; });
  auto secs = std::chrono::duration<double>(steady::now() - t0).count();
  if (failed > 0 || done != ts.size())
    return -1;
  return secs;
}

struct percentiles {
  int64_t p50 = 0;
  int64_t p99 = 0;
  int64_t max = 0;
};

percentiles percentiles_of(std::vector<int64_t> xs) {
  percentiles p;
  if (xs.empty())
    return p;
  std::sort(xs.begin(), xs.end());
  p.p50 = xs[xs.size() / 2];
  p.p99 = xs[std::min(xs.size() - 1, xs.size() * 99 / 100)];
  p.max = xs.back();
  return p;
}

// -- the table ----------------------------------------------------------------

struct row {
  std::string metric;
  std::string figure;
  std::string baseline;
  std::string ratio;
};

std::string fmt_double(const char* format, double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, x);
  return buf;
}

std::string ratio_of(double x, double base) {
  if (base <= 0)
    return "-";
  return fmt_double("%.2f", x / base);
}

/// Ratio of two latencies in ms; the absolute difference when the baseline
/// is 0.
std::string lateness_ratio(int64_t x, int64_t base) {
  if (base == 0)
    return (x >= 0 ? "+" : "") + std::to_string(x) + " ms (baseline 0)";
  return fmt_double("%.2f", static_cast<double>(x) / static_cast<double>(base));
}

std::string ms(int64_t x) {
  return std::to_string(x) + " ms";
}

/// Ends the actors it holds when it goes out of scope (also on an early
/// return), so the actor system's destructor does not wait forever.
struct stopper {
  caf::scoped_actor& self;
  std::vector<caf::actor> actors;

  const caf::actor& add(caf::actor x) {
    actors.push_back(std::move(x));
    return actors.back();
  }

  ~stopper() {
    for (auto& x : actors)
      self->send_exit(x, caf::exit_reason::user_shutdown);
  }
};

struct cleanup {
  std::string dir;
  ~cleanup() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

void progress(const char* what) {
  std::fprintf(stderr, "timer_bench: %s\n", what);
}

/// Runs the three measurements; returns the exit code.
int run(const std::string& dir, size_t pending, size_t due_count,
        size_t late_count, std::vector<row>& rows) {
  storage::store_options opts;
  opts.path = dir + "/store";
  auto opened = storage::rocksdb_store::open(opts);
  if (!opened) {
    std::fprintf(stderr, "cannot open store: %s\n",
                 error_message(opened.error()).c_str());
    return 1;
  }
  auto& st = **opened;
  system_clock clk;
  id_generator ids;
  int rc = 0;
  {
    config cfg;
    caf::actor_system sys{cfg};
    caf::scoped_actor self{sys};
    stopper stop{self, {}};

    // -- 1. memory vs pending timers ------------------------------------------
    auto bench_rec = std::make_shared<record>();
    auto bench_target = stop.add(sys.spawn(target_actor, bench_rec, &st, &clk));
    timer_supervisor_deps bd;
    bd.store = &st;
    bd.clock = &clk;
    bd.owner = "bench";
    bd.target = bench_target;
    auto bench_sup = stop.add(sys.spawn(timer_supervisor, bd));
    auto cpu0 = idle_cpu_percent(1000ms);
    auto rss0 = rss_bytes();
    rows.push_back({"RSS, system + supervisor up, 0 pending timers",
                    fmt_double("%.1f MiB", mib(rss0)),
                    fmt_double("%.1f MiB", mib(rss0)), "1.00"});
    std::vector<size_t> steps;
    for (auto s : {pending / 4, pending / 2, pending})
      if (s > 0 && (steps.empty() || steps.back() != s))
        steps.push_back(s);
    auto far = clk.now() + std::chrono::hours(24 * 30);
    size_t inserted = 0;
    double insert_secs = 0;
    double cpu_last = cpu0;
    for (auto step : steps) {
      auto t0 = steady::now();
      if (auto err = insert_timers(
            st, ids, clk, "bench", "sub_", inserted, step,
            [&](size_t n) { return far + duration{n % 60'000}; }, nullptr)) {
        std::fprintf(stderr, "insert failed: %s\n", error_message(err).c_str());
        return 1;
      }
      insert_secs += std::chrono::duration<double>(steady::now() - t0).count();
      inserted = step;
      cpu_last = idle_cpu_percent(1000ms); // let the supervisor poll
      auto rss = rss_bytes();
      rows.push_back(
        {"RSS, " + std::to_string(step) + " pending timers",
         fmt_double("%.1f MiB", mib(rss)), fmt_double("%.1f MiB", mib(rss0)),
         ratio_of(static_cast<double>(rss), static_cast<double>(rss0))});
      std::fprintf(stderr, "timer_bench: %zu pending, RSS %.1f MiB\n", step,
                   mib(rss));
    }
    rows.push_back(
      {"bulk insert of pending timers (10k per synced commit)",
       fmt_double("%.0f timers/s",
                  insert_secs > 0 ? static_cast<double>(inserted) / insert_secs
                                  : 0.0),
       "-", "-"});
    rows.push_back(
      {"process CPU over 1 s idle, " + std::to_string(inserted) + " pending",
       fmt_double("%.1f %%", cpu_last), fmt_double("%.1f %% (0 pending)", cpu0),
       "-"});
    auto s1 = stats_of(self, bench_sup);
    rows.push_back(
      {"supervisor \"bench\" stats, all due in 30 days", s1.str(),
       "nothing fired",
       s1.ok && s1.fired == 0 && s1.failed == 0 && s1.in_flight == 0 ? "ok"
                                                                     : "FAIL"});
    if (!s1.ok || s1.fired != 0 || s1.failed != 0)
      rc = 1;
    // The two reads of a supervisor's scan, as the store answers them now:
    // the due range (nothing due, nothing deleted yet) and the next timer.
    auto due_read = [&](const char* owner, size_t limit) {
      return median_ms(
        [&] { (void)st.due_timers(clk.now() + duration{1}, limit, owner); });
    };
    auto next_read = [&](const char* owner) {
      return median_ms(
        [&] { (void)st.due_timers(time_point::max(), 1, owner); });
    };
    auto due_read0 = due_read("bench", 256);
    auto next_read0 = next_read("bench");

    // -- 2. firing N timers due at once ---------------------------------------
    progress("inserting the due timers");
    std::vector<timer> burst;
    burst.reserve(due_count);
    auto past = clk.now() - std::chrono::seconds(1);
    if (auto err = insert_timers(
          st, ids, clk, "burst", "due_", 0, due_count,
          [&](size_t) { return past; }, &burst)) {
      std::fprintf(stderr, "insert failed: %s\n", error_message(err).c_str());
      return 1;
    }
    progress("firing them");
    auto burst_rec = std::make_shared<record>();
    auto burst_target = stop.add(sys.spawn(target_actor, burst_rec, &st, &clk));
    timer_supervisor_deps bu;
    bu.store = &st;
    bu.clock = &clk;
    bu.owner = "burst";
    bu.target = burst_target;
    bu.batch = 256;
    auto t0 = steady::now();
    auto burst_sup = stop.add(sys.spawn(timer_supervisor, bu));
    bool all_fired = burst_rec->wait_done(due_count, t0 + fire_deadline);
    auto fire_secs = std::chrono::duration<double>(steady::now() - t0).count();
    if (!all_fired) {
      std::lock_guard<std::mutex> guard{burst_rec->mtx};
      std::fprintf(
        stderr, "FAIL: only %zu of %zu timers fired within %lld s\n",
        burst_rec->done, due_count,
        static_cast<long long>(
          std::chrono::duration_cast<std::chrono::seconds>(fire_deadline)
            .count()));
      rc = 1;
    }
    // The answers still in transit reach the supervisor before its stats
    // are read: a flush answers once nothing due is left in flight.
    self->request(burst_sup, 600s, flush_atom::value)
      .receive([](uint64_t) {},
               [](caf::error& err) {
                 std::fprintf(stderr, "flush failed: %s\n",
                              error_message(err).c_str());
               });
    auto s2 = stats_of(self, burst_sup, 600s);
    auto left = st.due_timers(clk.now() + duration{1}, storage::store::no_limit,
                              "burst");
    size_t left_n = left ? left->size() : due_count;
    size_t once = 0, twice = 0, missing = 0, foreign = 0;
    {
      std::lock_guard<std::mutex> guard{burst_rec->mtx};
      for (auto& t : burst) {
        auto i = burst_rec->seen.find(t.id.str());
        if (i == burst_rec->seen.end())
          ++missing;
        else if (i->second == 1)
          ++once;
        else
          ++twice;
      }
      foreign = burst_rec->seen.size() - (once + twice);
    }
    // A supervisor whose own timers are all fired: what its polls cost.
    auto cpu_idle_burst = idle_cpu_percent(1000ms);
    auto burst_stop_secs = stop_and_wait(self, burst_sup, 600s);
    self->send_exit(burst_target, caf::exit_reason::user_shutdown);
    if (burst_stop_secs < 0) {
      std::fprintf(stderr, "FAIL: \"burst\" supervisor did not stop\n");
      rc = 1;
    }

    progress("direct deletes (baseline)");
    std::vector<timer> direct;
    direct.reserve(due_count);
    past = clk.now() - std::chrono::seconds(1);
    if (auto err = insert_timers(
          st, ids, clk, "direct", "due_", 0, due_count,
          [&](size_t) { return past; }, &direct)) {
      std::fprintf(stderr, "insert failed: %s\n", error_message(err).c_str());
      return 1;
    }
    auto direct_secs = delete_direct(st, direct);
    auto direct_left = st.due_timers(clk.now() + duration{1},
                                     storage::store::no_limit, "direct");
    if (direct_secs < 0 || !direct_left || !direct_left->empty()) {
      std::fprintf(stderr, "FAIL: direct deletes\n");
      rc = 1;
    }
    auto n_due = static_cast<double>(due_count);
    rows.push_back(
      {"fire " + std::to_string(due_count)
         + " due timers (supervisor, batch 256, 1 commit each)",
       fmt_double("%.2f s", fire_secs),
       fmt_double("%.2f s (direct deletes, 256 in flight)", direct_secs),
       ratio_of(fire_secs, direct_secs)});
    rows.push_back({"  the same as timers per second",
                    fmt_double("%.0f /s", n_due / fire_secs),
                    fmt_double("%.0f /s", n_due / direct_secs),
                    ratio_of(n_due / fire_secs, n_due / direct_secs)});
    rows.push_back({"  left due after firing (due_timers)",
                    std::to_string(left_n),
                    std::to_string(direct_left ? direct_left->size() : 0),
                    left_n == 0 ? "ok" : "FAIL"});
    rows.push_back(
      {"  ids seen exactly once / more than once / never / "
       "unknown",
       std::to_string(once) + " / " + std::to_string(twice) + " / "
         + std::to_string(missing) + " / " + std::to_string(foreign),
       std::to_string(due_count) + " / 0 / 0 / 0",
       once == due_count && twice + missing + foreign == 0 ? "ok" : "FAIL"});
    rows.push_back({"  supervisor \"burst\" stats", s2.str(), "-", "-"});
    rows.push_back(
      {"  stats answered after the last firing in",
       fmt_double(s2.ok ? "%.2f s" : "> %.0f s (no answer)", s2.answer_secs),
       fmt_double("%.3f s (\"bench\", idle)", s1.answer_secs),
       ratio_of(s2.answer_secs, s1.answer_secs)});
    rows.push_back({"  \"burst\" supervisor gone after its exit in",
                    burst_stop_secs < 0 ? std::string{"> 600 s"}
                                        : fmt_double("%.2f s", burst_stop_secs),
                    "-", "-"});
    rows.push_back({"process CPU over 1 s idle, \"burst\" supervisor with "
                    "none left",
                    fmt_double("%.1f %%", cpu_idle_burst),
                    fmt_double("%.1f %% (0 pending)", cpu0), "-"});
    if (left_n != 0 || once != due_count || twice + missing + foreign != 0)
      rc = 1;
    auto due_read1 = due_read("bench", 256);
    auto next_read1 = next_read("burst");
    rows.push_back({"store read of a scan's due range, \"bench\", after "
                    "the deletes",
                    fmt_double("%.3f ms", due_read1),
                    fmt_double("%.3f ms (before)", due_read0),
                    ratio_of(due_read1, due_read0)});
    rows.push_back({"store read of a scan's next timer, \"burst\" (none "
                    "left, steps over others')",
                    fmt_double("%.3f ms", next_read1),
                    fmt_double("%.3f ms (\"bench\")", next_read0),
                    ratio_of(next_read1, next_read0)});

    // -- 3. lateness under the system clock -----------------------------------
    progress("lateness of durable timers");
    auto offset = [&](size_t n) {
      return lateness_lead
             + duration{static_cast<int64_t>(
               static_cast<double>(lateness_window.count())
               * static_cast<double>(n) / static_cast<double>(late_count))};
    };
    auto late_rec = std::make_shared<record>();
    auto late_target = stop.add(sys.spawn(target_actor, late_rec, &st, &clk));
    auto base = clk.now();
    if (auto err = insert_timers(
          st, ids, clk, "late", "late_", 0, late_count,
          [&](size_t n) { return base + offset(n); }, nullptr)) {
      std::fprintf(stderr, "insert failed: %s\n", error_message(err).c_str());
      return 1;
    }
    timer_supervisor_deps ld;
    ld.store = &st;
    ld.clock = &clk;
    ld.owner = "late";
    ld.target = late_target;
    auto late_sup = stop.add(sys.spawn(timer_supervisor, ld));
    auto late_deadline = steady::now() + lateness_window + 60s;
    if (!late_rec->wait_done(late_count, late_deadline)) {
      std::fprintf(stderr, "FAIL: durable lateness timers did not all fire\n");
      rc = 1;
    }
    auto late_stop_secs = stop_and_wait(self, late_sup, 600s);
    self->send_exit(late_target, caf::exit_reason::user_shutdown);
    if (late_stop_secs < 0) {
      std::fprintf(stderr, "FAIL: \"late\" supervisor did not stop\n");
      rc = 1;
    }

    progress("lateness of delayed_send (baseline)");
    auto mem_rec = std::make_shared<record>();
    auto mem_target = stop.add(sys.spawn(target_actor, mem_rec, nullptr, &clk));
    base = clk.now();
    for (size_t n = 0; n < late_count; ++n) {
      timer t;
      t.id = ids.next<tmr_id>(base);
      t.due = base + offset(n);
      t.owner = "late";
      t.entity = "mem_" + std::to_string(n);
      t.kind = "expiry";
      auto wait = std::max(duration{0}, t.due - clk.now());
      caf::delayed_anon_send(mem_target, wait, fire_atom::value, t);
    }
    if (!mem_rec->wait_done(late_count,
                            steady::now() + lateness_window + 60s)) {
      std::fprintf(stderr, "FAIL: delayed_sends did not all arrive\n");
      rc = 1;
    }
    self->send_exit(mem_target, caf::exit_reason::user_shutdown);
    percentiles dur, mem;
    {
      std::lock_guard<std::mutex> g1{late_rec->mtx};
      dur = percentiles_of(late_rec->lateness_ms);
    }
    {
      std::lock_guard<std::mutex> g2{mem_rec->mtx};
      mem = percentiles_of(mem_rec->lateness_ms);
    }
    auto label = "lateness of " + std::to_string(late_count)
                 + " timers over 5 s (supervisor, poll 250 ms) ";
    rows.push_back({label + "p50", ms(dur.p50), ms(mem.p50) + " (delayed_send)",
                    lateness_ratio(dur.p50, mem.p50)});
    rows.push_back({label + "p99", ms(dur.p99), ms(mem.p99) + " (delayed_send)",
                    lateness_ratio(dur.p99, mem.p99)});
    rows.push_back({label + "max", ms(dur.max), ms(mem.max) + " (delayed_send)",
                    lateness_ratio(dur.max, mem.max)});

    rows.push_back({"  \"late\" supervisor gone after its exit in",
                    fmt_double("%.2f s", late_stop_secs), "-", "-"});
    auto s3 = stats_of(self, bench_sup);
    rows.push_back({"supervisor \"bench\" stats at the end", s3.str(),
                    "nothing fired",
                    s3.ok && s3.fired == 0 && s3.failed == 0 ? "ok" : "FAIL"});
    if (!s3.ok || s3.fired != 0 || s3.failed != 0)
      rc = 1;
    self->send_exit(bench_sup, caf::exit_reason::user_shutdown);
    self->send_exit(bench_target, caf::exit_reason::user_shutdown);
  } // the actor system waits for its actors here, before the store closes
  rows.push_back(
    {"RocksDB memory bounds (store options)",
     fmt_double("memtables %.0f MiB", mib(st.options().write_buffer_bytes))
       + fmt_double(" + block cache %.0f MiB",
                    mib(st.options().block_cache_bytes)),
     "-", "-"});
  st.close();
  return rc;
}

} // namespace

int main(int argc, char** argv) {
  size_t pending = 1'000'000;
  size_t due_count = 100'000;
  size_t late_count = 2000;
  std::string base = std::filesystem::temp_directory_path().string();
  tenure::bench::summary sum;
  for (int i = 1; i < argc; ++i) {
    auto arg = argv[i];
    if (std::strcmp(arg, "--help") == 0 || std::strcmp(arg, "-h") == 0) {
      usage(stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      usage(stderr);
      return 2;
    }
    auto value = argv[++i];
    if (std::strcmp(arg, "--pending") == 0)
      pending = std::strtoul(value, nullptr, 10);
    else if (std::strcmp(arg, "--due") == 0)
      due_count = std::strtoul(value, nullptr, 10);
    else if (std::strcmp(arg, "--lateness") == 0)
      late_count = std::strtoul(value, nullptr, 10);
    else if (std::strcmp(arg, "--dir") == 0)
      base = value;
    else if (std::strcmp(arg, "--summary") == 0) {
      if (!sum.open(value))
        return 2;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (due_count == 0 || late_count == 0) {
    std::fprintf(stderr, "--due and --lateness must be positive\n");
    return 2;
  }
  std::string cmdline;
  for (int i = 0; i < argc; ++i)
    cmdline += (i ? " " : "") + std::string{argv[i]};
  std::printf("%s\n\n", cmdline.c_str());
  std::fflush(stdout);
  log::set_level(log::level::warn);
  cleanup guard{base + "/timer_bench-" + std::to_string(::getpid())};
  std::filesystem::create_directories(guard.dir);
  std::vector<row> rows;
  auto rc = run(guard.dir, pending, due_count, late_count, rows);
  std::printf("| metric | figure | baseline | ratio |\n|---|--:|--:|--:|\n");
  for (auto& r : rows) {
    std::printf("| %s | %s | %s | %s |\n", r.metric.c_str(), r.figure.c_str(),
                r.baseline.c_str(), r.ratio.c_str());
    sum.add("timer_bench: " + r.metric.substr(r.metric.find_first_not_of(' ')),
            r.figure, r.baseline, r.ratio);
  }
  std::printf("\nSynced commits throughout. RSS from /proc/self/statm. The "
              "supervisor keeps only in-flight timers in memory; growth of "
              "RSS with pending timers is RocksDB's memtables and block "
              "cache, bounded by the store options above. The \"bench\" "
              "supervisor (all its timers 30 days out) runs during all "
              "three parts; \"burst\" stops before the direct baseline, "
              "\"late\" before the delayed_send baseline.\n\n");
  if (rc != 0)
    std::printf("\nFAILED: see above and stderr.\n");
  return rc;
}
