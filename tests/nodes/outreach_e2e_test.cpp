// Outreach programs (seed 003) through a real tenured on loopback: accounts
// over HTTP and by CSV import, a program's recipient explanation, an
// anonymous NPS survey sent on the manual clock, its emails as files with
// an HTML part and signed tracking addresses, opens, clicks, answers and a
// bounce recorded once each, the rates, and the dashboard's outreach list.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>


#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/api_client.hpp"
#include "tests/support/applications.hpp"
#include "tests/support/e2e_tools.hpp"
#include "tests/support/http_reply.hpp"
#include "tests/support/process.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using tenure::test::eventually;
using tenure::test::random_hex;
using tenure::test::temp_dir;
using tenure::test::tenured_node;

namespace {

using client = tenure::test::api_client;
using reply = tenure::test::api_reply;

/// The path and query of a tracked address in an email.
std::string target_of(const std::string& url) {
  auto p = url.find("/v1/track/");
  return p == std::string::npos ? std::string{} : url.substr(p);
}

/// Undoes quoted-printable soft breaks and `=XX` escapes.
std::string unqp(const std::string& x) {
  std::string out;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] == '=' && i + 2 < x.size() && x[i + 1] == '\r'
        && x[i + 2] == '\n') {
      i += 2;
    } else if (x[i] == '=' && i + 2 < x.size()
               && std::isxdigit(static_cast<unsigned char>(x[i + 1]))
               && std::isxdigit(static_cast<unsigned char>(x[i + 2]))) {
      out += static_cast<char>(std::stoi(x.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += x[i];
    }
  }
  return out;
}

class outreach_e2e : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = std::make_unique<temp_dir>("tenure-outreach-e2e");
    data_ = dir_->path() + "/data";
    std::filesystem::create_directories(data_);
    admin_token_ = random_hex(32);
    reader_token_ = random_hex(32);
    tenure::test::write_keys(data_, {{"e2e-admin", admin_token_, {"admin"}},
                                     {"e2e-reader", reader_token_, {"read"}}});
    node_ = std::make_unique<tenured_node>(
      data_, std::vector<std::string>{"--clock", "manual"});
    ASSERT_TRUE(node_->line) << node_->proc.err();
    ASSERT_GT(node_->port, 0) << *node_->line;
    admin_ = std::make_unique<client>(node_->port, admin_token_);
    reader_ = std::make_unique<client>(node_->port, reader_token_);
    anonymous_ = std::make_unique<client>(node_->port, "");
  }

  void TearDown() override {
    if (node_) {
      auto code = node_->stop();
      EXPECT_EQ(code.value_or(-1), 0) << "tenured did not stop cleanly";
    }
  }

  /// The outreach emails written so far: file name -> contents.
  std::map<std::string, std::string> mails() {
    std::map<std::string, std::string> out;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(data_ + "/mail", ec)) {
      if (!e.is_regular_file() || e.path().extension() != ".eml")
        continue;
      std::ifstream in{e.path()};
      std::string text{std::istreambuf_iterator<char>{in}, {}};
      if (text.find("X-Tenure-Template: outreach") != std::string::npos)
        out[e.path().filename().string()] = text;
    }
    return out;
  }

  std::unique_ptr<temp_dir> dir_;
  std::string data_;
  std::string admin_token_;
  std::string reader_token_;
  std::unique_ptr<tenured_node> node_;
  std::unique_ptr<client> admin_;
  std::unique_ptr<client> reader_;
  std::unique_ptr<client> anonymous_;
};

} // namespace

TEST_F(outreach_e2e, accounts_programs_tracking_and_an_anonymous_survey) {
  // An account over HTTP: SaaS, Admin and Owner; a Sold-To contact, who
  // gets no survey while an Admin exists anyway.
  auto acme = admin_->post(
    "/v1/accounts",
    json{
      {"name", "Acme"},
      {"external_ref", "crm-1"},
      {"segment", "scale"},
      {"hosting", "saas"},
      {"stage", "retention"},
      {"contacts",
       {{{"name", "Ann"}, {"email", "ann@acme.example"}, {"roles", {"admin"}}},
        {{"name", "Oli"}, {"email", "oli@acme.example"}, {"roles", {"owner"}}},
        {{"name", "Sam"},
         {"email", "sam@acme.example"},
         {"roles", {"sold_to"}}}}}});
  ASSERT_EQ(acme.status, 201) << acme.describe();
  auto acme_id = acme.body.value("id", "");
  // An upsert by reference changes what it gives and keeps the rest.
  auto renamed = admin_->post(
    "/v1/accounts", json{{"external_ref", "crm-1"}, {"name", "Acme Corp"}});
  ASSERT_EQ(renamed.status, 200) << renamed.describe();
  EXPECT_EQ(renamed.body.value("id", ""), acme_id);
  EXPECT_EQ(renamed.body.value("name", ""), "Acme Corp");
  EXPECT_EQ(renamed.body.value("stage", ""), "retention");
  EXPECT_EQ(renamed.body["contacts"].size(), 3u) << renamed.describe();
  // Bad input changes nothing and says what is wrong.
  auto bad = admin_->post(
    "/v1/accounts",
    json{
      {"name", "X"},
      {"segment", "scale"},
      {"hosting", "saas"},
      {"contacts",
       {{{"name", "Y"}, {"email", "not-an-address"}, {"roles", {"admin"}}}}}});
  EXPECT_EQ(bad.status, 422) << bad.describe();
  EXPECT_NE(bad.text.find("contacts[0].email"), std::string::npos);
  // A CSV import: two accounts, one self-managed without an Admin (its
  // Sold-To contact stands in, but not for a survey).
  std::string csv
    = "account_ref,account_name,segment,hosting,stage,contact_name,email,"
      "roles\n"
      "crm-2,Beta,scale,self_managed,retention,Bea,bea@beta.example,admin\n"
      "crm-2,Beta,scale,self_managed,retention,Max,max@beta.example,"
      "maintainer\n"
      "crm-3,Gamma,scale,self_managed,retention,Gus,gus@gamma.example,"
      "sold_to\n";
  auto imp = admin_->post_raw("/v1/accounts/import", csv, "text/csv");
  ASSERT_EQ(imp.status, 200) << imp.describe();
  EXPECT_EQ(imp.body.value("accounts_created", 0), 2);
  auto broken = admin_->post_raw(
    "/v1/accounts/import",
    "account_ref,account_name,segment,hosting,stage,contact_name,email,roles\n"
    "crm-9,Nine,huge,saas,,N,n@nine.example,admin\n",
    "text/csv");
  EXPECT_EQ(broken.status, 422) << broken.describe();
  EXPECT_NE(broken.text.find("line 2: segment"), std::string::npos)
    << broken.describe();
  auto listed = reader_->get("/v1/accounts");
  ASSERT_EQ(listed.status, 200) << listed.describe();
  EXPECT_EQ(listed.body["items"].size(), 3u) << "the broken file added none";

  // An anonymous NPS survey for scale accounts in retention.
  auto made = admin_->post(
    "/v1/outreach/programs",
    json{{"name", "Retention NPS"},
         {"kind", "survey"},
         {"stage", "retention"},
         {"segments", {"scale"}},
         {"survey", "nps"},
         {"anonymous", true},
         {"links", {"https://docs.example/ci"}},
         {"steps",
          {{{"subject", "How are we doing, {{account}}?"},
            {"body", "Hello {{name}}, tell us. Docs: {{link_1}}"}}}}});
  ASSERT_EQ(made.status, 201) << made.describe();
  auto prg = made.body.value("id", "");
  EXPECT_EQ(made.body.value("state", ""), "draft");
  auto why = reader_->get("/v1/outreach/programs/" + prg
                          + "/explain?account=" + acme_id);
  ASSERT_EQ(why.status, 200) << why.describe();
  EXPECT_EQ(why.body["recipients"].size(), 2u) << why.describe();
  EXPECT_NE(why.text.find("Sold-To contact, but the account has Admin"),
            std::string::npos)
    << why.describe();
  auto launched
    = admin_->post("/v1/outreach/programs/" + prg + "/launch", json::object());
  ASSERT_EQ(launched.status, 200) << launched.describe();
  // Ann and Oli at Acme, Bea at Beta; not Max (self-managed), not Sam,
  // not Gus (Sold-To, survey).
  ASSERT_TRUE(eventually([&] { return mails().size() >= 3; }, 20s))
    << mails().size();
  auto ms = mails();
  ASSERT_EQ(ms.size(), 3u);
  std::set<std::string> to;
  std::vector<std::string> pixels, clicks, scores;
  std::regex url{
    R"(http://127\.0\.0\.1:\d+/v1/track/[a-z]+/[A-Za-z0-9_.]+(\?[a-z]+=\d+)?)"};
  for (auto& [name, text] : ms) {
    auto plain = unqp(text);
    for (auto* r :
         {"ann@acme.example", "oli@acme.example", "bea@beta.example",
          "sam@acme.example", "gus@gamma.example", "max@beta.example"})
      if (plain.find("To: " + std::string{r}) != std::string::npos)
        to.insert(r);
    EXPECT_NE(plain.find("multipart/alternative"), std::string::npos);
    std::vector<std::string> found;
    for (std::sregex_iterator i{plain.begin(), plain.end(), url}, end; i != end;
         ++i)
      found.push_back(i->str());
    for (auto& u : found) {
      if (u.find("/open/") != std::string::npos)
        pixels.push_back(u);
      else if (u.find("/click/") != std::string::npos)
        clicks.push_back(u);
      else if (u.find("/survey/") != std::string::npos)
        scores.push_back(u);
    }
  }
  EXPECT_EQ(to, (std::set<std::string>{"ann@acme.example", "oli@acme.example",
                                       "bea@beta.example"}));
  ASSERT_FALSE(pixels.empty());
  ASSERT_FALSE(clicks.empty());
  ASSERT_GE(scores.size(), 11u);

  // An open, twice: counted once. A forged token: the pixel all the same,
  // nothing counted.
  for (int i = 0; i < 2; ++i) {
    auto px = anonymous_->get(target_of(pixels[0]));
    EXPECT_EQ(px.status, 200);
    EXPECT_EQ(px.header("Content-Type"), "image/gif");
  }
  auto forged = target_of(pixels[0]);
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_EQ(anonymous_->get(forged).status, 200);
  // A click redirects to the program's link only.
  auto click = anonymous_->get(target_of(clicks[0]));
  EXPECT_EQ(click.status, 302) << click.describe();
  EXPECT_EQ(click.header("Location"), "https://docs.example/ci");
  auto elsewhere = target_of(clicks[0]);
  elsewhere = elsewhere.substr(0, elsewhere.find('?')) + "?link=2";
  EXPECT_EQ(anonymous_->get(elsewhere).status, 404);
  // A survey link shows a form; only its POST answers.
  auto nine = std::find_if(scores.begin(), scores.end(), [](auto& u) {
    return u.size() > 8 && u.substr(u.size() - 8) == "?score=9";
  });
  ASSERT_NE(nine, scores.end());
  auto form = anonymous_->get(target_of(*nine));
  EXPECT_EQ(form.status, 200) << form.describe();
  EXPECT_NE(form.text.find("value=\"9\" checked"), std::string::npos);
  auto path = target_of(*nine);
  path = path.substr(0, path.find('?'));
  auto answer = anonymous_->post_raw(path, "score=9&comment=Great+docs%21",
                                     "application/x-www-form-urlencoded");
  EXPECT_EQ(answer.status, 200) << answer.describe();
  auto again = anonymous_->post_raw(path, "score=3",
                                    "application/"
                                    "x-www-form-urlencoded");
  EXPECT_EQ(again.status, 409) << again.describe();
  // A bounce of another email, by its Message-ID.
  std::string other;
  for (auto& [name, text] : ms)
    if (text.find(path.substr(path.rfind('/') + 1)) == std::string::npos
        && text.find("oli@acme.example") == std::string::npos)
      other = name.substr(0, name.find('.'));
  ASSERT_FALSE(other.empty());
  auto bounce = admin_->post("/v1/outreach/bounces",
                             json{{"message_id", "<" + other + "@tenure>"}});
  EXPECT_EQ(bounce.status, 200) << bounce.describe();
  EXPECT_EQ(bounce.body.value("changed", false), true);

  // The rates say so: 3 sent; the pixel's email opened; the clicked one
  // opened; the answered one opened.
  auto got = reader_->get("/v1/outreach/programs/" + prg);
  ASSERT_EQ(got.status, 200) << got.describe();
  auto& counts = got.body["counts"];
  EXPECT_EQ(counts.value("sent", 0), 3);
  EXPECT_EQ(counts.value("clicked", 0), 1);
  EXPECT_EQ(counts.value("responses", 0), 1);
  EXPECT_EQ(counts.value("promoters", 0), 1);
  EXPECT_EQ(counts.value("bounced", 0), 1);
  EXPECT_GE(counts.value("opened", 0), 1);
  EXPECT_DOUBLE_EQ(got.body["rates"].value("nps", 0.0), 100.0);
  // The answer carries no identity.
  auto answers = reader_->get("/v1/outreach/programs/" + prg + "/responses");
  ASSERT_EQ(answers.status, 200) << answers.describe();
  ASSERT_EQ(answers.body["items"].size(), 1u);
  auto& a = answers.body["items"][0];
  EXPECT_EQ(a.value("score", 0), 9);
  EXPECT_EQ(a.value("comment", ""), "Great docs!");
  EXPECT_EQ(a.value("account", "x"), "");
  EXPECT_EQ(a.value("contact", "x"), "");
  EXPECT_EQ(a.value("at", "").substr(10), "T00:00:00.000Z");
  // The bounced address is skipped from now on, and says why.
  auto after = reader_->get("/v1/outreach/programs/" + prg
                            + "/explain?account=" + acme_id);
  ASSERT_EQ(after.status, 200);
  // The dashboard lists the program with its rates.
  auto dash = reader_->get("/v1/dashboard");
  ASSERT_EQ(dash.status, 200) << dash.describe();
  auto& progs = dash.body["outreach"]["programs"];
  ASSERT_EQ(progs.size(), 1u) << dash.describe();
  EXPECT_EQ(progs[0]["rates"].value("sent", 0), 3);
  // Tokens and scopes: a reader cannot write; tracking needs none.
  EXPECT_EQ(
    reader_->post("/v1/outreach/programs/" + prg + "/stop", json::object())
      .status,
    403);
  EXPECT_EQ(anonymous_->get("/v1/outreach/programs").status, 401);
  // No address of a recipient in the node's log.
  auto log = node_->proc.err() + node_->proc.out();
  for (auto* r : {"ann@acme.example", "oli@acme.example", "bea@beta.example"})
    EXPECT_EQ(log.find(r), std::string::npos) << r;
}

// Compliance notices go through the outreach machinery: the email has an
// HTML part with an open pixel, and the built-in program counts it.
TEST_F(outreach_e2e, compliance_notices_are_counted_by_their_built_in_program) {
  // A Startups member: an application approved in review, booked with a
  // code, redeemed into a subscription.
  auto o = tenure::test::startups_saas;
  ASSERT_EQ(admin_
              ->post_raw("/v1/coupons/startups/import", "OUTREACH-E2E-0001\n",
                         "text/csv")
              .status,
            200);
  auto app = admin_->post(
    "/v1/applications", tenure::test::application_body(
                          o, "member@startup-org.example.org", "startup-org"));
  ASSERT_EQ(app.status, 201) << app.describe();
  auto app_id = app.body.value("id", "");
  ASSERT_EQ(admin_
              ->post("/v1/reviews/" + app_id,
                     json{{"decision", "approve"}, {"reason", "ok"}})
              .status,
            200);
  std::string code;
  ASSERT_TRUE(eventually([&] {
    auto r = admin_->get("/v1/applications/" + app_id);
    code = r.body.value("coupon_code", "");
    return r.body.value("state", "") == "booked" && !code.empty();
  }));
  auto redeemed = admin_->post(
    "/v1/checkout/redeem", json{{"code", code}, {"sku", o.sku}, {"seats", 10}});
  ASSERT_EQ(redeemed.status, 201) << redeemed.describe();
  auto sub = redeemed.body.value("subscription_id", "");
  ASSERT_EQ(sub.rfind("sub_", 0), 0u) << redeemed.describe();
  auto cs = admin_->post("/v1/subscriptions/" + sub + "/compliance-cases",
                         json{{"reason", "shared seats"}, {"curable", true}});
  ASSERT_EQ(cs.status, 201) << cs.describe();
  std::string notice;
  ASSERT_TRUE(eventually([&] {
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(data_ + "/mail", ec)) {
      std::ifstream in{e.path()};
      std::string text{std::istreambuf_iterator<char>{in}, {}};
      if (text.find("X-Tenure-Template: compliance_notice")
          != std::string::npos)
        notice = unqp(text);
    }
    return !notice.empty();
  }))
    <<
    [&] {
      std::string files;
      std::error_code ec;
      for (auto& e : std::filesystem::directory_iterator(data_ + "/mail", ec))
        files += e.path().filename().string() + " ";
      auto ob = reader_->get("/v1/outbox");
      return files + ob.describe() + node_->proc.err().substr(0, 3000);
    }();
  EXPECT_NE(notice.find("multipart/alternative"), std::string::npos);
  std::smatch m;
  std::regex pixel{R"(/v1/track/open/[A-Za-z0-9_.]+)"};
  ASSERT_TRUE(std::regex_search(notice, m, pixel)) << notice.substr(0, 2000);
  EXPECT_EQ(anonymous_->get(m.str()).status, 200);
  auto prg
    = reader_->get("/v1/outreach/programs/prg_00000000000000000000000002");
  ASSERT_EQ(prg.status, 200) << prg.describe();
  EXPECT_EQ(prg.body.value("name", ""), "Compliance notices");
  EXPECT_EQ(prg.body["counts"].value("sent", 0), 1);
  EXPECT_EQ(prg.body["counts"].value("opened", 0), 1);
  EXPECT_EQ(prg.body.value("system", false), true);
}
