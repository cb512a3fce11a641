#include "actors/application_actor.hpp"

#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/atoms.hpp"
#include "actors/entity_io.hpp"
#include "actors/log.hpp"
#include "actors/unexpected.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"

namespace tenure {

namespace {

using app_io = entity_io<application, application_event>;
using self_ptr = caf::stateful_actor<application_actor_state>*;

const log::logger lg{"application"};

caf::behavior busy(self_ptr self, const application_deps& deps);

/// Decides and, when there is something to record, commits; the reply
/// follows the commit. `rp` is empty on first try (a promise is made).
caf::result<application> run(self_ptr self, const application_deps& deps,
                             application_command cmd,
                             std::optional<caf::response_promise> rp = {},
                             bool retried = false) {
  auto& st = self->state;
  auto now = deps.clock->now();
  auto evs = decide(st.app, cmd, now, application_context{deps.rules});
  if (!evs) {
    if (rp)
      rp->deliver(evs.error());
    return std::move(evs.error());
  }
  if (evs->empty()) {
    // Already done: at-least-once delivery is harmless.
    if (rp)
      rp->deliver(*st.app);
    return *st.app;
  }
  storage::batch b;
  auto next = app_io::record(b, st.app, *evs, now);
  if (!rp)
    rp = self->make_response_promise();
  st.pending = application_actor_state::pending_commit{
    std::move(cmd), std::move(next), *rp, retried};
  // Until the commit is done, everything else waits in the mailbox, so each
  // command decides on durable state.
  self->become(caf::keep_behavior, busy(self, deps));
  self->set_default_handler(caf::skip);
  auto hdl = caf::actor_cast<caf::actor>(self);
  deps.store->commit(std::move(b), [hdl](const caf::error& err) {
    // Runs on the store's thread: only send, never touch actor state.
    caf::anon_send(hdl, committed_atom::value, err);
  });
  return *rp;
}

caf::behavior busy(self_ptr self, const application_deps& deps) {
  return {
    [=](committed_atom, const caf::error& err) {
      auto& st = self->state;
      auto pending = std::move(*st.pending);
      st.pending.reset();
      self->unbecome();
      self->set_default_handler(drop_unexpected);
      if (err == errc::conflict && !pending.retried) {
        lg.info("version conflict, reloading id={}", st.id);
        auto reloaded = app_io::load(*deps.store, st.id);
        if (!reloaded) {
          pending.rp.deliver(reloaded.error());
          self->quit(reloaded.error());
          return;
        }
        st.app = std::move(*reloaded);
        run(self, deps, std::move(pending.cmd), pending.rp, true);
        return;
      }
      if (err) {
        lg.warn("commit failed id={} error={}", st.id, error_message(err));
        pending.rp.deliver(err);
        return;
      }
      bool just_verified
        = pending.next.state == application_state::awaiting_code
          && (!st.app || st.app->state != application_state::awaiting_code);
      st.app = pending.next;
      pending.rp.deliver(std::move(pending.next));
      // Stage 2 follows stage 1 at once: ask the pool for a code. Sent
      // anonymously: nobody waits for the reply.
      if (just_verified)
        caf::anon_send(caf::actor_cast<caf::actor>(self),
                       book_code{st.app->id});
    },
  };
}

} // namespace

caf::behavior application_actor(self_ptr self, std::string id,
                                application_deps deps) {
  self->state.id = id;
  auto loaded = app_io::load(*deps.store, id);
  if (!loaded) {
    lg.error("cannot activate id={} error={}", id,
             error_message(loaded.error()));
    self->quit(loaded.error());
    return {};
  }
  self->state.app = std::move(*loaded);
  self->set_default_handler(drop_unexpected);
  auto idle = std::chrono::milliseconds(deps.idle_after.count());
  return {
    [=](submit_application& cmd) -> caf::result<application> {
      // The registry chose the id; the draft carries it into the events.
      cmd.draft.id = *app_id::parse(self->state.id);
      return run(self, deps, std::move(cmd));
    },
    [=](record_verification& cmd) -> caf::result<application> {
      return run(self, deps, std::move(cmd));
    },
    [=](appeal_rejection& cmd) -> caf::result<application> {
      return run(self, deps, std::move(cmd));
    },
    [=](withdraw_application& cmd) -> caf::result<application> {
      return run(self, deps, std::move(cmd));
    },
    [=](const book_code&) -> caf::result<application> {
      auto& st = self->state;
      if (!st.app)
        return make_error(errc::not_found, "no application " + st.id);
      if (st.app->state != application_state::awaiting_code)
        return *st.app; // booked already, or no longer bookable
      auto pool = deps.pools[static_cast<size_t>(st.app->program) % 3];
      if (!pool)
        return make_error(errc::unavailable,
                          "no coupon pool for " + to_string(st.app->program));
      auto rp = self->make_response_promise();
      // await: nothing else runs until the pool answers, so the code is
      // recorded on the state it was asked for.
      self->request(pool, std::chrono::seconds(30), book_code{st.app->id})
        .await(
          [=](std::string& code) mutable {
            run(self, deps, assign_code{std::move(code)}, rp);
          },
          [=](caf::error& err) mutable {
            if (err == errc::pool_empty)
              run(self, deps, note_pool_empty{}, rp);
            else
              rp.deliver(err);
          });
      return rp;
    },
    [=](get_atom) -> caf::result<application> {
      if (!self->state.app)
        return make_error(errc::not_found, "no application " + self->state.id);
      return *self->state.app;
    },
    [=](history_atom) -> caf::result<std::vector<history_entry>> {
      auto h = app_io::history(*deps.store, self->state.id);
      if (!h)
        return std::move(h.error());
      return std::move(*h);
    },
    [=](passivate_atom) {
      // The registry removed us first, so nothing new is routed here; what
      // it routed before is already processed (mailbox order).
      self->quit();
    },
    caf::after(idle) >>
      [=] {
        // Ask, don't quit: the registry may be routing a message to us right
        // now. It answers with passivate when that cannot happen.
        if (deps.registry)
          self->send(deps.registry, idle_atom::value, self->state.id);
      },
  };
}

} // namespace tenure
