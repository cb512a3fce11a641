#include "actors/supervisors.hpp"

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/atoms.hpp"
#include "actors/outreach_desk.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"

namespace tenure {

void supervisors::stop() {
  for (auto& [owner, hdl] : timers)
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  for (auto* hdl : {&verification, &emergency, &outbox})
    if (*hdl)
      caf::anon_send_exit(*hdl, caf::exit_reason::user_shutdown);
}

supervisors spawn_supervisors(caf::actor_system& sys, supervisors_deps deps) {
  supervisors out;
  verification_deps vd;
  vd.store = deps.store;
  vd.clock = deps.clock;
  vd.registry = deps.registry;
  vd.verifier = deps.verifier;
  // Detached: the verifier and the sinks block, the desk's commits are
  // synchronous; none of it may hold a scheduler thread.
  out.verification = sys.spawn<caf::detached>(verification_desk, vd);
  emergency_deps ed;
  ed.store = deps.store;
  ed.clock = deps.clock;
  ed.ids = deps.ids;
  ed.policy = deps.policy;
  ed.registry = deps.registry;
  out.emergency = sys.spawn<caf::detached>(emergency_desk, ed);
  outbox_deps od;
  od.store = deps.store;
  od.clock = deps.clock;
  od.deliver = deps.deliver;
  od.ids = deps.ids;
  od.max_attempts = deps.outbox_max_attempts;
  od.backoff = deps.outbox_backoff;
  out.outbox = sys.spawn<caf::detached>(outbox_dispatcher, od);
  auto supervise = [&](std::string_view owner, caf::actor target) {
    timer_supervisor_deps td;
    td.store = deps.store;
    td.clock = deps.clock;
    td.owner = std::string{owner};
    td.target = std::move(target);
    td.batch = deps.timer_batch;
    td.poll = deps.timer_poll;
    td.backoff = deps.timer_backoff;
    out.timers.emplace(td.owner, sys.spawn(timer_supervisor, td));
  };
  supervise(owners::verification, out.verification);
  supervise(owners::compliance, deps.registry);
  supervise(owners::renewal, deps.registry);
  supervise(owners::emergency, out.emergency);
  supervise(owners::outbox, out.outbox);
  if (deps.outreach)
    supervise(outreach_owner, deps.outreach);
  return out;
}

caf::error flush_timers(caf::actor_system& sys, const supervisors& sv,
                        std::chrono::milliseconds limit) {
  caf::scoped_actor self{sys};
  auto deadline = std::chrono::steady_clock::now() + limit;
  uint64_t last = ~uint64_t{0};
  for (;;) {
    uint64_t total = 0;
    for (auto& [owner, hdl] : sv.timers) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return make_error(errc::timeout, "timers did not settle in time");
      caf::error failure;
      self->request(hdl, left, flush_atom::value)
        .receive([&](uint64_t fired) { total += fired; },
                 [&](caf::error& err) { failure = std::move(err); });
      if (failure)
        return failure;
    }
    if (total == last)
      return caf::none;
    last = total;
  }
}

} // namespace tenure
