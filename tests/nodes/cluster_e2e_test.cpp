// End-to-end through a cluster of three tenured processes on loopback
// (issue 6): 3,000 applications go through stages 0-3 of seed 001 over HTTP
// (submitted, verified by the verifier's signed callback or the review
// queue, booked with a code, redeemed into a subscription), sent round-robin
// to all nodes by eight client threads with Idempotency-Keys. After about a
// third of the work node b is killed with SIGKILL; while it is down, every
// request that needs its shard (its applications, the oss pool, submissions
// for organisations it owns) is refused at once with `503 unavailable: node
// b is down`, listings name it in `unavailable`, and a and c keep serving
// theirs. The clients retry later with the same keys; b restarts on the same
// data directory and ports. At the end every acknowledged write is there and
// reads the same from any node, every application holds exactly one code, no
// code was given twice (a second redemption is refused with seed 001's words
// and the pools account for every code), and GET /v1/cluster counts what the
// ledger says, member by member.
//
// The test computes owners itself (rendezvous hashing, 64-bit FNV-1a with
// MurmurHash3's finaliser, as docs and actors/ownership.hpp define it) with
// its own few lines instead of the node's, so a node that routes differently
// from the contract fails here.
//
// CLUSTER_E2E_LOG_DIR=DIR keeps the nodes' output there.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/applications.hpp"
#include "tests/support/e2e_tools.hpp"
#include "tests/support/http_reply.hpp"
#include "tests/support/process.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using tenure::test::application_body;
using tenure::test::edu_saas;
using tenure::test::offering;
using tenure::test::oss_saas;
using tenure::test::oss_self_managed;
using tenure::test::startups_saas;
using steady = std::chrono::steady_clock;
using tenure::test::eventually;
using tenure::test::hmac_sha256_hex;
using tenure::test::random_hex;
using tenure::test::redacted;
using tenure::test::temp_dir;
using tenure::test::tenured_node;

namespace {

// -- sizes --------------------------------------------------------------------

constexpr size_t n_apps = 3000;
/// In an application's answers: a 503 for a request its owner had when it
/// went down ("may have been applied"), unlike one refused before sending.
constexpr int lost_503 = -503;
constexpr int n_clients = 8;
/// Applications a client drives at once that are not blocked by the
/// outage; blocked ones wait aside (up to `max_parked`) so that the clients
/// keep the live shards busy while a node is down.
constexpr size_t window = 12;
constexpr size_t max_parked = 400;
/// Steps per application: submit, verify, see it booked, redeem.
constexpr size_t steps_per_app = 4;
/// The whole drive, kill and restart included.
constexpr auto drive_deadline = 360s;
/// A refusal for a down owner must come back well inside the gateway's
/// 10 s request timeout.
constexpr auto fast = 2000ms;

const std::array<std::string, 3> names{"a", "b", "c"};
constexpr int victim = 1; // b

// -- ownership, computed independently ----------------------------------------

uint64_t fnv1a(uint64_t h, const std::string& bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t avalanche(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

/// The index in `names` of the member that owns `key`: the highest
/// rendezvous weight, ties to the smallest name.
int owner_of(const std::string& key) {
  int best = 0;
  uint64_t best_weight = 0;
  for (int i = 0; i < 3; ++i) {
    auto h = fnv1a(14695981039346656037ull, names[i]);
    h = fnv1a(h, std::string(1, '\0'));
    auto w = avalanche(fnv1a(h, key));
    if (i == 0 || w > best_weight) {
      best = i;
      best_weight = w;
    }
  }
  return best;
}

int pool_owner(const std::string& program) {
  return owner_of("pool/" + program);
}

/// The organisation's key: its website's host (lower case, without
/// `www.`), else its trimmed, lower-case name.
std::string organisation_key(const std::string& name,
                             const std::string& website) {
  auto lower = [](std::string s) {
    for (auto& ch : s)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  };
  auto host = website;
  if (auto p = host.find("://"); p != std::string::npos)
    host = host.substr(p + 3);
  host = host.substr(0, host.find('/'));
  if (host.rfind("www.", 0) == 0)
    host = host.substr(4);
  if (!host.empty())
    return lower(host);
  auto b = name.find_first_not_of(" \t");
  auto e = name.find_last_not_of(" \t");
  return b == std::string::npos ? std::string{}
                                : lower(name.substr(b, e - b + 1));
}

/// Where a submission is answered and its application born: the owner of
/// its organisation in its program ("one active subscription per
/// organisation and program" is checked there).
int submission_owner(const std::string& program, const std::string& org) {
  return owner_of("org/" + program + "/"
                  + organisation_key(org, "https://" + org + ".example.org"));
}

// -- HTTP ---------------------------------------------------------------------

struct reply : tenure::test::http_reply {
  std::chrono::milliseconds took{0};
  /// The node that answered (index in `names`), -1 for none.
  int node = -1;
  /// Nodes tried first that gave no answer at all (see `router`).
  std::vector<int> silent;

  std::string describe() const {
    auto shown = body.is_null() ? text.substr(0, 300) : redacted(body).dump();
    if (shown.size() > 600)
      shown = shown.substr(0, 600) + "...";
    return "HTTP " + std::to_string(status) + " from "
           + (node >= 0 ? names[node] : std::string{"-"}) + " in "
           + std::to_string(took.count()) + " ms: " + shown;
  }
};

/// A keep-alive client of one node's /v1 API with the admin token.
class api_client {
public:
  api_client(int port, std::string token, int node)
    : cli_("127.0.0.1", port)
    , token_(std::move(token))
    , node_(node) {
    cli_.set_keep_alive(true);
    // Headers and body go out in two writes: without this, Nagle holds the
    // body until the node's delayed ACK (40 ms per POST).
    cli_.set_tcp_nodelay(true);
    cli_.set_connection_timeout(2, 0);
    cli_.set_read_timeout(30, 0);
    cli_.set_write_timeout(30, 0);
  }

  reply get(const std::string& target) {
    auto t0 = steady::now();
    return wrap(cli_.Get(target.c_str(), auth({})), t0);
  }

  reply post(const std::string& target, const json& body,
             httplib::Headers extra = {}) {
    return post_raw(target, body.dump(), "application/json", std::move(extra));
  }

  reply post_raw(const std::string& target, const std::string& body,
                 const std::string& content_type, httplib::Headers extra = {},
                 bool with_token = true) {
    auto t0 = steady::now();
    auto h = with_token ? auth(std::move(extra)) : std::move(extra);
    return wrap(cli_.Post(target.c_str(), h, body, content_type.c_str()), t0);
  }

private:
  httplib::Headers auth(httplib::Headers h) const {
    h.emplace("Authorization", "Bearer " + token_);
    return h;
  }

  reply wrap(const httplib::Result& r, steady::time_point t0) const {
    reply out;
    out.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      steady::now() - t0);
    if (out.take(r))
      out.node = node_;
    return out;
  }

  httplib::Client cli_;
  std::string token_;
  int node_;
};

// -- the programs -------------------------------------------------------------

const std::array<offering, 4> offerings{
  {edu_saas, oss_saas, oss_self_managed, startups_saas}};

const std::array<std::string, 3> programs{"edu", "oss", "startups"};

// -- one application's way through the cluster -------------------------------

enum class step { submit, verify, booking, redeem, done, failed };

const char* step_name(step s) {
  switch (s) {
    case step::submit:
      return "submit";
    case step::verify:
      return "verify";
    case step::booking:
      return "booking";
    case step::redeem:
      return "redeem";
    case step::done:
      return "done";
    default:
      return "failed";
  }
}

/// One application and the test's ledger of what the cluster acknowledged.
struct app_case {
  size_t index = 0;
  const offering* o = nullptr;
  std::string key; // Idempotency-Key of the submission
  std::string email;
  std::string org;
  step at = step::submit;
  // acknowledged
  std::string id;
  bool verified = false;
  std::string code; // secret: never printed
  std::string sub_id;
  bool sub_acked = false; // 201 of the redemption (not read back)
  /// The outage phase when the redemption was answered.
  int redeemed_in = -1;
  // the verifier's delivery: one event id, re-signed on each attempt
  std::string event_id;
  int deliveries = 0;
  // pacing of retries while blocked
  steady::time_point retry_at{};
  std::chrono::milliseconds backoff{0};
  bool blocked = false;
  std::string failure;
  /// Every answer: step, status, answering node and phase at send, e.g.
  /// `redeem:503@a/1`.
  std::string trail;
  /// Statuses of the writes of the current step, oldest first; 0 for no
  /// answer while the node may have been serving it (unknown outcome), -1
  /// for no answer from a node known dead (refused connection: not sent).
  std::vector<int> tries;
};

/// The phases of the outage, as the clients see them when they send and
/// when they receive.
enum phase : int { all_up = 0, down = 1, restarting = 2, back = 3 };

struct counters {
  std::atomic<size_t> steps{0};
  std::atomic<size_t> requests{0};
  std::atomic<size_t> replayed{0};
  std::atomic<size_t> refused_503{0};
  std::atomic<size_t> outage_refusals{0};
  std::atomic<size_t> outage_progress{0}; // steps of a and c during the outage
  std::atomic<int64_t> max_503_ms{0};
  std::atomic<size_t> no_answer{0};
  std::atomic<size_t> timeouts_504{0};
  std::atomic<size_t> conflicts{0};
  std::atomic<size_t> rejoin_refusals{0};
  std::mutex mtx;
  std::vector<std::string> violations; // each one fails the test
  std::vector<std::string> notes;      // reported, tolerated
  std::map<int, size_t> by_status;

  void violation(std::string what) {
    std::lock_guard<std::mutex> guard{mtx};
    if (violations.size() < 200)
      violations.push_back(std::move(what));
  }

  void note(std::string what) {
    std::lock_guard<std::mutex> guard{mtx};
    if (notes.size() < 200)
      notes.push_back(std::move(what));
  }
};

// -- the fixture --------------------------------------------------------------

class cluster_e2e : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = std::make_unique<temp_dir>("tenure-cluster-e2e");
    auto root = dir_->path();
    // The shipped configuration with the cluster and the shared keys file,
    // callback secret and cluster secret (tests/support).
    files_ = std::make_unique<tenure::test::cluster_files>(
      root, std::vector<std::string>{names.begin(), names.end()});
    ASSERT_EQ(files_->cluster_ports.size(), 3u);
    for (int i = 0; i < 3; ++i) {
      cluster_ports_[i] = files_->cluster_ports[i];
      ASSERT_GT(cluster_ports_[i], 0);
      data_[i] = root + "/" + names[i];
    }
    std::set<int> taken(cluster_ports_.begin(), cluster_ports_.end());
    for (int i = 0; i < 3; ++i) {
      for (int* p : {&http_ports_[i], &shell_ports_[i]}) {
        for (int tries = 0; tries < 20 && (*p <= 0 || taken.count(*p)); ++tries)
          *p = tenure::test::free_port();
        ASSERT_TRUE(*p > 0 && taken.insert(*p).second) << "no free port";
      }
    }
    admin_token_ = files_->admin_token;
    callback_secret_ = files_->callback_secret;
    // Eight client threads keep a connection to every node, and a
    // keep-alive connection holds a gateway thread: room for them, the
    // probes and the checks.
    config_
      = files_->variant("cluster-e2e.conf", {{"threads = 8", "threads = 16"}});
  }

  void TearDown() override {
    // For a look at what the nodes said: CLUSTER_E2E_LOG_DIR=DIR keeps
    // their output.
    if (auto* keep = std::getenv("CLUSTER_E2E_LOG_DIR")) {
      std::filesystem::create_directories(keep);
      if (!killed_log_.empty())
        tenure::test::write_file(std::string{keep} + "/" + names[victim]
                                   + "-before-kill.log",
                                 killed_log_);
      for (int i = 0; i < 3; ++i)
        if (nodes_[i])
          tenure::test::write_file(std::string{keep} + "/" + names[i] + ".log",
                                   nodes_[i]->proc.err()
                                     + nodes_[i]->proc.out());
    }
    for (auto& n : nodes_)
      n.reset(); // SIGKILL whatever still runs
    files_.reset();
    dir_.reset();
  }

  /// Starts node `i` on `http_ports_[i]` and `shell_ports_[i]`, chosen
  /// before any node starts: a node given port 0 could be handed another
  /// member's cluster port by the kernel.
  void start(int i) {
    std::vector<std::string> extra{
      "--node",       names[i],
      "--http-port",  std::to_string(http_ports_[i]),
      "--shell-port", std::to_string(shell_ports_[i])};
    nodes_[i] = std::make_unique<tenured_node>(data_[i], extra, config_);
    auto& n = *nodes_[i];
    ASSERT_TRUE(n.line) << "node " << names[i]
                        << " did not start: " << n.proc.err();
    ASSERT_GT(n.port, 0) << *n.line;
    auto want = " node=" + names[i]
                + " cluster=127.0.0.1:" + std::to_string(cluster_ports_[i]);
    EXPECT_NE(n.line->find(want), std::string::npos)
      << "listening line lacks '" << want << "': " << *n.line;
    EXPECT_EQ(n.port, http_ports_[i]) << *n.line;
    EXPECT_EQ(n.shell, "127.0.0.1:" + std::to_string(shell_ports_[i]))
      << *n.line;
    ports_[i] = n.port;
  }

  api_client client(int i) const {
    return api_client{ports_[i], admin_token_, i};
  }

  /// Whether `GET /v1/cluster` on every running node lists the three
  /// members as reachable.
  bool all_reachable(std::string& last) {
    for (int i = 0; i < 3; ++i) {
      auto cli = client(i);
      auto r = cli.get("/v1/cluster");
      if (r.status != 200 || !r.body["members"].is_array()
          || r.body["members"].size() != 3) {
        last = r.describe();
        return false;
      }
      for (auto& m : r.body["members"]) {
        if (m.value("reachable", false) != true) {
          last = r.describe();
          return false;
        }
      }
    }
    return true;
  }

  /// The node logs' last lines, for failure messages.
  std::string logs() const {
    std::string out;
    if (!killed_log_.empty()) {
      auto before = killed_log_;
      if (before.size() > 3000)
        before = "..." + before.substr(before.size() - 3000);
      out += "\n--- node " + names[victim] + " before SIGKILL ---\n" + before;
    }
    for (int i = 0; i < 3; ++i) {
      if (!nodes_[i])
        continue;
      auto err = nodes_[i]->proc.err() + nodes_[i]->proc.out();
      if (err.size() > 3000)
        err = "..." + err.substr(err.size() - 3000);
      out += "\n--- node " + names[i] + " ---\n" + err;
    }
    return out;
  }

  std::unique_ptr<temp_dir> dir_;
  std::unique_ptr<tenure::test::cluster_files> files_;
  std::string config_;
  std::string admin_token_;
  std::string callback_secret_;
  std::array<std::string, 3> data_;
  std::array<int, 3> cluster_ports_{};
  std::array<int, 3> ports_{};
  std::array<int, 3> http_ports_{};
  std::array<int, 3> shell_ports_{};
  std::array<std::unique_ptr<tenured_node>, 3> nodes_;
  std::string killed_log_;
};

/// One client thread's connections: a request goes to the next node in
/// turn and, when that node gives no answer at all (it is down), to the
/// next one, as a load balancer would.
class router {
public:
  router(const std::array<int, 3>& ports, const std::string& token)
    : clients_{api_client{ports[0], token, 0}, api_client{ports[1], token, 1},
               api_client{ports[2], token, 2}} {
  }

  template <class F>
  reply send(F&& f) {
    auto first = next_++ % 3;
    reply r;
    std::vector<int> silent;
    for (size_t k = 0; k < 3; ++k) {
      auto i = static_cast<int>((first + k) % 3);
      r = f(clients_[i]);
      if (r.status != 0)
        break;
      silent.push_back(i);
    }
    r.silent = std::move(silent);
    return r;
  }

private:
  std::array<api_client, 3> clients_;
  size_t next_ = 0;
};

// -- the drive ----------------------------------------------------------------

struct drive {
  drive(std::vector<app_case>& cases, const std::string& token,
        const std::string& secret, std::array<int, 3> ports, counters& stats,
        std::atomic<int>& phase)
    : cases(cases)
    , token(token)
    , secret(secret)
    , ports(ports)
    , stats(stats)
    , phase(phase) {
  }

  std::vector<app_case>& cases;
  const std::string& token;
  const std::string& secret;
  std::array<int, 3> ports;
  counters& stats;
  std::atomic<int>& phase;
  std::atomic<size_t> next_case{0};
  std::atomic<bool> stop{false};
  /// Cases done or failed; the ids of the done ones, for the probes.
  std::atomic<size_t> settled{0};
  std::mutex done_mtx;
  std::vector<std::string> done_ids;

  enum class outcome { progress, later, blocked, failed };

  /// Whether a request of `c` at its current step needs the victim's
  /// shard: its application, its idempotency key, or the program's pool.
  bool needs_victim(const app_case& c) const {
    switch (c.at) {
      case step::submit:
        return submission_owner(c.o->program, c.org) == victim;
      case step::redeem:
        return owner_of(c.id) == victim || pool_owner(c.o->program) == victim;
      default:
        return owner_of(c.id) == victim;
    }
  }

  void fail(app_case& c, const std::string& what, const reply& r) {
    c.failure = std::string{step_name(c.at)} + " " + c.id + " (" + c.key
                + "): " + what + "; " + r.describe();
    c.at = step::failed;
    stats.violation(c.failure);
  }

  /// Books what every answer says about the cluster; `sent` is the phase
  /// when the request left. Returns true when the answer is a refusal for
  /// a down node (retry later).
  bool account(app_case& c, const reply& r, int sent, bool victim_needed,
               bool write = true) {
    // Attempts that got no answer: outcome unknown unless the node was dead.
    int silent = sent == down || sent == restarting ? -1 : 0;
    for (int i : r.silent) {
      if (write)
        c.tries.push_back(silent);
      c.trail += std::string{c.trail.empty() ? "" : " "} + step_name(c.at)
                 + ":0@" + names[i] + "/" + std::to_string(sent);
    }
    // A 503 for a request the owner had when it went down: the outcome is
    // unknown (the message says it may have been applied).
    bool lost
      = r.status == 503 && r.error_code() == "unavailable"
        && r.error_message().rfind(
             "node " + names[victim] + " went down before it answered", 0)
             == 0;
    if (write)
      c.tries.push_back(r.status == 0 ? silent : lost ? lost_503 : r.status);
    int got = phase.load();
    bool outage
      = sent == down || got == down || sent == restarting || got == restarting;
    ++stats.requests;
    c.trail += std::string{c.trail.empty() ? "" : " "} + step_name(c.at) + ":"
               + std::to_string(r.status);
    if (r.status == 503) {
      // `node X is down`: which X
      auto msg = r.error_message();
      c.trail
        += "(" + (msg.rfind("node ", 0) == 0 ? msg.substr(5, 1) : msg) + ")";
    }
    c.trail
      += "@" + (r.node >= 0 ? names[r.node] : "-") + "/" + std::to_string(sent);
    {
      std::lock_guard<std::mutex> guard{stats.mtx};
      ++stats.by_status[r.status];
    }
    if (r.header("Idempotent-Replayed") == "true") {
      ++stats.replayed;
      // The first answer was kept although the client saw a 503 ("nothing
      // was changed") or none: harmless, reported.
      if (write && c.tries.size() > 1
          && std::find(c.tries.begin(), c.tries.end() - 1, 503)
               != c.tries.end() - 1)
        stats.note("replayed after a 503: " + std::string{step_name(c.at)} + " "
                   + c.id + "; answers: " + c.trail);
    }
    if (r.status == 0) {
      ++stats.no_answer;
      if (!outage)
        stats.note("no answer from any node outside the outage: "
                   + std::string{step_name(c.at)} + " " + c.id);
      return true;
    }
    if (r.status == 504) {
      ++stats.timeouts_504;
      // The owner is up (or the answer needs only live nodes): it must
      // answer.
      auto what = "504 at " + std::string{step_name(c.at)} + " " + c.id
                  + " (phase " + std::to_string(sent) + "->"
                  + std::to_string(got) + ") " + r.describe();
      if (victim_needed)
        stats.note(what);
      else
        stats.violation("a request for a live node's shard timed out: " + what);
      return true;
    }
    if (r.status == 503) {
      ++stats.refused_503;
      auto ms = r.took.count();
      auto prev = stats.max_503_ms.load();
      while (ms > prev && !stats.max_503_ms.compare_exchange_weak(prev, ms)) {
      }
      bool rejoining = sent == restarting || got == restarting;
      if (rejoining && (r.node == victim || victim_needed)
          && r.error_code() == "unavailable"
          && r.error_message() != "node " + names[victim] + " is down") {
        // The restarted node answered (itself, or through the node that
        // forwarded to it) before its links to the others were up: only the
        // member whose name sorts first dials, every `reconnect` (1 s).
        // Tolerated while it rejoins, reported.
        if (stats.rejoin_refusals++ < 3)
          stats.note("while rejoining: " + std::string{step_name(c.at)} + " "
                     + c.id + " " + r.describe());
      } else {
        if (r.error_code() != "unavailable"
            || (r.error_message() != "node " + names[victim] + " is down"
                && !lost))
          stats.violation("503 without the clear error: "
                          + std::string{step_name(c.at)} + " " + c.id + " "
                          + r.describe());
        if (!outage)
          stats.violation("503 outside the outage: "
                          + std::string{step_name(c.at)} + " " + c.id + " "
                          + r.describe());
        else if (!victim_needed)
          stats.violation("503 for a request that needs only the live nodes: "
                          + std::string{step_name(c.at)} + " " + c.id + " ("
                          + c.o->program + ") " + r.describe());
        else
          ++stats.outage_refusals;
      }
      if (r.took > fast)
        stats.violation("a refusal took " + std::to_string(ms) + " ms");
      return true;
    }
    if (r.status == 409 && r.error_code() == "conflict") {
      // The same key still in flight (the first attempt died with the
      // victim): retry later.
      ++stats.conflicts;
      return true;
    }
    if (r.status >= 200 && r.status < 300 && victim_needed && sent == down
        && got == down)
      stats.violation("served while " + names[victim]
                      + " was dead: " + std::string{step_name(c.at)} + " "
                      + c.id + " " + r.describe());
    return false;
  }

  /// `what` of `c` was refused as done already: one of this step's
  /// earlier writes applied. After an answer that never came or a 504 the
  /// outcome was unknown; a 503 `unavailable` promises nothing changed.
  void applied_earlier(app_case& c, const std::string& what) {
    std::vector<int> before(c.tries.begin(),
                            c.tries.end() - (c.tries.empty() ? 0 : 1));
    bool unknown = std::any_of(before.begin(), before.end(), [](int st) {
      return st == 0 || st == 504 || st == lost_503;
    });
    bool refused = std::any_of(before.begin(), before.end(),
                               [](int st) { return st == 503; });
    auto text = what + " of " + c.id
                + " was refused as done already; answers: " + c.trail;
    if (!unknown && refused)
      stats.violation("a 503 (\"nothing was changed\") had been applied: "
                      + text);
    else
      stats.note(text);
  }

  outcome submit(app_case& c, router& net) {
    auto body = application_body(*c.o, c.email, c.org);
    int sent = phase.load();
    bool v = needs_victim(c);
    auto r = net.send([&](api_client& cli) {
      return cli.post("/v1/applications", body, {{"Idempotency-Key", c.key}});
    });
    if (account(c, r, sent, v))
      return outcome::blocked;
    if (r.status != 201) {
      fail(c, "submission refused", r);
      return outcome::failed;
    }
    auto id = r.body.value("id", std::string{});
    auto state = r.body.value("state", std::string{});
    if (id.rfind("app_", 0) != 0) {
      fail(c, "no application id", r);
      return outcome::failed;
    }
    if (state != (c.o->external ? "verifying" : "in_review")) {
      fail(c, "submitted into the wrong state", r);
      return outcome::failed;
    }
    // Born on its organisation's owner, with an id that owner owns.
    if (owner_of(id) != submission_owner(c.o->program, c.org))
      stats.violation("application " + id + " is owned by "
                      + names[owner_of(id)] + ", its organisation by "
                      + names[submission_owner(c.o->program, c.org)]);
    c.id = id;
    return outcome::progress;
  }

  /// GET of the application from the next node.
  reply read(app_case& c, router& net, bool& refused) {
    int sent = phase.load();
    bool v = needs_victim(c);
    auto r = net.send(
      [&](api_client& cli) { return cli.get("/v1/applications/" + c.id); });
    refused = account(c, r, sent, v, false);
    return r;
  }

  static bool past_verification(const std::string& state) {
    return state == "awaiting_code" || state == "booked" || state == "redeemed";
  }

  outcome verify(app_case& c, router& net) {
    bool refused = false;
    if (c.o->external) {
      // The verifier answers once it has been asked: wait until the node
      // started the verification (the local stand-in accepts it).
      auto g = read(c, net, refused);
      if (refused)
        return outcome::blocked;
      if (g.status != 200) {
        fail(c, "cannot read the application", g);
        return outcome::failed;
      }
      auto state = g.body.value("state", std::string{});
      if (past_verification(state)) {
        c.verified = true; // an earlier delivery got through unanswered
        return outcome::progress;
      }
      if (state != "verifying") {
        fail(c, "not verifying", g);
        return outcome::failed;
      }
      if (g.body.value("verification_attempts", 0) < 1)
        return outcome::later;
      if (c.event_id.empty())
        c.event_id = "evt-" + random_hex(12);
      json body{{"event_id", c.event_id},
                {"application_id", c.id},
                {"result", "verified"}};
      int sent = phase.load();
      bool v = needs_victim(c);
      auto r = net.send([&](api_client& cli) {
        // Every delivery, to whichever node, is signed again, as the
        // verifier does; the bytes differ (white space) so that one within
        // the same second is not a replay of an earlier signature (a node
        // that died before answering may have accepted it).
        auto raw
          = body.dump() + std::string(static_cast<size_t>(c.deliveries), ' ');
        ++c.deliveries;
        auto t = std::to_string(static_cast<long long>(std::time(nullptr)));
        auto sig = "t=" + t + ",v1=" + hmac_sha256_hex(secret, t + "." + raw);
        return cli.post_raw("/v1/verifier/callback", raw, "application/json",
                            {{"Tenure-Signature", sig}}, false);
      });
      if (account(c, r, sent, v))
        return outcome::blocked;
      if (r.status == 200 && r.body.value("status", "") == "accepted"
          && r.body["application"].value("id", "") == c.id
          && past_verification(r.body["application"].value("state", ""))) {
        c.verified = true;
        return outcome::progress;
      }
      if (r.status == 409 && r.error_code() == "illegal_transition") {
        // An earlier delivery applied although its answer said otherwise
        // (or never came): re-read.
        applied_earlier(c, "the callback");
        return outcome::later;
      }
      fail(c, "callback refused", r);
      return outcome::failed;
    }
    int sent = phase.load();
    bool v = needs_victim(c);
    auto r = net.send([&](api_client& cli) {
      return cli.post("/v1/reviews/" + c.id,
                      json{{"decision", "approve"},
                           {"reason", "eligible"},
                           {"reviewer", "program-team"}},
                      {{"Idempotency-Key", "review-" + c.key}});
    });
    if (account(c, r, sent, v))
      return outcome::blocked;
    if (r.status == 200 && r.body.value("id", "") == c.id
        && past_verification(r.body.value("state", ""))) {
      c.verified = true;
      return outcome::progress;
    }
    if (r.status == 409 && r.error_code() == "illegal_transition") {
      auto g = read(c, net, refused);
      if (refused)
        return outcome::blocked;
      if (g.status == 200 && past_verification(g.body.value("state", ""))) {
        applied_earlier(c, "the review");
        c.verified = true;
        return outcome::progress;
      }
    }
    fail(c, "review refused", r);
    return outcome::failed;
  }

  outcome booking(app_case& c, router& net) {
    bool refused = false;
    auto g = read(c, net, refused);
    if (refused)
      return outcome::blocked;
    if (g.status != 200) {
      fail(c, "cannot read the application", g);
      return outcome::failed;
    }
    auto state = g.body.value("state", std::string{});
    if (state == "awaiting_code") {
      // Its pool's node is down: it waits aside until that node is back.
      int p = phase.load();
      if (pool_owner(c.o->program) == victim && (p == down || p == restarting))
        return outcome::blocked;
      return outcome::later;
    }
    if (state != "booked" || !g.body["coupon_code"].is_string()
        || g.body["coupon_code"].get<std::string>().empty()) {
      fail(c, "not booked with a code", g);
      return outcome::failed;
    }
    c.code = g.body["coupon_code"].get<std::string>();
    return outcome::progress;
  }

  outcome redeem(app_case& c, router& net) {
    int sent = phase.load();
    bool v = needs_victim(c);
    auto r = net.send([&](api_client& cli) {
      return cli.post("/v1/checkout/redeem",
                      json{{"code", c.code}, {"sku", c.o->sku}, {"seats", 10}},
                      {{"Idempotency-Key", "redeem-" + c.key}});
    });
    if (account(c, r, sent, v))
      return outcome::blocked;
    if (r.status == 201) {
      auto sub = r.body.value("subscription_id", std::string{});
      if (sub.rfind("sub_", 0) != 0
          || r.body["subscription"].value("application", "") != c.id) {
        fail(c, "no subscription of this application", r);
        return outcome::failed;
      }
      c.sub_id = sub;
      c.sub_acked = true;
      c.redeemed_in = phase.load();
      return outcome::progress;
    }
    if (r.status == 409 && r.error_code() == "code_already_used") {
      // Only right if our own earlier attempt redeemed it (its answer was
      // lost with the victim): the application then names its subscription.
      bool refused = false;
      auto g = read(c, net, refused);
      if (refused)
        return outcome::blocked;
      if (g.status == 200 && g.body.value("state", "") == "redeemed"
          && g.body.value("subscription", "").rfind("sub_", 0) == 0) {
        c.sub_id = g.body["subscription"];
        c.redeemed_in = phase.load();
        applied_earlier(c, "the redemption");
        return outcome::progress;
      }
    }
    fail(c, "redemption refused", r);
    return outcome::failed;
  }

  outcome advance(app_case& c, router& net) {
    switch (c.at) {
      case step::submit:
        return submit(c, net);
      case step::verify:
        return verify(c, net);
      case step::booking:
        return booking(c, net);
      case step::redeem:
        return redeem(c, net);
      default:
        return outcome::failed;
    }
  }

  void client() {
    router net{ports, token};
    std::vector<app_case*> active;
    while (!stop.load()) {
      size_t unblocked = 0;
      for (auto* c : active)
        unblocked += c->blocked ? 0 : 1;
      while (unblocked < window && active.size() < window + max_parked) {
        auto i = next_case++;
        if (i >= cases.size())
          break;
        active.push_back(&cases[i]);
        ++unblocked;
      }
      if (active.empty())
        return;
      auto now = steady::now();
      bool worked = false;
      auto soonest = now + 50ms;
      for (auto* c : active) {
        if (c->retry_at > now) {
          soonest = std::min(soonest, c->retry_at);
          continue;
        }
        worked = true;
        // Keep going while it moves: one application's steps in a row.
        for (;;) {
          int sent = phase.load();
          bool v = needs_victim(*c);
          auto o = advance(*c, net);
          if (o == outcome::progress) {
            ++stats.steps;
            if (!v && sent == down && phase.load() == down)
              ++stats.outage_progress;
            c->at = static_cast<step>(static_cast<int>(c->at) + 1);
            c->blocked = false;
            c->backoff = 0ms;
            c->tries.clear();
            if (c->at == step::done)
              break;
            continue;
          }
          if (o == outcome::later) {
            c->blocked = false;
            // Waiting for the node (a booking): poll, less often the
            // longer it takes.
            c->backoff = std::min<std::chrono::milliseconds>(
              std::max<std::chrono::milliseconds>(c->backoff * 2, 20ms), 250ms);
            c->retry_at = steady::now() + c->backoff;
          } else if (o == outcome::blocked) {
            c->blocked = true;
            c->backoff = std::min<std::chrono::milliseconds>(
              std::max<std::chrono::milliseconds>(c->backoff * 2, 50ms),
              1000ms);
            c->retry_at = steady::now() + c->backoff;
          }
          break;
        }
      }
      auto over = [](app_case* c) {
        return c->at == step::done || c->at == step::failed;
      };
      for (auto* c : active) {
        if (c->at == step::done) {
          std::lock_guard<std::mutex> guard{done_mtx};
          done_ids.push_back(c->id);
        }
        if (over(c))
          ++settled;
      }
      active.erase(std::remove_if(active.begin(), active.end(), over),
                   active.end());
      if (!worked)
        std::this_thread::sleep_until(soonest);
    }
  }
};

/// Every page of a listing (`target` without cursor), from one node.
bool list_all(api_client& cli, const std::string& target,
              std::vector<json>& items, std::string& problem) {
  std::string cursor;
  for (int page = 0; page < 100; ++page) {
    auto sep = target.find('?') == std::string::npos ? "?" : "&";
    auto r = cli.get(target + sep + "limit=500"
                     + (cursor.empty() ? "" : "&cursor=" + cursor));
    if (r.status != 200 || !r.body["items"].is_array()) {
      problem = target + ": " + r.describe();
      return false;
    }
    if (r.body.contains("unavailable")
        && !(r.body["unavailable"].is_array()
             && r.body["unavailable"].empty())) {
      problem = target + " lacks members: " + r.body["unavailable"].dump();
      return false;
    }
    for (auto& x : r.body["items"])
      items.push_back(x);
    if (!r.body["next_cursor"].is_string())
      return true;
    cursor = r.body["next_cursor"].get<std::string>();
  }
  problem = target + ": more than 100 pages";
  return false;
}

} // namespace

// -- the test -----------------------------------------------------------------

TEST_F(cluster_e2e, three_thousand_lifecycles_survive_a_killed_node) {
  auto t_start = steady::now();
  for (int i = 0; i < 3; ++i)
    ASSERT_NO_FATAL_FAILURE(start(i)) << logs();
  std::string last;
  ASSERT_TRUE(eventually([&] { return all_reachable(last); }, 60s))
    << "the cluster did not form; last: " << last << logs();

  // Cases: round-robin over the four offerings, unique people and orgs.
  auto run = random_hex(4);
  std::vector<app_case> cases(n_apps);
  std::map<std::string, size_t> need;
  for (size_t i = 0; i < n_apps; ++i) {
    auto& c = cases[i];
    c.index = i;
    c.o = &offerings[i % offerings.size()];
    auto tag = "ce2e-" + run + "-" + std::to_string(i);
    c.key = "submit-" + tag;
    c.email = tag + "@" + c.o->program + ".example.org";
    c.org = tag + "-" + c.o->program;
    ++need[c.o->program];
  }

  // Codes for every program, a few more than needed, each imported through
  // a node that does not own the pool (forwarded to the owner).
  std::map<std::string, std::set<std::string>> imported;
  for (size_t p = 0; p < programs.size(); ++p) {
    auto& program = programs[p];
    auto n = need[program] + 50;
    std::string csv;
    for (size_t k = 0; k < n; ++k) {
      auto code = "CE2E-" + random_hex(8);
      imported[program].insert(code);
      csv += code + "\n";
    }
    int via = (pool_owner(program) + 1) % 3;
    auto cli = client(via);
    auto r = cli.post_raw("/v1/coupons/" + program + "/import", csv, "text/csv",
                          {{"Idempotency-Key", "import-" + run + program}});
    ASSERT_EQ(r.status, 200) << r.describe() << logs();
    EXPECT_EQ(r.body["imported"], imported[program].size()) << r.describe();
    EXPECT_EQ(r.body["invalid"], 0) << r.describe();
    for (int i = 0; i < 3; ++i) {
      auto reader = client(i);
      auto s = reader.get("/v1/coupons/" + program + "/stock");
      ASSERT_EQ(s.status, 200) << s.describe();
      EXPECT_EQ(s.body["available"], imported[program].size()) << s.describe();
    }
  }

  // The drive.
  counters stats;
  std::atomic<int> phase{all_up};
  drive d{cases, admin_token_, callback_secret_, ports_, stats, phase};
  std::vector<std::thread> clients;
  for (int k = 0; k < n_clients; ++k)
    clients.emplace_back([&d] { d.client(); });
  struct joiner {
    drive& d;
    std::vector<std::thread>& threads;
    ~joiner() {
      d.stop = true;
      for (auto& t : threads)
        if (t.joinable())
          t.join();
    }
  } join_clients{d, clients};
  auto drive_start = steady::now();
  auto total_steps = n_apps * steps_per_app;

  // About a third of the work, then SIGKILL b.
  ASSERT_TRUE(eventually([&] { return stats.steps >= total_steps / 3; }, 180s))
    << "only " << stats.steps << " of " << total_steps << " steps; "
    << stats.violations.size() << " violations" << logs();
  auto steps_at_kill = stats.steps.load();
  phase = down;
  auto kill_at = steady::now();
  nodes_[victim]->proc.signal(SIGKILL);
  auto killed = nodes_[victim]->proc.wait(10s);
  ASSERT_TRUE(killed) << "b did not die";
  EXPECT_EQ(*killed, 128 + SIGKILL);
  killed_log_ = nodes_[victim]->proc.err() + nodes_[victim]->proc.out();
  nodes_[victim].reset();

  // While b is down: the clear, fast error for its shard; a and c serve
  // theirs.
  std::vector<std::string> victims_apps;
  std::vector<std::string> live_apps;
  {
    std::lock_guard<std::mutex> guard{d.done_mtx};
    for (auto& id : d.done_ids)
      (owner_of(id) == victim ? victims_apps : live_apps).push_back(id);
  }
  ASSERT_FALSE(victims_apps.empty());
  ASSERT_FALSE(live_apps.empty());
  auto expect_refused = [&](const reply& r, const std::string& what) {
    EXPECT_EQ(r.status, 503) << what << ": " << r.describe();
    EXPECT_EQ(r.error_code(), "unavailable") << what << ": " << r.describe();
    EXPECT_EQ(r.error_message(), "node b is down")
      << what << ": " << r.describe();
    EXPECT_LT(r.took, fast) << what << ": " << r.describe();
  };
  for (int i : {0, 2}) {
    auto cli = client(i);
    // The cluster view: b unreachable, its counts unknown.
    auto view = cli.get("/v1/cluster");
    ASSERT_EQ(view.status, 200) << view.describe();
    EXPECT_EQ(view.body["node"], names[i]) << view.describe();
    for (auto& m : view.body["members"]) {
      bool is_victim = m.value("name", "") == names[victim];
      EXPECT_EQ(m["reachable"], !is_victim) << view.describe();
      if (is_victim) {
        EXPECT_TRUE(m["entities"].is_null()
                    || m["entities"]["applications"].is_null())
          << view.describe();
      }
    }
    for (size_t k = 0; k < 5 && k < victims_apps.size(); ++k)
      expect_refused(cli.get("/v1/applications/" + victims_apps[k]),
                     "GET a b-owned application via " + names[i]);
    for (size_t k = 0; k < 5 && k < live_apps.size(); ++k) {
      auto r = cli.get("/v1/applications/" + live_apps[k]);
      EXPECT_EQ(r.status, 200) << r.describe();
      EXPECT_EQ(r.body.value("state", ""), "redeemed") << r.describe();
    }
    // b owns the oss pool: its stock and checkout are b's.
    ASSERT_EQ(pool_owner("oss"), victim);
    expect_refused(cli.get("/v1/coupons/oss/stock"), "oss stock");
    expect_refused(cli.post("/v1/checkout/redeem",
                            json{{"code", "CE2E-PROBE-" + random_hex(4)},
                                 {"sku", offerings[1].sku},
                                 {"seats", 5}}),
                   "redeem into b's pool");
    auto edu = cli.get("/v1/coupons/edu/stock");
    EXPECT_EQ(edu.status, 200) << edu.describe();
    // Listings answer with what a and c have, naming b.
    auto page = cli.get("/v1/applications?limit=20");
    EXPECT_EQ(page.status, 200) << page.describe();
    EXPECT_EQ(page.body["unavailable"], json::array({"b"})) << page.describe();
    EXPECT_FALSE(page.body["items"].empty()) << page.describe();
  }
  // A submission for an organisation b owns is refused and leaves nothing
  // behind.
  std::string probe_org;
  for (int k = 0; probe_org.empty() && k < 1000; ++k) {
    auto org = "probe-" + run + "-" + std::to_string(k);
    if (submission_owner("edu", org) == victim)
      probe_org = org;
  }
  auto probe_email = "probe-" + run + "@edu.example.org";
  {
    auto cli = client(0);
    expect_refused(
      cli.post("/v1/applications",
               application_body(offerings[0], probe_email, probe_org),
               {{"Idempotency-Key", "probe-" + run}}),
      "submission for an organisation b owns");
  }
  // Let the clients run into the outage for a while: refusals for b's
  // shard, progress on a's and c's.
  EXPECT_TRUE(eventually(
    [&] {
      return stats.outage_refusals >= 200 && stats.outage_progress >= 1500;
    },
    60s))
    << "outage: " << stats.outage_refusals << " refusals, "
    << stats.outage_progress << " steps on a and c";
  auto outage_progress = stats.outage_progress.load();
  auto outage_refusals = stats.outage_refusals.load();

  // b comes back on the same data and ports.
  phase = restarting;
  auto restart_at = steady::now();
  ASSERT_NO_FATAL_FAILURE(start(victim)) << logs();
  ASSERT_TRUE(eventually([&] { return all_reachable(last); }, 60s))
    << "b did not rejoin; last: " << last << logs();
  phase = back;
  auto rejoined_at = steady::now();

  // Every lifecycle completes.
  auto finished = [&] { return d.settled.load() >= n_apps; };
  auto left = drive_deadline - (steady::now() - drive_start);
  bool all_done = eventually(
    finished, std::chrono::duration_cast<std::chrono::milliseconds>(left));
  d.stop = true;
  for (auto& t : clients)
    t.join();
  auto drive_end = steady::now();
  std::map<std::string, size_t> where;
  for (auto& c : cases)
    ++where[std::string{step_name(c.at)} + "/" + c.o->program];
  std::string stuck;
  for (auto& [k, v] : where)
    stuck += " " + k + "=" + std::to_string(v);
  {
    std::lock_guard<std::mutex> guard{stats.mtx};
    std::string shown;
    for (size_t i = 0; i < stats.violations.size() && i < 20; ++i)
      shown += "\n  " + stats.violations[i];
    EXPECT_TRUE(stats.violations.empty())
      << stats.violations.size() << " violations:" << shown;
  }
  ASSERT_TRUE(all_done) << "not every lifecycle completed:" << stuck << logs();
  size_t failed = std::count_if(cases.begin(), cases.end(),
                                [](auto& c) { return c.at == step::failed; });
  ASSERT_EQ(failed, 0u) << stuck;

  // -- every acknowledged write, from any node --------------------------------
  std::set<std::string> codes;
  std::map<std::string, std::set<std::string>> codes_of;
  std::array<size_t, 3> apps_on{};
  std::array<size_t, 3> subs_on{};
  std::set<std::string> app_ids;
  std::set<std::string> sub_ids;
  for (auto& c : cases) {
    EXPECT_TRUE(codes.insert(c.code).second)
      << "a code was given twice (" << c.id << ")";
    codes_of[c.o->program].insert(c.code);
    EXPECT_TRUE(imported[c.o->program].count(c.code))
      << c.id << " holds a code that was never imported into " << c.o->program;
    EXPECT_TRUE(app_ids.insert(c.id).second) << "id twice: " << c.id;
    EXPECT_TRUE(sub_ids.insert(c.sub_id).second) << "sub twice: " << c.sub_id;
    ++apps_on[owner_of(c.id)];
    ++subs_on[owner_of(c.sub_id)];
  }
  std::mutex check_mtx;
  std::vector<std::string> missing;
  // Latency of the read-back, by kind: GETs and the refused second
  // redemptions (total ms, count).
  std::map<std::string, std::pair<int64_t, size_t>> took;
  auto timed = [&](const std::string& kind, const reply& r) {
    std::lock_guard<std::mutex> guard{check_mtx};
    auto& t = took[kind];
    t.first += r.took.count();
    ++t.second;
  };
  auto check = [&](int from) {
    api_client cli[3]{client(0), client(1), client(2)};
    for (size_t i = from; i < cases.size(); i += 3) {
      auto& c = cases[i];
      std::vector<std::string> bad;
      auto a = cli[i % 3].get("/v1/applications/" + c.id);
      if (a.status != 200 || a.body.value("state", "") != "redeemed"
          || a.body.value("subscription", "") != c.sub_id
          || a.body.value("coupon_code", "") != c.code)
        bad.push_back("application " + c.id + ": " + a.describe());
      timed(owner_of(c.id) == static_cast<int>(i % 3) ? "GET app, local"
                                                      : "GET app, forwarded",
            a);
      auto s = cli[(i + 1) % 3].get("/v1/subscriptions/" + c.sub_id);
      if (s.status != 200 || s.body.value("state", "") != "active"
          || s.body.value("application", "") != c.id
          || s.body.value("program", "") != c.o->program
          || s.body.value("sku", "") != c.o->sku)
        bad.push_back("subscription " + c.sub_id + ": " + s.describe());
      // No code is good twice: a second redemption is refused with seed
      // 001's words, whichever node takes it.
      auto twice = cli[(i + 2) % 3].post(
        "/v1/checkout/redeem",
        json{{"code", c.code}, {"sku", c.o->sku}, {"seats", 10}});
      if (twice.status != 409 || twice.error_code() != "code_already_used"
          || twice.error_message() != "This code has already been used.")
        bad.push_back("second redemption of " + c.id + "'s code ("
                      + c.o->program + ", redeemed "
                      + (c.redeemed_in == all_up ? "before" : "after")
                      + " the kill): " + twice.describe());
      timed(std::string{"second redeem, "}
              + (static_cast<int>((i + 2) % 3) == pool_owner(c.o->program)
                   ? "sent to the pool's node, "
                   : "forwarded to the pool, ")
              + (owner_of(c.id) == pool_owner(c.o->program)
                   ? "app on the pool's node"
                   : "app elsewhere"),
            twice);
      // One in ten from every node: the same answer, unchanged.
      if (i % 10 == 0) {
        for (int k = 0; k < 3; ++k) {
          auto again = cli[k].get("/v1/applications/" + c.id);
          if (again.status != 200 || again.text != a.text)
            bad.push_back("application " + c.id + " differs via " + names[k]
                          + ": " + again.describe());
        }
      }
      if (!bad.empty()) {
        std::lock_guard<std::mutex> guard{check_mtx};
        missing.insert(missing.end(), bad.begin(), bad.end());
      }
    }
  };
  auto check_start = steady::now();
  {
    std::vector<std::thread> checkers;
    for (int k = 0; k < 3; ++k)
      checkers.emplace_back(check, k);
    for (auto& t : checkers)
      t.join();
  }
  auto check_took = steady::now() - check_start;
  for (auto& [kind, t] : took)
    std::printf("read-back: %s: %zu, mean %.1f ms\n", kind.c_str(), t.second,
                t.second ? static_cast<double>(t.first) / t.second : 0.0);
  {
    std::string shown;
    for (size_t i = 0; i < missing.size() && i < 20; ++i)
      shown += "\n  " + missing[i];
    EXPECT_TRUE(missing.empty()) << missing.size() << " problems:" << shown;
  }

  // Listings fan out: exactly the ledger, from any node. One exception,
  // documented (README, Idempotency: the key is written right after the
  // command's commit, a crash between the two forgets it): a submission
  // whose answer was lost with the killed node may have created an
  // application, and its retry with the same key another one. Such a
  // duplicate is tolerated (and reported) only for a case whose submission
  // saw no answer or a 504, and it must hold no code.
  std::map<std::string, const app_case*> by_email;
  for (auto& c : cases)
    by_email[c.email] = &c;
  std::set<std::string> duplicates;
  std::string strangers; // listed, neither acknowledged nor tolerated
  for (int i = 0; i < 3; ++i) {
    auto cli = client(i);
    std::vector<json> apps;
    std::vector<json> subs;
    std::string problem;
    ASSERT_TRUE(list_all(cli, "/v1/applications", apps, problem)) << problem;
    ASSERT_TRUE(list_all(cli, "/v1/subscriptions", subs, problem)) << problem;
    std::set<std::string> listed_apps;
    size_t not_redeemed = 0;
    for (auto& a : apps) {
      auto id = a.value("id", "");
      listed_apps.insert(id);
      if (app_ids.count(id)) {
        not_redeemed += a.value("state", "") == "redeemed" ? 0 : 1;
        continue;
      }
      auto email = a["applicant"].value("email", "");
      auto what = id + " " + a.value("state", "") + " " + email + " owned by "
                  + names[owner_of(id)] + ", submitted "
                  + a.value("submitted_at", json("")).dump();
      auto k = by_email.find(email);
      bool lost_answer
        = k != by_email.end()
          && (k->second->trail.find("submit:0@") != std::string::npos
              || k->second->trail.find("submit:504") != std::string::npos);
      bool holds_code = a.value("state", "") == "booked"
                        || a.value("state", "") == "redeemed"
                        || a.value("subscription", "") != "";
      if (lost_answer && !holds_code) {
        if (duplicates.insert(id).second)
          stats.note("duplicate application " + what + " of " + k->second->id
                     + " (answers: " + k->second->trail.substr(0, 200) + ")");
      } else if (i == 0 && strangers.size() < 2000) {
        strangers
          += "\n  " + what
             + (k == by_email.end()
                  ? std::string{}
                  : " (case answers: " + k->second->trail.substr(0, 200) + ")");
      }
    }
    std::set<std::string> expected = app_ids;
    expected.insert(duplicates.begin(), duplicates.end());
    std::string absent; // in the ledger, not listed
    for (auto& id : expected)
      if (!listed_apps.count(id) && absent.size() < 2000)
        absent += " " + id;
    EXPECT_TRUE(absent.empty())
      << "via " << names[i] << ": acknowledged but not listed:" << absent;
    EXPECT_EQ(apps.size(), expected.size()) << "via " << names[i];
    EXPECT_EQ(not_redeemed, 0u) << "via " << names[i];
    std::set<std::string> listed_subs;
    for (auto& s : subs)
      listed_subs.insert(s.value("id", ""));
    EXPECT_EQ(subs.size(), n_apps) << "via " << names[i];
    EXPECT_TRUE(listed_subs == sub_ids)
      << "via " << names[i] << ": " << listed_subs.size()
      << " subscriptions listed, " << sub_ids.size() << " acknowledged";
  }
  EXPECT_TRUE(strangers.empty())
    << "listed but never acknowledged:" << strangers;
  for (auto& id : duplicates)
    ++apps_on[owner_of(id)];
  // The refused probe left nothing.
  {
    auto cli = client(2);
    auto r = cli.get("/v1/applications?email=" + probe_email);
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_TRUE(r.body["items"].empty()) << r.describe();
  }

  // The pools: every code given once, the rest still available.
  for (auto& program : programs) {
    auto cli = client(static_cast<int>(codes_of[program].size() % 3));
    auto s = cli.get("/v1/coupons/" + program + "/stock");
    ASSERT_EQ(s.status, 200) << s.describe();
    // Where the redemptions happened: before or after the kill, of an
    // application on the pool's owner or elsewhere.
    std::map<std::string, size_t> redeemed_where;
    for (auto& c : cases) {
      if (c.o->program != program)
        continue;
      auto when
        = c.redeemed_in == all_up ? "before the kill" : "after the kill";
      auto app_on = owner_of(c.id) == pool_owner(program) ? "on the pool's node"
                                                          : "on another node";
      ++redeemed_where[std::string{when} + ", application " + app_on];
    }
    std::string where;
    for (auto& [k, v] : redeemed_where)
      where += "\n  " + std::to_string(v) + " redeemed " + k;
    EXPECT_EQ(s.body["redeemed"], need[program])
      << s.describe() << "; pool on " << names[pool_owner(program)] << where;
    EXPECT_EQ(s.body["reserved"], 0) << s.describe();
    EXPECT_EQ(s.body["available"], imported[program].size() - need[program])
      << s.describe();
    auto left = cli.get("/v1/coupons/" + program + "/codes?limit=100000");
    ASSERT_EQ(left.status, 200) << left.describe();
    std::set<std::string> rest;
    for (auto& code : left.body["codes"])
      rest.insert(code.get<std::string>());
    EXPECT_EQ(rest.size(), imported[program].size() - need[program]);
    size_t overlap = 0;
    for (auto& code : rest)
      overlap += codes_of[program].count(code);
    EXPECT_EQ(overlap, 0u) << program << ": codes both given and available";
    std::set<std::string> all = rest;
    all.insert(codes_of[program].begin(), codes_of[program].end());
    EXPECT_EQ(all, imported[program]) << program << ": codes lost";
  }

  // The cluster's own count agrees with the ledger, member by member.
  for (int i = 0; i < 3; ++i) {
    auto cli = client(i);
    auto view = cli.get("/v1/cluster");
    ASSERT_EQ(view.status, 200) << view.describe();
    ASSERT_EQ(view.body["members"].size(), 3u) << view.describe();
    size_t apps = 0;
    size_t subs = 0;
    for (auto& m : view.body["members"]) {
      auto name = m.value("name", "");
      auto k = std::find(names.begin(), names.end(), name) - names.begin();
      ASSERT_LT(k, 3) << view.describe();
      EXPECT_EQ(m["reachable"], true) << view.describe();
      EXPECT_EQ(m["self"], k == i) << view.describe();
      EXPECT_EQ(m["port"], cluster_ports_[k]) << view.describe();
      auto& e = m["entities"];
      ASSERT_TRUE(e.is_object()) << view.describe();
      EXPECT_EQ(e["applications"], apps_on[k])
        << name << ": " << view.describe();
      EXPECT_EQ(e["subscriptions"], subs_on[k])
        << name << ": " << view.describe();
      EXPECT_EQ(e["compliance_cases"], 0) << view.describe();
      EXPECT_EQ(e["emergency_licenses"], 0) << view.describe();
      apps += e.value("applications", size_t{0});
      subs += e.value("subscriptions", size_t{0});
    }
    EXPECT_EQ(apps, n_apps + duplicates.size()) << view.describe();
    EXPECT_EQ(subs, n_apps) << view.describe();
  }

  // What happened, for the log.
  auto secs = [](auto d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count()
           / 1000.0;
  };
  std::string statuses;
  for (auto& [st, n] : stats.by_status)
    statuses += " " + std::to_string(st) + ":" + std::to_string(n);
  std::printf(
    "cluster_e2e: %zu applications, %zu requests (%s), %zu replayed; "
    "kill after %zu/%zu steps at %.1fs, b down %.1fs (%zu refusals, max "
    "%lld ms; %zu steps on a and c), rejoined in %.1fs; drive %.1fs, total "
    "%.1fs; %zu no-answer, %zu 504, %zu in-flight conflicts, %zu refusals "
    "while rejoining; apps a/b/c %zu/%zu/%zu; reading back %.1fs\n",
    n_apps, stats.requests.load(), statuses.c_str(), stats.replayed.load(),
    steps_at_kill, total_steps, secs(kill_at - drive_start),
    secs(restart_at - kill_at), outage_refusals,
    static_cast<long long>(stats.max_503_ms.load()), outage_progress,
    secs(rejoined_at - restart_at), secs(drive_end - drive_start),
    secs(steady::now() - t_start), stats.no_answer.load(),
    stats.timeouts_504.load(), stats.conflicts.load(),
    stats.rejoin_refusals.load(), apps_on[0], apps_on[1], apps_on[2],
    secs(check_took));
  {
    std::lock_guard<std::mutex> guard{stats.mtx};
    for (size_t i = 0; i < stats.notes.size() && i < 40; ++i)
      std::printf("  note: %s\n", stats.notes[i].c_str());
  }

  // Clean stops.
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(nodes_[i]->stop(), 0) << names[i] << logs();
}
