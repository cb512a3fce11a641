#include "actors/coupon_pool.hpp"

#include "actors/lifecycle.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/atoms.hpp"
#include "actors/log.hpp"
#include "actors/unexpected.hpp"
#include "messages/codec.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"
#include "storage/keys.hpp"

namespace tenure {

namespace {

using self_ptr = caf::stateful_actor<coupon_pool_state>*;

const log::logger lg{"coupons"};

// Waiting applications share the coupon family under a name no code can
// have ('~' is not a code character).
constexpr std::string_view waiting_tag = "~waiting";

caf::error load(self_ptr self, const coupon_pool_deps& deps) {
  auto& st = self->state;
  auto prefix = storage::coupon_key(to_string(st.program), "");
  auto rows = deps.store->scan(storage::cf::coupons, prefix);
  if (!rows)
    return std::move(rows.error());
  std::vector<coupon> available;
  for (auto& row : *rows) {
    auto name = std::string_view{row.key}.substr(prefix.size());
    if (name.substr(0, waiting_tag.size()) == waiting_tag) {
      auto app = std::string{name.substr(waiting_tag.size() + 1)};
      if (st.waiting_set.insert(app).second)
        st.waiting.push_back(app);
      continue;
    }
    auto c = decode<coupon>(row.value);
    if (!c)
      return std::move(c.error());
    if (c->state == coupon_state::available)
      available.push_back(*c);
    else
      st.by_app[c->application.str()] = c->code;
    if (c->state == coupon_state::redeemed)
      ++st.redeemed;
    st.by_code.emplace(c->code, std::move(*c));
  }
  // Oldest import first (import ids are ULIDs), then file order is lost;
  // any order is fine for single-use codes.
  std::stable_sort(available.begin(), available.end(),
                   [](auto& x, auto& y) { return x.import < y.import; });
  for (auto& c : available)
    st.available.push_back(c.code);
  // Waiting applications may have been booked after the snapshot of the
  // waiting list was written; booked ones are dropped when they ask again.
  return caf::none;
}

/// Reserves the next code for `app` in memory and returns the batch that
/// makes it durable; nothing when the pool is empty.
std::optional<std::pair<std::string, storage::batch>>
reserve(self_ptr self, const coupon_pool_deps& deps, const std::string& app) {
  auto& st = self->state;
  if (st.available.empty())
    return std::nullopt;
  auto code = st.available.front();
  st.available.pop_front();
  auto& c = st.by_code[code];
  c.state = coupon_state::reserved;
  c.application = *app_id::parse(app);
  c.reserved_at = deps.clock->now();
  st.by_app[app] = code;
  storage::batch b;
  b.put(storage::cf::coupons, storage::coupon_key(to_string(st.program), code),
        encode(c));
  // Seed 001: the verifier is asked for a year of codes at a time; warn the
  // program while there is time to ask.
  auto runway = runway_days(st.available.size(), deps.forecast);
  if (!st.low_stock_notified && !deps.low_stock_recipient.empty()
      && runway < deps.forecast.low_stock_runway_days) {
    st.low_stock_notified = true;
    // With its delivery timer, in the reservation's commit.
    add_notification(
      b,
      email(deps.low_stock_recipient, "coupon_low_stock", st.program,
            "pool_" + to_string(st.program),
            {{"available", std::to_string(st.available.size())},
             {"runway_days", std::to_string(runway)},
             {"yearly_need", std::to_string(yearly_need(deps.forecast))}}),
      *deps.ids, deps.clock->now());
    lg.warn("coupon pool low program={} available={} runway_days={}",
            to_string(st.program), st.available.size(), runway);
  }
  // The application's waiting row goes with its reservation (it may have
  // been written by the verification's commit without the pool knowing);
  // a stale deque entry is skipped when reached.
  st.waiting_set.erase(app);
  b.erase(storage::cf::coupons, coupon_waiting_key(st.program, app));
  return std::make_pair(code, std::move(b));
}

void undo_reserve(self_ptr self, const std::string& app,
                  const std::string& code) {
  auto& st = self->state;
  auto& c = st.by_code[code];
  c.state = coupon_state::available;
  c.application = {};
  st.by_app.erase(app);
  st.available.push_front(code);
}

} // namespace

std::string coupon_waiting_key(program p, std::string_view app) {
  std::string name{waiting_tag};
  name += '\0';
  name += app;
  return storage::coupon_key(to_string(p), name);
}

caf::behavior coupon_pool_actor(self_ptr self, tenure::program program,
                                coupon_pool_deps deps) {
  self->state.program = program;
  if (auto err = load(self, deps)) {
    lg.error("cannot load pool program={} error={}", to_string(program),
             error_message(err));
    self->quit(err);
    return {};
  }
  self->set_default_handler(drop_unexpected);
  lg.info("pool loaded program={} available={} reserved={} waiting={}",
          to_string(program), self->state.available.size(),
          self->state.by_app.size() - self->state.redeemed,
          self->state.waiting.size());
  return {
    [=](const book_code& req) -> caf::result<std::string> {
      auto& st = self->state;
      auto app = req.id.str();
      if (auto i = st.by_app.find(app); i != st.by_app.end())
        return i->second; // asked before: the same code
      auto rp = self->make_response_promise();
      auto reserved = reserve(self, deps, app);
      if (!reserved) {
        if (st.waiting_set.count(app))
          return make_error(errc::pool_empty);
        st.waiting_set.insert(app);
        st.waiting.push_back(app);
        storage::batch b;
        b.put(storage::cf::coupons, coupon_waiting_key(st.program, app), "");
        deps.store->commit(std::move(b), [rp](const caf::error& err) mutable {
          rp.deliver(err ? err : make_error(errc::pool_empty));
        });
        return rp;
      }
      auto& [code, b] = *reserved;
      auto hdl = caf::actor_cast<caf::actor>(self);
      deps.store->commit(std::move(b), [rp, hdl, app, code = code](
                                         const caf::error& err) mutable {
        if (err) {
          // Give the code back on the actor's thread.
          caf::anon_send(hdl, committed_atom::value, app, code, err);
          rp.deliver(err);
          return;
        }
        rp.deliver(code);
      });
      return rp;
    },
    [=](committed_atom, const std::string& app, const std::string& code,
        const caf::error&) { undo_reserve(self, app, code); },
    [=](release_atom, const std::string& app) {
      // A withdrawn application: it leaves the waiting list (its row went
      // with the withdrawal's commit), and a code reserved for it but never
      // assigned (its booking answer was lost) returns to the pool.
      auto& st = self->state;
      st.waiting_set.erase(app);
      auto i = st.by_app.find(app);
      if (i == st.by_app.end())
        return;
      auto code = i->second;
      auto& c = st.by_code[code];
      if (c.state != coupon_state::reserved)
        return;
      undo_reserve(self, app, code);
      c.reserved_at = {};
      storage::batch b;
      b.put(storage::cf::coupons,
            storage::coupon_key(to_string(st.program), code), encode(c));
      deps.store->commit(std::move(b), [](const caf::error& err) {
        if (err)
          lg.warn("cannot release a reserved code error={}",
                  error_message(err));
      });
      lg.info("code released by a withdrawn application application={}", app);
    },
    [=](import_coupons& cmd) -> caf::result<import_report> {
      auto& st = self->state;
      if (cmd.program != st.program)
        return make_error(errc::invalid_argument,
                          "program: this pool is " + to_string(st.program));
      auto parsed = parse_coupon_csv(cmd.csv);
      if (!parsed)
        return std::move(parsed.error());
      auto now = deps.clock->now();
      auto report = parsed->report;
      report.id = deps.ids->next<imp_id>(now);
      report.program = st.program;
      storage::batch b;
      std::vector<std::string> fresh;
      for (auto& code : parsed->codes) {
        if (st.by_code.count(code)) {
          ++report.already_present;
          continue;
        }
        coupon c;
        c.code = code;
        c.program = st.program;
        c.import = report.id;
        c.imported_at = now;
        // insert(): a code already stored (by a concurrent import) fails
        // the batch instead of overwriting its state.
        b.insert(storage::cf::coupons,
                 storage::coupon_key(to_string(st.program), code), encode(c));
        st.by_code.emplace(code, std::move(c));
        fresh.push_back(code);
      }
      report.imported = fresh.size();
      auto rp = self->make_response_promise();
      if (fresh.empty()) {
        rp.deliver(report);
        return rp;
      }
      auto hdl = caf::actor_cast<caf::actor>(self);
      deps.store->commit(std::move(b), [=](const caf::error& err) mutable {
        caf::anon_send(hdl, committed_atom::value, report, fresh, err);
        if (err)
          rp.deliver(err);
        else
          rp.deliver(report);
      });
      return rp;
    },
    [=](committed_atom, const import_report& report,
        const std::vector<std::string>& fresh, const caf::error& err) {
      auto& st = self->state;
      if (err) {
        for (auto& code : fresh)
          st.by_code.erase(code);
        lg.warn("import failed program={} error={}", to_string(st.program),
                error_message(err));
        return;
      }
      for (auto& code : fresh)
        st.available.push_back(code);
      if (runway_days(st.available.size(), deps.forecast)
          >= deps.forecast.low_stock_runway_days)
        st.low_stock_notified = false;
      lg.info("imported program={} import={} lines={} imported={} blank={} "
              "duplicates={} present={} invalid={}",
              to_string(st.program), report.id.str(), report.lines,
              report.imported, report.blank, report.duplicate_in_file,
              report.already_present, report.invalid);
      // Wake the waiting applications, as many as there are codes; each asks
      // for its code itself, so booking stays idempotent.
      auto codes = st.available.size();
      auto todo = st.waiting.size();
      for (size_t i = 0; i < todo && codes > 0; ++i) {
        auto app = std::move(st.waiting.front());
        st.waiting.pop_front();
        if (!st.waiting_set.count(app))
          continue; // booked meanwhile: a stale entry
        if (auto id = app_id::parse(app)) {
          if (st.registry)
            caf::anon_send(st.registry, book_code{*id}); // no reply wanted
          --codes;
        }
        // Stays waiting until its code is reserved, so a lost wake-up is
        // repeated by the next import.
        st.waiting.push_back(std::move(app));
      }
    },
    [=](caf::actor& registry) { self->state.registry = std::move(registry); },
    [=](redeem_code& rc) -> caf::result<caf::message> {
      // Checkout pages are per program, so a code of another program is not
      // valid here; the texts are seed 001's.
      auto& st = self->state;
      auto i = st.by_code.find(rc.code);
      if (i == st.by_code.end() || i->second.state == coupon_state::available)
        return make_error(errc::code_invalid);
      if (i->second.state == coupon_state::redeemed)
        return make_error(errc::code_already_used);
      if (!st.registry)
        return make_error(errc::unavailable, "checkout is starting");
      // The application redeems: its events, the subscription and this
      // coupon row go into one commit there.
      return self->delegate(st.registry, checkout_atom::value, std::move(rc),
                            i->second);
    },
    [=](redeemed_atom, const coupon& row) -> caf::result<bool> {
      // On a single node the redemption's commit wrote this row already. In
      // a cluster it went to the application's member; the pool's member
      // brings its own row up to date, so its stock is right after a
      // restart, and confirms (the application's `pool_redeemed` timer
      // asks until it does).
      auto& st = self->state;
      auto i = st.by_code.find(row.code);
      if (i == st.by_code.end())
        return make_error(errc::not_found, "no such code in this pool");
      if (i->second.state != coupon_state::redeemed) {
        i->second = row;
        ++st.redeemed;
      }
      auto key = storage::coupon_key(to_string(st.program), row.code);
      auto stored = deps.store->get(storage::cf::coupons, key);
      if (!stored)
        return std::move(stored.error());
      if (*stored) {
        auto old = decode<coupon>(**stored);
        if (old && old->state == coupon_state::redeemed)
          return true;
      }
      storage::batch b;
      b.put(storage::cf::coupons, key, encode(row));
      auto rp = self->make_response_promise();
      deps.store->commit(std::move(b), [rp](const caf::error& err) mutable {
        if (err) {
          lg.warn("cannot record a redeemed code error={}", error_message(err));
          rp.deliver(err);
        } else {
          rp.deliver(true);
        }
      });
      return rp;
    },
    [=](codes_atom) {
      // Privileged: the caller (gateway, shell) checked the coupon-admin
      // role. The reply holds secrets; nothing here logs it.
      std::vector<std::string> codes{self->state.available.begin(),
                                     self->state.available.end()};
      return codes;
    },
    [=](get_atom) {
      auto& st = self->state;
      pool_stock s;
      s.program = st.program;
      s.available = st.available.size();
      s.redeemed = st.redeemed;
      s.reserved = st.by_app.size() - st.redeemed;
      s.yearly_need = yearly_need(deps.forecast);
      s.runway_days = runway_days(s.available, deps.forecast);
      return s;
    },
  };
}

} // namespace tenure
