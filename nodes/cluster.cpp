#include "nodes/cluster.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <openssl/hmac.h>

#include "actors/log.hpp"
#include "messages/errc.hpp"
#include "nodes/auth.hpp"
#include "nodes/signature.hpp"

namespace tenure {

namespace {

using peer_atom = caf::atom_constant<caf::atom("peer")>;
using hello_atom = caf::atom_constant<caf::atom("hello")>;
using api_atom = caf::atom_constant<caf::atom("api")>;
using dial_atom = caf::atom_constant<caf::atom("dial")>;
using noop_atom = caf::atom_constant<caf::atom("noop")>;
using ready_atom = caf::atom_constant<caf::atom("ready")>;
using attach_atom = caf::atom_constant<caf::atom("attach")>;
constexpr auto registry_target = caf::atom("registry");
constexpr auto pool_target = caf::atom("pool");

const log::logger lg{"cluster"};

/// A proof of the shared secret: HMAC-SHA256 over the labelled parts.
std::string proof(const std::string& secret, std::string_view label,
                  std::initializer_list<std::string_view> parts) {
  std::string msg{label};
  for (auto p : parts) {
    msg += '\n';
    msg += p;
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out,
       &len);
  return to_hex(std::string_view{reinterpret_cast<const char*>(out), len});
}

/// Wall time for the handshake's freshness window: an operational check
/// between machines, not domain time (a node on the manual clock still
/// talks to its peers in real time).
int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

constexpr int64_t hello_window_ms = 5 * 60 * 1000;

// -- the wire form of a forwarded request
// ---------------------------------------
//
// Only built-in types cross: a list of strings each way, so no type-id has
// to match between builds for the API (the entity messages use the tenure
// block, which is append-only).

std::vector<std::string> encode_request(const api_request& req) {
  std::vector<std::string> f{
    req.method,    req.path,         req.authorization, req.idempotency_key,
    req.signature, req.content_type, req.body,          req.whole ? "1" : ""};
  for (auto& [k, v] : req.query) {
    f.push_back(k);
    f.push_back(v);
  }
  return f;
}

std::optional<api_request> decode_request(std::vector<std::string>& f) {
  if (f.size() < 8 || (f.size() - 8) % 2 != 0)
    return std::nullopt;
  api_request req;
  req.method = std::move(f[0]);
  req.path = std::move(f[1]);
  req.authorization = std::move(f[2]);
  req.idempotency_key = std::move(f[3]);
  req.signature = std::move(f[4]);
  req.content_type = std::move(f[5]);
  req.body = std::move(f[6]);
  req.whole = f[7] == "1";
  for (size_t i = 8; i + 1 < f.size(); i += 2)
    req.query[std::move(f[i])] = std::move(f[i + 1]);
  req.local_only = true;
  return req;
}

std::vector<std::string> encode_response(api_response& res) {
  std::vector<std::string> f{std::move(res.content_type), std::move(res.body)};
  for (auto& [k, v] : res.headers) {
    f.push_back(k);
    f.push_back(v);
  }
  return f;
}

api_response decode_response(int32_t status, std::vector<std::string>& f) {
  api_response res;
  res.status = status;
  if (f.size() < 2 || f.size() % 2 != 0) {
    res.status = 502;
    res.body = R"({"error":{"code":"bad_gateway","message":"a peer answered )"
               R"(with a malformed response"}})";
    return res;
  }
  res.content_type = std::move(f[0]);
  res.body = std::move(f[1]);
  for (size_t i = 2; i + 1 < f.size(); i += 2)
    res.headers.emplace_back(std::move(f[i]), std::move(f[i + 1]));
  return res;
}

api_response error_json(int status, const char* code, const std::string& msg) {
  api_response res;
  res.status = status;
  // The message is ours (a node name, a fixed text): no escaping needed
  // beyond quotes, which names cannot contain.
  res.body = std::string{R"({"error":{"code":")"} + code + R"(","message":")"
             + msg + R"("}})";
  return res;
}

} // namespace

std::string node_down_message(const std::string& name) {
  return "node " + name + " is down";
}

std::string node_lost_message(const std::string& name) {
  return "node " + name
         + " went down before it answered; the request may have been "
           "applied: retry with the same Idempotency-Key";
}

// -- shared state -------------------------------------------------------------

struct cluster::impl {
  caf::actor_system& sys;
  cluster_config cfg;
  ownership own;

  struct peer {
    cluster_member member;
    bool self = false;
    bool up = false;
    caf::actor endpoint;
    std::string token; // ours, issued by the peer
    std::string error = "not connected yet";
    uint64_t answered = 0;
    uint64_t unavailable = 0;
    uint64_t timeouts = 0;
  };

  /// Counts one forwarded request's outcome for peer `name`.
  void count(const std::string& name, int status) {
    std::lock_guard<std::mutex> guard{mtx};
    for (auto& p : peers)
      if (p.member.name == name) {
        if (status == 503)
          ++p.unavailable;
        else if (status == 504)
          ++p.timeouts;
        else
          ++p.answered;
      }
  }

  struct link {
    caf::actor endpoint;
    std::string token;
  };

  mutable std::mutex mtx;
  std::vector<peer> peers; // name order, as own.members()
  /// Session tokens this node issued, by token: the peer's name.
  std::unordered_map<std::string, std::string> issued;
  /// Hello nonces seen in the freshness window (replays are refused).
  std::map<std::string, int64_t> nonces;

  std::vector<caf::actor> registry_proxies; // by peer index; none for self
  std::array<caf::actor, 3> pool_proxies;   // none where the pool is ours
  std::vector<caf::actor> links;            // by peer index; none for self
  std::vector<caf::actor> workers;
  caf::actor endpoint;
  uint16_t port = 0;
  std::atomic<uint64_t> serials{0};

  impl(caf::actor_system& s, cluster_config c, ownership o)
    : sys(s)
    , cfg(std::move(c))
    , own(std::move(o)) {
    for (auto& m : own.members()) {
      peer p;
      p.member = m;
      p.self = m.name == cfg.self;
      p.up = p.self;
      if (p.self)
        p.error.clear();
      peers.push_back(std::move(p));
    }
  }

  size_t index_of(std::string_view name) const {
    for (size_t i = 0; i < peers.size(); ++i)
      if (peers[i].member.name == name)
        return i;
    return peers.size();
  }

  std::optional<link> link_of(size_t i) const {
    std::lock_guard<std::mutex> guard{mtx};
    if (i >= peers.size() || !peers[i].up || peers[i].self)
      return std::nullopt;
    return link{peers[i].endpoint, peers[i].token};
  }

  void set_up(size_t i, caf::actor ep, std::string token) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      peers[i].up = true;
      peers[i].endpoint = std::move(ep);
      peers[i].token = std::move(token);
      peers[i].error.clear();
    }
    lg.info("peer up node={}", peers[i].member.name);
  }

  void set_down(size_t i, const std::string& why) {
    bool was_up = false;
    {
      std::lock_guard<std::mutex> guard{mtx};
      was_up = peers[i].up;
      peers[i].up = false;
      peers[i].endpoint = nullptr;
      peers[i].token.clear();
      peers[i].error = why;
    }
    if (was_up)
      lg.warn("peer down node={} reason={}", peers[i].member.name, why);
    else
      lg.debug("peer unreachable node={} reason={}", peers[i].member.name, why);
  }

  /// The peer a session token belongs to, or empty.
  std::string peer_of(const std::string& token) const {
    std::lock_guard<std::mutex> guard{mtx};
    auto i = issued.find(token);
    return i == issued.end() ? std::string{} : i->second;
  }

  /// Checks a hello and issues a session token; an error says why not.
  caf::expected<std::string> accept(const std::string& from,
                                    const std::string& to, int64_t ts,
                                    const std::string& nonce,
                                    const std::string& mac) {
    auto refuse = [&](const std::string& why) {
      lg.warn("peer refused claimed={} reason={}", from.substr(0, 64), why);
      return make_error(errc::unauthorized, "cluster: " + why);
    };
    auto i = index_of(from);
    if (i == peers.size() || peers[i].self)
      return refuse("not a member of this cluster");
    if (to != cfg.self)
      return refuse("addressed to another member");
    auto now = wall_ms();
    if (ts < now - hello_window_ms || ts > now + hello_window_ms)
      return refuse("stale hello (clocks more than 5 minutes apart?)");
    if (nonce.size() < 32 || nonce.size() > 128)
      return refuse("bad nonce");
    if (!constant_time_equal(mac, proof(cfg.secret, "tenure-cluster-hello-v1",
                                        {from, to, std::to_string(ts), nonce})))
      return refuse("wrong cluster secret");
    std::lock_guard<std::mutex> guard{mtx};
    for (auto j = nonces.begin(); j != nonces.end();)
      j = j->second < now - hello_window_ms ? nonces.erase(j) : std::next(j);
    if (!nonces.emplace(nonce, ts).second)
      return refuse("replayed hello");
    // One session per peer: a reconnecting peer's old token goes.
    for (auto j = issued.begin(); j != issued.end();)
      j = j->second == from ? issued.erase(j) : std::next(j);
    auto token = new_token();
    if (token.empty())
      return make_error(errc::unavailable, "cannot draw random bytes");
    issued.emplace(token, from);
    return token;
  }

  /// Issues a session token to `peer` (the dialer's side), replacing any
  /// earlier one. Empty when no random bytes could be drawn.
  std::string issue(const std::string& peer) {
    auto token = new_token();
    if (token.empty())
      return token;
    std::lock_guard<std::mutex> guard{mtx};
    for (auto j = issued.begin(); j != issued.end();)
      j = j->second == peer ? issued.erase(j) : std::next(j);
    issued.emplace(token, peer);
    return token;
  }

  caf::actor middleman() {
    if (cfg.tls)
      return caf::actor_cast<caf::actor>(sys.openssl_manager().actor_handle());
    return caf::actor_cast<caf::actor>(sys.middleman().actor_handle());
  }
};

namespace {

using impl_ptr = std::shared_ptr<cluster::impl>;

/// Hands every message to `target` at peer `i`, or answers unavailable
/// while it is down. The reply goes from the owner straight to the sender.
caf::behavior peer_proxy(caf::event_based_actor* self, cluster::impl* d,
                         size_t i, caf::atom_value target, int32_t arg) {
  self->set_default_handler(
    [d, i, target, arg](caf::scheduled_actor* ptr,
                        caf::message_view& xs) -> caf::result<caf::message> {
      auto l = d->link_of(i);
      if (!l)
        return make_error(errc::unavailable,
                          node_down_message(d->peers[i].member.name));
      auto s = static_cast<caf::event_based_actor*>(ptr);
      auto rp = s->make_response_promise();
      rp.delegate(l->endpoint, peer_atom::value, l->token, target, arg,
                  xs.move_content_to_message());
      return rp;
    });
  return {[](noop_atom) {}};
}

struct link_state {
  static inline const char* name = "cluster_link";
  caf::actor endpoint;
  bool dialing = false;
};

/// Keeps the link to peer `i`. CAF keeps one connection per pair of nodes
/// (a second one replaces the first, which drops what travels on it), so
/// only one side dials: the member whose name sorts first. It connects,
/// says hello with its own endpoint, checks the answer, tells the peer it
/// is ready, watches the connection and dials again `reconnect` after it
/// failed or dropped. The other side's link is attached by its endpoint
/// when the hello and the ready message arrive, and waits for the next
/// dial after a drop.
caf::behavior peer_link(caf::stateful_actor<link_state>* self, cluster::impl* d,
                        size_t i) {
  bool dialer = d->cfg.self < d->peers[i].member.name;
  auto lost = [self, d, i, dialer](const std::string& why) {
    if (self->state.endpoint)
      self->demonitor(self->state.endpoint);
    self->state.dialing = false;
    self->state.endpoint = nullptr;
    d->set_down(i, why);
    if (dialer)
      self->delayed_send(self, d->cfg.reconnect, dial_atom::value);
  };
  self->set_down_handler([self, d, i, dialer, lost](caf::down_msg& dm) {
    if (self->state.endpoint && dm.source == self->state.endpoint.address())
      lost(dialer ? "connection lost"
                  : "connection lost; waiting for " + d->peers[i].member.name
                      + " to connect");
  });
  if (dialer)
    self->send(self, dial_atom::value);
  else
    d->set_down(i, "waiting for " + d->peers[i].member.name + " to connect");
  return {
    [self, d, i, lost](dial_atom) {
      auto& st = self->state;
      if (st.dialing || st.endpoint)
        return;
      st.dialing = true;
      auto m = d->peers[i].member;
      self
        ->request(d->middleman(), d->cfg.connect_timeout,
                  caf::connect_atom::value, m.host, m.port)
        .then(
          [self, d, i, lost](const caf::node_id&, caf::strong_actor_ptr& ptr,
                             const std::set<std::string>&) {
            if (!ptr) {
              lost("nothing published at the cluster port");
              return;
            }
            auto ep = caf::actor_cast<caf::actor>(ptr);
            auto& me = d->cfg.self;
            auto peer = d->peers[i].member.name;
            auto nonce = new_token();
            auto ts = wall_ms();
            auto mac = proof(d->cfg.secret, "tenure-cluster-hello-v1",
                             {me, peer, std::to_string(ts), nonce});
            self
              ->request(ep, d->cfg.connect_timeout, hello_atom::value, me, peer,
                        ts, nonce, mac, d->endpoint)
              .then(
                [self, d, i, lost, ep, nonce, peer](std::string& token,
                                                    std::string& back) {
                  // The endpoint proves it knows the secret too: a stranger
                  // at the peer's address gets no forwarded request and no
                  // session here.
                  if (!constant_time_equal(
                        back, proof(d->cfg.secret, "tenure-cluster-welcome-v1",
                                    {peer, d->cfg.self, nonce, token}))) {
                    lost("the peer does not know the cluster secret");
                    return;
                  }
                  auto theirs = d->issue(peer);
                  if (theirs.empty()) {
                    lost("cannot draw random bytes");
                    return;
                  }
                  self->state.dialing = false;
                  self->state.endpoint = ep;
                  self->monitor(ep);
                  self->send(ep, peer_atom::value, token, ready_atom::value,
                             theirs);
                  d->set_up(i, ep, std::move(token));
                },
                [lost](caf::error& err) { lost(error_message(err)); });
          },
          [lost](caf::error& err) { lost(error_message(err)); });
    },
    // Passive side: the peer dialed, said hello and is ready; `token` is
    // the session it issued to us.
    [self, d, i](attach_atom, caf::actor& ep, std::string& token) {
      auto& st = self->state;
      if (st.endpoint)
        self->demonitor(st.endpoint);
      st.endpoint = ep;
      self->monitor(ep);
      d->set_up(i, std::move(ep), std::move(token));
    },
  };
}

/// Serves forwarded API requests; detached, since the API blocks its thread
/// while the actors answer. Replies to the original sender.
caf::behavior api_worker(caf::event_based_actor* self, api* app) {
  return {
    [self, app](api_atom, uint64_t serial, std::vector<std::string>& f) {
      auto to = caf::actor_cast<caf::actor>(self->current_sender());
      if (!to)
        return;
      auto req = decode_request(f);
      api_response res;
      if (!req)
        res = error_json(400, "bad_request", "malformed forwarded request");
      else
        res = app->handle(*req);
      auto status = static_cast<int32_t>(res.status);
      self->send(to, api_atom::value, serial, status, encode_response(res));
    },
  };
}

struct endpoint_state {
  static inline const char* name = "cluster_endpoint";
  size_t next_worker = 0;
  /// Peers that said hello, with their endpoints, until they are ready.
  std::map<std::string, caf::actor> pending;
};

caf::behavior endpoint_actor(caf::stateful_actor<endpoint_state>* self,
                             cluster::impl* d, caf::actor registry,
                             std::array<caf::actor, 3> pools) {
  auto refuse
    = [](const char* what) { return make_error(errc::unauthorized, what); };
  return {
    [self,
     d](hello_atom, const std::string& from, const std::string& to, int64_t ts,
        const std::string& nonce, const std::string& mac,
        caf::actor& their_endpoint) -> caf::result<std::string, std::string> {
      auto token = d->accept(from, to, ts, nonce, mac);
      if (!token)
        return std::move(token.error());
      if (!their_endpoint)
        return make_error(errc::invalid_argument, "cluster: no endpoint");
      self->state.pending[from] = std::move(their_endpoint);
      auto back = proof(d->cfg.secret, "tenure-cluster-welcome-v1",
                        {to, from, nonce, *token});
      lg.info("peer accepted node={}", from);
      return {std::move(*token), std::move(back)};
    },
    [self, d, refuse](peer_atom, const std::string& token, ready_atom,
                      std::string& ours) -> caf::result<void> {
      auto from = d->peer_of(token);
      if (from.empty())
        return refuse("cluster: no session");
      auto& pending = self->state.pending;
      auto j = pending.find(from);
      if (j == pending.end() || ours.size() < 32)
        return refuse("cluster: ready without hello");
      auto i = d->index_of(from);
      self->send(d->links[i], attach_atom::value, std::move(j->second),
                 std::move(ours));
      pending.erase(j);
      return caf::unit;
    },
    [self, d,
     refuse](peer_atom, const std::string& token, api_atom, uint64_t serial,
             std::vector<std::string>& f) -> caf::result<caf::message> {
      if (d->peer_of(token).empty())
        return refuse("cluster: no session");
      auto& st = self->state;
      auto& w = d->workers[st.next_worker++ % d->workers.size()];
      return self->delegate(w, api_atom::value, serial, std::move(f));
    },
    [self, d, registry, pools,
     refuse](peer_atom, const std::string& token, caf::atom_value target,
             int32_t arg, caf::message& msg) -> caf::result<caf::message> {
      if (d->peer_of(token).empty())
        return refuse("cluster: no session");
      caf::actor dest;
      if (target == registry_target)
        dest = registry;
      else if (target == pool_target && arg >= 0 && arg < 3)
        dest = pools[static_cast<size_t>(arg)];
      if (!dest)
        return make_error(errc::unavailable,
                          "cluster: node " + d->cfg.self
                            + " does not serve that (ownership differs "
                              "between members?)");
      return self->delegate(dest, std::move(msg));
    },
  };
}

} // namespace

// -- cluster ------------------------------------------------------------------

cluster::cluster(std::unique_ptr<impl> d)
  : d_(std::move(d)) {
  // nop
}

cluster::~cluster() {
  stop();
}

caf::expected<std::unique_ptr<cluster>> cluster::make(caf::actor_system& sys,
                                                      cluster_config cfg) {
  auto own = ownership::make(cfg.members);
  if (!own)
    return std::move(own.error());
  if (!own->find(cfg.self)) {
    std::string names;
    for (auto& m : own->members())
      names += (names.empty() ? "" : ", ") + m.name;
    return make_error(errc::config_invalid,
                      "tenure.cluster.node: '" + cfg.self.substr(0, 64)
                        + "' is not one of the members (" + names + ")");
  }
  if (cfg.secret.size() < 32)
    return make_error(errc::config_invalid,
                      "tenure.cluster.secret-file: the secret must be at least "
                      "32 bytes");
  if (cfg.workers == 0)
    cfg.workers = 1;
  auto d = std::make_unique<impl>(sys, std::move(cfg), std::move(*own));
  auto* raw = d.get();
  for (size_t i = 0; i < raw->peers.size(); ++i)
    raw->registry_proxies.push_back(
      raw->peers[i].self
        ? caf::actor{}
        : sys.spawn(peer_proxy, raw, i, registry_target, int32_t{0}));
  for (auto p : {program::edu, program::oss, program::startups}) {
    auto& owner = raw->own.pool_owner(p);
    if (owner.name == raw->cfg.self)
      continue;
    auto i = raw->index_of(owner.name);
    raw->pool_proxies[static_cast<size_t>(p) % 3]
      = sys.spawn(peer_proxy, raw, i, pool_target,
                  static_cast<int32_t>(static_cast<size_t>(p) % 3));
  }
  return std::unique_ptr<cluster>{new cluster(std::move(d))};
}

const ownership& cluster::members() const {
  return d_->own;
}

const std::string& cluster::self() const {
  return d_->cfg.self;
}

bool cluster::owns(std::string_view key) const {
  return d_->own.owner_of(key).name == d_->cfg.self;
}

const std::string& cluster::owner_of(std::string_view key) const {
  return d_->own.owner_of(key).name;
}

std::optional<caf::actor> cluster::registry_of(std::string_view id) const {
  auto& owner = d_->own.owner_of(id);
  if (owner.name == d_->cfg.self)
    return std::nullopt;
  return d_->registry_proxies[d_->index_of(owner.name)];
}

std::optional<caf::actor> cluster::remote_pool(program p) const {
  auto& hdl = d_->pool_proxies[static_cast<size_t>(p) % 3];
  if (!hdl)
    return std::nullopt;
  return hdl;
}

caf::expected<uint16_t> cluster::serve(api* app, caf::actor registry,
                                       std::array<caf::actor, 3> pools) {
  auto& d = *d_;
  for (size_t i = 0; i < d.cfg.workers; ++i)
    d.workers.push_back(d.sys.spawn<caf::detached>(api_worker, app));
  d.endpoint
    = d.sys.spawn(endpoint_actor, &d, std::move(registry), std::move(pools));
  // The links exist before the endpoint is reachable: a peer's hello may
  // arrive at once, and the endpoint hands it to the peer's link.
  d.links.resize(d.peers.size());
  for (size_t i = 0; i < d.peers.size(); ++i)
    if (!d.peers[i].self)
      d.links[i] = d.sys.spawn(peer_link, &d, i);
  auto& me = *d.own.find(d.cfg.self);
  auto bind = d.cfg.bind.empty() ? me.host : d.cfg.bind;
  // reuse_addr: a restarted node must not wait out TIME_WAIT on its port;
  // SO_REUSEADDR still refuses a port another process listens on.
  caf::expected<uint16_t> port{caf::error{}};
  if (d.cfg.tls)
    port = caf::openssl::publish(d.endpoint, me.port, bind.c_str(), true);
  else
    port = d.sys.middleman().publish(d.endpoint, me.port, bind.c_str(), true);
  if (!port)
    return make_error(errc::config_invalid,
                      "cannot listen on " + bind + ":" + std::to_string(me.port)
                        + " for the cluster (in use, or not an address of "
                          "this host): "
                        + d.sys.render(port.error()));
  d.port = *port;
  return *port;
}

api_response cluster::forward(const std::string& name, const api_request& req) {
  return forward_all({name}, req).front();
}

std::vector<api_response>
cluster::forward_all(const std::vector<std::string>& names,
                     const api_request& req) {
  auto& d = *d_;
  std::vector<api_response> out(names.size());
  std::vector<bool> done(names.size(), false);
  std::vector<caf::actor> eps(names.size());
  size_t pending = 0;
  caf::scoped_actor self{d.sys};
  auto serial0 = d.serials.fetch_add(names.size());
  auto fields = encode_request(req);
  for (size_t k = 0; k < names.size(); ++k) {
    auto i = d.index_of(names[k]);
    auto l = d.link_of(i);
    if (!l) {
      out[k] = error_json(503, "unavailable", node_down_message(names[k]));
      done[k] = true;
      continue;
    }
    eps[k] = l->endpoint;
    // Watching the endpoint's proxy: if the connection drops before the
    // answer, CAF kills the proxy and the wait ends at once.
    self->monitor(l->endpoint);
    self->send(l->endpoint, peer_atom::value, l->token, api_atom::value,
               serial0 + k, fields);
    ++pending;
  }
  auto deadline = std::chrono::steady_clock::now() + d.cfg.request_timeout;
  while (pending > 0) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero())
      break;
    self->receive(
      [&](api_atom, uint64_t serial, int32_t status,
          std::vector<std::string>& f) {
        if (serial < serial0 || serial >= serial0 + names.size())
          return;
        auto k = static_cast<size_t>(serial - serial0);
        if (done[k])
          return;
        out[k] = decode_response(status, f);
        done[k] = true;
        --pending;
      },
      [&](caf::down_msg& dm) {
        for (size_t k = 0; k < names.size(); ++k)
          if (!done[k] && eps[k] && dm.source == eps[k].address()) {
            // The request may have been applied before the connection
            // dropped: say so, unlike a refusal before sending.
            out[k]
              = error_json(503, "unavailable", node_lost_message(names[k]));
            done[k] = true;
            --pending;
          }
      },
      [&](caf::error& err) {
        // A refusal by a peer's endpoint (e.g. its session is gone after
        // it restarted): it cannot be told apart per request, so the
        // remaining ones fail as unavailable; the link dials again.
        lg.warn("peer refused a forwarded request error={}",
                error_message(err));
        for (size_t k = 0; k < names.size(); ++k)
          if (!done[k]) {
            out[k]
              = error_json(503, "unavailable", node_down_message(names[k]));
            done[k] = true;
            --pending;
          }
      },
      caf::after(std::chrono::duration_cast<std::chrono::milliseconds>(left)) >>
        [&] {
          // Loop checks the deadline.
        });
  }
  for (size_t k = 0; k < names.size(); ++k)
    if (!done[k])
      out[k] = error_json(504, "timeout",
                          "node " + names[k] + " did not answer in time");
  for (size_t k = 0; k < names.size(); ++k)
    d.count(names[k], out[k].status);
  return out;
}

std::vector<peer_status> cluster::status() const {
  std::vector<peer_status> out;
  std::lock_guard<std::mutex> guard{d_->mtx};
  for (auto& p : d_->peers)
    out.push_back(peer_status{p.member, p.self, p.up, p.error, p.answered,
                              p.unavailable, p.timeouts});
  return out;
}

bool cluster::up(const std::string& name) const {
  std::lock_guard<std::mutex> guard{d_->mtx};
  for (auto& p : d_->peers)
    if (p.member.name == name)
      return p.up;
  return false;
}

void cluster::stop() {
  auto& d = *d_;
  if (d.endpoint) {
    if (d.port != 0) {
      // (caf/openssl/unpublish.hpp does not compile in CAF 0.17.6: ask
      // the OpenSSL middleman actor directly.)
      if (d.cfg.tls)
        caf::anon_send(d.sys.openssl_manager().actor_handle(),
                       caf::unpublish_atom::value, d.endpoint.address(),
                       d.port);
      else
        d.sys.middleman().unpublish(d.endpoint, d.port);
    }
    caf::anon_send_exit(d.endpoint, caf::exit_reason::user_shutdown);
  }
  for (auto& l : d.links)
    if (l)
      caf::anon_send_exit(l, caf::exit_reason::user_shutdown);
  for (auto& p : d.registry_proxies)
    if (p)
      caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
  for (auto& p : d.pool_proxies)
    if (p)
      caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
  // The workers use the API, which the caller destroys after this: wait
  // until they finished what they were doing.
  if (!d.workers.empty()) {
    for (auto& w : d.workers)
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
    caf::scoped_actor waiter{d.sys};
    waiter->wait_for(d.workers);
  }
  d.workers.clear();
  d.links.clear();
  d.endpoint = nullptr;
  d.port = 0;
}

} // namespace tenure
