// outreach_bench: the outreach desk on a RocksDB store with synced commits
// (issue 8): accounts written, a step sent to every account, opens recorded.
//
//   outreach_bench [--accounts N] [--page P] [--opens K] [--dir DIR]
//                  [--summary FILE]
//
// 1. N accounts (2 contacts each: an Admin and an Owner on SaaS) put one
//    at a time through the desk: one commit each.
// 2. A single email to all of them: the step goes out in pages of P
//    accounts, each page one commit with its deliveries, outbox
//    notifications (and their delivery timers) and the cursor; emails/s
//    from the launch until the program is completed.
// 3. K opens of distinct emails, sent at once (the gateway does not wait):
//    each reads the delivery and the counts and commits both.
//
// Baseline for each, in the same run on a fresh store: raw durable commits
// of the same count and a similar size, one at a time (commit_sync), which
// is how the desk commits. A program, not a test.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/atoms.hpp"
#include "actors/clock.hpp"
#include "actors/log.hpp"
#include "actors/outreach_desk.hpp"
#include "actors/timer_supervisor.hpp"
#include "bench/summary.hpp"
#include "messages/errc.hpp"
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
  }
};

double seconds_since(steady::time_point t) {
  return std::chrono::duration<double>(steady::now() - t).count();
}

std::unique_ptr<storage::store> open_store(const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  storage::store_options opts;
  opts.path = dir;
  auto st = storage::rocksdb_store::open(opts);
  if (!st) {
    std::fprintf(stderr, "cannot open %s: %s\n", dir.c_str(),
                 error_message(st.error()).c_str());
    std::exit(1);
  }
  return std::move(*st);
}

/// Raw synced commits/s, one at a time, of `rows` rows of `bytes` each.
double raw_commits_per_second(const std::string& dir, size_t count, size_t rows,
                              size_t bytes) {
  auto st = open_store(dir);
  std::string value(bytes, 'x');
  auto t0 = steady::now();
  for (size_t i = 0; i < count; ++i) {
    storage::batch b;
    for (size_t r = 0; r < rows; ++r)
      b.put(storage::cf::outreach,
            "raw/" + std::to_string(i) + "/" + std::to_string(r), value);
    if (auto err = st->commit_sync(std::move(b))) {
      std::fprintf(stderr, "raw commit: %s\n", error_message(err).c_str());
      std::exit(1);
    }
  }
  auto secs = seconds_since(t0);
  st->close();
  return static_cast<double>(count) / secs;
}

account customer(size_t i) {
  account a;
  a.name = "Customer " + std::to_string(i);
  a.external_ref = "crm-" + std::to_string(i);
  a.segment = segment::scale;
  a.hosting = hosting::saas;
  for (const char* role : {"admin", "owner"}) {
    contact c;
    c.name = std::string{role} + " " + std::to_string(i);
    c.email = std::string{role} + std::to_string(i) + "@c" + std::to_string(i)
              + ".example";
    c.roles = {*parse_enum<contact_role>(role)};
    a.contacts.push_back(c);
  }
  return a;
}

} // namespace

int main(int argc, char** argv) {
  size_t accounts = 2000;
  size_t page = 200;
  size_t opens = 2000;
  std::string base = std::filesystem::temp_directory_path().string();
  tenure::bench::summary sum;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--summary") == 0) {
      if (!sum.open(argv[i + 1]))
        return 2;
    } else if (std::strcmp(argv[i], "--accounts") == 0) {
      accounts = std::strtoul(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--page") == 0) {
      page = std::strtoul(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--opens") == 0) {
      opens = std::strtoul(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--dir") == 0) {
      base = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: outreach_bench [--accounts N] [--page P] "
                           "[--opens K] [--dir DIR] [--summary FILE]\n");
      return 2;
    }
  }
  if (accounts == 0 || page == 0) {
    std::fprintf(stderr, "outreach_bench: --accounts and --page must be > 0\n");
    return 2;
  }
  auto dir = base + "/tenure-outreach-bench-" + std::to_string(::getpid());
  tenure::log::set_level(tenure::log::level::warn);
  double put_rate = 0, send_rate = 0, open_rate = 0;
  size_t sent = 0;
  {
    auto st = open_store(dir + "/desk");
    manual_clock clk{from_unix_ms(1'795'000'000'000)};
    id_generator ids;
    config cfg;
    caf::actor_system sys{cfg};
    outreach_deps d;
    d.store = st.get();
    d.clock = &clk;
    d.ids = &ids;
    d.page = page;
    d.urls = [](const outreach_program&, const ntf_id& n) {
      tracking_urls u;
      u.pixel = "https://t.example/o/" + n.str();
      return u;
    };
    auto desk = sys.spawn<caf::detached>(outreach_desk, d);
    timer_supervisor_deps td;
    td.store = st.get();
    td.clock = &clk;
    td.owner = std::string{outreach_owner};
    td.target = desk;
    td.fire_timeout = std::chrono::minutes(10);
    auto sv = sys.spawn(timer_supervisor, td);
    caf::scoped_actor self{sys};
    auto fail = [](const caf::error& err) {
      std::fprintf(stderr, "outreach_bench: %s\n", error_message(err).c_str());
      std::exit(1);
    };
    // 1. Accounts, one commit each.
    auto t0 = steady::now();
    for (size_t i = 0; i < accounts; ++i)
      self->request(desk, 30s, put_account{customer(i), "bench"})
        .receive([](account&) {}, fail);
    put_rate = static_cast<double>(accounts) / seconds_since(t0);
    // 2. One email to every account.
    outreach_program p;
    p.name = "Bench";
    p.kind = outreach_kind::email;
    p.stage = lifecycle_stage::onboarding;
    p.links = {"https://docs.example/start"};
    outreach_step s;
    s.subject = "Welcome, {{account}}";
    s.body = "Hello {{name}}, start here: {{link_1}}";
    p.steps.push_back(s);
    prg_id id;
    self->request(desk, 30s, create_program{p})
      .receive([&](program_view& v) { id = v.program.id; }, fail);
    t0 = steady::now();
    self->request(desk, 30s, start_program{id, "bench"})
      .receive([](program_view&) {}, fail);
    for (;;) {
      self->request(sv, std::chrono::minutes(10), flush_atom::value)
        .receive([](uint64_t) {}, fail);
      program_view v;
      self->request(desk, 30s, get_atom::value, id)
        .receive([&](program_view& x) { v = std::move(x); }, fail);
      if (v.program.state == outreach_state::completed) {
        sent = v.counts.sent;
        break;
      }
      if (seconds_since(t0) > 600) {
        std::fprintf(stderr, "outreach_bench: the step did not finish\n");
        return 1;
      }
    }
    send_rate = static_cast<double>(sent) / seconds_since(t0);
    // 3. Opens of distinct emails, all sent at once.
    auto rows = st->scan(storage::cf::outreach, "d/", opens);
    if (!rows)
      fail(rows.error());
    std::vector<ntf_id> ds;
    for (auto& r : *rows)
      ds.push_back(*ntf_id::parse(r.key.substr(2)));
    t0 = steady::now();
    for (auto& n : ds)
      self->send(desk, track_delivery{id, n, track_kind::open});
    for (size_t i = 0; i < ds.size(); ++i)
      self->receive([](bool) {}, fail);
    open_rate = static_cast<double>(ds.size()) / seconds_since(t0);
    opens = ds.size();
    self->send_exit(sv, caf::exit_reason::user_shutdown);
    self->send_exit(desk, caf::exit_reason::user_shutdown);
  }
  // Baselines: raw synced commits one at a time of the same shapes: an
  // account (snapshot, event, reference row ~1 KiB); a page of P accounts
  // (2 deliveries, 2 notifications, 2 timers, 2 index rows each, ~3 KiB);
  // an open (delivery and counts, ~400 B).
  auto raw_put = raw_commits_per_second(
    dir + "/raw1", std::min<size_t>(accounts, 2000), 3, 350);
  auto pages = (accounts + page - 1) / page;
  auto raw_page = raw_commits_per_second(
    dir + "/raw2", std::min<size_t>(pages, 50), page * 8, 400);
  auto raw_open = raw_commits_per_second(dir + "/raw3",
                                         std::min<size_t>(opens, 2000), 2, 200);
  std::filesystem::remove_all(dir);
  double raw_send = raw_page * static_cast<double>(page) * 2;
  std::printf("| metric | figure | baseline | ratio |\n|---|--:|--:|--:|\n");
  std::printf("| accounts put, one commit each | %.0f /s | %.0f raw commits/s "
              "(3 rows) | %.2f |\n",
              put_rate, raw_put, put_rate / raw_put);
  std::printf("| emails of one step, %zu accounts in pages of %zu | %.0f /s "
              "(%zu sent) | %.0f raw rows-equivalent/s | %.2f |\n",
              accounts, page, send_rate, sent, raw_send, send_rate / raw_send);
  std::printf("| opens recorded, %zu at once | %.0f /s | %.0f raw commits/s "
              "(2 rows) | %.2f |\n",
              opens, open_rate, raw_open, open_rate / raw_open);
  using tenure::bench::summary;
  sum.add("outreach_bench: accounts put, one commit each",
          summary::num("%.0f /s", put_rate),
          summary::num("%.0f raw synced commits/s", raw_put),
          summary::ratio(put_rate, raw_put));
  sum.add("outreach_bench: emails of one step, " + std::to_string(accounts)
            + " accounts, pages of " + std::to_string(page),
          summary::num("%.0f emails/s", send_rate),
          summary::num("%.0f (raw page commits/s x emails per page)", raw_send),
          summary::ratio(send_rate, raw_send));
  sum.add("outreach_bench: opens recorded, " + std::to_string(opens)
            + " at once",
          summary::num("%.0f /s", open_rate),
          summary::num("%.0f raw synced commits/s", raw_open),
          summary::ratio(open_rate, raw_open));
  return 0;
}
