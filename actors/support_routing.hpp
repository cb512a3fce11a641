#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "messages/enums.hpp"

namespace tenure {

/// A support ticket to route: either a known category or free text.
struct triage_request {
  /// The program the ticket is about: edu, oss or startups.
  tenure::program program = tenure::program::none;
  /// A category id of the routing table, e.g. `code_already_used`. Empty
  /// when `text` is given.
  std::string category;
  /// The ticket's words, classified by the table's keywords. Empty when
  /// `category` is given.
  std::string text;
};

/// Who handles a ticket and what the agent does, for one program.
struct triage_result {
  /// The category id, e.g. `seat_concerns`.
  std::string category;
  /// One of send_macro, direct_to_inbox, escalate, explain, contact_verifier,
  /// open_ticket.
  std::string action;
  /// The macro to send, e.g. `General::EDU Response`; empty if none.
  std::string macro;
  /// The address to direct the customer to, e.g. `education@denomas.com`;
  /// empty if none.
  std::string inbox;
  /// Where to escalate, e.g. `#community-programs`; empty if none.
  std::string channel;
  /// The directly responsible individual or team, e.g. `SheerID`.
  std::string dri;
  /// One or two sentences the agent can act on.
  std::string guidance;
};

/// What the routing table needs to know about a program: its inbox and its
/// support macro. Filled by the composition root from config/programs.json.
struct program_contact {
  /// E.g. `education@denomas.com`.
  std::string inbox;
  /// The macro's name without its `General::` folder, e.g. `EDU Response`.
  std::string macro;
};

/// The support routing table of config/routing.json (seeds 000 and 001):
/// from a ticket category (phase, source, error) to DRI and action.
///
/// ```
/// {"categories": [
///    {"category": "code_already_used",   // [a-z][a-z0-9_]*, unique
///     "phase": "booking",   // verification, booking, fulfillment or any
///     "source": "Denomas Customers Portal",
///     "dri": "Denomas Support",
///     "action": "escalate", // send_macro, direct_to_inbox, escalate,
///                           // explain, contact_verifier or open_ticket
///     "macro": "...",       // optional; required by send_macro
///     "inbox": "...",       // optional; required by direct_to_inbox
///     "channel": "#...",    // optional; required by escalate
///     "guidance": "...",
///     "keywords": ["already been used", ...],
///     "overrides": {"edu": {"dri": "...", ...}}},  // optional
///    ...]}
/// ```
///
/// `macro`, `inbox` and `guidance` may hold the placeholders
/// `{{program_inbox}}` and `{{program_macro}}`, filled from the program's
/// `program_contact` when triaging. `overrides` replaces, for one program
/// (edu, oss, startups), any of source, dri, action, macro, inbox, channel
/// and guidance; the merged entry must still satisfy the rules of its action.
///
/// Keywords are lower case phrases, unique across the table. A keyword
/// matches free text where a word starts (`renew` matches `renewal`, `form`
/// does not match `platform`), after the text is lower-cased, its typographic
/// apostrophes and quotes are made plain and its runs of white space are
/// made one space. The category with the longest matching keyword wins; on a
/// tie, the one first in the table. Text that matches nothing is a
/// `general_enquiry`, which the table must contain.
class routing_table {
public:
  // -- member types -----------------------------------------------------------

  /// One row of the table, as written (placeholders not yet filled).
  struct route {
    std::string source;
    std::string dri;
    std::string action;
    std::string macro;
    std::string inbox;
    std::string channel;
    std::string guidance;
  };

  struct entry {
    std::string category;
    std::string phase;
    route base;
    std::map<tenure::program, route> overrides;
    std::vector<std::string> keywords;
  };

  // -- constants --------------------------------------------------------------

  /// The category of text that matches no keyword.
  static constexpr std::string_view fallback_category = "general_enquiry";

  /// The longest text `triage` classifies, in bytes. Default: 64 KiB.
  static constexpr size_t max_text_size = 64 * 1024;

  // -- construction -----------------------------------------------------------

  /// An empty table: every triage fails with `errc::config_invalid`.
  routing_table() = default;

  /// Reads and validates `file`. `contacts` must hold a non-empty inbox and
  /// macro for edu, oss and startups. Errors are `errc::config_invalid` with
  /// `FILE: KEY: what`, e.g.
  /// `config/routing.json: categories[2].action: unknown action 'mail' ...`.
  static caf::expected<routing_table>
  load(const std::string& file, std::map<program, program_contact> contacts);

  /// Validates `text` as the contents of a routing file; `origin` names it in
  /// error messages.
  static caf::expected<routing_table>
  parse(std::string_view text, const std::string& origin,
        std::map<program, program_contact> contacts);

  // -- triage -----------------------------------------------------------------

  /// Routes `req` for its program. Pure. Errors: `errc::invalid_argument`
  /// when the program is not edu, oss or startups, when not exactly one of
  /// category and text is given, or for an unknown category (listing the
  /// known ones); `errc::too_large` for text over `max_text_size`. Messages
  /// never repeat the text.
  caf::expected<triage_result> triage(const triage_request& req) const;

  /// The category of free `text`: the one with the longest matching keyword,
  /// else `general_enquiry`. Pure.
  const std::string& classify(std::string_view text) const;

  // -- properties -------------------------------------------------------------

  /// The category ids in table order.
  std::vector<std::string> categories() const;

  /// The entries in table order.
  const std::vector<entry>& entries() const noexcept {
    return entries_;
  }

private:
  std::vector<entry> entries_;
  std::map<program, program_contact> contacts_;
};

/// `text` lower-cased (ASCII), with typographic apostrophes and quotes
/// (U+2018, U+2019, U+201C, U+201D) made plain and every run of white space
/// made one space; the form keywords are matched against.
std::string normalize_ticket_text(std::string_view text);

} // namespace tenure
