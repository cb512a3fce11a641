// Fuzz target: the verifier webhook's `Tenure-Signature` header
// (nodes/signature.hpp). The input is the header, a newline, then the body
// (a header value cannot hold a newline).
//
// Oracles besides the sanitizers: a parsed header has a positive `t` and 1
// to 8 signatures of 32 bytes; `verify_webhook` fails with
// `errc::unauthorized` only, with a message that fits in a JSON error body;
// and the header's own time with a correct signature of the body verifies.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "messages/errc.hpp"
#include "nodes/signature.hpp"

using namespace tenure;

namespace {

constexpr std::string_view secret = "whsec_fuzz_0123456789abcdef";

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "signature_fuzz: %s %.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void check_error(const caf::error& err) {
  if (err != errc::unauthorized)
    fail("unexpected error code:", error_message(err));
  try {
    (void)nlohmann::json(error_message(err)).dump();
  } catch (const nlohmann::json::exception& e) {
    fail("error message is not valid in a JSON body:", e.what());
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input{reinterpret_cast<const char*>(data), size};
  auto nl = input.find('\n');
  auto header = input.substr(0, nl);
  auto body
    = nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);
  auto parsed = parse_signature_header(header);
  if (!parsed) {
    check_error(parsed.error());
  } else {
    if (parsed->t <= 0 || parsed->v1.empty() || parsed->v1.size() > 8)
      fail("parsed header out of its bounds");
    for (auto& sig : parsed->v1)
      if (sig.size() != 32)
        fail("a v1 signature is not 32 bytes");
  }
  // At a fixed time (2026-11-23T00:00:00Z): mostly stale signatures.
  auto now = from_unix_ms(1'795'392'000'000);
  if (auto err = verify_webhook(secret, header, body, now))
    check_error(err);
  if (!parsed)
    return 0;
  // At the header's own time, where the signatures are compared; the times
  // a time_point can hold only.
  constexpr int64_t max_t = std::numeric_limits<int64_t>::max() / 1000 - 600;
  if (parsed->t > max_t)
    return 0;
  auto at = from_unix_ms(parsed->t * 1000);
  if (auto err = verify_webhook(secret, header, body, at))
    check_error(err);
  // A correct signature of the body at the header's time verifies.
  auto good = "t=" + std::to_string(parsed->t)
              + ",v1=" + sign_webhook(secret, parsed->t, body);
  if (auto err = verify_webhook(secret, good, body, at))
    fail("a correct signature was refused:", error_message(err));
  return 0;
}
