#pragma once

#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <caf/stateful_actor.hpp>

#include "actors/clock.hpp"
#include "actors/coupon_rules.hpp"
#include "storage/store.hpp"

namespace tenure {

struct coupon_pool_deps {
  storage::store* store = nullptr;
  const tenure::clock* clock = nullptr;
  id_generator* ids = nullptr;
  coupon_forecast forecast;
  /// Who hears that the pool runs low (the program inbox). Empty: nobody.
  std::string low_stock_recipient;
};

struct coupon_pool_state {
  static inline const char* name = "coupon_pool";

  tenure::program program = program::edu;
  /// Every code of the pool by code. Codes are secrets: never logged.
  std::unordered_map<std::string, coupon> by_code;
  /// Available codes, oldest import first.
  std::deque<std::string> available;
  /// The code reserved (or redeemed) by each application: the source of
  /// "exactly one code per application".
  std::unordered_map<std::string, std::string> by_app;
  /// Verified applications waiting for codes, in arrival order.
  std::deque<std::string> waiting;
  std::unordered_set<std::string> waiting_set;
  uint64_t redeemed = 0;
  /// A low-stock notice went out and the stock has not recovered since
  /// (not persisted: after a restart a low pool notifies once more).
  bool low_stock_notified = false;
  /// Receives `book_code` for each waiting application when codes arrive
  /// (the registry, which routes it to the application). The registry is
  /// spawned after the pools it uses, so it introduces itself with a
  /// message.
  caf::actor registry;
};

/// The coupon pool of one program (seed 001, Booking). Codes live in the
/// store's coupon column family; the actor keeps an index in memory, built
/// from the store when it starts.
///
/// - `book_code{app}` → the application's code (the same one however often
///   asked), or `errc::pool_empty`, in which case the application waits and
///   is sent `book_code` through the registry once codes are imported.
/// - `import_coupons` → `import_report`; repeating an import is harmless.
/// - `get_atom` → `pool_stock`.
/// - `(release_atom, app)`: the application was withdrawn; it leaves the
///   waiting list and a code reserved but never assigned to it returns.
/// - `(codes_atom)` → the available codes, for the coupon-admin role only
///   (the caller checks the role; codes never reach a log).
///
/// When a reservation takes the runway under the forecast's threshold, a
/// `coupon_low_stock` notification joins the reservation's commit (once per
/// low period).
/// - a `caf::actor`: the registry to wake waiting applications through.
caf::behavior coupon_pool_actor(caf::stateful_actor<coupon_pool_state>* self,
                                tenure::program program, coupon_pool_deps deps);

/// Key prefix of a program's waiting applications in the coupon family.
std::string coupon_waiting_key(program p, std::string_view app);

} // namespace tenure
