#include "actors/templates.hpp"

#include <algorithm>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "actors/json_keys.hpp"
#include "messages/errc.hpp"

namespace tenure {

namespace {

using json = nlohmann::json;

constexpr program named_programs[]
  = {program::edu, program::oss, program::startups};

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || c == '_';
}

bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

/// `[a-z_][a-z0-9_]*`: placeholder, param and template names.
bool is_name(std::string_view s) {
  return !s.empty() && is_name_start(s.front())
         && std::all_of(s.begin(), s.end(), is_name_char);
}

bool is_program_placeholder(std::string_view s) {
  for (auto p : template_set::program_placeholders)
    if (p == s)
      return true;
  return false;
}

bool has_line_break(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

/// `Display Name <local@domain>` or `local@domain`, on one line.
bool is_mailbox(std::string_view s) {
  if (s.empty() || has_line_break(s))
    return false;
  auto lt = s.rfind('<');
  if (lt == std::string_view::npos)
    return s.find('@') != std::string_view::npos
           && s.find_first_of(" <>,") == std::string_view::npos;
  auto addr = s.substr(lt + 1);
  return addr.size() > 2 && addr.back() == '>'
         && addr.find('@') != std::string_view::npos
         && addr.find_first_of(" <,") == std::string_view::npos;
}

} // namespace

// -- placeholders -------------------------------------------------------------

caf::expected<std::vector<std::string>> placeholders_of(std::string_view text) {
  std::vector<std::string> out;
  auto malformed = [](size_t at, const char* what) {
    return make_error(errc::invalid_argument, "malformed placeholder at byte "
                                                + std::to_string(at) + ": "
                                                + what);
  };
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 2, "{{") == 0) {
      auto close = text.find("}}", i + 2);
      if (close == std::string_view::npos)
        return malformed(i, "'{{' without '}}'");
      auto name = text.substr(i + 2, close - i - 2);
      if (!is_name(name))
        return malformed(i, "expected {{name}} with a name of lower case "
                            "letters, digits and '_'");
      out.emplace_back(name);
      i = close + 2;
    } else if (text.compare(i, 2, "}}") == 0) {
      return malformed(i, "'}}' without '{{'");
    } else {
      ++i;
    }
  }
  return out;
}

// -- loading ------------------------------------------------------------------

caf::expected<template_set> template_set::load(const std::string& file,
                                               program_texts programs) {
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return make_error(errc::config_invalid, file + ": cannot open the file");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad())
    return make_error(errc::config_invalid, file + ": cannot read the file");
  return parse(buf.str(), file, std::move(programs));
}

caf::expected<template_set> template_set::parse(std::string_view text,
                                                const std::string& origin,
                                                program_texts programs) {
  auto fail = [&](const std::string& path, const std::string& what) {
    auto msg = origin + ": ";
    if (!path.empty())
      msg += path + ": ";
    msg += what;
    return make_error(errc::config_invalid, std::move(msg));
  };
  json doc;
  if (auto bad = parse_config_json(text, doc))
    return fail(bad->path, bad->what);
  if (!doc.is_object())
    return fail("(top level)", "expected an object");
  for (auto& [key, value] : doc.items())
    if (key != "from" && key != "templates")
      return fail(key, "unknown key (expected from, templates)");
  template_set result;
  result.programs_ = std::move(programs);
  // from
  auto from = doc.find("from");
  if (from == doc.end())
    return fail("from", "missing");
  if (!from->is_string() || !is_mailbox(from->get<std::string>()))
    return fail("from", "expected one line of the form "
                        "'Display Name <address@domain>'");
  result.from_ = from->get<std::string>();
  // templates
  auto tpls = doc.find("templates");
  if (tpls == doc.end())
    return fail("templates", "missing");
  if (!tpls->is_object() || tpls->empty())
    return fail("templates", "expected a non-empty object");
  std::map<std::string, std::set<std::string>> used; // generic name → params
  for (auto& [key, value] : tpls->items()) {
    auto path = "templates." + key;
    auto dot = key.find('.');
    auto name = key.substr(0, dot);
    if (!is_name(name))
      return fail(path, "template name must be lower case letters, digits "
                        "and '_', optionally followed by .edu, .oss or "
                        ".startups");
    bool is_override = dot != std::string::npos;
    if (is_override) {
      auto suffix = key.substr(dot + 1);
      bool known = false;
      for (auto p : named_programs)
        known = known || to_string(p) == suffix;
      if (!known)
        return fail(path, "unknown program '" + suffix
                            + "' (expected edu, oss or startups)");
    }
    if (!value.is_object())
      return fail(path, "expected an object with subject and body");
    for (auto& [k, v] : value.items()) {
      if (k == "params" && is_override)
        return fail(path + "." + k,
                    "params belong to the generic template " + name);
      if (k != "subject" && k != "body" && k != "params")
        return fail(path + "." + k,
                    "unknown key (expected subject, body, params)");
    }
    message_template t;
    for (auto field : {"subject", "body"}) {
      auto fpath = path + "." + field;
      auto i = value.find(field);
      if (i == value.end())
        return fail(fpath, "missing");
      if (!i->is_string() || i->get<std::string>().empty())
        return fail(fpath, "expected a non-empty string");
      auto str = i->get<std::string>();
      auto names = placeholders_of(str);
      if (!names)
        return fail(fpath, error_message(names.error()));
      for (auto& n : *names)
        if (!is_program_placeholder(n))
          used[name].insert(n);
      (field == std::string_view{"subject"} ? t.subject : t.body)
        = std::move(str);
    }
    if (has_line_break(t.subject))
      return fail(path + ".subject", "must be one line");
    if (auto ps = value.find("params"); ps != value.end()) {
      if (!ps->is_array())
        return fail(path + ".params", "expected an array of param names");
      auto& decl = result.declared_[name];
      for (auto& p : *ps) {
        if (!p.is_string() || !is_name(p.get<std::string>()))
          return fail(path + ".params", "expected param names of lower case "
                                        "letters, digits and '_'");
        auto pn = p.get<std::string>();
        if (is_program_placeholder(pn))
          return fail(path + ".params", pn
                                          + " comes from the program, not "
                                            "from a param");
        if (!decl.insert(pn).second)
          return fail(path + ".params", pn + " appears twice");
      }
    }
    result.templates_.emplace(key, std::move(t));
  }
  // Every override has its generic template; declared params cover every
  // placeholder of a template and its overrides.
  for (auto& [key, t] : result.templates_) {
    auto dot = key.find('.');
    if (dot == std::string::npos)
      continue;
    auto name = key.substr(0, dot);
    if (result.templates_.count(name) == 0)
      return fail("templates." + key,
                  "overrides " + name + ", which does not exist");
  }
  for (auto& [name, decl] : result.declared_)
    for (auto& [key, t] : result.templates_) {
      if (key != name && key.rfind(name + ".", 0) != 0)
        continue;
      for (auto* text : {&t.subject, &t.body}) {
        auto names = placeholders_of(*text); // validated above
        for (auto& n : *names)
          if (!is_program_placeholder(n) && decl.count(n) == 0)
            return fail("templates." + key,
                        "{{" + n + "}} is not in the params of " + name);
      }
    }
  for (auto& [name, ps] : used)
    if (result.declared_.count(name) == 0)
      result.declared_.emplace(name, ps);
  return result;
}

// -- rendering ----------------------------------------------------------------

const template_set::message_template*
template_set::find(const std::string& name, program p) const {
  if (!is_name(name))
    return nullptr;
  if (p != program::none)
    if (auto i = templates_.find(name + "." + to_string(p));
        i != templates_.end())
      return &i->second;
  auto i = templates_.find(name);
  return i != templates_.end() ? &i->second : nullptr;
}

caf::expected<rendered_message>
template_set::render(const notification& n) const {
  auto t = find(n.template_name, n.program);
  if (!t)
    return make_error(errc::config_invalid,
                      "template '" + n.template_name
                        + "' is not in the templates file");
  if (n.recipient.empty())
    return make_error(errc::invalid_argument,
                      "notification " + n.id.str() + ": no recipient");
  const program_text* texts = nullptr;
  if (auto i = programs_.find(n.program); i != programs_.end())
    texts = &i->second;
  caf::error err;
  auto fill = [&](const std::string& text) {
    std::string out;
    out.reserve(text.size() + 64);
    size_t i = 0;
    while (i < text.size() && !err) {
      auto open = text.find("{{", i);
      if (open == std::string::npos) {
        out.append(text, i, std::string::npos);
        break;
      }
      out.append(text, i, open - i);
      auto close = text.find("}}", open + 2); // validated when loaded
      auto name = text.substr(open + 2, close - open - 2);
      const std::string* value = nullptr;
      if (is_program_placeholder(name)) {
        if (texts != nullptr)
          value = name == "program_name"    ? &texts->name
                  : name == "program_inbox" ? &texts->inbox
                                            : &texts->checkout_url;
      } else if (auto p = n.params.find(name); p != n.params.end()) {
        value = &p->second;
      }
      if (value == nullptr || value->empty()) {
        auto why = is_program_placeholder(name)
                     ? "has no value for program " + to_string(n.program)
                     : std::string{"has no value (missing param)"};
        err
          = make_error(errc::invalid_argument, "template " + n.template_name
                                                 + ": {{" + name + "}} " + why);
        break;
      }
      out += *value;
      i = close + 2;
    }
    return out;
  };
  rendered_message result;
  result.from = from_;
  result.to = n.recipient;
  result.subject = fill(t->subject);
  if (!err)
    result.body = fill(t->body);
  if (err)
    return err;
  if (auto px = n.params.find("tracking_pixel");
      px != n.params.end() && !px->second.empty())
    result.html = html_alternative(result.body, px->second);
  return result;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text)
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += ch;
    }
  return out;
}

std::string html_alternative(const std::string& text,
                             const std::string& pixel) {
  auto escape = [](std::string_view x) { return html_escape(x); };
  std::string out = "<!doctype html><html><body><div style=\"font-family:"
                    "sans-serif;white-space:pre-wrap\">";
  size_t i = 0;
  while (i < text.size()) {
    auto a = text.find("http://", i);
    auto b = text.find("https://", i);
    auto at = std::min(a, b);
    if (at == std::string::npos) {
      out += escape(std::string_view{text}.substr(i));
      break;
    }
    out += escape(std::string_view{text}.substr(i, at - i));
    auto end = text.find_first_of(" \t\r\n<>\"", at);
    if (end == std::string::npos)
      end = text.size();
    auto url = escape(std::string_view{text}.substr(at, end - at));
    out += "<a href=\"" + url + "\">" + url + "</a>";
    i = end;
  }
  out += "</div><img src=\"" + escape(pixel)
         + "\" width=\"1\" height=\"1\" alt=\"\"></body></html>";
  return out;
}

// -- properties ---------------------------------------------------------------

bool template_set::contains(const std::string& name) const {
  return name.find('.') == std::string::npos && templates_.count(name) > 0;
}

std::vector<std::string> template_set::names() const {
  std::vector<std::string> out;
  for (auto& [key, t] : templates_)
    if (key.find('.') == std::string::npos)
      out.push_back(key);
  return out;
}

std::set<std::string> template_set::params_of(const std::string& name) const {
  auto i = declared_.find(name);
  return i != declared_.end() ? i->second : std::set<std::string>{};
}

} // namespace tenure
