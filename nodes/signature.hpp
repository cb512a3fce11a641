#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/time.hpp"

/// Signed webhooks (the verifier's callback): header
/// `Tenure-Signature: t=UNIX,v1=HEX`, where HEX is
/// HMAC-SHA256(secret, "UNIX.BODY") in lower-case hex. Several `v1=` entries
/// may be given (secret rotation); one matching is enough.
namespace tenure {

/// A parsed signature header.
struct signature_header {
  /// Unix seconds the sender signed at.
  int64_t t = 0;
  /// The `v1` signatures, raw bytes (32 each).
  std::vector<std::string> v1;
};

/// Parses the header; errors (`errc::unauthorized`) say what is malformed,
/// never echo the header. Bounded: at most 4 KiB and 8 signatures, and `t`
/// from 1 to 253402300799 (9999-12-31T23:59:59Z).
caf::expected<signature_header> parse_signature_header(std::string_view text);

/// HMAC-SHA256 of `"T.BODY"` under `secret`, lower-case hex.
std::string sign_webhook(std::string_view secret, int64_t t,
                         std::string_view body);

/// Checks `header` for `body` at `now`: well formed, signed within
/// `tolerance` (either side), and one `v1` equal to the expected HMAC
/// (compared in constant time). Errors are `errc::unauthorized`. Replays
/// within the tolerance are the caller's to refuse (it remembers the
/// signatures it accepted, e.g. in the idempotency family).
caf::error verify_webhook(std::string_view secret, std::string_view header,
                          std::string_view body, time_point now,
                          duration tolerance = std::chrono::minutes(5));

/// The value of a hex digit (either case), or -1.
int hex_value(char c) noexcept;

/// Lower-case hex of `bytes`.
std::string to_hex(std::string_view bytes);

/// Constant-time equality of two byte strings (length is not secret).
bool constant_time_equal(std::string_view x, std::string_view y) noexcept;

} // namespace tenure
