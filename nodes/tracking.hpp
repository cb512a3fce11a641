#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "actors/outreach_rules.hpp"
#include "actors/templates.hpp"
#include "messages/id.hpp"

/// The tracked addresses of outreach emails (seed 003: opens, clicks,
/// survey answers). A token names the program and the delivery (the
/// notification id) and carries an HMAC of both under the node's tracking
/// secret, so nobody can make opens or answers up for emails they did not
/// receive, and a link redirects only to the program's own links (no open
/// redirect).
namespace tenure {

/// `PROGRAM.DELIVERY.MAC` (MAC: the first 128 bits of HMAC-SHA256, hex).
std::string tracking_token(std::string_view secret, const prg_id& program,
                           const ntf_id& delivery);

/// The program and delivery of a token, when its MAC is right (compared
/// in constant time); nothing otherwise.
std::optional<std::pair<prg_id, ntf_id>>
parse_tracking_token(std::string_view secret, std::string_view token);

/// The addresses of one delivery under `base` (e.g.
/// `https://tenure.example.com`, no trailing slash): the pixel
/// `BASE/v1/track/open/TOKEN`, link N `BASE/v1/track/click/TOKEN?link=N`,
/// score S `BASE/v1/track/survey/TOKEN?score=S`.
tracking_urls make_tracking_urls(const std::string& base,
                                 std::string_view secret,
                                 const outreach_program& p,
                                 const ntf_id& delivery);

/// The fields of an `application/x-www-form-urlencoded` body (the last of
/// a repeated name); at most 16 KiB are read.
std::map<std::string, std::string> parse_form(std::string_view body);

/// A transparent 1x1 GIF (43 bytes).
const std::string& tracking_pixel_gif();

/// A small self-contained HTML page (no scripts, no external resources).
std::string html_page(std::string_view title, std::string_view body_html);

} // namespace tenure
