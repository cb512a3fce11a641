#include "messages/codec.hpp"

#include <gtest/gtest.h>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "messages/event_codec.hpp"
#include "messages/type_ids.hpp"
#include "tests/support/fill.hpp"

using namespace tenure;

namespace {

// Every record type of messages/: the ones on the wire (type_ids.hpp) and
// the events inside envelopes.
using all_records = ::testing::Types<
  applicant, organisation, edu_facts, oss_facts, startup_facts, application,
  sku_line, sku, subscription_line, subscription, compliance_case,
  emergency_license, coupon, notification, audit_record, timer, history_entry,
  submit_application, record_verification, appeal_rejection,
  withdraw_application, book_code, redeem_code, report_usage, open_case,
  cure_case, revoke_subscription, request_emergency_license, import_coupons,
  import_report, pool_stock, event_envelope, app_submitted, app_verified,
  app_rejected, app_documents_requested, app_sent_to_review, app_appealed,
  app_withdrawn, app_awaiting_code, app_code_assigned, app_redeemed,
  sub_provisioned, sub_usage_reported, sub_reminder_sent, sub_expired,
  sub_lapsed, sub_case_opened, sub_case_cured, sub_terminated, sub_revoked,
  sub_renewed, case_opened, case_cured, case_terminated, case_revoked>;

template <class T>
class record_codec : public ::testing::Test {};

TYPED_TEST_SUITE(record_codec, all_records);

TYPED_TEST(record_codec, storage_round_trip_keeps_every_field) {
  auto x = test::filled<TypeParam>();
  if constexpr (std::tuple_size_v<decltype(TypeParam::fields(x))> > 0) {
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
