// End-to-end through the operator shell: starts the real tenured (manual
// clock, free ports) and drives it with the real `tenure -c ... --json` as a
// script would, checking the answers and the exit codes (0 success, 1
// refused, 2 usage, 3 unreachable, 4 unauthorized). Applications come in
// over HTTP (the portal's way), with the admin token the node wrote.

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/e2e_tools.hpp"
#include "tests/support/process.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using tenure::test::child_process;
using tenure::test::free_port;
using tenure::test::parse_iso_ms;
using tenure::test::read_file;
using tenure::test::temp_dir;
using tenure::test::tenured_bin;
using tenure::test::tenured_node;
using tenure::test::trim;

namespace {

std::string random_suffix() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 8; ++i)
    out += "0123456789abcdef"[rd() % 16];
  return out;
}

std::string tenure_bin() {
  return tenure::test::build_dir() + "/nodes/tenure";
}

/// What one run of `tenure` left.
struct outcome {
  std::optional<int> code;
  std::string out;
  std::string err;
  /// stdout parsed (null when it is not JSON).
  json doc;

  std::string describe() const {
    return "exit " + (code ? std::to_string(*code) : std::string{"timeout"})
           + "\nstdout: " + out.substr(0, 2000)
           + "\nstderr: " + err.substr(0, 2000);
  }
};

class shell_e2e : public ::testing::Test {
public:
  // One node for the suite (ctest runs each test in its own process, so
  // there each gets a fresh one). Tests use their own emails and
  // organisations and do not depend on each other's order.
  static void SetUpTestSuite() {
    dir_ = new temp_dir("tenure-shell-e2e");
    data_ = dir_->path() + "/data";
    node_ = new tenured_node(data_, {"--clock", "manual"});
    http_port_ = node_->port;
    shell_ = node_->shell;
    token_file_ = data_ + "/admin.token";
  }

  static void TearDownTestSuite() {
    if (node_) {
      node_->stop();
      delete node_;
      node_ = nullptr;
    }
    delete dir_;
    dir_ = nullptr;
  }

protected:
  void SetUp() override {
    ASSERT_NE(node_, nullptr);
    ASSERT_GT(http_port_, 0) << node_->proc.out() << node_->proc.err();
    ASSERT_FALSE(shell_.empty()) << node_->proc.out();
    ASSERT_FALSE(trim(read_file(token_file_)).empty()) << token_file_;
  }

  /// `tenure --node SHELL --token-file TOKEN --json -c COMMAND`.
  static outcome tenure(const std::string& command, bool json_out = true,
                        std::vector<std::string> extra = {}) {
    std::vector<std::string> args{
      tenure_bin(), "--node",    shell_, "--token-file",
      token_file_,  "--timeout", "30"};
    if (json_out)
      args.push_back("--json");
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("-c");
    args.push_back(command);
    child_process p{args};
    outcome o;
    o.code = p.wait(60s);
    o.out = p.out();
    o.err = p.err();
    o.doc = json::parse(o.out, nullptr, false);
    if (o.doc.is_discarded())
      o.doc = nullptr;
    return o;
  }

  /// Submits an application over HTTP; its id.
  static std::string submit(const std::string& email, const std::string& org) {
    httplib::Client cli{"127.0.0.1", http_port_};
    cli.set_read_timeout(30, 0);
    json body{{"program", "startups"},
              {"channel", "marketo"},
              {"applicant",
               {{"name", "Ada Lovelace"},
                {"email", email},
                {"job_title", "CTO"},
                {"country", "DE"}}},
              {"organisation",
               {{"name", org},
                {"country", "DE"},
                {"website", "https://" + org + ".example.org"}}},
              {"startup",
               {{"company_website", "https://" + org + ".example.org"},
                {"founded_year", 2023},
                {"employees", 12},
                {"funding_stage", "seed"}}},
              {"hosting", "saas"},
              {"seats", 20},
              {"support", "without"},
              {"term", "1y"}};
    auto res
      = cli.Post("/v1/applications",
                 {{"Authorization", "Bearer " + trim(read_file(token_file_))}},
                 body.dump(), "application/json");
    if (!res || res->status != 201)
      return {};
    auto doc = json::parse(res->body, nullptr, false);
    return doc.is_object() ? doc.value("id", std::string{}) : std::string{};
  }

  /// Registers a paid subscription through the shell; its id.
  static std::string register_subscription(const std::string& org) {
    auto o = tenure("sub register --org '" + org + "' --email it@" + org
                    + ".example --seats 10 --start 2026-01-01 --end "
                      "2030-01-01 --country DE");
    if (o.code != 0 || !o.doc.is_object())
      return {};
    return o.doc.value("id", std::string{});
  }

  static bool has_item(const json& doc, const std::string& key,
                       const std::string& value) {
    if (!doc.is_object() || !doc.contains("items") || !doc["items"].is_array())
      return false;
    for (auto& item : doc["items"])
      if (item.is_object() && item.value(key, std::string{}) == value)
        return true;
    return false;
  }

  static temp_dir* dir_;
  static std::string data_;
  static tenured_node* node_;
  static int http_port_;
  static std::string shell_;
  static std::string token_file_;
};

temp_dir* shell_e2e::dir_ = nullptr;
std::string shell_e2e::data_;
tenured_node* shell_e2e::node_ = nullptr;
int shell_e2e::http_port_ = 0;
std::string shell_e2e::shell_;
std::string shell_e2e::token_file_;

} // namespace

TEST_F(shell_e2e, status_shows_the_node_with_its_manual_clock) {
  auto o = tenure("status");
  ASSERT_EQ(o.code, 0) << o.describe();
  EXPECT_EQ(o.doc["node"]["clock"], "manual") << o.describe();
  EXPECT_EQ(o.doc["store"]["open"], true) << o.describe();
  EXPECT_TRUE(o.doc["timers"].is_object()) << o.describe();
  EXPECT_TRUE(o.err.empty()) << o.describe();
  // Without --json: aligned text.
  auto text = tenure("status", false);
  ASSERT_EQ(text.code, 0) << text.describe();
  EXPECT_NE(text.out.find("clock=manual"), std::string::npos)
    << text.describe();
  EXPECT_NE(text.out.find("timers:\n  OWNER"), std::string::npos)
    << text.describe();
}

TEST_F(shell_e2e, applications_are_found_shown_and_reviewed) {
  auto email = "ada-" + random_suffix() + "@startup.example.org";
  auto id = submit(email, "acme-" + random_suffix());
  ASSERT_FALSE(id.empty());

  auto show = tenure("app show " + id);
  ASSERT_EQ(show.code, 0) << show.describe();
  EXPECT_EQ(show.doc["id"], id) << show.describe();
  EXPECT_EQ(show.doc["applicant"]["email"], email) << show.describe();
  ASSERT_TRUE(show.doc["history"].is_array()) << show.describe();
  ASSERT_FALSE(show.doc["history"].empty()) << show.describe();
  EXPECT_EQ(show.doc["history"][0]["seq"], 1) << show.describe();

  auto text = tenure("app show " + id, false);
  ASSERT_EQ(text.code, 0) << text.describe();
  EXPECT_EQ(text.out.rfind("id:", 0), 0u) << text.describe();
  EXPECT_NE(text.out.find("\nhistory:\n  1  "), std::string::npos)
    << text.describe();

  auto found = tenure("app find --email " + email);
  ASSERT_EQ(found.code, 0) << found.describe();
  ASSERT_EQ(found.doc["items"].size(), 1u) << found.describe();
  EXPECT_EQ(found.doc["items"][0]["id"], id) << found.describe();
  EXPECT_TRUE(found.doc["next_cursor"].is_null()) << found.describe();

  // Startups are reviewed by the program team.
  auto queue = tenure("review list");
  ASSERT_EQ(queue.code, 0) << queue.describe();
  EXPECT_TRUE(has_item(queue.doc, "application", id)) << queue.describe();
  auto approved = tenure("review approve " + id + " 'a real startup'", true,
                         {"--as", "e2e-reviewer"});
  ASSERT_EQ(approved.code, 0) << approved.describe();
  EXPECT_EQ(approved.doc["id"], id) << approved.describe();
  EXPECT_NE(approved.doc["state"], "in_review") << approved.describe();
  // Deciding it again is refused by the node: exit 1.
  auto again = tenure("review approve " + id);
  EXPECT_EQ(again.code, 1) << again.describe();
  EXPECT_EQ(again.doc["error"]["code"], "illegal_transition")
    << again.describe();
}

TEST_F(shell_e2e, coupon_import_from_a_file_then_stock) {
  auto before = tenure("coupon stock oss");
  ASSERT_EQ(before.code, 0) << before.describe();
  auto available = before.doc["available"].get<uint64_t>();
  // 7001 lines: two chunks of 5000 and 2001.
  std::string csv;
  auto tag = random_suffix();
  for (int i = 0; i < 7001; ++i)
    csv += "SHE2E-" + tag + "-" + std::to_string(i) + "\n";
  auto file = dir_->path() + "/codes-" + tag + ".csv";
  tenure::test::write_file(file, csv);

  auto imp = tenure("coupon import oss '" + file + "'");
  ASSERT_EQ(imp.code, 0) << imp.describe();
  EXPECT_EQ(imp.doc["chunks"], 2) << imp.describe();
  EXPECT_EQ(imp.doc["lines"], 7001) << imp.describe();
  EXPECT_EQ(imp.doc["imported"], 7001) << imp.describe();
  EXPECT_EQ(imp.doc["invalid"], 0) << imp.describe();
  // The codes never reach the output.
  EXPECT_EQ(imp.out.find("SHE2E-"), std::string::npos);

  auto after = tenure("coupon stock oss");
  ASSERT_EQ(after.code, 0) << after.describe();
  EXPECT_EQ(after.doc["available"], available + 7001) << after.describe();
  EXPECT_TRUE(after.doc["runway_days"].is_number()) << after.describe();

  // Running the same import again is harmless: the node replays.
  auto rerun = tenure("coupon import oss '" + file + "'");
  ASSERT_EQ(rerun.code, 0) << rerun.describe();
  EXPECT_EQ(rerun.doc["imports"], imp.doc["imports"]) << rerun.describe();
  auto still = tenure("coupon stock oss");
  EXPECT_EQ(still.doc["available"], available + 7001) << still.describe();

  auto all = tenure("coupon stock");
  ASSERT_EQ(all.code, 0) << all.describe();
  ASSERT_EQ(all.doc["items"].size(), 3u) << all.describe();
  EXPECT_EQ(all.doc["items"][1]["program"], "oss") << all.describe();
}

TEST_F(shell_e2e, compliance_cases_open_list_cure) {
  auto org = "paid-" + random_suffix();
  auto sub = register_subscription(org);
  ASSERT_FALSE(sub.empty());
  auto opened = tenure("case open " + sub + " seats over the licensed count");
  ASSERT_EQ(opened.code, 0) << opened.describe();
  EXPECT_EQ(opened.doc["state"], "open") << opened.describe();
  EXPECT_EQ(opened.doc["subscription"], sub) << opened.describe();
  EXPECT_TRUE(opened.doc["deadline"].is_string()) << opened.describe();
  auto id = opened.doc.value("id", std::string{});
  ASSERT_FALSE(id.empty()) << opened.describe();

  auto open_cases = tenure("case list");
  ASSERT_EQ(open_cases.code, 0) << open_cases.describe();
  EXPECT_TRUE(has_item(open_cases.doc, "id", id)) << open_cases.describe();

  auto cured = tenure("case cure " + id + " bought more seats");
  ASSERT_EQ(cured.code, 0) << cured.describe();
  EXPECT_EQ(cured.doc["state"], "cured") << cured.describe();

  auto after = tenure("case list");
  ASSERT_EQ(after.code, 0) << after.describe();
  EXPECT_FALSE(has_item(after.doc, "id", id)) << after.describe();
  auto all = tenure("case list --state all");
  EXPECT_TRUE(has_item(all.doc, "id", id)) << all.describe();
  auto shown = tenure("case show " + id);
  EXPECT_EQ(shown.doc["resolution"], "bought more seats") << shown.describe();
}

TEST_F(shell_e2e, support_emergency_find_triage_timers_outbox_and_clock) {
  auto found
    = tenure("emergency find nobody-" + random_suffix() + "@example.org");
  ASSERT_EQ(found.code, 0) << found.describe();
  EXPECT_TRUE(found.doc["items"].is_array()) << found.describe();

  auto routed = tenure("triage startups code_already_used");
  ASSERT_EQ(routed.code, 0) << routed.describe();
  EXPECT_EQ(routed.doc["category"], "code_already_used") << routed.describe();
  EXPECT_FALSE(routed.doc.value("dri", std::string{}).empty())
    << routed.describe();

  // A subscription ending within 400 days has its expiry timer there.
  auto org = "timed-" + random_suffix();
  auto o = tenure("sub register --org " + org + " --email it@" + org
                  + ".example --seats 5 --start 2026-01-01 --end 2027-06-01");
  ASSERT_EQ(o.code, 0) << o.describe();
  auto sub = o.doc.value("id", std::string{});
  auto timers = tenure("timers 400");
  ASSERT_EQ(timers.code, 0) << timers.describe();
  EXPECT_TRUE(has_item(timers.doc, "entity", sub)) << timers.describe();

  auto outbox = tenure("outbox");
  ASSERT_EQ(outbox.code, 0) << outbox.describe();
  for (auto key : {"pending", "delivered", "failed"})
    EXPECT_TRUE(outbox.doc[key].is_number()) << key << outbox.describe();

  auto status = tenure("status");
  ASSERT_EQ(status.code, 0) << status.describe();
  auto before = parse_iso_ms(status.doc["node"]["now"].get<std::string>());
  auto moved = tenure("clock advance 1d");
  ASSERT_EQ(moved.code, 0) << moved.describe();
  ASSERT_TRUE(moved.doc["now"].is_string()) << moved.describe();
  auto after = parse_iso_ms(moved.doc["now"].get<std::string>());
  ASSERT_TRUE(before && after) << moved.describe();
  EXPECT_EQ(*after - *before, 86'400'000) << moved.describe();
}

TEST_F(shell_e2e, exit_codes_scripts_can_trust) {
  // 0: success.
  EXPECT_EQ(tenure("outbox").code, 0);

  // 1: the node refused (not found).
  auto missing = tenure("app show app_01ARZ3NDEKTSV4RRFFQ69G5FAV");
  EXPECT_EQ(missing.code, 1) << missing.describe();
  EXPECT_EQ(missing.doc["error"]["code"], "not_found") << missing.describe();
  EXPECT_EQ(missing.err.rfind("tenure: not_found: ", 0), 0u)
    << missing.describe();

  // 2: usage, detected locally, even with no node to talk to.
  child_process usage{{tenure_bin(), "--node",
                       "127.0.0.1:" + std::to_string(free_port()), "-c",
                       "app frobnicate"}};
  EXPECT_EQ(usage.wait(60s), 2) << usage.err();
  EXPECT_NE(usage.err().find("tenure: usage: app: unknown sub-command"),
            std::string::npos)
    << usage.err();

  // 3: nothing listens there.
  auto port = free_port();
  ASSERT_GT(port, 0);
  child_process down{{tenure_bin(), "--node",
                      "127.0.0.1:" + std::to_string(port), "--token-file",
                      token_file_, "--json", "-c", "status"}};
  EXPECT_EQ(down.wait(60s), 3) << down.err();
  EXPECT_NE(down.err().find("tenure: unreachable: cannot connect"),
            std::string::npos)
    << down.err();
  auto doc = json::parse(down.out(), nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << down.out();
  EXPECT_EQ(doc["error"]["code"], "unreachable");

  // 4: a token the node does not know.
  auto wrong = dir_->path() + "/wrong.token";
  tenure::test::write_file(wrong, std::string(64, 'a') + "\n");
  child_process denied{{tenure_bin(), "--node", shell_, "--token-file", wrong,
                        "--json", "-c", "status"}};
  EXPECT_EQ(denied.wait(60s), 4) << denied.err();
  auto body = json::parse(denied.out(), nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << denied.out();
  EXPECT_EQ(body["error"]["code"], "unauthorized") << denied.out();
  // The token never shows.
  EXPECT_EQ(denied.err().find(std::string(64, 'a')), std::string::npos);
}

TEST_F(shell_e2e, accounts_import_of_1200_lines_shows_progress_then_outreach) {
  // 300 accounts of 4 contacts: 1,200 lines, sent in 3 parts of whole
  // accounts.
  auto tag = random_suffix();
  std::string csv
    = "account_ref,account_name,segment,hosting,stage,contact_name,email,"
      "roles\n";
  for (int a = 0; a < 300; ++a)
    for (int c = 0; c < 4; ++c)
      csv += "e2e-" + tag + "-" + std::to_string(a) + ",Account "
             + std::to_string(a) + ",csm_managed,saas,retention,P"
             + std::to_string(c) + ",p" + std::to_string(c) + "@a"
             + std::to_string(a) + "-" + tag + ".example,"
             + (c == 0 ? "admin" : "owner|maintainer") + "\n";
  auto file = dir_->path() + "/accounts-" + tag + ".csv";
  tenure::test::write_file(file, csv);
  auto imported = tenure("accounts import " + file, false);
  ASSERT_EQ(imported.code, 0) << imported.describe();
  for (auto* line : {"imported 500/1200 lines (125 accounts created, 0 "
                     "updated)\n",
                     "imported 1000/1200 lines (250 accounts created, 0 "
                     "updated)\n",
                     "imported 1200/1200 lines (300 accounts created, 0 "
                     "updated)\n"})
    EXPECT_NE(imported.err.find(line), std::string::npos)
      << line << imported.describe();
  EXPECT_NE(imported.out.find("in 3 parts: 300 accounts created, 0 updated, "
                              "1200 contacts"),
            std::string::npos)
    << imported.describe();
  // Everything is there; a re-run updates the same accounts.
  auto listed = tenure("accounts list --segment csm_managed --limit 1000");
  ASSERT_EQ(listed.code, 0) << listed.describe();
  size_t mine = 0;
  size_t contacts = 0;
  std::string first;
  for (auto& a : listed.doc["items"])
    if (a.value("external_ref", "").rfind("e2e-" + tag + "-", 0) == 0) {
      ++mine;
      contacts += a["contacts"].size();
      if (a.value("external_ref", "") == "e2e-" + tag + "-0")
        first = a.value("id", "");
    }
  EXPECT_EQ(mine, 300u);
  EXPECT_EQ(contacts, 1200u);
  auto again = tenure("accounts import " + file);
  ASSERT_EQ(again.code, 0) << again.describe();
  EXPECT_EQ(again.doc["accounts_created"], 0) << again.describe();
  EXPECT_EQ(again.doc["accounts_updated"], 300) << again.describe();
  // A bad line stops the import at its part and names the file's line.
  auto lines = csv;
  auto at = lines.find("e2e-" + tag + "-200,");
  lines.replace(lines.find("csm_managed", at), 11, "huge");
  auto bad = dir_->path() + "/bad-" + tag + ".csv";
  tenure::test::write_file(bad, lines);
  auto refused = tenure("accounts import " + bad, false);
  EXPECT_EQ(refused.code, 1) << refused.describe();
  EXPECT_NE(refused.err.find("part 2 of 3 (file lines 502-1001) refused: line "
                             "802: segment: "),
            std::string::npos)
    << refused.describe();
  EXPECT_NE(refused.err.find("imported before it: 500/1200 lines"),
            std::string::npos)
    << refused.describe();

  // A program from a file, explained for one account, launched, stopped.
  auto program = dir_->path() + "/program-" + tag + ".json";
  tenure::test::write_file(
    program,
    json{{"name", "Tips " + tag},
         {"kind", "series"},
         {"stage", "retention"},
         {"segments", {"csm_managed"}},
         {"steps",
          {{{"subject", "Hello {{account}}"}, {"body", "Hi {{name}}"}},
           {{"subject", "Again"}, {"body", "Hi again"}, {"delay", "30d"}}}}}
      .dump());
  auto made = tenure("outreach create " + program);
  ASSERT_EQ(made.code, 0) << made.describe();
  auto prg = made.doc.value("id", "");
  EXPECT_EQ(made.doc.value("state", ""), "draft");
  auto why = tenure("outreach explain " + first + " " + prg, false);
  ASSERT_EQ(why.code, 0) << why.describe();
  EXPECT_NE(why.out.find("P0 (p***@a0-" + tag
                         + ".example): Admin contact: "
                           "receives it"),
            std::string::npos)
    << why.describe();
  EXPECT_NE(why.out.find("in the audience: 4 recipients"), std::string::npos)
    << why.describe();
  auto launched = tenure("outreach launch " + prg);
  ASSERT_EQ(launched.code, 0) << launched.describe();
  EXPECT_EQ(launched.doc.value("state", ""), "running");
  auto stopped = tenure("outreach stop " + prg);
  ASSERT_EQ(stopped.code, 0) << stopped.describe();
  EXPECT_EQ(stopped.doc.value("state", ""), "stopped");
  EXPECT_EQ(tenure("outreach stop " + prg).code, 1);
  auto shown = tenure("outreach show " + prg, false);
  ASSERT_EQ(shown.code, 0) << shown.describe();
  EXPECT_NE(shown.out.find("state:"), std::string::npos);
  auto progs = tenure("outreach list --limit 500");
  ASSERT_EQ(progs.code, 0) << progs.describe();
  EXPECT_NE(progs.out.find(prg), std::string::npos);
  EXPECT_EQ(tenure("outreach responses " + prg).code, 0);
}
