// Idempotency under contention and after crashes, against a real tenured
// (issue 7): 1,000 concurrent retries of one POST with one key give exactly
// one effect and one answer; the same key with another body is refused; and
// a request whose first attempt stopped between its effect and its answer
// finds what it created instead of creating it again.

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "storage/store.hpp"
#include "tests/support/applications.hpp"
#include "tests/support/e2e_tools.hpp"
#include "tests/support/http_reply.hpp"

using nlohmann::json;
using tenure::test::application_body;
using tenure::test::edu_saas;
using tenure::test::random_hex;
using tenure::test::sha256_hex;
using tenure::test::temp_dir;
using tenure::test::tenured_node;

namespace {

struct reply : tenure::test::http_reply {
  std::string describe() const {
    return "HTTP " + std::to_string(status) + " " + text.substr(0, 300);
  }
};

/// Posts `body` with `key` on its own connection.
reply post(httplib::Client& cli, const std::string& token,
           const std::string& target, const std::string& body,
           const std::string& key) {
  httplib::Headers h{{"Authorization", "Bearer " + token}};
  if (!key.empty())
    h.emplace("Idempotency-Key", key);
  reply out;
  auto r = cli.Post(target.c_str(), h, body, "application/json");
  if (!out.take(r))
    out.text = "no answer: " + httplib::to_string(r.error());
  return out;
}

reply get(int port, const std::string& token, const std::string& target) {
  httplib::Client cli{"127.0.0.1", port};
  cli.set_read_timeout(30, 0);
  reply out;
  out.take(cli.Get(target.c_str(),
                   httplib::Headers{{"Authorization", "Bearer " + token}}));
  return out;
}

class idempotency_e2e : public ::testing::Test {
protected:
  void SetUp() override {
    data_ = dir_.path() + "/data";
    std::filesystem::create_directories(data_);
    token_ = random_hex(32);
    json keys{{"keys",
               {{{"name", "idem-admin"},
                 {"token_sha256", sha256_hex(token_)},
                 {"scopes", {"admin"}}}}}};
    tenure::test::write_file(data_ + "/keys.json", keys.dump(2));
    ::chmod((data_ + "/keys.json").c_str(), 0600);
    start();
  }

  void start() {
    node_ = std::make_unique<tenured_node>(data_);
    ASSERT_GT(node_->port, 0) << node_->proc.err();
  }

  /// Applications the node lists for `email`.
  size_t applications_of(const std::string& email) {
    auto list = get(node_->port, token_, "/v1/applications?email=" + email);
    EXPECT_EQ(list.status, 200) << list.describe();
    return list.body["items"].is_array() ? list.body["items"].size() : 0;
  }

  /// Fires `n` POSTs of `body` with `key` from `threads` connections at
  /// once (plus `others` with another body and the same key), and returns
  /// the answers to `body`.
  std::vector<reply> storm(const std::string& target, const std::string& body,
                           const std::string& other, const std::string& key,
                           int threads, int n, int others,
                           std::vector<reply>& other_replies) {
    std::vector<reply> replies(static_cast<size_t>(n));
    other_replies.assign(static_cast<size_t>(others), reply{});
    std::atomic<int> next{0};
    std::atomic<int> next_other{0};
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&] {
        httplib::Client cli{"127.0.0.1", node_->port};
        cli.set_read_timeout(90, 0);
        cli.set_keep_alive(true);
        // Headers and body go out in two writes: without this, Nagle holds
        // the body for the delayed ACK (40 ms a request).
        cli.set_tcp_nodelay(true);
        ++ready;
        while (!go.load())
          std::this_thread::yield();
        for (;;) {
          int o = next_other.fetch_add(1);
          if (o < others)
            other_replies[static_cast<size_t>(o)]
              = post(cli, token_, target, other, key);
          int i = next.fetch_add(1);
          if (i >= n)
            break;
          replies[static_cast<size_t>(i)]
            = post(cli, token_, target, body, key);
        }
      });
    while (ready.load() < threads)
      std::this_thread::yield();
    go = true;
    for (auto& t : ts)
      t.join();
    return replies;
  }

  temp_dir dir_{"tenure-idem-e2e"};
  std::string data_;
  std::string token_;
  std::unique_ptr<tenured_node> node_;
};

TEST_F(idempotency_e2e, a_thousand_concurrent_retries_give_one_application) {
  auto email = "storm-" + random_hex(4) + "@edu.example.org";
  auto body = application_body(edu_saas, email, "Storm University").dump();
  auto other_json = application_body(edu_saas, email, "Storm University");
  other_json["applicant"]["name"] = "Someone Else";
  auto other = other_json.dump();
  auto key = "storm-" + random_hex(8);
  std::vector<reply> mismatched;
  auto replies
    = storm("/v1/applications", body, other, key, 64, 1000, 50, mismatched);
  // One effect: whichever body came first (both name the same applicant).
  EXPECT_EQ(applications_of(email), 1u);
  bool other_won = std::any_of(mismatched.begin(), mismatched.end(),
                               [](auto& r) { return r.status == 201; });
  auto& winners = other_won ? mismatched : replies;
  auto& losers = other_won ? replies : mismatched;
  // One answer, byte for byte, given once fresh and as a replay to every
  // other request with the same body.
  ASSERT_EQ(winners.front().status, 201) << winners.front().describe();
  auto id = winners.front().body.value("id", std::string{});
  EXPECT_EQ(id.rfind("app_", 0), 0u) << winners.front().describe();
  int fresh = 0;
  for (auto& r : winners) {
    ASSERT_EQ(r.status, 201) << r.describe();
    ASSERT_EQ(r.text, winners.front().text);
    if (r.header("Idempotent-Replayed") != "true")
      ++fresh;
  }
  EXPECT_EQ(fresh, 1);
  // The same key with the other body, during the storm and after it.
  for (auto& r : losers) {
    ASSERT_EQ(r.status, 422) << r.describe();
    ASSERT_EQ(r.error_code(), "idempotency_mismatch") << r.describe();
  }
  httplib::Client cli{"127.0.0.1", node_->port};
  auto late
    = post(cli, token_, "/v1/applications", other_won ? body : other, key);
  EXPECT_EQ(late.status, 422) << late.describe();
  EXPECT_EQ(late.error_code(), "idempotency_mismatch") << late.describe();
  EXPECT_EQ(applications_of(email), 1u);
}

TEST_F(idempotency_e2e, concurrent_registrations_give_one_subscription) {
  json sub{{"organisation",
            {{"name", "Storm Corp"},
             {"country", "US"},
             {"website", "https://storm.example.com"}}},
           {"plan", "paid"},
           {"seats", 50},
           {"start", "2026-11-01T00:00:00Z"},
           {"end", "2027-11-01T00:00:00Z"},
           {"contact_email", "admin@storm.example.com"},
           {"sku", "self-managed-ultimate"},
           {"hosting", "self_managed"}};
  auto key = "billing-" + random_hex(8);
  std::vector<reply> none;
  auto replies
    = storm("/v1/subscriptions", sub.dump(), {}, key, 32, 300, 0, none);
  ASSERT_EQ(replies.front().status, 201) << replies.front().describe();
  std::string id = replies.front().body.value("id", std::string{});
  for (auto& r : replies) {
    ASSERT_EQ(r.status, 201) << r.describe();
    ASSERT_EQ(r.text, replies.front().text);
  }
  // The node is this test's own: the one subscription it lists is the one.
  auto list = get(node_->port, token_, "/v1/subscriptions");
  ASSERT_EQ(list.status, 200) << list.describe();
  ASSERT_TRUE(list.body["items"].is_array()) << list.describe();
  ASSERT_EQ(list.body["items"].size(), 1u) << list.describe();
  EXPECT_EQ(list.body["items"][0].value("id", std::string{}), id);
}

// A crash between the effect's commit and the kept answer leaves the claim
// the request queued before its effect. Both cases of that window, made by
// editing the stopped node's store: the application was created, or not
// yet.
TEST_F(idempotency_e2e, a_claim_left_by_a_crash_creates_once) {
  auto email = "claim-" + random_hex(4) + "@edu.example.org";
  auto body = application_body(edu_saas, email, "Claim University").dump();
  auto key = "claim-" + random_hex(8);
  httplib::Client cli{"127.0.0.1", node_->port};
  auto first = post(cli, token_, "/v1/applications", body, key);
  ASSERT_EQ(first.status, 201) << first.describe();
  std::string created = first.body.value("id", std::string{});
  // The fingerprint as the API documents it, computed here independently.
  auto fp = sha256_hex("POST /v1/applications\napplication/json\n" + body);
  auto email2 = "claim2-" + random_hex(4) + "@edu.example.org";
  auto body2 = application_body(edu_saas, email2, "Claim College").dump();
  auto key2 = "claim2-" + random_hex(8);
  auto fp2 = sha256_hex("POST /v1/applications\napplication/json\n" + body2);
  std::string claimed = "app_01KB0000000000000000000000";
  ASSERT_EQ(node_->stop(), 0);
  node_.reset();
  {
    tenure::storage::store_options opts;
    opts.path = data_ + "/db";
    auto store = tenure::storage::rocksdb_store::open(opts);
    ASSERT_TRUE(store) << to_string(store.error());
    auto row_key = [](const std::string& k) {
      return "request" + std::string(1, '\0') + "idem-admin"
             + std::string(1, '\0') + k;
    };
    auto kept = (*store)->get(tenure::storage::cf::idempotency, row_key(key));
    ASSERT_TRUE(kept && *kept);
    auto row = json::parse(**kept);
    EXPECT_EQ(row.value("fp", std::string{}), fp);
    EXPECT_EQ(row.value("id", std::string{}), created);
    // What a crash after the effect leaves: the claim, no answer.
    json claim{{"fp", fp}, {"id", created}, {"at", row["at"]}};
    // What a crash before the effect leaves: a claim of an id not created.
    json claim2{{"fp", fp2}, {"id", claimed}, {"at", row["at"]}};
    tenure::storage::batch b;
    b.put(tenure::storage::cf::idempotency, row_key(key), claim.dump());
    b.put(tenure::storage::cf::idempotency, row_key(key2), claim2.dump());
    ASSERT_FALSE((*store)->commit_sync(std::move(b)));
    (*store)->close();
  }
  ASSERT_NO_FATAL_FAILURE(start());
  httplib::Client cli2{"127.0.0.1", node_->port};
  auto retried = post(cli2, token_, "/v1/applications", body, key);
  ASSERT_EQ(retried.status, 201) << retried.describe();
  EXPECT_EQ(retried.body.value("id", std::string{}), created);
  EXPECT_EQ(applications_of(email), 1u);
  auto again = post(cli2, token_, "/v1/applications", body, key);
  EXPECT_EQ(again.text, retried.text);
  EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
  auto second = post(cli2, token_, "/v1/applications", body2, key2);
  ASSERT_EQ(second.status, 201) << second.describe();
  EXPECT_EQ(second.body.value("id", std::string{}), claimed);
  EXPECT_EQ(applications_of(email2), 1u);
}

} // namespace
