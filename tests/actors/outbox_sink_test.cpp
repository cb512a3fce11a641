#include "actors/mail_sink.hpp"
#include "actors/templates.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "messages/errc.hpp"
#include "tests/support/process.hpp"

using namespace tenure;

namespace fs = std::filesystem;

namespace {

const time_point t0 = from_unix_ms(1'795'000'000'000);

const ntf_id id1 = ntf_id::from_body("01JD3Q0V8C6X2E1D0PZ5K3W9YB");
const ntf_id id2 = ntf_id::from_body("01JD3Q0V8C6X2E1D0PZ5K3W9YC");

program_texts programs() {
  return {{program::edu,
           {"Denomas for Education", "education@denomas.com",
            "https://customers.denomas.com/subscriptions/new/edu"}},
          {program::oss,
           {"Denomas for Open Source", "opensource@denomas.com",
            "https://customers.denomas.com/subscriptions/new/oss"}},
          {program::startups,
           {"Denomas for Startups", "startups@denomas.com",
            "https://customers.denomas.com/subscriptions/new/startups"}}};
}

/// The templates of the task and their params: the contract with the code
/// that enqueues notifications.
const std::map<std::string, std::set<std::string>> spec = {
  {"booking_success", {"name", "code", "application"}},
  {"rejection", {"name", "reason", "application"}},
  {"documents_requested", {"name", "what", "application"}},
  {"review_overdue", {"application", "waiting_since", "due"}},
  {"verification_manual_review", {"application", "reason"}},
  {"renewal_reminder",
   {"organisation", "subscription", "end_date", "days_left"}},
  {"subscription_expired",
   {"organisation", "subscription", "end_date", "grace_end"}},
  {"subscription_lapsed", {"organisation", "subscription", "end_date"}},
  {"subscription_renewed",
   {"organisation", "subscription", "new_end", "seats_added"}},
  {"compliance_notice",
   {"organisation", "subscription", "case", "reason", "deadline"}},
  {"compliance_cured", {"organisation", "subscription", "case"}},
  {"subscription_terminated",
   {"organisation", "subscription", "case", "reason"}},
  {"revocation_notice", {"organisation", "subscription", "reason"}},
  {"emergency_license",
   {"users", "days", "expires_at", "license_key", "ticket_url"}},
  {"emergency_license_notice",
   {"ticket_url", "users", "requested_by", "license"}},
  {"coupon_low_stock", {"available", "runway_days", "yearly_need"}},
  {"outreach", {"subject", "body", "tracking_pixel"}},
};

std::string templates_file() {
  return test::source_dir() + "/config/templates.json";
}

template_set real_templates() {
  auto ts = template_set::load(templates_file(), programs());
  if (!ts)
    ADD_FAILURE() << error_message(ts.error());
  return ts ? std::move(*ts) : template_set{};
}

notification make_notification(std::string tpl, program p,
                               std::map<std::string, std::string> params) {
  notification n;
  n.id = id1;
  n.channel = notification_channel::email;
  n.recipient = "alice@example.edu";
  n.template_name = std::move(tpl);
  n.program = p;
  n.params = std::move(params);
  n.entity = "app_01JD3Q0V8C6X2E1D0PZ5K3W9YB";
  n.created_at = t0;
  return n;
}

/// Distinct, recognisable values: `<param>-value`.
std::map<std::string, std::string>
values_for(const std::set<std::string>& names) {
  std::map<std::string, std::string> out;
  for (auto& name : names)
    out[name] = name + "-value";
  return out;
}

rendered_message simple_message() {
  return {"Denomas Community Programs <community@denomas.com>",
          "alice@example.edu", "Your application is approved",
          "Hello Alice,\n\nline two\r\nline three\rlast line\n"};
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator{dir})
    out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

/// Every line ends in CRLF; no bare CR or LF anywhere.
bool crlf_only(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
      return false;
    if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n'))
      return false;
  }
  return !s.empty() && s.size() >= 2 && s.substr(s.size() - 2) == "\r\n";
}

std::string headers_of(const std::string& msg) {
  return msg.substr(0, msg.find("\r\n\r\n") + 2);
}

std::string body_of(const std::string& msg) {
  return msg.substr(msg.find("\r\n\r\n") + 4);
}

/// The unfolded value of header `name`, or empty.
std::string header(const std::string& msg, const std::string& name) {
  auto hs = headers_of(msg);
  auto pos = hs.find("\r\n" + name + ": ");
  if (pos == std::string::npos) {
    if (hs.rfind(name + ": ", 0) != 0)
      return {};
    pos = 0;
  } else {
    pos += 2;
  }
  pos += name.size() + 2;
  std::string out;
  while (pos < hs.size()) {
    auto eol = hs.find("\r\n", pos);
    out += hs.substr(pos, eol - pos);
    pos = eol + 2;
    if (pos >= hs.size() || (hs[pos] != ' ' && hs[pos] != '\t'))
      break;
    out += "\r\n";
  }
  return out;
}

std::string base64_decode(const std::string& in) {
  static const std::string tbl
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=')
      break;
    acc = (acc << 6) | static_cast<uint32_t>(tbl.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

/// Decodes a folded sequence of `=?UTF-8?B?...?=` words.
std::string decode_words(const std::string& value) {
  std::string out;
  size_t pos = 0;
  while ((pos = value.find("=?UTF-8?B?", pos)) != std::string::npos) {
    auto end = value.find("?=", pos + 10);
    out += base64_decode(value.substr(pos + 10, end - pos - 10));
    pos = end + 2;
  }
  return out;
}

// -- a fake SMTP server
// --------------------------------------------------------

/// Accepts one connection on 127.0.0.1 and speaks just enough SMTP. Every
/// wait is a poll() with a deadline, so a failing test cannot hang.
class fake_smtp_server {
public:
  explicit fake_smtp_server(std::string rcpt_reply = "250 OK")
    : rcpt_reply_(std::move(rcpt_reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0
        || ::listen(fd_, 1) != 0
        || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("fake_smtp_server: cannot listen");
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }

  ~fake_smtp_server() {
    join();
    ::close(fd_);
  }

  uint16_t port() const {
    return port_;
  }

  std::string url() const {
    return "smtp://127.0.0.1:" + std::to_string(port_);
  }

  /// Waits until the session ended (QUIT, disconnect or deadline). The
  /// fields below may be read afterwards.
  void join() {
    if (thread_.joinable())
      thread_.join();
  }

  std::string mail_from;
  std::vector<std::string> rcpt_to;
  std::string data;
  bool quit = false;

private:
  static constexpr int deadline_ms = 5000;

  void run() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, deadline_ms) <= 0)
      return;
    int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0)
      return;
    session(conn);
    ::close(conn);
  }

  bool read_line(int conn, std::string& line) {
    for (;;) {
      if (auto pos = buf_.find("\r\n"); pos != std::string::npos) {
        line = buf_.substr(0, pos);
        buf_.erase(0, pos + 2);
        return true;
      }
      pollfd p{conn, POLLIN, 0};
      if (::poll(&p, 1, deadline_ms) <= 0)
        return false;
      char tmp[4096];
      auto n = ::read(conn, tmp, sizeof(tmp));
      if (n <= 0)
        return false;
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }

  static void reply(int conn, std::string text) {
    text += "\r\n";
    auto rc = ::send(conn, text.data(), text.size(), MSG_NOSIGNAL);
    static_cast<void>(rc); // a vanished client ends the session on read
  }

  void session(int conn) {
    reply(conn, "220 fake ESMTP");
    std::string line;
    while (read_line(conn, line)) {
      auto verb = line.substr(0, 4);
      std::transform(verb.begin(), verb.end(), verb.begin(), ::toupper);
      if (verb == "EHLO" || verb == "HELO") {
        reply(conn, "250 fake");
      } else if (verb == "MAIL") {
        mail_from = line.substr(10);
        reply(conn, "250 OK");
      } else if (verb == "RCPT") {
        rcpt_to.push_back(line.substr(8));
        reply(conn, rcpt_reply_);
      } else if (verb == "DATA") {
        reply(conn, "354 go ahead");
        while (read_line(conn, line) && line != ".")
          data += (line.rfind('.', 0) == 0 ? line.substr(1) : line) + "\r\n";
        reply(conn, "250 queued");
      } else if (verb == "QUIT") {
        quit = true;
        reply(conn, "221 bye");
        return;
      } else {
        reply(conn, "502 not implemented");
      }
    }
  }

  std::string rcpt_reply_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string buf_;
  std::thread thread_;
};

} // namespace

// -- templates ----------------------------------------------------------------

TEST(outbox_sink_templates, real_file_has_every_template_with_its_params) {
  auto ts = real_templates();
  std::vector<std::string> expected;
  for (auto& [name, params] : spec)
    expected.push_back(name);
  EXPECT_EQ(ts.names(), expected);
  for (auto& [name, params] : spec)
    EXPECT_EQ(ts.params_of(name), params) << name;
  EXPECT_EQ(ts.from(), "Denomas Community Programs <community@denomas.com>");
}

TEST(outbox_sink_templates, outreach_emails_get_an_html_part_with_the_pixel) {
  auto ts = real_templates();
  auto n = make_notification("outreach", program::none,
                             {{"subject", "Hello"},
                              {"body", "Read https://t.example/c/tok?link=1 <now>"},
                              {"tracking_pixel", "https://t.example/o/tok"}});
  auto m = ts.render(n);
  ASSERT_TRUE(m) << error_message(m.error());
  EXPECT_NE(m->html.find("<img src=\"https://t.example/o/tok\" width=\"1\""),
            std::string::npos)
    << m->html;
  EXPECT_NE(m->html.find("<a href=\"https://t.example/c/tok?link=1\">"),
            std::string::npos)
    << m->html;
  EXPECT_NE(m->html.find("&lt;now&gt;"), std::string::npos) << "escaped";
  auto eml = to_rfc5322(n, *m);
  auto boundary = "tenure-alt-" + n.id.str();
  EXPECT_NE(eml.find("Content-Type: multipart/alternative; boundary=\""
                     + boundary + "\"\r\n"),
            std::string::npos);
  auto text = eml.find("--" + boundary + "\r\nContent-Type: text/plain");
  auto html = eml.find("--" + boundary + "\r\nContent-Type: text/html");
  ASSERT_NE(text, std::string::npos) << eml;
  ASSERT_NE(html, std::string::npos) << eml;
  EXPECT_LT(text, html);
  EXPECT_EQ(eml.substr(eml.size() - boundary.size() - 6),
            "--" + boundary + "--\r\n");
  EXPECT_EQ(to_rfc5322(n, *m), eml) << "deterministic";
  // Without a pixel: one plain text part, as before.
  auto plain = make_notification("rejection", program::edu,
                                 values_for(spec.at("rejection")));
  auto pm = ts.render(plain);
  ASSERT_TRUE(pm);
  EXPECT_TRUE(pm->html.empty());
  EXPECT_EQ(to_rfc5322(plain, *pm).find("multipart"), std::string::npos);
}

TEST(outbox_sink_templates, every_template_renders_with_its_params) {
  auto ts = real_templates();
  for (auto& [name, params] : spec) {
    std::vector<program> ps{program::edu, program::oss, program::startups};
    if (name.rfind("emergency_license", 0) == 0)
      ps = {program::none, program::startups};
    for (auto p : ps) {
      auto n = make_notification(name, p, values_for(params));
      auto m = ts.render(n);
      ASSERT_TRUE(m) << name << ": " << error_message(m.error());
      // (The tracking pixel of outreach emails is in the HTML part.)
      auto text = m->subject + "\n" + m->body + "\n" + m->html;
      for (auto& param : params)
        EXPECT_NE(text.find(param + "-value"), std::string::npos)
          << name << "." << to_string(p) << " does not use " << param;
      EXPECT_EQ(text.find("{{"), std::string::npos) << name;
      EXPECT_EQ(text.find("}}"), std::string::npos) << name;
      EXPECT_EQ(m->to, "alice@example.edu");
      EXPECT_FALSE(m->subject.empty());
      EXPECT_EQ(m->subject.find('\n'), std::string::npos);
      // The emails are by and to people: they end with a signature.
      EXPECT_EQ(m->body.back(), '\n') << name;
      EXPECT_TRUE(check_message(n, *m) == caf::error{}) << name;
    }
  }
}

TEST(outbox_sink_templates, booking_success_has_code_and_checkout_link) {
  auto ts = real_templates();
  for (auto& [p, text] : programs()) {
    auto n = make_notification(
      "booking_success", p,
      {{"name", "Alice"}, {"code", "EDU-7Q2X-9K4M"}, {"application", "app_X"}});
    auto m = ts.render(n);
    ASSERT_TRUE(m) << error_message(m.error());
    EXPECT_NE(m->body.find("EDU-7Q2X-9K4M"), std::string::npos);
    EXPECT_NE(m->body.find(text.checkout_url), std::string::npos);
    EXPECT_NE(m->body.find("only reachable through the link in this email"),
              std::string::npos);
    EXPECT_NE(m->body.find(text.inbox), std::string::npos);
    EXPECT_NE(m->subject.find(text.name), std::string::npos) << m->subject;
  }
}

TEST(outbox_sink_templates, startups_terms_in_startups_success_email_only) {
  auto ts = real_templates();
  auto params = values_for(spec.at("booking_success"));
  auto startups = ts.render(
    make_notification("booking_success", program::startups, params));
  auto oss
    = ts.render(make_notification("booking_success", program::oss, params));
  ASSERT_TRUE(startups && oss);
  for (auto needle : {"twelve (12) months", "without Support",
                      "current\npublished List Price"})
    EXPECT_NE(startups->body.find(needle), std::string::npos) << needle;
  EXPECT_EQ(oss->body.find("List Price"), std::string::npos);
}

TEST(outbox_sink_templates, compliance_notice_says_what_seed_001_asks) {
  auto ts = real_templates();
  auto params = values_for(spec.at("compliance_notice"));
  auto m
    = ts.render(make_notification("compliance_notice", program::oss, params));
  ASSERT_TRUE(m);
  for (auto needle : {"formal notice", "not in compliance", "30 days",
                      "deadline-value", "work with you", "meet with you",
                      "asynchronously", "opensource@denomas.com"})
    EXPECT_NE(m->body.find(needle), std::string::npos) << needle;
}

TEST(outbox_sink_templates, emergency_notice_has_no_address_nor_key) {
  auto ts = real_templates();
  auto n = make_notification("emergency_license_notice", program::none,
                             {{"ticket_url", "https://support.example/t/42"},
                              {"users", "250"},
                              {"requested_by", "jdoe"},
                              {"license", "em_01JD3Q0V8C6X2E1D0PZ5K3W9YB"}});
  n.channel = notification_channel::chat;
  n.recipient = "#support_licensing-subscription";
  auto m = ts.render(n);
  ASSERT_TRUE(m) << error_message(m.error());
  auto text = m->subject + m->body;
  EXPECT_EQ(text.find('@'), std::string::npos);
  EXPECT_NE(text.find("https://support.example/t/42"), std::string::npos);
  EXPECT_EQ(m->to, "#support_licensing-subscription");
}

TEST(outbox_sink_templates, override_wins_over_generic) {
  auto ts = template_set::parse(R"({
    "from": "Programs <community@denomas.com>",
    "templates": {
      "hello": {"subject": "Hi {{name}}", "body": "generic {{name}}\n"},
      "hello.oss": {"subject": "Hi OSS {{name}}", "body": "oss {{name}}\n"}
    }})",
                                "inline.json", programs());
  ASSERT_TRUE(ts) << error_message(ts.error());
  auto oss
    = ts->render(make_notification("hello", program::oss, {{"name", "Bob"}}));
  auto edu
    = ts->render(make_notification("hello", program::edu, {{"name", "Bob"}}));
  ASSERT_TRUE(oss && edu);
  EXPECT_EQ(oss->subject, "Hi OSS Bob");
  EXPECT_EQ(oss->body, "oss Bob\n");
  EXPECT_EQ(edu->subject, "Hi Bob");
  EXPECT_EQ(ts->params_of("hello"), (std::set<std::string>{"name"}));
  // An override is not a template name of its own.
  EXPECT_FALSE(ts->render(
    make_notification("hello.oss", program::edu, {{"name", "Bob"}})));
}

TEST(outbox_sink_templates, missing_param_is_an_error_naming_it) {
  auto ts = real_templates();
  auto params = values_for(spec.at("booking_success"));
  params.erase("code");
  auto m
    = ts.render(make_notification("booking_success", program::edu, params));
  ASSERT_FALSE(m);
  EXPECT_TRUE(m.error() == errc::invalid_argument);
  auto msg = error_message(m.error());
  EXPECT_NE(msg.find("{{code}}"), std::string::npos) << msg;
  EXPECT_NE(msg.find("booking_success"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("name-value"), std::string::npos) << msg;
  // An empty value is no value either: no half-filled email.
  params["code"] = "";
  EXPECT_FALSE(
    ts.render(make_notification("booking_success", program::edu, params)));
}

TEST(outbox_sink_templates, program_placeholder_without_program_is_error) {
  auto ts = real_templates();
  auto m = ts.render(make_notification("booking_success", program::none,
                                       values_for(spec.at("booking_success"))));
  ASSERT_FALSE(m);
  EXPECT_TRUE(m.error() == errc::invalid_argument);
  EXPECT_NE(error_message(m.error()).find("program none"), std::string::npos);
}

TEST(outbox_sink_templates, unknown_template_and_empty_recipient_fail) {
  auto ts = real_templates();
  auto m = ts.render(make_notification("no_such_template", program::edu, {}));
  ASSERT_FALSE(m);
  EXPECT_TRUE(m.error() == errc::config_invalid);
  EXPECT_NE(error_message(m.error()).find("no_such_template"),
            std::string::npos);
  auto n = make_notification("rejection", program::edu,
                             values_for(spec.at("rejection")));
  n.recipient.clear();
  auto r = ts.render(n);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::invalid_argument);
  EXPECT_FALSE(template_set{}.render(n));
}

TEST(outbox_sink_templates, values_are_not_expanded_again) {
  auto ts = real_templates();
  auto params = values_for(spec.at("rejection"));
  params["reason"] = "{{program_inbox}} {{code}}";
  auto m = ts.render(make_notification("rejection", program::edu, params));
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("{{program_inbox}} {{code}}"), std::string::npos);
}

namespace {

/// The error message of parsing `text` as a templates file.
std::string parse_error(const std::string& text) {
  auto ts = template_set::parse(text, "t.json", programs());
  if (ts)
    return "(no error)";
  EXPECT_TRUE(ts.error() == errc::config_invalid);
  return error_message(ts.error());
}

std::string one_template(const std::string& name, const std::string& body) {
  return R"({"from": "P <p@d.com>", "templates": {")" + name + R"(": )" + body
         + "}}";
}

} // namespace

TEST(outbox_sink_templates, loading_refuses_malformed_files) {
  auto has = [](const std::string& msg, const std::string& needle) {
    return msg.find(needle) != std::string::npos;
  };
  // JSON syntax: the line and the column.
  auto msg = parse_error("{\"from\": \"P <p@d.com>\",\n  \"templates\": {,}}");
  EXPECT_TRUE(has(msg, "t.json: malformed JSON")) << msg;
  EXPECT_TRUE(has(msg, "line 2")) << msg;
  EXPECT_TRUE(has(msg, "column 17")) << msg;
  // Unknown keys, at the top and in a template.
  msg = parse_error(R"({"from": "P <p@d.com>", "templates": {}, "frm": 1})");
  EXPECT_TRUE(has(msg, "t.json: frm: unknown key")) << msg;
  msg = one_template("a", R"({"subject": "s", "body": "b", "bdy": "x"})");
  msg = parse_error(msg);
  EXPECT_TRUE(has(msg, "templates.a.bdy: unknown key")) << msg;
  // Subject and body present and non-empty; subject on one line.
  msg = parse_error(one_template("a", R"({"subject": "s"})"));
  EXPECT_TRUE(has(msg, "templates.a.body: missing")) << msg;
  msg = parse_error(one_template("a", R"({"subject": "", "body": "b"})"));
  EXPECT_TRUE(has(msg, "templates.a.subject: expected a non-empty string"))
    << msg;
  msg = parse_error(one_template("a", R"({"subject": "s\nt", "body": "b"})"));
  EXPECT_TRUE(has(msg, "templates.a.subject: must be one line")) << msg;
  // Placeholders.
  msg
    = parse_error(one_template("a", R"({"subject": "s", "body": "{{ x }}"})"));
  EXPECT_TRUE(has(msg, "templates.a.body: malformed placeholder at byte 0"))
    << msg;
  msg = parse_error(one_template("a", R"({"subject": "s", "body": "ab {{x"})"));
  EXPECT_TRUE(has(msg, "malformed placeholder at byte 3")) << msg;
  msg = parse_error(one_template("a", R"({"subject": "x}}", "body": "b"})"));
  EXPECT_TRUE(has(msg, "templates.a.subject: malformed placeholder")) << msg;
  msg = parse_error(one_template(
    "a", R"({"subject": "s", "body": "{{nmae}}", "params": ["name"]})"));
  EXPECT_TRUE(has(msg, "{{nmae}} is not in the params of a")) << msg;
  // Names and overrides.
  msg = parse_error(R"({"from": "P <p@d.com>", "templates": {
    "a": {"subject": "s", "body": "b"}, "a.gov": {"subject": "s", "body": "b"}}})");
  EXPECT_TRUE(has(msg, "templates.a.gov: unknown program 'gov'")) << msg;
  msg = parse_error(R"({"from": "P <p@d.com>", "templates": {
    "b.oss": {"subject": "s", "body": "b"}}})");
  EXPECT_TRUE(has(msg, "overrides b, which does not exist")) << msg;
  msg = parse_error(R"({"from": "P <p@d.com>", "templates": {
    "a": {"subject": "s", "body": "b"}, "a": {"subject": "t", "body": "c"}}})");
  EXPECT_TRUE(has(msg, "templates.a: key appears twice")) << msg;
  // From.
  msg = parse_error(R"({"from": "nobody", "templates": {}})");
  EXPECT_TRUE(has(msg, "t.json: from:")) << msg;
  // A missing file.
  auto ts = template_set::load("/nonexistent/templates.json", programs());
  ASSERT_FALSE(ts);
  EXPECT_TRUE(
    has(error_message(ts.error()), "/nonexistent/templates.json: cannot open"));
}

TEST(outbox_sink_templates, placeholders_are_listed_in_order) {
  auto ps = placeholders_of("a {{x}} b {{y_2}} {{x}}");
  ASSERT_TRUE(ps);
  EXPECT_EQ(*ps, (std::vector<std::string>{"x", "y_2", "x"}));
  EXPECT_FALSE(placeholders_of("{{}}"));
  EXPECT_FALSE(placeholders_of("{{X}}"));
  EXPECT_TRUE(placeholders_of("{ single } braces"));
}

// -- message format -----------------------------------------------------------

TEST(outbox_sink_format, rfc5322_message_is_exact) {
  auto n = make_notification("booking_success", program::edu, {});
  auto out = to_rfc5322(n, simple_message());
  EXPECT_EQ(out, "Date: Wed, 18 Nov 2026 11:06:40 +0000\r\n"
                 "From: Denomas Community Programs <community@denomas.com>\r\n"
                 "To: alice@example.edu\r\n"
                 "Subject: Your application is approved\r\n"
                 "Message-ID: <ntf_01JD3Q0V8C6X2E1D0PZ5K3W9YB@tenure>\r\n"
                 "MIME-Version: 1.0\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n"
                 "X-Tenure-Template: booking_success\r\n"
                 "\r\n"
                 "Hello Alice,\r\n"
                 "\r\n"
                 "line two\r\n"
                 "line three\r\n"
                 "last line\r\n");
  EXPECT_TRUE(crlf_only(out));
  EXPECT_EQ(to_rfc5322(n, simple_message()), out);
}

TEST(outbox_sink_format, date_comes_from_the_notification) {
  EXPECT_EQ(rfc5322_date(from_unix_ms(0)), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(rfc5322_date(from_unix_ms(1'709'208'000'999)),
            "Thu, 29 Feb 2024 12:00:00 +0000");
}

TEST(outbox_sink_format, non_ascii_subject_is_rfc2047_encoded) {
  auto n = make_notification("rejection", program::edu, {});
  auto m = simple_message();
  m.subject = "Bestätigung Ihrer Bewerbung für Denomas für Bildung — "
              "ご応募ありがとうございます ✓";
  m.from = "Denomas Gemeinschaftsprogramme für Bildung <community@denomas.com>";
  auto out = to_rfc5322(n, m);
  auto hs = headers_of(out);
  EXPECT_TRUE(
    std::all_of(hs.begin(), hs.end(),
                [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
    << hs;
  auto subject = header(out, "Subject");
  EXPECT_EQ(subject.rfind("=?UTF-8?B?", 0), 0u) << subject;
  EXPECT_EQ(decode_words(subject), m.subject);
  // Folded into words of at most 75 characters, lines under 78.
  std::istringstream lines{hs};
  for (std::string line; std::getline(lines, line);)
    EXPECT_LE(line.size(), 79u) << line;
  EXPECT_EQ(decode_words(header(out, "From")),
            "Denomas Gemeinschaftsprogramme für Bildung");
  EXPECT_NE(header(out, "From").find(" <community@denomas.com>"),
            std::string::npos);
  EXPECT_TRUE(crlf_only(out));
  // The body stays 8bit UTF-8.
  m.body = "Grüße\n";
  EXPECT_EQ(body_of(to_rfc5322(n, m)), "Grüße\r\n");
  EXPECT_EQ(encode_header_text("plain ASCII"), "plain ASCII");
}

TEST(outbox_sink_format, overlong_lines_switch_to_quoted_printable) {
  auto n = make_notification("compliance_notice", program::edu, {});
  auto m = simple_message();
  m.body = "short\n" + std::string(1500, 'x') + " é=\n";
  auto out = to_rfc5322(n, m);
  EXPECT_EQ(header(out, "Content-Transfer-Encoding"), "quoted-printable");
  EXPECT_TRUE(crlf_only(out));
  std::istringstream lines{out};
  for (std::string line; std::getline(lines, line);)
    EXPECT_LE(line.size(), 77u);
  EXPECT_NE(out.find("=C3=A9=3D\r\n"), std::string::npos);
}

TEST(outbox_sink_format, header_injection_is_refused) {
  auto n = make_notification("rejection", program::edu, {});
  EXPECT_TRUE(check_message(n, simple_message()) == caf::error{});
  auto m = simple_message();
  m.subject = "Hello\r\nBcc: everyone@example.com";
  auto err = check_message(n, m);
  EXPECT_TRUE(err == errc::invalid_argument);
  EXPECT_NE(error_message(err).find("subject"), std::string::npos);
  m = simple_message();
  m.subject = "Hello\nX-Evil: 1";
  EXPECT_TRUE(check_message(n, m) == errc::invalid_argument);
  m = simple_message();
  m.to = "alice@example.edu\r\nBcc: mallory@example.com";
  err = check_message(n, m);
  EXPECT_TRUE(err == errc::invalid_argument);
  EXPECT_NE(error_message(err).find("to"), std::string::npos);
  for (auto to : {"alice@example.edu, bob@example.edu", "Alice <a@b.c>",
                  "not-an-address", "al ice@example.edu"}) {
    m.to = to;
    EXPECT_TRUE(check_message(n, m) == errc::invalid_argument) << to;
  }
  m = simple_message();
  m.from = "Programs <community@denomas.com>\nBcc: x@y.z";
  EXPECT_TRUE(check_message(n, m) == errc::invalid_argument);
  // Even unchecked, to_rfc5322 never emits an injected header line.
  m = simple_message();
  m.subject = "Hello\r\nBcc: everyone@example.com";
  auto out = to_rfc5322(n, m);
  EXPECT_EQ(out.find("\r\nBcc:"), std::string::npos);
  EXPECT_TRUE(crlf_only(out));
}

// -- maildir_sink -------------------------------------------------------------

TEST(outbox_sink_maildir, writes_one_file_per_id_and_overwrites) {
  test::temp_dir tmp;
  auto dir = tmp.path() + "/mail/out"; // created on demand
  maildir_sink sink{dir};
  auto n = make_notification("rejection", program::edu, {});
  auto m = simple_message();
  ASSERT_EQ(sink.deliver(n, m), caf::error{});
  auto expected = to_rfc5322(n, m);
  EXPECT_EQ(sink.path_of(n), dir + "/" + id1.str() + ".eml");
  EXPECT_EQ(read_file(sink.path_of(n)), expected);
  // A re-delivery (the dispatcher crashed before recording it) replaces the
  // file: one message, the same bytes, no temp file left behind.
  ASSERT_EQ(sink.deliver(n, m), caf::error{});
  EXPECT_EQ(files_in(dir), (std::vector<std::string>{id1.str() + ".eml"}));
  EXPECT_EQ(read_file(sink.path_of(n)), expected);
  // Another id is another file.
  auto n2 = n;
  n2.id = id2;
  ASSERT_EQ(sink.deliver(n2, m), caf::error{});
  EXPECT_EQ(files_in(dir),
            (std::vector<std::string>{id1.str() + ".eml", id2.str() + ".eml"}));
  EXPECT_TRUE(crlf_only(read_file(sink.path_of(n2))));
  EXPECT_EQ(sink.describe(), "maildir " + dir);
}

TEST(outbox_sink_maildir, chat_goes_to_the_chat_subdir) {
  test::temp_dir tmp;
  maildir_sink sink{tmp.path()};
  auto n = make_notification("emergency_license_notice", program::none, {});
  n.channel = notification_channel::chat;
  n.recipient = "#support_licensing-subscription";
  auto m = simple_message();
  m.to = n.recipient;
  ASSERT_EQ(sink.deliver(n, m), caf::error{});
  auto path = tmp.path() + "/chat/" + id1.str() + ".eml";
  EXPECT_EQ(sink.path_of(n), path);
  EXPECT_EQ(files_in(tmp.path()), (std::vector<std::string>{"chat"}));
  auto content = read_file(path);
  EXPECT_EQ(header(content, "To"), "#support_licensing-subscription");
  EXPECT_EQ(content, to_rfc5322(n, m));
}

TEST(outbox_sink_maildir, refused_message_writes_nothing) {
  test::temp_dir tmp;
  maildir_sink sink{tmp.path()};
  auto n = make_notification("rejection", program::edu, {});
  auto m = simple_message();
  m.subject = "Hi\r\nBcc: x@y.z";
  EXPECT_TRUE(sink.deliver(n, m) == errc::invalid_argument);
  EXPECT_TRUE(files_in(tmp.path()).empty());
}

TEST(outbox_sink_maildir, unwritable_dir_is_unavailable_with_path) {
  test::temp_dir tmp;
  // A regular file where a directory should be: fails even for root.
  test::write_file(tmp.path() + "/blocker", "x");
  auto dir = tmp.path() + "/blocker/mail";
  maildir_sink sink{dir};
  auto err = sink.deliver(make_notification("rejection", program::edu, {}),
                          simple_message());
  EXPECT_TRUE(err == errc::unavailable);
  EXPECT_NE(error_message(err).find(dir), std::string::npos)
    << error_message(err);
}

// -- failing_sink -------------------------------------------------------------

TEST(outbox_sink_failing, fails_n_times_then_delegates) {
  test::temp_dir tmp;
  maildir_sink inner{tmp.path()};
  failing_sink sink{&inner, 2, make_error(errc::unavailable, "injected")};
  auto n = make_notification("rejection", program::edu, {});
  auto m = simple_message();
  EXPECT_TRUE(sink.deliver(n, m) == errc::unavailable);
  EXPECT_TRUE(sink.deliver(n, m) == errc::unavailable);
  EXPECT_TRUE(files_in(tmp.path()).empty());
  EXPECT_EQ(sink.failures_left(), 0u);
  EXPECT_EQ(sink.deliver(n, m), caf::error{});
  EXPECT_EQ(sink.calls(), 3u);
  EXPECT_EQ(files_in(tmp.path()).size(), 1u);
  sink.fail_next(1, make_error(errc::timeout, "slow"));
  EXPECT_TRUE(sink.deliver(n, m) == errc::timeout);
  EXPECT_EQ(sink.calls(), 4u);
  EXPECT_EQ(sink.describe(), "failing(maildir " + tmp.path() + ")");
}

TEST(outbox_sink_failing, render_failure_never_reaches_the_sink) {
  auto ts = real_templates();
  failing_sink sink{nullptr, 0, {}};
  auto n = make_notification("booking_success", program::edu, {});
  EXPECT_TRUE(render_and_deliver(ts, sink, n) == errc::invalid_argument);
  EXPECT_EQ(sink.calls(), 0u);
  n.params = values_for(spec.at("booking_success"));
  EXPECT_EQ(render_and_deliver(ts, sink, n), caf::error{});
  EXPECT_EQ(sink.calls(), 1u);
}

// -- smtp_sink ----------------------------------------------------------------

TEST(outbox_sink_smtp, sends_the_rfc5322_bytes) {
  fake_smtp_server server;
  smtp_options opts;
  opts.url = server.url();
  opts.timeout = std::chrono::seconds{10};
  smtp_sink sink{opts, nullptr};
  auto n = make_notification("rejection", program::edu, {});
  auto m = simple_message();
  m.body = "Hello,\n.leading dot\n..two dots\n.\nend\n";
  auto err = sink.deliver(n, m);
  server.join();
  ASSERT_EQ(err, caf::error{}) << error_message(err);
  EXPECT_EQ(server.data, to_rfc5322(n, m));
  EXPECT_EQ(server.mail_from.substr(0, 24), "<community@denomas.com>");
  EXPECT_EQ(server.rcpt_to, (std::vector<std::string>{"<alice@example.edu>"}));
  EXPECT_TRUE(server.quit);
  EXPECT_EQ(sink.describe(), "smtp " + server.url());
}

TEST(outbox_sink_smtp, envelope_sender_from_options) {
  fake_smtp_server server;
  smtp_options opts;
  opts.url = server.url();
  opts.from = "Denomas Bounces <bounces@denomas.com>";
  smtp_sink sink{opts, nullptr};
  auto err = sink.deliver(make_notification("rejection", program::edu, {}),
                          simple_message());
  server.join();
  ASSERT_EQ(err, caf::error{}) << error_message(err);
  EXPECT_EQ(server.mail_from.substr(0, 21), "<bounces@denomas.com>");
}

TEST(outbox_sink_smtp, rejected_recipient_is_unavailable_without_address) {
  fake_smtp_server server{"550 5.1.1 <alice@example.edu>: no such user"};
  smtp_options opts;
  opts.url = server.url();
  smtp_sink sink{opts, nullptr};
  auto err = sink.deliver(make_notification("rejection", program::edu, {}),
                          simple_message());
  server.join();
  EXPECT_TRUE(err == errc::unavailable);
  EXPECT_EQ(error_message(err).find("alice@example.edu"), std::string::npos)
    << error_message(err);
  EXPECT_TRUE(server.data.empty());
}

TEST(outbox_sink_smtp, refused_connection_is_unavailable_without_password) {
  // Bound but not listening: connecting is refused at once.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  smtp_options opts;
  opts.url = "smtp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  opts.username = "tenure";
  opts.password = "s3cr3t-pw";
  opts.allow_plaintext_auth = true;
  opts.timeout = std::chrono::seconds{5};
  smtp_sink sink{opts, nullptr};
  auto err = sink.deliver(make_notification("rejection", program::edu, {}),
                          simple_message());
  ::close(fd);
  EXPECT_TRUE(err == errc::unavailable);
  auto msg = error_message(err);
  EXPECT_NE(msg.find(opts.url), std::string::npos) << msg;
  EXPECT_EQ(msg.find("s3cr3t-pw"), std::string::npos) << msg;
}

TEST(outbox_sink_smtp, chat_goes_to_the_fallback) {
  test::temp_dir tmp;
  maildir_sink chat_dir{tmp.path()};
  smtp_options opts;
  opts.url = "smtp://127.0.0.1:1"; // never contacted
  smtp_sink sink{opts, &chat_dir};
  auto n = make_notification("emergency_license_notice", program::none, {});
  n.channel = notification_channel::chat;
  n.recipient = "#support_licensing-subscription";
  auto m = simple_message();
  m.to = n.recipient;
  ASSERT_EQ(sink.deliver(n, m), caf::error{});
  EXPECT_EQ(read_file(chat_dir.path_of(n)), to_rfc5322(n, m));
  smtp_sink no_fallback{opts, nullptr};
  EXPECT_TRUE(no_fallback.deliver(n, m) == errc::config_invalid);
}

TEST(outbox_sink_smtp, options_are_checked) {
  smtp_options opts;
  opts.url = "http://mail.example.com";
  EXPECT_TRUE(check_smtp_options(opts) == errc::config_invalid);
  opts.url = "smtp://user:pw@mail.example.com:587";
  auto err = check_smtp_options(opts);
  EXPECT_TRUE(err == errc::config_invalid);
  EXPECT_EQ(error_message(err).find("pw@"), std::string::npos);
  opts.url = "smtps://mail.example.com:465";
  EXPECT_EQ(check_smtp_options(opts), caf::error{});
  opts.username = "u";
  EXPECT_TRUE(check_smtp_options(opts) == errc::config_invalid);
  opts.password = "p";
  EXPECT_EQ(check_smtp_options(opts), caf::error{});
  // A bad configuration is permanent: no connection is attempted.
  opts.url = "ftp://x";
  smtp_sink sink{opts, nullptr};
  EXPECT_TRUE(sink.deliver(make_notification("rejection", program::edu, {}),
                           simple_message())
              == errc::config_invalid);
}
