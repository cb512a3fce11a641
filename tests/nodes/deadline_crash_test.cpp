// Deadlines under crashes (issue 7), with a real tenured on the manual clock:
// SIGKILLs placed just before, at and just after a 14-day grace deadline and
// a 30-day cure deadline. Every timer fires, none early, none applied twice,
// and a timer overdue when the node restarts fires within 5 s of it being
// ready. The manual clock resumes across restarts from DATA/clock.json; a
// test that moves it while the node is down edits that file, as time passing
// while a node is down would.

#include <csignal>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/e2e_tools.hpp"
#include "tests/support/http_reply.hpp"

using nlohmann::json;
using namespace std::chrono_literals;
using tenure::test::day_ms;
using tenure::test::iso_ms;
using tenure::test::parse_iso_ms;
using tenure::test::random_hex;
using tenure::test::temp_dir;
using tenure::test::tenured_node;

namespace {

struct reply : tenure::test::http_reply {
  std::string describe() const {
    return "HTTP " + std::to_string(status) + " " + text.substr(0, 400);
  }
};

class deadline_crash : public ::testing::Test {
protected:
  void SetUp() override {
    data_ = dir_.path() + "/data";
    std::filesystem::create_directories(data_);
    token_ = random_hex(32);
    json keys{{"keys",
               {{{"name", "deadline-admin"},
                 {"token_sha256", tenure::test::sha256_hex(token_)},
                 {"scopes", {"admin"}}}}}};
    tenure::test::write_file(data_ + "/keys.json", keys.dump(2));
    ::chmod((data_ + "/keys.json").c_str(), 0600);
    ASSERT_NO_FATAL_FAILURE(start());
  }

  void start() {
    node_.reset();
    node_ = std::make_unique<tenured_node>(
      data_, std::vector<std::string>{"--clock", "manual"});
    ASSERT_GT(node_->port, 0) << node_->proc.err();
    ready_ = std::chrono::steady_clock::now();
  }

  void kill_and_restart() {
    node_->proc.signal(SIGKILL);
    ASSERT_TRUE(node_->proc.wait(30s));
    ASSERT_NO_FATAL_FAILURE(start());
  }

  reply get(const std::string& target) {
    httplib::Client cli{"127.0.0.1", node_->port};
    cli.set_read_timeout(30, 0);
    reply r;
    r.take(cli.Get(target.c_str(), {{"Authorization", "Bearer " + token_}}));
    return r;
  }

  reply post(const std::string& target, const json& body) {
    httplib::Client cli{"127.0.0.1", node_->port};
    cli.set_read_timeout(30, 0);
    reply r;
    r.take(cli.Post(target.c_str(), {{"Authorization", "Bearer " + token_}},
                    body.dump(), "application/json"));
    return r;
  }

  int64_t now() {
    auto r = get("/v1/node");
    auto text = r.body.contains("node") ? r.body["node"].value("now", "")
                                        : r.body.value("now", "");
    auto t = parse_iso_ms(text);
    EXPECT_TRUE(t) << r.describe();
    return t.value_or(0);
  }

  void set_clock(int64_t t) {
    auto r = post("/v1/admin/clock", json{{"set", iso_ms(t)}});
    ASSERT_EQ(r.status, 200) << r.describe();
  }

  std::string register_sub(int64_t start, int64_t end) {
    auto org = "deadline-" + random_hex(4);
    auto r = post("/v1/subscriptions",
                  json{{"organisation",
                        {{"name", org},
                         {"country", "US"},
                         {"website", "https://" + org + ".example.com"}}},
                       {"plan", "paid"},
                       {"seats", 10},
                       {"start", iso_ms(start)},
                       {"end", iso_ms(end)},
                       {"contact_email", "admin@" + org + ".example.com"},
                       {"sku", "self-managed-ultimate"},
                       {"hosting", "self_managed"}});
    EXPECT_EQ(r.status, 201) << r.describe();
    return r.body.value("id", "");
  }

  /// The subscription's state and how often `event` is in its history.
  std::pair<std::string, int> sub(const std::string& id,
                                  const std::string& event) {
    auto r = get("/v1/subscriptions/" + id + "?history=true");
    EXPECT_EQ(r.status, 200) << r.describe();
    int n = 0;
    for (auto& h : r.body.value("history", json::array()))
      n += h.value("type", "") == event ? 1 : 0;
    return {r.body.value("state", ""), n};
  }

  /// Whether a timer of `kind` for `entity` is pending.
  bool pending(const std::string& entity, const std::string& kind) {
    auto r = get("/v1/timers?within=400d&limit=1000");
    EXPECT_EQ(r.status, 200) << r.describe();
    for (auto& t : r.body.value("items", json::array()))
      if (t.value("entity", "") == entity && t.value("kind", "") == kind)
        return true;
    return false;
  }

  /// Stops the node and moves its manual clock to `t` while it is down.
  void down_until(int64_t t) {
    node_->proc.signal(SIGKILL);
    ASSERT_TRUE(node_->proc.wait(30s));
    auto path = data_ + "/clock.json";
    auto st = json::parse(tenure::test::read_file(path));
    st["domain_ms"] = t;
    tenure::test::write_file(path, st.dump());
    ASSERT_NO_FATAL_FAILURE(start());
  }

  /// Kills before, at and after `deadline`; `fired` tells whether the
  /// subscription's deadline effect happened, and how often.
  template <class Fired>
  void around(int64_t deadline, const std::string& entity,
              const std::string& kind, Fired fired) {
    // Just before: a kill and a restart do not fire it early.
    ASSERT_NO_FATAL_FAILURE(set_clock(deadline - 1000));
    ASSERT_NO_FATAL_FAILURE(kill_and_restart());
    EXPECT_EQ(now(), deadline - 1000) << "the manual clock did not resume";
    EXPECT_EQ(fired(), 0) << kind << " fired early";
    EXPECT_TRUE(pending(entity, kind)) << kind << " timer lost in the crash";
    // The deadline passes while the node is down: the overdue timer fires
    // within 5 s of the node being ready.
    ASSERT_NO_FATAL_FAILURE(down_until(deadline + 1000));
    bool on_time = tenure::test::eventually([&] { return fired() == 1; }, 5s);
    auto took = std::chrono::steady_clock::now() - ready_;
    EXPECT_TRUE(on_time) << kind << " overdue at restart did not fire in 5 s";
    EXPECT_LT(took, 5s);
    // A kill at the moment it fired and one after: applied once.
    ASSERT_NO_FATAL_FAILURE(kill_and_restart());
    ASSERT_NO_FATAL_FAILURE(set_clock(deadline + 2000));
    ASSERT_NO_FATAL_FAILURE(kill_and_restart());
    EXPECT_TRUE(
      tenure::test::eventually([&] { return !pending(entity, kind); }, 5s));
    EXPECT_EQ(fired(), 1) << kind << " applied twice";
  }

  temp_dir dir_{"tenure-deadline-crash"};
  std::string data_;
  std::string token_;
  std::unique_ptr<tenured_node> node_;
  std::chrono::steady_clock::time_point ready_;
};

TEST_F(deadline_crash, grace_deadline_fires_once_across_kills) {
  auto t0 = now();
  auto end = t0 + 2 * day_ms;
  auto id = register_sub(end - 365 * day_ms, end);
  ASSERT_FALSE(id.empty());
  // The expiry at the end, with a kill at that moment.
  ASSERT_NO_FATAL_FAILURE(set_clock(end));
  ASSERT_NO_FATAL_FAILURE(kill_and_restart());
  EXPECT_TRUE(tenure::test::eventually(
    [&] { return sub(id, "sub_expired").second == 1; }, 5s));
  EXPECT_EQ(sub(id, "sub_expired").first, "expired");
  // 14 days of grace.
  around(end + 14 * day_ms, id, "grace_end",
         [&] { return sub(id, "sub_lapsed").second; });
  EXPECT_EQ(sub(id, "sub_lapsed").first, "lapsed");
  EXPECT_EQ(sub(id, "sub_expired").second, 1);
}

TEST_F(deadline_crash, cure_deadline_fires_once_across_kills) {
  auto t0 = now();
  auto id = register_sub(t0 - 10 * day_ms, t0 + 300 * day_ms);
  ASSERT_FALSE(id.empty());
  auto cs = post("/v1/subscriptions/" + id + "/compliance-cases",
                 json{{"reason", "commercial use"}});
  ASSERT_EQ(cs.status, 201) << cs.describe();
  auto deadline = parse_iso_ms(cs.body.value("deadline", ""));
  ASSERT_TRUE(deadline) << cs.describe();
  EXPECT_EQ(*deadline, t0 + 30 * day_ms);
  around(*deadline, id, "cure_deadline",
         [&] { return sub(id, "sub_terminated").second; });
  EXPECT_EQ(sub(id, "sub_terminated").first, "terminated");
  auto c = get("/v1/compliance-cases/" + cs.body.value("id", ""));
  ASSERT_EQ(c.status, 200) << c.describe();
  EXPECT_NE(c.body.value("state", ""), "open") << c.describe();
}

} // namespace
