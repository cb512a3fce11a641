#include "bench/bench_tools.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <stdexcept>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace std::chrono_literals;

namespace tenure::bench {

namespace {

/// Children alive, killed by the signal thread on SIGINT/SIGTERM. Held
/// across fork and reaping, so that thread never misses nor kills a stale
/// pid.
std::mutex children_mtx;
std::vector<pid_t> children_alive;

} // namespace

// -- options ------------------------------------------------------------------

options::options(int seconds)
  : seconds(seconds)
  , tenured(TENURED_PATH)
  , conf(std::string{TENURE_SOURCE_DIR} + "/config/tenured.conf") {
}

bool options::take(const std::string& flag, const std::string& value) {
  if (flag == "--seconds")
    seconds = std::max(1, std::atoi(value.c_str()));
  else if (flag == "--wrk-threads")
    wrk_threads = std::max(1, std::atoi(value.c_str()));
  else if (flag == "--tenured")
    tenured = value;
  else if (flag == "--config")
    conf = value;
  else if (flag == "--wrk")
    wrk = value;
  else
    return false;
  return true;
}

bool options::runnable() const {
  return ::access(wrk.c_str(), X_OK) == 0
         && ::access(tenured.c_str(), X_OK) == 0;
}

// -- the temporary directory and signals
// ---------------------------------------

std::string temp_root;
bool keep_temp = false;

std::string make_temp_dir(const std::string& name) {
  auto tmpl = "/tmp/" + name + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr)
    return {};
  temp_root = tmpl;
  return tmpl;
}

void remove_temp() {
  if (!temp_root.empty() && !keep_temp) {
    std::error_code ec;
    std::filesystem::remove_all(temp_root, ec);
  }
}

void start_signal_thread(std::string program) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread{[set, program = std::move(program)] {
    int sig = 0;
    while (::sigwait(&set, &sig) != 0) {
    }
    std::fprintf(stderr, "%s: signal %d, stopping\n", program.c_str(), sig);
    {
      std::lock_guard<std::mutex> guard{children_mtx};
      for (auto pid : children_alive)
        ::kill(pid, SIGKILL);
      for (auto pid : children_alive)
        ::waitpid(pid, nullptr, 0);
    }
    remove_temp();
    std::_Exit(128 + sig);
  }}.detach();
}

// -- child processes
// -------------------------------------------------------------

child::child(std::vector<std::string> argv, std::string log) {
  if (!log.empty()) {
    log_fd_
      = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd_ < 0)
      throw std::runtime_error("cannot open " + log);
  }
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  auto parent = ::getpid();
  std::lock_guard<std::mutex> guard{children_mtx};
  pid_ = ::fork();
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent)
      ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  children_alive.push_back(pid_);
  ::close(fds[1]);
  reader_ = std::thread{[this, fd = fds[0]] { read_loop(fd); }};
}

child::~child() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    wait(10s);
  }
  if (reader_.joinable())
    reader_.join();
  if (log_fd_ >= 0)
    ::close(log_fd_);
}

std::string child::output() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return out_;
}

std::optional<std::string> child::wait_for(const std::string& needle,
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

bool child::wait_eof(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> guard{mtx_};
  return cv_.wait_until(guard, steady::now() + timeout, [&] { return eof_; });
}

void child::signal(int sig) {
  if (!reaped_)
    ::kill(pid_, sig);
}

std::optional<int> child::wait(std::chrono::milliseconds timeout) {
  if (reaped_)
    return code_;
  auto deadline = steady::now() + timeout;
  for (;;) {
    int status = 0;
    std::unique_lock<std::mutex> guard{children_mtx};
    auto r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      children_alive.erase(
        std::remove(children_alive.begin(), children_alive.end(), pid_),
        children_alive.end());
      code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return code_;
    }
    guard.unlock();
    if (steady::now() >= deadline)
      return std::nullopt;
    // Waiting for the end of a wrk run or a shutdown: a 5 ms step costs
    // nothing measurable.
    std::this_thread::sleep_for(5ms);
  }
}

void child::read_loop(int fd) {
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
    if (log_fd_ >= 0 && ::write(log_fd_, buf, static_cast<size_t>(n)) != n)
      std::fprintf(stderr, "child: cannot write its log\n");
    out_.append(buf, static_cast<size_t>(n));
    // Keep the start (the banner lines) and the recent end.
    if (out_.size() > (1u << 20))
      out_.erase(4096, out_.size() - (1u << 19));
    cv_.notify_all();
  }
  ::close(fd);
}

// -- configuration
// ---------------------------------------------------------------

std::string rewrite_conf(const std::string& text, const std::string& conf_dir,
                         std::map<std::string, std::string> overrides) {
  static const std::regex open{R"(^\s*([A-Za-z0-9_-]+)\s*\{\s*(;.*)?$)"};
  static const std::regex close{R"(^\s*\}\s*(;.*)?$)"};
  static const std::regex assign{R"(^(\s*)([A-Za-z0-9_-]+)\s*=\s*(.*)$)"};
  static const std::regex quoted{R"(^"([^"]*)\"\s*(;.*)?$)"};
  std::vector<std::string> path;
  auto joined = [&] {
    std::string s;
    for (auto& p : path)
      s += (s.empty() ? "" : ".") + p;
    return s;
  };
  // Emits the overrides under `prefix` not applied yet, as nested groups.
  auto emit_missing = [&](const std::string& prefix, const std::string& indent,
                          std::ostringstream& out) {
    std::map<std::string, std::vector<std::pair<std::string, std::string>>>
      by_group;
    for (auto it = overrides.begin(); it != overrides.end();) {
      auto& full = it->first;
      if (prefix.empty()
          || full.compare(0, prefix.size() + 1, prefix + ".") == 0) {
        auto rest = prefix.empty() ? full : full.substr(prefix.size() + 1);
        auto dot = rest.rfind('.');
        auto group = dot == std::string::npos ? "" : rest.substr(0, dot);
        auto key = dot == std::string::npos ? rest : rest.substr(dot + 1);
        by_group[group].emplace_back(key, it->second);
        it = overrides.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [group, keys] : by_group) {
      std::vector<std::string> parts;
      std::stringstream ss{group};
      for (std::string p; std::getline(ss, p, '.');)
        if (!p.empty())
          parts.push_back(p);
      std::string ind = indent;
      for (auto& p : parts) {
        out << ind << p << " {\n";
        ind += "  ";
      }
      for (auto& [k, v] : keys)
        out << ind << k << " = " << v << "\n";
      for (size_t i = parts.size(); i > 0; --i) {
        ind.resize(ind.size() - 2);
        out << ind << "}\n";
      }
    }
  };
  std::ostringstream out;
  std::stringstream in{text};
  bool skipping_list = false;
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (skipping_list) {
      // The rest of a multi-line list whose key was replaced.
      if (line.find(']') != std::string::npos)
        skipping_list = false;
      continue;
    }
    if (std::regex_match(line, m, open)) {
      path.push_back(m[1]);
      out << line << "\n";
    } else if (std::regex_match(line, m, close)) {
      auto indent = std::string(2 * path.size(), ' ');
      if (!path.empty())
        emit_missing(joined(), indent, out);
      if (!path.empty())
        path.pop_back();
      out << line << "\n";
    } else if (std::regex_match(line, m, assign)) {
      std::string indent = m[1];
      std::string key = m[2];
      std::string value = m[3];
      auto full = joined() + (path.empty() ? "" : ".") + key;
      if (auto it = overrides.find(full); it != overrides.end()) {
        if (value.find('[') != std::string::npos
            && value.find(']') == std::string::npos)
          skipping_list = true;
        out << indent << key << " = " << it->second << "\n";
        overrides.erase(it);
      } else if (joined() == "tenure.data" && std::regex_match(value, m, quoted)
                 && !std::string{m[1]}.empty() && m.str(1)[0] != '/') {
        out << indent << key << " = \"" << conf_dir << "/" << m.str(1)
            << "\"\n";
      } else {
        out << line << "\n";
      }
    } else {
      out << line << "\n";
    }
  }
  emit_missing("", "", out);
  return out.str();
}

std::string conf_dir_of(const std::string& conf) {
  return std::filesystem::absolute(conf)
    .parent_path()
    .lexically_normal()
    .string();
}

// -- memory of a process
// ---------------------------------------------------------

memory memory_of(pid_t pid) {
  memory m;
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0)
      m.rss_kib = std::strtoull(line.c_str() + 6, nullptr, 10);
    else if (line.rfind("VmHWM:", 0) == 0)
      m.hwm_kib = std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return m;
}

bool reset_peak(pid_t pid) {
  std::ofstream out{"/proc/" + std::to_string(pid) + "/clear_refs"};
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// -- wrk
// -------------------------------------------------------------------------

namespace {

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

} // namespace

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
  // wrk has exited, but the reader thread may not have read all it printed.
  c.wait_eof(10s);
  auto out = c.output();
  auto r = parse_wrk(out);
  if (*code != 0 || !r.ok) {
    std::fprintf(stderr, "wrk failed (exit %d):\n%s\n", *code, out.c_str());
    r.ok = false;
  }
  return r;
}

// -- the application and the wrk scripts
// ---------------------------------------

std::string application_template(const std::string& website) {
  std::string out
    = R"({"program":"edu",)"
      R"("applicant":{"name":"Ada Bench","email":"ada.%s@uni.example.edu",)"
      R"("job_title":"Lecturer","country":"GB"},)"
      R"("organisation":{"name":"University of Bench %s","country":"GB",)";
  out += R"("website":")" + website + R"("},)";
  out += R"("edu":{"institution":"University of Bench","level":"university"},)"
         R"("hosting":"saas","seats":25,"support":"without","term":"1y"})";
  return out;
}

std::string fill_template(const std::string& tpl, const std::string& suffix) {
  std::string out = tpl;
  for (auto pos = out.find("%s"); pos != std::string::npos;
       pos = out.find("%s", pos + suffix.size()))
    out.replace(pos, 2, suffix);
  return out;
}

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

std::string get_script(const std::string& token) {
  return "wrk.method = \"GET\"\n"
         "wrk.headers[\"Authorization\"] = "
         + lua_quote("Bearer " + token) + "\n";
}

std::string post_prelude(const std::string& token, const std::string& tpl) {
  // string.format's template: the %s placeholders stay, any other % is
  // doubled.
  std::string lua_tpl;
  for (size_t i = 0; i < tpl.size(); ++i)
    if (tpl[i] == '%' && (i + 1 == tpl.size() || tpl[i + 1] != 's'))
      lua_tpl += "%%";
    else
      lua_tpl += tpl[i];
  return "wrk.method = \"POST\"\n"
         "wrk.headers[\"Content-Type\"] = \"application/json\"\n"
         "wrk.headers[\"Authorization\"] = "
         + lua_quote("Bearer " + token) + "\n"
         + "local body = " + lua_quote(lua_tpl) + "\n";
}

void write_private_file(const std::string& path, const std::string& text) {
  auto fd
    = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0
      || ::write(fd, text.data(), text.size())
           != static_cast<ssize_t>(text.size())) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    remove_temp();
    std::exit(1);
  }
  ::close(fd);
}

// -- helpers
// ---------------------------------------------------------------------

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0
      || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::fprintf(stderr, "cannot pick a free port\n");
    std::exit(1);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string describe(const httplib::Result& r) {
  return r ? std::to_string(r->status) + " " + r->body
           : httplib::to_string(r.error());
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

} // namespace tenure::bench
