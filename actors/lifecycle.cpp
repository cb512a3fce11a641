#include "actors/lifecycle.hpp"

#include <algorithm>
#include <cctype>

#include "messages/codec.hpp"
#include "storage/cf.hpp"
#include "storage/keys.hpp"

namespace tenure {

std::string reminder_kind(duration offset) {
  // Whole days read best in listings: reminder_7d, not reminder_1w.
  auto day = std::chrono::duration_cast<duration>(days{1});
  if (offset.count() > 0 && offset % day == duration::zero())
    return "reminder_" + std::to_string(offset / day) + "d";
  return "reminder_" + to_string_duration(offset);
}

std::optional<duration> reminder_offset(std::string_view kind) {
  constexpr std::string_view prefix = "reminder_";
  if (kind.substr(0, prefix.size()) != prefix)
    return std::nullopt;
  return parse_duration(kind.substr(prefix.size()));
}

void effects::append(effects other) {
  auto move_all = [](auto& to, auto& from) {
    to.insert(to.end(), std::make_move_iterator(from.begin()),
              std::make_move_iterator(from.end()));
  };
  move_all(cancel, other.cancel);
  move_all(arm, other.arm);
  move_all(notify, other.notify);
  move_all(put_meta, other.put_meta);
  move_all(erase_meta, other.erase_meta);
}

const timer_spec* effects::armed(std::string_view kind) const {
  for (auto& t : arm)
    if (t.kind == kind)
      return &t;
  return nullptr;
}

const notification* effects::notice(std::string_view name) const {
  for (auto& n : notify)
    if (n.template_name == name)
      return &n;
  return nullptr;
}

notification email(std::string to, std::string name, program p,
                   std::string entity,
                   std::map<std::string, std::string> params) {
  notification n;
  n.channel = notification_channel::email;
  n.recipient = std::move(to);
  n.template_name = std::move(name);
  n.program = p;
  n.entity = std::move(entity);
  n.params = std::move(params);
  return n;
}

notification chat(std::string channel, std::string name, std::string entity,
                  std::map<std::string, std::string> params) {
  notification n;
  n.channel = notification_channel::chat;
  n.recipient = std::move(channel);
  n.template_name = std::move(name);
  n.entity = std::move(entity);
  n.params = std::move(params);
  return n;
}

void add_notification(storage::batch& b, notification n, id_generator& ids,
                      time_point now) {
  if (n.id.empty()) // the outreach desk picks it: its tracking links name it
    n.id = ids.next<ntf_id>(now);
  n.created_at = now;
  n.state = delivery_state::pending;
  n.attempts = 0;
  n.next_attempt_at = now;
  timer t;
  t.id = ids.next<tmr_id>(now);
  t.due = now;
  t.owner = std::string{owners::outbox};
  t.entity = n.id.str();
  t.kind = std::string{kinds::deliver};
  b.put(storage::cf::outbox, n.id.str(), encode(n));
  b.put_timer(t);
}

void write_effects(storage::batch& b, const effects& fx, id_generator& ids,
                   time_point now) {
  for (auto& [entity, kind] : fx.cancel)
    b.cancel_timers(entity, kind);
  for (auto& spec : fx.arm) {
    timer t;
    t.id = ids.next<tmr_id>(now);
    t.due = spec.due;
    t.owner = spec.owner;
    t.entity = spec.entity;
    t.kind = spec.kind;
    b.put_timer(t);
  }
  for (auto& n : fx.notify)
    add_notification(b, n, ids, now);
  for (auto& key : fx.erase_meta)
    b.erase(storage::cf::meta, key);
  for (auto& [key, value] : fx.put_meta)
    b.put(storage::cf::meta, key, value);
}

namespace {

/// Enough to cover every timer an entity can have pending at once.
constexpr size_t max_handled_timers = 16;

} // namespace

void remember_timer(std::vector<tmr_id>& handled, const tmr_id& id) {
  if (id.empty())
    return;
  handled.push_back(id);
  if (handled.size() > max_handled_timers)
    handled.erase(handled.begin(), handled.begin()
                                     + static_cast<ptrdiff_t>(
                                       handled.size() - max_handled_timers));
}

bool handled(const std::vector<tmr_id>& handled, const tmr_id& id) {
  return !id.empty()
         && std::find(handled.begin(), handled.end(), id) != handled.end();
}

time_point add_business_days(time_point t, uint32_t n) {
  constexpr int64_t day_ms = 86'400'000;
  auto ms = to_unix_ms(t);
  auto day = ms >= 0 ? ms / day_ms : (ms - day_ms + 1) / day_ms;
  auto time_of_day = ms - day * day_ms;
  // 1970-01-01 was a Thursday: weekday 0 = Monday.
  auto weekday = [](int64_t d) { return ((d % 7) + 7 + 3) % 7; };
  if (weekday(day) >= 5) {
    day += 7 - weekday(day);
    time_of_day = 0;
  }
  for (uint32_t i = 0; i < n;) {
    ++day;
    if (weekday(day) < 5)
      ++i;
  }
  return from_unix_ms(day * day_ms + time_of_day);
}

std::string review_queue_key(time_point due, const app_id& id) {
  std::string key{review_queue_prefix};
  storage::append_be64(key, storage::due_bits(due));
  key += id.str();
  return key;
}

std::string email_index_prefix(std::string_view email) {
  std::string key = "email/";
  for (auto c : email)
    key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  key += '\0';
  return key;
}

std::string email_index_key(std::string_view email, std::string_view entity) {
  auto key = email_index_prefix(email);
  key += entity;
  return key;
}

} // namespace tenure
