#include "messages/codec.hpp"

#include <gtest/gtest.h>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "messages/event_codec.hpp"
#include "messages/type_ids.hpp"
#include "tests/support/fill.hpp"
#include "tests/support/record_types.hpp"

// -- allocation accounting ----------------------------------------------------
//
// The allocation-bomb tests below count every byte requested from the heap
// while they decode, including requests that fail. msgpack-c takes its zone
// chunks and object arrays from malloc, not operator new, so counting
// operator new would see nothing of a bomb, and mallinfo2() reports only what
// is allocated now (an unpack frees everything before it returns, and a
// failed 96 GB request never shows). So this binary interposes malloc, calloc
// and realloc themselves: they add the size asked for to a counter while
// counting is on and forward to glibc's allocator (__libc_*; free stays
// glibc's, which owns every block). Under a sanitizer, which owns malloc, the
// sanitizer's allocation hook counts instead (successful allocations only;
// a request it cannot serve is a sanitizer report of its own).

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TENURE_SANITIZED_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)        \
  || __has_feature(memory_sanitizer)
#define TENURE_SANITIZED_MALLOC 1
#endif
#endif

#include <atomic>
#include <cstdint>
#include <cstdlib>

namespace {

std::atomic<bool> counting_allocations{false};
std::atomic<uint64_t> bytes_requested{0};

void count_request(uint64_t n) noexcept {
  if (counting_allocations.load(std::memory_order_relaxed))
    bytes_requested.fetch_add(n, std::memory_order_relaxed);
}

} // namespace

#ifdef TENURE_SANITIZED_MALLOC

// From <sanitizer/allocator_interface.h>, which gcc does not ship; every
// sanitizer runtime (ASan, TSan, MSan) has it.
extern "C" int __sanitizer_install_malloc_and_free_hooks(
  void (*malloc_hook)(const volatile void*, size_t),
  void (*free_hook)(const volatile void*));

namespace {

void on_malloc(const volatile void*, size_t n) {
  count_request(n);
}

void on_free(const volatile void*) {
  // nop
}

[[maybe_unused]] const int hooks_installed
  = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);

} // namespace

#else

extern "C" {

void* __libc_malloc(size_t n);
void* __libc_calloc(size_t n, size_t size);
void* __libc_realloc(void* p, size_t n);

void* malloc(size_t n) noexcept {
  count_request(n);
  return __libc_malloc(n);
}

void* calloc(size_t n, size_t size) noexcept {
  // A product that overflows counts as the most there is.
  uint64_t total = 0;
  if (__builtin_mul_overflow(uint64_t{n}, uint64_t{size}, &total))
    total = UINT64_MAX;
  count_request(total);
  return __libc_calloc(n, size);
}

void* realloc(void* p, size_t n) noexcept {
  count_request(n);
  return __libc_realloc(p, n);
}

} // extern "C"

#endif

namespace {

/// Bytes requested from the heap while `f` runs.
template <class F>
uint64_t heap_bytes_requested(F f) {
  bytes_requested = 0;
  counting_allocations = true;
  f();
  counting_allocations = false;
  return bytes_requested.load();
}

} // namespace

using namespace tenure;

namespace {

template <class... Ts>
::testing::Types<Ts...> gtest_types(std::tuple<Ts...>);

// Every record type of messages/ (tests/support/record_types.hpp).
using all_records = decltype(gtest_types(std::declval<test::record_types>()));

template <class T>
class record_codec : public ::testing::Test {};

TYPED_TEST_SUITE(record_codec, all_records);

TYPED_TEST(record_codec, storage_round_trip_keeps_every_field) {
  auto x = test::filled<TypeParam>();
  if constexpr (std::tuple_size_v < decltype(TypeParam::fields(x)) >> 0) {
    ASSERT_NE(x, TypeParam{}) << "fill() left the record at its defaults";
  }
  auto bytes = encode(x);
  auto y = decode<TypeParam>(bytes);
  ASSERT_TRUE(y) << error_message(y.error());
  EXPECT_EQ(x, *y);
}

TYPED_TEST(record_codec, wire_round_trip_keeps_every_field) {
  auto x = test::filled<TypeParam>(7);
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  ASSERT_FALSE(sink(x));
  TypeParam y{};
  caf::binary_deserializer source{nullptr, buf};
  ASSERT_FALSE(source(y));
  EXPECT_EQ(x, y);
}

TYPED_TEST(record_codec, every_truncation_is_an_error) {
  auto bytes = encode(test::filled<TypeParam>(3));
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto y = decode<TypeParam>(std::string_view{bytes.data(), n});
    ASSERT_FALSE(y) << "prefix of " << n << " of " << bytes.size()
                    << " bytes decoded";
    EXPECT_EQ(y.error(), errc::corrupt_data);
  }
}

TYPED_TEST(record_codec, trailing_bytes_are_an_error) {
  auto bytes = encode(test::filled<TypeParam>());
  bytes.push_back('\x00');
  auto y = decode<TypeParam>(bytes);
  ASSERT_FALSE(y);
  EXPECT_NE(error_message(y.error()).find("trailing"), std::string::npos);
}

TYPED_TEST(record_codec, bit_flips_never_crash) {
  // Every single-byte corruption either decodes to some value or fails
  // cleanly; under ASan/UBSan this also proves no out-of-bounds read.
  auto bytes = encode(test::filled<TypeParam>(5));
  for (size_t i = 0; i < bytes.size(); ++i)
    for (unsigned char mask : {0x01, 0x10, 0x80, 0xff}) {
      auto copy = bytes;
      copy[i] = static_cast<char>(static_cast<unsigned char>(copy[i]) ^ mask);
      auto y = decode<TypeParam>(copy);
      if (!y) {
        EXPECT_TRUE(y.error() == errc::corrupt_data
                    || y.error() == errc::schema_too_new);
      }
    }
}

std::string hex(std::initializer_list<int> xs) {
  std::string out;
  for (auto x : xs)
    out.push_back(static_cast<char>(x));
  return out;
}

TEST(codec, huge_length_prefixes_fail_without_allocating) {
  // msgpack-c #1013: an array32 header claiming 0xff000000 elements.
  for (auto bytes : {hex({0xdd, 0xff, 0x00, 0x00, 0x00}),
                     hex({0xdf, 0xff, 0xff, 0xff, 0xff}),
                     hex({0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'}),
                     hex({0xc6, 0x7f, 0xff, 0xff, 0xff})}) {
    auto y = decode<application>(bytes);
    ASSERT_FALSE(y);
    EXPECT_EQ(y.error(), errc::corrupt_data) << error_message(y.error());
  }
}

// msgpack-c #1013 and relatives (RELIABILITY.md): length prefixes and nesting
// that would make the unpacker allocate far more than the input is long. Each
// is refused, through the record decoder, with under 1 MiB taken from the
// heap in all (the msgpack zone's first chunk is 8 KiB). Without the bounds of
// `unpack_bounded` the first asks for ~96 GB and the nested ones for tens of
// megabytes, so this fails.
TEST(codec, allocation_bombs_are_refused_with_under_1_mib_allocated) {
  // The counter works: a real record takes some bytes to decode.
  auto good = encode(test::filled<application>());
  auto used
    = heap_bytes_requested([&] { ASSERT_TRUE(decode<application>(good)); });
  ASSERT_GT(used, 0u) << "allocations are not counted";
  std::string nested_arrays; // 64 levels of array32 claiming 65535 elements
  for (int i = 0; i < 64; ++i)
    nested_arrays += hex({0xdd, 0x00, 0x00, 0xff, 0xff});
  std::string nested_maps; // 64 levels of map32 claiming 65535 entries
  for (int i = 0; i < 64; ++i)
    nested_maps += hex({0xdf, 0x00, 0x00, 0xff, 0xff, 0xa1, 'k'});
  struct bomb {
    const char* what;
    std::string bytes;
  };
  const bomb bombs[] = {
    {"array32 of 0xff000000", hex({0xdd, 0xff, 0x00, 0x00, 0x00})},
    {"map32 of 0xffffffff", hex({0xdf, 0xff, 0xff, 0xff, 0xff})},
    {"array32 of 2^20", hex({0xdd, 0x00, 0x10, 0x00, 0x00})},
    {"map32 of 2^20 after a key",
     hex({0x81, 0xa2, '_', 'v', 0xdf, 0x00, 0x10, 0x00, 0x00})},
    {"str32 of 2 GiB", hex({0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'})},
    {"bin32 of 2 GiB", hex({0xc6, 0x7f, 0xff, 0xff, 0xff, 0x00})},
    {"ext32 of 2 GiB", hex({0xc9, 0x7f, 0xff, 0xff, 0xff, 0x01, 0x00})},
    {"nested array32s", nested_arrays},
    {"nested map32s", nested_maps},
    {"200000 nested fixarrays", std::string(200'000, '\x91') + '\x00'},
  };
  for (auto& b : bombs) {
    caf::expected<application> y{caf::error{}};
    auto n = heap_bytes_requested([&] { y = decode<application>(b.bytes); });
    ASSERT_FALSE(y) << b.what;
    EXPECT_EQ(y.error(), errc::corrupt_data)
      << b.what << ": " << error_message(y.error());
    EXPECT_LT(n, 1u << 20) << b.what << ": " << n << " bytes requested";
  }
}

TEST(codec, deep_nesting_is_refused) {
  std::string bytes(100, '\x91'); // 100 nested fixarrays
  bytes.push_back('\x00');
  auto y = decode<application>(bytes);
  ASSERT_FALSE(y);
  EXPECT_EQ(y.error(), errc::corrupt_data);
}

TEST(codec, oversized_input_is_refused_before_parsing) {
  decode_limits limits;
  limits.max_bytes = 64;
  auto bytes = encode(test::filled<application>());
  ASSERT_GT(bytes.size(), 64u);
  auto y = decode<application>(bytes, limits);
  ASSERT_FALSE(y);
  EXPECT_EQ(y.error(), errc::too_large);
}

TEST(codec, empty_input_is_an_error) {
  auto y = decode<timer>(std::string_view{});
  ASSERT_FALSE(y);
  EXPECT_EQ(y.error(), errc::corrupt_data);
}

// A hand-built map, for compatibility cases the encoder cannot produce.
template <class F>
std::string build_map(uint32_t n, F f) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk{buf};
  pk.pack_map(n);
  f(pk);
  return std::string{buf.data(), buf.size()};
}

TEST(codec, unknown_keys_are_skipped_and_missing_keys_default) {
  auto bytes = build_map(3, [](auto& pk) {
    pk.pack(std::string{"_v"});
    pk.pack(1);
    pk.pack(std::string{"added_by_a_newer_build"});
    pk.pack(std::vector<int>{1, 2, 3});
    pk.pack(std::string{"kind"});
    pk.pack(std::string{"cure_deadline"});
  });
  auto y = decode<timer>(bytes);
  ASSERT_TRUE(y) << error_message(y.error());
  EXPECT_EQ(y->kind, "cure_deadline");
  EXPECT_TRUE(y->id.empty());
  EXPECT_EQ(y->due, time_point{});
}

TEST(codec, newer_schema_version_is_refused) {
  auto bytes = build_map(1, [](auto& pk) {
    pk.pack(std::string{"_v"});
    pk.pack(timer::schema_version + 1);
  });
  auto y = decode<timer>(bytes);
  ASSERT_FALSE(y);
  EXPECT_EQ(y.error(), errc::schema_too_new);
}

TEST(codec, missing_schema_version_is_refused) {
  auto bytes = build_map(1, [](auto& pk) {
    pk.pack(std::string{"kind"});
    pk.pack(std::string{"x"});
  });
  auto y = decode<timer>(bytes);
  ASSERT_FALSE(y);
  EXPECT_EQ(y.error(), errc::corrupt_data);
}

TEST(codec, type_errors_name_the_field_path) {
  auto bytes = build_map(2, [](auto& pk) {
    pk.pack(std::string{"_v"});
    pk.pack(1);
    pk.pack(std::string{"applicant"});
    pk.pack_map(2);
    pk.pack(std::string{"_v"});
    pk.pack(1);
    pk.pack(std::string{"email"});
    pk.pack(42);
  });
  auto y = decode<application>(bytes);
  ASSERT_FALSE(y);
  auto msg = error_message(y.error());
  EXPECT_NE(msg.find("applicant.email"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected a string"), std::string::npos) << msg;
}

TEST(codec, malformed_ids_and_enum_names_are_refused) {
  auto bad_id = build_map(2, [](auto& pk) {
    pk.pack(std::string{"_v"});
    pk.pack(1);
    pk.pack(std::string{"id"});
    pk.pack(std::string{"sub_01JD3Q0V8C6X2E1D0PZ5K3W9YB"}); // wrong prefix
  });
  auto y = decode<application>(bad_id);
  ASSERT_FALSE(y);
  EXPECT_NE(error_message(y.error()).find("malformed id"), std::string::npos);
  auto bad_enum = build_map(2, [](auto& pk) {
    pk.pack(std::string{"_v"});
    pk.pack(1);
    pk.pack(std::string{"program"});
    pk.pack(std::string{"kindergarten"});
  });
  auto z = decode<application>(bad_enum);
  ASSERT_FALSE(z);
  EXPECT_NE(error_message(z.error()).find("program"), std::string::npos);
}

TEST(codec, integers_out_of_range_are_refused) {
  auto bytes = build_map(2, [](auto& pk) {
    pk.pack(std::string{"_v"});
    pk.pack(1);
    pk.pack(std::string{"seats"});
    pk.pack(uint64_t{1} << 40); // seats is uint32_t
  });
  auto y = decode<application>(bytes);
  ASSERT_FALSE(y);
  EXPECT_NE(error_message(y.error()).find("out of range"), std::string::npos);
}

// Found by tests/fuzz (record): an event stored with a time of INT64_MIN
// decoded, and rendering it (history summaries, JSON) overflowed int64 in
// to_iso8601. Times and durations beyond +-8.64e15 ms are corrupt data.
TEST(codec, times_and_durations_out_of_range_are_refused) {
  auto time_at = [](int64_t ms) {
    return build_map(2, [&](auto& pk) {
      pk.pack(std::string{"_v"});
      pk.pack(1);
      pk.pack(std::string{"new_end"});
      pk.pack(ms);
    });
  };
  auto offset_of = [](int64_t ms) {
    return build_map(2, [&](auto& pk) {
      pk.pack(std::string{"_v"});
      pk.pack(1);
      pk.pack(std::string{"offset"});
      pk.pack(ms);
    });
  };
  constexpr int64_t edge = 8'640'000'000'000'000;
  for (int64_t ms :
       {std::numeric_limits<int64_t>::min(),
        std::numeric_limits<int64_t>::max(), -edge - 1, edge + 1}) {
    auto t = decode<sub_renewed>(time_at(ms));
    ASSERT_FALSE(t) << ms;
    EXPECT_EQ(t.error(), errc::corrupt_data);
    EXPECT_NE(error_message(t.error()).find("new_end: time out of range"),
              std::string::npos)
      << error_message(t.error());
    auto d = decode<sub_reminder_sent>(offset_of(ms));
    ASSERT_FALSE(d) << ms;
    EXPECT_NE(error_message(d.error()).find("duration out of range"),
              std::string::npos)
      << error_message(d.error());
  }
  for (int64_t ms : {-edge, edge, int64_t{0}}) {
    auto t = decode<sub_renewed>(time_at(ms));
    ASSERT_TRUE(t) << error_message(t.error());
    EXPECT_EQ(to_unix_ms(t->new_end), ms);
    auto d = decode<sub_reminder_sent>(offset_of(ms));
    ASSERT_TRUE(d) << error_message(d.error());
    EXPECT_EQ(d->offset.count(), ms);
  }
}

TEST(event_codec, envelopes_round_trip_typed_events) {
  application_event ev = test::filled<app_rejected>();
  auto env = wrap_event("app_x", 3, from_unix_ms(5), ev);
  EXPECT_EQ(env.type, "app_rejected");
  auto stored = encode(env);
  auto env2 = decode<event_envelope>(stored);
  ASSERT_TRUE(env2);
  auto back = unwrap_event<application_event>(*env2);
  ASSERT_TRUE(back) << error_message(back.error());
  ASSERT_TRUE(std::holds_alternative<app_rejected>(*back));
  EXPECT_EQ(std::get<app_rejected>(*back), std::get<app_rejected>(ev));
}

TEST(event_codec, unknown_event_types_are_errors) {
  event_envelope env;
  env.entity = "app_x";
  env.type = "sub_expired"; // a subscription event in an application stream
  env.payload = encode(sub_expired{});
  auto back = unwrap_event<application_event>(env);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error(), errc::corrupt_data);
}

} // namespace
