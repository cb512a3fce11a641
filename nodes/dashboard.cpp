#include "nodes/dashboard.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "messages/codec.hpp"
#include "messages/errc.hpp"
#include "messages/records.hpp"
#include "nodes/cluster.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"

namespace tenure {

namespace {

using json = nlohmann::json;

constexpr int64_t day_ms = 86'400'000;
constexpr std::array<program, 3> programs{program::edu, program::oss,
                                          program::startups};

// -- days ---------------------------------------------------------------------

/// Unix ms of the UTC midnight at or before `t`.
int64_t day_start(time_point t) {
  auto ms = to_unix_ms(t);
  auto d = ms / day_ms;
  if (ms % day_ms < 0)
    --d;
  return d * day_ms;
}

/// `2026-11-23` of a day's start.
std::string date_of(int64_t start_ms) {
  return to_iso8601(from_unix_ms(start_ms)).substr(0, 10);
}

/// Index of the day of `t` among `n` days from `first` (Unix ms of a
/// midnight); -1 outside.
int day_index(time_point t, int64_t first, int n) {
  auto ms = to_unix_ms(t);
  if (ms < first)
    return -1;
  auto i = (ms - first) / day_ms;
  return i < n ? static_cast<int>(i) : -1;
}

/// `x` rounded to one decimal.
double round1(double x) {
  return std::round(x * 10) / 10;
}

std::string name_of(program p) {
  return std::string{enum_names<program>::values[static_cast<size_t>(p)]};
}

template <class E>
json zero_counts() {
  json out = json::object();
  for (auto& n : enum_names<E>::values)
    out[std::string{n}] = 0;
  return out;
}

template <class E>
std::string enum_name(E x) {
  return std::string{enum_names<E>::values[static_cast<size_t>(x)]};
}

/// Reads the snapshots of `prefix` in key order, at most `limit`, handing
/// each decoded record to `f`; sets `truncated` when more were left.
template <class T, class F>
caf::error each_snapshot(const storage::store& st, std::string_view prefix,
                         size_t limit, bool& truncated, F f) {
  std::string after;
  size_t read = 0;
  truncated = false;
  for (;;) {
    auto want = std::min<size_t>(4096, limit - read + 1);
    auto rows = st.scan(storage::cf::snapshots, prefix, want, after);
    if (!rows)
      return std::move(rows.error());
    for (auto& row : *rows) {
      if (read == limit) {
        truncated = true;
        return caf::none;
      }
      ++read;
      after = row.key;
      if (row.value.size() < 8)
        return make_error(errc::corrupt_data, "snapshot of " + row.key);
      auto x = decode<T>(std::string_view{row.value}.substr(8));
      if (!x)
        return std::move(x.error());
      f(*x);
    }
    if (rows->size() < want)
      return caf::none;
  }
}

// -- the parts
// ------------------------------------------------------------------

caf::error applications_part(const dashboard_scope& s, json& out,
                             json& truncated) {
  json progs = json::object();
  for (auto p : programs)
    progs[name_of(p)] = json{{"total", 0},
                             {"by_state", zero_counts<application_state>()},
                             {"by_stage", zero_counts<stage>()}};
  auto today = day_start(s.now);
  auto first = today - (s.days - 1) * day_ms;
  json by_day = json::array();
  for (int i = 0; i < s.days; ++i) {
    json d{{"date", date_of(first + i * day_ms)}};
    for (auto p : programs)
      d[name_of(p)] = 0;
    by_day.push_back(std::move(d));
  }
  uint64_t total = 0;
  bool cut = false;
  auto err = each_snapshot<application>(
    *s.store, "app_", s.limits.applications, cut, [&](const application& a) {
      if (a.program == program::none)
        return;
      auto& pr = progs[name_of(a.program)];
      ++total;
      pr["total"] = pr["total"].get<uint64_t>() + 1;
      auto& st = pr["by_state"][enum_name(a.state)];
      st = st.get<uint64_t>() + 1;
      auto& sg = pr["by_stage"][enum_name(a.stage)];
      sg = sg.get<uint64_t>() + 1;
      // A submission after `now` (a clock set back by hand) is not shown.
      auto i = day_index(a.submitted_at, first, s.days);
      if (i >= 0 && a.submitted_at <= s.now) {
        auto& n = by_day[static_cast<size_t>(i)][name_of(a.program)];
        n = n.get<uint64_t>() + 1;
      }
    });
  if (err)
    return err;
  if (cut)
    truncated.push_back("applications");
  out = json{{"total", total}, {"programs", progs}, {"by_day", by_day}};
  return caf::none;
}

/// Runway in days at the average daily bookings, or null without bookings.
json runway(uint64_t available, uint64_t bookings) {
  if (bookings == 0)
    return nullptr;
  return round1(static_cast<double>(available) * dashboard_booking_days
                / static_cast<double>(bookings));
}

void finish_coupon(json& c) {
  auto bookings = c["bookings_30d"].get<uint64_t>();
  // Two decimals: a pool booked a few times a month still shows a rate.
  c["daily_bookings"]
    = std::round(static_cast<double>(bookings) * 100 / dashboard_booking_days)
      / 100;
  c["runway_days"] = runway(c["available"].get<uint64_t>(), bookings);
}

caf::error coupons_part(const dashboard_scope& s, json& out, json& truncated) {
  out = json::array();
  auto since = s.now - std::chrono::hours(24 * dashboard_booking_days);
  for (auto p : programs) {
    if (!s.pools[static_cast<size_t>(p)])
      continue;
    auto prefix = storage::coupon_key(name_of(p), "");
    uint64_t counts[3] = {0, 0, 0};
    uint64_t bookings = 0;
    size_t read = 0;
    bool cut = false;
    std::string after;
    for (;;) {
      auto want = std::min<size_t>(4096, s.limits.coupons - read + 1);
      auto rows = s.store->scan(storage::cf::coupons, prefix, want, after);
      if (!rows)
        return std::move(rows.error());
      for (auto& row : *rows) {
        if (read == s.limits.coupons) {
          cut = true;
          break;
        }
        ++read;
        after = row.key;
        // Waiting applications share the family under '~' names.
        if (row.key.size() > prefix.size() && row.key[prefix.size()] == '~')
          continue;
        auto c = decode<coupon>(row.value);
        if (!c)
          return std::move(c.error());
        ++counts[static_cast<size_t>(c->state)];
        if (c->state != coupon_state::available && c->reserved_at > since
            && c->reserved_at <= s.now)
          ++bookings;
      }
      if (cut || rows->size() < want)
        break;
    }
    if (cut)
      truncated.push_back("coupons." + name_of(p));
    json c{{"program", name_of(p)},
           {"available", counts[0]},
           {"reserved", counts[1]},
           {"redeemed", counts[2]},
           {"bookings_30d", bookings}};
    finish_coupon(c);
    out.push_back(std::move(c));
  }
  return caf::none;
}

caf::error timers_part(const dashboard_scope& s, json& out, json& truncated) {
  auto today = day_start(s.now);
  auto until = from_unix_ms(today + dashboard_timer_days * day_ms);
  auto ts = s.store->due_timers(until, s.limits.timers + 1);
  if (!ts)
    return std::move(ts.error());
  if (ts->size() > s.limits.timers) {
    ts->resize(s.limits.timers);
    truncated.push_back("timers");
  }
  json by_day = json::array();
  for (int i = 0; i < dashboard_timer_days; ++i)
    by_day.push_back(json{{"date", date_of(today + i * day_ms)},
                          {"total", 0},
                          {"kinds", json::object()}});
  json by_kind = json::object();
  uint64_t overdue = 0;
  for (auto& t : *ts) {
    if (t.due < s.now)
      ++overdue;
    // Overdue timers from before today count on today.
    auto i = std::max(0, day_index(t.due, today, dashboard_timer_days));
    auto& d = by_day[static_cast<size_t>(i)];
    d["total"] = d["total"].get<uint64_t>() + 1;
    d["kinds"][t.kind] = d["kinds"].value(t.kind, uint64_t{0}) + 1;
    by_kind[t.kind] = by_kind.value(t.kind, uint64_t{0}) + 1;
  }
  out = json{{"total", ts->size()},
             {"overdue", overdue},
             {"by_kind", by_kind},
             {"by_day", by_day}};
  return caf::none;
}

/// Days from `now` to `deadline`, one decimal; null without a deadline.
json days_left(time_point deadline, time_point now) {
  if (to_unix_ms(deadline) == 0)
    return nullptr;
  return round1(static_cast<double>(to_unix_ms(deadline) - to_unix_ms(now))
                / day_ms);
}

caf::error cases_part(const dashboard_scope& s, json& out, json& truncated) {
  // Read-scope data: ids, times and flags; the reason (free text about a
  // member) stays behind the support scope of /v1/compliance-cases.
  json items = json::array();
  uint64_t open = 0;
  uint64_t overdue = 0;
  bool cut = false;
  auto err = each_snapshot<compliance_case>(
    *s.store, "case_", s.limits.cases, cut, [&](const compliance_case& x) {
      if (x.state != case_state::open)
        return;
      ++open;
      bool has_deadline = to_unix_ms(x.deadline) != 0;
      if (has_deadline && x.deadline < s.now)
        ++overdue;
      items.push_back(
        json{{"id", x.id.str()},
             {"subscription", x.subscription.str()},
             {"curable", x.curable},
             {"opened_at", to_iso8601(x.opened_at)},
             {"deadline",
              has_deadline ? json(to_iso8601(x.deadline)) : json(nullptr)},
             {"days_left", days_left(x.deadline, s.now)}});
    });
  if (err)
    return err;
  if (cut)
    truncated.push_back("compliance_cases");
  out = json{{"open", open}, {"overdue", overdue}, {"items", items}};
  return caf::none;
}

caf::error licenses_part(const dashboard_scope& s, json& out, json& truncated) {
  // Without the recipient's email, the ticket and the key: those stay
  // behind the support scope of /v1/emergency-licenses.
  auto today = day_start(s.now);
  auto first = today - (dashboard_license_days - 1) * day_ms;
  json by_day = json::array();
  for (int i = 0; i < dashboard_license_days; ++i)
    by_day.push_back(
      json{{"date", date_of(first + i * day_ms)}, {"count", 0}, {"users", 0}});
  json items = json::array();
  uint64_t count = 0;
  uint64_t users = 0;
  bool cut = false;
  auto err = each_snapshot<emergency_license>(
    *s.store, "em_", s.limits.licenses, cut, [&](const emergency_license& l) {
      auto i = day_index(l.issued_at, first, dashboard_license_days);
      if (i < 0 || l.issued_at > s.now)
        return;
      ++count;
      users += l.users;
      auto& d = by_day[static_cast<size_t>(i)];
      d["count"] = d["count"].get<uint64_t>() + 1;
      d["users"] = d["users"].get<uint64_t>() + l.users;
      items.push_back(json{{"id", l.id.str()},
                           {"subscription", l.subscription.str()},
                           {"users", l.users},
                           {"days", l.days},
                           {"issued_at", to_iso8601(l.issued_at)},
                           {"expires_at", to_iso8601(l.expires_at)},
                           {"expired", l.expired || l.expires_at <= s.now}});
    });
  if (err)
    return err;
  if (cut)
    truncated.push_back("emergency_licenses");
  out = json{
    {"count", count}, {"users", users}, {"by_day", by_day}, {"items", items}};
  return caf::none;
}

// -- merging ------------------------------------------------------------------

/// `a += b` for counts: numbers add, objects add key by key, arrays of
/// days add element by element (every member buckets the same days).
void add_counts(json& a, const json& b) {
  // Counts are never negative; a zero written as a literal is a signed
  // number, a count parsed from a member's answer an unsigned one.
  if (a.is_number_integer() && b.is_number_integer()) {
    a = a.get<uint64_t>() + b.get<uint64_t>();
  } else if (a.is_object() && b.is_object()) {
    for (auto& [k, v] : b.items()) {
      if (k == "date")
        continue;
      if (a.contains(k))
        add_counts(a[k], v);
      else
        a[k] = v;
    }
  } else if (a.is_array() && b.is_array() && a.size() == b.size()) {
    for (size_t i = 0; i < a.size(); ++i)
      add_counts(a[i], b[i]);
  } else if (a.is_null()) {
    a = b;
  }
}

std::string text(const json& x, const char* key) {
  auto i = x.find(key);
  return i != x.end() && i->is_string() ? i->get<std::string>() : std::string{};
}

/// Sorts and cuts an item list; true when it was cut.
template <class Less>
bool order_items(json& items, size_t most, Less less) {
  std::vector<json> v(items.begin(), items.end());
  std::sort(v.begin(), v.end(), less);
  bool cut = v.size() > most;
  if (cut)
    v.resize(most);
  items = json(v);
  return cut;
}

bool case_less(const json& x, const json& y) {
  // By deadline (none last), then id: the operators' order.
  auto dx = text(x, "deadline");
  auto dy = text(y, "deadline");
  if (dx.empty() != dy.empty())
    return dy.empty();
  if (dx != dy)
    return dx < dy;
  return text(x, "id") < text(y, "id");
}

bool license_less(const json& x, const json& y) {
  // Newest first.
  auto ix = text(x, "issued_at");
  auto iy = text(y, "issued_at");
  if (ix != iy)
    return ix > iy;
  return text(x, "id") > text(y, "id");
}

json error_body(const std::string& code, const std::string& message) {
  return json{{"error", {{"code", code}, {"message", message}}}};
}

api_response answer(int status, const json& body) {
  api_response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  // A live view: never from a cache.
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

api_response error_answer(const caf::error& err) {
  if (is_tenure_error(err)) {
    auto code = error_code(err);
    int status = code == "corrupt_data" ? 500 : 503;
    return answer(status, error_body(code, error_message(err)));
  }
  return answer(500, error_body("internal", "internal error; see the node's "
                                            "log"));
}

} // namespace

caf::expected<json> dashboard_part(const dashboard_scope& s) {
  if (!s.store)
    return make_error(errc::unavailable, "no store");
  json truncated = json::array();
  json apps;
  json coupons;
  json timers;
  json cases;
  json licenses;
  if (auto err = applications_part(s, apps, truncated))
    return err;
  if (auto err = coupons_part(s, coupons, truncated))
    return err;
  if (auto err = timers_part(s, timers, truncated))
    return err;
  if (auto err = cases_part(s, cases, truncated))
    return err;
  if (auto err = licenses_part(s, licenses, truncated))
    return err;
  json out{{"now", to_iso8601(s.now)},
           {"days", s.days},
           {"applications", std::move(apps)},
           {"coupons", std::move(coupons)},
           {"timers", std::move(timers)},
           {"compliance_cases", std::move(cases)},
           {"emergency_licenses", std::move(licenses)},
           {"limits",
            {{"applications", s.limits.applications},
             {"compliance_cases", s.limits.cases},
             {"emergency_licenses", s.limits.licenses},
             {"coupons", s.limits.coupons},
             {"timers", s.limits.timers},
             {"items", s.limits.items},
             {"truncated", std::move(truncated)}}}};
  // One member's lists are cut here already; the merge cuts the union.
  if (order_items(out["compliance_cases"]["items"], s.limits.items, case_less))
    out["limits"]["truncated"].push_back("compliance_cases.items");
  if (order_items(out["emergency_licenses"]["items"], s.limits.items,
                  license_less))
    out["limits"]["truncated"].push_back("emergency_licenses.items");
  return out;
}

json merge_dashboard(const std::vector<json>& parts,
                     const dashboard_limits& limits) {
  if (parts.empty())
    return json::object();
  json out = parts.front();
  std::vector<std::string> truncated;
  auto note = [&](const json& part) {
    for (auto& t : part["limits"].value("truncated", json::array()))
      if (t.is_string()
          && std::find(truncated.begin(), truncated.end(), t)
               == truncated.end())
        truncated.push_back(t.get<std::string>());
  };
  note(out);
  for (size_t k = 1; k < parts.size(); ++k) {
    auto& p = parts[k];
    note(p);
    add_counts(out["applications"], p["applications"]);
    add_counts(out["timers"], p["timers"]);
    for (auto* key : {"compliance_cases", "emergency_licenses"}) {
      auto& mine = out[key];
      for (auto& x : p[key]["items"])
        mine["items"].push_back(x);
      json theirs = p[key];
      theirs.erase("items");
      add_counts(mine, theirs);
    }
    // Each pool lives on one member; should two members answer for one
    // program (a move in progress), their rows add up.
    for (auto& c : p["coupons"]) {
      auto prog = text(c, "program");
      auto i = std::find_if(
        out["coupons"].begin(), out["coupons"].end(),
        [&](const json& x) { return text(x, "program") == prog; });
      if (i == out["coupons"].end()) {
        out["coupons"].push_back(c);
      } else {
        for (auto* n : {"available", "reserved", "redeemed", "bookings_30d"})
          (*i)[n] = (*i)[n].get<uint64_t>() + c[n].get<uint64_t>();
      }
    }
  }
  auto& coupons = out["coupons"];
  for (auto& c : coupons)
    finish_coupon(c);
  std::vector<json> cs(coupons.begin(), coupons.end());
  auto rank = [](const json& c) {
    auto p = parse_enum<program>(text(c, "program"));
    return p ? static_cast<int>(*p) : 99;
  };
  std::sort(cs.begin(), cs.end(),
            [&](const json& x, const json& y) { return rank(x) < rank(y); });
  coupons = json(cs);
  if (order_items(out["compliance_cases"]["items"], limits.items, case_less))
    truncated.push_back("compliance_cases.items");
  if (order_items(out["emergency_licenses"]["items"], limits.items,
                  license_less))
    truncated.push_back("emergency_licenses.items");
  std::sort(truncated.begin(), truncated.end());
  truncated.erase(std::unique(truncated.begin(), truncated.end()),
                  truncated.end());
  out["limits"]["truncated"] = truncated;
  return out;
}

api_response serve_dashboard(const api_request& req, const api_deps& deps,
                             const std::function<json()>& outreach,
                             const dashboard_limits& limits) {
  if (!deps.store || !deps.clock)
    return answer(503, error_body("unavailable", "the node is not ready"));
  dashboard_scope s;
  s.store = deps.store;
  s.limits = limits;
  s.now = deps.clock->now();
  if (auto i = req.query.find("days"); i != req.query.end()) {
    char* end = nullptr;
    auto v = std::strtol(i->second.c_str(), &end, 10);
    if (i->second.empty() || *end != '\0' || v < 1 || v > dashboard_max_days)
      return answer(422, error_body("invalid_argument",
                                    fmt::format("days: a number from 1 to {}",
                                                dashboard_max_days)));
    s.days = static_cast<int>(v);
  }
  if (deps.cluster)
    for (auto p : programs)
      s.pools[static_cast<size_t>(p)]
        = deps.cluster->members().pool_owner(p).name == deps.cluster->self();
  if (req.local_only) {
    // One member's part: at the asking member's time.
    if (auto i = req.query.find("now"); i != req.query.end())
      if (auto t = parse_iso8601(i->second))
        s.now = *t;
    auto part = dashboard_part(s);
    if (!part)
      return error_answer(part.error());
    return answer(200, *part);
  }
  std::vector<json> parts;
  json unavailable = json::array();
  if (!deps.cluster) {
    auto part = dashboard_part(s);
    if (!part)
      return error_answer(part.error());
    parts.push_back(std::move(*part));
  } else {
    auto& cl = *deps.cluster;
    api_request part = req;
    part.local_only = true;
    part.query["now"] = to_iso8601(s.now);
    part.query["days"] = std::to_string(s.days);
    std::vector<std::string> peers;
    for (auto& m : cl.members().members())
      if (m.name != cl.self())
        peers.push_back(m.name);
    auto remote = std::async(std::launch::async,
                             [&] { return cl.forward_all(peers, part); });
    auto mine = dashboard_part(s);
    auto theirs = remote.get();
    if (!mine)
      return error_answer(mine.error());
    parts.push_back(std::move(*mine));
    for (size_t k = 0; k < peers.size(); ++k) {
      auto& res = theirs[k];
      auto body = json::parse(res.body, nullptr, false);
      if (res.status == 200 && body.is_object()
          && body.contains("applications")) {
        parts.push_back(std::move(body));
        continue;
      }
      // Down, not answering in time, or failing: its part is missing, and
      // the page says so.
      unavailable.push_back(peers[k]);
    }
  }
  auto out = merge_dashboard(parts, limits);
  out["outreach"] = outreach ? outreach() : json{{"programs", json::array()}};
  out["unavailable"] = std::move(unavailable);
  return answer(200, out);
}

} // namespace tenure
