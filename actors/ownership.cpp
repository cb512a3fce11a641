#include "actors/ownership.hpp"

#include <algorithm>
#include <set>

#include "messages/errc.hpp"

namespace tenure {

namespace {

constexpr uint64_t fnv_offset = 14695981039346656037ull;
constexpr uint64_t fnv_prime = 1099511628211ull;

uint64_t fnv1a(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= fnv_prime;
  }
  return h;
}

/// MurmurHash3's finaliser: FNV-1a alone mixes its last bytes poorly, and
/// ids differ mostly in their last characters.
uint64_t avalanche(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64)
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

} // namespace

uint64_t rendezvous_weight(std::string_view member, std::string_view key) {
  auto h = fnv1a(fnv_offset, member);
  h = fnv1a(h, std::string_view{"\0", 1}); // "ab"+"c" differs from "a"+"bc"
  return avalanche(fnv1a(h, key));
}

caf::expected<ownership> ownership::make(std::vector<cluster_member> members) {
  if (members.empty())
    return make_error(errc::config_invalid,
                      "cluster.members: at least one member is needed");
  std::set<std::string> names;
  std::set<std::string> endpoints;
  for (size_t i = 0; i < members.size(); ++i) {
    auto& m = members[i];
    auto where = "cluster.members[" + std::to_string(i) + "]";
    if (!valid_name(m.name))
      return make_error(errc::config_invalid,
                        where
                          + ".name: 1 to 64 characters of A-Z, a-z, 0-9, "
                            "'.', '_' or '-'");
    where += " (" + m.name + ")";
    if (!names.insert(m.name).second)
      return make_error(errc::config_invalid, where + ".name: named twice");
    if (m.host.empty())
      return make_error(errc::config_invalid, where + ".host: missing");
    if (m.port == 0)
      return make_error(errc::config_invalid,
                        where + ".port: must be 1..65535");
    if (!endpoints.insert(m.host + ":" + std::to_string(m.port)).second)
      return make_error(errc::config_invalid,
                        where + ": " + m.host + ":" + std::to_string(m.port)
                          + " is another member's address too");
  }
  std::sort(members.begin(), members.end(),
            [](auto& x, auto& y) { return x.name < y.name; });
  ownership out;
  out.members_ = std::move(members);
  return out;
}

const cluster_member& ownership::owner_of(std::string_view key) const {
  // Members are in name order, so ties go to the smallest name.
  const cluster_member* best = &members_.front();
  auto best_weight = rendezvous_weight(best->name, key);
  for (size_t i = 1; i < members_.size(); ++i) {
    auto w = rendezvous_weight(members_[i].name, key);
    if (w > best_weight) {
      best = &members_[i];
      best_weight = w;
    }
  }
  return *best;
}

const cluster_member* ownership::find(std::string_view name) const {
  for (auto& m : members_)
    if (m.name == name)
      return &m;
  return nullptr;
}

caf::expected<cluster_member> parse_member(std::string_view text) {
  auto bad = [&](const char* what) {
    return make_error(errc::config_invalid,
                      "'" + std::string{text.substr(0, 120)} + "': " + what);
  };
  auto at = text.find('@');
  auto colon = text.rfind(':');
  if (at == std::string_view::npos || at == 0)
    return bad("no name before '@'; expected name@host:port");
  if (colon == std::string_view::npos || colon < at)
    return bad("no ':port'; expected name@host:port");
  cluster_member m;
  m.name = std::string{text.substr(0, at)};
  // An IPv6 address comes in brackets: a@[::1]:9101.
  auto host = text.substr(at + 1, colon - at - 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  m.host = std::string{host};
  auto port = text.substr(colon + 1);
  uint32_t value = 0;
  if (port.empty() || port.size() > 5)
    return bad("the port must be a number 1..65535");
  for (auto c : port) {
    if (c < '0' || c > '9')
      return bad("the port must be a number 1..65535");
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value == 0 || value > 65535)
    return bad("the port must be a number 1..65535");
  m.port = static_cast<uint16_t>(value);
  return m;
}

caf::expected<std::vector<cluster_member>>
parse_members(const std::vector<std::string>& texts) {
  std::vector<cluster_member> out;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto m = parse_member(texts[i]);
    if (!m)
      return make_error(errc::config_invalid,
                        "members[" + std::to_string(i)
                          + "]: " + error_message(m.error()));
    out.push_back(std::move(*m));
  }
  return out;
}

const cluster_member& ownership::pool_owner(program p) const {
  return owner_of("pool/" + to_string(p));
}

} // namespace tenure
