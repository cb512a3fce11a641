#include "messages/errc.hpp"

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "messages/type_ids.hpp"

using namespace tenure;

TEST(errc, every_code_has_a_name_and_an_actionable_message) {
  for (int i = 1; i <= static_cast<int>(errc::refused); ++i) {
    auto x = static_cast<errc>(i);
    auto name = to_string(x);
    EXPECT_EQ(name.find("errc("), std::string::npos) << i;
    errc back{};
    ASSERT_TRUE(from_string(name, back)) << name;
    EXPECT_EQ(back, x);
    auto msg = default_message(x);
    EXPECT_GT(msg.size(), 20u) << name;
    EXPECT_EQ(msg.back(), '.') << name;
  }
}

TEST(errc, checkout_messages_are_the_exact_texts_of_seed_001) {
  EXPECT_EQ(default_message(errc::code_already_used),
            "This code has already been used.");
  EXPECT_EQ(default_message(errc::code_invalid),
            "This code is not valid. Try re-entering the code from your "
            "email.");
}

TEST(errc, errors_carry_code_and_detail) {
  auto err = make_error(errc::illegal_transition,
                        "cannot redeem: application app_x is rejected");
  EXPECT_TRUE(err == errc::illegal_transition);
  EXPECT_TRUE(err != errc::not_found);
  EXPECT_EQ(error_code(err), "illegal_transition");
  EXPECT_EQ(error_message(err), "cannot redeem: application app_x is rejected");
  auto plain = make_error(errc::pool_empty);
  EXPECT_EQ(error_message(plain), default_message(errc::pool_empty));
  EXPECT_FALSE(caf::error{} == errc::pool_empty);
}

TEST(errc, errors_cross_the_wire_and_render_through_the_category) {
  caf::actor_system_config cfg;
  add_message_types(cfg);
  caf::actor_system sys{cfg};
  auto err = make_error(errc::code_invalid);
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  ASSERT_FALSE(sink(err));
  caf::error back;
  caf::binary_deserializer source{sys, buf};
  ASSERT_FALSE(source(back));
  EXPECT_TRUE(back == errc::code_invalid);
  auto rendered = sys.render(back);
  EXPECT_NE(rendered.find("tenure::code_invalid"), std::string::npos)
    << rendered;
}
