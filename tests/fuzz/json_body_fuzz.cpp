// Fuzz target: HTTP JSON bodies, decoded the way nodes/api.cpp decodes them:
// parsed once with the duplicate-key check (actors/json_keys.hpp), then read
// into the API's command and request types with nodes/json_codec.hpp.
//
// The first byte picks the body type, the rest is the body. The last kind
// reads every member of an object as each scalar type the API's `field()`
// takes (whole numbers of every width, booleans, strings, times, ids, enums,
// lists and string maps, durations).
//
// Oracles besides the sanitizers: no exception escapes decoding; what
// decodes survives
// to_json -> dump -> parse -> from_json unchanged; every error message can
// be sent in a JSON error body (dump() throws on bytes that are not UTF-8).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/json_keys.hpp"
#include "messages/commands.hpp"
#include "messages/records.hpp"
#include "nodes/json_codec.hpp"
#include "tests/support/record_types.hpp"

using namespace tenure;
using json = nlohmann::json;

namespace {

using body_types = test::api_body_types;

constexpr size_t body_count = std::tuple_size_v<body_types>;

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "json_body_fuzz: %s %.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

/// The message of `err` must fit in a JSON error body.
void check_error(const caf::error& err) {
  if (err != errc::invalid_argument)
    fail("unexpected error code:", error_message(err));
  try {
    auto body = json{{"error", {{"message", error_message(err)}}}}.dump();
    (void)body;
  } catch (const json::exception& e) {
    fail("error message is not valid in a JSON body:", e.what());
  }
}

template <class T>
void decode_body(const json& body) {
  T x{};
  if (auto err = json_codec::from_json(body, x)) {
    check_error(err);
    return;
  }
  std::string text;
  try {
    text = json_codec::to_json(x).dump();
  } catch (const json::exception& e) {
    fail("a decoded body does not encode:", e.what());
  }
  T y{};
  if (auto err = json_codec::from_json(json::parse(text), y))
    fail("a re-encoded body does not decode:", error_message(err));
  if (!(x == y))
    fail("round trip changed the body", T::record_name);
}

template <size_t I = 0>
void decode_nth(size_t n, const json& body) {
  if constexpr (I < body_count) {
    if (n == I)
      decode_body<std::tuple_element_t<I, body_types>>(body);
    else
      decode_nth<I + 1>(n, body);
  }
}

template <class T>
void read_as(const json& value, const std::string& name) {
  T x{};
  if (auto err = json_codec::value_from_json(value, x, name))
    check_error(err);
}

/// Every member as every type the API's `field()` reads.
void fields(const json& body) {
  for (auto& [key, value] : body.items()) {
    read_as<bool>(value, key);
    read_as<uint16_t>(value, key);
    read_as<uint32_t>(value, key);
    read_as<uint64_t>(value, key);
    read_as<int64_t>(value, key);
    read_as<std::string>(value, key);
    read_as<time_point>(value, key);
    read_as<app_id>(value, key);
    read_as<sub_id>(value, key);
    read_as<program>(value, key);
    read_as<verification_outcome>(value, key);
    read_as<std::vector<std::string>>(value, key);
    read_as<std::map<std::string, std::string>>(value, key);
    if (value.is_string()) // `POST /v1/admin/clock {"advance": "30d"}`
      (void)parse_duration(value.get_ref<const std::string&>());
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  auto pick = static_cast<size_t>(data[0]) % (body_count + 1);
  std::string_view text{reinterpret_cast<const char*>(data) + 1, size - 1};
  // As the API: one parse, repeated keys refused, malformed bodies answered.
  // nlohmann throws parse_error for malformed text and out_of_range (406)
  // for a number it cannot hold (`1e999`): both are a malformed body.
  json body;
  duplicate_key_finder dups;
  try {
    body = json::parse(text.begin(), text.end(), std::ref(dups));
  } catch (const json::exception&) {
    return 0;
  }
  if (!dups.found().empty() || !body.is_object())
    return 0;
  if (pick < body_count)
    decode_nth(pick, body);
  else
    fields(body);
  return 0;
}
