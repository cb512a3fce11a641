#include "nodes/verifier_http.hpp"

#include <fstream>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "messages/errc.hpp"

namespace tenure {

http_verifier::http_verifier(http_verifier_options opts)
  : opts_(std::move(opts)) {
  while (!opts_.url.empty() && opts_.url.back() == '/')
    opts_.url.pop_back();
}

http_verifier::~http_verifier() = default;

std::string http_verifier::describe() const {
  return opts_.url;
}

caf::expected<std::string> http_verifier::create(const application& app) {
  // Split "scheme://host[:port]" from the path prefix.
  auto scheme_end = opts_.url.find("://");
  if (scheme_end == std::string::npos)
    return make_error(errc::config_invalid, "tenure.verifier.url: '" + opts_.url
                                              + "' is not an http(s) URL");
  auto path_start = opts_.url.find('/', scheme_end + 3);
  auto origin = opts_.url.substr(0, path_start);
  auto prefix = path_start == std::string::npos ? std::string{}
                                                : opts_.url.substr(path_start);
  httplib::Client cli{origin};
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(opts_.timeout);
  auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(
                 opts_.timeout - secs)
                 .count();
  cli.set_connection_timeout(secs.count(), usecs);
  cli.set_read_timeout(secs.count(), usecs);
  cli.set_write_timeout(secs.count(), usecs);
  httplib::Headers headers;
  if (!opts_.key.empty())
    headers.emplace("Authorization", "Bearer " + opts_.key);
  nlohmann::json body{
    {"reference", app.id.str()},
    {"program", to_string(app.program)},
    {"email", app.applicant.email},
    {"name", app.applicant.name},
    {"organisation", app.organisation.name},
    {"country", app.applicant.country},
  };
  auto res = cli.Post(prefix + "/verifications", headers, body.dump(),
                      "application/json");
  if (!res)
    return make_error(errc::unavailable, "verifier " + opts_.url + ": "
                                           + httplib::to_string(res.error()));
  if (res->status != 200 && res->status != 201)
    return make_error(errc::unavailable, "verifier " + opts_.url + ": HTTP "
                                           + std::to_string(res->status));
  auto json = nlohmann::json::parse(res->body, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("id")
      || !json["id"].is_string() || json["id"].get<std::string>().empty()
      || json["id"].get<std::string>().size() > 200)
    return make_error(errc::corrupt_data,
                      "verifier " + opts_.url
                        + ": the answer has no string field 'id'");
  return json["id"].get<std::string>();
}

caf::expected<std::string> read_secret_file(const std::string& path) {
  if (path.empty())
    return std::string{};
  std::ifstream in{path};
  if (!in)
    return make_error(errc::config_invalid, path + ": cannot read the file");
  std::string line;
  std::getline(in, line);
  auto b = line.find_first_not_of(" \t\r");
  auto e = line.find_last_not_of(" \t\r");
  if (b == std::string::npos)
    return make_error(errc::config_invalid, path + ": the file is empty");
  return line.substr(b, e - b + 1);
}

} // namespace tenure
