#include "actors/mail_sink.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/log.hpp"
#include "messages/errc.hpp"

namespace tenure {

namespace {

const log::logger lg{"outbox"};

/// RFC 5322 section 2.1.1: at most 998 bytes per line, CRLF excluded.
constexpr size_t max_line_length = 998;

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x80;
  });
}

bool has_line_break(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

/// A one-line header value: CR, LF and NUL become spaces (only reached when a
/// caller skipped `check_message`).
std::string one_line(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    if (c == '\r' || c == '\n' || c == '\0')
      c = ' ';
  return out;
}

/// Splits `body` into lines at CRLF, CR or LF; a final line break does not
/// start another line.
std::vector<std::string_view> lines_of(std::string_view body) {
  std::vector<std::string_view> out;
  size_t start = 0;
  size_t i = 0;
  while (i < body.size()) {
    if (body[i] == '\r' || body[i] == '\n') {
      out.push_back(body.substr(start, i - start));
      if (body[i] == '\r' && i + 1 < body.size() && body[i + 1] == '\n')
        ++i;
      start = ++i;
    } else {
      ++i;
    }
  }
  if (start < body.size())
    out.push_back(body.substr(start));
  return out;
}

/// RFC 2045 quoted-printable of one line, with soft breaks at 76 characters.
void append_quoted_printable(std::string& out, std::string_view line) {
  static constexpr char hex[] = "0123456789ABCDEF";
  size_t col = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    bool last = i + 1 == line.size();
    std::string piece;
    if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last))
      piece.assign(1, static_cast<char>(c));
    else
      piece = {'=', hex[c >> 4], hex[c & 0x0F]};
    if (col + piece.size() > 75) {
      out += "=\r\n";
      col = 0;
    }
    out += piece;
    col += piece.size();
  }
  out += "\r\n";
}

std::string base64(std::string_view in) {
  static constexpr char tbl[]
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(in[i]) << 16)
                 | (static_cast<unsigned char>(in[i + 1]) << 8)
                 | static_cast<unsigned char>(in[i + 2]);
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += tbl[v & 63];
  }
  if (auto rest = in.size() - i; rest > 0) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (rest == 2)
      v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += rest == 2 ? tbl[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

/// `Name <a@b>` with a non-ASCII name: the name as encoded-words.
std::string encode_mailbox(std::string_view mailbox) {
  if (is_ascii(mailbox))
    return std::string{mailbox};
  auto lt = mailbox.rfind('<');
  if (lt == std::string_view::npos)
    return encode_header_text(mailbox);
  auto name = mailbox.substr(0, lt);
  while (!name.empty() && name.back() == ' ')
    name.remove_suffix(1);
  // The address on a folded line of its own: the words fill theirs.
  return encode_header_text(name) + "\r\n " + std::string{mailbox.substr(lt)};
}

/// A single `local@domain`: printable ASCII, no spaces, no list separators or
/// brackets.
bool is_plain_address(std::string_view s) {
  auto at = s.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == s.size()
      || s.find('@', at + 1) != std::string_view::npos)
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c > ' ' && c < 0x7F && c != ',' && c != ';' && c != '<' && c != '>'
           && c != '"' && c != '(' && c != ')';
  });
}

bool is_id_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
         || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

caf::error bad(const std::string& field, const std::string& what) {
  return make_error(errc::invalid_argument, "message " + field + ": " + what);
}

std::string errno_text(int code) {
  return std::error_code{code, std::generic_category()}.message();
}

caf::error io_error(const std::string& what, const std::string& path,
                    int code) {
  return make_error(errc::unavailable, "maildir: cannot " + what + " " + path
                                         + ": " + errno_text(code));
}

/// Replaces every word that contains '@' by its redacted form.
std::string redact_addresses(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    auto is_sep = [](char c) {
      return c == ' ' || c == '<' || c == '>' || c == '\t' || c == '\r'
             || c == '\n' || c == '"' || c == '\'' || c == ',';
    };
    if (is_sep(text[i])) {
      out += text[i++];
      continue;
    }
    auto j = i;
    while (j < text.size() && !is_sep(text[j]))
      ++j;
    auto word = text.substr(i, j - i);
    if (word.find('@') != std::string_view::npos)
      out += log::redact_email(word);
    else
      out += word;
    i = j;
  }
  return out;
}

/// `scheme://user:pw@host:port/path` → `scheme://host:port/path`.
std::string strip_userinfo(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos)
    return std::string{url};
  auto auth_start = scheme_end + 3;
  auto auth_end = url.find('/', auth_start);
  auto authority = url.substr(auth_start, auth_end == std::string_view::npos
                                            ? std::string_view::npos
                                            : auth_end - auth_start);
  auto at = authority.rfind('@');
  if (at == std::string_view::npos)
    return std::string{url};
  return std::string{url.substr(0, auth_start)}
         + std::string{url.substr(auth_start + at + 1)};
}

/// Writes all of `data` to `fd`, retrying short writes and EINTR.
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::atomic<uint64_t> temp_counter{0};

} // namespace

mail_sink::~mail_sink() {
  // nop
}

// -- message format -----------------------------------------------------------

caf::error check_message(const notification& n, const rendered_message& m) {
  auto& id = n.id.str();
  if (id.empty() || id.size() > 64
      || !std::all_of(id.begin(), id.end(), is_id_char))
    return bad("id", "missing or not a notification id");
  auto& tpl = n.template_name;
  if (tpl.empty() || has_line_break(tpl) || has_nul(tpl) || !is_ascii(tpl))
    return bad("template", "missing or not one ASCII line");
  if (m.from.empty())
    return bad("from", "missing");
  if (has_line_break(m.from) || has_nul(m.from))
    return bad("from", "contains a line break (header injection refused)");
  if (!is_plain_address(address_of(m.from)))
    return bad("from", "expected 'Name <address>' with an ASCII address");
  if (m.to.empty())
    return bad("to", "missing");
  if (has_line_break(m.to) || has_nul(m.to))
    return bad("to", "contains a line break (header injection refused)");
  if (n.channel == notification_channel::email && !is_plain_address(m.to))
    return bad("to", "expected one email address (ASCII, no list, no name)");
  if (m.subject.empty())
    return bad("subject", "missing");
  if (has_line_break(m.subject) || has_nul(m.subject))
    return bad("subject", "contains a line break (header injection refused)");
  if (m.subject.size() > 900)
    return bad("subject", "longer than 900 bytes");
  if (has_nul(m.body))
    return bad("body", "contains a NUL byte");
  return {};
}

std::string rfc5322_date(time_point t) {
  static constexpr const char* wdays[]
    = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[]
    = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto secs = std::chrono::floor<std::chrono::seconds>(t);
  auto tt = static_cast<std::time_t>(secs.time_since_epoch().count());
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d +0000",
                wdays[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string encode_header_text(std::string_view text) {
  bool plain = std::all_of(text.begin(), text.end(),
                           [](char c) { return c >= ' ' && c < 0x7F; });
  if (plain)
    return std::string{text};
  // "=?UTF-8?B?" + 52 base64 characters (39 bytes) + "?=" = 64 characters.
  constexpr size_t max_chunk = 39;
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    auto end = std::min(i + max_chunk, text.size());
    // Back off to a character boundary: never split a UTF-8 sequence.
    if (end < text.size())
      while (end > i + 1
             && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
        --end;
    if (!out.empty())
      out += "\r\n ";
    out += "=?UTF-8?B?";
    out += base64(text.substr(i, end - i));
    out += "?=";
    i = end;
  }
  return out;
}

std::string address_of(std::string_view mailbox) {
  auto lt = mailbox.rfind('<');
  if (lt == std::string_view::npos)
    return std::string{mailbox};
  auto gt = mailbox.find('>', lt);
  if (gt == std::string_view::npos)
    return std::string{mailbox.substr(lt + 1)};
  return std::string{mailbox.substr(lt + 1, gt - lt - 1)};
}

std::string to_rfc5322(const notification& n, const rendered_message& m) {
  auto lines = lines_of(m.body);
  bool long_lines = std::any_of(lines.begin(), lines.end(), [](auto line) {
    return line.size() > max_line_length;
  });
  std::string out;
  out.reserve(m.body.size() + lines.size() + 512);
  auto header = [&](std::string_view name, std::string_view value) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  };
  header("Date", rfc5322_date(n.created_at));
  header("From", encode_mailbox(one_line(m.from)));
  header("To", encode_mailbox(one_line(m.to)));
  header("Subject", encode_header_text(one_line(m.subject)));
  header("Message-ID", "<" + one_line(n.id.str()) + "@tenure>");
  header("MIME-Version", "1.0");
  // With an HTML alternative (outreach emails): multipart/alternative,
  // text first; the boundary is fixed per notification (deterministic).
  std::string boundary = "tenure-alt-" + one_line(n.id.str());
  if (!m.html.empty()) {
    header("Content-Type",
           "multipart/alternative; boundary=\"" + boundary + "\"");
    header("X-Tenure-Template", one_line(n.template_name));
    out += "\r\n--" + boundary + "\r\n";
    header("Content-Type", "text/plain; charset=utf-8");
  } else {
    header("Content-Type", "text/plain; charset=utf-8");
  }
  header("Content-Transfer-Encoding", long_lines ? "quoted-printable" : "8bit");
  if (m.html.empty())
    header("X-Tenure-Template", one_line(n.template_name));
  out += "\r\n";
  for (auto line : lines) {
    if (long_lines) {
      append_quoted_printable(out, line);
    } else {
      out += line;
      out += "\r\n";
    }
  }
  if (!m.html.empty()) {
    out += "--" + boundary + "\r\n";
    header("Content-Type", "text/html; charset=utf-8");
    header("Content-Transfer-Encoding", "quoted-printable");
    out += "\r\n";
    for (auto line : lines_of(m.html))
      append_quoted_printable(out, line);
    out += "--" + boundary + "--\r\n";
  }
  return out;
}

// -- maildir_sink -------------------------------------------------------------

maildir_sink::maildir_sink(std::string dir)
  : dir_(std::move(dir)) {
  // nop
}

std::string maildir_sink::describe() const {
  return "maildir " + dir_;
}

std::string maildir_sink::path_of(const notification& n) const {
  auto dir = n.channel == notification_channel::chat ? dir_ + "/chat" : dir_;
  return dir + "/" + n.id.str() + ".eml";
}

caf::error maildir_sink::deliver(const notification& n,
                                 const rendered_message& m) {
  if (auto err = check_message(n, m))
    return err;
  auto data = to_rfc5322(n, m);
  auto dir = n.channel == notification_channel::chat ? dir_ + "/chat" : dir_;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return make_error(errc::unavailable,
                      "maildir: cannot create " + dir + ": " + ec.message());
  auto final_path = path_of(n);
  auto temp_path = dir + "/." + n.id.str() + ".eml.tmp-"
                   + std::to_string(::getpid()) + "-"
                   + std::to_string(temp_counter.fetch_add(1));
  int fd
    = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0)
    return io_error("create", temp_path, errno);
  auto fail = [&](const char* what, const std::string& path) {
    auto code = errno;
    if (fd >= 0)
      ::close(fd);
    ::unlink(temp_path.c_str());
    return io_error(what, path, code);
  };
  if (!write_all(fd, data))
    return fail("write", temp_path);
  if (::fsync(fd) != 0)
    return fail("sync", temp_path);
  auto rc = ::close(fd);
  fd = -1;
  if (rc != 0)
    return fail("close", temp_path);
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0)
    return fail("rename to", final_path);
  // The rename is durable once the directory is.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return io_error("open", dir, errno);
  rc = ::fsync(dfd);
  auto code = errno;
  ::close(dfd);
  if (rc != 0)
    return io_error("sync", dir, code);
  lg.debug("delivered id={} template={} channel={} sink=maildir", n.id.str(),
           n.template_name, to_string(n.channel));
  return {};
}

// -- smtp_sink ----------------------------------------------------------------

namespace {

struct upload_state {
  std::string_view data;
};

size_t read_upload(char* buf, size_t size, size_t nitems, void* userdata) {
  auto st = static_cast<upload_state*>(userdata);
  auto n = std::min(size * nitems, st->data.size());
  std::copy_n(st->data.data(), n, buf);
  st->data.remove_prefix(n);
  return n;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

void init_curl_once() {
  static std::once_flag flag;
  std::call_once(flag, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

} // namespace

caf::error check_smtp_options(const smtp_options& opts) {
  auto fail = [](const char* key, const std::string& what) {
    return make_error(errc::config_invalid,
                      std::string{"smtp."} + key + ": " + what);
  };
  if (!starts_with(opts.url, "smtp://") && !starts_with(opts.url, "smtps://"))
    return fail("url", "expected smtp://host:port or smtps://host:port");
  if (opts.url.find_first_of(" \r\n") != std::string::npos)
    return fail("url", "contains whitespace");
  if (strip_userinfo(opts.url) != opts.url)
    return fail("url", "must not hold credentials: use username and "
                       "password");
  if (opts.username.empty() != opts.password.empty())
    return fail("username", "username and password go together");
  if (!opts.from.empty() && !is_plain_address(address_of(opts.from)))
    return fail("from", "expected an address or 'Name <address>'");
  if (opts.timeout <= duration::zero())
    return fail("timeout", "must be positive");
  return {};
}

smtp_sink::smtp_sink(smtp_options opts, mail_sink* chat_fallback)
  : opts_(std::move(opts))
  , chat_fallback_(chat_fallback) {
  init_curl_once();
}

std::string smtp_sink::describe() const {
  return "smtp " + strip_userinfo(opts_.url);
}

caf::error smtp_sink::deliver(const notification& n,
                              const rendered_message& m) {
  if (n.channel == notification_channel::chat) {
    if (chat_fallback_ == nullptr)
      return make_error(errc::config_invalid,
                        "smtp: chat notifications need a fallback sink");
    return chat_fallback_->deliver(n, m);
  }
  if (auto err = check_smtp_options(opts_))
    return err;
  if (auto err = check_message(n, m))
    return err;
  auto data = to_rfc5322(n, m);
  std::unique_ptr<CURL, void (*)(CURL*)> curl{curl_easy_init(),
                                              curl_easy_cleanup};
  if (!curl)
    return make_error(errc::unavailable, "smtp: cannot initialise libcurl");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> rcpt{
    curl_slist_append(nullptr, ("<" + m.to + ">").c_str()),
    curl_slist_free_all};
  if (!rcpt)
    return make_error(errc::unavailable, "smtp: out of memory");
  auto envelope_from
    = "<" + address_of(opts_.from.empty() ? m.from : opts_.from) + ">";
  upload_state upload{data};
  char errbuf[CURL_ERROR_SIZE] = {0};
  auto timeout_ms = static_cast<long>(opts_.timeout.count());
  auto* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, opts_.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, envelope_from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(h, CURLOPT_READDATA, &upload);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                   static_cast<curl_off_t>(data.size()));
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  if (!opts_.username.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, opts_.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, opts_.password.c_str());
  }
  if (starts_with(opts_.url, "smtp://"))
    curl_easy_setopt(h, CURLOPT_USE_SSL,
                     !opts_.username.empty() && !opts_.allow_plaintext_auth
                       ? static_cast<long>(CURLUSESSL_ALL)
                       : static_cast<long>(CURLUSESSL_TRY));
  auto res = curl_easy_perform(h);
  if (res != CURLE_OK) {
    std::string what = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(res);
    while (!what.empty() && (what.back() == '\n' || what.back() == '\r'))
      what.pop_back();
    if (!opts_.password.empty())
      for (auto pos = what.find(opts_.password); pos != std::string::npos;
           pos = what.find(opts_.password, pos + 3))
        what.replace(pos, opts_.password.size(), "***");
    return make_error(errc::unavailable,
                      describe() + ": " + redact_addresses(what));
  }
  lg.debug("delivered id={} template={} channel=email sink=smtp", n.id.str(),
           n.template_name);
  return {};
}

// -- failing_sink -------------------------------------------------------------

failing_sink::failing_sink(mail_sink* next, size_t failures, caf::error err)
  : next_(next)
  , failures_(failures)
  , err_(std::move(err)) {
  // nop
}

caf::error failing_sink::deliver(const notification& n,
                                 const rendered_message& m) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    ++calls_;
    if (failures_ > 0) {
      --failures_;
      return err_;
    }
  }
  return next_ != nullptr ? next_->deliver(n, m) : caf::error{};
}

std::string failing_sink::describe() const {
  return "failing(" + (next_ != nullptr ? next_->describe() : "none") + ")";
}

void failing_sink::fail_next(size_t n, caf::error err) {
  std::lock_guard<std::mutex> guard{mtx_};
  failures_ = n;
  err_ = std::move(err);
}

size_t failing_sink::calls() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return calls_;
}

size_t failing_sink::failures_left() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return failures_;
}

// -- composition --------------------------------------------------------------

caf::error render_and_deliver(const template_set& templates, mail_sink& sink,
                              const notification& n) {
  auto m = templates.render(n);
  if (!m)
    return std::move(m.error());
  return sink.deliver(n, *m);
}

} // namespace tenure
