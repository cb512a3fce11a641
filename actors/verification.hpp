#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/clock.hpp"
#include "actors/lifecycle.hpp"
#include "storage/store.hpp"

/// Stage 1, verification: the external verifier's adapter and the desk that
/// dispatches applications to it or to the program team's review queue.
namespace tenure {

/// Creates verifications at the external verifier (SheerID in seed 001).
/// Blocking; called from the desk's own thread. The result arrives later
/// through the verifier's signed callback (the gateway), as a
/// `record_verification`.
class verifier_client {
public:
  virtual ~verifier_client();

  /// Creates (or, for the same application, finds again) a verification and
  /// returns the verifier's reference. Errors are retried with backoff.
  virtual caf::expected<std::string> create(const application& app) = 0;

  /// A name for logs, e.g. the URL.
  virtual std::string describe() const = 0;
};

/// A verifier for tests and demos: answers with `fake-<application>-<n>`,
/// or fails the next `fail_next` calls with `errc::unavailable`.
class fake_verifier final : public verifier_client {
public:
  caf::expected<std::string> create(const application& app) override;
  std::string describe() const override;

  std::atomic<int> fail_next{0};
  std::atomic<int> calls{0};

  /// The applications asked for, in order.
  std::vector<std::string> asked() const;

private:
  mutable std::mutex mtx_;
  std::vector<std::string> asked_;
};

/// One application in the manual review queue.
struct review_item {
  static constexpr const char* record_name = "tenure::review_item";
  static constexpr uint32_t schema_version = 1;

  app_id application;
  tenure::program program = tenure::program::none;
  /// When the program team's answer is due; `overdue` once it passed.
  time_point due;
  bool overdue = false;

  template <class Self>
  static auto fields(Self& x) {
    return std::make_tuple(field("application", x.application),
                           field("program", x.program), field("due", x.due),
                           field("overdue", x.overdue));
  }
};

struct verification_deps {
  storage::store* store = nullptr;
  const tenure::clock* clock = nullptr;
  /// Where applications live (`(get_atom, app_id)`, `start_verification`,
  /// `(fire_atom, timer)`).
  caf::actor registry;
  /// The external verifier. Null: external verifications fail (and are
  /// retried) until one is configured.
  std::shared_ptr<verifier_client> verifier;
};

struct verification_state {
  static inline const char* name = "verification";
};

/// The verification supervisor's target. For `verify_start` it creates the
/// verification at the verifier (EDU, OSS on SaaS) and hands the reference
/// to the application, whose commit removes the timer and arms the result
/// timeout; `verify_timeout` (ask again, then manual review) and
/// `review_due` (notice to the program inbox) go to the application.
/// `(queue_atom, limit)` → `std::vector<review_item>` oldest due first.
///
/// Spawn it detached: the verifier is called synchronously.
caf::behavior verification_desk(caf::stateful_actor<verification_state>* self,
                                verification_deps deps);

/// The review queue from the store, oldest due first, at most `limit`.
caf::expected<std::vector<review_item>>
review_queue(const storage::store& st, time_point now, size_t limit);

} // namespace tenure
