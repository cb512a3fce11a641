// abuse_bench: abuse of the HTTP gateway of a real tenured (issue 7).
//
//   abuse_bench [--io-timeout S] [--parallel C] [--tokens N] [--slow N]
//               [--phases 1,2,3,4] [--tenured PATH] [--config FILE]
//               [--summary FILE] [--keep]
//
// Starts the real tenured (manual clock, a temporary data dir, free ports,
// `--log-level debug` so that every request is logged, its output kept
// whole in a file) with the configuration FILE (default: the shipped one)
// except tenure.gateway.io-timeout, which is S seconds (default 2, so the
// run is short; the shipped default is 10 s and every time limit below
// scales with it). Then, each against a baseline measured in the same run:
//
// 1. Oversized bodies and requests (each from C connections at once,
//    default 4): a body of max-body + 1 bytes sent whole; 100 MiB declared
//    and trickled (1 KiB every 100 ms) or cut after 1 MiB; 64 MiB chunked;
//    64 MiB streamed without Content-Length; a gzip bomb (256 MiB of zeros,
//    ~250 KiB gzipped); a 32 MiB request line, 32 MiB of header lines and
//    one 32 MiB header line. Each must get a 4xx with the API's JSON error,
//    and the node's peak RSS (VmHWM, reset before each attack) must stay
//    under idle + C x 3 x max-body + 32 MiB: a connection holds at most one
//    body of max-body, which cpp-httplib reads into a string and the
//    gateway copies once for the API (the third: the string's growth), and
//    32 MiB covers the allocator's arenas.
// 2. Slow clients: one well-behaved client (keep-alive GETs of one
//    application) runs alone, then next to N slow connections (default:
//    half the gateway's threads) that send a header byte every 100 ms, next
//    to N that send a body byte every 100 ms, and next to 2 x threads slow
//    header connections (more than the workers). Every slow connection must
//    be dropped (408) within io-timeout of reaching a worker; the good
//    client must see no failure, and while fewer slow connections than
//    workers run, no request slower than io-timeout. Figures: its req/s and
//    p99 under attack against alone.
// 3. Bad tokens: N requests (default 10,000) with wrong, near-miss,
//    malformed, missing and over-long Authorization headers, against N GETs
//    with the admin token: all must be 401 `unauthorized`; req/s and peak
//    RSS growth.
// 4. Malformed JSON at every field: for every field path of an EDU, OSS and
//    Startups application body, the field with a wrong type, null, missing,
//    a 1,000,000-character string, 10,000 levels of nesting, invalid UTF-8,
//    1e999, 2^64, a repeated key and trailing garbage. Every answer must be
//    400/413/422 naming the field (or, for syntax errors, the line and
//    column), except that a missing or null optional field may be accepted
//    (201); the applications listed before and after must differ by exactly
//    those accepted.
// At the end the node must be alive (/healthz), never have answered 5xx,
// stop cleanly on SIGTERM, and its log must hold none of the tokens sent.
//
// Prints a table (metric, figure, baseline, ratio) and the violated
// properties; exits 1 when there is any, 2 on bad usage. With --summary,
// appends the table's rows to FILE (bench/summary.hpp). A program, not a
// test: about 25 s on the 2-core build machine.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include "bench/bench_tools.hpp"
#include "bench/summary.hpp"

using namespace std::chrono_literals;
using namespace tenure::bench;
using json = nlohmann::json;

namespace {

using ms = std::chrono::milliseconds;

double ms_since(steady::time_point t0) {
  return std::chrono::duration<double, std::milli>(steady::now() - t0).count();
}

// -- the verdict --------------------------------------------------------------

/// The table and the properties the run violated.
struct report {
  struct row {
    std::string metric, figure, baseline, ratio;
  };
  std::vector<row> rows;
  std::vector<std::string> violations;
  summary sum;
  std::mutex mtx;

  void add(const std::string& metric, const std::string& figure,
           const std::string& baseline, const std::string& ratio) {
    rows.push_back({metric, figure, baseline, ratio});
    sum.add("abuse_bench: " + metric, figure, baseline, ratio);
  }

  void violated(const std::string& what) {
    std::lock_guard<std::mutex> guard{mtx};
    violations.push_back(what);
  }
};

report rep;

std::string mib(size_t kib) {
  return summary::num("%.1f MiB", static_cast<double>(kib) / 1024.0);
}

/// Text of a message for the table: its first `n` bytes, printable ASCII.
std::string clip(const std::string& s, size_t n = 90) {
  std::string out;
  for (char c : s.substr(0, n))
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out + (s.size() > n ? "..." : "");
}

// -- raw HTTP on a socket -----------------------------------------------------

/// What came back on a connection.
struct answer {
  /// 0: no status line came back.
  int status = 0;
  std::string body;
  /// From the first byte sent to the status line; negative without one.
  double ms = -1;
  size_t sent = 0;
};

int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (fd < 0
      || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (fd >= 0)
      ::close(fd);
    return -1;
  }
  int yes = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

/// Fills `a` from the bytes received; true once a whole answer (headers and
/// a Content-Length body) is there.
bool parse_answer(const std::string& in, answer& a) {
  if (a.status == 0 && in.size() >= 12 && in.compare(0, 5, "HTTP/") == 0)
    a.status = std::atoi(in.c_str() + 9);
  auto end = in.find("\r\n\r\n");
  if (end == std::string::npos)
    return false;
  static const std::regex len{R"(\r\n[Cc]ontent-[Ll]ength:\s*(\d+))"};
  std::smatch m;
  auto head = in.substr(0, end);
  size_t n = std::regex_search(head, m, len) ? std::stoul(m[1]) : 0;
  if (in.size() < end + 4 + n)
    return false;
  a.body = in.substr(end + 4, n);
  return true;
}

/// Sends `head`, then the pieces `next` gives ("" ends the request), at most
/// one per `pace`, reading all the while: stops at the first whole answer,
/// when the node closes, or `wait` after the last piece (then shuts the
/// sending side when `half_close`). Never longer than `cap`.
answer exchange(uint16_t port, const std::string& head,
                const std::function<std::string()>& next, ms pace, ms wait,
                bool half_close = false, ms cap = 60s) {
  answer a;
  int fd = connect_to(port);
  if (fd < 0)
    return a;
  auto t0 = steady::now();
  auto hard_end = t0 + cap;
  std::string out = head;
  size_t off = 0;
  std::string in;
  bool sending = true;
  auto piece_due = t0;
  auto end = hard_end;
  char buf[65536];
  for (;;) {
    auto now = steady::now();
    if (now >= end || now >= hard_end)
      break;
    if (sending && off == out.size() && now >= piece_due) {
      out = next();
      off = 0;
      piece_due = now + pace;
      if (out.empty()) {
        sending = false;
        end = std::min(hard_end, now + wait);
        if (half_close)
          ::shutdown(fd, SHUT_WR);
      }
    }
    pollfd p{fd, POLLIN, 0};
    if (sending && off < out.size())
      p.events |= POLLOUT;
    auto until = sending ? (off < out.size() ? now + 50ms : piece_due) : end;
    auto wait_ms = std::chrono::ceil<ms>(std::min(until, end) - now).count();
    ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, wait_ms)));
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      auto n = ::recv(fd, buf, sizeof(buf), 0);
      if (n > 0) {
        in.append(buf, static_cast<size_t>(n));
        bool had = a.status != 0;
        bool whole = parse_answer(in, a);
        if (!had && a.status != 0)
          a.ms = ms_since(t0);
        if (whole)
          break;
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        break;
      }
    }
    if (sending && (p.revents & POLLOUT) && off < out.size()) {
      auto n = ::send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
        a.sent += static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        // The node closed its side: read what it answered.
        sending = false;
        end = std::min(hard_end, steady::now() + wait);
      }
    }
  }
  parse_answer(in, a);
  ::close(fd);
  return a;
}

/// `n` pieces of `piece`, then "".
std::function<std::string()> repeat(std::string piece, size_t n,
                                    std::string last = {}) {
  auto left = std::make_shared<size_t>(n);
  auto tail = std::make_shared<std::string>(std::move(last));
  return [piece = std::move(piece), left, tail]() -> std::string {
    if (*left > 0) {
      --*left;
      return piece;
    }
    return std::exchange(*tail, std::string{});
  };
}

/// `n` zero bytes, gzipped.
std::string gzip_zeros(size_t n) {
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    return {};
  std::string zeros(1 << 20, '\0');
  std::string out;
  char buf[65536];
  for (size_t done = 0; done < n;) {
    auto chunk = std::min(zeros.size(), n - done);
    done += chunk;
    z.next_in = reinterpret_cast<Bytef*>(zeros.data());
    z.avail_in = static_cast<uInt>(chunk);
    int flush = done == n ? Z_FINISH : Z_NO_FLUSH;
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof(buf);
      deflate(&z, flush);
      out.append(buf, sizeof(buf) - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  return out;
}

// -- the node -----------------------------------------------------------------

struct node_info {
  child* proc = nullptr;
  uint16_t port = 0;
  std::string token;
  std::string token_hash; // what keys.json holds
  size_t max_body = 8u << 20;
  size_t threads = 8;
  int io_timeout_s = 2;
};

/// A 5xx is always a violation; says which request.
void no_5xx(int status, const std::string& what) {
  if (status >= 500)
    rep.violated(what + ": answered " + std::to_string(status));
}

/// An error body in the API's shape: its code and message.
bool error_of(const std::string& body, std::string& code, std::string& msg) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object())
    return false;
  code = j["error"].value("code", "");
  msg = j["error"].value("message", "");
  return !code.empty() && !msg.empty();
}

// -- 1. oversized bodies and requests -----------------------------------------

struct attack {
  std::string name;
  /// Answers it may get.
  std::vector<int> expected;
  std::function<answer(uint16_t)> run;
};

void oversized(const node_info& n, size_t parallel) {
  auto max = n.max_body;
  auto auth = "Authorization: Bearer " + n.token + "\r\n";
  auto post = "POST /v1/applications HTTP/1.1\r\nHost: bench\r\n" + auth
              + "Content-Type: application/json\r\n";
  const std::string k64(64 * 1024, 'x');
  auto bomb = std::make_shared<std::string>(gzip_zeros(size_t{256} << 20));
  std::vector<attack> attacks{
    {"body of max-body + 1 bytes, sent whole",
     {413},
     [=](uint16_t port) {
       auto pieces = (max + 1 + k64.size() - 1) / k64.size();
       return exchange(
         port, post + "Content-Length: " + std::to_string(max + 1) + "\r\n\r\n",
         repeat(k64, pieces - 1,
                std::string(max + 1 - (pieces - 1) * k64.size(), 'x')),
         0ms, 5s);
     }},
    {"100 MiB declared, trickled 1 KiB / 100 ms",
     {413},
     [=](uint16_t port) {
       return exchange(port, post + "Content-Length: 104857600\r\n\r\n",
                       repeat(std::string(1024, 'x'), 30), 100ms, 5s);
     }},
    {"100 MiB declared, cut after 1 MiB",
     {413},
     [=](uint16_t port) {
       return exchange(port, post + "Content-Length: 104857600\r\n\r\n",
                       repeat(k64, 16), 0ms, 5s, true);
     }},
    {"64 MiB chunked",
     {413},
     [=](uint16_t port) {
       return exchange(port, post + "Transfer-Encoding: chunked\r\n\r\n",
                       repeat("10000\r\n" + k64 + "\r\n", 1024, "0\r\n\r\n"),
                       0ms, 5s);
     }},
    {"64 MiB without Content-Length",
     // The request has no body (RFC 9112): 422 for the empty submission;
     // what follows is no request (431, or the connection closes).
     {422, 431},
     [=](uint16_t port) {
       return exchange(port, post + "\r\n", repeat(k64, 1024), 0ms, 5s);
     }},
    {"gzip bomb (256 MiB of zeros as " + std::to_string(bomb->size() >> 10)
       + " KiB)",
     {415},
     [=](uint16_t port) {
       return exchange(port,
                       post + "Content-Encoding: gzip\r\nContent-Length: "
                         + std::to_string(bomb->size()) + "\r\n\r\n",
                       repeat(*bomb, 1), 0ms, 5s);
     }},
    {"32 MiB request line",
     {414, 431},
     [=](uint16_t port) {
       return exchange(port, "GET /", repeat(k64, 512, " HTTP/1.1\r\n\r\n"),
                       0ms, 5s);
     }},
    {"32 MiB of header lines",
     {431},
     [=](uint16_t port) {
       std::string lines;
       while (lines.size() < k64.size())
         lines += "X-Abuse: " + std::string(90, 'b') + "\r\n";
       return exchange(port, "GET /healthz HTTP/1.1\r\nHost: bench\r\n" + auth,
                       repeat(lines, (32u << 20) / lines.size(), "\r\n"), 0ms,
                       5s);
     }},
    {"one 32 MiB header line",
     {400, 431},
     [=](uint16_t port) {
       return exchange(port, "GET /healthz HTTP/1.1\r\nHost: bench\r\nX-A: ",
                       repeat(k64, 512, "\r\n\r\n"), 0ms, 5s);
     }},
  };
  auto bound_kib = parallel * 3 * (max >> 10) + 32 * 1024;
  for (auto& a : attacks) {
    auto before = memory_of(n.proc->pid());
    bool peak_reset = reset_peak(n.proc->pid());
    std::vector<answer> got(parallel);
    std::vector<std::thread> threads;
    auto t0 = steady::now();
    for (size_t i = 0; i < parallel; ++i)
      threads.emplace_back([&, i] { got[i] = a.run(n.port); });
    for (auto& t : threads)
      t.join();
    auto secs = ms_since(t0) / 1000;
    auto after = memory_of(n.proc->pid());
    auto peak
      = peak_reset ? after.hwm_kib : std::max(after.hwm_kib, before.rss_kib);
    std::map<int, int> statuses;
    double slowest = 0;
    std::string message;
    for (auto& g : got) {
      ++statuses[g.status];
      slowest = std::max(slowest, g.ms);
      no_5xx(g.status, "oversized: " + a.name);
      std::string code, msg;
      if (std::find(a.expected.begin(), a.expected.end(), g.status)
          == a.expected.end())
        rep.violated("oversized: " + a.name + ": answered "
                     + (g.status ? std::to_string(g.status) : "nothing")
                     + " (expected one of the 4xx listed)");
      else if (!error_of(g.body, code, msg))
        rep.violated("oversized: " + a.name + ": no JSON error in "
                     + clip(g.body));
      else
        message = code + ": " + msg;
    }
    if (peak > before.rss_kib + bound_kib)
      rep.violated("oversized: " + a.name + ": peak RSS " + mib(peak)
                   + " over the bound idle " + mib(before.rss_kib) + " + "
                   + mib(bound_kib));
    std::string st;
    for (auto& [s, k] : statuses)
      st += (st.empty() ? "" : ", ") + std::to_string(k) + "x "
            + (s ? std::to_string(s) : "none");
    std::fprintf(stderr, "  %-44s %s in %.1f s, peak RSS %s\n", a.name.c_str(),
                 st.c_str(), secs, mib(peak).c_str());
    rep.add("oversized x" + std::to_string(parallel) + ": " + a.name + " -> "
              + st + " (" + clip(message, 60) + "), slowest "
              + summary::num("%.0f ms", slowest) + "; peak RSS",
            mib(peak), mib(before.rss_kib) + " before",
            summary::ratio(static_cast<double>(peak),
                           static_cast<double>(before.rss_kib)));
  }
  std::fprintf(stderr, "  RSS bound per attack: before + %s\n",
               mib(bound_kib).c_str());
}

// -- 2. slow clients ----------------------------------------------------------

struct good_result {
  size_t requests = 0;
  size_t failures = 0;
  double rps = 0;
  double p99_ms = 0;
  double max_ms = 0;
  std::string first_failure;
};

/// A well-behaved client: keep-alive GETs of `path` for `seconds`.
good_result good_client(const node_info& n, const std::string& path,
                        double seconds) {
  httplib::Client cli{"127.0.0.1", n.port};
  cli.set_keep_alive(true);
  cli.set_tcp_nodelay(true);
  cli.set_connection_timeout(10, 0);
  cli.set_read_timeout(4 * n.io_timeout_s + 10, 0);
  httplib::Headers auth{{"Authorization", "Bearer " + n.token}};
  std::vector<double> lat;
  good_result r;
  auto t0 = steady::now();
  auto end = t0 + std::chrono::duration<double>(seconds);
  while (steady::now() < end) {
    auto s = steady::now();
    auto res = cli.Get(path.c_str(), auth);
    lat.push_back(ms_since(s));
    if (!res || res->status != 200) {
      ++r.failures;
      if (r.first_failure.empty())
        r.first_failure = describe(res);
      if (res)
        no_5xx(res->status, "slow clients: the good client's GET");
    }
  }
  r.requests = lat.size();
  r.rps = static_cast<double>(lat.size()) / (ms_since(t0) / 1000);
  std::sort(lat.begin(), lat.end());
  if (!lat.empty()) {
    r.p99_ms = lat[std::min(lat.size() - 1, lat.size() * 99 / 100)];
    r.max_ms = lat.back();
  }
  return r;
}

struct slow_result {
  size_t opened = 0;
  size_t dropped = 0;
  /// Statuses the node answered them.
  std::map<int, int> statuses;
  /// Latest drop, from the connection's first byte.
  double last_drop_ms = 0;
};

/// `n` connections that send `prefix` and then one byte every `every`,
/// until the node drops each or `cap` passes.
slow_result slow_clients(uint16_t port, size_t n, const std::string& prefix,
                         ms every, ms cap) {
  struct conn {
    int fd;
    steady::time_point opened;
    std::string in;
    bool open = true;
  };
  std::vector<conn> conns;
  slow_result r;
  for (size_t i = 0; i < n; ++i) {
    int fd = connect_to(port);
    if (fd < 0)
      continue;
    ::send(fd, prefix.data(), prefix.size(), MSG_NOSIGNAL);
    conns.push_back({fd, steady::now(), {}, true});
  }
  r.opened = conns.size();
  auto end = steady::now() + cap;
  char buf[4096];
  while (steady::now() < end && r.dropped < r.opened) {
    for (auto& c : conns) {
      if (!c.open)
        continue;
      // What the node said, if anything, first.
      bool closed = false;
      for (;;) {
        auto k = ::recv(c.fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (k > 0) {
          c.in.append(buf, static_cast<size_t>(k));
          continue;
        }
        closed = k == 0 || (errno != EAGAIN && errno != EINTR);
        break;
      }
      answer a;
      bool whole = parse_answer(c.in, a);
      if (!closed && !whole
          && ::send(c.fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0
          && errno != EAGAIN && errno != EINTR)
        closed = true;
      if (closed || whole) {
        c.open = false;
        ++r.dropped;
        ++r.statuses[a.status];
        r.last_drop_ms = std::max(r.last_drop_ms, ms_since(c.opened));
        ::close(c.fd);
      }
    }
    std::this_thread::sleep_for(every);
  }
  for (auto& c : conns)
    if (c.open)
      ::close(c.fd);
  return r;
}

void slow(const node_info& n, const std::string& path, size_t slow_n) {
  auto io = n.io_timeout_s;
  auto seconds = std::max(3.0, 1.5 * io);
  auto alone = good_client(n, path, seconds);
  if (alone.failures > 0)
    rep.violated("slow clients: the good client failed alone: "
                 + alone.first_failure);
  struct phase {
    std::string name;
    size_t count;
    std::string prefix;
  };
  std::vector<phase> phases{
    {"header byte / 100 ms", slow_n,
     "GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Slow: "},
    {"body byte / 100 ms", slow_n,
     "POST /v1/applications HTTP/1.1\r\nHost: bench\r\nContent-Type: "
     "application/json\r\nContent-Length: 100000\r\n\r\n"},
    {"header byte / 100 ms, more than the workers", 2 * n.threads,
     "GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Slow: "},
  };
  for (auto& ph : phases) {
    bool saturating = ph.count >= n.threads;
    // Waves of `threads` connections each get io-timeout once they reach a
    // worker (the good client's connection takes one too).
    auto waves = (ph.count + 1 + n.threads - 1) / n.threads;
    auto bound_ms = static_cast<double>(waves * io * 1000 + 1500);
    // Past the workers, the good client waits for the waves: it runs a wave
    // longer, to be served after them too.
    auto good_seconds
      = saturating ? static_cast<double>((waves + 1) * io) : seconds;
    slow_result sr;
    std::thread attacker{[&] {
      sr = slow_clients(n.port, ph.count, ph.prefix, 100ms,
                        std::chrono::seconds(waves * io + 5));
    }};
    // Let the slow connections reach the workers first.
    std::this_thread::sleep_for(200ms);
    auto under = good_client(n, path, good_seconds);
    attacker.join();
    std::string st;
    for (auto& [s, k] : sr.statuses)
      st += (st.empty() ? "" : ", ") + std::to_string(k) + "x "
            + (s ? std::to_string(s) : "closed");
    std::fprintf(stderr,
                 "  %zu slow (%s): dropped %zu of %zu (%s), last after %.1f s; "
                 "good client %.0f req/s, p99 %.1f ms, max %.1f ms, %zu "
                 "failed\n",
                 ph.count, ph.name.c_str(), sr.dropped, sr.opened, st.c_str(),
                 sr.last_drop_ms / 1000, under.rps, under.p99_ms, under.max_ms,
                 under.failures);
    auto label = "slow clients: " + std::to_string(ph.count) + " x " + ph.name;
    if (sr.opened != ph.count || sr.dropped != sr.opened)
      rep.violated(label + ": dropped " + std::to_string(sr.dropped) + " of "
                   + std::to_string(sr.opened) + " opened");
    if (sr.last_drop_ms > bound_ms)
      rep.violated(label + ": the last was dropped after "
                   + summary::num("%.1f s", sr.last_drop_ms / 1000) + ", over "
                   + summary::num("%.1f s", bound_ms / 1000));
    for (auto& [s, k] : sr.statuses)
      if (s != 408 && s != 0)
        rep.violated(label + ": " + std::to_string(k) + " answered "
                     + std::to_string(s) + " instead of 408");
    if (under.failures > 0)
      rep.violated(label + ": the good client failed "
                   + std::to_string(under.failures)
                   + " times, first: " + under.first_failure);
    if (!saturating && under.max_ms >= io * 1000.0)
      rep.violated(label + ": a good request took "
                   + summary::num("%.0f ms", under.max_ms)
                   + " though workers were free");
    rep.add(label + " (dropped " + std::to_string(sr.dropped) + "/"
              + std::to_string(sr.opened) + ": " + st + ", last after "
              + summary::num("%.1f s", sr.last_drop_ms / 1000)
              + "): good client req/s",
            summary::num("%.0f", under.rps), summary::num("%.0f", alone.rps),
            summary::ratio(under.rps, alone.rps));
    rep.add(label + ": good client p99", summary::num("%.1f ms", under.p99_ms),
            summary::num("%.1f ms", alone.p99_ms),
            summary::ratio(under.p99_ms, alone.p99_ms));
    rep.add(label + ": good client's longest request",
            summary::num("%.0f ms", under.max_ms),
            summary::num("%.0f ms", alone.max_ms),
            summary::ratio(under.max_ms, alone.max_ms));
  }
}

// -- 3. bad tokens ------------------------------------------------------------

std::string random_hex(std::mt19937_64& rng, size_t chars) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < chars; ++i)
    s += digits[rng() % 16];
  return s;
}

struct load_result {
  double rps = 0;
  std::map<int, size_t> statuses;
  size_t unclear = 0; // 401 without the `unauthorized` JSON error
};

/// `total` GETs of `path` from 4 keep-alive clients; request `i` carries
/// `header(i)` as Authorization (none when empty).
load_result load(const node_info& n, const std::string& path, size_t total,
                 const std::function<std::string(size_t)>& header) {
  constexpr size_t clients = 4;
  std::vector<load_result> parts(clients);
  std::vector<std::thread> threads;
  auto t0 = steady::now();
  for (size_t c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      httplib::Client cli{"127.0.0.1", n.port};
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      cli.set_read_timeout(30, 0);
      for (size_t i = c; i < total; i += clients) {
        httplib::Headers h;
        auto v = header(i);
        if (!v.empty())
          h.emplace("Authorization", v);
        auto res = cli.Get(path.c_str(), h);
        int status = res ? res->status : 0;
        ++parts[c].statuses[status];
        no_5xx(status, "tokens: GET");
        std::string code, msg;
        if (status == 401
            && (!error_of(res->body, code, msg) || code != "unauthorized"))
          ++parts[c].unclear;
      }
    });
  for (auto& t : threads)
    t.join();
  load_result r;
  r.rps = static_cast<double>(total) / (ms_since(t0) / 1000);
  for (auto& p : parts) {
    for (auto& [s, k] : p.statuses)
      r.statuses[s] += k;
    r.unclear += p.unclear;
  }
  return r;
}

void tokens(const node_info& n, const std::string& path, size_t total,
            std::vector<std::string>& secrets) {
  std::mt19937_64 rng{std::random_device{}()};
  std::vector<std::string> wrong;
  for (int i = 0; i < 32; ++i)
    wrong.push_back(random_hex(rng, 64));
  auto near_miss = n.token;
  near_miss.back() = near_miss.back() == 'a' ? 'b' : 'a';
  auto long_300 = random_hex(rng, 300);
  auto long_4k = random_hex(rng, 4096);
  auto long_8k = random_hex(rng, 8000);
  std::string not_utf8 = "\xff\xfe" + random_hex(rng, 30) + "\xc3";
  auto basic = "YWRtaW46" + random_hex(rng, 24); // base64 of "admin:" + ...
  std::vector<std::function<std::string(size_t)>> kinds{
    [](size_t) { return std::string{}; },                          // missing
    [&](size_t i) { return "Bearer " + wrong[i % wrong.size()]; }, // wrong
    [&](size_t) { return "Bearer " + near_miss; },    // one character off
    [&](size_t) { return "Bearer " + n.token_hash; }, // the stored hash
    [&](size_t) { return "bearer " + n.token; },      // scheme's case
    [&](size_t) { return "Basic " + basic; },
    [](size_t) { return std::string{"Bearer"}; },
    [](size_t) { return std::string{"Bearer "}; },
    [&](size_t i) { return "Bearer  " + wrong[i % wrong.size()]; },
    [&](size_t i) { return "Bearer " + wrong[i % wrong.size()] + " x"; },
    [&](size_t) { return "Bearer " + long_300; },
    [&](size_t) { return "Bearer " + long_4k; },
    [&](size_t) { return "Bearer " + long_8k; },
    [&](size_t) { return "Bearer " + not_utf8; },
    [&](size_t) { return "Bearer " + n.token + "\x01"; },
  };
  for (auto& w : wrong)
    secrets.push_back(w);
  for (auto* s : {&near_miss, &long_300, &long_4k, &long_8k, &basic})
    secrets.push_back(s->substr(0, 64));
  secrets.push_back(n.token_hash);
  secrets.push_back(not_utf8);

  auto good = load(n, path, total, [&](size_t) { return "Bearer " + n.token; });
  if (good.statuses[200] != total)
    rep.violated("tokens: only " + std::to_string(good.statuses[200]) + " of "
                 + std::to_string(total) + " good-token GETs answered 200");
  auto before = memory_of(n.proc->pid());
  bool peak_reset = reset_peak(n.proc->pid());
  auto bad = load(n, path, total,
                  [&](size_t i) { return kinds[i % kinds.size()](i); });
  auto after = memory_of(n.proc->pid());
  auto peak = peak_reset ? after.hwm_kib : after.rss_kib;
  std::string st;
  for (auto& [s, k] : bad.statuses)
    st += (st.empty() ? "" : ", ") + std::to_string(k) + "x "
          + std::to_string(s);
  std::fprintf(stderr,
               "  %zu bad tokens (%zu kinds): %s, %.0f req/s; %zu good: "
               "%.0f req/s; peak RSS %s (before %s)\n",
               total, kinds.size(), st.c_str(), bad.rps, total, good.rps,
               mib(peak).c_str(), mib(before.rss_kib).c_str());
  if (bad.statuses[401] != total)
    rep.violated("tokens: " + std::to_string(total - bad.statuses[401]) + " of "
                 + std::to_string(total)
                 + " bad-token requests not answered 401 (" + st + ")");
  if (bad.unclear > 0)
    rep.violated("tokens: " + std::to_string(bad.unclear)
                 + " answers 401 without the `unauthorized` error");
  // A 401 keeps nothing once answered: what may grow is the allocator's
  // arenas of the worker threads.
  constexpr size_t bound_kib = 32 * 1024;
  if (peak > before.rss_kib + bound_kib)
    rep.violated("tokens: peak RSS " + mib(peak) + " over "
                 + mib(before.rss_kib) + " + 32 MiB");
  rep.add(std::to_string(total) + " bad tokens (" + std::to_string(kinds.size())
            + " kinds: wrong, near miss, stored hash, missing, malformed, "
              "over-long, not UTF-8) -> "
            + st + "; req/s",
          summary::num("%.0f", bad.rps),
          summary::num("%.0f", good.rps) + " (good token, 200)",
          summary::ratio(bad.rps, good.rps));
  rep.add("bad tokens: peak RSS", mib(peak), mib(before.rss_kib) + " before",
          summary::ratio(static_cast<double>(peak),
                         static_cast<double>(before.rss_kib)));
}

// -- 4. malformed JSON at every field -----------------------------------------

/// An application of `program` as tests/support/applications.hpp builds it
/// (seed 001's offerings).
json application_body(const std::string& program, const std::string& email,
                      const std::string& org) {
  auto site = "https://" + org + ".example.org";
  json body{
    {"program", program},
    {"applicant",
     {{"name", "Ada Lovelace"},
      {"email", email},
      {"job_title", "Maintainer"},
      {"country", "DE"}}},
    {"organisation", {{"name", org}, {"country", "DE"}, {"website", site}}},
    {"hosting", "saas"},
    {"seats", 25},
    {"support", "without"},
    {"term", "1y"}};
  if (program == "edu") {
    body["channel"] = "sheerid";
    body["edu"] = {{"institution", org}, {"level", "university"}};
  } else if (program == "oss") {
    body["channel"] = "sheerid";
    body["support"] = "with";
    body["term"] = "3y";
    body["oss"] = {{"project_name", org},
                   {"description", "A compiler for a small language"},
                   {"public_url", site},
                   {"license", "MIT"},
                   {"public_projects", 3},
                   {"private_projects", 0},
                   {"attests_not_for_profit", true}};
  } else {
    body["channel"] = "marketo";
    body["startup"] = {{"company_website", site},
                       {"founded_year", 2023},
                       {"employees", 12},
                       {"funding_stage", "seed"}};
  }
  return body;
}

void field_paths(const json& j, std::vector<std::string>& prefix,
                 std::vector<std::vector<std::string>>& out) {
  for (auto& [k, v] : j.items()) {
    prefix.push_back(k);
    out.push_back(prefix);
    if (v.is_object())
      field_paths(v, prefix, out);
    prefix.pop_back();
  }
}

/// The value of a field of another JSON type.
json wrong_type(const json& v) {
  if (v.is_string())
    return 12345;
  if (v.is_number())
    return "12";
  if (v.is_boolean())
    return "true";
  return "x"; // objects and arrays
}

const std::string marker = "@@abuse-bench@@";

struct variant {
  std::string name;
  /// Whether the node may accept the body (201): the field is optional.
  bool may_accept;
  /// Whether the answer must name the field; else the JSON is broken where
  /// the field is, and the answer must say where (line and column) or what
  /// (the nesting, a number out of range).
  bool names_field;
};

const std::vector<variant> variants{
  {"wrong type", false, true},
  {"null", true, true},
  {"missing", true, true},
  {"1,000,000-char string", false, true},
  {"10,000 levels deep", false, false},
  {"invalid UTF-8", false, false},
  {"1e999", false, false},
  {"2^64", false, true},
  {"repeated key", false, true},
  {"trailing garbage", false, false},
};

/// The body of `program` with `path` made `v`; unique organisation and
/// email from `suffix`.
std::string malformed(const std::string& program,
                      const std::vector<std::string>& path, const variant& v,
                      const std::string& suffix) {
  auto body = application_body(program, "abuse." + suffix + "@example.edu",
                               "abuse-" + suffix);
  json* parent = &body;
  for (size_t i = 0; i + 1 < path.size(); ++i)
    parent = &(*parent)[path[i]];
  auto& key = path.back();
  auto original = (*parent)[key];
  if (v.name == "missing") {
    parent->erase(key);
    return body.dump();
  }
  if (v.name == "null") {
    (*parent)[key] = nullptr;
    return body.dump();
  }
  if (v.name == "wrong type") {
    (*parent)[key] = wrong_type(original);
    return body.dump();
  }
  if (v.name == "1,000,000-char string") {
    (*parent)[key] = std::string(1'000'000, 'a');
    return body.dump();
  }
  (*parent)[key] = marker;
  auto text = body.dump();
  auto quoted = "\"" + marker + "\"";
  std::string raw;
  if (v.name == "10,000 levels deep")
    raw = std::string(10'000, '[') + std::string(10'000, ']');
  else if (v.name == "invalid UTF-8")
    raw = "\"abc\xff\xfe\xc3(\"";
  else if (v.name == "1e999")
    raw = "1e999";
  else if (v.name == "2^64")
    raw = "18446744073709551616";
  else if (v.name == "trailing garbage")
    raw = original.dump() + " xx";
  else if (v.name == "repeated key") {
    raw = original.dump();
    auto pos = text.find("\"" + key + "\":" + quoted);
    text.replace(pos, key.size() + 3 + quoted.size(),
                 "\"" + key + "\":" + raw + ",\"" + key + "\":" + raw);
    return text;
  }
  text.replace(text.find(quoted), quoted.size(), raw);
  return text;
}

/// The applications the node lists, all pages.
std::optional<size_t> count_applications(httplib::Client& cli,
                                         const httplib::Headers& auth) {
  size_t total = 0;
  std::string cursor;
  for (int pages = 0; pages < 1000; ++pages) {
    auto target = "/v1/applications?limit=500"
                  + (cursor.empty() ? "" : "&cursor=" + cursor);
    auto res = cli.Get(target.c_str(), auth);
    if (!res || res->status != 200)
      return std::nullopt;
    auto j = json::parse(res->body, nullptr, false);
    if (!j.is_object() || !j["items"].is_array())
      return std::nullopt;
    total += j["items"].size();
    if (!j["next_cursor"].is_string())
      return total;
    cursor = j["next_cursor"].get<std::string>();
  }
  return std::nullopt;
}

/// The applications created since `before` was counted.
bool after_ok(httplib::Client& cli, const httplib::Headers& auth,
              const std::optional<size_t>& before, size_t& created) {
  auto after = count_applications(cli, auth);
  if (!after || *after < *before)
    return false;
  created = *after - *before;
  return true;
}

void malformed_json(const node_info& n) {
  httplib::Client cli{"127.0.0.1", n.port};
  cli.set_keep_alive(true);
  cli.set_tcp_nodelay(true);
  cli.set_read_timeout(30, 0);
  httplib::Headers auth{{"Authorization", "Bearer " + n.token}};
  auto before = count_applications(cli, auth);
  auto mem_before = memory_of(n.proc->pid());
  bool peak_reset = reset_peak(n.proc->pid());
  // The baseline: a valid body of each program, accepted.
  size_t valid = 0, valid_ok = 0;
  double valid_ms = 0;
  size_t sent = 0, accepted_optional = 0, accepted_bad = 0, clear_errors = 0;
  std::map<int, size_t> statuses;
  double sent_ms = 0;
  std::map<std::string, std::string> example; // variant -> an error message
  // "VARIANT: OUTCOME" -> the fields it happened to
  std::map<std::string, std::vector<std::string>> problems;
  int k = 0;
  for (std::string program : {"edu", "oss", "startups"}) {
    auto id = std::to_string(++k);
    auto t = steady::now();
    auto ok
      = cli.Post("/v1/applications", auth,
                 application_body(program, "abuse.valid." + id + "@example.edu",
                                  "abuse-valid-" + id)
                   .dump(),
                 "application/json");
    valid_ms += ms_since(t);
    ++valid;
    if (ok && ok->status == 201)
      ++valid_ok;
    else
      rep.violated("malformed JSON: a valid " + program
                   + " application was not accepted: " + describe(ok));
    std::vector<std::vector<std::string>> paths;
    std::vector<std::string> prefix;
    field_paths(application_body(program, "x@example.edu", "x"), prefix, paths);
    for (auto& path : paths) {
      std::string dotted;
      for (auto& p : path)
        dotted += (dotted.empty() ? "" : ".") + p;
      auto field = program + " " + dotted;
      for (auto& v : variants) {
        auto body = malformed(program, path, v, "f" + std::to_string(++k));
        auto t0 = steady::now();
        auto res = cli.Post("/v1/applications", auth, body, "application/json");
        sent_ms += ms_since(t0);
        ++sent;
        int status = res ? res->status : 0;
        ++statuses[status];
        if (status == 201) {
          if (v.may_accept) {
            ++accepted_optional;
          } else {
            ++accepted_bad;
            problems[v.name + ": accepted (201)"].push_back(field);
          }
          continue;
        }
        if (status != 400 && status != 413 && status != 422) {
          problems[v.name + ": answered "
                   + (status ? std::to_string(status) : "nothing")]
            .push_back(field);
          continue;
        }
        std::string code, msg;
        if (!error_of(res->body, code, msg)) {
          problems[v.name + ": no JSON error"].push_back(field);
          continue;
        }
        bool clear = v.names_field
                       ? msg.find(path.back()) != std::string::npos
                       : (msg.find("line") != std::string::npos
                          || msg.find("nested") != std::string::npos
                          || msg.find("range") != std::string::npos
                          || msg.find("number") != std::string::npos);
        // A body over the API's 1 MiB JSON limit is refused whole.
        clear = clear || (status == 413 && code == "too_large");
        if (clear)
          ++clear_errors;
        else
          problems[v.name + ": the error does not say where"].push_back(
            field + " (" + clip(msg, 60) + ")");
        example.emplace(v.name, std::to_string(status) + " " + clip(msg, 70));
      }
    }
  }
  auto mem_after = memory_of(n.proc->pid());
  auto peak = peak_reset ? mem_after.hwm_kib : mem_after.rss_kib;
  for (auto& [what, fields] : problems) {
    std::string some;
    for (size_t i = 0; i < fields.size() && i < 3; ++i)
      some += (i ? ", " : "") + fields[i];
    rep.violated("malformed JSON: " + what + ": "
                 + std::to_string(fields.size()) + " field(s), e.g. " + some);
  }
  size_t created = 0;
  if (!before || !after_ok(cli, auth, before, created)) {
    rep.violated("malformed JSON: cannot list the applications");
  } else if (created != valid_ok + accepted_optional + accepted_bad) {
    rep.violated("malformed JSON: " + std::to_string(created)
                 + " applications created, but "
                 + std::to_string(valid_ok + accepted_optional + accepted_bad)
                 + " bodies were accepted");
  }
  std::string st;
  for (auto& [s, c] : statuses)
    st += (st.empty() ? "" : ", ") + std::to_string(c) + "x "
          + (s ? std::to_string(s) : "none");
  std::fprintf(stderr,
               "  %zu malformed bodies: %s; %zu with a clear error; peak RSS "
               "%s (before %s)\n",
               sent, st.c_str(), clear_errors, mib(peak).c_str(),
               mib(mem_before.rss_kib).c_str());
  for (auto& [v, m] : example)
    std::fprintf(stderr, "    %-22s e.g. %s\n", v.c_str(), m.c_str());
  rep.add(std::to_string(sent) + " malformed bodies ("
            + std::to_string(variants.size()) + " variants x "
            + "every field of 3 programs) -> " + st
            + "; refused with an error that names the field or place",
          std::to_string(clear_errors),
          std::to_string(sent - accepted_optional)
            + " (all but optional fields left out or null)",
          summary::ratio(static_cast<double>(clear_errors),
                         static_cast<double>(sent - accepted_optional)));
  rep.add("malformed bodies accepted (201) though not an optional field "
          "left out or null",
          std::to_string(accepted_bad), "0", "-");
  rep.add("malformed bodies: mean latency",
          summary::num("%.2f ms", sent_ms / static_cast<double>(sent)),
          summary::num("%.2f ms", valid_ms / static_cast<double>(valid))
            + " (valid submit)",
          summary::ratio(sent_ms / static_cast<double>(sent),
                         valid_ms / static_cast<double>(valid)));
  rep.add("malformed bodies: peak RSS", mib(peak),
          mib(mem_before.rss_kib) + " before",
          summary::ratio(static_cast<double>(peak),
                         static_cast<double>(mem_before.rss_kib)));
}

// -- helpers ------------------------------------------------------------------

std::string trim(std::string s) {
  while (!s.empty()
         && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.pop_back();
  return s;
}

[[noreturn]] void die(const std::string& what, const child* node) {
  std::fprintf(stderr, "abuse_bench: %s\n", what.c_str());
  if (node)
    std::fprintf(stderr, "tenured said:\n%s\n", node->output().c_str());
  remove_temp();
  std::exit(1);
}

/// tenure.gateway.threads of `conf`, else its default.
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

/// tenure.gateway.max-body-mib of `conf` in bytes, else its default.
size_t gateway_max_body(const std::string& conf) {
  auto text = read_file(conf);
  static const std::regex mib{R"(\n\s*max-body-mib\s*=\s*(\d+))"};
  std::smatch m;
  if (std::regex_search(text, m, mib))
    return std::stoul(m[1]) << 20;
  return 8u << 20;
}

} // namespace

int main(int argc, char** argv) {
  options opt{0}; // --tenured, --config
  int io_timeout = 2;
  size_t parallel = 4;
  size_t token_count = 10'000;
  size_t slow_n = 0;
  std::string summary_file;
  std::string phases = "1,2,3,4";
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
    if (flag == "--io-timeout")
      io_timeout = std::max(1, std::atoi(value.c_str()));
    else if (flag == "--parallel")
      parallel = std::max(1, std::atoi(value.c_str()));
    else if (flag == "--tokens")
      token_count = std::max(1, std::atoi(value.c_str()));
    else if (flag == "--slow")
      slow_n = std::max(1, std::atoi(value.c_str()));
    else if (flag == "--summary")
      summary_file = value;
    else if (flag == "--phases")
      phases = value;
    else if (flag == "--seconds" || !opt.take(flag, value)) {
      std::fprintf(
        stderr, "usage: abuse_bench [--io-timeout S] [--parallel C] "
                "[--tokens N] [--slow N] [--phases 1,2,3,4] [--tenured PATH] "
                "[--config FILE] [--summary FILE] [--keep]\n");
      return 2;
    }
  }
  if (::access(opt.tenured.c_str(), X_OK) != 0 || !std::ifstream{opt.conf}) {
    std::fprintf(stderr, "abuse_bench: needs %s and %s\n", opt.tenured.c_str(),
                 opt.conf.c_str());
    return 2;
  }
  if (!summary_file.empty() && !rep.sum.open(summary_file))
    return 2;
  ::signal(SIGPIPE, SIG_IGN);
  start_signal_thread("abuse_bench");
  auto dir = make_temp_dir("abuse_bench");
  if (dir.empty())
    die("cannot create a temp dir", nullptr);
  auto data = dir + "/data";
  auto conf = dir + "/tenured.conf";
  write_private_file(
    conf, rewrite_conf(read_file(opt.conf), conf_dir_of(opt.conf),
                       {{"tenure.gateway.io-timeout",
                         "\"" + std::to_string(io_timeout) + "s\""}}));
  node_info n;
  n.threads = gateway_threads(conf);
  n.max_body = gateway_max_body(conf);
  n.io_timeout_s = io_timeout;
  if (slow_n == 0)
    slow_n = std::max<size_t>(1, n.threads / 2);
  auto log = dir + "/tenured.log";

  // -- tenured ----------------------------------------------------------------
  auto node = std::make_unique<child>(
    std::vector<std::string>{opt.tenured, "--config", conf, "--data", data,
                             "--http-port", "0", "--shell-port", "0", "--clock",
                             "manual", "--log-level", "debug"},
    log);
  n.proc = node.get();
  auto line = node->wait_for("tenured: listening", 60s);
  if (!line)
    die("tenured did not start", node.get());
  std::smatch m;
  static const std::regex http_re{R"(http=([0-9.]+):(\d+))"};
  if (!std::regex_search(*line, m, http_re))
    die("no http address in: " + *line, node.get());
  n.port = static_cast<uint16_t>(std::stoi(m[2]));
  n.token = trim(read_file(data + "/admin.token"));
  auto keys = json::parse(read_file(data + "/keys.json"), nullptr, false);
  if (n.token.empty() || !keys.is_object())
    die("no admin token or keys file in " + data, node.get());
  n.token_hash = keys["keys"][0].value("token_sha256", "");

  // One application to read back (the good client's GET).
  httplib::Client cli{"127.0.0.1", n.port};
  cli.set_tcp_nodelay(true);
  cli.set_read_timeout(30, 0);
  httplib::Headers auth{{"Authorization", "Bearer " + n.token}};
  auto sub = cli.Post(
    "/v1/applications", auth,
    application_body("edu", "ada.setup@example.edu", "abuse-setup").dump(),
    "application/json");
  auto app = json::parse(sub ? sub->body : "", nullptr, false);
  if (!sub || sub->status != 201 || !app.is_object() || !app["id"].is_string())
    die("POST /v1/applications: " + describe(sub), node.get());
  auto path = "/v1/applications/" + app["id"].get<std::string>();
  for (int i = 0; i < 50; ++i) // warm up the worker threads
    cli.Get(path.c_str(), auth);
  auto idle = memory_of(node->pid());
  std::fprintf(stderr,
               "tenured at 127.0.0.1:%u, %zu threads, max body %zu MiB, "
               "io-timeout %d s; idle RSS %s; log %s\n",
               n.port, n.threads, n.max_body >> 20, io_timeout,
               mib(idle.rss_kib).c_str(), log.c_str());
  if (!reset_peak(node->pid()))
    std::fprintf(stderr, "cannot reset VmHWM of tenured: peaks are since "
                         "its start\n");

  auto t0 = steady::now();
  auto want
    = [&](char phase) { return phases.find(phase) != std::string::npos; };
  auto rss_now = [&] {
    std::fprintf(stderr, "  RSS now %s\n",
                 mib(memory_of(node->pid()).rss_kib).c_str());
  };
  std::vector<std::string> secrets{n.token};
  if (want('1')) {
    std::fprintf(stderr, "1. oversized bodies and requests\n");
    oversized(n, parallel);
    rss_now();
  }
  if (want('2')) {
    std::fprintf(stderr, "2. slow clients\n");
    slow(n, path, slow_n);
    rss_now();
  }
  if (want('3')) {
    std::fprintf(stderr, "3. bad tokens\n");
    tokens(n, path, token_count, secrets);
    rss_now();
  }
  if (want('4')) {
    std::fprintf(stderr, "4. malformed JSON at every field\n");
    malformed_json(n);
    rss_now();
  }

  // -- the end ----------------------------------------------------------------
  auto alive = !node->wait(0ms).has_value();
  auto health = cli.Get("/healthz");
  if (!alive || !health || health->status != 200)
    rep.violated("the node is not alive at the end: " + describe(health));
  auto end_mem = memory_of(node->pid());
  rep.add("node RSS at the end", mib(end_mem.rss_kib),
          mib(idle.rss_kib) + " idle at start",
          summary::ratio(static_cast<double>(end_mem.rss_kib),
                         static_cast<double>(idle.rss_kib)));
  node->signal(SIGTERM);
  auto code = node->wait(60s);
  if (!code) {
    node->signal(SIGKILL);
    node->wait(10s);
    rep.violated("tenured did not stop in 60 s after SIGTERM");
  } else if (*code != 0) {
    rep.violated("tenured exited with " + std::to_string(*code));
  }
  node->wait_eof(10s);
  node.reset();
  auto log_text = read_file(log);
  size_t lines
    = static_cast<size_t>(std::count(log_text.begin(), log_text.end(), '\n'));
  size_t leaked = 0;
  for (auto& s : secrets)
    if (!s.empty() && log_text.find(s) != std::string::npos)
      ++leaked;
  if (leaked > 0)
    rep.violated("the log holds " + std::to_string(leaked) + " of the "
                 + std::to_string(secrets.size()) + " tokens sent");
  rep.add("tokens sent found in the node's log (" + std::to_string(lines)
            + " lines, level debug)",
          std::to_string(leaked), "0 of " + std::to_string(secrets.size()),
          "-");
  rep.add("properties violated", std::to_string(rep.violations.size()), "0",
          "-");
  auto total_s = ms_since(t0) / 1000;
  remove_temp();

  // -- the table --------------------------------------------------------------
  std::printf("\ntenured, %zu gateway threads, max body %zu MiB, io-timeout "
              "%d s (shipped default: 10 s); %zu connections per oversized "
              "attack; %.0f s\n\n",
              n.threads, n.max_body >> 20, io_timeout, parallel, total_s);
  std::printf("| metric | figure | baseline | ratio |\n|---|--:|--:|--:|\n");
  for (auto& r : rep.rows)
    std::printf("| %s | %s | %s | %s |\n", r.metric.c_str(), r.figure.c_str(),
                r.baseline.c_str(), r.ratio.c_str());
  if (rep.violations.empty()) {
    std::printf("\nAll properties held.\n");
    return 0;
  }
  std::printf("\nVIOLATED (%zu):\n", rep.violations.size());
  size_t shown = 0;
  for (auto& v : rep.violations) {
    if (++shown > 40) {
      std::printf("- ... and %zu more\n", rep.violations.size() - 40);
      break;
    }
    std::printf("- %s\n", clip(v, 200).c_str());
  }
  return 1;
}
