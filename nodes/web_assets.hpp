#pragma once

#include <string_view>

namespace tenure {

/// One file of the operator dashboard (web/), embedded into the binary at
/// build time (cmake/embed_web.cmake): nothing to install or find at
/// runtime.
struct web_asset {
  /// The URL path it is served at: `/` for index.html, else `/NAME`.
  std::string_view path;
  std::string_view content_type;
  std::string_view body;
  /// A strong ETag: part of the SHA-256 of the bytes, quoted.
  std::string_view etag;
};

/// The file served at `path`, or null.
const web_asset* find_web_asset(std::string_view path);

/// The headers every dashboard file is served with: a strict
/// Content-Security-Policy (only this origin's script, style and API; no
/// inline code, no frames), no MIME sniffing, no referrer.
constexpr std::string_view web_csp
  = "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

} // namespace tenure
