#include "storage/store.hpp"

#include <algorithm>
#include <tuple>

#include <future>

#include "messages/errc.hpp"
#include "storage/apply.hpp"
#include "storage/keys.hpp"

namespace tenure::storage {

namespace {

caf::error closed_error() {
  return make_error(errc::unavailable, "the store is closed");
}

} // namespace

store::~store() {
  // nop
}

// -- writes -------------------------------------------------------------------

void store::commit(batch b, commit_callback cb) {
  do_commit(std::move(b), std::move(cb));
}

caf::error store::commit_sync(batch b) {
  if (on_commit_thread())
    return make_error(errc::unavailable,
                      "commit_sync called from a commit callback");
  std::promise<caf::error> promise;
  auto future = promise.get_future();
  do_commit(std::move(b),
            [&promise](const caf::error& err) { promise.set_value(err); });
  return future.get();
}

// -- reads --------------------------------------------------------------------

caf::expected<std::optional<stored_snapshot>>
store::get_snapshot(std::string_view entity) const {
  if (!is_open())
    return closed_error();
  auto value = do_get(cf::snapshots, snapshot_key(entity));
  if (!value)
    return std::move(value.error());
  if (!*value)
    return std::optional<stored_snapshot>{};
  auto result = detail::parse_snapshot(entity, **value);
  if (!result)
    return std::move(result.error());
  return std::optional<stored_snapshot>{std::move(*result)};
}

caf::expected<std::vector<stored_event>>
store::events(std::string_view entity, uint64_t from_seq, size_t limit) const {
  if (!is_open())
    return closed_error();
  std::vector<stored_event> result;
  if (limit == 0)
    return result;
  auto prefix = event_prefix(entity);
  auto from = event_key(entity, from_seq);
  auto to = prefix_successor(prefix);
  caf::error problem;
  auto err = do_scan(
    cf::events, from, to, [&](std::string_view key, std::string_view value) {
      // key = entity 0x00 be64(seq): exactly 8 bytes after
      // the prefix.
      auto seq = read_be64(key.substr(prefix.size()));
      if (!seq || key.size() != prefix.size() + 8) {
        problem = detail::corrupt(cf::events, "malformed key of entity "
                                                + std::string{entity});
        return false;
      }
      result.push_back(stored_event{*seq, std::string{value}});
      return result.size() < limit;
    });
  if (err)
    return err;
  if (problem)
    return problem;
  return result;
}

caf::expected<std::vector<timer>>
store::due_timers(time_point until, size_t limit, std::string_view owner,
                  const timer_position* after) const {
  if (!is_open())
    return closed_error();
  std::vector<timer> result;
  if (limit == 0)
    return result;
  caf::error problem;
  auto keep = [&](std::string_view key, std::string_view value) {
    auto t = detail::parse_timer_row(key, value);
    if (!t) {
      problem = std::move(t.error());
      return false;
    }
    result.push_back(std::move(*t));
    return true;
  };
  if (!owner.empty()) {
    // One owner: its rows are contiguous and in due order.
    // The smallest key after a timer's key is that key plus 0x00.
    auto start = after ? timer_key(after->due, owner, after->id) + '\0'
                       : timer_prefix(owner);
    auto err = do_scan(cf::timers, start, timer_bound(owner, until),
                       [&](std::string_view key, std::string_view value) {
                         return keep(key, value) && result.size() < limit;
                       });
    if (err)
      return err;
    if (problem)
      return problem;
    return result;
  }
  // Every owner (operators' listings): each owner's due range in turn,
  // jumping from one owner to the next, then merged in due order.
  std::string seek;
  for (;;) {
    std::string next_owner;
    auto err = do_scan(
      cf::timers, seek, {}, [&](std::string_view key, std::string_view) {
        next_owner.assign(key.substr(0, key.find(key_separator)));
        return false;
      });
    if (err)
      return err;
    if (next_owner.empty())
      break;
    size_t before = result.size();
    err = do_scan(cf::timers, timer_prefix(next_owner),
                  timer_bound(next_owner, until),
                  [&](std::string_view key, std::string_view value) {
                    return keep(key, value) && result.size() - before < limit;
                  });
    if (err)
      return err;
    if (problem)
      return problem;
    seek = prefix_successor(timer_prefix(next_owner));
    if (seek.empty())
      break;
  }
  std::sort(result.begin(), result.end(), [](const timer& x, const timer& y) {
    return std::tie(x.due, x.owner, x.id) < std::tie(y.due, y.owner, y.id);
  });
  if (result.size() > limit)
    result.resize(limit);
  return result;
}

caf::expected<std::vector<timer>>
store::timers_of(std::string_view entity, std::string_view kind) const {
  if (!is_open())
    return closed_error();
  std::vector<timer> result;
  auto prefix = timer_index_prefix(entity, kind);
  caf::error problem;
  auto err = do_scan(cf::timer_index, prefix, prefix_successor(prefix),
                     [&](std::string_view key, std::string_view value) {
                       auto t = detail::parse_timer_index(key, value);
                       if (!t) {
                         problem = std::move(t.error());
                         return false;
                       }
                       result.push_back(std::move(*t));
                       return true;
                     });
  if (err)
    return err;
  if (problem)
    return problem;
  return result;
}

caf::expected<std::optional<std::string>>
store::get(cf family, std::string_view key) const {
  if (!is_open())
    return closed_error();
  return do_get(family, key);
}

caf::expected<std::vector<key_value>>
store::scan(cf family, std::string_view prefix, size_t limit,
            std::string_view after) const {
  if (!is_open())
    return closed_error();
  std::vector<key_value> result;
  if (limit == 0)
    return result;
  // The smallest key greater than `after` is `after` followed by 0x00.
  std::string from{prefix};
  if (!after.empty() && after >= prefix) {
    from.assign(after);
    from += '\0';
  }
  auto err = do_scan(
    family, from, prefix_successor(prefix),
    [&](std::string_view key, std::string_view value) {
      result.push_back(key_value{std::string{key}, std::string{value}});
      return result.size() < limit;
    });
  if (err)
    return err;
  return result;
}

caf::expected<std::vector<key_value>>
store::outbox(size_t limit, std::string_view after) const {
  return scan(cf::outbox, {}, limit, after);
}

// -- lifetime and observability -----------------------------------------------

void store::close() {
  do_close();
}

bool store::is_open() const {
  return do_is_open();
}

store_metrics store::metrics() const {
  return do_metrics();
}

uint64_t store::estimate_rows(cf family) const {
  if (!is_open())
    return 0;
  return do_estimate_rows(family);
}

uint64_t store::do_estimate_rows(cf family) const {
  uint64_t n = 0;
  auto err = do_scan(family, {}, {}, [&](std::string_view, std::string_view) {
    ++n;
    return true;
  });
  return err ? 0 : n;
}

} // namespace tenure::storage
