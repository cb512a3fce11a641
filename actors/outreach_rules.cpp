#include "actors/outreach_rules.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "actors/lifecycle.hpp"
#include "messages/errc.hpp"

namespace tenure {

namespace {

caf::error bad(const std::string& path, const std::string& what) {
  return make_error(errc::invalid_argument, path + ": " + what);
}

bool has_role(const contact& c, contact_role r) {
  return std::find(c.roles.begin(), c.roles.end(), r) != c.roles.end();
}

std::string lower(std::string s) {
  for (auto& ch : s)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

template <class E>
std::string join_names(const std::vector<E>& xs) {
  std::string out;
  for (auto& x : xs) {
    if (!out.empty())
      out += ", ";
    out += to_string(x);
  }
  return out;
}

/// Whether the text has a control character other than tab and line breaks.
bool has_controls(const std::string& s, bool lines_ok) {
  for (unsigned char ch : s)
    if ((ch < 0x20 && !(lines_ok && (ch == '\n' || ch == '\r' || ch == '\t')))
        || ch == 0x7f)
      return true;
  return false;
}

caf::error check_text(const std::string& path, const std::string& s,
                      size_t most, bool required, bool lines_ok = false) {
  if (required && s.empty())
    return bad(path, "required");
  if (s.size() > most)
    return bad(path, "longer than " + std::to_string(most) + " characters");
  if (has_controls(s, lines_ok))
    return bad(path, lines_ok ? "contains control characters"
                              : "must be one line without control characters");
  return caf::none;
}

constexpr auto one_day = std::chrono::duration_cast<duration>(days{1});
constexpr auto month = std::chrono::duration_cast<duration>(days{30});

/// Replaces every `{{key}}` of `vars` in `text` (one pass: a value is never
/// expanded again).
std::string fill(const std::string& text,
                 const std::map<std::string, std::string>& vars) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    auto open = text.find("{{", i);
    if (open == std::string::npos) {
      out.append(text, i, std::string::npos);
      break;
    }
    auto close = text.find("}}", open + 2);
    if (close == std::string::npos) {
      out.append(text, i, std::string::npos);
      break;
    }
    out.append(text, i, open - i);
    auto key = text.substr(open + 2, close - open - 2);
    if (auto v = vars.find(key); v != vars.end())
      out += v->second;
    else
      out.append(text, open, close + 2 - open);
    i = close + 2;
  }
  return out;
}

/// The placeholders a step may use besides links and scores.
bool known_placeholder(const std::string& key, const outreach_program& p) {
  if (key == "name" || key == "account")
    return true;
  auto numbered = [&](std::string_view prefix, uint32_t lo, uint32_t hi) {
    if (key.rfind(prefix, 0) != 0 || key.size() == prefix.size()
        || key.size() > prefix.size() + 3)
      return false;
    uint32_t n = 0;
    for (size_t i = prefix.size(); i < key.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(key[i])))
        return false;
      n = n * 10 + static_cast<uint32_t>(key[i] - '0');
    }
    return n >= lo && n <= hi;
  };
  if (numbered("link_", 1, static_cast<uint32_t>(p.links.size())))
    return true;
  auto scores = survey_scores(p.survey);
  return !scores.empty() && numbered("score_", scores.front(), scores.back());
}

caf::error check_placeholders(const std::string& path, const std::string& text,
                              const outreach_program& p) {
  size_t i = 0;
  while ((i = text.find("{{", i)) != std::string::npos) {
    auto close = text.find("}}", i + 2);
    if (close == std::string::npos)
      return bad(path, "a '{{' without '}}'");
    auto key = text.substr(i + 2, close - i - 2);
    if (!known_placeholder(key, p))
      return bad(
        path, "unknown placeholder {{" + key.substr(0, 40)
                + "}} (known: name, account, link_1.."
                + std::to_string(p.links.size())
                + (p.survey == survey_kind::none ? std::string{} : ", score_N")
                + ")");
    i = close + 2;
  }
  return caf::none;
}

} // namespace

// -- validation ---------------------------------------------------------------

bool plausible_email(const std::string& email) {
  if (email.empty() || email.size() > 254)
    return false;
  auto at = email.find('@');
  if (at == std::string::npos || at == 0
      || email.find('@', at + 1) != std::string::npos)
    return false;
  auto dot = email.rfind('.');
  if (dot == std::string::npos || dot < at + 2 || dot + 1 >= email.size())
    return false;
  for (unsigned char ch : email)
    if (ch <= 0x20 || ch >= 0x7f || ch == '<' || ch == '>' || ch == ','
        || ch == ';' || ch == '"')
      return false;
  return true;
}

caf::error validate_account(const account& a) {
  if (auto err = check_text("name", a.name, outreach_limits::max_name, true))
    return err;
  if (auto err = check_text("external_ref", a.external_ref,
                            outreach_limits::max_name, false))
    return err;
  if (a.contacts.size() > outreach_limits::max_contacts)
    return bad("contacts",
               "more than " + std::to_string(outreach_limits::max_contacts));
  std::set<std::string> emails;
  for (size_t i = 0; i < a.contacts.size(); ++i) {
    auto& c = a.contacts[i];
    auto path = "contacts[" + std::to_string(i) + "]";
    if (auto err
        = check_text(path + ".name", c.name, outreach_limits::max_name, true))
      return err;
    if (!plausible_email(c.email))
      return bad(path + ".email", "not an email address");
    if (!emails.insert(lower(c.email)).second)
      return bad(path + ".email", "given for another contact of the account");
    if (c.roles.empty())
      return bad(path + ".roles",
                 "at least one of admin, owner, maintainer, sold_to");
    std::set<contact_role> seen(c.roles.begin(), c.roles.end());
    if (seen.size() != c.roles.size())
      return bad(path + ".roles", "a role given twice");
  }
  return caf::none;
}

caf::error validate_program(const outreach_program& p, time_point now) {
  if (auto err = check_text("name", p.name, outreach_limits::max_name, true))
    return err;
  auto n = p.steps.size();
  if (n == 0)
    return bad("steps", "at least one step (subject and body)");
  if (n > outreach_limits::max_steps)
    return bad("steps",
               "more than " + std::to_string(outreach_limits::max_steps));
  if (p.links.size() > outreach_limits::max_links)
    return bad("links",
               "more than " + std::to_string(outreach_limits::max_links));
  for (size_t i = 0; i < p.links.size(); ++i) {
    auto& l = p.links[i];
    auto path = "links[" + std::to_string(i) + "]";
    if (!(l.rfind("https://", 0) == 0 || l.rfind("http://", 0) == 0)
        || l.size() > 2000 || has_controls(l, false)
        || l.find(' ') != std::string::npos)
      return bad(path, "not an http(s) URL");
  }
  bool is_survey = p.kind == outreach_kind::survey;
  if (is_survey != (p.survey != survey_kind::none))
    return bad("survey", is_survey ? "a survey is nps or csat"
                                   : "only a survey program has one");
  if (p.anonymous && !is_survey)
    return bad("anonymous", "only a survey can be anonymous");
  for (size_t i = 0; i < n; ++i) {
    auto& s = p.steps[i];
    auto path = "steps[" + std::to_string(i) + "]";
    if (auto err = check_text(path + ".subject", s.subject,
                              outreach_limits::max_subject, true))
      return err;
    if (auto err = check_text(path + ".body", s.body, outreach_limits::max_body,
                              true, true))
      return err;
    if (auto err = check_placeholders(path + ".subject", s.subject, p))
      return err;
    if (auto err = check_placeholders(path + ".body", s.body, p))
      return err;
    if (s.delay.count() < 0)
      return bad(path + ".delay", "negative");
    if (s.delay > std::chrono::duration_cast<duration>(days{3 * 365}))
      return bad(path + ".delay", "more than three years");
  }
  switch (p.kind) {
    case outreach_kind::email:
      if (n != 1)
        return bad("steps", "a single email has exactly one step");
      break;
    case outreach_kind::series:
      if (n < 2)
        return bad("steps", "a series has at least two steps");
      for (size_t i = 1; i < n; ++i)
        if (p.steps[i].delay < p.steps[i - 1].delay)
          return bad("steps[" + std::to_string(i) + "].delay",
                     "earlier than the step before it (delays count from "
                     "the launch)");
      break;
    case outreach_kind::webinar:
      if (n > 2)
        return bad("steps", "a webinar has an invitation and at most one "
                            "reminder");
      if (p.webinar_at == time_point{})
        return bad("webinar_at", "required for a webinar");
      if (p.webinar_at <= now)
        return bad("webinar_at", "in the past");
      break;
    case outreach_kind::newsletter:
      for (size_t i = 1; i < n; ++i)
        if (p.steps[i].delay.count() != 0
            && p.steps[i].delay <= p.steps[i - 1].delay)
          return bad("steps[" + std::to_string(i) + "].delay",
                     "not after the issue before it");
      break;
    case outreach_kind::survey:
      if (n > 2)
        return bad("steps", "a survey has an invitation and at most one "
                            "reminder");
      if (n == 2 && p.steps[1].delay.count() == 0)
        return bad("steps[1].delay", "the reminder needs a delay after the "
                                     "invitation (e.g. \"7d\")");
      break;
  }
  if (p.kind != outreach_kind::webinar && p.webinar_at != time_point{})
    return bad("webinar_at", "only a webinar has one");
  return caf::none;
}

namespace {

/// Splits one CSV line; nothing when a quote is not closed.
std::optional<std::vector<std::string>> csv_fields(std::string_view line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char ch = line[i];
    if (quoted) {
      if (ch == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          out.back() += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        out.back() += ch;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      out.emplace_back();
    } else {
      out.back() += ch;
    }
  }
  if (quoted)
    return std::nullopt;
  for (auto& f : out) {
    while (!f.empty() && (f.back() == ' ' || f.back() == '\t'))
      f.pop_back();
    size_t k = 0;
    while (k < f.size() && (f[k] == ' ' || f[k] == '\t'))
      ++k;
    f.erase(0, k);
  }
  return out;
}

template <class E>
caf::error enum_field(const std::string& text, const char* name, E& out) {
  if (auto x = parse_enum<E>(text)) {
    out = *x;
    return caf::none;
  }
  std::string all;
  for (auto v : enum_names<E>::values) {
    if (!all.empty())
      all += ", ";
    all += v;
  }
  return make_error(errc::invalid_argument,
                    std::string{name} + ": expected one of " + all);
}

} // namespace

caf::expected<std::vector<account>> parse_account_csv(std::string_view csv) {
  static constexpr const char* header
    = "account_ref,account_name,segment,hosting,stage,contact_name,email,roles";
  if (csv.substr(0, 3) == "\xEF\xBB\xBF")
    csv.remove_prefix(3);
  std::vector<account> out;
  std::map<std::string, size_t> by_ref;
  size_t line_no = 0;
  bool seen_header = false;
  while (!csv.empty()) {
    auto nl = csv.find('\n');
    auto line = csv.substr(0, nl);
    csv
      = nl == std::string_view::npos ? std::string_view{} : csv.substr(nl + 1);
    ++line_no;
    if (line_no > 100'001)
      return make_error(errc::too_large, "more than 100,000 lines");
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.find_first_not_of(" \t,") == std::string_view::npos)
      continue;
    auto at = [&](const std::string& what) {
      return make_error(errc::invalid_argument,
                        "line " + std::to_string(line_no) + ": " + what);
    };
    auto fs = csv_fields(line);
    if (!fs)
      return at("a quote is not closed");
    if (!seen_header) {
      std::string got;
      for (auto& f : *fs)
        got += (got.empty() ? "" : ",") + lower(f);
      if (got != header)
        return at(std::string{"the header must be "} + header);
      seen_header = true;
      continue;
    }
    if (fs->size() != 8)
      return at("expected 8 fields, found " + std::to_string(fs->size()));
    auto& f = *fs;
    if (f[0].empty())
      return at("account_ref: required");
    account a;
    a.external_ref = f[0];
    a.name = f[1];
    if (auto err = enum_field(lower(f[2]), "segment", a.segment))
      return at(error_message(err));
    if (auto err = enum_field(lower(f[3]), "hosting", a.hosting))
      return at(error_message(err));
    if (f[4].empty())
      a.stage = lifecycle_stage::onboarding;
    else if (auto err = enum_field(lower(f[4]), "stage", a.stage))
      return at(error_message(err));
    contact c;
    c.name = f[5];
    c.email = f[6];
    std::string_view roles = f[7];
    while (!roles.empty()) {
      auto bar = roles.find('|');
      auto r = std::string{roles.substr(0, bar)};
      roles = bar == std::string_view::npos ? std::string_view{}
                                            : roles.substr(bar + 1);
      contact_role role;
      if (auto err = enum_field(lower(r), "roles", role))
        return at(error_message(err));
      c.roles.push_back(role);
    }
    auto [it, fresh] = by_ref.emplace(lower(a.external_ref), out.size());
    if (fresh) {
      a.contacts.push_back(std::move(c));
      out.push_back(std::move(a));
    } else {
      auto& prev = out[it->second];
      if (prev.name != a.name || prev.segment != a.segment
          || prev.hosting != a.hosting || prev.stage != a.stage)
        return at("account " + a.external_ref.substr(0, 60)
                  + " is described differently on an earlier line");
      prev.contacts.push_back(std::move(c));
    }
    if (auto err = validate_account(out[it->second]))
      return at(error_message(err));
  }
  if (!seen_header)
    return make_error(errc::invalid_argument, "the file is empty");
  return out;
}

account merge_import(account stored, const account& imported) {
  stored.name = imported.name;
  stored.segment = imported.segment;
  stored.hosting = imported.hosting;
  stored.stage = imported.stage;
  stored.external_ref = imported.external_ref;
  for (auto& c : imported.contacts) {
    auto same = std::find_if(
      stored.contacts.begin(), stored.contacts.end(),
      [&](const contact& x) { return lower(x.email) == lower(c.email); });
    if (same == stored.contacts.end()) {
      stored.contacts.push_back(c);
      stored.contacts.back().id = con_id{};
    } else {
      same->name = c.name;
      same->roles = c.roles;
    }
  }
  return stored;
}

// -- audience and recipients --------------------------------------------------

std::string mask_email(const std::string& email) {
  auto at = email.find('@');
  if (at == std::string::npos || at == 0)
    return "***";
  return email.substr(0, 1) + "***" + email.substr(at);
}

resolution resolve_recipients(const outreach_program& p, const account& a) {
  resolution out;
  auto criterion = [&](const char* what, const auto& wanted, auto value) {
    if (wanted.empty()) {
      out.lines.push_back(
        fmt::format("{} {}: the program takes any", what, to_string(value)));
      return true;
    }
    bool ok = std::find(wanted.begin(), wanted.end(), value) != wanted.end();
    out.lines.push_back(fmt::format("{} {}: the program takes {}: {}", what,
                                    to_string(value), join_names(wanted),
                                    ok ? "matches" : "does not match"));
    return ok;
  };
  bool seg = criterion("segment", p.segments, a.segment);
  bool stg = criterion("stage", p.stages, a.stage);
  bool hst = criterion("hosting", p.hostings, a.hosting);
  out.in_audience = seg && stg && hst;
  if (!out.in_audience) {
    out.lines.push_back("the account is not in the program's audience: "
                        "nobody at it receives the program");
    return out;
  }
  bool saas = a.hosting == hosting::saas;
  bool survey = p.survey == survey_kind::nps || p.survey == survey_kind::csat;
  bool any_admin
    = std::any_of(a.contacts.begin(), a.contacts.end(), [](const contact& c) {
        return has_role(c, contact_role::admin);
      });
  if (a.contacts.empty())
    out.lines.push_back("the account has no contacts: nobody receives it");
  std::set<std::string> seen;
  for (auto& c : a.contacts) {
    auto who = fmt::format("{} ({})", c.name, mask_email(c.email));
    std::string why;
    std::string why_not;
    if (has_role(c, contact_role::admin)) {
      why = "Admin contact";
    } else if (saas && has_role(c, contact_role::owner)) {
      why = "Owner user (SaaS)";
    } else if (saas && has_role(c, contact_role::maintainer)) {
      why = "Maintainer user (SaaS)";
    } else if (has_role(c, contact_role::sold_to)) {
      if (any_admin)
        why_not = "Sold-To contact, but the account has Admin contacts";
      else if (survey)
        why_not = fmt::format("Sold-To contact standing in for the missing "
                              "Admin, but Sold-To contacts never receive {} "
                              "surveys",
                              p.survey == survey_kind::nps ? "NPS" : "CSAT");
      else
        why = "Sold-To contact (the account has no Admin contact)";
    } else {
      why_not = fmt::format("{} user, but the account is self-managed "
                            "(Owner and Maintainer users receive programs "
                            "on SaaS only)",
                            has_role(c, contact_role::owner) ? "Owner"
                                                             : "Maintainer");
    }
    if (!why.empty() && c.bounced) {
      why_not = why + ", but the address bounced";
      why.clear();
    }
    if (!why.empty() && !seen.insert(lower(c.email)).second) {
      why_not = why + ", but the address receives it already";
      why.clear();
    }
    if (!why.empty()) {
      out.lines.push_back(who + ": " + why + ": receives it");
      out.recipients.push_back(recipient{c.id, c.name, c.email, why});
    } else {
      out.lines.push_back(who + ": " + why_not + ": not sent");
    }
  }
  if (!any_admin && !a.contacts.empty())
    out.lines.push_back("no Admin contact: communication for Admins goes to "
                        "the Sold-To contact");
  return out;
}

// -- schedule -----------------------------------------------------------------

std::vector<std::optional<time_point>> step_times(const outreach_program& p,
                                                  time_point launched) {
  std::vector<std::optional<time_point>> out;
  for (size_t i = 0; i < p.steps.size(); ++i) {
    auto& s = p.steps[i];
    switch (p.kind) {
      case outreach_kind::email:
        out.emplace_back(launched);
        break;
      case outreach_kind::series:
      case outreach_kind::survey:
        out.emplace_back(i == 0 ? launched : launched + s.delay);
        break;
      case outreach_kind::webinar:
        if (i == 0) {
          out.emplace_back(launched);
        } else {
          auto at = p.webinar_at - one_day;
          if (at > launched)
            out.emplace_back(at);
          else
            out.emplace_back(std::nullopt);
        }
        break;
      case outreach_kind::newsletter:
        if (s.delay.count() == 0 && i > 0)
          out.emplace_back(launched + month * static_cast<int64_t>(i));
        else
          out.emplace_back(launched + s.delay);
        break;
    }
  }
  return out;
}

std::string step_kind(uint32_t n) {
  return "step_" + std::to_string(n);
}

std::optional<uint32_t> step_of_kind(const std::string& kind) {
  if (kind.rfind("step_", 0) != 0 || kind.size() < 6 || kind.size() > 8)
    return std::nullopt;
  uint32_t n = 0;
  for (size_t i = 5; i < kind.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(kind[i])))
      return std::nullopt;
    n = n * 10 + static_cast<uint32_t>(kind[i] - '0');
  }
  return n;
}

bool only_non_responders(const outreach_program& p, uint32_t n) {
  return p.kind == outreach_kind::survey && n > 0;
}

// -- transitions --------------------------------------------------------------

caf::expected<std::vector<program_event>>
decide(const outreach_program& p, const program_command& cmd, time_point) {
  auto illegal = [&](const char* what) {
    return make_error(errc::illegal_transition,
                      fmt::format("cannot {} program {}: it is {}", what,
                                  p.id.str(), to_string(p.state)));
  };
  if (auto launch = std::get_if<launch_program>(&cmd)) {
    if (p.system)
      return make_error(errc::illegal_transition,
                        "program " + p.id.str()
                          + " is built in: its emails are the lifecycle's "
                            "own notifications");
    if (p.state != outreach_state::draft)
      return illegal("launch");
    return std::vector<program_event>{prg_launched{launch->by}};
  }
  if (auto stop = std::get_if<stop_program>(&cmd)) {
    if (p.state != outreach_state::draft && p.state != outreach_state::running)
      return illegal("stop");
    return std::vector<program_event>{prg_stopped{stop->by}};
  }
  auto& fin = std::get<finish_step>(cmd);
  if (p.state != outreach_state::running)
    return illegal("send a step of");
  if (fin.step != p.steps_sent)
    return make_error(errc::conflict,
                      fmt::format("program {}: step {} is not the next one "
                                  "({})",
                                  p.id.str(), fin.step, p.steps_sent));
  std::vector<program_event> evs{
    prg_step_sent{fin.step, fin.accounts, fin.recipients}};
  // The last step, or only skipped ones after it.
  bool last = true;
  auto times = step_times(p, p.launched_at);
  for (size_t i = fin.step + 1; i < times.size(); ++i)
    last = last && !times[i];
  if (last)
    evs.emplace_back(prg_completed{});
  return evs;
}

outreach_program apply(outreach_program p, const program_event& ev,
                       time_point at) {
  std::visit(
    [&](const auto& x) {
      using T = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<T, prg_created>) {
        auto version = p.version;
        p = x.program;
        p.version = version;
      } else if constexpr (std::is_same_v<T, prg_launched>) {
        p.state = outreach_state::running;
        p.launched_at = at;
      } else if constexpr (std::is_same_v<T, prg_step_sent>) {
        p.steps_sent = x.step + 1;
      } else if constexpr (std::is_same_v<T, prg_completed>) {
        p.state = outreach_state::completed;
        p.ended_at = at;
      } else if constexpr (std::is_same_v<T, prg_stopped>) {
        p.state = outreach_state::stopped;
        p.ended_at = at;
      }
    },
    ev);
  ++p.version;
  return p;
}

account apply(account a, const account_event& ev, time_point at) {
  std::visit(
    [&](const auto& x) {
      using T = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<T, acct_saved>) {
        auto version = a.version;
        auto created = a.created_at;
        a = x.account;
        a.version = version;
        a.created_at = created == time_point{} ? at : created;
        a.updated_at = at;
      } else if constexpr (std::is_same_v<T, acct_contact_bounced>) {
        for (auto& c : a.contacts)
          if (c.id == x.contact)
            c.bounced = true;
        a.updated_at = at;
      }
    },
    ev);
  ++a.version;
  return a;
}

// -- emails -------------------------------------------------------------------

std::vector<uint32_t> survey_scores(survey_kind k) {
  std::vector<uint32_t> out;
  if (k == survey_kind::nps)
    for (uint32_t i = 0; i <= 10; ++i)
      out.push_back(i);
  else if (k == survey_kind::csat)
    for (uint32_t i = 1; i <= 5; ++i)
      out.push_back(i);
  return out;
}

notification outreach_email(const outreach_program& p, uint32_t step,
                            const account& a, const recipient& r,
                            const tracking_urls& urls) {
  std::map<std::string, std::string> vars{{"name", r.name},
                                          {"account", a.name}};
  for (size_t i = 0; i < urls.links.size(); ++i)
    vars["link_" + std::to_string(i + 1)] = urls.links[i];
  for (auto& [score, url] : urls.scores)
    vars["score_" + std::to_string(score)] = url;
  auto& s = p.steps.at(step);
  auto body = fill(s.body, vars);
  if (!urls.scores.empty() && s.body.find("{{score_") == std::string::npos) {
    body += p.survey == survey_kind::nps
              ? "\n\nHow likely are you to recommend us to a friend or "
                "colleague? (0 = not at all, 10 = extremely)\n"
              : "\n\nHow satisfied are you? (1 = very unsatisfied, 5 = very "
                "satisfied)\n";
    for (auto& [score, url] : urls.scores)
      body += fmt::format("{}: {}\n", score, url);
    if (p.anonymous)
      body += "Your answer is anonymous.\n";
  }
  auto n = email(r.email, "outreach", program::none, p.id.str(),
                 {{"subject", fill(s.subject, vars)},
                  {"body", std::move(body)},
                  {"tracking_pixel", urls.pixel}});
  return n;
}

// -- tracking -----------------------------------------------------------------

bool track(outreach_delivery& d, outreach_counts& counts, track_kind kind,
           time_point now) {
  auto set = [](time_point& at, time_point now) {
    if (at != time_point{})
      return false;
    at = now;
    return true;
  };
  switch (kind) {
    case track_kind::open:
      if (d.bounced_at != time_point{})
        return false;
      if (!set(d.opened_at, now))
        return false;
      ++counts.opened;
      return true;
    case track_kind::click: {
      if (d.bounced_at != time_point{})
        return false;
      bool changed = false;
      if (set(d.opened_at, now)) {
        ++counts.opened;
        changed = true;
      }
      if (set(d.clicked_at, now)) {
        ++counts.clicked;
        changed = true;
      }
      return changed;
    }
    case track_kind::bounce:
      // An email that was opened reached someone: a late bounce report is
      // not believed.
      if (d.opened_at != time_point{} || !set(d.bounced_at, now))
        return false;
      ++counts.bounced;
      return true;
  }
  return false;
}

caf::expected<survey_response>
respond(const outreach_program& p, outreach_delivery& d,
        outreach_counts& counts, uint32_t score, std::string comment,
        std::string response_id, time_point now) {
  auto scores = survey_scores(p.survey);
  if (scores.empty())
    return make_error(errc::invalid_argument,
                      "program " + p.id.str() + " is not a survey");
  if (score < scores.front() || score > scores.back())
    return make_error(
      errc::invalid_argument,
      fmt::format("score: from {} to {}", scores.front(), scores.back()));
  if (auto err = check_text("comment", comment, outreach_limits::max_comment,
                            false, true))
    return err;
  if (d.responded)
    return make_error(errc::already_exists,
                      "this survey was answered from this email before");
  survey_response r;
  r.id = std::move(response_id);
  r.program = p.id;
  r.score = score;
  r.comment = std::move(comment);
  // Only the day for an anonymous answer: its time next to the delivery's
  // own times would point at the respondent.
  auto ms = to_unix_ms(now);
  constexpr int64_t day_ms = 86'400'000;
  auto day = from_unix_ms(ms - ((ms % day_ms) + day_ms) % day_ms);
  if (p.anonymous) {
    r.at = day;
  } else {
    r.account = d.account;
    r.contact = d.contact;
    r.at = now;
  }
  d.responded = true;
  // An answer means the email was read (the pixel may have been blocked).
  if (d.opened_at == time_point{}) {
    d.opened_at = p.anonymous ? day : now;
    ++counts.opened;
  }
  ++counts.responses;
  if (p.survey == survey_kind::nps) {
    if (score >= 9)
      ++counts.promoters;
    else if (score >= 7)
      ++counts.passives;
    else
      ++counts.detractors;
  } else if (score >= 4) {
    ++counts.satisfied;
  }
  return r;
}

outreach_rates rates_of(const outreach_counts& c, survey_kind k) {
  outreach_rates r;
  if (c.sent > 0) {
    auto sent = static_cast<double>(c.sent);
    r.open_rate = static_cast<double>(c.opened) / sent;
    r.click_rate = static_cast<double>(c.clicked) / sent;
    r.bounce_rate = static_cast<double>(c.bounced) / sent;
    r.response_rate = static_cast<double>(c.responses) / sent;
  }
  if (c.responses > 0) {
    auto n = static_cast<double>(c.responses);
    if (k == survey_kind::nps)
      r.nps = 100.0
              * (static_cast<double>(c.promoters)
                 - static_cast<double>(c.detractors))
              / n;
    else if (k == survey_kind::csat)
      r.csat = 100.0 * static_cast<double>(c.satisfied) / n;
  }
  return r;
}

} // namespace tenure
