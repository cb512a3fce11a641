#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>

#include "actors/clock.hpp"
#include "messages/records.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace tenure {

namespace storage {
class store;
} // namespace storage

class key_ring;
class routing_table;
struct supervisors;
class cluster;

/// One request to the API, whatever carried it: the HTTP gateway or the
/// operator shell's CAF endpoint (nodes/shell_protocol.hpp).
struct api_request {
  /// `GET` or `POST`.
  std::string method;
  /// The path without query, e.g. `/v1/applications/app_01J...`.
  std::string path;
  /// Decoded query parameters (the last value of a repeated one).
  std::map<std::string, std::string> query;
  /// The `Authorization` header, e.g. `Bearer 9f86...`.
  std::string authorization;
  std::string idempotency_key;
  /// `Tenure-Signature` (the verifier callback).
  std::string signature;
  std::string content_type;
  std::string body;
  /// Set by the cluster endpoint on a request another member forwarded:
  /// this node answers it itself (it owns what the request concerns, or the
  /// request is one member's part of a listing).
  bool local_only = false;
  /// With `local_only`, a listing answers every row it has, unpaged: the
  /// member that fans out sorts and pages them (compliance cases, which page
  /// by deadline, not by id).
  bool whole = false;
};

struct api_response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  /// Extra headers, e.g. `Idempotent-Replayed: true`.
  std::vector<std::pair<std::string, std::string>> headers;
};

/// What the API needs; owned by the node, outliving the API.
struct api_deps {
  caf::actor_system* sys = nullptr;
  storage::store* store = nullptr;
  const tenure::clock* clock = nullptr;
  /// The manual clock when the node runs one (`POST /v1/admin/clock`);
  /// null otherwise, and the route answers 404.
  manual_clock* manual = nullptr;
  caf::actor registry;
  /// Coupon pools by program (edu, oss, startups).
  std::array<caf::actor, 3> pools;
  const supervisors* sv = nullptr;
  const key_ring* keys = nullptr;
  /// The verifier callback's HMAC secret.
  std::string callback_secret;
  const routing_table* routing = nullptr;
  /// The node's name and data directory, for `GET /v1/node`.
  std::string node_name;
  std::string data_dir;
  /// How long a request waits for the actors. Default: 10 s.
  std::chrono::milliseconds timeout{10'000};
  /// How long idempotency keys are kept (wall time). Default: 24 h.
  duration idempotency_ttl = std::chrono::hours(24);
  /// Webhook signatures older or newer than this are refused. Default: 5 min.
  duration webhook_tolerance = std::chrono::minutes(5);
  /// The cluster, when the node is a member of one; null: a single node.
  tenure::cluster* cluster = nullptr;
  /// The SKU catalog, to find a checkout's pool.
  const std::vector<sku>* skus = nullptr;
  /// Mints the ids of applications and subscriptions created with an
  /// Idempotency-Key before they are created, so a retry after a crash
  /// finds what the first attempt created; null: the registry mints them.
  id_generator* ids = nullptr;
  /// The outreach desk (accounts, contacts, outreach programs); none: the
  /// outreach routes answer 503.
  caf::actor outreach;
  /// Signs and checks the tracked addresses of outreach emails
  /// (nodes/tracking.hpp); at least 16 characters when `outreach` is set.
  std::string tracking_secret;
  /// Whether the node takes traffic (store open, supervisors up).
  std::function<bool()> ready;
};

/// The node's API: one router for the HTTP gateway and the operator shell,
/// with authentication (bearer tokens with scopes, or the verifier's HMAC
/// signature), idempotency keys, validation and error mapping in one place,
/// so both surfaces behave the same. The catalog is docs/openapi.yaml.
///
/// Thread-safe: HTTP workers call `handle` concurrently. Each request talks
/// to the actors through its own scoped actor with a deadline and blocks only
/// its own thread.
class api {
public:
  explicit api(api_deps deps);
  ~api();

  api(const api&) = delete;
  api& operator=(const api&) = delete;

  /// Serves one request. Never throws.
  api_response handle(const api_request& req);

  /// The Prometheus exposition (`GET /metrics`).
  std::string metrics();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Writes the email index rows (see `email_index_key`) of the applications
/// and subscriptions stored before the index existed; once per store (a
/// marker in `meta` says it is done).
caf::error ensure_email_index(storage::store& st);

/// Splits `target` (`/path?a=1&b=x%20y`) into path and decoded query.
void split_target(const std::string& target, std::string& path,
                  std::map<std::string, std::string>& query);

} // namespace tenure
