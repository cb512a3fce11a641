// The offline membership change (issue 6, "Changing membership").
//
// When the member list changes, rendezvous ownership (actors/ownership.hpp)
// gives some keys to other members. The rows of those entities have to move
// with them: snapshots, events, timers, outbox rows, coupon pools, index
// rows, idempotency records. Moving is an offline procedure, run with the
// node stopped, in three steps (the `tenure-move` command, README
// "Changing cluster membership (offline move)"):
//
//   1. export  on each old member: one bundle per destination
//              (`<dest>.tmove`) with every row that the new member list
//              assigns to that destination;
//   2. import  on each destination: the bundles addressed to it;
//   3. prune   on each old member, after the imports: the rows it no longer
//              owns.
//
// `plan_moves` answers "what would move" without writing anything, for the
// command and for the HTTP route `POST /v1/cluster/plan`.

#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "actors/ownership.hpp"
#include "storage/cf.hpp"
#include "storage/store.hpp"

namespace tenure::cluster_move {

// -- where a row belongs ------------------------------------------------------

/// Where a stored row belongs under a member list.
struct row_home {
  enum class kind : uint8_t {
    /// The row lives with the owner of `key` (`ownership::owner_of(key)`).
    owned,
    /// Node-local and transient (webhook replay and event dedupe, markers of
    /// the node's own maintenance): it stays where it is and never moves.
    local,
    /// A row this build does not know. It stays, and the commands report how
    /// many there were, so an operator can look before pruning.
    unknown,
  };

  kind what = kind::unknown;
  /// For `owned`: the rendezvous key, e.g. an entity id, `pool/edu` or
  /// `idem/<Idempotency-Key>`.
  std::string key;

  friend bool operator==(const row_home& x, const row_home& y) {
    return x.what == y.what && x.key == y.key;
  }
};

/// The subscription of compliance case `case_id` (from its snapshot): cases
/// live with their subscription, see `owner_key_of`.
using case_lookup
  = std::function<caf::expected<std::string>(std::string_view case_id)>;

/// A `case_lookup` that reads case snapshots from `st` (and remembers them).
/// `st` must outlive the lookup.
case_lookup store_case_lookup(const storage::store& st);

/// Decides which rendezvous key owns a stored row of `family`. The rule for
/// every kind of row, and why, is in the comments of cluster_move.cpp; in
/// short:
///
/// - an entity's snapshot, events, timers, timer index rows and email index
///   rows go by the entity id, except that a compliance case (`case_...`)
///   goes by its subscription's id: the subscription actor writes both in
///   one commit, so they must share a store;
/// - outbox rows (and their delivery timers) by the notification id, audit
///   rows and their email index by the audit id;
/// - coupon rows and pool waiting rows by `pool/<program>`;
/// - idempotency rows `request\0<key name>\0<key>` and their expiry index
///   rows by `idem/<key>`;
/// - the review queue by application, `emergency/<sub>` by the license it
///   names, `active_subscription/...` by the subscription it names;
/// - webhook signature and event dedupe rows, their expiry rows and the
///   store's own markers are `local`.
///
/// `cases` is needed only for rows that name a case without its
/// subscription (a case's events, timers or index rows); without it those
/// fail with `errc::invalid_argument`. Malformed rows fail with
/// `errc::corrupt_data`.
caf::expected<row_home> owner_key_of(storage::cf family, std::string_view key,
                                     std::string_view value,
                                     const case_lookup& cases = {});

// -- member lists -------------------------------------------------------------

/// Parses `a@host:port,b@host:port,...` (spaces around items allowed; an IPv6
/// host in brackets, `[::1]:9101`). Checks the list with `ownership::make`.
/// Errors: `errc::invalid_argument` naming the bad item.
caf::expected<ownership> parse_members(std::string_view list);

// -- plan ---------------------------------------------------------------------

/// Entities by kind. An entity is a stored snapshot or a coupon pool.
struct entity_counts {
  uint64_t applications = 0;
  uint64_t subscriptions = 0;
  uint64_t compliance_cases = 0;
  uint64_t emergency_licenses = 0;
  uint64_t coupon_pools = 0;
  /// Snapshots of any other kind.
  uint64_t other = 0;

  uint64_t total() const noexcept {
    return applications + subscriptions + compliance_cases + emergency_licenses
           + coupon_pools + other;
  }

  /// Counts the entity `id` (`pool/<program>` for a pool).
  void add(std::string_view id);
};

/// What moves from this node to one destination.
struct planned_move {
  std::string from;
  std::string to;
  /// Entities that move.
  uint64_t count = 0;
  entity_counts kinds;
  /// The first `list_limit` of them: entity ids in key order, then pools as
  /// `pool/<program>`.
  std::vector<std::string> entities;
};

/// What a new member list moves away from this node.
struct move_plan {
  std::string from;
  /// One entry per destination that receives something, by name.
  std::vector<planned_move> moves;
  /// Entities that move, over all destinations.
  uint64_t total = 0;
  /// Entities that stay here.
  uint64_t staying = 0;
};

/// Which entities of `st` the member list `next` assigns to a member other
/// than `self`. Reads the snapshots and one row per coupon pool; writes
/// nothing, so it also runs on a live node (then it is a snapshot in time).
caf::expected<move_plan> plan_moves(const storage::store& st,
                                    const ownership& next,
                                    std::string_view self, size_t list_limit);

// -- rows ---------------------------------------------------------------------

/// Rows by column family.
struct row_counts {
  std::array<uint64_t, storage::cf_count> by_cf{};

  uint64_t total() const noexcept;

  uint64_t operator[](storage::cf x) const noexcept {
    return by_cf[static_cast<size_t>(x)];
  }

  void add(storage::cf x, uint64_t n = 1) noexcept {
    by_cf[static_cast<size_t>(x)] += n;
  }
};

// -- export -------------------------------------------------------------------

/// File name suffix of bundles.
inline constexpr std::string_view bundle_suffix = ".tmove";

/// One bundle written by `export_moves`.
struct bundle_info {
  std::string to;
  /// `<out_dir>/<to>.tmove`.
  std::string path;
  /// Rows in the bundle. Timer index rows are not exported: the importer
  /// rebuilds them from the timers.
  row_counts rows;
  entity_counts entities;
};

struct export_report {
  std::string from;
  /// By destination name; destinations that receive nothing get no bundle.
  std::vector<bundle_info> bundles;
  /// Rows that stay because they are node-local.
  uint64_t local_rows = 0;
  /// Rows of kinds this build does not know; they stay.
  uint64_t unknown_rows = 0;
};

/// Writes one bundle per destination into `out_dir` (created if missing):
/// every row of `st` that `next` assigns to a member other than `self`.
/// Each file is written under a temporary name, synced and renamed, so a
/// bundle that exists is complete. Writes nothing to `st`.
///
/// Bundle format, version 1 (all integers big-endian):
///
///   "TENUREMV" u32(version) str(from) str(to) str(members)
///   { 'R' u8(cf) str(key) str(value) }*
///   'E' u64(row count) sha256(every byte before it)[32]
///
/// where `str` is a u32 length and the bytes, `cf` the `storage::cf` value.
caf::expected<export_report> export_moves(const storage::store& st,
                                          const ownership& next,
                                          std::string_view self,
                                          const std::string& out_dir);

// -- import -------------------------------------------------------------------

struct import_report {
  std::string from;
  std::string to;
  /// Rows in the bundle.
  row_counts rows;
  /// Rows written; the others were present already, identical.
  uint64_t written = 0;
  uint64_t already_present = 0;
  /// Entities in the bundle.
  entity_counts entities;
};

/// Imports the bundle at `path` into `st`, the store of node `self`.
///
/// First the whole file is read and checked: format, checksum, row count,
/// every row well-formed, and no row contradicting what `st` holds. Only
/// then is anything written, in batches of whole rows. A row that `st`
/// already holds with the same bytes is skipped, so importing a bundle twice
/// is harmless (and an interrupted import is finished by running it again).
///
/// Errors, with nothing written: `errc::corrupt_data` (not a bundle,
/// truncated, checksum mismatch, malformed row), `errc::invalid_argument`
/// (addressed to another node), `errc::conflict` (`st` holds a different
/// version of a row: say which, never a coupon code or key),
/// `errc::storage_failure`.
caf::expected<import_report> import_bundle(storage::store& st,
                                           const std::string& path,
                                           std::string_view self);

// -- prune --------------------------------------------------------------------

struct prune_report {
  /// Rows deleted.
  row_counts rows;
  /// Entities deleted.
  entity_counts entities;
  uint64_t local_rows = 0;
  uint64_t unknown_rows = 0;
};

/// The rows of `st` that `next` assigns to a member other than `self`,
/// grouped by rendezvous key (an entity's rows together), as (family, key).
/// What `prune_moved` deletes, and what `export_moves` exports plus the
/// timer index rows.
struct moved_rows {
  struct group {
    std::string home;
    std::string to;
    std::vector<std::pair<storage::cf, std::string>> rows;
  };
  std::vector<group> groups;
  prune_report counts;
};

caf::expected<moved_rows> collect_moved(const storage::store& st,
                                        const ownership& next,
                                        std::string_view self);

/// Deletes from the RocksDB store at `db_path` (the node's `DATA/db`) every
/// row that `next` assigns to a member other than `self`. Run it after the
/// destinations imported their bundles. Each entity's rows go in one atomic
/// write (synced), so an interrupted prune leaves whole entities and is
/// finished by running it again.
///
/// Opens the store itself and fails with `errc::storage_failure` when it is
/// locked (the node is running). Deletes with `batch::erase_raw`, the one
/// deletion of snapshots, events and timer rows, which a running node never
/// uses.
caf::expected<prune_report> prune_moved(const std::string& db_path,
                                        const ownership& next,
                                        std::string_view self);

} // namespace tenure::cluster_move
