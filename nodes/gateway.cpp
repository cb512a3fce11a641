#include "nodes/gateway.hpp"

#include <chrono>
#include <thread>

#include <sys/socket.h>

#include <httplib.h>

#include "messages/errc.hpp"
#include "nodes/api.hpp"

namespace tenure {

struct gateway::impl {
  gateway_options opts;
  api* app = nullptr;
  httplib::Server server;
  std::thread thread;

  void serve(const httplib::Request& req, httplib::Response& res) {
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
  srv.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // cpp-httplib serves a keep-alive connection on one worker until it
  // closes: with more clients than workers, the others wait for a whole
  // connection, not a request. Closing after 100 requests (a reconnect on
  // loopback costs ~50 us) and after 5 s idle keeps the queue moving while
  // still sparing most handshakes (bench/http_bench, 64 connections).
  srv.set_keep_alive_max_count(100);
  srv.set_keep_alive_timeout(5);
  srv.set_read_timeout(impl_->opts.io_timeout_seconds, 0);
  srv.set_write_timeout(impl_->opts.io_timeout_seconds, 0);
  srv.set_payload_max_length(impl_->opts.max_body_bytes);
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
  // Errors cpp-httplib answers itself (body too large, bad request line)
  // get the API's error shape too.
  srv.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty())
      return;
    std::string code = res.status == 413   ? "too_large"
                       : res.status == 404 ? "not_found"
                       : res.status == 400 ? "bad_request"
                                           : "error";
    std::string message = res.status == 413
                            ? "the request body is larger than the node's "
                              "limit"
                            : "the request could not be read";
    res.set_content("{\"error\":{\"code\":\"" + code + "\",\"message\":\""
                      + message + "\"}}",
                    "application/json");
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
