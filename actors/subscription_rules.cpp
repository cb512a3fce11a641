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
//                  prv use exp lap opn cur ter rev ren
constexpr bool table[n_states + 1][n_cmds] = {
  /* active     */ {0,  1,  1,  0,  1,  0,  0,  1,  1},
  /* expired    */ {0,  1,  0,  1,  0,  0,  0,  1,  1},
  /* lapsed     */ {0,  0,  0,  0,  0,  0,  0,  0,  0},
  /* in_cure    */ {0,  1,  0,  0,  0,  1,  1,  1,  0},
  /* terminated */ {0,  0,  0,  0,  0,  0,  0,  0,  0},
  /* revoked    */ {0,  0,  0,  0,  0,  0,  0,  0,  0},
  /* renewed    */ {0,  0,  0,  0,  0,  0,  0,  0,  0},
  /* (new)      */ {1,  0,  0,  0,  0,  0,  0,  0,  0},
};
// clang-format on

static_assert(n_states == 7 && n_cmds == 9,
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
      return events{sub_expired{}};
    case ck::lapse:
      return events{sub_lapsed{}};
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
      return events{sub_case_cured{x.id}};
    }
    case ck::terminate: {
      auto& x = std::get<terminate_for_case>(cmd);
      if (x.compliance_case != state->open_case)
        return events{}; // a stale deadline of a case already closed
      return events{sub_terminated{x.compliance_case, x.reason}};
    }
    case ck::revoke: {
      auto& x = std::get<revoke_subscription>(cmd);
      if (x.reason.empty())
        return make_error(errc::invalid_argument, "reason: missing");
      return events{sub_revoked{x.reason, x.by}};
    }
    case ck::renew: {
      auto& x = std::get<renew>(cmd);
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
    void operator()(const sub_provisioned& x) {
      s = x.sub;
    }
    void operator()(const sub_usage_reported& x) {
      s.max_seats_used = x.seats_used;
      s.overage_seats = x.seats_used > s.seats ? x.seats_used - s.seats : 0;
    }
    void operator()(const sub_reminder_sent&) {
      // history only
    }
    void operator()(const sub_expired&) {
      s.state = st::expired;
    }
    void operator()(const sub_lapsed&) {
      s.state = st::lapsed;
    }
    void operator()(const sub_case_opened& x) {
      s.state = st::in_cure;
      s.open_case = x.compliance_case;
    }
    void operator()(const sub_case_cured&) {
      s.state = st::active;
      s.open_case = {};
    }
    void operator()(const sub_terminated&) {
      s.state = st::terminated;
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
  std::visit(visitor{s}, ev);
  s.updated_at = at;
  ++s.version;
  return s;
}

} // namespace tenure
