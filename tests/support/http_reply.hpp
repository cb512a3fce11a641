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

  /// Takes status, text, headers and the parsed body (null when not JSON)
  /// of `r`; false when there was no answer.
  bool take(const httplib::Result& r) {
    if (!r)
      return false;
    status = r->status;
    text = r->body;
    headers = r->headers;
    body = nlohmann::json::parse(r->body, nullptr, false);
    if (body.is_discarded())
      body = nullptr;
    return true;
  }

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
