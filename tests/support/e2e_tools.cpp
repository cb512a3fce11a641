#include "tests/support/e2e_tools.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <cctype>
#include <cstdio>
#include <csignal>
#include <ctime>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

namespace tenure::test {

std::string to_hex(const unsigned char* data, size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0x0f];
  }
  return out;
}

std::string sha256_hex(const std::string& data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return to_hex(out, sizeof(out));
}

std::string hmac_sha256_hex(const std::string& key, const std::string& msg) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out,
       &len);
  return to_hex(out, len);
}

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1)
    return {};
  return to_hex(raw.data(), raw.size());
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return std::string{std::istreambuf_iterator<char>{in}, {}};
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b])))
    ++b;
  return s.substr(b);
}

std::optional<int64_t> parse_iso_ms(const std::string& text) {
  std::tm tm{};
  int ms = 0;
  char rest[8] = {};
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%7s", &tm.tm_year,
                  &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                  rest)
      != 7)
    return std::nullopt;
  std::string tail = rest;
  if (tail.size() == 5 && tail[0] == '.' && tail[4] == 'Z')
    ms = std::stoi(tail.substr(1, 3));
  else if (tail != "Z")
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

std::string iso_ms(int64_t unix_ms) {
  auto secs = static_cast<time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(unix_ms % 1000));
  return buf;
}

std::string tenured_bin() {
  return build_dir() + "/nodes/tenured";
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0
      && ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

namespace {

void write_private(const std::string& path, const std::string& text) {
  write_file(path, text);
  ::chmod(path.c_str(), 0600);
}

std::string replaced(std::string text, const std::string& from,
                     const std::string& to) {
  auto pos = text.find(from);
  if (pos == std::string::npos)
    throw std::runtime_error("configuration has no '" + from + "'");
  return text.replace(pos, from.size(), to);
}

} // namespace

cluster_files::cluster_files(const std::string& dir,
                             std::vector<std::string> member_names)
  : root(dir)
  , names(std::move(member_names)) {
  std::filesystem::copy(source_dir() + "/config", root + "/config",
                        std::filesystem::copy_options::recursive);
  admin_token = random_hex(32);
  write_private(root + "/keys.json",
                R"({"keys": [{"name": "cluster-admin", "token_sha256": ")"
                  + sha256_hex(admin_token) + R"(", "scopes": ["admin"]}]})");
  callback_secret = random_hex(32);
  write_private(root + "/cb.secret", callback_secret + "\n");
  secret = random_hex(48);
  write_private(root + "/config/cluster.secret", secret + "\n");
  std::set<int> taken;
  auto fresh = [&] {
    for (;;) {
      auto p = free_port();
      if (p == 0 || taken.insert(p).second)
        return p;
    }
  };
  for (size_t i = 0; i < names.size(); ++i) {
    http_ports.push_back(fresh());
    shell_ports.push_back(fresh());
  }
  for (auto& n : names) {
    cluster_ports.push_back(fresh());
    members += std::string(members.empty() ? "" : ", ") + "\"" + n
               + "@127.0.0.1:" + std::to_string(cluster_ports.back()) + "\"";
  }
  config = root + "/config/tenured.conf";
  auto text = read_file(config);
  text = replaced(text, "members = []", "members = [" + members + "]");
  text
    = replaced(text, "secret-file = \"\"", "secret-file = \"cluster.secret\"");
  text = replaced(text, "keys-file = \"\"",
                  "keys-file = \"" + root + "/keys.json\"");
  text = replaced(text, "callback-secret-file = \"\"",
                  "callback-secret-file = \"" + root + "/cb.secret\"");
  write_file(config, text);
}

std::vector<std::string> cluster_files::node_flags(size_t i) const {
  return {"--node",       names.at(i),
          "--http-port",  std::to_string(http_ports.at(i)),
          "--shell-port", std::to_string(shell_ports.at(i))};
}

std::string cluster_files::variant(
  const std::string& name,
  std::vector<std::pair<std::string, std::string>> edits) const {
  auto text = read_file(config);
  for (auto& [from, to] : edits)
    text = replaced(text, from, to);
  auto path = root + "/config/" + name;
  write_file(path, text);
  return path;
}

std::string default_config() {
  return source_dir() + "/config/tenured.conf";
}

namespace {

std::vector<std::string> node_args(const std::string& data,
                                   std::vector<std::string> extra,
                                   const std::string& config) {
  std::vector<std::string> args{tenured_bin(), "--config",     config,
                                "--data",      data,           "--http-port",
                                "0",           "--shell-port", "0"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

} // namespace

tenured_node::tenured_node(const std::string& data,
                           std::vector<std::string> extra,
                           const std::string& config)
  : proc(node_args(data, std::move(extra), config)) {
  line = proc.wait_for_output("tenured: listening", std::chrono::seconds(60));
  if (!line)
    return;
  std::smatch m;
  std::regex http{"http=127\\.0\\.0\\.1:([0-9]+)"};
  std::regex sh{"shell=(127\\.0\\.0\\.1:[0-9]+)"};
  if (std::regex_search(*line, m, http))
    port = std::stoi(m[1]);
  if (std::regex_search(*line, m, sh))
    shell = m[1];
}

std::optional<int> tenured_node::stop() {
  proc.signal(SIGTERM);
  return proc.wait(std::chrono::seconds(30));
}

} // namespace tenure::test
