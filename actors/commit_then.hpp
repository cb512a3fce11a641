#pragma once

#include <functional>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/behavior.hpp>
#include <caf/send.hpp>
#include <caf/skip.hpp>

#include "actors/atoms.hpp"
#include "actors/unexpected.hpp"
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

} // namespace tenure
