#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/behavior.hpp>
#include <caf/send.hpp>
#include <caf/skip.hpp>

#include "actors/atoms.hpp"
#include "actors/log.hpp"
#include "actors/unexpected.hpp"
#include "messages/errc.hpp"
#include "storage/batch.hpp"
#include "storage/store.hpp"

namespace tenure {

/// Commits `b` and calls `done(error)` on the actor's own thread once the
/// commit is durable (or failed). Until then the actor takes no other
/// message: they stay in its mailbox, so every command decides on durable
/// state and replies follow durability. This is the one place where entity
/// actors meet the store's commit pipeline.
template <class Self>
void commit_then(Self* self, storage::store& st, storage::batch b,
                 std::function<void(const caf::error&)> done) {
  self->become(
    caf::keep_behavior,
    caf::behavior{[self, done](committed_atom, const caf::error& err) {
      self->unbecome();
      self->set_default_handler(drop_unexpected);
      done(err);
    }});
  self->set_default_handler(caf::skip);
  auto hdl = caf::actor_cast<caf::actor>(self);
  st.commit(std::move(b), [hdl](const caf::error& err) {
    // Runs on the store's thread: only send, never touch actor state.
    caf::anon_send(hdl, committed_atom::value, err);
  });
}

/// Removes a fired timer whose effect no longer applies (or was recorded
/// before: a second delivery) and answers the supervisor with `false` once
/// that is durable. `rp` is the supervisor's promise; empty: made here.
template <class Self>
caf::response_promise drop_timer(Self* self, storage::store& st,
                                 const timer& t,
                                 std::optional<caf::response_promise> rp) {
  storage::batch b;
  b.delete_timer(t);
  if (!rp)
    rp = self->make_response_promise();
  commit_then(self, st, std::move(b),
              [rp = *rp](const caf::error& err) mutable {
                if (err)
                  rp.deliver(err);
                else
                  rp.deliver(false); // the timer had no effect
              });
  return *rp;
}

/// Loads an entity actor's state from its snapshot at activation (through
/// `IO`, an `entity_io`). A snapshot that cannot be read is logged and ends
/// the actor with the error; returns false then.
template <class IO, class Self, class State>
bool load_or_quit(Self* self, const storage::store& st, const std::string& id,
                  std::optional<State>& out, const log::logger& lg) {
  auto loaded = IO::load(st, id);
  if (!loaded) {
    lg.error("cannot activate id={} error={}", id,
             error_message(loaded.error()));
    self->quit(loaded.error());
    return false;
  }
  out = std::move(*loaded);
  return true;
}

/// After a version conflict (another writer came first, e.g. this entity's
/// previous activation still draining), reloads the state so the command
/// can be decided once more. When the store cannot, answers `rp` with the
/// error, ends the actor and returns false.
template <class IO, class Self, class State>
bool reload_or_quit(Self* self, const storage::store& st, const std::string& id,
                    std::optional<State>& out, caf::response_promise& rp,
                    const log::logger& lg) {
  lg.info("version conflict, reloading id={}", id);
  auto reloaded = IO::load(st, id);
  if (!reloaded) {
    rp.deliver(reloaded.error());
    self->quit(reloaded.error());
    return false;
  }
  out = std::move(*reloaded);
  return true;
}

} // namespace tenure
