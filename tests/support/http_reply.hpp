#pragma once

// One HTTP answer of a node as the end-to-end tests read it.

#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace tenure::test {

struct http_reply {
  /// 0: no answer.
  int status = 0;
  /// The parsed body; null when it is not JSON.
  nlohmann::json body;
  std::string text;
  httplib::Headers headers;

  std::string header(const std::string& name) const {
    auto i = headers.find(name);
    return i == headers.end() ? std::string{} : i->second;
  }

  /// `error.code` of an error body, else empty.
  std::string error_code() const {
    return error_field("code");
  }

  /// `error.message` of an error body, else empty.
  std::string error_message() const {
    return error_field("message");
  }

private:
  std::string error_field(const char* name) const {
    if (body.is_object() && body.contains("error") && body["error"].is_object())
      return body["error"].value(name, std::string{});
    return {};
  }
};

} // namespace tenure::test
