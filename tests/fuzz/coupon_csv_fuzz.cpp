// Fuzz target: coupon CSV imports (`parse_coupon_csv`,
// actors/coupon_rules.hpp), the body of `POST /v1/coupons/{program}/import`
// and the file of `tenure coupon import`. The input is the file, parsed
// under the default limits and under small ones.
//
// Oracles besides the sanitizers: every line is counted exactly once (codes,
// blanks, duplicates, invalid); codes are unique and valid; the invalid line
// numbers are the first ones, in order; more lines than the limit is
// `errc::too_large` and nothing else fails.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "actors/coupon_rules.hpp"
#include "messages/errc.hpp"

using namespace tenure;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "coupon_csv_fuzz: %s\n", what);
  std::abort();
}

bool code_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
         || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/// Lines as the importer counts them: `\n`-terminated, a last line without
/// one counts, a leading UTF-8 byte order mark is not part of the file.
uint64_t count_lines(std::string_view csv) {
  if (csv.substr(0, 3) == "\xEF\xBB\xBF")
    csv.remove_prefix(3);
  auto n = static_cast<uint64_t>(std::count(csv.begin(), csv.end(), '\n'));
  if (!csv.empty() && csv.back() != '\n')
    ++n;
  return n;
}

void check(std::string_view csv, const coupon_csv_limits& limits) {
  auto lines = count_lines(csv);
  auto r = parse_coupon_csv(csv, limits);
  if (!r) {
    if (r.error() != errc::too_large || lines <= limits.max_lines)
      fail("refused a file within the line limit");
    return;
  }
  if (lines > limits.max_lines)
    fail("accepted a file over the line limit");
  auto& rep = r->report;
  if (rep.lines != lines)
    fail("line count differs from the file's");
  if (r->codes.size() + rep.blank + rep.duplicate_in_file + rep.invalid
      != rep.lines)
    fail("a line is counted twice or not at all");
  std::set<std::string> seen;
  for (auto& code : r->codes) {
    if (code.size() < limits.min_length || code.size() > limits.max_length
        || !std::all_of(code.begin(), code.end(), code_char))
      fail("an invalid code was accepted");
    if (!seen.insert(code).second)
      fail("a code was returned twice");
  }
  if (r->invalid_lines.size() != std::min<uint64_t>(rep.invalid, 10))
    fail("wrong number of invalid line numbers");
  for (size_t i = 0; i < r->invalid_lines.size(); ++i)
    if (r->invalid_lines[i] == 0 || r->invalid_lines[i] > rep.lines
        || (i > 0 && r->invalid_lines[i] <= r->invalid_lines[i - 1]))
      fail("invalid line numbers out of order or range");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view csv{reinterpret_cast<const char*>(data), size};
  check(csv, coupon_csv_limits{});
  coupon_csv_limits small;
  small.min_length = 1;
  small.max_length = 8;
  small.max_lines = 16;
  check(csv, small);
  return 0;
}
