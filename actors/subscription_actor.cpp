#include "actors/subscription_actor.hpp"

#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/commit_then.hpp"
#include "actors/entity_io.hpp"
#include "actors/lifecycle.hpp"
#include "actors/log.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"

namespace tenure {

namespace {

using sub_io = entity_io<subscription, subscription_event>;
using case_io = entity_io<compliance_case, case_event>;
using self_ptr = caf::stateful_actor<subscription_actor_state>*;

const log::logger lg{"subscription"};

const lifecycle_policy default_policy{};

const lifecycle_policy& policy_of(const subscription_deps& deps) {
  return deps.policy ? *deps.policy : default_policy;
}

/// Decides and commits one command. `fired` is the timer that caused it: it
/// is removed in the same commit (also when the command no longer applies,
/// then alone). Replies with the new state.
caf::result<subscription> run(self_ptr self, const subscription_deps& deps,
                              subscription_command cmd,
                              std::optional<caf::response_promise> rp = {},
                              bool retried = false,
                              std::optional<timer> fired = {}) {
  auto& st = self->state;
  auto now = deps.clock->now();
  auto& pol = policy_of(deps);
  subscription_context ctx;
  ctx.cure_period = pol.cure_period;
  if (std::holds_alternative<open_case>(cmd) && deps.ids)
    ctx.new_case = deps.ids->next<case_id>(now);
  auto evs = decide(st.sub, cmd, now, ctx);
  if (!evs || evs->empty()) {
    if (fired) {
      // The timer's effect no longer applies (or was recorded already):
      // the timer goes, nothing else changes.
      if (!evs)
        lg.info("timer dropped id={} kind={} reason={}", st.id, fired->kind,
                error_message(evs.error()));
      return drop_timer(self, *deps.store, *fired, std::move(rp));
    }
    if (!evs) {
      if (rp)
        rp->deliver(evs.error());
      return std::move(evs.error());
    }
    if (rp)
      rp->deliver(*st.sub);
    return *st.sub;
  }
  storage::batch b;
  auto next = sub_io::record(b, st.sub, *evs, now);
  auto fx = subscription_effects(next, *evs, now, pol);
  if (auto cc = case_change_for(*st.sub, cmd, *evs, ctx.new_case, now)) {
    auto before = case_io::load(*deps.store, cc->id.str());
    if (!before) {
      if (rp)
        rp->deliver(before.error());
      return std::move(before.error());
    }
    case_io::record(b, *before, cc->events, now);
    for (auto& n : cc->notify)
      fx.notify.push_back(std::move(n));
  }
  if (fired)
    b.delete_timer(*fired);
  if (deps.ids)
    write_effects(b, fx, *deps.ids, now);
  if (!rp)
    rp = self->make_response_promise();
  commit_then(
    self, *deps.store, std::move(b),
    [self, deps, cmd = std::move(cmd), next = std::move(next), rp = *rp,
     retried, fired](const caf::error& err) mutable {
      auto& st = self->state;
      if (err == errc::conflict && !retried) {
        if (reload_or_quit<sub_io>(self, *deps.store, st.id, st.sub, rp, lg))
          run(self, deps, std::move(cmd), rp, true, fired);
        return;
      }
      if (err) {
        lg.warn("commit failed id={} error={}", st.id, error_message(err));
        rp.deliver(err);
        return;
      }
      st.sub = next;
      if (fired)
        rp.deliver(true); // a timer's effect is recorded
      else
        rp.deliver(std::move(next));
    });
  return *rp;
}

/// The command a due timer stands for, or nothing for an unknown kind.
std::optional<subscription_command> command_for(const subscription& s,
                                                const timer& t) {
  if (t.kind == kinds::expiry)
    return subscription_command{expire{t.id}};
  if (t.kind == kinds::grace_end)
    return subscription_command{lapse{t.id}};
  if (t.kind == kinds::cure_deadline)
    return subscription_command{terminate_for_case{
      s.open_case, "the 30-day cure period ended without a cure", t.id}};
  if (auto offset = reminder_offset(t.kind))
    return subscription_command{send_reminder{*offset, t.id}};
  return std::nullopt;
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
    [=](register_subscription& cmd) -> caf::result<subscription> {
      // Only a retry with an Idempotency-Key names a subscription that
      // exists (see nodes/api.cpp, `idempotent`): it is the answer.
      if (self->state.sub)
        return *self->state.sub;
      auto& sub = cmd.sub;
      sub.id = *sub_id::parse(self->state.id);
      if (sub.lines.empty() && sub.start < sub.end)
        sub.lines.push_back(
          {product::ultimate, term::one_year, sub.start, sub.end});
      return run(self, deps, provision{std::move(sub)});
    },
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
    [=](fire_atom, const timer& t) -> caf::result<subscription> {
      auto& st = self->state;
      if (!st.sub)
        return make_error(errc::not_found, "no subscription " + st.id);
      std::optional<subscription_command> cmd;
      if (!handled(st.sub->handled_timers, t.id))
        cmd = command_for(*st.sub, t);
      if (!cmd) {
        // Handled before (delivered twice), or a kind this build does not
        // know: only the timer goes.
        lg.info("timer without effect id={} kind={}", st.id, t.kind);
        return drop_timer(self, *deps.store, t, std::nullopt);
      }
      return run(self, deps, std::move(*cmd), {}, false, t);
    },
    [=](get_atom) -> caf::result<subscription> {
      if (!self->state.sub)
        return make_error(errc::not_found, "no subscription " + self->state.id);
      return *self->state.sub;
    },
    // State and history in one round trip (the gateway's GET).
    [=](get_atom, history_atom) -> caf::result<caf::message> {
      if (!self->state.sub)
        return make_error(errc::not_found, "no subscription " + self->state.id);
      auto h = sub_io::history(*deps.store, self->state.id);
      if (!h)
        return std::move(h.error());
      return caf::make_message(*self->state.sub, std::move(*h));
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
