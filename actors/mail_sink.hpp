#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>

#include <caf/error.hpp>

#include "actors/templates.hpp"
#include "messages/records.hpp"
#include "messages/time.hpp"

namespace tenure {

/// Where rendered notifications go: the outbox dispatcher's view of the
/// outside world, with a directory for development and tests, SMTP for
/// production, and a fault injector.
///
/// Delivery is idempotent by notification id: delivering the same
/// notification twice yields the same message (same file, same
/// `Message-ID`), so the dispatcher's at-least-once retries never make two
/// different emails. Calls block on I/O; sinks are safe to call from several
/// threads. Errors: `errc::invalid_argument` for a message that can never be
/// written (header injection, bad recipient); `errc::config_invalid` for a
/// misconfigured sink; `errc::unavailable` for I/O and network failures,
/// worth a retry. Error texts name paths and hosts, never params, bodies or
/// passwords.
class mail_sink {
public:
  virtual ~mail_sink();

  /// Delivers `m`, the rendering of `n`.
  virtual caf::error deliver(const notification& n, const rendered_message& m)
    = 0;

  /// One line for logs and status pages, e.g. `maildir /var/lib/tenure/mail`.
  /// Never contains a password.
  virtual std::string describe() const = 0;
};

// -- message format -----------------------------------------------------------

/// Checks that `n` and `m` make a well-formed message: an id usable as a
/// file name, one-line header values (a CR or LF in `from`, `to` or `subject`
/// is refused as header injection), for email a single ASCII address as
/// recipient, no NUL byte. Returns `errc::invalid_argument` naming the field.
caf::error check_message(const notification& n, const rendered_message& m);

/// The RFC 5322 message of `n`: headers `Date` (from `n.created_at`),
/// `From`, `To`, `Subject` (RFC 2047 encoded-words when not ASCII),
/// `Message-ID: <ID@tenure>`, `MIME-Version`, `Content-Type: text/plain;
/// charset=utf-8`, `Content-Transfer-Encoding`, `X-Tenure-Template`; CRLF line
/// endings throughout; the body's line breaks normalised to CRLF and a final
/// CRLF. The body is sent `8bit`, or `quoted-printable` when a line exceeds
/// 998 bytes (the limit of RFC 5322). Deterministic: the same input gives the
/// same bytes. Precondition: `check_message(n, m)` passed (otherwise line
/// breaks in header values are replaced by spaces).
std::string to_rfc5322(const notification& n, const rendered_message& m);

/// `Mon, 23 Nov 2026 03:44:44 +0000` (RFC 5322 section 3.3, UTC).
std::string rfc5322_date(time_point t);

/// `text` as is when printable ASCII, else RFC 2047 `=?UTF-8?B?...?=` words
/// of at most 64 characters, split at UTF-8 character boundaries and joined
/// by CRLF SP (folded).
std::string encode_header_text(std::string_view text);

/// The address of a mailbox: `Name <a@b.c>` → `a@b.c`, `a@b.c` → `a@b.c`.
std::string address_of(std::string_view mailbox);

// -- sinks --------------------------------------------------------------------

/// Writes each message to `DIR/ID.eml` (chat notifications to
/// `DIR/chat/ID.eml`): to a temp file in the same directory, fsynced, then
/// renamed over the final name, and the directory fsynced. A crash leaves no
/// partial `.eml` (at most a `.ID.eml.tmp-*` file), and a re-delivery
/// replaces the file instead of adding one. Creates directories as needed.
class maildir_sink final : public mail_sink {
public:
  explicit maildir_sink(std::string dir);

  caf::error deliver(const notification& n, const rendered_message& m) override;

  std::string describe() const override;

  /// Where `n` is written.
  std::string path_of(const notification& n) const;

  const std::string& dir() const noexcept {
    return dir_;
  }

private:
  std::string dir_;
};

struct smtp_options {
  /// `smtp://host:port` (STARTTLS when the server offers it; required when
  /// `username` is set) or `smtps://host:port` (TLS from the start).
  /// Default: none.
  std::string url;
  /// SMTP AUTH user; empty for no authentication. Default: empty.
  std::string username;
  /// SMTP AUTH password. Never logged nor put in an error. Default: empty.
  std::string password;
  /// Envelope sender (`MAIL FROM`): an address or `Name <address>` (the
  /// address is taken); empty takes the address of the message's `From`.
  /// Default: empty.
  std::string from;
  /// Limit of one delivery, connection included. Default: 30 s.
  duration timeout = std::chrono::seconds{30};
  /// Allows AUTH over `smtp://` without STARTTLS (a local relay, tests).
  /// Default: false.
  bool allow_plaintext_auth = false;
};

/// `errc::config_invalid` naming the first bad option, or none.
caf::error check_smtp_options(const smtp_options& opts);

/// Sends each email with libcurl: `MAIL FROM`, `RCPT TO` the recipient, and
/// the bytes of `to_rfc5322` as `DATA`. Chat notifications cannot go over
/// SMTP: they go to `chat_fallback` (typically a `maildir_sink`), or fail
/// with `errc::config_invalid` without one. A curl failure becomes
/// `errc::unavailable` with curl's message (email addresses in it redacted).
class smtp_sink final : public mail_sink {
public:
  /// `chat_fallback` may be null; it must outlive this sink.
  smtp_sink(smtp_options opts, mail_sink* chat_fallback);

  caf::error deliver(const notification& n, const rendered_message& m) override;

  /// `smtp smtp://host:port` (user info of the URL removed).
  std::string describe() const override;

private:
  smtp_options opts_;
  mail_sink* chat_fallback_;
};

/// For tests: fails the next `failures` deliveries with `err`, then delegates
/// to `next` (or succeeds without delivering when `next` is null). Counts
/// every call.
class failing_sink final : public mail_sink {
public:
  failing_sink(mail_sink* next, size_t failures, caf::error err);

  caf::error deliver(const notification& n, const rendered_message& m) override;

  std::string describe() const override;

  /// Fails the next `n` deliveries with `err` (replacing what was left).
  void fail_next(size_t n, caf::error err);

  /// Calls of `deliver` so far, failed or not.
  size_t calls() const;

  /// Failures still to come.
  size_t failures_left() const;

private:
  mail_sink* next_;
  mutable std::mutex mtx_;
  size_t failures_;
  caf::error err_;
  size_t calls_ = 0;
};

/// Renders `n` with `templates` and delivers it to `sink`: the body of the
/// outbox dispatcher's `deliver_fn`.
caf::error render_and_deliver(const template_set& templates, mail_sink& sink,
                              const notification& n);

} // namespace tenure
