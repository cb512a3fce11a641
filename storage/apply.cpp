#include "storage/apply.hpp"

#include <fmt/format.h>

#include "messages/codec.hpp"
#include "messages/errc.hpp"
#include "storage/keys.hpp"

namespace tenure::storage::detail {

namespace {

/// The id part of a timer index key (after its last separator).
std::string_view index_key_id(std::string_view index_key) {
  auto pos = index_key.rfind(key_separator);
  return pos == std::string_view::npos ? std::string_view{}
                                       : index_key.substr(pos + 1);
}

/// The entity part of a key that starts with `entity 0x00`, for messages.
std::string_view key_entity(std::string_view key) {
  return key.substr(0, key.find(key_separator));
}

/// The timer key an index row points to.
caf::expected<std::string> timer_key_of(std::string_view index_key,
                                        std::string_view index_value) {
  auto id = index_key_id(index_key);
  if (index_value.size() < 10 || id.empty())
    return corrupt(cf::timer_index,
                   fmt::format("index row of entity {} is malformed",
                               key_entity(index_key)));
  std::string key;
  key.reserve(index_value.size() + 1 + id.size());
  key.append(index_value);
  key += key_separator;
  key.append(id);
  return key;
}

} // namespace

view::~view() {
  // nop
}

caf::error storage_error(std::string what) {
  return make_error(errc::storage_failure, std::move(what));
}

caf::error corrupt(cf family, std::string what) {
  return make_error(errc::corrupt_data,
                    fmt::format("{}: {}", to_string(family), what));
}

caf::error apply(const batch& b, view& v) {
  using kind = batch_op::kind;
  std::string buf;
  bool found = false;
  for (const auto& op : b.ops()) {
    switch (op.what) {
      case kind::put_snapshot: {
        if (auto err = v.get(cf::snapshots, op.key, buf, found))
          return err;
        uint64_t current = 0;
        if (found) {
          auto stored = parse_snapshot(op.key, buf);
          if (!stored)
            return std::move(stored.error());
          current = stored->version;
        }
        if (current != op.expected_version)
          return make_error(errc::conflict,
                            fmt::format("snapshot of {} is at version {}, "
                                        "expected {}",
                                        op.key, current, op.expected_version));
        if (auto err = v.put(cf::snapshots, op.key, op.value))
          return err;
        break;
      }
      case kind::append_event:
        if (auto err = v.put(cf::events, op.key, op.value))
          return err;
        break;
      case kind::put_timer: {
        // Reschedule: the index points to the row at the old due time.
        if (auto err = v.get(cf::timer_index, op.index_key, buf, found))
          return err;
        if (found && buf != op.index_value) {
          auto old_key = timer_key_of(op.index_key, buf);
          if (!old_key)
            return std::move(old_key.error());
          if (auto err = v.erase(cf::timers, *old_key))
            return err;
        }
        if (auto err = v.put(cf::timers, op.key, op.value))
          return err;
        if (auto err = v.put(cf::timer_index, op.index_key, op.index_value))
          return err;
        break;
      }
      case kind::delete_timer: {
        // Keep the index row when it points elsewhere: the timer was
        // rescheduled after it fired, and the new schedule must survive.
        if (auto err = v.get(cf::timer_index, op.index_key, buf, found))
          return err;
        if (found && buf == op.index_value)
          if (auto err = v.erase(cf::timer_index, op.index_key))
            return err;
        if (auto err = v.erase(cf::timers, op.key))
          return err;
        break;
      }
      case kind::cancel_timers: {
        std::vector<std::pair<std::string, std::string>> rows;
        if (auto err = v.scan_prefix(cf::timer_index, op.key, rows))
          return err;
        for (const auto& [index_key, index_value] : rows) {
          auto key = timer_key_of(index_key, index_value);
          if (!key)
            return std::move(key.error());
          if (auto err = v.erase(cf::timers, *key))
            return err;
          if (auto err = v.erase(cf::timer_index, index_key))
            return err;
        }
        break;
      }
      case kind::put:
        if (auto err = v.put(op.family, op.key, op.value))
          return err;
        break;
      case kind::insert: {
        if (auto err = v.get(op.family, op.key, buf, found))
          return err;
        // No key in the message: it may be a coupon code.
        if (found)
          return make_error(
            errc::already_exists,
            fmt::format("{}: the key exists already", to_string(op.family)));
        if (auto err = v.put(op.family, op.key, op.value))
          return err;
        break;
      }
      case kind::erase:
        if (auto err = v.erase(op.family, op.key))
          return err;
        break;
    }
  }
  return caf::none;
}

caf::expected<stored_snapshot> parse_snapshot(std::string_view entity,
                                              std::string_view value) {
  auto version = read_be64(value);
  if (!version)
    return corrupt(cf::snapshots,
                   fmt::format("row of {} has {} bytes, too short to hold "
                               "its version",
                               entity, value.size()));
  if (*version == 0)
    return corrupt(cf::snapshots,
                   fmt::format("row of {} has version 0", entity));
  value.remove_prefix(8);
  return stored_snapshot{*version, std::string{value}};
}

caf::expected<timer> parse_timer_index(std::string_view key,
                                       std::string_view value) {
  std::string_view parts[3];
  auto bad = [&](std::string_view what) {
    return corrupt(cf::timer_index,
                   fmt::format("row of entity {}: {}", key_entity(key), what));
  };
  if (split_key(key, parts, 3) != 3 || parts[0].empty() || parts[1].empty())
    return bad("key is not entity, kind and id");
  auto id = tmr_id::parse(parts[2]);
  if (!id)
    return bad("malformed timer id");
  // value = owner 0x00 due64
  auto sep = value.find(key_separator);
  auto due = sep == std::string_view::npos ? std::nullopt
                                           : read_be64(value.substr(sep + 1));
  if (sep == 0 || !due)
    return bad("value is not owner and due time");
  timer result;
  result.id = std::move(*id);
  result.due = from_due_bits(*due);
  result.owner.assign(value.substr(0, sep));
  result.entity.assign(parts[0]);
  result.kind.assign(parts[1]);
  return result;
}

caf::expected<timer> parse_timer_row(std::string_view key,
                                     std::string_view value) {
  auto t = decode<timer>(value);
  if (!t)
    return corrupt(cf::timers, "undecodable row: " + error_message(t.error()));
  if (timer_key(t->due, t->owner, t->id.str()) != key)
    return corrupt(
      cf::timers,
      fmt::format("row of timer {} does not match its key", t->id.str()));
  return t;
}

} // namespace tenure::storage::detail
