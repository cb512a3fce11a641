#include "messages/codec.hpp"

#include <algorithm>
#include <exception>

namespace tenure {

msgpack::object_handle unpack_bounded(std::string_view bytes,
                                      const decode_limits& limits,
                                      caf::error& err) {
  if (bytes.size() > limits.max_bytes) {
    err = make_error(errc::too_large,
                     "encoded record of " + std::to_string(bytes.size())
                       + " bytes exceeds the limit of "
                       + std::to_string(limits.max_bytes));
    return {};
  }
  if (bytes.empty()) {
    err = make_error(errc::corrupt_data, "empty record bytes");
    return {};
  }
  // Every array element or map entry takes at least one byte, so no honest
  // count exceeds the input size: capping by it stops length prefixes such
  // as `dd ff 00 00 00` from allocating gigabytes (msgpack-c issue #1013).
  auto cap = static_cast<std::size_t>(
    std::min<uint64_t>(bytes.size(), limits.max_elements));
  msgpack::unpack_limit limit{cap, cap, bytes.size(), bytes.size(), cap,
                              limits.max_depth};
  std::size_t offset = 0;
  try {
    auto oh = msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr,
                              nullptr, limit);
    if (offset != bytes.size()) {
      err = make_error(errc::corrupt_data,
                       std::to_string(bytes.size() - offset)
                         + " trailing bytes after the record");
      return {};
    }
    return oh;
  } catch (const msgpack::insufficient_bytes&) {
    err = make_error(errc::corrupt_data, "truncated record");
  } catch (const msgpack::depth_size_overflow&) {
    err = make_error(errc::corrupt_data, "record nested too deeply");
  } catch (const msgpack::size_overflow& e) {
    err = make_error(errc::corrupt_data,
                     std::string{"record exceeds a decode limit: "} + e.what());
  } catch (const std::bad_alloc&) {
    err = make_error(errc::too_large, "record too large to decode");
  } catch (const std::exception& e) {
    err = make_error(errc::corrupt_data,
                     std::string{"malformed record: "} + e.what());
  }
  return {};
}

namespace codec_detail {

caf::error decode_error(std::string_view record, const cursor& c) {
  std::string msg = "cannot decode ";
  msg += record;
  if (!c.path.empty()) {
    msg += " at ";
    msg += c.path;
  }
  msg += ": ";
  msg += c.problem;
  auto code = c.problem.rfind("schema version", 0) == 0 ? errc::schema_too_new
                                                         : errc::corrupt_data;
  return make_error(code, std::move(msg));
}

} // namespace codec_detail

} // namespace tenure
