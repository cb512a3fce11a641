#include "messages/type_ids.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

#include "messages/errc.hpp"

namespace tenure {

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::tenure>();
  cfg.add_error_category(
    tenure_error_category,
    [](uint8_t code, caf::atom_value, const caf::message& ctx) {
      auto x = static_cast<errc>(code);
      std::string result = "tenure::" + to_string(x) + ": ";
      if (ctx.match_elements<std::string>())
        result += ctx.get_as<std::string>(0);
      else
        result += default_message(x);
      return result;
    });
}

} // namespace tenure
