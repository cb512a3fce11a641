#include "storage/keys.hpp"

namespace tenure::storage {

namespace {

std::string join(std::string_view a, std::string_view b) {
  std::string result;
  result.reserve(a.size() + 1 + b.size());
  result.append(a);
  result += key_separator;
  result.append(b);
  return result;
}

} // namespace

void append_be64(std::string& out, uint64_t x) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(x & 0xff);
    x >>= 8;
  }
  out.append(buf, sizeof(buf));
}

std::string be64(uint64_t x) {
  std::string result;
  append_be64(result, x);
  return result;
}

std::optional<uint64_t> read_be64(std::string_view in) noexcept {
  if (in.size() < 8)
    return std::nullopt;
  uint64_t x = 0;
  for (size_t i = 0; i < 8; ++i)
    x = (x << 8) | static_cast<uint8_t>(in[i]);
  return x;
}

std::string snapshot_key(std::string_view entity) {
  return std::string{entity};
}

std::string event_key(std::string_view entity, uint64_t seq) {
  std::string result;
  result.reserve(entity.size() + 9);
  result.append(entity);
  result += key_separator;
  append_be64(result, seq);
  return result;
}

std::string event_prefix(std::string_view entity) {
  std::string result{entity};
  result += key_separator;
  return result;
}

std::string timer_key(time_point due, std::string_view owner,
                      std::string_view timer_id) {
  auto result = timer_index_value(due, owner);
  result += key_separator;
  result.append(timer_id);
  return result;
}

std::string timer_prefix(std::string_view owner) {
  std::string result{owner};
  result += key_separator;
  return result;
}

std::string timer_bound(std::string_view owner, time_point until) {
  auto result = timer_prefix(owner);
  append_be64(result, due_bits(until));
  return result;
}

std::string timer_index_key(std::string_view entity, std::string_view kind,
                            std::string_view timer_id) {
  auto result = timer_index_prefix(entity, kind);
  result.append(timer_id);
  return result;
}

std::string timer_index_prefix(std::string_view entity, std::string_view kind) {
  std::string result;
  result.reserve(entity.size() + kind.size() + 2);
  result.append(entity);
  result += key_separator;
  if (!kind.empty()) {
    result.append(kind);
    result += key_separator;
  }
  return result;
}

std::string timer_index_value(time_point due, std::string_view owner) {
  std::string result;
  result.reserve(owner.size() + 1 + 8 + 1 + 32);
  result.append(owner);
  result += key_separator;
  append_be64(result, due_bits(due));
  return result;
}

std::string coupon_key(std::string_view program, std::string_view code) {
  return join(program, code);
}

std::string idempotency_key(std::string_view scope, std::string_view key) {
  return join(scope, key);
}

std::string prefix_successor(std::string_view prefix) {
  std::string result{prefix};
  while (!result.empty()) {
    auto& last = result.back();
    if (static_cast<uint8_t>(last) != 0xff) {
      last = static_cast<char>(static_cast<uint8_t>(last) + 1);
      return result;
    }
    result.pop_back();
  }
  return result;
}

size_t split_key(std::string_view key, std::string_view* parts, size_t n) {
  if (n == 0)
    return 0;
  size_t count = 0;
  while (count + 1 < n) {
    auto pos = key.find(key_separator);
    if (pos == std::string_view::npos)
      break;
    parts[count++] = key.substr(0, pos);
    key.remove_prefix(pos + 1);
  }
  parts[count++] = key;
  return count;
}

} // namespace tenure::storage
