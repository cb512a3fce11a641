#include "messages/errc.hpp"

#include <array>

#include <caf/message.hpp>

namespace tenure {

namespace {

struct errc_info {
  errc code;
  std::string_view name;
  std::string_view message;
};

constexpr errc_info errc_table[] = {
  {errc::invalid_argument, "invalid_argument",
   "A field is missing or malformed; correct the request and send it again."},
  {errc::not_found, "not_found",
   "No such object; check the id (it starts with its type prefix, e.g. app_)."},
  {errc::already_exists, "already_exists",
   "This object exists already; fetch it instead of creating it again."},
  {errc::illegal_transition, "illegal_transition",
   "This step is not allowed in the object's current state; check its state "
   "and history."},
  {errc::ineligible, "ineligible",
   "The application does not meet the program's eligibility rules; see the "
   "reasons."},
  {errc::code_already_used, "code_already_used",
   "This code has already been used."},
  {errc::code_invalid, "code_invalid",
   "This code is not valid. Try re-entering the code from your email."},
  {errc::pool_empty, "pool_empty",
   "The program's coupon pool is empty; import codes (coupon import) and the "
   "waiting applications are booked automatically."},
  {errc::sku_mismatch, "sku_mismatch",
   "The SKU does not belong to this program; choose a SKU of the program the "
   "code was issued for."},
  {errc::duplicate_subscription, "duplicate_subscription",
   "The organisation already has an active subscription in this program; "
   "renew it instead."},
  {errc::storage_failure, "storage_failure",
   "The store could not complete the operation; nothing was changed. Check "
   "disk space and the node log, then retry."},
  {errc::corrupt_data, "corrupt_data",
   "Data failed validation and was not used; nothing was changed."},
  {errc::too_large, "too_large",
   "The input exceeds a size limit; split it or send less."},
  {errc::conflict, "conflict",
   "Another change came first; reload the object and retry."},
  {errc::unauthorized, "unauthorized",
   "Missing or invalid credentials; send a valid token."},
  {errc::forbidden, "forbidden",
   "Your token lacks the scope this needs; ask an administrator."},
  {errc::config_invalid, "config_invalid",
   "A configuration value is invalid; fix the named key and restart."},
  {errc::timeout, "timeout",
   "The operation did not finish in time; it may still complete, check before "
   "retrying."},
  {errc::unavailable, "unavailable",
   "The node is starting or shutting down; retry shortly."},
  {errc::schema_too_new, "schema_too_new",
   "Stored data comes from a newer Tenure version; upgrade this node."},
  {errc::refused, "refused",
   "The request is outside policy; the message says which rule refused it."},
};

const errc_info* find(errc x) noexcept {
  for (auto& info : errc_table)
    if (info.code == x)
      return &info;
  return nullptr;
}

} // namespace

std::string to_string(errc x) {
  if (auto info = find(x))
    return std::string{info->name};
  return "errc(" + std::to_string(static_cast<int>(x)) + ")";
}

bool from_string(std::string_view str, errc& x) {
  for (auto& info : errc_table)
    if (info.name == str) {
      x = info.code;
      return true;
    }
  return false;
}

std::string_view default_message(errc x) {
  if (auto info = find(x))
    return info->message;
  return "Unknown error.";
}

caf::error make_error(errc x, std::string detail) {
  if (detail.empty())
    return caf::error{static_cast<uint8_t>(x), tenure_error_category};
  return caf::error{static_cast<uint8_t>(x), tenure_error_category,
                    caf::make_message(std::move(detail))};
}

bool is_tenure_error(const caf::error& err) noexcept {
  return err && err.category() == tenure_error_category;
}

bool operator==(const caf::error& err, errc x) noexcept {
  return is_tenure_error(err) && err.code() == static_cast<uint8_t>(x);
}

std::string error_message(const caf::error& err) {
  if (!err)
    return {};
  const auto& ctx = err.context();
  if (ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  if (is_tenure_error(err))
    return std::string{default_message(static_cast<errc>(err.code()))};
  return caf::to_string(err);
}

std::string error_code(const caf::error& err) {
  if (!err)
    return {};
  if (is_tenure_error(err))
    return to_string(static_cast<errc>(err.code()));
  return caf::to_string(err.category()) + ":" + std::to_string(err.code());
}

} // namespace tenure
