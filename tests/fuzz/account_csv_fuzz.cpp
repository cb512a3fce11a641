// Fuzz target: account CSV imports (`parse_account_csv`,
// actors/outreach_rules.hpp), the body of `POST /v1/accounts/import` and the
// file of `tenure accounts import` (issue 8).
//
// Oracles besides the sanitizers: a refusal is `invalid_argument` or
// `too_large` and, for `invalid_argument`, names a line; what is accepted
// is a list of valid accounts (validate_account), with distinct references
// and at least one contact each, and the merge of each into itself keeps it.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "actors/outreach_rules.hpp"
#include "messages/errc.hpp"

using namespace tenure;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "account_csv_fuzz: %s\n", what);
  std::abort();
}

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return s;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view csv{reinterpret_cast<const char*>(data), size};
  auto r = parse_account_csv(csv);
  if (!r) {
    if (r.error() == errc::invalid_argument) {
      auto msg = error_message(r.error());
      if (msg.rfind("line ", 0) != 0 && msg != "the file is empty")
        fail("a refusal that names no line");
    } else if (r.error() != errc::too_large) {
      fail("an unexpected error code");
    }
    return 0;
  }
  std::set<std::string> refs;
  for (auto& a : *r) {
    if (validate_account(a))
      fail("accepted an account that does not validate");
    if (a.contacts.empty())
      fail("an account without contacts");
    if (!refs.insert(lower(a.external_ref)).second)
      fail("one reference, two accounts");
    auto merged = merge_import(a, a);
    if (merged.contacts.size() != a.contacts.size())
      fail("merging an account into itself changed its contacts");
  }
  return 0;
}
