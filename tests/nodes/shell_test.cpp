// Unit tests of the operator shell's logic (nodes/shell.hpp): words, the
// command table, requests, usage errors, running over a fake transport,
// formatting and exit codes. No node, no CAF.

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "nodes/shell.hpp"

using json = nlohmann::json;
namespace shell = tenure::shell;
using shell::exit_code;

namespace {

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::string error;
  EXPECT_TRUE(shell::split_words(line, out, error)) << line << ": " << error;
  return out;
}

std::string split_error(const std::string& line) {
  std::vector<std::string> out;
  std::string error;
  EXPECT_FALSE(shell::split_words(line, out, error)) << line;
  return error;
}

shell::settings as_alice() {
  shell::settings s;
  s.operator_name = "alice";
  return s;
}

shell::plan parsed(const std::string& line,
                   const shell::settings& s = as_alice()) {
  shell::plan p;
  std::string error;
  EXPECT_TRUE(shell::parse(line, s, p, error)) << line << ": " << error;
  return p;
}

/// The usage error of `line`; fails the test when it parses.
std::string usage(const std::string& line) {
  shell::plan p;
  std::string error;
  EXPECT_FALSE(shell::parse(line, as_alice(), p, error)) << line;
  EXPECT_TRUE(p.requests.empty()) << line;
  return error;
}

/// A node stand-in: answers from a queue and records the requests.
struct fake_node {
  std::vector<shell::request> seen;
  std::vector<shell::response> answers;
  size_t next = 0;

  shell::response operator()(const shell::request& r) {
    seen.push_back(r);
    if (next < answers.size())
      return answers[next++];
    return {500, R"({"error":{"code":"storage_failure","message":"x"}})"};
  }
};

/// Runs `line` against `node` and keeps what it printed.
struct session {
  fake_node node;
  std::ostringstream out;
  std::ostringstream err;
  std::map<std::string, std::string> files;
  std::vector<std::pair<size_t, size_t>> progress;
  bool with_progress = false;

  exit_code run(const std::string& line, shell::settings s = as_alice()) {
    shell::plan p;
    std::string error;
    shell::io io;
    io.out = &out;
    io.err = &err;
    io.send = [this](const shell::request& r) { return node(r); };
    io.read_file = [this](const std::string& path, std::string& content,
                          std::string& error) {
      auto i = files.find(path);
      if (i == files.end()) {
        error = "No such file or directory";
        return false;
      }
      content = i->second;
      return true;
    };
    if (with_progress)
      io.progress = [this](size_t done, size_t total) {
        progress.emplace_back(done, total);
      };
    if (!shell::parse(line, s, p, error))
      return shell::usage_error(error, s, io);
    return shell::run(p, s, io);
  }
};

} // namespace

// -- words
// ----------------------------------------------------------------------

TEST(shell_words, blanks_separate_words) {
  EXPECT_EQ(words("  app   show\tapp_1 "),
            (std::vector<std::string>{"app", "show", "app_1"}));
  EXPECT_TRUE(words("").empty());
  EXPECT_TRUE(words("   ").empty());
}

TEST(shell_words, quotes_join_words) {
  EXPECT_EQ(
    words(R"(app withdraw app_1 "duplicate entry")"),
    (std::vector<std::string>{"app", "withdraw", "app_1", "duplicate entry"}));
  EXPECT_EQ(
    words("triage oss --text 'my code: \"used\"'"),
    (std::vector<std::string>{"triage", "oss", "--text", "my code: \"used\""}));
  // Adjacent parts make one word; an empty quoted word is a word.
  EXPECT_EQ(words(R"(a"b c"'d e'f "")"),
            (std::vector<std::string>{"ab cd ef", ""}));
}

TEST(shell_words, backslashes_escape) {
  EXPECT_EQ(words(R"(a\ b c\"d)"), (std::vector<std::string>{"a b", "c\"d"}));
  // In double quotes only \" and \\ are escapes.
  EXPECT_EQ(words(R"("x\"y\\z\n")"), (std::vector<std::string>{"x\"y\\z\\n"}));
  // In single quotes nothing is.
  EXPECT_EQ(words(R"('a\b')"), (std::vector<std::string>{"a\\b"}));
}

TEST(shell_words, unterminated_quotes_and_trailing_backslash_are_errors) {
  EXPECT_NE(split_error("app show \"x").find("double quote"),
            std::string::npos);
  EXPECT_NE(split_error("app show 'x").find("single quote"), std::string::npos);
  EXPECT_NE(split_error("app show x\\").find("backslash"), std::string::npos);
  auto e = usage("app withdraw app_1 \"oops");
  EXPECT_NE(e.find("unterminated"), std::string::npos) << e;
}

TEST(shell_words, url_encoding_keeps_only_unreserved_characters) {
  EXPECT_EQ(shell::url_encode("a-b_c.d~e09"), "a-b_c.d~e09");
  EXPECT_EQ(shell::url_encode("ada+x@acme.example"), "ada%2Bx%40acme.example");
  EXPECT_EQ(shell::url_encode("Acme & Co/1?"), "Acme%20%26%20Co%2F1%3F");
  EXPECT_EQ(shell::url_encode("\xc3\xa9"), "%C3%A9");
}

// -- requests
// -------------------------------------------------------------------

namespace {

struct expected_request {
  std::string line;
  std::string command;
  std::string method;
  std::string target;
  /// Null for a GET.
  json body;
};

} // namespace

TEST(shell_requests, every_command_maps_to_its_route) {
  const std::vector<expected_request> cases{
    {"app show app_01", "app show", "GET", "/v1/applications/app_01", nullptr},
    {"app appeal app_01 please look again",
     "app appeal",
     "POST",
     "/v1/applications/app_01/appeal",
     {{"reason", "please look again"}, {"by", "alice"}}},
    {"app withdraw app_01 'duplicate entry'",
     "app withdraw",
     "POST",
     "/v1/applications/app_01/withdraw",
     {{"reason", "duplicate entry"}, {"by", "alice"}}},
    {"sub show sub_01", "sub show", "GET", "/v1/subscriptions/sub_01", nullptr},
    {"sub usage sub_01 12",
     "sub usage",
     "POST",
     "/v1/subscriptions/sub_01/usage",
     {{"seats_used", 12}}},
    {"sub revoke sub_01 abuse of terms",
     "sub revoke",
     "POST",
     "/v1/subscriptions/sub_01/revoke",
     {{"reason", "abuse of terms"}, {"by", "alice"}}},
    {"sub register --org 'Paid Corp' --email it@paid.example --seats 10 "
     "--start 2026-01-01 --end=2027-01-01 --country DE --website "
     "https://paid.example --sku edu-saas-ultimate-1y --hosting saas",
     "sub register",
     "POST",
     "/v1/subscriptions",
     {{"organisation",
       {{"name", "Paid Corp"},
        {"country", "DE"},
        {"website", "https://paid.example"}}},
      {"plan", "paid"},
      {"contact_email", "it@paid.example"},
      {"seats", 10},
      {"start", "2026-01-01"},
      {"end", "2027-01-01"},
      {"sku", "edu-saas-ultimate-1y"},
      {"hosting", "saas"}}},
    {"review list", "review list", "GET", "/v1/reviews", nullptr},
    {"review list --limit 20", "review list", "GET", "/v1/reviews?limit=20",
     nullptr},
    {"review approve app_01",
     "review approve",
     "POST",
     "/v1/reviews/app_01",
     {{"decision", "approve"}, {"reviewer", "alice"}}},
    {"review approve app_01 eligible startup",
     "review approve",
     "POST",
     "/v1/reviews/app_01",
     {{"decision", "approve"},
      {"reason", "eligible startup"},
      {"reviewer", "alice"}}},
    {"review reject app_01 not a startup",
     "review reject",
     "POST",
     "/v1/reviews/app_01",
     {{"decision", "reject"},
      {"reason", "not a startup"},
      {"reviewer", "alice"}}},
    {"review docs app_01 proof of funding",
     "review docs",
     "POST",
     "/v1/reviews/app_01",
     {{"decision", "request_documents"},
      {"reason", "proof of funding"},
      {"reviewer", "alice"}}},
    {"coupon stock oss", "coupon stock", "GET", "/v1/coupons/oss/stock",
     nullptr},
    {"coupon codes edu --limit 5", "coupon codes", "GET",
     "/v1/coupons/edu/codes?limit=5", nullptr},
    {"coupon codes edu", "coupon codes", "GET", "/v1/coupons/edu/codes",
     nullptr},
    {"case open sub_01 seats over count",
     "case open",
     "POST",
     "/v1/subscriptions/sub_01/compliance-cases",
     {{"reason", "seats over count"},
      {"curable", true},
      {"opened_by", "alice"}}},
    {"case open sub_01 --not-curable resale",
     "case open",
     "POST",
     "/v1/subscriptions/sub_01/compliance-cases",
     {{"reason", "resale"}, {"curable", false}, {"opened_by", "alice"}}},
    {"case cure case_01",
     "case cure",
     "POST",
     "/v1/compliance-cases/case_01/cure",
     {{"by", "alice"}}},
    {"case cure case_01 bought seats",
     "case cure",
     "POST",
     "/v1/compliance-cases/case_01/cure",
     {{"note", "bought seats"}, {"by", "alice"}}},
    {"case show case_01", "case show", "GET", "/v1/compliance-cases/case_01",
     nullptr},
    {"emergency issue sub_01 5 ops@x.example https://t.example/1 --days 7",
     "emergency issue",
     "POST",
     "/v1/emergency-licenses",
     {{"subscription_id", "sub_01"},
      {"users", 5},
      {"recipient_email", "ops@x.example"},
      {"ticket_url", "https://t.example/1"},
      {"requested_by", "alice"},
      {"days", 7}}},
    {"emergency find ops+1@x.example", "emergency find", "GET",
     "/v1/emergency-licenses?email=ops%2B1%40x.example", nullptr},
    {"emergency show em_01", "emergency show", "GET",
     "/v1/emergency-licenses/em_01", nullptr},
    {"emergency resend em_01",
     "emergency resend",
     "POST",
     "/v1/emergency-licenses/em_01/resend",
     {{"by", "alice"}}},
    {"triage startups code_already_used",
     "triage",
     "POST",
     "/v1/support/triage",
     {{"program", "startups"}, {"category", "code_already_used"}}},
    {"triage oss --text 'my code was used'",
     "triage",
     "POST",
     "/v1/support/triage",
     {{"program", "oss"}, {"text", "my code was used"}}},
    {"timers", "timers", "GET", "/v1/timers?within=7d", nullptr},
    {"timers 400 --owner renewal --limit 10", "timers", "GET",
     "/v1/timers?within=400d&owner=renewal&limit=10", nullptr},
    {"timers 12h", "timers", "GET", "/v1/timers?within=12h", nullptr},
    {"outbox", "outbox", "GET", "/v1/outbox", nullptr},
    {"outbox retry ntf_01", "outbox retry", "POST", "/v1/outbox/ntf_01/retry",
     json::object()},
    {"status", "status", "GET", "/v1/node", nullptr},
    {"cluster status", "cluster status", "GET", "/v1/cluster", nullptr},
    {"cluster plan a@h1:9101,b@h2:9102 --limit 5",
     "cluster plan",
     "POST",
     "/v1/cluster/plan",
     {{"members", {"a@h1:9101", "b@h2:9102"}}, {"limit", 5}}},
    {"clock advance 30d",
     "clock advance",
     "POST",
     "/v1/admin/clock",
     {{"advance", "30d"}}},
    {"clock advance 5m",
     "clock advance",
     "POST",
     "/v1/admin/clock",
     {{"advance", "5min"}}},
    {"clock set 2027-01-01T00:00:00Z",
     "clock set",
     "POST",
     "/v1/admin/clock",
     {{"set", "2027-01-01T00:00:00Z"}}},
    {"accounts show acct_01", "accounts show", "GET", "/v1/accounts/acct_01",
     nullptr},
    {"outreach show prg_01", "outreach show", "GET",
     "/v1/outreach/programs/prg_01", nullptr},
    {"outreach launch prg_01",
     "outreach launch",
     "POST",
     "/v1/outreach/programs/prg_01/launch",
     {{"by", "alice"}}},
    {"outreach stop prg_01 --as bob",
     "outreach stop",
     "POST",
     "/v1/outreach/programs/prg_01/stop",
     {{"by", "bob"}}},
    {"outreach explain acct_01 prg_01", "outreach explain", "GET",
     "/v1/outreach/programs/prg_01/explain?account=acct_01", nullptr},
  };
  for (auto& c : cases) {
    auto p = parsed(c.line);
    EXPECT_EQ(p.command, c.command) << c.line;
    ASSERT_EQ(p.what, shell::plan::kind::single) << c.line;
    ASSERT_EQ(p.requests.size(), 1u) << c.line;
    auto& r = p.requests[0];
    EXPECT_EQ(r.method, c.method) << c.line;
    EXPECT_EQ(r.target, c.target) << c.line;
    if (c.method == "GET") {
      EXPECT_TRUE(r.body.empty()) << c.line;
      EXPECT_TRUE(r.content_type.empty()) << c.line;
      EXPECT_TRUE(r.idempotency_key.empty()) << c.line;
    } else {
      EXPECT_EQ(r.content_type, "application/json") << c.line;
      EXPECT_EQ(json::parse(r.body), c.body) << c.line;
      EXPECT_GE(r.idempotency_key.size(), 16u) << c.line;
      EXPECT_LE(r.idempotency_key.size(), 255u) << c.line;
    }
  }
}

TEST(shell_requests, listings_are_paged_with_their_filters) {
  auto p = parsed("app find --state booked --program edu --email "
                  "ada@x.example --org 'Acme & Co' --limit 30");
  EXPECT_EQ(p.what, shell::plan::kind::paged);
  EXPECT_EQ(p.command, "app find");
  EXPECT_EQ(p.limit, 30u);
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(p.requests[0].method, "GET");
  EXPECT_EQ(p.requests[0].target,
            "/v1/applications?state=booked&program=edu&email=ada%40x.example"
            "&organisation=Acme%20%26%20Co");
  p = parsed("sub find --state in_cure --plan community");
  EXPECT_EQ(p.what, shell::plan::kind::paged);
  EXPECT_EQ(p.limit, 100u);
  EXPECT_EQ(p.requests[0].target,
            "/v1/subscriptions?state=in_cure&plan=community");
  p = parsed("app find");
  EXPECT_EQ(p.requests[0].target, "/v1/applications");
  // Cases: the open ones unless asked otherwise.
  EXPECT_EQ(parsed("case list").requests[0].target,
            "/v1/compliance-cases?state=open");
  EXPECT_EQ(parsed("case list --state cured").requests[0].target,
            "/v1/compliance-cases?state=cured");
  EXPECT_EQ(parsed("case list --state all").requests[0].target,
            "/v1/compliance-cases");
}

TEST(shell_requests, coupon_stock_without_program_asks_every_pool) {
  auto p = parsed("coupon stock");
  ASSERT_EQ(p.what, shell::plan::kind::multi);
  ASSERT_EQ(p.requests.size(), 3u);
  EXPECT_EQ(p.requests[0].target, "/v1/coupons/edu/stock");
  EXPECT_EQ(p.requests[1].target, "/v1/coupons/oss/stock");
  EXPECT_EQ(p.requests[2].target, "/v1/coupons/startups/stock");
  auto imp = parsed("coupon import edu '/tmp/my codes.csv'");
  EXPECT_EQ(imp.what, shell::plan::kind::import);
  EXPECT_EQ(imp.program, "edu");
  EXPECT_EQ(imp.file, "/tmp/my codes.csv");
  EXPECT_TRUE(imp.requests.empty());
}

TEST(shell_requests, every_command_of_the_table_has_a_mapping_test) {
  // The commands the tests above map; a new command needs a line there.
  std::set<std::string> tested{"app show",
                               "app find",
                               "app appeal",
                               "app withdraw",
                               "sub show",
                               "sub find",
                               "sub usage",
                               "sub revoke",
                               "sub register",
                               "review list",
                               "review approve",
                               "review reject",
                               "review docs",
                               "coupon import",
                               "coupon stock",
                               "coupon codes",
                               "case open",
                               "case cure",
                               "case list",
                               "case show",
                               "emergency issue",
                               "emergency find",
                               "emergency show",
                               "emergency resend",
                               "triage",
                               "timers",
                               "outbox",
                               "outbox retry",
                               "status",
                               "cluster status",
                               "cluster plan",
                               "clock advance",
                               "clock set",
                               "accounts list",
                               "accounts show",
                               "accounts import",
                               "outreach list",
                               "outreach show",
                               "outreach create",
                               "outreach launch",
                               "outreach stop",
                               "outreach explain",
                               "outreach responses",
                               "help",
                               "quit",
                               "exit"};
  for (auto& c : shell::commands())
    EXPECT_EQ(tested.count(c.name), 1u) << c.name << " has no mapping test";
  EXPECT_EQ(shell::commands().size(), tested.size());
}

TEST(shell_requests, operator_name_comes_from_as_or_the_settings) {
  auto p = parsed("case cure case_01 --as bob");
  EXPECT_EQ(json::parse(p.requests[0].body)["by"], "bob");
  p = parsed("review approve app_01 --as=carol ok");
  EXPECT_EQ(json::parse(p.requests[0].body)["reviewer"], "carol");
  EXPECT_EQ(json::parse(p.requests[0].body)["reason"], "ok");
  // No name at all: the node records the token's key name.
  p = parsed("sub revoke sub_01 fraud", shell::settings{});
  EXPECT_FALSE(json::parse(p.requests[0].body).contains("by"));
}

TEST(shell_requests, json_flag_on_a_line_and_option_terminator) {
  auto p = parsed("status --json");
  EXPECT_TRUE(p.json);
  EXPECT_FALSE(parsed("status").json);
  // After --, words that look like options are arguments.
  p = parsed("app withdraw app_01 -- --not an option");
  EXPECT_EQ(json::parse(p.requests[0].body)["reason"], "--not an option");
}

TEST(shell_requests, every_post_gets_a_fresh_idempotency_key) {
  auto a = parsed("clock advance 1d").requests[0].idempotency_key;
  auto b = parsed("clock advance 1d").requests[0].idempotency_key;
  EXPECT_FALSE(a.empty());
  EXPECT_NE(a, b);
}

TEST(shell_requests, help_quit_and_empty_lines_send_nothing) {
  auto p = parsed("help");
  EXPECT_EQ(p.what, shell::plan::kind::help);
  EXPECT_EQ(p.topic, "");
  p = parsed("help app show");
  EXPECT_EQ(p.what, shell::plan::kind::help);
  EXPECT_EQ(p.topic, "app show");
  EXPECT_EQ(parsed("quit").what, shell::plan::kind::quit);
  EXPECT_EQ(parsed("exit").what, shell::plan::kind::quit);
  EXPECT_EQ(parsed("   ").what, shell::plan::kind::nothing);
  for (auto line : {"help", "quit", "  "})
    EXPECT_TRUE(parsed(line).requests.empty()) << line;
}

// -- usage errors
// ---------------------------------------------------------------

TEST(shell_usage, unknown_commands_and_sub_commands) {
  auto e = usage("bogus");
  EXPECT_NE(e.find("unknown command 'bogus'"), std::string::npos) << e;
  e = usage("app");
  EXPECT_NE(e.find("give a sub-command"), std::string::npos) << e;
  EXPECT_NE(e.find("show"), std::string::npos) << e;
  e = usage("app shw app_01");
  EXPECT_NE(e.find("unknown sub-command 'shw'"), std::string::npos) << e;
  EXPECT_NE(e.find("find"), std::string::npos) << e;
}

TEST(shell_usage, wrong_arguments_name_the_command_and_its_synopsis) {
  struct bad {
    const char* line;
    const char* says;
  };
  const bad cases[] = {
    {"app show", "missing ID"},
    {"app show a b", "unexpected argument 'b'"},
    {"app appeal app_01", "missing REASON"},
    {"app find --colour red", "unknown option --colour"},
    {"app find --state", "--state needs a value"},
    {"app find --limit 0", "--limit"},
    {"app find --limit lots", "--limit"},
    {"case open sub_01 x --not-curable=yes", "takes no value"},
    {"sub usage sub_01 many", "SEATS: a whole number"},
    {"sub register --org X --email e@x --seats 1 --start 2026-01-01",
     "missing --end"},
    {"sub register --org X --email e@x --seats -3 --start a --end b",
     "--seats"},
    {"emergency issue sub_01 five ops@x.example https://t", "USERS"},
    {"emergency issue sub_01 5 ops@x.example https://t --days x", "--days"},
    {"triage oss", "CATEGORY or --text"},
    {"triage oss code_used --text hi", "not both"},
    {"timers soon", "DAYS"},
    {"clock advance tomorrow", "DURATION"},
    {"clock advance 3 days", "unexpected argument"},
    {"coupon import edu", "missing FILE"},
    {"outbox retry", "missing NTF"},
    {"status now", "unexpected argument 'now'"},
  };
  for (auto& c : cases) {
    auto e = usage(c.line);
    EXPECT_NE(e.find(c.says), std::string::npos) << c.line << " -> " << e;
    EXPECT_NE(e.find("(usage: "), std::string::npos) << c.line << " -> " << e;
  }
}

TEST(shell_usage, usage_errors_exit_2_and_send_nothing) {
  session s;
  EXPECT_EQ(s.run("app show"), exit_code::usage);
  EXPECT_TRUE(s.node.seen.empty());
  EXPECT_EQ(s.err.str().rfind("tenure: usage: app show: missing ID", 0), 0u)
    << s.err.str();
  EXPECT_TRUE(s.out.str().empty());
  // With --json stdout still holds one JSON document.
  session j;
  shell::settings js = as_alice();
  js.json = true;
  EXPECT_EQ(j.run("bogus", js), exit_code::usage);
  auto doc = json::parse(j.out.str());
  EXPECT_EQ(doc["error"]["code"], "usage");
  EXPECT_TRUE(j.node.seen.empty());
}

// Found by tests/fuzz (shell): a word that is not UTF-8 went into a JSON body
// and the JSON library threw from `parse` (`cluster plan a@\xc9\xcd...`), and
// from the end of `coupon import` (its summary names the file).
TEST(shell_usage, words_that_are_not_utf8_are_usage_errors) {
  for (std::string line :
       {"cluster plan a@\xc9\xcd\xc8\xd1\x30.0.1:4000,b@127.0.0.1:4001",
        "app withdraw app_01 caf\xe9", "coupon import edu codes-\xff.csv",
        "sub register --org \xc0\xaf --email e@x --seats 1 --start a --end b",
        "app appeal app_01 surrogate \xed\xa0\x80",
        "app appeal app_01 truncated \xe2\x82"}) {
    shell::plan p;
    std::string error;
    bool ok = true;
    EXPECT_NO_THROW(ok = shell::parse(line, as_alice(), p, error)) << line;
    EXPECT_FALSE(ok) << line;
    EXPECT_NE(error.find("not valid UTF-8"), std::string::npos) << error;
    EXPECT_TRUE(p.requests.empty()) << line;
  }
  // Any UTF-8 is fine, up to four bytes.
  auto p
    = parsed("app withdraw app_01 'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80'");
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(json::parse(p.requests[0].body)["reason"],
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  shell::settings bad_name;
  bad_name.operator_name = "b\xf8\x62"; // 0x62: b
  shell::plan q;
  std::string error;
  EXPECT_FALSE(shell::parse("app appeal app_01 x", bad_name, q, error));
  EXPECT_NE(error.find("operator name"), std::string::npos) << error;
}

// -- exit codes
// ------------------------------------------------------------------

TEST(shell_exit_codes, statuses_map_to_exit_codes) {
  for (int st : {200, 201, 204})
    EXPECT_EQ(shell::exit_code_of(st), exit_code::ok) << st;
  for (int st : {400, 404, 405, 409, 413, 415, 422})
    EXPECT_EQ(shell::exit_code_of(st), exit_code::refused) << st;
  for (int st : {401, 403})
    EXPECT_EQ(shell::exit_code_of(st), exit_code::unauthorized) << st;
  for (int st : {0, 500, 503, 504})
    EXPECT_EQ(shell::exit_code_of(st), exit_code::unreachable) << st;
  EXPECT_EQ(static_cast<int>(exit_code::ok), 0);
  EXPECT_EQ(static_cast<int>(exit_code::refused), 1);
  EXPECT_EQ(static_cast<int>(exit_code::usage), 2);
  EXPECT_EQ(static_cast<int>(exit_code::unreachable), 3);
  EXPECT_EQ(static_cast<int>(exit_code::unauthorized), 4);
}

TEST(shell_exit_codes, node_errors_print_code_and_message) {
  session s;
  s.node.answers
    = {{404,
        R"({"error":{"code":"not_found","message":"no application app_9"}})"}};
  EXPECT_EQ(s.run("app show app_9"), exit_code::refused);
  EXPECT_EQ(s.err.str(), "tenure: not_found: no application app_9\n");
  EXPECT_TRUE(s.out.str().empty());

  session j;
  auto body = R"({"error":{"code":"forbidden","message":"needs scope admin"}})";
  j.node.answers = {{403, body}};
  auto js = as_alice();
  js.json = true;
  EXPECT_EQ(j.run("clock advance 1d", js), exit_code::unauthorized);
  EXPECT_EQ(json::parse(j.out.str()), json::parse(body));
  EXPECT_EQ(j.err.str(), "tenure: forbidden: needs scope admin\n");

  session u;
  u.node.answers = {{0, "cannot connect to 127.0.0.1:1"}};
  EXPECT_EQ(u.run("status"), exit_code::unreachable);
  EXPECT_EQ(u.err.str(),
            "tenure: unreachable: cannot connect to 127.0.0.1:1\n");

  session f;
  f.node.answers = {{503, "not json"}};
  EXPECT_EQ(f.run("status"), exit_code::unreachable);
  EXPECT_EQ(f.err.str(), "tenure: http_503: not json\n");
}

// -- running
// ---------------------------------------------------------------------

TEST(shell_run, json_output_is_the_node_body_pretty_printed_in_its_order) {
  session s;
  auto body = R"({"zeta":1,"alpha":{"b":[1,2],"a":null},"id":"app_1"})";
  s.node.answers = {{200, body}};
  auto js = as_alice();
  js.json = true;
  EXPECT_EQ(s.run("app show app_1", js), exit_code::ok);
  EXPECT_EQ(s.out.str(), "{\n  \"zeta\": 1,\n  \"alpha\": {\n    \"b\": [\n"
                         "      1,\n      2\n    ],\n    \"a\": null\n  },\n"
                         "  \"id\": \"app_1\"\n}\n");
  EXPECT_TRUE(s.err.str().empty());
}

TEST(shell_run, listings_follow_next_cursor_up_to_the_limit) {
  session s;
  s.node.answers = {
    {200, R"({"items":[{"id":"app_1"},{"id":"app_2"}],"next_cursor":"c1"})"},
    {200, R"({"items":[{"id":"app_3"}],"next_cursor":"c2"})"},
  };
  auto js = as_alice();
  js.json = true;
  EXPECT_EQ(s.run("app find --state booked --limit 3", js), exit_code::ok);
  ASSERT_EQ(s.node.seen.size(), 2u);
  EXPECT_EQ(s.node.seen[0].target, "/v1/applications?state=booked&limit=3");
  EXPECT_EQ(s.node.seen[1].target,
            "/v1/applications?state=booked&limit=1&cursor=c1");
  auto doc = json::parse(s.out.str());
  ASSERT_EQ(doc["items"].size(), 3u);
  EXPECT_EQ(doc["items"][2]["id"], "app_3");
  // The limit was reached with more to come: the cursor tells.
  EXPECT_EQ(doc["next_cursor"], "c2");
}

TEST(shell_run, listings_stop_at_the_last_page) {
  session s;
  s.node.answers = {
    {200, R"({"items":[{"id":"sub_1","state":"active"}],"next_cursor":"c1"})"},
    {200, R"({"items":[{"id":"sub_2","state":"revoked"}],"next_cursor":null})"},
  };
  EXPECT_EQ(s.run("sub find"), exit_code::ok);
  ASSERT_EQ(s.node.seen.size(), 2u);
  EXPECT_EQ(s.node.seen[0].target, "/v1/subscriptions?limit=100");
  EXPECT_EQ(s.node.seen[1].target, "/v1/subscriptions?limit=99&cursor=c1");
  auto out = s.out.str();
  EXPECT_NE(out.find("ID     STATE"), std::string::npos) << out;
  EXPECT_NE(out.find("sub_2  revoked"), std::string::npos) << out;
  EXPECT_NE(out.find("2 subscriptions\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("more"), std::string::npos) << out;
}

TEST(shell_run, a_failing_page_fails_the_listing) {
  session s;
  s.node.answers = {
    {200, R"({"items":[{"id":"app_1"}],"next_cursor":"c1"})"},
    {422, R"({"error":{"code":"invalid_argument","message":"cursor: bad"}})"},
  };
  EXPECT_EQ(s.run("app find"), exit_code::refused);
  EXPECT_NE(s.err.str().find("invalid_argument: cursor: bad"),
            std::string::npos);
}

TEST(shell_run, coupon_stock_of_all_programs_is_one_table) {
  session s;
  for (auto prog : {"edu", "oss", "startups"})
    s.node.answers.push_back({200, json{{"program", prog},
                                        {"available", 10},
                                        {"reserved", 1},
                                        {"redeemed", 2},
                                        {"yearly_need", 1560},
                                        {"runway_days", 7}}
                                     .dump()});
  EXPECT_EQ(s.run("coupon stock"), exit_code::ok);
  EXPECT_EQ(s.node.seen.size(), 3u);
  auto out = s.out.str();
  EXPECT_EQ(out.rfind("PROGRAM   AVAILABLE  RESERVED  REDEEMED  YEARLY_NEED  "
                      "RUNWAY_DAYS\n",
                      0),
            0u)
    << out;
  EXPECT_NE(out.find("startups  10         1         2         1560         7"),
            std::string::npos)
    << out;
}

TEST(shell_run, coupon_import_sends_chunks_with_stable_keys_and_sums) {
  std::string csv;
  for (int i = 0; i < 12001; ++i)
    csv += "CODE-" + std::to_string(i) + "\n";
  auto report = [](int lines, const char* id) {
    return shell::response{200, json{{"id", id},
                                     {"program", "edu"},
                                     {"lines", lines},
                                     {"imported", lines - 1},
                                     {"blank", 0},
                                     {"duplicate_in_file", 0},
                                     {"already_present", 1},
                                     {"invalid", 0}}
                                  .dump()};
  };
  session s;
  s.with_progress = true;
  s.files["codes.csv"] = csv;
  s.node.answers
    = {report(5000, "imp_1"), report(5000, "imp_2"), report(2001, "imp_3")};
  auto js = as_alice();
  js.json = true;
  ASSERT_EQ(s.run("coupon import edu codes.csv", js), exit_code::ok)
    << s.err.str();
  ASSERT_EQ(s.node.seen.size(), 3u);
  std::string joined;
  std::set<std::string> keys;
  for (auto& r : s.node.seen) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/v1/coupons/edu/import");
    EXPECT_EQ(r.content_type, "text/csv");
    EXPECT_LE(shell::count_lines(r.body), shell::import_chunk_lines);
    joined += r.body;
    keys.insert(r.idempotency_key);
  }
  EXPECT_EQ(joined, csv);
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_EQ(shell::count_lines(s.node.seen[2].body), 2001u);
  auto doc = json::parse(s.out.str());
  EXPECT_EQ(doc["lines"], 12001);
  EXPECT_EQ(doc["imported"], 11998);
  EXPECT_EQ(doc["already_present"], 3);
  EXPECT_EQ(doc["chunks"], 3);
  EXPECT_EQ(doc["imports"], json::array({"imp_1", "imp_2", "imp_3"}));
  EXPECT_EQ(s.progress,
            (std::vector<std::pair<size_t, size_t>>{
              {0, 12001}, {5000, 12001}, {10000, 12001}, {12001, 12001}}));
  // A re-run sends the same keys: the node replays instead of importing.
  session again;
  again.files["codes.csv"] = csv;
  again.node.answers = s.node.answers;
  ASSERT_EQ(again.run("coupon import edu codes.csv"), exit_code::ok);
  ASSERT_EQ(again.node.seen.size(), 3u);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(again.node.seen[i].idempotency_key,
              s.node.seen[i].idempotency_key);
  // Another program or another file: other keys.
  EXPECT_NE(shell::import_key("oss", csv, 0), shell::import_key("edu", csv, 0));
  EXPECT_NE(shell::import_key("edu", csv + "X\n", 0),
            shell::import_key("edu", csv, 0));
}

TEST(shell_run, coupon_import_stops_at_a_refused_chunk) {
  std::string csv;
  for (int i = 0; i < 10001; ++i)
    csv += "C" + std::to_string(i) + "\n";
  session s;
  s.files["c.csv"] = csv;
  s.node.answers = {
    {200, R"({"id":"imp_1","lines":5000,"imported":5000})"},
    {403, R"({"error":{"code":"forbidden","message":"needs coupon-admin"}})"}};
  EXPECT_EQ(s.run("coupon import edu c.csv"), exit_code::unauthorized);
  EXPECT_EQ(s.node.seen.size(), 2u);
  auto err = s.err.str();
  EXPECT_NE(err.find("tenure: forbidden: chunk 2 of 3 (lines 5001-10000"),
            std::string::npos)
    << err;
}

TEST(shell_run, coupon_import_of_a_missing_or_empty_file_is_a_usage_error) {
  session s;
  EXPECT_EQ(s.run("coupon import edu nope.csv"), exit_code::usage);
  EXPECT_NE(s.err.str().find("cannot read nope.csv"), std::string::npos);
  s.files["empty.csv"] = "";
  EXPECT_EQ(s.run("coupon import edu empty.csv"), exit_code::usage);
  EXPECT_NE(s.err.str().find("empty.csv is empty"), std::string::npos);
  EXPECT_TRUE(s.node.seen.empty());
}

TEST(shell_run, chunks_split_at_line_boundaries) {
  EXPECT_TRUE(shell::split_chunks("", 2).empty());
  EXPECT_EQ(shell::split_chunks("a\nb\nc", 2),
            (std::vector<std::string>{"a\nb\n", "c"}));
  EXPECT_EQ(shell::split_chunks("a\nb\n", 2),
            (std::vector<std::string>{"a\nb\n"}));
  EXPECT_EQ(shell::split_chunks("a\r\nb\r\n\n", 1),
            (std::vector<std::string>{"a\r\n", "b\r\n", "\n"}));
  EXPECT_EQ(shell::count_lines(""), 0u);
  EXPECT_EQ(shell::count_lines("a"), 1u);
  EXPECT_EQ(shell::count_lines("a\n"), 1u);
  EXPECT_EQ(shell::count_lines("a\n\nb"), 3u);
}

// -- formatting
// ------------------------------------------------------------------

TEST(shell_format, records_are_aligned_blocks_with_their_history) {
  json app{{"applicant", {{"email", "ada@x.example"}, {"name", "Ada"}}},
           {"edu", {{"institution", ""}, {"level", "university"}}},
           {"id", "app_1"},
           {"program", "startups"},
           {"reasons", {"a", "b"}},
           {"renews", ""},
           {"review_due", nullptr},
           {"state", "in_review"},
           {"startup", {{"employees", 12}}},
           {"history",
            {{{"seq", 1},
              {"at", "2026-11-23T10:00:00.000Z"},
              {"type", "app_submitted"},
              {"summary", ""}},
             {{"seq", 12},
              {"at", "2026-11-24T10:00:00.000Z"},
              {"type", "app_verified"},
              {"summary", "by=alice"}}}}};
  auto out = shell::format_human("app show", app.dump());
  EXPECT_EQ(out, "id:                 app_1\n"
                 "state:              in_review\n"
                 "applicant.email:    ada@x.example\n"
                 "applicant.name:     Ada\n"
                 "program:            startups\n"
                 "reasons:            a, b\n"
                 "startup.employees:  12\n"
                 "\n"
                 "history:\n"
                 "  1   2026-11-23T10:00:00.000Z  app_submitted\n"
                 "  12  2026-11-24T10:00:00.000Z  app_verified   by=alice\n");
}

TEST(shell_format, lists_are_tables_with_a_count) {
  json body{{"items",
             {{{"id", "case_1"},
               {"state", "open"},
               {"deadline", "2026-12-01T00:00:00.000Z"},
               {"subscription", "sub_1"},
               {"curable", true},
               {"reason", "seats"}}}},
            {"next_cursor", nullptr}};
  auto out = shell::format_human("case list", body.dump());
  EXPECT_EQ(out, "ID      STATE  DEADLINE                  SUBSCRIPTION  "
                 "CURABLE  REASON\n"
                 "case_1  open   2026-12-01T00:00:00.000Z  sub_1         yes"
                 "      seats\n"
                 "1 case\n");
  EXPECT_EQ(shell::format_human("timers", R"({"items":[]})"), "0 timers\n");
}

TEST(shell_format, status_outbox_codes_and_plain_text) {
  auto status = shell::format_human(
    "status", R"({"node":{"name":"n1","clock":"manual"},)"
              R"("timers":{"renewal":{"fired":3,"failed":0}}})");
  EXPECT_NE(status.find("node:  name=n1 clock=manual\n"), std::string::npos)
    << status;
  EXPECT_NE(status.find("  renewal  3      0"), std::string::npos) << status;
  auto outbox = shell::format_human(
    "outbox", R"({"pending":1,"delivered":2,"failed":1,"failures":)"
              R"([{"id":"ntf_1","template_name":"x","state":"failed",)"
              R"("last_error":"smtp 550"}]})");
  EXPECT_NE(outbox.find("pending:    1\n"), std::string::npos) << outbox;
  EXPECT_NE(outbox.find("ntf_1  x         -       failed  smtp 550"),
            std::string::npos)
    << outbox;
  EXPECT_EQ(shell::format_human("coupon codes",
                                R"({"program":"edu","codes":["A","B"]})"),
            "A\nB\n");
  EXPECT_EQ(shell::format_human("status", "plain"), "plain\n");
  EXPECT_EQ(shell::format_json("not json"), "not json");
}

// -- help and completion
// -----------------------------------------------------------

TEST(shell_help, every_command_has_help) {
  auto all = shell::help_text();
  for (auto& c : shell::commands()) {
    EXPECT_NE(all.find(c.name), std::string::npos) << c.name;
    EXPECT_FALSE(c.summary.empty()) << c.name;
    std::string text;
    EXPECT_TRUE(shell::help_text(c.name, text)) << c.name;
    EXPECT_NE(text.find("usage: " + c.synopsis), std::string::npos) << c.name;
  }
  std::string text;
  EXPECT_TRUE(shell::help_text("case", text));
  EXPECT_NE(text.find("case open"), std::string::npos);
  EXPECT_NE(text.find("case list"), std::string::npos);
  EXPECT_FALSE(shell::help_text("nope", text));
  // `help ap` is no prefix match of words.
  EXPECT_FALSE(shell::help_text("ap", text));
}

TEST(shell_requests, cluster_plan_refuses_a_member_without_an_address) {
  auto err = usage("cluster plan a@h1:9101,b");
  EXPECT_NE(err.find("name@host:port"), std::string::npos) << err;
}

TEST(shell_output, cluster_status_is_a_table_with_down_members) {
  auto out = shell::format_human(
    "cluster status",
    R"({"node":"a","members":[{"name":"a","host":"127.0.0.1","port":9101,)"
    R"("self":true,"reachable":true,"entities":{"applications":3,)"
    R"("subscriptions":1,"compliance_cases":0,"emergency_licenses":0},)"
    R"("timers_pending":4},{"name":"b","host":"127.0.0.1","port":9102,)"
    R"("self":false,"reachable":false,"error":"connection lost",)"
    R"("entities":null,"timers_pending":null}]})");
  EXPECT_NE(out.find("up (this node)"), std::string::npos) << out;
  EXPECT_NE(out.find("DOWN"), std::string::npos) << out;
  EXPECT_NE(out.find("connection lost"), std::string::npos) << out;
  EXPECT_NE(out.find("127.0.0.1:9102"), std::string::npos) << out;
}

TEST(shell_output, cluster_plan_lists_moves_and_members_not_counted) {
  auto out = shell::format_human(
    "cluster plan",
    R"({"moves":[{"from":"a","to":"d","count":12,"entities":[]}],)"
    R"("total":12,"staying":30,"unavailable":["b","c"]})");
  EXPECT_NE(out.find("a     d   12"), std::string::npos) << out;
  EXPECT_NE(out.find("total: 12"), std::string::npos) << out;
  EXPECT_NE(out.find("not counted (down): b, c"), std::string::npos) << out;
}

TEST(shell_help, completion_offers_commands_sub_commands_and_options) {
  using v = std::vector<std::string>;
  auto first = shell::complete({}, "");
  for (auto w : {"app", "sub", "review", "coupon", "case", "emergency",
                 "triage", "timers", "outbox", "status", "clock", "help"})
    EXPECT_NE(std::find(first.begin(), first.end(), w), first.end()) << w;
  EXPECT_EQ(shell::complete({}, "st"), v{"status"});
  EXPECT_EQ(shell::complete({"app"}, "s"), v{"show"});
  EXPECT_EQ(shell::complete({"outbox"}, ""), v{"retry"});
  EXPECT_EQ(shell::complete({"app", "find"}, "--st"), v{"--state"});
  EXPECT_EQ(shell::complete({"case", "open", "sub_1"}, "--n"),
            v{"--not-curable"});
  EXPECT_EQ(shell::complete({"status"}, "--j"), v{"--json"});
  EXPECT_EQ(shell::complete({"coupon", "stock"}, ""),
            (v{"edu", "oss", "startups"}));
  EXPECT_EQ(shell::complete({"coupon", "import"}, "st"), v{"startups"});
  EXPECT_TRUE(shell::complete({"coupon", "import", "edu"}, "").empty());
  EXPECT_EQ(shell::complete({"help"}, "cl"), (v{"cluster", "clock"}));
  EXPECT_EQ(shell::complete({"cluster"}, ""), (v{"status", "plan"}));
  EXPECT_EQ(shell::complete({"help", "clock"}, ""), (v{"advance", "set"}));
  EXPECT_TRUE(shell::complete({"bogus"}, "").empty());
}

// -- outreach
// ---------------------------------------------------------------------

namespace {

const std::string csv_header
  = "account_ref,account_name,segment,hosting,stage,contact_name,email,roles\n";

/// `accounts` accounts of `per` contact lines each, grouped.
std::string accounts_csv(size_t accounts, size_t per) {
  std::string csv = csv_header;
  for (size_t a = 0; a < accounts; ++a)
    for (size_t c = 0; c < per; ++c)
      csv += "crm-" + std::to_string(a) + ",Account " + std::to_string(a)
             + ",scale,saas,retention,P" + std::to_string(c) + ",p"
             + std::to_string(c) + "@a" + std::to_string(a)
             + ".example,admin\n";
  return csv;
}

shell::response import_report(size_t created, size_t updated, size_t lines) {
  return {200, json{{"accounts_created", created},
                    {"accounts_updated", updated},
                    {"contacts", lines}}
                 .dump()};
}

} // namespace

TEST(shell_requests, outreach_listings_and_files) {
  auto p = parsed("accounts list --segment csm_managed --limit 20");
  EXPECT_EQ(p.what, shell::plan::kind::paged);
  EXPECT_EQ(p.limit, 20u);
  EXPECT_EQ(p.requests[0].target, "/v1/accounts?segment=csm_managed");
  EXPECT_EQ(parsed("accounts list").requests[0].target, "/v1/accounts");
  p = parsed("outreach list --limit 5");
  EXPECT_EQ(p.what, shell::plan::kind::paged);
  EXPECT_EQ(p.requests[0].target, "/v1/outreach/programs");
  p = parsed("outreach responses prg_01");
  EXPECT_EQ(p.what, shell::plan::kind::paged);
  EXPECT_EQ(p.requests[0].target, "/v1/outreach/programs/prg_01/responses");
  p = parsed("accounts import 'my accounts.csv'");
  EXPECT_EQ(p.what, shell::plan::kind::account_import);
  EXPECT_EQ(p.file, "my accounts.csv");
  EXPECT_TRUE(p.requests.empty());
  p = parsed("outreach create prog.json");
  EXPECT_EQ(p.what, shell::plan::kind::upload);
  EXPECT_EQ(p.file, "prog.json");
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(p.requests[0].target, "/v1/outreach/programs");
}

TEST(shell_usage, outreach_commands_name_what_is_missing) {
  for (auto [line, what] : std::vector<std::pair<std::string, std::string>>{
         {"accounts show", "missing ID"},
         {"accounts import", "missing FILE"},
         {"accounts import a.csv b.csv", "unexpected argument 'b.csv'"},
         {"accounts list --limit 0", "--limit: a number from 1"},
         {"accounts list --state x", "unknown option --state"},
         {"outreach create", "missing FILE"},
         {"outreach explain acct_01", "missing PROGRAM"},
         {"outreach launch", "missing ID"},
         {"outreach responses", "missing ID"},
         {"outreach nope", "unknown sub-command 'nope'"}}) {
    auto e = usage(line);
    EXPECT_NE(e.find(what), std::string::npos) << line << ": " << e;
  }
}

TEST(shell_run, account_csv_parts_keep_accounts_whole) {
  // 7 accounts of 3 lines, parts of at most 5 lines: one account a part
  // (two would be 6 lines).
  std::vector<shell::account_part> parts;
  std::string error;
  ASSERT_TRUE(shell::split_account_csv(accounts_csv(7, 3), 5, parts, error))
    << error;
  ASSERT_EQ(parts.size(), 7u);
  EXPECT_EQ(parts[1].lines, (std::vector<size_t>{5, 6, 7}));
  EXPECT_EQ(parts[1].body.rfind(csv_header, 0), 0u);
  // Lines of one account apart in the file go together; the header, BOM,
  // CRLF and blank lines are handled as the node does.
  auto csv = "\xEF\xBB\xBF" + csv_header.substr(0, csv_header.size() - 1)
             + "\r\n"
               "a,A,scale,saas,,X,x@a.example,admin\r\n"
               "b,B,scale,saas,,Y,y@b.example,admin\n"
               "\n"
               "\"A\",A,scale,saas,,Z,z@a.example,owner\n"
               "c,C,scale,saas,,W,w@c.example,admin\n";
  ASSERT_TRUE(shell::split_account_csv(csv, 2, parts, error)) << error;
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].lines, (std::vector<size_t>{2, 5}));
  EXPECT_EQ(parts[1].lines, (std::vector<size_t>{3, 6}));
  EXPECT_EQ(parts[0].body, csv_header
                             + "a,A,scale,saas,,X,x@a.example,admin\n"
                               "\"A\",A,scale,saas,,Z,z@a.example,owner\n");
  // An account larger than a part gets a part of its own.
  ASSERT_TRUE(shell::split_account_csv(accounts_csv(2, 4), 3, parts, error));
  EXPECT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].lines.size(), 4u);
  // The header is checked here.
  EXPECT_FALSE(shell::split_account_csv("ref,name\nx,y\n", 500, parts, error));
  EXPECT_NE(error.find("line 1: the header must be account_ref,"),
            std::string::npos)
    << error;
  EXPECT_FALSE(shell::split_account_csv("", 500, parts, error));
  EXPECT_FALSE(shell::split_account_csv(csv_header + "\n", 500, parts, error));
  EXPECT_NE(error.find("no contact lines"), std::string::npos) << error;
}

TEST(shell_run, accounts_import_sends_parts_and_prints_progress) {
  // 460 accounts of 5 lines: 2,300 lines in parts of 500 (100 accounts).
  session s;
  s.files["accounts.csv"] = accounts_csv(460, 5);
  s.node.answers = {import_report(97, 3, 500), import_report(100, 0, 500),
                    import_report(100, 0, 500), import_report(100, 0, 500),
                    import_report(60, 0, 300)};
  ASSERT_EQ(s.run("accounts import accounts.csv"), exit_code::ok)
    << s.err.str();
  ASSERT_EQ(s.node.seen.size(), 5u);
  std::set<std::string> keys;
  for (auto& r : s.node.seen) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/v1/accounts/import");
    EXPECT_EQ(r.content_type, "text/csv");
    EXPECT_EQ(r.body.rfind(csv_header, 0), 0u);
    keys.insert(r.idempotency_key);
  }
  EXPECT_EQ(keys.size(), 5u);
  EXPECT_EQ(shell::count_lines(s.node.seen[0].body), 501u);
  EXPECT_EQ(shell::count_lines(s.node.seen[4].body), 301u);
  auto err = s.err.str();
  EXPECT_NE(err.find("imported 500/2300 lines (97 accounts created, 3 "
                     "updated)\n"
                     "imported 1000/2300 lines (197 accounts created, 3 "
                     "updated)\n"),
            std::string::npos)
    << err;
  EXPECT_NE(err.find("imported 2300/2300 lines (457 accounts created, 3 "
                     "updated)\n"),
            std::string::npos)
    << err;
  EXPECT_EQ(s.out.str(), "imported 2300 lines of accounts.csv in 5 parts: 457 "
                         "accounts created, 3 updated, 2300 contacts\n");
  // --json: the sums as a document on stdout.
  session js;
  js.files["accounts.csv"] = accounts_csv(2, 2);
  js.node.answers = {import_report(2, 0, 4)};
  ASSERT_EQ(js.run("accounts import accounts.csv --json"), exit_code::ok);
  auto doc = json::parse(js.out.str());
  EXPECT_EQ(doc["accounts_created"], 2);
  EXPECT_EQ(doc["lines"], 4);
  EXPECT_EQ(doc["parts"], 1);
}

TEST(shell_run, accounts_import_stops_at_a_refused_part_naming_the_line) {
  session s;
  s.files["a.csv"] = accounts_csv(300, 4); // 1,200 lines, 3 parts
  s.node.answers
    = {import_report(125, 0, 500),
       {422, R"({"error":{"code":"invalid_argument","message":"line 7: )"
             R"(segment: expected one of tech_touch, scale, csm_managed"}})"}};
  EXPECT_EQ(s.run("accounts import a.csv"), exit_code::refused);
  EXPECT_EQ(s.node.seen.size(), 2u);
  auto err = s.err.str();
  // Line 7 of part 2 is the part's sixth contact line: file line 507.
  EXPECT_NE(err.find("tenure: invalid_argument: accounts import: part 2 of 3 "
                     "(file lines 502-1001) refused: line 507: segment: "),
            std::string::npos)
    << err;
  EXPECT_NE(err.find("(nothing of this part was written); imported before "
                     "it: 500/1200 lines (125 accounts created, 0 updated), "
                     "the file up to line 501."),
            std::string::npos)
    << err;
  EXPECT_NE(err.find("Running the import again is safe"), std::string::npos);
  // The first part refused: nothing imported.
  session first;
  first.files["a.csv"] = accounts_csv(2, 2);
  first.node.answers
    = {{403, R"({"error":{"code":"forbidden","message":"needs write"}})"}};
  EXPECT_EQ(first.run("accounts import a.csv"), exit_code::unauthorized);
  EXPECT_NE(first.err.str().find("nothing was imported before it"),
            std::string::npos)
    << first.err.str();
}

TEST(shell_run, accounts_import_checks_the_file_before_sending) {
  session s;
  EXPECT_EQ(s.run("accounts import nope.csv"), exit_code::usage);
  EXPECT_NE(s.err.str().find("cannot read nope.csv"), std::string::npos);
  s.files["codes.csv"] = "EDU-1\nEDU-2\n";
  EXPECT_EQ(s.run("accounts import codes.csv"), exit_code::usage);
  EXPECT_NE(s.err.str().find("codes.csv: line 1: the header must be"),
            std::string::npos)
    << s.err.str();
  EXPECT_TRUE(s.node.seen.empty());
}

TEST(shell_run, outreach_create_sends_the_file_with_the_operator) {
  session s;
  s.files["p.json"] = R"({"name": "Tips", "kind": "email",
    "stage": "onboarding", "steps": [{"subject": "Hi", "body": "Hello"}]})";
  s.node.answers = {{201, R"({"id":"prg_1","state":"draft","name":"Tips"})"}};
  ASSERT_EQ(s.run("outreach create p.json"), exit_code::ok) << s.err.str();
  ASSERT_EQ(s.node.seen.size(), 1u);
  auto& r = s.node.seen[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/outreach/programs");
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_FALSE(r.idempotency_key.empty());
  auto body = json::parse(r.body);
  EXPECT_EQ(body["by"], "alice");
  EXPECT_EQ(body["kind"], "email");
  EXPECT_NE(s.out.str().find("id:     prg_1\nstate:  draft\n"),
            std::string::npos)
    << s.out.str();
  // The file's own "by" wins; files that are not a JSON object are usage
  // errors.
  session own;
  own.files["p.json"] = R"({"name": "T", "by": "carol"})";
  own.node.answers = {{201, "{}"}};
  ASSERT_EQ(own.run("outreach create p.json"), exit_code::ok);
  EXPECT_EQ(json::parse(own.node.seen[0].body)["by"], "carol");
  session bad;
  bad.files["a.json"] = "[1, 2]";
  bad.files["b.json"] = "{\"name\":";
  EXPECT_EQ(bad.run("outreach create a.json"), exit_code::usage);
  EXPECT_NE(bad.err.str().find("a.json: not a JSON object"), std::string::npos);
  EXPECT_EQ(bad.run("outreach create b.json"), exit_code::usage);
  EXPECT_NE(bad.err.str().find("b.json: not JSON"), std::string::npos);
  EXPECT_EQ(bad.run("outreach create c.json"), exit_code::usage);
  EXPECT_TRUE(bad.node.seen.empty());
}

TEST(shell_format, accounts_and_programs_are_tables_and_blocks) {
  json accounts{{"items",
                 {{{"id", "acct_1"},
                   {"name", "Acme"},
                   {"external_ref", "crm-1"},
                   {"segment", "scale"},
                   {"hosting", "saas"},
                   {"stage", "retention"},
                   {"contacts", {{{"id", "con_1"}}, {{"id", "con_2"}}}}}}},
                {"next_cursor", nullptr}};
  EXPECT_EQ(shell::format_human("accounts list", accounts.dump()),
            "ID      NAME  REF    SEGMENT  HOSTING  STAGE      CONTACTS\n"
            "acct_1  Acme  crm-1  scale    saas     retention  2\n"
            "1 account\n");
  json account{{"contacts",
                {{{"bounced", true},
                  {"email", "ann@acme.example"},
                  {"id", "con_1"},
                  {"name", "Ann"},
                  {"roles", {"admin", "owner"}}}}},
               {"id", "acct_1"},
               {"name", "Acme"}};
  EXPECT_EQ(shell::format_human("accounts show", account.dump()),
            "id:    acct_1\n"
            "name:  Acme\n"
            "\n"
            "contacts:\n"
            "  ID     NAME  EMAIL             ROLES\n"
            "  con_1  Ann   ann@acme.example  admin, owner  BOUNCED\n");
  json program{{"counts", {{"sent", 4}}},
               {"id", "prg_1"},
               {"kind", "series"},
               {"name", "Tips"},
               {"rates", {{"open_rate", 0.5}, {"nps", nullptr}}},
               {"state", "running"},
               {"steps",
                {{{"body", "b"}, {"delay", "0ms"}, {"subject", "Hello"}},
                 {{"body", "b"}, {"delay", "1w"}, {"subject", "Again"}}}}};
  EXPECT_EQ(shell::format_human("outreach show", program.dump()),
            "id:               prg_1\n"
            "state:            running\n"
            "counts.sent:      4\n"
            "kind:             series\n"
            "name:             Tips\n"
            "rates.open_rate:  50.0%\n"
            "\n"
            "steps:\n"
            "  #  DELAY  SUBJECT\n"
            "  1  0ms    Hello\n"
            "  2  1w     Again\n");
  json programs{{"items", {program}}, {"next_cursor", "prg_1"}};
  EXPECT_EQ(shell::format_human("outreach list", programs.dump()),
            "ID     STATE    KIND    STAGE  NAME  SENT  OPENED  CLICKED  "
            "BOUNCED\n"
            "prg_1  running  series  -      Tips  4     50.0%   -        -\n"
            "1 program\n"
            "(there are more: raise --limit)\n");
  json why{{"in_audience", true},
           {"lines",
            {"segment scale: the program takes scale: matches",
             "Ann (a***@acme.example): Admin contact: receives it"}},
           {"recipients", {{{"contact", "con_1"}}}}};
  EXPECT_EQ(shell::format_human("outreach explain", why.dump()),
            "segment scale: the program takes scale: matches\n"
            "Ann (a***@acme.example): Admin contact: receives it\n"
            "in the audience: 1 recipient\n");
  json answers{{"items",
                {{{"account", ""},
                  {"at", "2026-11-23T00:00:00.000Z"},
                  {"comment", "Great docs"},
                  {"contact", ""},
                  {"id", "x"},
                  {"score", 9}}}},
               {"next_cursor", nullptr}};
  EXPECT_EQ(shell::format_human("outreach responses", answers.dump()),
            "AT                        SCORE  ACCOUNT  CONTACT  COMMENT\n"
            "2026-11-23T00:00:00.000Z  9      -        -        Great docs\n"
            "1 response\n");
}
