#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/outreach.hpp"
#include "messages/records.hpp"

/// The outreach programs' domain rules (seed 003): pure functions, no
/// actors, no I/O.
///
/// Recipients. An account in a program's audience receives its emails at
/// its Admin contacts; on SaaS also at its Owner and Maintainer users;
/// where it has no Admin contact, at its Sold-To contact instead, who never
/// receives NPS or CSAT surveys. Each address once, bounced ones never.
///
/// Program kinds and when their steps go out, from the launch:
/// - email: one step, at once;
/// - series: two or more steps, each `delay` after the launch (not after
///   the previous step), delays not decreasing;
/// - webinar: the invitation at once, an optional reminder a day before
///   `webinar_at` (skipped when that is not after the launch);
/// - newsletter: one step per issue, each `delay` after the launch; issues
///   without a delay go out monthly (issue N at N x 30 days);
/// - survey (NPS 0-10 or CSAT 1-5): the invitation at once, with one tracked
///   link per score; an optional reminder at its `delay`, only to those who
///   have not answered.
///
/// Program transitions:
///
///   draft --launch--> running --(last step sent)--> completed
///     |                  |
///     +------stop--------+--> stopped
namespace tenure {

// -- validation ---------------------------------------------------------------

/// Limits of the outreach records, checked where they come in.
struct outreach_limits {
  static constexpr size_t max_name = 200;
  static constexpr size_t max_contacts = 200;
  static constexpr size_t max_steps = 24;
  static constexpr size_t max_links = 20;
  static constexpr size_t max_subject = 200;
  static constexpr size_t max_body = 20'000;
  static constexpr size_t max_comment = 2'000;
};

/// Whether `email` looks like one address (`local@domain.tld`, no spaces,
/// ASCII, at most 254 characters).
bool plausible_email(const std::string& email);

/// An account as given (name, reference, segment, hosting, stage, contacts);
/// errors are `errc::invalid_argument` naming the field, e.g.
/// `contacts[1].email: not an email address`.
caf::error validate_account(const account& a);

/// A program draft; errors as above, e.g. `steps: a series has at least two`.
caf::error validate_program(const outreach_program& p, time_point now);

/// The accounts of a CSV import, one contact per line after the header
///
///     account_ref,account_name,segment,hosting,stage,contact_name,email,roles
///
/// (roles separated by `|`; fields may be quoted with `"`, a UTF-8 BOM and
/// CRLF are fine, blank lines are skipped), grouped by `account_ref` in the
/// order of first appearance. Every line and every resulting account is
/// checked; the first problem is `errc::invalid_argument` naming its line,
/// e.g. `line 7: segment: expected one of tech_touch, scale, csm_managed`.
/// At most 100,000 lines.
caf::expected<std::vector<account>> parse_account_csv(std::string_view csv);

/// `stored` with what an import says of it: name, segment, hosting and
/// stage replaced; the file's contacts added, or updated by address (name
/// and roles); the others kept.
account merge_import(account stored, const account& imported);

// -- audience and recipients --------------------------------------------------

/// One address a program's email goes to, and why.
struct recipient {
  static constexpr const char* record_name = "tenure::recipient";
  static constexpr uint32_t schema_version = 1;

  con_id contact;
  std::string name;
  std::string email;
  /// E.g. `Admin contact`, `Owner user (SaaS)`, `Sold-To contact (the
  /// account has no Admin contact)`.
  std::string reason;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("contact", x.contact), field("name", x.name),
                           field("email", x.email), field("reason", x.reason));
  }
};

/// What a program does with an account, explained line by line.
struct resolution {
  static constexpr const char* record_name = "tenure::resolution";
  static constexpr uint32_t schema_version = 1;

  bool in_audience = false;
  std::vector<recipient> recipients;
  /// One line per audience criterion and per contact, e.g.
  /// `Carol (c***@acme.example): Sold-To contact, but the account has Admin
  /// contacts: not sent`.
  std::vector<std::string> lines;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("in_audience", x.in_audience),
                           field("recipients", x.recipients),
                           field("lines", x.lines));
  }
};

/// Whether `a` is in the audience of `p`, with the recipients of `p`'s
/// emails at `a` and why each contact does or does not receive them.
resolution resolve_recipients(const outreach_program& p, const account& a);

/// `a***@example.com`: enough for an operator to recognise, not to copy.
std::string mask_email(const std::string& email);

// -- schedule -----------------------------------------------------------------

/// When each step of `p` goes out if launched at `launched`: one entry per
/// step, nothing for a step that is skipped (a webinar reminder after the
/// webinar began).
std::vector<std::optional<time_point>> step_times(const outreach_program& p,
                                                  time_point launched);

/// The timer kind of step `n`, `step_N`, and back.
std::string step_kind(uint32_t n);
std::optional<uint32_t> step_of_kind(const std::string& kind);

/// Whether step `n` of `p` goes only to those who did not answer (a
/// survey's reminder).
bool only_non_responders(const outreach_program& p, uint32_t n);

// -- program transitions ------------------------------------------------------

struct launch_program {
  std::string by;
};

struct stop_program {
  std::string by;
};

/// Step `step` was sent to every recipient (the desk's last page of it).
struct finish_step {
  uint32_t step = 0;
  uint64_t accounts = 0;
  uint64_t recipients = 0;
};

using program_command = std::variant<launch_program, stop_program, finish_step>;

caf::expected<std::vector<program_event>>
decide(const outreach_program& p, const program_command& cmd, time_point now);

outreach_program apply(outreach_program p, const program_event& ev,
                       time_point at);

account apply(account a, const account_event& ev, time_point at);

// -- emails -------------------------------------------------------------------

/// The tracked addresses of one delivery (made by the node, which holds the
/// signing key): the open pixel, the redirect of link N (from 1), the
/// answer with score S.
struct tracking_urls {
  std::string pixel;
  std::vector<std::string> links;
  std::map<uint32_t, std::string> scores;
};

/// The scores a survey takes: NPS 0-10, CSAT 1-5; none otherwise.
std::vector<uint32_t> survey_scores(survey_kind k);

/// The notification of step `step` of `p` to `r` at account `a`: template
/// `outreach`, params `subject`, `body` (placeholders filled, score links
/// appended to a survey's invitation when its body has no `{{score_N}}`)
/// and `tracking_pixel`.
notification outreach_email(const outreach_program& p, uint32_t step,
                            const account& a, const recipient& r,
                            const tracking_urls& urls);

// -- tracking -----------------------------------------------------------------

enum class track_kind : uint8_t { open, click, bounce };
TENURE_ENUM_NAMES(track_kind, "open", "click", "bounce");

/// Records `kind` on `d` and, the first time, in `counts`. A click counts
/// as an open too (images are often blocked). Returns whether anything
/// changed; a bounce after an open (or a second bounce) changes nothing.
bool track(outreach_delivery& d, outreach_counts& counts, track_kind kind,
           time_point now);

/// Validates `score` for `p`'s survey and records an answer for `d`: the
/// response (anonymous surveys: no account, no contact, `at` cut to the
/// day) and the counts. Errors: `errc::invalid_argument` (not a survey, a
/// score out of range, a comment too long), `errc::already_exists` (this
/// delivery answered before).
caf::expected<survey_response> respond(const outreach_program& p,
                                       outreach_delivery& d,
                                       outreach_counts& counts, uint32_t score,
                                       std::string comment,
                                       std::string response_id, time_point now);

/// Rates of a program, from its counts: opens, clicks, bounces and answers
/// per email sent (0 when nothing was sent); NPS (-100..100) and CSAT (%
/// satisfied) when it is such a survey and has answers.
struct outreach_rates {
  double open_rate = 0;
  double click_rate = 0;
  double bounce_rate = 0;
  double response_rate = 0;
  std::optional<double> nps;
  std::optional<double> csat;
};

outreach_rates rates_of(const outreach_counts& c, survey_kind k);

} // namespace tenure
