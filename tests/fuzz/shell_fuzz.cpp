// Fuzz target: the operator shell (nodes/shell.hpp). The first byte picks
// what reads the rest:
// - 0..3: a command line (`split_words`, `parse`), plus completion of its
//   last word and `help` of its words;
// - 4: the node's answer to a command, formatted for humans and as JSON
//   (the second byte picks the command);
// - 5: a coupon file cut into import chunks.
//
// Oracles besides the sanitizers: parsing never throws; a parsed line gives
// requests the node can take: `GET` or `POST` to a `/v1/` target of
// printable ASCII (path segments and queries are percent-encoded), a JSON
// body on each `POST`; chunks put together give the file back.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodes/shell.hpp"

using namespace tenure;

namespace {

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "shell_fuzz: %s %.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void check_request(const shell::request& r) {
  if (r.method != "GET" && r.method != "POST")
    fail("request with method", r.method);
  if (r.target.compare(0, 4, "/v1/") != 0)
    fail("request target outside /v1/:", r.target);
  for (unsigned char ch : r.target)
    if (ch <= 0x20 || ch >= 0x7f)
      fail("request target with a raw blank or non-ASCII byte:", r.target);
  if (r.method == "POST") {
    if (r.content_type != "application/json" || r.idempotency_key.empty())
      fail("POST without JSON content type or idempotency key");
    auto body = nlohmann::json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
      fail("POST body is not a JSON object:", r.body);
  } else if (!r.body.empty()) {
    fail("GET with a body");
  }
}

void command_line(const std::string& line) {
  shell::settings cfg;
  cfg.operator_name = "fuzz";
  shell::plan p;
  std::string error;
  if (shell::parse(line, cfg, p, error)) {
    using kind = shell::plan::kind;
    bool sends = p.what == kind::single || p.what == kind::paged
                 || p.what == kind::multi;
    if (sends && p.requests.empty())
      fail("a command that sends nothing");
    if (p.what == kind::paged && p.limit == 0)
      fail("a listing of no items");
    for (auto& r : p.requests)
      check_request(r);
  } else if (error.empty()) {
    fail("refused without a message");
  }
  std::vector<std::string> words;
  std::string split_error;
  if (!shell::split_words(line, words, split_error) || words.empty())
    return;
  auto prefix = words.back();
  words.pop_back();
  (void)shell::complete(words, prefix);
  std::string help;
  (void)shell::help_text(prefix, help);
}

void answer(std::string_view input) {
  if (input.empty())
    return;
  auto& cmds = shell::commands();
  auto& command = cmds[static_cast<uint8_t>(input[0]) % cmds.size()].name;
  std::string body{input.substr(1)};
  (void)shell::format_human(command, body);
  (void)shell::format_json(body);
}

void chunks(std::string_view input) {
  if (input.empty())
    return;
  size_t max_lines = static_cast<uint8_t>(input[0]) % 8 + 1;
  std::string text{input.substr(1)};
  auto parts = shell::split_chunks(text, max_lines);
  std::string joined;
  size_t lines = 0;
  for (auto& part : parts) {
    if (part.empty() || shell::count_lines(part) > max_lines)
      fail("a chunk is empty or too long");
    lines += shell::count_lines(part);
    joined += part;
  }
  if (joined != text || lines != shell::count_lines(text))
    fail("chunks do not give the file back");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  std::string_view rest{reinterpret_cast<const char*>(data) + 1, size - 1};
  switch (data[0] % 6) {
    case 4:
      answer(rest);
      break;
    case 5:
      chunks(rest);
      break;
    default:
      command_line(std::string{rest});
  }
  return 0;
}
