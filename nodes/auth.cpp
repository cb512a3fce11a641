#include "nodes/auth.hpp"

#include <algorithm>
#include <fstream>
#include <optional>
#include <set>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "actors/json_keys.hpp"
#include "messages/errc.hpp"
#include "nodes/signature.hpp"

namespace tenure {

namespace {

using json = nlohmann::json;

std::optional<std::string> from_hex(std::string_view hex) {
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0)
    return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    auto hi = value(hex[i]);
    auto lo = value(hex[i + 1]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

/// Writes `text` to `path` with mode 0600, refusing to overwrite.
caf::error write_private(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(errc::unavailable, path + ": cannot create the file");
  auto left = text.size();
  auto p = text.data();
  while (left > 0) {
    auto n = ::write(fd, p, left);
    if (n <= 0) {
      ::close(fd);
      return make_error(errc::unavailable, path + ": cannot write the file");
    }
    left -= static_cast<size_t>(n);
    p += n;
  }
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced)
    return make_error(errc::unavailable, path + ": cannot sync the file");
  return caf::none;
}

} // namespace

const std::vector<std::string>& known_scopes() {
  static const std::vector<std::string> scopes{
    "read", "write", "review", "support", "billing", "coupon-admin", "admin"};
  return scopes;
}

bool api_key::grants(std::string_view scope) const {
  for (auto& s : scopes)
    if (s == scope || s == "admin")
      return true;
  return false;
}

std::string sha256(std::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string{reinterpret_cast<const char*>(out), sizeof(out)};
}

std::string new_token() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof(raw)) != 1)
    return {};
  return to_hex(
    std::string_view{reinterpret_cast<const char*>(raw), sizeof(raw)});
}

caf::expected<key_ring> key_ring::parse(std::string_view text,
                                        const std::string& origin) {
  auto fail = [&](const std::string& key, const std::string& what) {
    return make_error(errc::config_invalid,
                      origin + ": " + (key.empty() ? "" : key + ": ") + what);
  };
  json doc;
  if (auto bad = parse_config_json(text, doc))
    return fail(bad->path, bad->what);
  if (!doc.is_object())
    return fail("(top)", "expected an object with \"keys\"");
  for (auto& [k, v] : doc.items())
    if (k != "keys")
      return fail(k, "unknown key");
  if (!doc.contains("keys") || !doc["keys"].is_array())
    return fail("keys", "expected an array");
  key_ring ring;
  std::set<std::string> names;
  std::set<std::string> hashes;
  auto& arr = doc["keys"];
  for (size_t i = 0; i < arr.size(); ++i) {
    auto path = "keys[" + std::to_string(i) + "]";
    auto& k = arr[i];
    if (!k.is_object())
      return fail(path, "expected an object");
    for (auto& [f, v] : k.items())
      if (f != "name" && f != "token_sha256" && f != "scopes")
        return fail(path + "." + f, "unknown key");
    api_key key;
    if (!k.contains("name") || !k["name"].is_string()
        || k["name"].get<std::string>().empty()
        || k["name"].get<std::string>().size() > 64)
      return fail(path + ".name", "expected a name of 1 to 64 characters");
    key.name = k["name"].get<std::string>();
    if (!names.insert(key.name).second)
      return fail(path + ".name", "'" + key.name + "' is used twice");
    std::optional<std::string> hash;
    if (k.contains("token_sha256") && k["token_sha256"].is_string())
      hash = from_hex(k["token_sha256"].get<std::string>());
    if (!hash || hash->size() != SHA256_DIGEST_LENGTH)
      return fail(path + ".token_sha256",
                  "expected 64 lower-case hex digits (sha256 of the token)");
    if (!hashes.insert(*hash).second)
      return fail(path + ".token_sha256", "the same token is used twice");
    key.token_hash = std::move(*hash);
    if (!k.contains("scopes") || !k["scopes"].is_array() || k["scopes"].empty())
      return fail(path + ".scopes", "expected a non-empty array");
    for (auto& s : k["scopes"]) {
      auto& known = known_scopes();
      if (!s.is_string()
          || std::find(known.begin(), known.end(), s.get<std::string>())
               == known.end())
        return fail(path + ".scopes",
                    "each scope is one of read, write, review, support, "
                    "billing, coupon-admin, admin");
      key.scopes.push_back(s.get<std::string>());
    }
    ring.keys_.push_back(std::move(key));
  }
  return ring;
}

caf::expected<key_ring> key_ring::load(const std::string& file) {
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return make_error(errc::config_invalid, file + ": cannot read the file");
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  if (text.size() > (1u << 20))
    return make_error(errc::config_invalid, file + ": larger than 1 MiB");
  return parse(text, file);
}

caf::expected<const api_key*>
key_ring::authorize(std::string_view header, std::string_view scope) const {
  constexpr std::string_view prefix = "Bearer ";
  if (header.size() <= prefix.size() || header.substr(0, 7) != prefix)
    return make_error(errc::unauthorized, "send Authorization: Bearer TOKEN");
  auto token = header.substr(prefix.size());
  if (token.size() > 256)
    return make_error(errc::unauthorized, "the token is not valid");
  auto hash = sha256(token);
  const api_key* found = nullptr;
  for (auto& k : keys_)
    if (CRYPTO_memcmp(k.token_hash.data(), hash.data(), hash.size()) == 0)
      found = &k; // no early exit: the time does not say which key matched
  if (!found)
    return make_error(errc::unauthorized, "the token is not valid");
  if (!found->grants(scope))
    return make_error(errc::forbidden, "key '" + found->name
                                         + "' lacks the scope '"
                                         + std::string{scope} + "'");
  return found;
}

caf::expected<std::optional<first_key>>
ensure_keys_file(const std::string& keys_file, const std::string& token_file) {
  struct stat sb;
  if (::stat(keys_file.c_str(), &sb) == 0)
    return std::optional<first_key>{};
  auto token = new_token();
  if (token.empty())
    return make_error(errc::unavailable, "cannot draw random bytes");
  json doc{{"keys", json::array({json{{"name", "admin"},
                                      {"token_sha256", to_hex(sha256(token))},
                                      {"scopes", json::array({"admin"})}}})}};
  // The token first: a keys file without its token would lock the operator
  // out, a token without keys file is replaced at the next start.
  ::unlink(token_file.c_str());
  if (auto err = write_private(token_file, token + "\n"))
    return err;
  if (auto err = write_private(keys_file, doc.dump(2) + "\n"))
    return err;
  return std::optional<first_key>{first_key{keys_file, token_file}};
}

caf::expected<bool> ensure_secret_file(const std::string& file) {
  struct stat sb;
  if (::stat(file.c_str(), &sb) == 0)
    return false;
  auto secret = new_token();
  if (secret.empty())
    return make_error(errc::unavailable, "cannot draw random bytes");
  if (auto err = write_private(file, secret + "\n"))
    return err;
  return true;
}

} // namespace tenure
