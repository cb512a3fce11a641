#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/expected.hpp>

namespace tenure {

/// Options of the HTTP gateway.
struct gateway_options {
  /// Address to bind. Default: 127.0.0.1.
  std::string host = "127.0.0.1";
  /// Port to bind; 0 picks a free one (tests). Default: 8640.
  uint16_t port = 8640;
  /// Worker threads. Default: 4.
  size_t threads = 4;
  /// Largest accepted request body. Default: 8 MiB (a CSV of 100k codes).
  size_t max_body_bytes = 8u << 20;
};

/// The node's HTTP/JSON gateway (cpp-httplib). This foundation release serves
/// liveness and readiness only (`GET /healthz`, `GET /readyz`, see
/// docs/openapi.yaml); the `/v1` API is added by the gateway issue.
class gateway {
public:
  /// `ready` answers whether the node can take traffic (store open, actors
  /// up); it is called from HTTP worker threads.
  gateway(gateway_options opts, std::function<bool()> ready);

  ~gateway();

  /// Binds the listening socket; returns the bound port.
  caf::expected<uint16_t> bind();

  /// Serves on a background thread. Precondition: `bind()` succeeded.
  void start();

  /// Stops accepting, finishes in-flight requests and joins the thread.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tenure
