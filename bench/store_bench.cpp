// store_bench: durable commits per second of a typical command batch.
//
//   store_bench [--seconds N] [--dir DIR] [--threads 1,8,64]
//               [--cells raw,store,ceiling,nosync,async] [--summary FILE]
//
// One commit is what one command of an entity writes: a snapshot (~400 B,
// version-checked), 1 or 2 events (~150 B), one timer (rescheduled: the
// timer row plus its index row) and one outbox row (~300 B). Each committer
// thread works on its own 256 entities.
//
// Cells, each on a fresh database under a temp dir (removed afterwards):
//   raw      plain RocksDB, sync on, one WriteBatch per commit, N threads
//            calling DB::Write (RocksDB's own write group): the baseline.
//            Same rows, but no reads: the store also reads the snapshot
//            version and the timer index of every commit
//   store    rocksdb_store with group commit, sync on, N threads commit_sync
//   ceiling  plain RocksDB, sync on, 100 commits per WriteBatch, 1 thread
//   nosync   rocksdb_store with sync off, N threads
//   async    rocksdb_store, sync on, 2 producer threads (like CAF's two
//            scheduler threads) that never block: each keeps up to 512
//            commits in flight with `commit` and callbacks
// Ratios are against `raw` at the same thread count, measured in this run
// (the ceiling against raw at 1 thread, async against raw at 64). This is a
// program, not a test.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "bench/summary.hpp"
#include "messages/errc.hpp"
#include "messages/id.hpp"
#include "storage/batch.hpp"
#include "storage/cf.hpp"
#include "storage/store.hpp"

using namespace tenure;
using namespace tenure::storage;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr size_t entities_per_thread = 256;

/// Makes the commits of one committer thread.
class workload {
public:
  explicit workload(size_t thread)
    : thread_(thread)
    , versions_(entities_per_thread, 0) {
    id_generator gen{thread + 1};
    for (size_t i = 0; i < entities_per_thread; ++i)
      timer_ids_.push_back(gen.next<tmr_id>(from_unix_ms(1'700'000'000'000)));
  }

  /// The next command's batch.
  batch next() {
    auto slot = n_ % entities_per_thread;
    auto entity = fmt::format("sub_{:02}_{:04}", thread_, slot);
    auto version = versions_[slot];
    batch b;
    b.append_event(entity, version + 1, event_);
    if (n_ % 2 == 1)
      b.append_event(entity, version + 2, event_);
    auto next_version = version + 1 + n_ % 2;
    timer t;
    t.id = timer_ids_[slot];
    t.due = from_unix_ms(1'700'000'000'000 + static_cast<int64_t>(n_) * 1000);
    t.owner = "renewal";
    t.entity = entity;
    t.kind = "reminder_30d";
    b.put_timer(t);
    b.put(cf::outbox, fmt::format("ntf_{:02}_{:012}", thread_, n_), outbox_);
    b.put_snapshot(entity, next_version, snapshot_, version);
    versions_[slot] = next_version;
    ++n_;
    return b;
  }

private:
  size_t thread_;
  uint64_t n_ = 0;
  std::vector<uint64_t> versions_;
  std::vector<tmr_id> timer_ids_;
  std::string snapshot_ = std::string(400, 's');
  std::string event_ = std::string(150, 'e');
  std::string outbox_ = std::string(300, 'o');
};

/// Plain RocksDB with the store's column families.
class raw_db {
public:
  explicit raw_db(const std::string& path) {
    rocksdb::DBOptions opts;
    opts.create_if_missing = true;
    opts.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName,
                             rocksdb::ColumnFamilyOptions{});
    for (auto family : all_cfs)
      descriptors.emplace_back(std::string{to_string(family)},
                               rocksdb::ColumnFamilyOptions{});
    check(rocksdb::DB::Open(opts, path, descriptors, &handles_, &db_), "open");
  }

  ~raw_db() {
    for (auto* h : handles_)
      check(db_->DestroyColumnFamilyHandle(h), "destroy handle");
    check(db_->Close(), "close");
    delete db_;
  }

  /// Adds the rows of `b` as plain puts (no version check, no reads).
  void add(const batch& b, rocksdb::WriteBatch& wb) {
    for (const auto& op : b.ops()) {
      check(wb.Put(handle(op.family), op.key, op.value), "put");
      if (!op.index_key.empty())
        check(wb.Put(handle(cf::timer_index), op.index_key, op.index_value),
              "put");
    }
  }

  void write(rocksdb::WriteBatch& wb, bool sync) {
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    check(db_->Write(wo, &wb), "write");
  }

private:
  static void check(const rocksdb::Status& s, const char* what) {
    if (!s.ok())
      throw std::runtime_error(fmt::format("{}: {}", what, s.ToString()));
  }

  rocksdb::ColumnFamilyHandle* handle(cf family) {
    // handles_[0] is the default family.
    return handles_[1 + static_cast<size_t>(family)];
  }

  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

struct result {
  std::string name;
  size_t threads = 0;
  uint64_t commits = 0;
  double seconds = 0;
  std::vector<double> latencies_us;
  double avg_group = 0;
  /// Threads of the raw cell this one is compared with (0: same).
  size_t baseline_threads = 0;

  double rate() const {
    return static_cast<double>(commits) / seconds;
  }

  double percentile(double p) const {
    if (latencies_us.empty())
      return 0;
    auto i
      = static_cast<size_t>(p * static_cast<double>(latencies_us.size() - 1));
    return latencies_us[i];
  }
};

/// Runs `body(thread, stop, latencies)` on `threads` threads for `seconds`.
template <class Body>
result run_threads(std::string name, size_t threads, double seconds,
                   Body body) {
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> lat(threads);
  std::vector<uint64_t> counts(threads, 0);
  std::vector<std::thread> workers;
  std::mutex error_mtx;
  std::string error;
  auto start = clock_type::now();
  for (size_t t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      try {
        counts[t] = body(t, stop, lat[t]);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> guard{error_mtx};
        error = e.what();
        stop = true;
      }
    });
  // A benchmark cell has a fixed length: sleeping here is the point.
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers)
    w.join();
  if (!error.empty())
    throw std::runtime_error(error);
  result r;
  r.name = std::move(name);
  r.threads = threads;
  r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  for (size_t t = 0; t < threads; ++t) {
    r.commits += counts[t];
    r.latencies_us.insert(r.latencies_us.end(), lat[t].begin(), lat[t].end());
  }
  std::sort(r.latencies_us.begin(), r.latencies_us.end());
  return r;
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> result;
  size_t start = 0;
  while (start <= list.size()) {
    auto end = list.find(',', start);
    if (end == std::string::npos)
      end = list.size();
    if (end > start)
      result.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  return result;
}

double micros_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - start)
    .count();
}

result bench_raw(const std::string& dir, size_t threads, double seconds) {
  raw_db db{dir};
  return run_threads(
    "raw RocksDB, sync", threads, seconds,
    [&](size_t t, std::atomic<bool>& stop, std::vector<double>& lat) {
      workload w{t};
      uint64_t n = 0;
      while (!stop) {
        auto b = w.next();
        auto start = clock_type::now();
        rocksdb::WriteBatch wb;
        db.add(b, wb);
        db.write(wb, true);
        lat.push_back(micros_since(start));
        ++n;
      }
      return n;
    });
}

result bench_ceiling(const std::string& dir, double seconds) {
  raw_db db{dir};
  auto r = run_threads(
    "ceiling: 100/WriteBatch, sync", 1, seconds,
    [&](size_t t, std::atomic<bool>& stop, std::vector<double>& lat) {
      workload w{t};
      uint64_t n = 0;
      while (!stop) {
        std::vector<batch> batches;
        for (int i = 0; i < 100; ++i)
          batches.push_back(w.next());
        auto start = clock_type::now();
        rocksdb::WriteBatch wb;
        for (auto& b : batches)
          db.add(b, wb);
        db.write(wb, true);
        lat.push_back(micros_since(start));
        n += 100;
      }
      return n;
    });
  r.avg_group = 100;
  r.baseline_threads = 1;
  return r;
}

result bench_store(const std::string& dir, size_t threads, double seconds,
                   bool sync) {
  store_options opts;
  opts.path = dir;
  opts.sync = sync;
  auto st = rocksdb_store::open(opts);
  if (!st)
    throw std::runtime_error("open: " + error_message(st.error()));
  auto& s = **st;
  auto r = run_threads(
    sync ? "store, group commit, sync" : "store, group commit, sync off",
    threads, seconds,
    [&](size_t t, std::atomic<bool>& stop, std::vector<double>& lat) {
      workload w{t};
      uint64_t n = 0;
      while (!stop) {
        auto b = w.next();
        auto start = clock_type::now();
        if (auto err = s.commit_sync(std::move(b)))
          throw std::runtime_error(error_message(err));
        lat.push_back(micros_since(start));
        ++n;
      }
      return n;
    });
  r.avg_group = s.metrics().avg_group_size();
  s.close();
  return r;
}

result bench_async(const std::string& dir, double seconds) {
  constexpr size_t producers = 2;
  constexpr size_t window = 512;
  store_options opts;
  opts.path = dir;
  auto st = rocksdb_store::open(opts);
  if (!st)
    throw std::runtime_error("open: " + error_message(st.error()));
  auto& s = **st;
  auto r = run_threads(
    "store async, 2 x 512 in flight", producers, seconds,
    [&](size_t t, std::atomic<bool>& stop, std::vector<double>& lat) {
      workload w{t};
      std::mutex mtx;
      std::condition_variable cv;
      size_t in_flight = 0;
      uint64_t n = 0;
      std::atomic<bool> failed{false};
      while (!stop) {
        {
          std::unique_lock<std::mutex> guard{mtx};
          cv.wait(guard, [&] { return in_flight < window; });
          ++in_flight;
        }
        auto start = clock_type::now();
        s.commit(w.next(), [&, start](const caf::error& err) {
          if (err)
            failed = true;
          std::lock_guard<std::mutex> guard{mtx};
          lat.push_back(micros_since(start));
          --in_flight;
          cv.notify_one();
        });
        ++n;
      }
      std::unique_lock<std::mutex> guard{mtx};
      cv.wait(guard, [&] { return in_flight == 0; });
      if (failed)
        throw std::runtime_error("an async commit failed");
      return n;
    });
  r.avg_group = s.metrics().avg_group_size();
  r.baseline_threads = 64;
  s.close();
  return r;
}

} // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  std::optional<std::string> base;
  std::vector<size_t> thread_counts{1, 8, 64};
  std::string cells = "raw,store,ceiling,nosync,async";
  tenure::bench::summary sum;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (arg == "--dir" && i + 1 < argc) {
      base = argv[++i];
    } else if (arg == "--threads" && i + 1 < argc) {
      thread_counts.clear();
      for (auto& x : split(argv[++i]))
        thread_counts.push_back(std::strtoull(x.c_str(), nullptr, 10));
    } else if (arg == "--cells" && i + 1 < argc) {
      cells = argv[++i];
    } else if (arg == "--summary" && i + 1 < argc) {
      if (!sum.open(argv[++i]))
        return 64;
    } else {
      std::fprintf(stderr, "usage: store_bench [--seconds N] [--dir DIR] "
                           "[--threads 1,8,64] "
                           "[--cells raw,store,ceiling,nosync,async] "
                           "[--summary FILE]\n");
      return arg == "--help" ? 0 : 64;
    }
  }
  auto want = [&](const std::string& cell) {
    auto names = split(cells);
    return std::find(names.begin(), names.end(), cell) != names.end();
  };
  if (seconds <= 0) {
    std::fprintf(stderr, "store_bench: --seconds must be > 0\n");
    return 64;
  }
  namespace fs = std::filesystem;
  auto root_tmpl = (fs::path{base ? *base : fs::temp_directory_path().string()}
                    / "store-bench-XXXXXX")
                     .string();
  if (::mkdtemp(root_tmpl.data()) == nullptr) {
    std::perror("store_bench: mkdtemp");
    return 1;
  }
  fs::path root{root_tmpl};
  int cell = 0;
  auto fresh
    = [&] { return (root / ("cell" + std::to_string(++cell))).string(); };
  auto done = [&](const std::string& dir) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  };
  std::vector<result> results;
  int rc = 0;
  try {
    auto run = [&](auto f) {
      auto dir = fresh();
      results.push_back(f(dir));
      done(dir);
      auto& r = results.back();
      std::fprintf(stderr, "  %-32s %3zu threads: %9.0f commits/s\n",
                   r.name.c_str(), r.threads, r.rate());
    };
    for (auto n : thread_counts)
      if (want("raw"))
        run([&](auto& dir) { return bench_raw(dir, n, seconds); });
    for (auto n : thread_counts)
      if (want("store"))
        run([&](auto& dir) { return bench_store(dir, n, seconds, true); });
    if (want("ceiling"))
      run([&](auto& dir) { return bench_ceiling(dir, seconds); });
    for (auto n : thread_counts)
      if (want("nosync"))
        run([&](auto& dir) { return bench_store(dir, n, seconds, false); });
    if (want("async"))
      run([&](auto& dir) { return bench_async(dir, seconds); });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "store_bench: %s\n", e.what());
    rc = 1;
  }
  std::error_code ec;
  fs::remove_all(root, ec);
  if (rc != 0)
    return rc;
  auto raw_rate = [&](size_t threads) {
    for (auto& r : results)
      if (r.name.rfind("raw", 0) == 0 && r.threads == threads)
        return r.rate();
    return 0.0;
  };
  fmt::print("\ncommit = snapshot 400 B + 1-2 events 150 B + timer (+index) "
             "+ outbox 300 B; {:.1f} s per cell\n\n",
             seconds);
  fmt::print("| {:<30} | {:>7} | {:>10} | {:>12} | {:>7} | {:>7} | {:>9} "
             "|\n",
             "configuration", "threads", "commits/s", "vs raw (thr)", "p50 ms",
             "p99 ms", "avg group");
  fmt::print("|{:-<32}|{:->9}|{:->12}|{:->14}|{:->9}|{:->9}|{:->11}|\n", "",
             ":", ":", ":", ":", ":", ":");
  for (auto& r : results) {
    auto base_threads = r.baseline_threads ? r.baseline_threads : r.threads;
    auto base_rate = raw_rate(base_threads);
    auto vs = base_rate > 0 ? fmt::format("{:.2f}x ({})", r.rate() / base_rate,
                                          base_threads)
                            : std::string{"-"};
    auto group
      = r.avg_group > 0 ? fmt::format("{:.1f}", r.avg_group) : std::string{"-"};
    auto ms = [](double us) { return fmt::format("{:.2f}", us / 1000.0); };
    fmt::print("| {:<30} | {:>7} | {:>10.0f} | {:>12} | {:>7} | {:>7} | {:>9} "
               "|\n",
               r.name, r.threads, r.rate(), vs, ms(r.percentile(0.5)),
               ms(r.percentile(0.99)), group);
    if (r.name.rfind("raw", 0) != 0)
      sum.add(
        fmt::format("store_bench: {}, {} threads, commits/s", r.name,
                    r.threads),
        fmt::format("{:.0f} (p99 {} ms)", r.rate(), ms(r.percentile(0.99))),
        fmt::format("{:.0f} (raw RocksDB, {} threads)", base_rate,
                    base_threads),
        tenure::bench::summary::ratio(r.rate(), base_rate));
  }
  fmt::print("\nvs raw: against plain RocksDB (sync, one WriteBatch per "
             "commit) at the thread count in parentheses, same run.\n"
             "latency: per commit, from commit to acknowledgement (ceiling: "
             "per WriteBatch of 100).\n");
  return 0;
}
