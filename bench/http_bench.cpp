// http_bench: requests/s and latency of a real tenured over HTTP, under wrk.
//
//   http_bench [--seconds N] [--connections 8,64] [--wrk-threads T]
//              [--tenured PATH] [--config FILE] [--wrk PATH]
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
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using json = nlohmann::json;

namespace {

// -- child processes ----------------------------------------------------------

/// A child whose stdout and stderr are read into memory by a thread (so a
/// chatty child never blocks on a full pipe). It dies with the bench
/// (PR_SET_PDEATHSIG) and is killed by the destructor if still running.
class child {
public:
  explicit child(std::vector<std::string> argv) {
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe failed");
    auto parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0)
      throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent)
        ::_exit(127);
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
      ::execv(args[0], args.data());
      std::fprintf(stderr, "cannot run %s: %s\n", args[0],
                   std::strerror(errno));
      ::_exit(127);
    }
    ::close(fds[1]);
    reader_ = std::thread{[this, fd = fds[0]] { read_loop(fd); }};
  }

  ~child() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      wait(10s);
    }
    if (reader_.joinable())
      reader_.join();
  }

  child(const child&) = delete;
  child& operator=(const child&) = delete;

  std::string output() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return out_;
  }

  /// Waits until the output contains `needle` in a complete line; returns
  /// that line.
  std::optional<std::string> wait_for(const std::string& needle,
                                      std::chrono::milliseconds timeout) {
    std::optional<std::string> found;
    auto find = [&] {
      auto pos = out_.find(needle);
      if (pos == std::string::npos)
        return false;
      auto end = out_.find('\n', pos);
      if (end == std::string::npos)
        return false;
      auto begin = out_.rfind('\n', pos);
      begin = begin == std::string::npos ? 0 : begin + 1;
      found = out_.substr(begin, end - begin);
      return true;
    };
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait_until(guard, steady::now() + timeout,
                   [&] { return find() || eof_; });
    return found;
  }

  void signal(int sig) {
    if (!reaped_)
      ::kill(pid_, sig);
  }

  /// Waits for the exit and returns its status code (128+signal when
  /// killed), or nothing on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    if (reaped_)
      return code_;
    auto deadline = steady::now() + timeout;
    for (;;) {
      int status = 0;
      auto r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        code_
          = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return code_;
      }
      if (steady::now() >= deadline)
        return std::nullopt;
      // Waiting for the end of a 10 s wrk run or a shutdown: a 5 ms step
      // costs nothing measurable.
      std::this_thread::sleep_for(5ms);
    }
  }

private:
  void read_loop(int fd) {
    char buf[4096];
    for (;;) {
      auto n = ::read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR)
        continue;
      std::lock_guard<std::mutex> guard{mtx_};
      if (n <= 0) {
        eof_ = true;
        cv_.notify_all();
        break;
      }
      out_.append(buf, static_cast<size_t>(n));
      // Keep the start (the banner lines) and the recent end.
      if (out_.size() > (1u << 20))
        out_.erase(4096, out_.size() - (1u << 19));
      cv_.notify_all();
    }
    ::close(fd);
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  int code_ = 0;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::string out_;
  bool eof_ = false;
  std::thread reader_;
};

// -- wrk ----------------------------------------------------------------------

struct wrk_result {
  bool ok = false;
  double rps = 0;
  double p50_us = 0;
  double p99_us = 0;
  uint64_t requests = 0;
  uint64_t non_2xx = 0;
  uint64_t socket_errors = 0; // connect + read + write + timeout
  std::string raw;
};

/// `12.34us`, `1.20ms`, `2.00s`, `1.00m` in microseconds.
double to_us(double v, const std::string& unit) {
  if (unit == "us")
    return v;
  if (unit == "ms")
    return v * 1e3;
  if (unit == "s")
    return v * 1e6;
  if (unit == "m")
    return v * 60e6;
  return -1;
}

wrk_result parse_wrk(const std::string& out) {
  wrk_result r;
  r.raw = out;
  std::smatch m;
  static const std::regex rps{R"(Requests/sec:\s+([0-9.]+))"};
  static const std::regex p50{R"(\n\s+50%\s+([0-9.]+)(us|ms|s|m)\b)"};
  static const std::regex p99{R"(\n\s+99%\s+([0-9.]+)(us|ms|s|m)\b)"};
  static const std::regex reqs{R"((\d+) requests in)"};
  static const std::regex non2xx{R"(Non-2xx or 3xx responses:\s+(\d+))"};
  static const std::regex sock{
    R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))"};
  if (!std::regex_search(out, m, rps))
    return r;
  r.rps = std::stod(m[1]);
  if (std::regex_search(out, m, p50))
    r.p50_us = to_us(std::stod(m[1]), m[2]);
  if (std::regex_search(out, m, p99))
    r.p99_us = to_us(std::stod(m[1]), m[2]);
  if (std::regex_search(out, m, reqs))
    r.requests = std::stoull(m[1]);
  if (std::regex_search(out, m, non2xx))
    r.non_2xx = std::stoull(m[1]);
  if (std::regex_search(out, m, sock))
    for (int i = 1; i <= 4; ++i)
      r.socket_errors += std::stoull(m[i]);
  r.ok = true;
  return r;
}

wrk_result run_wrk(const std::string& wrk, int threads, int connections,
                   int seconds, const std::string& script,
                   const std::string& url) {
  child c{{wrk, "-t" + std::to_string(std::min(threads, connections)),
           "-c" + std::to_string(connections),
           "-d" + std::to_string(seconds) + "s", "--latency", "-s", script,
           url}};
  auto code = c.wait(std::chrono::seconds(seconds + 60));
  if (!code) {
    std::fprintf(stderr, "wrk did not finish in time; killed\n");
    return {};
  }
  auto out = c.output();
  auto r = parse_wrk(out);
  if (*code != 0 || !r.ok)
    std::fprintf(stderr, "wrk failed (exit %d):\n%s\n", *code, out.c_str());
  return r;
}

// -- the workloads ------------------------------------------------------------

/// An EDU university application from a country without trade controls.
/// `%s` stands for a suffix that makes organisation and applicant unique.
const char* application_template
  = R"({"program":"edu",)"
    R"("applicant":{"name":"Ada Bench","email":"ada.%s@uni.example.edu",)"
    R"("job_title":"Lecturer","country":"GB"},)"
    R"("organisation":{"name":"University of Bench %s","country":"GB",)"
    R"("website":"https://uni.example.edu"},)"
    R"("edu":{"institution":"University of Bench","level":"university"},)"
    R"("hosting":"saas","seats":25,"support":"without","term":"1y"})";

std::string application_body(const std::string& suffix) {
  std::string out = application_template;
  for (auto pos = out.find("%s"); pos != std::string::npos;
       pos = out.find("%s", pos + suffix.size()))
    out.replace(pos, 2, suffix);
  return out;
}

/// A Lua string literal of `s` (long brackets cannot hold every string).
std::string lua_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += static_cast<char>(c);
  }
  return out + "\"";
}

void write_private_file(const std::string& path, const std::string& text) {
  // The scripts hold the admin token: readable by this user only.
  auto fd
    = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0
      || ::write(fd, text.data(), text.size())
           != static_cast<ssize_t>(text.size())) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
  ::close(fd);
}

std::string get_script(const std::string& token) {
  return "wrk.method = \"GET\"\n"
         "wrk.headers[\"Authorization\"] = "
         + lua_quote("Bearer " + token) + "\n";
}

/// Every request a new body: thread number, run number and a counter make
/// the organisation and email unique across threads and runs.
std::string post_script(const std::string& token, int run) {
  // string.format's template: our %s placeholders stay, any other % is
  // doubled.
  std::string tpl = application_template;
  std::string lua_tpl;
  for (size_t i = 0; i < tpl.size(); ++i)
    if (tpl[i] == '%' && (i + 1 == tpl.size() || tpl[i + 1] != 's'))
      lua_tpl += "%%";
    else
      lua_tpl += tpl[i];
  std::ostringstream lua;
  lua << "local counter = 0\n"
      << "local threads = 0\n"
      << "function setup(thread)\n"
      << "  threads = threads + 1\n"
      << "  thread:set(\"tid\", threads)\n"
      << "end\n"
      << "wrk.method = \"POST\"\n"
      << "wrk.headers[\"Content-Type\"] = \"application/json\"\n"
      << "wrk.headers[\"Authorization\"] = " << lua_quote("Bearer " + token)
      << "\n"
      << "local body = " << lua_quote(lua_tpl) << "\n"
      << "function request()\n"
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

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string trim(std::string s) {
  while (!s.empty()
         && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.pop_back();
  return s;
}

std::string fmt_us(double us) {
  char buf[32];
  if (us < 0)
    return "?";
  if (us < 1000)
    std::snprintf(buf, sizeof(buf), "%.0f us", us);
  else if (us < 1e6)
    std::snprintf(buf, sizeof(buf), "%.2f ms", us / 1e3);
  else
    std::snprintf(buf, sizeof(buf), "%.2f s", us / 1e6);
  return buf;
}

std::string fmt_errors(const wrk_result& r) {
  if (r.non_2xx == 0 && r.socket_errors == 0)
    return "0";
  return std::to_string(r.non_2xx) + " non-2xx, "
         + std::to_string(r.socket_errors) + " socket";
}

/// The temporary directory (data dir, wrk scripts), removed on every exit.
std::string temp_root;

[[noreturn]] void die(const std::string& what, const child* node) {
  std::fprintf(stderr, "http_bench: %s\n", what.c_str());
  if (node)
    std::fprintf(stderr, "tenured said:\n%s\n", node->output().c_str());
  // tenured dies with us (PR_SET_PDEATHSIG); its data goes too.
  if (!temp_root.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(temp_root, ec);
  }
  std::exit(1);
}

} // namespace

int main(int argc, char** argv) {
  int seconds = 10;
  std::vector<int> connections{8, 64};
  int wrk_threads = 2;
  std::string tenured = TENURED_PATH;
  std::string conf = std::string{TENURE_SOURCE_DIR} + "/config/tenured.conf";
  std::string wrk = "/usr/bin/wrk";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--seconds") {
      seconds = std::max(1, std::atoi(value.c_str()));
    } else if (flag == "--connections") {
      connections.clear();
      std::stringstream ss{value};
      for (std::string item; std::getline(ss, item, ',');)
        if (auto n = std::atoi(item.c_str()); n > 0)
          connections.push_back(n);
    } else if (flag == "--wrk-threads") {
      wrk_threads = std::max(1, std::atoi(value.c_str()));
    } else if (flag == "--tenured") {
      tenured = value;
    } else if (flag == "--config") {
      conf = value;
    } else if (flag == "--wrk") {
      wrk = value;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (connections.empty() || ::access(wrk.c_str(), X_OK) != 0
      || ::access(tenured.c_str(), X_OK) != 0) {
    std::fprintf(stderr,
                 "usage: http_bench [--seconds N] [--connections "
                 "8,64] (needs %s and %s)\n",
                 wrk.c_str(), tenured.c_str());
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  char tmpl[] = "/tmp/http_bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    die("cannot create a temp dir", nullptr);
  std::string dir = tmpl;
  temp_root = dir;
  auto data = dir + "/data";

  // -- tenured ----------------------------------------------------------------
  auto node = std::make_unique<child>(std::vector<std::string>{
    tenured, "--config", conf, "--data", data, "--http-port", "0",
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
  auto sub = cli.Post("/v1/applications", auth, application_body("setup"),
                      "application/json");
  if (!sub || sub->status != 201)
    die("POST /v1/applications: "
          + (sub ? std::to_string(sub->status) + " " + sub->body
                 : httplib::to_string(sub.error())),
        node.get());
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
      die("GET " + path + ": "
            + (got ? std::to_string(got->status) + " " + got->body
                   : httplib::to_string(got.error())),
          node.get());
    if (got->body == get_body || steady::now() > deadline)
      break;
    get_body = got->body;
    std::this_thread::sleep_for(50ms);
  }
  std::fprintf(stderr,
               "tenured %s at %s:%d; GET answers %zu bytes (state %s), "
               "submit %zu bytes\n",
               tenured.c_str(), host.c_str(), port, get_body.size(),
               app.value("state", std::string{"?"}).c_str(), post_body.size());

  // -- the baseline -----------------------------------------------------------
  auto threads = gateway_threads(conf);
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
                     c, seconds, against_node ? "tenured" : "baseline");
        (against_node ? r.node : r.base)
          = run_wrk(wrk, wrk_threads, c, seconds, script, url);
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
              wrk_threads, seconds, threads, get_body.size(), post_body.size());
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
