#include "messages/id.hpp"

namespace tenure {

namespace {

constexpr char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

bool is_crockford(char c) noexcept {
  return (c >= '0' && c <= '9')
         || (c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' && c != 'O'
             && c != 'U');
}

} // namespace

bool is_valid_id_body(std::string_view body) noexcept {
  if (body.size() != id_body_length)
    return false;
  // The first character encodes only 3 bits of the 48-bit timestamp.
  if (body[0] > '7')
    return false;
  for (auto c : body)
    if (!is_crockford(c))
      return false;
  return true;
}

id_generator::id_generator() : rng_(std::random_device{}()) {
  // nop
}

id_generator::id_generator(uint64_t seed) : rng_(seed) {
  // nop
}

std::string id_generator::next_body(time_point now) {
  auto ms = static_cast<uint64_t>(to_unix_ms(now)) & ((uint64_t{1} << 48) - 1);
  std::lock_guard<std::mutex> guard{mtx_};
  if (ms > last_ms_) {
    last_ms_ = ms;
    hi_ = static_cast<uint16_t>(rng_());
    // Leave headroom so increments within one millisecond cannot overflow.
    lo_ = rng_() >> 1;
  } else {
    // Same or earlier millisecond (clock stepped back): stay monotonic.
    ms = last_ms_;
    if (++lo_ == 0)
      ++hi_;
  }
  std::string out(id_body_length, '0');
  for (int i = 9; i >= 0; --i) {
    out[static_cast<size_t>(i)] = crockford[ms & 31];
    ms >>= 5;
  }
  // 80 random bits = 16 characters: hi_ (16 bits) then lo_ (64 bits).
  uint64_t lo = lo_;
  uint64_t hi = hi_;
  for (int i = 25; i >= 10; --i) {
    out[static_cast<size_t>(i)] = crockford[lo & 31];
    lo = (lo >> 5) | ((hi & 31) << 59);
    hi >>= 5;
  }
  return out;
}

} // namespace tenure
