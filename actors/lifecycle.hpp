#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "messages/id.hpp"
#include "messages/records.hpp"
#include "storage/batch.hpp"

/// What a change causes besides its events: durable timers to arm or cancel,
/// notifications for the outbox, index rows. The domain rules compute these
/// as plain data (`effects`), the actors write them into the same batch as
/// the events (`write_effects`), so a change and its consequences are one
/// atomic commit.
namespace tenure {

// -- policy -------------------------------------------------------------------

/// The lifecycle policy (config/policies.json and programs.json), as the
/// rules and supervisors need it.
struct lifecycle_policy {
  /// After a subscription's end date (seed 002: 14 days).
  duration grace_period = std::chrono::duration_cast<duration>(days{14});
  /// Emergency licenses may be issued this long after the grace period
  /// ended (seed 002: 3 days).
  duration emergency_window = std::chrono::duration_cast<duration>(days{3});
  uint32_t emergency_default_days = 5;
  uint32_t emergency_max_days = 10;
  /// Seed 001, compliance.
  duration cure_period = std::chrono::duration_cast<duration>(days{30});
  /// Renewal reminders before the end date, largest first.
  std::vector<duration> reminder_offsets{
    std::chrono::duration_cast<duration>(days{90}),
    std::chrono::duration_cast<duration>(days{30}),
    std::chrono::duration_cast<duration>(days{7}),
    std::chrono::duration_cast<duration>(days{1})};
  /// Wait for the verifier's result before asking again.
  duration verification_timeout = std::chrono::duration_cast<duration>(days{2});
  /// Verifications created again after a timeout before manual review.
  uint32_t verification_retries = 2;
  /// The program team answers manual reviews within this many business days.
  uint32_t review_business_days = 5;
  /// The program inboxes by program (edu, oss, startups).
  std::array<std::string, 3> inboxes{
    "education@denomas.com", "opensource@denomas.com", "startups@denomas.com"};
  /// Chat channel for emergency-license notices (seed 002).
  std::string licensing_channel = "#support_licensing-subscription";

  const std::string& inbox(program p) const {
    return inboxes[static_cast<size_t>(p) % 3];
  }
};

// -- timers
// ---------------------------------------------------------------------

/// The supervisors that own timers (`timer::owner`).
namespace owners {
inline constexpr std::string_view verification = "verification";
inline constexpr std::string_view compliance = "compliance";
inline constexpr std::string_view emergency = "emergency";
inline constexpr std::string_view renewal = "renewal";
inline constexpr std::string_view outbox = "outbox";
} // namespace owners

/// Timer kinds (`timer::kind`).
namespace kinds {
/// Application: create the verification at the external verifier.
inline constexpr std::string_view verify_start = "verify_start";
/// Application: the verifier's result is overdue.
inline constexpr std::string_view verify_timeout = "verify_timeout";
/// Application: the manual review's answer window ended.
inline constexpr std::string_view review_due = "review_due";
/// Application: ask the program's coupon pool for a code (armed with the
/// verification; again after a failure, so a pool on a member that is down
/// is asked once it is back).
inline constexpr std::string_view book_code = "book_code";
/// Application: tell the coupon pool on another member that its code was
/// redeemed (the redemption's commit wrote the code's row here), until the
/// pool confirms.
inline constexpr std::string_view pool_redeemed = "pool_redeemed";
/// Application (renewal): extend the renewed subscription.
inline constexpr std::string_view renewal_apply = "renewal_apply";
/// Subscription: the end date.
inline constexpr std::string_view expiry = "expiry";
/// Subscription: the grace period ends.
inline constexpr std::string_view grace_end = "grace_end";
/// Subscription: the cure period of its open case ends.
inline constexpr std::string_view cure_deadline = "cure_deadline";
/// Emergency license: its validity ends.
inline constexpr std::string_view emergency_end = "emergency_end";
/// Notification: deliver (again).
inline constexpr std::string_view deliver = "deliver";
} // namespace kinds

/// The kind of the renewal reminder `offset` before the end, e.g.
/// `reminder_30d`.
std::string reminder_kind(duration offset);

/// The offset of a reminder kind, or nothing for another kind.
std::optional<duration> reminder_offset(std::string_view kind);

/// A timer to arm; the id is chosen when written.
struct timer_spec {
  std::string owner;
  std::string entity;
  std::string kind;
  time_point due;

  friend bool operator==(const timer_spec& x, const timer_spec& y) {
    return x.owner == y.owner && x.entity == y.entity && x.kind == y.kind
           && x.due == y.due;
  }
};

/// Everything a change causes besides its events.
struct effects {
  /// Timers to remove first: (entity, kind); an empty kind removes all of
  /// the entity's timers.
  std::vector<std::pair<std::string, std::string>> cancel;
  std::vector<timer_spec> arm;
  /// Notifications; id, created_at and state are filled when written.
  std::vector<notification> notify;
  /// Rows of `meta` to put (key, value) and to erase (index rows).
  std::vector<std::pair<std::string, std::string>> put_meta;
  std::vector<std::string> erase_meta;

  bool empty() const noexcept {
    return cancel.empty() && arm.empty() && notify.empty() && put_meta.empty()
           && erase_meta.empty();
  }

  void append(effects other);

  /// Whether a timer of `kind` is armed.
  const timer_spec* armed(std::string_view kind) const;

  /// The notification using template `name`, if any.
  const notification* notice(std::string_view name) const;
};

/// An email notification (template `name`, recipient `to`).
notification email(std::string to, std::string name, program p,
                   std::string entity,
                   std::map<std::string, std::string> params);

/// A chat notification (e.g. to `#support_licensing-subscription`).
notification chat(std::string channel, std::string name, std::string entity,
                  std::map<std::string, std::string> params);

/// Adds a notification to the outbox of `b` with its delivery timer (due at
/// `now`): delivered at least once by the outbox dispatcher, even when the
/// node stops right after the commit.
void add_notification(storage::batch& b, notification n, id_generator& ids,
                      time_point now);

/// Writes `fx` into `b`: cancellations first, then timers (ids from `ids`),
/// notifications and meta rows.
void write_effects(storage::batch& b, const effects& fx, id_generator& ids,
                   time_point now);

/// Keeps the latest handled timer ids (bounded) in `handled`.
void remember_timer(std::vector<tmr_id>& handled, const tmr_id& id);

/// Whether `id` is among the handled timers.
bool handled(const std::vector<tmr_id>& handled, const tmr_id& id);

// -- calendar
// -------------------------------------------------------------------

/// `t` plus `n` business days (Monday to Friday, UTC), keeping the time of
/// day: Friday 10:00 + 1 = Monday 10:00. A start on a weekend counts from
/// the next Monday 00:00: Saturday 15:00 + 1 = Tuesday 00:00.
time_point add_business_days(time_point t, uint32_t n);

/// The meta key of an application in the manual review queue; keys sort by
/// due time, so a scan lists the oldest first.
std::string review_queue_key(time_point due, const app_id& id);

/// Prefix of all review queue keys.
inline constexpr std::string_view review_queue_prefix = "review/";

/// The meta key that finds `entity` (an application or a subscription) by
/// `email`, compared case-insensitively: `email/` + lower-case email + 0x00
/// + entity id. Written in the entity's first commit, so "find by email"
/// (operators, the shell, `GET /v1/applications?email=`) reads the rows of
/// one address instead of every snapshot.
std::string email_index_key(std::string_view email, std::string_view entity);

/// The prefix of `email`'s index rows (see `email_index_key`).
std::string email_index_prefix(std::string_view email);

} // namespace tenure
