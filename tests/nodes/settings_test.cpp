#include "nodes/settings.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/settings.hpp>

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

duration d(const char* text) {
  return *parse_duration(text);
}

/// The 1-based line of the first `needle` in `text`.
size_t line_of(const std::string& text, const std::string& needle) {
  auto pos = text.find(needle);
  return 1
         + static_cast<size_t>(
           std::count(text.begin(), text.begin() + pos, '\n'));
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
    EXPECT_NE(pos, std::string::npos) << file << " has no " << from;
    if (pos != std::string::npos)
      text.replace(pos, from.size(), to);
    write_file(path, text);
  }

  std::string conf() const {
    return dir.path() + "/tenured.conf";
  }

  std::string text(const std::string& file) const {
    return read(dir.path() + "/" + file);
  }
};

/// The error message of loading `conf`, or "" when it loads.
std::string problem_of(const std::string& conf) {
  auto s = load_settings(conf);
  if (s)
    return "";
  EXPECT_TRUE(s.error() == errc::config_invalid) << to_string(s.error());
  return error_message(s.error());
}

const sku& sku_of(const settings& s, const char* id) {
  auto x = s.skus.find(id);
  if (x == nullptr)
    throw std::runtime_error(std::string{"no SKU "} + id);
  return *x;
}

sku_line ultimate(term t) {
  return sku_line{product::ultimate, t};
}

sku_line support_line(term t) {
  return sku_line{product::support, t};
}

class shipped : public testing::Test {
protected:
  void SetUp() override {
    auto loaded = load_settings(config_dir() + "/tenured.conf");
    ASSERT_TRUE(loaded) << error_message(loaded.error());
    s = std::move(*loaded);
  }

  settings s;
};

} // namespace

// -- the shipped configuration ------------------------------------------------

TEST_F(shipped, node_store_and_registry_have_the_documented_defaults) {
  EXPECT_EQ(s.node.data_dir, "./data");
  EXPECT_EQ(s.node.host, "127.0.0.1");
  EXPECT_EQ(s.node.http_port, 8640);
  EXPECT_EQ(s.node.shell_port, 8641);
  EXPECT_EQ(s.node.clock, "system");
  EXPECT_EQ(s.node.clock_days_per_second, 1.0);
  EXPECT_EQ(s.node.log_level, "info");
  EXPECT_TRUE(s.store.sync);
  EXPECT_EQ(s.store.max_group_commits, 1024u);
  EXPECT_EQ(s.store.max_group_bytes, size_t{4} << 20);
  EXPECT_EQ(s.store.block_cache_bytes, size_t{64} << 20);
  EXPECT_EQ(s.registry.idle_passivation, std::chrono::minutes(5));
  EXPECT_EQ(s.outbox.mail_dir, "");
  EXPECT_EQ(s.outbox.smtp_url, "");
  EXPECT_EQ(s.outbox.max_attempts, 8u);
  EXPECT_EQ(s.outbox.backoff, std::chrono::minutes(1));
  EXPECT_EQ(s.verifier.url, "");
  EXPECT_EQ(s.verifier.timeout, std::chrono::seconds(10));
  EXPECT_EQ(s.timers.poll, std::chrono::milliseconds(250));
  EXPECT_EQ(s.timers.batch, 256u);
  auto pol = lifecycle_policy_of(s);
  EXPECT_EQ(pol.cure_period, std::chrono::duration_cast<duration>(days{30}));
  EXPECT_EQ(pol.inbox(program::oss), "opensource@denomas.com");
  EXPECT_EQ(pol.licensing_channel, "#support_licensing-subscription");
  EXPECT_EQ(pol.reminder_offsets.size(), 4u);
}

TEST_F(shipped, data_files_resolve_against_the_directory_of_the_conf) {
  EXPECT_EQ(s.files.catalog, config_dir() + "/catalog.json");
  EXPECT_EQ(s.files.policies, config_dir() + "/policies.json");
  EXPECT_EQ(s.files.eligibility, config_dir() + "/eligibility.json");
  EXPECT_EQ(s.files.programs, config_dir() + "/programs.json");
}

TEST_F(shipped, the_catalog_has_the_14_offerings_of_seed_001) {
  ASSERT_EQ(s.skus.all().size(), 14u);
  EXPECT_EQ(s.skus.of(program::edu).size(), 4u);
  EXPECT_EQ(s.skus.of(program::oss).size(), 6u);
  EXPECT_EQ(s.skus.of(program::startups).size(), 4u);
  // Seed 001: SaaS w/ Support 3 Year is Support 3 Year + Ultimate 1 Year.
  auto& oss_saas_3y = sku_of(s, "oss-saas-ultimate-support-3y");
  EXPECT_EQ(oss_saas_3y.hosting, hosting::saas);
  EXPECT_EQ(oss_saas_3y.support, support::with);
  EXPECT_EQ(oss_saas_3y.lines,
            (std::vector<sku_line>{support_line(term::three_years),
                                   ultimate(term::one_year)}));
  // The second "Self-Managed - Ultimate w/ Support - 1 Year" of the seed:
  // Support 3 Year + Ultimate 3 Year.
  auto& oss_sm_3y = sku_of(s, "oss-sm-ultimate-support-3y");
  EXPECT_EQ(oss_sm_3y.hosting, hosting::self_managed);
  EXPECT_EQ(oss_sm_3y.lines,
            (std::vector<sku_line>{support_line(term::three_years),
                                   ultimate(term::three_years)}));
  EXPECT_EQ(sku_of(s, "oss-sm-ultimate-support-1y").lines,
            (std::vector<sku_line>{support_line(term::one_year),
                                   ultimate(term::one_year)}));
  auto& edu = sku_of(s, "edu-saas-ultimate-1y");
  EXPECT_EQ(edu.support, support::without);
  EXPECT_EQ(edu.name, "[EDU Program] SaaS - Ultimate (formerly Gold) - 1 Year");
  EXPECT_EQ(edu.lines, std::vector<sku_line>{ultimate(term::one_year)});
  EXPECT_EQ(sku_of(s, "startups-sm-ultimate-support-1y").lines,
            (std::vector<sku_line>{ultimate(term::one_year),
                                   support_line(term::one_year)}));
  EXPECT_EQ(s.skus.find("no-such-sku"), nullptr);
  // of() keeps file order.
  auto startups = s.skus.of(program::startups);
  EXPECT_EQ(startups.front()->id, "startups-saas-ultimate-1y");
  EXPECT_EQ(startups.back()->id, "startups-sm-ultimate-support-1y");
}

TEST_F(shipped, every_sku_name_agrees_with_its_program_and_hosting) {
  for (auto& x : s.skus.all()) {
    auto prefix = x.program == program::edu   ? "[EDU Program] "
                  : x.program == program::oss ? "[OSS Program] "
                                              : "[Startups Program] ";
    EXPECT_EQ(x.name.rfind(prefix, 0), 0u) << x.id << ": " << x.name;
    auto host = x.hosting == hosting::saas ? "] SaaS - " : "] Self-Managed - ";
    EXPECT_NE(x.name.find(host), std::string::npos) << x.id;
    EXPECT_EQ(x.name.find("w/ Support") != std::string::npos,
              x.support == support::with)
      << x.id;
  }
}

TEST_F(shipped, policies_have_the_documented_values) {
  auto& p = s.policy;
  EXPECT_EQ(p.grace_period, d("14d"));
  EXPECT_EQ(p.emergency_window, d("3d"));
  EXPECT_EQ(p.emergency_default_days, 5u);
  EXPECT_EQ(p.emergency_max_days, 10u);
  EXPECT_EQ(p.cure_period, d("30d"));
  EXPECT_EQ(p.reminder_offsets,
            (std::vector<duration>{d("90d"), d("30d"), d("7d"), d("1d")}));
  EXPECT_EQ(p.verification_timeout, d("2d"));
  EXPECT_EQ(p.verification_retries, 2u);
  EXPECT_EQ(p.review_business_days, 5u);
  EXPECT_EQ(p.low_stock_runway_days, 60u);
  ASSERT_EQ(p.forecasts.size(), 3u);
  auto& oss = p.forecasts.at(program::oss);
  EXPECT_EQ(oss.applications_per_quarter, 300u);
  EXPECT_EQ(oss.expected_renewals, 700u);
  EXPECT_DOUBLE_EQ(oss.reverification_factor, 0.9);
  // The forecast carries the pool-wide threshold.
  EXPECT_EQ(oss.low_stock_runway_days, 60u);
}

TEST_F(shipped, programs_have_their_inboxes_channels_and_macros) {
  ASSERT_EQ(s.programs.size(), 3u);
  auto& edu = s.programs.at(program::edu);
  auto& oss = s.programs.at(program::oss);
  auto& startups = s.programs.at(program::startups);
  EXPECT_EQ(edu.inbox, "education@denomas.com");
  EXPECT_EQ(oss.inbox, "opensource@denomas.com");
  EXPECT_EQ(startups.inbox, "startups@denomas.com");
  EXPECT_EQ(edu.verification_channel, channel::sheerid);
  EXPECT_EQ(oss.verification_channel, channel::sheerid);
  EXPECT_EQ(startups.verification_channel, channel::marketo);
  EXPECT_EQ(edu.support_macro, "EDU Response");
  EXPECT_EQ(oss.support_macro, "OSS Response");
  EXPECT_EQ(startups.support_macro, "Startup Response");
  EXPECT_EQ(oss.id, program::oss);
  EXPECT_EQ(oss.checkout_url.rfind("https://", 0), 0u);
  EXPECT_EQ(s.licensing_channel, "#support_licensing-subscription");
  EXPECT_EQ(s.community_channel, "#community-programs");
}

TEST_F(shipped, eligibility_has_the_documented_rules) {
  auto& e = s.eligibility;
  EXPECT_EQ(e.trade_control_countries,
            (std::set<std::string>{"BY", "CU", "IR", "KP", "RU", "SY"}));
  EXPECT_EQ(e.manual_review_countries, std::set<std::string>{"UA"});
  EXPECT_TRUE(e.edu_k12_on_hold);
  EXPECT_EQ(e.oss_min_public_projects, 1u);
  EXPECT_EQ(e.oss_max_private_projects, 1u);
  EXPECT_TRUE(e.oss_attestation_required);
  EXPECT_TRUE(e.oss_self_managed_needs_reason);
  for (auto id : {"MIT", "Apache-2.0", "GPL-3.0-or-later", "BSD-3-Clause",
                  "MPL-2.0", "LGPL-2.1-only", "ISC", "0BSD"})
    EXPECT_TRUE(e.osi_licenses.count(id)) << id;
  // Source-available or not OSI-approved.
  for (auto id : {"SSPL-1.0", "BUSL-1.1", "CC-BY-NC-4.0", "CC0-1.0", "mit"})
    EXPECT_FALSE(e.osi_licenses.count(id)) << id;
  EXPECT_GT(e.osi_licenses.size(), 100u);
}

TEST(settings, caf_settings_in_the_same_file_take_effect) {
  caf::actor_system_config cfg;
  auto s = load_settings(cfg, config_dir() + "/tenured.conf");
  ASSERT_TRUE(s) << error_message(s.error());
  EXPECT_EQ(caf::get_or(cfg, "scheduler.max-threads", size_t{0}), 2u);
  EXPECT_EQ(caf::get_or(cfg, "scheduler.policy", caf::atom("")),
            caf::atom("sharing"));
  EXPECT_FALSE(
    caf::get_or(cfg, "middleman.enable-automatic-connections", true));
}

// CAF 0.17.6's parse() leaves a file's openssl group out of the members its
// OpenSSL module reads: a TLS member served anonymous TLS to anyone.
TEST(settings, the_openssl_group_reaches_cafs_openssl_module) {
  edited_config c{"tenured.conf", "certificate = \"\"",
                  "certificate = \"/etc/tenure/a.pem\""};
  auto text = c.text("tenured.conf");
  for (auto [from, to] :
       {std::pair{"key = \"\"", "key = \"/etc/tenure/a.key\""},
        {"passphrase = \"\"", "passphrase = \"pw\""},
        {"capath = \"\"", "capath = \"/etc/tenure/cas\""},
        {"cafile = \"\"", "cafile = \"/etc/tenure/ca.pem\""}}) {
    auto pos = text.find(from);
    ASSERT_NE(pos, std::string::npos) << from;
    text.replace(pos, std::string{from}.size(), to);
  }
  write_file(c.conf(), text);
  caf::actor_system_config cfg;
  auto s = load_settings(cfg, c.conf());
  ASSERT_TRUE(s) << error_message(s.error());
  EXPECT_EQ(cfg.openssl_certificate, "/etc/tenure/a.pem");
  EXPECT_EQ(cfg.openssl_key, "/etc/tenure/a.key");
  EXPECT_EQ(cfg.openssl_passphrase, "pw");
  EXPECT_EQ(cfg.openssl_capath, "/etc/tenure/cas");
  EXPECT_EQ(cfg.openssl_cafile, "/etc/tenure/ca.pem");
  // The shipped file sets none: anonymous TLS is never chosen by accident.
  caf::actor_system_config plain;
  ASSERT_TRUE(load_settings(plain, config_dir() + "/tenured.conf"));
  EXPECT_EQ(plain.openssl_certificate, "");
  EXPECT_EQ(plain.openssl_cafile, "");
}

TEST(settings, read_settings_takes_an_already_parsed_config) {
  auto conf = config_dir() + "/tenured.conf";
  caf::actor_system_config cfg;
  ASSERT_FALSE(
    cfg.parse(caf::actor_system_config::string_list{}, conf.c_str()));
  auto s = read_settings(cfg, conf);
  ASSERT_TRUE(s) << error_message(s.error());
  EXPECT_EQ(s->node.shell_port, 8641);
  EXPECT_EQ(s->skus.all().size(), 14u);
}

TEST(settings, load_data_files_keeps_the_other_settings) {
  settings base;
  base.node.http_port = 9999;
  base.files.catalog = config_dir() + "/catalog.json";
  base.files.policies = config_dir() + "/policies.json";
  base.files.eligibility = config_dir() + "/eligibility.json";
  base.files.programs = config_dir() + "/programs.json";
  auto s = load_data_files(base);
  ASSERT_TRUE(s) << error_message(s.error());
  EXPECT_EQ(s->node.http_port, 9999);
  EXPECT_EQ(s->skus.all().size(), 14u);
  EXPECT_EQ(s->programs.size(), 3u);
}

// -- accepted spellings -------------------------------------------------------

TEST(settings, caf_literals_are_accepted_for_strings_and_durations) {
  // CAF's config format has atoms ('x') and timespans (5min) of its own;
  // people who configure CAF write them, and they mean the same.
  edited_config c{"tenured.conf", "clock = \"system\"", "clock = 'manual'"};
  auto path = c.conf();
  auto text = c.text("tenured.conf");
  text.replace(text.find("idle-passivation = \"5min\""), 25,
               "idle-passivation = 90s");
  write_file(path, text);
  auto s = load_settings(path);
  ASSERT_TRUE(s) << error_message(s.error());
  EXPECT_EQ(s->node.clock, "manual");
  EXPECT_EQ(s->registry.idle_passivation, std::chrono::seconds(90));
}

TEST(settings, absent_keys_take_their_defaults) {
  temp_dir dir;
  std::filesystem::copy(config_dir(), dir.path(),
                        std::filesystem::copy_options::recursive);
  write_file(dir.path() + "/tenured.conf",
             "tenure {\n  node {\n    http-port = 9000\n  }\n}\n");
  auto s = load_settings(dir.path() + "/tenured.conf");
  ASSERT_TRUE(s) << error_message(s.error());
  EXPECT_EQ(s->node.http_port, 9000);
  EXPECT_EQ(s->node.shell_port, node_settings{}.shell_port);
  EXPECT_EQ(s->store.max_group_bytes, store_settings{}.max_group_bytes);
  EXPECT_EQ(s->files.catalog, dir.path() + "/catalog.json");
}

TEST(settings, an_absolute_data_path_is_kept) {
  temp_dir other;
  std::filesystem::copy(config_dir() + "/catalog.json",
                        other.path() + "/skus.json");
  edited_config c{"tenured.conf", "catalog = \"catalog.json\"",
                  "catalog = \"" + other.path() + "/skus.json\""};
  std::filesystem::remove(c.dir.path() + "/catalog.json");
  auto s = load_settings(c.conf());
  ASSERT_TRUE(s) << error_message(s.error());
  EXPECT_EQ(s->files.catalog, other.path() + "/skus.json");
}

// -- each bad value names its file and key ------------------------------------

TEST(settings, each_bad_value_names_its_file_and_key) {
  struct probe {
    const char* file;
    const char* from;
    const char* to;
    /// The message after "DIR/FILE: ".
    const char* expect;
  };
  const probe probes[] = {
    // policies.json
    {"policies.json", R"("cure_period": "30d")", R"("cure_period": "30 days")",
     "cure_period: '30 days' is not a positive duration"},
    {"policies.json", R"("grace_period": "14d")", R"("grace_period": "0d")",
     "grace_period: '0d' is not a positive duration"},
    {"policies.json", R"("grace_period": "14d")", R"("grace_period": "14w0")",
     "grace_period: '14w0' is not a positive duration"},
    {"policies.json", R"("cure_period": "30d")", R"("cure_period": "60w")",
     "cure_period: '60w' is longer than 365d"},
    {"policies.json", R"("default_days": 5)", R"("default_days": 12)",
     "emergency.default_days: 12 exceeds emergency.max_days (10)"},
    {"policies.json", R"("max_days": 10)", R"("max_days": 0)",
     "emergency.max_days: 0 is outside 1..365"},
    {"policies.json", R"("grace_period")", R"("grace_periode")",
     "grace_periode: unknown key"},
    {"policies.json", R"("timeout": "2d")", R"("timeout": "2d", "retry": 1)",
     "verification.retry: unknown key"},
    {"policies.json", R"("retries": 2)", R"("retries": "two")",
     "verification.retries: expected a whole number"},
    {"policies.json", R"("retries": 2)", R"("retries": -1)",
     "verification.retries: expected a whole number"},
    {"policies.json", "{\n    \"answer_business_days\": 5\n  }", "5",
     "review: expected an object"},
    {"policies.json", R"(["90d", "30d", "7d", "1d"])",
     R"(["90d", "30d", "30d"])",
     "renewal.reminder_offsets[2]: '30d' appears twice"},
    {"policies.json", R"(["90d", "30d", "7d", "1d"])", R"(["90d", "-1d"])",
     "renewal.reminder_offsets[1]: '-1d' is not a positive duration"},
    {"policies.json", R"("reverification_factor": 0.9)",
     R"("reverification_factor": 11)",
     "coupons.forecast.oss.reverification_factor: 11 is outside 0.0..10.0"},
    {"policies.json", R"("startups": {)", R"("startup": {)",
     "coupons.forecast.startup: unknown key"},
    {"policies.json", R"("cure_period": "30d",)",
     R"("cure_period": "30d", "cure_period": "31d",)",
     "cure_period: key appears twice in the same object"},
    // catalog.json
    {"catalog.json", R"("id": "edu-sm-ultimate-1y")",
     R"("id": "edu-saas-ultimate-1y")",
     "skus[2].id: duplicate SKU id 'edu-saas-ultimate-1y'"},
    {"catalog.json", R"("id": "edu-sm-ultimate-1y")", R"("id": "EDU SM 1y")",
     "skus[2].id: 'EDU SM 1y' is not an id of lower-case letters"},
    {"catalog.json",
     R"("program": "edu", "hosting": "saas", "support": "with")",
     R"("program": "edu", "hosting": "saas", "support": "without")",
     "skus[1] (edu-saas-ultimate-support-1y).support: 'without' does not "
     "match its 1 support line(s)"},
    {"catalog.json", R"("hosting": "self_managed")", R"("hosting": "onprem")",
     "skus[2] (edu-sm-ultimate-1y).hosting: 'onprem' is not one of saas, "
     "self_managed"},
    {"catalog.json", R"("lines": [{"product": "ultimate", "term": "1y"}])",
     R"("lines": [])",
     "skus[0] (edu-saas-ultimate-1y).lines: expected a non-empty list"},
    {"catalog.json", R"("lines": [{"product": "ultimate", "term": "1y"}])",
     R"("lines": [{"product": "support", "term": "1y"}])",
     "skus[0] (edu-saas-ultimate-1y).lines: needs exactly one ultimate line"},
    {"catalog.json", R"({"product": "support", "term": "3y"})",
     R"({"product": "support", "term": "2y"})",
     "skus[6] (oss-saas-ultimate-support-3y).lines[0].term: '2y' is not one "
     "of"},
    {"catalog.json", R"("program": "edu")", R"("program": "edu", "seats": 5)",
     "skus[0] (edu-saas-ultimate-1y).seats: unknown key"},
    // eligibility.json
    {"eligibility.json", R"("UA")", R"("Ukraine")",
     "manual_review_countries[0]: 'Ukraine' is not an ISO 3166-1 alpha-2 "
     "code"},
    {"eligibility.json", R"("CU", "IR")", R"("cu", "IR")",
     "trade_control_countries[0]: 'cu' is not an ISO 3166-1 alpha-2 code"},
    {"eligibility.json", R"("CU", "IR")", R"("CU", "CU")",
     "trade_control_countries[1]: 'CU' appears twice"},
    {"eligibility.json", R"(["UA"])", R"(["UA", "RU"])",
     "manual_review_countries: RU is also a trade-control country"},
    {"eligibility.json", R"("k12_on_hold": true)", R"("k12_on_hold": 1)",
     "edu.k12_on_hold: expected true or false"},
    {"eligibility.json", R"("min_public_projects": 1)",
     R"("min_public_project": 1)", "oss.min_public_project: unknown key"},
    {"eligibility.json", R"("0BSD",)", R"("0BSD", "MIT License",)",
     "oss.osi_licenses[1]: 'MIT License' is not an SPDX identifier"},
    // programs.json
    {"programs.json", R"("inbox": "education@denomas.com")",
     R"("inbox": "education")",
     "programs.edu.inbox: 'education' is not an email address"},
    {"programs.json", R"("checkout_url": "https://customers.denomas.com/)",
     R"("checkout_url": "http://customers.denomas.com/)",
     "programs.edu.checkout_url: 'http://customers.denomas.com/"},
    {"programs.json", R"("verification_channel": "marketo")",
     R"("verification_channel": "form")",
     "programs.startups.verification_channel: 'form' is not one of sheerid, "
     "marketo, portal"},
    {"programs.json", R"("licensing": "#support_licensing-subscription")",
     R"("licensing": "support_licensing-subscription")",
     "channels.licensing: 'support_licensing-subscription' is not a chat "
     "channel"},
    // tenured.conf: our group
    {"tenured.conf", "http-port = 8640", "http-port = 70000",
     "tenure.node.http-port: 70000 is outside 1..65535"},
    {"tenured.conf", "http-port = 8640", "http-port = 0",
     "tenure.node.http-port: 0 is outside 1..65535"},
    {"tenured.conf", "shell-port = 8641", "shell-port = 8640",
     "tenure.node.shell-port: 8640 is also tenure.node.http-port"},
    {"tenured.conf", "http-port = 8640", "http-port = \"8640\"",
     "tenure.node.http-port: expected a whole number"},
    {"tenured.conf", "sync = true", "sync = \"yes\"",
     "tenure.store.sync: expected true or false"},
    {"tenured.conf", "log-level = \"info\"", "log-levle = \"info\"",
     "tenure.node.log-levle: unknown key (a typo?)"},
    {"tenured.conf", "log-level = \"info\"", "log-level = \"verbose\"",
     "tenure.node.log-level: 'verbose' is not one of trace, debug, info, "
     "warn, error, off"},
    {"tenured.conf", "registry {", "registy {",
     "tenure.registy.idle-passivation: unknown key"},
    {"tenured.conf", "clock = \"system\"", "clock = \"sundial\"",
     "tenure.node.clock: 'sundial' is not one of system, manual, "
     "accelerated"},
    {"tenured.conf", "clock-days-per-second = 1.0", "clock-days-per-second = 0",
     "tenure.node.clock-days-per-second: 0 is "
     "not in (0, 1000000]"},
    {"tenured.conf", "idle-passivation = \"5min\"",
     "idle-passivation = \"5 minutes\"",
     "tenure.registry.idle-passivation: '5 minutes' is not a positive "
     "duration"},
    {"tenured.conf", "idle-passivation = \"5min\"", "idle-passivation = 5",
     "tenure.registry.idle-passivation: '5' is not a positive duration"},
    {"tenured.conf", "block-cache-mib = 64", "block-cache-mib = 0",
     "tenure.store.block-cache-mib: 0 is outside 1..1048576"},
    {"tenured.conf", "data-dir = \"./data\"", "data-dir = \"\"",
     "tenure.node.data-dir: expected a non-empty \"string\""},
    {"tenured.conf", "max-attempts = 8", "max-attempts = 0",
     "tenure.outbox.max-attempts: 0 is outside 1..1000"},
    {"tenured.conf", "backoff = \"1min\"", "backoff = \"soon\"",
     "tenure.outbox.backoff: 'soon' is not a positive duration"},
    {"tenured.conf", "smtp-url = \"\"", "smtp-url = 25",
     "tenure.outbox.smtp-url: expected a \"string\""},
    {"tenured.conf", "poll = \"250ms\"", "poll = \"2min\"",
     "tenure.timers.poll: '2min' is longer than 1min"},
    {"tenured.conf", "batch = 256", "batch = 0",
     "tenure.timers.batch: 0 is outside 1..100000"},
    {"tenured.conf", "timeout = \"10s\"", "timout = \"10s\"",
     "tenure.verifier.timout: unknown key"},
    // tenured.conf: CAF's groups, which CAF itself does not check
    {"tenured.conf", "max-threads = 2", "max-thread = 2",
     "scheduler.max-thread: unknown key (a typo?)"},
    {"tenured.conf", "max-threads = 2", "max-threads = \"two\"",
     "scheduler.max-threads: expected a value of type uint64"},
    {"tenured.conf", "scheduler {", "verbose = true\nscheduler {",
     "verbose: unknown key (a typo?)"},
    {"tenured.conf", "middleman {", "midleman {",
     "midleman.enable-automatic-connections: unknown key"},
  };
  for (auto& p : probes) {
    edited_config c{p.file, p.from, p.to};
    auto msg = problem_of(c.conf());
    auto expect = c.dir.path() + "/" + p.file + ": " + p.expect;
    EXPECT_EQ(msg.rfind(expect, 0), 0u)
      << "after replacing " << p.from << " with " << p.to
      << "\n  expected: " << expect << "...\n  got:      " << msg;
  }
}

TEST(settings, a_missing_data_file_names_the_file) {
  edited_config c{"tenured.conf", "catalog = \"catalog.json\"",
                  "catalog = \"nope.json\""};
  EXPECT_EQ(problem_of(c.conf()),
            c.dir.path() + "/nope.json: cannot open the file");
}

TEST(settings, a_missing_configuration_file_is_an_error) {
  temp_dir dir;
  EXPECT_EQ(problem_of(dir.path() + "/missing.conf"),
            dir.path() + "/missing.conf: cannot open the configuration file");
}

TEST(settings, malformed_json_names_the_line_and_column) {
  edited_config c{"policies.json", R"("cure_period": "30d",)",
                  R"("cure_period": "30d",,)"};
  auto line = line_of(c.text("policies.json"), "\"cure_period\"");
  auto msg = problem_of(c.conf());
  auto expect = c.dir.path() + "/policies.json: malformed JSON: parse error "
                + "at line " + std::to_string(line) + ", column ";
  EXPECT_EQ(msg.rfind(expect, 0), 0u) << msg;
}

// Found by tests/fuzz (config): a number too large for a double made
// nlohmann throw out_of_range, which nothing caught (load_settings threw).
TEST(settings, a_number_out_of_range_is_malformed_json) {
  for (auto file :
       {"catalog.json", "policies.json", "eligibility.json", "programs.json"}) {
    edited_config c{file, "{", R"({"big": 1e999,)"};
    std::string msg;
    EXPECT_NO_THROW(msg = problem_of(c.conf())) << file;
    auto expect = c.dir.path() + "/" + file
                  + ": malformed JSON: number overflow parsing '1e999'";
    EXPECT_EQ(msg, expect);
  }
}

TEST(settings, a_conf_syntax_error_names_the_line_and_column) {
  edited_config c{"tenured.conf", "max-group-commits = 1024",
                  "max-group-commits = = 1024"};
  auto line = line_of(c.text("tenured.conf"), "max-group-commits");
  auto msg = problem_of(c.conf());
  auto expect = c.dir.path() + "/tenured.conf: line " + std::to_string(line)
                + ", column ";
  EXPECT_EQ(msg.rfind(expect, 0), 0u) << msg;
  EXPECT_NE(msg.find("unexpected character"), std::string::npos) << msg;
}

TEST(settings, a_truncated_conf_is_not_taken_for_an_empty_one) {
  // CAF 0.17.6 parses a file whose last '}' is missing as empty, without an
  // error: every setting would silently be its default.
  temp_dir dir;
  std::filesystem::copy(config_dir(), dir.path(),
                        std::filesystem::copy_options::recursive);
  auto conf = dir.path() + "/tenured.conf";
  auto text = read(conf);
  write_file(conf, text.substr(0, text.rfind('}')));
  EXPECT_EQ(problem_of(conf),
            conf + ": tenure: missing group (is a '}' missing?)");
}

TEST(settings, every_program_needs_a_sku) {
  temp_dir dir;
  std::filesystem::copy(config_dir(), dir.path(),
                        std::filesystem::copy_options::recursive);
  // Keep only the EDU SKUs: the first four entries.
  auto path = dir.path() + "/catalog.json";
  auto text = read(path);
  auto cut = text.find(",\n    {\n      \"id\": \"oss-saas-ultimate-1y\"");
  ASSERT_NE(cut, std::string::npos);
  write_file(path, text.substr(0, cut) + "\n  ]\n}\n");
  EXPECT_EQ(problem_of(dir.path() + "/tenured.conf"),
            path + ": skus: no SKU for program 'oss'");
}
