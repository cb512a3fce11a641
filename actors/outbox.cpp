#include "actors/outbox.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/lifecycle.hpp"
#include "actors/log.hpp"
#include "actors/unexpected.hpp"
#include "messages/codec.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"
#include "storage/cf.hpp"

namespace tenure {

namespace {

using self_ptr = caf::stateful_actor<outbox_state>*;

const log::logger lg{"outbox"};

caf::expected<std::optional<notification>> load(const storage::store& st,
                                                const std::string& id) {
  auto row = st.get(storage::cf::outbox, id);
  if (!row)
    return std::move(row.error());
  if (!*row)
    return std::optional<notification>{};
  auto n = decode<notification>(**row);
  if (!n)
    return std::move(n.error());
  return std::optional<notification>{std::move(*n)};
}

bool permanent(const caf::error& err) {
  return err == errc::invalid_argument || err == errc::config_invalid;
}

duration backoff_for(const outbox_deps& deps, uint32_t attempts) {
  auto d = deps.backoff;
  for (uint32_t i = 1; i < attempts && d < deps.max_backoff; ++i)
    d *= 2;
  return std::min(d, deps.max_backoff);
}

} // namespace

caf::behavior outbox_dispatcher(self_ptr self, outbox_deps deps) {
  self->set_default_handler(drop_unexpected);
  return {
    [=](fire_atom, const timer& t) -> caf::result<bool> {
      auto loaded = load(*deps.store, t.entity);
      if (!loaded)
        return std::move(loaded.error());
      storage::batch b;
      if (!*loaded || (*loaded)->state != delivery_state::pending) {
        // Delivered or given up already, or the row is gone: only the
        // timer goes.
        b.delete_timer(t);
        if (auto err = deps.store->commit_sync(std::move(b)))
          return err;
        return false;
      }
      auto n = std::move(**loaded);
      auto now = deps.clock->now();
      auto err = deps.deliver ? deps.deliver(n)
                              : make_error(errc::unavailable, "no sink");
      ++n.attempts;
      if (!err) {
        n.state = delivery_state::delivered;
        n.last_error.clear();
        b.delete_timer(t);
      } else {
        // The error names the sink and the recipient's channel, never the
        // parameters.
        n.last_error = error_message(err).substr(0, 500);
        ++self->state.attempts_failed;
        if (permanent(err) || n.attempts >= deps.max_attempts) {
          n.state = delivery_state::failed;
          b.delete_timer(t);
          lg.error("notification failed id={} template={} attempts={} "
                   "error={}",
                   n.id.str(), n.template_name, n.attempts, n.last_error);
        } else {
          n.next_attempt_at = now + backoff_for(deps, n.attempts);
          timer again = t;
          again.due = n.next_attempt_at;
          b.put_timer(again);
          lg.warn("notification retry id={} template={} attempt={} "
                  "next={} error={}",
                  n.id.str(), n.template_name, n.attempts,
                  to_iso8601(n.next_attempt_at), n.last_error);
        }
      }
      b.put(storage::cf::outbox, n.id.str(), encode(n));
      // Synchronously: the dispatcher runs detached, and the supervisor
      // must learn the outcome only once it is durable.
      if (auto cerr = deps.store->commit_sync(std::move(b)))
        return cerr;
      if (!err) {
        ++self->state.delivered;
        // Ids and template only: recipients and parameters stay out of logs.
        lg.info("notification delivered id={} template={} attempts={}",
                n.id.str(), n.template_name, n.attempts);
      }
      return !err;
    },
    [=](outbox_atom) -> caf::result<outbox_status> {
      outbox_status out;
      std::string after;
      for (;;) {
        auto rows = deps.store->outbox(1024, after);
        if (!rows)
          return std::move(rows.error());
        for (auto& row : *rows) {
          auto n = decode<notification>(row.value);
          if (!n)
            continue;
          switch (n->state) {
            case delivery_state::pending:
              ++out.pending;
              break;
            case delivery_state::delivered:
              ++out.delivered;
              break;
            case delivery_state::failed:
              ++out.failed;
              if (out.failures.size() < 100) {
                n->params.clear();
                out.failures.push_back(std::move(*n));
              }
              break;
          }
        }
        if (rows->size() < 1024)
          break;
        after = rows->back().key;
      }
      return out;
    },
    [=](retry_atom, const ntf_id& id) -> caf::result<notification> {
      auto loaded = load(*deps.store, id.str());
      if (!loaded)
        return std::move(loaded.error());
      if (!*loaded)
        return make_error(errc::not_found, "no notification " + id.str());
      auto n = std::move(**loaded);
      if (n.state != delivery_state::failed)
        return make_error(errc::illegal_transition,
                          "notification " + id.str() + " is "
                            + to_string(n.state) + "; only failed ones are "
                            + "retried");
      if (!deps.ids)
        return make_error(errc::unavailable, "outbox retry is not configured");
      auto now = deps.clock->now();
      n.state = delivery_state::pending;
      n.attempts = 0;
      n.last_error.clear();
      n.next_attempt_at = now;
      timer t;
      t.id = deps.ids->next<tmr_id>(now);
      t.due = now;
      t.owner = std::string{owners::outbox};
      t.entity = n.id.str();
      t.kind = std::string{kinds::deliver};
      storage::batch b;
      b.put(storage::cf::outbox, n.id.str(), encode(n));
      b.put_timer(t);
      if (auto err = deps.store->commit_sync(std::move(b)))
        return err;
      lg.info("notification retried by operator id={}", n.id.str());
      n.params.clear();
      return n;
    },
  };
}

} // namespace tenure
