#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.hpp"

/// Small tools of the end-to-end tests that talk to a real node over HTTP or
/// the shell. They are written independently of the node's own code (their
/// own HMAC, hashing and time parsing), so a node that signs, hashes or
/// formats differently from the catalog fails the tests instead of agreeing
/// with itself.
namespace tenure::test {

/// Lower-case hex of `size` bytes.
std::string to_hex(const unsigned char* data, size_t size);

/// SHA-256 of `data`, lower-case hex.
std::string sha256_hex(const std::string& data);

/// HMAC-SHA256(key, msg), lower-case hex: the verifier's signature.
std::string hmac_sha256_hex(const std::string& key, const std::string& msg);

/// `bytes` random bytes, hex; empty if the OS gives none.
std::string random_hex(size_t bytes);

/// The whole file, or empty.
std::string read_file(const std::string& path);

/// `s` without leading and trailing white space.
std::string trim(std::string s);

/// Milliseconds since the epoch of `2026-11-23T10:00:00Z` or
/// `2026-11-23T10:00:00.123Z`; nothing for anything else.
std::optional<int64_t> parse_iso_ms(const std::string& text);

/// `unix_ms` as `2026-11-23T10:00:00.123Z`.
std::string iso_ms(int64_t unix_ms);

constexpr int64_t day_ms = 86'400'000;

/// A free TCP port on loopback (bound and released: a node binds it a moment
/// later); 0 if none could be had.
int free_port();

/// A cluster's files under `root`: a copy of the shipped configuration in
/// `root/config` (its data files resolve next to it) with the cluster group
/// set, one keys file with an admin token, one verifier callback secret and
/// one cluster secret, all shared by the members, as README asks.
struct cluster_files {
  /// `members` as name@127.0.0.1:PORT with free ports.
  cluster_files(const std::string& root, std::vector<std::string> names);

  /// Another configuration file (`root/config/NAME`) of the same cluster,
  /// with `edits` applied to the text (from -> to, each must be found):
  /// another secret, member list or openssl group.
  std::string
  variant(const std::string& name,
          std::vector<std::pair<std::string, std::string>> edits) const;

  /// `--node NAME --http-port P --shell-port Q` of member `i`, with ports
  /// picked up front with the cluster ports: a node started with port 0
  /// could otherwise be given another member's cluster port.
  std::vector<std::string> node_flags(size_t i) const;

  std::string root;
  std::vector<std::string> names;
  std::vector<int> cluster_ports;
  std::vector<int> http_ports;
  std::vector<int> shell_ports;
  /// `root/config/tenured.conf`.
  std::string config;
  std::string admin_token;
  std::string callback_secret;
  std::string secret;
  /// The members as the configuration lists them.
  std::string members;
};

/// The tenured of this build and the shipped configuration.
std::string tenured_bin();
std::string default_config();

/// A real tenured on loopback with free HTTP and shell ports and its own
/// data directory. `extra` flags follow (e.g. `--clock manual`).
struct tenured_node {
  explicit tenured_node(const std::string& data,
                        std::vector<std::string> extra = {},
                        const std::string& config = default_config());

  /// SIGTERM, then the exit code (nothing on timeout).
  std::optional<int> stop();

  child_process proc;
  /// The `tenured: listening ...` line, once printed.
  std::optional<std::string> line;
  /// The HTTP port; 0 if the node did not come up.
  int port = 0;
  /// The shell endpoint as `127.0.0.1:PORT`.
  std::string shell;
};

/// Polls `probe` until it returns true or `timeout` passes, with a short
/// bounded pause between tries: for effects the node produces on its own
/// (outbox deliveries, pools), never as a wait for time to pass.
template <class Probe>
bool eventually(Probe probe,
                std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (probe())
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// A copy of `x` without secrets (coupon codes, license keys), for failure
/// messages: tests print nothing the node keeps out of its logs. `Json` is
/// nlohmann::json or nlohmann::ordered_json.
template <class Json>
Json redacted(Json x, const std::string& parent = {}) {
  if (x.is_object()) {
    for (auto& [k, v] : x.items()) {
      // `code` is secret in a redeem body, not in an error.
      bool secret = k == "coupon_code" || k == "license_key" || k == "codes"
                    || (k == "code" && parent != "error");
      if (secret)
        v = "<redacted>";
      else
        v = redacted(v, k);
    }
  } else if (x.is_array()) {
    for (auto& v : x)
      v = redacted(v, parent);
  }
  return x;
}

} // namespace tenure::test
