#include "actors/verification.hpp"

#include <caf/event_based_actor.hpp>

#include "actors/application_rules.hpp"
#include "actors/atoms.hpp"
#include "actors/log.hpp"
#include "actors/unexpected.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"
#include "storage/cf.hpp"
#include "storage/keys.hpp"

namespace tenure {

verifier_client::~verifier_client() = default;

caf::expected<std::string> fake_verifier::create(const application& app) {
  auto n = ++calls;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    asked_.push_back(app.id.str());
  }
  if (fail_next > 0) {
    --fail_next;
    return make_error(errc::unavailable, "fake verifier: told to fail");
  }
  return "fake-" + app.id.str() + "-" + std::to_string(n);
}

std::string fake_verifier::describe() const {
  return "fake verifier";
}

std::vector<std::string> fake_verifier::asked() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return asked_;
}

caf::expected<std::vector<review_item>>
review_queue(const storage::store& st, time_point now, size_t limit) {
  auto rows = st.scan(storage::cf::meta, review_queue_prefix, limit);
  if (!rows)
    return std::move(rows.error());
  std::vector<review_item> out;
  out.reserve(rows->size());
  for (auto& row : *rows) {
    auto rest = std::string_view{row.key}.substr(review_queue_prefix.size());
    auto bits = storage::read_be64(rest);
    auto id = rest.size() > 8 ? app_id::parse(rest.substr(8)) : std::nullopt;
    if (!bits || !id)
      return make_error(errc::corrupt_data, "review queue row is malformed");
    review_item item;
    item.application = *id;
    item.due = storage::from_due_bits(*bits);
    item.overdue = item.due <= now;
    if (auto p = parse_enum<program>(row.value))
      item.program = *p;
    out.push_back(std::move(item));
  }
  return out;
}

namespace {

using self_ptr = caf::stateful_actor<verification_state>*;

const log::logger lg{"verification"};

} // namespace

caf::behavior verification_desk(self_ptr self, verification_deps deps) {
  self->set_default_handler(drop_unexpected);
  return {
    [=](fire_atom a, timer& t) -> caf::result<caf::message> {
      if (t.kind != kinds::verify_start)
        return self->delegate(deps.registry, a, std::move(t));
      auto id = app_id::parse(t.entity);
      if (!id)
        return make_error(errc::invalid_argument,
                          "verify_start timer without an application");
      auto rp = self->make_response_promise();
      self
        ->request(deps.registry, std::chrono::seconds(30), get_atom::value, *id)
        .await(
          [=](application& app) mutable {
            if (app.state != application_state::verifying
                || app.path != verification_path::external) {
              // Left the verifier's path meanwhile: the application drops
              // the timer.
              rp.delegate(deps.registry, fire_atom::value, t);
              return;
            }
            if (!deps.verifier) {
              rp.deliver(make_error(errc::unavailable,
                                    "no external verifier is configured"));
              return;
            }
            auto ref = deps.verifier->create(app);
            if (!ref) {
              lg.warn("verifier failed application={} verifier={} error={}",
                      app.id.str(), deps.verifier->describe(),
                      error_message(ref.error()));
              rp.deliver(ref.error());
              return;
            }
            lg.info("verification created application={} attempt={}",
                    app.id.str(), app.verification_attempts + 1);
            rp.delegate(deps.registry, start_verification{app.id, *ref, t});
          },
          [=](caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [=](queue_atom, uint64_t limit) -> caf::result<std::vector<review_item>> {
      auto q = review_queue(*deps.store, deps.clock->now(),
                            static_cast<size_t>(limit));
      if (!q)
        return std::move(q.error());
      return std::move(*q);
    },
  };
}

} // namespace tenure
