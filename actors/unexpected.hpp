#pragma once

#include <caf/message_view.hpp>
#include <caf/result.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/sec.hpp>

#include "actors/log.hpp"

namespace tenure {

/// Default handler for our actors, replacing CAF's print_and_drop, which
/// prints whole messages to stderr: ours carry personal data and coupon
/// codes. Logs the actor's name only and answers requests with
/// `sec::unexpected_message`.
inline caf::result<caf::message> drop_unexpected(caf::scheduled_actor* self,
                                                 caf::message_view&) {
  static const log::logger lg{"actors"};
  lg.warn("dropped an unexpected message actor={}", self->name());
  return caf::sec::unexpected_message;
}

} // namespace tenure
