#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "messages/time.hpp"

/// Key layout of the store. RocksDB orders keys bytewise, so numbers are
/// written big-endian (be64) and text components are separated by 0x00: then
/// key order is the order we query in (events by sequence, timers by due
/// time, an entity's rows together). Text components must therefore not
/// contain 0x00; `batch` refuses such input.
///
// clang-format off
/// | column family | key                                      | value                    |
/// | ------------- | ---------------------------------------- | ------------------------ |
/// | snapshots     | entity                                   | be64(version) + bytes    |
/// | events        | entity 0x00 be64(seq)                    | event bytes              |
/// | timers        | owner 0x00 due64(due) 0x00 timer-id      | msgpack timer            |
/// | timer_index   | entity 0x00 kind 0x00 timer-id           | owner 0x00 due64(due)    |
/// | outbox        | notification id (ULID: time order)       | caller's bytes           |
/// | coupons       | program 0x00 code                        | caller's bytes           |
/// | audit         | audit id                                 | caller's bytes           |
/// | idempotency   | scope 0x00 key                           | caller's bytes           |
/// | meta          | name                                     | caller's bytes           |
// clang-format on
///
/// `due64` is be64 of the Unix milliseconds with the sign bit flipped, so
/// that times before 1970 (negative) still sort first. A timer index value
/// followed by 0x00 and the timer id is exactly the timer's key: cancelling
/// by entity needs no second lookup. Timers are keyed by owner first: a
/// supervisor reads its due timers without stepping over the (possibly
/// millions of) pending timers of the others.
namespace tenure::storage {

/// Separator between text components of a key.
constexpr char key_separator = '\0';

/// Appends `x` as 8 bytes, most significant first.
void append_be64(std::string& out, uint64_t x);

/// `x` as 8 bytes, most significant first.
std::string be64(uint64_t x);

/// Reads the first 8 bytes of `in` as a big-endian number; nothing when `in`
/// is shorter.
std::optional<uint64_t> read_be64(std::string_view in) noexcept;

/// The order-preserving unsigned form of a time: Unix ms, sign bit flipped.
constexpr uint64_t due_bits(time_point t) noexcept {
  return static_cast<uint64_t>(to_unix_ms(t)) ^ (uint64_t{1} << 63);
}

/// Inverse of `due_bits`.
constexpr time_point from_due_bits(uint64_t x) noexcept {
  return from_unix_ms(static_cast<int64_t>(x ^ (uint64_t{1} << 63)));
}

/// Key of an entity's snapshot.
std::string snapshot_key(std::string_view entity);

/// Key of an entity's event `seq`.
std::string event_key(std::string_view entity, uint64_t seq);

/// Prefix of all event keys of an entity.
std::string event_prefix(std::string_view entity);

/// Key of a timer: by owner, then in due order.
std::string timer_key(time_point due, std::string_view owner,
                      std::string_view timer_id);

/// Prefix of the timer keys of `owner` (a supervisor reads only its own).
std::string timer_prefix(std::string_view owner);

/// Upper bound (exclusive) of the timer keys of `owner` due before `until`.
std::string timer_bound(std::string_view owner, time_point until);

/// Key of a timer in the entity index.
std::string timer_index_key(std::string_view entity, std::string_view kind,
                            std::string_view timer_id);

/// Prefix of the index keys of an entity's timers of `kind`; of all its
/// timers when `kind` is empty.
std::string timer_index_prefix(std::string_view entity,
                               std::string_view kind = {});

/// Value of a timer's index row: the timer key without the id suffix.
std::string timer_index_value(time_point due, std::string_view owner);

/// Key of a coupon code of a program.
std::string coupon_key(std::string_view program, std::string_view code);

/// Key of an idempotency record.
std::string idempotency_key(std::string_view scope, std::string_view key);

/// The smallest string greater than every string that starts with `prefix`,
/// i.e. the exclusive upper bound of a prefix scan; empty (no bound) when
/// `prefix` is empty or all 0xff.
std::string prefix_successor(std::string_view prefix);

/// Splits `key` at its 0x00 separators into at most `n` parts (the last part
/// keeps any further separators). Returns the number of parts found.
size_t split_key(std::string_view key, std::string_view* parts, size_t n);

} // namespace tenure::storage
