#include "storage/memory_store.hpp"

#include <optional>

#include "messages/errc.hpp"
#include "storage/apply.hpp"

namespace tenure::storage {

namespace {

using table = std::map<std::string, std::string, std::less<>>;

/// The tables plus the changes of one commit, which reach the tables only
/// when the whole commit succeeded.
class overlay_view final : public detail::view {
public:
  using delta = std::map<std::string, std::optional<std::string>, std::less<>>;

  explicit overlay_view(const std::array<table, cf_count>& base)
    : base_(base) {
    // nop
  }

  caf::error get(cf family, std::string_view key, std::string& value,
                 bool& found) override {
    auto& d = deltas_[index(family)];
    if (auto i = d.find(key); i != d.end()) {
      found = i->second.has_value();
      if (found)
        value = *i->second;
      return caf::none;
    }
    auto& t = base_[index(family)];
    auto i = t.find(key);
    found = i != t.end();
    if (found)
      value = i->second;
    return caf::none;
  }

  caf::error put(cf family, std::string_view key,
                 std::string_view value) override {
    deltas_[index(family)].insert_or_assign(std::string{key},
                                            std::string{value});
    return caf::none;
  }

  caf::error erase(cf family, std::string_view key) override {
    deltas_[index(family)].insert_or_assign(std::string{key}, std::nullopt);
    return caf::none;
  }

  caf::error
  scan_prefix(cf family, std::string_view prefix,
              std::vector<std::pair<std::string, std::string>>& out) override {
    // Merge the committed rows with this commit's changes, in key order.
    auto starts = [&](const std::string& key) {
      return std::string_view{key}.substr(0, prefix.size()) == prefix;
    };
    auto& t = base_[index(family)];
    auto& d = deltas_[index(family)];
    auto i = t.lower_bound(prefix);
    auto j = d.lower_bound(prefix);
    for (;;) {
      bool more_t = i != t.end() && starts(i->first);
      bool more_d = j != d.end() && starts(j->first);
      if (!more_t && !more_d)
        break;
      if (more_d && (!more_t || j->first <= i->first)) {
        if (more_t && j->first == i->first)
          ++i; // Shadowed by the change.
        if (j->second)
          out.emplace_back(j->first, *j->second);
        ++j;
      } else {
        out.emplace_back(i->first, i->second);
        ++i;
      }
    }
    return caf::none;
  }

  /// Moves the changes into `tables`.
  void merge_into(std::array<table, cf_count>& tables) {
    for (size_t k = 0; k < cf_count; ++k)
      for (auto& [key, value] : deltas_[k]) {
        if (value)
          tables[k].insert_or_assign(key, std::move(*value));
        else
          tables[k].erase(key);
      }
  }

private:
  static size_t index(cf family) {
    return static_cast<size_t>(family);
  }

  const std::array<table, cf_count>& base_;
  std::array<delta, cf_count> deltas_;
};

} // namespace

memory_store::~memory_store() {
  // nop
}

void memory_store::fail_next_commits(size_t n) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  fail_next_ = n;
}

void memory_store::put_raw(cf family, std::string_view key,
                           std::string_view value) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  tables_[static_cast<size_t>(family)].insert_or_assign(std::string{key},
                                                        std::string{value});
}

void memory_store::do_commit(batch b, commit_callback cb) {
  caf::error result;
  {
    std::unique_lock<std::shared_mutex> guard{mtx_};
    if (!open_) {
      result = make_error(errc::unavailable, "the store is closed");
    } else if (!b.valid()) {
      result = make_error(errc::invalid_argument, b.problem());
    } else if (fail_next_ > 0) {
      --fail_next_;
      result = detail::storage_error("injected failure");
    } else {
      overlay_view view{tables_};
      result = detail::apply(b, view);
      if (!result) {
        view.merge_into(tables_);
        ++metrics_.groups;
        metrics_.largest_group = 1;
        metrics_.bytes += b.bytes();
      }
    }
    if (result) {
      ++metrics_.failed_commits;
      if (result == errc::conflict || result == errc::already_exists)
        ++metrics_.conflicts;
    } else {
      ++metrics_.commits;
    }
  }
  // Outside the lock: the callback may read the store or commit again.
  cb(result);
}

caf::expected<std::optional<std::string>>
memory_store::do_get(cf family, std::string_view key) const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  if (!open_)
    return make_error(errc::unavailable, "the store is closed");
  auto& t = tables_[static_cast<size_t>(family)];
  auto i = t.find(key);
  if (i == t.end())
    return std::optional<std::string>{};
  return std::optional<std::string>{i->second};
}

caf::error memory_store::do_scan(cf family, std::string_view from,
                                 std::string_view to,
                                 const row_visitor& f) const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  if (!open_)
    return make_error(errc::unavailable, "the store is closed");
  auto& t = tables_[static_cast<size_t>(family)];
  for (auto i = t.lower_bound(from); i != t.end(); ++i) {
    if (!to.empty() && std::string_view{i->first} >= to)
      break;
    if (!f(i->first, i->second))
      break;
  }
  return caf::none;
}

void memory_store::do_close() {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  open_ = false;
}

bool memory_store::do_is_open() const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  return open_;
}

store_metrics memory_store::do_metrics() const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  return metrics_;
}

} // namespace tenure::storage
