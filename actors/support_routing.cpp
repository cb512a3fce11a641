#include "actors/support_routing.hpp"

#include <algorithm>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "actors/json_keys.hpp"
#include "actors/templates.hpp"
#include "messages/errc.hpp"

namespace tenure {

namespace {

using json = nlohmann::json;

constexpr program named_programs[]
  = {program::edu, program::oss, program::startups};

constexpr std::string_view phases[]
  = {"verification", "booking", "fulfillment", "any"};

constexpr std::string_view actions[]
  = {"send_macro", "direct_to_inbox",  "escalate",
     "explain",    "contact_verifier", "open_ticket"};

constexpr std::string_view inbox_placeholder = "{{program_inbox}}";
constexpr std::string_view macro_placeholder = "{{program_macro}}";

/// The fields of a route, in the order the file documents them; all but
/// source, dri, action and guidance may be left out.
constexpr std::string_view route_fields[]
  = {"source", "dri", "action", "macro", "inbox", "channel", "guidance"};

/// Longest keyword: a phrase, not a paragraph.
constexpr size_t max_keyword_size = 100;

template <class Range>
std::string join(const Range& xs) {
  std::string out;
  for (auto& x : xs) {
    if (!out.empty())
      out += ", ";
    out += x;
  }
  return out;
}

template <class Range, class T>
bool contains(const Range& xs, const T& x) {
  return std::find(std::begin(xs), std::end(xs), x) != std::end(xs);
}

bool is_id(std::string_view s) {
  if (s.empty() || s.front() < 'a' || s.front() > 'z')
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9');
}

bool has_line_break(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

bool has_space(std::string_view s) {
  return s.find_first_of(" \t\r\n") != std::string_view::npos;
}

std::string route_field_names() {
  return join(route_fields);
}

std::string& field_of(routing_table::route& r, std::string_view name) {
  if (name == "source")
    return r.source;
  if (name == "dri")
    return r.dri;
  if (name == "action")
    return r.action;
  if (name == "macro")
    return r.macro;
  if (name == "inbox")
    return r.inbox;
  if (name == "channel")
    return r.channel;
  return r.guidance;
}

void replace_all(std::string& s, std::string_view what,
                 const std::string& with) {
  for (auto pos = s.find(what); pos != std::string::npos;
       pos = s.find(what, pos + with.size()))
    s.replace(pos, what.size(), with);
}

/// A short, harmless rendering of a caller's category for an error message:
/// the value itself when it looks like an id, else nothing of it.
std::string quoted_category(const std::string& c) {
  if (c.size() <= 64 && is_id(c))
    return " '" + c + "'";
  return {};
}

} // namespace

// -- text ---------------------------------------------------------------------

std::string normalize_ticket_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  auto put = [&](char c) {
    if (c == ' ') {
      space = true;
      return;
    }
    if (space && !out.empty())
      out += ' ';
    space = false;
    out += c;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    // U+2010..U+2015 (hyphens, dashes), U+2018/U+2019 (single quotes),
    // U+201C/U+201D (double quotes): E2 80 xx in UTF-8.
    if (c == 0xE2 && i + 2 < text.size()
        && static_cast<unsigned char>(text[i + 1]) == 0x80) {
      auto d = static_cast<unsigned char>(text[i + 2]);
      char plain = 0;
      if (d >= 0x90 && d <= 0x95)
        plain = '-';
      else if (d == 0x98 || d == 0x99)
        plain = '\'';
      else if (d == 0x9C || d == 0x9D)
        plain = '"';
      if (plain != 0) {
        put(plain);
        i += 2;
        continue;
      }
    }
    // U+00A0, the no-break space: C2 A0.
    if (c == 0xC2 && i + 1 < text.size()
        && static_cast<unsigned char>(text[i + 1]) == 0xA0) {
      put(' ');
      ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
        || c == '\v')
      put(' ');
    else if (c >= 'A' && c <= 'Z')
      put(static_cast<char>(c - 'A' + 'a'));
    else
      put(static_cast<char>(c));
  }
  return out;
}

// -- loading ------------------------------------------------------------------

caf::expected<routing_table>
routing_table::load(const std::string& file,
                    std::map<program, program_contact> contacts) {
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return make_error(errc::config_invalid, file + ": cannot open the file");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad())
    return make_error(errc::config_invalid, file + ": cannot read the file");
  return parse(buf.str(), file, std::move(contacts));
}

caf::expected<routing_table>
routing_table::parse(std::string_view text, const std::string& origin,
                     std::map<program, program_contact> contacts) {
  auto fail = [&](const std::string& path, const std::string& what) {
    auto msg = origin + ": ";
    if (!path.empty())
      msg += path + ": ";
    msg += what;
    return make_error(errc::config_invalid, std::move(msg));
  };
  // The contacts come from programs.json; a gap there would only show when
  // a ticket of that program arrives.
  for (auto p : named_programs) {
    auto i = contacts.find(p);
    if (i == contacts.end() || i->second.inbox.empty()
        || i->second.macro.empty())
      return fail("", "no inbox or support macro for program " + to_string(p)
                        + " (config/programs.json)");
  }
  json doc;
  if (auto bad = parse_config_json(text, doc))
    return fail(bad->path, bad->what);
  if (!doc.is_object())
    return fail("(top level)", "expected an object");
  for (auto& [key, value] : doc.items())
    if (key != "categories")
      return fail(key, "unknown key (expected categories)");
  auto cats = doc.find("categories");
  if (cats == doc.end())
    return fail("categories", "missing");
  if (!cats->is_array() || cats->empty())
    return fail("categories", "expected a non-empty array");
  routing_table result;
  result.contacts_ = std::move(contacts);
  // keyword -> index of the entry that holds it
  std::map<std::string, size_t> keyword_owner;
  caf::error err;
  // Reads one route field: a string, placeholders only where allowed.
  auto read_field
    = [&](const json& obj, const std::string& path, std::string_view name,
          bool required, std::string& out) -> bool {
    auto fpath = path + "." + std::string{name};
    auto i = obj.find(std::string{name});
    if (i == obj.end()) {
      if (required)
        err = fail(fpath, "missing");
      return !required;
    }
    if (!i->is_string()) {
      err = fail(fpath, "expected a string");
      return false;
    }
    auto str = i->get<std::string>();
    if (required && str.empty()) {
      err = fail(fpath, "expected a non-empty string");
      return false;
    }
    if (has_line_break(str)) {
      err = fail(fpath, "must be one line");
      return false;
    }
    auto names = placeholders_of(str);
    if (!names) {
      err = fail(fpath, error_message(names.error()));
      return false;
    }
    bool may_fill = name == "macro" || name == "inbox" || name == "guidance";
    for (auto& n : *names)
      if (!may_fill || (n != "program_inbox" && n != "program_macro")) {
        err = fail(fpath, may_fill ? "unknown placeholder {{" + n
                                       + "}} (expected {{program_inbox}} or "
                                         "{{program_macro}})"
                                   : "takes no placeholders");
        return false;
      }
    if (name == "phase" && !contains(phases, str)) {
      err = fail(fpath, "unknown phase (expected " + join(phases) + ")");
      return false;
    }
    if (name == "action" && !contains(actions, str)) {
      err = fail(fpath, "unknown action (expected " + join(actions) + ")");
      return false;
    }
    if (name == "channel" && !str.empty()
        && (str.front() != '#' || str.size() == 1 || has_space(str))) {
      err = fail(fpath, "expected a chat channel such as #community-programs");
      return false;
    }
    if (name == "inbox" && !str.empty() && names->empty()
        && (str.find('@') == std::string::npos || has_space(str))) {
      err = fail(fpath, "expected an email address or {{program_inbox}}");
      return false;
    }
    out = std::move(str);
    return true;
  };
  // An action needs its target: the macro, the inbox or the channel.
  auto check_route = [&](const route& r, const std::string& path) {
    auto need = [&](const std::string& value, const char* field) {
      if (!value.empty())
        return true;
      err = fail(path, "action " + r.action + " needs a non-empty " + field);
      return false;
    };
    if (r.action == "send_macro")
      return need(r.macro, "macro");
    if (r.action == "direct_to_inbox")
      return need(r.inbox, "inbox");
    if (r.action == "escalate")
      return need(r.channel, "channel");
    return true;
  };
  for (size_t index = 0; index < cats->size(); ++index) {
    auto& obj = (*cats)[index];
    auto path = "categories[" + std::to_string(index) + "]";
    if (!obj.is_object())
      return fail(path, "expected an object");
    for (auto& [key, value] : obj.items())
      if (key != "category" && key != "phase" && key != "keywords"
          && key != "overrides" && !contains(route_fields, key))
        return fail(path + "." + key, "unknown key (expected category, phase, "
                                        + route_field_names()
                                        + ", keywords, overrides)");
    entry e;
    if (!read_field(obj, path, "category", true, e.category))
      return err;
    if (!is_id(e.category))
      return fail(path + ".category",
                  "expected lower case letters, digits and '_', starting "
                  "with a letter");
    for (size_t j = 0; j < result.entries_.size(); ++j)
      if (result.entries_[j].category == e.category)
        return fail(path + ".category", "'" + e.category
                                          + "' appears twice (also categories["
                                          + std::to_string(j) + "])");
    if (!read_field(obj, path, "phase", true, e.phase))
      return err;
    for (auto name : route_fields) {
      bool required = name == "source" || name == "dri" || name == "action"
                      || name == "guidance";
      if (!read_field(obj, path, name, required, field_of(e.base, name)))
        return err;
    }
    if (!check_route(e.base, path))
      return err;
    // keywords
    auto kws = obj.find("keywords");
    if (kws == obj.end())
      return fail(path + ".keywords", "missing");
    if (!kws->is_array())
      return fail(path + ".keywords", "expected an array of phrases");
    for (size_t k = 0; k < kws->size(); ++k) {
      auto kpath = path + ".keywords[" + std::to_string(k) + "]";
      auto& kw = (*kws)[k];
      if (!kw.is_string())
        return fail(kpath, "expected a string");
      auto str = kw.get<std::string>();
      if (str.empty() || str.size() > max_keyword_size)
        return fail(kpath, "expected 1 to " + std::to_string(max_keyword_size)
                             + " bytes");
      if (!is_word_char(str.front()) || str.back() == ' '
          || normalize_ticket_text(str) != str)
        return fail(kpath, "expected a lower case phrase that starts with a "
                           "letter or digit, words separated by one space, "
                           "plain quotes");
      auto [owner, fresh] = keyword_owner.emplace(str, index);
      if (!fresh)
        return fail(kpath, "'" + str + "' is also a keyword of categories["
                             + std::to_string(owner->second) + "] ("
                             + result.entries_[owner->second].category + ")");
      e.keywords.push_back(std::move(str));
    }
    // overrides
    if (auto ovs = obj.find("overrides"); ovs != obj.end()) {
      auto opath = path + ".overrides";
      if (!ovs->is_object())
        return fail(opath, "expected an object keyed by program");
      for (auto& [key, value] : ovs->items()) {
        auto ppath = opath + "." + key;
        auto p = parse_enum<program>(key);
        if (!p || *p == program::none)
          return fail(ppath, "unknown program (expected edu, oss, startups)");
        if (!value.is_object() || value.empty())
          return fail(ppath,
                      "expected a non-empty object of " + route_field_names());
        for (auto& [k, v] : value.items())
          if (!contains(route_fields, k))
            return fail(ppath + "." + k,
                        "unknown key (expected " + route_field_names() + ")");
        route merged = e.base;
        for (auto name : route_fields) {
          if (value.find(std::string{name}) == value.end())
            continue;
          // An override may clear an optional field (inbox: "") but not
          // leave a required one empty.
          bool required = name == "source" || name == "dri" || name == "action"
                          || name == "guidance";
          if (!read_field(value, ppath, name, required, field_of(merged, name)))
            return err;
        }
        if (!check_route(merged, ppath))
          return err;
        e.overrides.emplace(*p, std::move(merged));
      }
    }
    result.entries_.push_back(std::move(e));
  }
  auto& es = result.entries_;
  if (std::none_of(es.begin(), es.end(), [](const entry& e) {
        return e.category == fallback_category;
      }))
    return fail("categories", "no " + std::string{fallback_category}
                                + " entry (the category of text that "
                                  "matches no keyword)");
  return result;
}

// -- triage -------------------------------------------------------------------

const std::string& routing_table::classify(std::string_view text) const {
  static const std::string fallback{fallback_category};
  auto norm = normalize_ticket_text(text);
  const entry* best = nullptr;
  size_t best_size = 0;
  for (auto& e : entries_)
    for (auto& kw : e.keywords) {
      // Only a longer keyword can win: an equal one loses to the earlier
      // entry (table order) and cannot change this entry's score.
      if (kw.size() <= best_size)
        continue;
      for (auto pos = norm.find(kw); pos != std::string::npos;
           pos = norm.find(kw, pos + 1))
        if (pos == 0 || !is_word_char(norm[pos - 1])) {
          best = &e;
          best_size = kw.size();
          break;
        }
    }
  return best ? best->category : fallback;
}

caf::expected<triage_result>
routing_table::triage(const triage_request& req) const {
  if (entries_.empty())
    return make_error(errc::config_invalid, "no routing table loaded");
  if (!contains(named_programs, req.program))
    return make_error(errc::invalid_argument,
                      "program: expected edu, oss or startups");
  bool has_category = !req.category.empty();
  bool has_text
    = req.text.find_first_not_of(" \t\r\n\f\v") != std::string::npos;
  if (has_category && has_text)
    return make_error(errc::invalid_argument,
                      "category, text: give one of them, not both");
  if (!has_category && !has_text)
    return make_error(errc::invalid_argument,
                      "category, text: one of them is required");
  if (req.text.size() > max_text_size)
    return make_error(errc::too_large, "text: longer than "
                                         + std::to_string(max_text_size)
                                         + " bytes");
  const auto& name = has_category ? req.category : classify(req.text);
  auto e = std::find_if(entries_.begin(), entries_.end(),
                        [&](const entry& x) { return x.category == name; });
  if (e == entries_.end())
    return make_error(errc::invalid_argument,
                      "category: unknown category" + quoted_category(name)
                        + " (expected " + join(categories()) + ")");
  auto contact = contacts_.find(req.program);
  if (contact == contacts_.end()) // checked when loaded
    return make_error(errc::config_invalid,
                      "no contact for program " + to_string(req.program));
  auto o = e->overrides.find(req.program);
  const route& r = o != e->overrides.end() ? o->second : e->base;
  auto fill = [&](std::string s) {
    replace_all(s, inbox_placeholder, contact->second.inbox);
    replace_all(s, macro_placeholder, contact->second.macro);
    return s;
  };
  triage_result out;
  out.category = e->category;
  out.action = r.action;
  out.macro = fill(r.macro);
  out.inbox = fill(r.inbox);
  out.channel = r.channel;
  out.dri = r.dri;
  out.guidance = fill(r.guidance);
  return out;
}

// -- properties ---------------------------------------------------------------

std::vector<std::string> routing_table::categories() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (auto& e : entries_)
    out.push_back(e.category);
  return out;
}

} // namespace tenure
