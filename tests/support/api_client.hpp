#pragma once

#include <string>
#include <vector>

#include <sys/stat.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/e2e_tools.hpp"
#include "tests/support/http_reply.hpp"

/// A client of a tenured node's HTTP API for end-to-end tests: a bearer
/// token (none: the public routes), JSON, CSV and form bodies.
namespace tenure::test {

struct api_reply : http_reply {
  /// Status and body for failure messages, without secrets.
  std::string describe() const {
    auto shown = body.is_null() ? text.substr(0, 300) : redacted(body).dump();
    return "HTTP " + std::to_string(status) + " " + shown;
  }
};

class api_client {
public:
  api_client(int port, std::string token)
    : cli_("127.0.0.1", port)
    , token_(std::move(token)) {
    cli_.set_connection_timeout(5, 0);
    cli_.set_read_timeout(30, 0);
  }

  api_reply get(const std::string& target, httplib::Headers h = {}) {
    if (!token_.empty())
      h.emplace("Authorization", "Bearer " + token_);
    api_reply r;
    r.take(cli_.Get(target.c_str(), h));
    return r;
  }

  api_reply post(const std::string& target, const nlohmann::json& body) {
    return post_raw(target, body.dump(), "application/json");
  }

  api_reply post_raw(const std::string& target, const std::string& body,
                     const std::string& type) {
    httplib::Headers h;
    if (!token_.empty())
      h.emplace("Authorization", "Bearer " + token_);
    api_reply r;
    r.take(cli_.Post(target.c_str(), h, body, type.c_str()));
    return r;
  }

private:
  httplib::Client cli_;
  std::string token_;
};

/// A key of a test node's keys file.
struct test_key {
  std::string name;
  std::string token;
  std::vector<std::string> scopes;
};

/// Writes DATA/keys.json (mode 0600) with `keys`, before the node starts.
inline void write_keys(const std::string& data,
                       const std::vector<test_key>& keys) {
  auto list = nlohmann::json::array();
  for (auto& k : keys)
    list.push_back({{"name", k.name},
                    {"token_sha256", sha256_hex(k.token)},
                    {"scopes", k.scopes}});
  write_file(data + "/keys.json", nlohmann::json{{"keys", list}}.dump(2));
  ::chmod((data + "/keys.json").c_str(), 0600);
}

} // namespace tenure::test
