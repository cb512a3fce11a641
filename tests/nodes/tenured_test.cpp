// End-to-end: starts the real tenured binary on loopback.

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

#include <httplib.h>

#include "actors/entity_io.hpp"
#include "actors/lifecycle.hpp"
#include "actors/subscription_rules.hpp"
#include "storage/store.hpp"
#include "tests/support/e2e_tools.hpp"
#include "tests/support/process.hpp"

using namespace std::chrono_literals;
using tenure::test::child_process;
using tenure::test::default_config;
using tenure::test::temp_dir;
using tenure::test::tenured_bin;
using node = tenure::test::tenured_node;

TEST(tenured, help_lists_the_flags) {
  child_process p{{tenured_bin(), "--help"}};
  ASSERT_EQ(p.wait(30s), 0);
  auto out = p.out();
  for (auto flag : {"--config", "--data", "--http-port", "--clock"})
    EXPECT_NE(out.find(flag), std::string::npos) << flag;
}

TEST(tenured, unknown_flags_exit_64) {
  child_process p{{tenured_bin(), "--bogus"}};
  ASSERT_EQ(p.wait(30s), 64);
  EXPECT_NE(p.err().find("--bogus"), std::string::npos);
}

TEST(tenured, starts_serves_health_and_stops_cleanly_on_sigterm) {
  temp_dir dir;
  node n{dir.path() + "/data"};
  ASSERT_TRUE(n.line) << n.proc.err();
  ASSERT_GT(n.port, 0) << *n.line;
  httplib::Client cli{"127.0.0.1", n.port};
  auto health = cli.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, R"({"status":"ok"})");
  auto ready = cli.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  n.proc.signal(SIGTERM);
  EXPECT_EQ(n.proc.wait(30s), 0) << n.proc.err();
  EXPECT_NE(n.proc.err().find("stopped"), std::string::npos) << n.proc.err();
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/data/db/CURRENT"));
}

TEST(tenured, restarts_on_its_own_data) {
  temp_dir dir;
  for (int round = 0; round < 2; ++round) {
    node n{dir.path() + "/data", {"--clock", "manual"}};
    ASSERT_TRUE(n.line) << "round " << round << ": " << n.proc.err();
    EXPECT_NE(n.line->find("clock=manual"), std::string::npos);
    n.proc.signal(SIGINT);
    ASSERT_EQ(n.proc.wait(30s), 0) << n.proc.err();
  }
}

TEST(tenured, a_bad_config_value_names_the_key_and_the_node_does_not_start) {
  temp_dir dir;
  auto conf = dir.path() + "/tenured.conf";
  std::filesystem::copy(tenure::test::source_dir() + "/config", dir.path(),
                        std::filesystem::copy_options::recursive);
  tenure::test::write_file(conf, "tenure {\n  node {\n    clock = \"sundial\"\n"
                                 "  }\n}\n");
  child_process p{{tenured_bin(), "--config", conf, "--data",
                   dir.path() + "/data", "--http-port", "0"}};
  auto code = p.wait(30s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 1);
  EXPECT_NE(p.err().find("clock"), std::string::npos) << p.err();
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data/db"));
}

TEST(tenured, a_missing_config_file_is_an_error) {
  temp_dir dir;
  child_process p{{tenured_bin(), "--config", dir.path() + "/nope.conf",
                   "--data", dir.path() + "/data"}};
  EXPECT_EQ(p.wait(30s), 1);
  EXPECT_NE(p.err().find("nope.conf"), std::string::npos) << p.err();
}

TEST(tenured, a_port_in_use_is_reported) {
  temp_dir dir;
  node first{dir.path() + "/a"};
  ASSERT_GT(first.port, 0);
  child_process second{{tenured_bin(), "--config", default_config(), "--data",
                        dir.path() + "/b", "--http-port",
                        std::to_string(first.port)}};
  EXPECT_EQ(second.wait(30s), 1);
  EXPECT_NE(second.err().find("cannot listen"), std::string::npos)
    << second.err();
}

// The shell endpoint binds with SO_REUSEADDR (a restart must not wait out
// TIME_WAIT), which must still refuse a port another node listens on.
TEST(tenured, a_shell_port_in_use_is_reported) {
  temp_dir dir;
  node first{dir.path() + "/a"};
  ASSERT_GT(first.port, 0);
  std::smatch m;
  std::regex re{"shell=127\\.0\\.0\\.1:([0-9]+)"};
  ASSERT_TRUE(first.line && std::regex_search(*first.line, m, re))
    << first.line.value_or("(no line)");
  child_process second{{tenured_bin(), "--config", default_config(), "--data",
                        dir.path() + "/b", "--http-port", "0", "--shell-port",
                        m[1].str()}};
  EXPECT_EQ(second.wait(30s), 1);
  EXPECT_NE(second.err().find("for the shell"), std::string::npos)
    << second.err();
}

// A subscription whose end date passed while the node was down: the renewal
// supervisor of the real binary expires it at start, and the outbox delivers
// the member's email into the data directory's mail folder.
TEST(tenured,
     timers_due_while_down_fire_at_start_and_mail_lands_in_the_mail_dir) {
  using namespace tenure;
  temp_dir dir;
  auto data = dir.path() + "/data";
  std::filesystem::create_directories(data);
  auto now = from_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
  {
    storage::store_options opts;
    opts.path = data + "/db";
    auto st = storage::rocksdb_store::open(opts);
    ASSERT_TRUE(st);
    id_generator ids;
    subscription s;
    s.id = ids.next<sub_id>(now);
    s.program = program::edu;
    s.organisation = {"downtime.example.edu", "Downtime University", "GB", ""};
    s.contact_email = "it@downtime.example.edu";
    s.sku = "edu-saas-ultimate-1y";
    s.seats = 5;
    s.start = now - days{400};
    s.end = now - days{2};
    s.lines = {{product::ultimate, term::one_year, s.start, s.end}};
    auto evs = decide(std::nullopt, provision{s}, s.start, {});
    ASSERT_TRUE(evs);
    storage::batch b;
    auto after = entity_io<subscription, subscription_event>::record(
      b, std::nullopt, *evs, s.start);
    lifecycle_policy pol;
    pol.reminder_offsets.clear(); // only the expiry
    write_effects(b, renewal_timers(after, s.start, pol), ids, s.start);
    ASSERT_FALSE((*st)->commit_sync(std::move(b)));
  }
  node n{data, {"--log-level", "info"}};
  ASSERT_TRUE(n.line) << n.proc.err();
  auto delivered = n.proc.wait_for_output("template=subscription_expired", 60s);
  ASSERT_TRUE(delivered) << n.proc.err();
  std::regex re{"id=(ntf_[0-9A-Z]+)"};
  std::smatch m;
  ASSERT_TRUE(std::regex_search(*delivered, m, re)) << *delivered;
  auto file = data + "/mail/" + m[1].str() + ".eml";
  ASSERT_TRUE(std::filesystem::exists(file)) << file;
  std::ifstream in{file};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  EXPECT_NE(text.find("To: it@downtime.example.edu"), std::string::npos)
    << text;
  EXPECT_NE(text.find("Downtime University"), std::string::npos) << text;
  EXPECT_NE(text.find("Message-ID: <" + m[1].str() + "@tenure>"),
            std::string::npos)
    << text;
  n.proc.signal(SIGTERM);
  EXPECT_EQ(n.proc.wait(30s), 0) << n.proc.err();
  // No secret or address in the log.
  EXPECT_EQ(n.proc.err().find("it@downtime.example.edu"), std::string::npos);
}

// The demo clock: at 30 days per second a 30-day cure period passes in about
// a second, and the compliance supervisor of the real binary terminates the
// subscription when it does.
TEST(tenured, under_the_accelerated_clock_a_cure_period_passes_in_seconds) {
  using namespace tenure;
  temp_dir dir;
  std::filesystem::copy(tenure::test::source_dir() + "/config", dir.path(),
                        std::filesystem::copy_options::recursive);
  auto conf = dir.path() + "/tenured.conf";
  {
    std::ifstream in{conf};
    std::string text{std::istreambuf_iterator<char>{in}, {}};
    auto at = text.find("clock-days-per-second = 1.0");
    ASSERT_NE(at, std::string::npos);
    text.replace(at, 27, "clock-days-per-second = 30.0");
    tenure::test::write_file(conf, text);
  }
  auto data = dir.path() + "/data";
  std::filesystem::create_directories(data);
  auto now = from_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
  {
    storage::store_options opts;
    opts.path = data + "/db";
    auto st = storage::rocksdb_store::open(opts);
    ASSERT_TRUE(st);
    id_generator ids;
    subscription s;
    s.id = ids.next<sub_id>(now);
    s.program = program::oss;
    s.organisation = {"cure.example.org", "Cure Project", "DE", ""};
    s.contact_email = "maintainer@cure.example.org";
    s.sku = "oss-saas-ultimate-1y";
    s.seats = 5;
    s.start = now;
    s.end = add_years(now, 1);
    s.lines = {{product::ultimate, term::one_year, s.start, s.end}};
    using sub_io = entity_io<subscription, subscription_event>;
    lifecycle_policy pol;
    subscription_context ctx;
    ctx.new_case = ids.next<case_id>(now);
    auto provisioned = decide(std::nullopt, provision{s}, now, ctx);
    ASSERT_TRUE(provisioned);
    storage::batch b;
    auto base = sub_io::record(b, std::nullopt, *provisioned, now);
    open_case oc{base.id, "commercial use", true, "program team"};
    auto opened = decide(base, oc, now, ctx);
    ASSERT_TRUE(opened);
    auto in_cure = sub_io::record(b, base, *opened, now);
    auto cc = case_change_for(base, oc, *opened, ctx.new_case, now);
    ASSERT_TRUE(cc);
    entity_io<compliance_case, case_event>::record(b, std::nullopt, cc->events,
                                                   now);
    auto fx = subscription_effects(in_cure, *opened, now, pol);
    ASSERT_TRUE(fx.armed("cure_deadline"));
    write_effects(b, fx, ids, now);
    ASSERT_FALSE((*st)->commit_sync(std::move(b)));
  }
  node n{data,
         {"--config", conf, "--clock", "accelerated", "--log-level", "info"}};
  ASSERT_TRUE(n.line) << n.proc.err();
  // 30 domain days at 30 d/s: about one second; the deadline is generous.
  auto terminated
    = n.proc.wait_for_output("template=subscription_terminated", 30s);
  ASSERT_TRUE(terminated) << n.proc.err();
  n.proc.signal(SIGTERM);
  EXPECT_EQ(n.proc.wait(30s), 0) << n.proc.err();
}
