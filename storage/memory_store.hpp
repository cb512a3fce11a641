#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "storage/store.hpp"

namespace tenure::storage {

/// The store in memory, for fast unit tests of actors and rules: the same
/// contract, keys and checks as `rocksdb_store` (both apply batches through
/// the same code), without files or durability.
///
/// Differences, on purpose: every commit is a group of its own, and its
/// callback runs on the calling thread before `commit` returns (which keeps
/// tests on CAF's deterministic test coordinator deterministic).
class memory_store final : public store {
public:
  memory_store() = default;
  ~memory_store() override;

  /// For tests: the next `n` commits fail with `errc::storage_failure` and
  /// apply nothing, as after an I/O error.
  void fail_next_commits(size_t n);

  /// For tests: writes a raw row, bypassing `batch` and its checks, e.g. to
  /// plant corrupt bytes.
  void put_raw(cf family, std::string_view key, std::string_view value);

private:
  using table = std::map<std::string, std::string, std::less<>>;

  void do_commit(batch b, commit_callback cb) override;
  caf::expected<std::optional<std::string>>
  do_get(cf family, std::string_view key) const override;
  caf::error do_scan(cf family, std::string_view from, std::string_view to,
                     const row_visitor& f) const override;
  void do_close() override;
  bool do_is_open() const override;
  store_metrics do_metrics() const override;

  mutable std::shared_mutex mtx_;
  std::array<table, cf_count> tables_;
  bool open_ = true;
  size_t fail_next_ = 0;
  store_metrics metrics_;
};

} // namespace tenure::storage
