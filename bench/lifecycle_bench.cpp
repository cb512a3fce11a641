// lifecycle_bench: full application lifecycles per second on one node.
//
//   lifecycle_bench [--count N] [--inflight K] [--dir DIR] [--stored M]
//                   [--import C] [--summary FILE]
//
// One lifecycle is stage 0-3 of seed 001 through the real actors on a
// RocksDB store with synced (durable) commits: submit -> verified -> booked
// (a code from the pool) -> redeemed (a subscription provisioned). It costs
// 5 commits: submit, verify, the pool's reservation, the code assignment,
// and the redemption (application + subscription + coupon in one batch).
//
// Next to it, in the same run and on a fresh store: the raw durable commit
// rate of the same number of commits of similar size, K in flight without
// blocking (like store_bench's async cell). The ratio says what the actors,
// decoding and domain rules cost on top of the store.
//
// With --stored M (e.g. 1000000): M submitted applications are written to a
// fresh store (bulk, through the same domain rules and entity_io), a node's
// actors start on it, and 1% of them are read one at a time: the resident
// memory before and after, and p50/p99 of a command to a cold entity
// (activation from its snapshot included).
//
// With --import C (e.g. 100000): the time to import a CSV of C codes into a
// program's pool on a RocksDB store with synced commits, and to import it a
// second time (every code already present). A program, not a test.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/atoms.hpp"
#include "bench/summary.hpp"
#include "actors/coupon_pool.hpp"
#include "actors/entity_io.hpp"
#include "actors/log.hpp"
#include "actors/registry.hpp"
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

application draft(size_t i) {
  application a;
  a.program = program::edu;
  a.applicant = {"Applicant", "a" + std::to_string(i) + "@uni.example.edu",
                 "Lecturer", "GB"};
  a.organisation
    = {"uni" + std::to_string(i) + ".example.edu", "University", "GB", ""};
  a.edu.institution = "University";
  a.seats = 10;
  return a;
}

sku edu_sku() {
  sku s;
  s.id = "edu-saas-ultimate-support-1y";
  s.name = "[EDU Program] SaaS - Ultimate (formerly Gold) w/ Support - 1 Year";
  s.program = program::edu;
  s.support = support::with;
  s.lines
    = {{product::support, term::one_year}, {product::ultimate, term::one_year}};
  return s;
}

/// Drives `total` lifecycles, `inflight` at a time, and reports when done.
caf::behavior driver(caf::event_based_actor* self, caf::actor registry,
                     size_t total, size_t inflight, caf::actor done) {
  struct run_state {
    size_t started = 0;
    size_t finished = 0;
    size_t failed = 0;
  };
  auto st = std::make_shared<run_state>();
  auto start_one = std::make_shared<std::function<void()>>();
  *start_one = [=] {
    if (st->started == total)
      return;
    auto i = st->started++;
    auto fail = [=](caf::error&) {
      ++st->failed;
      if (++st->finished == total) {
        self->send(done, st->finished, st->failed);
        self->quit();
      } else {
        (*start_one)();
      }
    };
    self->request(registry, 60s, submit_application{draft(i)})
      .then(
        [=](application& a) {
          auto id = a.id;
          self
            ->request(registry, 60s,
                      record_verification{id, verification_outcome::verified,
                                          "", "verifier", ""})
            .then(
              [=](application&) {
                self->request(registry, 60s, book_code{id})
                  .then(
                    [=](application& b) {
                      self
                        ->request(registry, 60s,
                                  redeem_code{b.coupon_code, edu_sku().id, 10})
                        .then(
                          [=](subscription&) {
                            if (++st->finished == total) {
                              self->send(done, st->finished, st->failed);
                              self->quit();
                            } else {
                              (*start_one)();
                            }
                          },
                          fail);
                    },
                    fail);
              },
              fail);
        },
        fail);
  };
  for (size_t i = 0; i < inflight; ++i)
    (*start_one)();
  return {[](caf::unit_t) {}};
}

std::string payload(size_t n, char c) {
  return std::string(n, c);
}

/// Raw durable commits/s: `count` commits, `inflight` outstanding, each a
/// snapshot (~600 B) and one event (~300 B), the size of a lifecycle's
/// average commit.
double raw_commits_per_second(const std::string& dir, size_t count,
                              size_t inflight) {
  storage::store_options opts;
  opts.path = dir;
  auto st = storage::rocksdb_store::open(opts);
  if (!st) {
    std::fprintf(stderr, "cannot open %s\n", dir.c_str());
    std::exit(1);
  }
  std::mutex mtx;
  std::condition_variable cv;
  size_t outstanding = 0, done = 0;
  auto snap = payload(600, 's');
  auto ev = payload(300, 'e');
  auto t0 = steady::now();
  for (size_t i = 0; i < count; ++i) {
    {
      std::unique_lock<std::mutex> guard{mtx};
      cv.wait(guard, [&] { return outstanding < inflight; });
      ++outstanding;
    }
    storage::batch b;
    auto entity = "app_" + std::to_string(i);
    b.put_snapshot(entity, 1, snap, 0);
    b.append_event(entity, 1, ev);
    (*st)->commit(std::move(b), [&](const caf::error&) {
      std::lock_guard<std::mutex> guard{mtx};
      --outstanding;
      ++done;
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> guard{mtx};
  cv.wait(guard, [&] { return done == count; });
  auto secs = std::chrono::duration<double>(steady::now() - t0).count();
  guard.unlock();
  (*st)->close();
  return static_cast<double>(count) / secs;
}

size_t rss_kib() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f)
    return 0;
  char line[256];
  size_t kib = 0;
  while (std::fgets(line, sizeof(line), f))
    if (std::strncmp(line, "VmRSS:", 6) == 0)
      kib = std::strtoul(line + 6, nullptr, 10);
  std::fclose(f);
  return kib;
}

int import_run(const std::string& dir, size_t codes) {
  storage::store_options opts;
  opts.path = dir + "/import";
  auto st = storage::rocksdb_store::open(opts);
  if (!st)
    return 1;
  manual_clock clk{from_unix_ms(1'795'000'000'000)};
  id_generator ids;
  config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  coupon_pool_deps pd;
  pd.store = st->get();
  pd.clock = &clk;
  pd.ids = &ids;
  auto pool = sys.spawn(coupon_pool_actor, program::edu, pd);
  std::string csv;
  for (size_t i = 0; i < codes; ++i)
    csv += "EDU-" + std::to_string(10'000'000 + i) + "\n";
  std::printf("| import of %zu codes (%zu bytes) | seconds | imported | "
              "already present |\n|---|--:|--:|--:|\n",
              codes, csv.size());
  for (const char* round : {"first", "repeated"}) {
    auto t0 = steady::now();
    import_report rep;
    self->request(pool, 300s, import_coupons{program::edu, csv, "bench"})
      .receive([&](import_report& r) { rep = r; },
               [](caf::error& err) {
                 std::fprintf(stderr, "%s\n", error_message(err).c_str());
               });
    auto secs = std::chrono::duration<double>(steady::now() - t0).count();
    std::printf("| %s | %.2f | %llu | %llu |\n", round, secs,
                static_cast<unsigned long long>(rep.imported),
                static_cast<unsigned long long>(rep.already_present));
  }
  self->send_exit(pool, caf::exit_reason::user_shutdown);
  return 0;
}

int cold_run(const std::string& dir, size_t stored) {
  storage::store_options opts;
  opts.path = dir + "/cold";
  opts.sync = false; // bulk load; the measured reads do not write
  auto st = storage::rocksdb_store::open(opts);
  if (!st) {
    std::fprintf(stderr, "cannot open store\n");
    return 1;
  }
  eligibility_rules rules;
  id_generator ids;
  std::vector<app_id> all;
  all.reserve(stored);
  auto t0 = steady::now();
  auto now = from_unix_ms(1'795'000'000'000);
  constexpr size_t per_batch = 1000;
  for (size_t done = 0; done < stored;) {
    storage::batch b;
    for (size_t k = 0; k < per_batch && done < stored; ++k, ++done) {
      auto d = draft(done);
      d.id = ids.next<app_id>(now);
      auto evs = decide(std::nullopt, submit_application{d}, now,
                        application_context{&rules});
      entity_io<application, application_event>::record(b, std::nullopt, *evs,
                                                        now);
      all.push_back(d.id);
    }
    if (auto err = (*st)->commit_sync(std::move(b))) {
      std::fprintf(stderr, "load failed: %s\n", error_message(err).c_str());
      return 1;
    }
  }
  auto load_secs = std::chrono::duration<double>(steady::now() - t0).count();
  std::printf("stored %zu applications in %.1f s\n", stored, load_secs);
  manual_clock clk{now};
  config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  registry_deps rd;
  rd.store = st->get();
  rd.clock = &clk;
  rd.rules = &rules;
  rd.ids = &ids;
  auto registry = sys.spawn(registry_actor, rd);
  // Warm the process (allocator, CAF) with one read, then measure.
  self->request(registry, 60s, get_atom::value, all[0])
    .receive([](application&) {}, [](caf::error&) {});
  auto rss_before = rss_kib();
  size_t touch = std::max<size_t>(1, stored / 100);
  std::vector<double> lat;
  lat.reserve(touch);
  for (size_t i = 0; i < touch; ++i) {
    auto& id = all[(i * 7919 + 1) % stored]; // spread over the key space
    auto s = steady::now();
    self->request(registry, 60s, get_atom::value, id)
      .receive([](application&) {}, [](caf::error&) {});
    lat.push_back(
      std::chrono::duration<double, std::micro>(steady::now() - s).count());
  }
  auto rss_after = rss_kib();
  std::sort(lat.begin(), lat.end());
  std::printf("\n| stored | touched | RSS before | RSS after | per touched "
              "entity | cold command p50 | p99 |\n");
  std::printf("|--:|--:|--:|--:|--:|--:|--:|\n");
  std::printf("| %zu | %zu | %.1f MiB | %.1f MiB | %.2f KiB | %.0f us | "
              "%.0f us |\n",
              stored, touch, rss_before / 1024.0, rss_after / 1024.0,
              static_cast<double>(rss_after - rss_before)
                / static_cast<double>(touch),
              lat[lat.size() / 2], lat[lat.size() * 99 / 100]);
  self->send_exit(registry, caf::exit_reason::user_shutdown);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  size_t count = 5000;
  size_t inflight = 256;
  size_t stored = 0;
  size_t import_codes = 0;
  std::string base = std::filesystem::temp_directory_path().string();
  tenure::bench::summary sum;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--summary") == 0) {
      if (!sum.open(argv[i + 1]))
        return 2;
    } else if (std::strcmp(argv[i], "--count") == 0)
      count = std::strtoul(argv[i + 1], nullptr, 10);
    else if (std::strcmp(argv[i], "--inflight") == 0)
      inflight = std::strtoul(argv[i + 1], nullptr, 10);
    else if (std::strcmp(argv[i], "--dir") == 0)
      base = argv[i + 1];
    else if (std::strcmp(argv[i], "--stored") == 0)
      stored = std::strtoul(argv[i + 1], nullptr, 10);
    else if (std::strcmp(argv[i], "--import") == 0)
      import_codes = std::strtoul(argv[i + 1], nullptr, 10);
  }
  log::set_level(log::level::warn);
  auto dir = base + "/lifecycle_bench-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  if (import_codes > 0) {
    auto rc = import_run(dir, import_codes);
    std::filesystem::remove_all(dir);
    return rc;
  }
  if (stored > 0) {
    auto rc = cold_run(dir, stored);
    std::filesystem::remove_all(dir);
    return rc;
  }
  double lifecycles = 0;
  {
    storage::store_options opts;
    opts.path = dir + "/actors";
    auto st = storage::rocksdb_store::open(opts);
    if (!st) {
      std::fprintf(stderr, "cannot open store\n");
      return 1;
    }
    manual_clock clk{from_unix_ms(1'795'000'000'000)};
    eligibility_rules rules;
    id_generator ids;
    std::vector<sku> skus{edu_sku()};
    config cfg;
    caf::actor_system sys{cfg};
    caf::scoped_actor self{sys};
    coupon_pool_deps pd;
    pd.store = st->get();
    pd.clock = &clk;
    pd.ids = &ids;
    auto pool = sys.spawn(coupon_pool_actor, program::edu, pd);
    registry_deps rd;
    rd.store = st->get();
    rd.clock = &clk;
    rd.rules = &rules;
    rd.ids = &ids;
    rd.pools = {pool, caf::actor{}, caf::actor{}};
    rd.skus = &skus;
    auto registry = sys.spawn(registry_actor, rd);
    self->send(pool, registry);
    std::string csv;
    for (size_t i = 0; i < count; ++i)
      csv += "EDU-" + std::to_string(1'000'000 + i) + "\n";
    self->request(pool, 120s, import_coupons{program::edu, csv, "bench"})
      .receive([](import_report&) {}, [](caf::error&) {});
    auto t0 = steady::now();
    sys.spawn(driver, registry, count, inflight,
              caf::actor_cast<caf::actor>(self));
    size_t finished = 0, failed = 0;
    self->receive([&](size_t f, size_t x) {
      finished = f;
      failed = x;
    });
    auto secs = std::chrono::duration<double>(steady::now() - t0).count();
    lifecycles = static_cast<double>(finished - failed) / secs;
    std::printf("lifecycles: %zu finished, %zu failed, %.2f s\n", finished,
                failed, secs);
    self->send_exit(registry, caf::exit_reason::user_shutdown);
    self->send_exit(pool, caf::exit_reason::user_shutdown);
  }
  auto raw = raw_commits_per_second(dir + "/raw", count * 5, inflight);
  std::filesystem::remove_all(dir);
  std::printf("\n| measure | per second | durable commits/s | ratio |\n");
  std::printf("|---|--:|--:|--:|\n");
  std::printf("| full lifecycles (submit, verify, book, redeem), %zu in "
              "flight | %.0f | %.0f | %.2f |\n",
              inflight, lifecycles, lifecycles * 5, lifecycles * 5 / raw);
  std::printf("| raw store commits of the same count and size, %zu in "
              "flight | - | %.0f | 1.00 |\n",
              inflight, raw);
  using tenure::bench::summary;
  sum.add("lifecycle_bench: full lifecycles/s (submit, verify, book, redeem; "
          "5 commits each), "
            + std::to_string(count) + " with " + std::to_string(inflight)
            + " in flight",
          summary::num("%.0f", lifecycles)
            + summary::num(" (%.0f commits/s)", lifecycles * 5),
          summary::num("%.0f raw store commits/s", raw),
          summary::ratio(lifecycles * 5, raw));
  return 0;
}
