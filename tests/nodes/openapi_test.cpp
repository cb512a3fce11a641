// docs/openapi.yaml against a real tenured: every operation of the spec is
// sent to the node (path parameters filled with objects the test created,
// the spec's example body, the admin token) and its answer must be one the
// spec documents: a documented status, the documented Content-Type, and a
// JSON body with every `required` property of the documented schema, of
// the documented types, enums and formats. In the other direction, the
// spec must list exactly the routes of the API catalog
// (/tmp/spec/api_catalog.md, hard-coded below) with their scopes, and the
// node must answer unknown routes with 404 and known paths with another
// method with 405.
//
// The spec is read with yaml-cpp and turned into JSON once; `$ref`s are
// resolved against the document when a schema is checked.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "tests/support/e2e_tools.hpp"
#include "tests/support/process.hpp"

using namespace std::chrono_literals;
// Ordered, so the walker follows the spec's order and messages show fields
// as written.
using json = nlohmann::ordered_json;
using tenure::test::child_process;
using tenure::test::day_ms;
using tenure::test::eventually;
using tenure::test::hmac_sha256_hex;
using tenure::test::iso_ms;
using tenure::test::parse_iso_ms;
using tenure::test::random_hex;
using tenure::test::read_file;
using tenure::test::redacted;
using tenure::test::temp_dir;
using tenure::test::tenured_node;
using tenure::test::to_hex;
using tenure::test::trim;

namespace {

// -- small tools --------------------------------------------------------------

std::string unique(const std::string& prefix) {
  return prefix + "-" + random_hex(5);
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// `text/plain; version=0.0.4` -> `text/plain`.
std::string media_type(const std::string& content_type) {
  return lower(trim(content_type.substr(0, content_type.find(';'))));
}

// -- YAML to JSON -------------------------------------------------------------

/// A YAML scalar as JSON: quoted scalars are strings; plain ones follow
/// YAML 1.2's core schema (null, booleans, integers, floats), else strings,
/// so `term: 1y` stays a string and `seats: 25` is a number.
json scalar_to_json(const YAML::Node& n) {
  const auto& s = n.Scalar();
  if (n.Tag() != "?")
    return s; // quoted or block scalar
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL")
    return nullptr;
  if (s == "true" || s == "True" || s == "TRUE")
    return true;
  if (s == "false" || s == "False" || s == "FALSE")
    return false;
  static const std::regex int_re{"^[-+]?[0-9]+$"};
  static const std::regex float_re{
    "^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$"};
  if (std::regex_match(s, int_re)) {
    try {
      return std::stoll(s);
    } catch (const std::exception&) {
      return s;
    }
  }
  if (std::regex_match(s, float_re))
    return std::stod(s);
  return s;
}

json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (auto it = n.begin(); it != n.end(); ++it)
        out[it->first.as<std::string>()] = yaml_to_json(it->second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (auto it = n.begin(); it != n.end(); ++it)
        out.push_back(yaml_to_json(*it));
      return out;
    }
    case YAML::NodeType::Scalar:
      return scalar_to_json(n);
    default:
      return nullptr;
  }
}

// -- the spec -----------------------------------------------------------------

/// One operation of the spec.
struct operation {
  std::string method; // upper case
  std::string path;   // as in the spec, e.g. /v1/applications/{id}
  json def;           // the operation object
  std::string id() const {
    return def.value("operationId", method + " " + path);
  }
};

/// docs/openapi.yaml, as JSON.
class spec {
public:
  bool load(const std::string& file, std::string& error) {
    try {
      doc_ = yaml_to_json(YAML::LoadFile(file));
    } catch (const std::exception& e) {
      error = e.what();
      return false;
    }
    return doc_.is_object();
  }

  const json& doc() const {
    return doc_;
  }

  /// Follows `$ref`s (`#/components/...`) until a node without one.
  const json& resolve(const json& n) const {
    const json* cur = &n;
    for (int hops = 0; hops < 32; ++hops) {
      if (!cur->is_object() || !cur->contains("$ref"))
        return *cur;
      auto ref = (*cur)["$ref"].get<std::string>();
      if (ref.rfind("#/", 0) != 0)
        return missing_;
      json::json_pointer ptr{ref.substr(1)};
      if (!doc_.contains(ptr))
        return missing_;
      cur = &doc_.at(ptr);
    }
    return missing_;
  }

  std::vector<operation> operations() const {
    std::vector<operation> out;
    static const std::set<std::string> methods{
      "get", "put", "post", "patch", "delete", "head", "options"};
    if (!doc_.contains("paths"))
      return out;
    for (auto& [path, item] : doc_["paths"].items())
      for (auto& [m, def] : item.items())
        if (methods.count(m))
          out.push_back(operation{upper(m), path, def});
    return out;
  }

  /// The operation's parameters, resolved.
  std::vector<json> parameters(const operation& op) const {
    std::vector<json> out;
    if (op.def.contains("parameters"))
      for (auto& p : op.def["parameters"])
        out.push_back(resolve(p));
    return out;
  }

  /// The security scheme an operation uses (`bearerAuth`,
  /// `verifierSignature`, or empty for none) and its scopes.
  std::pair<std::string, std::vector<std::string>>
  security(const operation& op) const {
    const json* sec = nullptr;
    if (op.def.contains("security"))
      sec = &op.def["security"];
    else if (doc_.contains("security"))
      sec = &doc_["security"];
    if (!sec || !sec->is_array() || sec->empty())
      return {};
    auto& req = (*sec)[0];
    if (!req.is_object() || req.empty())
      return {};
    auto it = req.begin();
    std::vector<std::string> scopes;
    for (auto& s : it.value())
      scopes.push_back(s.get<std::string>());
    return {it.key(), scopes};
  }

private:
  static std::string upper(std::string s) {
    for (auto& c : s)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  }

  json doc_;
  json missing_ = json{{"x-unresolved", true}};
};

// -- the schema checker -------------------------------------------------------

/// Checks `value` against `schema`: required properties, types, enums,
/// const, formats (date-time), patterns, lengths, minimums, items,
/// additionalProperties, allOf/anyOf/oneOf. Appends "PATH: what" to
/// `problems`. Values are quoted only for enums, const, patterns and
/// formats, which hold no secrets in this API.
class checker {
public:
  explicit checker(const spec& s)
    : spec_(s) {
    // nop
  }

  void check(const json& schema_in, const json& value, const std::string& at,
             std::vector<std::string>& problems, int depth = 0) const {
    if (depth > 64) {
      problems.push_back(at + ": schema nested too deep");
      return;
    }
    const json& schema = spec_.resolve(schema_in);
    if (schema.contains("x-unresolved")) {
      problems.push_back(at + ": unresolved $ref in the spec");
      return;
    }
    if (!schema.is_object())
      return;
    if (schema.contains("allOf"))
      for (auto& sub : schema["allOf"])
        check(sub, value, at, problems, depth + 1);
    for (const char* kw : {"anyOf", "oneOf"}) {
      if (!schema.contains(kw))
        continue;
      size_t passing = 0;
      std::vector<std::string> first;
      for (auto& sub : schema[kw]) {
        std::vector<std::string> p;
        check(sub, value, at, p, depth + 1);
        if (p.empty())
          ++passing;
        else if (first.empty())
          first = p;
      }
      bool ok = std::string{kw} == "anyOf" ? passing >= 1 : passing == 1;
      if (!ok)
        problems.push_back(
          at + ": " + kw + " matched " + std::to_string(passing) + " branches"
          + (first.empty() ? "" : " (first: " + first[0] + ")"));
    }
    if (schema.contains("type") && !type_matches(schema["type"], value)) {
      problems.push_back(at + ": expected " + schema["type"].dump() + ", got "
                         + type_name(value));
      return;
    }
    if (schema.contains("const") && !same(schema["const"], value))
      problems.push_back(at + ": expected " + schema["const"].dump() + ", got "
                         + shown(value));
    if (schema.contains("enum")) {
      bool found = false;
      for (auto& e : schema["enum"])
        found = found || same(e, value);
      if (!found)
        problems.push_back(at + ": " + shown(value) + " is not one of "
                           + schema["enum"].dump());
    }
    if (value.is_string())
      check_string(schema, value.get<std::string>(), at, problems);
    if (value.is_number() && schema.contains("minimum")
        && value.get<double>() < schema["minimum"].get<double>())
      problems.push_back(at + ": below the minimum "
                         + schema["minimum"].dump());
    if (value.is_number() && schema.contains("maximum")
        && value.get<double>() > schema["maximum"].get<double>())
      problems.push_back(at + ": above the maximum "
                         + schema["maximum"].dump());
    if (value.is_object())
      check_object(schema, value, at, problems, depth);
    if (value.is_array() && schema.contains("items"))
      for (size_t i = 0; i < value.size(); ++i)
        check(schema["items"], value[i], at + "[" + std::to_string(i) + "]",
              problems, depth + 1);
  }

private:
  void check_object(const json& schema, const json& value,
                    const std::string& at, std::vector<std::string>& problems,
                    int depth) const {
    if (schema.contains("required"))
      for (auto& r : schema["required"]) {
        auto name = r.get<std::string>();
        if (!value.contains(name))
          problems.push_back(join(at, name) + ": required property missing");
      }
    json props = schema.value("properties", json::object());
    for (auto& [k, v] : value.items()) {
      if (props.contains(k)) {
        check(props[k], v, join(at, k), problems, depth + 1);
      } else if (schema.contains("additionalProperties")) {
        auto& ap = schema["additionalProperties"];
        if (ap.is_boolean() && !ap.get<bool>())
          problems.push_back(join(at, k)
                             + ": property not in the schema "
                               "(additionalProperties: false)");
        else if (ap.is_object())
          check(ap, v, join(at, k), problems, depth + 1);
      }
    }
  }

  void check_string(const json& schema, const std::string& s,
                    const std::string& at,
                    std::vector<std::string>& problems) const {
    if (schema.contains("minLength")
        && s.size() < schema["minLength"].get<size_t>())
      problems.push_back(at + ": shorter than " + schema["minLength"].dump());
    if (schema.contains("maxLength")
        && s.size() > schema["maxLength"].get<size_t>())
      problems.push_back(at + ": longer than " + schema["maxLength"].dump());
    if (schema.value("format", "") == "date-time") {
      static const std::regex re{
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
        "(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$"};
      if (!std::regex_match(s, re))
        problems.push_back(at + ": '" + s.substr(0, 40)
                           + "' is not an RFC 3339 date-time");
    }
    if (schema.contains("pattern")) {
      auto pattern = schema["pattern"].get<std::string>();
      try {
        if (!std::regex_search(s, std::regex{pattern}))
          problems.push_back(at + ": '" + s.substr(0, 60) + "' does not match "
                             + pattern);
      } catch (const std::regex_error&) {
        problems.push_back(at + ": the spec's pattern " + pattern
                           + " is not a valid regex");
      }
    }
  }

  static bool type_matches(const json& type, const json& value) {
    if (type.is_array()) {
      for (auto& t : type)
        if (type_matches(t, value))
          return true;
      return false;
    }
    auto t = type.get<std::string>();
    if (t == "object")
      return value.is_object();
    if (t == "array")
      return value.is_array();
    if (t == "string")
      return value.is_string();
    if (t == "integer")
      return value.is_number_integer();
    if (t == "number")
      return value.is_number();
    if (t == "boolean")
      return value.is_boolean();
    if (t == "null")
      return value.is_null();
    return false;
  }

  static std::string type_name(const json& v) {
    if (v.is_number_integer())
      return "integer";
    return v.type_name();
  }

  static bool same(const json& x, const json& y) {
    if (x.is_number() && y.is_number())
      return x.get<double>() == y.get<double>();
    return x == y;
  }

  static std::string shown(const json& v) {
    return v.is_string() ? "'" + v.get<std::string>().substr(0, 60) + "'"
                         : v.dump().substr(0, 60);
  }

  static std::string join(const std::string& at, const std::string& key) {
    return at.empty() ? key : at + "." + key;
  }

  const spec& spec_;
};

// -- HTTP ---------------------------------------------------------------------

/// One answer of the node.
struct reply {
  int status = 0;
  std::string text;
  std::string content_type;
  json body; // null when not JSON
  httplib::Headers headers;

  std::string header(const std::string& name) const {
    auto i = headers.find(name);
    return i == headers.end() ? std::string{} : i->second;
  }

  std::string error_code() const {
    if (body.is_object() && body.contains("error") && body["error"].is_object())
      return body["error"].value("code", "");
    return {};
  }

  std::string error_message() const {
    if (body.is_object() && body.contains("error") && body["error"].is_object())
      return body["error"].value("message", "");
    return {};
  }

  /// Status and body, secrets redacted, for assertion messages.
  std::string describe() const {
    auto shown = body.is_null() ? text.substr(0, 200)
                                : redacted(body).dump().substr(0, 600);
    return "HTTP " + std::to_string(status) + " " + shown;
  }
};

/// A request as the walker builds it.
struct request {
  std::string method;
  std::string target;
  std::string body;
  std::string content_type;
  httplib::Headers headers;
};

class client {
public:
  explicit client(int port)
    : cli_("127.0.0.1", port) {
    cli_.set_connection_timeout(5, 0);
    cli_.set_read_timeout(30, 0);
    cli_.set_write_timeout(30, 0);
  }

  reply send(const request& r) {
    auto res = [&]() -> httplib::Result {
      if (r.method == "POST")
        return cli_.Post(r.target.c_str(), r.headers, r.body,
                         r.content_type.c_str());
      if (r.method == "PUT")
        return cli_.Put(r.target.c_str(), r.headers, r.body,
                        r.content_type.c_str());
      if (r.method == "DELETE")
        return cli_.Delete(r.target.c_str(), r.headers);
      return cli_.Get(r.target.c_str(), r.headers);
    }();
    reply out;
    if (!res)
      return out;
    out.status = res->status;
    out.text = res->body;
    out.headers = res->headers;
    out.content_type = res->get_header_value("Content-Type");
    out.body = json::parse(res->body, nullptr, false);
    if (out.body.is_discarded())
      out.body = nullptr;
    return out;
  }

private:
  httplib::Client cli_;
};

std::string url_encode(const std::string& s) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~'
        || c == '@') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 0xf];
    }
  }
  return out;
}

// -- the catalog (/tmp/spec/api_catalog.md) -----------------------------------

/// A route of the catalog: method, path (parameters as `{}`) and the scope
/// (`none` for probes, `signature` for the verifier callback).
struct catalog_route {
  const char* method;
  const char* path;
  const char* scope;
};

constexpr catalog_route catalog[] = {
  {"GET", "/healthz", "none"},
  {"GET", "/readyz", "none"},
  {"GET", "/metrics", "none"},
  {"POST", "/v1/applications", "write"},
  {"GET", "/v1/applications/{}", "read"},
  {"GET", "/v1/applications", "read"},
  {"POST", "/v1/applications/{}/appeal", "write"},
  {"POST", "/v1/applications/{}/withdraw", "write"},
  {"POST", "/v1/verifier/callback", "signature"},
  {"GET", "/v1/reviews", "review"},
  {"POST", "/v1/reviews/{}", "review"},
  {"POST", "/v1/checkout/redeem", "write"},
  {"POST", "/v1/subscriptions", "billing"},
  {"GET", "/v1/subscriptions/{}", "read"},
  {"GET", "/v1/subscriptions", "read"},
  {"POST", "/v1/subscriptions/{}/usage", "write"},
  {"POST", "/v1/subscriptions/{}/compliance-cases", "support"},
  {"POST", "/v1/subscriptions/{}/revoke", "support"},
  {"GET", "/v1/compliance-cases", "support"},
  {"GET", "/v1/compliance-cases/{}", "support"},
  {"POST", "/v1/compliance-cases/{}/cure", "support"},
  {"POST", "/v1/emergency-licenses", "support"},
  {"GET", "/v1/emergency-licenses", "support"},
  {"GET", "/v1/emergency-licenses/{}", "support"},
  {"POST", "/v1/emergency-licenses/{}/resend", "support"},
  {"POST", "/v1/support/triage", "support"},
  {"GET", "/v1/coupons/{}/stock", "read"},
  {"POST", "/v1/coupons/{}/import", "coupon-admin"},
  {"GET", "/v1/coupons/{}/codes", "coupon-admin"},
  {"GET", "/v1/timers", "read"},
  {"GET", "/v1/outbox", "read"},
  {"POST", "/v1/outbox/{}/retry", "admin"},
  {"GET", "/v1/node", "read"},
  {"POST", "/v1/admin/clock", "admin"},
  {"GET", "/v1/cluster", "read"},
  {"POST", "/v1/cluster/plan", "admin"},
  {"GET", "/v1/dashboard", "read"},
  {"POST", "/v1/accounts", "write"},
  {"GET", "/v1/accounts", "read"},
  {"POST", "/v1/accounts/import", "write"},
  {"GET", "/v1/accounts/{}", "read"},
  {"POST", "/v1/accounts/{}", "write"},
  {"POST", "/v1/accounts/{}/contacts", "write"},
  {"POST", "/v1/outreach/programs", "write"},
  {"GET", "/v1/outreach/programs", "read"},
  {"GET", "/v1/outreach/programs/{}", "read"},
  {"POST", "/v1/outreach/programs/{}/launch", "write"},
  {"POST", "/v1/outreach/programs/{}/stop", "write"},
  {"GET", "/v1/outreach/programs/{}/explain", "read"},
  {"GET", "/v1/outreach/programs/{}/responses", "read"},
  {"POST", "/v1/outreach/bounces", "write"},
  {"GET", "/v1/track/open/{}", "none"},
  {"GET", "/v1/track/click/{}", "none"},
  {"GET", "/v1/track/survey/{}", "none"},
  {"POST", "/v1/track/survey/{}", "none"},
};

/// `/v1/applications/{id}` -> `/v1/applications/{}`.
std::string normalised(const std::string& path) {
  static const std::regex param{"\\{[^}]*\\}"};
  return std::regex_replace(path, param, "{}");
}

// -- the node -----------------------------------------------------------------

// -- what an operation is sent with -------------------------------------------

/// The objects an operation needs: path and query parameter values, a JSON
/// merge patch applied to the spec's example body, and whether the test
/// prepared everything for it to succeed (a 2xx is then required, not just
/// a documented status; or exactly `status` when set, e.g. a redirect).
struct op_input {
  std::map<std::string, std::string> params;
  json patch;
  bool must_succeed = true;
  int status = 0;
};

// -- the fixture --------------------------------------------------------------

class openapi : public ::testing::Test {
public:
  static void SetUpTestSuite() {
    spec_ = new spec;
    loaded_ = spec_->load(tenure::test::source_dir() + "/docs/openapi.yaml",
                          load_error_);
  }

  static void TearDownTestSuite() {
    delete spec_;
    spec_ = nullptr;
  }

protected:
  void SetUp() override {
    ASSERT_TRUE(loaded_) << "docs/openapi.yaml: " << load_error_;
  }

  /// Starts a node and reads its admin token and callback secret. With
  /// `failing_mail`, DATA/mail is a file, so every email fails to deliver
  /// and the outbox has failed notifications to show and retry.
  void start_node(bool failing_mail = false) {
    dir_ = std::make_unique<temp_dir>("tenure-openapi");
    data_ = dir_->path() + "/data";
    std::filesystem::create_directories(data_);
    if (failing_mail)
      tenure::test::write_file(data_ + "/mail", "not a directory\n");
    node_ = std::make_unique<tenured_node>(
      data_, std::vector<std::string>{"--clock", "manual"});
    ASSERT_TRUE(node_->line) << node_->proc.err();
    ASSERT_GT(node_->port, 0) << *node_->line;
    ASSERT_TRUE(node_->proc.wait_for_output("admin token written to", 10s))
      << "tenured did not say where the admin token is";
    token_ = trim(read_file(data_ + "/admin.token"));
    ASSERT_FALSE(token_.empty()) << "no admin token in " << data_;
    secret_ = trim(read_file(data_ + "/verifier-callback.secret"));
    ASSERT_GE(secret_.size(), 16u) << "no callback secret in " << data_;
    http_ = std::make_unique<client>(node_->port);
  }

  void TearDown() override {
    if (node_) {
      auto code = node_->stop();
      EXPECT_EQ(code.value_or(-1), 0) << "tenured did not stop cleanly";
    }
  }

  // -- requests ---------------------------------------------------------------

  httplib::Headers bearer() const {
    return {{"Authorization", "Bearer " + token_}};
  }

  reply get(const std::string& target) {
    return http_->send(request{"GET", target, {}, {}, bearer()});
  }

  reply post(const std::string& target, const json& body) {
    return http_->send(
      request{"POST", target, body.dump(), "application/json", bearer()});
  }

  /// The node's domain time in Unix milliseconds.
  void node_now(int64_t& out) {
    auto r = get("/v1/node");
    ASSERT_EQ(r.status, 200) << r.describe();
    auto t = parse_iso_ms(r.body["node"].value("now", ""));
    ASSERT_TRUE(t) << r.describe();
    out = *t;
  }

  /// The Tenure-Signature of `body` at the verifier's (wall) time.
  void sign(const std::string& body, std::string& header) {
    auto t = std::to_string(static_cast<int64_t>(std::time(nullptr)));
    header = "t=" + t + ",v1=" + hmac_sha256_hex(secret_, t + "." + body);
  }

  // -- the spec's pieces ------------------------------------------------------

  const operation* find_op(const std::string& operation_id) {
    for (auto& op : ops_)
      if (op.id() == operation_id)
        return &op;
    return nullptr;
  }

  /// The JSON example body of `op`, or null.
  json example_body(const operation& op) {
    if (!op.def.contains("requestBody"))
      return nullptr;
    auto& rb = spec_->resolve(op.def["requestBody"]);
    if (!rb.contains("content") || !rb["content"].contains("application/json"))
      return nullptr;
    return rb["content"]["application/json"].value("example", json{});
  }

  // -- preparing the objects path parameters need
  // ------------------------------

  /// The spec's application example for another applicant and organisation,
  /// in `program` (startups go to the review queue, edu to the verifier).
  json application_body(const std::string& program) {
    auto* op = find_op("submitApplication");
    json body = op ? example_body(*op) : json{};
    auto org = unique(program + "-org");
    auto site = "https://" + org + ".example.org";
    body["applicant"]["email"] = unique("member") + "@" + org + ".example.org";
    body["organisation"]["name"] = org;
    body["organisation"]["website"] = site;
    body["program"] = program;
    body["hosting"] = "saas";
    body["support"] = "without";
    body["term"] = "1y";
    body.erase("oss");
    body.erase("edu");
    body.erase("startup");
    if (program == "startups") {
      body["channel"] = "marketo";
      body["startup"] = {{"company_website", site},
                         {"founded_year", 2023},
                         {"employees", 12},
                         {"funding_stage", "seed"}};
    } else if (program == "edu") {
      body["channel"] = "sheerid";
      body["edu"] = {{"institution", org}, {"level", "university"}};
    }
    return body;
  }

  void submit(const json& body, std::string& id, std::string expect_state) {
    auto r = post("/v1/applications", body);
    ASSERT_EQ(r.status, 201) << r.describe();
    ASSERT_EQ(r.body.value("state", ""), expect_state) << r.describe();
    id = r.body.value("id", "");
    ASSERT_EQ(id.rfind("app_", 0), 0u) << r.describe();
  }

  void review(const std::string& id, const std::string& decision) {
    auto r = post("/v1/reviews/" + id,
                  json{{"decision", decision}, {"reason", "prepared"}});
    ASSERT_EQ(r.status, 200) << r.describe();
  }

  void wait_app(const std::string& id, const std::function<bool(json&)>& ok,
                json& app, const std::string& what) {
    reply last;
    bool done = eventually([&] {
      last = get("/v1/applications/" + id);
      return last.status == 200 && ok(last.body);
    });
    ASSERT_TRUE(done) << id << " never " << what << "; " << last.describe();
    app = last.body;
  }

  void import_codes(const std::string& program, int n) {
    std::string csv;
    for (int i = 0; i < n; ++i)
      csv += "OAPI-" + random_hex(8) + "\n";
    auto r = http_->send(request{"POST", "/v1/coupons/" + program + "/import",
                                 csv, "text/csv", bearer()});
    ASSERT_EQ(r.status, 200) << r.describe();
    ASSERT_EQ(r.body.value("imported", 0), n) << r.describe();
  }

  /// A paid subscription through POST /v1/subscriptions (the spec's example
  /// for another organisation) valid over [start, end).
  void paid_subscription(int64_t start, int64_t end, std::string& id) {
    auto* op = find_op("registerSubscription");
    ASSERT_NE(op, nullptr);
    json body = example_body(*op);
    auto org = unique("paid-org");
    body["organisation"]["name"] = org;
    body["organisation"]["website"] = "https://" + org + ".example.com";
    body["contact_email"] = "admin@" + org + ".example.com";
    body["start"] = iso_ms(start);
    body["end"] = iso_ms(end);
    auto r = post("/v1/subscriptions", body);
    ASSERT_EQ(r.status, 201) << r.describe();
    id = r.body.value("id", "");
    ASSERT_EQ(id.rfind("sub_", 0), 0u) << r.describe();
  }

  /// Creates what the operations need and says, per operation, what to
  /// send.
  void prepare(std::map<std::string, op_input>& in) {
    ASSERT_NO_FATAL_FAILURE(import_codes("startups", 3));
    ASSERT_NO_FATAL_FAILURE(import_codes("edu", 2));
    // An application booked with a code to redeem; its success email
    // cannot be delivered (DATA/mail is a file) and fails after the
    // outbox's attempts, which take hours of backoff on the manual clock.
    std::string booked;
    ASSERT_NO_FATAL_FAILURE(
      submit(application_body("startups"), booked, "in_review"));
    ASSERT_NO_FATAL_FAILURE(review(booked, "approve"));
    json app;
    ASSERT_NO_FATAL_FAILURE(wait_app(
      booked, [](json& a) { return a.value("state", "") == "booked"; }, app,
      "became booked"));
    auto code = app.value("coupon_code", "");
    ASSERT_FALSE(code.empty()) << "the admin token does not see coupon_code";
    // Outreach: an account (Admin and Owner on SaaS: two recipients), the
    // spec's survey launched to it, and two drafts to launch and stop. Its
    // emails fail like the others; their notification ids, found among the
    // failures, name the deliveries to track, answer and bounce.
    std::string account;
    ASSERT_NO_FATAL_FAILURE(create_account(account));
    std::string survey;
    std::string to_launch;
    std::string to_stop;
    ASSERT_NO_FATAL_FAILURE(create_program(survey));
    ASSERT_NO_FATAL_FAILURE(create_program(to_launch));
    ASSERT_NO_FATAL_FAILURE(create_program(to_stop));
    {
      auto r
        = post("/v1/outreach/programs/" + survey + "/launch", json::object());
      ASSERT_EQ(r.status, 200) << r.describe();
    }
    std::string ntf;
    std::set<std::string> outreach_ntfs;
    reply outbox;
    for (int i = 0; i < 36 && (ntf.empty() || outreach_ntfs.size() < 2); ++i) {
      auto r = post("/v1/admin/clock", json{{"advance", "2h"}});
      ASSERT_EQ(r.status, 200) << r.describe();
      outbox = get("/v1/outbox");
      ASSERT_EQ(outbox.status, 200) << outbox.describe();
      for (auto& f : outbox.body.value("failures", json::array())) {
        if (f.value("template_name", "") == "outreach")
          outreach_ntfs.insert(f.value("id", ""));
        else if (ntf.empty())
          ntf = f.value("id", "");
      }
    }
    ASSERT_FALSE(ntf.empty()) << "no notification failed although DATA/mail "
                                 "is a file; last: "
                              << outbox.describe();
    ASSERT_GE(outreach_ntfs.size(), 2u)
      << "the survey's two emails did not fail; last: " << outbox.describe();
    auto answered = *outreach_ntfs.begin();
    auto bounced = *std::next(outreach_ntfs.begin());
    int64_t now = 0;
    ASSERT_NO_FATAL_FAILURE(node_now(now));
    // Applications: one to read and withdraw, one for the reviewer, one
    // rejected to appeal, one with the verifier.
    std::string plain;
    std::string in_review;
    std::string rejected;
    std::string verifying;
    ASSERT_NO_FATAL_FAILURE(
      submit(application_body("startups"), plain, "in_review"));
    ASSERT_NO_FATAL_FAILURE(
      submit(application_body("startups"), in_review, "in_review"));
    ASSERT_NO_FATAL_FAILURE(
      submit(application_body("startups"), rejected, "in_review"));
    ASSERT_NO_FATAL_FAILURE(review(rejected, "reject"));
    ASSERT_NO_FATAL_FAILURE(
      submit(application_body("edu"), verifying, "verifying"));
    // The verification starts when its timer fires.
    auto r = post("/v1/admin/clock", json{{"advance", "1s"}});
    ASSERT_EQ(r.status, 200) << r.describe();
    ASSERT_NO_FATAL_FAILURE(wait_app(
      verifying,
      [](json& a) { return a.value("verification_attempts", 0) >= 1; }, app,
      "started a verification"));
    // Subscriptions: current ones, and two whose grace period (14 days)
    // ended a day ago, for emergency licenses.
    std::string usage_sub;
    std::string case_sub;
    std::string walker_case_sub;
    std::string revoke_sub;
    std::string em_sub;
    std::string walker_em_sub;
    auto year = 365 * day_ms;
    ASSERT_NO_FATAL_FAILURE(
      paid_subscription(now - day_ms, now + year, usage_sub));
    ASSERT_NO_FATAL_FAILURE(
      paid_subscription(now - day_ms, now + year, case_sub));
    ASSERT_NO_FATAL_FAILURE(
      paid_subscription(now - day_ms, now + year, walker_case_sub));
    ASSERT_NO_FATAL_FAILURE(
      paid_subscription(now - day_ms, now + year, revoke_sub));
    auto ended = now - 15 * day_ms;
    ASSERT_NO_FATAL_FAILURE(paid_subscription(ended - year, ended, em_sub));
    ASSERT_NO_FATAL_FAILURE(
      paid_subscription(ended - year, ended, walker_em_sub));
    // A compliance case to read and cure.
    r = post("/v1/subscriptions/" + case_sub + "/compliance-cases",
             json{{"reason", "prepared"}, {"curable", true}});
    ASSERT_EQ(r.status, 201) << r.describe();
    auto case_id = r.body.value("id", "");
    ASSERT_EQ(case_id.rfind("case_", 0), 0u) << r.describe();
    // An emergency license to read and resend, for the spec's recipient so
    // the spec's search finds it.
    auto* issue = find_op("issueEmergencyLicense");
    ASSERT_NE(issue, nullptr);
    json em_body = example_body(*issue);
    em_body["subscription_id"] = em_sub;
    r = post("/v1/emergency-licenses", em_body);
    ASSERT_EQ(r.status, 201) << r.describe();
    auto em_id = r.body.value("id", "");
    ASSERT_EQ(em_id.rfind("em_", 0), 0u) << r.describe();
    in["getApplication"].params["id"] = plain;
    in["withdrawApplication"].params["id"] = plain;
    in["appealApplication"].params["id"] = rejected;
    in["decideReview"].params["application_id"] = in_review;
    in["verifierCallback"].patch
      = {{"application_id", verifying}, {"event_id", unique("evt")}};
    in["redeemCode"].patch = {{"code", code}};
    in["getSubscription"].params["id"] = usage_sub;
    in["reportUsage"].params["id"] = usage_sub;
    in["openComplianceCase"].params["id"] = walker_case_sub;
    in["revokeSubscription"].params["id"] = revoke_sub;
    in["getComplianceCase"].params["id"] = case_id;
    in["cureComplianceCase"].params["id"] = case_id;
    in["issueEmergencyLicense"].patch = {{"subscription_id", walker_em_sub}};
    in["getEmergencyLicense"].params["id"] = em_id;
    in["resendEmergencyLicense"].params["id"] = em_id;
    in["retryNotification"].params["id"] = ntf;
    in["getAccount"].params["id"] = account;
    in["updateAccount"].params["id"] = account;
    in["addContact"].params["id"] = account;
    in["getOutreachProgram"].params["id"] = survey;
    in["launchOutreachProgram"].params["id"] = to_launch;
    in["stopOutreachProgram"].params["id"] = to_stop;
    in["explainRecipients"].params["id"] = survey;
    in["explainRecipients"].params["account"] = account;
    in["listSurveyResponses"].params["id"] = survey;
    in["reportBounce"].patch = {{"message_id", "<" + bounced + "@tenure>"}};
    auto token = tracking_token(survey, answered);
    for (auto* op : {"trackOpen", "trackClick", "surveyForm", "answerSurvey"})
      in[op].params["token"] = token;
    in["trackClick"].status = 302;
  }

  /// The spec's account example for another CRM reference.
  void create_account(std::string& id) {
    auto* op = find_op("createAccount");
    ASSERT_NE(op, nullptr);
    json body = example_body(*op);
    body["external_ref"] = unique("crm");
    auto r = post("/v1/accounts", body);
    ASSERT_EQ(r.status, 201) << r.describe();
    id = r.body.value("id", "");
    ASSERT_EQ(id.rfind("acct_", 0), 0u) << r.describe();
  }

  /// A draft of the spec's program example.
  void create_program(std::string& id) {
    auto* op = find_op("createOutreachProgram");
    ASSERT_NE(op, nullptr);
    auto r = post("/v1/outreach/programs", example_body(*op));
    ASSERT_EQ(r.status, 201) << r.describe();
    id = r.body.value("id", "");
    ASSERT_EQ(id.rfind("prg_", 0), 0u) << r.describe();
  }

  /// The tracking token of a delivery, as the node signs it into emails
  /// (nodes/tracking.hpp) with DATA/tracking.secret.
  std::string tracking_token(const std::string& program,
                             const std::string& delivery) {
    auto secret = trim(read_file(data_ + "/tracking.secret"));
    auto mac = hmac_sha256_hex(secret, "tenure-tracking-v1\n" + program + "\n"
                                         + delivery);
    return program + "." + delivery + "." + mac.substr(0, 32);
  }

  // -- sending an operation ---------------------------------------------------

  /// Builds the request of `op` from the spec and `in`; `problems` says
  /// what the spec lacks to build it.
  void build(const operation& op, const op_input& in, request& req,
             std::vector<std::string>& problems) {
    req.method = op.method;
    std::string path = op.path;
    std::string query;
    for (auto& p : spec_->parameters(op)) {
      auto name = p.value("name", "");
      auto where = p.value("in", "");
      std::string value;
      bool given = false;
      if (auto i = in.params.find(name); i != in.params.end()) {
        value = i->second;
        given = true;
      } else if (p.contains("example")) {
        auto& ex = p["example"];
        value = ex.is_string() ? ex.get<std::string>() : ex.dump();
        given = where == "path" || p.value("required", false);
      }
      if (where == "path") {
        if (!given) {
          problems.push_back("path parameter " + name + " has no value");
          continue;
        }
        auto token = "{" + name + "}";
        auto at = path.find(token);
        if (at == std::string::npos)
          problems.push_back("path parameter " + name + " is not in the path");
        else
          path.replace(at, token.size(), url_encode(value));
      } else if (where == "query" && given) {
        query += (query.empty() ? "?" : "&") + url_encode(name) + "="
                 + url_encode(value);
      } else if (where == "query" && p.value("required", false)) {
        problems.push_back("required query parameter " + name
                           + " has no example");
      }
    }
    req.target = path + query;
    if (op.def.contains("requestBody")) {
      auto& rb = spec_->resolve(op.def["requestBody"]);
      auto& content = rb["content"];
      if (content.contains("application/json")) {
        auto& media = content["application/json"];
        if (!media.contains("example")) {
          problems.push_back("requestBody has no example");
        } else {
          json body = media["example"];
          if (!in.patch.is_null())
            body.merge_patch(in.patch);
          req.body = body.dump();
        }
        req.content_type = "application/json";
      } else if (!content.empty()) {
        auto it = content.begin();
        req.content_type = it.key();
        if (!it.value().contains("example"))
          problems.push_back("requestBody (" + it.key() + ") has no example");
        else
          req.body = it.value()["example"].get<std::string>();
      }
    } else if (op.method == "POST") {
      req.content_type = "application/json";
    }
    auto [scheme, scopes] = spec_->security(op);
    if (scheme == "bearerAuth")
      req.headers.emplace("Authorization", "Bearer " + token_);
    else if (scheme == "verifierSignature") {
      std::string sig;
      sign(req.body, sig);
      req.headers.emplace("Tenure-Signature", sig);
    }
  }

  /// The response object `op` documents for `status`, or null.
  const json* documented(const operation& op, int status) {
    if (!op.def.contains("responses"))
      return nullptr;
    auto& rs = op.def["responses"];
    auto code = std::to_string(status);
    std::string range = code.substr(0, 1) + "XX";
    for (auto* key : {&code, &range})
      if (rs.contains(*key))
        return &spec_->resolve(rs[*key]);
    if (rs.contains("default"))
      return &spec_->resolve(rs["default"]);
    return nullptr;
  }

  /// Checks `r` against what `op` documents; appends problems.
  void check_reply(const operation& op, const reply& r,
                   std::vector<std::string>& problems) {
    if (r.status == 0) {
      problems.push_back("no answer from the node");
      return;
    }
    auto* doc = documented(op, r.status);
    if (!doc) {
      std::string listed;
      for (auto& [k, v] : op.def["responses"].items())
        listed += (listed.empty() ? "" : ", ") + k;
      problems.push_back("status " + std::to_string(r.status)
                         + " is not documented (documented: " + listed
                         + "); got " + r.describe());
      return;
    }
    if (!doc->contains("content")) {
      if (!r.text.empty())
        problems.push_back("status " + std::to_string(r.status)
                           + " documents no body, got one");
      return;
    }
    auto& content = (*doc)["content"];
    auto mt = media_type(r.content_type);
    if (!content.contains(mt)) {
      problems.push_back("Content-Type '" + r.content_type
                         + "' is not documented for status "
                         + std::to_string(r.status) + " (documented: " +
                         [&] {
                           std::string s;
                           for (auto& [k, v] : content.items())
                             s += (s.empty() ? "" : ", ") + k;
                           return s;
                         }()
                         + ")");
      return;
    }
    auto& media = content[mt];
    if (mt == "application/json") {
      if (r.body.is_null() && r.text != "null") {
        problems.push_back("the body is not JSON");
        return;
      }
      if (media.contains("schema")) {
        std::vector<std::string> p;
        checker{*spec_}.check(media["schema"], r.body, "", p);
        for (auto& x : p)
          problems.push_back("status " + std::to_string(r.status) + ": "
                             + (x.rfind(":", 0) == 0 ? "body" + x : x));
      }
    } else if (r.text.empty()) {
      problems.push_back("empty " + mt + " body");
    }
  }

  static std::string describe(const std::vector<std::string>& problems) {
    std::string out;
    for (auto& p : problems)
      out += "\n  - " + p;
    return out;
  }

  static inline spec* spec_ = nullptr;
  static inline bool loaded_ = false;
  static inline std::string load_error_;

  std::vector<operation> ops_;
  std::unique_ptr<temp_dir> dir_;
  std::string data_;
  std::unique_ptr<tenured_node> node_;
  std::unique_ptr<client> http_;
  std::string token_;
  std::string secret_;
};

} // namespace

// -- the spec on its own ------------------------------------------------------

TEST_F(openapi, lists_exactly_the_routes_of_the_catalog_with_their_scopes) {
  std::map<std::string, std::string> in_catalog;
  for (auto& r : catalog)
    in_catalog[std::string{r.method} + " " + r.path] = r.scope;
  std::map<std::string, std::string> in_spec;
  for (auto& op : spec_->operations()) {
    auto [scheme, scopes] = spec_->security(op);
    std::string scope = scheme.empty()                  ? "none"
                        : scheme == "verifierSignature" ? "signature"
                        : scopes.size() == 1            ? scopes[0]
                                                        : "?";
    auto key = op.method + " " + normalised(op.path);
    EXPECT_EQ(in_spec.count(key), 0u) << key << " is in the spec twice";
    in_spec[key] = scope;
  }
  for (auto& [route, scope] : in_catalog) {
    auto i = in_spec.find(route);
    if (i == in_spec.end()) {
      ADD_FAILURE() << "catalog route " << route << " is not in the spec";
      continue;
    }
    EXPECT_EQ(i->second, scope)
      << route << ": the spec's security requirement names the wrong scope";
  }
  for (auto& [route, scope] : in_spec)
    EXPECT_EQ(in_catalog.count(route), 1u)
      << "the spec has " << route << ", which the catalog does not list";
}

TEST_F(openapi, every_operation_is_described_and_its_examples_are_valid) {
  auto& doc = spec_->doc();
  EXPECT_EQ(doc.value("openapi", ""), "3.1.0");
  EXPECT_EQ(doc.value("info", json::object()).value("title", ""),
            "Tenure gateway");
  auto schemes = doc.value("components", json::object())
                   .value("securitySchemes", json::object());
  EXPECT_TRUE(schemes.contains("bearerAuth"));
  EXPECT_TRUE(schemes.contains("verifierSignature"));
  checker check{*spec_};
  std::set<std::string> ids;
  for (auto& op : spec_->operations()) {
    SCOPED_TRACE(op.method + " " + op.path);
    ASSERT_TRUE(op.def.contains("operationId"));
    EXPECT_TRUE(ids.insert(op.id()).second) << "operationId repeated";
    EXPECT_FALSE(op.def.value("summary", "").empty()) << "no summary";
    EXPECT_FALSE(op.def.value("description", "").empty()) << "no description";
    EXPECT_FALSE(op.def.value("tags", json::array()).empty()) << "no tag";
    auto [scheme, scopes] = spec_->security(op);
    if (scheme == "bearerAuth") {
      ASSERT_EQ(scopes.size(), 1u);
      EXPECT_NE(
        op.def.value("description", "").find("Scope `" + scopes[0] + "`"),
        std::string::npos)
        << "the description does not say the scope";
      for (auto status : {"401", "403"})
        EXPECT_TRUE(op.def["responses"].contains(status))
          << status << " is not documented";
    }
    // Every authenticated POST takes an Idempotency-Key of <= 255 chars.
    if (op.method == "POST" && scheme == "bearerAuth") {
      bool found = false;
      for (auto& p : spec_->parameters(op))
        if (p.value("name", "") == "Idempotency-Key"
            && p.value("in", "") == "header") {
          found = true;
          EXPECT_EQ(spec_->resolve(p["schema"]).value("maxLength", 0), 255);
        }
      EXPECT_TRUE(found) << "no Idempotency-Key header parameter";
    }
    // Error responses use the shared Error schema; except the readiness
    // probe's 503, which is its status body (catalog: {"status":
    // "not_ready",...}).
    for (auto& [status, resp_ref] : op.def["responses"].items()) {
      if (status[0] != '4' && status[0] != '5')
        continue;
      if (op.id() == "getReadiness" && status == "503")
        continue;
      // The tracking routes answer recipients' mail clients and browsers:
      // their errors are HTML pages.
      if (op.path.rfind("/v1/track/", 0) == 0)
        continue;
      auto& resp = spec_->resolve(resp_ref);
      json::json_pointer ptr{"/content/application~1json/schema/$ref"};
      EXPECT_TRUE(resp.contains(ptr)
                  && resp.at(ptr) == "#/components/schemas/Error")
        << status << " does not use the Error schema";
    }
    // The examples are valid requests per the spec's own schemas.
    if (op.def.contains("requestBody")) {
      auto& rb = spec_->resolve(op.def["requestBody"]);
      for (auto& [ct, media] : rb["content"].items()) {
        ASSERT_TRUE(media.contains("example")) << ct << " has no example";
        if (ct != "application/json")
          continue;
        std::vector<std::string> problems;
        check.check(media["schema"], media["example"], "", problems);
        EXPECT_TRUE(problems.empty())
          << "the example is not valid:" << describe(problems);
      }
    }
  }
  EXPECT_EQ(ids.size(), std::size(catalog));
}

// -- the spec against the node ------------------------------------------------

TEST_F(openapi, every_operation_answers_as_documented) {
  ASSERT_NO_FATAL_FAILURE(start_node(true));
  ops_ = spec_->operations();
  ASSERT_FALSE(ops_.empty());
  std::map<std::string, op_input> in;
  ASSERT_NO_FATAL_FAILURE(prepare(in));
  size_t walked = 0;
  for (auto& op : ops_) {
    auto name = op.id() + " (" + op.method + " " + op.path + ")";
    SCOPED_TRACE(name);
    std::vector<std::string> problems;
    request req;
    auto& input = in[op.id()];
    build(op, input, req, problems);
    ASSERT_TRUE(problems.empty())
      << name << ": cannot build the request:" << describe(problems);
    auto r = http_->send(req);
    check_reply(op, r, problems);
    EXPECT_TRUE(problems.empty()) << name << " -> " << req.method << " "
                                  << op.path << ":" << describe(problems);
    std::printf("openapi: %-24s %-6s %-42s -> %d\n", op.id().c_str(),
                op.method.c_str(), op.path.c_str(), r.status);
    if (input.status != 0) {
      EXPECT_EQ(r.status, input.status)
        << name << ": prepared for it, got " << r.describe();
    } else if (input.must_succeed) {
      EXPECT_TRUE(r.status >= 200 && r.status < 300)
        << name << ": prepared to succeed, got " << r.describe();
    }
    ++walked;
  }
  EXPECT_EQ(walked, std::size(catalog));
}

TEST_F(openapi, unknown_routes_and_methods_are_refused_as_documented) {
  ASSERT_NO_FATAL_FAILURE(start_node());
  checker check{*spec_};
  auto& error_schema = spec_->doc()["components"]["schemas"]["Error"];
  auto expect_error
    = [&](const request& req, int status, const std::string& code) {
        auto r = http_->send(req);
        SCOPED_TRACE(req.method + " " + req.target);
        EXPECT_EQ(r.status, status) << r.describe();
        EXPECT_EQ(r.error_code(), code) << r.describe();
        EXPECT_EQ(media_type(r.content_type), "application/json");
        std::vector<std::string> problems;
        check.check(error_schema, r.body, "", problems);
        EXPECT_TRUE(problems.empty()) << describe(problems);
      };
  expect_error({"GET", "/v1/nonexistent", {}, {}, bearer()}, 404, "not_found");
  expect_error({"POST", "/v1/nonexistent", "{}", "application/json", bearer()},
               404, "not_found");
  expect_error({"GET", "/v2/applications", {}, {}, bearer()}, 404, "not_found");
  // Known paths with a method the spec does not list.
  std::set<std::string> listed;
  for (auto& op : spec_->operations())
    listed.insert(op.method + " " + normalised(op.path));
  for (auto& [method, target, path] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
         {"DELETE", "/v1/applications", "/v1/applications"},
         {"GET", "/v1/checkout/redeem", "/v1/checkout/redeem"},
         {"PUT", "/v1/subscriptions", "/v1/subscriptions"},
         {"GET", "/v1/admin/clock", "/v1/admin/clock"},
         {"POST", "/v1/node", "/v1/node"}}) {
    ASSERT_EQ(listed.count(method + " " + path), 0u);
    ASSERT_TRUE(listed.count("GET " + path) + listed.count("POST " + path) > 0)
      << path << " is not a path of the spec";
    expect_error({method, target, "{}", "application/json", bearer()}, 405,
                 "method_not_allowed");
  }
}

TEST_F(openapi, authentication_and_body_errors_are_documented) {
  ASSERT_NO_FATAL_FAILURE(start_node());
  ops_ = spec_->operations();
  // Without a token, every bearer route is 401 as documented; nothing runs,
  // so the spec's examples need no objects.
  for (auto& op : ops_) {
    auto [scheme, scopes] = spec_->security(op);
    if (scheme != "bearerAuth")
      continue;
    SCOPED_TRACE(op.id());
    std::vector<std::string> problems;
    request req;
    op_input input;
    for (auto& p : spec_->parameters(op))
      if (p.value("in", "") == "path" && !p.contains("example"))
        input.params[p.value("name", "")] = "x";
    build(op, input, req, problems);
    ASSERT_TRUE(problems.empty()) << describe(problems);
    req.headers.erase("Authorization");
    auto r = http_->send(req);
    EXPECT_EQ(r.status, 401) << op.id() << ": " << r.describe();
    EXPECT_EQ(r.error_code(), "unauthorized") << r.describe();
    check_reply(op, r, problems);
    EXPECT_TRUE(problems.empty()) << op.id() << ":" << describe(problems);
    req.headers.emplace("Authorization", "Bearer not-a-token");
    r = http_->send(req);
    EXPECT_EQ(r.status, 401)
      << op.id() << " with an unknown token: " << r.describe();
  }
  // The verifier callback with a forged or stale signature is 401.
  auto* callback = find_op("verifierCallback");
  ASSERT_NE(callback, nullptr);
  auto callback_body = example_body(*callback).dump();
  for (auto& sig : {std::string{"t=1,v1=00"},
                    "t=1," + std::string{"v1="}
                      + hmac_sha256_hex(secret_, "1." + callback_body)}) {
    auto h = httplib::Headers{{"Tenure-Signature", sig}};
    auto r = http_->send(request{"POST", "/v1/verifier/callback", callback_body,
                                 "application/json", h});
    std::vector<std::string> problems;
    check_reply(*callback, r, problems);
    EXPECT_TRUE(problems.empty()) << describe(problems);
    EXPECT_EQ(r.status, 401) << r.describe();
    EXPECT_EQ(r.error_code(), "unauthorized") << r.describe();
  }
  // A strict body (additionalProperties: false) refuses an unknown key with
  // 422 naming it, before doing anything.
  for (auto& op : ops_) {
    if (!op.def.contains("requestBody"))
      continue;
    auto& rb = spec_->resolve(op.def["requestBody"]);
    if (!rb["content"].contains("application/json"))
      continue;
    auto& schema = spec_->resolve(rb["content"]["application/json"]["schema"]);
    if (schema.value("additionalProperties", json(true)) != json(false))
      continue;
    SCOPED_TRACE(op.id());
    op_input input;
    for (auto& p : spec_->parameters(op))
      if (p.value("in", "") == "path" && !p.contains("example"))
        input.params[p.value("name", "")] = "x";
    input.patch = {{"zz_not_a_field", 1}};
    std::vector<std::string> problems;
    request req;
    build(op, input, req, problems);
    ASSERT_TRUE(problems.empty()) << describe(problems);
    auto r = http_->send(req);
    check_reply(op, r, problems);
    EXPECT_TRUE(problems.empty()) << op.id() << ":" << describe(problems);
    EXPECT_EQ(r.status, 422) << op.id() << ": " << r.describe();
    EXPECT_EQ(r.error_code(), "invalid_argument") << r.describe();
    EXPECT_NE(r.error_message().find("zz_not_a_field"), std::string::npos)
      << r.describe();
  }
  // Malformed JSON and a wrong Content-Type are 400 bad_request (catalog:
  // "malformed JSON / wrong content type: 400 with code bad_request").
  auto* triage = find_op("triageTicket");
  ASSERT_NE(triage, nullptr);
  for (auto& [body, ct] : std::vector<std::pair<std::string, std::string>>{
         {"{\"program\": \"edu\",", "application/json"},
         {"{\"program\": \"edu\", \"category\": \"code_invalid\"}",
          "text/plain"}}) {
    SCOPED_TRACE(ct + " " + body);
    auto r
      = http_->send(request{"POST", "/v1/support/triage", body, ct, bearer()});
    std::vector<std::string> problems;
    check_reply(*triage, r, problems);
    EXPECT_TRUE(problems.empty()) << describe(problems);
    EXPECT_EQ(r.status, 400) << r.describe();
    EXPECT_EQ(r.error_code(), "bad_request") << r.describe();
    EXPECT_NE(r.error_message().find("body"), std::string::npos)
      << r.describe();
  }
}

TEST_F(openapi, query_enums_and_idempotency_keys_behave_as_documented) {
  ASSERT_NO_FATAL_FAILURE(start_node());
  ops_ = spec_->operations();
  // Every value of a query enum is accepted; a value outside it is 422.
  size_t enums = 0;
  for (auto& op : ops_) {
    if (op.method != "GET")
      continue;
    for (auto& p : spec_->parameters(op)) {
      if (p.value("in", "") != "query" || !p.contains("schema"))
        continue;
      auto& schema = spec_->resolve(p["schema"]);
      if (!schema.contains("enum"))
        continue;
      auto name = p.value("name", "");
      SCOPED_TRACE(op.id() + " ?" + name);
      ++enums;
      std::vector<std::string> values;
      for (auto& v : schema["enum"])
        values.push_back(v.get<std::string>());
      values.push_back("zz_not_a_value");
      for (auto& v : values) {
        auto r = get(op.path + "?" + name + "=" + url_encode(v));
        std::vector<std::string> problems;
        check_reply(op, r, problems);
        EXPECT_TRUE(problems.empty())
          << name << "=" << v << ":" << describe(problems);
        int expected = v == "zz_not_a_value" ? 422 : 200;
        EXPECT_EQ(r.status, expected)
          << name << "=" << v << ": " << r.describe();
      }
    }
  }
  EXPECT_GE(enums, 5u) << "the list operations lost their enum filters";
  // Every unit of the documented Duration (s, m, h, d) is accepted.
  auto* timers = find_op("listTimers");
  ASSERT_NE(timers, nullptr);
  for (auto* within : {"90s", "90m", "12h", "7d"}) {
    auto r = get(std::string{"/v1/timers?within="} + within);
    std::vector<std::string> problems;
    check_reply(*timers, r, problems);
    EXPECT_TRUE(problems.empty()) << describe(problems);
    EXPECT_EQ(r.status, 200) << "within=" << within << ": " << r.describe();
  }
  // The same key and body: the first answer again, marked replayed.
  auto* triage = find_op("triageTicket");
  ASSERT_NE(triage, nullptr);
  auto body = example_body(*triage).dump();
  auto key = unique("idem");
  auto headers = bearer();
  headers.emplace("Idempotency-Key", key);
  request req{"POST", "/v1/support/triage", body, "application/json", headers};
  auto first = http_->send(req);
  auto again = http_->send(req);
  ASSERT_EQ(first.status, 200) << first.describe();
  EXPECT_EQ(again.status, first.status) << again.describe();
  EXPECT_EQ(again.text, first.text);
  EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
  std::vector<std::string> problems;
  check_reply(*triage, again, problems);
  EXPECT_TRUE(problems.empty()) << describe(problems);
  // The same key, another body: 422 idempotency_mismatch.
  req.body = json{{"program", "oss"}, {"category", "code_invalid"}}.dump();
  auto other = http_->send(req);
  EXPECT_EQ(other.status, 422) << other.describe();
  EXPECT_EQ(other.error_code(), "idempotency_mismatch") << other.describe();
  check_reply(*triage, other, problems);
  EXPECT_TRUE(problems.empty()) << describe(problems);
  // A key longer than the documented maxLength (255) is refused.
  req.headers = bearer();
  req.headers.emplace("Idempotency-Key", std::string(256, 'k'));
  auto long_key = http_->send(req);
  EXPECT_EQ(long_key.status, 422) << long_key.describe();
  check_reply(*triage, long_key, problems);
  EXPECT_TRUE(problems.empty()) << describe(problems);
}
