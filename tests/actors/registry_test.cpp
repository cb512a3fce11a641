#include "actors/registry.hpp"

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/atoms.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"
#include "storage/memory_store.hpp"
#include "tests/support/process.hpp"

using namespace tenure;
using namespace std::chrono_literals;

namespace {

const time_point t0 = from_unix_ms(1'795'000'000'000);

application draft() {
  application a;
  a.program = program::edu;
  a.applicant = {"Ada", "ada@uni.example.edu", "Lecturer", "GB"};
  a.organisation = {"uni.example.edu", "Example University", "GB", ""};
  a.edu.institution = "Example University";
  a.seats = 10;
  return a;
}

struct config : caf::actor_system_config {
  config() {
    tenure::add_message_types(*this);
    set("scheduler.max-threads", 2);
  }
};

/// One node's worth of actors over a given store.
struct node {
  explicit node(storage::store& st, duration idle = std::chrono::minutes(5),
                size_t max_activations = 5000)
    : clk(t0)
    , sys(cfg)
    , self(sys) {
    rules.trade_control_countries = {"RU"};
    registry_deps deps;
    deps.store = &st;
    deps.clock = &clk;
    deps.rules = &rules;
    deps.ids = &ids;
    deps.idle_after = idle;
    deps.max_activations_per_second = max_activations;
    registry = sys.spawn(registry_actor, deps);
  }

  ~node() {
    self->send_exit(registry, caf::exit_reason::user_shutdown);
  }

  template <class... Ts>
  caf::expected<application> ask(Ts&&... xs) {
    caf::expected<application> result{application{}};
    self->request(registry, 10s, std::forward<Ts>(xs)...)
      .receive([&](application& a) { result = std::move(a); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  std::vector<uint64_t> stats() {
    std::vector<uint64_t> out;
    self->request(registry, 10s, stats_atom::value)
      .receive(
        [&](uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e) {
          out = {a, b, c, d, e};
        },
        [&](caf::error&) {});
    return out;
  }

  /// Waits (bounded) until `pred(stats())` holds.
  template <class Pred>
  bool wait_stats(Pred pred) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline)
      if (pred(stats()))
        return true;
    return false;
  }

  manual_clock clk;
  eligibility_rules rules;
  id_generator ids{77};
  config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  caf::actor registry;
};

} // namespace

TEST(registry, routes_commands_and_replies_after_the_commit) {
  storage::memory_store st;
  node n{st};
  auto a = n.ask(submit_application{draft()});
  ASSERT_TRUE(a) << error_message(a.error());
  EXPECT_EQ(a->state, application_state::verifying);
  EXPECT_EQ(a->version, 1u);
  auto v = n.ask(record_verification{a->id, verification_outcome::verified, "",
                                     "verifier", "evt_1"});
  ASSERT_TRUE(v) << error_message(v.error());
  EXPECT_EQ(v->state, application_state::awaiting_code);
  auto g = n.ask(get_atom::value, a->id);
  ASSERT_TRUE(g);
  EXPECT_EQ(*g, *v);
  // Stored, not just in memory.
  auto snap = st.get_snapshot(a->id.str());
  ASSERT_TRUE(snap && *snap);
  EXPECT_EQ((*snap)->version, 2u);
}

TEST(registry, illegal_steps_come_back_as_errors_and_change_nothing) {
  storage::memory_store st;
  node n{st};
  auto a = n.ask(submit_application{draft()});
  ASSERT_TRUE(a);
  auto r = n.ask(appeal_rejection{a->id, "why", "ada"});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::illegal_transition);
  EXPECT_NE(error_message(r.error()).find("is verifying"), std::string::npos);
  EXPECT_EQ(n.ask(get_atom::value, a->id)->version, 1u);
}

TEST(registry, a_node_reopened_on_its_store_resumes_every_entity) {
  tenure::test::temp_dir dir;
  std::vector<application> before;
  {
    storage::store_options opts;
    opts.path = dir.path() + "/db";
    auto st = storage::rocksdb_store::open(opts);
    ASSERT_TRUE(st);
    node n{**st};
    for (int i = 0; i < 20; ++i) {
      auto a = n.ask(submit_application{draft()});
      ASSERT_TRUE(a);
      if (i % 2 == 0)
        a = n.ask(record_verification{a->id, verification_outcome::rejected,
                                      "not enrolled", "verifier", ""});
      ASSERT_TRUE(a);
      before.push_back(*a);
    }
  }
  storage::store_options opts;
  opts.path = dir.path() + "/db";
  auto st = storage::rocksdb_store::open(opts);
  ASSERT_TRUE(st);
  node n{**st};
  for (auto& b : before) {
    auto a = n.ask(get_atom::value, b.id);
    ASSERT_TRUE(a) << error_message(a.error());
    EXPECT_EQ(*a, b);
  }
  // And the lifecycle goes on where it stopped.
  auto appealed = n.ask(appeal_rejection{before[0].id, "I am", "ada"});
  ASSERT_TRUE(appealed);
  EXPECT_EQ(appealed->state, application_state::in_review);
}

TEST(registry, a_crashed_entity_actor_is_rebuilt_from_storage) {
  storage::memory_store st;
  node n{st};
  auto a = n.ask(submit_application{draft()});
  ASSERT_TRUE(a);
  caf::actor hdl;
  n.self->request(n.registry, 10s, whereis_atom::value, a->id.str())
    .receive([&](caf::actor& x) { hdl = x; }, [](caf::error&) {});
  ASSERT_TRUE(hdl);
  // What an exception escaping a handler does to an actor.
  n.self->send_exit(hdl, caf::exit_reason::unhandled_exception);
  ASSERT_TRUE(n.wait_stats([](auto s) { return s.size() == 5 && s[3] == 1; }));
  auto g = n.ask(get_atom::value, a->id);
  ASSERT_TRUE(g) << error_message(g.error());
  EXPECT_EQ(*g, *a);
  auto s = n.stats();
  EXPECT_EQ(s[1], 2u); // activated twice
}

TEST(registry, idle_entities_are_passivated_and_come_back) {
  storage::memory_store st;
  node n{st, std::chrono::milliseconds(20)};
  auto a = n.ask(submit_application{draft()});
  ASSERT_TRUE(a);
  // Memory follows the active set: the actor goes, the state stays.
  ASSERT_TRUE(n.wait_stats([](auto s) { return s.size() == 5 && s[0] == 0; }));
  EXPECT_EQ(n.stats()[2], 1u);
  auto g = n.ask(get_atom::value, a->id);
  ASSERT_TRUE(g);
  EXPECT_EQ(*g, *a);
}

TEST(registry, a_burst_to_cold_entities_is_paced_and_keeps_order) {
  storage::memory_store st;
  std::vector<app_id> ids;
  {
    node n{st};
    for (int i = 0; i < 300; ++i) {
      auto a = n.ask(submit_application{draft()});
      ASSERT_TRUE(a);
      ids.push_back(a->id);
    }
  }
  // A restarted node allowing 100 activations a second gets 300 cold
  // entities at once, each asked twice (a command, then a read).
  node n{st, std::chrono::minutes(5), 100};
  for (auto& id : ids) {
    n.self->send(n.registry, withdraw_application{id, "burst", "test"});
    n.self->send(n.registry, get_atom::value, id);
  }
  size_t withdrawn = 0, reads_after_withdraw = 0;
  for (size_t i = 0; i < ids.size() * 2; ++i)
    n.self->receive(
      [&](application& a) {
        if (a.state == application_state::withdrawn)
          ++withdrawn;
        // The read was sent after the command: it must see it.
        if (a.version == 2)
          ++reads_after_withdraw;
      },
      [&](caf::error& err) { ADD_FAILURE() << error_message(err); },
      caf::after(std::chrono::seconds(60)) >>
        [&] { ADD_FAILURE() << "no reply within 60 s"; });
  EXPECT_EQ(withdrawn, 2 * ids.size());
  EXPECT_EQ(reads_after_withdraw, 2 * ids.size());
  auto s = n.stats();
  ASSERT_EQ(s.size(), 5u);
  EXPECT_GT(s[4], 0u);         // some messages were held back
  EXPECT_EQ(s[1], ids.size()); // each entity activated once
}
