#include "actors/application_rules.hpp"

#include "messages/errc.hpp"

namespace tenure {

namespace {

using st = application_state;
using ck = application_command_kind;

constexpr size_t n_states = std::size(enum_names<application_state>::values);
constexpr size_t n_cmds
  = std::size(enum_names<application_command_kind>::values);

// The transition table: which command kinds each state accepts. Rows in the
// order of `application_state`, then the not-yet-submitted row.
//
// clang-format off
//                       sub ver rej doc rev app wdr asg emp red stv vod rod ren
constexpr bool table[n_states + 1][n_cmds] = {
  /* ineligible      */ {0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0},
  /* verifying       */ {0,  1,  1,  1,  1,  0,  1,  0,  0,  0,  1,  1,  0,  0},
  /* in_review       */ {0,  1,  1,  1,  0,  0,  1,  0,  0,  0,  0,  0,  1,  0},
  /* documents_req.  */ {0,  1,  1,  0,  1,  0,  1,  0,  0,  0,  0,  0,  0,  0},
  /* rejected        */ {0,  0,  0,  0,  0,  1,  1,  0,  0,  0,  0,  0,  0,  0},
  /* awaiting_code   */ {0,  0,  0,  0,  1,  0,  1,  1,  1,  0,  0,  0,  0,  1},
  /* booked          */ {0,  0,  0,  0,  0,  0,  0,  1,  0,  1,  0,  0,  0,  0},
  /* redeemed        */ {0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0},
  /* withdrawn       */ {0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0},
  /* (new)           */ {1,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0},
};
// clang-format on

static_assert(n_states == 9 && n_cmds == 14,
              "update the transition table with the enums");

caf::error illegal(const application& app, application_command_kind cmd) {
  auto msg = "cannot " + to_string(cmd) + ": application " + app.id.str()
             + " is " + to_string(app.state);
  switch (app.state) {
    case st::rejected:
      msg += "; the applicant may appeal a false rejection";
      break;
    case st::booked:
      if (cmd == ck::withdraw)
        msg += "; its code was sent, contact the program inbox";
      break;
    case st::redeemed:
      msg += "; its subscription is " + app.subscription.str();
      break;
    default:
      break;
  }
  return make_error(errc::illegal_transition, std::move(msg));
}

} // namespace

application_command_kind kind_of(const application_command& cmd) {
  struct visitor {
    ck operator()(const submit_application&) const {
      return ck::submit;
    }
    ck operator()(const record_verification& x) const {
      switch (x.result) {
        case verification_outcome::verified:
          return ck::verified;
        case verification_outcome::rejected:
          return ck::rejected;
        default:
          return ck::documents_requested;
      }
    }
    ck operator()(const send_to_review&) const {
      return ck::to_review;
    }
    ck operator()(const appeal_rejection&) const {
      return ck::appeal;
    }
    ck operator()(const withdraw_application&) const {
      return ck::withdraw;
    }
    ck operator()(const assign_code&) const {
      return ck::assign_code;
    }
    ck operator()(const note_pool_empty&) const {
      return ck::pool_empty;
    }
    ck operator()(const redeem&) const {
      return ck::redeem;
    }
    ck operator()(const start_verification&) const {
      return ck::start_verification;
    }
    ck operator()(const verification_overdue&) const {
      return ck::verification_overdue;
    }
    ck operator()(const review_overdue&) const {
      return ck::review_overdue;
    }
    ck operator()(const renewal_applied&) const {
      return ck::renewal_applied;
    }
  };
  return std::visit(visitor{}, cmd);
}

bool application_allows(std::optional<application_state> state,
                        application_command_kind cmd) {
  auto row = state ? static_cast<size_t>(*state) : application_new_row;
  return table[row][static_cast<size_t>(cmd)];
}

caf::expected<std::vector<application_event>>
decide(const std::optional<application>& state, const application_command& cmd,
       time_point now, const application_context& ctx) {
  using events = std::vector<application_event>;
  auto kind = kind_of(cmd);
  if (!state) {
    if (kind != ck::submit)
      return make_error(errc::not_found,
                        "cannot " + to_string(kind) + ": no such application");
  } else if (!application_allows(state->state, kind)) {
    return illegal(*state, kind);
  }
  switch (kind) {
    case ck::submit: {
      if (state)
        return make_error(errc::already_exists, "application " + state->id.str()
                                                  + " was submitted already");
      auto app = std::get<submit_application>(cmd).draft;
      if (app.id.empty())
        return make_error(errc::invalid_argument, "id: missing");
      if (auto err = validate_draft(app))
        return err;
      if (ctx.rules == nullptr)
        return make_error(errc::unavailable, "no eligibility rules loaded");
      auto verdict = check_eligibility(app, *ctx.rules);
      app.reasons = verdict.reasons;
      app.coupon_code.clear();
      app.subscription = {};
      app.submitted_at = now;
      app.updated_at = now;
      app.version = 0;
      if (!verdict.eligible()) {
        app.state = st::ineligible;
        app.stage = stage::application;
      } else {
        app.path = verdict.path;
        app.state = verdict.path == verification_path::manual ? st::in_review
                                                              : st::verifying;
        if (app.state == st::in_review)
          app.review_due = add_business_days(now, ctx.review_business_days);
        app.stage = stage::verification;
        if (!verdict.review_reason.empty())
          app.reasons.push_back(verdict.review_reason);
      }
      return events{app_submitted{std::move(app)}};
    }
    case ck::verified: {
      auto& x = std::get<record_verification>(cmd);
      return events{app_verified{x.decided_by, x.external_ref}};
    }
    case ck::rejected: {
      auto& x = std::get<record_verification>(cmd);
      if (x.reason.empty())
        return make_error(errc::invalid_argument,
                          "reason: a rejection needs a reason the applicant "
                          "can read");
      return events{app_rejected{x.reason, x.decided_by, x.external_ref}};
    }
    case ck::documents_requested: {
      auto& x = std::get<record_verification>(cmd);
      if (x.reason.empty())
        return make_error(errc::invalid_argument,
                          "reason: say which documents are needed");
      return events{app_documents_requested{x.reason, x.decided_by}};
    }
    case ck::to_review:
      return events{
        app_sent_to_review{std::get<send_to_review>(cmd).reason,
                           add_business_days(now, ctx.review_business_days)}};
    case ck::appeal: {
      auto& x = std::get<appeal_rejection>(cmd);
      return events{app_appealed{
        x.reason, x.by, add_business_days(now, ctx.review_business_days)}};
    }
    case ck::start_verification: {
      auto& x = std::get<start_verification>(cmd);
      if (x.external_ref.empty())
        return make_error(errc::invalid_argument,
                          "external_ref: the verifier gave no reference");
      return events{app_verification_started{
        x.external_ref, state->verification_attempts + 1, x.fired.id}};
    }
    case ck::verification_overdue: {
      auto& x = std::get<verification_overdue>(cmd);
      events out{
        app_verification_timed_out{state->verification_attempts, x.timer}};
      if (state->verification_attempts >= x.max_attempts)
        out.emplace_back(app_sent_to_review{
          "the verifier gave no result after "
            + std::to_string(state->verification_attempts) + " attempts",
          add_business_days(now, ctx.review_business_days)});
      return out;
    }
    case ck::review_overdue:
      return events{app_review_overdue{state->review_due,
                                       std::get<review_overdue>(cmd).timer}};
    case ck::renewal_applied: {
      auto& x = std::get<renewal_applied>(cmd);
      if (state->kind != application_kind::renewal
          || x.subscription != state->renews)
        return make_error(errc::invalid_argument,
                          "application " + state->id.str() + " does not renew "
                            + x.subscription.str());
      return events{app_renewal_applied{x.subscription, x.new_end, x.timer}};
    }
    case ck::withdraw: {
      auto& x = std::get<withdraw_application>(cmd);
      return events{app_withdrawn{x.reason, x.by}};
    }
    case ck::assign_code: {
      auto& x = std::get<assign_code>(cmd);
      if (x.code.empty())
        return make_error(errc::invalid_argument, "code: missing");
      if (state->state == st::booked) {
        // The booking delivered twice: harmless. A different code would
        // give one application two codes, which must never happen.
        if (x.code == state->coupon_code)
          return events{};
        return make_error(errc::conflict,
                          "application " + state->id.str()
                            + " already holds a code; the second code "
                              "must go back to the pool");
      }
      return events{app_code_assigned{x.code}};
    }
    case ck::pool_empty:
      // Recorded once, so the history shows why the application waits.
      if (state->reasons.empty()
          || state->reasons.back() != "waiting for a coupon code")
        return events{app_awaiting_code{}};
      return events{};
    case ck::redeem: {
      auto& x = std::get<redeem>(cmd);
      if (x.code != state->coupon_code)
        return make_error(errc::code_invalid);
      if (x.chosen.program != state->program)
        return make_error(errc::sku_mismatch, "SKU " + x.chosen.id
                                                + " belongs to the "
                                                + to_string(x.chosen.program)
                                                + " program; this code is for "
                                                + to_string(state->program));
      if (x.seats == 0)
        return make_error(errc::invalid_argument, "seats: must be at least 1");
      if (x.subscription.empty())
        return make_error(errc::invalid_argument, "subscription: missing id");
      return events{app_redeemed{x.subscription, x.chosen.id, x.seats}};
    }
  }
  return make_error(errc::illegal_transition, "unknown command");
}

application apply(application s, const application_event& ev, time_point at) {
  struct visitor {
    application& s;
    void operator()(const app_submitted& x) {
      s = x.app;
    }
    void operator()(const app_verified&) {
      s.state = st::awaiting_code;
      s.stage = stage::booking;
      s.reasons.clear();
    }
    void operator()(const app_rejected& x) {
      s.state = st::rejected;
      s.reasons = {x.reason};
    }
    void operator()(const app_documents_requested& x) {
      s.state = st::documents_requested;
      s.reasons = {x.what};
    }
    void operator()(const app_sent_to_review& x) {
      s.state = st::in_review;
      s.path = verification_path::manual;
      s.reasons = {x.reason};
      s.review_due = x.review_due;
    }
    void operator()(const app_appealed& x) {
      // A false rejection goes back to verification by the program team.
      s.state = st::in_review;
      s.path = verification_path::manual;
      s.reasons = {"appeal: " + x.reason};
      s.review_due = x.review_due;
    }
    void operator()(const app_verification_started& x) {
      s.verification_attempts = x.attempt;
      s.external_ref = x.external_ref;
      remember_timer(s.handled_timers, x.timer);
    }
    void operator()(const app_verification_timed_out& x) {
      remember_timer(s.handled_timers, x.timer);
    }
    void operator()(const app_review_overdue& x) {
      remember_timer(s.handled_timers, x.timer);
    }
    void operator()(const app_renewal_applied& x) {
      s.state = st::redeemed;
      s.stage = stage::renewal;
      s.subscription = x.subscription;
      s.reasons.clear();
      remember_timer(s.handled_timers, x.timer);
    }
    void operator()(const app_withdrawn&) {
      s.state = st::withdrawn;
    }
    void operator()(const app_awaiting_code&) {
      s.reasons = {"waiting for a coupon code"};
    }
    void operator()(const app_code_assigned& x) {
      s.state = st::booked;
      s.coupon_code = x.code;
      s.reasons.clear();
    }
    void operator()(const app_redeemed& x) {
      s.state = st::redeemed;
      s.stage = stage::provisioning;
      s.subscription = x.subscription;
    }
  };
  std::visit(visitor{s}, ev);
  s.updated_at = at;
  ++s.version;
  return s;
}

// -- effects ------------------------------------------------------------------

effects application_effects(const std::optional<application>& before,
                            const application& after,
                            const std::vector<application_event>& evs,
                            time_point now, const lifecycle_policy& pol) {
  effects fx;
  auto id = after.id.str();
  // The state before, as a predicate (an optional<state> compared inline
  // made GCC 12 warn of a maybe-uninitialized read).
  auto was = [&](st x) { return before && before->state == x; };
  auto applicant_params = [&](std::map<std::string, std::string> extra) {
    extra["name"] = after.applicant.name;
    extra["application"] = id;
    return extra;
  };
  auto to_applicant
    = [&](std::string name, std::map<std::string, std::string> extra) {
        fx.notify.push_back(email(after.applicant.email, std::move(name),
                                  after.program, id,
                                  applicant_params(std::move(extra))));
      };
  // Found by the applicant's email from its first commit on.
  if (!before && !after.applicant.email.empty())
    fx.put_meta.emplace_back(email_index_key(after.applicant.email, id), "");
  // The manual review queue: a row and an answer-window timer while the
  // application waits for the program team.
  bool in_review_before = was(st::in_review);
  bool in_review_after = after.state == st::in_review;
  if (in_review_before
      && (!in_review_after || before->review_due != after.review_due)) {
    fx.cancel.emplace_back(id, std::string{kinds::review_due});
    fx.erase_meta.push_back(review_queue_key(before->review_due, after.id));
  }
  if (in_review_after
      && (!in_review_before || before->review_due != after.review_due)) {
    fx.arm.push_back({std::string{owners::verification}, id,
                      std::string{kinds::review_due}, after.review_due});
    fx.put_meta.emplace_back(review_queue_key(after.review_due, after.id),
                             to_string(after.program));
  }
  // Stage 2 is durable: a verified application holds a `book_code` timer
  // until its code is recorded, so a crash right after the verification, or
  // a pool on a member that is down, only delays the booking.
  bool awaiting_before = was(st::awaiting_code);
  bool awaiting_after = after.state == st::awaiting_code
                        && after.kind == application_kind::new_member;
  if (!awaiting_before && awaiting_after)
    fx.arm.push_back({std::string{owners::verification}, id,
                      std::string{kinds::book_code}, now});
  if (awaiting_before && after.state != st::awaiting_code)
    fx.cancel.emplace_back(id, std::string{kinds::book_code});
  // Leaving the external verifier's hands: its timers go.
  if (was(st::verifying) && after.state != st::verifying) {
    fx.cancel.emplace_back(id, std::string{kinds::verify_start});
    fx.cancel.emplace_back(id, std::string{kinds::verify_timeout});
  }
  for (auto& ev : evs) {
    if (std::holds_alternative<app_submitted>(ev)) {
      if (after.state == st::verifying)
        fx.arm.push_back({std::string{owners::verification}, id,
                          std::string{kinds::verify_start}, now});
    } else if (std::holds_alternative<app_verification_started>(ev)) {
      fx.arm.push_back({std::string{owners::verification}, id,
                        std::string{kinds::verify_timeout},
                        now + pol.verification_timeout});
    } else if (std::holds_alternative<app_verification_timed_out>(ev)) {
      if (after.state == st::verifying)
        fx.arm.push_back({std::string{owners::verification}, id,
                          std::string{kinds::verify_start}, now});
    } else if (auto x = std::get_if<app_sent_to_review>(&ev)) {
      fx.notify.push_back(email(pol.inbox(after.program),
                                "verification_manual_review", after.program, id,
                                {{"application", id}, {"reason", x->reason}}));
    } else if (auto x = std::get_if<app_review_overdue>(&ev)) {
      fx.notify.push_back(
        email(pol.inbox(after.program), "review_overdue", after.program, id,
              {{"application", id},
               {"waiting_since", to_iso8601(before ? before->updated_at : now)},
               {"due", to_iso8601(x->due)}}));
    } else if (std::holds_alternative<app_verified>(ev)) {
      if (after.kind == application_kind::renewal)
        fx.arm.push_back({std::string{owners::renewal}, id,
                          std::string{kinds::renewal_apply}, now});
    } else if (auto x = std::get_if<app_rejected>(&ev)) {
      to_applicant("rejection", {{"reason", x->reason}});
    } else if (auto x = std::get_if<app_documents_requested>(&ev)) {
      to_applicant("documents_requested", {{"what", x->what}});
    } else if (auto x = std::get_if<app_code_assigned>(&ev)) {
      // The code travels only in the outbox row, never in a log line.
      to_applicant("booking_success", {{"code", x->code}});
    }
  }
  return fx;
}

} // namespace tenure
