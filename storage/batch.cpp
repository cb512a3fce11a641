#include "storage/batch.hpp"

#include "messages/codec.hpp"
#include "storage/keys.hpp"

namespace tenure::storage {

void batch::put_snapshot(std::string_view entity, uint64_t version,
                         std::string_view bytes,
                         uint64_t expected_prev_version) {
  if (!check_component("put_snapshot", "entity", entity)
      || !require(version > expected_prev_version, "put_snapshot",
                  "version must be greater than expected_prev_version"))
    return;
  batch_op op{batch_op::kind::put_snapshot, cf::snapshots, {}, {}, {}, {},
              expected_prev_version};
  op.key = snapshot_key(entity);
  op.value.reserve(8 + bytes.size());
  append_be64(op.value, version);
  op.value.append(bytes);
  add(std::move(op));
}

void batch::append_event(std::string_view entity, uint64_t seq,
                         std::string_view bytes) {
  if (!check_component("append_event", "entity", entity))
    return;
  batch_op op{batch_op::kind::append_event, cf::events, {}, {}, {}, {}, 0};
  op.key = event_key(entity, seq);
  op.value.assign(bytes);
  add(std::move(op));
}

void batch::put_timer(const timer& t) {
  if (!check_timer("put_timer", t))
    return;
  batch_op op{batch_op::kind::put_timer, cf::timers, {}, {}, {}, {}, 0};
  op.key = timer_key(t.due, t.owner, t.id.str());
  op.value = encode(t);
  op.index_key = timer_index_key(t.entity, t.kind, t.id.str());
  op.index_value = timer_index_value(t.due, t.owner);
  add(std::move(op));
}

void batch::delete_timer(const timer& t) {
  if (!check_timer("delete_timer", t))
    return;
  batch_op op{batch_op::kind::delete_timer, cf::timers, {}, {}, {}, {}, 0};
  op.key = timer_key(t.due, t.owner, t.id.str());
  op.index_key = timer_index_key(t.entity, t.kind, t.id.str());
  op.index_value = timer_index_value(t.due, t.owner);
  add(std::move(op));
}

void batch::cancel_timers(std::string_view entity, std::string_view kind) {
  if (!check_component("cancel_timers", "entity", entity)
      || !check_component("cancel_timers", "kind", kind, true))
    return;
  batch_op op{
    batch_op::kind::cancel_timers, cf::timer_index, {}, {}, {}, {}, 0};
  op.key = timer_index_prefix(entity, kind);
  add(std::move(op));
}

void batch::put(cf family, std::string_view key, std::string_view value) {
  if (!require(is_generic(family), "put",
               "column family takes no generic writes")
      || !require(!key.empty(), "put", "key is empty"))
    return;
  add(batch_op{batch_op::kind::put,
               family,
               std::string{key},
               std::string{value},
               {},
               {},
               0});
}

void batch::insert(cf family, std::string_view key, std::string_view value) {
  if (!require(is_generic(family), "insert",
               "column family takes no generic writes")
      || !require(!key.empty(), "insert", "key is empty"))
    return;
  add(batch_op{batch_op::kind::insert,
               family,
               std::string{key},
               std::string{value},
               {},
               {},
               0});
}

void batch::erase_raw(cf family, std::string_view key) {
  if (!require(!key.empty(), "erase_raw", "key is empty"))
    return;
  add(batch_op{batch_op::kind::erase, family, std::string{key}, {}, {}, {}, 0});
}

void batch::erase(cf family, std::string_view key) {
  if (!require(is_generic(family), "erase",
               "column family takes no generic writes")
      || !require(!key.empty(), "erase", "key is empty"))
    return;
  add(batch_op{batch_op::kind::erase, family, std::string{key}, {}, {}, {}, 0});
}

void batch::clear() noexcept {
  ops_.clear();
  bytes_ = 0;
  problem_.clear();
}

bool batch::require(bool condition, std::string_view op,
                    std::string_view what) {
  if (condition)
    return true;
  // Only the first problem is kept: later ones are often consequences.
  if (problem_.empty()) {
    problem_.append(op);
    problem_ += ": ";
    problem_.append(what);
  }
  return false;
}

bool batch::check_component(std::string_view op, std::string_view name,
                            std::string_view value, bool allow_empty) {
  // Never echo the value: it may be a coupon code or an email address.
  if (!allow_empty && value.empty())
    return require(false, op, std::string{name} + " is empty");
  if (value.find(key_separator) != std::string_view::npos)
    return require(false, op, std::string{name} + " contains a 0x00 byte");
  return true;
}

bool batch::check_timer(std::string_view op, const timer& t) {
  return require(!t.id.empty(), op, "timer id is empty")
         && check_component(op, "entity", t.entity)
         && check_component(op, "kind", t.kind)
         && check_component(op, "owner", t.owner);
}

void batch::add(batch_op op) {
  bytes_ += op.key.size() + op.value.size() + op.index_key.size()
            + op.index_value.size();
  ops_.push_back(std::move(op));
}

} // namespace tenure::storage
