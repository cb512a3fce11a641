#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "messages/enums.hpp"

/// Who owns what in a cluster (issue 6): rendezvous (highest random weight)
/// hashing of entity ids over the members' names, and coupon pools by
/// program. Pure and deterministic: every node computes the same owner from
/// the same member list, in any order, on any build, so the hash is defined
/// here (64-bit FNV-1a with a final avalanche), never `std::hash`.
///
/// Rendezvous hashing moves only what it must when membership changes:
/// adding a member takes about 1/N of the keys, all to the new member;
/// removing one moves only that member's keys.
namespace tenure {

/// One node of the cluster as named in the configuration.
struct cluster_member {
  /// Unique, stable name: ownership depends on it, not on host or port.
  std::string name;
  std::string host;
  uint16_t port = 0;
};

/// Parses "name@host:port" (the configuration's and the shell's spelling of
/// a member; an IPv6 host in brackets, `a@[::1]:9101`); the checks of
/// `ownership::make` come later. Errors are
/// `errc::config_invalid` quoting the text.
caf::expected<cluster_member> parse_member(std::string_view text);

/// Parses every entry (see `parse_member`), naming the failing one by index.
caf::expected<std::vector<cluster_member>>
parse_members(const std::vector<std::string>& texts);

/// A stable 64-bit hash of `member` and `key` (the rendezvous weight).
uint64_t rendezvous_weight(std::string_view member, std::string_view key);

class ownership {
public:
  /// Checks the member list: at least one member, names non-empty, at most
  /// 64 characters of [A-Za-z0-9._-], unique; hosts non-empty; ports 1..65535
  /// and no host:port twice. Errors are `errc::config_invalid` naming the
  /// member by index and name.
  static caf::expected<ownership> make(std::vector<cluster_member> members);

  /// The member that owns `key` (an entity id): the highest weight, ties
  /// broken by name.
  const cluster_member& owner_of(std::string_view key) const;

  /// The member that owns `p`'s coupon pool (the key `pool/<program>`), so
  /// that one node hands out each program's codes.
  const cluster_member& pool_owner(program p) const;

  /// The member called `name`, or null.
  const cluster_member* find(std::string_view name) const;

  /// The members in name order.
  const std::vector<cluster_member>& members() const noexcept {
    return members_;
  }

private:
  std::vector<cluster_member> members_;
};

} // namespace tenure
