#include "actors/timer_supervisor.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/atoms.hpp"
#include "actors/log.hpp"
#include "actors/unexpected.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"

namespace tenure {

namespace {

using self_ptr = caf::stateful_actor<timer_supervisor_state>*;
using wake_atom = caf::atom_constant<caf::atom("wake")>;

const log::logger lg{"timers"};

void scan(self_ptr self, const timer_supervisor_deps& deps,
          bool full = false);

/// Arms the one wake-up for `after` from now (real time), unless an earlier
/// one is armed.
void arm_wake(self_ptr self, std::chrono::milliseconds after) {
  auto& st = self->state;
  auto at = self->clock().now() + after;
  if (st.wake_armed && st.wake_at <= at)
    return;
  st.wake_armed = true;
  st.wake_at = at;
  self->delayed_send(self, after, wake_atom::value, ++st.wake_generation);
}

/// Answers flushes when nothing due is left to fire.
void answer_flushes(self_ptr self, bool due_left) {
  auto& st = self->state;
  if (due_left || !st.in_flight.empty() || st.flushes.empty())
    return;
  for (auto& rp : st.flushes)
    rp.deliver(st.stats.fired);
  st.flushes.clear();
}

void fire(self_ptr self, const timer_supervisor_deps& deps, timer t) {
  auto& st = self->state;
  st.in_flight.insert(t.id.str());
  self->request(deps.target, deps.fire_timeout, fire_atom::value, t)
    .then(
      [=](bool) {
        auto& st = self->state;
        st.in_flight.erase(t.id.str());
        st.retries.erase(t.id.str());
        ++st.stats.fired;
        auto late = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deps.clock->now() - t.due)
                      .count();
        st.stats.last_lateness_ms = late;
        st.stats.max_lateness_ms = std::max(st.stats.max_lateness_ms, late);
        // Refill when half the batch is free: reading the due range costs
        // the rows still in flight, so refilling per answer would cost more.
        if (st.in_flight.size() <= deps.batch / 2)
          scan(self, deps);
      },
      [=](caf::error& err) {
        auto& st = self->state;
        st.in_flight.erase(t.id.str());
        ++st.stats.failed;
        auto& r = st.retries[t.id.str()];
        r.backoff = r.backoff.count() == 0
                      ? deps.backoff
                      : std::min(r.backoff * 2, deps.max_backoff);
        r.not_before = self->clock().now() + r.backoff;
        lg.warn("timer failed owner={} id={} entity={} kind={} error={} "
                "retry_in_ms={}",
                deps.owner, t.id.str(), t.entity, t.kind, error_message(err),
                r.backoff.count());
        arm_wake(self, r.backoff);
        scan(self, deps);
      });
}

/// Fires what is due and not in flight, then arms the next wake-up. A full
/// scan starts at the owner's first timer, any other at the floor.
void scan(self_ptr self, const timer_supervisor_deps& deps, bool full) {
  auto& st = self->state;
  auto now = deps.clock->now();
  auto real_now = self->clock().now();
  if (real_now - st.last_full_scan >= deps.full_scan)
    full = true;
  if (full) {
    st.floor = time_point::min();
    st.last_full_scan = real_now;
  }
  bool due_left = false;
  if (st.in_flight.size() < deps.batch) {
    // In-flight and backing-off timers are still stored (removed only by
    // their effect's commit): read past them.
    auto want = deps.batch + st.in_flight.size() + st.retries.size();
    auto due = deps.store->due_timers(now + duration{1}, want, deps.owner,
                                      st.floor);
    if (!due) {
      lg.error("cannot read timers owner={} error={}", deps.owner,
               error_message(due.error()));
      arm_wake(self, deps.backoff);
      return;
    }
    if (!due->empty())
      st.floor = due->front().due;
    for (auto& t : *due) {
      auto key = t.id.str();
      if (st.in_flight.count(key))
        continue;
      if (auto i = st.retries.find(key); i != st.retries.end()) {
        if (i->second.not_before > real_now)
          continue;
      }
      if (st.in_flight.size() >= deps.batch) {
        due_left = true;
        break;
      }
      fire(self, deps, std::move(t));
    }
    if (due->size() == want)
      due_left = true;
  } else {
    due_left = true;
  }
  if (!full && !due_left && st.in_flight.empty() && !st.flushes.empty()) {
    // A flush promises that nothing due is left: confirm from the start.
    scan(self, deps, true);
    return;
  }
  answer_flushes(self, due_left);
  st.stats.in_flight = st.in_flight.size();
  st.stats.backing_off = st.retries.size();
  // While timers are in flight, their answers scan again; the next due time
  // matters only when idle: then the one wake-up goes to it, at most `poll`
  // away.
  if (!st.in_flight.empty())
    return;
  auto wait = deps.poll;
  auto next = deps.store->due_timers(time_point::max(), 1 + st.retries.size(),
                                     deps.owner, st.floor);
  if (next) {
    for (auto& t : *next) {
      if (st.retries.count(t.id.str()))
        continue;
      if (t.due > now) {
        if (auto real = deps.clock->real_wait(t.due - now)) {
          auto ms = std::chrono::ceil<std::chrono::milliseconds>(*real);
          wait = std::min(wait, std::max(ms, std::chrono::milliseconds{1}));
        }
      }
      break;
    }
  }
  arm_wake(self, wait);
}

} // namespace

caf::behavior timer_supervisor(self_ptr self, timer_supervisor_deps deps) {
  self->set_default_handler(drop_unexpected);
  if (auto manual = dynamic_cast<const manual_clock*>(deps.clock)) {
    // A manual clock moves in jumps: look at the timers after each one.
    auto hdl = caf::actor_cast<caf::actor>(self);
    self->state.listener = manual->subscribe([hdl](time_point) {
      caf::anon_send(hdl, wake_atom::value, uint64_t{0});
    });
    self->attach_functor([manual, token = self->state.listener] {
      manual->unsubscribe(token);
    });
  }
  // Catch-up: whatever came due while the node was down fires now.
  caf::anon_send(caf::actor_cast<caf::actor>(self), wake_atom::value,
                 uint64_t{0});
  return {
    [=](wake_atom, uint64_t generation) {
      auto& st = self->state;
      if (generation != 0) {
        if (generation != st.wake_generation)
          return; // superseded by an earlier wake-up
        st.wake_armed = false;
      }
      scan(self, deps);
    },
    [=](flush_atom) -> caf::result<uint64_t> {
      auto rp = self->make_response_promise();
      self->state.flushes.push_back(rp);
      scan(self, deps, self->state.in_flight.empty());
      return rp;
    },
    [=](stats_atom) {
      auto& s = self->state.stats;
      return caf::make_message(s.fired, s.failed,
                               static_cast<uint64_t>(s.in_flight),
                               static_cast<uint64_t>(s.backing_off),
                               s.max_lateness_ms);
    },
  };
}

} // namespace tenure
