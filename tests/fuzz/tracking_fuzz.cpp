// Fuzz target: what recipients' browsers send to the public tracking
// routes (issue 8): the token in the path (`parse_tracking_token`,
// nodes/tracking.hpp) and the survey form's body (`parse_form`).
//
// The first byte picks the decoder; the rest is the input.
//
// Oracles besides the sanitizers: no forged token is taken (a token is
// accepted only if it is exactly the one `tracking_token` makes for its
// program and email), and a token made for ids is always taken back.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "nodes/tracking.hpp"

using namespace tenure;

namespace {

constexpr std::string_view secret = "fuzz-tracking-secret-0123456789";

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "tracking_fuzz: %s\n", what);
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  std::string_view in{reinterpret_cast<const char*>(data) + 1, size - 1};
  if (data[0] % 2 == 0) {
    auto t = parse_tracking_token(secret, in);
    if (t && tracking_token(secret, t->first, t->second) != in)
      fail("took a token that is not the one made for its ids");
    if (in.size() >= 4 + 26 + 1 + 4 + 26) {
      // Ids from the input's bytes, when they are ids: made, then taken.
      auto p = prg_id::parse(in.substr(0, 30));
      auto n = ntf_id::parse(in.substr(in.size() - 30));
      if (p && n) {
        auto back
          = parse_tracking_token(secret, tracking_token(secret, *p, *n));
        if (!back || back->first != *p || back->second != *n)
          fail("a token made for ids was not taken back");
      }
    }
  } else {
    auto form = parse_form(in);
    for (auto& [k, v] : form)
      if (k.size() > 16 * 1024 || v.size() > 16 * 1024)
        fail("a field longer than the 16 KiB read");
  }
  return 0;
}
