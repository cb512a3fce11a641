#pragma once

#include <string>
#include <variant>

#include <caf/expected.hpp>

#include "messages/codec.hpp"
#include "messages/events.hpp"

namespace tenure {

/// Wraps a typed event into its stored form.
template <class Variant>
event_envelope wrap_event(std::string entity, uint64_t seq, time_point at,
                          const Variant& ev) {
  event_envelope env;
  env.entity = std::move(entity);
  env.seq = seq;
  env.at = at;
  std::visit(
    [&](const auto& x) {
      using T = std::decay_t<decltype(x)>;
      env.type = std::string{event_type_name<T>()};
      env.payload = encode(x);
    },
    ev);
  return env;
}

namespace codec_detail {

template <class Variant, size_t I = 0>
caf::expected<Variant> unwrap_alternative(const event_envelope& env,
                                          const decode_limits& limits) {
  if constexpr (I == std::variant_size_v<Variant>) {
    return make_error(errc::corrupt_data,
                      "unknown event type '" + env.type.substr(0, 40)
                        + "' for entity " + env.entity.substr(0, 40));
  } else {
    using T = std::variant_alternative_t<I, Variant>;
    if (env.type == event_type_name<T>()) {
      auto x = decode<T>(env.payload, limits);
      if (!x)
        return std::move(x.error());
      return Variant{std::move(*x)};
    }
    return unwrap_alternative<Variant, I + 1>(env, limits);
  }
}

} // namespace codec_detail

/// Decodes the typed event of an envelope; an unknown type or bad payload is
/// an error (`errc::corrupt_data`), never a crash.
template <class Variant>
caf::expected<Variant> unwrap_event(const event_envelope& env,
                                    const decode_limits& limits = {}) {
  return codec_detail::unwrap_alternative<Variant>(env, limits);
}

} // namespace tenure
