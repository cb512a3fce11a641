// Fuzz target: stored records, as the store hands them to the actors and the
// API (messages/codec.hpp, messages/event_codec.hpp, storage/apply.hpp).
//
// The first byte picks the decoder, the rest is its input:
// - 0 .. N-1: `decode<T>` of the Nth record type (every record, command and
//   event of messages/);
// - N: an event envelope, then its typed event as each entity's history
//   reads it (`unwrap_event`, `summarize`);
// - N+1: a snapshots row (`parse_snapshot`, then the entity states);
// - N+2 / N+3: a timers / timer index row: one byte of key length, the key,
//   then the value (`parse_timer_row`, `parse_timer_index`).
//
// Oracles besides the sanitizers: errors are the documented codes, and what
// decodes survives encode -> decode unchanged (and encodes the same again).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <string_view>
#include <tuple>

#include "actors/entity_io.hpp"
#include "messages/codec.hpp"
#include "messages/commands.hpp"
#include "messages/event_codec.hpp"
#include "messages/events.hpp"
#include "messages/records.hpp"
#include "storage/apply.hpp"
#include "tests/support/record_types.hpp"

using namespace tenure;

namespace {

using test::record_types;

constexpr size_t record_count = std::tuple_size_v<record_types>;

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "record_fuzz: %s %.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void check_error(const caf::error& err) {
  if (err != errc::corrupt_data && err != errc::too_large
      && err != errc::schema_too_new)
    fail("unexpected error code:", error_message(err));
}

/// Decodes `bytes` as a `T`; a success must round-trip.
template <class T>
caf::expected<T> decode_checked(std::string_view bytes) {
  auto x = decode<T>(bytes);
  if (!x) {
    check_error(x.error());
    return x;
  }
  auto once = encode(*x);
  auto y = decode<T>(once);
  if (!y)
    fail("re-encoded record does not decode:", error_message(y.error()));
  if (!(*y == *x))
    fail("round trip changed the record", T::record_name);
  if (encode(*y) != once)
    fail("encoding is not deterministic", T::record_name);
  return x;
}

template <size_t I = 0>
void decode_nth(size_t n, std::string_view bytes) {
  if constexpr (I < record_count) {
    if (n == I)
      decode_checked<std::tuple_element_t<I, record_types>>(bytes);
    else
      decode_nth<I + 1>(n, bytes);
  }
}

template <class Variant>
void history(const event_envelope& env) {
  auto ev = unwrap_event<Variant>(env);
  if (!ev) {
    check_error(ev.error());
    return;
  }
  auto text = std::visit([](const auto& x) { return summarize(x); }, *ev);
  (void)text;
}

void envelope(std::string_view bytes) {
  auto env = decode_checked<event_envelope>(bytes);
  if (!env)
    return;
  history<application_event>(*env);
  history<subscription_event>(*env);
  history<case_event>(*env);
}

void snapshot_row(std::string_view bytes) {
  auto snap = storage::detail::parse_snapshot("app_fuzz", bytes);
  if (!snap)
    return;
  decode_checked<application>(snap->bytes);
  decode_checked<subscription>(snap->bytes);
  decode_checked<compliance_case>(snap->bytes);
  decode_checked<emergency_license>(snap->bytes);
}

void timer_row(std::string_view bytes, bool index) {
  if (bytes.empty())
    return;
  size_t n = static_cast<uint8_t>(bytes[0]);
  bytes.remove_prefix(1);
  auto key = bytes.substr(0, n);
  auto value = bytes.substr(key.size());
  if (index) {
    auto t = storage::detail::parse_timer_index(key, value);
    (void)t;
  } else {
    auto t = storage::detail::parse_timer_row(key, value);
    (void)t;
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  auto pick = static_cast<size_t>(data[0]) % (record_count + 4);
  std::string_view bytes{reinterpret_cast<const char*>(data) + 1, size - 1};
  if (pick < record_count)
    decode_nth(pick, bytes);
  else if (pick == record_count)
    envelope(bytes);
  else if (pick == record_count + 1)
    snapshot_row(bytes);
  else
    timer_row(bytes, pick == record_count + 3);
  return 0;
}
