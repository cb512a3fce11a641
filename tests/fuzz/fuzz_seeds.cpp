// Writes the seed corpora of the fuzz targets from the real encoders and the
// real configuration, so that the seeds stay valid as records grow:
//   build-fuzz/tests/fuzz/fuzz_seeds tests/fuzz/corpus
// Each seed starts with the byte that picks the decoder in its target (see
// the comment at the top of each *_fuzz.cpp). Files are named by what they
// hold; crash inputs kept as regressions (`regress-*`) are not touched.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <tuple>

#include <nlohmann/json.hpp>

#include "messages/codec.hpp"
#include "messages/commands.hpp"
#include "messages/event_codec.hpp"
#include "messages/events.hpp"
#include "messages/records.hpp"
#include "nodes/json_codec.hpp"
#include "nodes/signature.hpp"
#include "storage/keys.hpp"
#include "tests/support/applications.hpp"
#include "tests/support/fill.hpp"
#include "tests/support/record_types.hpp"

using namespace tenure;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

fs::path out_dir;

void put(const std::string& target, const std::string& name, char pick,
         std::string_view bytes) {
  auto dir = out_dir / target;
  fs::create_directories(dir);
  std::ofstream out{dir / name, std::ios::binary | std::ios::trunc};
  out.put(pick);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void put_raw(const std::string& target, const std::string& name,
             std::string_view bytes) {
  auto dir = out_dir / target;
  fs::create_directories(dir);
  std::ofstream out{dir / name, std::ios::binary | std::ios::trunc};
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string short_name(const char* record_name) {
  std::string_view name = record_name;
  return std::string{name.substr(name.find("::") + 2)};
}

// -- record_fuzz
// ----------------------------------------------------------------

using test::record_types;

constexpr size_t record_count = std::tuple_size_v<record_types>;

template <size_t... Is>
void record_seeds(std::index_sequence<Is...>) {
  (put("record",
       short_name(std::tuple_element_t<Is, record_types>::record_name),
       static_cast<char>(Is),
       encode(test::filled<std::tuple_element_t<Is, record_types>>())),
   ...);
}

void record_seeds() {
  record_seeds(std::make_index_sequence<record_count>{});
  auto at = from_unix_ms(1'795'392'000'000);
  auto app = test::filled<application>();
  // Envelopes of a few events of each entity kind.
  auto envelope = [&](const std::string& name, const auto& event_variant) {
    auto env = wrap_event(app.id.str(), 3, at, event_variant);
    put("record", "envelope-" + name, static_cast<char>(record_count),
        encode(env));
  };
  envelope("app_submitted", application_event{test::filled<app_submitted>()});
  envelope("app_redeemed", application_event{test::filled<app_redeemed>()});
  envelope("sub_renewed", subscription_event{test::filled<sub_renewed>()});
  envelope("case_opened", case_event{test::filled<case_opened>()});
  // A snapshots row: be64(version) + the state.
  put("record", "snapshot-application", static_cast<char>(record_count + 1),
      storage::be64(app.version ? app.version : 1) + encode(app));
  // A timers row and its index row: key length, key, value.
  auto t = test::filled<timer>();
  auto key = storage::timer_key(t.due, t.owner, t.id.str());
  put("record", "timer-row", static_cast<char>(record_count + 2),
      std::string(1, static_cast<char>(key.size())) + key + encode(t));
  auto index_key = storage::timer_index_key(t.entity, t.kind, t.id.str());
  put("record", "timer-index-row", static_cast<char>(record_count + 3),
      std::string(1, static_cast<char>(index_key.size())) + index_key
        + storage::timer_index_value(t.due, t.owner));
}

// -- json_body_fuzz
// -------------------------------------------------------------

using body_types = test::api_body_types;

constexpr size_t body_count = std::tuple_size_v<body_types>;

template <size_t... Is>
void body_seeds(std::index_sequence<Is...>) {
  (put("json_body",
       short_name(std::tuple_element_t<Is, body_types>::record_name),
       static_cast<char>(Is),
       json_codec::to_json(test::filled<std::tuple_element_t<Is, body_types>>())
         .dump()),
   ...);
}

void json_seeds() {
  body_seeds(std::make_index_sequence<body_count>{});
  // Submissions as the end-to-end tests send them.
  for (auto o : {&test::edu_saas, &test::oss_saas, &test::oss_self_managed,
                 &test::startups_saas})
    put("json_body", "submit-" + o->sku, 0,
        test::application_body(*o, "ada@" + o->program + ".example.org",
                               o->program + "-org")
          .dump());
  put("json_body", "fields-clock-and-plan", static_cast<char>(body_count),
      R"({"advance":"30d","set":"2026-11-23T10:00:00.250Z",)"
      R"("members":["a@127.0.0.1:4000","b@127.0.0.1:4001"],"limit":5,)"
      R"("decision":"approve","curable":false,"program":"oss",)"
      R"("application_id":"app_01JD3Q0V8C6X2E1D0PZ5K3W9YB",)"
      R"("params":{"name":"Ada"}})");
}

// -- coupon_csv_fuzz
// ------------------------------------------------------------

void csv_seeds() {
  put_raw("coupon_csv", "plain", "AAAA-1111\nBBBB-2222\nCCCC-3333\n");
  put_raw("coupon_csv", "crlf-bom-quotes",
          "\xEF\xBB\xBF"
          "AAAA-1111\r\n\"BBBB-2222\"\r\n  CCCC_3333  \r\n");
  put_raw("coupon_csv", "blanks-duplicates-junk",
          "AAAA-1111\n\nAAAA-1111\ncode,extra\nno spaces\nabc\nDDDD-4444");
}

// -- signature_fuzz
// -------------------------------------------------------------

void signature_seeds() {
  const std::string secret = "whsec_fuzz_0123456789abcdef";
  const std::string body
    = R"({"event_id":"evt_1","application_id":)"
      R"("app_01JD3Q0V8C6X2E1D0PZ5K3W9YB","result":"verified"})";
  int64_t t = 1'795'392'000;
  put_raw("signature", "one-v1",
          "t=" + std::to_string(t) + ",v1=" + sign_webhook(secret, t, body)
            + "\n" + body);
  put_raw("signature", "rotation-two-v1-and-v0",
          "t=" + std::to_string(t)
            + ", v0=abc,v1=" + sign_webhook("old", t, body)
            + ",v1=" + sign_webhook(secret, t, body) + "\n" + body);
  put_raw("signature", "stale",
          "t=1600000000,v1=" + std::string(64, 'a') + "\n{}");
}

// -- shell_fuzz
// -----------------------------------------------------------------

void shell_seeds() {
  const char* lines[] = {
    "app show app_01JD3Q0V8C6X2E1D0PZ5K3W9YB",
    "app find --state booked --program oss --email ada@example.org --limit 20",
    "app withdraw app_01 'duplicate entry' --as alice",
    "sub register --org \"Paid Corp\" --email it@paid.example --seats 10 "
    "--start 2026-01-01 --end=2027-01-01 --sku edu-saas-ultimate-1y",
    "sub usage sub_01 12 --json",
    "review docs app_01 proof of funding",
    "coupon import edu codes.csv",
    "coupon stock",
    "case open sub_01 --not-curable license misuse",
    "emergency issue sub_01 25 ops@example.org https://tickets.example/1 "
    "--days 5",
    "triage oss --text \"my code was already used\"",
    "timers 12h --owner node-a --limit 5",
    "cluster plan a@127.0.0.1:4000,b@127.0.0.1:4001 --limit 10",
    "clock advance 30d",
    "help app",
  };
  int i = 0;
  for (auto line : lines)
    put("shell", "line-" + std::to_string(i++), 0, line);
  put("shell", "answer-app-show", 4,
      std::string(1, '\0')
        + R"({"id":"app_01","state":"booked","program":"oss",)"
          R"("applicant":{"email":"ada@example.org"},"history":[)"
          R"({"seq":1,"at":"2026-11-23T10:00:00.000Z","type":"app_submitted",)"
          R"("summary":"seats=25"}]})");
  put("shell", "answer-listing", 4,
      std::string(1, '\x01')
        + R"({"items":[{"id":"app_01","state":"booked"}],"next_cursor":"x"})");
  put("shell", "chunks", 5,
      "\x02"
      "AAAA\nBBBB\nCCCC\nDDDD\nEEEE");
}

// -- config_fuzz
// ----------------------------------------------------------------

std::string read(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

void config_seeds(const fs::path& config) {
  put("config", "tenured.conf", 0, read(config / "tenured.conf"));
  put("config", "tenured-minimal.conf", 0,
      "tenure {\n  node {\n    http-port = 9000\n    clock = \"manual\"\n"
      "  }\n  timers {\n    poll = \"1s\"\n  }\n}\n");
  const char* data[] = {"catalog.json",  "policies.json",  "eligibility.json",
                        "programs.json", "templates.json", "routing.json"};
  for (int i = 0; i < 6; ++i)
    put("config", data[i], static_cast<char>(i + 1), read(config / data[i]));
  put("config", "keys.json", 7,
      R"({"keys":[{"name":"admin","token_sha256":")" + std::string(64, 'a')
        + R"(","scopes":["admin"]},{"name":"billing","token_sha256":")"
        + std::string(64, 'b') + R"(","scopes":["billing","read"]}]})");
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds CORPUS-DIR (tests/fuzz/corpus)\n");
    return 2;
  }
  out_dir = fs::absolute(argv[1]).lexically_normal();
  if (out_dir.filename().empty())
    out_dir = out_dir.parent_path();
  record_seeds();
  json_seeds();
  csv_seeds();
  signature_seeds();
  shell_seeds();
  config_seeds(out_dir.parent_path().parent_path().parent_path() / "config");
  return 0;
}
