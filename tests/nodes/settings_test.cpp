#include "nodes/settings.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <caf/actor_system_config.hpp>

#include "messages/errc.hpp"
#include "tests/support/process.hpp"

using namespace tenure;
using tenure::test::temp_dir;
using tenure::test::write_file;

namespace {

std::string read(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string config_dir() {
  return tenure::test::source_dir() + "/config";
}

caf::expected<settings> load(const std::string& conf) {
  caf::actor_system_config cfg;
  return load_settings(cfg, conf);
}

/// A copy of the shipped config/ in a temp dir, with one file edited.
struct edited_config {
  temp_dir dir;

  edited_config(const std::string& file, const std::string& from,
                const std::string& to) {
    std::filesystem::copy(config_dir(), dir.path(),
                          std::filesystem::copy_options::recursive);
    auto path = dir.path() + "/" + file;
    auto text = read(path);
    auto pos = text.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    if (pos != std::string::npos)
      text.replace(pos, from.size(), to);
    write_file(path, text);
  }

  std::string conf() const {
    return dir.path() + "/tenured.conf";
  }
};

/// Loads an edited copy and returns the error message ("" when it loads).
std::string problem(const std::string& file, const std::string& from,
                    const std::string& to) {
  edited_config c{file, from, to};
  auto s = load(c.conf());
  if (s)
    return "";
  EXPECT_TRUE(s.error() == errc::config_invalid);
  return error_message(s.error());
}

} // namespace

TEST(settings, the_shipped_configuration_loads) {
  auto s = load(config_dir() + "/tenured.conf");
  ASSERT_TRUE(s) << error_message(s.error());
  EXPECT_EQ(s->node.http_port, 8640);
  EXPECT_EQ(s->node.clock, "system");
  EXPECT_TRUE(s->store.sync);
  EXPECT_EQ(s->store.block_cache_bytes, size_t{64} << 20);
  EXPECT_EQ(s->registry.idle_passivation, std::chrono::minutes(5));
}

TEST(settings, the_catalog_has_the_14_offerings_of_seed_001) {
  auto s = load(config_dir() + "/tenured.conf");
  ASSERT_TRUE(s) << error_message(s.error());
  EXPECT_EQ(s->skus.all().size(), 14u);
  EXPECT_EQ(s->skus.of(program::edu).size(), 4u);
  EXPECT_EQ(s->skus.of(program::oss).size(), 6u);
  EXPECT_EQ(s->skus.of(program::startups).size(), 4u);
  auto oss3 = s->skus.find("oss-saas-ultimate-support-3y");
  ASSERT_NE(oss3, nullptr);
  EXPECT_EQ(oss3->hosting, hosting::saas);
  ASSERT_EQ(oss3->lines.size(), 2u);
  EXPECT_EQ(oss3->lines[0], (sku_line{product::support, term::three_years}));
  EXPECT_EQ(oss3->lines[1], (sku_line{product::ultimate, term::one_year}));
  auto sm3 = s->skus.find("oss-sm-ultimate-support-3y");
  ASSERT_NE(sm3, nullptr);
  for (auto& line : sm3->lines)
    EXPECT_EQ(line.term, term::three_years);
  auto plain = s->skus.find("edu-saas-ultimate-1y");
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->support, support::without);
  EXPECT_EQ(plain->lines.size(), 1u);
  EXPECT_EQ(s->skus.find("no-such-sku"), nullptr);
}

TEST(settings, policies_programs_and_eligibility_have_the_documented_values) {
  auto s = load(config_dir() + "/tenured.conf");
  ASSERT_TRUE(s) << error_message(s.error());
  auto& p = s->policy;
  EXPECT_EQ(p.grace_period, *parse_duration("14d"));
  EXPECT_EQ(p.emergency_window, *parse_duration("3d"));
  EXPECT_EQ(p.emergency_default_days, 5u);
  EXPECT_EQ(p.emergency_max_days, 10u);
  EXPECT_EQ(p.cure_period, *parse_duration("30d"));
  EXPECT_EQ(p.reminder_offsets,
            (std::vector<duration>{*parse_duration("90d"),
                                   *parse_duration("30d"),
                                   *parse_duration("7d"),
                                   *parse_duration("1d")}));
  EXPECT_EQ(p.review_business_days, 5u);
  EXPECT_EQ(p.forecasts.size(), 3u);
  EXPECT_EQ(s->programs.at(program::edu).inbox, "education@denomas.com");
  EXPECT_EQ(s->programs.at(program::oss).inbox, "opensource@denomas.com");
  EXPECT_EQ(s->programs.at(program::startups).inbox, "startups@denomas.com");
  EXPECT_EQ(s->programs.at(program::startups).verification_channel,
            channel::marketo);
  EXPECT_EQ(s->licensing_channel, "#support_licensing-subscription");
  auto& e = s->eligibility;
  EXPECT_EQ(e.trade_control_countries,
            (std::set<std::string>{"BY", "CU", "IR", "KP", "RU", "SY"}));
  EXPECT_EQ(e.manual_review_countries, std::set<std::string>{"UA"});
  EXPECT_TRUE(e.edu_k12_on_hold);
  EXPECT_TRUE(e.osi_licenses.count("MIT"));
  EXPECT_TRUE(e.osi_licenses.count("Apache-2.0"));
  EXPECT_FALSE(e.osi_licenses.count("SSPL-1.0"));
  EXPECT_GT(e.osi_licenses.size(), 100u);
}

TEST(settings, each_bad_value_names_its_file_and_key) {
  struct probe {
    const char* file;
    const char* from;
    const char* to;
    const char* expect;
  };
  const probe probes[] = {
    {"policies.json", R"("cure_period": "30d")", R"("cure_period": "30 days")",
     "policies.json: cure_period: '30 days' is not a positive duration"},
    {"policies.json", R"("default_days": 5)", R"("default_days": 12)",
     "policies.json: emergency.default_days: 12 exceeds emergency.max_days "
     "(10)"},
    {"policies.json", R"("grace_period")", R"("grace_periode")",
     "policies.json: grace_periode: unknown key"},
    {"policies.json", R"("retries": 2)", R"("retries": "two")",
     "policies.json: verification.retries: expected a whole number"},
    {"policies.json", R"(["90d", "30d", "7d", "1d"])", R"(["90d", "30d", "30d"])",
     "policies.json: renewal.reminder_offsets[2]: '30d' appears twice"},
    {"catalog.json", R"("id": "edu-sm-ultimate-1y")",
     R"("id": "edu-saas-ultimate-1y")", "duplicate SKU id"},
    {"catalog.json", R"("program": "edu", "hosting": "saas", "support": "with")",
     R"("program": "edu", "hosting": "saas", "support": "without")",
     "catalog.json: skus[1] (edu-saas-ultimate-support-1y).support"},
    {"catalog.json", R"("hosting": "self_managed")", R"("hosting": "onprem")",
     "catalog.json: skus[2].hosting: 'onprem' is not one of saas, "
     "self_managed"},
    {"eligibility.json", R"("UA")", R"("Ukraine")",
     "eligibility.json: manual_review_countries[0]: 'Ukraine' is not an ISO"},
    {"eligibility.json", R"("k12_on_hold": true)", R"("k12_on_hold": 1)",
     "eligibility.json: edu.k12_on_hold: expected true or false"},
    {"programs.json", R"("inbox": "education@denomas.com")",
     R"("inbox": "education")",
     "programs.json: programs.edu.inbox: 'education' is not an email"},
    {"programs.json", R"("channels": {)", R"("channels": [)",
     "programs.json: malformed JSON"},
    {"tenured.conf", "http-port = 8640", "http-port = 70000",
     "tenured.conf: tenure.node.http-port: 70000 is outside 0..65535"},
    {"tenured.conf", "sync = true", "sync = \"yes\"",
     "tenured.conf: tenure.store.sync: expected true or false"},
    {"tenured.conf", "log-level = \"info\"", "log-levle = \"info\"",
     "tenured.conf: tenure.node.log-levle: unknown key"},
    {"tenured.conf", "clock = \"system\"", "clock = \"sundial\"",
     "tenured.conf: tenure.node.clock: 'sundial' is not one of"},
    {"tenured.conf", "idle-passivation = \"5min\"",
     "idle-passivation = \"5 minutes\"",
     "tenured.conf: tenure.registry.idle-passivation: '5 minutes'"},
    {"tenured.conf", "max-threads = 2", "max-threads = = 2", "tenured.conf: "},
    {"tenured.conf", "catalog = \"catalog.json\"", "catalog = \"nope.json\"",
     "nope.json: cannot open the file"},
  };
  for (auto& p : probes) {
    auto msg = problem(p.file, p.from, p.to);
    EXPECT_NE(msg.find(p.expect), std::string::npos)
      << p.file << ": " << p.to << "\n  got: " << msg;
  }
}

TEST(settings, a_missing_configuration_file_is_an_error) {
  temp_dir dir;
  auto s = load(dir.path() + "/missing.conf");
  ASSERT_FALSE(s);
  EXPECT_TRUE(s.error() == errc::config_invalid);
  EXPECT_NE(error_message(s.error()).find("missing.conf"), std::string::npos);
}

TEST(settings, caf_settings_in_the_same_file_take_effect) {
  caf::actor_system_config cfg;
  auto s = load_settings(cfg, config_dir() + "/tenured.conf");
  ASSERT_TRUE(s) << error_message(s.error());
  EXPECT_EQ(caf::get_or(cfg, "scheduler.max-threads", size_t{0}), 2u);
}
