#include "nodes/api.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <deque>
#include <future>
#include <mutex>
#include <condition_variable>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <fmt/format.h>

#include "actors/application_actor.hpp"
#include "actors/atoms.hpp"
#include "actors/json_keys.hpp"
#include "actors/lifecycle.hpp"
#include "actors/log.hpp"
#include "actors/outbox.hpp"
#include "actors/outreach_desk.hpp"
#include "actors/supervisors.hpp"
#include "actors/support_routing.hpp"
#include "actors/verification.hpp"
#include "messages/codec.hpp"
#include "messages/commands.hpp"
#include "nodes/auth.hpp"
#include "nodes/cluster.hpp"
#include "nodes/cluster_move.hpp"
#include "nodes/dashboard.hpp"
#include "nodes/json_codec.hpp"
#include "nodes/signature.hpp"
#include "nodes/tracking.hpp"
#include "storage/store.hpp"

namespace tenure {

namespace {

template <class T>
struct is_tuple : std::false_type {};

template <class... Ts>
struct is_tuple<std::tuple<Ts...>> : std::true_type {};

using json = nlohmann::json;
using json_codec::to_json;

// -- helpers ------------------------------------------------------------------

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string url_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0
               && hex_value(in[i + 2]) >= 0) {
      out
        += static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    auto j = path.find('/', i);
    if (j == std::string_view::npos)
      j = path.size();
    out.push_back(url_decode(path.substr(i, j - i)));
    i = j;
  }
  return out;
}

/// The HTTP status of an error (see docs/openapi.yaml, "Errors").
int status_of(const caf::error& err) {
  if (!is_tenure_error(err)) {
    if (err == caf::sec::request_timeout)
      return 504;
    if (err == caf::sec::request_receiver_down)
      return 503;
    return 500;
  }
  switch (static_cast<errc>(err.code())) {
    case errc::invalid_argument:
    case errc::ineligible:
    case errc::code_invalid:
    case errc::sku_mismatch:
    case errc::refused:
      return 422;
    case errc::not_found:
      return 404;
    case errc::already_exists:
    case errc::illegal_transition:
    case errc::code_already_used:
    case errc::pool_empty:
    case errc::duplicate_subscription:
    case errc::conflict:
      return 409;
    case errc::too_large:
      return 413;
    case errc::unauthorized:
      return 401;
    case errc::forbidden:
      return 403;
    case errc::timeout:
      return 504;
    case errc::unavailable:
      return 503;
    default:
      return 500;
  }
}

api_response json_response(int status, const json& body) {
  api_response r;
  r.status = status;
  // Replace, not throw: a string that is not valid UTF-8 (an unknown key
  // cut inside a character, say) must not turn an answer into a 500.
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

api_response error_response(int status, std::string code, std::string message) {
  return json_response(status, json{{"error",
                                     {{"code", std::move(code)},
                                      {"message", std::move(message)}}}});
}

api_response error_response(const caf::error& err) {
  auto status = status_of(err);
  if (is_tenure_error(err))
    return error_response(status, error_code(err), error_message(err));
  // CAF's own errors may carry the message that failed, records with
  // personal data included: give the code only.
  if (status == 504)
    return error_response(status, "timeout",
                          "the node did not answer in time; retry");
  if (status == 503)
    return error_response(status, "unavailable",
                          "the node is not ready; retry");
  return error_response(status, "internal",
                        "internal error " + error_code(err)
                          + "; see the node's log");
}

/// `line L, column C` of byte `pos` in `text` (1-based).
std::string where(std::string_view text, size_t pos) {
  size_t line = 1;
  size_t col = 1;
  for (size_t i = 0; i < pos && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return fmt::format("line {}, column {}", line, col);
}

/// Deepest nesting of `text`'s arrays and objects, outside strings.
size_t nesting_depth(std::string_view text) {
  size_t depth = 0;
  size_t deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

constexpr size_t max_json_depth = 16;
constexpr size_t max_json_bytes = size_t{1} << 20;
constexpr size_t max_idempotency_key = 255;
constexpr size_t max_list_limit = 500;
constexpr size_t default_list_limit = 50;
/// Rows a listing reads for one page at most; a page may come back short
/// with a cursor when the filter matches little, so no request scans a
/// whole family.
constexpr size_t max_rows_per_page = 20'000;

// -- metrics ------------------------------------------------------------------

constexpr std::array<double, 12> latency_buckets{
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};

struct route_metrics {
  std::array<uint64_t, latency_buckets.size()> buckets{};
  uint64_t count = 0;
  double sum = 0;
};

} // namespace

void split_target(const std::string& target, std::string& path,
                  std::map<std::string, std::string>& query) {
  auto q = target.find('?');
  path = target.substr(0, q);
  query.clear();
  if (q == std::string::npos)
    return;
  std::string_view rest{target};
  rest.remove_prefix(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto part = rest.substr(0, amp);
    rest.remove_prefix(amp == std::string_view::npos ? rest.size() : amp + 1);
    if (part.empty())
      continue;
    auto eq = part.find('=');
    auto key = url_decode(part.substr(0, eq));
    auto value = eq == std::string_view::npos ? std::string{}
                                              : url_decode(part.substr(eq + 1));
    query[key] = value;
  }
}

// -- the router ---------------------------------------------------------------

struct api::impl {
  /// One request being served.
  struct call {
    const api_request& req;
    std::vector<std::string> params;
    const api_key* key = nullptr;
    json body;
    /// The id an entity this request creates gets (see `idempotent`).
    std::string preassigned;

    const std::string& param(size_t i) const {
      return params.at(i);
    }

    /// Who did it, for records: the body's field when given, else the
    /// token's name.
    std::string by(const char* field) const {
      if (body.is_object()) {
        auto i = body.find(field);
        if (i != body.end() && i->is_string()
            && !i->get_ref<const std::string&>().empty())
          return i->get<std::string>();
      }
      return key ? key->name : std::string{"system"};
    }
  };

  using handler = api_response (impl::*)(call&);

  struct route {
    const char* method;
    /// Path pattern; `{}` segments are parameters.
    std::vector<std::string> pattern;
    /// The scope a token needs; `none` for probes, `signature` for the
    /// verifier callback.
    const char* scope;
    handler fn;
    /// The pattern as text, the `route` label of metrics.
    std::string label;
  };

  api_deps deps;
  std::vector<route> routes;
  log::logger log{"gateway"};

  // -- idempotency ------------------------------------------------------------
  struct flight;
  std::mutex idem_mtx;
  /// Requests with an Idempotency-Key in progress, by row key.
  std::unordered_map<std::string, std::shared_ptr<flight>> idem_flights;
  std::atomic<uint64_t> idem_writes{0};

  // -- failed redemptions ----------------------------------------------------
  // Coupon enumeration (OWASP API6, business-flow abuse): a caller whose
  // redemptions keep failing with unknown codes is slowed down. Real time,
  // not domain time: this protects the node, not a business rule.
  std::mutex redeem_mtx;
  std::map<std::string, std::deque<std::chrono::steady_clock::time_point>>
    failed_redeems;
  static constexpr size_t max_failed_redeems = 20;
  static constexpr std::chrono::seconds failed_redeem_window{60};

  /// Drops failures older than the window; true when `who` may try again.
  bool may_redeem(const std::string& who) {
    std::lock_guard<std::mutex> guard{redeem_mtx};
    auto i = failed_redeems.find(who);
    if (i == failed_redeems.end())
      return true;
    auto cutoff = std::chrono::steady_clock::now() - failed_redeem_window;
    while (!i->second.empty() && i->second.front() < cutoff)
      i->second.pop_front();
    if (i->second.empty()) {
      failed_redeems.erase(i);
      return true;
    }
    return i->second.size() < max_failed_redeems;
  }

  void redeem_failed(const std::string& who) {
    std::lock_guard<std::mutex> guard{redeem_mtx};
    failed_redeems[who].push_back(std::chrono::steady_clock::now());
  }

  // -- metrics ----------------------------------------------------------------
  std::mutex metrics_mtx;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests;
  std::map<std::string, route_metrics> latencies;

  explicit impl(api_deps d)
    : deps(std::move(d)) {
    add("GET", "/healthz", "none", &impl::healthz);
    add("GET", "/readyz", "none", &impl::readyz);
    add("GET", "/metrics", "none", &impl::get_metrics);
    add("POST", "/v1/applications", "write", &impl::submit);
    add("GET", "/v1/applications", "read", &impl::list_applications);
    add("GET", "/v1/applications/{id}", "read", &impl::get_application);
    add("POST", "/v1/applications/{id}/appeal", "write", &impl::appeal);
    add("POST", "/v1/applications/{id}/withdraw", "write", &impl::withdraw);
    add("POST", "/v1/verifier/callback", "signature", &impl::verifier_callback);
    add("GET", "/v1/reviews", "review", &impl::list_reviews);
    add("POST", "/v1/reviews/{id}", "review", &impl::decide_review);
    add("POST", "/v1/checkout/redeem", "write", &impl::redeem);
    add("POST", "/v1/subscriptions", "billing", &impl::register_sub);
    add("GET", "/v1/subscriptions", "read", &impl::list_subscriptions);
    add("GET", "/v1/subscriptions/{id}", "read", &impl::get_subscription);
    add("POST", "/v1/subscriptions/{id}/usage", "write", &impl::usage);
    add("POST", "/v1/subscriptions/{id}/compliance-cases", "support",
        &impl::open_compliance_case);
    add("POST", "/v1/subscriptions/{id}/revoke", "support", &impl::revoke);
    add("GET", "/v1/compliance-cases", "support", &impl::list_cases);
    add("GET", "/v1/compliance-cases/{id}", "support", &impl::get_case);
    add("POST", "/v1/compliance-cases/{id}/cure", "support", &impl::cure);
    add("POST", "/v1/emergency-licenses", "support", &impl::emergency_issue);
    add("GET", "/v1/emergency-licenses", "support", &impl::emergency_find);
    add("GET", "/v1/emergency-licenses/{id}", "support", &impl::emergency_get);
    add("POST", "/v1/emergency-licenses/{id}/resend", "support",
        &impl::emergency_resend);
    add("POST", "/v1/support/triage", "support", &impl::triage);
    add("GET", "/v1/coupons/{program}/stock", "read", &impl::coupon_stock);
    add("POST", "/v1/coupons/{program}/import", "coupon-admin",
        &impl::coupon_import);
    add("GET", "/v1/coupons/{program}/codes", "coupon-admin",
        &impl::coupon_codes);
    add("GET", "/v1/timers", "read", &impl::list_timers);
    add("GET", "/v1/outbox", "read", &impl::outbox_status_route);
    add("POST", "/v1/outbox/{id}/retry", "admin", &impl::outbox_retry);
    add("GET", "/v1/node", "read", &impl::node_status);
    add("POST", "/v1/admin/clock", "admin", &impl::admin_clock);
    add("GET", "/v1/cluster", "read", &impl::cluster_status);
    add("POST", "/v1/cluster/plan", "admin", &impl::cluster_plan);
    add("GET", "/v1/dashboard", "read", &impl::dashboard);
    // Outreach (seed 003). The literal paths come before `{id}`.
    add("POST", "/v1/accounts/import", "write", &impl::import_accounts_route);
    add("POST", "/v1/accounts", "write", &impl::put_account_route);
    add("GET", "/v1/accounts", "read", &impl::list_accounts_route);
    add("GET", "/v1/accounts/{id}", "read", &impl::get_account_route);
    add("POST", "/v1/accounts/{id}", "write", &impl::update_account_route);
    add("POST", "/v1/accounts/{id}/contacts", "write",
        &impl::add_contact_route);
    add("POST", "/v1/outreach/programs", "write", &impl::create_program_route);
    add("GET", "/v1/outreach/programs", "read", &impl::list_programs_route);
    add("GET", "/v1/outreach/programs/{id}", "read", &impl::get_program_route);
    add("POST", "/v1/outreach/programs/{id}/launch", "write",
        &impl::launch_program_route);
    add("POST", "/v1/outreach/programs/{id}/stop", "write",
        &impl::stop_program_route);
    add("GET", "/v1/outreach/programs/{id}/explain", "read",
        &impl::explain_route);
    add("GET", "/v1/outreach/programs/{id}/responses", "read",
        &impl::responses_route);
    add("POST", "/v1/outreach/bounces", "write", &impl::bounce_route);
    // What recipients' mail clients and browsers reach: no token, the
    // tracking token in the path proves the email (nodes/tracking.hpp).
    add("GET", "/v1/track/open/{id}", "public", &impl::track_open_route);
    add("GET", "/v1/track/click/{id}", "public", &impl::track_click_route);
    add("GET", "/v1/track/survey/{id}", "public", &impl::survey_form_route);
    add("POST", "/v1/track/survey/{id}", "public", &impl::survey_answer_route);
  }

  void add(const char* method, const char* pattern, const char* scope,
           handler fn) {
    routes.push_back(route{method, split_path(pattern), scope, fn, pattern});
  }

  // -- talking to actors ------------------------------------------------------

  template <class R, class... Ts>
  caf::expected<R> ask(const caf::actor& dest, Ts&&... xs) {
    if (!dest)
      return make_error(errc::unavailable, "the node is not ready");
    caf::scoped_actor self{*deps.sys};
    caf::expected<R> result{caf::error{}};
    self->request(dest, deps.timeout, std::forward<Ts>(xs)...)
      .receive([&](R& r) { result = std::move(r); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  // -- dispatch ---------------------------------------------------------------

  api_response handle(const api_request& req) {
    auto started = std::chrono::steady_clock::now();
    std::string label = "unmatched";
    api_response res;
    try {
      res = dispatch(req, label);
    } catch (const std::exception& e) {
      // Nothing below throws on purpose; this is the last line of defence
      // (e.g. std::bad_alloc), and says nothing of the request's content.
      log.error("request failed route={} what={}", label, e.what());
      res = error_response(500, "internal",
                           "the request failed; see the node's log");
    }
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                              - started)
                  .count();
    observe(label, req.method, res.status, secs);
    // The route's pattern, never the path: ids are fine, but query strings
    // carry email addresses.
    log.debug("request method={} route={} status={} ms={:.2f}", req.method,
              label, res.status, secs * 1000);
    if (res.status >= 500)
      log.warn("request failed method={} route={} status={}", req.method, label,
               res.status);
    return res;
  }

  api_response dispatch(const api_request& req, std::string& label) {
    auto segments = split_path(req.path);
    const route* found = nullptr;
    bool path_matched = false;
    std::vector<std::string> params;
    for (auto& r : routes) {
      if (r.pattern.size() != segments.size())
        continue;
      std::vector<std::string> ps;
      bool ok = true;
      for (size_t i = 0; i < segments.size() && ok; ++i) {
        if (r.pattern[i] == "{id}" || r.pattern[i] == "{program}")
          ps.push_back(segments[i]);
        else
          ok = r.pattern[i] == segments[i];
      }
      if (!ok)
        continue;
      path_matched = true;
      if (req.method == r.method) {
        found = &r;
        params = std::move(ps);
        break;
      }
    }
    if (!found) {
      if (path_matched)
        return error_response(405, "method_not_allowed",
                              req.method + " is not allowed on " + req.path);
      return error_response(404, "not_found",
                            "no route " + req.method + " "
                              + req.path.substr(0, 200));
    }
    label = found->label;
    call c{req, std::move(params), nullptr, json::object(), {}};
    std::string_view scope = found->scope;
    if (scope != "none" && scope != "signature" && scope != "public") {
      if (!deps.keys)
        return error_response(503, "unavailable", "no keys loaded");
      auto key = deps.keys->authorize(req.authorization, scope);
      if (!key)
        return error_response(key.error());
      c.key = *key;
    }
    // In a cluster, the member that owns what the request concerns answers
    // it; listings ask every member.
    // The body is parsed first: routing reads it, and a malformed one is
    // answered here, as the owner would.
    // Signed webhooks and the recipients' form posts are not JSON.
    bool json_post
      = req.method == "POST" && scope != "signature" && scope != "public";
    if (json_post)
      if (auto err = parse_body(c, found->label))
        return *err;
    if (deps.cluster && !req.local_only)
      if (auto res = place(c, *found))
        return std::move(*res);
    if (json_post && !req.idempotency_key.empty())
      return idempotent(c, *found);
    return (this->*(found->fn))(c);
  }

  /// Parses a JSON body into `c.body`; an error response when it is not.
  std::optional<api_response> parse_body(call& c, const std::string& label) {
    auto& req = c.req;
    if (label == "/v1/coupons/{program}/import"
        || label == "/v1/accounts/import")
      return std::nullopt; // CSV, read by its handler
    auto ct = lower(req.content_type.substr(0, req.content_type.find(';')));
    while (!ct.empty() && ct.back() == ' ')
      ct.pop_back();
    if (!ct.empty() && ct != "application/json")
      return error_response(400, "bad_request",
                            "body: Content-Type must be application/json");
    if (req.body.size() > max_json_bytes)
      return error_response(413, "too_large", "body: larger than 1 MiB");
    if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) {
      c.body = json::object();
      return std::nullopt;
    }
    if (nesting_depth(req.body) > max_json_depth)
      return error_response(
        400, "bad_request",
        fmt::format("body: nested deeper than {} levels", max_json_depth));
    duplicate_key_finder dups;
    try {
      c.body = json::parse(req.body, std::ref(dups));
    } catch (const json::parse_error& e) {
      // nlohmann's message quotes the offending bytes; say where instead,
      // with the reason's last part only.
      std::string what = e.what();
      auto col = what.find(": ", what.find("column"));
      auto reason = col == std::string::npos ? std::string{"syntax error"}
                                             : what.substr(col + 2);
      // "last read: '...'" would echo the caller's bytes back (and invalid
      // UTF-8 with them); what was expected stays.
      if (auto lr = reason.find("; last read: '"); lr != std::string::npos) {
        auto ex = reason.rfind("'; expected ");
        reason = reason.substr(0, lr)
                 + (ex != std::string::npos && ex > lr ? reason.substr(ex + 1)
                                                       : std::string{});
      }
      if (reason.size() > 120)
        reason = reason.substr(0, 120);
      return error_response(400, "bad_request",
                            "body: malformed JSON at "
                              + where(req.body, e.byte > 0 ? e.byte - 1 : 0)
                              + ": " + reason);
    } catch (const json::exception&) {
      // out_of_range: a number beyond a double (1e999).
      return error_response(400, "bad_request",
                            "body: a number is out of range (beyond 1.7e308)");
    }
    if (!dups.found().empty())
      return error_response(400, "bad_request",
                            "body: " + dups.found() + ": repeated key");
    if (!c.body.is_object())
      return error_response(400, "bad_request", "body: expected a JSON object");
    return std::nullopt;
  }

  // -- idempotency ------------------------------------------------------------
  //
  // Stripe's rules (RELIABILITY.md): the first response to a key is kept for
  // 24 h (wall time) and given again for the same request; the same key
  // with another request is refused; keys are per token, so one client
  // cannot replay another's responses. Responses of 5xx are not kept, so a
  // retry after an outage executes.
  //
  // Concurrent requests with one key: the first executes, the others wait
  // for it (a flight) and answer its response, byte for byte. A waiter with
  // another body then finds the kept response and is refused.
  //
  // Crashes: the kept response is written after the effect's own commit, so
  // a crash in between forgets the response. For the requests that create an
  // entity (applications, subscriptions) a claim row is queued first, naming
  // the id the entity will get. The store writes commits in order, so
  // whenever the entity is durable its claim is too; a retry that finds the
  // claim creates with the same id, finds the entity there, and answers it
  // instead of creating a second one. Other commands act on an existing
  // entity whose rules refuse doing it twice (a second redemption is 409).

  struct flight {
    std::string fingerprint;
    std::mutex mtx;
    std::condition_variable cv;
    bool done = false;
    /// The leader's response, when it is to be shared.
    std::optional<api_response> response;
  };

  /// How long a concurrent request with the same key waits for the first.
  static constexpr std::chrono::seconds flight_wait{60};

  static api_response replayed(api_response res) {
    res.headers.emplace_back("Idempotent-Replayed", "true");
    return res;
  }

  /// Whether requests on `r` create an entity whose id the API mints first.
  bool creates(const route& r) const {
    return deps.ids != nullptr
           && (r.fn == &impl::submit || r.fn == &impl::register_sub);
  }

  api_response idempotent(call& c, const route& r) {
    auto& req = c.req;
    if (req.idempotency_key.size() > max_idempotency_key)
      return error_response(422, "invalid_argument",
                            "Idempotency-Key: at most 255 characters");
    auto row_key = "request" + std::string(1, '\0') + c.key->name
                   + std::string(1, '\0') + req.idempotency_key;
    auto fingerprint = to_hex(sha256(req.method + " " + req.path + "\n"
                                     + req.content_type + "\n" + req.body));
    auto mismatch = [] {
      return error_response(422, "idempotency_mismatch",
                            "Idempotency-Key was used with another "
                            "request; use a new key for a new request");
    };
    // Join the flight of this key, or lead one.
    std::shared_ptr<flight> f;
    for (;;) {
      bool leader = false;
      {
        std::lock_guard<std::mutex> guard{idem_mtx};
        auto& slot = idem_flights[row_key];
        if (!slot) {
          slot = std::make_shared<flight>();
          slot->fingerprint = fingerprint;
          leader = true;
        }
        f = slot;
      }
      if (leader)
        break;
      std::unique_lock<std::mutex> lk{f->mtx};
      if (!f->cv.wait_for(lk, flight_wait, [&] { return f->done; }))
        return error_response(409, "conflict",
                              "a request with this Idempotency-Key is still "
                              "in progress; retry later");
      if (f->response && f->fingerprint == fingerprint)
        return replayed(*f->response);
      // The first failed with a 5xx (not kept), or was another request
      // (which may itself have been refused): the store decides.
    }
    auto land = [&](const api_response* shared) {
      {
        std::lock_guard<std::mutex> guard{idem_mtx};
        idem_flights.erase(row_key);
      }
      std::lock_guard<std::mutex> guard{f->mtx};
      if (shared)
        f->response = *shared;
      f->done = true;
      f->cv.notify_all();
    };
    // Wall time, not domain time: keys protect clients' retries, which
    // happen in real time; under the accelerated clock 24 domain hours
    // pass in seconds, and the crash test saw retries after a restart
    // create a second application once the claim had "expired".
    auto now = system_clock{}.now();
    auto stored = deps.store->get(storage::cf::idempotency, row_key);
    if (!stored) {
      land(nullptr);
      return error_response(stored.error());
    }
    int64_t at = to_unix_ms(now);
    if (*stored) {
      json row = json::parse(**stored, nullptr, false);
      if (row.is_object()
          && row.value("at", int64_t{0}) + deps.idempotency_ttl.count()
               > to_unix_ms(now)) {
        if (row.value("fp", std::string{}) != fingerprint) {
          land(nullptr);
          return mismatch();
        }
        if (row.contains("status")) {
          api_response res;
          res.status = row.value("status", 200);
          res.content_type = row.value("ct", std::string{"application/json"});
          res.body = row.value("body", std::string{});
          land(&res);
          return replayed(std::move(res));
        }
        // A claim without a response: the first attempt stopped between
        // its effect and its answer, or before its effect. Create again
        // with the claimed id; the entity answers if it exists.
        c.preassigned = row.value("id", std::string{});
        at = row.value("at", at);
      }
    }
    if (c.preassigned.empty() && creates(r)) {
      c.preassigned = r.fn == &impl::submit ? deps.ids->next<app_id>(now).str()
                                            : deps.ids->next<sub_id>(now).str();
      json claim{{"fp", fingerprint}, {"id", c.preassigned}, {"at", at}};
      storage::batch b;
      b.put(storage::cf::idempotency, row_key, claim.dump());
      b.put(storage::cf::meta, expiry_key(from_unix_ms(at), row_key), row_key);
      // Not awaited: the entity's own commit is queued after this one, and
      // the store never makes a later commit durable without the earlier.
      deps.store->commit(std::move(b), [](caf::error) {});
    }
    auto res = (this->*(r.fn))(c);
    if (res.status < 500) {
      json row{{"fp", fingerprint},
               {"status", res.status},
               {"ct", res.content_type},
               {"body", res.body},
               {"at", at}};
      if (!c.preassigned.empty())
        row["id"] = c.preassigned;
      storage::batch b;
      b.put(storage::cf::idempotency, row_key, row.dump());
      // An expiry index, so old keys can be swept without reading them all.
      b.put(storage::cf::meta, expiry_key(from_unix_ms(at), row_key), row_key);
      if (auto err = deps.store->commit_sync(std::move(b)))
        log.warn("idempotency key not kept error={}", error_code(err));
      if (++idem_writes % 256 == 0)
        sweep_idempotency(now);
      land(&res);
    } else {
      land(nullptr);
    }
    return res;
  }

  static std::string expiry_key(time_point at, const std::string& row_key) {
    std::string k = "idem_exp/";
    auto ms = static_cast<uint64_t>(to_unix_ms(at));
    for (int i = 7; i >= 0; --i)
      k += static_cast<char>((ms >> (8 * i)) & 0xff);
    return k + row_key;
  }

  /// Deletes keys older than the TTL, at most 1000 per call.
  void sweep_idempotency(time_point now) {
    auto cutoff = expiry_key(now - deps.idempotency_ttl, {});
    auto rows = deps.store->scan(storage::cf::meta, "idem_exp/", 1000);
    if (!rows)
      return;
    storage::batch b;
    size_t n = 0;
    for (auto& row : *rows) {
      if (row.key >= cutoff)
        break;
      b.erase(storage::cf::meta, row.key);
      b.erase(storage::cf::idempotency, row.value);
      ++n;
    }
    if (n > 0)
      if (auto err = deps.store->commit_sync(std::move(b)))
        log.warn("idempotency sweep failed error={}", error_code(err));
  }

  // -- body fields ------------------------------------------------------------

  /// Checks that `c.body` has only `allowed` keys.
  static std::optional<api_response>
  only_keys(const call& c, std::initializer_list<const char*> allowed) {
    for (auto& [k, v] : c.body.items()) {
      bool ok = false;
      for (auto* a : allowed)
        ok = ok || k == a;
      if (!ok)
        return error_response(422, "invalid_argument",
                              k.substr(0, 60) + ": unknown field");
    }
    return std::nullopt;
  }

  template <class T>
  static caf::error field(const call& c, const char* name, T& out,
                          bool required) {
    auto i = c.body.find(name);
    if (i == c.body.end() || i->is_null()) {
      if (required)
        return make_error(errc::invalid_argument,
                          std::string{name} + ": required");
      return caf::none;
    }
    return json_codec::value_from_json(*i, out, name);
  }

  template <class Id>
  static caf::expected<Id> id_param(const call& c, size_t i) {
    auto id = Id::parse(c.param(i));
    if (!id)
      return make_error(
        errc::not_found,
        "no " + std::string{Id::prefix}.substr(0, Id::prefix.size() - 1) + " "
          + c.param(i).substr(0, 60) + " (ids start with '"
          + std::string{Id::prefix} + "')");
    return *id;
  }

  static caf::expected<program> program_param(const call& c, size_t i) {
    auto p = parse_enum<program>(c.param(i));
    if (!p || *p == program::none)
      return make_error(errc::not_found, "no program '"
                                           + c.param(i).substr(0, 30)
                                           + "' (edu, oss or startups)");
    return *p;
  }

  caf::expected<size_t> limit_param(const call& c, size_t dflt, size_t most) {
    auto i = c.req.query.find("limit");
    if (i == c.req.query.end() || i->second.empty())
      return dflt;
    char* end = nullptr;
    auto v = std::strtoull(i->second.c_str(), &end, 10);
    if (*end != '\0' || v == 0 || v > most)
      return make_error(errc::invalid_argument,
                        fmt::format("limit: a number from 1 to {}", most));
    return static_cast<size_t>(v);
  }

  /// A record without the fields the caller may not see.
  json application_json(const application& app, const call& c) {
    auto out = to_json(app);
    out.erase("handled_timers");
    if (!c.key || !c.key->grants("coupon-admin"))
      out.erase("coupon_code");
    return out;
  }

  static json subscription_json(const subscription& s) {
    auto out = to_json(s);
    out.erase("handled_timers");
    return out;
  }

  static json license_json(const emergency_license& l) {
    auto out = to_json(l);
    // The key is emailed to the ticket's opener; operators re-send it
    // rather than read it.
    out.erase("license_key");
    return out;
  }

  static json notification_json(notification n) {
    n.params.clear(); // may hold secrets
    auto out = to_json(n);
    out.erase("params");
    return out;
  }

  static json history_json(const std::vector<history_entry>& h) {
    auto out = json::array();
    for (auto& e : h)
      out.push_back(to_json(e));
    return out;
  }

  // -- probes -----------------------------------------------------------------

  api_response healthz(call&) {
    return json_response(200, json{{"status", "ok"}});
  }

  api_response readyz(call&) {
    bool store_ok = deps.store && deps.store->is_open();
    // Supervisors are up when each answers; a dead one (its handle stays
    // valid) answers with an error.
    bool sup_ok = deps.sv && deps.sv->outbox && !deps.sv->timers.empty();
    if (sup_ok) {
      auto stats = timer_stats();
      for (auto& [owner, st] : stats.items())
        sup_ok = sup_ok && st.is_object();
    }
    bool ok = store_ok && sup_ok && (!deps.ready || deps.ready());
    return json_response(ok ? 200 : 503,
                         json{{"status", ok ? "ready" : "not_ready"},
                              {"store", store_ok},
                              {"supervisors", sup_ok}});
  }

  api_response get_metrics(call&) {
    api_response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics_text();
    return r;
  }

  // -- applications -----------------------------------------------------------

  api_response submit(call& c) {
    submit_application cmd;
    auto& d = cmd.draft;
    // The caller describes the applicant; the node decides id, state,
    // stage, path, reasons and everything after.
    if (auto bad
        = only_keys(c, {"kind", "program", "channel", "applicant",
                        "organisation", "edu", "oss", "startup", "hosting",
                        "seats", "support", "term", "renews"}))
      return *bad;
    caf::error err;
    auto read = [&](const char* name, auto& out, bool required = false) {
      if (!err)
        err = field(c, name, out, required);
    };
    read("kind", d.kind);
    read("program", d.program, true);
    read("channel", d.channel);
    read("applicant", d.applicant, true);
    read("organisation", d.organisation, true);
    read("edu", d.edu);
    read("oss", d.oss);
    read("startup", d.startup);
    read("hosting", d.hosting);
    read("seats", d.seats, true);
    read("support", d.support);
    read("term", d.term);
    read("renews", d.renews);
    if (err)
      return error_response(err);
    if (d.program == program::none)
      return error_response(422, "invalid_argument",
                            "program: expected one of edu, oss, startups");
    if (!c.body.contains("channel"))
      d.channel
        = d.program == program::startups ? channel::marketo : channel::sheerid;
    auto render = [&](auto& app) { return application_json(app, c); };
    if (c.preassigned.empty())
      return respond<application>(deps.registry, std::move(cmd), 201, render);
    auto id = app_id::parse(c.preassigned);
    if (!id)
      return error_response(make_error(
        errc::corrupt_data, "idempotency claim names no application"));
    return respond<application>(
      deps.registry, std::make_tuple(*id, std::move(cmd)), 201, render);
  }

  api_response get_application(call& c) {
    auto id = id_param<app_id>(c, 0);
    if (!id)
      return error_response(id.error());
    return with_history<application>(
      *id, [&](const application& app) { return application_json(app, c); });
  }

  /// Pages through the snapshots of one kind of entity (`prefix`), keeping
  /// those `keep` accepts. With an `email`, only the entities its index rows
  /// name are read (see `email_index_key`); otherwise the snapshots in id
  /// order. The cursor is the last entity id read either way.
  template <class T, class Keep, class Out>
  caf::error page(const call& c, const char* prefix, const std::string& email,
                  Keep keep, Out emit, json& next_cursor, size_t limit) {
    std::string after;
    if (auto i = c.req.query.find("cursor"); i != c.req.query.end())
      after = i->second;
    if (!after.empty() && after.rfind(prefix, 0) != 0)
      return make_error(errc::invalid_argument,
                        "cursor: not a cursor of this listing");
    auto index = email.empty() ? std::string{} : email_index_prefix(email);
    size_t matched = 0;
    size_t read = 0;
    next_cursor = nullptr;
    for (;;) {
      auto rows
        = index.empty()
            ? deps.store->scan(storage::cf::snapshots, prefix, 512, after)
            : deps.store->scan(storage::cf::meta, index, 512,
                               after.empty() ? std::string{} : index + after);
      if (!rows)
        return std::move(rows.error());
      for (auto& row : *rows) {
        auto entity = index.empty() ? row.key : row.key.substr(index.size());
        after = entity;
        ++read;
        // A scanned row is the stored form (version + bytes); an index row
        // names a snapshot to read.
        std::string_view payload;
        std::optional<storage::stored_snapshot> snapshot;
        if (index.empty()) {
          if (row.value.size() < 8)
            return make_error(errc::corrupt_data, "snapshot of " + entity);
          payload = std::string_view{row.value}.substr(8);
        } else {
          if (entity.rfind(prefix, 0) != 0)
            continue; // the other kind of entity with this email
          auto snap = deps.store->get_snapshot(entity);
          if (!snap)
            return std::move(snap.error());
          if (!*snap)
            continue;
          snapshot = std::move(**snap);
          payload = snapshot->bytes;
        }
        auto x = decode<T>(payload);
        if (!x)
          return std::move(x.error());
        if (keep(*x)) {
          emit(*x);
          if (++matched == limit) {
            next_cursor = entity;
            return caf::none;
          }
        }
        if (read >= max_rows_per_page) {
          next_cursor = entity;
          return caf::none;
        }
      }
      if (rows->size() < 512)
        return caf::none;
    }
  }

  template <class E>
  caf::error enum_filter(const call& c, const char* name,
                         std::optional<E>& out) {
    auto i = c.req.query.find(name);
    if (i == c.req.query.end() || i->second.empty())
      return caf::none;
    auto v = parse_enum<E>(i->second);
    if (!v) {
      std::string names;
      for (auto& n : enum_names<E>::values)
        names += (names.empty() ? "" : ", ") + std::string{n};
      return make_error(errc::invalid_argument,
                        std::string{name} + ": expected one of " + names);
    }
    out = *v;
    return caf::none;
  }

  std::string query(const call& c, const char* name) {
    auto i = c.req.query.find(name);
    return i == c.req.query.end() ? std::string{} : i->second;
  }

  static bool org_matches(const organisation& o, const std::string& needle) {
    if (needle.empty())
      return true;
    auto n = lower(needle);
    return lower(o.name).find(n) != std::string::npos || lower(o.key) == n;
  }

  /// A filtered page of applications or subscriptions: `state`, `program`,
  /// `email` (through the index), `organisation` (name or key), plus what
  /// `keep` adds.
  template <class T, class EmailOf, class Keep, class Render>
  api_response listing(call& c, const char* prefix, EmailOf email_of, Keep keep,
                       Render render) {
    std::optional<decltype(T::state)> state;
    std::optional<program> prog;
    auto limit = limit_param(c, default_list_limit, max_list_limit);
    if (!limit)
      return error_response(limit.error());
    if (auto err = enum_filter(c, "state", state))
      return error_response(err);
    if (auto err = enum_filter(c, "program", prog))
      return error_response(err);
    auto email = lower(query(c, "email"));
    auto org = query(c, "organisation");
    auto items = json::array();
    json next;
    auto err = page<T>(
      c, prefix, email,
      [&](const T& x) {
        return (!state || x.state == *state) && (!prog || x.program == *prog)
               && (email.empty() || lower(email_of(x)) == email)
               && org_matches(x.organisation, org) && keep(x);
      },
      [&](const T& x) { items.push_back(render(x)); }, next, *limit);
    if (err)
      return error_response(err);
    return json_response(200, json{{"items", items}, {"next_cursor", next}});
  }

  api_response list_applications(call& c) {
    return listing<application>(
      c, "app_", [](const application& a) { return a.applicant.email; },
      [](const application&) { return true; },
      [&](const application& a) { return application_json(a, c); });
  }

  api_response appeal(call& c) {
    return application_step<appeal_rejection>(c, true);
  }

  api_response withdraw(call& c) {
    return application_step<withdraw_application>(c, false);
  }

  /// An applicant's step on an application: `{"reason", "by"}`.
  template <class Cmd>
  api_response application_step(call& c, bool reason_required) {
    auto id = id_param<app_id>(c, 0);
    if (!id)
      return error_response(id.error());
    if (auto bad = only_keys(c, {"reason", "by"}))
      return *bad;
    Cmd cmd;
    cmd.id = *id;
    if (auto err = field(c, "reason", cmd.reason, reason_required))
      return error_response(err);
    cmd.by = c.by("by");
    return respond<application>(
      deps.registry, std::move(cmd), 200,
      [&](auto& app) { return application_json(app, c); });
  }

  /// An entity and its history, in one round trip: `render(entity)` plus
  /// `"history"`.
  template <class T, class Id, class Render>
  api_response with_history(const Id& id, Render render) {
    caf::scoped_actor self{*deps.sys};
    api_response res;
    self
      ->request(deps.registry, deps.timeout, get_atom::value,
                history_atom::value, id)
      .receive(
        [&](T& x, std::vector<history_entry>& h) {
          auto out = render(x);
          out["history"] = history_json(h);
          res = json_response(200, out);
        },
        [&](caf::error& err) { res = error_response(err); });
    return res;
  }

  /// Asks `dest` and answers `status` with `render(reply)`, or the error.
  template <class R, class Cmd, class Render>
  api_response respond(const caf::actor& dest, Cmd cmd, int status,
                       Render render) {
    caf::expected<R> r{caf::error{}};
    if constexpr (is_tuple<Cmd>::value)
      r = std::apply(
        [&](auto&... xs) { return ask<R>(dest, std::move(xs)...); }, cmd);
    else
      r = ask<R>(dest, std::move(cmd));
    if (!r)
      return error_response(r.error());
    return json_response(status, render(*r));
  }

  // -- verification -----------------------------------------------------------

  api_response verifier_callback(call& c) {
    auto& req = c.req;
    // The signature covers the raw bytes: check it before parsing anything.
    // The verifier signs with its wall clock, and the tolerance bounds a
    // replay in real time: wall time here, whatever the domain clock (on
    // the accelerated clock, domain time runs days ahead of any signature).
    if (auto err = verify_webhook(deps.callback_secret, req.signature, req.body,
                                  system_clock{}.now(), deps.webhook_tolerance))
      return error_response(err);
    auto sig = parse_signature_header(req.signature);
    if (!sig || sig->v1.empty())
      return error_response(401, "unauthorized", "Tenure-Signature: malformed");
    if (auto bad = parse_body(c, "/v1/verifier/callback"))
      return *bad;
    if (auto bad
        = only_keys(c, {"event_id", "application_id", "result", "reason"}))
      return *bad;
    std::string event_id;
    record_verification cmd;
    caf::error err;
    if (!err)
      err = field(c, "event_id", event_id, true);
    if (!err)
      err = field(c, "application_id", cmd.id, true);
    if (!err)
      err = field(c, "result", cmd.result, true);
    if (!err)
      err = field(c, "reason", cmd.reason, false);
    if (!err && (event_id.empty() || event_id.size() > 200))
      err = make_error(errc::invalid_argument, "event_id: 1 to 200 characters");
    if (err)
      return error_response(err);
    // A signature is accepted once: a replay inside the tolerance is
    // refused (the row is inserted, so two concurrent replays cannot both
    // pass). Rows expire with the idempotency keys (wall time).
    auto now = system_clock{}.now();
    auto sig_key = "webhook_sig" + std::string(1, '\0')
                   + to_hex(sig->v1.front()) + std::to_string(sig->t);
    {
      storage::batch b;
      b.insert(storage::cf::idempotency, sig_key,
               std::to_string(to_unix_ms(now)));
      b.put(storage::cf::meta, expiry_key(now, sig_key), sig_key);
      if (auto err = deps.store->commit_sync(std::move(b))) {
        if (err == errc::conflict || err == errc::already_exists)
          return error_response(401, "unauthorized",
                                "Tenure-Signature: this delivery was "
                                "accepted before (replay)");
        return error_response(err);
      }
    }
    // A verifier retrying an event signs it again: answer the first
    // outcome once more instead of applying it twice.
    auto event_key = "webhook_event" + std::string(1, '\0') + event_id;
    auto seen = deps.store->get(storage::cf::idempotency, event_key);
    if (!seen)
      return error_response(seen.error());
    if (*seen) {
      api_response res;
      res.body = **seen;
      res.headers.emplace_back("Idempotent-Replayed", "true");
      return res;
    }
    cmd.decided_by = "verifier";
    cmd.external_ref = event_id;
    auto app = ask<application>(deps.registry, std::move(cmd));
    if (!app)
      return error_response(app.error());
    auto res
      = json_response(200, json{{"status", "accepted"},
                                {"application", application_json(*app, c)}});
    storage::batch b;
    b.put(storage::cf::idempotency, event_key, res.body);
    b.put(storage::cf::meta, expiry_key(now, event_key), event_key);
    if (auto err = deps.store->commit_sync(std::move(b)))
      log.warn("verifier event not remembered error={}", error_code(err));
    return res;
  }

  api_response list_reviews(call& c) {
    auto limit = limit_param(c, 100, 1000);
    if (!limit)
      return error_response(limit.error());
    auto q = review_queue(*deps.store, deps.clock->now(), *limit);
    if (!q)
      return error_response(q.error());
    auto items = json::array();
    for (auto& r : *q)
      items.push_back(to_json(r));
    return json_response(200, json{{"items", items}});
  }

  api_response decide_review(call& c) {
    auto id = id_param<app_id>(c, 0);
    if (!id)
      return error_response(id.error());
    if (auto bad = only_keys(c, {"decision", "reason", "reviewer"}))
      return *bad;
    std::string decision;
    record_verification cmd;
    cmd.id = *id;
    if (auto err = field(c, "decision", decision, true))
      return error_response(err);
    if (auto err = field(c, "reason", cmd.reason, false))
      return error_response(err);
    if (decision == "approve")
      cmd.result = verification_outcome::verified;
    else if (decision == "reject")
      cmd.result = verification_outcome::rejected;
    else if (decision == "request_documents")
      cmd.result = verification_outcome::documents_requested;
    else
      return error_response(422, "invalid_argument",
                            "decision: expected approve, reject or "
                            "request_documents");
    cmd.decided_by = c.by("reviewer");
    // Only applications the program team holds can be decided here; an
    // application still with the external verifier is decided by it.
    auto cur = ask<application>(deps.registry, get_atom::value, *id);
    if (!cur)
      return error_response(cur.error());
    if (cur->state != application_state::in_review
        && cur->state != application_state::documents_requested)
      return error_response(409, "illegal_transition",
                            "application " + id->str() + " is "
                              + to_string(cur->state)
                              + ", not in the review queue");
    return respond<application>(
      deps.registry, std::move(cmd), 200,
      [&](auto& app) { return application_json(app, c); });
  }

  // -- checkout and subscriptions ---------------------------------------------

  api_response redeem(call& c) {
    if (auto bad = only_keys(c, {"code", "sku", "seats"}))
      return *bad;
    redeem_code cmd;
    caf::error err;
    if (!err)
      err = field(c, "code", cmd.code, true);
    if (!err)
      err = field(c, "sku", cmd.sku, true);
    if (!err)
      err = field(c, "seats", cmd.seats, true);
    if (err)
      return error_response(err);
    auto who = c.key ? c.key->name : std::string{};
    if (!may_redeem(who))
      return error_response(429, "rate_limited",
                            fmt::format("more than {} unknown codes in {} s; "
                                        "wait a minute",
                                        max_failed_redeems,
                                        failed_redeem_window.count()));
    if (cmd.code.empty() || cmd.code.size() > 200) {
      redeem_failed(who);
      return error_response(make_error(errc::code_invalid));
    }
    // The pool hands the code to its application, which provisions the
    // subscription and answers with it.
    auto sub = ask<subscription>(deps.registry, std::move(cmd));
    if (!sub) {
      if (sub.error() == errc::code_invalid)
        redeem_failed(who);
      return error_response(sub.error());
    }
    return json_response(201, json{{"subscription_id", sub->id.str()},
                                   {"subscription", subscription_json(*sub)}});
  }

  api_response register_sub(call& c) {
    if (auto bad = only_keys(c, {"organisation", "plan", "contact_email", "sku",
                                 "hosting", "seats", "start", "end"}))
      return *bad;
    register_subscription cmd;
    auto& s = cmd.sub;
    s.plan = plan::paid;
    caf::error err;
    auto read = [&](const char* name, auto& out, bool required = false) {
      if (!err)
        err = field(c, name, out, required);
    };
    read("organisation", s.organisation, true);
    read("plan", s.plan);
    read("contact_email", s.contact_email);
    read("sku", s.sku);
    read("hosting", s.hosting);
    read("seats", s.seats, true);
    read("start", s.start, true);
    read("end", s.end, true);
    if (err)
      return error_response(err);
    // Community subscriptions come from redeemed codes, never from billing.
    if (s.plan != plan::paid)
      return error_response(422, "invalid_argument",
                            "plan: billing registers paid plans only");
    if (c.preassigned.empty())
      return respond<subscription>(deps.registry, std::move(cmd), 201,
                                   subscription_json);
    auto id = sub_id::parse(c.preassigned);
    if (!id)
      return error_response(make_error(
        errc::corrupt_data, "idempotency claim names no subscription"));
    return respond<subscription>(deps.registry,
                                 std::make_tuple(*id, std::move(cmd)), 201,
                                 subscription_json);
  }

  api_response get_subscription(call& c) {
    auto id = id_param<sub_id>(c, 0);
    if (!id)
      return error_response(id.error());
    return with_history<subscription>(*id, subscription_json);
  }

  api_response list_subscriptions(call& c) {
    std::optional<plan> pl;
    if (auto err = enum_filter(c, "plan", pl))
      return error_response(err);
    return listing<subscription>(
      c, "sub_", [](const subscription& s) { return s.contact_email; },
      [&](const subscription& s) { return !pl || s.plan == *pl; },
      subscription_json);
  }

  api_response usage(call& c) {
    auto id = id_param<sub_id>(c, 0);
    if (!id)
      return error_response(id.error());
    if (auto bad = only_keys(c, {"seats_used"}))
      return *bad;
    report_usage cmd;
    cmd.id = *id;
    if (auto err = field(c, "seats_used", cmd.seats_used, true))
      return error_response(err);
    return respond<subscription>(deps.registry, std::move(cmd), 200,
                                 subscription_json);
  }

  api_response open_compliance_case(call& c) {
    auto id = id_param<sub_id>(c, 0);
    if (!id)
      return error_response(id.error());
    if (auto bad = only_keys(c, {"reason", "curable", "opened_by"}))
      return *bad;
    open_case cmd;
    cmd.subscription = *id;
    if (auto err = field(c, "reason", cmd.reason, true))
      return error_response(err);
    if (auto err = field(c, "curable", cmd.curable, false))
      return error_response(err);
    cmd.opened_by = c.by("opened_by");
    auto sub = ask<subscription>(deps.registry, std::move(cmd));
    if (!sub)
      return error_response(sub.error());
    // A curable case stays open on the subscription; a revoking one is
    // closed at once, and is the newest case of the subscription.
    auto cs = sub->open_case.str().empty()
                ? newest_case_of(*id)
                : ask<compliance_case>(deps.registry, get_atom::value,
                                       sub->open_case);
    if (!cs)
      return error_response(cs.error());
    return json_response(201, to_json(*cs));
  }

  caf::expected<compliance_case> newest_case_of(const sub_id& id) {
    // Case ids are ULIDs: the newest of the subscription sorts last.
    auto rows = deps.store->scan(storage::cf::snapshots, "case_");
    if (!rows)
      return std::move(rows.error());
    for (auto i = rows->rbegin(); i != rows->rend(); ++i) {
      if (i->value.size() < 8)
        continue;
      auto cs = decode<compliance_case>(std::string_view{i->value}.substr(8));
      if (cs && cs->subscription == id)
        return std::move(*cs);
    }
    return make_error(errc::not_found, "no compliance case of " + id.str());
  }

  api_response revoke(call& c) {
    auto id = id_param<sub_id>(c, 0);
    if (!id)
      return error_response(id.error());
    if (auto bad = only_keys(c, {"reason", "by"}))
      return *bad;
    revoke_subscription cmd;
    cmd.id = *id;
    if (auto err = field(c, "reason", cmd.reason, true))
      return error_response(err);
    cmd.by = c.by("by");
    return respond<subscription>(deps.registry, std::move(cmd), 200,
                                 subscription_json);
  }

  /// Cases by deadline, the operators' order (cases without one, revoked at
  /// once, last; ties by id). Compliance cases are few (a handful a month),
  /// so a page sorts all of them, at most `max_rows_per_page`, and the
  /// cursor is the id of the last case returned.
  api_response list_cases(call& c) {
    std::optional<case_state> state;
    if (auto err = enum_filter(c, "state", state))
      return error_response(err);
    auto limit = limit_param(c, default_list_limit, max_list_limit);
    if (!limit)
      return error_response(limit.error());
    auto rows = deps.store->scan(storage::cf::snapshots, "case_",
                                 max_rows_per_page + 1);
    if (!rows)
      return error_response(rows.error());
    if (rows->size() > max_rows_per_page)
      return error_response(
        413, "too_large",
        fmt::format("more than {} compliance cases; this listing sorts them "
                    "all and needs paging by deadline range first",
                    max_rows_per_page));
    std::vector<compliance_case> found;
    for (auto& row : *rows) {
      if (row.value.size() < 8)
        return error_response(
          make_error(errc::corrupt_data, "snapshot of " + row.key));
      auto x = decode<compliance_case>(std::string_view{row.value}.substr(8));
      if (!x)
        return error_response(x.error());
      if (!state || x->state == *state)
        found.push_back(std::move(*x));
    }
    auto order = [](const compliance_case& x) {
      auto d = to_unix_ms(x.deadline);
      return std::make_pair(d == 0 ? INT64_MAX : d, x.id.str());
    };
    std::sort(found.begin(), found.end(),
              [&](auto& x, auto& y) { return order(x) < order(y); });
    if (c.req.whole) {
      // One member's part of a cluster listing: the member that asked
      // sorts and pages the union.
      auto all = json::array();
      for (auto& x : found)
        all.push_back(to_json(x));
      return json_response(200, json{{"items", all}, {"next_cursor", nullptr}});
    }
    size_t first = 0;
    if (auto cursor = query(c, "cursor"); !cursor.empty()) {
      auto i = std::find_if(found.begin(), found.end(),
                            [&](auto& x) { return x.id.str() == cursor; });
      if (i == found.end())
        return error_response(422, "invalid_argument",
                              "cursor: not a case of this listing");
      first = static_cast<size_t>(i - found.begin()) + 1;
    }
    auto items = json::array();
    json next = nullptr;
    for (size_t i = first; i < found.size(); ++i) {
      if (items.size() == *limit) {
        next = found[i - 1].id.str();
        break;
      }
      items.push_back(to_json(found[i]));
    }
    return json_response(200, json{{"items", items}, {"next_cursor", next}});
  }

  api_response get_case(call& c) {
    auto id = id_param<case_id>(c, 0);
    if (!id)
      return error_response(id.error());
    auto cs = ask<compliance_case>(deps.registry, get_atom::value, *id);
    if (!cs)
      return error_response(cs.error());
    return json_response(200, to_json(*cs));
  }

  api_response cure(call& c) {
    auto id = id_param<case_id>(c, 0);
    if (!id)
      return error_response(id.error());
    if (auto bad = only_keys(c, {"note", "by"}))
      return *bad;
    cure_case cmd;
    cmd.id = *id;
    if (auto err = field(c, "note", cmd.note, false))
      return error_response(err);
    cmd.by = c.by("by");
    auto sub = ask<subscription>(deps.registry, std::move(cmd));
    if (!sub)
      return error_response(sub.error());
    auto cs = ask<compliance_case>(deps.registry, get_atom::value, *id);
    if (!cs)
      return error_response(cs.error());
    return json_response(200, to_json(*cs));
  }

  // -- emergency licenses (seed 002) ------------------------------------------

  api_response emergency_issue(call& c) {
    if (auto bad = only_keys(c, {"subscription_id", "users", "recipient_email",
                                 "ticket_url", "requested_by", "days"}))
      return *bad;
    request_emergency_license cmd;
    caf::error err;
    auto read = [&](const char* name, auto& out, bool required = false) {
      if (!err)
        err = field(c, name, out, required);
    };
    read("subscription_id", cmd.subscription);
    read("users", cmd.users, true);
    read("recipient_email", cmd.recipient_email, true);
    read("ticket_url", cmd.ticket_url, true);
    read("days", cmd.days);
    if (err)
      return error_response(err);
    cmd.requested_by = c.by("requested_by");
    if (!deps.sv)
      return error_response(503, "unavailable", "the node is not ready");
    auto lic = ask<emergency_license>(deps.sv->emergency, std::move(cmd));
    if (!lic)
      return error_response(lic.error());
    return json_response(201, license_json(*lic));
  }

  api_response emergency_find(call& c) {
    auto email = query(c, "email");
    if (email.empty() || email.size() > 320)
      return error_response(422, "invalid_argument",
                            "email: the recipient's email is required");
    auto recs = ask<std::vector<audit_record>>(deps.sv->emergency,
                                               find_atom::value, email);
    if (!recs)
      return error_response(recs.error());
    auto items = json::array();
    for (auto& r : *recs)
      items.push_back(to_json(r));
    return json_response(200, json{{"items", items}});
  }

  api_response emergency_get(call& c) {
    auto id = id_param<em_id>(c, 0);
    if (!id)
      return error_response(id.error());
    auto lic = ask<emergency_license>(deps.sv->emergency, get_atom::value, *id);
    if (!lic)
      return error_response(lic.error());
    return json_response(200, license_json(*lic));
  }

  api_response emergency_resend(call& c) {
    auto id = id_param<em_id>(c, 0);
    if (!id)
      return error_response(id.error());
    if (auto bad = only_keys(c, {"by"}))
      return *bad;
    auto lic = ask<emergency_license>(deps.sv->emergency, resend_atom::value,
                                      *id, c.by("by"));
    if (!lic)
      return error_response(lic.error());
    return json_response(200, license_json(*lic));
  }

  // -- support ----------------------------------------------------------------

  api_response triage(call& c) {
    if (auto bad = only_keys(c, {"program", "category", "text"}))
      return *bad;
    if (!deps.routing)
      return error_response(503, "unavailable", "no routing table loaded");
    triage_request tr;
    caf::error err;
    if (!err)
      err = field(c, "program", tr.program, true);
    if (!err)
      err = field(c, "category", tr.category, false);
    if (!err)
      err = field(c, "text", tr.text, false);
    if (err)
      return error_response(err);
    auto r = deps.routing->triage(tr);
    if (!r)
      return error_response(r.error());
    return json_response(200, json{{"category", r->category},
                                   {"action", r->action},
                                   {"macro", r->macro},
                                   {"inbox", r->inbox},
                                   {"channel", r->channel},
                                   {"dri", r->dri},
                                   {"guidance", r->guidance}});
  }

  // -- coupons ----------------------------------------------------------------

  caf::expected<caf::actor> pool_of(const call& c) {
    auto p = program_param(c, 0);
    if (!p)
      return std::move(p.error());
    auto& pool = deps.pools[static_cast<size_t>(*p)];
    if (!pool)
      return make_error(errc::unavailable, "no coupon pool");
    return pool;
  }

  api_response coupon_stock(call& c) {
    auto pool = pool_of(c);
    if (!pool)
      return error_response(pool.error());
    auto s = ask<pool_stock>(*pool, get_atom::value);
    if (!s)
      return error_response(s.error());
    return json_response(200, to_json(*s));
  }

  api_response coupon_import(call& c) {
    auto pool = pool_of(c);
    if (!pool)
      return error_response(pool.error());
    auto ct = lower(c.req.content_type.substr(0, c.req.content_type.find(';')));
    if (ct != "text/csv" && ct != "text/plain")
      return error_response(400, "bad_request",
                            "body: Content-Type must be text/csv");
    import_coupons cmd;
    cmd.program = *program_param(c, 0);
    cmd.csv = c.req.body;
    cmd.source = "api:" + (c.key ? c.key->name : std::string{});
    auto rep = ask<import_report>(*pool, std::move(cmd));
    if (!rep)
      return error_response(rep.error());
    log.info("coupons imported program={} imported={} by={}",
             to_string(rep->program), rep->imported, c.key ? c.key->name : "?");
    return json_response(200, to_json(*rep));
  }

  api_response coupon_codes(call& c) {
    auto pool = pool_of(c);
    if (!pool)
      return error_response(pool.error());
    auto limit = limit_param(c, 1000, 100'000);
    if (!limit)
      return error_response(limit.error());
    auto codes = ask<std::vector<std::string>>(*pool, codes_atom::value);
    if (!codes)
      return error_response(codes.error());
    if (codes->size() > *limit)
      codes->resize(*limit);
    log.info("coupon codes read program={} count={} by={}", c.param(0),
             codes->size(), c.key ? c.key->name : "?");
    return json_response(200, json{{"program", c.param(0)}, {"codes", *codes}});
  }

  // -- outreach (seed 003) ----------------------------------------------------

  caf::expected<caf::actor> desk() const {
    if (!deps.outreach)
      return make_error(errc::unavailable, "outreach is not running");
    return deps.outreach;
  }

  /// The account fields a request may set; the node keeps id, contact ids,
  /// bounce marks, times and version.
  caf::error read_account(call& c, account& a, bool required) {
    caf::error err;
    auto read = [&](const char* name, auto& out, bool req = false) {
      if (!err)
        err = field(c, name, out, req);
    };
    read("name", a.name, required);
    read("external_ref", a.external_ref);
    read("segment", a.segment, required);
    read("hosting", a.hosting, required);
    read("stage", a.stage);
    if (!err && c.body.contains("contacts")) {
      auto& cs = c.body["contacts"];
      if (!cs.is_array())
        return make_error(errc::invalid_argument,
                          "contacts: expected an array");
      std::vector<contact> out;
      for (size_t i = 0; i < cs.size() && !err; ++i) {
        auto path = "contacts[" + std::to_string(i) + "]";
        auto& x = cs[i];
        if (!x.is_object())
          return make_error(errc::invalid_argument,
                            path + ": expected an object");
        for (auto& [k, v] : x.items())
          if (k != "id" && k != "name" && k != "email" && k != "roles")
            return make_error(errc::invalid_argument,
                              path + "." + k.substr(0, 60) + ": unknown field");
        contact ct;
        for (auto [name, target] :
             {std::pair<const char*, std::string*>{"name", &ct.name},
              {"email", &ct.email}})
          if (!err && x.contains(name))
            err = json_codec::value_from_json(x[name], *target,
                                              path + "." + name);
        if (!err && x.contains("roles"))
          err = json_codec::value_from_json(x["roles"], ct.roles,
                                            path + ".roles");
        if (!err && x.contains("id"))
          err = json_codec::value_from_json(x["id"], ct.id, path + ".id");
        out.push_back(std::move(ct));
      }
      a.contacts = std::move(out);
    }
    return err;
  }

  api_response put_account_route(call& c) {
    auto d = desk();
    if (!d)
      return error_response(d.error());
    if (auto bad = only_keys(c, {"name", "external_ref", "segment", "hosting",
                                 "stage", "contacts", "by"}))
      return *bad;
    put_account cmd;
    // An upsert by reference changes what the body gives and keeps the
    // rest (a CRM sync that sends no contacts keeps them).
    std::string ref;
    if (auto err = field(c, "external_ref", ref, false))
      return error_response(err);
    if (!ref.empty()) {
      auto stored = ask<account>(*d, get_atom::value, ref);
      if (stored)
        cmd.acct = std::move(*stored);
      else if (stored.error() != errc::not_found)
        return error_response(stored.error());
    }
    if (auto err = read_account(c, cmd.acct, cmd.acct.id.empty()))
      return error_response(err);
    cmd.by = c.by("by");
    auto r = ask<account>(*d, std::move(cmd));
    if (!r)
      return error_response(r.error());
    return json_response(r->version == 1 ? 201 : 200, to_json(*r));
  }

  api_response update_account_route(call& c) {
    auto d = desk();
    if (!d)
      return error_response(d.error());
    auto id = id_param<acct_id>(c, 0);
    if (!id)
      return error_response(id.error());
    if (auto bad = only_keys(c, {"name", "external_ref", "segment", "hosting",
                                 "stage", "contacts", "by"}))
      return *bad;
    auto before = ask<account>(*d, get_atom::value, *id);
    if (!before)
      return error_response(before.error());
    put_account cmd;
    cmd.acct = *before;
    if (auto err = read_account(c, cmd.acct, false))
      return error_response(err);
    cmd.acct.id = *id;
    cmd.by = c.by("by");
    return respond<account>(*d, std::move(cmd), 200,
                            [](const account& a) { return to_json(a); });
  }

  api_response add_contact_route(call& c) {
    auto d = desk();
    if (!d)
      return error_response(d.error());
    auto id = id_param<acct_id>(c, 0);
    if (!id)
      return error_response(id.error());
    if (auto bad = only_keys(c, {"name", "email", "roles", "by"}))
      return *bad;
    add_contact cmd;
    cmd.account = *id;
    caf::error err = field(c, "name", cmd.contact.name, true);
    if (!err)
      err = field(c, "email", cmd.contact.email, true);
    if (!err)
      err = field(c, "roles", cmd.contact.roles, true);
    if (err)
      return error_response(err);
    cmd.by = c.by("by");
    return respond<account>(*d, std::move(cmd), 201,
                            [](const account& a) { return to_json(a); });
  }

  api_response get_account_route(call& c) {
    auto d = desk();
    if (!d)
      return error_response(d.error());
    auto id = id_param<acct_id>(c, 0);
    if (!id)
      return error_response(id.error());
    return respond<account>(*d, std::make_tuple(get_atom::value, *id), 200,
                            [](const account& a) { return to_json(a); });
  }

  api_response list_accounts_route(call& c) {
    auto d = desk();
    if (!d)
      return error_response(d.error());
    auto limit = limit_param(c, default_list_limit, max_list_limit);
    if (!limit)
      return error_response(limit.error());
    std::optional<segment> seg;
    if (auto err = enum_filter(c, "segment", seg))
      return error_response(err);
    auto cursor = query(c, "cursor");
    auto items = json::array();
    json next;
    // Pages of the store until `limit` accounts passed the filter.
    for (;;) {
      auto page = ask<std::vector<account>>(*d, list_accounts{cursor, *limit});
      if (!page)
        return error_response(page.error());
      for (auto& a : *page)
        if (!seg || a.segment == *seg)
          items.push_back(to_json(a));
      if (page->size() < *limit) {
        next = nullptr;
        break;
      }
      cursor = page->back().id.str();
      if (items.size() >= *limit) {
        next = cursor;
        break;
      }
    }
    return json_response(200, json{{"items", items}, {"next_cursor", next}});
  }

  /// `POST /v1/accounts/import`: a CSV of one contact per line,
  ///
  ///   account_ref,account_name,segment,hosting,stage,contact_name,email,roles
  ///
  /// (roles separated by `|`), grouped into accounts by `account_ref`: each
  /// account is created or updated (its contacts in the file added or
  /// updated by address, the others kept). Every line is checked before
  /// anything is written; one bad line refuses the whole file, naming it.
  /// The shell sends a large file in parts and shows the progress.
  api_response import_accounts_route(call& c) {
    auto d = desk();
    if (!d)
      return error_response(d.error());
    auto ct = lower(c.req.content_type.substr(0, c.req.content_type.find(';')));
    if (ct != "text/csv" && ct != "text/plain")
      return error_response(400, "bad_request",
                            "body: Content-Type must be text/csv");
    if (c.req.body.size() > max_json_bytes * 8)
      return error_response(413, "too_large", "body: larger than 8 MiB");
    auto parsed = parse_account_csv(c.req.body);
    if (!parsed)
      return error_response(parsed.error());
    auto by = c.key ? c.key->name : std::string{"import"};
    size_t created = 0, updated = 0, contacts = 0;
    for (auto& a : *parsed) {
      auto r = ask<account>(*d, import_account{a, by});
      if (!r) {
        // Which account, for a refusal of ours; CAF's own errors (a
        // timeout) as they are.
        if (r.error().category() != tenure_error_category)
          return error_response(r.error());
        return error_response(make_error(static_cast<errc>(r.error().code()),
                                         "account "
                                           + a.external_ref.substr(0, 60) + ": "
                                           + error_message(r.error())));
      }
      (r->version == 1 ? created : updated)++;
      contacts += a.contacts.size();
    }
    log.info("accounts imported created={} updated={} contacts={} by={}",
             created, updated, contacts, by);
    return json_response(200, json{{"accounts_created", created},
                                   {"accounts_updated", updated},
                                   {"contacts", contacts}});
  }

  /// The outreach program's JSON: the record, its counts and rates.
  static json program_json(const program_view& v) {
    auto out = to_json(v.program);
    out["counts"] = to_json(v.counts);
    auto r = rates_of(v.counts, v.program.survey);
    out["rates"] = json{{"open_rate", r.open_rate},
                        {"click_rate", r.click_rate},
                        {"bounce_rate", r.bounce_rate},
                        {"response_rate", r.response_rate},
                        {"nps", r.nps ? json(*r.nps) : json(nullptr)},
                        {"csat", r.csat ? json(*r.csat) : json(nullptr)}};
    return out;
  }

  api_response create_program_route(call& c) {
    auto d = desk();
    if (!d)
      return error_response(d.error());
    if (auto bad = only_keys(c, {"name", "kind", "stage", "segments", "stages",
                                 "hostings", "steps", "links", "survey",
                                 "anonymous", "webinar_at", "by"}))
      return *bad;
    create_program cmd;
    auto& p = cmd.program;
    caf::error err;
    auto read = [&](const char* name, auto& out, bool req = false) {
      if (!err)
        err = field(c, name, out, req);
    };
    read("name", p.name, true);
    read("kind", p.kind, true);
    read("stage", p.stage, true);
    read("segments", p.segments);
    read("stages", p.stages);
    read("hostings", p.hostings);
    read("steps", p.steps, true);
    read("links", p.links);
    read("survey", p.survey);
    read("anonymous", p.anonymous);
    read("webinar_at", p.webinar_at);
    if (err)
      return error_response(err);
    p.created_by = c.by("by");
    return respond<program_view>(*d, std::move(cmd), 201, program_json);
  }

  api_response list_programs_route(call& c) {
    auto d = desk();
    if (!d)
      return error_response(d.error());
    auto limit = limit_param(c, default_list_limit, max_list_limit);
    if (!limit)
      return error_response(limit.error());
    auto page = ask<std::vector<program_view>>(
      *d, list_programs{query(c, "cursor"), *limit});
    if (!page)
      return error_response(page.error());
    auto items = json::array();
    for (auto& v : *page)
      items.push_back(program_json(v));
    json next = page->size() < *limit ? json(nullptr)
                                      : json(page->back().program.id.str());
    return json_response(200, json{{"items", items}, {"next_cursor", next}});
  }

  api_response get_program_route(call& c) {
    auto d = desk();
    if (!d)
      return error_response(d.error());
    auto id = id_param<prg_id>(c, 0);
    if (!id)
      return error_response(id.error());
    return respond<program_view>(*d, std::make_tuple(get_atom::value, *id), 200,
                                 program_json);
  }

  api_response launch_program_route(call& c) {
    auto d = desk();
    if (!d)
      return error_response(d.error());
    auto id = id_param<prg_id>(c, 0);
    if (!id)
      return error_response(id.error());
    if (auto bad = only_keys(c, {"by"}))
      return *bad;
    return respond<program_view>(*d, start_program{*id, c.by("by")}, 200,
                                 program_json);
  }

  api_response stop_program_route(call& c) {
    auto d = desk();
    if (!d)
      return error_response(d.error());
    auto id = id_param<prg_id>(c, 0);
    if (!id)
      return error_response(id.error());
    if (auto bad = only_keys(c, {"by"}))
      return *bad;
    return respond<program_view>(*d, halt_program{*id, c.by("by")}, 200,
                                 program_json);
  }

  api_response explain_route(call& c) {
    auto d = desk();
    if (!d)
      return error_response(d.error());
    auto id = id_param<prg_id>(c, 0);
    if (!id)
      return error_response(id.error());
    auto acct = acct_id::parse(query(c, "account"));
    if (!acct)
      return error_response(422, "invalid_argument",
                            "account: an account id (acct_...)");
    return respond<resolution>(*d, explain_recipients{*id, *acct}, 200,
                               [](const resolution& r) { return to_json(r); });
  }

  api_response responses_route(call& c) {
    auto d = desk();
    if (!d)
      return error_response(d.error());
    auto id = id_param<prg_id>(c, 0);
    if (!id)
      return error_response(id.error());
    auto limit = limit_param(c, default_list_limit, max_list_limit);
    if (!limit)
      return error_response(limit.error());
    auto page = ask<std::vector<survey_response>>(
      *d, list_responses{*id, query(c, "cursor"), *limit});
    if (!page)
      return error_response(page.error());
    auto items = json::array();
    for (auto& r : *page)
      items.push_back(to_json(r));
    json next = page->size() < *limit ? json(nullptr) : json(page->back().id);
    return json_response(200, json{{"items", items}, {"next_cursor", next}});
  }

  /// The mail system's bounce webhook: `{"message_id": "<ntf_...@tenure>"}`
  /// (the Message-ID of the bounced email) or `{"notification": "ntf_..."}`.
  api_response bounce_route(call& c) {
    auto d = desk();
    if (!d)
      return error_response(d.error());
    if (auto bad = only_keys(c, {"message_id", "notification"}))
      return *bad;
    std::string text;
    if (auto err = field(c, "message_id", text, false))
      return error_response(err);
    if (text.empty())
      if (auto err = field(c, "notification", text, true))
        return error_response(err);
    if (!text.empty() && text.front() == '<')
      text = text.substr(1, text.find('@') - 1);
    auto id = ntf_id::parse(text);
    if (!id)
      return error_response(422, "invalid_argument",
                            "message_id: not a Tenure message id "
                            "(<ntf_...@tenure>)");
    auto changed = ask<bool>(*d, report_bounce{*id});
    if (!changed)
      return error_response(changed.error());
    return json_response(
      200, json{{"notification", id->str()}, {"changed", *changed}});
  }

  std::optional<std::pair<prg_id, ntf_id>> token_of(const call& c) const {
    if (deps.tracking_secret.size() < 16)
      return std::nullopt;
    return parse_tracking_token(deps.tracking_secret, c.param(0));
  }

  static api_response html_response(int status, std::string_view title,
                                    std::string_view body) {
    api_response r;
    r.status = status;
    r.content_type = "text/html; charset=utf-8";
    r.body = html_page(title, body);
    r.headers.emplace_back("Cache-Control", "no-store");
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'none'; style-src 'unsafe-inline'; "
                           "form-action 'self'");
    return r;
  }

  /// The open pixel: always the GIF (a mail client shows nothing else), and
  /// the open is recorded only for a genuine token.
  api_response track_open_route(call& c) {
    // Recorded without waiting: the mail client's image does not depend on
    // it, and a burst of opens queues at the desk, not in gateway workers.
    // (The desk's mailbox keeps order: a read sent after this sees it.)
    if (auto t = token_of(c); t && deps.outreach)
      caf::anon_send(deps.outreach,
                     track_delivery{t->first, t->second, track_kind::open});
    api_response r;
    r.content_type = "image/gif";
    r.body = tracking_pixel_gif();
    r.headers.emplace_back("Cache-Control", "no-store, private");
    return r;
  }

  /// A tracked link: records the click and redirects to the program's link
  /// N. Only the program's own links: a token cannot send anyone elsewhere.
  api_response track_click_route(call& c) {
    auto t = token_of(c);
    auto d = desk();
    if (!t || !d)
      return html_response(404, "Link not found",
                           "<p>This link is not valid.</p>");
    auto v = ask<program_view>(*d, get_atom::value, t->first);
    auto n = std::strtoul(query(c, "link").c_str(), nullptr, 10);
    if (!v || n == 0 || n > v->program.links.size())
      return html_response(404, "Link not found",
                           "<p>This link is not valid.</p>");
    caf::anon_send(*d, track_delivery{t->first, t->second, track_kind::click});
    api_response r;
    r.status = 302;
    r.content_type = "text/plain";
    r.body = "Found\n";
    r.headers.emplace_back("Location", v->program.links[n - 1]);
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  }

  /// A survey link: a page asking to confirm the score (with an optional
  /// comment). The answer is recorded by the page's POST only, so that a
  /// mail scanner following every link does not answer for the recipient.
  api_response survey_form_route(call& c) {
    auto t = token_of(c);
    auto d = desk();
    if (!t || !d)
      return html_response(404, "Survey not found",
                           "<p>This survey link is not valid.</p>");
    auto v = ask<program_view>(*d, get_atom::value, t->first);
    if (!v)
      return html_response(404, "Survey not found",
                           "<p>This survey link is not valid.</p>");
    auto scores = survey_scores(v->program.survey);
    auto score = query(c, "score");
    std::string options;
    for (auto s : scores) {
      auto x = std::to_string(s);
      options += "<label><input type=\"radio\" name=\"score\" value=\"" + x
                 + "\"" + (x == score ? " checked" : "") + "> " + x
                 + "</label> ";
    }
    auto body
      = "<h1>" + html_escape(v->program.name) + "</h1><form method=\"post\">"
        + "<p>" + options + "</p><p><label>Anything you would like to add? "
        + "<textarea name=\"comment\" rows=\"4\" maxlength=\"2000\">"
        + "</textarea></label></p><p><button type=\"submit\">Send</button></p>"
        + (v->program.anonymous ? "<p>Your answer is anonymous.</p>" : "")
        + "</form>";
    return html_response(200, v->program.name, body);
  }

  api_response survey_answer_route(call& c) {
    auto t = token_of(c);
    auto d = desk();
    if (!t || !d)
      return html_response(404, "Survey not found",
                           "<p>This survey link is not valid.</p>");
    auto form = parse_form(c.req.body);
    auto s = form.find("score");
    char* end = nullptr;
    auto score
      = s == form.end() ? 0UL : std::strtoul(s->second.c_str(), &end, 10);
    if (s == form.end() || s->second.empty() || *end != '\0' || score > 100)
      return html_response(422, "Choose a score",
                           "<p>Please go back and choose a score.</p>");
    auto r = ask<survey_response>(
      *d, answer_survey{t->first, t->second, static_cast<uint32_t>(score),
                        form["comment"]});
    if (!r) {
      if (r.error() == errc::already_exists)
        return html_response(409, "Already answered",
                             "<p>You have answered this survey already. "
                             "Thank you!</p>");
      return html_response(status_of(r.error()), "Not recorded",
                           "<p>" + html_escape(error_message(r.error()))
                             + "</p>");
    }
    return html_response(200, "Thank you",
                         "<h1>Thank you!</h1><p>Your answer was recorded.</p>");
  }

  // -- cluster ----------------------------------------------------------------

  /// Where a request goes in a cluster: nothing when this node answers it,
  /// else the answer of the member that owns its entity (forwarded over
  /// CAF) or the merge of every member's part of a listing.
  std::optional<api_response> place(call& c, const route& r) {
    auto& cl = *deps.cluster;
    const auto& label = r.label;
    auto to_owner
      = [&](const std::string& owner) -> std::optional<api_response> {
      if (owner == cl.self())
        return std::nullopt;
      return cl.forward(owner, c.req);
    };
    if (c.req.method == "GET"
        && (label == "/v1/applications" || label == "/v1/subscriptions"
            || label == "/v1/reviews" || label == "/v1/compliance-cases"
            || label == "/v1/timers" || label == "/v1/emergency-licenses"))
      return fan_out(c, label);
    // Accounts and outreach programs live with the outreach desk.
    if (label.rfind("/v1/accounts", 0) == 0
        || label.rfind("/v1/outreach", 0) == 0
        || label.rfind("/v1/track/", 0) == 0)
      return to_owner(cl.owner_of("outreach"));
    if (label.rfind("/v1/coupons/{program}", 0) == 0) {
      auto p = parse_enum<program>(c.param(0));
      if (!p || *p == program::none)
        return std::nullopt; // the handler says what is wrong
      return to_owner(cl.members().pool_owner(*p).name);
    }
    // The owner is named in the body. A body without it is answered here,
    // with the handler's error. The callback's body is parsed only after its
    // signature was checked, so it is read here on its own.
    auto text = [](const json& j, const char* key) {
      auto i = j.is_object() ? j.find(key) : j.end();
      return j.is_object() && i != j.end() && i->is_string()
               ? i->get<std::string>()
               : std::string{};
    };
    if (label == "/v1/verifier/callback") {
      auto app
        = text(json::parse(c.req.body, nullptr, false), "application_id");
      return app.empty() ? std::nullopt : to_owner(cl.owner_of(app));
    }
    if (label == "/v1/checkout/redeem") {
      auto chosen = find_sku(deps.skus, text(c.body, "sku"));
      if (!chosen)
        return std::nullopt;
      return to_owner(cl.members().pool_owner((*chosen)->program).name);
    }
    if (c.req.method == "POST" && label == "/v1/applications") {
      // An organisation's applications are answered (and born) on one
      // member, the owner of `org/<program>/<organisation key>`: "one
      // active subscription per organisation and program" is checked
      // there, and a retry with the same Idempotency-Key lands there too.
      auto program = text(c.body, "program");
      auto o = c.body.find("organisation");
      if (program.empty() || o == c.body.end() || !o->is_object())
        return std::nullopt; // the handler says what is wrong
      organisation org;
      org.name = text(*o, "name");
      org.website = text(*o, "website");
      return to_owner(
        cl.owner_of("org/" + program + "/" + organisation_key(org)));
    }
    if (c.req.method == "POST" && label == "/v1/emergency-licenses") {
      // With the subscription it is for: "one license at a time" is
      // checked there.
      auto sub = text(c.body, "subscription_id");
      return sub.empty() ? std::nullopt : to_owner(cl.owner_of(sub));
    }
    if (c.req.method == "POST" && label == "/v1/subscriptions") {
      // A new entity is born where its request is answered. With an
      // idempotency key that is the key's owner, so a retry sent to
      // another member still finds the first answer.
      if (c.req.idempotency_key.empty())
        return std::nullopt;
      return to_owner(cl.owner_of("idem/" + c.req.idempotency_key));
    }
    if (c.params.empty())
      return std::nullopt; // the node's own: probes, metrics, triage, ...
    auto& owner = cl.owner_of(c.param(0));
    // Cases, emergency licenses and notifications live with the entity
    // they belong to, which after a membership change (see tenure-move)
    // need not be their id's owner: when the owner does not know one, the
    // others are asked.
    bool follows = label.rfind("/v1/compliance-cases/{id}", 0) == 0
                   || label.rfind("/v1/emergency-licenses/{id}", 0) == 0
                   || label.rfind("/v1/outbox/{id}", 0) == 0;
    if (!follows)
      return to_owner(owner);
    api_response first;
    if (owner == cl.self()) {
      api_request here = c.req;
      here.local_only = true;
      std::string ignored;
      first = dispatch(here, ignored);
    } else {
      first = cl.forward(owner, c.req);
    }
    if (first.status != 404)
      return first;
    std::vector<std::string> others;
    for (auto& m : cl.members().members())
      if (m.name != owner && m.name != cl.self())
        others.push_back(m.name);
    if (owner != cl.self()) {
      api_request here = c.req;
      here.local_only = true;
      std::string ignored;
      auto mine = dispatch(here, ignored);
      if (mine.status != 404)
        return mine;
    }
    for (auto& res : cl.forward_all(others, c.req))
      if (res.status != 404)
        return res;
    return first;
  }

  /// Each member's answer to `part` (marked `local_only`: every member
  /// answers for itself), the peers' over CAF while this node runs `local`
  /// for its own: this node's result, the peers' names and their answers.
  template <class Local>
  auto everywhere(api_request part, Local local)
    -> std::tuple<decltype(local()), std::vector<std::string>,
                  std::vector<api_response>> {
    auto& cl = *deps.cluster;
    part.local_only = true;
    std::vector<std::string> peers;
    for (auto& m : cl.members().members())
      if (m.name != cl.self())
        peers.push_back(m.name);
    auto remote = std::async(std::launch::async,
                             [&] { return cl.forward_all(peers, part); });
    auto mine = local();
    auto theirs = remote.get();
    return {std::move(mine), std::move(peers), std::move(theirs)};
  }

  /// Every member's part of a listing, merged in the listing's order.
  api_response fan_out(call& c, const std::string& label) {
    bool cases = label == "/v1/compliance-cases";
    api_request part = c.req;
    part.local_only = true;
    if (cases) {
      part.whole = true;
      part.query.erase("cursor");
      part.query.erase("limit");
    }
    auto [mine, peers, theirs] = everywhere(part, [&] {
      std::string ignored;
      return dispatch(part, ignored);
    });
    if (mine.status != 200)
      return mine; // a bad filter or cursor: every member says the same
    std::vector<json> parts;
    json unavailable = json::array();
    auto take = [&](const api_response& res) -> std::optional<api_response> {
      auto body = json::parse(res.body, nullptr, false);
      if (!body.is_object() || !body.contains("items")
          || !body["items"].is_array())
        return error_response(502, "bad_gateway",
                              "a member answered a listing with a "
                              "malformed body");
      parts.push_back(std::move(body));
      return std::nullopt;
    };
    if (auto err = take(mine))
      return *err;
    for (size_t k = 0; k < peers.size(); ++k) {
      auto& res = theirs[k];
      if (res.status == 503 || res.status == 504) {
        unavailable.push_back(peers[k]);
        continue;
      }
      if (res.status != 200)
        return res;
      if (auto err = take(res))
        return *err;
    }
    std::vector<json> items;
    for (auto& p : parts)
      for (auto& x : p["items"])
        items.push_back(std::move(x));
    auto ms = [](const json& x, const char* field) {
      auto i = x.find(field);
      if (i == x.end() || !i->is_string())
        return INT64_MAX;
      auto t = parse_iso8601(i->get<std::string>());
      return t ? to_unix_ms(*t) : INT64_MAX;
    };
    auto str = [](const json& x, const char* field) {
      auto i = x.find(field);
      return i != x.end() && i->is_string() ? i->get<std::string>()
                                            : std::string{};
    };
    auto by = [&](const char* time_field, const char* id_field) {
      std::sort(items.begin(), items.end(), [&](const json& x, const json& y) {
        auto tx = time_field ? ms(x, time_field) : 0;
        auto ty = time_field ? ms(y, time_field) : 0;
        if (tx != ty)
          return tx < ty;
        return str(x, id_field) < str(y, id_field);
      });
    };
    json out;
    if (label == "/v1/applications" || label == "/v1/subscriptions") {
      // Each member pages in id order and may stop early (a page reads at
      // most 20,000 rows): the merged page ends at the smallest cursor a
      // member returned, so no member's rows are skipped.
      std::optional<std::string> bound;
      for (auto& p : parts)
        if (p.contains("next_cursor") && p["next_cursor"].is_string()) {
          auto cur = p["next_cursor"].get<std::string>();
          if (!bound || cur < *bound)
            bound = cur;
        }
      by(nullptr, "id");
      if (bound)
        items.erase(
          std::remove_if(items.begin(), items.end(),
                         [&](const json& x) { return str(x, "id") > *bound; }),
          items.end());
      auto limit = limit_param(c, default_list_limit, max_list_limit);
      if (!limit)
        return error_response(limit.error());
      json next = bound ? json(*bound) : json(nullptr);
      if (items.size() > *limit) {
        items.resize(*limit);
        next = str(items.back(), "id");
      }
      out = json{{"items", items}, {"next_cursor", next}};
    } else if (cases) {
      std::sort(items.begin(), items.end(), [&](const json& x, const json& y) {
        auto dx = ms(x, "deadline");
        auto dy = ms(y, "deadline");
        if (dx != dy)
          return dx < dy;
        return str(x, "id") < str(y, "id");
      });
      auto limit = limit_param(c, default_list_limit, max_list_limit);
      if (!limit)
        return error_response(limit.error());
      size_t first = 0;
      if (auto cursor = query(c, "cursor"); !cursor.empty()) {
        auto i = std::find_if(items.begin(), items.end(), [&](const json& x) {
          return str(x, "id") == cursor;
        });
        if (i == items.end())
          return error_response(422, "invalid_argument",
                                "cursor: not a case of this listing");
        first = static_cast<size_t>(i - items.begin()) + 1;
      }
      json page = json::array();
      json next = nullptr;
      for (size_t i = first; i < items.size(); ++i) {
        if (page.size() == *limit) {
          next = str(items[i - 1], "id");
          break;
        }
        page.push_back(std::move(items[i]));
      }
      out = json{{"items", page}, {"next_cursor", next}};
    } else {
      size_t limit = SIZE_MAX;
      if (label == "/v1/reviews") {
        by("due", "application");
        auto l = limit_param(c, 100, 1000);
        if (!l)
          return error_response(l.error());
        limit = *l;
      } else if (label == "/v1/timers") {
        by("due", "id");
        auto l = limit_param(c, 100, 10'000);
        if (!l)
          return error_response(l.error());
        limit = *l;
      } else {
        by("at", "id");
      }
      if (items.size() > limit)
        items.resize(limit);
      out = json{{"items", items}};
    }
    if (!unavailable.empty())
      out["unavailable"] = unavailable;
    return json_response(200, out);
  }

  /// This node's entities and pending timers (exact counts, by scanning).
  json local_counts() {
    auto count = [&](storage::cf family, const char* prefix) -> json {
      size_t n = 0;
      std::string after;
      for (;;) {
        auto rows = deps.store->scan(family, prefix, 4096, after);
        if (!rows)
          return nullptr;
        n += rows->size();
        if (rows->size() < 4096)
          return n;
        after = rows->back().key;
      }
    };
    return json{
      {"entities",
       {{"applications", count(storage::cf::snapshots, "app_")},
        {"subscriptions", count(storage::cf::snapshots, "sub_")},
        {"compliance_cases", count(storage::cf::snapshots, "case_")},
        {"emergency_licenses", count(storage::cf::snapshots, "em_")}}},
      {"timers_pending", count(storage::cf::timers, "")}};
  }

  api_response cluster_status(call& c) {
    if (c.req.local_only) {
      auto out = local_counts();
      out["node"] = deps.cluster->self();
      return json_response(200, out);
    }
    if (!deps.cluster) {
      // A single node: a cluster of one, in the same shape.
      auto counts = local_counts();
      json me{{"name", deps.node_name},
              {"self", true},
              {"reachable", true},
              {"entities", counts["entities"]},
              {"timers_pending", counts["timers_pending"]}};
      return json_response(
        200, json{{"node", deps.node_name}, {"members", json::array({me})}});
    }
    auto& cl = *deps.cluster;
    auto [mine, peers, theirs]
      = everywhere(c.req, [&] { return local_counts(); });
    auto members = json::array();
    size_t k = 0;
    for (auto& st : cl.status()) {
      json m{{"name", st.member.name},   {"host", st.member.host},
             {"port", st.member.port},   {"self", st.self},
             {"reachable", st.up},       {"entities", nullptr},
             {"timers_pending", nullptr}};
      if (!st.up && !st.error.empty())
        m["error"] = st.error;
      json counts;
      if (st.self) {
        counts = mine;
      } else {
        auto& res = theirs[k++];
        if (res.status == 200)
          counts = json::parse(res.body, nullptr, false);
        else
          m["reachable"] = false;
      }
      if (counts.is_object()) {
        m["entities"] = counts.value("entities", json(nullptr));
        m["timers_pending"] = counts.value("timers_pending", json(nullptr));
      }
      members.push_back(std::move(m));
    }
    return json_response(200, json{{"node", cl.self()}, {"members", members}});
  }

  /// What a new member list would move: every member's part (computed from
  /// its store; nothing is written), merged.
  api_response cluster_plan(call& c) {
    if (auto bad = only_keys(c, {"members", "limit", "node"}))
      return *bad;
    auto m = c.body.find("members");
    if (m == c.body.end() || !m->is_array() || m->empty())
      return error_response(422, "invalid_argument",
                            "members: a list of \"name@host:port\"");
    std::vector<std::string> texts;
    for (auto& x : *m) {
      if (!x.is_string())
        return error_response(422, "invalid_argument",
                              "members: a list of \"name@host:port\"");
      texts.push_back(x.get<std::string>());
    }
    size_t limit = 100;
    if (auto l = c.body.find("limit"); l != c.body.end()) {
      if (!l->is_number_unsigned() || l->get<uint64_t>() > 100'000)
        return error_response(422, "invalid_argument",
                              "limit: a number 0..100000");
      limit = l->get<size_t>();
    }
    auto parsed = parse_members(texts);
    if (!parsed)
      return error_response(422, "invalid_argument",
                            error_message(parsed.error()));
    auto next = ownership::make(std::move(*parsed));
    if (!next)
      return error_response(422, "invalid_argument",
                            "members: " + error_message(next.error()));
    std::string self = deps.cluster ? deps.cluster->self() : std::string{};
    if (!deps.cluster) {
      auto n = c.body.find("node");
      if (n == c.body.end() || !n->is_string() || n->get<std::string>().empty())
        return error_response(422, "invalid_argument",
                              "node: this node runs alone; name it as it "
                              "will be called among the members");
      self = n->get<std::string>();
    }
    auto local = [&]() -> caf::expected<json> {
      auto plan = cluster_move::plan_moves(*deps.store, *next, self, limit);
      if (!plan)
        return std::move(plan.error());
      auto moves = json::array();
      for (auto& mv : plan->moves)
        moves.push_back(
          json{{"from", mv.from},
               {"to", mv.to},
               {"count", mv.count},
               {"kinds",
                {{"applications", mv.kinds.applications},
                 {"subscriptions", mv.kinds.subscriptions},
                 {"compliance_cases", mv.kinds.compliance_cases},
                 {"emergency_licenses", mv.kinds.emergency_licenses},
                 {"coupon_pools", mv.kinds.coupon_pools},
                 {"other", mv.kinds.other}}},
               {"entities", mv.entities}});
      return json{
        {"moves", moves}, {"total", plan->total}, {"staying", plan->staying}};
    };
    if (!deps.cluster || c.req.local_only) {
      auto out = local();
      if (!out)
        return error_response(out.error());
      return json_response(200, *out);
    }
    auto [mine, peers, theirs] = everywhere(c.req, local);
    if (!mine)
      return error_response(mine.error());
    json out{{"moves", (*mine)["moves"]},
             {"total", (*mine)["total"]},
             {"staying", (*mine)["staying"]},
             {"unavailable", json::array()}};
    for (size_t k = 0; k < peers.size(); ++k) {
      auto& res = theirs[k];
      auto body = json::parse(res.body, nullptr, false);
      if (res.status != 200 || !body.is_object() || !body.contains("moves")) {
        out["unavailable"].push_back(peers[k]);
        continue;
      }
      for (auto& mv : body["moves"])
        out["moves"].push_back(mv);
      out["total"] = out["total"].get<uint64_t>() + body.value("total", 0ull);
      out["staying"]
        = out["staying"].get<uint64_t>() + body.value("staying", 0ull);
    }
    return json_response(200, out);
  }

  // -- operations -------------------------------------------------------------

  api_response list_timers(call& c) {
    duration within = std::chrono::hours(24 * 7);
    if (auto w = query(c, "within"); !w.empty()) {
      auto d = parse_duration(w);
      if (!d || d->count() <= 0)
        return error_response(422, "invalid_argument",
                              "within: a duration such as 7d or 12h");
      within = *d;
    }
    auto limit = limit_param(c, 100, 10'000);
    if (!limit)
      return error_response(limit.error());
    auto owner = query(c, "owner");
    auto ts = deps.store->due_timers(deps.clock->now() + within, *limit, owner);
    if (!ts)
      return error_response(ts.error());
    auto items = json::array();
    for (auto& t : *ts)
      items.push_back(to_json(t));
    return json_response(200, json{{"items", items}});
  }

  api_response outbox_status_route(call&) {
    auto st = ask<outbox_status>(deps.sv->outbox, outbox_atom::value);
    if (!st)
      return error_response(st.error());
    auto failures = json::array();
    for (auto& n : st->failures)
      failures.push_back(notification_json(n));
    return json_response(200, json{{"pending", st->pending},
                                   {"delivered", st->delivered},
                                   {"failed", st->failed},
                                   {"failures", failures}});
  }

  api_response outbox_retry(call& c) {
    auto id = id_param<ntf_id>(c, 0);
    if (!id)
      return error_response(id.error());
    auto n = ask<notification>(deps.sv->outbox, retry_atom::value, *id);
    if (!n)
      return error_response(n.error());
    return json_response(200, notification_json(*n));
  }

  json timer_stats() {
    json out = json::object();
    if (!deps.sv)
      return out;
    for (auto& [owner, hdl] : deps.sv->timers) {
      caf::scoped_actor self{*deps.sys};
      self->request(hdl, deps.timeout, stats_atom::value)
        .receive(
          [&](uint64_t fired, uint64_t failed, uint64_t in_flight,
              uint64_t backing_off, int64_t max_lateness_ms) {
            out[owner] = json{{"fired", fired},
                              {"failed", failed},
                              {"in_flight", in_flight},
                              {"backing_off", backing_off},
                              {"max_lateness_ms", max_lateness_ms}};
          },
          [&](caf::error&) { out[owner] = nullptr; });
    }
    return out;
  }

  json registry_stats() {
    json out = nullptr;
    caf::scoped_actor self{*deps.sys};
    self->request(deps.registry, deps.timeout, stats_atom::value)
      .receive(
        [&](uint64_t active, uint64_t activations, uint64_t passivations,
            uint64_t crashes, uint64_t deferred) {
          out = json{{"active", active},
                     {"activations", activations},
                     {"passivations", passivations},
                     {"crashes", crashes},
                     {"deferred", deferred}};
        },
        [&](caf::error&) {});
    return out;
  }

  api_response node_status(call&) {
    auto m = deps.store->metrics();
    json out;
    out["node"] = json{{"name", deps.node_name},
                       {"version", "0.1.0"},
                       {"clock", std::string{deps.clock->kind()}},
                       {"now", to_iso8601(deps.clock->now())},
                       {"data_dir", deps.data_dir}};
    out["store"] = json{{"open", deps.store->is_open()},
                        {"commits", m.commits},
                        {"failed_commits", m.failed_commits},
                        {"conflicts", m.conflicts},
                        {"groups", m.groups},
                        {"syncs", m.syncs},
                        {"bytes", m.bytes},
                        {"avg_group", m.avg_group_size()}};
    out["registry"] = registry_stats();
    out["timers"] = timer_stats();
    auto ob = deps.sv
                ? ask<outbox_status>(deps.sv->outbox, outbox_atom::value)
                : caf::expected<outbox_status>{make_error(errc::unavailable)};
    out["outbox"] = ob ? json{{"pending", ob->pending},
                              {"delivered", ob->delivered},
                              {"failed", ob->failed}}
                       : json(nullptr);
    return json_response(200, out);
  }

  uint64_t fired_total() {
    uint64_t total = 0;
    auto stats = timer_stats();
    for (auto& [owner, s] : stats.items())
      if (s.is_object())
        total += s.value("fired", uint64_t{0});
    return total;
  }

  api_response admin_clock(call& c) {
    if (!deps.manual)
      return error_response(404, "not_found",
                            "the node does not run the manual clock");
    if (auto bad = only_keys(c, {"advance", "set"}))
      return *bad;
    bool has_advance = c.body.contains("advance");
    bool has_set = c.body.contains("set");
    if (has_advance == has_set)
      return error_response(422, "invalid_argument",
                            "body: give exactly one of advance or set");
    auto before = fired_total();
    if (has_advance) {
      std::string text;
      if (auto err = field(c, "advance", text, true))
        return error_response(err);
      auto d = parse_duration(text);
      if (!d || d->count() < 0)
        return error_response(422, "invalid_argument",
                              "advance: a duration such as 30d, 12h or 90s");
      if (auto t = deps.manual->advance(*d); !t)
        return error_response(t.error());
    } else {
      time_point t;
      if (auto err = field(c, "set", t, true))
        return error_response(err);
      if (auto err = deps.manual->set(t))
        return error_response(err);
    }
    log.info("clock moved now={} by={}", to_iso8601(deps.clock->now()),
             c.key ? c.key->name : "?");
    // Answer once what came due has fired, so a script's next request sees
    // its effects.
    if (deps.sv)
      if (auto err = flush_timers(*deps.sys, *deps.sv))
        return error_response(err);
    auto after = fired_total();
    return json_response(200, json{{"now", to_iso8601(deps.clock->now())},
                                   {"fired", after - before}});
  }

  // -- metrics ----------------------------------------------------------------

  void observe(const std::string& label, const std::string& method, int status,
               double secs) {
    std::lock_guard<std::mutex> guard{metrics_mtx};
    ++requests[{label, method, status}];
    auto& m = latencies[label];
    ++m.count;
    m.sum += secs;
    for (size_t i = 0; i < latency_buckets.size(); ++i)
      if (secs <= latency_buckets[i])
        ++m.buckets[i];
  }

  std::string metrics_text() {
    std::string out;
    auto line = [&](auto&&... xs) {
      out += fmt::format(std::forward<decltype(xs)>(xs)...);
      out += '\n';
    };
    {
      std::lock_guard<std::mutex> guard{metrics_mtx};
      line("# HELP tenure_http_requests_total Requests served, by route, "
           "method and status.");
      line("# TYPE tenure_http_requests_total counter");
      for (auto& [k, n] : requests)
        line("tenure_http_requests_total{{route=\"{}\",method=\"{}\","
             "status=\"{}\"}} {}",
             std::get<0>(k), std::get<1>(k), std::get<2>(k), n);
      line("# HELP tenure_http_request_seconds Request latency.");
      line("# TYPE tenure_http_request_seconds histogram");
      for (auto& [label, m] : latencies) {
        for (size_t i = 0; i < latency_buckets.size(); ++i)
          line("tenure_http_request_seconds_bucket{{route=\"{}\",le=\"{}\"}} "
               "{}",
               label, latency_buckets[i], m.buckets[i]);
        line("tenure_http_request_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} "
             "{}",
             label, m.count);
        line("tenure_http_request_seconds_sum{{route=\"{}\"}} {}", label,
             m.sum);
        line("tenure_http_request_seconds_count{{route=\"{}\"}} {}", label,
             m.count);
      }
    }
    auto m = deps.store->metrics();
    line(
      "# HELP tenure_store_commits_total Commits acknowledged by the store.");
    line("# TYPE tenure_store_commits_total counter");
    line("tenure_store_commits_total {}", m.commits);
    line("# HELP tenure_store_failed_commits_total Commits that failed.");
    line("# TYPE tenure_store_failed_commits_total counter");
    line("tenure_store_failed_commits_total {}", m.failed_commits);
    line("# HELP tenure_store_syncs_total WAL syncs (one per group).");
    line("# TYPE tenure_store_syncs_total counter");
    line("tenure_store_syncs_total {}", m.syncs);
    line("# HELP tenure_timers_pending Durable timers stored (estimate).");
    line("# TYPE tenure_timers_pending gauge");
    line("tenure_timers_pending {}",
         deps.store->estimate_rows(storage::cf::timers));
    line("# HELP tenure_timers_fired_total Timers fired, by owner.");
    line("# TYPE tenure_timers_fired_total counter");
    auto stats = timer_stats();
    for (auto& [owner, s] : stats.items())
      if (s.is_object())
        line("tenure_timers_fired_total{{owner=\"{}\"}} {}", owner,
             s.value("fired", uint64_t{0}));
    if (deps.sv) {
      auto ob = ask<outbox_status>(deps.sv->outbox, outbox_atom::value);
      if (ob) {
        line("# HELP tenure_outbox_pending Notifications waiting for "
             "delivery.");
        line("# TYPE tenure_outbox_pending gauge");
        line("tenure_outbox_pending {}", ob->pending);
        line("# HELP tenure_outbox_failed Notifications that gave up.");
        line("# TYPE tenure_outbox_failed gauge");
        line("tenure_outbox_failed {}", ob->failed);
      }
    }
    auto reg = registry_stats();
    if (reg.is_object()) {
      line("# HELP tenure_entities_active Entity actors in memory.");
      line("# TYPE tenure_entities_active gauge");
      line("tenure_entities_active {}", reg.value("active", uint64_t{0}));
    }
    if (deps.cluster) {
      auto members = deps.cluster->status();
      line("# HELP tenure_cluster_peer_up Whether this node's link to a "
           "member is up (1) or down (0).");
      line("# TYPE tenure_cluster_peer_up gauge");
      for (auto& m : members)
        if (!m.self)
          line("tenure_cluster_peer_up{{node=\"{}\"}} {}", m.member.name,
               m.up ? 1 : 0);
      line("# HELP tenure_cluster_forwarded_total Requests forwarded to a "
           "member, by outcome.");
      line("# TYPE tenure_cluster_forwarded_total counter");
      for (auto& m : members)
        if (!m.self)
          for (auto [outcome, n] : {std::pair{"answered", m.answered},
                                    std::pair{"unavailable", m.unavailable},
                                    std::pair{"timeout", m.timeouts}})
            line("tenure_cluster_forwarded_total{{node=\"{}\",outcome=\"{}\"}} "
                 "{}",
                 m.member.name, outcome, n);
    }
    return out;
  }

  // -- dashboard (nodes/dashboard.hpp) ----------------------------------------

  api_response dashboard(call& c) {
    return serve_dashboard(c.req, deps, [&] { return dashboard_outreach(c); });
  }

  /// The dashboard's `outreach`: the answer of `GET /v1/outreach/programs`
  /// to the caller's token, once that route exists; no programs before
  /// (404), and no programs with the reason when it fails.
  json dashboard_outreach(call& c) {
    json out{{"programs", json::array()}};
    api_request r = c.req;
    r.path = "/v1/outreach/programs";
    r.query.clear();
    r.query["limit"] = "200";
    std::string ignored;
    auto res = dispatch(r, ignored);
    if (res.status == 404)
      return out;
    auto body = json::parse(res.body, nullptr, false);
    if (res.status == 200 && body.is_object() && body.contains("items")
        && body["items"].is_array()) {
      for (auto& p : body["items"]) {
        auto& n = p["counts"];
        auto& rt = p["rates"];
        out["programs"].push_back(json{{"id", p["id"]},
                                       {"name", p["name"]},
                                       {"kind", p["kind"]},
                                       {"stage", p["stage"]},
                                       {"state", p["state"]},
                                       {"rates",
                                        {{"sent", n["sent"]},
                                         {"opened", n["opened"]},
                                         {"clicked", n["clicked"]},
                                         {"bounced", n["bounced"]},
                                         {"responses", n["responses"]},
                                         {"open_rate", rt["open_rate"]},
                                         {"click_rate", rt["click_rate"]},
                                         {"bounce_rate", rt["bounce_rate"]}}}});
      }
    } else
      out["error"]
        = fmt::format("GET /v1/outreach/programs answered {}", res.status);
    return out;
  }
};

caf::error ensure_email_index(storage::store& st) {
  constexpr std::string_view marker = "email_index_v1";
  auto done = st.get(storage::cf::meta, marker);
  if (!done)
    return std::move(done.error());
  if (*done)
    return caf::none;
  // Stores written before the index existed: one pass over the snapshots.
  // Puts are idempotent, so a crash midway just starts over.
  for (std::string_view prefix : {"app_", "sub_"}) {
    std::string after;
    for (;;) {
      auto rows = st.scan(storage::cf::snapshots, prefix, 1000, after);
      if (!rows)
        return std::move(rows.error());
      if (rows->empty())
        break;
      storage::batch b;
      for (auto& row : *rows) {
        after = row.key;
        if (row.value.size() < 8)
          return make_error(errc::corrupt_data, "snapshot of " + row.key);
        auto payload = std::string_view{row.value}.substr(8);
        std::string email;
        if (prefix == "app_") {
          auto x = decode<application>(payload);
          if (!x)
            return std::move(x.error());
          email = x->applicant.email;
        } else {
          auto x = decode<subscription>(payload);
          if (!x)
            return std::move(x.error());
          email = x->contact_email;
        }
        if (!email.empty())
          b.put(storage::cf::meta, email_index_key(email, row.key), "");
      }
      if (auto err = st.commit_sync(std::move(b)))
        return err;
    }
  }
  storage::batch b;
  b.put(storage::cf::meta, marker, "1");
  return st.commit_sync(std::move(b));
}

api::api(api_deps deps)
  : impl_(new impl(std::move(deps))) {
  // nop
}

api::~api() = default;

api_response api::handle(const api_request& req) {
  return impl_->handle(req);
}

std::string api::metrics() {
  return impl_->metrics_text();
}

} // namespace tenure
