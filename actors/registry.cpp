#include "actors/registry.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "actors/atoms.hpp"
#include "actors/log.hpp"
#include "actors/unexpected.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"

namespace tenure {

namespace {

using self_ptr = caf::stateful_actor<registry_state>*;

const log::logger lg{"registry"};

caf::actor activate(self_ptr self, const registry_deps& deps,
                    const app_id& id) {
  auto& st = self->state;
  if (auto i = st.active.find(id.str()); i != st.active.end())
    return i->second;
  application_deps ad;
  ad.store = deps.store;
  ad.clock = deps.clock;
  ad.rules = deps.rules;
  ad.idle_after = deps.idle_after;
  ad.registry = caf::actor_cast<caf::actor>(self);
  ad.pools = deps.pools;
  ad.skus = deps.skus;
  ad.ids = deps.ids;
  auto hdl = self->spawn<caf::linked>(application_actor, id.str(), ad);
  st.active.emplace(id.str(), hdl);
  ++st.activations;
  return hdl;
}

caf::actor activate(self_ptr self, const registry_deps& deps,
                    const sub_id& id) {
  auto& st = self->state;
  if (auto i = st.active.find(id.str()); i != st.active.end())
    return i->second;
  subscription_deps sd;
  sd.store = deps.store;
  sd.clock = deps.clock;
  sd.ids = deps.ids;
  sd.cure_period = deps.cure_period;
  sd.idle_after = deps.idle_after;
  sd.registry = caf::actor_cast<caf::actor>(self);
  auto hdl = self->spawn<caf::linked>(subscription_actor, id.str(), sd);
  st.active.emplace(id.str(), hdl);
  ++st.activations;
  return hdl;
}

} // namespace

caf::behavior registry_actor(self_ptr self, registry_deps deps) {
  self->set_default_handler(drop_unexpected);
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
      return self->delegate(activate(self, deps, id), std::move(cmd));
    },
    [=](record_verification& cmd) {
      auto hdl = activate(self, deps, cmd.id);
      return self->delegate(hdl, std::move(cmd));
    },
    [=](appeal_rejection& cmd) {
      auto hdl = activate(self, deps, cmd.id);
      return self->delegate(hdl, std::move(cmd));
    },
    [=](withdraw_application& cmd) {
      auto hdl = activate(self, deps, cmd.id);
      return self->delegate(hdl, std::move(cmd));
    },
    [=](book_code& cmd) {
      auto hdl = activate(self, deps, cmd.id);
      return self->delegate(hdl, std::move(cmd));
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
      auto hdl = activate(self, deps, row.application);
      return self->delegate(hdl, a, std::move(rc), std::move(row));
    },
    [=](report_usage& cmd) {
      return self->delegate(activate(self, deps, cmd.id), std::move(cmd));
    },
    [=](open_case& cmd) {
      return self->delegate(activate(self, deps, cmd.subscription),
                            std::move(cmd));
    },
    [=](const sub_id& id, cure_case& cmd) {
      return self->delegate(activate(self, deps, id), id, std::move(cmd));
    },
    [=](revoke_subscription& cmd) {
      return self->delegate(activate(self, deps, cmd.id), std::move(cmd));
    },
    [=](get_atom g, const sub_id& id) {
      return self->delegate(activate(self, deps, id), g);
    },
    [=](history_atom h, const sub_id& id) {
      return self->delegate(activate(self, deps, id), h);
    },
    [=](get_atom g, const app_id& id) {
      return self->delegate(activate(self, deps, id), g);
    },
    [=](history_atom h, const app_id& id) {
      return self->delegate(activate(self, deps, id), h);
    },
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
    [=](stats_atom) {
      auto& st = self->state;
      return caf::make_message(static_cast<uint64_t>(st.active.size()),
                               st.activations, st.passivations, st.crashes);
    },
  };
}

} // namespace tenure
