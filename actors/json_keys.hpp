#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
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

/// Where and why a configuration file's JSON was refused.
struct json_refusal {
  /// The key path (`templates.a`), empty for the whole text.
  std::string path;
  std::string what;
};

/// Parses a configuration file's text strictly: malformed JSON and a key
/// repeated in one object are refused. The message keeps nlohmann's line
/// and column but not its exception id, which means nothing to an operator.
inline std::optional<json_refusal> parse_config_json(std::string_view text,
                                                     nlohmann::json& out) {
  duplicate_key_finder dups;
  try {
    out = nlohmann::json::parse(text.begin(), text.end(), std::ref(dups));
  } catch (const nlohmann::json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 3,
    // column 5: ...".
    std::string what = e.what();
    if (auto pos = what.find("] "); pos != std::string::npos)
      what.erase(0, pos + 2);
    return json_refusal{"", "malformed JSON: " + what};
  }
  if (!dups.found().empty())
    return json_refusal{dups.found(), "key appears twice in the same object"};
  return std::nullopt;
}

} // namespace tenure
