// The node's settings: the `tenure` group of tenured.conf plus the data files
// it names (catalog, policies, eligibility, programs).
//
// Every value is validated on load. The first bad one is reported as
// `errc::config_invalid` with a message that names the file and the key, e.g.
// `config/policies.json: emergency.default_days: 12 exceeds
// emergency.max_days (10)`, and the node does not start. Unknown keys are
// errors too: a typo must not silently fall back to a default.

#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "actors/coupon_rules.hpp"
#include "actors/eligibility.hpp"
#include "actors/lifecycle.hpp"
#include "actors/templates.hpp"
#include "messages/records.hpp"
#include "messages/time.hpp"

namespace tenure {

/// The `tenure.node` group of tenured.conf.
struct node_settings {
  /// Where the RocksDB store lives (`DIR/db`), relative to the working
  /// directory. Default: "./data".
  std::string data_dir = "./data";
  /// Address of the HTTP gateway and the shell endpoint. Default: "127.0.0.1".
  std::string host = "127.0.0.1";
  /// HTTP gateway port, 1..65535. Default: 8640.
  uint16_t http_port = 8640;
  /// Operator shell endpoint port, 1..65535. Default: 8641.
  uint16_t shell_port = 8641;
  /// `system`, `manual` or `accelerated` (see actors/clock.hpp).
  /// Default: "system".
  std::string clock = "system";
  /// Domain days per real second of the accelerated clock. Default: 1.0.
  double clock_days_per_second = 1.0;
  /// `trace`, `debug`, `info`, `warn`, `error` or `off`. Default: "info".
  std::string log_level = "info";
};

/// The `tenure.store` group of tenured.conf.
struct store_settings {
  /// Acknowledge a commit only once its write-ahead log is fsynced.
  /// Default: true.
  bool sync = true;
  /// Most commits merged into one synced write. Default: 1024.
  size_t max_group_commits = 1024;
  /// Most bytes merged into one synced write. Default: 4 MiB.
  size_t max_group_bytes = size_t{4} << 20;
  /// RocksDB block cache; configured in MiB (`block-cache-mib`).
  /// Default: 64 MiB.
  size_t block_cache_bytes = size_t{64} << 20;
};

/// The `tenure.registry` group of tenured.conf.
struct registry_settings {
  /// An entity actor idle this long is passivated. Default: 5min.
  duration idle_passivation = std::chrono::minutes(5);
  /// Entity activations per second before messages to cold entities wait;
  /// 0 = no limit.
  size_t max_activations_per_second = 5000;
};

/// The `tenure.data` group of tenured.conf: where the data files are. After
/// loading, relative paths have been resolved against the directory of
/// tenured.conf.
struct data_files {
  /// Default: "catalog.json".
  std::string catalog = "catalog.json";
  /// Default: "policies.json".
  std::string policies = "policies.json";
  /// Default: "eligibility.json".
  std::string eligibility = "eligibility.json";
  /// Default: "programs.json".
  std::string programs = "programs.json";
  /// The notification templates. Default: "templates.json".
  std::string templates = "templates.json";
  /// The support routing table (seeds 000/001). Default: "routing.json".
  std::string routing = "routing.json";
};

/// The `tenure.outbox` group of tenured.conf: where notifications go.
struct outbox_settings {
  /// The local mail directory (one RFC 5322 file per notification, chat
  /// notices under `chat/`). Empty: `DATA-DIR/mail`. Default: "".
  std::string mail_dir;
  /// `smtp://host:port` or `smtps://host:port`; empty: no SMTP, emails go
  /// to the mail directory. Default: "".
  std::string smtp_url;
  /// SMTP login; the password is read from `smtp-password-file` so it never
  /// sits in the configuration. Defaults: "".
  std::string smtp_user;
  std::string smtp_password_file;
  /// The base of outreach emails' tracked addresses; empty:
  /// `http://127.0.0.1:HTTP-PORT`. Default: "".
  std::string tracking_url;
  /// The secret signing them; empty: `DATA-DIR/tracking.secret`, made on
  /// first start. Default: "".
  std::string tracking_secret_file;
  /// Attempts before a notification is marked failed. Default: 8.
  uint32_t max_attempts = 8;
  /// Backoff after the first failed attempt (domain time); doubles up to
  /// one hour. Default: 1min.
  duration backoff = std::chrono::minutes(1);
};

/// The `tenure.verifier` group: the external verifier (SheerID in seed 001).
struct verifier_settings {
  /// Base URL; verifications are created with `POST URL/verifications`.
  /// Empty: a local stand-in accepts every verification and the result
  /// comes only through the callback or the review queue. Default: "".
  std::string url;
  /// File holding the API key sent as a bearer token. Default: "".
  std::string key_file;
  /// Per-request timeout. Default: 10s.
  duration timeout = std::chrono::seconds(10);
  /// File with the secret the verifier signs its callbacks with
  /// (`Tenure-Signature`). Empty: `DATA-DIR/verifier-callback.secret`,
  /// created with a random secret on first start. Default: "".
  std::string callback_secret_file;
};

/// The `tenure.timers` group: how supervisors read their durable timers.
struct timer_settings {
  /// Longest sleep before looking for newly armed timers. Default: 250ms.
  duration poll = std::chrono::milliseconds(250);
  /// Timers fired at once per supervisor. Default: 256.
  size_t batch = 256;
};

/// The `tenure.gateway` group: the HTTP gateway and the API behind it (and
/// the shell endpoint, which shares the API).
struct gateway_settings {
  /// The API keys file (names, SHA-256 of tokens, scopes; see
  /// nodes/auth.hpp). Empty: `DATA-DIR/keys.json`, created on first start
  /// with one admin key whose token goes to `DATA-DIR/admin.token`.
  /// Default: "".
  std::string keys_file;
  /// HTTP worker threads; each request holds one while the actors answer.
  /// 1..256. Default: 8.
  size_t threads = 8;
  /// Largest request body, in MiB (coupon CSV imports are the largest).
  /// 1..1024. Default: 8.
  size_t max_body_mib = 8;
  /// How long a connection may take to send a request or read an answer.
  /// At most "5min". Default: "10s".
  duration io_timeout = std::chrono::seconds(10);
  /// How long a request waits for the actors before 504. At most "5min".
  /// Default: "10s".
  duration request_timeout = std::chrono::seconds(10);
};

/// The timing and coupon policies of config/policies.json.
struct policies {
  /// After a subscription's end date (seed 002: 14 days).
  duration grace_period = std::chrono::duration_cast<duration>(days{14});
  /// After the grace period ends, emergency licenses may be issued for this
  /// long (seed 002: 3 days).
  duration emergency_window = std::chrono::duration_cast<duration>(days{3});
  /// Validity of an emergency license unless support asks for another
  /// (seed 002: 5 days). Invariant: `<= emergency_max_days`.
  uint32_t emergency_default_days = 5;
  /// Hard cap of an emergency license (seed 002: 10 days).
  uint32_t emergency_max_days = 10;
  /// Seed 001, compliance: 30 days.
  duration cure_period = std::chrono::duration_cast<duration>(days{30});
  /// Renewal reminders before the end date, largest first, distinct and
  /// positive. Default: 90d, 30d, 7d, 1d.
  std::vector<duration> reminder_offsets;
  /// Wait for the external verifier before a retry.
  duration verification_timeout = std::chrono::duration_cast<duration>(days{2});
  /// Retries before the application goes to manual review.
  uint32_t verification_retries = 2;
  /// The program team answers manual reviews within this many business days.
  uint32_t review_business_days = 5;
  /// A pool whose runway falls below this many days reports low stock.
  uint64_t low_stock_runway_days = 60;
  /// Seed 001's yearly-need parameters, one entry per program.
  std::map<program, coupon_forecast> forecasts;
};

/// One program of config/programs.json.
struct program_info {
  tenure::program id = program::edu;
  /// Display name, e.g. "Denomas for Education".
  std::string name;
  /// The program inbox, e.g. education@denomas.com.
  std::string inbox;
  /// Base of the program-specific checkout link in success emails.
  std::string checkout_url;
  /// Who verifies applications: sheerid (EDU, OSS) or marketo (Startups).
  tenure::channel verification_channel = channel::sheerid;
  /// The support macro, e.g. "EDU Response".
  std::string support_macro;
};

/// The SKU catalog (config/catalog.json), in file order.
class catalog {
public:
  catalog() = default;

  /// Precondition: ids are unique (the loader checks).
  explicit catalog(std::vector<sku> skus);

  const std::vector<sku>& all() const noexcept {
    return skus_;
  }

  /// The SKU with `id`, or null.
  const sku* find(std::string_view id) const;

  /// The SKUs of `p`, in file order.
  std::vector<const sku*> of(program p) const;

private:
  std::vector<sku> skus_;
};

/// Everything a node is configured with.
/// `tenure.cluster`: the members and how they find and trust each other.
struct cluster_settings {
  /// This node's name among `members`; empty: a single node, no cluster.
  std::string node;
  /// Every member as "name@host:port" (the node-to-node CAF port), in any
  /// order; ownership depends on the names only.
  std::vector<std::string> members;
  /// File with the secret the members share (at least 32 bytes): a peer
  /// proves it knows it before the node takes any message from it.
  std::string secret_file;
  /// How long connecting to a peer may take. Default: 2 s.
  duration connect_timeout = std::chrono::seconds(2);
  /// Pause between connection attempts to a peer that is down. Default: 1 s.
  duration reconnect = std::chrono::seconds(1);
};

struct settings {
  node_settings node;
  cluster_settings cluster;
  store_settings store;
  registry_settings registry;
  outbox_settings outbox;
  verifier_settings verifier;
  timer_settings timers;
  gateway_settings gateway;
  data_files files;
  tenure::policies policy;
  eligibility_rules eligibility;
  /// One entry for each of edu, oss and startups.
  std::map<program, program_info> programs;
  /// The community-programs team channel (escalations).
  std::string community_channel;
  /// `#support_licensing-subscription` (seed 002).
  std::string licensing_channel;
  tenure::catalog skus;
};

/// Reads the `tenure` group out of `cfg`, already parsed from `conf_path`
/// (so that CAF and Tenure share one file), then loads the data files it
/// names. Also refuses keys in CAF's groups that CAF does not declare and
/// values of the wrong type, which CAF 0.17.6 keeps silently. `conf_path`
/// names the file in messages and anchors relative data-file paths.
caf::expected<settings> read_settings(const caf::actor_system_config& cfg,
                                      const std::string& conf_path);

/// Parses `conf_path` into `cfg` (CAF's settings take effect when the actor
/// system is built from `cfg`), then calls `read_settings`. Fails on a
/// missing file, a syntax error (with line and column), an unknown key, a
/// wrong type or a bad value.
caf::expected<settings> load_settings(caf::actor_system_config& cfg,
                                      const std::string& conf_path);

/// Loads `conf_path` with a throwaway CAF config, for tests and tools, e.g.
/// `load_settings(source_dir + "/config/tenured.conf")`.
caf::expected<settings> load_settings(const std::string& conf_path);

/// The policy as the rules and supervisors take it: policies.json plus the
/// program inboxes and the licensing channel of programs.json.
lifecycle_policy lifecycle_policy_of(const settings& s);

/// The program names, inboxes and checkout links the templates fill in.
program_texts program_texts_of(const settings& s);

/// Loads the data files named by `base.files` into `base`, keeping its other
/// members.
caf::expected<settings> load_data_files(settings base);

} // namespace tenure
