#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace tenure {

/// Names of an enum's values, indexed by value. Every domain enum specializes
/// this, which gives it `to_string`, `from_string` and the storage codec
/// (enums are stored by name, so values may be reordered or appended).
template <class E>
struct enum_names;

template <class E, class = void>
struct is_named_enum : std::false_type {};

template <class E>
struct is_named_enum<E, std::void_t<decltype(enum_names<E>::values)>>
  : std::true_type {};

#define TENURE_ENUM_NAMES(type, ...)                                           \
  template <>                                                                  \
  struct enum_names<type> {                                                    \
    static constexpr std::string_view values[] = {__VA_ARGS__};                \
  }

// -- programs and offerings ---------------------------------------------------

/// A community program. `none` marks a subscription outside the programs
/// (a paid plan registered from billing).
enum class program : uint8_t { edu, oss, startups, none };
TENURE_ENUM_NAMES(program, "edu", "oss", "startups", "none");

enum class hosting : uint8_t { saas, self_managed };
TENURE_ENUM_NAMES(hosting, "saas", "self_managed");

/// Whether an offering includes a Support line.
enum class support : uint8_t { without, with };
TENURE_ENUM_NAMES(support, "without", "with");

/// A line's term in years.
enum class term : uint8_t { one_year, three_years };
TENURE_ENUM_NAMES(term, "1y", "3y");

/// The product of a SKU or subscription line.
enum class product : uint8_t { ultimate, support };
TENURE_ENUM_NAMES(product, "ultimate", "support");

/// What a subscription is: granted by a community program, or paid.
enum class plan : uint8_t { community, paid };
TENURE_ENUM_NAMES(plan, "community", "paid");

// -- applications -------------------------------------------------------------

/// Where an application came from (seed 001: SheerID hosts EDU and OSS, a
/// Marketo form takes Startups).
enum class channel : uint8_t { sheerid, marketo, portal };
TENURE_ENUM_NAMES(channel, "sheerid", "marketo", "portal");

enum class application_kind : uint8_t { new_member, renewal };
TENURE_ENUM_NAMES(application_kind, "new", "renewal");

/// EDU institution level; K-12 is on hold.
enum class edu_level : uint8_t { university, k12 };
TENURE_ENUM_NAMES(edu_level, "university", "k12");

/// The seven stages of seed 001.
enum class stage : uint8_t {
  application,
  verification,
  booking,
  provisioning,
  compliance,
  renewal,
  support,
};
TENURE_ENUM_NAMES(stage, "application", "verification", "booking",
                  "provisioning", "compliance", "renewal", "support");

/// States of an application (see actors/ for the transition table).
enum class application_state : uint8_t {
  /// Refused at submission by an eligibility rule (terminal).
  ineligible,
  /// With the external verifier.
  verifying,
  /// Waiting in the program team's manual review queue.
  in_review,
  /// The verifier or reviewer asked the applicant for documents.
  documents_requested,
  /// Refused; the applicant may appeal a false rejection.
  rejected,
  /// Verified and waiting for a coupon code from an empty pool.
  awaiting_code,
  /// Given a code; the success email is on its way.
  booked,
  /// The code was redeemed at checkout; a subscription exists (terminal).
  redeemed,
  /// The applicant withdrew (terminal).
  withdrawn,
};
TENURE_ENUM_NAMES(application_state, "ineligible", "verifying", "in_review",
                  "documents_requested", "rejected", "awaiting_code", "booked",
                  "redeemed", "withdrawn");

/// The result of a verification, from the verifier or a reviewer.
enum class verification_outcome : uint8_t {
  verified,
  rejected,
  documents_requested,
};
TENURE_ENUM_NAMES(verification_outcome, "verified", "rejected",
                  "documents_requested");

/// Who decides a verification.
enum class verification_path : uint8_t { external, manual };
TENURE_ENUM_NAMES(verification_path, "external", "manual");

// -- subscriptions and compliance ---------------------------------------------

enum class subscription_state : uint8_t {
  active,
  /// Past its end date, inside the 14-day grace period.
  expired,
  /// Past the grace period.
  lapsed,
  /// A curable compliance case is open.
  in_cure,
  /// Debooked after an uncured compliance case; the license is revoked.
  terminated,
  /// Revoked immediately.
  revoked,
  /// Superseded by its renewal.
  renewed,
};
TENURE_ENUM_NAMES(subscription_state, "active", "expired", "lapsed", "in_cure",
                  "terminated", "revoked", "renewed");

enum class case_state : uint8_t { open, cured, terminated, revoked };
TENURE_ENUM_NAMES(case_state, "open", "cured", "terminated", "revoked");

enum class coupon_state : uint8_t { available, reserved, redeemed };
TENURE_ENUM_NAMES(coupon_state, "available", "reserved", "redeemed");

// -- notifications ------------------------------------------------------------

/// Where a notification goes: an email, or a team chat channel.
enum class notification_channel : uint8_t { email, chat };
TENURE_ENUM_NAMES(notification_channel, "email", "chat");

enum class delivery_state : uint8_t { pending, delivered, failed };
TENURE_ENUM_NAMES(delivery_state, "pending", "delivered", "failed");

/// Outcome of an audited attempt.
enum class outcome : uint8_t { success, failure };
TENURE_ENUM_NAMES(outcome, "success", "failure");

// -- generic helpers ----------------------------------------------------------

template <class E>
std::enable_if_t<is_named_enum<E>::value, std::string> to_string(E x) {
  auto i = static_cast<size_t>(x);
  const auto& names = enum_names<E>::values;
  if (i < std::size(names))
    return std::string{names[i]};
  return "?" + std::to_string(i);
}

template <class E>
std::enable_if_t<is_named_enum<E>::value, bool>
from_string(std::string_view str, E& x) {
  const auto& names = enum_names<E>::values;
  for (size_t i = 0; i < std::size(names); ++i)
    if (names[i] == str) {
      x = static_cast<E>(i);
      return true;
    }
  return false;
}

/// Parses `str` as an `E`, e.g. `parse_enum<program>("oss")`.
template <class E>
std::optional<E> parse_enum(std::string_view str) {
  E x{};
  if (from_string(str, x))
    return x;
  return std::nullopt;
}

/// The term as a number of years.
constexpr int years(term t) noexcept {
  return t == term::three_years ? 3 : 1;
}

} // namespace tenure
