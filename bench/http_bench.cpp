// http_bench: requests/s and latency of a real tenured over HTTP, under wrk.
//
//   http_bench [--seconds N] [--connections 8,64] [--wrk-threads T]
//              [--tenured PATH] [--config FILE] [--wrk PATH]
//              [--summary FILE]
//
// Starts the real tenured (manual clock, a temporary data dir, free ports),
// submits one EDU university application (POST /v1/applications) and reads
// it back (GET /v1/applications/{id}) to learn the exact response bytes.
// Then wrk drives two workloads for N seconds at each connection count:
//
// - get:    GET /v1/applications/{id}, the same application every time;
// - submit: POST /v1/applications, a new application per request (distinct
//           organisation and applicant, so nothing in the node treats them
//           as repeats; each is a durable commit).
//
// Next to each, in the same run: the same wrk command against a minimal
// cpp-httplib server in this process, configured like the gateway
// (nodes/gateway.cpp: TCP_NODELAY, keep-alive up to 10000 requests, a thread
// pool of tenure.gateway.threads) that answers the bytes tenured answered:
// the application for GET, the first submit's 201 body for POST. The ratio
// (tenured / baseline requests/s) is what routing, auth, JSON and the
// actors cost on top of cpp-httplib.
//
// wrk and both servers share this machine's cores: the figures compare the
// two servers under the same load generator, not absolute capacity. A
// program, not a test; it stops by itself and stops tenured at the end.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/socket.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "bench/bench_tools.hpp"
#include "bench/summary.hpp"

using namespace std::chrono_literals;
using namespace tenure::bench;
using json = nlohmann::json;

namespace {

// -- the workloads ------------------------------------------------------------

/// The application submitted (bench_tools'), with a fixed website: `%s`
/// twice, for the applicant's email and the organisation's name.
const std::string app_template
  = application_template("https://uni.example.edu");

/// Every request a new body: thread number, run number and a counter make
/// the organisation and email unique across threads and runs.
std::string post_script(const std::string& token, int run) {
  std::ostringstream lua;
  lua << "local counter = 0\n"
      << "local threads = 0\n"
      << "function setup(thread)\n"
      << "  threads = threads + 1\n"
      << "  thread:set(\"tid\", threads)\n"
      << "end\n"
      << post_prelude(token, app_template) << "function request()\n"
      << "  counter = counter + 1\n"
      << "  local s = string.format(\"r" << run << "t%d-%d\", tid, counter)\n"
      << "  return wrk.format(nil, nil, nil, string.format(body, s, s))\n"
      << "end\n";
  return lua.str();
}

// -- the baseline server ------------------------------------------------------

/// A cpp-httplib server configured like nodes/gateway.cpp that answers
/// fixed bytes.
class baseline_server {
public:
  baseline_server(size_t threads, std::string get_body, std::string post_body)
    : get_body_(std::move(get_body))
    , post_body_(std::move(post_body)) {
    srv_.set_tcp_nodelay(true);
    srv_.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    srv_.set_keep_alive_max_count(100);
    srv_.set_keep_alive_timeout(5);
    srv_.set_read_timeout(10, 0);
    srv_.set_write_timeout(10, 0);
    srv_.set_payload_max_length(8u << 20);
    srv_.new_task_queue
      = [threads] { return new httplib::ThreadPool(threads); };
    srv_.Get(".*", [this](const httplib::Request&, httplib::Response& res) {
      res.status = 200;
      res.set_content(get_body_, "application/json");
    });
    srv_.Post(".*", [this](const httplib::Request&, httplib::Response& res) {
      res.status = 201;
      res.set_content(post_body_, "application/json");
    });
    port_ = srv_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) {
      std::fprintf(stderr, "baseline: cannot bind\n");
      std::exit(1);
    }
    thread_ = std::thread{[this] { srv_.listen_after_bind(); }};
    auto deadline = steady::now() + 10s;
    while (!srv_.is_running() && steady::now() < deadline)
      std::this_thread::sleep_for(1ms);
  }

  ~baseline_server() {
    srv_.stop();
    thread_.join();
  }

  int port() const {
    return port_;
  }

private:
  std::string get_body_;
  std::string post_body_;
  httplib::Server srv_;
  int port_ = 0;
  std::thread thread_;
};

// -- helpers ------------------------------------------------------------------

/// tenure.gateway.threads of `conf` (CAF config format), else its default.
size_t gateway_threads(const std::string& conf) {
  std::ifstream in{conf};
  std::string line;
  bool in_gateway = false;
  static const std::regex open{R"(^\s*gateway\s*\{)"};
  static const std::regex threads{R"(^\s*threads\s*=\s*(\d+))"};
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, open))
      in_gateway = true;
    else if (in_gateway && line.find('}') != std::string::npos)
      in_gateway = false;
    else if (in_gateway && std::regex_search(line, m, threads))
      return std::stoul(m[1]);
  }
  return 8;
}

std::string trim(std::string s) {
  while (!s.empty()
         && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.pop_back();
  return s;
}

[[noreturn]] void die(const std::string& what, const child* node) {
  std::fprintf(stderr, "http_bench: %s\n", what.c_str());
  if (node)
    std::fprintf(stderr, "tenured said:\n%s\n", node->output().c_str());
  // tenured dies with us (PR_SET_PDEATHSIG); its data goes too.
  remove_temp();
  std::exit(1);
}

} // namespace

int main(int argc, char** argv) {
  options opt{10};
  std::vector<int> connections{8, 64};
  summary sum;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--summary") {
      if (!sum.open(value))
        return 2;
    } else if (flag == "--connections") {
      connections.clear();
      std::stringstream ss{value};
      for (std::string item; std::getline(ss, item, ',');)
        if (auto n = std::atoi(item.c_str()); n > 0)
          connections.push_back(n);
    } else if (!opt.take(flag, value)) {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (connections.empty() || !opt.runnable()) {
    std::fprintf(stderr,
                 "usage: http_bench [--seconds N] [--connections "
                 "8,64] [--summary FILE] (needs %s and %s)\n",
                 opt.wrk.c_str(), opt.tenured.c_str());
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  auto dir = make_temp_dir("http_bench");
  if (dir.empty())
    die("cannot create a temp dir", nullptr);
  auto data = dir + "/data";

  // -- tenured ----------------------------------------------------------------
  auto node = std::make_unique<child>(std::vector<std::string>{
    opt.tenured, "--config", opt.conf, "--data", data, "--http-port", "0",
    "--shell-port", "0", "--clock", "manual", "--log-level", "warn"});
  auto line = node->wait_for("tenured: listening", 60s);
  if (!line)
    die("tenured did not start", node.get());
  std::smatch m;
  static const std::regex http_re{R"(http=([0-9.]+):(\d+))"};
  if (!std::regex_search(*line, m, http_re))
    die("no http address in: " + *line, node.get());
  std::string host = m[1];
  int port = std::stoi(m[2]);
  auto token = trim(read_file(data + "/admin.token"));
  if (token.empty())
    die("no admin token in " + data + "/admin.token", node.get());

  // -- learn the response bytes -----------------------------------------------
  httplib::Client cli{host, port};
  cli.set_connection_timeout(10, 0);
  cli.set_read_timeout(30, 0);
  httplib::Headers auth{{"Authorization", "Bearer " + token}};
  auto sub = cli.Post("/v1/applications", auth,
                      fill_template(app_template, "setup"), "application/json");
  if (!sub || sub->status != 201)
    die("POST /v1/applications: " + describe(sub), node.get());
  auto post_body = sub->body;
  auto app = json::parse(post_body, nullptr, false);
  if (!app.is_object() || !app.contains("id") || !app["id"].is_string())
    die("POST /v1/applications: no id in the answer", node.get());
  auto path = "/v1/applications/" + app["id"].get<std::string>();
  // The stand-in verifier may add to the history right after the submit:
  // wait until two reads agree (bounded).
  std::string get_body;
  for (auto deadline = steady::now() + 10s;;) {
    auto got = cli.Get(path.c_str(), auth);
    if (!got || got->status != 200)
      die("GET " + path + ": " + describe(got), node.get());
    if (got->body == get_body || steady::now() > deadline)
      break;
    get_body = got->body;
    std::this_thread::sleep_for(50ms);
  }
  std::fprintf(stderr,
               "tenured %s at %s:%d; GET answers %zu bytes (state %s), "
               "submit %zu bytes\n",
               opt.tenured.c_str(), host.c_str(), port, get_body.size(),
               app.value("state", std::string{"?"}).c_str(), post_body.size());

  // -- the baseline -----------------------------------------------------------
  auto threads = gateway_threads(opt.conf);
  baseline_server base{threads, get_body, post_body};

  auto get_lua = dir + "/get.lua";
  write_private_file(get_lua, get_script(token));
  struct row {
    std::string workload;
    int connections;
    wrk_result node;
    wrk_result base;
  };
  std::vector<row> rows;
  int run = 0;
  for (std::string workload : {"get", "submit"}) {
    for (auto c : connections) {
      row r{workload, c, {}, {}};
      for (bool against_node : {true, false}) {
        std::string script = get_lua;
        if (workload == "submit") {
          script = dir + "/post-" + std::to_string(++run) + ".lua";
          write_private_file(script, post_script(token, run));
        }
        auto url = "http://" + host + ":"
                   + std::to_string(against_node ? port : base.port())
                   + (workload == "get" ? path : "/v1/applications");
        std::fprintf(stderr, "wrk %s -c%d %ds against %s\n", workload.c_str(),
                     c, opt.seconds, against_node ? "tenured" : "baseline");
        (against_node ? r.node : r.base)
          = run_wrk(opt.wrk, opt.wrk_threads, c, opt.seconds, script, url);
      }
      rows.push_back(std::move(r));
    }
  }

  // -- stop tenured -----------------------------------------------------------
  node->signal(SIGTERM);
  auto code = node->wait(60s);
  if (!code) {
    std::fprintf(stderr, "tenured did not stop in 60 s; killed\n");
    node->signal(SIGKILL);
    node->wait(10s);
  } else if (*code != 0) {
    std::fprintf(stderr, "tenured exited with %d\n", *code);
  }
  node.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);

  // -- the table --------------------------------------------------------------
  std::printf("\nwrk -t%d -d%ds --latency; baseline: cpp-httplib, %zu "
              "threads, same bytes (GET %zu B, submit 201 %zu B)\n\n",
              opt.wrk_threads, opt.seconds, threads, get_body.size(),
              post_body.size());
  std::printf("| workload | connections | tenured req/s | p50 | p99 | "
              "baseline req/s | p50 | p99 | ratio | tenured errors |\n");
  std::printf("|---|--:|--:|--:|--:|--:|--:|--:|--:|--|\n");
  int failed = 0;
  for (auto& r : rows) {
    if (!r.node.ok || !r.base.ok)
      ++failed;
    std::printf("| %s | %d | %.0f | %s | %s | %.0f | %s | %s | %.2f | %s |\n",
                r.workload == "get" ? "GET application" : "submit (POST)",
                r.connections, r.node.rps, fmt_us(r.node.p50_us).c_str(),
                fmt_us(r.node.p99_us).c_str(), r.base.rps,
                fmt_us(r.base.p50_us).c_str(), fmt_us(r.base.p99_us).c_str(),
                r.base.rps > 0 ? r.node.rps / r.base.rps : 0.0,
                fmt_errors(r.node).c_str());
    sum.add("http_bench: " + std::string{r.workload == "get" ? "GET" : "submit"}
              + " -c" + std::to_string(r.connections) + " req/s (tenured)",
            summary::num("%.0f", r.node.rps) + " (p99 " + fmt_us(r.node.p99_us)
              + ", errors " + fmt_errors(r.node) + ")",
            summary::num("%.0f", r.base.rps) + " (bare cpp-httplib, p99 "
              + fmt_us(r.base.p99_us) + ")",
            summary::ratio(r.node.rps, r.base.rps));
  }
  if (std::any_of(connections.begin(), connections.end(),
                  [&](int c) { return static_cast<size_t>(c) > threads; }))
    std::printf(
      "\nNote: cpp-httplib serves a keep-alive connection on one pool thread "
      "until it\ncloses (10000 requests or 30 s idle). With more connections "
      "than the %zu threads,\nthe others wait for a thread: wrk 4.1 counts "
      "their requests only once answered\n(as a timeout when that took over "
      "2 s) and not at all when never answered.\n",
      threads);
  return failed == 0 ? 0 : 1;
}
