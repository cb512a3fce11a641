#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

#include <httplib.h>

/// What the benchmarks that drive real tenured nodes share (http_bench,
/// cluster_bench, abuse_bench): child processes, wrk runs and their figures,
/// the wrk scripts and the application they submit, configuration copies,
/// the temporary directory, free ports, the memory of a process and the
/// formatting of the tables.
namespace tenure::bench {

using steady = std::chrono::steady_clock;

// -- options ------------------------------------------------------------------

/// The options http_bench and cluster_bench share.
struct options {
  /// `seconds` of every wrk run; the tenured of this build with the shipped
  /// config/tenured.conf; 2 wrk threads, /usr/bin/wrk.
  explicit options(int seconds);

  int seconds; // of every wrk run
  int wrk_threads = 2;
  std::string tenured; // the binary
  std::string conf;    // the configuration file tenured is started with
  std::string wrk = "/usr/bin/wrk";

  /// Takes `--seconds N`, `--wrk-threads T`, `--tenured PATH`,
  /// `--config FILE` or `--wrk PATH`; false for any other flag.
  bool take(const std::string& flag, const std::string& value);

  /// Whether wrk and tenured are executable.
  bool runnable() const;
};

// -- the temporary directory and signals
// ---------------------------------------

/// The temporary directory of the run (config, secrets, data dirs, wrk
/// scripts); empty until make_temp_dir.
extern std::string temp_root;

/// Whether remove_temp leaves temp_root in place (cluster_bench --keep).
extern bool keep_temp;

/// Creates a fresh /tmp/NAME-XXXXXX and makes it temp_root; returns its
/// path, or an empty string when it cannot be created.
std::string make_temp_dir(const std::string& name);

/// Removes temp_root, unless keep_temp.
void remove_temp();

/// SIGINT and SIGTERM are blocked in every thread started after this call
/// and taken by one thread: it kills the running children (tenured, wrk),
/// removes the temp dir and exits with 128+signal, saying
/// "PROGRAM: signal N, stopping". Children get the default mask back before
/// exec. Call it before starting any other thread.
void start_signal_thread(std::string program);

// -- child processes
// -------------------------------------------------------------

/// A child whose stdout and stderr are read into memory by a thread (so a
/// chatty child never blocks on a full pipe). It dies with the bench
/// (PR_SET_PDEATHSIG), is killed by the signal thread (start_signal_thread)
/// and by the destructor if still running.
class child {
public:
  /// Starts `argv[0]` with `argv`. Precondition: `argv` non-empty. With a
  /// `log` path, everything the child prints is also appended to that file
  /// whole (`output()` keeps only the start and the recent end).
  explicit child(std::vector<std::string> argv, std::string log = {});

  /// The child's process id.
  pid_t pid() const {
    return pid_;
  }

  ~child();

  child(const child&) = delete;
  child& operator=(const child&) = delete;

  /// What the child printed so far (its start and the recent end).
  std::string output() const;

  /// Waits until the output contains `needle` in a complete line; returns
  /// that line.
  std::optional<std::string> wait_for(const std::string& needle,
                                      std::chrono::milliseconds timeout);

  /// Waits until the child's output reached its end (its pipe closed): the
  /// exit alone does not mean the reader thread has read everything.
  bool wait_eof(std::chrono::milliseconds timeout);

  void signal(int sig);

  /// Waits for the exit and returns its status code (128+signal when
  /// killed), or nothing on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);

private:
  void read_loop(int fd);

  pid_t pid_ = -1;
  int log_fd_ = -1;
  bool reaped_ = false;
  int code_ = 0;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::string out_;
  bool eof_ = false;
  std::thread reader_;
};

// -- configuration
// ---------------------------------------------------------------

/// Sets keys of a CAF config file (`group { key = value }` one per line, as
/// config/tenured.conf is written): replaces the value of each key in
/// `overrides` ("tenure.gateway.keys-file" -> "\"/abs\""), adds the keys and
/// groups that are missing, and makes the relative file names of
/// tenure.data absolute against `conf_dir` (the copy lives elsewhere).
std::string rewrite_conf(const std::string& text, const std::string& conf_dir,
                         std::map<std::string, std::string> overrides);

/// The absolute directory of the configuration file `conf`.
std::string conf_dir_of(const std::string& conf);

// -- memory of a process
// ---------------------------------------------------------

/// Resident memory of a process from /proc/PID/status, in KiB.
struct memory {
  /// VmRSS: resident now.
  size_t rss_kib = 0;
  /// VmHWM: the peak of VmRSS since the start or `reset_peak`.
  size_t hwm_kib = 0;
};

/// The memory of `pid`; zeros when it cannot be read (the process is gone).
memory memory_of(pid_t pid);

/// Resets the peak (VmHWM) of `pid` to its current RSS (writes 5 to
/// /proc/PID/clear_refs, Linux 4.0+); false when the kernel refused.
bool reset_peak(pid_t pid);

// -- wrk
// -------------------------------------------------------------------------

struct wrk_result {
  bool ok = false;
  double rps = 0;
  double p50_us = 0;
  double p99_us = 0;
  uint64_t requests = 0;
  uint64_t non_2xx = 0;
  uint64_t socket_errors = 0; // connect + read + write + timeout
  std::string raw;            // what wrk printed
};

/// The figures of wrk's output (`--latency`); not ok without Requests/sec.
wrk_result parse_wrk(const std::string& out);

/// Runs `wrk -tT -cC -dNs --latency -s SCRIPT URL` (T at most C) to its end
/// and returns its figures (printing wrk's output when it failed); not ok
/// when wrk failed, printed no figures or did not finish in N + 60 s.
wrk_result run_wrk(const std::string& wrk, int threads, int connections,
                   int seconds, const std::string& script,
                   const std::string& url);

// -- the application and the wrk scripts
// ---------------------------------------

/// An EDU university application from a country without trade controls. Its
/// `%s` (in the applicant's email, the organisation's name and wherever
/// `website` has one) stand for a suffix that makes organisation and
/// applicant unique.
std::string application_template(const std::string& website);

/// `tpl` with every `%s` replaced by `suffix`.
std::string fill_template(const std::string& tpl, const std::string& suffix);

/// A Lua string literal of `s` (long brackets cannot hold every string).
std::string lua_quote(const std::string& s);

/// A wrk script that sends GET requests with `token` as bearer token.
std::string get_script(const std::string& token);

/// The lines of a wrk script that make its requests POSTs of JSON with
/// `token` as bearer token, and define `body`: `tpl` as string.format's
/// template (its `%s` stay, any other `%` is doubled).
std::string post_prelude(const std::string& token, const std::string& tpl);

/// Writes `text` to `path`, readable by this user only (the scripts hold the
/// admin token); on failure says so, removes the temp dir and exits.
void write_private_file(const std::string& path, const std::string& text);

// -- helpers
// ---------------------------------------------------------------------

/// A port on 127.0.0.1 that nothing listens on right now (the kernel's
/// pick; a race with other programs is possible but unlikely).
uint16_t free_port();

std::string read_file(const std::string& path);

/// The status and body of an answer, or what went wrong.
std::string describe(const httplib::Result& r);

/// `us` microseconds as "12 us", "1.20 ms" or "2.00 s"; "?" when negative.
std::string fmt_us(double us);

/// "0", or the non-2xx answers and socket errors of a run.
std::string fmt_errors(const wrk_result& r);

} // namespace tenure::bench
