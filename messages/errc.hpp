#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace tenure {

/// Error codes of Tenure. They cross the wire inside a `caf::error` (category
/// `tenure_error_category`), so values are stable: append, never renumber.
/// Zero is reserved by CAF for "no error".
enum class errc : uint8_t {
  /// A field of a request or command is missing or malformed.
  invalid_argument = 1,
  /// The addressed entity (application, subscription, case, ...) does not
  /// exist.
  not_found,
  /// The entity already exists (duplicate id or natural key).
  already_exists,
  /// The command is not allowed in the entity's current state.
  illegal_transition,
  /// The applicant does not meet a program's eligibility rules.
  ineligible,
  /// Checkout: the coupon code was redeemed before.
  code_already_used,
  /// Checkout: the coupon code is unknown.
  code_invalid,
  /// The program's coupon pool has no available code.
  pool_empty,
  /// The SKU does not belong to the program of the code or application.
  sku_mismatch,
  /// The organisation already holds an active subscription in the program.
  duplicate_subscription,
  /// The store could not read or write (I/O error, disk full, closed).
  storage_failure,
  /// Stored or received bytes failed validation.
  corrupt_data,
  /// Input exceeds a size limit.
  too_large,
  /// A concurrent writer changed the entity first (version mismatch), or an
  /// idempotency key was reused with a different request.
  conflict,
  /// Missing or invalid credentials.
  unauthorized,
  /// Valid credentials without the required scope or role.
  forbidden,
  /// A configuration value is missing or invalid.
  config_invalid,
  /// An operation did not finish in time.
  timeout,
  /// The service is shutting down or not ready.
  unavailable,
  /// Stored data was written by a newer schema than this build knows.
  schema_too_new,
  /// The request is valid but outside policy, e.g. an emergency license for
  /// an organisation without a paid plan (seed 002); the message says why.
  refused,
};

/// The CAF error category of `errc`; registered with the actor system so
/// errors render as `tenure::<code>: <message>` on every node.
constexpr caf::atom_value tenure_error_category = caf::atom("tenure");

/// The code's name, e.g. `code_already_used`.
std::string to_string(errc x);

/// Parses a code's name; returns false for an unknown name.
bool from_string(std::string_view str, errc& x);

/// The default message of a code: one sentence a user can act on.
/// For checkout codes these are the exact texts of seed 001.
std::string_view default_message(errc x);

/// Makes a `caf::error` of category `tenure`. `detail` replaces the default
/// message when not empty; it must say what failed and what to do, and must
/// not contain secrets (coupon codes, tokens).
caf::error make_error(errc x, std::string detail = {});

/// Returns the `errc` of `err` if it is a Tenure error.
bool is_tenure_error(const caf::error& err) noexcept;

/// Compares `err` against a code.
bool operator==(const caf::error& err, errc x) noexcept;
inline bool operator!=(const caf::error& err, errc x) noexcept {
  return !(err == x);
}

/// The message a user sees: the detail when present, else the default message.
/// Works for CAF's own errors too (renders them through `system`'s renderer
/// when given, else generically).
std::string error_message(const caf::error& err);

/// The code name of `err`: the `errc` name for Tenure errors, else
/// `<category>:<code>`.
std::string error_code(const caf::error& err);

} // namespace tenure
