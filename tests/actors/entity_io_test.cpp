#include "actors/entity_io.hpp"

#include <gtest/gtest.h>

#include "actors/application_rules.hpp"
#include "messages/errc.hpp"
#include "storage/memory_store.hpp"

using namespace tenure;

namespace {

using app_io = entity_io<application, application_event>;

const time_point t0 = from_unix_ms(1'795'000'000'000);

eligibility_rules rules() {
  eligibility_rules r;
  r.trade_control_countries = {"RU"};
  return r;
}

application draft() {
  static id_generator gen{3};
  application a;
  a.id = gen.next<app_id>(t0);
  a.program = program::edu;
  a.applicant = {"Ada", "ada@uni.example.edu", "Lecturer", "GB"};
  a.organisation = {"uni.example.edu", "Example University", "GB", ""};
  a.edu.institution = "Example University";
  a.seats = 10;
  return a;
}

/// decide + record + commit, as an entity actor does.
application step(storage::store& st, const std::optional<application>& s,
                 const application_command& cmd, time_point now) {
  auto r = rules();
  auto evs = decide(s, cmd, now, application_context{&r});
  EXPECT_TRUE(evs) << error_message(evs.error());
  storage::batch b;
  auto next = app_io::record(b, s, *evs, now);
  EXPECT_FALSE(st.commit_sync(std::move(b)));
  return next;
}

} // namespace

TEST(entity_io, a_lifecycle_survives_reload_with_its_history) {
  storage::memory_store st;
  auto a = step(st, std::nullopt, submit_application{draft()}, t0);
  a = step(st, a,
           record_verification{a.id, verification_outcome::verified, "",
                               "verifier", "evt_9"},
           t0 + duration{1000});
  a = step(st, a, assign_code{"SECRET-CODE-42"}, t0 + duration{2000});
  auto loaded = app_io::load(st, a.id.str());
  ASSERT_TRUE(loaded);
  ASSERT_TRUE(*loaded);
  EXPECT_EQ(**loaded, a);
  EXPECT_EQ(a.version, 3u);
  auto hist = app_io::history(st, a.id.str());
  ASSERT_TRUE(hist) << error_message(hist.error());
  ASSERT_EQ(hist->size(), 3u);
  EXPECT_EQ((*hist)[0].type, "app_submitted");
  EXPECT_EQ((*hist)[1].type, "app_verified");
  EXPECT_EQ((*hist)[1].summary, "by=verifier external_ref=evt_9");
  EXPECT_EQ((*hist)[1].at, t0 + duration{1000});
  EXPECT_EQ((*hist)[2].type, "app_code_assigned");
  for (auto& h : *hist)
    EXPECT_EQ(h.summary.find("SECRET"), std::string::npos) << h.summary;
}

TEST(entity_io, a_stale_writer_is_refused_and_changes_nothing) {
  storage::memory_store st;
  auto a = step(st, std::nullopt, submit_application{draft()}, t0);
  // Two writers start from the same state; the second must not commit.
  auto r = rules();
  auto evs = decide(a, withdraw_application{a.id, "x", "ada"}, t0,
                    application_context{&r});
  ASSERT_TRUE(evs);
  storage::batch b1, b2;
  app_io::record(b1, a, *evs, t0);
  app_io::record(b2, a, *evs, t0);
  EXPECT_FALSE(st.commit_sync(std::move(b1)));
  EXPECT_TRUE(st.commit_sync(std::move(b2)) == errc::conflict);
  auto hist = app_io::history(st, a.id.str());
  ASSERT_TRUE(hist);
  EXPECT_EQ(hist->size(), 2u);
}

TEST(entity_io, unknown_entities_load_as_nothing) {
  storage::memory_store st;
  auto loaded = app_io::load(st, "app_01JD3Q0V8C6X2E1D0PZ5K3W9YB");
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(*loaded);
}
