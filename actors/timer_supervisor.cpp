#include "actors/timer_supervisor.hpp"

#include <algorithm>
#include <tuple>

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

void scan(self_ptr self, const timer_supervisor_deps& deps, bool full = false);

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
        r.t = t;
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

/// Fires the failed timers whose backoff passed, if their rows still stand
/// as they were (a cancelled or rescheduled timer is not fired from memory).
void retry_failed(self_ptr self, const timer_supervisor_deps& deps,
                  caf::actor_clock::time_point real_now) {
  auto& st = self->state;
  std::vector<timer> ready;
  for (auto& [id, r] : st.retries)
    if (r.not_before <= real_now && !st.in_flight.count(id))
      ready.push_back(r.t);
  for (auto& t : ready) {
    if (st.in_flight.size() >= deps.batch)
      break;
    auto rows = deps.store->timers_of(t.entity, t.kind);
    bool stands = false;
    if (rows)
      for (auto& row : *rows)
        stands = stands || (row.id == t.id && row.due == t.due);
    if (!rows) {
      lg.error("cannot read timers owner={} error={}", deps.owner,
               error_message(rows.error()));
      return;
    }
    if (!stands) {
      st.retries.erase(t.id.str());
      continue;
    }
    fire(self, deps, t);
  }
}

/// Fires what is due and not in flight, then arms the next wake-up. A full
/// scan starts at the owner's first timer, any other after the cursor.
void scan(self_ptr self, const timer_supervisor_deps& deps, bool full) {
  auto& st = self->state;
  auto now = deps.clock->now();
  auto real_now = self->clock().now();
  if (real_now - st.last_full_scan >= deps.full_scan)
    full = true;
  if (full)
    st.last_full_scan = real_now;
  retry_failed(self, deps, real_now);
  bool due_left = false;
  if (st.in_flight.size() < deps.batch) {
    // A full scan reads past the timers in flight and backing off (still
    // stored: removed only by their effect's commit); a scan after the
    // cursor does not see them.
    auto free = deps.batch - st.in_flight.size();
    auto want
      = full ? free + st.in_flight.size() + st.retries.size() + 1 : free + 1;
    auto after = full || !st.cursor ? nullptr : &*st.cursor;
    auto due
      = deps.store->due_timers(now + duration{1}, want, deps.owner, after);
    if (!due) {
      lg.error("cannot read timers owner={} error={}", deps.owner,
               error_message(due.error()));
      arm_wake(self, deps.backoff);
      return;
    }
    for (auto& t : *due) {
      auto key = t.id.str();
      if (!st.in_flight.count(key) && !st.retries.count(key)) {
        if (st.in_flight.size() >= deps.batch) {
          due_left = true;
          break;
        }
        fire(self, deps, t);
      }
      // Everything up to here is in flight, backing off or fired.
      storage::timer_position pos{t.due, key};
      if (!st.cursor
          || std::tie(st.cursor->due, st.cursor->id)
               < std::tie(pos.due, pos.id))
        st.cursor = std::move(pos);
    }
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
  // away, or to the first retry.
  if (!st.in_flight.empty())
    return;
  auto wait = deps.poll;
  for (auto& [id, r] : st.retries)
    wait = std::min(wait, std::max(std::chrono::milliseconds{1},
                                   std::chrono::ceil<std::chrono::milliseconds>(
                                     r.not_before - real_now)));
  auto next = deps.store->due_timers(time_point::max(), 1, deps.owner,
                                     st.cursor ? &*st.cursor : nullptr);
  if (next && !next->empty() && next->front().due > now) {
    if (auto real = deps.clock->real_wait(next->front().due - now)) {
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(*real);
      wait = std::min(wait, std::max(ms, std::chrono::milliseconds{1}));
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
    self->attach_functor(
      [manual, token = self->state.listener] { manual->unsubscribe(token); });
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
      return caf::make_message(
        s.fired, s.failed, static_cast<uint64_t>(s.in_flight),
        static_cast<uint64_t>(s.backing_off), s.max_lateness_ms);
    },
  };
}

} // namespace tenure
