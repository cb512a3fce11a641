#pragma once

#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

#include <caf/meta/type_name.hpp>

namespace tenure {

/// One named member of a record, as listed by the record's `fields()`.
template <class T>
struct field_ref {
  const char* name;
  T& value;
};

template <class T>
constexpr field_ref<T> field(const char* name, T& value) noexcept {
  return {name, value};
}

/// A record is a plain struct with
/// - `static constexpr const char* record_name` (its CAF type name),
/// - `static constexpr uint32_t schema_version` (bumped when a field changes
///   meaning; adding a field needs no bump, see messages/codec.hpp),
/// - `template <class Self> static auto fields(Self& x)` returning a tuple of
///   `field_ref`s, in wire order.
/// The one field list drives the CAF wire format (`inspect`), the msgpack
/// storage format and equality, so they cannot drift apart.
template <class T, class = void>
struct is_record : std::false_type {};

template <class T>
struct is_record<T, std::void_t<decltype(T::record_name),
                                decltype(T::schema_version)>>
  : std::true_type {};

template <class T>
constexpr bool is_record_v = is_record<T>::value;

/// CAF 0.17 inspection of every record: the type name, then the fields.
template <class Inspector, class T>
std::enable_if_t<is_record_v<T>, typename Inspector::result_type>
inspect(Inspector& f, T& x) {
  return std::apply(
    [&](auto... fs) {
      return f(caf::meta::type_name(T::record_name), fs.value...);
    },
    T::fields(x));
}

namespace detail {

template <class Tuple1, class Tuple2, size_t... Is>
bool fields_equal(const Tuple1& x, const Tuple2& y,
                  std::index_sequence<Is...>) {
  return ((std::get<Is>(x).value == std::get<Is>(y).value) && ...);
}

} // namespace detail

/// Field-wise equality of records.
template <class T>
std::enable_if_t<is_record_v<T>, bool> operator==(const T& x, const T& y) {
  auto fx = T::fields(x);
  auto fy = T::fields(y);
  return detail::fields_equal(
    fx, fy, std::make_index_sequence<std::tuple_size_v<decltype(fx)>>{});
}

template <class T>
std::enable_if_t<is_record_v<T>, bool> operator!=(const T& x, const T& y) {
  return !(x == y);
}

} // namespace tenure
