#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "messages/enums.hpp"
#include "messages/errc.hpp"
#include "messages/id.hpp"
#include "messages/record.hpp"
#include "messages/time.hpp"

/// JSON for the gateway and the shell, driven by each record's `fields()`
/// like the wire and storage codecs, so the API cannot drift from the
/// records: field names are the records' names, enums their names, ids their
/// text, times RFC 3339 UTC (an unset time is `null`).
///
/// Decoding is strict, because every byte comes from outside: an unknown
/// key, a wrong type, a bad enum value, id or time is `errc::invalid_argument`
/// naming the field's path (`applicant.email: expected a string`); missing
/// keys keep their defaults (the domain rules say which fields are
/// required).
namespace tenure::json_codec {

using json = nlohmann::json;

template <class T>
struct is_id : std::false_type {};

template <class Tag>
struct is_id<basic_id<Tag>> : std::true_type {};

// -- encoding -----------------------------------------------------------------

template <class T>
json to_json(const T& x);

template <class T>
json container_to_json(const std::vector<T>& xs);

inline json container_to_json(const std::map<std::string, std::string>& xs);

template <class T>
json value_to_json(const T& x) {
  if constexpr (std::is_same_v<T, bool>) {
    return x;
  } else if constexpr (std::is_integral_v<T>) {
    return x;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return x;
  } else if constexpr (std::is_same_v<T, time_point>) {
    if (to_unix_ms(x) == 0)
      return nullptr;
    return to_iso8601(x);
  } else if constexpr (std::is_same_v<T, duration>) {
    return to_string_duration(x);
  } else if constexpr (is_id<T>::value) {
    return x.str();
  } else if constexpr (is_named_enum<T>::value) {
    return to_string(x);
  } else if constexpr (is_record_v<T>) {
    return to_json(x);
  } else {
    return container_to_json(x);
  }
}

template <class T>
json container_to_json(const std::vector<T>& xs) {
  auto out = json::array();
  for (auto& x : xs)
    out.push_back(value_to_json(x));
  return out;
}

inline json container_to_json(const std::map<std::string, std::string>& xs) {
  auto out = json::object();
  for (auto& [k, v] : xs)
    out[k] = v;
  return out;
}

/// A record as a JSON object with every field.
template <class T>
json to_json(const T& x) {
  static_assert(is_record_v<T>);
  auto out = json::object();
  std::apply(
    [&](auto... fs) { ((out[fs.name] = value_to_json(fs.value)), ...); },
    T::fields(const_cast<T&>(x)));
  return out;
}

// -- decoding -----------------------------------------------------------------

/// The longest string a request may give any field, in bytes: the longest
/// text a route takes (a support triage message, 64 KiB). The domain rules
/// set tighter limits per field; this one bounds the fields they do not
/// check, which would otherwise be as long as the body (1 MiB) and copied
/// into every event, snapshot, outbox row and mail of their entity (a 1 MB
/// website cost a node ~21 MiB of memory per application, abuse_bench).
constexpr size_t max_string_bytes = 64 * 1024;

inline std::string join_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string{key} : path + "." + std::string{key};
}

inline caf::error bad(const std::string& path, std::string what) {
  return make_error(errc::invalid_argument,
                    (path.empty() ? std::string{"body"} : path) + ": "
                      + std::move(what));
}

template <class T>
caf::error from_json(const json& in, T& x, const std::string& path = {});

template <class T>
caf::error container_from_json(const json& in, std::vector<T>& xs,
                               const std::string& path);

inline caf::error container_from_json(const json& in,
                                      std::map<std::string, std::string>& xs,
                                      const std::string& path);

template <class T>
caf::error value_from_json(const json& in, T& x, const std::string& path) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!in.is_boolean())
      return bad(path, "expected true or false");
    x = in.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!in.is_number_integer())
      return bad(path, "expected a whole number");
    if (in.is_number_unsigned()) {
      auto v = in.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<T>::max()))
        return bad(path, "too large");
      x = static_cast<T>(v);
    } else {
      auto v = in.get<int64_t>();
      if (v < static_cast<int64_t>(std::numeric_limits<T>::min())
          || (v > 0
              && static_cast<uint64_t>(v)
                   > static_cast<uint64_t>(std::numeric_limits<T>::max())))
        return bad(path, std::is_signed_v<T> ? "out of range"
                                             : "must not be negative");
      x = static_cast<T>(v);
    }
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!in.is_string())
      return bad(path, "expected a string");
    if (in.get_ref<const std::string&>().size() > max_string_bytes)
      return bad(path,
                 "longer than " + std::to_string(max_string_bytes) + " bytes");
    x = in.get<std::string>();
  } else if constexpr (std::is_same_v<T, time_point>) {
    if (in.is_null()) {
      x = time_point{};
      return caf::none;
    }
    if (!in.is_string())
      return bad(path, "expected a date (2026-11-23) or RFC 3339 time");
    auto t = parse_iso8601(in.get_ref<const std::string&>());
    if (!t)
      return bad(path, "expected a date (2026-11-23) or RFC 3339 time "
                       "(2026-11-23T10:00:00Z)");
    x = *t;
  } else if constexpr (std::is_same_v<T, duration>) {
    if (!in.is_string())
      return bad(path, "expected a duration such as \"7d\", \"12h\"");
    auto d = parse_duration(in.get_ref<const std::string&>());
    if (!d)
      return bad(path, "expected a duration such as \"7d\", \"12h\"");
    x = *d;
  } else if constexpr (is_id<T>::value) {
    if (!in.is_string())
      return bad(path, "expected an id");
    auto& s = in.get_ref<const std::string&>();
    if (s.empty()) {
      x = T{};
      return caf::none;
    }
    auto id = T::parse(s);
    if (!id)
      return bad(path, "expected an id starting with '" + std::string{T::prefix}
                         + "'");
    x = *id;
  } else if constexpr (is_named_enum<T>::value) {
    if (!in.is_string())
      return bad(path, "expected a string");
    auto v = parse_enum<T>(in.get_ref<const std::string&>());
    if (!v) {
      std::string names;
      for (auto& n : enum_names<T>::values)
        names += (names.empty() ? "" : ", ") + std::string{n};
      return bad(path, "expected one of " + names);
    }
    x = *v;
  } else if constexpr (is_record_v<T>) {
    return from_json(in, x, path);
  } else {
    return container_from_json(in, x, path);
  }
  return caf::none;
}

template <class T>
caf::error container_from_json(const json& in, std::vector<T>& xs,
                               const std::string& path) {
  if (!in.is_array())
    return bad(path, "expected an array");
  xs.clear();
  xs.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    T x{};
    if (auto err
        = value_from_json(in[i], x, path + "[" + std::to_string(i) + "]"))
      return err;
    xs.push_back(std::move(x));
  }
  return caf::none;
}

inline caf::error container_from_json(const json& in,
                                      std::map<std::string, std::string>& xs,
                                      const std::string& path) {
  if (!in.is_object())
    return bad(path, "expected an object");
  xs.clear();
  for (auto& [k, v] : in.items()) {
    if (!v.is_string())
      return bad(join_path(path, k), "expected a string");
    if (k.size() > max_string_bytes
        || v.get_ref<const std::string&>().size() > max_string_bytes)
      return bad(join_path(path, k.substr(0, 64)),
                 "longer than " + std::to_string(max_string_bytes) + " bytes");
    xs[k] = v.get<std::string>();
  }
  return caf::none;
}

/// Reads the fields of `x` present in `in`; refuses keys `x` does not have.
template <class T>
caf::error from_json(const json& in, T& x, const std::string& path) {
  static_assert(is_record_v<T>);
  if (!in.is_object())
    return bad(path, "expected an object");
  auto fs = T::fields(x);
  for (auto& item : in.items()) {
    // Named references, not a structured binding: clang before 16 cannot
    // capture a binding in the lambda below (the fuzz build uses clang 14).
    const std::string& key = item.key();
    const json& value = item.value();
    bool known = false;
    caf::error err;
    std::apply(
      [&](auto&... f) {
        (((!known && key == f.name)
            ? (known = true,
               err = value_from_json(value, f.value, join_path(path, key)), 0)
            : 0),
         ...);
      },
      fs);
    if (!known)
      return bad(join_path(path, key), "unknown field");
    if (err)
      return err;
  }
  return caf::none;
}

} // namespace tenure::json_codec
