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
  /// Worker threads; each request blocks one while the actors answer.
  /// Default: 8.
  size_t threads = 8;
  /// Seconds a connection may take to send a request or read an answer.
  /// Default: 10.
  int io_timeout_seconds = 10;
  /// Largest accepted request body. Default: 8 MiB (a CSV of 100k codes).
  size_t max_body_bytes = 8u << 20;
};

class api;

/// The node's HTTP/JSON gateway (cpp-httplib): turns each HTTP request into
/// an `api_request` for the node's API (nodes/api.hpp, the catalog is
/// docs/openapi.yaml) and writes its answer back. Bounded: a worker pool of
/// `threads`, a body limit, read/write timeouts.
class gateway {
public:
  /// `app` serves the requests, from HTTP worker threads; it outlives the
  /// gateway.
  gateway(gateway_options opts, api& app);

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
