#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "actors/coupon_rules.hpp"
#include "actors/eligibility.hpp"
#include "messages/records.hpp"
#include "messages/time.hpp"

/// The node's settings: the `tenure` group of tenured.conf plus the data
/// files it names (catalog, policies, eligibility, programs). Every value is
/// validated on load; the first bad one is reported as `errc::config_invalid`
/// naming the file and the key, and the node does not start.
namespace tenure {

/// `tenure.node.*`
struct node_settings {
  std::string data_dir = "./data";
  std::string host = "127.0.0.1";
  uint16_t http_port = 8640;
  uint16_t shell_port = 8641;
  std::string clock = "system";
  double clock_days_per_second = 1.0;
  std::string log_level = "info";
};

/// `tenure.store.*`
struct store_settings {
  bool sync = true;
  size_t max_group_commits = 1024;
  size_t max_group_bytes = size_t{4} << 20;
  size_t block_cache_bytes = size_t{64} << 20;
};

/// `tenure.registry.*`
struct registry_settings {
  duration idle_passivation = std::chrono::minutes(5);
};

/// config/policies.json
struct policies {
  /// After a subscription's end date (seed 002: 14 days).
  duration grace_period = std::chrono::duration_cast<duration>(days{14});
  /// After the grace period ends, emergency licenses may be issued for this
  /// long (seed 002: 3 days).
  duration emergency_window = std::chrono::duration_cast<duration>(days{3});
  uint32_t emergency_default_days = 5;
  uint32_t emergency_max_days = 10;
  /// Seed 001, compliance: 30 days.
  duration cure_period = std::chrono::duration_cast<duration>(days{30});
  /// Before the end date, largest first.
  std::vector<duration> reminder_offsets;
  /// Wait for the external verifier before a retry.
  duration verification_timeout = std::chrono::duration_cast<duration>(days{2});
  /// Retries before the application goes to manual review.
  uint32_t verification_retries = 2;
  /// The program team answers manual reviews within this many business days.
  uint32_t review_business_days = 5;
  uint64_t low_stock_runway_days = 60;
  std::map<program, coupon_forecast> forecasts;
};

/// config/programs.json: one program.
struct program_info {
  tenure::program id = program::edu;
  std::string name;
  std::string inbox;
  std::string checkout_url;
  tenure::channel verification_channel = channel::sheerid;
  std::string support_macro;
};

/// The SKU catalog (config/catalog.json).
class catalog {
public:
  catalog() = default;
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

struct settings {
  node_settings node;
  store_settings store;
  registry_settings registry;
  tenure::policies policy;
  eligibility_rules eligibility;
  std::map<program, program_info> programs;
  /// The community-programs team channel.
  std::string community_channel;
  /// `#support_licensing-subscription` (seed 002).
  std::string licensing_channel;
  tenure::catalog skus;
};

/// Parses `conf_path` into `cfg` (CAF's settings take effect when the actor
/// system is built from `cfg`), reads the `tenure` group and loads the data
/// files it names. Fails on a missing file, a syntax error (with line and
/// column), an unknown key under `tenure`, a wrong type or a bad value.
caf::expected<settings> load_settings(caf::actor_system_config& cfg,
                                      const std::string& conf_path);

/// Loads only the data files (for tests and tools).
caf::expected<settings> load_data_files(settings base,
                                        const std::string& catalog_path,
                                        const std::string& policies_path,
                                        const std::string& eligibility_path,
                                        const std::string& programs_path);

} // namespace tenure
