#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/clock.hpp"
#include "storage/store.hpp"

namespace tenure {

struct timer_supervisor_deps {
  storage::store* store = nullptr;
  const tenure::clock* clock = nullptr;
  /// The timers it fires (`timer::owner`), e.g. `renewal`.
  std::string owner;
  /// Receives `(fire_atom, timer)` for each due timer and answers `bool`
  /// (whether the timer had an effect) after the effect and the timer's
  /// removal were committed, or an error (the timer stays and is fired again
  /// after a backoff).
  caf::actor target;
  /// Most timers in flight at once. Default: 256.
  size_t batch = 256;
  /// Longest real-time sleep: timers armed by other actors while the
  /// supervisor sleeps are seen within this. Default: 250 ms.
  std::chrono::milliseconds poll{250};
  /// First backoff after a failed firing; doubles up to `max_backoff`.
  std::chrono::milliseconds backoff{500};
  std::chrono::milliseconds max_backoff{std::chrono::minutes(5)};
  /// How long the target may take to answer one firing. Default: 30 s.
  std::chrono::milliseconds fire_timeout{std::chrono::seconds(30)};
  /// Between two scans from the first of its timers (see `cursor`).
  /// Default: 10 s.
  std::chrono::milliseconds full_scan{std::chrono::seconds(10)};
};

/// Counters of a supervisor, for `/metrics`, the shell and tests.
struct timer_supervisor_stats {
  uint64_t fired = 0;
  uint64_t failed = 0;
  uint64_t in_flight = 0;
  uint64_t backing_off = 0;
  /// Domain-time lateness (clock at the target's answer minus due time) of
  /// the last firing and the largest one, in ms.
  int64_t last_lateness_ms = 0;
  int64_t max_lateness_ms = 0;
};

struct timer_supervisor_state {
  static inline const char* name = "timer_supervisor";

  /// Timer ids sent to the target and not answered yet.
  std::unordered_set<std::string> in_flight;
  /// Failed timers: the timer, not before (real time), and the current
  /// backoff. Retried from here, after checking that the row still stands.
  struct retry_at {
    timer t;
    caf::actor_clock::time_point not_before;
    std::chrono::milliseconds backoff{0};
  };
  std::unordered_map<std::string, retry_at> retries;
  /// Answered when nothing due is left to fire.
  std::vector<caf::response_promise> flushes;
  timer_supervisor_stats stats;
  /// Generation of the armed wake-up: an older wake-up is ignored.
  uint64_t wake_generation = 0;
  caf::actor_clock::time_point wake_at;
  bool wake_armed = false;
  /// Token of the manual clock's listener.
  size_t listener = 0;
  /// Scans resume after the last timer dispatched: the ones before it are in
  /// flight, retried from `retries`, or done (tombstones in RocksDB until
  /// compaction, which a scan from the start would step over again). A
  /// timer armed with an earlier position meanwhile (an entity that read the
  /// clock just before a scan) is found by the scan from the start that runs
  /// every `full_scan`, before a flush answers, and at start.
  std::optional<storage::timer_position> cursor;
  caf::actor_clock::time_point last_full_scan;
};

/// A supervisor's durable timers: rows of the store's timers column family
/// with this supervisor as owner (armed by entity actors in the commits that
/// cause them). The supervisor keeps no timer in memory but the ones in
/// flight: it reads the due ones in due order, in batches, sends each to its
/// target, and arms one in-memory wake-up for the next due time (at most
/// `poll` away, so timers armed meanwhile are seen). Firing is at least
/// once: a timer is removed only by the commit of its effect, so one that
/// was due while the node was down fires after start, and one whose firing
/// failed fires again after a backoff.
///
/// With the manual clock the supervisor wakes on every clock change.
///
/// Handles `(flush_atom)`: fires everything due now and answers with the
/// number of timers fired so far once nothing due is left (timers backing
/// off after a failure do not hold it up); `(stats_atom)` →
/// `timer_supervisor_stats` fields as (fired, failed, in_flight,
/// backing_off, max_lateness_ms).
caf::behavior
timer_supervisor(caf::stateful_actor<timer_supervisor_state>* self,
                 timer_supervisor_deps deps);

} // namespace tenure
