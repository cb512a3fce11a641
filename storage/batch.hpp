#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "messages/records.hpp"
#include "storage/cf.hpp"

namespace tenure::storage {

/// One operation of a `batch`, already in key/value form. Read by the stores;
/// callers build batches through `batch`'s member functions.
struct batch_op {
  // -- member types -----------------------------------------------------------

  enum class kind : uint8_t {
    /// Put `key`/`value` into snapshots after checking the stored version.
    put_snapshot,
    /// Put `key`/`value` into events.
    append_event,
    /// Put the timer row and its index row; drop the row of an earlier due
    /// time of the same timer (reschedule).
    put_timer,
    /// Remove the timer row; remove its index row if it still points to it.
    delete_timer,
    /// Remove every timer whose index key starts with `key`.
    cancel_timers,
    /// Put `key`/`value` into `family`.
    put,
    /// Put `key`/`value` into `family`; fail if the key exists.
    insert,
    /// Remove `key` from `family`.
    erase,
  };

  // -- member variables -------------------------------------------------------

  kind what;
  cf family;
  /// Main key (for cancel_timers: the index prefix).
  std::string key;
  /// Main value.
  std::string value;
  /// Timer operations: the index key.
  std::string index_key;
  /// Timer operations: the index value.
  std::string index_value;
  /// put_snapshot: the version the stored snapshot must have (0 = none).
  uint64_t expected_version = 0;
};

/// Everything one command changes, applied all or nothing by
/// `store::commit`: events, the new snapshot, timer changes, outbox rows,
/// coupon, audit and idempotency rows. Operations apply in the order they
/// were added, and each sees the effects of the ones before it.
///
/// Invalid input (an empty entity, a 0x00 inside a key component, a version
/// that does not grow, a generic write to a column family with invariants)
/// is recorded, not thrown: the batch then fails as a whole with
/// `errc::invalid_argument` when committed, and `problem()` says why.
class batch {
public:
  // -- entity state -----------------------------------------------------------

  /// Stores the snapshot of `entity` at `version`. Optimistic concurrency:
  /// the commit fails with `errc::conflict`, and none of this batch applies,
  /// unless the stored snapshot has version `expected_prev_version` (0: no
  /// snapshot stored yet). `version` must be greater than
  /// `expected_prev_version`.
  void put_snapshot(std::string_view entity, uint64_t version,
                    std::string_view bytes, uint64_t expected_prev_version);

  /// Appends event `seq` of `entity`. Events are read back in `seq` order.
  /// Writing an existing `seq` again overwrites it: the snapshot version
  /// check is what serializes writers of one entity.
  void append_event(std::string_view entity, uint64_t seq,
                    std::string_view bytes);

  // -- timers -----------------------------------------------------------------

  /// Arms `t`, or reschedules it when a timer with the same id, entity and
  /// kind exists: its row at the old due time is removed. The id must be set
  /// and entity, kind and owner non-empty without 0x00. Precondition: a
  /// timer id keeps its entity and kind for life.
  void put_timer(const timer& t);

  /// Removes a timer that fired, in the same commit as its effect. If the
  /// timer was rescheduled in the meantime, the newer schedule stays.
  void delete_timer(const timer& t);

  /// Removes all timers of `entity` of `kind`, or of every kind when `kind`
  /// is empty. Resolved when the commit applies, so it also removes timers
  /// put earlier in this batch or by an earlier commit of the same group.
  void cancel_timers(std::string_view entity, std::string_view kind = {});

  // -- generic rows -----------------------------------------------------------

  /// Puts a row of outbox, coupons, audit, idempotency or meta.
  void put(cf family, std::string_view key, std::string_view value);

  /// Puts a row that must not exist yet; the commit fails with
  /// `errc::already_exists` otherwise (idempotency keys, unique codes).
  void insert(cf family, std::string_view key, std::string_view value);

  /// Removes a row of outbox, coupons, audit, idempotency or meta.
  void erase(cf family, std::string_view key);

  /// Removes a row of any family, snapshots, events, timers and the timer
  /// index included, without keeping their invariants: for offline
  /// maintenance that deletes whole entities, every row of them (tenure-move
  /// prune). A running node never uses it.
  void erase_raw(cf family, std::string_view key);

  // -- properties -------------------------------------------------------------

  /// Whether no operation was added.
  bool empty() const noexcept {
    return ops_.empty() && problem_.empty();
  }

  /// Number of operations.
  size_t size() const noexcept {
    return ops_.size();
  }

  /// Bytes of keys and values, the measure of the group bound.
  size_t bytes() const noexcept {
    return bytes_;
  }

  /// Whether every operation was valid.
  bool valid() const noexcept {
    return problem_.empty();
  }

  /// The first invalid input, without any value; empty when `valid()`.
  const std::string& problem() const noexcept {
    return problem_;
  }

  /// The operations in order.
  const std::vector<batch_op>& ops() const noexcept {
    return ops_;
  }

  /// Removes all operations and any problem.
  void clear() noexcept;

private:
  bool require(bool condition, std::string_view op, std::string_view what);
  bool check_component(std::string_view op, std::string_view name,
                       std::string_view value, bool allow_empty = false);
  bool check_timer(std::string_view op, const timer& t);
  void add(batch_op op);

  std::vector<batch_op> ops_;
  size_t bytes_ = 0;
  std::string problem_;
};

} // namespace tenure::storage
