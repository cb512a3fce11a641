#include "nodes/tracking.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "nodes/signature.hpp"

namespace tenure {

namespace {

std::string mac_of(std::string_view secret, std::string_view program,
                   std::string_view delivery) {
  std::string msg = "tenure-tracking-v1\n";
  msg += program;
  msg += '\n';
  msg += delivery;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out,
       &len);
  return to_hex(std::string_view{reinterpret_cast<const char*>(out), 16});
}

} // namespace

std::string tracking_token(std::string_view secret, const prg_id& program,
                           const ntf_id& delivery) {
  return program.str() + "." + delivery.str() + "."
         + mac_of(secret, program.str(), delivery.str());
}

std::optional<std::pair<prg_id, ntf_id>>
parse_tracking_token(std::string_view secret, std::string_view token) {
  if (token.size() > 200)
    return std::nullopt;
  auto a = token.find('.');
  if (a == std::string_view::npos)
    return std::nullopt;
  auto b = token.find('.', a + 1);
  if (b == std::string_view::npos)
    return std::nullopt;
  auto p = prg_id::parse(token.substr(0, a));
  auto n = ntf_id::parse(token.substr(a + 1, b - a - 1));
  if (!p || !n)
    return std::nullopt;
  if (!constant_time_equal(token.substr(b + 1),
                           mac_of(secret, p->str(), n->str())))
    return std::nullopt;
  return std::make_pair(*p, *n);
}

tracking_urls make_tracking_urls(const std::string& base,
                                 std::string_view secret,
                                 const outreach_program& p,
                                 const ntf_id& delivery) {
  auto token = tracking_token(secret, p.id, delivery);
  tracking_urls u;
  u.pixel = base + "/v1/track/open/" + token;
  for (size_t i = 0; i < p.links.size(); ++i)
    u.links.push_back(base + "/v1/track/click/" + token
                      + "?link=" + std::to_string(i + 1));
  for (auto s : survey_scores(p.survey))
    u.scores[s]
      = base + "/v1/track/survey/" + token + "?score=" + std::to_string(s);
  return u;
}

std::map<std::string, std::string> parse_form(std::string_view body) {
  std::map<std::string, std::string> out;
  body = body.substr(0, 16 * 1024);
  auto decode = [](std::string_view x) {
    std::string r;
    for (size_t i = 0; i < x.size(); ++i) {
      if (x[i] == '+') {
        r += ' ';
      } else if (x[i] == '%' && i + 2 < x.size() && hex_value(x[i + 1]) >= 0
                 && hex_value(x[i + 2]) >= 0) {
        r += static_cast<char>(hex_value(x[i + 1]) * 16 + hex_value(x[i + 2]));
        i += 2;
      } else {
        r += x[i];
      }
    }
    return r;
  };
  while (!body.empty()) {
    auto amp = body.find('&');
    auto pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{}
                                         : body.substr(amp + 1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos)
      out[decode(pair)] = "";
    else
      out[decode(pair.substr(0, eq))] = decode(pair.substr(eq + 1));
  }
  return out;
}

const std::string& tracking_pixel_gif() {
  static const std::string gif{
    "GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff\x21\xf9\x04"
    "\x01\x00\x00\x00\x00\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44"
    "\x01\x00\x3b",
    43};
  return gif;
}

std::string html_page(std::string_view title, std::string_view body_html) {
  std::string out = "<!doctype html>\n<html lang=\"en\"><head><meta "
                    "charset=\"utf-8\"><meta name=\"viewport\" "
                    "content=\"width=device-width\"><title>";
  out += html_escape(title);
  out += "</title><style>body{font-family:sans-serif;max-width:36em;margin:"
         "3em auto;padding:0 1em;color:#222}button{font-size:1em;padding:"
         ".4em 1.2em}textarea{width:100%}</style></head><body>";
  out += body_html;
  out += "</body></html>\n";
  return out;
}

} // namespace tenure
