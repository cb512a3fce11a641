#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/records.hpp"
#include "messages/time.hpp"
#include "storage/batch.hpp"
#include "storage/cf.hpp"

/// The store: one atomic, durable commit per state change, and the reads that
/// entity actors, supervisors and the outbox need. Two implementations with
/// one contract: `rocksdb_store` (below) runs in production, `memory_store`
/// (storage/memory_store.hpp) serves fast unit tests. This header includes no
/// RocksDB header, so actors can include it cheaply.
namespace tenure::storage {

// -- options and metrics ------------------------------------------------------

/// Options of `rocksdb_store::open`.
struct store_options {
  /// Directory of the database. Default: empty (required).
  std::string path;

  /// Whether a commit is acknowledged only after the write-ahead log is
  /// fsynced. With `false` an acknowledged commit survives a crash of the
  /// process but not of the machine; a clean `close()` still syncs.
  /// Default: true.
  bool sync = true;

  /// Most commits merged into one group (one WriteBatch, one fsync).
  /// Default: 1024.
  size_t max_group_commits = 1024;

  /// Most bytes of keys and values merged into one group; a larger single
  /// commit forms a group of its own. Default: 4 MiB.
  size_t max_group_bytes = size_t{4} << 20;

  /// LRU block cache shared by all column families, in bytes.
  /// Default: 64 MiB.
  size_t block_cache_bytes = size_t{64} << 20;

  /// Memtable memory of all column families together
  /// (`db_write_buffer_size`); reaching it flushes the largest memtable.
  /// Default: 128 MiB.
  size_t write_buffer_bytes = size_t{128} << 20;

  /// Whether `open` creates a missing database instead of failing with
  /// `errc::storage_failure`. Default: true.
  bool create_if_missing = true;

  /// For tests only: runs on the committer thread each time it starts a new
  /// group, before it takes the group's first commits from the queue.
  /// Blocking in it lets a test queue several commits that then form one
  /// group. Default: empty (nothing runs).
  std::function<void()> before_group;
};

/// Counters of a store since it was opened. A snapshot: read it again for
/// fresh values.
struct store_metrics {
  /// Commits acknowledged as written (durable when `sync` is on).
  uint64_t commits = 0;
  /// Commits that failed: conflicts, invalid batches, storage errors, closed.
  uint64_t failed_commits = 0;
  /// Of the failed commits, those refused by a version check or `insert`.
  uint64_t conflicts = 0;
  /// Groups written, one WriteBatch each.
  uint64_t groups = 0;
  /// Groups written with a WAL fsync.
  uint64_t syncs = 0;
  /// Bytes of all WriteBatches written.
  uint64_t bytes = 0;
  /// Commits in the largest group.
  uint64_t largest_group = 0;
  /// Time spent writing groups (WAL, fsync, memtable), in microseconds.
  uint64_t write_micros = 0;
  /// Commits waiting for the committer when the metrics were read.
  uint64_t queued = 0;

  /// Average number of commits acknowledged per group.
  double avg_group_size() const noexcept {
    return groups == 0
             ? 0.0
             : static_cast<double>(commits) / static_cast<double>(groups);
  }
};

// -- rows ---------------------------------------------------------------------

/// An entity's stored snapshot.
struct stored_snapshot {
  uint64_t version = 0;
  std::string bytes;

  friend bool operator==(const stored_snapshot& x, const stored_snapshot& y) {
    return x.version == y.version && x.bytes == y.bytes;
  }
};

/// One stored event of an entity.
struct stored_event {
  uint64_t seq = 0;
  std::string bytes;

  friend bool operator==(const stored_event& x, const stored_event& y) {
    return x.seq == y.seq && x.bytes == y.bytes;
  }
};

/// Where a timer stands in its owner's due order.
struct timer_position {
  time_point due;
  std::string id;
};

/// A raw row of a column family.
struct key_value {
  std::string key;
  std::string value;

  friend bool operator==(const key_value& x, const key_value& y) {
    return x.key == y.key && x.value == y.value;
  }
};

// -- the interface ------------------------------------------------------------

/// The contract of both stores.
///
/// Thread-safe: commits and reads may come from any thread. Reads see every
/// commit whose callback ran, never a part of a commit. Errors are values:
/// `errc::storage_failure` (I/O), `errc::corrupt_data` (stored bytes fail
/// validation), `errc::conflict` and `errc::already_exists` (checks of a
/// batch), `errc::invalid_argument` (a batch with a `problem()`),
/// `errc::unavailable` (after `close()`).
class store {
public:
  // -- member types -----------------------------------------------------------

  /// Receives the outcome of one commit: no error means applied (and durable
  /// when the store syncs). Runs exactly once: on one of the store's own
  /// threads (rocksdb_store), before `commit` returns (memory_store), or
  /// before `commit` returns when the store is closed. Keep it short and do
  /// not block in it (send a message, fulfil a promise): later callbacks,
  /// and possibly the next group, wait for it.
  using commit_callback = std::function<void(const caf::error&)>;

  /// Passed as `limit` for "no limit".
  static constexpr size_t no_limit = std::numeric_limits<size_t>::max();

  // -- constructors, destructors, and assignment operators --------------------

  store() = default;
  store(const store&) = delete;
  store& operator=(const store&) = delete;
  virtual ~store();

  // -- writes -----------------------------------------------------------------

  /// Applies `b` atomically: all of it or, on any error, none of it. Commits
  /// from many threads are merged into groups that share one fsync; each
  /// commit is checked and fails on its own, without affecting the others of
  /// its group. Commits apply in the order they were queued.
  void commit(batch b, commit_callback cb);

  /// Commits `b` and waits for the outcome. Must not be called from a commit
  /// callback (returns `errc::unavailable` instead of deadlocking).
  [[nodiscard]] caf::error commit_sync(batch b);

  // -- reads ------------------------------------------------------------------

  /// The snapshot of `entity`, or nothing when none is stored.
  [[nodiscard]] caf::expected<std::optional<stored_snapshot>>
  get_snapshot(std::string_view entity) const;

  /// Events of `entity` with `seq >= from_seq`, in sequence order, at most
  /// `limit`.
  [[nodiscard]] caf::expected<std::vector<stored_event>>
  events(std::string_view entity, uint64_t from_seq = 0,
         size_t limit = no_limit) const;

  /// Timers with `due < until` (exclusive; pass `now + 1ms` to include
  /// `now`), in due order (ties: by owner, then id), at most `limit`; only
  /// those of `owner` when it is not empty. Cost: with an owner, the rows
  /// returned (timers are keyed by owner first); without, a seek per owner
  /// plus a sort of the rows found, for operators' listings.
  ///
  /// With an owner, `after` skips its timers up to and including that
  /// position: a supervisor resumes after the last timer it dispatched
  /// instead of stepping over the deleted rows of the timers it fired
  /// (RocksDB keeps them as tombstones until compaction).
  [[nodiscard]] caf::expected<std::vector<timer>>
  due_timers(time_point until, size_t limit = no_limit,
             std::string_view owner = {},
             const timer_position* after = nullptr) const;

  /// Timers of `entity` of `kind` (of every kind when empty), ordered by kind
  /// and id.
  [[nodiscard]] caf::expected<std::vector<timer>>
  timers_of(std::string_view entity, std::string_view kind = {}) const;

  /// The row `key` of `family`, or nothing.
  [[nodiscard]] caf::expected<std::optional<std::string>>
  get(cf family, std::string_view key) const;

  /// Rows of `family` whose key starts with `prefix` and is greater than
  /// `after` (for paging: pass the last key of the previous page), in key
  /// order, at most `limit`. Values are the stored form (see keys.hpp).
  [[nodiscard]] caf::expected<std::vector<key_value>>
  scan(cf family, std::string_view prefix, size_t limit = no_limit,
       std::string_view after = {}) const;

  /// Outbox rows in key order (notification ids are ULIDs: oldest first)
  /// after `after`, at most `limit`.
  [[nodiscard]] caf::expected<std::vector<key_value>>
  outbox(size_t limit = no_limit, std::string_view after = {}) const;

  // -- lifetime and observability ---------------------------------------------

  /// Stops taking commits (later ones fail with `errc::unavailable`),
  /// finishes every commit queued before, then releases the database.
  /// Idempotent.
  void close();

  /// Whether the store takes commits and reads.
  bool is_open() const;

  /// Counters since open.
  store_metrics metrics() const;

  /// About how many rows `family` holds (RocksDB's estimate, which counts
  /// deleted rows until compaction; exact in memory). For gauges such as
  /// `tenure_timers_pending`, never for decisions. 0 when closed.
  uint64_t estimate_rows(cf family) const;

protected:
  // -- primitives of the implementations --------------------------------------

  /// Receives each row of a scan; returns false to stop.
  using row_visitor
    = std::function<bool(std::string_view key, std::string_view value)>;

  /// Queues or applies `b`; calls `cb` exactly once.
  virtual void do_commit(batch b, commit_callback cb) = 0;

  /// Point read.
  virtual caf::expected<std::optional<std::string>>
  do_get(cf family, std::string_view key) const = 0;

  /// Visits rows with `from <= key < to` in key order (`to` empty: no upper
  /// bound) until `f` returns false.
  virtual caf::error do_scan(cf family, std::string_view from,
                             std::string_view to,
                             const row_visitor& f) const = 0;

  virtual void do_close() = 0;

  virtual bool do_is_open() const = 0;

  virtual store_metrics do_metrics() const = 0;

  /// Default: counts the rows with a scan.
  virtual uint64_t do_estimate_rows(cf family) const;

  /// Whether the calling thread runs commit callbacks of this store, where
  /// waiting for a commit would deadlock.
  virtual bool on_commit_thread() const noexcept {
    return false;
  }
};

// -- the RocksDB store --------------------------------------------------------

/// The store over RocksDB, one column family per `cf`.
///
/// Group commit: all writes pass one pipeline of three threads. The
/// committer checks each queued commit (versions, `insert`, timer index)
/// against the database plus the commits before it, rolls a failed one back
/// alone, and collects the rest into a group; the writer writes a group as
/// one WriteBatch with one fsync; the completer runs the callbacks (when
/// idle, the committer writes and answers itself, saving hops). While the
/// writer writes a group, the committer builds the next one from what
/// arrives (up to `max_group_commits` and `max_group_bytes`) and hands it
/// over as soon as the writer is free, so a caller waits at most for the
/// group being written plus its own, and no one waits on purpose.
///
/// Recovery is RocksDB's: reopening after a crash replays the WAL to a
/// consistent prefix (kPointInTimeRecovery, the default); with `sync` on,
/// that prefix holds every acknowledged commit, and a group is all or
/// nothing in it.
class rocksdb_store final : public store {
public:
  /// Opens (or creates) the database at `opts.path`. Fails with
  /// `errc::storage_failure` (cannot open, locked by another process),
  /// `errc::invalid_argument` (bad options) or `errc::schema_too_new`
  /// (written by a newer storage format).
  [[nodiscard]] static caf::expected<std::unique_ptr<rocksdb_store>>
  open(store_options opts);

  /// Closes the store (see `close`).
  ~rocksdb_store() override;

  /// The options the store was opened with.
  const store_options& options() const noexcept;

  /// The storage format this build writes into `meta`.
  static constexpr uint64_t format_version = 1;

private:
  struct impl;

  explicit rocksdb_store(std::unique_ptr<impl> ptr);

  void do_commit(batch b, commit_callback cb) override;
  caf::expected<std::optional<std::string>>
  do_get(cf family, std::string_view key) const override;
  caf::error do_scan(cf family, std::string_view from, std::string_view to,
                     const row_visitor& f) const override;
  void do_close() override;
  bool do_is_open() const override;
  store_metrics do_metrics() const override;
  uint64_t do_estimate_rows(cf family) const override;
  bool on_commit_thread() const noexcept override;

  std::unique_ptr<impl> impl_;
};

} // namespace tenure::storage
