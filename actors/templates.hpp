#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/records.hpp"

namespace tenure {

/// What a template may say about a program: the `{{program_name}}`,
/// `{{program_inbox}}` and `{{checkout_url}}` placeholders. Filled by the
/// composition root from config/programs.json.
struct program_text {
  /// E.g. `Denomas for Education`.
  std::string name;
  /// The program team's address, e.g. `education@denomas.com`.
  std::string inbox;
  /// The program-specific checkout page, reachable only from success emails.
  std::string checkout_url;
};

/// The texts of every program that has one. A program missing here (or
/// `program::none`) leaves the program placeholders without a value.
using program_texts = std::map<program, program_text>;

/// A notification in words, ready for a sink.
struct rendered_message {
  /// `Display Name <address>`, from templates.json.
  std::string from;
  /// The notification's recipient: an email address or a chat channel.
  std::string to;
  /// One line, no line break.
  std::string subject;
  /// Plain text, lines separated by `\n`.
  std::string body;
  /// An HTML alternative of `body`, or empty. Made for notifications with a
  /// `tracking_pixel` param (outreach emails): the text with its links made
  /// clickable and the pixel that counts the open.
  std::string html;
};

/// Escapes `&<>"'` for HTML text and attribute values.
std::string html_escape(std::string_view text);

/// The HTML alternative of `text`: escaped, line breaks kept, `http(s)://`
/// addresses as links, and the 1x1 image `pixel` at the end.
std::string html_alternative(const std::string& text, const std::string& pixel);

/// The notification templates of config/templates.json:
///
/// ```
/// {"from": "Name <address>",
///  "templates": {
///    "NAME":         {"subject": "...", "body": "...", "params": [...]},
///    "NAME.PROGRAM": {"subject": "...", "body": "..."}}}
/// ```
///
/// `NAME.PROGRAM` (PROGRAM one of `edu`, `oss`, `startups`) overrides `NAME`
/// for notifications of that program; every override needs its generic
/// template. Placeholders are `{{param}}` (lower case letters, digits and
/// `_`); `{{program_name}}`, `{{program_inbox}}` and `{{checkout_url}}` come
/// from the `program_texts`, every other one from the notification's params.
/// The optional `params` list declares a template's params: when present,
/// loading refuses a placeholder it does not declare (a typo would otherwise
/// fail every notification at render time), and an override may use only the
/// params of its generic template.
///
/// Rendering is a single pass: a value that contains `{{x}}` is copied as is,
/// never expanded again.
class template_set {
public:
  // -- member types -----------------------------------------------------------

  struct message_template {
    std::string subject;
    std::string body;
  };

  // -- constants --------------------------------------------------------------

  /// The placeholders filled from `program_text`.
  static constexpr std::string_view program_placeholders[]
    = {"program_name", "program_inbox", "checkout_url"};

  // -- construction -----------------------------------------------------------

  /// An empty set: every render fails with `errc::config_invalid`.
  template_set() = default;

  /// Reads and validates `file`. Errors are `errc::config_invalid` with
  /// `FILE: KEY: what`, e.g.
  /// `config/templates.json: templates.rejection.body: missing`.
  static caf::expected<template_set> load(const std::string& file,
                                          program_texts programs);

  /// Validates `text` as the contents of a templates file; `origin` names it
  /// in error messages.
  static caf::expected<template_set> parse(std::string_view text,
                                           const std::string& origin,
                                           program_texts programs);

  // -- rendering --------------------------------------------------------------

  /// Renders `n` with the template `NAME.PROGRAM` if present, else `NAME`.
  /// Errors: `errc::config_invalid` for an unknown template;
  /// `errc::invalid_argument` for an empty recipient or a placeholder
  /// without a value (naming the placeholder, never a value). Both are
  /// permanent: the same notification will not render later either.
  caf::expected<rendered_message> render(const notification& n) const;

  // -- properties -------------------------------------------------------------

  /// The `From` of every message.
  const std::string& from() const noexcept {
    return from_;
  }

  /// Whether a generic template `name` exists.
  bool contains(const std::string& name) const;

  /// The generic template names, sorted.
  std::vector<std::string> names() const;

  /// The params declared by template `name` (its `params` list), or, when it
  /// declares none, the non-program placeholders of it and its overrides.
  std::set<std::string> params_of(const std::string& name) const;

  /// The template `name` as written for program `p` (the override when
  /// present), or null.
  const message_template* find(const std::string& name, program p) const;

private:
  std::string from_;
  /// Keyed by `NAME` and `NAME.PROGRAM`.
  std::map<std::string, message_template> templates_;
  std::map<std::string, std::set<std::string>> declared_;
  program_texts programs_;
};

/// The placeholder names in `text` in order of appearance (with repeats), or
/// `errc::invalid_argument` naming the byte offset of the first malformed
/// one (`{{` without `}}`, a stray `}}`, a bad name such as `{{ name }}`).
caf::expected<std::vector<std::string>> placeholders_of(std::string_view text);

} // namespace tenure
