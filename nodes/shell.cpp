#include "nodes/shell.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <map>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <string_view>

#include <nlohmann/json.hpp>
#include <openssl/sha.h>

namespace tenure::shell {

namespace {

// Keys in the node's order: `--json` promises the node's body unchanged.
using ojson = nlohmann::ordered_json;

// -- small tools
// ----------------------------------------------------------------

const char* const programs[] = {"edu", "oss", "startups"};

/// Page size of listings; the node's maximum.
constexpr size_t max_page = 500;

/// The most items a paged command fetches (`--limit`).
constexpr uint64_t max_items = 100'000;

std::string to_hex(const unsigned char* data, size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0x0f];
  }
  return out;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

/// Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no
/// surrogates, nothing above U+10FFFF), which JSON bodies must be.
bool valid_utf8(const std::string& text) {
  size_t i = 0;
  auto cont = [&](size_t k, unsigned char lo = 0x80, unsigned char hi = 0xbf) {
    if (i + k >= text.size())
      return false;
    auto c = static_cast<unsigned char>(text[i + k]);
    return c >= lo && c <= hi;
  };
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t n = 0;
    if (c < 0x80)
      n = 1;
    else if (c >= 0xc2 && c <= 0xdf && cont(1))
      n = 2;
    else if (c == 0xe0 && cont(1, 0xa0) && cont(2))
      n = 3;
    else if (((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) && cont(1)
             && cont(2))
      n = 3;
    else if (c == 0xed && cont(1, 0x80, 0x9f) && cont(2))
      n = 3;
    else if (c == 0xf0 && cont(1, 0x90) && cont(2) && cont(3))
      n = 4;
    else if (c >= 0xf1 && c <= 0xf3 && cont(1) && cont(2) && cont(3))
      n = 4;
    else if (c == 0xf4 && cont(1, 0x80, 0x8f) && cont(2) && cont(3))
      n = 4;
    else
      return false;
    i += n;
  }
  return true;
}

/// A decimal number from 1 (or 0 when `zero_ok`) to `most`.
bool parse_count(const std::string& text, uint64_t most, uint64_t& out,
                 bool zero_ok = false) {
  if (text.empty() || text.size() > 12)
    return false;
  uint64_t v = 0;
  for (auto ch : text) {
    if (ch < '0' || ch > '9')
      return false;
    v = v * 10 + static_cast<uint64_t>(ch - '0');
  }
  if ((v == 0 && !zero_ok) || v > most)
    return false;
  out = v;
  return true;
}

/// A duration as the node reads it (`30d`, `12h`, `90s`, `5min`, `2w`,
/// `250ms`); `m` is taken for minutes, as the API catalog writes it.
bool normalize_duration(const std::string& text, std::string& out) {
  size_t digits = 0;
  while (digits < text.size()
         && std::isdigit(static_cast<unsigned char>(text[digits])))
    ++digits;
  if (digits == 0 || digits > 12)
    return false;
  auto unit = text.substr(digits);
  if (unit == "m")
    unit = "min";
  static const std::set<std::string> units{"ms", "s", "min", "h", "d", "w"};
  if (units.count(unit) == 0)
    return false;
  out = text.substr(0, digits) + unit;
  return true;
}

std::string join(const std::vector<std::string>& xs, size_t from,
                 const std::string& sep) {
  std::string out;
  for (size_t i = from; i < xs.size(); ++i) {
    if (i > from)
      out += sep;
    out += xs[i];
  }
  return out;
}

/// `?a=1&b=x%20y` of the non-empty values.
std::string query(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string out;
  for (auto& [k, v] : kv) {
    if (v.empty())
      continue;
    out += out.empty() ? '?' : '&';
    out += k + "=" + url_encode(v);
  }
  return out;
}

request get(std::string target) {
  request r;
  r.method = "GET";
  r.target = std::move(target);
  return r;
}

request post(std::string target, const ojson& body) {
  request r;
  r.method = "POST";
  r.target = std::move(target);
  r.content_type = "application/json";
  r.body = body.dump();
  r.idempotency_key = random_key();
  return r;
}

// -- arguments
// ------------------------------------------------------------------

/// The words after a command's name, sorted into positionals and options.
struct args {
  std::vector<std::string> pos;
  std::map<std::string, std::string> opts;
  /// Who is recorded as having done it (`--as`, else the settings).
  std::string by;

  bool has(const std::string& name) const {
    return opts.count(name) > 0;
  }

  std::string opt(const std::string& name) const {
    auto i = opts.find(name);
    return i == opts.end() ? std::string{} : i->second;
  }

  /// Adds `"by"` (or another field name) when an operator name is known.
  void add_by(ojson& body, const char* field = "by") const {
    if (!by.empty())
      body[field] = by;
  }
};

using builder = bool (*)(const args&, plan&, std::string&);

/// What `help` says about a command.
struct command_text {
  std::string name;
  std::string synopsis;
  std::string summary;
  std::string details;
};

struct command_def {
  command_text info;
  /// `ID`, `[PROGRAM]`, `REASON...` (the rest of the words, joined by
  /// blanks), `[NOTE...]`.
  std::vector<std::string> positionals;
  /// Options that take a value.
  std::vector<std::string> value_options;
  /// Options that are flags.
  std::vector<std::string> flag_options;
  builder build;
};

bool optional_spec(const std::string& spec) {
  return !spec.empty() && spec.front() == '[';
}

bool rest_spec(const std::string& spec) {
  auto n = spec.size();
  return (n > 3 && spec.compare(n - 3, 3, "...") == 0)
         || (n > 4 && spec.compare(n - 4, 4, "...]") == 0);
}

/// `REASON` of `[REASON...]`.
std::string spec_name(std::string spec) {
  if (optional_spec(spec))
    spec = spec.substr(1, spec.size() - 2);
  if (spec.size() > 3 && spec.compare(spec.size() - 3, 3, "...") == 0)
    spec.resize(spec.size() - 3);
  return spec;
}

// -- builders
// -------------------------------------------------------------------

bool single(plan& p, request r) {
  p.what = plan::kind::single;
  p.requests.push_back(std::move(r));
  return true;
}

bool paged(plan& p, const args& a, std::string base, uint64_t dflt,
           std::string& err) {
  uint64_t limit = dflt;
  if (a.has("--limit") && !parse_count(a.opt("--limit"), max_items, limit)) {
    err = "--limit: a number from 1 to " + std::to_string(max_items);
    return false;
  }
  p.what = plan::kind::paged;
  p.limit = static_cast<size_t>(limit);
  p.requests.push_back(get(std::move(base)));
  return true;
}

bool count_arg(const std::string& what, const std::string& text, uint64_t& out,
               std::string& err, bool zero_ok = false) {
  if (parse_count(text, 1'000'000'000, out, zero_ok))
    return true;
  err = what + ": a whole number" + (zero_ok ? "" : " from 1") + ", not '"
        + text.substr(0, 40) + "'";
  return false;
}

bool app_show(const args& a, plan& p, std::string&) {
  return single(p, get("/v1/applications/" + url_encode(a.pos[0])));
}

bool app_find(const args& a, plan& p, std::string& err) {
  return paged(p, a,
               "/v1/applications"
                 + query({{"state", a.opt("--state")},
                          {"program", a.opt("--program")},
                          {"email", a.opt("--email")},
                          {"organisation", a.opt("--org")}}),
               100, err);
}

bool app_appeal(const args& a, plan& p, std::string&) {
  ojson body{{"reason", a.pos[1]}};
  a.add_by(body);
  return single(
    p, post("/v1/applications/" + url_encode(a.pos[0]) + "/appeal", body));
}

bool app_withdraw(const args& a, plan& p, std::string&) {
  ojson body{{"reason", a.pos[1]}};
  a.add_by(body);
  return single(
    p, post("/v1/applications/" + url_encode(a.pos[0]) + "/withdraw", body));
}

bool sub_show(const args& a, plan& p, std::string&) {
  return single(p, get("/v1/subscriptions/" + url_encode(a.pos[0])));
}

bool sub_find(const args& a, plan& p, std::string& err) {
  return paged(p, a,
               "/v1/subscriptions"
                 + query({{"state", a.opt("--state")},
                          {"program", a.opt("--program")},
                          {"plan", a.opt("--plan")},
                          {"email", a.opt("--email")},
                          {"organisation", a.opt("--org")}}),
               100, err);
}

bool sub_usage(const args& a, plan& p, std::string& err) {
  uint64_t seats = 0;
  if (!count_arg("SEATS", a.pos[1], seats, err, true))
    return false;
  return single(p, post("/v1/subscriptions/" + url_encode(a.pos[0]) + "/usage",
                        ojson{{"seats_used", seats}}));
}

bool sub_revoke(const args& a, plan& p, std::string&) {
  ojson body{{"reason", a.pos[1]}};
  a.add_by(body);
  return single(
    p, post("/v1/subscriptions/" + url_encode(a.pos[0]) + "/revoke", body));
}

bool sub_register(const args& a, plan& p, std::string& err) {
  for (auto required : {"--org", "--email", "--seats", "--start", "--end"}) {
    if (a.opt(required).empty()) {
      err = std::string{"missing "} + required;
      return false;
    }
  }
  uint64_t seats = 0;
  if (!count_arg("--seats", a.opt("--seats"), seats, err))
    return false;
  ojson org{{"name", a.opt("--org")}};
  if (a.has("--country"))
    org["country"] = a.opt("--country");
  if (a.has("--website"))
    org["website"] = a.opt("--website");
  ojson body{{"organisation", org},
             {"plan", "paid"},
             {"contact_email", a.opt("--email")},
             {"seats", seats},
             {"start", a.opt("--start")},
             {"end", a.opt("--end")}};
  for (auto [flag, key] :
       {std::pair{"--sku", "sku"}, std::pair{"--hosting", "hosting"},
        std::pair{"--program", "program"}})
    if (a.has(flag))
      body[key] = a.opt(flag);
  return single(p, post("/v1/subscriptions", body));
}

bool review_list(const args& a, plan& p, std::string& err) {
  uint64_t limit = 0;
  if (a.has("--limit") && !count_arg("--limit", a.opt("--limit"), limit, err))
    return false;
  return single(
    p,
    get("/v1/reviews"
        + query({{"limit", limit ? std::to_string(limit) : std::string{}}})));
}

bool review_decide(const args& a, plan& p, const char* decision) {
  ojson body{{"decision", decision}};
  if (a.pos.size() > 1 && !a.pos[1].empty())
    body["reason"] = a.pos[1];
  a.add_by(body, "reviewer");
  return single(p, post("/v1/reviews/" + url_encode(a.pos[0]), body));
}

bool review_approve(const args& a, plan& p, std::string&) {
  return review_decide(a, p, "approve");
}

bool review_reject(const args& a, plan& p, std::string&) {
  return review_decide(a, p, "reject");
}

bool review_docs(const args& a, plan& p, std::string&) {
  return review_decide(a, p, "request_documents");
}

bool coupon_import(const args& a, plan& p, std::string&) {
  p.what = plan::kind::import;
  p.program = a.pos[0];
  p.file = a.pos[1];
  return true;
}

bool coupon_stock(const args& a, plan& p, std::string&) {
  if (!a.pos.empty() && !a.pos[0].empty())
    return single(p, get("/v1/coupons/" + url_encode(a.pos[0]) + "/stock"));
  p.what = plan::kind::multi;
  for (auto prog : programs)
    p.requests.push_back(get("/v1/coupons/" + std::string{prog} + "/stock"));
  return true;
}

bool coupon_codes(const args& a, plan& p, std::string& err) {
  uint64_t limit = 0;
  if (a.has("--limit") && !count_arg("--limit", a.opt("--limit"), limit, err))
    return false;
  return single(
    p,
    get("/v1/coupons/" + url_encode(a.pos[0]) + "/codes"
        + query({{"limit", limit ? std::to_string(limit) : std::string{}}})));
}

bool case_open(const args& a, plan& p, std::string&) {
  ojson body{{"reason", a.pos[1]}, {"curable", !a.has("--not-curable")}};
  a.add_by(body, "opened_by");
  return single(
    p, post("/v1/subscriptions/" + url_encode(a.pos[0]) + "/compliance-cases",
            body));
}

bool case_cure(const args& a, plan& p, std::string&) {
  ojson body = ojson::object();
  if (a.pos.size() > 1 && !a.pos[1].empty())
    body["note"] = a.pos[1];
  a.add_by(body);
  return single(
    p, post("/v1/compliance-cases/" + url_encode(a.pos[0]) + "/cure", body));
}

bool case_list(const args& a, plan& p, std::string& err) {
  // Operators look at the open cases, by deadline; `--state all` for all.
  auto state = a.has("--state") ? a.opt("--state") : std::string{"open"};
  if (state == "all")
    state.clear();
  return paged(p, a, "/v1/compliance-cases" + query({{"state", state}}), 100,
               err);
}

bool case_show(const args& a, plan& p, std::string&) {
  return single(p, get("/v1/compliance-cases/" + url_encode(a.pos[0])));
}

bool emergency_issue(const args& a, plan& p, std::string& err) {
  uint64_t users = 0;
  if (!count_arg("USERS", a.pos[1], users, err))
    return false;
  ojson body{{"subscription_id", a.pos[0]},
             {"users", users},
             {"recipient_email", a.pos[2]},
             {"ticket_url", a.pos[3]}};
  a.add_by(body, "requested_by");
  if (a.has("--days")) {
    uint64_t days = 0;
    if (!count_arg("--days", a.opt("--days"), days, err))
      return false;
    body["days"] = days;
  }
  return single(p, post("/v1/emergency-licenses", body));
}

bool emergency_find(const args& a, plan& p, std::string&) {
  return single(p,
                get("/v1/emergency-licenses" + query({{"email", a.pos[0]}})));
}

bool emergency_show(const args& a, plan& p, std::string&) {
  return single(p, get("/v1/emergency-licenses/" + url_encode(a.pos[0])));
}

bool emergency_resend(const args& a, plan& p, std::string&) {
  ojson body = ojson::object();
  a.add_by(body);
  return single(
    p,
    post("/v1/emergency-licenses/" + url_encode(a.pos[0]) + "/resend", body));
}

bool triage(const args& a, plan& p, std::string& err) {
  bool has_category = a.pos.size() > 1 && !a.pos[1].empty();
  if (has_category == a.has("--text")) {
    err = "give a CATEGORY or --text, not both";
    if (!has_category)
      err = "give a CATEGORY or --text TEXT";
    return false;
  }
  ojson body{{"program", a.pos[0]}};
  if (has_category)
    body["category"] = a.pos[1];
  else
    body["text"] = a.opt("--text");
  return single(p, post("/v1/support/triage", body));
}

bool timers(const args& a, plan& p, std::string& err) {
  std::string within = "7d";
  if (!a.pos.empty() && !a.pos[0].empty()) {
    uint64_t days = 0;
    if (parse_count(a.pos[0], 100'000, days)) {
      within = std::to_string(days) + "d";
    } else if (!normalize_duration(a.pos[0], within)) {
      err = "DAYS: a number of days (or a duration such as 12h), not '"
            + a.pos[0].substr(0, 40) + "'";
      return false;
    }
  }
  uint64_t limit = 0;
  if (a.has("--limit") && !count_arg("--limit", a.opt("--limit"), limit, err))
    return false;
  return single(
    p,
    get("/v1/timers"
        + query({{"within", within},
                 {"owner", a.opt("--owner")},
                 {"limit", limit ? std::to_string(limit) : std::string{}}})));
}

bool outbox(const args&, plan& p, std::string&) {
  return single(p, get("/v1/outbox"));
}

bool outbox_retry(const args& a, plan& p, std::string&) {
  return single(
    p, post("/v1/outbox/" + url_encode(a.pos[0]) + "/retry", ojson::object()));
}

bool status(const args&, plan& p, std::string&) {
  return single(p, get("/v1/node"));
}

bool cluster_status(const args&, plan& p, std::string&) {
  return single(p, get("/v1/cluster"));
}

bool cluster_plan(const args& a, plan& p, std::string& err) {
  auto members = ojson::array();
  std::string text = a.pos[0];
  size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    auto part = text.substr(
      start, comma == std::string::npos ? std::string::npos : comma - start);
    if (part.find('@') == std::string::npos
        || part.find(':') == std::string::npos) {
      err = "MEMBERS: a comma-separated list of name@host:port, not '"
            + part.substr(0, 60) + "'";
      return false;
    }
    members.push_back(part);
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  ojson body{{"members", members}};
  if (auto i = a.opts.find("--limit"); i != a.opts.end()) {
    char* end = nullptr;
    auto n = std::strtoul(i->second.c_str(), &end, 10);
    if (i->second.empty() || *end != '\0' || n > 100000) {
      err = "--limit: a number 0..100000";
      return false;
    }
    body["limit"] = n;
  }
  return single(p, post("/v1/cluster/plan", body));
}

bool clock_advance(const args& a, plan& p, std::string& err) {
  std::string d;
  if (!normalize_duration(a.pos[0], d)) {
    err = "DURATION: a number and a unit (s, m, h, d, w), e.g. 30d, not '"
          + a.pos[0].substr(0, 40) + "'";
    return false;
  }
  return single(p, post("/v1/admin/clock", ojson{{"advance", d}}));
}

bool clock_set(const args& a, plan& p, std::string&) {
  return single(p, post("/v1/admin/clock", ojson{{"set", a.pos[0]}}));
}

bool accounts_list(const args& a, plan& p, std::string& err) {
  return paged(p, a, "/v1/accounts" + query({{"segment", a.opt("--segment")}}),
               100, err);
}

bool accounts_show(const args& a, plan& p, std::string&) {
  return single(p, get("/v1/accounts/" + url_encode(a.pos[0])));
}

bool accounts_import(const args& a, plan& p, std::string&) {
  p.what = plan::kind::account_import;
  p.file = a.pos[0];
  return true;
}

bool outreach_list(const args& a, plan& p, std::string& err) {
  return paged(p, a, "/v1/outreach/programs", 100, err);
}

bool outreach_show(const args& a, plan& p, std::string&) {
  return single(p, get("/v1/outreach/programs/" + url_encode(a.pos[0])));
}

bool outreach_create(const args& a, plan& p, std::string&) {
  p.what = plan::kind::upload;
  p.file = a.pos[0];
  request r;
  r.method = "POST";
  r.target = "/v1/outreach/programs";
  r.content_type = "application/json";
  r.idempotency_key = random_key();
  // The operator is recorded unless the file names one.
  ojson defaults = ojson::object();
  a.add_by(defaults);
  r.body = defaults.dump();
  p.requests.push_back(std::move(r));
  return true;
}

bool outreach_action(const args& a, plan& p, const char* action) {
  ojson body = ojson::object();
  a.add_by(body);
  return single(
    p,
    post("/v1/outreach/programs/" + url_encode(a.pos[0]) + "/" + action, body));
}

bool outreach_launch(const args& a, plan& p, std::string&) {
  return outreach_action(a, p, "launch");
}

bool outreach_stop(const args& a, plan& p, std::string&) {
  return outreach_action(a, p, "stop");
}

bool outreach_explain(const args& a, plan& p, std::string&) {
  return single(p, get("/v1/outreach/programs/" + url_encode(a.pos[1])
                       + "/explain" + query({{"account", a.pos[0]}})));
}

bool outreach_responses(const args& a, plan& p, std::string& err) {
  return paged(p, a,
               "/v1/outreach/programs/" + url_encode(a.pos[0]) + "/responses",
               100, err);
}

bool help(const args& a, plan& p, std::string&) {
  p.what = plan::kind::help;
  p.topic = a.pos.empty() ? std::string{} : a.pos[0];
  return true;
}

bool quit(const args&, plan& p, std::string&) {
  p.what = plan::kind::quit;
  return true;
}

// -- the table
// --------------------------------------------------------------------

const std::vector<command_def>& table() {
  static const std::vector<command_def> defs{
    {{"app show", "app show ID", "an application with its history",
      "GET /v1/applications/ID (scope read). Prints the application and its "
      "history\n(seq, time, type, summary)."},
     {"ID"},
     {},
     {},
     app_show},
    {{"app find",
      "app find [--state S] [--program P] [--email E] [--org NAME] "
      "[--limit N]",
      "find applications",
      "GET /v1/applications?state=&program=&email=&organisation= (scope "
      "read).\nFollows next_cursor until --limit applications (default "
      "100).\nStates: ineligible, verifying, in_review, documents_requested, "
      "rejected,\nawaiting_code, booked, redeemed, ... Programs: edu, oss, "
      "startups.\n--org matches a part of the organisation's name."},
     {},
     {"--state", "--program", "--email", "--org", "--limit"},
     {},
     app_find},
    {{"app appeal", "app appeal ID REASON...",
      "appeal a rejection (back to review)",
      "POST /v1/applications/ID/appeal {reason, by} (scope write)."},
     {"ID", "REASON..."},
     {},
     {},
     app_appeal},
    {{"app withdraw", "app withdraw ID REASON...", "withdraw an application",
      "POST /v1/applications/ID/withdraw {reason, by} (scope write)."},
     {"ID", "REASON..."},
     {},
     {},
     app_withdraw},
    {{"sub show", "sub show ID", "a subscription with its history",
      "GET /v1/subscriptions/ID (scope read)."},
     {"ID"},
     {},
     {},
     sub_show},
    {{"sub find",
      "sub find [--state S] [--program P] [--plan P] [--org NAME] "
      "[--email E] [--limit N]",
      "find subscriptions",
      "GET /v1/subscriptions?state=&program=&plan=&organisation=&email= "
      "(scope read).\nFollows next_cursor until --limit subscriptions "
      "(default 100). States:\nactive, expired, lapsed, in_cure, terminated, "
      "revoked, renewed."},
     {},
     {"--state", "--program", "--plan", "--org", "--email", "--limit"},
     {},
     sub_find},
    {{"sub usage", "sub usage ID SEATS", "report the seats in use",
      "POST /v1/subscriptions/ID/usage {seats_used} (scope write)."},
     {"ID", "SEATS"},
     {},
     {},
     sub_usage},
    {{"sub revoke", "sub revoke ID REASON...", "revoke a subscription",
      "POST /v1/subscriptions/ID/revoke {reason, by} (scope support)."},
     {"ID", "REASON..."},
     {},
     {},
     sub_revoke},
    {{"sub register",
      "sub register --org NAME --email E --seats N --start DATE --end DATE "
      "[--country CC] [--website URL] [--sku SKU] [--hosting H] "
      "[--program P]",
      "register a paid subscription (billing)",
      "POST /v1/subscriptions (scope billing). DATE: 2026-11-23 or "
      "2026-11-23T10:00:00Z."},
     {},
     {"--org", "--email", "--seats", "--start", "--end", "--country",
      "--website", "--sku", "--hosting", "--program"},
     {},
     sub_register},
    {{"review list", "review list [--limit N]",
      "the review queue, oldest due first", "GET /v1/reviews (scope review)."},
     {},
     {"--limit"},
     {},
     review_list},
    {{"review approve", "review approve APP [REASON...]",
      "approve an application in review",
      "POST /v1/reviews/APP {decision: approve, reason, reviewer} (scope "
      "review).\nThe reviewer is --as NAME, else $USER."},
     {"APP", "[REASON...]"},
     {},
     {},
     review_approve},
    {{"review reject", "review reject APP REASON...",
      "reject an application in review",
      "POST /v1/reviews/APP {decision: reject, reason, reviewer} (scope "
      "review)."},
     {"APP", "REASON..."},
     {},
     {},
     review_reject},
    {{"review docs", "review docs APP WHAT...",
      "ask the applicant for documents",
      "POST /v1/reviews/APP {decision: request_documents, reason: WHAT, "
      "reviewer}\n(scope review)."},
     {"APP", "WHAT..."},
     {},
     {},
     review_docs},
    {{"coupon import", "coupon import PROGRAM FILE",
      "import coupon codes from a file",
      "POST /v1/coupons/PROGRAM/import (scope coupon-admin), text/csv: one "
      "code a line.\nSent in chunks of at most 5000 lines, each with an "
      "idempotency key derived\nfrom the file and the chunk, so running the "
      "same import again is harmless\n(the node answers the first result "
      "again within 24 h; later, codes already\nstored count as "
      "already_present). Prints the summed report; a progress\nbar on "
      "stderr when it is a terminal."},
     {"PROGRAM", "FILE"},
     {},
     {},
     coupon_import},
    {{"coupon stock", "coupon stock [PROGRAM]",
      "coupon stock and runway (all programs when omitted)",
      "GET /v1/coupons/PROGRAM/stock (scope read): available, reserved, "
      "redeemed,\nyearly need, runway days. With --json and no PROGRAM: "
      "{\"items\": [...]}."},
     {"[PROGRAM]"},
     {},
     {},
     coupon_stock},
    {{"coupon codes", "coupon codes PROGRAM [--limit N]",
      "list available codes (coupon-admin)",
      "GET /v1/coupons/PROGRAM/codes?limit=N (scope coupon-admin). Prints "
      "secrets:\nmind where the output goes."},
     {"PROGRAM"},
     {"--limit"},
     {},
     coupon_codes},
    {{"case open", "case open SUB REASON... [--not-curable]",
      "open a compliance case on a subscription",
      "POST /v1/subscriptions/SUB/compliance-cases {reason, curable, "
      "opened_by}\n(scope support). --not-curable revokes at once."},
     {"SUB", "REASON..."},
     {},
     {"--not-curable"},
     case_open},
    {{"case cure", "case cure CASE [NOTE...]", "mark a compliance case cured",
      "POST /v1/compliance-cases/CASE/cure {note, by} (scope support)."},
     {"CASE", "[NOTE...]"},
     {},
     {},
     case_cure},
    {{"case list", "case list [--state S|all] [--limit N]",
      "compliance cases by deadline (open ones by default)",
      "GET /v1/compliance-cases?state=open (scope support). States: open, "
      "cured,\nterminated, revoked, or all."},
     {},
     {"--state", "--limit"},
     {},
     case_list},
    {{"case show", "case show CASE", "a compliance case",
      "GET /v1/compliance-cases/CASE (scope support)."},
     {"CASE"},
     {},
     {},
     case_show},
    {{"emergency issue",
      "emergency issue SUB USERS EMAIL TICKET_URL [--days N]",
      "issue an emergency license",
      "POST /v1/emergency-licenses {subscription_id, users, recipient_email,"
      "\nticket_url, requested_by, days} (scope support). The key goes to "
      "EMAIL, never\nto the screen."},
     {"SUB", "USERS", "EMAIL", "TICKET_URL"},
     {"--days"},
     {},
     emergency_issue},
    {{"emergency find", "emergency find EMAIL",
      "emergency licenses sent to an address",
      "GET /v1/emergency-licenses?email=EMAIL (scope support): the audit "
      "records."},
     {"EMAIL"},
     {},
     {},
     emergency_find},
    {{"emergency show", "emergency show EM", "an emergency license",
      "GET /v1/emergency-licenses/EM (scope support)."},
     {"EM"},
     {},
     {},
     emergency_show},
    {{"emergency resend", "emergency resend EM",
      "send an emergency license's email again",
      "POST /v1/emergency-licenses/EM/resend {by} (scope support)."},
     {"EM"},
     {},
     {},
     emergency_resend},
    {{"triage", "triage PROGRAM CATEGORY | triage PROGRAM --text TEXT",
      "route a support ticket",
      "POST /v1/support/triage {program, category} or {program, text} (scope "
      "support):\ncategory, action, macro, inbox, channel, DRI, guidance."},
     {"PROGRAM", "[CATEGORY]"},
     {"--text"},
     {},
     triage},
    {{"timers", "timers [DAYS] [--owner O] [--limit N]",
      "timers due within DAYS days (default 7)",
      "GET /v1/timers?within=DAYSd&owner= (scope read). DAYS may also be a "
      "duration\nsuch as 12h."},
     {"[DAYS]"},
     {"--owner", "--limit"},
     {},
     timers},
    {{"outbox", "outbox", "notifications pending, delivered, failed",
      "GET /v1/outbox (scope read), with the failed notifications."},
     {},
     {},
     {},
     outbox},
    {{"outbox retry", "outbox retry NTF", "retry a failed notification",
      "POST /v1/outbox/NTF/retry (scope admin)."},
     {"NTF"},
     {},
     {},
     outbox_retry},
    {{"status", "status", "node, store, registry, timers, outbox",
      "GET /v1/node (scope read)."},
     {},
     {},
     {},
     status},
    {{"cluster status", "cluster status",
      "members, reachability, entities and pending timers per node",
      "GET /v1/cluster (scope read): every member as this node sees it; "
      "counts come\nfrom each member's store."},
     {},
     {},
     {},
     cluster_status},
    {{"cluster plan", "cluster plan MEMBERS [--limit N]",
      "which entities would move for a new member list",
      "POST /v1/cluster/plan {members, limit} (scope admin). MEMBERS: "
      "name@host:port,...\nNothing moves; moving is the offline procedure "
      "with tenure-move (README)."},
     {"MEMBERS"},
     {"--limit"},
     {},
     cluster_plan},
    {{"clock advance", "clock advance DURATION",
      "move a manual clock forward (e.g. 30d)",
      "POST /v1/admin/clock {advance} (scope admin; only on a node started "
      "with\n--clock manual). Units: s, m, h, d, w. Answers after the timers "
      "that came\ndue have fired."},
     {"DURATION"},
     {},
     {},
     clock_advance},
    {{"clock set", "clock set TIME", "set a manual clock (ISO 8601 UTC)",
      "POST /v1/admin/clock {set} (scope admin), e.g. clock set "
      "2027-01-01T00:00:00Z."},
     {"TIME"},
     {},
     {},
     clock_set},
    {{"accounts list", "accounts list [--segment S] [--limit N]",
      "customer accounts (outreach)",
      "GET /v1/accounts?segment= (scope read). Follows next_cursor until "
      "--limit\naccounts (default 100). Segments: tech_touch, scale, "
      "csm_managed."},
     {},
     {"--segment", "--limit"},
     {},
     accounts_list},
    {{"accounts show", "accounts show ID", "an account with its contacts",
      "GET /v1/accounts/ID (scope read)."},
     {"ID"},
     {},
     {},
     accounts_show},
    {{"accounts import", "accounts import FILE",
      "create or update accounts and contacts from a CSV file",
      "POST /v1/accounts/import (scope write), text/csv with the header\n"
      "account_ref,account_name,segment,hosting,stage,contact_name,email,"
      "roles\n(one contact a line; roles separated by |). The header is "
      "checked here;\nthe file goes in parts of about 500 lines that never "
      "split an account,\neach with the header, and a line of progress "
      "follows each part. The node\nchecks every line of a part before it "
      "writes any; the import stops at the\nfirst refused part, naming the "
      "line and what was imported before it.\nAccounts are updated by "
      "account_ref, so running the import again is safe."},
     {"FILE"},
     {},
     {},
     accounts_import},
    {{"outreach list", "outreach list [--limit N]",
      "outreach programs with their rates",
      "GET /v1/outreach/programs (scope read). Follows next_cursor until "
      "--limit\nprograms (default 100)."},
     {},
     {"--limit"},
     {},
     outreach_list},
    {{"outreach show", "outreach show ID",
      "an outreach program, its steps, counts and rates",
      "GET /v1/outreach/programs/ID (scope read)."},
     {"ID"},
     {},
     {},
     outreach_show},
    {{"outreach create", "outreach create FILE.json",
      "create an outreach program (a draft) from a JSON file",
      "POST /v1/outreach/programs (scope write) with the file's JSON object:"
      "\n{name, kind, stage, segments, stages, hostings, steps: [{subject, "
      "body,\ndelay}], links, survey, anonymous, webinar_at} (docs/"
      "openapi.yaml). \"by\" is\nadded (--as NAME, else $USER) unless the "
      "file has it."},
     {"FILE"},
     {},
     {},
     outreach_create},
    {{"outreach launch", "outreach launch ID", "launch a draft program",
      "POST /v1/outreach/programs/ID/launch {by} (scope write)."},
     {"ID"},
     {},
     {},
     outreach_launch},
    {{"outreach stop", "outreach stop ID", "stop a draft or running program",
      "POST /v1/outreach/programs/ID/stop {by} (scope write)."},
     {"ID"},
     {},
     {},
     outreach_stop},
    {{"outreach explain", "outreach explain ACCOUNT PROGRAM",
      "who at an account gets a program's emails, and why",
      "GET /v1/outreach/programs/PROGRAM/explain?account=ACCOUNT (scope "
      "read).\nPrints the resolution line by line (addresses masked); "
      "changes nothing."},
     {"ACCOUNT", "PROGRAM"},
     {},
     {},
     outreach_explain},
    {{"outreach responses", "outreach responses ID [--limit N]",
      "the answers to a survey program",
      "GET /v1/outreach/programs/ID/responses (scope read). Answers to an "
      "anonymous\nsurvey carry no account, no contact and only the day."},
     {"ID"},
     {"--limit"},
     {},
     outreach_responses},
    {{"help", "help [COMMAND]", "this list, or the details of a command", ""},
     {"[COMMAND...]"},
     {},
     {},
     help},
    {{"quit", "quit", "leave the shell (also exit, Ctrl-D)", ""},
     {},
     {},
     {},
     quit},
    {{"exit", "exit", "leave the shell", ""}, {}, {}, {}, quit},
  };
  return defs;
}

const command_def* find_def(const std::string& name) {
  for (auto& d : table())
    if (d.info.name == name)
      return &d;
  return nullptr;
}

/// The sub-commands of group `group` (`app` -> show, find, ...).
std::vector<std::string> sub_commands(const std::string& group) {
  std::vector<std::string> out;
  for (auto& d : table())
    if (starts_with(d.info.name, group + " "))
      out.push_back(d.info.name.substr(group.size() + 1));
  return out;
}

/// Global options any command line may carry.
const std::vector<std::string> global_value_options{"--as"};
const std::vector<std::string> global_flag_options{"--json"};

bool contains(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

bool parse_args(const command_def& def, const std::vector<std::string>& words,
                size_t from, args& out, plan& p, std::string& err) {
  std::vector<std::string> loose;
  bool options_done = false;
  for (size_t i = from; i < words.size(); ++i) {
    auto& w = words[i];
    if (!options_done && w == "--") {
      options_done = true;
      continue;
    }
    if (options_done || w.size() < 3 || !starts_with(w, "--")) {
      loose.push_back(w);
      continue;
    }
    auto eq = w.find('=');
    auto name = w.substr(0, eq);
    bool takes_value = contains(def.value_options, name)
                       || contains(global_value_options, name);
    bool is_flag
      = contains(def.flag_options, name) || contains(global_flag_options, name);
    if (!takes_value && !is_flag) {
      err = "unknown option " + name.substr(0, 40);
      return false;
    }
    std::string value;
    if (takes_value) {
      if (eq != std::string::npos) {
        value = w.substr(eq + 1);
      } else if (i + 1 < words.size()) {
        value = words[++i];
      } else {
        err = name + " needs a value";
        return false;
      }
    } else if (eq != std::string::npos) {
      err = name + " takes no value";
      return false;
    }
    if (name == "--json")
      p.json = true;
    else if (name == "--as")
      p.operator_name = value;
    else
      out.opts[name] = value;
  }
  size_t k = 0;
  for (auto& spec : def.positionals) {
    if (rest_spec(spec)) {
      if (k < loose.size()) {
        out.pos.push_back(join(loose, k, " "));
        k = loose.size();
      } else if (!optional_spec(spec)) {
        err = "missing " + spec_name(spec);
        return false;
      }
      continue;
    }
    if (k < loose.size()) {
      out.pos.push_back(loose[k++]);
    } else if (!optional_spec(spec)) {
      err = "missing " + spec_name(spec);
      return false;
    }
  }
  if (k < loose.size()) {
    err = "unexpected argument '" + loose[k].substr(0, 40) + "'";
    return false;
  }
  return true;
}

// -- formatting
// ---------------------------------------------------------------------

std::string cell(const ojson& v) {
  if (v.is_null())
    return "-";
  if (v.is_string())
    return v.get<std::string>();
  if (v.is_boolean())
    return v.get<bool>() ? "yes" : "no";
  if (v.is_array()) {
    std::string out;
    for (auto& x : v) {
      if (!out.empty())
        out += ", ";
      out += cell(x);
    }
    return out;
  }
  return v.dump();
}

/// `a.b.c` in `x`, or null.
const ojson& at_path(const ojson& x, const std::string& path) {
  static const ojson null_value;
  const ojson* cur = &x;
  size_t start = 0;
  for (;;) {
    auto dot = path.find('.', start);
    auto key = path.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!cur->is_object())
      return null_value;
    auto i = cur->find(key);
    if (i == cur->end())
      return null_value;
    cur = &*i;
    if (dot == std::string::npos)
      return *cur;
    start = dot + 1;
  }
}

bool empty_value(const ojson& v) {
  return v.is_null() || (v.is_string() && v.get<std::string>().empty())
         || (v.is_array() && v.empty()) || (v.is_object() && v.empty());
}

using rows = std::vector<std::pair<std::string, std::string>>;

/// One line for an object inside a list: `k=v k=v`.
std::string inline_object(const ojson& x) {
  std::string out;
  for (auto& [k, v] : x.items()) {
    if (empty_value(v))
      continue;
    if (!out.empty())
      out += ' ';
    out += k + "=" + (v.is_object() ? inline_object(v) : cell(v));
  }
  return out;
}

void flatten(const ojson& x, const std::string& prefix, rows& out) {
  // The facts of the other programs are defaults: leave them out.
  std::string prog;
  if (prefix.empty() && x.contains("program") && x["program"].is_string())
    prog = x["program"].get<std::string>();
  for (auto& [k, v] : x.items()) {
    if (empty_value(v))
      continue;
    if (!prog.empty()
        && ((k == "edu" && prog != "edu") || (k == "oss" && prog != "oss")
            || (k == "startup" && prog != "startups")))
      continue;
    auto key = prefix.empty() ? k : prefix + "." + k;
    if (v.is_object()) {
      flatten(v, key, out);
    } else if (v.is_array() && v.front().is_object()) {
      for (size_t i = 0; i < v.size(); ++i)
        out.emplace_back(key + "[" + std::to_string(i) + "]",
                         inline_object(v[i]));
    } else {
      out.emplace_back(key, cell(v));
    }
  }
}

/// Aligned `key: value` lines; `id` and `state` first.
std::string block(const ojson& x, const std::set<std::string>& skip = {}) {
  rows all;
  ojson shown = ojson::object();
  for (auto front : {"id", "state"})
    if (x.contains(front) && skip.count(front) == 0)
      shown[front] = x[front];
  for (auto& [k, v] : x.items())
    if (skip.count(k) == 0 && !shown.contains(k))
      shown[k] = v;
  flatten(shown, "", all);
  size_t width = 0;
  for (auto& r : all)
    width = std::max(width, r.first.size());
  std::string out;
  for (auto& [k, v] : all)
    out += k + ":" + std::string(width - k.size() + 2, ' ') + v + "\n";
  return out;
}

struct column {
  std::string header;
  std::string path;
  /// The most characters shown; 0: all.
  size_t max = 0;
};

std::string truncate(const std::string& text, size_t max) {
  if (max == 0 || text.size() <= max)
    return text;
  return text.substr(0, max - 3) + "...";
}

/// Aligned columns, two blanks apart; with a header of upper-case names
/// unless `headers` is false.
std::string table(const std::vector<column>& cols, const ojson& items,
                  bool headers = true, const std::string& indent = {}) {
  std::vector<std::vector<std::string>> cells;
  if (headers) {
    std::vector<std::string> h;
    for (auto& c : cols) {
      auto name = c.header;
      std::transform(name.begin(), name.end(), name.begin(), [](char ch) {
        return static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      });
      h.push_back(name);
    }
    cells.push_back(std::move(h));
  }
  for (auto& item : items) {
    std::vector<std::string> r;
    for (auto& c : cols)
      r.push_back(truncate(cell(at_path(item, c.path)), c.max));
    cells.push_back(std::move(r));
  }
  std::vector<size_t> width(cols.size(), 0);
  for (auto& r : cells)
    for (size_t i = 0; i < r.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  std::string out;
  for (auto& r : cells) {
    std::string line = indent;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size())
        line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string counted(size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many) + "\n";
}

/// A listing `{"items": [...], "next_cursor"}` as a table and a count.
std::string listing(const ojson& body, const std::vector<column>& cols,
                    const std::string& one, const std::string& many) {
  if (!body.contains("items") || !body["items"].is_array())
    return block(body);
  auto& items = body["items"];
  std::string out;
  if (!items.empty())
    out += table(cols, items);
  out += counted(items.size(), one, many);
  if (body.contains("next_cursor") && body["next_cursor"].is_string())
    out += "(there are more: raise --limit)\n";
  return out;
}

std::string record_with_history(const ojson& body) {
  auto out = block(body, {"history"});
  if (body.contains("history") && body["history"].is_array()
      && !body["history"].empty()) {
    out += "\nhistory:\n";
    out += table({{"seq", "seq"},
                  {"time", "at"},
                  {"type", "type"},
                  {"summary", "summary"}},
                 body["history"], false, "  ");
  }
  return out;
}

std::string outbox_text(const ojson& body) {
  auto out = block(body, {"failures"});
  if (body.contains("failures") && body["failures"].is_array()
      && !body["failures"].empty()) {
    out += "\nfailures:\n";
    out += table({{"id", "id"},
                  {"template", "template_name"},
                  {"entity", "entity"},
                  {"state", "state"},
                  {"error", "last_error", 60}},
                 body["failures"], true, "  ");
  }
  return out;
}

std::string stock_table(const ojson& body) {
  return table({{"program", "program"},
                {"available", "available"},
                {"reserved", "reserved"},
                {"redeemed", "redeemed"},
                {"yearly_need", "yearly_need"},
                {"runway_days", "runway_days"}},
               body["items"]);
}

/// `GET /v1/node`: one line per section, the timer supervisors as a table.
/// `cluster status`: one line per member.
std::string cluster_text(const ojson& body) {
  if (!body.contains("members") || !body["members"].is_array())
    return block(body);
  auto items = ojson::array();
  for (auto m : body["members"]) {
    if (!m.is_object())
      continue;
    // A node that runs alone answers as a cluster of one, without address.
    m["address"] = m.contains("host") && m.contains("port")
                     ? cell(m["host"]) + ":" + cell(m["port"])
                     : std::string{"-"};
    m["state"] = m.value("reachable", false) ? "up" : "DOWN";
    if (m.value("self", false))
      m["state"] = "up (this node)";
    items.push_back(m);
  }
  return table({{"node", "name"},
                {"address", "address"},
                {"state", "state"},
                {"applications", "entities.applications"},
                {"subscriptions", "entities.subscriptions"},
                {"cases", "entities.compliance_cases"},
                {"emergency", "entities.emergency_licenses"},
                {"timers", "timers_pending"},
                {"error", "error", 40}},
               items);
}

/// `cluster plan`: the moves by source and destination.
std::string plan_text(const ojson& body) {
  if (!body.contains("moves") || !body["moves"].is_array())
    return block(body);
  std::string out;
  if (body["moves"].empty())
    out += "nothing would move\n";
  else
    out += table({{"from", "from"}, {"to", "to"}, {"entities", "count"}},
                 body["moves"]);
  if (body.contains("total"))
    out += "total: " + cell(body["total"]) + "\n";
  if (body.contains("unavailable") && body["unavailable"].is_array()
      && !body["unavailable"].empty()) {
    std::string names;
    for (auto& n : body["unavailable"])
      names += (names.empty() ? "" : ", ") + cell(n);
    out += "not counted (down): " + names + "\n";
  }
  return out;
}

std::string status_text(const ojson& body) {
  rows all;
  for (auto& [k, v] : body.items()) {
    if (k == "timers")
      continue;
    all.emplace_back(k, v.is_object() ? inline_object(v) : cell(v));
  }
  size_t width = 0;
  for (auto& r : all)
    width = std::max(width, r.first.size());
  std::string out;
  for (auto& [k, v] : all)
    out += k + ":" + std::string(width - k.size() + 2, ' ') + v + "\n";
  if (body.contains("timers") && body["timers"].is_object()
      && !body["timers"].empty()) {
    auto items = ojson::array();
    for (auto& [owner, stats] : body["timers"].items()) {
      auto row = stats.is_object() ? stats : ojson::object();
      row["owner"] = owner;
      items.push_back(row);
    }
    out += "\ntimers:\n";
    out += table({{"owner", "owner"},
                  {"fired", "fired"},
                  {"failed", "failed"},
                  {"in_flight", "in_flight"},
                  {"backing_off", "backing_off"},
                  {"max_lateness_ms", "max_lateness_ms"}},
                 items, true, "  ");
  }
  return out;
}

std::string codes_text(const ojson& body) {
  std::string out;
  if (body.contains("codes") && body["codes"].is_array())
    for (auto& c : body["codes"])
      out += cell(c) + "\n";
  return out;
}

/// `0.4235` -> `42.4%`.
std::string percent(const ojson& v) {
  if (!v.is_number())
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", v.get<double>() * 100.0);
  return buf;
}

std::string accounts_text(const ojson& body) {
  if (!body.contains("items") || !body["items"].is_array())
    return block(body);
  auto shown = body;
  for (auto& a : shown["items"])
    if (a.is_object())
      a["contact_count"] = a.contains("contacts") && a["contacts"].is_array()
                             ? a["contacts"].size()
                             : 0;
  return listing(shown,
                 {{"id", "id"},
                  {"name", "name", 32},
                  {"ref", "external_ref", 20},
                  {"segment", "segment"},
                  {"hosting", "hosting"},
                  {"stage", "stage"},
                  {"contacts", "contact_count"}},
                 "account", "accounts");
}

std::string account_text(const ojson& body) {
  auto out = block(body, {"contacts"});
  if (body.contains("contacts") && body["contacts"].is_array()
      && !body["contacts"].empty()) {
    auto items = body["contacts"];
    for (auto& c : items)
      if (c.is_object())
        c["bounced"] = c.value("bounced", false) ? "BOUNCED" : "";
    out += "\ncontacts:\n";
    out += table({{"id", "id"},
                  {"name", "name", 32},
                  {"email", "email"},
                  {"roles", "roles"},
                  {"", "bounced"}},
                 items, true, "  ");
  }
  return out;
}

/// A program with its rates as percentages, for tables.
ojson with_percentages(ojson p) {
  if (p.is_object() && p.contains("rates") && p["rates"].is_object())
    for (auto k : {"open_rate", "click_rate", "bounce_rate", "response_rate"})
      if (p["rates"].contains(k))
        p["rates"][k] = percent(p["rates"][k]);
  return p;
}

std::string programs_text(const ojson& body) {
  if (!body.contains("items") || !body["items"].is_array())
    return block(body);
  auto shown = body;
  for (auto& p : shown["items"])
    p = with_percentages(p);
  return listing(shown,
                 {{"id", "id"},
                  {"state", "state"},
                  {"kind", "kind"},
                  {"stage", "stage"},
                  {"name", "name", 32},
                  {"sent", "counts.sent"},
                  {"opened", "rates.open_rate"},
                  {"clicked", "rates.click_rate"},
                  {"bounced", "rates.bounce_rate"}},
                 "program", "programs");
}

std::string program_text(const ojson& body) {
  auto shown = with_percentages(body);
  auto out = block(shown, {"steps"});
  if (body.contains("steps") && body["steps"].is_array()
      && !body["steps"].empty()) {
    auto items = ojson::array();
    size_t n = 0;
    for (auto s : body["steps"]) {
      if (!s.is_object())
        continue;
      s["n"] = ++n;
      items.push_back(s);
    }
    out += "\nsteps:\n";
    out += table({{"#", "n"}, {"delay", "delay"}, {"subject", "subject", 60}},
                 items, true, "  ");
  }
  return out;
}

/// `outreach explain`: the resolution's lines, then the recipients.
std::string explain_text(const ojson& body) {
  if (!body.contains("lines") || !body["lines"].is_array())
    return block(body);
  std::string out;
  for (auto& l : body["lines"])
    out += cell(l) + "\n";
  size_t n = body.contains("recipients") && body["recipients"].is_array()
               ? body["recipients"].size()
               : 0;
  out += body.value("in_audience", false) ? "in the audience: "
                                          : "not in the audience: ";
  out += counted(n, "recipient", "recipients");
  return out;
}

std::string responses_text(const ojson& body) {
  // An anonymous survey's answers have no account and contact: `-`.
  auto shown = body;
  if (shown.contains("items") && shown["items"].is_array())
    for (auto& r : shown["items"])
      for (auto k : {"account", "contact"})
        if (r.is_object() && r.contains(k) && empty_value(r[k]))
          r[k] = nullptr;
  return listing(shown,
                 {{"at", "at"},
                  {"score", "score"},
                  {"account", "account"},
                  {"contact", "contact"},
                  {"comment", "comment", 60}},
                 "response", "responses");
}

std::string account_import_text(const ojson& body) {
  return "imported " + cell(body.value("lines", ojson(0))) + " lines of "
         + cell(body.value("file", ojson(""))) + " in "
         + cell(body.value("parts", ojson(0)))
         + " parts: " + cell(body.value("accounts_created", ojson(0)))
         + " accounts created, "
         + cell(body.value("accounts_updated", ojson(0))) + " updated, "
         + cell(body.value("contacts", ojson(0))) + " contacts\n";
}

// -- running
// ------------------------------------------------------------------------

std::ostream& out_of(io& x) {
  return *x.out;
}

std::ostream& err_of(io& x) {
  return *x.err;
}

/// Prints an error: `tenure: CODE: MESSAGE` on stderr and, with --json, a
/// JSON document on stdout.
void print_error(io& x, bool json, const std::string& code,
                 const std::string& message, const std::string& json_body) {
  err_of(x) << "tenure: " << code << ": " << message << "\n";
  if (json)
    out_of(x) << json_body << "\n";
}

std::string own_error(const std::string& code, const std::string& message) {
  return ojson{{"error", {{"code", code}, {"message", message}}}}.dump(2);
}

/// Reports a failed answer. Returns its exit code.
exit_code fail(io& x, bool json, const response& r,
               const std::string& context = {}) {
  auto rc = exit_code_of(r.status);
  if (r.status == 0) {
    print_error(x, json, "unreachable", context + r.body,
                own_error("unreachable", context + r.body));
    return rc;
  }
  auto body = ojson::parse(r.body, nullptr, false);
  std::string code = "http_" + std::to_string(r.status);
  std::string message = truncate(r.body, 300);
  if (!body.is_discarded() && body.is_object() && body.contains("error")
      && body["error"].is_object()) {
    auto& e = body["error"];
    if (e.contains("code") && e["code"].is_string())
      code = e["code"].get<std::string>();
    message = e.contains("message") ? cell(e["message"]) : std::string{};
  }
  print_error(x, json, code, context + message,
              body.is_discarded() ? own_error(code, context + message)
                                  : body.dump(2));
  return rc;
}

bool ok(const response& r) {
  return exit_code_of(r.status) == exit_code::ok;
}

void print_body(io& x, bool json, const std::string& command,
                const std::string& body) {
  if (json)
    out_of(x) << format_json(body) << "\n";
  else
    out_of(x) << format_human(command, body);
}

exit_code run_paged(const plan& p, bool json, io& x) {
  auto base = p.requests.front();
  auto items = ojson::array();
  ojson next = nullptr;
  std::string cursor;
  while (items.size() < p.limit) {
    auto req = base;
    auto n = std::min(p.limit - items.size(), max_page);
    req.target += (req.target.find('?') == std::string::npos ? "?" : "&");
    req.target += "limit=" + std::to_string(n);
    if (!cursor.empty())
      req.target += "&cursor=" + url_encode(cursor);
    auto r = x.send(req);
    if (!ok(r))
      return fail(x, json, r);
    auto body = ojson::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("items")
        || !body["items"].is_array())
      return fail(x, json, response{500, r.body}, "not a listing: ");
    for (auto& item : body["items"])
      items.push_back(item);
    next = body.contains("next_cursor") ? body["next_cursor"] : ojson{};
    // A cursor that does not move would loop forever.
    if (!next.is_string() || next.get<std::string>() == cursor)
      break;
    cursor = next.get<std::string>();
  }
  if (!next.is_string())
    next = nullptr;
  ojson all{{"items", items}, {"next_cursor", next}};
  print_body(x, json, p.command, all.dump());
  return exit_code::ok;
}

exit_code run_multi(const plan& p, bool json, io& x) {
  auto items = ojson::array();
  for (auto& req : p.requests) {
    auto r = x.send(req);
    if (!ok(r))
      return fail(x, json, r);
    auto body = ojson::parse(r.body, nullptr, false);
    items.push_back(body.is_discarded() ? ojson(r.body) : body);
  }
  print_body(x, json, p.command, ojson{{"items", items}}.dump());
  return exit_code::ok;
}

exit_code run_import(const plan& p, const settings& cfg, bool json, io& x) {
  std::string content;
  std::string error;
  if (!x.read_file || !x.read_file(p.file, content, error)) {
    settings s = cfg;
    s.json = json;
    return usage_error("coupon import: cannot read " + p.file + ": " + error, s,
                       x);
  }
  auto total = count_lines(content);
  if (total == 0) {
    settings s = cfg;
    s.json = json;
    return usage_error("coupon import: " + p.file + " is empty", s, x);
  }
  auto chunks = split_chunks(content, import_chunk_lines);
  ojson sum{{"program", p.program},
            {"file", p.file},
            {"chunks", chunks.size()},
            {"imports", ojson::array()}};
  static const char* const counters[]
    = {"lines",           "imported", "blank", "duplicate_in_file",
       "already_present", "invalid"};
  for (auto c : counters)
    sum[c] = 0;
  size_t done = 0;
  if (x.progress)
    x.progress(0, total);
  for (size_t i = 0; i < chunks.size(); ++i) {
    request req;
    req.method = "POST";
    req.target = "/v1/coupons/" + url_encode(p.program) + "/import";
    req.content_type = "text/csv";
    req.body = chunks[i];
    req.idempotency_key = import_key(p.program, content, i);
    auto r = x.send(req);
    if (!ok(r)) {
      if (x.progress)
        err_of(x) << "\n";
      auto first = done + 1;
      auto lines = count_lines(chunks[i]);
      return fail(x, json, r,
                  "chunk " + std::to_string(i + 1) + " of "
                    + std::to_string(chunks.size()) + " (lines "
                    + std::to_string(first) + "-" + std::to_string(done + lines)
                    + "; run the same import " + "again to resume): ");
    }
    auto body = ojson::parse(r.body, nullptr, false);
    if (body.is_object()) {
      for (auto c : counters)
        if (body.contains(c) && body[c].is_number_unsigned())
          sum[c] = sum[c].get<uint64_t>() + body[c].get<uint64_t>();
      if (body.contains("id"))
        sum["imports"].push_back(body["id"]);
    }
    done += count_lines(chunks[i]);
    if (x.progress)
      x.progress(done, total);
  }
  print_body(x, json, p.command, sum.dump());
  return exit_code::ok;
}

/// Where the node's error message `line N: ...` of part `part` (N counts
/// the part's header) is in the file: `line M: ...`; other messages as
/// they are.
std::string in_file_lines(const std::string& message,
                          const account_part& part) {
  if (!starts_with(message, "line "))
    return message;
  size_t i = 5;
  size_t n = 0;
  while (i < message.size()
         && std::isdigit(static_cast<unsigned char>(message[i])) && i < 15)
    n = n * 10 + static_cast<size_t>(message[i++] - '0');
  if (i == 5 || i >= message.size() || message[i] != ':')
    return message;
  size_t file_line = n == 1                                ? 1
                     : n >= 2 && n - 2 < part.lines.size() ? part.lines[n - 2]
                                                           : 0;
  if (file_line == 0)
    return message;
  return "line " + std::to_string(file_line) + message.substr(i);
}

exit_code run_account_import(const plan& p, const settings& cfg, bool json,
                             io& x) {
  settings s = cfg;
  s.json = json;
  std::string content;
  std::string error;
  if (!x.read_file || !x.read_file(p.file, content, error))
    return usage_error("accounts import: cannot read " + p.file + ": " + error,
                       s, x);
  std::vector<account_part> parts;
  if (!split_account_csv(content, account_part_lines, parts, error))
    return usage_error("accounts import: " + p.file + ": " + error, s, x);
  size_t total = 0;
  for (auto& part : parts)
    total += part.lines.size();
  size_t done = 0;
  uint64_t created = 0;
  uint64_t updated = 0;
  uint64_t contacts = 0;
  auto counter = [](const ojson& body, const char* name) -> uint64_t {
    return body.is_object() && body.contains(name)
               && body[name].is_number_unsigned()
             ? body[name].get<uint64_t>()
             : 0;
  };
  auto so_far = [&] {
    return std::to_string(done) + "/" + std::to_string(total) + " lines ("
           + std::to_string(created) + " accounts created, "
           + std::to_string(updated) + " updated)";
  };
  for (size_t i = 0; i < parts.size(); ++i) {
    request req;
    req.method = "POST";
    req.target = "/v1/accounts/import";
    req.content_type = "text/csv";
    req.body = parts[i].body;
    req.idempotency_key = random_key();
    auto r = x.send(req);
    if (!ok(r)) {
      // What was imported before: lines of whole accounts, a prefix of the
      // file when its accounts' lines are together.
      size_t last_done = 0;
      size_t first_left = SIZE_MAX;
      for (size_t k = 0; k < parts.size(); ++k)
        for (auto n : parts[k].lines)
          if (k < i)
            last_done = std::max(last_done, n);
          else
            first_left = std::min(first_left, n);
      std::string before
        = done == 0
            ? "nothing was imported before it"
            : "imported before it: " + so_far()
                + (last_done < first_left
                     ? ", the file up to line " + std::to_string(last_done)
                     : std::string{});
      std::string where = "accounts import: part " + std::to_string(i + 1)
                          + " of " + std::to_string(parts.size())
                          + " (file lines "
                          + std::to_string(parts[i].lines.front()) + "-"
                          + std::to_string(parts[i].lines.back()) + ") refused";
      if (r.status == 0)
        return fail(x, json, r, where + "; " + before + ": ");
      auto body = ojson::parse(r.body, nullptr, false);
      std::string code = "http_" + std::to_string(r.status);
      std::string message = truncate(r.body, 300);
      if (!body.is_discarded() && body.is_object() && body.contains("error")
          && body["error"].is_object()) {
        auto& e = body["error"];
        if (e.contains("code") && e["code"].is_string())
          code = e["code"].get<std::string>();
        message = e.contains("message") ? cell(e["message"]) : std::string{};
      }
      // A refused line means nothing of the part was written; a failure of
      // one account may leave the part's accounts before it written.
      bool checked = starts_with(message, "line ");
      message = where + ": " + in_file_lines(message, parts[i])
                + (checked ? " (nothing of this part was written)" : "") + "; "
                + before
                + ". Running the import again is safe: accounts are updated "
                  "by account_ref.";
      print_error(x, json, code, message,
                  body.is_discarded() ? own_error(code, message)
                                      : body.dump(2));
      return exit_code_of(r.status);
    }
    auto body = ojson::parse(r.body, nullptr, false);
    created += counter(body, "accounts_created");
    updated += counter(body, "accounts_updated");
    contacts += counter(body, "contacts");
    done += parts[i].lines.size();
    err_of(x) << "imported " << so_far() << "\n";
    err_of(x).flush();
  }
  ojson sum{{"file", p.file},
            {"parts", parts.size()},
            {"lines", total},
            {"accounts_created", created},
            {"accounts_updated", updated},
            {"contacts", contacts}};
  print_body(x, json, p.command, sum.dump());
  return exit_code::ok;
}

exit_code run_upload(const plan& p, const settings& cfg, bool json, io& x) {
  settings s = cfg;
  s.json = json;
  std::string content;
  std::string error;
  if (!x.read_file || !x.read_file(p.file, content, error))
    return usage_error(p.command + ": cannot read " + p.file + ": " + error, s,
                       x);
  ojson doc;
  try {
    doc = ojson::parse(content);
  } catch (const ojson::exception& e) {
    return usage_error(p.command + ": " + p.file + ": not JSON: " + e.what(), s,
                       x);
  }
  if (!doc.is_object())
    return usage_error(p.command + ": " + p.file + ": not a JSON object", s, x);
  auto req = p.requests.front();
  auto defaults = ojson::parse(req.body, nullptr, false);
  if (defaults.is_object())
    for (auto& [k, v] : defaults.items())
      if (!doc.contains(k))
        doc[k] = v;
  req.body = doc.dump();
  auto r = x.send(req);
  if (!ok(r))
    return fail(x, json, r);
  print_body(x, json, p.command, r.body);
  return exit_code::ok;
}

} // namespace

// -- exit codes
// ---------------------------------------------------------------------

exit_code exit_code_of(int32_t status) {
  if (status >= 200 && status < 300)
    return exit_code::ok;
  if (status == 401 || status == 403)
    return exit_code::unauthorized;
  if (status >= 400 && status < 500)
    return exit_code::refused;
  return exit_code::unreachable;
}

// -- words
// ------------------------------------------------------------------------------

bool split_words(const std::string& line, std::vector<std::string>& words,
                 std::string& error) {
  words.clear();
  std::string cur;
  bool in_word = false;
  enum { plain, single_q, double_q } mode = plain;
  for (size_t i = 0; i < line.size(); ++i) {
    char ch = line[i];
    switch (mode) {
      case plain:
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
          if (in_word)
            words.push_back(std::move(cur));
          cur.clear();
          in_word = false;
        } else if (ch == '\'') {
          mode = single_q;
          in_word = true;
        } else if (ch == '"') {
          mode = double_q;
          in_word = true;
        } else if (ch == '\\') {
          if (i + 1 == line.size()) {
            error = "a backslash at the end of the line";
            return false;
          }
          cur += line[++i];
          in_word = true;
        } else {
          cur += ch;
          in_word = true;
        }
        break;
      case single_q:
        if (ch == '\'')
          mode = plain;
        else
          cur += ch;
        break;
      case double_q:
        if (ch == '"') {
          mode = plain;
        } else if (ch == '\\' && i + 1 < line.size()
                   && (line[i + 1] == '"' || line[i + 1] == '\\')) {
          cur += line[++i];
        } else {
          cur += ch;
        }
        break;
    }
  }
  if (mode != plain) {
    error = mode == single_q ? "unterminated single quote"
                             : "unterminated double quote";
    return false;
  }
  if (in_word)
    words.push_back(std::move(cur));
  return true;
}

std::string url_encode(const std::string& text) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : text) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += digits[ch >> 4];
      out += digits[ch & 0x0f];
    }
  }
  return out;
}

// -- table and help
// -------------------------------------------------------------------

const std::vector<command_info>& commands() {
  static const std::vector<command_info> infos = [] {
    std::vector<command_info> out;
    for (auto& d : table()) {
      command_info info;
      info.name = d.info.name;
      info.synopsis = d.info.synopsis;
      info.summary = d.info.summary;
      info.details = d.info.details;
      info.options = d.value_options;
      info.options.insert(info.options.end(), d.flag_options.begin(),
                          d.flag_options.end());
      out.push_back(std::move(info));
    }
    return out;
  }();
  return infos;
}

std::string help_text() {
  size_t width = 0;
  for (auto& c : commands())
    width = std::max(width, c.name.size());
  std::string out = "commands:\n";
  for (auto& c : commands())
    out += "  " + c.name + std::string(width - c.name.size() + 2, ' ')
           + c.summary + "\n";
  out += "\n'help COMMAND' shows how to call a command. Every command takes "
         "--json (the\nnode's JSON) and --as NAME (who is recorded as having "
         "done it; default\n$USER). Quote words with blanks: "
         "app withdraw app_01 \"duplicate entry\".\n";
  return out;
}

bool help_text(const std::string& topic, std::string& out) {
  out.clear();
  for (auto& c : commands()) {
    if (c.name != topic && !starts_with(c.name, topic + " "))
      continue;
    if (!out.empty())
      out += "\n";
    out += "usage: " + c.synopsis + "\n  " + c.summary + "\n";
    if (!c.details.empty()) {
      std::string d = c.details;
      std::string indented = "  ";
      for (auto ch : d) {
        indented += ch;
        if (ch == '\n')
          indented += "  ";
      }
      out += indented + "\n";
    }
  }
  return !out.empty();
}

std::vector<std::string> complete(const std::vector<std::string>& before,
                                  const std::string& prefix) {
  std::vector<std::string> out;
  auto add = [&](const std::string& word) {
    if (starts_with(word, prefix) && !contains(out, word))
      out.push_back(word);
  };
  auto first_words = [&] {
    for (auto& d : table())
      add(d.info.name.substr(0, d.info.name.find(' ')));
  };
  if (before.empty()) {
    first_words();
    return out;
  }
  if (before[0] == "help") {
    if (before.size() == 1)
      first_words();
    else if (before.size() == 2)
      for (auto& s : sub_commands(before[1]))
        add(s);
    return out;
  }
  // The command the words so far name, and where its arguments start.
  const command_def* def = nullptr;
  size_t args_from = 0;
  if (before.size() >= 2)
    if ((def = find_def(before[0] + " " + before[1])))
      args_from = 2;
  if (!def) {
    if (before.size() == 1)
      for (auto& s : sub_commands(before[0]))
        add(s);
    if ((def = find_def(before[0])))
      args_from = 1;
  }
  if (!def)
    return out;
  if (starts_with(prefix, "-")) {
    for (auto& o : def->value_options)
      add(o);
    for (auto& o : def->flag_options)
      add(o);
    for (auto& o : global_value_options)
      add(o);
    for (auto& o : global_flag_options)
      add(o);
    return out;
  }
  // Program names where a PROGRAM goes (options and their values aside).
  size_t index = 0;
  for (size_t i = args_from; i < before.size(); ++i) {
    if (starts_with(before[i], "--")) {
      if (before[i].find('=') == std::string::npos
          && (contains(def->value_options, before[i])
              || contains(global_value_options, before[i])))
        ++i;
      continue;
    }
    ++index;
  }
  if (index < def->positionals.size()
      && spec_name(def->positionals[index]) == "PROGRAM")
    for (auto prog : programs)
      add(prog);
  return out;
}

// -- parsing
// ----------------------------------------------------------------------

bool parse(const std::vector<std::string>& words, const settings& cfg,
           plan& out, std::string& error) {
  out = plan{};
  if (words.empty())
    return true;
  // Words go into JSON bodies, which hold UTF-8 text only (the JSON library
  // throws on anything else): refuse such a word here, as a usage error.
  for (size_t i = 0; i < words.size(); ++i) {
    if (!valid_utf8(words[i])) {
      error = "word " + std::to_string(i + 1)
              + " of the command line is not valid UTF-8 text";
      return false;
    }
  }
  if (!valid_utf8(cfg.operator_name)) {
    error = "the operator name (--as, $USER) is not valid UTF-8 text";
    return false;
  }
  const command_def* def = nullptr;
  size_t from = 0;
  if (words.size() >= 2 && (def = find_def(words[0] + " " + words[1])))
    from = 2;
  else if ((def = find_def(words[0])))
    from = 1;
  if (!def) {
    auto subs = sub_commands(words[0]);
    if (subs.empty()) {
      error = "unknown command '" + words[0].substr(0, 40) + "' (try 'help')";
    } else if (words.size() == 1) {
      error = words[0] + ": give a sub-command: " + join(subs, 0, ", ");
    } else {
      error = words[0] + ": unknown sub-command '" + words[1].substr(0, 40)
              + "' (" + join(subs, 0, ", ") + ")";
    }
    return false;
  }
  out.command = def->info.name;
  args a;
  if (!parse_args(*def, words, from, a, out, error)) {
    error
      = def->info.name + ": " + error + " (usage: " + def->info.synopsis + ")";
    return false;
  }
  a.by = out.operator_name.empty() ? cfg.operator_name : out.operator_name;
  if (!def->build(a, out, error)) {
    error
      = def->info.name + ": " + error + " (usage: " + def->info.synopsis + ")";
    out.requests.clear();
    return false;
  }
  return true;
}

bool parse(const std::string& line, const settings& cfg, plan& out,
           std::string& error) {
  std::vector<std::string> words;
  if (!split_words(line, words, error)) {
    out = plan{};
    return false;
  }
  return parse(words, cfg, out, error);
}

// -- imports
// ------------------------------------------------------------------------

std::vector<std::string> split_chunks(const std::string& text,
                                      size_t max_lines) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t pos = start;
    for (size_t n = 0; n < max_lines && pos < text.size(); ++n) {
      auto nl = text.find('\n', pos);
      pos = nl == std::string::npos ? text.size() : nl + 1;
    }
    out.push_back(text.substr(start, pos - start));
    start = pos;
  }
  return out;
}

size_t count_lines(const std::string& text) {
  auto n = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  if (!text.empty() && text.back() != '\n')
    ++n;
  return n;
}

std::string import_key(const std::string& program, const std::string& content,
                       size_t index) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(content.data()), content.size(),
         digest);
  return "import-" + program.substr(0, 40) + "-" + to_hex(digest, 16) + "-"
         + std::to_string(index);
}

std::string random_key() {
  std::random_device rd;
  unsigned char raw[16];
  for (size_t i = 0; i < sizeof(raw); i += 4) {
    auto v = rd();
    for (size_t j = 0; j < 4; ++j)
      raw[i + j] = static_cast<unsigned char>(v >> (8 * j));
  }
  return to_hex(raw, sizeof(raw));
}

namespace {

std::string lower_trimmed(const std::string& text) {
  auto b = text.find_first_not_of(" \t");
  auto e = text.find_last_not_of(" \t");
  std::string out
    = b == std::string::npos ? std::string{} : text.substr(b, e - b + 1);
  for (auto& ch : out)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

/// The fields of a CSV line (`"` quotes a field, `""` inside it is a quote);
/// false on a quote that is not closed.
bool csv_line_fields(std::string_view line, std::vector<std::string>& out) {
  out.clear();
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char ch = line[i];
    if (quoted) {
      if (ch != '"')
        cur += ch;
      else if (i + 1 < line.size() && line[i + 1] == '"')
        cur += line[++i];
      else
        quoted = false;
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += ch;
    }
  }
  out.push_back(std::move(cur));
  return !quoted;
}

} // namespace

bool split_account_csv(const std::string& text_in, size_t max_lines,
                       std::vector<account_part>& parts, std::string& error) {
  parts.clear();
  std::string_view text = text_in;
  if (text.substr(0, 3) == "\xEF\xBB\xBF")
    text.remove_prefix(3);
  // The contact lines of each account, in the order of its first line.
  std::vector<std::vector<std::pair<size_t, std::string_view>>> groups;
  std::map<std::string, size_t> by_ref;
  std::string_view header;
  bool seen_header = false;
  size_t line_no = 0;
  std::vector<std::string> fields;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text
      = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.find_first_not_of(" \t,") == std::string_view::npos)
      continue;
    if (!seen_header) {
      std::string got;
      if (csv_line_fields(line, fields))
        for (auto& f : fields)
          got += (got.empty() ? "" : ",") + lower_trimmed(f);
      if (got != account_csv_header) {
        error = "line " + std::to_string(line_no) + ": the header must be "
                + account_csv_header;
        return false;
      }
      header = line;
      seen_header = true;
      continue;
    }
    // A line without a reference goes alone: the node names it.
    std::string ref;
    if (csv_line_fields(line, fields) && !fields.empty())
      ref = lower_trimmed(fields[0]);
    if (ref.empty())
      ref = "\n" + std::to_string(line_no);
    auto [it, fresh] = by_ref.emplace(ref, groups.size());
    if (fresh)
      groups.emplace_back();
    groups[it->second].emplace_back(line_no, line);
  }
  if (!seen_header) {
    error = "the file is empty (it needs the header "
            + std::string{account_csv_header} + ")";
    return false;
  }
  if (groups.empty()) {
    error = "no contact lines after the header";
    return false;
  }
  account_part cur;
  for (auto& g : groups) {
    if (!cur.lines.empty() && cur.lines.size() + g.size() > max_lines) {
      parts.push_back(std::move(cur));
      cur = account_part{};
    }
    if (cur.lines.empty()) {
      cur.body.assign(header.data(), header.size());
      cur.body += '\n';
    }
    for (auto& [n, l] : g) {
      cur.body.append(l.data(), l.size());
      cur.body += '\n';
      cur.lines.push_back(n);
    }
  }
  parts.push_back(std::move(cur));
  return true;
}

// -- running
// ------------------------------------------------------------------------

exit_code usage_error(const std::string& message, const settings& cfg, io& x) {
  print_error(x, cfg.json, "usage", message, own_error("usage", message));
  return exit_code::usage;
}

exit_code run(const plan& p, const settings& cfg, io& x) {
  bool json = cfg.json || p.json;
  switch (p.what) {
    case plan::kind::nothing:
    case plan::kind::help:
    case plan::kind::quit:
      return exit_code::ok;
    case plan::kind::single: {
      auto r = x.send(p.requests.front());
      if (!ok(r))
        return fail(x, json, r);
      print_body(x, json, p.command, r.body);
      return exit_code::ok;
    }
    case plan::kind::paged:
      return run_paged(p, json, x);
    case plan::kind::multi:
      return run_multi(p, json, x);
    case plan::kind::import:
      return run_import(p, cfg, json, x);
    case plan::kind::account_import:
      return run_account_import(p, cfg, json, x);
    case plan::kind::upload:
      return run_upload(p, cfg, json, x);
  }
  return exit_code::ok;
}

// -- formatting
// ---------------------------------------------------------------------

std::string format_json(const std::string& body) {
  auto x = ojson::parse(body, nullptr, false);
  if (x.is_discarded())
    return body;
  return x.dump(2);
}

std::string format_human(const std::string& command, const std::string& text) {
  auto body = ojson::parse(text, nullptr, false);
  if (body.is_discarded())
    return text.empty() || text.back() == '\n' ? text : text + "\n";
  if (!body.is_object())
    return body.dump(2) + "\n";
  if (command == "app show" || command == "sub show")
    return record_with_history(body);
  if (command == "app find")
    return listing(body,
                   {{"id", "id"},
                    {"state", "state"},
                    {"program", "program"},
                    {"organisation", "organisation.name", 32},
                    {"email", "applicant.email"},
                    {"submitted", "submitted_at"}},
                   "application", "applications");
  if (command == "sub find")
    return listing(body,
                   {{"id", "id"},
                    {"state", "state"},
                    {"plan", "plan"},
                    {"program", "program"},
                    {"organisation", "organisation.name", 32},
                    {"seats", "seats"},
                    {"end", "end"}},
                   "subscription", "subscriptions");
  if (command == "review list")
    return listing(body,
                   {{"application", "application"},
                    {"program", "program"},
                    {"due", "due"},
                    {"overdue", "overdue"}},
                   "application in review", "applications in review");
  if (command == "case list")
    return listing(body,
                   {{"id", "id"},
                    {"state", "state"},
                    {"deadline", "deadline"},
                    {"subscription", "subscription"},
                    {"curable", "curable"},
                    {"reason", "reason", 40}},
                   "case", "cases");
  if (command == "emergency find")
    return listing(body,
                   {{"at", "at"},
                    {"action", "action"},
                    {"outcome", "outcome"},
                    {"entity", "entity"},
                    {"actor", "actor"},
                    {"message", "message", 50}},
                   "record", "records");
  if (command == "timers")
    return listing(body,
                   {{"due", "due"},
                    {"owner", "owner"},
                    {"kind", "kind"},
                    {"entity", "entity"},
                    {"id", "id"}},
                   "timer", "timers");
  if (command == "coupon stock" && body.contains("items"))
    return stock_table(body);
  if (command == "coupon codes")
    return codes_text(body);
  if (command == "outbox")
    return outbox_text(body);
  if (command == "status")
    return status_text(body);
  if (command == "cluster status")
    return cluster_text(body);
  if (command == "cluster plan")
    return plan_text(body);
  if (command == "accounts list")
    return accounts_text(body);
  if (command == "accounts show")
    return account_text(body);
  if (command == "accounts import")
    return account_import_text(body);
  if (command == "outreach list")
    return programs_text(body);
  if (command == "outreach show" || command == "outreach create"
      || command == "outreach launch" || command == "outreach stop")
    return program_text(body);
  if (command == "outreach explain")
    return explain_text(body);
  if (command == "outreach responses")
    return responses_text(body);
  return block(body);
}

} // namespace tenure::shell
