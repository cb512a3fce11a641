// The cluster: several tenured nodes as one system over CAF (issue 6).
//
// Each member publishes one endpoint actor at its cluster port. A peer
// proves on connect that it knows the shared secret (and the endpoint proves
// it back), and gets a session token that every later message carries; the
// endpoint takes nothing else from anyone. Over that link a node
// - forwards API requests (HTTP or shell) to the member that owns what they
//   concern, and listing queries to every member (the API merges);
// - hands entity messages to another member's registry or coupon pool
//   (an application asks its program's pool, wherever it is, for a code).
//
// Ownership is rendezvous hashing over the member names (ownership.hpp);
// ids are minted on their owner (id_generator::only), so a request finds its
// node from the id alone.
//
// A member that is down is known as such as soon as CAF sees its connection
// close: requests for it fail at once with `unavailable: node NAME is down`,
// requests in flight to it fail when the connection drops, and the node
// keeps trying to reconnect every `reconnect`.

#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "actors/ownership.hpp"
#include "messages/records.hpp"
#include "nodes/api.hpp"

namespace tenure {

struct cluster_config {
  /// This node's name; one of `members`.
  std::string self;
  std::vector<cluster_member> members;
  /// The shared secret (at least 32 bytes).
  std::string secret;
  /// Links through CAF's OpenSSL module (loaded by the caller).
  bool tls = false;
  /// The address the endpoint binds to; empty: the member's host.
  std::string bind;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds reconnect{1000};
  /// How long a forwarded request may take.
  std::chrono::milliseconds request_timeout{10'000};
  /// Threads serving forwarded API requests (each blocks on the actors).
  size_t workers = 8;
};

/// One member as this node sees it.
struct peer_status {
  cluster_member member;
  bool self = false;
  /// This node has an authenticated link to it (always true for self).
  bool up = false;
  /// Why the last connection attempt failed, or why the link dropped.
  std::string error;
  /// Requests forwarded to it that it answered, that failed because it was
  /// down (or went down), and that it did not answer in time.
  uint64_t answered = 0;
  uint64_t unavailable = 0;
  uint64_t timeouts = 0;
};

class cluster {
public:
  /// Checks the configuration (self among the members, the secret long
  /// enough) and spawns the peer proxies; nothing connects before `serve`.
  static caf::expected<std::unique_ptr<cluster>> make(caf::actor_system& sys,
                                                      cluster_config cfg);

  ~cluster();

  const ownership& members() const;
  const std::string& self() const;

  /// Whether this node owns `key` (an entity id, `pool/<program>`, ...).
  bool owns(std::string_view key) const;

  /// The owner of `key`'s name.
  const std::string& owner_of(std::string_view key) const;

  /// For an id another member owns: that member's registry (a proxy that
  /// answers `unavailable` while the member is down). Nothing when this
  /// node owns the id.
  std::optional<caf::actor> registry_of(std::string_view id) const;

  /// The coupon pool of `p` at its owner, when that is another member (a
  /// proxy as above); nothing when this node owns the pool.
  std::optional<caf::actor> remote_pool(program p) const;

  /// Serves the peers at this member's port and starts connecting to them.
  /// Forwarded API requests go to `app`; entity messages to `registry` and
  /// the pools this node owns. Returns the port.
  caf::expected<uint16_t> serve(api* app, caf::actor registry,
                                std::array<caf::actor, 3> pools);

  /// Sends `req` to member `name` and returns its answer: 503
  /// `unavailable: node NAME is down` at once when the link is down (nothing
  /// sent), 503 with `node_lost_message` when it drops before the answer
  /// (the request may have been applied); 504 after the request timeout.
  api_response forward(const std::string& name, const api_request& req);

  /// `forward` to each of `names` at the same time; answers in that order.
  std::vector<api_response> forward_all(const std::vector<std::string>& names,
                                        const api_request& req);

  /// Every member, in name order.
  std::vector<peer_status> status() const;

  /// Whether the link to `name` is up (true for self).
  bool up(const std::string& name) const;

  /// Stops serving and the links (the node's shutdown).
  void stop();

  struct impl;

private:
  explicit cluster(std::unique_ptr<impl> d);
  std::unique_ptr<impl> d_;
};

/// The text of the 503 for a member that is down (nothing was sent to it).
std::string node_down_message(const std::string& name);

/// The text of the 503 for a member whose connection dropped while a
/// request was in flight to it (it may have applied the request).
std::string node_lost_message(const std::string& name);

} // namespace tenure
