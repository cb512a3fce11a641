#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include <caf/meta/type_name.hpp>

#include "messages/time.hpp"

namespace tenure {

/// Number of characters after the prefix: a ULID (10 characters of
/// millisecond timestamp, 16 of randomness, Crockford base32). Ids of one kind
/// therefore sort by creation time, as text and as store keys.
constexpr size_t id_body_length = 26;

/// Checks that `body` is 26 characters of Crockford base32 (upper case).
bool is_valid_id_body(std::string_view body) noexcept;

/// A typed identifier such as `app_01JD3Q0V8C6X2E1D0PZ5K3W9YB`. The tag
/// provides `prefix` and `type_name`; distinct tags make distinct types, so
/// an application id cannot be passed where a subscription id is expected.
template <class Tag>
class basic_id {
public:
  static constexpr std::string_view prefix = Tag::prefix;

  basic_id() = default;

  /// Validates `str` (prefix and body) and wraps it.
  static std::optional<basic_id> parse(std::string_view str) {
    if (str.size() != prefix.size() + id_body_length
        || str.substr(0, prefix.size()) != prefix
        || !is_valid_id_body(str.substr(prefix.size())))
      return std::nullopt;
    basic_id result;
    result.value_ = std::string{str};
    return result;
  }

  /// Wraps a ULID body produced by an `id_generator`.
  /// Precondition: `is_valid_id_body(body)`.
  static basic_id from_body(std::string_view body) {
    basic_id result;
    result.value_.reserve(prefix.size() + body.size());
    result.value_.append(prefix);
    result.value_.append(body);
    return result;
  }

  const std::string& str() const noexcept {
    return value_;
  }

  bool empty() const noexcept {
    return value_.empty();
  }

  friend bool operator==(const basic_id& x, const basic_id& y) noexcept {
    return x.value_ == y.value_;
  }
  friend bool operator!=(const basic_id& x, const basic_id& y) noexcept {
    return x.value_ != y.value_;
  }
  friend bool operator<(const basic_id& x, const basic_id& y) noexcept {
    return x.value_ < y.value_;
  }

  friend std::string to_string(const basic_id& x) {
    return x.value_;
  }

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, basic_id& x) {
    return f(caf::meta::type_name(Tag::type_name), x.value_);
  }

  /// For the storage codec, which reads untrusted bytes: only a valid id or
  /// the empty id is accepted.
  bool assign(std::string_view str) {
    if (str.empty()) {
      value_.clear();
      return true;
    }
    auto parsed = parse(str);
    if (!parsed)
      return false;
    *this = std::move(*parsed);
    return true;
  }

private:
  std::string value_;
};

// -- id kinds -----------------------------------------------------------------

#define TENURE_ID_KIND(name, pfx)                                              \
  struct name##_tag {                                                          \
    static constexpr std::string_view prefix = pfx;                            \
    static constexpr const char* type_name = "tenure::" #name;                 \
  };                                                                           \
  using name = basic_id<name##_tag>

/// An application (stage 0-3).
TENURE_ID_KIND(app_id, "app_");
/// A subscription (stage 3-5).
TENURE_ID_KIND(sub_id, "sub_");
/// A compliance case (stage 4).
TENURE_ID_KIND(case_id, "case_");
/// A weekend emergency license (seed 002).
TENURE_ID_KIND(em_id, "em_");
/// An organisation.
TENURE_ID_KIND(org_id, "org_");
/// An outbox notification.
TENURE_ID_KIND(ntf_id, "ntf_");
/// A durable timer.
TENURE_ID_KIND(tmr_id, "tmr_");
/// An audit record.
TENURE_ID_KIND(aud_id, "aud_");
/// A coupon import run.
TENURE_ID_KIND(imp_id, "imp_");
/// A customer account of the outreach programs (seed 003).
TENURE_ID_KIND(acct_id, "acct_");
/// A contact of an account.
TENURE_ID_KIND(con_id, "con_");
/// An outreach program: an email, a series, a webinar, a newsletter, a
/// survey (seed 003).
TENURE_ID_KIND(prg_id, "prg_");

#undef TENURE_ID_KIND

// -- generation ---------------------------------------------------------------

/// Makes ULID bodies: 48 bits of milliseconds from the caller's clock reading
/// and 80 random bits. Within one millisecond the random part increments, so
/// ids from one generator are strictly increasing (monotonic ULID).
/// Thread-safe.
class id_generator {
public:
  /// Seeds from `std::random_device`.
  id_generator();

  /// Deterministic seed, for tests.
  explicit id_generator(uint64_t seed);

  /// A new 26-character body for the time `now`.
  std::string next_body(time_point now);

  template <class Id>
  Id next(time_point now) {
    for (;;) {
      auto id = Id::from_body(next_body(now));
      if (!accept_ || accept_(id.str()))
        return id;
    }
  }

  /// Only ids `accept` takes are handed out; the others are drawn and
  /// skipped. A cluster node accepts the ids it owns, so that every entity
  /// is born on its owner and is found there by its id alone (rendezvous
  /// ownership: about one draw in N is kept on N members). Set it before
  /// the generator is shared; `accept` must accept some ids.
  void only(std::function<bool(std::string_view)> accept) {
    accept_ = std::move(accept);
  }

private:
  std::function<bool(std::string_view)> accept_;
  std::mutex mtx_;
  std::mt19937_64 rng_;
  uint64_t last_ms_ = 0;
  uint16_t hi_ = 0; // upper 16 of the 80 random bits
  uint64_t lo_ = 0; // lower 64 of the 80 random bits
};

} // namespace tenure
