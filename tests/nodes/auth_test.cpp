// Bearer tokens with scopes, and the first start's admin key.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <sys/stat.h>

#include "messages/errc.hpp"
#include "nodes/auth.hpp"
#include "tests/support/process.hpp"

using namespace tenure;

namespace {

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (auto c : bytes) {
    auto b = static_cast<unsigned char>(c);
    out += digits[b >> 4];
    out += digits[b & 0x0f];
  }
  return out;
}

std::string ring_text() {
  return R"({"keys": [
    {"name": "ops", "token_sha256": ")"
         + hex(sha256("ops-token")) + R"(", "scopes": ["read", "review"]},
    {"name": "root", "token_sha256": ")"
         + hex(sha256("root-token")) + R"(", "scopes": ["admin"]}]})";
}

} // namespace

TEST(auth, sha256_matches_the_standard_vector) {
  EXPECT_EQ(hex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(auth, tokens_grant_their_scopes_and_admin_grants_all) {
  auto ring = key_ring::parse(ring_text(), "keys.json");
  ASSERT_TRUE(ring) << error_message(ring.error());
  auto ops = ring->authorize("Bearer ops-token", "review");
  ASSERT_TRUE(ops) << error_message(ops.error());
  EXPECT_EQ((*ops)->name, "ops");
  auto denied = ring->authorize("Bearer ops-token", "coupon-admin");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error(), errc::forbidden);
  auto root = ring->authorize("Bearer root-token", "coupon-admin");
  ASSERT_TRUE(root);
  EXPECT_EQ((*root)->name, "root");
}

TEST(auth, missing_malformed_and_unknown_tokens_are_unauthorized) {
  auto ring = key_ring::parse(ring_text(), "keys.json");
  ASSERT_TRUE(ring);
  for (auto h : {"", "Bearer ", "Basic b3BzOnRva2Vu", "bearer ops-token",
                 "Bearer ops-token ", "Bearer wrong"}) {
    auto r = ring->authorize(h, "read");
    ASSERT_FALSE(r) << h;
    EXPECT_EQ(r.error(), errc::unauthorized) << h;
    EXPECT_EQ(error_message(r.error()).find("ops-token"), std::string::npos);
  }
  EXPECT_FALSE(ring->authorize("Bearer " + std::string(10000, 'x'), "read"));
}

TEST(auth, a_bad_keys_file_names_the_key) {
  struct probe {
    std::string text;
    std::string expect;
  };
  auto h = hex(sha256("t"));
  std::vector<probe> probes{
    {"{", "keys.json: malformed JSON: parse error at line 1, column 2"},
    {R"({"keys": [], "extra": 1})", "keys.json: extra: unknown key"},
    {R"({"keys": {}})", "keys.json: keys: expected an array"},
    {R"({"keys": [{"name": "a", "token_sha256": "zz", "scopes": ["read"]}]})",
     "keys.json: keys[0].token_sha256:"},
    {R"({"keys": [{"name": "a", "token_sha256": ")" + h
       + R"(", "scopes": ["root"]}]})",
     "keys.json: keys[0].scopes:"},
    {R"({"keys": [{"name": "a", "token_sha256": ")" + h
       + R"(", "scopes": []}]})",
     "keys.json: keys[0].scopes: expected a non-empty array"},
    {R"({"keys": [{"name": "a", "token_sha256": ")" + h
       + R"(", "scopes": ["read"], "token": "t"}]})",
     "keys.json: keys[0].token: unknown key"},
    {R"({"keys": [{"name": "a", "token_sha256": ")" + h
       + R"(", "scopes": ["read"]}, {"name": "a", "token_sha256": ")"
       + hex(sha256("u")) + R"(", "scopes": ["read"]}]})",
     "keys.json: keys[1].name: 'a' is used twice"},
    {R"({"keys": [{"name": "a", "name": "b", "token_sha256": ")" + h
       + R"(", "scopes": ["read"]}]})",
     "keys.json: keys[0].name: key appears twice"},
  };
  for (auto& p : probes) {
    auto r = key_ring::parse(p.text, "keys.json");
    ASSERT_FALSE(r) << p.text;
    EXPECT_EQ(r.error(), errc::config_invalid);
    EXPECT_EQ(error_message(r.error()).rfind(p.expect, 0), 0u)
      << error_message(r.error());
  }
}

TEST(auth, the_first_start_writes_an_admin_key_readable_by_the_owner_only) {
  tenure::test::temp_dir dir;
  auto keys = dir.path() + "/keys.json";
  auto token = dir.path() + "/admin.token";
  auto made = ensure_keys_file(keys, token);
  ASSERT_TRUE(made) << error_message(made.error());
  ASSERT_TRUE(*made);
  EXPECT_EQ((*made)->keys_file, keys);
  for (auto& f : {keys, token}) {
    struct stat sb;
    ASSERT_EQ(::stat(f.c_str(), &sb), 0);
    EXPECT_EQ(sb.st_mode & 0777, 0600u) << f;
  }
  std::ifstream in{token};
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text.size(), 64u);
  auto ring = key_ring::load(keys);
  ASSERT_TRUE(ring) << error_message(ring.error());
  EXPECT_TRUE(ring->authorize("Bearer " + text, "coupon-admin"));
  std::ifstream kin{keys};
  std::string ktext{std::istreambuf_iterator<char>{kin}, {}};
  EXPECT_EQ(ktext.find(text), std::string::npos) << "only the hash is kept";
  // A second start keeps the file.
  auto again = ensure_keys_file(keys, token);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  EXPECT_TRUE(key_ring::load(keys)->authorize("Bearer " + text, "read"));
  EXPECT_NE(new_token(), new_token());
}
