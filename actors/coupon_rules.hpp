#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "messages/commands.hpp"

/// Coupon pool rules: CSV parsing and the stock forecast. Pure functions.
namespace tenure {

/// Limits of a CSV import.
struct coupon_csv_limits {
  /// Shortest accepted code. Default: 4.
  size_t min_length = 4;
  /// Longest accepted code. Default: 64.
  size_t max_length = 64;
  /// Most lines in one file. Default: 1,000,000.
  size_t max_lines = 1'000'000;
};

/// The codes of a CSV file and what was skipped. `report.already_present`
/// is left to the pool, which knows its codes.
struct parsed_coupons {
  std::vector<std::string> codes;
  import_report report;
  /// 1-based line numbers of the first few invalid lines (never the codes
  /// themselves: a line may hold a secret).
  std::vector<uint64_t> invalid_lines;
};

/// Parses a CSV of one column and no header (seed 001): one code per line,
/// `\n` or `\r\n`, optional surrounding quotes and spaces. Blank lines and
/// codes repeated within the file are counted, not returned twice; lines with
/// several columns, bad characters or bad lengths are counted as invalid.
/// Returns `errc::too_large` when the file has more than `max_lines` lines.
caf::expected<parsed_coupons>
parse_coupon_csv(std::string_view csv, const coupon_csv_limits& limits = {});

/// Seed 001's forecast parameters for one program.
struct coupon_forecast {
  /// Applications expected per quarter.
  uint64_t applications_per_quarter = 0;
  /// Renewals expected per year.
  uint64_t expected_renewals = 0;
  /// Average share of renewals that re-verify (0..1+).
  double reverification_factor = 1.0;
  /// Runway under which a low-stock notice goes out, in days.
  uint64_t low_stock_runway_days = 60;
};

/// Seed 001: "number of applications expected per quarter + number of
/// expected renewals * an average re-verification factor", the codes the
/// verifier is asked for once a year.
uint64_t yearly_need(const coupon_forecast& f);

/// Days until `available` codes run out at the yearly need's daily rate;
/// a need of zero gives the largest value (no consumption forecast).
uint64_t runway_days(uint64_t available, const coupon_forecast& f);

} // namespace tenure
