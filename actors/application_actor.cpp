#include "actors/application_actor.hpp"

#include <cctype>

#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/atoms.hpp"
#include "actors/commit_then.hpp"
#include "actors/coupon_pool.hpp"
#include "actors/entity_io.hpp"
#include "actors/subscription_rules.hpp"
#include "storage/keys.hpp"
#include "actors/lifecycle.hpp"
#include "actors/log.hpp"
#include "actors/unexpected.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"

namespace tenure {

namespace {

using app_io = entity_io<application, application_event>;
using sub_io = entity_io<subscription, subscription_event>;

/// The meta row that records an organisation's active subscription.
std::string active_subscription_key(program p, const std::string& org_key) {
  return "active_subscription/" + to_string(p) + "/" + org_key;
}

/// The subscription a redemption provisions: the SKU's lines, each with its
/// own term from now; the license runs as long as the Ultimate line.
subscription provision_for(const application& app, const redeem& r,
                           time_point now) {
  subscription s;
  s.id = r.subscription;
  s.plan = plan::community;
  s.program = app.program;
  s.organisation = app.organisation;
  s.contact_email = app.applicant.email;
  s.sku = r.chosen.id;
  s.hosting = r.chosen.hosting;
  s.seats = r.seats;
  s.start = now;
  s.end = now;
  for (auto& line : r.chosen.lines) {
    auto end = add_years(now, years(line.term));
    s.lines.push_back({line.product, line.term, now, end});
    if (line.product == product::ultimate)
      s.end = end;
  }
  s.application = app.id;
  return s;
}

using self_ptr = caf::stateful_actor<application_actor_state>*;

const log::logger lg{"application"};

/// How long an application waits for its pool's answer, taking nothing
/// else meanwhile. The pool may live on another member, and a member that
/// dies with the question in flight never answers: short, so that the
/// application's readers wait at most this long; the `book_code` timer asks
/// again (with the supervisor's backoff), and the pool gives the same code
/// to the same application however often it is asked.
constexpr auto book_timeout = std::chrono::seconds(3);

/// Decides and, when there is something to record, commits; the reply
/// follows the commit. `rp` is empty on first try (a promise is made).
const lifecycle_policy default_policy{};

const lifecycle_policy& policy_of(const application_deps& deps) {
  return deps.policy ? *deps.policy : default_policy;
}

caf::result<application>
run(self_ptr self, const application_deps& deps, application_command cmd,
    std::optional<caf::response_promise> rp = {}, bool retried = false,
    std::optional<coupon> coupon_row = {}, std::optional<timer> fired = {}) {
  auto& st = self->state;
  auto now = deps.clock->now();
  auto& pol = policy_of(deps);
  application_context ctx{deps.rules, pol.review_business_days};
  auto evs = decide(st.app, cmd, now, ctx);
  if (fired && (!evs || evs->empty())) {
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
  if (evs->empty()) {
    // Already done: at-least-once delivery is harmless.
    if (rp)
      rp->deliver(*st.app);
    return *st.app;
  }
  storage::batch b;
  auto next = app_io::record(b, st.app, *evs, now);
  if (fired)
    b.delete_timer(*fired);
  if (deps.ids)
    write_effects(b, application_effects(st.app, next, *evs, now, pol),
                  *deps.ids, now);
  bool withdrawn_waiting = st.app
                           && st.app->state == application_state::awaiting_code
                           && next.state == application_state::withdrawn;
  if (withdrawn_waiting)
    b.erase(storage::cf::coupons,
            coupon_waiting_key(next.program, next.id.str()));
  if (next.state == application_state::awaiting_code
      && next.kind == application_kind::new_member
      && (!st.app || st.app->state != application_state::awaiting_code)
      && deps.pools_here[static_cast<size_t>(next.program) % 3]) {
    // Verified: the application joins its pool's waiting list in the same
    // commit, so a crash before the pool hears of it cannot strand it; the
    // pool finds it when it loads and books it when codes arrive.
    b.put(storage::cf::coupons, coupon_waiting_key(next.program, next.id.str()),
          "");
  }
  std::optional<subscription> provisioned;
  if (auto x = std::get_if<redeem>(&cmd); x && coupon_row) {
    // Stage 3 in one commit: the application redeemed, the subscription
    // provisioned, the code marked used.
    auto sub = provision_for(next, *x, now);
    auto sub_evs
      = decide(std::nullopt, provision{sub}, now, subscription_context{});
    if (!sub_evs) {
      if (rp)
        rp->deliver(sub_evs.error());
      return std::move(sub_evs.error());
    }
    provisioned = sub_io::record(b, std::nullopt, *sub_evs, now);
    // What provisioning causes (the renewal schedule, the email index) joins
    // the same commit, as it does for a subscription registered by billing.
    if (deps.ids)
      write_effects(b, subscription_effects(*provisioned, *sub_evs, now, pol),
                    *deps.ids, now);
    // One active subscription per organisation and program: the index row is
    // inserted in the same commit, so of two racing redemptions one fails.
    b.insert(storage::cf::meta,
             active_subscription_key(next.program, next.organisation.key),
             provisioned->id.str());
    coupon_row->state = coupon_state::redeemed;
    coupon_row->subscription = provisioned->id;
    coupon_row->redeemed_at = now;
    b.put(storage::cf::coupons,
          storage::coupon_key(to_string(coupon_row->program), coupon_row->code),
          encode(*coupon_row));
    // The pool lives on another member (a cluster): its own row must learn
    // of the redemption too, durably; the timer tells it until it confirms.
    if (deps.ids && !deps.pools_here[static_cast<size_t>(next.program) % 3]) {
      effects fx;
      fx.arm.push_back({std::string{owners::verification}, next.id.str(),
                        std::string{kinds::pool_redeemed}, now});
      write_effects(b, fx, *deps.ids, now);
    }
  }
  if (!rp)
    rp = self->make_response_promise();
  commit_then(
    self, *deps.store, std::move(b),
    [self, deps, cmd = std::move(cmd), next = std::move(next), rp = *rp,
     retried, coupon_row = std::move(coupon_row),
     provisioned = std::move(provisioned),
     fired = std::move(fired)](const caf::error& err) mutable {
      auto& st = self->state;
      if (err == errc::conflict && !retried) {
        if (reload_or_quit<app_io>(self, *deps.store, st.id, st.app, rp, lg))
          run(self, deps, std::move(cmd), rp, true, std::move(coupon_row),
              std::move(fired));
        return;
      }
      if (err == errc::already_exists && provisioned) {
        // Another application of the organisation redeemed first.
        rp.deliver(
          make_error(errc::duplicate_subscription,
                     "organisation '" + next.organisation.name.substr(0, 80)
                       + "' already holds an active " + to_string(next.program)
                       + " subscription; the code stays unused"));
        return;
      }
      if (err) {
        lg.warn("commit failed id={} error={}", st.id, error_message(err));
        rp.deliver(err);
        return;
      }
      bool just_verified
        = next.state == application_state::awaiting_code
          && next.kind == application_kind::new_member
          && (!st.app || st.app->state != application_state::awaiting_code);
      bool released = st.app
                      && st.app->state == application_state::awaiting_code
                      && next.state == application_state::withdrawn;
      st.app = next;
      if (released) {
        auto pool = deps.pools[static_cast<size_t>(st.app->program) % 3];
        if (pool)
          caf::anon_send(pool, release_atom::value, st.app->id.str());
      }
      if (provisioned) {
        auto pool = deps.pools[static_cast<size_t>(st.app->program) % 3];
        if (pool)
          caf::anon_send(pool, redeemed_atom::value, *coupon_row);
        lg.info("redeemed id={} subscription={} sku={}", st.id,
                provisioned->id.str(), provisioned->sku);
        rp.deliver(std::move(*provisioned));
        return;
      }
      if (fired)
        rp.deliver(true); // a timer's effect is recorded
      else
        rp.deliver(std::move(next));
      // Stage 2 follows stage 1 at once: ask the pool for a code.
      // Sent anonymously: nobody waits for the reply.
      if (just_verified)
        caf::anon_send(caf::actor_cast<caf::actor>(self),
                       book_code{st.app->id});
    });
  return *rp;
}

} // namespace

/// The identity of an organisation for "one active subscription per
/// program": the lower-cased website host when given, else the lower-cased
/// name without surrounding spaces.
std::string organisation_key(const organisation& org) {
  auto lower = [](std::string s) {
    for (auto& c : s)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  auto host = org.website;
  if (auto p = host.find("://"); p != std::string::npos)
    host = host.substr(p + 3);
  host = host.substr(0, host.find('/'));
  if (host.rfind("www.", 0) == 0)
    host = host.substr(4);
  if (!host.empty())
    return lower(host);
  auto name = org.name;
  auto b = name.find_first_not_of(" \t");
  auto e = name.find_last_not_of(" \t");
  return b == std::string::npos ? std::string{}
                                : lower(name.substr(b, e - b + 1));
}

caf::expected<const sku*> find_sku(const std::vector<sku>* skus,
                                   std::string_view id) {
  if (skus)
    for (auto& x : *skus)
      if (x.id == id)
        return &x;
  return make_error(errc::invalid_argument, "sku: '"
                                              + std::string{id.substr(0, 60)}
                                              + "' is not in the catalog");
}

caf::behavior application_actor(self_ptr self, std::string id,
                                application_deps deps) {
  self->state.id = id;
  if (!load_or_quit<app_io>(self, *deps.store, id, self->state.app, lg))
    return {};
  self->set_default_handler(drop_unexpected);
  auto idle = std::chrono::milliseconds(deps.idle_after.count());
  return {
    [=](submit_application& cmd) -> caf::result<application> {
      // The registry chose the id; the draft carries it into the events.
      // Only a retry with an Idempotency-Key names an application that
      // exists (see nodes/api.cpp, `idempotent`): it is the answer.
      if (self->state.app)
        return *self->state.app;
      auto& d = cmd.draft;
      d.id = *app_id::parse(self->state.id);
      if (d.organisation.key.empty())
        d.organisation.key = organisation_key(d.organisation);
      if (!self->state.app && d.kind == application_kind::new_member) {
        auto existing = deps.store->get(
          storage::cf::meta,
          active_subscription_key(d.program, d.organisation.key));
        if (!existing)
          return std::move(existing.error());
        if (*existing)
          return make_error(errc::duplicate_subscription,
                            "organisation '" + d.organisation.name.substr(0, 80)
                              + "' already holds subscription " + **existing
                              + " in the " + to_string(d.program)
                              + " program; apply to renew it instead");
      }
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
      // recorded on the state it was asked for (and one commit at a time:
      // commit_then's waiting behavior does not stack).
      self->request(pool, book_timeout, book_code{st.app->id})
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
    [=](checkout_atom, redeem_code& rc,
        coupon& row) -> caf::result<application> {
      auto& st = self->state;
      auto chosen = find_sku(deps.skus, rc.sku);
      if (!chosen)
        return std::move(chosen.error());
      if (st.app && st.app->state == application_state::redeemed)
        return make_error(errc::code_already_used);
      if (!deps.ids)
        return make_error(errc::unavailable, "checkout is not configured");
      auto sub = deps.ids->next<sub_id>(deps.clock->now());
      return run(self, deps, redeem{rc.code, **chosen, rc.seats, sub}, {},
                 false, std::move(row));
    },
    [=](start_verification& cmd) -> caf::result<application> {
      auto fired = cmd.fired;
      if (self->state.app && handled(self->state.app->handled_timers, fired.id))
        return drop_timer(self, *deps.store, fired, std::nullopt);
      return run(self, deps, std::move(cmd), {}, false, {}, fired);
    },
    [=](fire_atom, const timer& t) -> caf::result<application> {
      auto& st = self->state;
      if (!st.app)
        return make_error(errc::not_found, "no application " + st.id);
      if (handled(st.app->handled_timers, t.id))
        return drop_timer(self, *deps.store, t, std::nullopt);
      auto& pol = policy_of(deps);
      if (t.kind == kinds::verify_timeout)
        return run(self, deps,
                   verification_overdue{1 + pol.verification_retries, t.id}, {},
                   false, {}, t);
      if (t.kind == kinds::review_due)
        return run(self, deps, review_overdue{t.id}, {}, false, {}, t);
      if (t.kind == kinds::book_code) {
        if (st.app->state != application_state::awaiting_code
            || st.app->kind != application_kind::new_member)
          return drop_timer(self, *deps.store, t, std::nullopt);
        auto pool = deps.pools[static_cast<size_t>(st.app->program) % 3];
        if (!pool)
          return make_error(errc::unavailable,
                            "no coupon pool for "
                              + to_string(st.app->program));
        auto rp = self->make_response_promise();
        // As `book_code`, with the timer's removal in the same commit; any
        // other failure (the pool's member is down) leaves the timer to
        // fire again.
        self->request(pool, book_timeout, book_code{st.app->id})
          .await(
            [=](std::string& code) mutable {
              run(self, deps, assign_code{std::move(code)}, rp, false, {}, t);
            },
            [=](caf::error& err) mutable {
              if (err == errc::pool_empty)
                run(self, deps, note_pool_empty{}, rp, false, {}, t);
              else
                rp.deliver(err);
            });
        return rp;
      }
      if (t.kind == kinds::pool_redeemed) {
        auto pool = deps.pools[static_cast<size_t>(st.app->program) % 3];
        auto row = st.app->coupon_code.empty()
                     ? caf::expected<std::optional<std::string>>{std::nullopt}
                     : deps.store->get(
                       storage::cf::coupons,
                       storage::coupon_key(to_string(st.app->program),
                                           st.app->coupon_code));
        if (!row)
          return std::move(row.error());
        auto c = *row ? decode<coupon>(**row)
                      : caf::expected<coupon>{make_error(errc::not_found)};
        if (!pool || !c || c->state != coupon_state::redeemed)
          return drop_timer(self, *deps.store, t, std::nullopt);
        auto rp = self->make_response_promise();
        self->request(pool, book_timeout, redeemed_atom::value, *c)
          .await(
            [=](bool) mutable {
              drop_timer(self, *deps.store, t, rp);
            },
            [=](caf::error& err) mutable { rp.deliver(err); });
        return rp;
      }
      if (t.kind == kinds::renewal_apply) {
        if (st.app->state != application_state::awaiting_code
            || st.app->kind != application_kind::renewal || !deps.registry)
          return drop_timer(self, *deps.store, t, std::nullopt);
        // Extend the renewed subscription first (idempotent per
        // application), then record it here with the timer's removal: a
        // crash in between fires the timer again and changes nothing twice.
        auto rp = self->make_response_promise();
        renew r{st.app->id, st.app->term};
        self
          ->request(deps.registry, std::chrono::seconds(30), st.app->renews,
                    std::move(r))
          .await(
            [=](subscription& renewed) mutable {
              run(self, deps, renewal_applied{renewed.id, renewed.end, t.id},
                  rp, false, {}, t);
            },
            [=](caf::error& err) mutable {
              if (err == errc::illegal_transition || err == errc::not_found) {
                // The subscription cannot be renewed (lapsed, revoked, ...):
                // the program team decides; the application says why.
                lg.warn("renewal not applied id={} error={}", self->state.id,
                        error_message(err));
                run(self, deps,
                    send_to_review{"renewal could not be applied: "
                                   + error_message(err)},
                    rp, false, {}, t);
                return;
              }
              rp.deliver(err);
            });
        return rp;
      }
      lg.info("timer of unknown kind id={} kind={}", st.id, t.kind);
      return drop_timer(self, *deps.store, t, std::nullopt);
    },
    [=](get_atom) -> caf::result<application> {
      if (!self->state.app)
        return make_error(errc::not_found, "no application " + self->state.id);
      return *self->state.app;
    },
    // State and history in one round trip (the gateway's GET).
    [=](get_atom, history_atom) -> caf::result<caf::message> {
      if (!self->state.app)
        return make_error(errc::not_found, "no application " + self->state.id);
      auto h = app_io::history(*deps.store, self->state.id);
      if (!h)
        return std::move(h.error());
      return caf::make_message(*self->state.app, std::move(*h));
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
