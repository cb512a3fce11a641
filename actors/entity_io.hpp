#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <caf/expected.hpp>

#include "messages/codec.hpp"
#include "messages/event_codec.hpp"
#include "storage/batch.hpp"
#include "storage/store.hpp"

/// How an entity's state and events meet the store, shared by every entity
/// actor: load the snapshot, record the events of one command together with
/// the new snapshot in one batch, read the history. `State` is a record with
/// `id` and `version`; `Variant` its event variant; `apply(State, Event,
/// time_point)` is found by argument-dependent lookup.
namespace tenure {

/// A one-line, secret-free rendering of an event for history and logs: its
/// scalar fields as `key=value`, leaving out nested records and every field
/// whose name marks a secret or personal data (codes, keys, emails).
template <class T>
std::string summarize(const T& ev);

namespace detail {

inline bool is_sensitive(std::string_view name) {
  for (auto word : {"code", "key", "email", "token", "secret"})
    if (name.find(word) != std::string_view::npos)
      return true;
  return false;
}

template <class T>
void append_field(std::string& out, const char* name, const T& x) {
  using codec_detail::is_basic_id;
  std::string value;
  if constexpr (std::is_same_v<T, bool>)
    value = x ? "true" : "false";
  else if constexpr (std::is_integral_v<T>)
    value = std::to_string(x);
  else if constexpr (is_named_enum<T>::value)
    value = to_string(x);
  else if constexpr (std::is_same_v<T, time_point>)
    value = to_iso8601(x);
  else if constexpr (std::is_same_v<T, duration>)
    value = to_string_duration(x);
  else if constexpr (std::is_same_v<T, std::string>)
    value = x.size() > 80 ? x.substr(0, 77) + "..." : x;
  else if constexpr (is_basic_id<T>::value)
    value = x.str();
  else
    return; // nested records and lists: see the snapshot
  if (value.empty() || is_sensitive(name))
    return;
  if (!out.empty())
    out += ' ';
  out += name;
  out += '=';
  out += value;
}

} // namespace detail

template <class T>
std::string summarize(const T& ev) {
  std::string out;
  std::apply(
    [&](auto... fs) { (detail::append_field(out, fs.name, fs.value), ...); },
    T::fields(ev));
  return out;
}

template <class State, class Variant>
class entity_io {
public:
  /// The state of `id` from its snapshot, or nothing when never stored.
  static caf::expected<std::optional<State>> load(const storage::store& st,
                                                  std::string_view id) {
    auto snap = st.get_snapshot(id);
    if (!snap)
      return std::move(snap.error());
    if (!*snap)
      return std::optional<State>{};
    auto state = decode<State>((*snap)->bytes);
    if (!state)
      return std::move(state.error());
    if (state->version != (*snap)->version)
      return make_error(errc::corrupt_data,
                        "snapshot of " + std::string{id.substr(0, 60)}
                          + " says version " + std::to_string(state->version)
                          + " but is stored as version "
                          + std::to_string((*snap)->version));
    return std::optional<State>{std::move(*state)};
  }

  /// Applies `events` to `before` and adds them, numbered on from its
  /// version, plus the new snapshot (checked against the old version) to
  /// `b`. Returns the new state; nothing is durable until `b` commits.
  static State record(storage::batch& b, const std::optional<State>& before,
                      const std::vector<Variant>& events, time_point now) {
    State s = before ? *before : State{};
    auto prev = before ? before->version : uint64_t{0};
    for (const auto& ev : events) {
      s = apply(std::move(s), ev, now);
      auto env = wrap_event(s.id.str(), s.version, now, ev);
      b.append_event(s.id.str(), s.version, encode(env));
    }
    if (!events.empty())
      b.put_snapshot(s.id.str(), s.version, encode(s), prev);
    return s;
  }

  /// The events of `id` in order, rendered without secrets.
  static caf::expected<std::vector<history_entry>>
  history(const storage::store& st, std::string_view id) {
    auto rows = st.events(id);
    if (!rows)
      return std::move(rows.error());
    std::vector<history_entry> out;
    out.reserve(rows->size());
    for (auto& row : *rows) {
      auto env = decode<event_envelope>(row.bytes);
      if (!env)
        return std::move(env.error());
      auto ev = unwrap_event<Variant>(*env);
      if (!ev)
        return std::move(ev.error());
      history_entry h;
      h.seq = env->seq;
      h.at = env->at;
      h.type = env->type;
      h.summary = std::visit([](const auto& x) { return summarize(x); }, *ev);
      out.push_back(std::move(h));
    }
    return out;
  }
};

} // namespace tenure
