#pragma once

#include <cstdio>
#include <string>

/// The machine-readable figures of a bench program for scripts/bench: with
/// `--summary FILE`, every program appends one line per figure to FILE,
///
///     METRIC <tab> FIGURE <tab> BASELINE <tab> RATIO
///
/// METRIC starts with the program's name ("http_bench: GET -c8 req/s");
/// FIGURE and BASELINE carry their unit; RATIO is FIGURE / BASELINE as a
/// plain number, or "-" when the row has no baseline. Header-only, so that
/// the benchmarks that do not link bench_tools (store, lifecycle, timer)
/// write it too.
namespace tenure::bench {

class summary {
public:
  /// Writes nothing until `open`.
  summary() = default;

  summary(const summary&) = delete;
  summary& operator=(const summary&) = delete;

  ~summary() {
    if (file_)
      std::fclose(file_);
  }

  /// Appends to `path`; false (and says so) when it cannot be opened.
  bool open(const std::string& path) {
    file_ = std::fopen(path.c_str(), "a");
    if (!file_)
      std::fprintf(stderr, "cannot open %s for the summary\n", path.c_str());
    return file_ != nullptr;
  }

  /// One row; tabs and line breaks in the cells become spaces.
  void add(const std::string& metric, const std::string& figure,
           const std::string& baseline, const std::string& ratio) {
    if (!file_)
      return;
    std::fprintf(file_, "%s\t%s\t%s\t%s\n", cell(metric).c_str(),
                 cell(figure).c_str(), cell(baseline).c_str(),
                 cell(ratio).c_str());
    std::fflush(file_);
  }

  /// `x` with 2 decimals ("0.42"), or "-" when `baseline` is not positive.
  static std::string ratio(double x, double baseline) {
    if (!(baseline > 0))
      return "-";
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.2f", x / baseline);
    return buf;
  }

  /// `x` printed with `fmt` (printf), e.g. num("%.0f req/s", 1234.5).
  static std::string num(const char* fmt, double x) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), fmt, x);
    return buf;
  }

private:
  static std::string cell(std::string s) {
    for (auto& c : s)
      if (c == '\t' || c == '\n' || c == '\r')
        c = ' ';
    return s;
  }

  std::FILE* file_ = nullptr;
};

} // namespace tenure::bench
