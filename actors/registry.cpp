#include "actors/registry.hpp"

#include <algorithm>
#include <tuple>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "actors/atoms.hpp"
#include "actors/log.hpp"
#include "messages/codec.hpp"
#include "actors/unexpected.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"

namespace tenure {

namespace {

using self_ptr = caf::stateful_actor<registry_state>*;

const log::logger lg{"registry"};

/// The actor of `id`, spawned by `spawn` (linked to the registry) when the
/// entity is not active.
template <class Spawn>
caf::actor activate_with(self_ptr self, const std::string& id, Spawn spawn) {
  auto& st = self->state;
  if (auto i = st.active.find(id); i != st.active.end())
    return i->second;
  auto hdl = spawn();
  st.active.emplace(id, hdl);
  ++st.activations;
  return hdl;
}

caf::actor activate(self_ptr self, const registry_deps& deps,
                    const app_id& id) {
  return activate_with(self, id.str(), [&] {
    application_deps ad;
    ad.store = deps.store;
    ad.clock = deps.clock;
    ad.rules = deps.rules;
    ad.idle_after = deps.idle_after;
    ad.registry = caf::actor_cast<caf::actor>(self);
    ad.pools = deps.pools;
    ad.pools_here = deps.pools_here;
    ad.skus = deps.skus;
    ad.ids = deps.ids;
    ad.policy = deps.policy;
    return self->spawn<caf::linked>(application_actor, id.str(), ad);
  });
}

caf::actor activate(self_ptr self, const registry_deps& deps,
                    const sub_id& id) {
  return activate_with(self, id.str(), [&] {
    subscription_deps sd;
    sd.store = deps.store;
    sd.clock = deps.clock;
    sd.ids = deps.ids;
    sd.policy = deps.policy;
    sd.idle_after = deps.idle_after;
    sd.registry = caf::actor_cast<caf::actor>(self);
    return self->spawn<caf::linked>(subscription_actor, id.str(), sd);
  });
}

/// Takes one activation token; refills by elapsed time (one second of burst).
bool take_token(self_ptr self, const registry_deps& deps) {
  auto rate = static_cast<double>(deps.max_activations_per_second);
  if (rate == 0)
    return true;
  auto& st = self->state;
  // Operational pacing, not domain time: the actor clock, like CAF's own
  // timeouts.
  auto now = self->clock().now();
  auto elapsed = std::chrono::duration<double>(now - st.refilled).count();
  st.refilled = now;
  st.tokens = std::min(rate, st.tokens + elapsed * rate);
  if (st.tokens < 1)
    return false;
  st.tokens -= 1;
  return true;
}

void arm_tick(self_ptr self) {
  auto& st = self->state;
  if (st.tick_armed || st.deferred.empty())
    return;
  st.tick_armed = true;
  self->delayed_send(self, std::chrono::milliseconds(20), tick_atom::value);
}

/// Sends what was held back, in order, while tokens last.
void drain(self_ptr self, const registry_deps& deps) {
  auto& st = self->state;
  while (!st.deferred.empty()) {
    auto& [key, send] = st.deferred.front();
    if (!st.active.count(key) && !take_token(self, deps))
      break;
    auto fn = std::move(send);
    auto k = std::move(key);
    st.deferred.pop_front();
    if (--st.deferred_ids[k] == 0)
      st.deferred_ids.erase(k);
    fn();
  }
  arm_tick(self);
}

/// Delegates `xs` to the actor of `id`, activating it if needed, or holds
/// the message back when activations exceed the configured rate.
template <class Id, class... Ts>
caf::result<caf::message> route(self_ptr self, const registry_deps& deps,
                                const Id& id, Ts... xs) {
  auto& st = self->state;
  const auto& key = id.str();
  // Another member's entity (a pool waking an application, a checkout
  // handing a code to it): its registry takes the message, and the answer
  // goes from there to the sender.
  if (deps.elsewhere)
    if (auto there = deps.elsewhere(key))
      return self->delegate(*there, caf::make_message(std::move(xs)...));
  bool behind = st.deferred_ids.count(key) > 0;
  if (!behind) {
    if (auto i = st.active.find(key); i != st.active.end())
      return self->delegate(i->second, std::move(xs)...);
    if (take_token(self, deps))
      return self->delegate(activate(self, deps, id), std::move(xs)...);
  }
  auto rp = self->make_response_promise();
  ++st.deferred_ids[key];
  ++st.deferred_total;
  st.deferred.emplace_back(
    key,
    [self, deps, id, rp, msg = std::make_tuple(std::move(xs)...)]() mutable {
      std::apply(
        [&](auto&... ys) {
          rp.delegate(activate(self, deps, id), std::move(ys)...);
        },
        msg);
    });
  arm_tick(self);
  return rp;
}

} // namespace

caf::behavior registry_actor(self_ptr self, registry_deps deps) {
  self->set_default_handler(drop_unexpected);
  self->state.tokens = static_cast<double>(deps.max_activations_per_second);
  self->state.refilled = self->clock().now();
  // Entity actors are linked to the registry: they end with it (a node's
  // shutdown waits for them), and their exits arrive here as exit messages
  // instead of taking the registry down.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    auto& st = self->state;
    for (auto i = st.active.begin(); i != st.active.end(); ++i) {
      if (i->second.address() == msg.source) {
        if (msg.reason && msg.reason != caf::exit_reason::normal) {
          ++st.crashes;
          lg.error("entity actor crashed id={} reason={}", i->first,
                   caf::to_string(msg.reason));
        }
        st.active.erase(i);
        return;
      }
    }
    // Not an active child: a passivated one leaving normally, or our owner
    // telling us to stop.
    if (msg.reason && msg.reason != caf::exit_reason::normal)
      self->quit(msg.reason);
  });
  return {
    [=](submit_application& cmd) {
      auto id = deps.ids->next<app_id>(deps.clock->now());
      return route(self, deps, id, std::move(cmd));
    },
    // With the id the API minted and claimed first (an Idempotency-Key):
    // a retry after a crash lands on what the first attempt created.
    [=](const app_id& id, submit_application& cmd) {
      return route(self, deps, id, std::move(cmd));
    },
    [=](record_verification& cmd) {
      auto id = cmd.id; // copied: cmd is moved below
      return route(self, deps, id, std::move(cmd));
    },
    [=](appeal_rejection& cmd) {
      auto id = cmd.id; // copied: cmd is moved below
      return route(self, deps, id, std::move(cmd));
    },
    [=](withdraw_application& cmd) {
      auto id = cmd.id; // copied: cmd is moved below
      return route(self, deps, id, std::move(cmd));
    },
    [=](book_code& cmd) {
      auto id = cmd.id; // copied: cmd is moved below
      return route(self, deps, id, std::move(cmd));
    },
    [=](redeem_code& rc) -> caf::result<caf::message> {
      auto chosen = find_sku(deps.skus, rc.sku);
      if (!chosen)
        return std::move(chosen.error());
      if (rc.seats == 0)
        return make_error(errc::invalid_argument, "seats: must be at least 1");
      auto pool = deps.pools[static_cast<size_t>((*chosen)->program) % 3];
      if (!pool)
        return make_error(errc::unavailable, "no coupon pool for "
                                               + to_string((*chosen)->program));
      return self->delegate(pool, std::move(rc));
    },
    [=](checkout_atom a, redeem_code& rc, coupon& row) {
      auto id = row.application;
      return route(self, deps, id, a, std::move(rc), std::move(row));
    },
    [=](register_subscription& cmd) {
      auto id = deps.ids->next<sub_id>(deps.clock->now());
      return route(self, deps, id, std::move(cmd));
    },
    [=](const sub_id& id, register_subscription& cmd) {
      return route(self, deps, id, std::move(cmd));
    },
    [=](report_usage& cmd) {
      auto id = cmd.id; // copied: cmd is moved below
      return route(self, deps, id, std::move(cmd));
    },
    [=](open_case& cmd) {
      auto id = cmd.subscription; // copied: cmd is moved below
      return route(self, deps, id, std::move(cmd));
    },
    [=](const sub_id& id, cure_case& cmd) {
      return route(self, deps, id, id, std::move(cmd));
    },
    // Timer-driven subscription steps, addressed by subscription id.
    [=](const sub_id& id, expire& cmd) {
      return route(self, deps, id, std::move(cmd));
    },
    [=](const sub_id& id, lapse& cmd) {
      return route(self, deps, id, std::move(cmd));
    },
    [=](const sub_id& id, terminate_for_case& cmd) {
      return route(self, deps, id, std::move(cmd));
    },
    [=](const sub_id& id, renew& cmd) {
      return route(self, deps, id, std::move(cmd));
    },
    // Durable timers, from the supervisors: routed by the entity they
    // concern.
    [=](fire_atom a, timer& t) -> caf::result<caf::message> {
      if (auto id = app_id::parse(t.entity))
        return route(self, deps, *id, a, std::move(t));
      if (auto id = sub_id::parse(t.entity))
        return route(self, deps, *id, a, std::move(t));
      return make_error(errc::invalid_argument,
                        "timer " + t.id.str() + " concerns '"
                          + t.entity.substr(0, 60)
                          + "', which is not an application or subscription");
    },
    [=](start_verification& cmd) {
      auto id = cmd.id; // copied: cmd is moved below
      return route(self, deps, id, std::move(cmd));
    },
    // A cure names its case; the case belongs to one subscription, whose
    // actor writes both.
    [=](cure_case& cmd) -> caf::result<caf::message> {
      auto snap = deps.store->get_snapshot(cmd.id.str());
      if (!snap)
        return std::move(snap.error());
      if (!*snap)
        return make_error(errc::not_found,
                          "no compliance case " + cmd.id.str());
      auto c = decode<compliance_case>((*snap)->bytes);
      if (!c)
        return std::move(c.error());
      auto sub = c->subscription;
      return route(self, deps, sub, sub, std::move(cmd));
    },
    [=](get_atom, const case_id& id) -> caf::result<compliance_case> {
      auto snap = deps.store->get_snapshot(id.str());
      if (!snap)
        return std::move(snap.error());
      if (!*snap)
        return make_error(errc::not_found, "no compliance case " + id.str());
      auto c = decode<compliance_case>((*snap)->bytes);
      if (!c)
        return std::move(c.error());
      return std::move(*c);
    },
    [=](revoke_subscription& cmd) {
      auto id = cmd.id; // copied: cmd is moved below
      return route(self, deps, id, std::move(cmd));
    },
    [=](get_atom g, const sub_id& id) { return route(self, deps, id, g); },
    [=](history_atom h, const sub_id& id) { return route(self, deps, id, h); },
    [=](get_atom g, const app_id& id) { return route(self, deps, id, g); },
    [=](get_atom g, history_atom h, const app_id& id) {
      return route(self, deps, id, g, h);
    },
    [=](get_atom g, history_atom h, const sub_id& id) {
      return route(self, deps, id, g, h);
    },
    [=](history_atom h, const app_id& id) { return route(self, deps, id, h); },
    [=](idle_atom, const std::string& id) {
      auto& st = self->state;
      auto i = st.active.find(id);
      // Only the current activation may go; a stale request is ignored.
      if (i == st.active.end() || i->second.address() != self->current_sender())
        return;
      auto hdl = i->second;
      st.active.erase(i);
      ++st.passivations;
      self->send(hdl, passivate_atom::value);
    },
    [=](whereis_atom, const std::string& id) -> caf::actor {
      auto& st = self->state;
      auto i = st.active.find(id);
      return i == st.active.end() ? caf::actor{} : i->second;
    },
    [=](tick_atom) {
      self->state.tick_armed = false;
      drain(self, deps);
    },
    [=](stats_atom) {
      auto& st = self->state;
      return caf::make_message(static_cast<uint64_t>(st.active.size()),
                               st.activations, st.passivations, st.crashes,
                               st.deferred_total);
    },
  };
}

} // namespace tenure
