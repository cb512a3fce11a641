#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "storage/batch.hpp"
#include "storage/cf.hpp"
#include "storage/store.hpp"

/// Internals shared by both stores, so that they cannot drift apart: how a
/// batch applies, and how stored rows are parsed. Not for actors.
namespace tenure::storage::detail {

/// What `apply` reads and writes: the committed state plus the earlier
/// commits of the same group.
class view {
public:
  virtual ~view();

  /// Reads `key` into `value`; sets `found`.
  virtual caf::error get(cf family, std::string_view key, std::string& value,
                         bool& found)
    = 0;

  virtual caf::error put(cf family, std::string_view key,
                         std::string_view value)
    = 0;

  virtual caf::error erase(cf family, std::string_view key) = 0;

  /// Appends to `out` every row whose key starts with `prefix`, in key order.
  virtual caf::error
  scan_prefix(cf family, std::string_view prefix,
              std::vector<std::pair<std::string, std::string>>& out)
    = 0;
};

/// Applies `b` to `v`, checking versions and `insert`s. Returns the first
/// error; the caller then discards everything `b` wrote to `v`.
/// Precondition: `b.valid()`.
caf::error apply(const batch& b, view& v);

/// Parses a snapshots row.
caf::expected<stored_snapshot> parse_snapshot(std::string_view entity,
                                              std::string_view value);

/// Rebuilds a timer from its index row (`entity 0 kind 0 id` ->
/// `due64 owner`), validating every part.
caf::expected<timer> parse_timer_index(std::string_view key,
                                       std::string_view value);

/// Decodes a timers row and checks it against its key.
caf::expected<timer> parse_timer_row(std::string_view key,
                                     std::string_view value);

/// A `storage_failure` for `what`.
caf::error storage_error(std::string what);

/// A `corrupt_data` error for a row of `family`.
caf::error corrupt(cf family, std::string what);

} // namespace tenure::storage::detail
