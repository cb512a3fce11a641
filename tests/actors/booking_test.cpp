// Stage 2 under concurrency: coupon codes are given exactly once.

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/atoms.hpp"
#include "actors/coupon_pool.hpp"
#include "actors/lifecycle.hpp"
#include "actors/registry.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"
#include "storage/keys.hpp"
#include "storage/memory_store.hpp"
#include "messages/codec.hpp"

using namespace tenure;
using namespace std::chrono_literals;

namespace {

const time_point t0 = from_unix_ms(1'795'000'000'000);

struct config : caf::actor_system_config {
  config() {
    tenure::add_message_types(*this);
    set("scheduler.max-threads", 2);
    set("scheduler.policy", caf::atom("sharing"));
  }
};

application draft(int i) {
  application a;
  a.program = program::edu;
  a.applicant
    = {"Applicant " + std::to_string(i),
       "a" + std::to_string(i) + "@uni.example.edu", "Lecturer", "GB"};
  a.organisation
    = {"uni" + std::to_string(i) + ".example.edu", "University", "GB", ""};
  a.edu.institution = "University";
  a.seats = 10;
  return a;
}

std::string csv(int from, int to) {
  std::string out;
  for (int i = from; i < to; ++i)
    out += "EDU-" + std::to_string(100000 + i) + "\n";
  return out;
}

sku edu_sku() {
  sku s;
  s.id = "edu-saas-ultimate-support-1y";
  s.program = program::edu;
  s.support = support::with;
  s.lines
    = {{product::support, term::one_year}, {product::ultimate, term::one_year}};
  return s;
}

sku oss_sku() {
  sku s;
  s.id = "oss-saas-ultimate-support-3y";
  s.program = program::oss;
  s.support = support::with;
  s.lines = {{product::support, term::three_years},
             {product::ultimate, term::one_year}};
  return s;
}

struct cluster {
  explicit cluster(storage::store& st,
                   std::function<void(coupon_pool_deps&)> tweak = {},
                   std::function<void(registry_deps&)> tweak_registry = {})
    : clk(t0)
    , sys(cfg)
    , self(sys) {
    coupon_pool_deps pd;
    pd.store = &st;
    pd.clock = &clk;
    pd.ids = &ids;
    if (tweak)
      tweak(pd);
    for (auto p : {program::edu, program::oss, program::startups})
      pools[static_cast<size_t>(p)] = sys.spawn(coupon_pool_actor, p, pd);
    pool = pools[0];
    skus = {edu_sku(), oss_sku()};
    registry_deps rd;
    rd.store = &st;
    rd.clock = &clk;
    rd.rules = &rules;
    rd.ids = &ids;
    rd.pools = pools;
    rd.skus = &skus;
    if (tweak_registry)
      tweak_registry(rd);
    registry = sys.spawn(registry_actor, rd);
    for (auto& p : pools)
      self->send(p, registry);
  }

  ~cluster() {
    self->send_exit(registry, caf::exit_reason::user_shutdown);
    for (auto& p : pools)
      self->send_exit(p, caf::exit_reason::user_shutdown);
  }

  /// Checkout: the subscription, or the error.
  caf::expected<subscription> redeem(std::string code, std::string sku_id,
                                     uint32_t seats) {
    caf::expected<subscription> out{subscription{}};
    self->request(registry, 10s, redeem_code{code, sku_id, seats})
      .receive([&](subscription& s) { out = std::move(s); },
               [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  import_report import(const std::string& text) {
    import_report rep;
    self->request(pool, 60s, import_coupons{program::edu, text, "test.csv"})
      .receive([&](import_report& r) { rep = r; },
               [&](caf::error& err) { ADD_FAILURE() << error_message(err); });
    return rep;
  }

  pool_stock stock() {
    pool_stock s;
    self->request(pool, 10s, get_atom::value)
      .receive([&](pool_stock& x) { s = x; }, [](caf::error&) {});
    return s;
  }

  /// Sends `msgs` without waiting, then collects every reply.
  template <class T>
  std::vector<application> all(const std::vector<T>& msgs) {
    for (auto& m : msgs)
      self->send(registry, m);
    std::vector<application> out;
    for (size_t i = 0; i < msgs.size(); ++i)
      self->receive(
        [&](application& a) { out.push_back(std::move(a)); },
        [&](caf::error& err) { ADD_FAILURE() << error_message(err); });
    return out;
  }

  /// Submits and verifies one application and waits until it is booked.
  application booked_application(int i) {
    auto a = all(std::vector<submit_application>{submit_application{draft(i)}});
    all(std::vector<record_verification>{record_verification{
      a.at(0).id, verification_outcome::verified, "", "verifier", ""}});
    return wait_booked({a[0].id}, 1).at(0);
  }

  /// Asks the registry something a subscription answers.
  template <class... Ts>
  caf::expected<subscription> ask_sub(Ts... xs) {
    caf::expected<subscription> out{subscription{}};
    self->request(registry, 10s, xs...)
      .receive([&](subscription& s) { out = std::move(s); },
               [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  std::vector<application> states(const std::vector<app_id>& ids) {
    std::vector<application> out;
    for (auto& id : ids)
      self->send(registry, get_atom::value, id);
    for (size_t i = 0; i < ids.size(); ++i)
      self->receive(
        [&](application& a) { out.push_back(std::move(a)); },
        [&](caf::error& err) { ADD_FAILURE() << error_message(err); });
    return out;
  }

  /// Waits (bounded) until `booked` applications hold a code. Like the
  /// `book_code` timer of a node (no timer supervisor runs here), asks again
  /// for the applications still waiting every 2 s: one whose question to
  /// the pool timed out (3 s; sanitizer builds under this load) stays
  /// waiting until asked again, and the pool answers the same code.
  std::vector<application> wait_booked(const std::vector<app_id>& ids,
                                       size_t booked) {
    auto start = std::chrono::steady_clock::now();
    auto deadline = start + 60s;
    auto next_retry = start + 2s;
    for (;;) {
      auto s = states(ids);
      size_t n = 0;
      for (auto& a : s)
        n += a.state == application_state::booked;
      auto now = std::chrono::steady_clock::now();
      if (n >= booked || now > deadline)
        return s;
      if (now >= next_retry) {
        for (auto& a : s)
          if (a.state == application_state::awaiting_code)
            caf::anon_send(registry, book_code{a.id});
        next_retry = now + 2s;
      }
      // Paced, so that the state queries do not starve the pool.
      std::this_thread::sleep_for(20ms);
    }
  }

  manual_clock clk;
  eligibility_rules rules;
  id_generator ids{5};
  config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  std::array<caf::actor, 3> pools;
  caf::actor pool;
  std::vector<sku> skus;
  caf::actor registry;
};

} // namespace

TEST(booking, ten_thousand_verified_at_once_share_one_thousand_codes) {
  constexpr int apps = 10'000;
  storage::memory_store st;
  cluster c{st};
  auto first = c.import(csv(0, 1'000));
  EXPECT_EQ(first.imported, 1'000u);
  std::vector<submit_application> submits;
  for (int i = 0; i < apps; ++i)
    submits.push_back(submit_application{draft(i)});
  std::vector<app_id> ids;
  for (auto& a : c.all(submits))
    ids.push_back(a.id);
  ASSERT_EQ(ids.size(), size_t{apps});
  std::vector<record_verification> verifies;
  for (auto& id : ids)
    verifies.push_back(record_verification{id, verification_outcome::verified,
                                           "", "verifier", ""});
  ASSERT_EQ(c.all(verifies).size(), size_t{apps});
  // Exactly 1,000 booked, no code twice, 9,000 waiting.
  auto s = c.wait_booked(ids, 1'000);
  std::set<std::string> codes;
  size_t booked = 0, waiting = 0;
  for (auto& a : s) {
    if (a.state == application_state::booked) {
      ++booked;
      codes.insert(a.coupon_code);
    } else if (a.state == application_state::awaiting_code) {
      ++waiting;
    }
  }
  EXPECT_EQ(booked, 1'000u);
  EXPECT_EQ(codes.size(), 1'000u);
  EXPECT_EQ(waiting, 9'000u);
  auto stock = c.stock();
  EXPECT_EQ(stock.available, 0u);
  EXPECT_EQ(stock.reserved, 1'000u);
  // A booking delivered twice changes nothing. (Of a booked application:
  // one still waiting may be mid-way through noting the empty pool, which
  // does bump its version; seen under ASan's slower timing.)
  auto once = std::find_if(s.begin(), s.end(), [](const application& a) {
    return a.state == application_state::booked;
  });
  ASSERT_NE(once, s.end());
  c.self->request(c.registry, 10s, book_code{once->id})
    .receive(
      [&](application& a) {
        EXPECT_EQ(a.version, once->version);
        EXPECT_EQ(a.coupon_code, once->coupon_code);
      },
      [](caf::error& err) { ADD_FAILURE() << error_message(err); });
  // 9,000 more codes book everyone who waited.
  auto second = c.import(csv(1'000, 10'000));
  EXPECT_EQ(second.imported, 9'000u);
  s = c.wait_booked(ids, apps);
  codes.clear();
  booked = 0;
  for (auto& a : s)
    if (a.state == application_state::booked) {
      ++booked;
      codes.insert(a.coupon_code);
    }
  EXPECT_EQ(booked, size_t{apps});
  EXPECT_EQ(codes.size(), size_t{apps});
  EXPECT_EQ(c.stock().available, 0u);
}

TEST(booking, imports_report_blanks_duplicates_and_codes_already_present) {
  storage::memory_store st;
  cluster c{st};
  auto r1 = c.import("AAAA-1\n\nBBBB-2\nAAAA-1\n");
  EXPECT_EQ(r1.imported, 2u);
  EXPECT_EQ(r1.blank, 1u);
  EXPECT_EQ(r1.duplicate_in_file, 1u);
  auto r2 = c.import("AAAA-1\nBBBB-2\nCCCC-3\n"); // repeated import
  EXPECT_EQ(r2.imported, 1u);
  EXPECT_EQ(r2.already_present, 2u);
  EXPECT_EQ(c.stock().available, 3u);
}

TEST(booking, a_restarted_pool_keeps_reservations_and_waiting_applications) {
  storage::memory_store st;
  std::vector<app_id> ids;
  {
    cluster c{st};
    c.import(csv(0, 2));
    std::vector<submit_application> submits;
    for (int i = 0; i < 3; ++i)
      submits.push_back(submit_application{draft(i)});
    for (auto& a : c.all(submits))
      ids.push_back(a.id);
    std::vector<record_verification> verifies;
    for (auto& id : ids)
      verifies.push_back(record_verification{id, verification_outcome::verified,
                                             "", "verifier", ""});
    c.all(verifies);
    c.wait_booked(ids, 2);
  }
  cluster c{st};
  auto stock = c.stock();
  EXPECT_EQ(stock.reserved, 2u);
  EXPECT_EQ(stock.available, 0u);
  c.import(csv(2, 3));
  auto s = c.wait_booked(ids, 3);
  std::set<std::string> codes;
  for (auto& a : s)
    codes.insert(a.coupon_code);
  EXPECT_EQ(codes.size(), 3u);
  EXPECT_EQ(codes.count(""), 0u);
}

TEST(checkout, a_booked_code_buys_one_subscription_in_one_commit) {
  storage::memory_store st;
  cluster c{st};
  c.import(csv(0, 2));
  auto a = c.all(std::vector<submit_application>{submit_application{draft(1)}});
  ASSERT_EQ(a.size(), 1u);
  auto id = a[0].id;
  c.all(std::vector<record_verification>{record_verification{
    id, verification_outcome::verified, "", "verifier", ""}});
  auto booked = c.wait_booked({id}, 1);
  ASSERT_EQ(booked[0].state, application_state::booked);
  auto code = booked[0].coupon_code;
  // The other program's checkout does not know the code.
  auto wrong = c.redeem(code, "oss-saas-ultimate-support-3y", 5);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(error_message(wrong.error()),
            "This code is not valid. Try re-entering the code from your "
            "email.");
  auto sub = c.redeem(code, "edu-saas-ultimate-support-1y", 25);
  ASSERT_TRUE(sub) << error_message(sub.error());
  EXPECT_EQ(sub->state, subscription_state::active);
  EXPECT_EQ(sub->program, program::edu);
  EXPECT_EQ(sub->seats, 25u);
  EXPECT_EQ(sub->application, id);
  ASSERT_EQ(sub->lines.size(), 2u);
  EXPECT_EQ(sub->end, add_years(sub->start, 1));
  // Application, subscription and coupon row are all stored.
  auto app = c.states({id});
  EXPECT_EQ(app[0].state, application_state::redeemed);
  EXPECT_EQ(app[0].subscription, sub->id);
  auto snap = st.get_snapshot(sub->id.str());
  ASSERT_TRUE(snap && *snap);
  auto row = st.get(storage::cf::coupons, storage::coupon_key("edu", code));
  ASSERT_TRUE(row && *row);
  auto stored = decode<coupon>(**row);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, coupon_state::redeemed);
  EXPECT_EQ(stored->subscription, sub->id);
  // The two checkout errors of seed 001, word for word.
  auto again = c.redeem(code, "edu-saas-ultimate-support-1y", 25);
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error() == errc::code_already_used);
  EXPECT_EQ(error_message(again.error()), "This code has already been used.");
  auto unknown = c.redeem("NOPE-0000", "edu-saas-ultimate-support-1y", 25);
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(unknown.error() == errc::code_invalid);
  auto bad_sku = c.redeem(code, "no-such-sku", 25);
  ASSERT_FALSE(bad_sku);
  EXPECT_TRUE(bad_sku.error() == errc::invalid_argument);
}

TEST(booking, a_low_pool_notifies_its_program_once_and_never_shows_codes) {
  storage::memory_store st;
  cluster c{st, [](coupon_pool_deps& pd) {
              pd.forecast.applications_per_quarter = 365; // one a day
              pd.forecast.low_stock_runway_days = 60;
              pd.low_stock_recipient = "education@denomas.com";
            }};
  c.import(csv(0, 70));
  std::vector<submit_application> submits;
  for (int i = 0; i < 20; ++i)
    submits.push_back(submit_application{draft(i)});
  std::vector<app_id> ids;
  for (auto& a : c.all(submits))
    ids.push_back(a.id);
  std::vector<record_verification> verifies;
  for (auto& id : ids)
    verifies.push_back(record_verification{id, verification_outcome::verified,
                                           "", "verifier", ""});
  c.all(verifies);
  c.wait_booked(ids, 20);
  EXPECT_EQ(c.stock().available, 50u);
  auto rows = st.outbox();
  ASSERT_TRUE(rows);
  // Each booking mails its code; the low-stock notice goes out once, though
  // every later booking was low too.
  std::vector<notification> low;
  for (auto& row : *rows) {
    auto x = decode<notification>(row.value);
    ASSERT_TRUE(x);
    if (x->template_name == "coupon_low_stock")
      low.push_back(*x);
  }
  ASSERT_EQ(low.size(), 1u);
  auto n = std::optional<notification>{low[0]};
  EXPECT_EQ(n->template_name, "coupon_low_stock");
  EXPECT_EQ(n->recipient, "education@denomas.com");
  EXPECT_EQ(n->params.at("available"), "59");
  for (auto& [k, v] : n->params)
    EXPECT_EQ(v.find("EDU-"), std::string::npos) << k;
  // The privileged read returns exactly the available codes.
  std::vector<std::string> codes;
  c.self->request(c.pool, 10s, codes_atom::value)
    .receive([&](std::vector<std::string>& x) { codes = x; },
             [](caf::error&) {});
  EXPECT_EQ(codes.size(), 50u);
  std::set<std::string> unique(codes.begin(), codes.end());
  EXPECT_EQ(unique.size(), 50u);
}

TEST(checkout, one_active_subscription_per_organisation_and_program) {
  storage::memory_store st;
  cluster c{st};
  c.import(csv(0, 3));
  // Two applications of one organisation, both booked before either redeems.
  auto d1 = draft(1);
  auto d2 = draft(2);
  d2.organisation = d1.organisation;
  auto apps = c.all(std::vector<submit_application>{submit_application{d1},
                                                    submit_application{d2}});
  ASSERT_EQ(apps.size(), 2u);
  std::vector<app_id> ids{apps[0].id, apps[1].id};
  std::vector<record_verification> verifies;
  for (auto& id : ids)
    verifies.push_back(record_verification{id, verification_outcome::verified,
                                           "", "verifier", ""});
  c.all(verifies);
  auto booked = c.wait_booked(ids, 2);
  auto first
    = c.redeem(booked[0].coupon_code, "edu-saas-ultimate-support-1y", 5);
  ASSERT_TRUE(first) << error_message(first.error());
  auto second
    = c.redeem(booked[1].coupon_code, "edu-saas-ultimate-support-1y", 5);
  ASSERT_FALSE(second);
  EXPECT_TRUE(second.error() == errc::duplicate_subscription)
    << error_message(second.error());
  // A third application of the organisation is refused with the id.
  auto d3 = draft(3);
  d3.organisation = d1.organisation;
  caf::error refused;
  c.self->request(c.registry, 10s, submit_application{d3})
    .receive([](application&) {}, [&](caf::error& err) { refused = err; });
  EXPECT_TRUE(refused == errc::duplicate_subscription);
  EXPECT_NE(error_message(refused).find(first->id.str()), std::string::npos)
    << error_message(refused);
}

TEST(subscription, lives_on_as_an_actor_after_checkout) {
  storage::memory_store st;
  cluster c{st};
  c.import(csv(0, 1));
  auto app = c.booked_application(1);
  auto id = app.id;
  std::vector<application> booked{app};
  auto sub
    = c.redeem(booked[0].coupon_code, "edu-saas-ultimate-support-1y", 25);
  ASSERT_TRUE(sub) << error_message(sub.error());
  auto ask = [&](auto... xs) { return c.ask_sub(xs...); };
  // Activated from the snapshot the redemption wrote.
  auto got = ask(get_atom::value, sub->id);
  ASSERT_TRUE(got) << error_message(got.error());
  EXPECT_EQ(*got, *sub);
  auto used = ask(report_usage{sub->id, 30});
  ASSERT_TRUE(used) << error_message(used.error());
  EXPECT_EQ(used->max_seats_used, 30u);
  EXPECT_EQ(used->overage_seats, 5u);
  auto opened = ask(open_case{sub->id, "commercial use", true, "bbehr"});
  ASSERT_TRUE(opened) << error_message(opened.error());
  EXPECT_EQ(opened->state, subscription_state::in_cure);
  ASSERT_FALSE(opened->open_case.empty());
  auto cured = ask(sub->id, cure_case{opened->open_case, "fixed", "bbehr"});
  ASSERT_TRUE(cured) << error_message(cured.error());
  EXPECT_EQ(cured->state, subscription_state::active);
  auto revoked = ask(revoke_subscription{sub->id, "fraud", "legal"});
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->state, subscription_state::revoked);
  auto again = ask(revoke_subscription{sub->id, "fraud", "legal"});
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error() == errc::illegal_transition);
  std::vector<history_entry> hist;
  // (The timer-driven steps are exercised below on a second subscription.)
  c.self->request(c.registry, 10s, history_atom::value, sub->id)
    .receive([&](std::vector<history_entry>& h) { hist = h; },
             [](caf::error&) {});
  ASSERT_EQ(hist.size(), 5u);
  EXPECT_EQ(hist[0].type, "sub_provisioned");
  EXPECT_EQ(hist[4].type, "sub_revoked");
}

TEST(subscription, expires_after_its_end_date_and_a_renewal_extends_it) {
  storage::memory_store st;
  cluster c{st};
  c.import(csv(0, 1));
  auto app = c.booked_application(1);
  auto id = app.id;
  std::vector<application> booked{app};
  auto sub
    = c.redeem(booked[0].coupon_code, "edu-saas-ultimate-support-1y", 10);
  ASSERT_TRUE(sub) << error_message(sub.error());
  auto ask = [&](auto... xs) { return c.ask_sub(xs...); };
  auto early = ask(sub->id, expire{});
  ASSERT_FALSE(early); // not before the end date
  EXPECT_TRUE(early.error() == errc::illegal_transition);
  ASSERT_TRUE(c.clk.set(sub->end) == caf::none);
  auto expired = ask(sub->id, expire{});
  ASSERT_TRUE(expired) << error_message(expired.error());
  EXPECT_EQ(expired->state, subscription_state::expired);
  // The renewal is a new application of the same organisation.
  auto renewal = c.ids.next<app_id>(c.clk.now());
  auto renewed = ask(sub->id, renew{renewal, term::one_year});
  ASSERT_TRUE(renewed) << error_message(renewed.error());
  EXPECT_EQ(renewed->state, subscription_state::active);
  EXPECT_EQ(renewed->end, add_years(sub->end, 1));
}

TEST(booking, a_verified_application_the_pool_never_heard_of_is_booked_later) {
  // The verification's commit puts the application on its pool's waiting
  // list, so losing the pool between verification and booking (a crash)
  // cannot strand it in awaiting_code.
  storage::memory_store st;
  app_id id;
  {
    cluster c{st};
    c.self->send_exit(c.pools[0], caf::exit_reason::kill);
    auto a
      = c.all(std::vector<submit_application>{submit_application{draft(1)}});
    id = a.at(0).id;
    auto v = c.all(std::vector<record_verification>{record_verification{
      id, verification_outcome::verified, "", "verifier", ""}});
    EXPECT_EQ(v.at(0).state, application_state::awaiting_code);
  }
  cluster c{st};
  c.import(csv(0, 1));
  auto s = c.wait_booked({id}, 1);
  EXPECT_EQ(s.at(0).state, application_state::booked);
}

TEST(booking, a_withdrawn_application_gives_back_a_code_it_never_received) {
  storage::memory_store st;
  app_id id;
  {
    cluster c{st};
    auto a
      = c.all(std::vector<submit_application>{submit_application{draft(1)}});
    id = a.at(0).id;
    c.all(std::vector<record_verification>{record_verification{
      id, verification_outcome::verified, "", "verifier", ""}});
    auto s = c.states({id});
    ASSERT_EQ(s.at(0).state, application_state::awaiting_code);
  }
  // The pool reserved a code for it and the node died before the
  // application heard of it.
  coupon c;
  c.code = "EDU-LOST-1";
  c.program = program::edu;
  c.state = coupon_state::reserved;
  c.application = id;
  storage::batch b;
  b.put(storage::cf::coupons, storage::coupon_key("edu", c.code), encode(c));
  b.erase(storage::cf::coupons, coupon_waiting_key(program::edu, id.str()));
  ASSERT_FALSE(st.commit_sync(std::move(b)));
  cluster n{st};
  EXPECT_EQ(n.stock().reserved, 1u);
  auto w = n.all(std::vector<withdraw_application>{
    withdraw_application{id, "found another program", "applicant"}});
  ASSERT_EQ(w.at(0).state, application_state::withdrawn);
  // The release is asynchronous: wait (bounded) for the stock to show it.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (n.stock().available == 0
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  auto stock = n.stock();
  EXPECT_EQ(stock.available, 1u);
  EXPECT_EQ(stock.reserved, 0u);
  auto row = st.get(storage::cf::coupons, storage::coupon_key("edu", c.code));
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(decode<coupon>(**row)->state, coupon_state::available);
  // The next application gets it. (Later, so that this test's id generator,
  // seeded like the first node's, makes new ids.)
  ASSERT_FALSE(n.clk.set(t0 + std::chrono::hours(1)));
  auto next = n.booked_application(2);
  EXPECT_EQ(next.coupon_code, "EDU-LOST-1");
}

TEST(booking, a_pool_records_a_redemption_committed_on_another_member) {
  // In a cluster the redemption's commit lands in the application's store;
  // the pool's member hears of it and brings its own row up to date, so its
  // stock is right after a restart too.
  storage::memory_store st;
  {
    cluster c{st};
    c.import(csv(0, 1));
    auto a = c.booked_application(1);
    ASSERT_EQ(c.stock().reserved, 1u);
    coupon row;
    row.code = a.coupon_code;
    row.program = program::edu;
    row.state = coupon_state::redeemed;
    row.application = a.id;
    row.redeemed_at = t0;
    c.self->send(c.pool, redeemed_atom::value, row);
    auto deadline = std::chrono::steady_clock::now() + 20s;
    auto stored_state = [&] {
      auto got
        = st.get(storage::cf::coupons, storage::coupon_key("edu", row.code));
      if (!got || !*got)
        return coupon_state::available;
      auto x = decode<coupon>(**got);
      return x ? x->state : coupon_state::available;
    };
    while (stored_state() != coupon_state::redeemed
           && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    EXPECT_EQ(stored_state(), coupon_state::redeemed);
    EXPECT_EQ(c.stock().redeemed, 1u);
  }
  cluster again{st};
  EXPECT_EQ(again.stock().redeemed, 1u);
  EXPECT_EQ(again.stock().reserved, 0u);
}

TEST(booking, a_redemption_tells_a_pool_on_another_member_until_it_confirms) {
  // The pool's member is another one (pools_here false): the redemption's
  // commit arms a pool_redeemed timer; firing it records the code in the
  // pool's row and removes the timer.
  storage::memory_store st;
  cluster c{st, {}, [](registry_deps& rd) {
              rd.pools_here = {false, true, true};
            }};
  c.import(csv(0, 1));
  auto a = c.booked_application(1);
  auto sub = c.redeem(a.coupon_code, "edu-saas-ultimate-support-1y", 25);
  ASSERT_TRUE(sub) << error_message(sub.error());
  auto armed = st.timers_of(a.id.str(), kinds::pool_redeemed);
  ASSERT_TRUE(armed);
  ASSERT_EQ(armed->size(), 1u);
  bool fired = false;
  c.self->request(c.registry, 10s, fire_atom::value, armed->front())
    .receive([&](bool) { fired = true; },
             [&](caf::error& err) { ADD_FAILURE() << error_message(err); });
  EXPECT_TRUE(fired);
  auto left = st.timers_of(a.id.str(), kinds::pool_redeemed);
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->empty());
  EXPECT_EQ(c.stock().redeemed, 1u);
  EXPECT_EQ(c.stock().reserved, 0u);
}

TEST(booking, a_redemption_on_the_pools_own_member_arms_no_pool_timer) {
  storage::memory_store st;
  cluster c{st};
  c.import(csv(0, 1));
  auto a = c.booked_application(1);
  ASSERT_TRUE(c.redeem(a.coupon_code, "edu-saas-ultimate-support-1y", 25));
  auto armed = st.timers_of(a.id.str(), kinds::pool_redeemed);
  ASSERT_TRUE(armed);
  EXPECT_TRUE(armed->empty());
}
