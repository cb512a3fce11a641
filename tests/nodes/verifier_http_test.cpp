// The external verifier's HTTP adapter against a local server.

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "messages/errc.hpp"
#include "nodes/verifier_http.hpp"
#include "tests/support/process.hpp"

using namespace tenure;

namespace {

/// A verifier on 127.0.0.1 that answers with `status` and `body` and keeps
/// the last request.
struct fake_server {
  fake_server(int status, std::string body) {
    srv.Post("/api/verifications",
             [this, status, body](const httplib::Request& req,
                                  httplib::Response& res) {
               std::lock_guard<std::mutex> guard{mtx};
               auth = req.get_header_value("Authorization");
               request = req.body;
               res.status = status;
               res.set_content(body, "application/json");
             });
    port = srv.bind_to_any_port("127.0.0.1");
    thread = std::thread{[this] { srv.listen_after_bind(); }};
    // Bound and listening: a request queues until the loop runs.
  }

  ~fake_server() {
    srv.stop();
    thread.join();
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port) + "/api";
  }

  httplib::Server srv;
  int port = 0;
  std::thread thread;
  std::mutex mtx;
  std::string auth;
  std::string request;
};

application an_application() {
  application a;
  a.id = id_generator{3}.next<app_id>(from_unix_ms(1'795'000'000'000));
  a.program = program::edu;
  a.applicant = {"Ada", "ada@uni.example.edu", "Lecturer", "GB"};
  a.organisation = {"uni.example.edu", "University", "GB", ""};
  return a;
}

} // namespace

TEST(http_verifier, creates_a_verification_with_the_key_and_the_reference) {
  fake_server srv{201, R"({"id": "sheerid-42"})"};
  http_verifier v{{srv.url(), "secret-key", std::chrono::seconds(5)}};
  auto app = an_application();
  auto ref = v.create(app);
  ASSERT_TRUE(ref) << error_message(ref.error());
  EXPECT_EQ(*ref, "sheerid-42");
  std::lock_guard<std::mutex> guard{srv.mtx};
  EXPECT_EQ(srv.auth, "Bearer secret-key");
  auto body = nlohmann::json::parse(srv.request);
  EXPECT_EQ(body["reference"], app.id.str());
  EXPECT_EQ(body["program"], "edu");
  EXPECT_EQ(body["email"], "ada@uni.example.edu");
}

TEST(http_verifier, a_server_error_is_retryable_and_names_no_key) {
  fake_server srv{503, R"({"error": "busy"})"};
  http_verifier v{{srv.url(), "secret-key", std::chrono::seconds(5)}};
  auto ref = v.create(an_application());
  ASSERT_FALSE(ref);
  EXPECT_EQ(ref.error(), errc::unavailable);
  EXPECT_NE(error_message(ref.error()).find("503"), std::string::npos);
  EXPECT_EQ(error_message(ref.error()).find("secret-key"), std::string::npos);
}

TEST(http_verifier, an_answer_without_an_id_is_refused) {
  fake_server srv{200, R"({"reference": 7})"};
  http_verifier v{{srv.url(), "", std::chrono::seconds(5)}};
  auto ref = v.create(an_application());
  ASSERT_FALSE(ref);
  EXPECT_EQ(ref.error(), errc::corrupt_data);
}

TEST(http_verifier, an_unreachable_verifier_is_unavailable) {
  // A port that was free a moment ago: nothing listens there.
  int port = 0;
  {
    httplib::Server probe;
    port = probe.bind_to_any_port("127.0.0.1");
  }
  http_verifier v{
    {"http://127.0.0.1:" + std::to_string(port), "", std::chrono::seconds(2)}};
  auto ref = v.create(an_application());
  ASSERT_FALSE(ref);
  EXPECT_EQ(ref.error(), errc::unavailable);
}

TEST(http_verifier, the_key_file_is_read_trimmed_and_errors_name_the_file) {
  tenure::test::temp_dir dir;
  auto path = dir.path() + "/key";
  tenure::test::write_file(path, "  abc123 \n");
  auto key = read_secret_file(path);
  ASSERT_TRUE(key);
  EXPECT_EQ(*key, "abc123");
  auto missing = read_secret_file(dir.path() + "/nope");
  ASSERT_FALSE(missing);
  EXPECT_NE(error_message(missing.error()).find("nope"), std::string::npos);
  tenure::test::write_file(path, "\n");
  EXPECT_FALSE(read_secret_file(path));
  EXPECT_EQ(*read_secret_file(""), "");
}
