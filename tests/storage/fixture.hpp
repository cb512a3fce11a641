#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "messages/errc.hpp"
#include "messages/id.hpp"
#include "messages/records.hpp"
#include "storage/memory_store.hpp"
#include "storage/store.hpp"

/// Test support for the storage suites: temp dirs, waiting with deadlines,
/// record makers.
namespace tenure::storage::test {

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class temp_dir {
public:
  temp_dir() {
    auto base
      = std::filesystem::temp_directory_path() / "tenure-storage-XXXXXX";
    auto tmpl = base.string();
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }

  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const noexcept {
    return path_;
  }

  /// A path inside the directory.
  std::string sub(const std::string& name) const {
    return path_ + "/" + name;
  }

private:
  std::string path_;
};

/// Collects the outcomes of async commits; waits for them with a deadline.
class outcomes {
public:
  store::commit_callback callback() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      ++expected_;
    }
    return [this](const caf::error& err) {
      std::lock_guard<std::mutex> guard{mtx_};
      errors_.push_back(err);
      cv_.notify_all();
    };
  }

  /// Waits until every callback handed out ran; false on timeout.
  bool wait(std::chrono::seconds timeout = std::chrono::seconds{30}) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, timeout,
                        [this] { return errors_.size() >= expected_; });
  }

  /// Outcomes in completion order.
  std::vector<caf::error> errors() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return errors_;
  }

  size_t failures() const {
    std::lock_guard<std::mutex> guard{mtx_};
    size_t n = 0;
    for (const auto& err : errors_)
      if (err)
        ++n;
    return n;
  }

private:
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  size_t expected_ = 0;
  std::vector<caf::error> errors_;
};

/// A gate for `store_options::before_group`: holds the committer until
/// opened, so that the commits queued meanwhile form one group.
class gate {
public:
  void operator()() {
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait(guard, [this] { return open_; });
  }

  void open() {
    std::lock_guard<std::mutex> guard{mtx_};
    open_ = true;
    cv_.notify_all();
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool open_ = false;
};

/// A timer with a deterministic id.
inline timer make_timer(int64_t due_ms, std::string owner, std::string entity,
                        std::string kind) {
  static id_generator gen{7};
  timer t;
  t.id = gen.next<tmr_id>(from_unix_ms(1'700'000'000'000));
  t.due = from_unix_ms(due_ms);
  t.owner = std::move(owner);
  t.entity = std::move(entity);
  t.kind = std::move(kind);
  return t;
}

/// Renders an error for assertion messages.
inline std::string describe(const caf::error& err) {
  if (!err)
    return "no error";
  return error_code(err) + ": " + error_message(err);
}

/// Whether `err` carries `code`, for EXPECT_TRUE with a readable message.
inline ::testing::AssertionResult has_code(const caf::error& err, errc code) {
  if (err == code)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected " << to_string(code) << ", got " << describe(err);
}

} // namespace tenure::storage::test
