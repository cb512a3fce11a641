// The crash test (issue 7; scripts/crash-test): a real tenured on loopback
// under a bounded client load, killed with SIGKILL at random moments and
// restarted on the same data directory, checked against the client's own
// record of what the node acknowledged.
//
// Load, from `--clients` threads, each retrying every request with the same
// Idempotency-Key until it gets a definitive answer:
// - applications: submit; verification by the external verifier's signed
//   callback (EDU) or the program team's review (OSS self-managed,
//   Startups); the booked code; the redemption;
// - paid subscriptions from billing that end within days, so that their
//   expiry and grace-period timers come due under the accelerated clock;
//   half of them get a compliance case (30-day cure deadline), the lapsed
//   ones an emergency license.
//
// Checks at the end, with the node up and every deadline passed:
// - no acknowledged operation lost: every acknowledged entity loads and is
//   in (or past) the state the acknowledgement reported;
// - one effect per key: one application per submission, one subscription
//   per registration;
// - no coupon code given twice, and the pools' counts match;
// - every timer that came due fired (none overdue) and its effect was
//   applied once (one expiry, one lapse, one termination per subscription);
// - the outbox delivered everything and wrote no notification twice.
//
// Prints `crash-test: K kills, N acknowledged, L lost, D duplicate codes, M
// missed timers` and exits 0 when all of them are 0 (1 otherwise, 2 when
// the set-up failed).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <deque>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/applications.hpp"
#include "tests/support/e2e_tools.hpp"
#include "tests/support/http_reply.hpp"

using nlohmann::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using tenure::test::application_body;
using tenure::test::child_process;
using tenure::test::day_ms;
using tenure::test::iso_ms;
using tenure::test::parse_iso_ms;
using tenure::test::random_hex;

namespace {

struct options {
  int kills = 50;
  int clients = 3;
  /// Domain days per real second.
  double rate = 4.0;
  /// Acknowledged operations between a restart and the next kill, drawn
  /// uniformly: the kill lands wherever the other requests are then.
  int min_acks = 10;
  int max_acks = 250;
  uint64_t seed = 0;
  std::string keep; // keep the data directory here (for a post-mortem)
};

// -- the node -----------------------------------------------------------------

class node {
public:
  node(std::string root, double rate)
    : root_(std::move(root)) {
    namespace fs = std::filesystem;
    data_ = root_ + "/data";
    fs::create_directories(data_);
    // The shipped configuration with an accelerated clock, its data files
    // resolving next to it.
    auto conf_dir = root_ + "/config";
    fs::copy(tenure::test::source_dir() + "/config", conf_dir,
             fs::copy_options::recursive);
    conf_ = conf_dir + "/tenured.conf";
    auto text = tenure::test::read_file(conf_);
    auto replace = [&](const std::string& from, const std::string& to) {
      auto at = text.find(from);
      if (at == std::string::npos)
        throw std::runtime_error("tenured.conf has no '" + from + "'");
      text.replace(at, from.size(), to);
    };
    replace("clock = \"system\"", "clock = \"accelerated\"");
    replace("clock-days-per-second = 1.0",
            "clock-days-per-second = " + std::to_string(rate));
    tenure::test::write_file(conf_, text);
    token_ = random_hex(32);
    json keys{{"keys",
               {{{"name", "crash-admin"},
                 {"token_sha256", tenure::test::sha256_hex(token_)},
                 {"scopes", {"admin"}}}}}};
    tenure::test::write_file(data_ + "/keys.json", keys.dump(2));
    ::chmod((data_ + "/keys.json").c_str(), 0600);
    http_port_ = tenure::test::free_port();
    shell_port_ = tenure::test::free_port();
  }

  /// Starts tenured and waits until it takes traffic; false when it did not.
  bool start() {
    proc_ = std::make_unique<child_process>(std::vector<std::string>{
      tenure::test::tenured_bin(), "--config", conf_, "--data", data_,
      "--http-port", std::to_string(http_port_), "--shell-port",
      std::to_string(shell_port_)});
    ready_at_ = {};
    if (!proc_->wait_for_output("tenured: listening", 60s))
      return false;
    ready_at_ = steady::now();
    ++starts_;
    return true;
  }

  void kill() {
    proc_->signal(SIGKILL);
    proc_->wait(30s);
    log_ += proc_->out() + proc_->err();
  }

  bool stop() {
    proc_->signal(SIGTERM);
    auto rc = proc_->wait(60s);
    log_ += proc_->out() + proc_->err();
    return rc && *rc == 0;
  }

  std::string output() const {
    return log_ + (proc_ ? proc_->out() + proc_->err() : std::string{});
  }

  int port() const {
    return http_port_;
  }
  const std::string& token() const {
    return token_;
  }
  const std::string& data() const {
    return data_;
  }
  /// Written by the node on its first start.
  std::string callback_secret() const {
    return tenure::test::trim(
      tenure::test::read_file(data_ + "/verifier-callback.secret"));
  }

private:
  std::string root_;
  std::string data_;
  std::string conf_;
  std::string token_;
  int http_port_ = 0;
  int shell_port_ = 0;
  int starts_ = 0;
  steady::time_point ready_at_;
  std::unique_ptr<child_process> proc_;
  std::string log_;
};

struct reply : tenure::test::http_reply {
  std::string describe() const {
    return "HTTP " + std::to_string(status) + " "
           + (body.is_null()
                ? text.substr(0, 200)
                : tenure::test::redacted(body).dump().substr(0, 400));
  }
};

class client {
public:
  client(int port, std::string token)
    : cli_("127.0.0.1", port)
    , token_(std::move(token)) {
    cli_.set_connection_timeout(1, 0);
    cli_.set_read_timeout(30, 0);
    cli_.set_write_timeout(5, 0);
    cli_.set_tcp_nodelay(true);
    cli_.set_keep_alive(true);
  }

  reply get(const std::string& target) {
    reply r;
    r.take(cli_.Get(target.c_str(), auth({})));
    return r;
  }

  reply post(const std::string& target, const json& body,
             const std::string& key) {
    httplib::Headers h;
    if (!key.empty())
      h.emplace("Idempotency-Key", key);
    reply r;
    r.take(cli_.Post(target.c_str(), auth(h), body.dump(), "application/json"));
    return r;
  }

  /// An unauthenticated POST with its own headers (the verifier's).
  reply post_raw(const std::string& target, const std::string& body,
                 httplib::Headers h) {
    reply r;
    r.take(cli_.Post(target.c_str(), h, body, "application/json"));
    return r;
  }

  reply post_csv(const std::string& target, const std::string& csv) {
    reply r;
    r.take(cli_.Post(target.c_str(), auth({}), csv, "text/csv"));
    return r;
  }

private:
  httplib::Headers auth(httplib::Headers h) const {
    h.emplace("Authorization", "Bearer " + token_);
    return h;
  }

  httplib::Client cli_;
  std::string token_;
};

/// Whether `r` is no answer at all or a node that is not ready: the
/// outcome is unknown, retry with the same key.
bool retry(const reply& r) {
  return r.status == 0 || r.status == 503 || r.status == 504;
}

// -- the ledger ---------------------------------------------------------------

struct app_work {
  const tenure::test::offering* o = nullptr;
  std::string key, email, org;
  int step = 0; // 0 submit, 1 review, 2 booked, 3 redeem, 4 done
  std::string id;
  bool reviewed = false; // acknowledged
  std::string code;      // secret
  std::string sub;       // acknowledged redemption
  std::string event_id;  // the verifier's event
  size_t deliveries = 0;
  bool failed = false;
};

struct sub_work {
  std::string key, email, org;
  int64_t end_ms = 0;
  bool with_case = false;
  int step = 0; // 0 register, 1 case or wait for lapse, 2 emergency, 3 done
  std::string id;
  std::string case_id; // acknowledged case
  int64_t case_deadline_ms = 0;
  std::string em_id; // acknowledged emergency license
  bool failed = false;
};

struct ledger {
  std::mutex mtx;
  // Each worker appends to its own deques (stable references); read after
  // the workers are joined.
  std::vector<std::deque<app_work>> apps;
  std::vector<std::deque<sub_work>> subs;
  std::string tag;
  /// Applications per program at most: the codes imported.
  size_t max_apps = 0;
  std::atomic<size_t> apps_made{0};
  std::atomic<size_t> acknowledged{0};
  std::atomic<size_t> unknown{0}; // answers that never came
  std::vector<std::string> problems;

  void problem(std::string what) {
    std::lock_guard<std::mutex> guard{mtx};
    if (problems.size() < 100)
      problems.push_back(std::move(what));
  }
};

// EDU and OSS on SaaS are verified by the external verifier (its signed
// callback), OSS self-managed and Startups by the program team's review.
const std::array<const tenure::test::offering*, 3> offerings{
  &tenure::test::edu_saas, &tenure::test::oss_self_managed,
  &tenure::test::startups_saas};

/// Domain time of the node, from GET /v1/node.
std::optional<int64_t> node_now(client& cli) {
  auto r = cli.get("/v1/node");
  if (r.status != 200)
    return std::nullopt;
  auto now = r.body.contains("node") ? r.body["node"].value("now", "")
                                     : r.body.value("now", "");
  return parse_iso_ms(now);
}

// -- one client ---------------------------------------------------------------

class worker {
public:
  worker(node& n, ledger& l, std::atomic<bool>& stop, uint64_t seed)
    : n_(n)
    , l_(l)
    , stop_(stop)
    , rng_(seed)
    , cli_(n.port(), n.token())
    , secret_(n.callback_secret()) {
  }

  /// Starts new work until `stop`, then finishes what it started
  /// (bounded).
  void run(size_t me) {
    auto& apps = l_.apps[me];
    auto& subs = l_.subs[me];
    std::vector<app_work*> active_apps;
    std::vector<sub_work*> active_subs;
    auto finish_by = steady::time_point::max();
    size_t made = 0;
    while (true) {
      if (stop_.load() && finish_by == steady::time_point::max())
        finish_by = steady::now() + 90s;
      if (!stop_.load()) {
        while (active_apps.size() < 4 && l_.apps_made++ < l_.max_apps) {
          auto i = made++;
          auto& a = apps.emplace_back();
          auto name
            = l_.tag + "-" + std::to_string(me) + "-" + std::to_string(i);
          a.o = offerings[i % offerings.size()];
          a.key = "app-" + name;
          a.email = "crash-" + name + "@example.org";
          a.org = "crash-" + name + "-org";
          active_apps.push_back(&a);
        }
        while (active_subs.size() < 2) {
          auto i = made++;
          auto& s = subs.emplace_back();
          auto name
            = l_.tag + "-" + std::to_string(me) + "-" + std::to_string(i);
          s.key = "sub-" + name;
          s.email = "billing-" + name + "@example.com";
          s.org = "crash-" + name + "-corp";
          s.with_case = i % 2 == 0;
          active_subs.push_back(&s);
        }
      }
      if (active_apps.empty() && active_subs.empty())
        return;
      if (steady::now() > finish_by) {
        for (auto* a : active_apps)
          l_.problem("application " + a->key + " stuck at step "
                     + std::to_string(a->step));
        for (auto* s : active_subs)
          l_.problem("subscription " + s->key + " stuck at step "
                     + std::to_string(s->step));
        return;
      }
      bool waiting = true;
      for (auto* a : active_apps)
        waiting = !advance(*a) && waiting;
      for (auto* s : active_subs)
        waiting = !advance(*s) && waiting;
      active_apps.erase(
        std::remove_if(active_apps.begin(), active_apps.end(),
                       [](auto* a) { return a->step == 4 || a->failed; }),
        active_apps.end());
      active_subs.erase(
        std::remove_if(active_subs.begin(), active_subs.end(),
                       [](auto* s) { return s->step == 3 || s->failed; }),
        active_subs.end());
      // Everything waits for the node (down, or its clock): pace the polls.
      if (waiting)
        std::this_thread::sleep_for(20ms);
    }
  }

private:
  void fail(bool& failed, const std::string& what, const reply& r) {
    failed = true;
    l_.problem(what + ": " + r.describe());
  }

  /// One step of `a`; true when it moved.
  bool advance(app_work& a) {
    switch (a.step) {
      case 0: {
        auto r = cli_.post("/v1/applications",
                           application_body(*a.o, a.email, a.org), a.key);
        if (retry(r))
          return count_unknown(r);
        if (r.status != 201)
          return fail(a.failed, "submission " + a.key, r), false;
        a.id = r.body.value("id", "");
        ++l_.acknowledged;
        a.step = 1;
        return true;
      }
      case 1: {
        if (a.o->external)
          return verify_externally(a);
        auto r = cli_.post("/v1/reviews/" + a.id,
                           json{{"decision", "approve"},
                                {"reason", "eligible"},
                                {"reviewer", "program-team"}},
                           "review-" + a.key);
        if (retry(r))
          return count_unknown(r);
        if (r.status == 409 && r.error_code() == "illegal_transition") {
          // Applied before the node died, its answer lost: read it.
          auto g = cli_.get("/v1/applications/" + a.id);
          if (retry(g))
            return false;
          auto st = g.body.value("state", "");
          if (st != "awaiting_code" && st != "booked" && st != "redeemed")
            return fail(a.failed, "review refused " + a.id, g), false;
          a.step = 2;
          return true;
        }
        if (r.status != 200)
          return fail(a.failed, "review " + a.id, r), false;
        a.reviewed = true;
        ++l_.acknowledged;
        a.step = 2;
        return true;
      }
      case 2: {
        auto g = cli_.get("/v1/applications/" + a.id);
        if (retry(g))
          return false;
        if (g.status != 200)
          return fail(a.failed, "read " + a.id, g), false;
        auto st = g.body.value("state", "");
        if (st == "awaiting_code")
          return false;
        if (st != "booked" || !g.body["coupon_code"].is_string())
          return fail(a.failed, "not booked " + a.id, g), false;
        a.code = g.body["coupon_code"].get<std::string>();
        a.step = 3;
        return true;
      }
      case 3: {
        auto r
          = cli_.post("/v1/checkout/redeem",
                      json{{"code", a.code}, {"sku", a.o->sku}, {"seats", 10}},
                      "redeem-" + a.key);
        if (retry(r))
          return count_unknown(r);
        if (r.status == 409 && r.error_code() == "code_already_used") {
          auto g = cli_.get("/v1/applications/" + a.id);
          if (retry(g))
            return false;
          if (g.body.value("state", "") != "redeemed")
            return fail(a.failed, "code used, not by " + a.id, g), false;
          a.step = 4;
          return true;
        }
        if (r.status != 201)
          return fail(a.failed, "redemption " + a.id, r), false;
        a.sub = r.body.value("subscription_id", "");
        ++l_.acknowledged;
        a.step = 4;
        return true;
      }
    }
    return false;
  }

  /// The verifier's signed callback, once the node has asked it.
  bool verify_externally(app_work& a) {
    auto g = cli_.get("/v1/applications/" + a.id);
    if (retry(g))
      return false;
    auto st = g.body.value("state", "");
    if (st == "awaiting_code" || st == "booked" || st == "redeemed") {
      a.step = 2; // an earlier delivery applied, its answer lost
      return true;
    }
    if (st != "verifying")
      return fail(a.failed, "not verifying " + a.id, g), false;
    if (g.body.value("verification_attempts", 0) < 1)
      return false;
    if (a.event_id.empty())
      a.event_id = "evt-" + a.key;
    json body{{"event_id", a.event_id},
              {"application_id", a.id},
              {"result", "verified"}};
    // Signed again for every delivery, as the verifier does; the bytes
    // differ (white space) so that a second delivery within the same second
    // is not a replay of the first's signature.
    auto raw = body.dump() + std::string(a.deliveries++, ' ');
    auto t = std::to_string(static_cast<long long>(std::time(nullptr)));
    auto sig = "t=" + t
               + ",v1=" + tenure::test::hmac_sha256_hex(secret_, t + "." + raw);
    auto r = cli_.post_raw("/v1/verifier/callback", raw,
                           {{"Tenure-Signature", sig}});
    if (retry(r))
      return count_unknown(r);
    if (r.status == 409 && r.error_code() == "illegal_transition")
      return false; // applied before: the next read moves on
    if (r.status != 200 || r.body.value("status", "") != "accepted")
      return fail(a.failed, "callback " + a.id, r), false;
    a.reviewed = true;
    ++l_.acknowledged;
    a.step = 2;
    return true;
  }

  bool advance(sub_work& s) {
    switch (s.step) {
      case 0: {
        auto now = node_now(cli_);
        if (!now)
          return false;
        if (s.end_ms == 0) {
          // Ends within 1-8 days of domain time: expiry, grace and the
          // emergency window all come due during the run.
          std::uniform_int_distribution<int64_t> days{1, 8};
          s.end_ms = *now + days(rng_) * day_ms;
        }
        json body{{"organisation",
                   {{"name", s.org},
                    {"country", "US"},
                    {"website", "https://" + s.org + ".example.com"}}},
                  {"plan", "paid"},
                  {"seats", 20},
                  {"start", iso_ms(s.end_ms - 365 * day_ms)},
                  {"end", iso_ms(s.end_ms)},
                  {"contact_email", s.email},
                  {"sku", "self-managed-ultimate"},
                  {"hosting", "self_managed"}};
        auto r = cli_.post("/v1/subscriptions", body, s.key);
        if (retry(r))
          return count_unknown(r);
        if (r.status != 201)
          return fail(s.failed, "registration " + s.key, r), false;
        s.id = r.body.value("id", "");
        ++l_.acknowledged;
        s.step = 1;
        return true;
      }
      case 1: {
        if (s.with_case) {
          auto r
            = cli_.post("/v1/subscriptions/" + s.id + "/compliance-cases",
                        json{{"reason", "commercial use"}}, "case-" + s.key);
          if (retry(r))
            return count_unknown(r);
          if (r.status == 201) {
            s.case_id = r.body.value("id", "");
            s.case_deadline_ms
              = parse_iso_ms(r.body.value("deadline", "")).value_or(0);
            ++l_.acknowledged;
          } else if (!(r.status == 409
                       && r.error_code() == "illegal_transition")) {
            // 409: expired before the case (or the first attempt applied).
            return fail(s.failed, "case " + s.id, r), false;
          }
          s.step = 3;
          return true;
        }
        auto g = cli_.get("/v1/subscriptions/" + s.id);
        if (retry(g))
          return false;
        auto st = g.body.value("state", "");
        if (st == "active" || st == "expired")
          return false;
        if (st != "lapsed")
          return fail(s.failed, "subscription " + s.id + " " + st, g), false;
        s.step = 2;
        return true;
      }
      case 2: {
        auto r = cli_.post(
          "/v1/emergency-licenses",
          json{{"subscription_id", s.id},
               {"users", 20},
               {"recipient_email", s.email},
               {"ticket_url", "https://support.example.com/t/" + s.key},
               {"requested_by", "support-crash"}},
          "em-" + s.key);
        if (retry(r))
          return count_unknown(r);
        if (r.status == 201) {
          s.em_id = r.body.value("id", "");
          ++l_.acknowledged;
        } else if (!(r.status == 422 && r.error_code() == "refused")) {
          // Refused: the window had closed, or an earlier attempt issued
          // the license (one runs at a time).
          return fail(s.failed, "emergency " + s.id, r), false;
        }
        s.step = 3;
        return true;
      }
    }
    return false;
  }

  bool count_unknown(const reply& r) {
    if (r.status == 0)
      ++l_.unknown;
    return false;
  }

  node& n_;
  ledger& l_;
  std::atomic<bool>& stop_;
  std::mt19937_64 rng_;
  client cli_;
  std::string secret_;
};

// -- the checks ---------------------------------------------------------------

struct verdict {
  size_t lost = 0;
  size_t duplicate_codes = 0;
  size_t missed_timers = 0;
  size_t other = 0;
  std::vector<std::string> why;

  void add(size_t& counter, std::string what) {
    ++counter;
    if (why.size() < 60)
      why.push_back(std::move(what));
  }
};

size_t count_events(const json& entity, const std::string& type) {
  size_t n = 0;
  for (auto& h : entity.value("history", json::array()))
    n += h.value("type", "") == type ? 1 : 0;
  return n;
}

void check(node& n, ledger& l, verdict& v) {
  client cli{n.port(), n.token()};
  auto now = node_now(cli).value_or(0);
  // Applications: one per key, acknowledged steps kept, codes once.
  std::map<std::string, std::string> code_owner;
  std::map<std::string, size_t> redeemed_by_program;
  for (auto& mine : l.apps)
    for (auto& a : mine) {
      if (a.id.empty())
        continue;
      auto listed = cli.get("/v1/applications?email=" + a.email);
      auto items = listed.body.value("items", json::array());
      if (items.size() != 1)
        v.add(v.other, "submission " + a.key + " made "
                         + std::to_string(items.size()) + " applications");
      auto g = cli.get("/v1/applications/" + a.id + "?history=true");
      if (g.status != 200) {
        v.add(v.lost,
              "application " + a.id + " does not load: " + g.describe());
        continue;
      }
      auto st = g.body.value("state", "");
      if (a.reviewed && st != "awaiting_code" && st != "booked"
          && st != "redeemed")
        v.add(v.lost, "application " + a.id + " reviewed, now " + st);
      if (!a.sub.empty()
          && (st != "redeemed" || g.body.value("subscription", "") != a.sub))
        v.add(v.lost,
              "application " + a.id + " redeemed as " + a.sub + ", now " + st);
      if (g.body["coupon_code"].is_string()) {
        auto code = g.body["coupon_code"].get<std::string>();
        auto [it, fresh] = code_owner.emplace(code, a.id);
        if (!fresh)
          v.add(v.duplicate_codes,
                "one code given to " + it->second + " and " + a.id);
      }
      if (st == "redeemed")
        ++redeemed_by_program[a.o->program];
      if (!a.sub.empty()) {
        auto s = cli.get("/v1/subscriptions/" + a.sub);
        if (s.status != 200)
          v.add(v.lost, "subscription " + a.sub + " of " + a.id
                          + " does not load: " + s.describe());
      }
    }
  for (auto* p : {"edu", "oss", "startups"}) {
    auto stock = cli.get(std::string{"/v1/coupons/"} + p + "/stock");
    auto redeemed = stock.body.value("redeemed", -1);
    if (redeemed != static_cast<int>(redeemed_by_program[p]))
      v.add(v.duplicate_codes, std::string{p} + " pool counts "
                                 + std::to_string(redeemed)
                                 + " redeemed codes, the applications "
                                 + std::to_string(redeemed_by_program[p]));
  }
  // Subscriptions: one per key; their timers fired once each.
  const int64_t grace = 14 * day_ms;
  const int64_t slack = 2 * day_ms;
  for (auto& mine : l.subs)
    for (auto& s : mine) {
      if (s.id.empty())
        continue;
      auto listed = cli.get("/v1/subscriptions?email=" + s.email);
      auto items = listed.body.value("items", json::array());
      if (items.size() != 1)
        v.add(v.other, "registration " + s.key + " made "
                         + std::to_string(items.size()) + " subscriptions");
      auto g = cli.get("/v1/subscriptions/" + s.id + "?history=true");
      if (g.status != 200) {
        v.add(v.lost,
              "subscription " + s.id + " does not load: " + g.describe());
        continue;
      }
      auto st = g.body.value("state", "");
      auto expired = count_events(g.body, "sub_expired");
      auto lapsed = count_events(g.body, "sub_lapsed");
      auto terminated = count_events(g.body, "sub_terminated");
      if (expired > 1 || lapsed > 1 || terminated > 1)
        v.add(v.other, "subscription " + s.id + " expired "
                         + std::to_string(expired) + "x, lapsed "
                         + std::to_string(lapsed) + "x, terminated "
                         + std::to_string(terminated) + "x");
      bool cured_or_closed = st == "terminated" || st == "revoked";
      if (!s.case_id.empty()) {
        auto c = cli.get("/v1/compliance-cases/" + s.case_id);
        if (c.status != 200)
          v.add(v.lost,
                "case " + s.case_id + " does not load: " + c.describe());
        if (now > s.case_deadline_ms + slack && st != "terminated"
            && st != "lapsed")
          v.add(v.missed_timers, "case " + s.case_id + " past its deadline, "
                                   + s.id + " still " + st);
      }
      if (!cured_or_closed && !s.with_case) {
        if (now > s.end_ms + grace + slack && (expired != 1 || lapsed != 1))
          v.add(v.missed_timers, "subscription " + s.id
                                   + " past grace: expired "
                                   + std::to_string(expired) + "x, lapsed "
                                   + std::to_string(lapsed) + "x, " + st);
      }
      if (!s.em_id.empty()) {
        auto e = cli.get("/v1/emergency-licenses/" + s.em_id);
        if (e.status != 200)
          v.add(v.lost, "emergency license " + s.em_id
                          + " does not load: " + e.describe());
      }
    }
  // No timer overdue.
  auto timers = cli.get("/v1/timers?within=0d&limit=1000");
  for (auto& t : timers.body.value("items", json::array())) {
    auto due = parse_iso_ms(t.value("due", "")).value_or(now);
    if (due < now - slack)
      v.add(v.missed_timers, "timer " + t.value("id", "") + " ("
                               + t.value("kind", "") + ") due "
                               + t.value("due", "") + " still pending");
  }
  // The outbox: everything delivered, nothing written twice.
  bool drained = tenure::test::eventually(
    [&] {
      auto o = cli.get("/v1/outbox");
      return o.status == 200 && o.body.value("pending", 1) == 0;
    },
    60s);
  if (!drained)
    v.add(v.other, "the outbox still has pending notifications");
  auto outbox = cli.get("/v1/outbox");
  if (outbox.body.value("failed", 0) != 0)
    v.add(v.other, "the outbox gave up on notifications: " + outbox.describe());
  // Every entity loads, not only the acknowledged ones: each listing reads
  // every snapshot of its kind.
  for (auto* listing :
       {"/v1/applications", "/v1/subscriptions", "/v1/compliance-cases"}) {
    std::string cursor;
    for (int page = 0; page < 1000; ++page) {
      auto r = cli.get(std::string{listing} + "?limit=500"
                       + (cursor.empty() ? "" : "&cursor=" + cursor));
      if (r.status != 200) {
        v.add(v.lost, std::string{listing} + " does not load: " + r.describe());
        break;
      }
      if (!r.body.contains("next_cursor") || !r.body["next_cursor"].is_string())
        break;
      cursor = r.body["next_cursor"].get<std::string>();
    }
  }
  std::map<std::string, std::string> seen; // to|template|subject -> file
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(n.data() + "/mail", ec))
    for (auto& f : fs::recursive_directory_iterator(n.data() + "/mail", ec)) {
      if (!f.is_regular_file() || f.path().extension() != ".eml")
        continue;
      std::ifstream in{f.path()};
      std::string line, to, tmpl, subject;
      while (std::getline(in, line) && line != "\r" && !line.empty()) {
        if (line.rfind("To: ", 0) == 0)
          to = line.substr(4);
        else if (line.rfind("X-Tenure-Template: ", 0) == 0)
          tmpl = line.substr(19);
        else if (line.rfind("Subject: ", 0) == 0)
          subject = line.substr(9);
      }
      auto key = to + "|" + tmpl + "|" + subject;
      auto [it, fresh] = seen.emplace(key, f.path().filename().string());
      if (!fresh)
        v.add(v.other, "notification written twice: " + tmpl + " to " + to
                         + " (" + it->second + ", "
                         + f.path().filename().string() + ")");
    }
}

} // namespace

int main(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "crash-test: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    try {
      if (a == "--kills")
        opt.kills = std::stoi(next());
      else if (a == "--clients")
        opt.clients = std::stoi(next());
      else if (a == "--rate")
        opt.rate = std::stod(next());
      else if (a == "--seed")
        opt.seed = std::stoull(next());
      else if (a == "--keep")
        opt.keep = next();
      else {
        std::fprintf(stderr,
                     "usage: crash_driver [--kills N] [--clients N] [--rate "
                     "DAYS_PER_SECOND] [--seed N] [--keep DIR]\n");
        return 2;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "crash-test: %s: not a number\n", a.c_str());
      return 2;
    }
  }
  if (opt.kills < 0 || opt.clients < 1 || opt.clients > 16 || !(opt.rate > 0)) {
    std::fprintf(stderr, "crash-test: bad --kills, --clients or --rate\n");
    return 2;
  }
  if (opt.seed == 0)
    opt.seed = std::random_device{}();
  std::mt19937_64 rng{opt.seed};
  tenure::test::temp_dir dir{"tenure-crash"};
  auto root = opt.keep.empty() ? dir.path() : opt.keep;
  std::unique_ptr<node> n;
  try {
    n = std::make_unique<node>(root, opt.rate);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crash-test: set-up failed: %s\n", e.what());
    return 2;
  }
  if (!n->start()) {
    std::fprintf(stderr, "crash-test: tenured did not start:\n%s\n",
                 n->output().c_str());
    return 2;
  }
  // Codes for every application, imported before the first kill.
  ledger l;
  const size_t codes = 6000;
  l.max_apps = codes; // both programs together use at most `codes`
  l.tag = random_hex(4);
  {
    client cli{n->port(), n->token()};
    for (auto* p : {"edu", "oss", "startups"}) {
      std::string csv;
      for (size_t i = 0; i < codes; ++i)
        csv += std::string{p} + "-CRASH-" + random_hex(8) + "\n";
      auto r = cli.post_csv(std::string{"/v1/coupons/"} + p + "/import", csv);
      if (r.status != 200 && r.status != 201) {
        std::fprintf(stderr, "crash-test: import failed: %s\n",
                     r.describe().c_str());
        return 2;
      }
    }
  }
  l.apps.resize(static_cast<size_t>(opt.clients));
  l.subs.resize(static_cast<size_t>(opt.clients));
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < opt.clients; ++c)
    clients.emplace_back([&, c, seed = rng()] {
      worker w{*n, l, stop, seed};
      w.run(static_cast<size_t>(c));
    });
  // The kills: at random moments of the load (after a random number of
  // acknowledged operations), each followed by a restart.
  std::uniform_int_distribution<int> acks{opt.min_acks, opt.max_acks};
  int kills = 0;
  bool restarted = true;
  for (; kills < opt.kills; ++kills) {
    auto target = l.acknowledged.load() + static_cast<size_t>(acks(rng));
    if (!tenure::test::eventually(
          [&] { return l.acknowledged.load() >= target; }, 60s))
      l.problem("no progress for 60 s after restart " + std::to_string(kills));
    n->kill();
    if (!n->start()) {
      restarted = false;
      break;
    }
  }
  stop = true;
  for (auto& t : clients)
    t.join();
  verdict v;
  if (!restarted) {
    v.add(v.other,
          "tenured did not come back after kill " + std::to_string(kills + 1));
  } else {
    // Let every deadline of the acknowledged work pass: the latest is a
    // cure deadline 30 days after a case, or an emergency window after a
    // grace period; then a restart, so timers overdue at start fire too.
    client cli{n->port(), n->token()};
    int64_t latest = 0;
    for (auto& mine : l.subs)
      for (auto& s : mine)
        latest = std::max({latest, s.case_deadline_ms, s.end_ms + 14 * day_ms});
    latest += 3 * day_ms;
    bool passed = tenure::test::eventually(
      [&] { return node_now(cli).value_or(0) > latest; },
      std::chrono::milliseconds(static_cast<int64_t>(60'000.0 / opt.rate * 1.5)
                                + 30'000));
    if (!passed)
      v.add(v.other, "the node's clock did not pass the last deadline");
    // Timers fire within seconds of coming due: give them 5 s.
    tenure::test::eventually(
      [&] {
        auto t = cli.get("/v1/timers?within=0d&limit=1000");
        auto now = node_now(cli).value_or(0);
        for (auto& x : t.body.value("items", json::array()))
          if (parse_iso_ms(x.value("due", "")).value_or(now) < now - day_ms)
            return false;
        return t.status == 200;
      },
      5s);
    check(*n, l, v);
    if (!n->stop())
      v.add(v.other, "tenured did not stop cleanly at the end");
  }
  for (auto& p : l.problems)
    v.add(v.other, p);
  for (auto& w : v.why)
    std::fprintf(stderr, "crash-test: %s\n", w.c_str());
  if (!v.why.empty() || !restarted) {
    auto out = n->output();
    if (out.size() > 6000)
      out = out.substr(out.size() - 6000);
    std::fprintf(stderr, "crash-test: seed %llu; the node's last output:\n%s\n",
                 static_cast<unsigned long long>(opt.seed), out.c_str());
  }
  std::printf("crash-test: seed %llu, %zu requests without an answer "
              "(node killed or down) retried, %zu other problems\n",
              static_cast<unsigned long long>(opt.seed), l.unknown.load(),
              v.other);
  std::printf("crash-test: %d kills, %zu acknowledged, %zu lost, %zu duplicate "
              "codes, %zu missed timers\n",
              kills, l.acknowledged.load(), v.lost, v.duplicate_codes,
              v.missed_timers);
  return v.why.empty() ? 0 : 1;
}
