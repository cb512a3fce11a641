#include "nodes/signature.hpp"

#include <charconv>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "messages/errc.hpp"

namespace tenure {

namespace {

/// The latest `t=` taken, 9999-12-31T23:59:59Z: later times do not fit the
/// millisecond `time_point` (`t * 1000` would overflow) and no sender has
/// them.
constexpr int64_t max_signature_time = 253'402'300'799;

caf::error bad(std::string what) {
  return make_error(errc::unauthorized, "Tenure-Signature: " + std::move(what));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
       &len);
  return std::string{reinterpret_cast<const char*>(out), len};
}

} // namespace

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto c : bytes) {
    auto b = static_cast<unsigned char>(c);
    out += digits[b >> 4];
    out += digits[b & 0x0f];
  }
  return out;
}

bool constant_time_equal(std::string_view x, std::string_view y) noexcept {
  if (x.size() != y.size())
    return false;
  return CRYPTO_memcmp(x.data(), y.data(), x.size()) == 0;
}

caf::expected<signature_header> parse_signature_header(std::string_view text) {
  if (text.empty())
    return bad("missing");
  if (text.size() > 4096)
    return bad("longer than 4096 bytes");
  signature_header out;
  bool have_t = false;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{}
                                           : text.substr(comma + 1);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    auto eq = item.find('=');
    if (eq == std::string_view::npos)
      return bad("expected key=value items separated by commas");
    auto key = item.substr(0, eq);
    auto value = item.substr(eq + 1);
    if (key == "t") {
      if (have_t)
        return bad("t= given twice");
      auto [p, ec]
        = std::from_chars(value.data(), value.data() + value.size(), out.t);
      if (ec != std::errc{} || p != value.data() + value.size() || out.t <= 0
          || out.t > max_signature_time)
        return bad("t= is not a positive Unix time in seconds");
      have_t = true;
    } else if (key == "v1") {
      if (value.size() != 64)
        return bad("v1= is not 64 hex digits");
      std::string raw;
      raw.reserve(32);
      for (size_t i = 0; i < 64; i += 2) {
        auto hi = hex_value(value[i]);
        auto lo = hex_value(value[i + 1]);
        if (hi < 0 || lo < 0)
          return bad("v1= is not 64 hex digits");
        raw += static_cast<char>(hi * 16 + lo);
      }
      if (out.v1.size() == 8)
        return bad("more than 8 v1= signatures");
      out.v1.push_back(std::move(raw));
    }
    // Other schemes (v0=, future v2=) are ignored, as senders may add them.
  }
  if (!have_t)
    return bad("t= is missing");
  if (out.v1.empty())
    return bad("v1= is missing");
  return out;
}

std::string sign_webhook(std::string_view secret, int64_t t,
                         std::string_view body) {
  std::string data = std::to_string(t);
  data += '.';
  data.append(body);
  return to_hex(hmac_sha256(secret, data));
}

caf::error verify_webhook(std::string_view secret, std::string_view header,
                          std::string_view body, time_point now,
                          duration tolerance) {
  auto parsed = parse_signature_header(header);
  if (!parsed)
    return std::move(parsed.error());
  if (secret.empty())
    return bad("no webhook secret is configured");
  auto signed_at = from_unix_ms(parsed->t * 1000);
  if (signed_at < now - tolerance || signed_at > now + tolerance)
    return bad("signed at " + to_iso8601(signed_at)
               + ", outside the accepted window of "
               + to_string_duration(tolerance));
  std::string data = std::to_string(parsed->t);
  data += '.';
  data.append(body);
  auto expected = hmac_sha256(secret, data);
  bool ok = false;
  for (auto& sig : parsed->v1)
    ok |= constant_time_equal(sig, expected);
  if (!ok)
    return bad("no v1= signature matches the body");
  return caf::none;
}

} // namespace tenure
