#include "actors/emergency.hpp"

#include <cctype>
#include <random>

#include <caf/event_based_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/log.hpp"
#include "actors/unexpected.hpp"
#include "messages/codec.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"
#include "storage/cf.hpp"

namespace tenure {

namespace {

using self_ptr = caf::stateful_actor<emergency_state>*;

const log::logger lg{"emergency"};

const lifecycle_policy default_policy{};

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Audit records by recipient: `audit_email/<email>/<audit id>`.
std::string audit_index_key(const std::string& email, const aud_id& id) {
  return "audit_email/" + lower(email) + "/" + id.str();
}

/// The running license of a subscription: `emergency/<sub id>` → em id.
std::string running_key(const sub_id& id) {
  return "emergency/" + id.str();
}

caf::error refuse(std::string why) {
  return make_error(errc::refused, std::move(why));
}

std::string day_of(time_point t) {
  return to_iso8601(t).substr(0, 10);
}

/// A license with generic information (seed 002): Ultimate, the user count
/// and the validity; the licensee is not the customer's name on purpose.
std::string make_license_text(const emergency_license& l) {
  std::random_device rd;
  std::string key;
  static constexpr char hex[] = "0123456789ABCDEF";
  for (int i = 0; i < 32; ++i) {
    if (i > 0 && i % 8 == 0)
      key += '-';
    key += hex[rd() % 16];
  }
  return "Denomas Ultimate - emergency license\n"
         "Licensee: Denomas Customer (generic)\n"
         "Users: "
         + std::to_string(l.users) + "\nStarts: " + to_iso8601(l.issued_at)
         + "\nExpires: " + to_iso8601(l.expires_at) + "\nKey: " + key + "\n";
}

} // namespace

emergency_window window_of(const subscription& s, const lifecycle_policy& pol) {
  auto opens = s.end + pol.grace_period;
  return {opens, opens + pol.emergency_window};
}

caf::expected<uint32_t> decide_emergency(const std::optional<subscription>& sub,
                                         const request_emergency_license& req,
                                         time_point now,
                                         const lifecycle_policy& pol,
                                         std::optional<time_point> running) {
  if (req.users == 0)
    return make_error(errc::invalid_argument, "users: must be at least 1");
  auto at = req.recipient_email.find('@');
  if (at == std::string::npos || at == 0 || at + 1 >= req.recipient_email.size()
      || req.recipient_email.find_first_of(" \r\n\t,;<>") != std::string::npos)
    return make_error(errc::invalid_argument,
                      "recipient_email: not an email address");
  if (req.ticket_url.rfind("https://", 0) != 0
      && req.ticket_url.rfind("http://", 0) != 0)
    return make_error(errc::invalid_argument,
                      "ticket_url: must be the http(s) URL of the ticket");
  if (req.requested_by.empty())
    return make_error(errc::invalid_argument,
                      "requested_by: say who asks (support username)");
  auto days = req.days == 0 ? pol.emergency_default_days : req.days;
  if (days > pol.emergency_max_days)
    return refuse("an emergency license lasts at most "
                  + std::to_string(pol.emergency_max_days) + " days; asked for "
                  + std::to_string(days));
  if (!sub)
    return refuse("prospects are out of scope: no subscription "
                  + req.subscription.str());
  if (sub->plan != plan::paid)
    return refuse("organisations without a paid plan are out of scope: "
                  "subscription "
                  + sub->id.str() + " is a " + to_string(sub->plan) + " plan");
  if (sub->state == subscription_state::revoked
      || sub->state == subscription_state::terminated)
    return refuse("subscription " + sub->id.str() + " was "
                  + to_string(sub->state));
  auto w = window_of(*sub, pol);
  if (now < w.opens)
    return refuse("the license is still in its grace period until "
                  + to_iso8601(w.opens) + "; no emergency license is needed");
  if (now > w.closes)
    return refuse("the grace period ended at " + to_iso8601(w.opens)
                  + ", more than " + to_string_duration(pol.emergency_window)
                  + " ago; the customer needs to renew");
  if (running && now < *running)
    return refuse("an emergency license for subscription " + sub->id.str()
                  + " runs until " + to_iso8601(*running)
                  + " and cannot be extended; resend it if it did not arrive");
  return days;
}

std::string emergency_audit_title(const request_emergency_license& req,
                                  const caf::error* failure) {
  auto users = std::to_string(req.users);
  if (!failure)
    return "[Success] - Created a license under " + req.recipient_email
           + " for " + users + " users";
  return "[Failure] - No license under " + req.recipient_email + " for " + users
         + " users: " + error_message(*failure);
}

caf::behavior emergency_desk(self_ptr self, emergency_deps deps) {
  self->set_default_handler(drop_unexpected);
  auto& pol = deps.policy ? *deps.policy : default_policy;
  // Writes the audit record of an attempt (and its email index row) into b.
  auto audit = [=](storage::batch& b, const request_emergency_license& req,
                   const caf::error* failure, const std::string& entity,
                   time_point now, std::string action) {
    audit_record a;
    a.id = deps.ids->next<aud_id>(now);
    a.at = now;
    a.actor = req.requested_by.empty() ? "unknown" : req.requested_by;
    a.action = std::move(action);
    a.subject = lower(req.recipient_email);
    a.outcome = failure ? outcome::failure : outcome::success;
    a.message = emergency_audit_title(req, failure);
    a.entity = entity;
    b.put(storage::cf::audit, a.id.str(), encode(a));
    if (!a.subject.empty())
      b.put(storage::cf::meta, audit_index_key(a.subject, a.id), a.id.str());
  };
  // Decides with the subscription (or none) and commits the outcome.
  auto issue = [=](request_emergency_license req,
                   std::optional<subscription> sub, caf::response_promise rp) {
    auto now = deps.clock->now();
    std::optional<time_point> running;
    if (sub) {
      auto row = deps.store->get(storage::cf::meta, running_key(sub->id));
      if (row && *row) {
        auto snap = deps.store->get_snapshot(**row);
        if (snap && *snap)
          if (auto l = decode<emergency_license>((*snap)->bytes))
            running = l->expires_at;
      }
    }
    auto days = decide_emergency(sub, req, now, pol, running);
    storage::batch b;
    if (!days) {
      auto err = days.error();
      audit(b, req, &err, req.subscription.str(), now,
            "emergency_license.issue");
      if (auto cerr = deps.store->commit_sync(std::move(b)))
        lg.error("cannot write the audit record error={}", error_message(cerr));
      lg.info("emergency license refused subscription={} recipient={} "
              "reason={}",
              req.subscription.str(), log::redact_email(req.recipient_email),
              error_message(err));
      rp.deliver(err);
      return;
    }
    emergency_license l;
    l.id = deps.ids->next<em_id>(now);
    l.subscription = req.subscription;
    l.users = req.users;
    l.recipient_email = req.recipient_email;
    l.ticket_url = req.ticket_url;
    l.requested_by = req.requested_by;
    l.days = *days;
    l.issued_at = now;
    l.expires_at = now
                   + std::chrono::duration_cast<duration>(
                     tenure::days{static_cast<int>(*days)});
    l.license_key = make_license_text(l);
    l.version = 1;
    b.put_snapshot(l.id.str(), l.version, encode(l), 0);
    b.put(storage::cf::meta, running_key(l.subscription), l.id.str());
    audit(b, req, nullptr, l.id.str(), now, "emergency_license.issue");
    effects fx;
    fx.arm.push_back({std::string{owners::emergency}, l.id.str(),
                      std::string{kinds::emergency_end}, l.expires_at});
    fx.notify.push_back(email(l.recipient_email, "emergency_license",
                              sub->program, l.id.str(),
                              {{"users", std::to_string(l.users)},
                               {"days", std::to_string(l.days)},
                               {"expires_at", day_of(l.expires_at)},
                               {"license_key", l.license_key},
                               {"ticket_url", l.ticket_url}}));
    fx.notify.push_back(chat(pol.licensing_channel, "emergency_license_notice",
                             l.id.str(),
                             {{"ticket_url", l.ticket_url},
                              {"users", std::to_string(l.users)},
                              {"requested_by", l.requested_by},
                              {"license", l.id.str()}}));
    write_effects(b, fx, *deps.ids, now);
    if (auto err = deps.store->commit_sync(std::move(b))) {
      rp.deliver(err);
      return;
    }
    lg.info("emergency license issued id={} subscription={} users={} days={}",
            l.id.str(), l.subscription.str(), l.users, l.days);
    rp.deliver(std::move(l));
  };
  auto load = [=](const em_id& id) -> caf::expected<emergency_license> {
    auto snap = deps.store->get_snapshot(id.str());
    if (!snap)
      return std::move(snap.error());
    if (!*snap)
      return make_error(errc::not_found, "no emergency license " + id.str());
    return decode<emergency_license>((*snap)->bytes);
  };
  return {
    [=](request_emergency_license& req) -> caf::result<emergency_license> {
      auto rp = self->make_response_promise();
      if (req.subscription.empty() || !deps.registry) {
        issue(std::move(req), std::nullopt, rp);
        return rp;
      }
      // The desk does not change the subscription: reading it through its
      // actor gives the current state, and the desk's own commits keep the
      // one-license-at-a-time rule (it handles one request at a time).
      self
        ->request(deps.registry, std::chrono::seconds(10), get_atom::value,
                  req.subscription)
        .await(
          [=](subscription& sub) mutable { issue(req, std::move(sub), rp); },
          [=](caf::error& err) mutable {
            if (err == errc::not_found)
              issue(req, std::nullopt, rp);
            else
              rp.deliver(err);
          });
      return rp;
    },
    [=](find_atom,
        const std::string& email) -> caf::result<std::vector<audit_record>> {
      auto prefix = "audit_email/" + lower(email) + "/";
      auto rows = deps.store->scan(storage::cf::meta, prefix, 1000);
      if (!rows)
        return std::move(rows.error());
      std::vector<audit_record> out;
      for (auto& row : *rows) {
        auto rec = deps.store->get(storage::cf::audit, row.value);
        if (!rec)
          return std::move(rec.error());
        if (!*rec)
          continue;
        auto a = decode<audit_record>(**rec);
        if (!a)
          return std::move(a.error());
        out.push_back(std::move(*a));
      }
      return out;
    },
    [=](get_atom, const em_id& id) -> caf::result<emergency_license> {
      auto l = load(id);
      if (!l)
        return std::move(l.error());
      return std::move(*l);
    },
    [=](resend_atom, const em_id& id,
        const std::string& by) -> caf::result<emergency_license> {
      auto l = load(id);
      if (!l)
        return std::move(l.error());
      auto now = deps.clock->now();
      request_emergency_license req;
      req.subscription = l->subscription;
      req.users = l->users;
      req.recipient_email = l->recipient_email;
      req.requested_by = by;
      storage::batch b;
      if (l->expired || now >= l->expires_at) {
        auto err = refuse("emergency license " + id.str() + " expired at "
                          + to_iso8601(l->expires_at));
        audit(b, req, &err, id.str(), now, "emergency_license.resend");
        (void)deps.store->commit_sync(std::move(b));
        return err;
      }
      auto prev = l->version;
      ++l->resent;
      ++l->version;
      b.put_snapshot(l->id.str(), l->version, encode(*l), prev);
      audit(b, req, nullptr, id.str(), now, "emergency_license.resend");
      effects fx;
      fx.notify.push_back(email(l->recipient_email, "emergency_license",
                                program::none, l->id.str(),
                                {{"users", std::to_string(l->users)},
                                 {"days", std::to_string(l->days)},
                                 {"expires_at", day_of(l->expires_at)},
                                 {"license_key", l->license_key},
                                 {"ticket_url", l->ticket_url}}));
      write_effects(b, fx, *deps.ids, now);
      if (auto err = deps.store->commit_sync(std::move(b)))
        return err;
      return std::move(*l);
    },
    [=](fire_atom, const timer& t) -> caf::result<bool> {
      storage::batch b;
      b.delete_timer(t);
      bool changed = false;
      if (t.kind == kinds::emergency_end) {
        auto id = em_id::parse(t.entity);
        auto l = id ? load(*id)
                    : caf::expected<emergency_license>{
                      make_error(errc::not_found, t.entity)};
        if (l && !l->expired) {
          auto prev = l->version;
          l->expired = true;
          ++l->version;
          b.put_snapshot(l->id.str(), l->version, encode(*l), prev);
          b.erase(storage::cf::meta, running_key(l->subscription));
          changed = true;
        }
      }
      if (auto err = deps.store->commit_sync(std::move(b)))
        return err;
      return changed;
    },
  };
}

} // namespace tenure
