#include "nodes/gateway.hpp"

#include <chrono>
#include <thread>

#include <sys/socket.h>

#include <httplib.h>

#include "messages/errc.hpp"

namespace tenure {

struct gateway::impl {
  gateway_options opts;
  std::function<bool()> ready;
  httplib::Server server;
  std::thread thread;
};

gateway::gateway(gateway_options opts, std::function<bool()> ready)
  : impl_(new impl) {
  impl_->opts = std::move(opts);
  impl_->ready = std::move(ready);
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
  srv.set_keep_alive_max_count(10'000);
  srv.set_keep_alive_timeout(30);
  srv.set_read_timeout(10, 0);
  srv.set_write_timeout(10, 0);
  srv.set_payload_max_length(impl_->opts.max_body_bytes);
  auto threads = impl_->opts.threads;
  srv.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  srv.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  srv.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    if (impl_->ready()) {
      res.set_content(R"({"status":"ready"})", "application/json");
    } else {
      res.status = 503;
      res.set_content(R"({"status":"not_ready"})", "application/json");
    }
  });
}

gateway::~gateway() {
  stop();
}

caf::expected<uint16_t> gateway::bind() {
  auto& o = impl_->opts;
  int port = o.port == 0 ? impl_->server.bind_to_any_port(o.host)
                         : (impl_->server.bind_to_port(o.host, o.port)
                              ? o.port
                              : -1);
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
