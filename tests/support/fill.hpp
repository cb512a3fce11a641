#pragma once

#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "messages/enums.hpp"
#include "messages/id.hpp"
#include "messages/record.hpp"
#include "messages/time.hpp"

/// Test support: sets every field of a record, recursively, to a value that
/// differs from its default and depends on `seed`, so a codec that drops or
/// mixes up any field fails its round trip -- including fields added later.
namespace tenure::test {

template <class T>
struct is_id : std::false_type {};
template <class Tag>
struct is_id<basic_id<Tag>> : std::true_type {};

template <class T>
void fill(T& x, unsigned& seed);

template <class T>
void fill(std::vector<T>& xs, unsigned& seed) {
  xs.resize(2);
  for (auto& x : xs)
    fill(x, seed);
}

inline void fill(std::map<std::string, std::string>& xs, unsigned& seed) {
  auto k = "k" + std::to_string(++seed);
  xs[k] = "v" + std::to_string(++seed);
  xs["code"] = "secret-" + std::to_string(++seed);
}

template <class T>
void fill(T& x, unsigned& seed) {
  ++seed;
  if constexpr (std::is_same_v<T, bool>) {
    x = !x;
  } else if constexpr (std::is_integral_v<T>) {
    x = static_cast<T>(seed % 100 + 1);
  } else if constexpr (is_named_enum<T>::value) {
    constexpr auto n = std::size(enum_names<T>::values);
    x = static_cast<T>((static_cast<size_t>(x) + 1 + seed % (n - 1)) % n);
  } else if constexpr (std::is_same_v<T, time_point>) {
    x = from_unix_ms(1'700'000'000'000 + seed * 1000 + 7);
  } else if constexpr (std::is_same_v<T, duration>) {
    x = duration{seed * 60'000};
  } else if constexpr (std::is_same_v<T, std::string>) {
    x = "s" + std::to_string(seed) + " \xc3\xa9";
  } else if constexpr (is_id<T>::value) {
    static id_generator gen{42};
    x = gen.template next<T>(from_unix_ms(1'700'000'000'000 + seed));
  } else if constexpr (is_record_v<T>) {
    std::apply([&](auto... fs) { (fill(fs.value, seed), ...); },
               T::fields(x));
  } else {
    static_assert(!sizeof(T*), "fill: unsupported field type");
  }
}

/// A filled `T`.
template <class T>
T filled(unsigned seed = 1) {
  T x{};
  fill(x, seed);
  return x;
}

} // namespace tenure::test
