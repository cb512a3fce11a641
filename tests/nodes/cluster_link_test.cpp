// Who a cluster member trusts (issue 6): real tenured processes on loopback.
// Members that share the secret link and forward; a node with another secret
// or outside the member list is refused and logged, and requests for its
// shard fail with the clear 503; TLS links work and a plain peer cannot join
// a TLS cluster; a TLS member refuses a peer without a certificate and a
// plain CAF client at the transport; bad cluster configuration stops the
// node at start.

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "actors/ownership.hpp"
#include "tests/support/e2e_tools.hpp"
#include "tests/support/process.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using tenure::test::child_process;
using tenure::test::cluster_files;
using tenure::test::eventually;
using tenure::test::temp_dir;
using tenure::test::tenured_bin;
using tenure::test::tenured_node;

namespace {

struct answer {
  int status = 0;
  json body;
};

answer call(int port, const std::string& token, const std::string& method,
            const std::string& path, const json& body = nullptr) {
  httplib::Client cli{"127.0.0.1", port};
  cli.set_read_timeout(30, 0);
  httplib::Headers h{{"Authorization", "Bearer " + token}};
  auto res = method == "GET"
               ? cli.Get(path, h)
               : cli.Post(path, h, body.dump(), "application/json");
  if (!res)
    return {};
  return {res->status, json::parse(res->body, nullptr, false)};
}

/// Whether member `name` is reachable as the node at `port` sees it.
bool reachable(int port, const std::string& token, const std::string& name,
               std::string* error = nullptr) {
  auto r = call(port, token, "GET", "/v1/cluster");
  if (r.status != 200 || !r.body.contains("members"))
    return false;
  for (auto& m : r.body["members"])
    if (m.value("name", "") == name) {
      if (error)
        *error = m.value("error", "");
      return m.value("reachable", false);
    }
  return false;
}

json application(const std::string& tag) {
  auto site = "https://" + tag + ".startup.example";
  return json{{"program", "startups"},
              {"channel", "marketo"},
              {"applicant",
               {{"name", "Grace " + tag},
                {"email", "grace-" + tag + "@startup.example"},
                {"job_title", "CTO"},
                {"country", "DE"}}},
              {"organisation",
               {{"name", "Example Startup " + tag},
                {"country", "DE"},
                {"website", site}}},
              {"startup",
               {{"company_website", site},
                {"founded_year", 2023},
                {"employees", 12},
                {"funding_stage", "seed"}}},
              {"hosting", "saas"},
              {"seats", 5},
              {"support", "without"},
              {"term", "1y"}};
}

/// A tag whose organisation (`TAG.startup.example`) `owner` owns: an
/// organisation's applications are answered by the owner of
/// `org/<program>/<website host>`.
std::string org_owned_by(const std::vector<tenure::cluster_member>& members,
                         const std::string& owner, const std::string& tag) {
  auto own = tenure::ownership::make(members);
  for (int i = 0;; ++i) {
    auto t = tag + std::to_string(i);
    if (own->owner_of("org/startups/" + t + ".startup.example").name == owner)
      return t;
  }
}

/// README's openssl commands, run in `dir`: a CA (`CA.pem`, `CA.key`).
bool make_ca(const std::string& dir, const std::string& ca) {
  auto cmd = "cd '" + dir + "' && openssl req -x509 -newkey rsa:2048 -nodes "
             + "-days 30 -keyout " + ca + ".key -out " + ca
             + ".pem -subj '/CN=Tenure test " + ca + "' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

/// A certificate `NAME.pem` (key `NAME.key`) signed by CA `ca`.
bool make_cert(const std::string& dir, const std::string& ca,
               const std::string& name) {
  auto cmd = "cd '" + dir + "' && openssl req -newkey rsa:2048 -nodes -keyout "
             + name + ".key -out " + name + ".csr -subj '/CN=" + name
             + "' >/dev/null 2>&1 && openssl x509 -req -in " + name
             + ".csr -CA " + ca + ".pem -CAkey " + ca
             + ".key -CAcreateserial -days 30 -out " + name
             + ".pem >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

/// The cluster's configuration with TLS: `name`'s certificate, trusting `ca`.
std::string tls_config(const cluster_files& f, const std::string& dir,
                       const std::string& name, const std::string& ca) {
  return f.variant(
    name + "-" + ca + ".conf",
    {{"certificate = \"\"", "certificate = \"" + dir + "/" + name + ".pem\""},
     {"key = \"\"", "key = \"" + dir + "/" + name + ".key\""},
     {"cafile = \"\"", "cafile = \"" + dir + "/" + ca + ".pem\""}});
}

/// The value of one series in a Prometheus text body; -1 when absent.
double metric(const std::string& body, const std::string& series) {
  auto pos = body.find("\n" + series + " ");
  if (pos == std::string::npos)
    return -1;
  return std::stod(body.substr(pos + series.size() + 2));
}

/// What tests/support/caf_dial.cpp printed and how it ended.
struct dialed {
  std::optional<int> rc;
  std::string out;
  std::chrono::steady_clock::duration took;
};

/// Runs tests/support/caf_dial.cpp with `args` and waits for it.
dialed caf_dial(std::vector<std::string> args) {
  args.insert(args.begin(), TENURE_CAF_DIAL);
  auto started = std::chrono::steady_clock::now();
  child_process p{args};
  auto rc = p.wait(120s);
  return {rc, p.out() + p.err(), std::chrono::steady_clock::now() - started};
}

std::vector<tenure::cluster_member> members_of(const cluster_files& f) {
  std::vector<tenure::cluster_member> out;
  for (size_t i = 0; i < f.names.size(); ++i)
    out.push_back(
      {f.names[i], "127.0.0.1", static_cast<uint16_t>(f.cluster_ports[i])});
  return out;
}

} // namespace

TEST(cluster_link, members_that_share_the_secret_link_and_forward) {
  temp_dir dir;
  cluster_files f{dir.path(), {"a", "b"}};
  tenured_node a{dir.path() + "/a", f.node_flags(0), f.config};
  tenured_node b{dir.path() + "/b", f.node_flags(1), f.config};
  ASSERT_TRUE(a.line && b.line) << a.proc.err() << b.proc.err();
  ASSERT_TRUE(eventually([&] {
    return reachable(a.port, f.admin_token, "b")
           && reachable(b.port, f.admin_token, "a");
  }))
    << a.proc.err() << b.proc.err();
  // Created at b (the organisation's owner) through a, read back through a.
  auto tag = org_owned_by(members_of(f), "b", "fwd");
  httplib::Client cli{"127.0.0.1", a.port};
  auto res = cli.Post("/v1/applications",
                      {{"Authorization", "Bearer " + f.admin_token},
                       {"Idempotency-Key", "link-" + tag}},
                      application(tag).dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 201) << res->body;
  auto id = json::parse(res->body)["id"].get<std::string>();
  auto own = tenure::ownership::make(members_of(f));
  EXPECT_EQ(own->owner_of(id).name, "b") << "ids are minted on their owner";
  auto got = call(a.port, f.admin_token, "GET", "/v1/applications/" + id);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body.value("id", ""), id);
  // Operators alert on the link and see what was forwarded.
  auto metrics = httplib::Client{"127.0.0.1", a.port}.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("tenure_cluster_peer_up{node=\"b\"} 1"),
            std::string::npos)
    << metrics->body;
  // (GET /v1/cluster asks b too.)
  EXPECT_GE(metric(metrics->body, "tenure_cluster_forwarded_total{node=\"b\","
                                  "outcome=\"answered\"}"),
            2)
    << metrics->body;
}

TEST(cluster_link, a_member_with_another_secret_is_refused) {
  temp_dir dir;
  cluster_files f{dir.path(), {"a", "b"}};
  auto other = f.variant("other.conf", {{"secret-file = \"cluster.secret\"",
                                         "secret-file = \"other.secret\""}});
  tenure::test::write_file(dir.path() + "/config/other.secret",
                           tenure::test::random_hex(48));
  tenured_node a{dir.path() + "/a", f.node_flags(0), f.config};
  tenured_node b{dir.path() + "/b", f.node_flags(1), other};
  ASSERT_TRUE(a.line && b.line) << a.proc.err() << b.proc.err();
  // a dials b (its name sorts first); b refuses the hello and says why.
  ASSERT_TRUE(b.proc.wait_for_output("reason=wrong cluster secret", 20s))
    << b.proc.err();
  std::string error;
  EXPECT_FALSE(reachable(a.port, f.admin_token, "b", &error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(reachable(b.port, f.admin_token, "a"));
  // b's shard is unavailable through a, at once and with the clear error.
  auto tag = org_owned_by(members_of(f), "b", "refused");
  httplib::Client cli{"127.0.0.1", a.port};
  auto started = std::chrono::steady_clock::now();
  auto res = cli.Post("/v1/applications",
                      {{"Authorization", "Bearer " + f.admin_token},
                       {"Idempotency-Key", "link-" + tag}},
                      application(tag).dump(), "application/json");
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503) << res->body;
  EXPECT_EQ(json::parse(res->body)["error"]["message"], "node b is down");
  EXPECT_LT(took, 2s);
  auto metrics = httplib::Client{"127.0.0.1", a.port}.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("tenure_cluster_peer_up{node=\"b\"} 0"),
            std::string::npos);
  EXPECT_GE(metric(metrics->body, "tenure_cluster_forwarded_total{node=\"b\","
                                  "outcome=\"unavailable\"}"),
            1)
    << metrics->body;
  EXPECT_EQ(metric(metrics->body, "tenure_cluster_forwarded_total{node=\"b\","
                                  "outcome=\"answered\"}"),
            0);
}

TEST(cluster_link, a_node_outside_the_member_list_is_refused) {
  temp_dir dir;
  cluster_files f{dir.path(), {"a", "b"}};
  // "0x" sorts before "a", so it dials a; a's list does not name it.
  auto port = tenure::test::free_port();
  auto intruder = f.variant(
    "intruder.conf", {{"members = [" + f.members + "]",
                       "members = [\"0x@127.0.0.1:" + std::to_string(port)
                         + "\", " + f.members + "]"}});
  tenured_node a{dir.path() + "/a", f.node_flags(0), f.config};
  tenured_node x{dir.path() + "/x", {"--node", "0x"}, intruder};
  ASSERT_TRUE(a.line && x.line) << a.proc.err() << x.proc.err();
  ASSERT_TRUE(a.proc.wait_for_output(
    "peer refused claimed=0x reason=not a member of this cluster", 20s))
    << a.proc.err();
  EXPECT_FALSE(reachable(x.port, f.admin_token, "a"));
  // a lists only its own members.
  auto r = call(a.port, f.admin_token, "GET", "/v1/cluster");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["members"].size(), 2u);
}

TEST(cluster_link, tls_members_link_and_a_plain_peer_cannot_join) {
  temp_dir dir;
  cluster_files f{dir.path(), {"a", "b", "c"}};
  auto d = dir.path();
  ASSERT_TRUE(make_ca(d, "ca"));
  for (std::string n : {"a", "b"})
    ASSERT_TRUE(make_cert(d, "ca", n));
  auto tls = [&](const std::string& n) { return tls_config(f, d, n, "ca"); };
  tenured_node a{d + "/a", f.node_flags(0), tls("a")};
  tenured_node b{d + "/b", f.node_flags(1), tls("b")};
  // c has the secret but no certificate: it speaks plain BASP.
  tenured_node c{d + "/c", f.node_flags(2), f.config};
  ASSERT_TRUE(a.line && b.line && c.line)
    << a.proc.err() << b.proc.err() << c.proc.err();
  ASSERT_TRUE(eventually([&] {
    return reachable(a.port, f.admin_token, "b")
           && reachable(b.port, f.admin_token, "a");
  }))
    << a.proc.err() << b.proc.err();
  // a and b dial c; c's plain endpoint cannot answer a TLS handshake, and c
  // never hears a hello.
  std::string error;
  EXPECT_TRUE(eventually([&] {
    return !reachable(a.port, f.admin_token, "c", &error) && !error.empty()
           && error.find("waiting") == std::string::npos;
  }))
    << error;
  EXPECT_EQ(c.proc.err().find("peer accepted"), std::string::npos)
    << c.proc.err();
  EXPECT_FALSE(reachable(c.port, f.admin_token, "a"));
  // Forwarding works over TLS.
  auto tag = org_owned_by(members_of(f), "b", "tls");
  httplib::Client cli{"127.0.0.1", a.port};
  auto res = cli.Post("/v1/applications",
                      {{"Authorization", "Bearer " + f.admin_token},
                       {"Idempotency-Key", "link-" + tag}},
                      application(tag).dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 201) << res->body;
}

TEST(cluster_link, a_peer_with_a_certificate_of_another_ca_cannot_link) {
  temp_dir dir;
  cluster_files f{dir.path(), {"a", "b"}};
  auto d = dir.path();
  ASSERT_TRUE(make_ca(d, "ca") && make_ca(d, "other"));
  ASSERT_TRUE(make_cert(d, "ca", "a") && make_cert(d, "other", "b"));
  // b knows the secret, but its certificate is not of a's CA (nor a's of
  // b's): no TLS session, no hello.
  tenured_node a{d + "/a", f.node_flags(0), tls_config(f, d, "a", "ca")};
  tenured_node b{d + "/b", f.node_flags(1), tls_config(f, d, "b", "other")};
  ASSERT_TRUE(a.line && b.line) << a.proc.err() << b.proc.err();
  // a's first dial may have failed before b listened ("ip_connect
  // failed"); wait for one that reached b and failed in the TLS handshake.
  std::string error;
  ASSERT_TRUE(eventually([&] {
    return !reachable(a.port, f.admin_token, "b", &error)
           && error.find("handshake") != std::string::npos;
  }))
    << error;
  EXPECT_EQ(a.proc.err().find("peer up"), std::string::npos) << a.proc.err();
  EXPECT_EQ(b.proc.err().find("peer accepted"), std::string::npos)
    << b.proc.err();
  EXPECT_FALSE(reachable(b.port, f.admin_token, "a"));
}

// Issue 7's transport cases, each against the member's real cluster port:
// a peer with no certificate and a plain (non-TLS) CAF client are refused
// before any cluster hello, and promptly.
TEST(cluster_link, a_tls_member_refuses_peers_without_a_certificate) {
  temp_dir dir;
  cluster_files f{dir.path(), {"a", "b"}};
  auto d = dir.path();
  ASSERT_TRUE(make_ca(d, "ca"));
  ASSERT_TRUE(make_cert(d, "ca", "a") && make_cert(d, "ca", "b"));
  tenured_node a{d + "/a", f.node_flags(0), tls_config(f, d, "a", "ca")};
  ASSERT_TRUE(a.line) << a.proc.err();
  const std::string host = "127.0.0.1";
  const std::string port = std::to_string(f.cluster_ports[0]);
  const std::string ca = "cafile=" + d + "/ca.pem";
  const std::string cert = "certificate=" + d + "/b.pem";
  const std::string key = "key=" + d + "/b.key";
  // Controls: the same clients get through where they should, so each
  // refusal below is the member's doing. With b's certificate (of the
  // cluster's CA) the handshake completes and CAF links.
  auto ok = caf_dial({"handshake", host, port, "20", ca, cert, key});
  EXPECT_EQ(ok.rc, 0) << ok.out;
  EXPECT_NE(ok.out.find("handshake ok"), std::string::npos) << ok.out;
  auto linked = caf_dial({"dial", host, port, "20", ca, cert, key});
  EXPECT_EQ(linked.rc, 0) << linked.out;
  EXPECT_NE(linked.out.find("connected published=yes"), std::string::npos)
    << linked.out;
  // ... and anonymous TLS and plain BASP link to CAF nodes that speak them.
  for (std::string mode : {"tls", "plain"}) {
    child_process server{
      std::vector<std::string>{TENURE_CAF_DIAL, "serve", "120", mode}};
    auto line = server.wait_for_output("serving port=", 60s);
    ASSERT_TRUE(line) << mode << ": " << server.out() << server.err();
    auto p = line->substr(line->find('=') + 1);
    auto r = caf_dial({"dial", host, p, "20", mode});
    EXPECT_EQ(r.rc, 0) << mode << ": " << r.out;
  }
  // A peer with no certificate that trusts the cluster's CA: the handshake
  // fails at the member's demand for a client certificate. (A bare OpenSSL
  // client: CAF itself will not start with a CA file and no certificate.)
  auto bare = caf_dial({"handshake", host, port, "20", ca});
  EXPECT_EQ(bare.rc, 2) << bare.out;
  EXPECT_NE(bare.out.find("handshake failed"), std::string::npos) << bare.out;
  // A CAF node whose OpenSSL module has no certificate, key or CA: it offers
  // only anonymous ECDH, which the member does not accept.
  auto anon = caf_dial({"dial", host, port, "20", "tls"});
  EXPECT_EQ(anon.rc, 2) << anon.out;
  EXPECT_NE(anon.out.find("failed error="), std::string::npos) << anon.out;
  // A plain CAF client: refused, and by the member closing the connection,
  // not by the client giving up after its 20 s.
  auto plain = caf_dial({"dial", host, port, "20", "plain"});
  EXPECT_EQ(plain.rc, 2) << plain.out;
  EXPECT_NE(plain.out.find("failed error="), std::string::npos) << plain.out;
  EXPECT_EQ(plain.out.find("timeout"), std::string::npos) << plain.out;
  EXPECT_LT(plain.took, 15s) << plain.out;
  EXPECT_EQ(anon.out.find("timeout"), std::string::npos) << anon.out;
  // The member accepted nobody, and still serves TLS on that port.
  EXPECT_TRUE(a.proc.running());
  EXPECT_EQ(a.proc.err().find("peer accepted"), std::string::npos)
    << a.proc.err();
  EXPECT_EQ(a.proc.err().find("peer up"), std::string::npos) << a.proc.err();
  auto again = caf_dial({"handshake", host, port, "20", ca, cert, key});
  EXPECT_EQ(again.rc, 0) << again.out;
}

TEST(cluster_link, bad_cluster_configuration_stops_the_node_at_start) {
  temp_dir dir;
  cluster_files f{dir.path(), {"a", "b"}};
  struct bad {
    std::vector<std::string> flags;
    std::vector<std::pair<std::string, std::string>> edits;
    std::string says;
  };
  std::vector<bad> cases{
    {{"--node", "z"}, {}, "'z' is not one of the members (a, b)"},
    {{}, {}, "tenure.cluster.node: empty while tenure.cluster.members is set"},
    {{"--node", "a"},
     {{"secret-file = \"cluster.secret\"", "secret-file = \"short.secret\""}},
     "at least 32 bytes"},
    {{"--node", "a"},
     {{"secret-file = \"cluster.secret\"", "secret-file = \"\""}},
     "tenure.cluster.secret-file: required"},
    {{"--node", "a"},
     {{"members = [" + f.members + "]", "members = [\"a@127.0.0.1\"]"}},
     "expected name@host:port"},
    {{"--node", "a"},
     {{"members = [" + f.members + "]",
       "members = [\"a@127.0.0.1:9\", \"a@127.0.0.1:10\"]"}},
     ".name: named twice"},
  };
  tenure::test::write_file(dir.path() + "/config/short.secret", "too short");
  int i = 0;
  for (auto& c : cases) {
    auto conf = f.variant("bad" + std::to_string(i++) + ".conf", c.edits);
    std::vector<std::string> argv{
      tenured_bin(), "--config", conf,           "--data", dir.path() + "/d",
      "--http-port", "0",        "--shell-port", "0"};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    child_process p{argv};
    ASSERT_EQ(p.wait(30s), 1) << c.says << ": " << p.err();
    EXPECT_NE(p.err().find(c.says), std::string::npos)
      << "want '" << c.says << "' in: " << p.err();
  }
}
