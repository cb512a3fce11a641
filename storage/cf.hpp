#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tenure::storage {

/// The column families of the store. Each holds one kind of row; keys and
/// values are laid out as documented in storage/keys.hpp. Values are stable
/// (they index arrays): append, never renumber.
enum class cf : uint8_t {
  /// Entity snapshots: key = entity id, value = be64(version) + bytes.
  snapshots,
  /// Entity events: key = entity + 0x00 + be64(seq), value = event bytes.
  events,
  /// Durable timers in due order: key = be64(due) + owner + 0x00 + timer id,
  /// value = the msgpack-encoded `tenure::timer`.
  timers,
  /// Timers by entity: key = entity + 0x00 + kind + 0x00 + timer id,
  /// value = be64(due) + owner (the timer key without its id suffix).
  timer_index,
  /// Outgoing notifications: key = notification id (ULIDs sort by time).
  outbox,
  /// Coupon codes: key = program + 0x00 + code.
  coupons,
  /// Audit records: key = audit id.
  audit,
  /// Idempotency keys: key = scope + 0x00 + key.
  idempotency,
  /// Small bookkeeping rows (format version, watermarks).
  meta,
  /// The outreach desk's rows besides snapshots (actors/outreach_desk.hpp):
  /// `c/PROGRAM` counts, `d/NOTIFICATION` a delivery, `r/PROGRAM/ID` a
  /// survey response, `a/PROGRAM/CONTACT` answered, `s/PROGRAM/STEP` the
  /// cursor of a step being sent.
  outreach,
};

/// Number of column families in `cf`.
constexpr size_t cf_count = 10;

/// All column families, in enum order.
constexpr std::array<cf, cf_count> all_cfs{
  cf::snapshots, cf::events, cf::timers,      cf::timer_index, cf::outbox,
  cf::coupons,   cf::audit,  cf::idempotency, cf::meta,        cf::outreach,
};

/// The column family's name, also its name inside RocksDB, e.g. `outbox`.
constexpr std::string_view to_string(cf x) noexcept {
  constexpr std::array<std::string_view, cf_count> names{
    "snapshots", "events", "timers",      "timer_index", "outbox",
    "coupons",   "audit",  "idempotency", "meta",        "outreach",
  };
  auto i = static_cast<size_t>(x);
  return i < cf_count ? names[i] : std::string_view{"unknown"};
}

/// Parses a column family's name.
constexpr std::optional<cf> cf_from_string(std::string_view str) noexcept {
  for (auto x : all_cfs)
    if (to_string(x) == str)
      return x;
  return std::nullopt;
}

/// Whether rows of `x` may be written with the generic `batch::put`,
/// `batch::insert` and `batch::erase`. The others carry invariants (snapshot
/// versions, the timer index) that only their dedicated operations keep.
constexpr bool is_generic(cf x) noexcept {
  switch (x) {
    case cf::outbox:
    case cf::coupons:
    case cf::audit:
    case cf::idempotency:
    case cf::meta:
    case cf::outreach:
      return true;
    default:
      return false;
  }
}

} // namespace tenure::storage
