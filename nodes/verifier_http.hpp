#pragma once

#include <memory>
#include <string>

#include "actors/verification.hpp"

namespace tenure {

/// Options of the external verifier's HTTP adapter.
struct http_verifier_options {
  /// Base URL, e.g. `https://verify.example.com/api`.
  std::string url;
  /// API key, sent as `Authorization: Bearer KEY`. Never logged.
  std::string key;
  /// Connect, read and write timeout.
  duration timeout = std::chrono::seconds(10);
};

/// Creates verifications by `POST URL/verifications` with a JSON body:
/// `{"reference": APP_ID, "program": "edu", "email": ..., "name": ...,
/// "organisation": ..., "country": ...}`; expects 200/201 with
/// `{"id": "..."}`. The application id is the verifier's reference, so a
/// retried request finds the same verification at the verifier; results
/// come back through the signed callback of the gateway.
class http_verifier final : public verifier_client {
public:
  explicit http_verifier(http_verifier_options opts);
  ~http_verifier() override;

  caf::expected<std::string> create(const application& app) override;
  std::string describe() const override;

private:
  http_verifier_options opts_;
};

/// Loads the API key from `path` (first line, trimmed); an empty path gives
/// an empty key. Errors name the file, never its content.
caf::expected<std::string> read_secret_file(const std::string& path);

} // namespace tenure
