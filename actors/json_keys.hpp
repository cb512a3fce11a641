#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tenure {

/// Finds the first key that appears twice in one object. nlohmann::json keeps
/// the last value of a repeated key without a word, so an edit that adds a key
/// already present further down would silently lose one of them.
class duplicate_key_finder {
public:
  bool operator()(int, nlohmann::json::parse_event_t event,
                  nlohmann::json& parsed) {
    using ev = nlohmann::json::parse_event_t;
    switch (event) {
      case ev::object_start:
        frames_.push_back(frame{false, 0, {}, {}});
        break;
      case ev::array_start:
        frames_.push_back(frame{true, 0, {}, {}});
        break;
      case ev::key: {
        auto& top = frames_.back();
        top.key = parsed.get<std::string>();
        if (!top.keys.insert(top.key).second && found_.empty())
          found_ = path();
        break;
      }
      case ev::object_end:
      case ev::array_end:
        frames_.pop_back();
        next_element();
        break;
      case ev::value:
        next_element();
        break;
    }
    return true;
  }

  /// The path of the first repeated key, or empty.
  const std::string& found() const noexcept {
    return found_;
  }

private:
  struct frame {
    bool is_array;
    size_t index;
    std::set<std::string> keys;
    std::string key;
  };

  void next_element() {
    if (!frames_.empty() && frames_.back().is_array)
      ++frames_.back().index;
  }

  std::string path() const {
    std::string out;
    for (auto& f : frames_)
      out = f.is_array ? out + "[" + std::to_string(f.index) + "]"
                       : (out.empty() ? f.key : out + "." + f.key);
    return out;
  }

  std::vector<frame> frames_;
  std::string found_;
};

} // namespace tenure
