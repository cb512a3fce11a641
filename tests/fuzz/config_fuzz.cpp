// Fuzz target: the node's configuration (nodes/settings.hpp) and the files
// it names. The first byte picks the file, the rest is its text:
// - 0: tenured.conf, through `load_settings`, in a scratch directory that
//   holds copies of config/*.json (so a good conf goes on to load them);
// - 1..4: catalog.json, policies.json, eligibility.json, programs.json,
//   through `load_data_files` with the other files of config/;
// - 5: templates.json (`template_set::parse`), then every template rendered;
// - 6: routing.json (`routing_table::parse`), then every category triaged;
// - 7: the API keys file (`key_ring::parse`), then a token authorized.
//
// Files are written to one scratch directory made at start (under $TMPDIR)
// and removed at exit; scripts/fuzz also runs each target in a scratch
// $TMPDIR of its own that it removes, so a crash leaves nothing behind.
//
// Oracles besides the sanitizers: loading fails with
// `errc::config_invalid` only, and never throws.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <system_error>

#include "actors/support_routing.hpp"
#include "actors/templates.hpp"
#include "messages/errc.hpp"
#include "nodes/auth.hpp"
#include "nodes/settings.hpp"

using namespace tenure;
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "config_fuzz: %s %.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void check_error(const caf::error& err) {
  if (err != errc::config_invalid)
    fail("unexpected error code:", error_message(err));
}

/// config/ of the source tree: $TENURE_SOURCE_DIR/config, else found from
/// this file's path (tests/fuzz/config_fuzz.cpp).
fs::path config_dir() {
  if (auto dir = std::getenv("TENURE_SOURCE_DIR"))
    return fs::path{dir} / "config";
  return fs::path{__FILE__}.parent_path().parent_path().parent_path()
         / "config";
}

struct scratch {
  fs::path dir;
  /// The real configuration, loaded once.
  settings real;
  program_texts texts;
  std::map<program, program_contact> contacts;

  scratch() {
    auto tmp = std::getenv("TMPDIR");
    std::string pattern
      = std::string{tmp && *tmp ? tmp : "/tmp"} + "/tenure-config-fuzz-XXXXXX";
    if (!mkdtemp(pattern.data()))
      fail("cannot make a scratch directory");
    dir = pattern;
    auto src = config_dir();
    for (auto name : {"catalog.json", "policies.json", "eligibility.json",
                      "programs.json", "templates.json", "routing.json"})
      fs::copy_file(src / name, dir / name);
    auto loaded = load_settings((src / "tenured.conf").string());
    if (!loaded)
      fail("config/tenured.conf does not load:", error_message(loaded.error()));
    real = std::move(*loaded);
    texts = program_texts_of(real);
    for (auto& [p, info] : real.programs)
      contacts[p] = program_contact{info.inbox, info.support_macro};
  }

  ~scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  std::string write(const char* name, std::string_view text) const {
    auto path = (dir / name).string();
    std::ofstream out{path, std::ios::binary | std::ios::trunc};
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out)
      fail("cannot write", path);
    return path;
  }
};

scratch* state = nullptr;

void conf(std::string_view text) {
  auto s = load_settings(state->write("tenured.conf", text));
  if (!s)
    check_error(s.error());
}

void data_file(size_t which, std::string_view text) {
  auto base = state->real;
  auto path = state->write("fuzz.json", text);
  std::string* files[] = {&base.files.catalog, &base.files.policies,
                          &base.files.eligibility, &base.files.programs};
  *files[which] = path;
  auto s = load_data_files(std::move(base));
  if (!s)
    check_error(s.error());
}

void templates(std::string_view text) {
  auto set = template_set::parse(text, "templates.json", state->texts);
  if (!set) {
    check_error(set.error());
    return;
  }
  for (auto& name : set->names()) {
    for (auto p : {program::edu, program::oss, program::startups}) {
      notification n;
      n.template_name = name;
      n.program = p;
      n.recipient = "ada@example.org";
      for (auto& param : set->params_of(name))
        n.params[param] = "x";
      (void)set->render(n);
    }
  }
}

void routing(std::string_view text) {
  auto table = routing_table::parse(text, "routing.json", state->contacts);
  if (!table) {
    check_error(table.error());
    return;
  }
  for (auto& category : table->categories()) {
    triage_request req;
    req.program = program::oss;
    req.category = category;
    (void)table->triage(req);
  }
  (void)table->classify(text.substr(0, 256));
}

void keys(std::string_view text) {
  auto ring = key_ring::parse(text, "keys.json");
  if (!ring) {
    check_error(ring.error());
    return;
  }
  (void)ring->authorize("Bearer 0123456789abcdef", "admin");
}

void cleanup() {
  delete state;
  state = nullptr;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  state = new scratch;
  std::atexit(cleanup);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  std::string_view text{reinterpret_cast<const char*>(data) + 1, size - 1};
  switch (data[0] % 8) {
    case 0:
      conf(text);
      break;
    case 5:
      templates(text);
      break;
    case 6:
      routing(text);
      break;
    case 7:
      keys(text);
      break;
    default:
      data_file(data[0] % 8 - 1u, text);
  }
  return 0;
}
