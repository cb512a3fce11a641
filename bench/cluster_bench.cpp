// cluster_bench: forwarded vs. local commands in a cluster on one machine
// (issue 6), under wrk.
//
//   cluster_bench [--seconds N] [--connections C] [--wrk-threads T]
//                 [--rounds R] [--nodes 2|3] [--tenured PATH]
//                 [--config FILE] [--wrk PATH] [--keep] [--summary FILE]
//
// Defaults: 3 s per wrk run, 8 connections, 2 wrk threads, 2 rounds, 2
// nodes: 8 wrk runs, about 30 s in all.
//
// Starts 2 (or 3) real tenured nodes on 127.0.0.1 as one cluster: one
// configuration file (the shipped one with tenure.cluster.members, a shared
// keys file, a shared callback secret and a cluster secret set), each node
// started with `--node NAME`, its own data dir, `--http-port 0
// --shell-port 0 --clock manual`. The node-to-node ports are free ports
// picked at start. Every request goes to node a; what differs is who owns
// the entity:
//
// - get:    GET /v1/applications/{id}, always the same application, owned
//           by a (local) or by b (forwarded over CAF to b and back);
// - submit: POST /v1/applications with an Idempotency-Key, a new key,
//           organisation and applicant per request; the owner of the
//           organisation ("org/edu/<website host>") handles it, so keys
//           (which name the website) are drawn in this program with
//           ownership::owner_of until their organisations are owned by a
//           (local) or b (forwarded). Each is a durable commit on the owner
//           (the entity, then the idempotency row).
//
// Local and forwarded runs of a workload follow each other in the same
// cluster, in alternating order per round (a b, b a, ...), so their ratio
// (forwarded / local requests/s) is the figure; absolute numbers drift with
// the machine. The table gives the medians over the rounds and the median
// of the per-round ratios; the lines under it the ratio of every round and
// where the submitted applications went (GET /v1/cluster counts before and
// after each submit run: all on the owner of the keys). wrk and all nodes
// share this machine's cores: a forwarded request costs CPU on two nodes.
//
// A program, not a test: it stops by itself, stops the nodes (SIGTERM) and
// removes its temporary directory (unless --keep), also on SIGINT/SIGTERM.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "actors/ownership.hpp"
#include "bench/bench_tools.hpp"
#include "bench/summary.hpp"

using namespace std::chrono_literals;
using namespace tenure::bench;
using json = nlohmann::json;

namespace {

// -- the workloads ------------------------------------------------------------

/// The Idempotency-Key of number `n` in run `run`.
std::string idem_key(int run, uint64_t n) {
  return "cb" + std::to_string(run) + "-" + std::to_string(n);
}

/// The application submitted (bench_tools'), its website named by the
/// suffix too: `%s` three times, for the applicant's email, the
/// organisation's name and its website's host (SUFFIX.bench.example).
const std::string app_template
  = application_template("https://%s.bench.example");

/// Every request a fresh Idempotency-Key from `numbers` (keys
/// idem_key(run, n), all owned by one member); threads take every T-th
/// number, so no key is sent twice until the list runs out (then a thread
/// starts over and `done` says so: those requests are replays).
std::string post_script(const std::string& token, int run, int threads,
                        const std::vector<uint64_t>& numbers) {
  std::ostringstream lua;
  lua << "local numbers = {";
  for (size_t i = 0; i < numbers.size(); ++i)
    lua << (i % 16 == 0 ? "\n" : "") << numbers[i] << ",";
  lua << "\n}\n"
      << "local nthreads = " << threads << "\n"
      << "local created = 0\n"
      << "local all = {}\n"
      << "function setup(thread)\n"
      << "  created = created + 1\n"
      << "  thread:set(\"tid\", created)\n"
      << "  table.insert(all, thread)\n"
      << "end\n"
      << post_prelude(token, app_template) << "local count = 0\n"
      << "wrapped = 0\n"
      << "function request()\n"
      << "  local i = tid + count * nthreads\n"
      << "  if i > #numbers then\n"
      << "    wrapped = 1\n"
      << "    count = 0\n"
      << "    i = tid\n"
      << "  end\n"
      << "  count = count + 1\n"
      << "  local s = \"cb" << run << "-\" .. numbers[i]\n"
      << "  wrk.headers[\"Idempotency-Key\"] = s\n"
      << "  return wrk.format(nil, nil, nil, string.format(body, s, s, s))\n"
      << "end\n"
      << "function done(summary, latency, requests)\n"
      << "  for _, t in ipairs(all) do\n"
      << "    if t:get(\"wrapped\") == 1 then\n"
      << "      io.write(\"cluster_bench: keys wrapped\\n\")\n"
      << "      return\n"
      << "    end\n"
      << "  end\n"
      << "end\n";
  return lua.str();
}

/// Whether the submit script of a run ran out of fresh keys (its done()
/// says so in wrk's output).
bool keys_wrapped(const wrk_result& r) {
  return r.raw.find("cluster_bench: keys wrapped") != std::string::npos;
}

// -- helpers ------------------------------------------------------------------

std::string hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

/// 32 random bytes as 64 hex digits.
std::string random_token() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof(raw)) != 1) {
    std::fprintf(stderr, "cannot draw random bytes\n");
    std::exit(1);
  }
  return hex(raw, sizeof(raw));
}

std::string sha256_hex(const std::string& s) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), out);
  return hex(out, sizeof(out));
}

/// The median of `v` (the mean of the middle two for an even count).
double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  auto n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct node_proc {
  std::string name;
  uint16_t cluster_port = 0;
  std::string data;
  std::unique_ptr<child> proc;
  std::string host;
  int http_port = 0;
};

std::vector<node_proc>* all_nodes = nullptr;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "cluster_bench: %s\n", what.c_str());
  if (all_nodes)
    for (auto& n : *all_nodes)
      if (n.proc)
        std::fprintf(stderr, "-- tenured --node %s said:\n%s\n", n.name.c_str(),
                     n.proc->output().c_str());
  if (all_nodes)
    for (auto& n : *all_nodes)
      n.proc.reset(); // SIGKILL, before the data goes
  remove_temp();
  std::exit(1);
}

/// GET /v1/cluster of `cli`, or null JSON.
json cluster_status(httplib::Client& cli, const httplib::Headers& auth) {
  auto r = cli.Get("/v1/cluster", auth);
  if (!r || r->status != 200)
    return nullptr;
  return json::parse(r->body, nullptr, false);
}

/// The applications count of every member in a /v1/cluster answer.
std::map<std::string, int64_t> app_counts(const json& status) {
  std::map<std::string, int64_t> out;
  if (!status.is_object() || !status.contains("members"))
    return out;
  for (auto& m : status["members"]) {
    auto name = m.value("name", std::string{});
    if (m.contains("entities") && m["entities"].is_object()
        && m["entities"].contains("applications")
        && m["entities"]["applications"].is_number_integer())
      out[name] = m["entities"]["applications"].get<int64_t>();
    else
      out[name] = -1;
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  options opt{3};
  int connections = 8;
  int node_count = 2;
  int rounds = 2;
  summary sum;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--keep") {
      keep_temp = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", flag.c_str());
      return 2;
    }
    std::string value = argv[++i];
    if (flag == "--summary") {
      if (!sum.open(value))
        return 2;
    } else if (flag == "--connections") {
      connections = std::max(1, std::atoi(value.c_str()));
    } else if (flag == "--rounds") {
      rounds = std::max(1, std::atoi(value.c_str()));
    } else if (flag == "--nodes") {
      node_count = std::atoi(value.c_str());
    } else if (!opt.take(flag, value)) {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if ((node_count != 2 && node_count != 3) || !opt.runnable()
      || !std::ifstream{opt.conf}) {
    std::fprintf(
      stderr,
      "usage: cluster_bench [--seconds N] [--connections C] "
      "[--wrk-threads T] [--rounds R] [--nodes 2|3] [--tenured PATH] "
      "[--config FILE] [--wrk PATH] [--keep] [--summary FILE]\n(needs %s, "
      "%s and "
      "%s)\n",
      opt.wrk.c_str(), opt.tenured.c_str(), opt.conf.c_str());
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  start_signal_thread("cluster_bench");
  auto dir = make_temp_dir("cluster_bench");
  if (dir.empty()) {
    std::fprintf(stderr, "cannot create a temp dir\n");
    return 1;
  }

  // -- one configuration for every member -------------------------------------
  std::vector<node_proc> nodes;
  all_nodes = &nodes;
  std::vector<tenure::cluster_member> members;
  std::string member_list;
  for (int i = 0; i < node_count; ++i) {
    node_proc n;
    n.name = std::string(1, static_cast<char>('a' + i));
    n.cluster_port = free_port();
    n.data = dir + "/data-" + n.name;
    members.push_back({n.name, "127.0.0.1", n.cluster_port});
    member_list += (member_list.empty() ? "" : ", ") + std::string{"\""}
                   + n.name + "@127.0.0.1:" + std::to_string(n.cluster_port)
                   + "\"";
    nodes.push_back(std::move(n));
  }
  auto own = tenure::ownership::make(members);
  if (!own)
    die("ownership::make refused the members");
  auto token = random_token();
  json keys{{"keys", json::array({json{{"name", "bench"},
                                       {"token_sha256", sha256_hex(token)},
                                       {"scopes", json::array({"admin"})}}})}};
  write_private_file(dir + "/keys.json", keys.dump(2) + "\n");
  write_private_file(dir + "/cb.secret", random_token() + "\n");
  write_private_file(dir + "/cluster.secret", random_token() + "\n");
  auto conf_dir = std::filesystem::absolute(opt.conf)
                    .parent_path()
                    .lexically_normal()
                    .string();
  auto conf_text = rewrite_conf(
    read_file(opt.conf), conf_dir,
    {{"tenure.node.host", "\"127.0.0.1\""},
     {"tenure.cluster.members", "[" + member_list + "]"},
     {"tenure.cluster.secret-file", "\"" + dir + "/cluster.secret\""},
     {"tenure.gateway.keys-file", "\"" + dir + "/keys.json\""},
     {"tenure.verifier.callback-secret-file", "\"" + dir + "/cb.secret\""}});
  auto cluster_conf = dir + "/tenured.conf";
  write_private_file(cluster_conf, conf_text);

  // -- the nodes --------------------------------------------------------------
  for (auto& n : nodes)
    n.proc = std::make_unique<child>(std::vector<std::string>{
      opt.tenured, "--config", cluster_conf, "--node", n.name, "--data", n.data,
      "--http-port", "0", "--shell-port", "0", "--clock", "manual",
      "--log-level", "warn"});
  static const std::regex http_re{R"(http=([0-9.]+):(\d+))"};
  for (auto& n : nodes) {
    auto line = n.proc->wait_for("tenured: listening", 60s);
    if (!line)
      die("tenured --node " + n.name + " did not start");
    std::smatch m;
    if (!std::regex_search(*line, m, http_re))
      die("no http address in: " + *line);
    n.host = m[1];
    n.http_port = std::stoi(m[2]);
    if (line->find("node=" + n.name) == std::string::npos)
      std::fprintf(stderr,
                   "warning: the listening line of %s does not say "
                   "node=%s: %s\n",
                   n.name.c_str(), n.name.c_str(), line->c_str());
  }
  auto& a = nodes[0];
  auto& b = nodes[1];
  httplib::Headers auth{{"Authorization", "Bearer " + token}};
  auto client = [](node_proc& n) {
    auto cli = std::make_unique<httplib::Client>(n.host, n.http_port);
    cli->set_connection_timeout(10, 0);
    cli->set_read_timeout(30, 0);
    return cli;
  };
  auto cli_a = client(a);
  auto cli_b = client(b);

  // Every member reachable from a (bounded).
  json status;
  for (auto deadline = steady::now() + 30s;;) {
    status = cluster_status(*cli_a, auth);
    bool all = status.is_object() && status.contains("members")
               && status["members"].is_array()
               && status["members"].size() == nodes.size();
    if (all)
      for (auto& m : status["members"])
        all = all && m.value("reachable", false);
    if (all)
      break;
    if (steady::now() > deadline)
      die("the cluster did not form in 30 s; GET /v1/cluster on a: "
          + (status.is_null() ? std::string{"no answer"} : status.dump()));
    std::this_thread::sleep_for(100ms);
  }

  // -- one application owned by a, one by b -----------------------------------
  // The owner of the organisation ("org/edu/<website host>", the host being
  // SUFFIX.bench.example) handles a submit and mints an id it owns.
  auto org_owner = [&](const std::string& suffix) {
    return own->owner_of("org/edu/" + suffix + ".bench.example").name;
  };
  auto owned_suffix = [&](const std::string& prefix, const std::string& want) {
    for (int n = 0;; ++n)
      if (org_owner(prefix + std::to_string(n)) == want)
        return prefix + std::to_string(n);
  };
  auto submit = [&](httplib::Client& cli, const std::string& suffix,
                    const std::string& key) {
    auto headers = auth;
    if (!key.empty())
      headers.emplace("Idempotency-Key", key);
    auto r = cli.Post("/v1/applications", headers,
                      fill_template(app_template, suffix), "application/json");
    if (!r || r->status != 201)
      die("POST /v1/applications: " + describe(r));
    auto app = json::parse(r->body, nullptr, false);
    if (!app.is_object() || !app.contains("id") || !app["id"].is_string())
      die("POST /v1/applications: no id in the answer");
    return app["id"].get<std::string>();
  };
  auto id_a = submit(*cli_a, owned_suffix("setup-a", a.name), "");
  auto id_b = submit(*cli_b, owned_suffix("setup-b", b.name), "");
  for (auto& [id, want] : {std::pair{id_a, a.name}, std::pair{id_b, b.name}})
    if (own->owner_of(id).name != want)
      die("application " + id + " was minted on " + want
          + " but ownership::owner_of says " + own->owner_of(id).name);
  // Keys: the owner of the key's organisation handles the submit and mints
  // the id there; check one key per side before the runs.
  std::vector<std::string> probe_owner;
  for (auto* want : {&a.name, &b.name}) {
    for (uint64_t n = 0;; ++n) {
      auto key = idem_key(0, n);
      if (org_owner(key) != *want)
        continue;
      auto id = submit(*cli_a, key, key);
      probe_owner.push_back(own->owner_of(id).name);
      if (probe_owner.back() != *want)
        std::fprintf(stderr,
                     "warning: a submit to a with Idempotency-Key %s "
                     "(owner of its organisation %s: %s) minted %s, owned "
                     "by %s\n",
                     key.c_str(), key.c_str(), want->c_str(), id.c_str(),
                     probe_owner.back().c_str());
      break;
    }
  }
  // The stand-in verifier may add to the history right after the submit:
  // wait until two reads agree (bounded). Then the forwarded answer must be
  // the owner's answer, unchanged.
  auto stable_get = [&](httplib::Client& cli, const std::string& path) {
    std::string body;
    for (auto deadline = steady::now() + 10s;;) {
      auto got = cli.Get(path.c_str(), auth);
      if (!got || got->status != 200)
        die("GET " + path + ": " + describe(got));
      if (got->body == body || steady::now() > deadline)
        return body;
      body = got->body;
      std::this_thread::sleep_for(50ms);
    }
  };
  auto path_a = "/v1/applications/" + id_a;
  auto path_b = "/v1/applications/" + id_b;
  auto body_a = stable_get(*cli_a, path_a);
  auto body_b = stable_get(*cli_a, path_b);
  // The forwarded answer is b's own, unchanged: compare until both agree
  // (the verification may still be starting on b), bounded.
  for (auto deadline = steady::now() + 10s;;) {
    auto direct_b = stable_get(*cli_b, path_b);
    if (direct_b == body_b)
      break;
    if (steady::now() > deadline) {
      std::fprintf(stderr,
                   "warning: GET %s through a differs from b's own answer:\n"
                   "  via a: %s\n  on b:  %s\n",
                   path_b.c_str(), body_b.c_str(), direct_b.c_str());
      break;
    }
    body_b = stable_get(*cli_a, path_b);
  }
  std::fprintf(stderr,
               "cluster of %d at 127.0.0.1 (a http %d, b http %d); GET "
               "answers %zu B (owned by a) and %zu B (owned by b)\n",
               node_count, a.http_port, b.http_port, body_a.size(),
               body_b.size());

  // -- the runs ---------------------------------------------------------------
  auto get_lua = dir + "/get.lua";
  write_private_file(get_lua, get_script(token));
  auto url_a = "http://" + a.host + ":" + std::to_string(a.http_port);
  struct row {
    std::string workload;
    std::vector<wrk_result> local;     // one per round
    std::vector<wrk_result> forwarded; // one per round
  };
  std::vector<row> rows;
  std::vector<std::string> notes;
  // Fresh keys for a submit run: more than 8 connections can submit in the
  // time at the best single-node rates seen (a few thousand/s).
  auto key_budget = static_cast<size_t>(opt.seconds) * 20000 + 10000;
  int run = 0;
  for (std::string workload : {"get", "submit"}) {
    row r{workload, {}, {}};
    // Rounds alternate the order (a b, b a, ...): whatever drifts during a
    // workload (the store grows, other load on the machine) falls on both.
    for (int round = 0; round < rounds; ++round)
      for (auto* owner : round % 2 == 0 ? std::vector<node_proc*>{&a, &b}
                                        : std::vector<node_proc*>{&b, &a}) {
        bool local = owner == &a;
        std::string script = get_lua;
        std::string url = url_a + (local ? path_a : path_b);
        std::map<std::string, int64_t> before;
        if (workload == "submit") {
          ++run;
          std::vector<uint64_t> numbers;
          for (uint64_t n = 0; numbers.size() < key_budget; ++n)
            if (org_owner(idem_key(run, n)) == owner->name)
              numbers.push_back(n);
          script = dir + "/post-" + std::to_string(run) + ".lua";
          write_private_file(script,
                             post_script(token, run,
                                         std::min(opt.wrk_threads, connections),
                                         numbers));
          url = url_a + "/v1/applications";
          before = app_counts(cluster_status(*cli_a, auth));
        }
        std::fprintf(stderr, "round %d: wrk %s -c%d %ds, owner %s (%s)\n",
                     round + 1, workload.c_str(), connections, opt.seconds,
                     owner->name.c_str(), local ? "local" : "forwarded");
        auto res = run_wrk(opt.wrk, opt.wrk_threads, connections, opt.seconds,
                           script, url);
        if (workload == "submit") {
          // Where the applications went: all on the owner of the keys.
          auto after = app_counts(cluster_status(*cli_a, auth));
          std::string where;
          for (auto& [name, count] : after) {
            auto was = before.count(name) ? before[name] : -1;
            where += " " + name + " +"
                     + (count < 0 || was < 0 ? std::string{"?"}
                                             : std::to_string(count - was));
          }
          auto note = "submit, keys owned by " + owner->name + ": "
                      + std::to_string(res.requests) + " requests; "
                      + "applications per node:" + where;
          std::fprintf(stderr, "%s\n", note.c_str());
          notes.push_back(note);
        }
        (local ? r.local : r.forwarded).push_back(std::move(res));
      }
    rows.push_back(std::move(r));
  }

  // -- stop the nodes ---------------------------------------------------------
  for (auto& n : nodes)
    n.proc->signal(SIGTERM);
  for (auto& n : nodes) {
    auto code = n.proc->wait(60s);
    if (!code) {
      std::fprintf(stderr, "tenured --node %s did not stop in 60 s; killed\n",
                   n.name.c_str());
      n.proc->signal(SIGKILL);
      n.proc->wait(10s);
    } else if (*code != 0) {
      std::fprintf(stderr, "tenured --node %s exited with %d:\n%s\n",
                   n.name.c_str(), *code, n.proc->output().c_str());
    }
    n.proc.reset();
  }
  all_nodes = nullptr;
  if (keep_temp)
    std::fprintf(stderr, "kept %s\n", dir.c_str());
  remove_temp();

  // -- the table --------------------------------------------------------------
  std::printf("\n%d nodes on 127.0.0.1, all requests to a; wrk -t%d -c%d "
              "-d%ds --latency; local = owned by a, forwarded = owned by b; "
              "%d round(s), medians\n\n",
              node_count, std::min(opt.wrk_threads, connections), connections,
              opt.seconds, rounds);
  std::printf("| workload | local req/s | p50 | p99 | forwarded req/s | p50 | "
              "p99 | ratio fwd/local | errors local / fwd |\n");
  std::printf("|---|--:|--:|--:|--:|--:|--:|--:|--|\n");
  int failed = 0;
  for (auto& r : rows) {
    auto med = [](const std::vector<wrk_result>& xs, double wrk_result::*f) {
      std::vector<double> v;
      for (auto& x : xs)
        if (x.ok)
          v.push_back(x.*f);
      return median(v);
    };
    std::vector<double> ratios;
    std::string per_round;
    for (size_t i = 0; i < r.local.size() && i < r.forwarded.size(); ++i) {
      if (!r.local[i].ok || !r.forwarded[i].ok) {
        ++failed;
        per_round += per_round.empty() ? "failed" : ", failed";
        continue;
      }
      auto ratio
        = r.local[i].rps > 0 ? r.forwarded[i].rps / r.local[i].rps : 0.0;
      ratios.push_back(ratio);
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%s%.2f", per_round.empty() ? "" : ", ",
                    ratio);
      per_round += buf;
    }
    auto errors = [](const std::vector<wrk_result>& xs) {
      wrk_result sum;
      bool wrapped = false;
      int failed_runs = 0;
      for (auto& x : xs) {
        failed_runs += x.ok ? 0 : 1;
        sum.non_2xx += x.non_2xx;
        sum.socket_errors += x.socket_errors;
        wrapped = wrapped || keys_wrapped(x);
      }
      return fmt_errors(sum) + (wrapped ? ", keys reused" : "")
             + (failed_runs > 0
                  ? ", " + std::to_string(failed_runs) + " wrk run(s) failed"
                  : std::string{});
    };
    auto name = r.workload == "get"
                  ? std::string{"GET application"}
                  : std::string{"submit (POST, Idempotency-Key)"};
    std::printf("| %s | %.0f | %s | %s | %.0f | %s | %s | %.2f | %s / %s |\n",
                name.c_str(), med(r.local, &wrk_result::rps),
                fmt_us(med(r.local, &wrk_result::p50_us)).c_str(),
                fmt_us(med(r.local, &wrk_result::p99_us)).c_str(),
                med(r.forwarded, &wrk_result::rps),
                fmt_us(med(r.forwarded, &wrk_result::p50_us)).c_str(),
                fmt_us(med(r.forwarded, &wrk_result::p99_us)).c_str(),
                median(ratios), errors(r.local).c_str(),
                errors(r.forwarded).c_str());
    if (rounds > 1)
      notes.push_back(name + ": ratio per round " + per_round);
    sum.add(
      "cluster_bench: " + name + ", " + std::to_string(node_count)
        + " nodes, -c" + std::to_string(connections) + ", forwarded req/s",
      summary::num("%.0f", med(r.forwarded, &wrk_result::rps)) + " (p99 "
        + fmt_us(med(r.forwarded, &wrk_result::p99_us)) + ")",
      summary::num("%.0f", med(r.local, &wrk_result::rps)) + " local (p99 "
        + fmt_us(med(r.local, &wrk_result::p99_us)) + ")",
      ratios.empty() ? "-" : summary::num("%.2f", median(ratios)));
  }
  std::printf("\n");
  for (auto& n : notes)
    std::printf("%s\n", n.c_str());
  return failed == 0 ? 0 : 1;
}
