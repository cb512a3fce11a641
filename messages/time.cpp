#include "messages/time.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <limits>

namespace tenure {

namespace {

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's
// days_from_civil), so no timezone database or locale is involved.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) noexcept {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool read_uint(std::string_view str, size_t pos, size_t len, unsigned& out) {
  if (pos + len > str.size())
    return false;
  unsigned v = 0;
  for (size_t i = pos; i < pos + len; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(str[i])))
      return false;
    v = v * 10 + static_cast<unsigned>(str[i] - '0');
  }
  out = v;
  return true;
}

unsigned days_in_month(int64_t y, unsigned m) noexcept {
  static constexpr unsigned tbl[] = {31, 28, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : tbl[m - 1];
}

/// A UTC time as its civil date and the milliseconds into that day.
struct civil_time {
  int64_t year;
  unsigned month;
  unsigned day;
  int64_t ms_of_day;
};

civil_time split(time_point t) noexcept {
  auto ms = to_unix_ms(t);
  // Floor division, so times before 1970 land on the right day.
  auto day = ms >= 0 ? ms / 86'400'000 : (ms - 86'399'999) / 86'400'000;
  civil_time c{0, 0, 0, ms - day * 86'400'000};
  civil_from_days(day, c.year, c.month, c.day);
  return c;
}

} // namespace

std::string to_iso8601(time_point t) {
  civil_time c = split(t);
  auto [y, m, d, rem] = c;
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ",
                static_cast<long long>(y), m, d,
                static_cast<unsigned>(rem / 3'600'000),
                static_cast<unsigned>(rem / 60'000 % 60),
                static_cast<unsigned>(rem / 1000 % 60),
                static_cast<unsigned>(rem % 1000));
  return buf;
}

std::optional<time_point> parse_iso8601(std::string_view str) {
  unsigned y, mo, d, h = 0, mi = 0, s = 0, ms = 0;
  if (!read_uint(str, 0, 4, y) || str.size() < 10 || str[4] != '-'
      || !read_uint(str, 5, 2, mo) || str[7] != '-' || !read_uint(str, 8, 2, d))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
    return std::nullopt;
  size_t pos = 10;
  if (pos < str.size()) {
    if ((str[pos] != 'T' && str[pos] != 't') || !read_uint(str, 11, 2, h)
        || str.size() < 19 || str[13] != ':' || !read_uint(str, 14, 2, mi)
        || str[16] != ':' || !read_uint(str, 17, 2, s))
      return std::nullopt;
    if (h > 23 || mi > 59 || s > 59)
      return std::nullopt;
    pos = 19;
    if (pos < str.size() && str[pos] == '.') {
      size_t start = ++pos;
      unsigned frac = 0;
      size_t digits = 0;
      while (pos < str.size()
             && std::isdigit(static_cast<unsigned char>(str[pos]))) {
        if (digits < 3)
          frac = frac * 10 + static_cast<unsigned>(str[pos] - '0');
        ++digits;
        ++pos;
      }
      if (pos == start)
        return std::nullopt;
      for (; digits < 3; ++digits)
        frac *= 10;
      ms = frac;
    }
    if (pos + 1 != str.size() || (str[pos] != 'Z' && str[pos] != 'z'))
      return std::nullopt;
  }
  int64_t day = days_from_civil(y, mo, d);
  int64_t total = day * 86'400'000 + int64_t{h} * 3'600'000
                  + int64_t{mi} * 60'000 + int64_t{s} * 1000 + ms;
  return from_unix_ms(total);
}

time_point add_years(time_point t, int n) {
  civil_time c = split(t);
  auto [y, m, d, rem] = c;
  y += n;
  if (m == 2 && d == 29 && days_in_month(y, 2) == 28)
    d = 28;
  return from_unix_ms(days_from_civil(y, m, d) * 86'400'000 + rem);
}

std::optional<duration> parse_duration(std::string_view str) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < str.size() && std::isdigit(static_cast<unsigned char>(str[i]))) {
    n = n * 10 + static_cast<uint64_t>(str[i] - '0');
    if (n > (uint64_t{1} << 40))
      return std::nullopt;
    ++i;
  }
  if (i == 0)
    return std::nullopt;
  auto unit = str.substr(i);
  int64_t mul;
  if (unit == "ms")
    mul = 1;
  else if (unit == "s")
    mul = 1000;
  else if (unit == "min" || unit == "m")
    mul = 60'000;
  else if (unit == "h")
    mul = 3'600'000;
  else if (unit == "d")
    mul = 86'400'000;
  else if (unit == "w")
    mul = 7 * 86'400'000LL;
  else
    return std::nullopt;
  if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / mul))
    return std::nullopt;
  return duration{static_cast<int64_t>(n) * mul};
}

std::string to_string_duration(duration d) {
  auto ms = d.count();
  struct unit {
    int64_t mul;
    const char* name;
  };
  static constexpr unit units[] = {{7 * 86'400'000LL, "w"}, {86'400'000, "d"},
                                   {3'600'000, "h"},        {60'000, "min"},
                                   {1000, "s"}};
  if (ms != 0)
    for (auto& u : units)
      if (ms % u.mul == 0)
        return std::to_string(ms / u.mul) + u.name;
  return std::to_string(ms) + "ms";
}

} // namespace tenure
