#include "nodes/gateway.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string_view>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include "messages/errc.hpp"
#include "nodes/api.hpp"
#include "nodes/web_assets.hpp"

namespace tenure {

namespace {

using steady = std::chrono::steady_clock;
using hr = httplib::Server::HandlerResponse;

// -- what cpp-httplib 0.11 does not bound -------------------------------------
//
// cpp-httplib 0.11 (Debian 12) reads requests with limits that leave a node
// open to a single client:
// - its read and write timeouts are per recv()/send(): a client that sends
//   one byte every few seconds keeps its worker forever (slowloris), and
//   `threads` such clients stop the node from serving anyone;
// - it reads a request line and each header line whole before it checks
//   their 8 KiB limit, and keeps any number of header lines;
// - `set_payload_max_length` applies to Content-Length only: a chunked body,
//   or a POST without Content-Length (read until the client closes), is
//   read whole into memory, and gzip/deflate/brotli bodies are inflated
//   without a limit (a 250 KiB gzip body inflates to 256 MiB);
// - a body over the limit is still read (and discarded) to its declared
//   end, holding the worker for as long as the client takes to send it.
// `connection` and `bounded_server` put each request under one deadline and
// a byte budget, and `screen` (run by cpp-httplib once the headers are
// read, before the body) refuses what must not be read.

/// Request line and headers of one request, at most. Each line is also
/// capped at 8 KiB by cpp-httplib.
constexpr size_t max_head_bytes = 64 * 1024;
/// Room for chunked framing (sizes, extensions, trailers) on top of the
/// body limit.
constexpr size_t chunk_slack_bytes = 64 * 1024;
/// How long a connection closed before its request was read whole is
/// drained, so that its client reads the answer rather than a reset.
constexpr auto linger_time = std::chrono::milliseconds(1000);

/// Why a connection stopped reading a request.
enum class fault : uint8_t {
  none,
  /// The request line and headers passed `max_head_bytes`.
  head_too_large,
  /// The (chunked) body passed the body limit.
  body_too_large,
  /// The request did not arrive whole within io-timeout.
  timeout,
  /// The peer closed or reset the connection.
  io,
};

/// A whole milliseconds timeout for poll() until `deadline`, at least 0.
int poll_ms(steady::time_point deadline) {
  auto left
    = std::chrono::ceil<std::chrono::milliseconds>(deadline - steady::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

/// Whether `fd` gets `events` before `deadline`.
bool wait_fd(int fd, short events, steady::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    auto n = ::poll(&p, 1, poll_ms(deadline));
    if (n > 0)
      return true;
    if (n == 0 || errno != EINTR)
      return false;
  }
}

/// Whether `s` is UTF-8 (RFC 3629: shortest forms, no surrogates).
bool valid_utf8(std::string_view s) {
  static constexpr uint32_t least[] = {0, 0x80, 0x800, 0x10000};
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0; // continuation bytes
    uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n)
      return false;
    for (size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}

/// Whether `a` and `b` are equal ignoring ASCII case.
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
              return std::tolower(static_cast<unsigned char>(x))
                     == std::tolower(static_cast<unsigned char>(y));
            });
}

/// An error answer in the API's shape.
struct refusal {
  int status;
  const char* code;
  std::string message;
};

std::string error_json(const std::string& code, const std::string& message) {
  // Only our own texts: no escaping needed beyond what they contain.
  return "{\"error\":{\"code\":\"" + code + "\",\"message\":\"" + message
         + "\"}}";
}

/// One accepted connection as cpp-httplib's `Stream`, with what 0.11 lacks:
/// each request must arrive whole (request line, headers, body) within
/// io-timeout of its first byte, and its answer must be taken within
/// io-timeout of its first byte too; the request line and headers may take
/// `max_head_bytes`, the body the node's limit (plus chunked framing). Past
/// any of these, reads fail and `failed()` says why.
///
/// Reads go through a buffer of its own (cpp-httplib reads request lines
/// byte by byte); bytes of a pipelined next request stay in it.
class connection final : public httplib::Stream {
public:
  connection(int fd, std::chrono::milliseconds io_timeout, size_t max_body)
    : fd_(fd)
    , io_timeout_(io_timeout)
    , max_body_(max_body) {
  }

  // -- the request cycle ------------------------------------------------------

  /// Waits up to `idle` for the first byte of the next request; false when
  /// the peer closed, the time passed or the server stops (`listening`
  /// becomes invalid).
  bool wait_request(std::chrono::seconds idle,
                    const std::atomic<socket_t>& listening) {
    if (pos_ < len_)
      return true;
    auto deadline = steady::now() + idle;
    while (listening != INVALID_SOCKET) {
      // Short slices, so that a stopping server is seen within 100 ms.
      auto slice
        = std::min(deadline, steady::now() + std::chrono::milliseconds(100));
      if (wait_fd(fd_, POLLIN, slice)) {
        char c;
        return ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
      }
      if (steady::now() >= deadline)
        return false;
    }
    return false;
  }

  /// Starts the limits of a new request (its first byte is there).
  void begin_request() {
    read_deadline_ = steady::now() + io_timeout_;
    write_deadline_.reset();
    consumed_ = 0;
    budget_ = max_head_bytes;
    in_body_ = false;
    linger_ = false;
    fault_ = fault::none;
    close_ = false;
    written_ = 0;
  }

  /// The headers are read: the body may take the body limit.
  void head_done() {
    budget_ = consumed_ + max_body_ + chunk_slack_bytes;
    in_body_ = true;
  }

  /// Closes the connection after this request's answer: the request's body
  /// is not read (refused before it), so what follows on the connection is
  /// not a request. The client may still be sending it: `close` lingers.
  void close_after() {
    close_ = true;
    linger_ = true;
  }

  bool must_close() const {
    return close_ || fault_ != fault::none;
  }

  fault failed() const {
    return fault_;
  }

  size_t written() const {
    return written_;
  }

  size_t max_body() const {
    return max_body_;
  }

  std::chrono::milliseconds io_timeout() const {
    return io_timeout_;
  }

  /// Closes the socket; first, when an answer went out before the request
  /// was read whole (refused before its body, or too large), sends FIN and
  /// drains what the client still sends for up to `linger_time`, so that it
  /// reads the answer instead of a reset. A client too slow for io-timeout
  /// gets no such grace.
  void close() {
    if (linger_ && written_ > 0) {
      ::shutdown(fd_, SHUT_WR);
      auto until = steady::now() + linger_time;
      char buf[16384];
      while (wait_fd(fd_, POLLIN, until))
        if (::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
          break;
    }
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
  }

  // -- httplib::Stream --------------------------------------------------------

  bool is_readable() const override {
    return pos_ < len_
           || (fault_ == fault::none && wait_fd(fd_, POLLIN, read_deadline_));
  }

  bool is_writable() const override {
    auto deadline
      = write_deadline_ ? *write_deadline_ : steady::now() + io_timeout_;
    return wait_fd(fd_, POLLOUT, deadline);
  }

  ssize_t read(char* ptr, size_t size) override {
    if (fault_ != fault::none)
      return -1;
    // A read means the answer has not started: its time starts later.
    write_deadline_.reset();
    if (consumed_ >= budget_) {
      fault_ = in_body_ ? fault::body_too_large : fault::head_too_large;
      linger_ = true;
      return -1;
    }
    if (pos_ == len_) {
      auto n = fill();
      if (n <= 0)
        return n;
    }
    auto n = std::min({size, len_ - pos_, budget_ - consumed_});
    std::memcpy(ptr, buf_ + pos_, n);
    pos_ += n;
    consumed_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!write_deadline_)
      write_deadline_ = steady::now() + io_timeout_;
    for (;;) {
      auto n = ::send(fd_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0) {
        written_ += static_cast<size_t>(n);
        return n;
      }
      if (errno == EINTR)
        continue;
      if ((errno != EAGAIN && errno != EWOULDBLOCK)
          || !wait_fd(fd_, POLLOUT, *write_deadline_))
        return -1;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address(&::getpeername, ip, port);
  }

  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address(&::getsockname, ip, port);
  }

  socket_t socket() const override {
    return fd_;
  }

private:
  /// Refills the buffer: its byte count, 0 at the end of the stream, -1 on
  /// a fault.
  ssize_t fill() {
    pos_ = len_ = 0;
    for (;;) {
      auto n = ::recv(fd_, buf_, sizeof(buf_), MSG_DONTWAIT);
      if (n > 0) {
        len_ = static_cast<size_t>(n);
        return n;
      }
      if (n == 0)
        return 0;
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        fault_ = fault::io;
        return -1;
      }
      if (!wait_fd(fd_, POLLIN, read_deadline_)) {
        fault_ = fault::timeout;
        return -1;
      }
    }
  }

  using name_fn = int (*)(int, sockaddr*, socklen_t*);

  void address(name_fn fn, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (fn(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      return;
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&addr);
      ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
      port = ntohs(a->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
      ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
      port = ntohs(a->sin6_port);
    }
    ip = text;
  }

  int fd_;
  std::chrono::milliseconds io_timeout_;
  size_t max_body_;
  char buf_[16384];
  size_t pos_ = 0;
  size_t len_ = 0;
  steady::time_point read_deadline_;
  std::optional<steady::time_point> write_deadline_;
  /// Bytes of this request handed to cpp-httplib, and how many it may take.
  size_t consumed_ = 0;
  size_t budget_ = max_head_bytes;
  bool in_body_ = false;
  bool linger_ = false;
  fault fault_ = fault::none;
  bool close_ = false;
  size_t written_ = 0;
};

/// The connection a worker thread serves right now, for the handlers
/// cpp-httplib calls on that thread (`screen`, the error handler).
thread_local connection* current = nullptr;

/// The answer to a request `c` stopped reading.
refusal refusal_of(const connection& c) {
  auto secs = std::to_string(c.io_timeout().count() / 1000);
  switch (c.failed()) {
    case fault::head_too_large:
      return {431, "too_large",
              "the request line and headers are larger than 64 KiB"};
    case fault::body_too_large:
      return {413, "too_large",
              "the request body is larger than the node's limit of "
                + std::to_string(c.max_body() >> 20) + " MiB"};
    case fault::timeout:
      return {408, "timeout",
              "the request did not arrive whole within " + secs
                + " s (tenure.gateway.io-timeout)"};
    default:
      return {400, "bad_request", "the request could not be read"};
  }
}

/// The reason phrase of a status `refusal_of` gives.
const char* reason_phrase(int status) {
  switch (status) {
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    default:
      return "Bad Request";
  }
}

/// cpp-httplib's server with `connection` as the stream of every accepted
/// socket: the keep-alive loop of cpp-httplib's own
/// `process_and_close_socket`, with a deadline and a byte budget per
/// request.
class bounded_server final : public httplib::Server {
public:
  void limits(std::chrono::milliseconds io_timeout, size_t max_body) {
    io_timeout_ = io_timeout;
    max_body_ = max_body;
  }

private:
  bool process_and_close_socket(socket_t sock) override {
    connection conn{sock, io_timeout_, max_body_};
    bool ret = false;
    auto idle = std::chrono::seconds(keep_alive_timeout_sec_);
    for (auto left = keep_alive_max_count_; left > 0; --left) {
      if (!conn.wait_request(idle, svr_sock_))
        break;
      conn.begin_request();
      bool closed = false;
      current = &conn;
      ret = process_request(conn, left == 1, closed, nullptr);
      current = nullptr;
      // A request stopped before cpp-httplib answered anything (in the
      // request line or the headers): answer it here.
      if (conn.failed() != fault::none && conn.failed() != fault::io
          && conn.written() == 0) {
        auto r = refusal_of(conn);
        auto body = error_json(r.code, r.message);
        auto head = "HTTP/1.1 " + std::to_string(r.status) + " "
                    + reason_phrase(r.status)
                    + "\r\nConnection: close\r\nContent-Type: "
                      "application/json\r\nContent-Length: "
                    + std::to_string(body.size()) + "\r\n\r\n";
        auto all = head + body;
        conn.write(all.data(), all.size());
      }
      if (!ret || closed || conn.must_close())
        break;
    }
    conn.close();
    return ret;
  }

  std::chrono::milliseconds io_timeout_{10'000};
  size_t max_body_ = 8u << 20;
};

} // namespace

struct gateway::impl {
  gateway_options opts;
  api* app = nullptr;
  bounded_server server;
  std::thread thread;
  /// The listening socket, to raise its backlog after cpp-httplib's bind.
  int listen_fd = -1;

  void serve(const httplib::Request& req, httplib::Response& res) {
    if (req.method == "GET" || req.method == "HEAD")
      if (auto* asset = find_web_asset(req.path)) {
        serve_asset(*asset, req, res);
        return;
      }
    api_request in;
    in.method = req.method;
    in.path = req.path;
    for (auto& [k, v] : req.params)
      in.query[k] = v;
    in.authorization = req.get_header_value("Authorization");
    in.idempotency_key = req.get_header_value("Idempotency-Key");
    in.signature = req.get_header_value("Tenure-Signature");
    in.content_type = req.get_header_value("Content-Type");
    in.body = req.body;
    auto out = app->handle(in);
    res.status = out.status;
    for (auto& [k, v] : out.headers)
      res.set_header(k, v);
    res.set_content(std::move(out.body), out.content_type);
  }

  /// Serves a file of the dashboard (web/). No token: the page holds none
  /// and asks for one; its data comes from /v1/dashboard with a token. It
  /// is revalidated on every load (`no-cache` with a strong ETag), so a new
  /// build's page is never mixed with an old script.
  static void serve_asset(const web_asset& a, const httplib::Request& req,
                          httplib::Response& res) {
    res.set_header("Content-Security-Policy", std::string{web_csp});
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Cache-Control", "no-cache");
    res.set_header("ETag", std::string{a.etag});
    if (req.get_header_value("If-None-Match") == a.etag) {
      res.status = 304;
      return;
    }
    res.status = 200;
    res.set_content(a.body.data(), a.body.size(), std::string{a.content_type});
  }

  /// Answers `res` with `status` without reading the request's body; when
  /// it has one (`unread_body`), the connection closes after the answer.
  static hr refuse(httplib::Response& res, int status, const char* code,
                   const std::string& message, bool unread_body = true) {
    res.status = status;
    res.set_content(error_json(code, message), "application/json");
    if (unread_body) {
      res.set_header("Connection", "close");
      if (current)
        current->close_after();
    }
    return hr::Handled;
  }

  /// Looks at a request once its headers are read, before cpp-httplib reads
  /// its body, and answers those whose body must not be read.
  hr screen(const httplib::Request& req, httplib::Response& res) {
    if (current)
      current->head_done();
    auto te = req.get_header_value_count("Transfer-Encoding");
    auto cl = req.get_header_value_count("Content-Length");
    // Two ways to delimit one body is how requests are smuggled past
    // proxies (RFC 9112, 6.3): refuse rather than pick one.
    if (cl > 1 || (cl == 1 && te > 0))
      return refuse(res, 400, "bad_request",
                    "send one Content-Length, or Transfer-Encoding: chunked");
    if (te > 1
        || (te == 1
            && !iequals(req.get_header_value("Transfer-Encoding"), "chunked")))
      return refuse(res, 400, "bad_request",
                    "Transfer-Encoding: only chunked is accepted");
    // cpp-httplib inflates these without any limit.
    if (req.has_header("Content-Encoding")
        && !iequals(req.get_header_value("Content-Encoding"), "identity"))
      return refuse(res, 415, "unsupported_media_type",
                    "Content-Encoding: send the body uncompressed");
    if (cl == 1) {
      auto text = req.get_header_value("Content-Length");
      if (text.empty() || text.size() > 19
          || text.find_first_not_of("0123456789") != std::string::npos)
        return refuse(res, 400, "bad_request",
                      "Content-Length: expected a number of bytes");
      // Refused before its body is read, not after: cpp-httplib would read
      // (and drop) all of the declared length first.
      if (std::stoull(text) > opts.max_body_bytes)
        return refuse(res, 413, "too_large",
                      "the request body is larger than the node's limit of "
                        + std::to_string(opts.max_body_bytes >> 20) + " MiB");
    }
    // The target reaches the API's answers (a 404 names the path): it must
    // be text.
    bool text = valid_utf8(req.path);
    for (auto& [k, v] : req.params)
      text = text && valid_utf8(k) && valid_utf8(v);
    if (!text)
      return refuse(
        res, 400, "bad_request",
        "the request target is not UTF-8 (after percent-decoding)",
        te > 0 || (cl == 1 && req.get_header_value("Content-Length") != "0"));
    // A request with neither header has no body (RFC 9112, 6.3), but
    // cpp-httplib reads a POST's "body" until the client closes: `curl -X
    // POST` waited io-timeout for a 400. Serve it now, bodiless.
    if (cl == 0 && te == 0
        && (req.method == "POST" || req.method == "PUT" || req.method == "PATCH"
            || req.method == "DELETE")) {
      serve(req, res);
      return hr::Handled;
    }
    return hr::Unhandled;
  }
};

gateway::gateway(gateway_options opts, api& app)
  : impl_(new impl) {
  impl_->opts = std::move(opts);
  impl_->app = &app;
  auto& srv = impl_->server;
  // PERFORMANCE.md: without TCP_NODELAY every response waits ~40 ms for
  // Nagle; the default keep-alive ends a connection after 5 requests.
  srv.set_tcp_nodelay(true);
  // cpp-httplib's default sets SO_REUSEPORT, which lets a second node bind
  // the same port and silently share its traffic. SO_REUSEADDR alone still
  // allows a quick restart while refusing a port that is in use.
  srv.set_socket_options([this](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    impl_->listen_fd = sock;
  });
  // cpp-httplib serves a keep-alive connection on one worker until it
  // closes: with more clients than workers, the others wait for a whole
  // connection, not a request. Closing after 100 requests (a reconnect on
  // loopback costs ~50 us) and after 5 s idle keeps the queue moving while
  // still sparing most handshakes (bench/http_bench, 64 connections).
  srv.set_keep_alive_max_count(100);
  srv.set_keep_alive_timeout(5);
  // cpp-httplib's timeouts are per recv()/send(); the connection's
  // deadline per request is what bounds a slow client (see `connection`).
  srv.set_read_timeout(impl_->opts.io_timeout_seconds, 0);
  srv.set_write_timeout(impl_->opts.io_timeout_seconds, 0);
  srv.set_payload_max_length(impl_->opts.max_body_bytes);
  srv.limits(std::chrono::seconds(impl_->opts.io_timeout_seconds),
             impl_->opts.max_body_bytes);
  srv.set_pre_routing_handler(
    [this](const httplib::Request& req, httplib::Response& res) {
      return impl_->screen(req, res);
    });
  auto threads = impl_->opts.threads;
  srv.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // One handler for everything: the API routes, answers 404/405 itself and
  // keeps the route catalog in one place.
  auto serve = [this](const httplib::Request& req, httplib::Response& res) {
    impl_->serve(req, res);
  };
  srv.Get(".*", serve);
  srv.Post(".*", serve);
  srv.Put(".*", serve);
  srv.Patch(".*", serve);
  srv.Delete(".*", serve);
  // Errors cpp-httplib answers itself (bad request line, a body that could
  // not be read, a request stopped by its connection's limits) get the
  // API's error shape too.
  srv.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (current && current->failed() != fault::none
        && current->failed() != fault::io) {
      auto r = refusal_of(*current);
      res.status = r.status;
      res.set_header("Connection", "close");
      res.set_content(error_json(r.code, r.message), "application/json");
      return;
    }
    if (!res.body.empty())
      return;
    std::string code = res.status == 413   ? "too_large"
                       : res.status == 414 ? "too_large"
                       : res.status == 404 ? "not_found"
                       : res.status == 400 ? "bad_request"
                                           : "error";
    std::string message
      = res.status == 413   ? "the request body is larger than the node's limit"
        : res.status == 414 ? "the request target is longer than 8 KiB"
                            : "the request could not be read (a malformed "
                              "request line, a header line over 8 KiB, or a "
                              "body cut short)";
    res.set_content(error_json(code, message), "application/json");
  });
}

gateway::~gateway() {
  stop();
}

caf::expected<uint16_t> gateway::bind() {
  auto& o = impl_->opts;
  int port = o.port == 0
               ? impl_->server.bind_to_any_port(o.host)
               : (impl_->server.bind_to_port(o.host, o.port) ? o.port : -1);
  // Debian's cpp-httplib is a shared library built with a listen backlog
  // of 5: a burst of more connections than that had clients wait for SYN
  // retransmits or lose their first request (idempotency_e2e_test, 64
  // connections at once). Listening again only raises the backlog.
  if (port > 0 && impl_->listen_fd >= 0)
    ::listen(impl_->listen_fd, SOMAXCONN);
  if (port <= 0)
    return make_error(errc::unavailable,
                      "cannot listen on " + o.host + ":"
                        + std::to_string(o.port)
                        + " (in use, or not an address of this host); set "
                          "tenure.node.http-port or --http-port");
  return static_cast<uint16_t>(port);
}

void gateway::start() {
  impl_->thread = std::thread{[this] { impl_->server.listen_after_bind(); }};
  // cpp-httplib's stop() does nothing until the accept loop has started, so
  // a stop signal arriving right after start would leave the thread serving
  // forever. Return only once the loop runs (microseconds after the thread
  // starts; bounded in case it failed at once).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!impl_->server.is_running()
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void gateway::stop() {
  if (impl_->thread.joinable()) {
    impl_->server.stop();
    impl_->thread.join();
  }
}

} // namespace tenure
