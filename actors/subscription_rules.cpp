#include "actors/subscription_rules.hpp"

#include "messages/errc.hpp"

namespace tenure {

namespace {

using st = subscription_state;
using ck = subscription_command_kind;

constexpr size_t n_states = std::size(enum_names<subscription_state>::values);
constexpr size_t n_cmds
  = std::size(enum_names<subscription_command_kind>::values);

// clang-format off
//                  prv use exp lap opn cur ter rev ren rem
constexpr bool table[n_states + 1][n_cmds] = {
  /* active     */ {0,  1,  1,  0,  1,  0,  0,  1,  1,  1},
  /* expired    */ {0,  1,  0,  1,  0,  0,  0,  1,  1,  0},
  /* lapsed     */ {0,  0,  0,  0,  0,  0,  0,  0,  0,  0},
  /* in_cure    */ {0,  1,  1,  1,  0,  1,  1,  1,  0,  1},
  /* terminated */ {0,  0,  0,  0,  0,  0,  0,  0,  0,  0},
  /* revoked    */ {0,  0,  0,  0,  0,  0,  0,  0,  0,  0},
  /* renewed    */ {0,  0,  0,  0,  0,  0,  0,  0,  0,  0},
  /* (new)      */ {1,  0,  0,  0,  0,  0,  0,  0,  0,  0},
};
// clang-format on

static_assert(n_states == 7 && n_cmds == 10,
              "update the transition table with the enums");

caf::error illegal(const subscription& s, subscription_command_kind cmd) {
  auto msg = "cannot " + to_string(cmd) + ": subscription " + s.id.str()
             + " is " + to_string(s.state);
  if (s.state == st::in_cure && cmd == ck::renew)
    msg += "; cure or close compliance case " + s.open_case.str() + " first";
  else if (s.state == st::lapsed && cmd == ck::renew)
    msg += "; its grace period ended, the member applies as new";
  return make_error(errc::illegal_transition, std::move(msg));
}

} // namespace

subscription_command_kind kind_of(const subscription_command& cmd) {
  struct visitor {
    ck operator()(const provision&) const {
      return ck::provision;
    }
    ck operator()(const report_usage&) const {
      return ck::usage;
    }
    ck operator()(const expire&) const {
      return ck::expire;
    }
    ck operator()(const lapse&) const {
      return ck::lapse;
    }
    ck operator()(const open_case&) const {
      return ck::open_case;
    }
    ck operator()(const cure_case&) const {
      return ck::cure;
    }
    ck operator()(const terminate_for_case&) const {
      return ck::terminate;
    }
    ck operator()(const revoke_subscription&) const {
      return ck::revoke;
    }
    ck operator()(const renew&) const {
      return ck::renew;
    }
    ck operator()(const send_reminder&) const {
      return ck::remind;
    }
  };
  return std::visit(visitor{}, cmd);
}

bool subscription_allows(std::optional<subscription_state> state,
                         subscription_command_kind cmd) {
  auto row = state ? static_cast<size_t>(*state) : subscription_new_row;
  return table[row][static_cast<size_t>(cmd)];
}

caf::expected<std::vector<subscription_event>>
decide(const std::optional<subscription>& state,
       const subscription_command& cmd, time_point now,
       const subscription_context& ctx) {
  using events = std::vector<subscription_event>;
  auto kind = kind_of(cmd);
  if (!state) {
    if (kind != ck::provision)
      return make_error(errc::not_found,
                        "cannot " + to_string(kind) + ": no such subscription");
  } else if (!subscription_allows(state->state, kind)) {
    return illegal(*state, kind);
  }
  switch (kind) {
    case ck::provision: {
      auto sub = std::get<provision>(cmd).sub;
      if (sub.id.empty())
        return make_error(errc::invalid_argument, "id: missing");
      if (sub.seats == 0)
        return make_error(errc::invalid_argument, "seats: must be at least 1");
      if (sub.lines.empty())
        return make_error(errc::invalid_argument,
                          "lines: a subscription has at least one line");
      if (!(sub.start < sub.end))
        return make_error(errc::invalid_argument, "end: must be after start");
      sub.state = st::active;
      sub.max_seats_used = 0;
      sub.overage_seats = 0;
      sub.open_case = {};
      sub.created_at = now;
      sub.updated_at = now;
      sub.version = 0;
      return events{sub_provisioned{std::move(sub)}};
    }
    case ck::usage: {
      auto used = std::get<report_usage>(cmd).seats_used;
      if (used <= state->max_seats_used)
        return events{}; // the maximum is what counts
      return events{sub_usage_reported{used}};
    }
    case ck::expire:
      if (now < state->end)
        return make_error(errc::illegal_transition,
                          "cannot expire: subscription " + state->id.str()
                            + " ends at " + to_iso8601(state->end));
      return events{sub_expired{std::get<expire>(cmd).timer}};
    case ck::lapse:
      return events{sub_lapsed{std::get<lapse>(cmd).timer}};
    case ck::remind: {
      auto& x = std::get<send_reminder>(cmd);
      if (now >= state->end || state->end - x.offset > now)
        return make_error(errc::illegal_transition,
                          "cannot send the " + to_string_duration(x.offset)
                            + " reminder: subscription " + state->id.str()
                            + " ends at " + to_iso8601(state->end));
      return events{sub_reminder_sent{x.offset, x.timer}};
    }
    case ck::open_case: {
      auto& x = std::get<open_case>(cmd);
      if (x.reason.empty())
        return make_error(errc::invalid_argument, "reason: missing");
      if (!x.curable)
        return events{sub_revoked{x.reason, x.opened_by}};
      if (ctx.new_case.empty())
        return make_error(errc::invalid_argument, "case id: missing");
      return events{sub_case_opened{ctx.new_case, now + ctx.cure_period}};
    }
    case ck::cure: {
      auto& x = std::get<cure_case>(cmd);
      if (x.id != state->open_case)
        return make_error(errc::not_found, "case " + x.id.str()
                                             + " is not open on subscription "
                                             + state->id.str());
      // The deadline is the end of the cure period: from then on the
      // subscription is terminated, even if the supervisor is still on its
      // way.
      if (now >= state->case_deadline)
        return make_error(errc::illegal_transition,
                          "cannot cure case " + x.id.str()
                            + ": its cure period ended at "
                            + to_iso8601(state->case_deadline));
      return events{sub_case_cured{x.id}};
    }
    case ck::terminate: {
      auto& x = std::get<terminate_for_case>(cmd);
      if (x.compliance_case != state->open_case)
        return events{}; // a stale deadline of a case already closed
      if (now < state->case_deadline)
        return make_error(errc::illegal_transition,
                          "cannot terminate: the cure period of case "
                            + x.compliance_case.str() + " runs until "
                            + to_iso8601(state->case_deadline));
      return events{sub_terminated{x.compliance_case, x.reason, x.timer}};
    }
    case ck::revoke: {
      auto& x = std::get<revoke_subscription>(cmd);
      if (x.reason.empty())
        return make_error(errc::invalid_argument, "reason: missing");
      return events{sub_revoked{x.reason, x.by}};
    }
    case ck::renew: {
      auto& x = std::get<renew>(cmd);
      if (x.application == state->application)
        return events{}; // this renewal was applied already
      auto new_end = add_years(state->end, years(x.length));
      return events{sub_renewed{x.application, new_end, state->overage_seats}};
    }
  }
  return make_error(errc::illegal_transition, "unknown command");
}

subscription apply(subscription s, const subscription_event& ev,
                   time_point at) {
  struct visitor {
    subscription& s;
    time_point at;
    void operator()(const sub_provisioned& x) {
      s = x.sub;
    }
    void operator()(const sub_usage_reported& x) {
      s.max_seats_used = x.seats_used;
      s.overage_seats = x.seats_used > s.seats ? x.seats_used - s.seats : 0;
    }
    void operator()(const sub_reminder_sent& x) {
      remember_timer(s.handled_timers, x.timer);
    }
    void operator()(const sub_expired& x) {
      // An open case keeps running through the grace period.
      if (s.state == st::active)
        s.state = st::expired;
      remember_timer(s.handled_timers, x.timer);
    }
    void operator()(const sub_lapsed& x) {
      s.state = st::lapsed;
      remember_timer(s.handled_timers, x.timer);
    }
    void operator()(const sub_case_opened& x) {
      s.state = st::in_cure;
      s.open_case = x.compliance_case;
      s.case_deadline = x.deadline;
    }
    void operator()(const sub_case_cured&) {
      // Cured after the end date (the case ran into the grace period): the
      // subscription is back where its dates put it.
      s.state = at >= s.end ? st::expired : st::active;
      s.open_case = {};
      s.case_deadline = {};
    }
    void operator()(const sub_terminated& x) {
      s.state = st::terminated;
      remember_timer(s.handled_timers, x.timer);
    }
    void operator()(const sub_revoked&) {
      s.state = st::revoked;
    }
    void operator()(const sub_renewed& x) {
      // Community programs: overage seats join the renewal term at no cost.
      s.state = st::active;
      s.seats += x.seats_added;
      s.start = s.end;
      s.end = x.new_end;
      for (auto& line : s.lines) {
        line.start = s.start;
        line.end = add_years(s.start, years(line.term));
      }
      s.max_seats_used = 0;
      s.overage_seats = 0;
      s.application = x.application;
    }
  };
  std::visit(visitor{s, at}, ev);
  s.updated_at = at;
  ++s.version;
  return s;
}

// -- effects ------------------------------------------------------------------

namespace {

std::string date_of(time_point t) {
  return to_iso8601(t).substr(0, 10);
}

std::map<std::string, std::string> member_params(const subscription& s) {
  return {{"organisation", s.organisation.name}, {"subscription", s.id.str()}};
}

notification member_email(const subscription& s, std::string name,
                          std::map<std::string, std::string> extra) {
  auto params = member_params(s);
  for (auto& [k, v] : extra)
    params[k] = std::move(v);
  return email(s.contact_email, std::move(name), s.program, s.id.str(),
               std::move(params));
}

} // namespace

effects renewal_timers(const subscription& after, time_point now,
                       const lifecycle_policy& pol) {
  effects fx;
  auto id = after.id.str();
  if (after.plan == plan::community)
    for (auto offset : pol.reminder_offsets)
      if (after.end - offset > now)
        fx.arm.push_back({std::string{owners::renewal}, id,
                          reminder_kind(offset), after.end - offset});
  fx.arm.push_back(
    {std::string{owners::renewal}, id, std::string{kinds::expiry}, after.end});
  return fx;
}

effects subscription_effects(const subscription& after,
                             const std::vector<subscription_event>& evs,
                             time_point now, const lifecycle_policy& pol) {
  effects fx;
  auto id = after.id.str();
  auto cancel_all = [&] { fx.cancel.emplace_back(id, std::string{}); };
  // The member's emails speak for a community program; a paid plan's
  // customer hears from billing, not from us.
  auto notify_member = [&](notification n) {
    if (after.program != program::none)
      fx.notify.push_back(std::move(n));
  };
  for (auto& ev : evs) {
    if (std::holds_alternative<sub_provisioned>(ev)) {
      fx.append(renewal_timers(after, now, pol));
      if (!after.contact_email.empty())
        fx.put_meta.emplace_back(email_index_key(after.contact_email, id), "");
    } else if (auto x = std::get_if<sub_reminder_sent>(&ev)) {
      auto days_left = std::chrono::duration_cast<days>(after.end - now);
      notify_member(
        member_email(after, "renewal_reminder",
                     {{"end_date", date_of(after.end)},
                      {"days_left", std::to_string(days_left.count())},
                      {"offset", to_string_duration(x->offset)}}));
    } else if (std::holds_alternative<sub_expired>(ev)) {
      auto grace_end = after.end + pol.grace_period;
      fx.arm.push_back({std::string{owners::renewal}, id,
                        std::string{kinds::grace_end}, grace_end});
      notify_member(member_email(
        after, "subscription_expired",
        {{"end_date", date_of(after.end)}, {"grace_end", date_of(grace_end)}}));
    } else if (std::holds_alternative<sub_lapsed>(ev)) {
      notify_member(member_email(after, "subscription_lapsed",
                                 {{"end_date", date_of(after.end)}}));
    } else if (auto x = std::get_if<sub_renewed>(&ev)) {
      // Pending reminders, expiry and grace move with the end date.
      cancel_all();
      fx.append(renewal_timers(after, now, pol));
      notify_member(
        member_email(after, "subscription_renewed",
                     {{"new_end", date_of(after.end)},
                      {"seats_added", std::to_string(x->seats_added)}}));
    } else if (auto x = std::get_if<sub_case_opened>(&ev)) {
      fx.arm.push_back({std::string{owners::compliance}, id,
                        std::string{kinds::cure_deadline}, x->deadline});
    } else if (auto x = std::get_if<sub_case_cured>(&ev)) {
      fx.cancel.emplace_back(id, std::string{kinds::cure_deadline});
      notify_member(member_email(after, "compliance_cured",
                                 {{"case", x->compliance_case.str()}}));
    } else if (auto x = std::get_if<sub_terminated>(&ev)) {
      cancel_all();
      notify_member(member_email(
        after, "subscription_terminated",
        {{"case", x->compliance_case.str()}, {"reason", x->reason}}));
    } else if (auto x = std::get_if<sub_revoked>(&ev)) {
      // Best effort: the notice is queued in the revocation's own commit,
      // before anything else can happen to the license.
      cancel_all();
      notify_member(
        member_email(after, "revocation_notice", {{"reason", x->reason}}));
    }
  }
  return fx;
}

std::optional<case_change>
case_change_for(const subscription& before, const subscription_command& cmd,
                const std::vector<subscription_event>& evs,
                const case_id& new_case, time_point now) {
  for (auto& ev : evs) {
    if (auto x = std::get_if<sub_case_opened>(&ev)) {
      auto& oc = std::get<open_case>(cmd);
      compliance_case c;
      c.id = x->compliance_case;
      c.subscription = before.id;
      c.reason = oc.reason;
      c.curable = true;
      c.opened_by = oc.opened_by;
      c.opened_at = now;
      c.deadline = x->deadline;
      // Formal notice, start of the cure period, offer to meet: one email,
      // in the case's own commit.
      auto notice = member_email(before, "compliance_notice",
                                 {{"case", c.id.str()},
                                  {"reason", c.reason},
                                  {"deadline", to_iso8601(c.deadline)}});
      std::vector<notification> notify;
      if (before.program != program::none)
        notify.push_back(std::move(notice));
      return case_change{c.id, {case_opened{c}}, std::move(notify)};
    }
    if (auto x = std::get_if<sub_case_cured>(&ev)) {
      auto& cc = std::get<cure_case>(cmd);
      return case_change{x->compliance_case, {case_cured{cc.note, cc.by}}, {}};
    }
    if (auto x = std::get_if<sub_terminated>(&ev))
      return case_change{x->compliance_case, {case_terminated{}}, {}};
    if (auto x = std::get_if<sub_revoked>(&ev)) {
      if (auto oc = std::get_if<open_case>(&cmd)) {
        // Not curable: the case is opened and closed by the revocation.
        compliance_case c;
        c.id = new_case;
        c.subscription = before.id;
        c.reason = oc->reason;
        c.curable = false;
        c.opened_by = oc->opened_by;
        c.opened_at = now;
        return case_change{c.id, {case_opened{c}, case_revoked{x->by}}, {}};
      }
      if (!before.open_case.empty())
        return case_change{before.open_case, {case_revoked{x->by}}, {}};
    }
  }
  return std::nullopt;
}

compliance_case apply(compliance_case s, const case_event& ev, time_point at) {
  struct visitor {
    compliance_case& s;
    time_point at;
    void operator()(const case_opened& x) {
      s = x.opened;
      s.state = case_state::open;
    }
    void operator()(const case_cured& x) {
      s.state = case_state::cured;
      s.resolution = x.note.empty() ? "cured" : x.note;
      s.closed_at = at;
    }
    void operator()(const case_terminated&) {
      s.state = case_state::terminated;
      s.resolution = "cure period ended; subscription terminated";
      s.closed_at = at;
    }
    void operator()(const case_revoked& x) {
      s.state = case_state::revoked;
      s.resolution = "subscription revoked by " + x.by;
      s.closed_at = at;
    }
  };
  std::visit(visitor{s, at}, ev);
  ++s.version;
  return s;
}

} // namespace tenure
