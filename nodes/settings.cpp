#include "nodes/settings.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <initializer_list>
#include <optional>
#include <set>
#include <utility>

#include <caf/actor_system_config.hpp>
#include <caf/config_option.hpp>
#include <caf/config_option_set.hpp>
#include <caf/config_value.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/message.hpp>
#include <caf/pec.hpp>
#include <caf/settings.hpp>
#include <nlohmann/json.hpp>

#include "actors/json_keys.hpp"
#include "messages/errc.hpp"

namespace tenure {

// -- catalog ------------------------------------------------------------------

catalog::catalog(std::vector<sku> skus)
  : skus_(std::move(skus)) {
  // nop
}

const sku* catalog::find(std::string_view id) const {
  for (auto& s : skus_)
    if (s.id == id)
      return &s;
  return nullptr;
}

std::vector<const sku*> catalog::of(program p) const {
  std::vector<const sku*> out;
  for (auto& s : skus_)
    if (s.program == p)
      out.push_back(&s);
  return out;
}

namespace {

using json = nlohmann::json;

constexpr program all_programs[]
  = {program::edu, program::oss, program::startups};

/// Policies are about days to months; anything beyond a year is a typo
/// (`30w` for `30d`) rather than a policy.
constexpr duration one_year = std::chrono::duration_cast<duration>(days{365});

bool is_country(const std::string& s) {
  return s.size() == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A'
         && s[1] <= 'Z';
}

/// SKU ids appear in URLs, shell commands and stored subscriptions.
bool is_sku_id(const std::string& s) {
  if (s.empty() || s.front() == '-' || s.back() == '-')
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

/// SPDX short identifiers: letters, digits, '.', '-' and a trailing '+'.
bool is_spdx_id(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+';
  });
}

std::string index(size_t i) {
  return "[" + std::to_string(i) + "]";
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// -- JSON data files ----------------------------------------------------------

/// Reads one JSON file, recording the first problem as "FILE: KEY: what".
/// Objects are checked for unknown keys: a typo must not pass silently.
class json_reader {
public:
  explicit json_reader(std::string file)
    : file_(std::move(file)) {
    // nop
  }

  bool load(json& out) {
    std::ifstream in{file_};
    if (!in)
      return fail("", "cannot open the file");
    std::string text{std::istreambuf_iterator<char>{in}, {}};
    try {
      if (auto bad = parse_config_json(text, out))
        return fail(bad->path, bad->what);
    } catch (const json::exception& e) {
      // parse_config_json answers parse_error only; nlohmann throws
      // out_of_range (406) for a number no double holds (`1e999`), which is
      // malformed JSON just the same.
      std::string what = e.what();
      if (auto pos = what.find("] "); pos != std::string::npos)
        what.erase(0, pos + 2);
      return fail("", "malformed JSON: " + what);
    }
    return true;
  }

  bool fail(const std::string& path, const std::string& what) {
    if (!err_) {
      auto msg = file_ + ": ";
      if (!path.empty())
        msg += path + ": ";
      msg += what;
      err_ = make_error(errc::config_invalid, std::move(msg));
    }
    return false;
  }

  /// `j` is an object with only `allowed` keys.
  bool object(const json& j, const std::string& path,
              std::initializer_list<const char*> allowed) {
    if (!j.is_object())
      return fail(path.empty() ? "(top level)" : path, "expected an object");
    for (auto& [key, value] : j.items()) {
      bool known = false;
      for (auto a : allowed)
        known = known || key == a;
      if (!known)
        return fail(join(path, key), "unknown key");
    }
    return true;
  }

  const json* member(const json& j, const std::string& path, const char* key) {
    auto i = j.find(key);
    if (i == j.end()) {
      fail(join(path, key), "missing");
      return nullptr;
    }
    return &*i;
  }

  /// Member `key` of `j` as an object with only `allowed` keys, or null.
  const json* object_member(const json& j, const std::string& path,
                            const char* key,
                            std::initializer_list<const char*> allowed) {
    auto m = member(j, path, key);
    if (!m || !object(*m, join(path, key), allowed))
      return nullptr;
    return m;
  }

  bool str(const json& j, const std::string& path, const char* key,
           std::string& out) {
    auto m = member(j, path, key);
    if (!m)
      return false;
    if (!m->is_string() || m->get<std::string>().empty())
      return fail(join(path, key), "expected a non-empty string");
    out = m->get<std::string>();
    return true;
  }

  bool boolean(const json& j, const std::string& path, const char* key,
               bool& out) {
    auto m = member(j, path, key);
    if (!m)
      return false;
    if (!m->is_boolean())
      return fail(join(path, key), "expected true or false");
    out = m->get<bool>();
    return true;
  }

  template <class T>
  bool uint(const json& j, const std::string& path, const char* key, T& out,
            uint64_t min, uint64_t max) {
    auto m = member(j, path, key);
    if (!m)
      return false;
    if (!m->is_number_unsigned())
      return fail(join(path, key), "expected a whole number");
    auto v = m->get<uint64_t>();
    if (v < min || v > max)
      return fail(join(path, key), std::to_string(v) + " is outside "
                                     + std::to_string(min) + ".."
                                     + std::to_string(max));
    out = static_cast<T>(v);
    return true;
  }

  bool real(const json& j, const std::string& path, const char* key,
            double& out, double min, double max) {
    auto m = member(j, path, key);
    if (!m)
      return false;
    if (!m->is_number())
      return fail(join(path, key), "expected a number");
    out = m->get<double>();
    if (!(out >= min && out <= max))
      return fail(join(path, key), m->dump() + " is outside " + json(min).dump()
                                     + ".." + json(max).dump());
    return true;
  }

  bool dur(const json& j, const std::string& path, const char* key,
           duration& out, duration max = one_year) {
    std::string text;
    if (!str(j, path, key, text))
      return false;
    return parse_dur(join(path, key), text, out, max);
  }

  bool parse_dur(const std::string& path, const std::string& text,
                 duration& out, duration max = one_year) {
    auto d = parse_duration(text);
    if (!d || d->count() == 0)
      return fail(path, "'" + text
                          + "' is not a positive duration such as 30d, 12h, "
                            "5min");
    if (*d > max)
      return fail(path,
                  "'" + text + "' is longer than " + to_string_duration(max));
    out = *d;
    return true;
  }

  template <class E>
  bool enumeration(const json& j, const std::string& path, const char* key,
                   E& out) {
    std::string text;
    if (!str(j, path, key, text))
      return false;
    if (!from_string(text, out)) {
      std::string names;
      for (auto n : enum_names<E>::values)
        names += (names.empty() ? "" : ", ") + std::string{n};
      return fail(join(path, key), "'" + text + "' is not one of " + names);
    }
    return true;
  }

  /// A list of distinct strings, each accepted by `valid` (else `expected`
  /// describes what it should be).
  template <class Predicate>
  bool distinct_strings(const json& j, const std::string& path, const char* key,
                        std::set<std::string>& out, Predicate valid,
                        const char* expected) {
    auto m = member(j, path, key);
    if (!m)
      return false;
    auto p = join(path, key);
    if (!m->is_array())
      return fail(p, "expected a list of strings");
    std::set<std::string> result;
    for (size_t i = 0; i < m->size(); ++i) {
      auto& x = (*m)[i];
      if (!x.is_string())
        return fail(p + index(i), "expected a string");
      auto s = x.get<std::string>();
      if (!valid(s))
        return fail(p + index(i), "'" + s + "' is not " + expected);
      if (!result.insert(s).second)
        return fail(p + index(i), "'" + s + "' appears twice");
    }
    out = std::move(result);
    return true;
  }

  bool ok() const {
    return !err_;
  }

  caf::error take_error() {
    return std::move(err_);
  }

private:
  std::string file_;
  caf::error err_;
};

caf::error load_catalog(const std::string& file, catalog& out) {
  json_reader r{file};
  json doc;
  if (!r.load(doc) || !r.object(doc, "", {"skus"}))
    return r.take_error();
  auto list = r.member(doc, "", "skus");
  if (!list)
    return r.take_error();
  if (!list->is_array() || list->empty()) {
    r.fail("skus", "expected a non-empty list");
    return r.take_error();
  }
  std::vector<sku> skus;
  std::set<std::string> ids;
  for (size_t i = 0; i < list->size(); ++i) {
    auto path = "skus" + index(i);
    auto& j = (*list)[i];
    sku s;
    if (!j.is_object()) {
      r.fail(path, "expected an object");
      return r.take_error();
    }
    if (!r.str(j, path, "id", s.id))
      return r.take_error();
    if (!is_sku_id(s.id))
      r.fail(path + ".id", "'" + s.id
                             + "' is not an id of lower-case letters, digits "
                               "and '-'");
    else if (!ids.insert(s.id).second)
      r.fail(path + ".id", "duplicate SKU id '" + s.id + "'");
    // From here on, name the SKU too: "skus[9] (oss-sm-...)" is findable.
    path += " (" + s.id + ")";
    if (!r.ok()
        || !r.object(j, path,
                     {"id", "name", "program", "hosting", "support", "lines"})
        || !r.str(j, path, "name", s.name)
        || !r.enumeration(j, path, "program", s.program)
        || !r.enumeration(j, path, "hosting", s.hosting)
        || !r.enumeration(j, path, "support", s.support))
      return r.take_error();
    if (s.program == program::none) {
      r.fail(path + ".program", "a catalog SKU belongs to a program");
      return r.take_error();
    }
    auto lines = r.member(j, path, "lines");
    if (!lines)
      return r.take_error();
    if (!lines->is_array() || lines->empty()) {
      r.fail(path + ".lines", "expected a non-empty list of lines");
      return r.take_error();
    }
    int ultimate = 0;
    int support_lines = 0;
    for (size_t k = 0; k < lines->size(); ++k) {
      auto lpath = path + ".lines" + index(k);
      sku_line line;
      if (!r.object((*lines)[k], lpath, {"product", "term"})
          || !r.enumeration((*lines)[k], lpath, "product", line.product)
          || !r.enumeration((*lines)[k], lpath, "term", line.term))
        return r.take_error();
      (line.product == product::ultimate ? ultimate : support_lines)++;
      s.lines.push_back(line);
    }
    // Invariant of every offering in seed 001: one Ultimate line, and a
    // Support line exactly when the SKU is sold "w/ Support".
    if (ultimate != 1)
      r.fail(path + ".lines", "needs exactly one ultimate line, has "
                                + std::to_string(ultimate));
    else if (support_lines > 1)
      r.fail(path + ".lines", "has " + std::to_string(support_lines)
                                + " support lines, at most 1 is allowed");
    else if ((support_lines > 0) != (s.support == support::with))
      r.fail(path + ".support",
             "'" + to_string(s.support) + "' does not match its "
               + std::to_string(support_lines) + " support line(s)");
    if (!r.ok())
      return r.take_error();
    skus.push_back(std::move(s));
  }
  out = catalog{std::move(skus)};
  return caf::none;
}

caf::error load_policies(const std::string& file, policies& out) {
  json_reader r{file};
  json doc;
  if (!r.load(doc)
      || !r.object(doc, "",
                   {"grace_period", "emergency", "cure_period", "renewal",
                    "verification", "review", "coupons"})
      || !r.dur(doc, "", "grace_period", out.grace_period)
      || !r.dur(doc, "", "cure_period", out.cure_period))
    return r.take_error();
  auto em = r.object_member(doc, "", "emergency",
                            {"window", "default_days", "max_days"});
  if (!em || !r.dur(*em, "emergency", "window", out.emergency_window)
      || !r.uint(*em, "emergency", "default_days", out.emergency_default_days,
                 1, 365)
      || !r.uint(*em, "emergency", "max_days", out.emergency_max_days, 1, 365))
    return r.take_error();
  if (out.emergency_default_days > out.emergency_max_days) {
    r.fail("emergency.default_days", std::to_string(out.emergency_default_days)
                                       + " exceeds emergency.max_days ("
                                       + std::to_string(out.emergency_max_days)
                                       + ")");
    return r.take_error();
  }
  auto ren = r.object_member(doc, "", "renewal", {"reminder_offsets"});
  if (!ren)
    return r.take_error();
  auto offsets = r.member(*ren, "renewal", "reminder_offsets");
  if (!offsets)
    return r.take_error();
  if (!offsets->is_array()) {
    r.fail("renewal.reminder_offsets", "expected a list of durations");
    return r.take_error();
  }
  out.reminder_offsets.clear();
  for (size_t i = 0; i < offsets->size(); ++i) {
    auto path = "renewal.reminder_offsets" + index(i);
    auto& x = (*offsets)[i];
    duration d;
    if (!x.is_string()) {
      r.fail(path, "expected a duration such as \"30d\"");
      return r.take_error();
    }
    if (!r.parse_dur(path, x.get<std::string>(), d))
      return r.take_error();
    auto& xs = out.reminder_offsets;
    if (std::find(xs.begin(), xs.end(), d) != xs.end()) {
      r.fail(path, "'" + x.get<std::string>() + "' appears twice");
      return r.take_error();
    }
    xs.push_back(d);
  }
  std::sort(out.reminder_offsets.rbegin(), out.reminder_offsets.rend());
  auto ver = r.object_member(doc, "", "verification", {"timeout", "retries"});
  if (!ver || !r.dur(*ver, "verification", "timeout", out.verification_timeout)
      || !r.uint(*ver, "verification", "retries", out.verification_retries, 0,
                 10))
    return r.take_error();
  auto rev = r.object_member(doc, "", "review", {"answer_business_days"});
  if (!rev
      || !r.uint(*rev, "review", "answer_business_days",
                 out.review_business_days, 1, 60))
    return r.take_error();
  auto cp = r.object_member(doc, "", "coupons",
                            {"low_stock_runway_days", "forecast"});
  if (!cp
      || !r.uint(*cp, "coupons", "low_stock_runway_days",
                 out.low_stock_runway_days, 1, 3650))
    return r.take_error();
  auto fc
    = r.object_member(*cp, "coupons", "forecast", {"edu", "oss", "startups"});
  if (!fc)
    return r.take_error();
  out.forecasts.clear();
  for (auto p : all_programs) {
    auto name = to_string(p);
    auto path = "coupons.forecast." + name;
    coupon_forecast f;
    f.low_stock_runway_days = out.low_stock_runway_days;
    auto j = r.object_member(*fc, "coupons.forecast", name.c_str(),
                             {"applications_per_quarter", "expected_renewals",
                              "reverification_factor"});
    if (!j
        || !r.uint(*j, path, "applications_per_quarter",
                   f.applications_per_quarter, 0, 10'000'000)
        || !r.uint(*j, path, "expected_renewals", f.expected_renewals, 0,
                   10'000'000)
        || !r.real(*j, path, "reverification_factor", f.reverification_factor,
                   0.0, 10.0))
      return r.take_error();
    out.forecasts[p] = f;
  }
  return caf::none;
}

caf::error load_eligibility(const std::string& file, eligibility_rules& out) {
  json_reader r{file};
  json doc;
  const char* country = "an ISO 3166-1 alpha-2 code such as DE";
  if (!r.load(doc)
      || !r.object(
        doc, "",
        {"trade_control_countries", "manual_review_countries", "edu", "oss"})
      || !r.distinct_strings(doc, "", "trade_control_countries",
                             out.trade_control_countries, is_country, country)
      || !r.distinct_strings(doc, "", "manual_review_countries",
                             out.manual_review_countries, is_country, country))
    return r.take_error();
  for (auto& c : out.manual_review_countries)
    if (out.trade_control_countries.count(c)) {
      r.fail("manual_review_countries", c + " is also a trade-control country");
      return r.take_error();
    }
  auto edu = r.object_member(doc, "", "edu", {"k12_on_hold"});
  if (!edu || !r.boolean(*edu, "edu", "k12_on_hold", out.edu_k12_on_hold))
    return r.take_error();
  auto oss = r.object_member(doc, "", "oss",
                             {"min_public_projects", "max_private_projects",
                              "attestation_required",
                              "self_managed_needs_reason", "osi_licenses"});
  if (!oss
      || !r.uint(*oss, "oss", "min_public_projects",
                 out.oss_min_public_projects, 0, 1000)
      || !r.uint(*oss, "oss", "max_private_projects",
                 out.oss_max_private_projects, 0, 1000)
      || !r.boolean(*oss, "oss", "attestation_required",
                    out.oss_attestation_required)
      || !r.boolean(*oss, "oss", "self_managed_needs_reason",
                    out.oss_self_managed_needs_reason)
      || !r.distinct_strings(*oss, "oss", "osi_licenses", out.osi_licenses,
                             is_spdx_id, "an SPDX identifier such as MIT"))
    return r.take_error();
  if (out.osi_licenses.empty()) {
    r.fail("oss.osi_licenses", "the list is empty: no OSS application could "
                               "pass");
    return r.take_error();
  }
  return caf::none;
}

caf::error load_programs(const std::string& file, settings& out) {
  json_reader r{file};
  json doc;
  if (!r.load(doc) || !r.object(doc, "", {"programs", "channels"}))
    return r.take_error();
  auto ps = r.object_member(doc, "", "programs", {"edu", "oss", "startups"});
  if (!ps)
    return r.take_error();
  out.programs.clear();
  for (auto p : all_programs) {
    auto name = to_string(p);
    auto path = "programs." + name;
    program_info info;
    info.id = p;
    auto j = r.object_member(*ps, "programs", name.c_str(),
                             {"name", "inbox", "checkout_url",
                              "verification_channel", "support_macro"});
    if (!j || !r.str(*j, path, "name", info.name)
        || !r.str(*j, path, "inbox", info.inbox)
        || !r.str(*j, path, "checkout_url", info.checkout_url)
        || !r.enumeration(*j, path, "verification_channel",
                          info.verification_channel)
        || !r.str(*j, path, "support_macro", info.support_macro))
      return r.take_error();
    auto at = info.inbox.find('@');
    if (at == std::string::npos || at == 0 || at + 1 == info.inbox.size()
        || info.inbox.find_first_of(" \t<>,;", 0) != std::string::npos)
      r.fail(path + ".inbox", "'" + info.inbox + "' is not an email address");
    else if (info.checkout_url.rfind("https://", 0) != 0
             || info.checkout_url.size() == 8)
      r.fail(path + ".checkout_url",
             "'" + info.checkout_url + "' is not an https:// URL");
    if (!r.ok())
      return r.take_error();
    out.programs[p] = info;
  }
  auto ch
    = r.object_member(doc, "", "channels", {"community_programs", "licensing"});
  if (!ch
      || !r.str(*ch, "channels", "community_programs", out.community_channel)
      || !r.str(*ch, "channels", "licensing", out.licensing_channel))
    return r.take_error();
  std::pair<const char*, const std::string*> channels[] = {
    {"channels.community_programs", &out.community_channel},
    {"channels.licensing", &out.licensing_channel},
  };
  for (auto [key, name] : channels)
    if (name->front() != '#' || name->size() == 1) {
      r.fail(key, "'" + *name + "' is not a chat channel such as #name");
      return r.take_error();
    }
  return caf::none;
}

// -- tenured.conf -------------------------------------------------------------

/// Renders a CAF parser error as "line L, column C: what".
std::string describe_parse_error(const caf::error& err) {
  if (err.category() != caf::atom("parser"))
    return caf::to_string(err);
  auto what = caf::to_string(static_cast<caf::pec>(err.code()));
  std::replace(what.begin(), what.end(), '_', ' ');
  auto& ctx = err.context();
  if (!ctx.match_elements<caf::settings>())
    return what;
  auto& pos = ctx.get_as<caf::settings>(0);
  auto line = caf::get_or(pos, "line", int64_t{0});
  auto column = caf::get_or(pos, "column", int64_t{0});
  return "line " + std::to_string(line) + ", column " + std::to_string(column)
         + ": " + what;
}

/// CAF 0.17.6 keeps its declared options protected; a derived type may name
/// them, and that is all this type does.
struct caf_options : caf::actor_system_config {
  static const caf::config_option_set& of(const caf::actor_system_config& x) {
    return x.*(&caf_options::custom_options_);
  }
};

/// Checks every group but `tenure` against the options CAF declares. CAF
/// 0.17.6 stores an undeclared key or a value of the wrong type without a
/// word and then runs with its default, so `max-thread = 2` would quietly
/// give max(4, cores) threads.
caf::error check_caf_groups(const caf::actor_system_config& cfg,
                            const std::string& file) {
  auto& opts = caf_options::of(cfg);
  auto fail = [&](const std::string& key, const std::string& what) {
    return make_error(errc::config_invalid, file + ": " + key + ": " + what);
  };
  auto check = [&](const std::string& category, const std::string& name,
                   const caf::config_value& value) -> caf::error {
    auto key = category == "global" ? name : category + "." + name;
    if (caf::holds_alternative<caf::settings>(value))
      return fail(key, "unknown group");
    auto opt = opts.qualified_name_lookup(category, name);
    if (opt == nullptr)
      return fail(key, "unknown key (a typo?)");
    if (opt->check(value))
      return fail(
        key, "expected a value of type "
               + std::string{opt->type_name().begin(), opt->type_name().end()});
    return caf::none;
  };
  for (auto& [group, value] : cfg.content) {
    if (group == "tenure")
      continue;
    auto sub = caf::get_if<caf::settings>(&value);
    if (sub == nullptr) {
      if (auto err = check("global", group, value))
        return err;
      continue;
    }
    for (auto& [name, x] : *sub)
      if (auto err = check(group, name, x))
        return err;
  }
  return caf::none;
}

/// Reads the `tenure` group of a parsed CAF config, type-checking each value
/// and refusing unknown keys.
class conf_reader {
public:
  conf_reader(std::string file, const caf::settings& content)
    : file_(std::move(file))
    , content_(content) {
    // nop
  }

  bool fail(const std::string& key, const std::string& what) {
    if (!err_)
      err_ = make_error(errc::config_invalid,
                        file_ + ": tenure." + key + ": " + what);
    return false;
  }

  /// Marks `key` as known and returns its value, if set.
  const caf::config_value* find(const std::string& key) {
    known_.insert(key);
    return caf::get_if(&content_, "tenure." + key);
  }

  /// A string; CAF's 'atom' literals are accepted too, since CAF's own
  /// options (policy = 'sharing') teach that spelling.
  /// `allow_empty`: an empty string means "not set" (e.g. no SMTP).
  void str(const std::string& key, std::string& out, bool allow_empty = false) {
    auto v = find(key);
    if (!v)
      return;
    std::string s;
    bool is_string = false;
    if (auto x = caf::get_if<std::string>(v)) {
      s = *x;
      is_string = true;
    } else if (auto a = caf::get_if<caf::atom_value>(v)) {
      s = caf::to_string(*a);
      is_string = true;
    }
    if (!is_string || (s.empty() && !allow_empty))
      fail(key, allow_empty ? "expected a \"string\""
                            : "expected a non-empty \"string\"");
    else
      out = std::move(s);
  }

  /// A string from `choices`.
  void choice(const std::string& key, std::string& out,
              std::initializer_list<const char*> choices) {
    std::string s;
    str(key, s);
    if (s.empty())
      return;
    std::string names;
    for (auto c : choices) {
      if (s == c) {
        out = std::move(s);
        return;
      }
      names += (names.empty() ? "" : ", ") + std::string{c};
    }
    fail(key, "'" + s + "' is not one of " + names);
  }

  template <class T>
  void uint(const std::string& key, T& out, int64_t min, int64_t max) {
    auto v = find(key);
    if (!v)
      return;
    auto i = caf::get_if<caf::config_value::integer>(v);
    if (!i)
      fail(key, "expected a whole number");
    else if (*i < min || *i > max)
      fail(key, std::to_string(*i) + " is outside " + std::to_string(min) + ".."
                  + std::to_string(max));
    else
      out = static_cast<T>(*i);
  }

  /// A list of non-empty strings.
  void strs(const std::string& key, std::vector<std::string>& out) {
    auto v = find(key);
    if (!v)
      return;
    auto xs = caf::get_if<caf::config_value::list>(v);
    if (!xs) {
      fail(key, "expected a list of \"strings\"");
      return;
    }
    std::vector<std::string> result;
    for (auto& x : *xs) {
      auto s = caf::get_if<std::string>(&x);
      if (!s || s->empty()) {
        fail(key, "expected a list of non-empty \"strings\"");
        return;
      }
      result.push_back(*s);
    }
    out = std::move(result);
  }

  void boolean(const std::string& key, bool& out) {
    auto v = find(key);
    if (!v)
      return;
    if (auto b = caf::get_if<bool>(v))
      out = *b;
    else
      fail(key, "expected true or false");
  }

  /// A number in (0, max].
  void positive_real(const std::string& key, double& out, double max) {
    auto v = find(key);
    if (!v)
      return;
    double x = 0;
    if (auto d = caf::get_if<double>(v)) {
      x = *d;
    } else if (auto i = caf::get_if<caf::config_value::integer>(v)) {
      x = static_cast<double>(*i);
    } else {
      fail(key, "expected a number");
      return;
    }
    if (!(x > 0 && x <= max))
      fail(key, caf::deep_to_string(*v) + " is not in (0, "
                  + std::to_string(static_cast<int64_t>(max)) + "]");
    else
      out = x;
  }

  /// A positive duration up to `max`: "5min" (our notation) or 5min (CAF's
  /// timespan literal).
  void dur(const std::string& key, duration& out, duration max) {
    auto v = find(key);
    if (!v)
      return;
    std::optional<duration> d;
    std::string text;
    if (auto ts = caf::get_if<caf::timespan>(v)) {
      text = caf::deep_to_string(*ts);
      if (ts->count() > 0)
        d = std::chrono::duration_cast<duration>(*ts);
    } else if (auto s = caf::get_if<std::string>(v)) {
      text = *s;
      d = parse_duration(text);
    } else {
      text = caf::deep_to_string(*v);
    }
    if (!d || d->count() <= 0)
      fail(key, "'" + text + "' is not a positive duration such as \"5min\"");
    else if (*d > max)
      fail(key, "'" + text + "' is longer than " + to_string_duration(max));
    else
      out = *d;
  }

  /// Every key under `tenure` must have been read.
  void check_unknown() {
    if (auto top = caf::get_if<caf::settings>(&content_, "tenure"))
      walk(*top, "");
  }

  caf::error take_error() {
    return std::move(err_);
  }

private:
  void walk(const caf::settings& dict, const std::string& prefix) {
    for (auto& [k, v] : dict) {
      auto key = join(prefix, k);
      if (auto sub = caf::get_if<caf::settings>(&v))
        walk(*sub, key);
      else if (!known_.count(key))
        fail(key, "unknown key (a typo?)");
    }
  }

  std::string file_;
  const caf::settings& content_;
  std::set<std::string> known_;
  caf::error err_;
};

/// Every program of programs.json sells at least one SKU, and every SKU's
/// program is described there: a success email needs both.
caf::error check_programs_have_skus(const settings& s) {
  for (auto p : all_programs)
    if (s.skus.of(p).empty())
      return make_error(errc::config_invalid, s.files.catalog
                                                + ": skus: no SKU for program '"
                                                + to_string(p) + "'");
  return caf::none;
}

} // namespace

caf::expected<settings> load_data_files(settings base) {
  if (auto err = load_catalog(base.files.catalog, base.skus))
    return err;
  if (auto err = load_policies(base.files.policies, base.policy))
    return err;
  if (auto err = load_eligibility(base.files.eligibility, base.eligibility))
    return err;
  if (auto err = load_programs(base.files.programs, base))
    return err;
  if (auto err = check_programs_have_skus(base))
    return err;
  return base;
}

caf::expected<settings> read_settings(const caf::actor_system_config& cfg,
                                      const std::string& conf_path) {
  auto& content = cfg.content;
  // CAF 0.17.6 drops the whole file without an error when a '}' is missing
  // at its end; our group's absence is how that shows.
  if (!caf::get_if<caf::settings>(&content, "tenure"))
    return make_error(errc::config_invalid,
                      conf_path
                        + ": tenure: missing group (is a '}' "
                          "missing?)");
  if (auto err = check_caf_groups(cfg, conf_path))
    return err;
  settings s;
  conf_reader r{conf_path, content};
  r.str("node.data-dir", s.node.data_dir);
  r.str("node.host", s.node.host);
  // No port 0 here: operators and external systems must know where a node
  // listens. Tests pick a free port with tenured's --http-port 0.
  r.uint("node.http-port", s.node.http_port, 1, 65535);
  r.uint("node.shell-port", s.node.shell_port, 1, 65535);
  r.choice("node.clock", s.node.clock, {"system", "manual", "accelerated"});
  r.positive_real("node.clock-days-per-second", s.node.clock_days_per_second,
                  1e6);
  // The names of log::level (actors/log.hpp).
  r.choice("node.log-level", s.node.log_level,
           {"trace", "debug", "info", "warn", "error", "off"});
  r.str("cluster.node", s.cluster.node, true);
  r.strs("cluster.members", s.cluster.members);
  r.str("cluster.secret-file", s.cluster.secret_file, true);
  r.dur("cluster.connect-timeout", s.cluster.connect_timeout,
        std::chrono::minutes(1));
  r.dur("cluster.reconnect", s.cluster.reconnect, std::chrono::minutes(1));
  r.boolean("store.sync", s.store.sync);
  r.uint("store.max-group-commits", s.store.max_group_commits, 1, 1'000'000);
  r.uint("store.max-group-bytes", s.store.max_group_bytes, 4096,
         int64_t{1} << 30);
  size_t cache_mib = s.store.block_cache_bytes >> 20;
  r.uint("store.block-cache-mib", cache_mib, 1, 1 << 20);
  s.store.block_cache_bytes = cache_mib << 20;
  r.dur("registry.idle-passivation", s.registry.idle_passivation,
        std::chrono::duration_cast<duration>(days{1}));
  r.uint("registry.max-activations-per-second",
         s.registry.max_activations_per_second, 0, 10'000'000);
  r.str("data.catalog", s.files.catalog);
  r.str("data.policies", s.files.policies);
  r.str("data.eligibility", s.files.eligibility);
  r.str("data.programs", s.files.programs);
  r.str("data.templates", s.files.templates);
  r.str("data.routing", s.files.routing);
  r.str("outbox.mail-dir", s.outbox.mail_dir, true);
  r.str("outbox.smtp-url", s.outbox.smtp_url, true);
  r.str("outbox.smtp-user", s.outbox.smtp_user, true);
  r.str("outbox.smtp-password-file", s.outbox.smtp_password_file, true);
  r.str("outbox.tracking-url", s.outbox.tracking_url, true);
  r.str("outbox.tracking-secret-file", s.outbox.tracking_secret_file, true);
  r.uint("outbox.max-attempts", s.outbox.max_attempts, 1, 1000);
  r.dur("outbox.backoff", s.outbox.backoff,
        std::chrono::duration_cast<duration>(days{1}));
  r.str("verifier.url", s.verifier.url, true);
  r.str("verifier.key-file", s.verifier.key_file, true);
  r.dur("verifier.timeout", s.verifier.timeout, std::chrono::minutes(5));
  r.str("verifier.callback-secret-file", s.verifier.callback_secret_file, true);
  r.str("gateway.keys-file", s.gateway.keys_file, true);
  r.uint("gateway.threads", s.gateway.threads, 1, 256);
  r.uint("gateway.max-body-mib", s.gateway.max_body_mib, 1, 1024);
  r.dur("gateway.io-timeout", s.gateway.io_timeout, std::chrono::minutes(5));
  r.dur("gateway.request-timeout", s.gateway.request_timeout,
        std::chrono::minutes(5));
  r.dur("timers.poll", s.timers.poll, std::chrono::minutes(1));
  r.uint("timers.batch", s.timers.batch, 1, 100'000);
  r.check_unknown();
  if (auto err = r.take_error())
    return err;
  if (s.node.http_port == s.node.shell_port)
    return make_error(errc::config_invalid,
                      conf_path + ": tenure.node.shell-port: "
                        + std::to_string(s.node.shell_port)
                        + " is also tenure.node.http-port");
  // Data files resolve against the directory of the configuration file, so
  // that a node started from any working directory finds the same files.
  auto dir = std::filesystem::path{conf_path}.parent_path();
  for (auto f : {&s.files.catalog, &s.files.policies, &s.files.eligibility,
                 &s.files.programs, &s.files.templates, &s.files.routing,
                 &s.cluster.secret_file})
    if (!f->empty() && std::filesystem::path{*f}.is_relative())
      *f = (dir / *f).string();
  return load_data_files(std::move(s));
}

namespace {

/// CAF 0.17.6 keeps what a configuration file says in `cfg.content` only,
/// while its OpenSSL module reads the members `cfg.openssl_*`, which stay
/// empty: a member given a certificate, key and CA served anonymous TLS and
/// linked with any CAF client. Copies the `openssl` group into them.
void apply_openssl_group(caf::actor_system_config& cfg) {
  // caf::string_view, not const char*: CAF 0.17 converts a const char* to
  // it only when built with gcc (clang, as in scripts/fuzz, takes arrays).
  auto str = [&](caf::string_view key) {
    return caf::get_or(cfg, key, std::string{});
  };
  cfg.openssl_certificate = str("openssl.certificate");
  cfg.openssl_key = str("openssl.key");
  cfg.openssl_passphrase = str("openssl.passphrase");
  cfg.openssl_capath = str("openssl.capath");
  cfg.openssl_cafile = str("openssl.cafile");
}

} // namespace

caf::expected<settings> load_settings(caf::actor_system_config& cfg,
                                      const std::string& conf_path) {
  // CAF silently ignores a file it cannot open; we do not.
  if (!std::ifstream{conf_path})
    return make_error(errc::config_invalid,
                      conf_path + ": cannot open the configuration file");
  if (auto err
      = cfg.parse(caf::actor_system_config::string_list{}, conf_path.c_str()))
    return make_error(errc::config_invalid,
                      conf_path + ": " + describe_parse_error(err));
  apply_openssl_group(cfg);
  return read_settings(cfg, conf_path);
}

caf::expected<settings> load_settings(const std::string& conf_path) {
  caf::actor_system_config cfg;
  return load_settings(cfg, conf_path);
}

lifecycle_policy lifecycle_policy_of(const settings& s) {
  lifecycle_policy out;
  auto& p = s.policy;
  out.grace_period = p.grace_period;
  out.emergency_window = p.emergency_window;
  out.emergency_default_days = p.emergency_default_days;
  out.emergency_max_days = p.emergency_max_days;
  out.cure_period = p.cure_period;
  if (!p.reminder_offsets.empty())
    out.reminder_offsets = p.reminder_offsets;
  out.verification_timeout = p.verification_timeout;
  out.verification_retries = p.verification_retries;
  out.review_business_days = p.review_business_days;
  for (auto& [id, info] : s.programs)
    if (id != program::none)
      out.inboxes[static_cast<size_t>(id) % 3] = info.inbox;
  if (!s.licensing_channel.empty())
    out.licensing_channel = s.licensing_channel;
  return out;
}

program_texts program_texts_of(const settings& s) {
  program_texts out;
  for (auto& [id, info] : s.programs)
    out[id] = program_text{info.name, info.inbox, info.checkout_url};
  return out;
}

} // namespace tenure
