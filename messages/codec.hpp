#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <caf/expected.hpp>
#include <msgpack.hpp>

#include "messages/enums.hpp"
#include "messages/errc.hpp"
#include "messages/id.hpp"
#include "messages/record.hpp"
#include "messages/time.hpp"

/// Storage encoding of records: msgpack, each record a map from field name
/// to value plus `_v`, the record's schema version.
///
/// Compatibility rules, so stored data outlives code:
/// - Unknown keys are skipped (a newer build added a field).
/// - Missing keys keep the field's default (an older build wrote it).
/// - A `_v` above the build's `schema_version` is refused with
///   `errc::schema_too_new`, because rewriting it would drop what we cannot
///   read.
/// - Enums are stored by name, times as Unix milliseconds (within
///   +-8.64e15, see `codec_detail::max_stored_ms`; beyond is corrupt data).
///
/// Decoding treats bytes as untrusted: sizes, element counts and depth are
/// capped before anything is allocated, and every failure is an error value
/// naming the field path, never an exception or a crash.
namespace tenure {

/// Bounds for decoding untrusted bytes.
struct decode_limits {
  /// Largest accepted input. Default: 4 MiB.
  size_t max_bytes = 4u << 20;
  /// Deepest nesting of maps and arrays. Default: 32.
  uint32_t max_depth = 32;
  /// Largest array or map. Default: 65536 (further capped by input size).
  uint32_t max_elements = 65536;
};

/// Unpacks `bytes` into a msgpack object tree under `limits`; fills `err`
/// and returns an empty handle on malformed, truncated, oversized or trailing
/// bytes. This is the only place that lets msgpack parse raw bytes, and no
/// msgpack exception leaves it.
msgpack::object_handle unpack_bounded(std::string_view bytes,
                                      const decode_limits& limits,
                                      caf::error& err);

namespace codec_detail {

using packer = msgpack::packer<msgpack::sbuffer>;

template <class T>
struct is_basic_id : std::false_type {};
template <class Tag>
struct is_basic_id<basic_id<Tag>> : std::true_type {};

inline void pack_str(packer& pk, std::string_view str) {
  pk.pack_str(static_cast<uint32_t>(str.size()));
  pk.pack_str_body(str.data(), static_cast<uint32_t>(str.size()));
}

template <class T>
void pack_value(packer& pk, const T& x);

template <class T>
void pack_value(packer& pk, const std::vector<T>& xs) {
  pk.pack_array(static_cast<uint32_t>(xs.size()));
  for (const auto& x : xs)
    pack_value(pk, x);
}

inline void pack_value(packer& pk,
                       const std::map<std::string, std::string>& xs) {
  pk.pack_map(static_cast<uint32_t>(xs.size()));
  for (const auto& [k, v] : xs) {
    pack_str(pk, k);
    pack_str(pk, v);
  }
}

template <class T>
void pack_record(packer& pk, const T& x) {
  auto fs = T::fields(x);
  pk.pack_map(static_cast<uint32_t>(std::tuple_size_v<decltype(fs)> + 1));
  pack_str(pk, "_v");
  pk.pack_uint32(T::schema_version);
  std::apply(
    [&](const auto&... f) {
      ((pack_str(pk, f.name), pack_value(pk, f.value)), ...);
    },
    fs);
}

template <class T>
void pack_value(packer& pk, const T& x) {
  if constexpr (std::is_same_v<T, bool>) {
    if (x)
      pk.pack_true();
    else
      pk.pack_false();
  } else if constexpr (std::is_integral_v<T>) {
    pk.pack(x);
  } else if constexpr (is_named_enum<T>::value) {
    pack_str(pk, enum_names<T>::values[static_cast<size_t>(x)]);
  } else if constexpr (std::is_same_v<T, time_point>) {
    pk.pack_int64(to_unix_ms(x));
  } else if constexpr (std::is_same_v<T, duration>) {
    pk.pack_int64(x.count());
  } else if constexpr (std::is_same_v<T, std::string>) {
    pack_str(pk, x);
  } else if constexpr (is_basic_id<T>::value) {
    pack_str(pk, x.str());
  } else if constexpr (is_record_v<T>) {
    pack_record(pk, x);
  } else {
    static_assert(!sizeof(T*), "no storage encoding for this type");
  }
}

/// Where decoding is, for error messages: `application.applicant.email`.
struct cursor {
  std::string path;
  std::string problem;
  uint32_t depth = 0;
  uint32_t max_depth = 32;

  bool fail(std::string what) {
    if (problem.empty())
      problem = std::move(what);
    return false;
  }
};

struct path_guard {
  cursor& c;
  size_t old_size;
  path_guard(cursor& c, std::string_view name) : c(c), old_size(c.path.size()) {
    if (!c.path.empty())
      c.path += '.';
    c.path.append(name);
  }
  ~path_guard() {
    if (c.problem.empty())
      c.path.resize(old_size);
  }
};

/// Stored times and durations lie within +-8.64e15 ms (+-100,000,000 days,
/// the range of ECMAScript's Date): far beyond any date the domain makes,
/// and far enough from int64's ends that adding the domain's durations to
/// them or rendering them as calendar dates cannot overflow.
constexpr int64_t max_stored_ms = 8'640'000'000'000'000;

inline bool read_str(const msgpack::object& o, std::string_view& out) {
  if (o.type != msgpack::type::STR)
    return false;
  out = std::string_view{o.via.str.ptr, o.via.str.size};
  return true;
}

template <class T>
bool unpack_value(const msgpack::object& o, T& x, cursor& c);

template <class T>
bool unpack_value(const msgpack::object& o, std::vector<T>& xs, cursor& c) {
  if (o.type != msgpack::type::ARRAY)
    return c.fail("expected an array");
  if (++c.depth > c.max_depth)
    return c.fail("nested too deeply");
  xs.clear();
  xs.reserve(o.via.array.size);
  for (uint32_t i = 0; i < o.via.array.size; ++i) {
    path_guard g{c, "[" + std::to_string(i) + "]"};
    T x{};
    if (!unpack_value(o.via.array.ptr[i], x, c))
      return false;
    xs.push_back(std::move(x));
  }
  --c.depth;
  return true;
}

inline bool unpack_value(const msgpack::object& o,
                         std::map<std::string, std::string>& xs, cursor& c) {
  if (o.type != msgpack::type::MAP)
    return c.fail("expected a map");
  xs.clear();
  for (uint32_t i = 0; i < o.via.map.size; ++i) {
    std::string_view k, v;
    if (!read_str(o.via.map.ptr[i].key, k)
        || !read_str(o.via.map.ptr[i].val, v))
      return c.fail("expected string keys and values");
    xs.insert_or_assign(std::string{k}, std::string{v});
  }
  return true;
}

template <class T>
bool unpack_int(const msgpack::object& o, T& x, cursor& c) {
  if (o.type == msgpack::type::POSITIVE_INTEGER) {
    if (o.via.u64 > static_cast<uint64_t>(std::numeric_limits<T>::max()))
      return c.fail("integer out of range");
    x = static_cast<T>(o.via.u64);
    return true;
  }
  if (o.type == msgpack::type::NEGATIVE_INTEGER) {
    if constexpr (std::is_signed_v<T>) {
      if (o.via.i64 < static_cast<int64_t>(std::numeric_limits<T>::min()))
        return c.fail("integer out of range");
      x = static_cast<T>(o.via.i64);
      return true;
    } else {
      return c.fail("expected a non-negative integer");
    }
  }
  return c.fail("expected an integer");
}

template <class T>
bool unpack_record(const msgpack::object& o, T& x, cursor& c) {
  if (o.type != msgpack::type::MAP)
    return c.fail("expected a map");
  if (++c.depth > c.max_depth)
    return c.fail("nested too deeply");
  bool have_version = false;
  auto fs = T::fields(x);
  for (uint32_t i = 0; i < o.via.map.size; ++i) {
    const auto& kv = o.via.map.ptr[i];
    std::string_view key;
    if (!read_str(kv.key, key))
      return c.fail("expected string keys");
    if (key == "_v") {
      uint32_t v = 0;
      path_guard g{c, "_v"};
      if (!unpack_int(kv.val, v, c))
        return false;
      if (v > T::schema_version)
        return c.fail("schema version " + std::to_string(v)
                      + " is newer than this build's "
                      + std::to_string(T::schema_version));
      have_version = true;
      continue;
    }
    bool ok = true;
    std::apply(
      [&](auto&... f) {
        // Unknown keys match no field and are skipped.
        ((ok = ok
               && (key != f.name
                   || [&] {
                        path_guard g{c, f.name};
                        return unpack_value(kv.val, f.value, c);
                      }())),
         ...);
      },
      fs);
    if (!ok)
      return false;
  }
  if (!have_version)
    return c.fail("missing schema version _v");
  --c.depth;
  return true;
}

template <class T>
bool unpack_value(const msgpack::object& o, T& x, cursor& c) {
  if constexpr (std::is_same_v<T, bool>) {
    if (o.type != msgpack::type::BOOLEAN)
      return c.fail("expected a boolean");
    x = o.via.boolean;
    return true;
  } else if constexpr (std::is_integral_v<T>) {
    return unpack_int(o, x, c);
  } else if constexpr (is_named_enum<T>::value) {
    std::string_view str;
    if (!read_str(o, str))
      return c.fail("expected a name");
    if (!from_string(str, x))
      return c.fail("unknown value '" + std::string{str.substr(0, 40)} + "'");
    return true;
  } else if constexpr (std::is_same_v<T, time_point>) {
    int64_t ms = 0;
    if (!unpack_int(o, ms, c))
      return false;
    if (ms < -max_stored_ms || ms > max_stored_ms)
      return c.fail("time out of range");
    x = from_unix_ms(ms);
    return true;
  } else if constexpr (std::is_same_v<T, duration>) {
    int64_t ms = 0;
    if (!unpack_int(o, ms, c))
      return false;
    if (ms < -max_stored_ms || ms > max_stored_ms)
      return c.fail("duration out of range");
    x = duration{ms};
    return true;
  } else if constexpr (std::is_same_v<T, std::string>) {
    std::string_view str;
    if (!read_str(o, str))
      return c.fail("expected a string");
    x.assign(str.data(), str.size());
    return true;
  } else if constexpr (is_basic_id<T>::value) {
    std::string_view str;
    if (!read_str(o, str))
      return c.fail("expected an id string");
    if (!x.assign(str))
      return c.fail("malformed id");
    return true;
  } else if constexpr (is_record_v<T>) {
    return unpack_record(o, x, c);
  } else {
    static_assert(!sizeof(T*), "no storage decoding for this type");
  }
}

caf::error decode_error(std::string_view record, const cursor& c);

} // namespace codec_detail

/// Encodes a record for storage.
template <class T>
std::string encode(const T& x) {
  static_assert(is_record_v<T>, "encode() takes records");
  msgpack::sbuffer buf;
  codec_detail::packer pk{buf};
  codec_detail::pack_record(pk, x);
  return std::string{buf.data(), buf.size()};
}

/// Decodes a record from a msgpack object (e.g. one element of a larger
/// document). Never throws.
template <class T>
caf::expected<T> decode_object(const msgpack::object& obj,
                               const decode_limits& limits = {}) {
  static_assert(is_record_v<T>, "decode() yields records");
  T result{};
  codec_detail::cursor c;
  c.max_depth = limits.max_depth;
  if (!codec_detail::unpack_record(obj, result, c))
    return codec_detail::decode_error(T::record_name, c);
  return result;
}

/// Decodes a record from untrusted bytes. Never throws; errors are
/// `errc::corrupt_data`, `errc::too_large` or `errc::schema_too_new`, with
/// the field path in the message.
template <class T>
caf::expected<T> decode(std::string_view bytes,
                        const decode_limits& limits = {}) {
  caf::error err;
  auto oh = unpack_bounded(bytes, limits, err);
  if (err)
    return err;
  return decode_object<T>(oh.get(), limits);
}

} // namespace tenure
