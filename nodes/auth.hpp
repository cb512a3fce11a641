#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

/// Bearer tokens with scopes, for the HTTP gateway and the operator shell.
///
/// The keys file (JSON) holds, per key, a name, the SHA-256 of its token
/// (never the token) and its scopes:
///
///     {"keys": [{"name": "ops-anna", "token_sha256": "9f86...",
///                "scopes": ["read", "review"]}]}
///
/// Scopes: `read`, `write` (applications, checkout, subscriptions),
/// `review` (manual review decisions), `support` (emergency licenses,
/// triage, compliance), `billing` (paid subscriptions), `coupon-admin`
/// (raw coupon codes, imports), `admin` (everything, the clock).
namespace tenure {

/// The scopes a key may hold.
const std::vector<std::string>& known_scopes();

struct api_key {
  std::string name;
  /// SHA-256 of the token, raw bytes.
  std::string token_hash;
  std::vector<std::string> scopes;

  /// Whether the key grants `scope` (`admin` grants every scope).
  bool grants(std::string_view scope) const;
};

class key_ring {
public:
  /// Loads `file`; errors are `errc::config_invalid` as `FILE: key: what`.
  static caf::expected<key_ring> load(const std::string& file);

  /// Parses the keys file's text; `origin` names it in errors.
  static caf::expected<key_ring> parse(std::string_view text,
                                       const std::string& origin);

  /// The key of an `Authorization` header value (`Bearer TOKEN`) if it
  /// grants `scope`: `errc::unauthorized` for a missing, malformed or
  /// unknown token, `errc::forbidden` for a known token without the scope.
  /// Every key is compared, in constant time, whatever matches.
  caf::expected<const api_key*> authorize(std::string_view header,
                                          std::string_view scope) const;

  const std::vector<api_key>& keys() const noexcept {
    return keys_;
  }

private:
  std::vector<api_key> keys_;
};

/// SHA-256 of `data`, raw bytes.
std::string sha256(std::string_view data);

/// A new random token: 32 bytes from the OS, hex (64 characters).
std::string new_token();

/// Where the first-start admin key went.
struct first_key {
  std::string keys_file;
  std::string token_file;
};

/// When `keys_file` does not exist: creates it with one `admin` key, and
/// writes the token to `token_file`, both readable by the owner only (0600),
/// so the operator can read the token once and keep it elsewhere. Returns
/// nothing when the keys file exists already.
caf::expected<std::optional<first_key>>
ensure_keys_file(const std::string& keys_file, const std::string& token_file);

/// When `file` does not exist: writes a new random secret (as `new_token`)
/// to it, readable by the owner only, and returns true. False when it
/// existed already.
caf::expected<bool> ensure_secret_file(const std::string& file);

} // namespace tenure
