#include "actors/coupon_rules.hpp"

#include <cmath>
#include <limits>
#include <unordered_set>

#include "messages/errc.hpp"

namespace tenure {

namespace {

bool code_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
         || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty()
         && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

} // namespace

caf::expected<parsed_coupons>
parse_coupon_csv(std::string_view csv, const coupon_csv_limits& limits) {
  parsed_coupons out;
  auto& rep = out.report;
  std::unordered_set<std::string_view> seen;
  // A UTF-8 byte order mark is common in exported files.
  if (csv.substr(0, 3) == "\xEF\xBB\xBF")
    csv.remove_prefix(3);
  size_t pos = 0;
  while (pos < csv.size()) {
    auto eol = csv.find('\n', pos);
    auto line
      = csv.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    pos = eol == std::string_view::npos ? csv.size() : eol + 1;
    if (++rep.lines > limits.max_lines)
      return make_error(errc::too_large, "the file has more than "
                                           + std::to_string(limits.max_lines)
                                           + " lines; split it");
    auto code = trim(line);
    if (code.empty()) {
      ++rep.blank;
      continue;
    }
    if (code.size() >= 2 && code.front() == '"' && code.back() == '"')
      code = trim(code.substr(1, code.size() - 2));
    bool valid
      = code.size() >= limits.min_length && code.size() <= limits.max_length;
    for (auto c : code)
      valid = valid && code_char(c);
    if (!valid) {
      ++rep.invalid;
      if (out.invalid_lines.size() < 10)
        out.invalid_lines.push_back(rep.lines);
      continue;
    }
    if (!seen.insert(code).second) {
      ++rep.duplicate_in_file;
      continue;
    }
    out.codes.emplace_back(code);
  }
  return out;
}

uint64_t yearly_need(const coupon_forecast& f) {
  auto renewals
    = static_cast<double>(f.expected_renewals) * f.reverification_factor;
  return f.applications_per_quarter
         + static_cast<uint64_t>(std::ceil(renewals));
}

uint64_t runway_days(uint64_t available, const coupon_forecast& f) {
  auto need = yearly_need(f);
  if (need == 0)
    return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(static_cast<double>(available) * 365.0
                               / static_cast<double>(need));
}

} // namespace tenure
