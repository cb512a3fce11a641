// The operator dashboard against real tenured processes on loopback (issue
// 8): GET /v1/dashboard's numbers equal what the listings of the API say
// (applications, coupon stock, timers, compliance cases, emergency
// licenses), its windows follow the domain clock, the page's static files
// are served with their headers and without a token, and in a cluster the
// dashboard merges every member's part and names the members that are down.

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>


#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/applications.hpp"
#include "tests/support/api_client.hpp"
#include "tests/support/e2e_tools.hpp"
#include "tests/support/http_reply.hpp"
#include "tests/support/process.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using tenure::test::application_body;
using tenure::test::day_ms;
using tenure::test::edu_saas;
using tenure::test::eventually;
using tenure::test::iso_ms;
using tenure::test::parse_iso_ms;
using tenure::test::random_hex;
using tenure::test::redacted;
using tenure::test::startups_saas;
using tenure::test::temp_dir;
using tenure::test::tenured_node;

namespace {

using client = tenure::test::api_client;
using reply = tenure::test::api_reply;

std::string unique(const std::string& prefix) {
  return prefix + "-" + random_hex(5);
}

/// Unix ms of the UTC midnight at or before `ms`.
int64_t midnight(int64_t ms) {
  return ms / day_ms * day_ms;
}

class dashboard_e2e : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = std::make_unique<temp_dir>("tenure-dash-e2e");
    data_ = dir_->path() + "/data";
    std::filesystem::create_directories(data_);
    admin_token_ = random_hex(32);
    reader_token_ = random_hex(32);
    billing_token_ = random_hex(32);
    tenure::test::write_keys(data_,
                             {{"e2e-admin", admin_token_, {"admin"}},
                              {"e2e-reader", reader_token_, {"read"}},
                              {"e2e-billing", billing_token_, {"billing"}}});
    node_ = std::make_unique<tenured_node>(
      data_, std::vector<std::string>{"--clock", "manual"});
    ASSERT_TRUE(node_->line) << node_->proc.err();
    ASSERT_GT(node_->port, 0) << *node_->line;
    admin_ = std::make_unique<client>(node_->port, admin_token_);
    reader_ = std::make_unique<client>(node_->port, reader_token_);
  }

  void TearDown() override {
    if (node_) {
      auto code = node_->stop();
      EXPECT_EQ(code.value_or(-1), 0) << "tenured did not stop cleanly";
    }
  }

  void node_now(int64_t& out) {
    auto r = admin_->get("/v1/node");
    ASSERT_EQ(r.status, 200) << r.describe();
    auto t = parse_iso_ms(r.body["node"].value("now", ""));
    ASSERT_TRUE(t) << r.describe();
    out = *t;
  }

  void advance(const std::string& by) {
    auto r = admin_->post("/v1/admin/clock", json{{"advance", by}});
    ASSERT_EQ(r.status, 200) << r.describe();
  }

  void import_codes(const std::string& program, int n) {
    std::string csv;
    for (int i = 0; i < n; ++i)
      csv += "DASH-" + random_hex(8) + "\n";
    auto r
      = admin_->post_raw("/v1/coupons/" + program + "/import", csv, "text/csv");
    ASSERT_EQ(r.status, 200) << r.describe();
  }

  void submit(const tenure::test::offering& o, std::string& id) {
    auto org = unique(o.program + "-org");
    auto r = admin_->post(
      "/v1/applications",
      application_body(o, unique("m") + "@" + org + ".example.org", org));
    ASSERT_EQ(r.status, 201) << r.describe();
    id = r.body.value("id", "");
  }

  /// A startups application approved in review, booked with a code.
  void book_startup(std::string& id) {
    ASSERT_NO_FATAL_FAILURE(submit(startups_saas, id));
    auto r = admin_->post("/v1/reviews/" + id,
                          json{{"decision", "approve"}, {"reason", "ok"}});
    ASSERT_EQ(r.status, 200) << r.describe();
    reply last;
    ASSERT_TRUE(eventually([&] {
      last = admin_->get("/v1/applications/" + id);
      return last.body.value("state", "") == "booked";
    }))
      << last.describe();
  }

  void paid_subscription(int64_t start, int64_t end, std::string& id) {
    auto org = unique("paid-org");
    auto r
      = admin_->post("/v1/subscriptions",
                     json{{"organisation",
                           {{"name", org},
                            {"country", "US"},
                            {"website", "https://" + org + ".example.com"}}},
                          {"plan", "paid"},
                          {"seats", 50},
                          {"start", iso_ms(start)},
                          {"end", iso_ms(end)},
                          {"contact_email", "admin@" + org + ".example.com"},
                          {"sku", "self-managed-ultimate"},
                          {"hosting", "self_managed"}});
    ASSERT_EQ(r.status, 201) << r.describe();
    id = r.body.value("id", "");
  }

  /// Every application, through the paged listing.
  void all_applications(std::vector<json>& out) {
    std::string cursor;
    for (;;) {
      auto r = admin_->get("/v1/applications?limit=500"
                           + (cursor.empty() ? "" : "&cursor=" + cursor));
      ASSERT_EQ(r.status, 200) << r.describe();
      for (auto& a : r.body["items"])
        out.push_back(a);
      if (!r.body["next_cursor"].is_string())
        return;
      cursor = r.body["next_cursor"].get<std::string>();
    }
  }

  std::unique_ptr<temp_dir> dir_;
  std::string data_;
  std::string admin_token_;
  std::string reader_token_;
  std::string billing_token_;
  std::unique_ptr<tenured_node> node_;
  std::unique_ptr<client> admin_;
  std::unique_ptr<client> reader_;
};

} // namespace

TEST_F(dashboard_e2e, numbers_equal_the_listings_of_the_api) {
  ASSERT_NO_FATAL_FAILURE(import_codes("startups", 3));
  ASSERT_NO_FATAL_FAILURE(import_codes("edu", 2));
  std::string booked;
  std::string in_review;
  std::string verifying;
  ASSERT_NO_FATAL_FAILURE(book_startup(booked));
  ASSERT_NO_FATAL_FAILURE(submit(startups_saas, in_review));
  ASSERT_NO_FATAL_FAILURE(submit(edu_saas, verifying));
  int64_t now = 0;
  ASSERT_NO_FATAL_FAILURE(node_now(now));
  // A case in its cure period, and an emergency license after a grace
  // period that ended yesterday.
  std::string sub;
  std::string ended;
  ASSERT_NO_FATAL_FAILURE(
    paid_subscription(now - day_ms, now + 365 * day_ms, sub));
  ASSERT_NO_FATAL_FAILURE(
    paid_subscription(now - 380 * day_ms, now - 15 * day_ms, ended));
  auto cs = admin_->post("/v1/subscriptions/" + sub + "/compliance-cases",
                         json{{"reason", "shared seats"}, {"curable", true}});
  ASSERT_EQ(cs.status, 201) << cs.describe();
  auto em = admin_->post("/v1/emergency-licenses",
                         json{{"subscription_id", ended},
                              {"users", 12},
                              {"recipient_email", "oncall@example.com"},
                              {"ticket_url", "https://support.example/1"}});
  ASSERT_EQ(em.status, 201) << em.describe();
  // What came due (the emails' deliveries, the verification's start) has
  // fired once the clock answers: nothing changes between the requests
  // compared below.
  ASSERT_NO_FATAL_FAILURE(advance("1s"));
  ASSERT_NO_FATAL_FAILURE(node_now(now));

  auto d = reader_->get("/v1/dashboard");
  ASSERT_EQ(d.status, 200) << d.describe();
  EXPECT_EQ(d.header("Cache-Control"), "no-store");
  auto& b = d.body;
  EXPECT_EQ(parse_iso_ms(b.value("now", "")), now) << d.describe();
  EXPECT_EQ(b["days"], 30);
  EXPECT_EQ(b["unavailable"], json::array());
  EXPECT_EQ(b["limits"]["truncated"], json::array());

  // Applications: counts by program and state as the listing has them.
  std::vector<json> apps;
  ASSERT_NO_FATAL_FAILURE(all_applications(apps));
  ASSERT_EQ(apps.size(), 3u);
  EXPECT_EQ(b["applications"]["total"], apps.size());
  std::map<std::string, std::map<std::string, int>> states;
  std::map<std::string, std::map<std::string, int>> stages;
  for (auto& a : apps) {
    ++states[a["program"]][a["state"]];
    ++stages[a["program"]][a["stage"]];
  }
  for (auto& p : {"edu", "oss", "startups"}) {
    auto& pr = b["applications"]["programs"][p];
    int total = 0;
    for (auto& [state, n] : pr["by_state"].items()) {
      EXPECT_EQ(n.get<int>(), states[p][state]) << p << " " << state;
      total += n.get<int>();
    }
    for (auto& [stage, n] : pr["by_stage"].items())
      EXPECT_EQ(n.get<int>(), stages[p][stage]) << p << " " << stage;
    EXPECT_EQ(pr["total"], total) << p;
  }
  EXPECT_EQ(b["applications"]["programs"]["startups"]["by_state"]["booked"], 1);
  auto& by_day = b["applications"]["by_day"];
  ASSERT_EQ(by_day.size(), 30u);
  EXPECT_EQ(by_day[29]["date"], iso_ms(midnight(now)).substr(0, 10));
  EXPECT_EQ(by_day[29]["startups"], 2);
  EXPECT_EQ(by_day[29]["edu"], 1);

  // Coupons: the pools' own stock; one booking today.
  for (auto& c : b["coupons"]) {
    auto p = c.value("program", "");
    auto s = reader_->get("/v1/coupons/" + p + "/stock");
    ASSERT_EQ(s.status, 200) << s.describe();
    for (auto* n : {"available", "reserved", "redeemed"})
      EXPECT_EQ(c[n], s.body[n]) << p << " " << n;
  }
  ASSERT_EQ(b["coupons"].size(), 3u);
  auto& startups = b["coupons"][2];
  EXPECT_EQ(startups["program"], "startups");
  EXPECT_EQ(startups["bookings_30d"], 1);
  EXPECT_EQ(startups["available"], 2);
  EXPECT_DOUBLE_EQ(startups["runway_days"].get<double>(), 60.0);
  EXPECT_TRUE(b["coupons"][0]["runway_days"].is_null()) << "edu: no bookings";

  // Timers: the same as /v1/timers up to the end of the 30th day.
  auto until = midnight(now) + 30 * day_ms;
  auto t = reader_->get(
    "/v1/timers?limit=10000&within=" + std::to_string(until - now) + "ms");
  ASSERT_EQ(t.status, 200) << t.describe();
  std::map<std::string, int> kinds;
  for (auto& x : t.body["items"])
    ++kinds[x["kind"]];
  EXPECT_EQ(b["timers"]["total"], t.body["items"].size()) << t.describe();
  for (auto& [k, n] : kinds)
    EXPECT_EQ(b["timers"]["by_kind"].value(k, 0), n) << k;
  // The review of the startup in review is due within five business days
  // (the cure deadline, 30 days on, falls after the window).
  EXPECT_GE(kinds["review_due"], 1);

  // Compliance cases: the open ones with their deadlines.
  auto open = admin_->get("/v1/compliance-cases?state=open");
  ASSERT_EQ(open.status, 200) << open.describe();
  ASSERT_EQ(b["compliance_cases"]["open"], open.body["items"].size());
  ASSERT_EQ(b["compliance_cases"]["items"].size(), 1u);
  auto& item = b["compliance_cases"]["items"][0];
  EXPECT_EQ(item["id"], open.body["items"][0]["id"]);
  EXPECT_EQ(parse_iso_ms(item.value("deadline", "")),
            parse_iso_ms(open.body["items"][0].value("deadline", "")));
  EXPECT_NEAR(item["days_left"].get<double>(), 30.0, 0.05);
  EXPECT_FALSE(item.contains("reason"));

  // Emergency licenses: the one issued, without its recipient or key.
  EXPECT_EQ(b["emergency_licenses"]["count"], 1);
  EXPECT_EQ(b["emergency_licenses"]["users"], 12);
  ASSERT_EQ(b["emergency_licenses"]["items"].size(), 1u);
  EXPECT_EQ(b["emergency_licenses"]["items"][0]["id"], em.body["id"]);
  EXPECT_EQ(d.text.find("oncall@"), std::string::npos);

  // No outreach programs yet.
  EXPECT_TRUE(b["outreach"]["programs"].is_array());

  // The windows move with the domain clock: eight days on, the license is
  // out of the last seven days and the case has 22 days left.
  ASSERT_NO_FATAL_FAILURE(advance("8d"));
  auto later = reader_->get("/v1/dashboard?days=7");
  ASSERT_EQ(later.status, 200) << later.describe();
  EXPECT_EQ(later.body["emergency_licenses"]["count"], 0);
  EXPECT_EQ(later.body["applications"]["by_day"].size(), 7u);
  EXPECT_EQ(later.body["applications"]["total"], 3);
  auto& late_item = later.body["compliance_cases"]["items"][0];
  EXPECT_NEAR(late_item["days_left"].get<double>(), 22.0, 0.05);
}

TEST_F(dashboard_e2e, refuses_bad_tokens_and_bad_days) {
  client anonymous{node_->port, ""};
  EXPECT_EQ(anonymous.get("/v1/dashboard").status, 401);
  client billing{node_->port, billing_token_};
  auto r = billing.get("/v1/dashboard");
  EXPECT_EQ(r.status, 403) << r.describe();
  for (auto* bad : {"0", "366", "x", "-1", ""}) {
    auto q = reader_->get(std::string{"/v1/dashboard?days="} + bad);
    EXPECT_EQ(q.status, 422) << bad << ": " << q.describe();
    EXPECT_EQ(q.error_code(), "invalid_argument") << q.describe();
  }
  EXPECT_EQ(reader_->get("/v1/dashboard?days=365").status, 200);
}

TEST_F(dashboard_e2e, serves_the_page_without_a_token) {
  client anonymous{node_->port, ""};
  struct file {
    const char* path;
    const char* type;
    const char* contains;
  };
  for (auto f : {file{"/", "text/html", "dashboard.js"},
                 file{"/dashboard.js", "text/javascript", "/v1/dashboard"},
                 file{"/dashboard.css", "text/css", "--edu"}}) {
    SCOPED_TRACE(f.path);
    auto r = anonymous.get(f.path);
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(r.header("Content-Type").rfind(f.type, 0), 0u)
      << r.header("Content-Type");
    EXPECT_NE(r.text.find(f.contains), std::string::npos);
    auto csp = r.header("Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r.header("Cache-Control"), "no-cache");
    auto etag = r.header("ETag");
    ASSERT_FALSE(etag.empty());
    auto again = anonymous.get(f.path, {{"If-None-Match", etag}});
    EXPECT_EQ(again.status, 304);
    EXPECT_TRUE(again.text.empty());
  }
  // Nothing else is served as a file; the page holds no token.
  EXPECT_EQ(anonymous.get("/index.html").status, 404);
  EXPECT_EQ(anonymous.get("/../keys.json").status, 404);
  auto page = anonymous.get("/");
  EXPECT_EQ(page.text.find(admin_token_), std::string::npos);
}

// -- a cluster
// ------------------------------------------------------------------

TEST(dashboard_cluster_e2e, merges_every_member_and_names_the_ones_down) {
  temp_dir dir{"tenure-dash-cluster"};
  tenure::test::cluster_files files{dir.path(), {"n1", "n2"}};
  std::vector<std::unique_ptr<tenured_node>> nodes;
  for (size_t i = 0; i < 2; ++i) {
    auto flags = files.node_flags(i);
    flags.push_back("--clock");
    flags.push_back("manual");
    nodes.push_back(std::make_unique<tenured_node>(
      dir.path() + "/" + files.names[i], flags, files.config));
    ASSERT_GT(nodes.back()->port, 0) << nodes.back()->proc.err();
  }
  client c1{nodes[0]->port, files.admin_token};
  client c2{nodes[1]->port, files.admin_token};
  reply last;
  ASSERT_TRUE(eventually(
    [&] {
      last = c1.get("/v1/cluster");
      if (last.status != 200)
        return false;
      for (auto& m : last.body["members"])
        if (m.value("reachable", false) != true)
          return false;
      return true;
    },
    60s))
    << last.describe();
  // Applications are born on their organisation's owner: some on each
  // member, most likely; the dashboard of either member counts them all.
  const int n = 8;
  for (int i = 0; i < n; ++i) {
    auto org = unique("org");
    auto r = (i % 2 ? c2 : c1)
               .post("/v1/applications",
                     application_body(startups_saas,
                                      unique("m") + "@" + org + ".example.org",
                                      org));
    ASSERT_EQ(r.status, 201) << r.describe();
  }
  int seen_total = 0;
  for (auto* c : {&c1, &c2}) {
    auto d = c->get("/v1/dashboard");
    ASSERT_EQ(d.status, 200) << d.describe();
    EXPECT_EQ(d.body["applications"]["total"], n) << d.describe();
    EXPECT_EQ(
      d.body["applications"]["programs"]["startups"]["by_state"]["in_review"],
      n);
    EXPECT_EQ(d.body["unavailable"], json::array());
    // Each pool reported once, by its owner.
    EXPECT_EQ(d.body["coupons"].size(), 3u) << d.describe();
    seen_total = d.body["applications"]["total"].get<int>();
  }
  EXPECT_EQ(seen_total, n);
  // Outreach lives with the desk on the owner of `outreach`: accounts and a
  // program made through either member are seen through both, and both
  // dashboards list the program once.
  for (int i = 0; i < 2; ++i) {
    auto r
      = (i ? c2 : c1)
          .post("/v1/accounts",
                json{{"name", "Account " + std::to_string(i)},
                     {"segment", "scale"},
                     {"hosting", "saas"},
                     {"contacts",
                      {{{"name", "Ann"},
                        {"email", "ann" + std::to_string(i) + "@x.example"},
                        {"roles", {"admin"}}}}}});
    ASSERT_EQ(r.status, 201) << r.describe();
  }
  auto prg = c2.post(
    "/v1/outreach/programs",
    json{{"name", "Cluster welcome"},
         {"kind", "email"},
         {"stage", "onboarding"},
         {"steps", {{{"subject", "Hi"}, {"body", "Hello {{name}}"}}}}});
  ASSERT_EQ(prg.status, 201) << prg.describe();
  for (auto* c : {&c1, &c2}) {
    auto accts = c->get("/v1/accounts");
    ASSERT_EQ(accts.status, 200) << accts.describe();
    EXPECT_EQ(accts.body["items"].size(), 2u) << accts.describe();
    auto d = c->get("/v1/dashboard");
    ASSERT_EQ(d.status, 200) << d.describe();
    auto& progs = d.body["outreach"]["programs"];
    ASSERT_EQ(progs.size(), 1u) << d.describe();
    EXPECT_EQ(progs[0].value("id", ""), prg.body.value("id", ""));
  }
  // The second member stops: the first answers with its own part and says
  // which member is missing.
  ASSERT_EQ(nodes[1]->stop().value_or(-1), 0);
  nodes[1].reset();
  reply d;
  ASSERT_TRUE(eventually([&] {
    d = c1.get("/v1/dashboard");
    return d.status == 200 && d.body["unavailable"] == json::array({"n2"});
  }))
    << d.describe();
  EXPECT_LE(d.body["applications"]["total"].get<int>(), n);
  EXPECT_LE(d.body["coupons"].size(), 3u);
  EXPECT_EQ(nodes[0]->stop().value_or(-1), 0);
}
