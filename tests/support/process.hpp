#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include <sys/types.h>

/// Test support for end-to-end tests: starts a real binary, reads what it
/// prints, signals it and waits for it, always with deadlines (never fixed
/// sleeps).
namespace tenure::test {

/// A child process whose stdout and stderr are collected through pipes.
/// Waits block on the pipes and on a pidfd with a deadline: no polling loops.
class child_process {
public:
  /// Starts `argv[0]` with `argv`. Precondition: `argv` non-empty.
  explicit child_process(std::vector<std::string> argv);

  /// Kills the child (SIGKILL) if still running.
  ~child_process();

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept {
    return pid_;
  }

  /// Everything written to stdout so far.
  std::string out() const;

  /// Everything written to stderr so far.
  std::string err() const;

  /// Polls stdout+stderr until `needle` appears or `timeout` passes; returns
  /// the line that contains it.
  std::optional<std::string> wait_for_output(const std::string& needle,
                                             std::chrono::milliseconds timeout);

  /// Sends `sig`.
  void signal(int sig);

  /// Waits for the exit; returns the exit code, 128+signal when killed by a
  /// signal, or nothing on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);

  bool running();

private:
  void read_loop(int out_fd, int err_fd);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::string out_;
  std::string err_;
  bool eof_ = false;
  std::thread reader_;
};

/// A fresh, empty directory under the system temp dir; removed by the
/// destructor.
class temp_dir {
public:
  explicit temp_dir(const std::string& prefix = "tenure-test");
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const noexcept {
    return path_;
  }

private:
  std::string path_;
};

/// The repository root: $TENURE_SOURCE_DIR (set by ctest), else the
/// compile-time source dir.
std::string source_dir();

/// The build directory that holds the binaries under test.
std::string build_dir();

/// Writes `content` to `path`, replacing it.
void write_file(const std::string& path, const std::string& content);

} // namespace tenure::test
