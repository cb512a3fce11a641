#include "nodes/settings.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <caf/actor_system_config.hpp>
#include <caf/config_value.hpp>
#include <caf/settings.hpp>
#include <nlohmann/json.hpp>

#include "messages/errc.hpp"

namespace tenure {

// -- catalog --------------------------------------------------------------------

catalog::catalog(std::vector<sku> skus) : skus_(std::move(skus)) {
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

bool is_country(const std::string& s) {
  return s.size() == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A'
         && s[1] <= 'Z';
}

// -- JSON data files ------------------------------------------------------------

/// Reads one JSON file, recording the first problem as "FILE: KEY: what".
/// Objects are checked for unknown keys: a typo must not pass silently.
class json_reader {
public:
  explicit json_reader(std::string file) : file_(std::move(file)) {
    // nop
  }

  bool load(json& out) {
    std::ifstream in{file_};
    if (!in)
      return fail("", "cannot open the file");
    try {
      out = json::parse(in);
    } catch (const json::parse_error& e) {
      // e.what() names the line and column.
      return fail("", std::string{"malformed JSON: "} + e.what());
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
      return fail(join(path, key), "outside " + std::to_string(min) + ".."
                                     + std::to_string(max));
    return true;
  }

  bool dur(const json& j, const std::string& path, const char* key,
           duration& out) {
    std::string text;
    if (!str(j, path, key, text))
      return false;
    return parse_dur(join(path, key), text, out);
  }

  bool parse_dur(const std::string& path, const std::string& text,
                 duration& out) {
    auto d = parse_duration(text);
    if (!d || d->count() == 0)
      return fail(path, "'" + text
                          + "' is not a positive duration such as 30d, 12h, "
                            "5min");
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
      return fail(join(path, key),
                  "'" + text + "' is not one of " + names);
    }
    return true;
  }

  bool strings(const json& j, const std::string& path, const char* key,
               std::vector<std::string>& out) {
    auto m = member(j, path, key);
    if (!m)
      return false;
    if (!m->is_array())
      return fail(join(path, key), "expected a list of strings");
    out.clear();
    for (size_t i = 0; i < m->size(); ++i) {
      auto& x = (*m)[i];
      if (!x.is_string())
        return fail(join(path, key) + "[" + std::to_string(i) + "]",
                    "expected a string");
      out.push_back(x.get<std::string>());
    }
    return true;
  }

  bool countries(const json& j, const std::string& path, const char* key,
                 std::set<std::string>& out) {
    std::vector<std::string> xs;
    if (!strings(j, path, key, xs))
      return false;
    for (size_t i = 0; i < xs.size(); ++i)
      if (!is_country(xs[i]))
        return fail(join(path, key) + "[" + std::to_string(i) + "]",
                    "'" + xs[i]
                      + "' is not an ISO 3166-1 alpha-2 code such as DE");
    out = std::set<std::string>(xs.begin(), xs.end());
    return true;
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  caf::error take_error() {
    return std::move(err_);
  }

  bool ok() const {
    return !err_;
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
    auto path = "skus[" + std::to_string(i) + "]";
    auto& j = (*list)[i];
    sku s;
    if (!r.object(j, path,
                  {"id", "name", "program", "hosting", "support", "lines"})
        || !r.str(j, path, "id", s.id) || !r.str(j, path, "name", s.name)
        || !r.enumeration(j, path, "program", s.program)
        || !r.enumeration(j, path, "hosting", s.hosting)
        || !r.enumeration(j, path, "support", s.support))
      return r.take_error();
    path += " (" + s.id + ")";
    if (s.program == program::none)
      r.fail(path + ".program", "a catalog SKU belongs to a program");
    if (!ids.insert(s.id).second)
      r.fail(path + ".id", "duplicate SKU id '" + s.id + "'");
    auto lines = r.member(j, path, "lines");
    if (!r.ok())
      return r.take_error();
    if (!lines->is_array() || lines->empty()) {
      r.fail(path + ".lines", "expected a non-empty list of lines");
      return r.take_error();
    }
    int ultimate = 0, support_lines = 0;
    for (size_t k = 0; k < lines->size(); ++k) {
      auto lpath = path + ".lines[" + std::to_string(k) + "]";
      sku_line line;
      if (!r.object((*lines)[k], lpath, {"product", "term"})
          || !r.enumeration((*lines)[k], lpath, "product", line.product)
          || !r.enumeration((*lines)[k], lpath, "term", line.term))
        return r.take_error();
      (line.product == product::ultimate ? ultimate : support_lines)++;
      s.lines.push_back(line);
    }
    if (ultimate != 1)
      r.fail(path + ".lines", "needs exactly one ultimate line");
    else if ((support_lines > 0) != (s.support == support::with))
      r.fail(path + ".support",
             "'" + to_string(s.support) + "' does not match its "
               + std::to_string(support_lines) + " support line(s)");
    else if (support_lines > 1)
      r.fail(path + ".lines", "at most one support line");
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
  auto em = r.member(doc, "", "emergency");
  if (!em || !r.object(*em, "emergency", {"window", "default_days", "max_days"})
      || !r.dur(*em, "emergency", "window", out.emergency_window)
      || !r.uint(*em, "emergency", "default_days", out.emergency_default_days,
                 1, 365)
      || !r.uint(*em, "emergency", "max_days", out.emergency_max_days, 1, 365))
    return r.take_error();
  if (out.emergency_default_days > out.emergency_max_days) {
    r.fail("emergency.default_days",
           std::to_string(out.emergency_default_days)
             + " exceeds emergency.max_days ("
             + std::to_string(out.emergency_max_days) + ")");
    return r.take_error();
  }
  auto ren = r.member(doc, "", "renewal");
  std::vector<std::string> offsets;
  if (!ren || !r.object(*ren, "renewal", {"reminder_offsets"})
      || !r.strings(*ren, "renewal", "reminder_offsets", offsets))
    return r.take_error();
  out.reminder_offsets.clear();
  for (size_t i = 0; i < offsets.size(); ++i) {
    auto path = "renewal.reminder_offsets[" + std::to_string(i) + "]";
    duration d;
    if (!r.parse_dur(path, offsets[i], d))
      return r.take_error();
    for (auto prev : out.reminder_offsets)
      if (prev == d) {
        r.fail(path, "'" + offsets[i] + "' appears twice");
        return r.take_error();
      }
    out.reminder_offsets.push_back(d);
  }
  std::sort(out.reminder_offsets.rbegin(), out.reminder_offsets.rend());
  auto ver = r.member(doc, "", "verification");
  if (!ver || !r.object(*ver, "verification", {"timeout", "retries"})
      || !r.dur(*ver, "verification", "timeout", out.verification_timeout)
      || !r.uint(*ver, "verification", "retries", out.verification_retries, 0,
                 10))
    return r.take_error();
  auto rev = r.member(doc, "", "review");
  if (!rev || !r.object(*rev, "review", {"answer_business_days"})
      || !r.uint(*rev, "review", "answer_business_days",
                 out.review_business_days, 1, 60))
    return r.take_error();
  auto cp = r.member(doc, "", "coupons");
  if (!cp || !r.object(*cp, "coupons", {"low_stock_runway_days", "forecast"})
      || !r.uint(*cp, "coupons", "low_stock_runway_days",
                 out.low_stock_runway_days, 1, 3650))
    return r.take_error();
  auto fc = r.member(*cp, "coupons", "forecast");
  if (!fc || !r.object(*fc, "coupons.forecast", {"edu", "oss", "startups"}))
    return r.take_error();
  out.forecasts.clear();
  for (auto p : {program::edu, program::oss, program::startups}) {
    auto name = to_string(p);
    auto path = "coupons.forecast." + name;
    auto j = r.member(*fc, "coupons.forecast", name.c_str());
    coupon_forecast f;
    f.low_stock_runway_days = out.low_stock_runway_days;
    if (!j
        || !r.object(*j, path,
                     {"applications_per_quarter", "expected_renewals",
                      "reverification_factor"})
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
  if (!r.load(doc)
      || !r.object(doc, "",
                   {"trade_control_countries", "manual_review_countries",
                    "edu", "oss"})
      || !r.countries(doc, "", "trade_control_countries",
                      out.trade_control_countries)
      || !r.countries(doc, "", "manual_review_countries",
                      out.manual_review_countries))
    return r.take_error();
  auto edu = r.member(doc, "", "edu");
  if (!edu || !r.object(*edu, "edu", {"k12_on_hold"})
      || !r.boolean(*edu, "edu", "k12_on_hold", out.edu_k12_on_hold))
    return r.take_error();
  auto oss = r.member(doc, "", "oss");
  std::vector<std::string> licenses;
  if (!oss
      || !r.object(*oss, "oss",
                   {"min_public_projects", "max_private_projects",
                    "attestation_required", "self_managed_needs_reason",
                    "osi_licenses"})
      || !r.uint(*oss, "oss", "min_public_projects",
                 out.oss_min_public_projects, 0, 1000)
      || !r.uint(*oss, "oss", "max_private_projects",
                 out.oss_max_private_projects, 0, 1000)
      || !r.boolean(*oss, "oss", "attestation_required",
                    out.oss_attestation_required)
      || !r.boolean(*oss, "oss", "self_managed_needs_reason",
                    out.oss_self_managed_needs_reason)
      || !r.strings(*oss, "oss", "osi_licenses", licenses))
    return r.take_error();
  if (licenses.empty()) {
    r.fail("oss.osi_licenses", "the list is empty");
    return r.take_error();
  }
  out.osi_licenses = std::set<std::string>(licenses.begin(), licenses.end());
  for (auto& c : out.trade_control_countries)
    if (out.manual_review_countries.count(c)) {
      r.fail("manual_review_countries",
             c + " is also a trade-control country");
      return r.take_error();
    }
  return caf::none;
}

caf::error load_programs(const std::string& file, settings& out) {
  json_reader r{file};
  json doc;
  if (!r.load(doc) || !r.object(doc, "", {"programs", "channels"}))
    return r.take_error();
  auto ps = r.member(doc, "", "programs");
  if (!ps || !r.object(*ps, "programs", {"edu", "oss", "startups"}))
    return r.take_error();
  out.programs.clear();
  for (auto p : {program::edu, program::oss, program::startups}) {
    auto name = to_string(p);
    auto path = "programs." + name;
    auto j = r.member(*ps, "programs", name.c_str());
    program_info info;
    info.id = p;
    if (!j
        || !r.object(*j, path,
                     {"name", "inbox", "checkout_url", "verification_channel",
                      "support_macro"})
        || !r.str(*j, path, "name", info.name)
        || !r.str(*j, path, "inbox", info.inbox)
        || !r.str(*j, path, "checkout_url", info.checkout_url)
        || !r.enumeration(*j, path, "verification_channel",
                          info.verification_channel)
        || !r.str(*j, path, "support_macro", info.support_macro))
      return r.take_error();
    if (info.inbox.find('@') == std::string::npos)
      r.fail(path + ".inbox", "'" + info.inbox + "' is not an email address");
    if (info.checkout_url.rfind("https://", 0) != 0)
      r.fail(path + ".checkout_url", "must be an https:// URL");
    if (!r.ok())
      return r.take_error();
    out.programs[p] = info;
  }
  auto ch = r.member(doc, "", "channels");
  if (!ch || !r.object(*ch, "channels", {"community_programs", "licensing"})
      || !r.str(*ch, "channels", "community_programs", out.community_channel)
      || !r.str(*ch, "channels", "licensing", out.licensing_channel))
    return r.take_error();
  return caf::none;
}

// -- tenured.conf ---------------------------------------------------------------

/// Reads the `tenure` group of a parsed CAF config, type-checking each value
/// and refusing unknown keys.
class conf_reader {
public:
  conf_reader(std::string file, const caf::settings& content)
    : file_(std::move(file)), content_(content) {
    // nop
  }

  bool fail(const std::string& key, const std::string& what) {
    if (!err_)
      err_ = make_error(errc::config_invalid,
                        file_ + ": tenure." + key + ": " + what);
    return false;
  }

  const caf::config_value* find(const std::string& key) {
    known_.insert(key);
    return caf::get_if(&content_, "tenure." + key);
  }

  void str(const std::string& key, std::string& out) {
    if (auto v = find(key)) {
      if (auto s = caf::get_if<std::string>(v); s && !s->empty())
        out = *s;
      else
        fail(key, "expected a non-empty \"string\"");
    }
  }

  template <class T>
  void uint(const std::string& key, T& out, int64_t min, int64_t max) {
    if (auto v = find(key)) {
      auto i = caf::get_if<caf::config_value::integer>(v);
      if (!i)
        fail(key, "expected a whole number");
      else if (*i < min || *i > max)
        fail(key, std::to_string(*i) + " is outside " + std::to_string(min)
                    + ".." + std::to_string(max));
      else
        out = static_cast<T>(*i);
    }
  }

  void boolean(const std::string& key, bool& out) {
    if (auto v = find(key)) {
      if (auto b = caf::get_if<bool>(v))
        out = *b;
      else
        fail(key, "expected true or false");
    }
  }

  void real(const std::string& key, double& out) {
    if (auto v = find(key)) {
      if (auto d = caf::get_if<double>(v))
        out = *d;
      else if (auto i = caf::get_if<caf::config_value::integer>(v))
        out = static_cast<double>(*i);
      else
        fail(key, "expected a number");
    }
  }

  void dur(const std::string& key, duration& out) {
    std::string text;
    str(key, text);
    if (text.empty())
      return;
    auto d = parse_duration(text);
    if (!d || d->count() == 0)
      fail(key, "'" + text + "' is not a positive duration such as \"5min\"");
    else
      out = *d;
  }

  /// Every key under `tenure` must have been read.
  void check_unknown() {
    auto top = caf::get_if<caf::settings>(&content_, "tenure");
    if (!top)
      return;
    walk(*top, "");
  }

  caf::error take_error() {
    return std::move(err_);
  }

private:
  void walk(const caf::settings& dict, const std::string& prefix) {
    for (auto& [k, v] : dict) {
      auto key = prefix.empty() ? std::string{k} : prefix + "." + k;
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

} // namespace

caf::expected<settings> load_data_files(settings base,
                                        const std::string& catalog_path,
                                        const std::string& policies_path,
                                        const std::string& eligibility_path,
                                        const std::string& programs_path) {
  if (auto err = load_catalog(catalog_path, base.skus))
    return err;
  if (auto err = load_policies(policies_path, base.policy))
    return err;
  if (auto err = load_eligibility(eligibility_path, base.eligibility))
    return err;
  if (auto err = load_programs(programs_path, base))
    return err;
  return base;
}

caf::expected<settings> load_settings(caf::actor_system_config& cfg,
                                      const std::string& conf_path) {
  // CAF silently ignores a missing file; we do not.
  std::ifstream probe{conf_path};
  if (!probe)
    return make_error(errc::config_invalid,
                      conf_path + ": cannot open the configuration file");
  if (auto err = cfg.parse(caf::actor_system_config::string_list{},
                           conf_path.c_str()))
    return make_error(errc::config_invalid,
                      conf_path + ": " + caf::to_string(err));
  settings s;
  conf_reader r{conf_path, cfg.content};
  r.str("node.data-dir", s.node.data_dir);
  r.str("node.host", s.node.host);
  r.uint("node.http-port", s.node.http_port, 0, 65535);
  r.uint("node.shell-port", s.node.shell_port, 0, 65535);
  r.str("node.clock", s.node.clock);
  r.real("node.clock-days-per-second", s.node.clock_days_per_second);
  r.str("node.log-level", s.node.log_level);
  r.boolean("store.sync", s.store.sync);
  r.uint("store.max-group-commits", s.store.max_group_commits, 1, 1'000'000);
  r.uint("store.max-group-bytes", s.store.max_group_bytes, 4096,
         int64_t{1} << 30);
  size_t cache_mib = s.store.block_cache_bytes >> 20;
  r.uint("store.block-cache-mib", cache_mib, 1, 1 << 20);
  s.store.block_cache_bytes = cache_mib << 20;
  r.dur("registry.idle-passivation", s.registry.idle_passivation);
  std::string data[4] = {"catalog.json", "policies.json", "eligibility.json",
                         "programs.json"};
  r.str("data.catalog", data[0]);
  r.str("data.policies", data[1]);
  r.str("data.eligibility", data[2]);
  r.str("data.programs", data[3]);
  r.check_unknown();
  if (auto err = r.take_error())
    return err;
  if (s.node.clock != "system" && s.node.clock != "manual"
      && s.node.clock != "accelerated")
    return make_error(errc::config_invalid,
                      conf_path + ": tenure.node.clock: '" + s.node.clock
                        + "' is not one of system, manual, accelerated");
  if (!(s.node.clock_days_per_second > 0))
    return make_error(errc::config_invalid,
                      conf_path
                        + ": tenure.node.clock-days-per-second: must be > 0");
  // Data files resolve against the directory of the configuration file.
  auto dir = std::filesystem::path{conf_path}.parent_path();
  for (auto& d : data)
    if (std::filesystem::path{d}.is_relative())
      d = (dir / d).string();
  return load_data_files(std::move(s), data[0], data[1], data[2], data[3]);
}

} // namespace tenure
