#include "storage/store.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>

#include "messages/errc.hpp"
#include "storage/apply.hpp"
#include "storage/keys.hpp"

namespace tenure::storage {

namespace {

/// Meta row holding the storage format version (be64).
constexpr std::string_view format_key = "tenure.storage.format";

caf::error status_error(std::string_view what, const rocksdb::Status& s) {
  return detail::storage_error(fmt::format("{}: {}", what, s.ToString()));
}

caf::error closed_error() {
  return make_error(errc::unavailable, "the store is closed");
}

rocksdb::Slice to_slice(std::string_view x) {
  return rocksdb::Slice{x.data(), x.size()};
}

std::string_view to_view(const rocksdb::Slice& x) {
  return std::string_view{x.data(), x.size()};
}

bool starts_with(std::string_view x, std::string_view prefix) {
  return x.substr(0, prefix.size()) == prefix;
}

/// Column families whose rows are deleted soon after they are written (queue
/// like): their SST files get compacted early when they fill with tombstones,
/// because scans from the front would step over every tombstone otherwise.
bool queue_like(cf x) {
  return x == cf::timers || x == cf::timer_index || x == cf::outbox
         || x == cf::idempotency;
}

} // namespace

// -- impl ---------------------------------------------------------------------

// The write path is a pipeline of three threads, so that checking commits,
// writing groups and answering callers overlap on two cores:
//
//   callers --queue--> committer --sealed group--> writer --> completer
//                      (checks,                    (WAL,      (callbacks)
//                       builds the WriteBatch)      fsync,
//                                                   memtable)
//
// While the writer writes group N, the committer keeps adding the commits
// that arrive to group N+1 and hands it over the moment the writer is free:
// a group is whatever arrived during the previous write, and nothing waits
// on purpose. The committer reads through three layers: its own group, the
// rows of group N (handed over, maybe not written yet), then the database.
// Groups are written in order, so when N+1 is handed over, N is in the
// database. If writing N fails, N+1 was checked against rows that never
// arrived, and fails as a whole. The writer's cost is mostly the memtable
// insert, so the committer hands it each group's writes sorted by key and
// without rows overwritten within the group (see build_batch).
//
// When idle, hops are skipped: with nothing else queued the committer writes
// a group itself, and a small group's callbacks run on the thread that wrote
// it if the completer has nothing to do. A lone commit then costs two thread
// wake-ups (to the committer and back), not four.

struct rocksdb_store::impl {
  // -- member types -----------------------------------------------------------

  /// One commit waiting for the committer.
  struct pending {
    batch b;
    store::commit_callback cb;
  };

  /// Rows a group wrote (nullopt: deleted), for the families `apply` reads.
  using rows = std::map<std::string, std::optional<std::string>, std::less<>>;
  using overlay = std::array<rows, cf_count>;

  /// `apply` never reads events and timers rows: not worth tracking.
  static bool tracked(cf x) {
    return x != cf::events && x != cf::timers;
  }

  /// One write of a group (nullopt value: a delete).
  struct write_op {
    cf family;
    std::string key;
    std::optional<std::string> value;
  };

  /// The group the committer is building.
  struct group {
    /// The writes of the commits that passed their checks, in order.
    std::vector<write_op> ops;
    overlay written;
    std::vector<pending> commits;
    std::vector<caf::error> results;
    size_t bytes = 0;
    /// Set when no further commit fits.
    bool full = false;
  };

  /// A group on its way to the writer and the completer.
  struct sealed {
    sealed() {
      // nop (user-provided: WriteBatch's default constructor is explicit)
    }

    rocksdb::WriteBatch wb;
    std::vector<pending> commits;
    std::vector<caf::error> results;
    /// Set when the WriteBatch could not be built; fails the group.
    caf::error broken;
  };

  /// The committer's view for `detail::apply`: this group, the group handed
  /// over last, then the database.
  class group_view final : public detail::view {
  public:
    group_view(impl& parent, group& cur, const overlay& prev)
      : parent_(parent)
      , cur_(cur)
      , prev_(prev) {
      // nop
    }

    caf::error get(cf family, std::string_view key, std::string& value,
                   bool& found) override {
      if (!tracked(family))
        return detail::storage_error("untracked column family read during "
                                     "a commit");
      auto k = static_cast<size_t>(family);
      std::array<const rows*, 2> layers{&cur_.written[k], &prev_[k]};
      for (const auto* layer : layers)
        if (auto i = layer->find(key); i != layer->end()) {
          found = i->second.has_value();
          if (found)
            value = *i->second;
          return caf::none;
        }
      auto s
        = parent_.db->Get(ro_, parent_.handle(family), to_slice(key), &value);
      found = s.ok();
      if (s.ok() || s.IsNotFound())
        return caf::none;
      return status_error("read during commit", s);
    }

    caf::error put(cf family, std::string_view key,
                   std::string_view value) override {
      cur_.ops.push_back(
        write_op{family, std::string{key}, std::string{value}});
      if (tracked(family))
        remember(family, key, std::string{value});
      return caf::none;
    }

    caf::error erase(cf family, std::string_view key) override {
      cur_.ops.push_back(write_op{family, std::string{key}, std::nullopt});
      if (tracked(family))
        remember(family, key, std::nullopt);
      return caf::none;
    }

    caf::error scan_prefix(
      cf family, std::string_view prefix,
      std::vector<std::pair<std::string, std::string>>& out) override {
      if (!tracked(family))
        return detail::storage_error("untracked column family scan during "
                                     "a commit");
      auto upper = prefix_successor(prefix);
      rocksdb::Slice upper_slice{upper};
      rocksdb::ReadOptions ro;
      if (!upper.empty())
        ro.iterate_upper_bound = &upper_slice;
      // The database, then newer layers on top (prefix scans are rare and
      // short: the timers of one entity).
      rows merged;
      std::unique_ptr<rocksdb::Iterator> it{
        parent_.db->NewIterator(ro, parent_.handle(family))};
      for (it->Seek(to_slice(prefix)); it->Valid(); it->Next())
        merged.emplace(it->key().ToString(), it->value().ToString());
      auto s = it->status();
      if (!s.ok())
        return status_error("scan during commit", s);
      auto k = static_cast<size_t>(family);
      std::array<const rows*, 2> layers{&prev_[k], &cur_.written[k]};
      for (const auto* layer : layers)
        for (auto i = layer->lower_bound(prefix);
             i != layer->end() && starts_with(i->first, prefix); ++i)
          merged.insert_or_assign(i->first, i->second);
      for (auto& [key, value] : merged)
        if (value)
          out.emplace_back(key, std::move(*value));
      return caf::none;
    }

    /// Restores the group's rows to before this commit.
    void undo() {
      for (auto i = undo_.rbegin(); i != undo_.rend(); ++i) {
        auto& layer = cur_.written[i->family];
        if (i->existed)
          layer.insert_or_assign(std::move(i->key), std::move(i->previous));
        else
          layer.erase(i->key);
      }
      undo_.clear();
    }

  private:
    struct undo_entry {
      size_t family;
      std::string key;
      bool existed;
      std::optional<std::string> previous;
    };

    void remember(cf family, std::string_view key,
                  std::optional<std::string> value) {
      auto k = static_cast<size_t>(family);
      auto& layer = cur_.written[k];
      auto i = layer.find(key);
      if (i == layer.end()) {
        undo_.push_back(undo_entry{k, std::string{key}, false, std::nullopt});
        layer.emplace(std::string{key}, std::move(value));
      } else {
        undo_.push_back(
          undo_entry{k, std::string{key}, true, std::move(i->second)});
        i->second = std::move(value);
      }
    }

    impl& parent_;
    group& cur_;
    const overlay& prev_;
    rocksdb::ReadOptions ro_;
    std::vector<undo_entry> undo_;
  };

  // -- member variables -------------------------------------------------------

  store_options opts;

  /// Owned; released by `release()`.
  rocksdb::DB* db = nullptr;

  /// Every handle opened, including `default` and unknown families.
  std::vector<rocksdb::ColumnFamilyHandle*> all_handles;

  /// Handles by `cf`.
  std::array<rocksdb::ColumnFamilyHandle*, cf_count> handles{};

  /// Readers hold it shared, `close` exclusively before releasing `db`.
  mutable std::shared_mutex db_mtx;

  // Committer and writer state, guarded by `mtx`. The committer waits on
  // `cv`, the writer on `writer_cv`.
  std::mutex mtx;
  std::condition_variable cv;
  std::condition_variable writer_cv;
  std::deque<pending> queue;
  bool stopping = false;
  bool writer_busy = false;
  bool writer_stop = false;
  std::optional<sealed> to_write;
  /// Set by the writer when a group failed; read by the next hand-over.
  bool write_failed = false;

  // Completer state, guarded by `done_mtx`.
  std::mutex done_mtx;
  std::condition_variable done_cv;
  std::deque<sealed> done;
  bool done_stop = false;
  /// Set while some thread runs callbacks, so that they stay in order.
  bool completer_running = false;

  std::atomic<bool> open{false};

  std::thread committer;
  std::thread writer;
  std::thread completer;
  std::atomic<std::thread::id> committer_id{};
  std::atomic<std::thread::id> writer_id{};
  std::atomic<std::thread::id> completer_id{};

  // Metrics.
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> conflicts{0};
  std::atomic<uint64_t> groups{0};
  std::atomic<uint64_t> syncs{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> largest{0};
  std::atomic<uint64_t> write_micros{0};
  std::atomic<uint64_t> queued{0};

  /// Most commits the committer takes from the queue at once, so that it
  /// looks at the writer between takes and never lets it idle long.
  static constexpr size_t take_chunk = 32;

  /// Groups up to this size get their callbacks run by the thread that wrote
  /// them when the completer is idle.
  static constexpr size_t inline_callbacks = 2;

  // -- member functions -------------------------------------------------------

  ~impl() {
    release();
  }

  rocksdb::ColumnFamilyHandle* handle(cf family) const {
    return handles[static_cast<size_t>(family)];
  }

  /// Closes the database. Precondition: the pipeline is not running.
  caf::error release() {
    if (db == nullptr)
      return caf::none;
    caf::error result;
    auto keep = [&](caf::error err) {
      if (err && !result)
        result = std::move(err);
    };
    // With sync off, acknowledged commits may still sit in the OS page
    // cache; a clean close makes them durable. (FlushWAL(true) syncs; we
    // leave track_and_verify_wals_in_manifest off, see RELIABILITY.md.)
    if (!opts.sync) {
      auto s = db->FlushWAL(true);
      if (!s.ok())
        keep(status_error("sync on close", s));
    }
    for (auto* h : all_handles) {
      auto s = db->DestroyColumnFamilyHandle(h);
      if (!s.ok())
        keep(status_error("release column family", s));
    }
    all_handles.clear();
    handles.fill(nullptr);
    auto s = db->Close();
    if (!s.ok())
      keep(status_error("close", s));
    delete db;
    db = nullptr;
    return result;
  }

  caf::error check_format() {
    std::string value;
    auto s = db->Get(rocksdb::ReadOptions{}, handle(cf::meta),
                     to_slice(format_key), &value);
    if (s.IsNotFound()) {
      rocksdb::WriteOptions wo;
      wo.sync = true;
      s = db->Put(wo, handle(cf::meta), to_slice(format_key),
                  be64(format_version));
      return s.ok() ? caf::error{} : status_error("write format version", s);
    }
    if (!s.ok())
      return status_error("read format version", s);
    auto version = read_be64(value);
    if (!version || value.size() != 8)
      return detail::corrupt(cf::meta, "malformed format version");
    if (*version > format_version)
      return make_error(errc::schema_too_new,
                        fmt::format("storage format {} is newer than this "
                                    "build's {}",
                                    *version, format_version));
    return caf::none;
  }

  void start() {
    open = true;
    committer = std::thread{[this] {
      committer_id = std::this_thread::get_id();
      run_committer();
    }};
    writer = std::thread{[this] {
      writer_id = std::this_thread::get_id();
      run_writer();
    }};
    completer = std::thread{[this] {
      completer_id = std::this_thread::get_id();
      run_completer();
    }};
  }

  bool on_pipeline_thread() const noexcept {
    auto self = std::this_thread::get_id();
    return self == committer_id.load() || self == writer_id.load()
           || self == completer_id.load();
  }

  void join() {
    for (auto* t : {&committer, &writer, &completer})
      if (t->joinable())
        t->join();
  }

  void enqueue(pending p) {
    bool was_empty = false;
    {
      std::unique_lock<std::mutex> guard{mtx};
      if (stopping) {
        guard.unlock();
        failed.fetch_add(1, std::memory_order_relaxed);
        p.cb(closed_error());
        return;
      }
      was_empty = queue.empty();
      queue.push_back(std::move(p));
      queued.fetch_add(1, std::memory_order_relaxed);
    }
    // With commits queued, the committer is busy or waits for the writer
    // with a full group: only a push to an empty queue needs to wake it.
    if (was_empty)
      cv.notify_one();
  }

  // -- committer --------------------------------------------------------------

  void run_committer() {
    group cur;
    overlay prev;
    std::vector<pending> taken;
    for (;;) {
      bool hand_over = false;
      bool failed_before = false;
      bool self_write = false;
      {
        std::unique_lock<std::mutex> guard{mtx};
        cv.wait(guard, [&] {
          return (!cur.commits.empty() && !writer_busy)
                 || (!queue.empty() && !cur.full)
                 || (stopping && queue.empty() && cur.commits.empty());
        });
        if (!cur.commits.empty() && !writer_busy) {
          // The writer is free: it takes what we have, right away.
          hand_over = true;
          writer_busy = true;
          failed_before = std::exchange(write_failed, false);
          // Nothing to check meanwhile: write it ourselves and save the
          // hop to the writer thread (the latency of a lone commit).
          self_write = queue.empty();
        } else if (!queue.empty() && !cur.full) {
          if (opts.before_group && cur.commits.empty()) {
            guard.unlock();
            opts.before_group();
            guard.lock();
          }
          take(cur, taken);
        } else {
          writer_stop = true;
          writer_cv.notify_one();
          return;
        }
      }
      if (hand_over) {
        auto out = seal(cur, prev, failed_before);
        if (self_write) {
          finish(out);
        } else {
          {
            std::lock_guard<std::mutex> guard{mtx};
            to_write = std::move(out);
          }
          writer_cv.notify_one();
        }
        continue;
      }
      for (auto& p : taken)
        add(cur, prev, std::move(p));
      taken.clear();
    }
  }

  /// Moves commits from the queue to `taken`, within the group's bounds.
  /// Precondition: `mtx` is held.
  void take(group& cur, std::vector<pending>& taken) {
    auto count = cur.commits.size();
    auto group_bytes = cur.bytes;
    while (!queue.empty() && taken.size() < take_chunk) {
      auto n = queue.front().b.bytes();
      if (count >= opts.max_group_commits
          || (count > 0 && group_bytes + n > opts.max_group_bytes)) {
        cur.full = true;
        break;
      }
      ++count;
      group_bytes += n;
      taken.push_back(std::move(queue.front()));
      queue.pop_front();
    }
    queued.fetch_sub(taken.size(), std::memory_order_relaxed);
  }

  /// Checks one commit and adds its writes to the group, or rolls it back.
  void add(group& cur, const overlay& prev, pending p) {
    caf::error result;
    const auto& b = p.b;
    if (!b.valid()) {
      result = make_error(errc::invalid_argument, b.problem());
    } else if (!b.ops().empty()) {
      auto save_point = cur.ops.size();
      group_view view{*this, cur, prev};
      result = detail::apply(b, view);
      if (result) {
        view.undo();
        cur.ops.resize(save_point);
      }
    }
    cur.bytes += b.bytes();
    cur.results.push_back(std::move(result));
    cur.commits.push_back(std::move(p));
    if (cur.commits.size() >= opts.max_group_commits
        || cur.bytes >= opts.max_group_bytes)
      cur.full = true;
  }

  /// Builds the group's WriteBatch in key order per column family, keeping
  /// only the last write of each key. The group is atomic, so the rows in
  /// between were never visible; and sorted input lets the memtable reuse
  /// its insert position (the memtable insert is what bounds the writer).
  rocksdb::Status build_batch(std::vector<write_op>& ops,
                              rocksdb::WriteBatch& wb) {
    std::vector<uint32_t> order(ops.size());
    for (uint32_t i = 0; i < order.size(); ++i)
      order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
      const auto& a = ops[x];
      const auto& b = ops[y];
      return a.family != b.family ? a.family < b.family : a.key < b.key;
    });
    for (size_t i = 0; i < order.size(); ++i) {
      auto& op = ops[order[i]];
      if (i + 1 < order.size()) {
        const auto& next = ops[order[i + 1]];
        if (next.family == op.family && next.key == op.key)
          continue; // Overwritten later in the group.
      }
      auto s = op.value ? wb.Put(handle(op.family), op.key, *op.value)
                        : wb.Delete(handle(op.family), op.key);
      if (!s.ok())
        return s;
    }
    return rocksdb::Status::OK();
  }

  /// Turns `cur` into a group for the writer and starts a new one.
  /// Precondition: `writer_busy` was set for us.
  sealed seal(group& cur, overlay& prev, bool failed_before) {
    sealed out;
    out.commits = std::move(cur.commits);
    out.results = std::move(cur.results);
    if (failed_before) {
      // Its checks read rows of a group that never reached the database.
      out.broken = detail::storage_error("an earlier group failed to write; "
                                         "retry");
    } else if (auto s = build_batch(cur.ops, out.wb); !s.ok()) {
      out.broken = status_error("build the group's batch", s);
    }
    if (out.broken) {
      for (auto& result : out.results)
        if (!result)
          result = out.broken;
      prev = overlay{};
      out.wb.Clear();
    } else {
      prev = std::move(cur.written);
    }
    cur = group{};
    return out;
  }

  // -- writer -----------------------------------------------------------------

  void run_writer() {
    for (;;) {
      std::optional<sealed> next;
      {
        std::unique_lock<std::mutex> guard{mtx};
        writer_cv.wait(guard, [this] { return to_write || writer_stop; });
        if (!to_write)
          break;
        next.swap(to_write);
      }
      finish(*next);
    }
    {
      std::lock_guard<std::mutex> guard{done_mtx};
      done_stop = true;
    }
    done_cv.notify_one();
  }

  /// Writes `g`, frees the writer's slot and delivers the outcomes.
  /// Precondition: `writer_busy` was set for us.
  void finish(sealed& g) {
    auto ok = write(g);
    {
      std::lock_guard<std::mutex> guard{mtx};
      writer_busy = false;
      if (!ok)
        write_failed = true;
    }
    cv.notify_one();
    deliver(g);
  }

  /// Runs the callbacks of a small group right here when the completer is
  /// idle (one thread hop less for a lone commit); queues them otherwise, so
  /// that a busy writer does not spend its time waking callers.
  void deliver(sealed& g) {
    {
      std::unique_lock<std::mutex> guard{done_mtx};
      if (g.commits.size() <= inline_callbacks && done.empty()
          && !completer_running) {
        // Holding `completer_running` keeps callbacks in group order.
        completer_running = true;
        guard.unlock();
        run_callbacks(g);
        guard.lock();
        completer_running = false;
        if (done.empty())
          return;
      } else {
        done.push_back(std::move(g));
      }
    }
    done_cv.notify_one();
  }

  static void run_callbacks(sealed& g) {
    for (size_t i = 0; i < g.commits.size(); ++i)
      g.commits[i].cb(g.results[i]);
  }

  /// Writes one group; fills in the results. Returns false if the write
  /// failed.
  bool write(sealed& g) {
    caf::error err;
    if (g.wb.Count() > 0) {
      rocksdb::WriteOptions wo;
      wo.sync = opts.sync;
      auto start = std::chrono::steady_clock::now();
      auto s = db->Write(wo, &g.wb);
      auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
      write_micros.fetch_add(static_cast<uint64_t>(micros.count()),
                             std::memory_order_relaxed);
      if (s.ok()) {
        groups.fetch_add(1, std::memory_order_relaxed);
        if (opts.sync)
          syncs.fetch_add(1, std::memory_order_relaxed);
        bytes.fetch_add(g.wb.GetDataSize(), std::memory_order_relaxed);
      } else {
        err = status_error("write", s);
      }
    }
    uint64_t ok = 0;
    uint64_t bad = 0;
    uint64_t refused = 0;
    for (auto& result : g.results) {
      if (!result && err)
        result = err;
      if (!result) {
        ++ok;
        continue;
      }
      ++bad;
      if (result == errc::conflict || result == errc::already_exists)
        ++refused;
    }
    commits.fetch_add(ok, std::memory_order_relaxed);
    failed.fetch_add(bad, std::memory_order_relaxed);
    conflicts.fetch_add(refused, std::memory_order_relaxed);
    auto prev = largest.load(std::memory_order_relaxed);
    while (
      ok > prev
      && !largest.compare_exchange_weak(prev, ok, std::memory_order_relaxed)) {
      // retry
    }
    return !err;
  }

  // -- completer --------------------------------------------------------------

  void run_completer() {
    std::deque<sealed> batch_of_groups;
    for (;;) {
      {
        std::unique_lock<std::mutex> guard{done_mtx};
        done_cv.wait(guard, [this] {
          return !completer_running && (!done.empty() || done_stop);
        });
        if (done.empty())
          return;
        batch_of_groups.swap(done);
        completer_running = true;
      }
      for (auto& g : batch_of_groups)
        run_callbacks(g);
      batch_of_groups.clear();
      std::lock_guard<std::mutex> guard{done_mtx};
      completer_running = false;
    }
  }
};

// -- rocksdb_store ------------------------------------------------------------

caf::expected<std::unique_ptr<rocksdb_store>>
rocksdb_store::open(store_options opts) {
  if (opts.path.empty())
    return make_error(errc::invalid_argument, "store path is empty");
  if (opts.max_group_commits == 0 || opts.max_group_bytes == 0)
    return make_error(errc::invalid_argument,
                      "max_group_commits and max_group_bytes must be > 0");
  rocksdb::DBOptions db_opts;
  db_opts.create_if_missing = opts.create_if_missing;
  db_opts.create_missing_column_families = true;
  db_opts.db_write_buffer_size = opts.write_buffer_bytes;
  db_opts.max_background_jobs = 2;
  db_opts.keep_log_file_num = 5;
  // wal_recovery_mode stays kPointInTimeRecovery (the default): after a torn
  // WAL tail we recover a consistent prefix instead of refusing to open.
  rocksdb::BlockBasedTableOptions table_opts;
  table_opts.block_cache = rocksdb::NewLRUCache(opts.block_cache_bytes);
  // Whole-key bloom filters speed up the point reads of every commit
  // (snapshot versions, timer index rows) when they miss.
  table_opts.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  std::shared_ptr<rocksdb::TableFactory> table_factory{
    rocksdb::NewBlockBasedTableFactory(table_opts)};
  auto cf_opts_for = [&](std::optional<cf> family) {
    rocksdb::ColumnFamilyOptions cf_opts;
    cf_opts.table_factory = table_factory;
    cf_opts.level_compaction_dynamic_level_bytes = true;
    if (family && queue_like(*family))
      cf_opts.table_properties_collector_factories.emplace_back(
        rocksdb::NewCompactOnDeletionCollectorFactory(1024, 512, 0.5));
    return cf_opts;
  };
  // Open every family the database has, also those of a newer build that we
  // do not know: RocksDB refuses to open otherwise.
  std::vector<std::string> existing;
  auto s = rocksdb::DB::ListColumnFamilies(db_opts, opts.path, &existing);
  if (!s.ok())
    existing.clear(); // A new database, or Open reports the real problem.
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName,
                           cf_opts_for(std::nullopt));
  for (auto family : all_cfs)
    descriptors.emplace_back(std::string{to_string(family)},
                             cf_opts_for(family));
  for (const auto& name : existing) {
    auto known = std::any_of(descriptors.begin(), descriptors.end(),
                             [&](const auto& d) { return d.name == name; });
    if (!known)
      descriptors.emplace_back(name, cf_opts_for(std::nullopt));
  }
  auto state = std::make_unique<impl>();
  s = rocksdb::DB::Open(db_opts, opts.path, descriptors, &state->all_handles,
                        &state->db);
  if (!s.ok())
    return status_error("cannot open store at " + opts.path, s);
  for (auto* h : state->all_handles)
    if (auto family = cf_from_string(h->GetName()))
      state->handles[static_cast<size_t>(*family)] = h;
  state->opts = std::move(opts);
  if (auto err = state->check_format())
    return err; // ~impl closes the database.
  state->start();
  return std::unique_ptr<rocksdb_store>{new rocksdb_store{std::move(state)}};
}

rocksdb_store::rocksdb_store(std::unique_ptr<impl> ptr)
  : impl_(std::move(ptr)) {
  // nop
}

rocksdb_store::~rocksdb_store() {
  do_close();
  // A close() from a commit callback could not join the pipeline.
  impl_->join();
  // Errors of a close in a destructor have nobody to go to; the WAL was
  // synced per commit, so the next open recovers what matters.
  static_cast<void>(impl_->release());
}

const store_options& rocksdb_store::options() const noexcept {
  return impl_->opts;
}

void rocksdb_store::do_commit(batch b, commit_callback cb) {
  impl_->enqueue(impl::pending{std::move(b), std::move(cb)});
}

caf::expected<std::optional<std::string>>
rocksdb_store::do_get(cf family, std::string_view key) const {
  std::shared_lock<std::shared_mutex> guard{impl_->db_mtx};
  if (impl_->db == nullptr)
    return closed_error();
  rocksdb::PinnableSlice value;
  auto s = impl_->db->Get(rocksdb::ReadOptions{}, impl_->handle(family),
                          to_slice(key), &value);
  if (s.IsNotFound())
    return std::optional<std::string>{};
  if (!s.ok())
    return status_error("read", s);
  return std::optional<std::string>{value.ToString()};
}

caf::error rocksdb_store::do_scan(cf family, std::string_view from,
                                  std::string_view to,
                                  const row_visitor& f) const {
  std::shared_lock<std::shared_mutex> guard{impl_->db_mtx};
  if (impl_->db == nullptr)
    return closed_error();
  auto upper = to_slice(to);
  rocksdb::ReadOptions ro;
  if (!to.empty())
    ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it{
    impl_->db->NewIterator(ro, impl_->handle(family))};
  for (it->Seek(to_slice(from)); it->Valid(); it->Next())
    if (!f(to_view(it->key()), to_view(it->value())))
      break;
  auto s = it->status();
  return s.ok() ? caf::error{} : status_error("scan", s);
}

void rocksdb_store::do_close() {
  auto& st = *impl_;
  {
    std::lock_guard<std::mutex> guard{st.mtx};
    st.stopping = true;
    st.open = false;
  }
  st.cv.notify_all();
  // From a commit callback we cannot wait for ourselves: the pipeline stops
  // after this group, and the destructor releases the database.
  if (on_commit_thread())
    return;
  st.join();
  std::unique_lock<std::shared_mutex> guard{st.db_mtx};
  // Nobody to report to (close is void and runs in shutdown paths); every
  // acknowledged commit is in the synced WAL already.
  static_cast<void>(st.release());
}

bool rocksdb_store::do_is_open() const {
  return impl_->open.load();
}

store_metrics rocksdb_store::do_metrics() const {
  auto& st = *impl_;
  store_metrics m;
  m.commits = st.commits.load(std::memory_order_relaxed);
  m.failed_commits = st.failed.load(std::memory_order_relaxed);
  m.conflicts = st.conflicts.load(std::memory_order_relaxed);
  m.groups = st.groups.load(std::memory_order_relaxed);
  m.syncs = st.syncs.load(std::memory_order_relaxed);
  m.bytes = st.bytes.load(std::memory_order_relaxed);
  m.largest_group = st.largest.load(std::memory_order_relaxed);
  m.write_micros = st.write_micros.load(std::memory_order_relaxed);
  m.queued = st.queued.load(std::memory_order_relaxed);
  return m;
}

uint64_t rocksdb_store::do_estimate_rows(cf family) const {
  uint64_t n = 0;
  if (!impl_->db->GetIntProperty(impl_->handle(family),
                                 "rocksdb.estimate-num-keys", &n))
    return 0;
  return n;
}

bool rocksdb_store::on_commit_thread() const noexcept {
  return impl_->on_pipeline_thread();
}

} // namespace tenure::storage
