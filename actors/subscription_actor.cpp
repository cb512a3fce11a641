#include "actors/subscription_actor.hpp"

#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/commit_then.hpp"
#include "actors/entity_io.hpp"
#include "actors/log.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"

namespace tenure {

namespace {

using sub_io = entity_io<subscription, subscription_event>;
using self_ptr = caf::stateful_actor<subscription_actor_state>*;

const log::logger lg{"subscription"};

caf::result<subscription> run(self_ptr self, const subscription_deps& deps,
                              subscription_command cmd,
                              std::optional<caf::response_promise> rp = {},
                              bool retried = false) {
  auto& st = self->state;
  auto now = deps.clock->now();
  subscription_context ctx;
  ctx.cure_period = deps.cure_period;
  if (std::holds_alternative<open_case>(cmd) && deps.ids)
    ctx.new_case = deps.ids->next<case_id>(now);
  auto evs = decide(st.sub, cmd, now, ctx);
  if (!evs) {
    if (rp)
      rp->deliver(evs.error());
    return std::move(evs.error());
  }
  if (evs->empty()) {
    if (rp)
      rp->deliver(*st.sub);
    return *st.sub;
  }
  storage::batch b;
  auto next = sub_io::record(b, st.sub, *evs, now);
  if (!rp)
    rp = self->make_response_promise();
  commit_then(
    self, *deps.store, std::move(b),
    [self, deps, cmd = std::move(cmd), next = std::move(next), rp = *rp,
     retried](const caf::error& err) mutable {
      auto& st = self->state;
      if (err == errc::conflict && !retried) {
        if (reload_or_quit<sub_io>(self, *deps.store, st.id, st.sub, rp, lg))
          run(self, deps, std::move(cmd), rp, true);
        return;
      }
      if (err) {
        lg.warn("commit failed id={} error={}", st.id, error_message(err));
        rp.deliver(err);
        return;
      }
      st.sub = next;
      rp.deliver(std::move(next));
    });
  return *rp;
}

} // namespace

caf::behavior subscription_actor(self_ptr self, std::string id,
                                 subscription_deps deps) {
  self->state.id = id;
  if (!load_or_quit<sub_io>(self, *deps.store, id, self->state.sub, lg))
    return {};
  self->set_default_handler(drop_unexpected);
  auto idle = std::chrono::milliseconds(deps.idle_after.count());
  return {
    [=](report_usage& cmd) -> caf::result<subscription> {
      return run(self, deps, std::move(cmd));
    },
    [=](open_case& cmd) -> caf::result<subscription> {
      return run(self, deps, std::move(cmd));
    },
    [=](const sub_id&, cure_case& cmd) -> caf::result<subscription> {
      return run(self, deps, std::move(cmd));
    },
    [=](revoke_subscription& cmd) -> caf::result<subscription> {
      return run(self, deps, std::move(cmd));
    },
    // Driven by the supervisors' durable timers (local messages).
    [=](expire& cmd) -> caf::result<subscription> {
      return run(self, deps, cmd);
    },
    [=](lapse& cmd) -> caf::result<subscription> {
      return run(self, deps, cmd);
    },
    [=](terminate_for_case& cmd) -> caf::result<subscription> {
      return run(self, deps, std::move(cmd));
    },
    [=](renew& cmd) -> caf::result<subscription> {
      return run(self, deps, std::move(cmd));
    },
    [=](get_atom) -> caf::result<subscription> {
      if (!self->state.sub)
        return make_error(errc::not_found, "no subscription " + self->state.id);
      return *self->state.sub;
    },
    [=](history_atom) -> caf::result<std::vector<history_entry>> {
      auto h = sub_io::history(*deps.store, self->state.id);
      if (!h)
        return std::move(h.error());
      return std::move(*h);
    },
    [=](passivate_atom) { self->quit(); },
    caf::after(idle) >>
      [=] {
        if (deps.registry)
          self->send(deps.registry, idle_atom::value, self->state.id);
      },
  };
}

} // namespace tenure
