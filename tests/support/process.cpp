#include "tests/support/process.hpp"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tenure::test {

child_process::child_process(std::vector<std::string> argv) {
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  pid_ = ::fork();
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd_ < 0)
    throw std::runtime_error("pidfd_open failed");
  reader_ = std::thread{[this, o = out[0], e = err[0]] { read_loop(o, e); }};
}

child_process::~child_process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(10));
  }
  if (reader_.joinable())
    reader_.join();
  if (pidfd_ >= 0)
    ::close(pidfd_);
}

void child_process::read_loop(int out_fd, int err_fd) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0)
      break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0)
        continue;
      auto n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      std::lock_guard<std::mutex> guard{mtx_};
      (i == 0 ? out_ : err_).append(buf, static_cast<size_t>(n));
      cv_.notify_all();
    }
  }
  std::lock_guard<std::mutex> guard{mtx_};
  eof_ = true;
  cv_.notify_all();
}

std::string child_process::out() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return out_;
}

std::string child_process::err() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return err_;
}

std::optional<std::string>
child_process::wait_for_output(const std::string& needle,
                               std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> guard{mtx_};
  std::optional<std::string> line;
  auto found = [&] {
    for (auto* buf : {&out_, &err_}) {
      auto pos = buf->find(needle);
      if (pos == std::string::npos)
        continue;
      auto begin = buf->rfind('\n', pos);
      begin = begin == std::string::npos ? 0 : begin + 1;
      auto end = buf->find('\n', pos);
      line = buf->substr(begin, end == std::string::npos ? end : end - begin);
      return true;
    }
    return eof_;
  };
  cv_.wait_for(guard, timeout, found);
  return line;
}

void child_process::signal(int sig) {
  if (!reaped_)
    ::kill(pid_, sig);
}

bool child_process::running() {
  if (reaped_)
    return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    reaped_ = true;
    status_ = status;
    return false;
  }
  return true;
}

std::optional<int> child_process::wait(std::chrono::milliseconds timeout) {
  if (!reaped_) {
    // The pidfd becomes readable when the child exits.
    pollfd pfd{pidfd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0)
      return std::nullopt;
    if (::waitpid(pid_, &status_, 0) != pid_)
      return std::nullopt;
    reaped_ = true;
  }
  // The exit comes before the reader has drained the pipes; wait for their
  // end so that out() and err() hold everything the child wrote.
  std::unique_lock<std::mutex> guard{mtx_};
  cv_.wait_for(guard, timeout, [this] { return eof_; });
  guard.unlock();
  if (WIFEXITED(status_))
    return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_))
    return 128 + WTERMSIG(status_);
  return -1;
}

temp_dir::temp_dir(const std::string& prefix) {
  auto base = std::filesystem::temp_directory_path();
  std::string templ = (base / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string source_dir() {
  if (auto env = std::getenv("TENURE_SOURCE_DIR"))
    return env;
  return TENURE_SOURCE_DIR_FALLBACK;
}

std::string build_dir() {
  return TENURE_BUILD_DIR;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << content;
}

} // namespace tenure::test
