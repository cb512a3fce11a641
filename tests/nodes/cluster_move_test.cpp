// The offline membership change (nodes/cluster_move.hpp, tenure-move):
// where each kind of row belongs, the plan against an independent count,
// export + import + prune between real RocksDB stores (exactly the rows the
// new member list assigns move, timers still due, snapshots decodable),
// refused bundles (damaged, truncated, for another node, conflicting) that
// write nothing, importing twice, and one end-to-end run of the real
// binaries: tenured, tenure-move, tenured again on the new member.

#include "nodes/cluster_move.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "actors/application_rules.hpp"
#include "actors/coupon_pool.hpp"
#include "actors/entity_io.hpp"
#include "actors/lifecycle.hpp"
#include "actors/subscription_rules.hpp"
#include "messages/codec.hpp"
#include "messages/errc.hpp"
#include "storage/keys.hpp"
#include "storage/memory_store.hpp"
#include "storage/store.hpp"
#include "tests/support/e2e_tools.hpp"
#include "tests/support/process.hpp"

using namespace tenure;
using namespace std::chrono_literals;
namespace cm = tenure::cluster_move;
using storage::cf;
using json = nlohmann::json;

namespace {

using app_io = entity_io<application, application_event>;
using sub_io = entity_io<subscription, subscription_event>;
using case_io = entity_io<compliance_case, case_event>;

const time_point t0 = from_unix_ms(1'790'000'000'000);

std::string nul(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) {
    if (!out.empty())
      out += '\0';
    out.append(p);
  }
  return out;
}

ownership members_of(std::initializer_list<const char*> names) {
  std::vector<cluster_member> ms;
  uint16_t port = 9101;
  for (auto* n : names)
    ms.push_back(cluster_member{n, "127.0.0.1", port++});
  return *ownership::make(std::move(ms));
}

std::string idem_expiry_key(time_point at, const std::string& row_key) {
  std::string k = "idem_exp/";
  storage::append_be64(k, static_cast<uint64_t>(to_unix_ms(at)));
  return k + row_key;
}

// -- a store with every kind of row -------------------------------------------

/// What `fill` wrote, as the test knows it (not read back from the store).
struct filled {
  std::vector<std::string> apps;
  std::vector<std::string> subs;
  /// case id -> its subscription.
  std::map<std::string, std::string> cases;
  std::vector<std::string> ems;
  std::vector<std::string> programs_with_pools;
  std::vector<std::string> idem_keys;
};

void commit(storage::store& st, storage::batch b) {
  auto err = st.commit_sync(std::move(b));
  ASSERT_FALSE(err) << error_message(err);
}

/// Writes applications, subscriptions with compliance cases, emergency
/// licenses, coupon pools, idempotency and webhook rows and markers with the
/// rules' own writers (entity_io, write_effects), as the actors do.
void fill(storage::store& st, filled& out, size_t apps = 30, size_t subs = 16) {
  id_generator ids{42};
  lifecycle_policy pol;
  auto now = t0;
  for (size_t i = 0; i < apps; ++i) {
    application a;
    a.id = ids.next<app_id>(now);
    a.program = i % 2 == 0 ? program::edu : program::oss;
    a.applicant.name = "Ada";
    a.applicant.email = "applicant" + std::to_string(i) + "@example.org";
    a.organisation.name = "Org " + std::to_string(i);
    a.organisation.key = "org" + std::to_string(i) + ".example.org";
    a.seats = 10;
    a.submitted_at = now;
    if (i % 3 == 0) {
      a.state = application_state::in_review;
      a.path = verification_path::manual;
      a.review_due = add_business_days(now, 5);
    }
    std::vector<application_event> evs{app_submitted{a}};
    storage::batch b;
    auto after = app_io::record(b, std::nullopt, evs, now);
    write_effects(b, application_effects(std::nullopt, after, evs, now, pol),
                  ids, now);
    if (i % 5 == 1) // verified, waiting for a code of its pool
      b.put(cf::coupons, coupon_waiting_key(a.program, a.id.str()), "");
    ASSERT_NO_FATAL_FAILURE(commit(st, std::move(b)));
    out.apps.push_back(a.id.str());
  }
  for (size_t i = 0; i < subs; ++i) {
    subscription s;
    s.id = ids.next<sub_id>(now);
    s.program = program::edu;
    s.contact_email = "member" + std::to_string(i) + "@example.org";
    s.start = now;
    s.end = now + std::chrono::duration_cast<duration>(days{365});
    s.lines.push_back({product::ultimate, term::one_year, s.start, s.end});
    if (i < out.apps.size())
      s.application = *app_id::parse(out.apps[i]);
    std::vector<subscription_event> evs{sub_provisioned{s}};
    storage::batch b;
    auto after = sub_io::record(b, std::nullopt, evs, now);
    write_effects(b, subscription_effects(after, evs, now, pol), ids, now);
    b.insert(cf::meta, "active_subscription/edu/org-s" + std::to_string(i),
             s.id.str());
    ASSERT_NO_FATAL_FAILURE(commit(st, std::move(b)));
    out.subs.push_back(s.id.str());
    if (i % 3 == 0) {
      // A compliance case: the subscription's commit writes the case too.
      auto cid = ids.next<case_id>(now);
      std::vector<subscription_event> sevs{
        sub_case_opened{cid, now + pol.cure_period}};
      storage::batch cb;
      auto opened = sub_io::record(cb, after, sevs, now);
      compliance_case c;
      c.id = cid;
      c.subscription = s.id;
      c.reason = "seats resold";
      c.opened_by = "support";
      c.opened_at = now;
      c.deadline = now + pol.cure_period;
      case_io::record(cb, std::nullopt, {case_opened{c}}, now);
      write_effects(cb, subscription_effects(opened, sevs, now, pol), ids, now);
      ASSERT_NO_FATAL_FAILURE(commit(st, std::move(cb)));
      out.cases[cid.str()] = s.id.str();
    }
    if (i % 4 == 1) {
      // An emergency license, as the desk writes it.
      emergency_license l;
      l.id = ids.next<em_id>(now);
      l.subscription = s.id;
      l.users = 5;
      l.recipient_email = "ops" + std::to_string(i) + "@example.org";
      l.days = 5;
      l.issued_at = now;
      l.expires_at = now + std::chrono::duration_cast<duration>(days{5});
      l.license_key = "SECRET-LICENSE";
      l.version = 1;
      audit_record r;
      r.id = ids.next<aud_id>(now);
      r.at = now;
      r.actor = "support";
      r.action = "emergency_license.issue";
      r.subject = l.recipient_email;
      r.entity = l.id.str();
      storage::batch eb;
      eb.put_snapshot(l.id.str(), 1, encode(l), 0);
      eb.put(cf::meta, "emergency/" + s.id.str(), l.id.str());
      eb.put(cf::audit, r.id.str(), encode(r));
      eb.put(cf::meta, "audit_email/" + r.subject + "/" + r.id.str(),
             r.id.str());
      effects fx;
      fx.arm.push_back({std::string{owners::emergency}, l.id.str(),
                        std::string{kinds::emergency_end}, l.expires_at});
      fx.notify.push_back(email(l.recipient_email, "emergency_license",
                                program::none, l.id.str(), {}));
      write_effects(eb, fx, ids, now);
      ASSERT_NO_FATAL_FAILURE(commit(st, std::move(eb)));
      out.ems.push_back(l.id.str());
    }
  }
  // Coupon pools of two programs.
  storage::batch pb;
  for (auto p : {program::edu, program::oss}) {
    for (int i = 0; i < 8; ++i) {
      coupon c;
      c.code = "CODE-" + to_string(p) + "-" + std::to_string(i);
      c.program = p;
      c.import = ids.next<imp_id>(now);
      c.imported_at = now;
      pb.put(cf::coupons, storage::coupon_key(to_string(p), c.code), encode(c));
    }
    out.programs_with_pools.push_back(to_string(p));
  }
  ASSERT_NO_FATAL_FAILURE(commit(st, std::move(pb)));
  // Idempotency records with their expiry rows, webhook dedupe rows,
  // markers and a row of a kind this build does not know.
  storage::batch ib;
  for (int i = 0; i < 12; ++i) {
    auto key = "idem-key-" + std::to_string(i);
    auto row = nul({"request", "e2e-admin", key});
    ib.put(cf::idempotency, row, R"({"status":201})");
    ib.put(cf::meta, idem_expiry_key(now, row), row);
    out.idem_keys.push_back(key);
  }
  for (auto row : {nul({"webhook_sig", "abcdef1790000000"}),
                   nul({"webhook_event", "e1"})}) {
    ib.put(cf::idempotency, row, "x");
    ib.put(cf::meta, idem_expiry_key(now, row), row);
  }
  ib.put(cf::meta, "email_index_v1", "1");
  ib.put(cf::meta, "future/row", "kept");
  ASSERT_NO_FATAL_FAILURE(commit(st, std::move(ib)));
}

// -- the oracle ---------------------------------------------------------------

/// Where a row belongs, computed independently of `owner_key_of`: the first
/// entity id in the key (else in the value), cases mapped to their
/// subscription by what `fill` wrote, plus the documented special cases.
/// Empty: the row stays (node-local or unknown).
std::string oracle_home(const filled& f, cf family, const std::string& key,
                        const std::string& value) {
  static const std::regex id_re{
    "(app|sub|case|em|ntf|aud)_[0-9A-HJKMNP-TV-Z]{26}"};
  static const std::regex idem_re{"idem-key-[0-9]+"};
  std::smatch m;
  if (family == cf::coupons)
    return "pool/" + key.substr(0, key.find('\0'));
  if (family == cf::idempotency || key.rfind("idem_exp/", 0) == 0) {
    if (std::regex_search(key, m, idem_re))
      return "idem/" + m.str();
    return {}; // webhook dedupe
  }
  if (family == cf::meta && key.rfind("emergency/", 0) == 0)
    return value; // the license it names
  if (family == cf::meta && key.rfind("active_subscription/", 0) == 0)
    return "org/" + key.substr(20); // where the organisation applies
  if (family == cf::meta && (key == "email_index_v1" || key == "future/row"))
    return {};
  std::string id;
  if (std::regex_search(key, m, id_re))
    id = m.str();
  else if (std::regex_search(value, m, id_re))
    id = m.str();
  if (id.empty())
    return "?";
  if (auto i = f.cases.find(id); i != f.cases.end())
    return i->second;
  return id;
}

// -- store helpers ------------------------------------------------------------

using row_map = std::map<std::pair<int, std::string>, std::string>;

row_map dump(const storage::store& st) {
  row_map out;
  for (auto family : storage::all_cfs) {
    auto rows = st.scan(family, {});
    EXPECT_TRUE(rows) << error_message(rows.error());
    if (!rows)
      continue;
    for (auto& r : *rows)
      out[{static_cast<int>(family), r.key}] = r.value;
  }
  return out;
}

/// A store's rows without its format marker (written when it is created).
row_map content(const storage::store& st) {
  auto out = dump(st);
  out.erase({static_cast<int>(cf::meta), "tenure.storage.format"});
  return out;
}

std::unique_ptr<storage::rocksdb_store> open_db(const std::string& path) {
  storage::store_options opts;
  opts.path = path;
  auto st = storage::rocksdb_store::open(opts);
  EXPECT_TRUE(st) << error_message(st.error());
  return st ? std::move(*st) : nullptr;
}

std::string read_all(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << bytes;
}

} // namespace

// -- owner_key_of -------------------------------------------------------------

TEST(cluster_move, each_kind_of_row_has_its_home) {
  storage::memory_store st;
  filled f;
  ASSERT_NO_FATAL_FAILURE(fill(st, f));
  auto cases = cm::store_case_lookup(st);
  auto home
    = [&](cf family, const std::string& key, const std::string& value = {}) {
        auto h = cm::owner_key_of(family, key, value, cases);
        EXPECT_TRUE(h) << storage::to_string(family) << ": "
                       << error_message(h.error());
        return h ? *h : cm::row_home{};
      };
  auto owned = [](std::string key) {
    return cm::row_home{cm::row_home::kind::owned, std::move(key)};
  };
  const cm::row_home local{cm::row_home::kind::local, {}};
  const cm::row_home unknown{cm::row_home::kind::unknown, {}};
  auto& app = f.apps[0];
  auto& sub = f.subs[0];
  auto& [case_id_str, case_sub] = *f.cases.begin();
  auto& em = f.ems[0];
  // Snapshots and events by entity; a case by its subscription.
  auto snap
    = [&](const std::string& id) { return **st.get(cf::snapshots, id); };
  EXPECT_EQ(home(cf::snapshots, app, snap(app)), owned(app));
  EXPECT_EQ(home(cf::snapshots, sub, snap(sub)), owned(sub));
  EXPECT_EQ(home(cf::snapshots, em, snap(em)), owned(em));
  EXPECT_EQ(home(cf::snapshots, case_id_str, snap(case_id_str)),
            owned(case_sub));
  EXPECT_EQ(home(cf::events, storage::event_key(app, 1)), owned(app));
  EXPECT_EQ(home(cf::events, storage::event_key(case_id_str, 1)),
            owned(case_sub));
  // Without a lookup, a case's event cannot be placed: an error, not a
  // guess.
  auto blind
    = cm::owner_key_of(cf::events, storage::event_key(case_id_str, 1), {});
  ASSERT_FALSE(blind);
  EXPECT_EQ(blind.error(), errc::invalid_argument);
  // Timers and their index rows by the timer's entity; delivery timers and
  // outbox rows by the notification.
  for (auto& id : {app, sub, em}) {
    auto ts = st.timers_of(id);
    ASSERT_TRUE(ts && !ts->empty()) << id;
    for (auto& t : *ts) {
      auto key = storage::timer_key(t.due, t.owner, t.id.str());
      EXPECT_EQ(home(cf::timers, key, encode(t)), owned(id)) << t.kind;
      EXPECT_EQ(home(cf::timer_index,
                     storage::timer_index_key(t.entity, t.kind, t.id.str()),
                     storage::timer_index_value(t.due, t.owner)),
                owned(id));
    }
  }
  timer case_timer;
  case_timer.id = id_generator{1}.next<tmr_id>(t0);
  case_timer.due = t0;
  case_timer.owner = "compliance";
  case_timer.entity = case_id_str;
  case_timer.kind = "cure_deadline";
  EXPECT_EQ(home(cf::timers,
                 storage::timer_key(t0, "compliance", case_timer.id.str()),
                 encode(case_timer)),
            owned(case_sub));
  auto outbox = st.outbox(1);
  ASSERT_TRUE(outbox && outbox->size() == 1);
  auto& ntf = outbox->front().key;
  EXPECT_EQ(home(cf::outbox, ntf, outbox->front().value), owned(ntf));
  auto deliver = st.timers_of(ntf);
  ASSERT_TRUE(deliver && deliver->size() == 1);
  EXPECT_EQ(home(cf::timers,
                 storage::timer_key(deliver->front().due, "outbox",
                                    deliver->front().id.str()),
                 encode(deliver->front())),
            owned(ntf));
  // Coupon codes and pool waiting rows by pool.
  EXPECT_EQ(home(cf::coupons, storage::coupon_key("edu", "CODE-edu-1")),
            owned("pool/edu"));
  EXPECT_EQ(home(cf::coupons, coupon_waiting_key(program::oss, app)),
            owned("pool/oss"));
  // Audit records and their email index by audit id.
  EXPECT_EQ(home(cf::audit, "aud_01M83WJYYNT193ZSDEP2RKA0T2"),
            owned("aud_01M83WJYYNT193ZSDEP2RKA0T2"));
  EXPECT_EQ(home(cf::meta,
                 "audit_email/ops@example.org/aud_01M83WJYYNT193ZSDEP2RKA0T2",
                 "aud_01M83WJYYNT193ZSDEP2RKA0T2"),
            owned("aud_01M83WJYYNT193ZSDEP2RKA0T2"));
  // Idempotency records and their expiry rows by the client's key; webhook
  // dedupe rows and theirs stay.
  auto request = nul({"request", "e2e-admin", "idem-key-3"});
  EXPECT_EQ(home(cf::idempotency, request), owned("idem/idem-key-3"));
  EXPECT_EQ(home(cf::meta, idem_expiry_key(t0, request), request),
            owned("idem/idem-key-3"));
  auto sig = nul({"webhook_sig", "abcdef1790000000"});
  EXPECT_EQ(home(cf::idempotency, sig), local);
  EXPECT_EQ(home(cf::meta, idem_expiry_key(t0, sig), sig), local);
  EXPECT_EQ(home(cf::idempotency, nul({"webhook_event", "e1"})), local);
  // Index rows with their entity; the running license with the license.
  EXPECT_EQ(home(cf::meta, email_index_key("A@Example.org", app)), owned(app));
  EXPECT_EQ(home(cf::meta, email_index_key("a@example.org", case_id_str)),
            owned(case_sub));
  EXPECT_EQ(home(cf::meta, review_queue_key(t0, *app_id::parse(app))),
            owned(app));
  EXPECT_EQ(home(cf::meta, "emergency/" + sub, em), owned(em));
  EXPECT_EQ(home(cf::meta, "active_subscription/edu/org-s0", sub),
            owned("org/edu/org-s0"));
  // Markers stay; unknown rows stay and are reported.
  EXPECT_EQ(home(cf::meta, "email_index_v1", "1"), local);
  EXPECT_EQ(home(cf::meta, "tenure.storage.format", "x"), local);
  EXPECT_EQ(home(cf::meta, "future/row", "kept"), unknown);
  EXPECT_EQ(home(cf::idempotency, nul({"future", "x"})), unknown);
  // Malformed rows are errors.
  auto bad = [&](cf family, std::string key, std::string value = {}) {
    auto h = cm::owner_key_of(family, key, value, cases);
    EXPECT_FALSE(h) << storage::to_string(family);
    if (!h) {
      EXPECT_EQ(h.error(), errc::corrupt_data) << error_message(h.error());
    }
  };
  bad(cf::coupons, "no-separator");
  bad(cf::events, "short");
  bad(cf::timers, "k", "not msgpack");
  bad(cf::snapshots, "case_01M83WJYYNT193ZSDEP2RKA0T2", "12345678garbage");
  bad(cf::meta, "emergency/" + sub, "");
  bad(cf::snapshots, "");
}

TEST(cluster_move, member_lists_parse_and_are_checked) {
  auto ok = cm::parse_members(" a@127.0.0.1:9101, b@h.example:9102,c@[::1]:1");
  ASSERT_TRUE(ok) << error_message(ok.error());
  ASSERT_EQ(ok->members().size(), 3u);
  EXPECT_EQ(ok->members()[1].host, "h.example");
  EXPECT_EQ(ok->members()[2].host, "::1");
  EXPECT_EQ(ok->members()[2].port, 1);
  for (auto bad : {"", "a", "a@h", "@h:1", "a@h:0", "a@h:65536", "a@h:x",
                   "a@h:1,a@g:2", "a@h:1,b@h:1", "a b@h:1"}) {
    auto r = cm::parse_members(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error(), errc::invalid_argument) << bad;
    }
  }
}

// -- plan ---------------------------------------------------------------------

TEST(cluster_move, plan_counts_match_an_independent_count) {
  storage::memory_store st;
  filled f;
  ASSERT_NO_FATAL_FAILURE(fill(st, f));
  auto next = members_of({"a", "b", "d"});
  // Independently: every entity fill wrote, placed with owner_of.
  std::map<std::string, std::vector<std::string>> expected; // dest -> ids
  uint64_t staying = 0;
  std::vector<std::pair<std::string, std::string>> all; // (id, home)
  for (auto& id : f.apps)
    all.emplace_back(id, id);
  for (auto& id : f.subs)
    all.emplace_back(id, id);
  for (auto& [id, sub] : f.cases)
    all.emplace_back(id, sub);
  for (auto& id : f.ems)
    all.emplace_back(id, id);
  std::sort(all.begin(), all.end()); // snapshots are listed in key order
  for (auto& p : f.programs_with_pools)
    all.emplace_back("pool/" + p, "pool/" + p);
  for (auto& [id, home] : all) {
    auto& owner = next.owner_of(home).name;
    if (owner == "a")
      ++staying;
    else
      expected[owner].push_back(id);
  }
  ASSERT_EQ(expected.size(), 2u) << "the sample moves nothing to b or d";
  auto plan = cm::plan_moves(st, next, "a", 1000);
  ASSERT_TRUE(plan) << error_message(plan.error());
  EXPECT_EQ(plan->from, "a");
  EXPECT_EQ(plan->staying, staying);
  ASSERT_EQ(plan->moves.size(), expected.size());
  uint64_t total = 0;
  for (auto& m : plan->moves) {
    EXPECT_EQ(m.from, "a");
    ASSERT_TRUE(expected.count(m.to)) << m.to;
    EXPECT_EQ(m.entities, expected[m.to]) << m.to;
    EXPECT_EQ(m.count, expected[m.to].size());
    EXPECT_EQ(m.kinds.total(), m.count);
    uint64_t cases = 0;
    for (auto& id : expected[m.to])
      cases += id.rfind("case_", 0) == 0;
    EXPECT_EQ(m.kinds.compliance_cases, cases);
    total += m.count;
  }
  EXPECT_EQ(plan->total, total);
  EXPECT_EQ(plan->total + plan->staying, f.apps.size() + f.subs.size()
                                           + f.cases.size() + f.ems.size()
                                           + f.programs_with_pools.size());
  // The list is cut at the limit, the count is not.
  auto short_plan = cm::plan_moves(st, next, "a", 2);
  ASSERT_TRUE(short_plan);
  for (auto& m : short_plan->moves) {
    EXPECT_EQ(m.entities.size(), std::min<size_t>(2, m.count));
    EXPECT_EQ(m.entities, std::vector<std::string>(
                            expected[m.to].begin(),
                            expected[m.to].begin()
                              + static_cast<ptrdiff_t>(m.entities.size())));
  }
  // The members it keeps: nothing moves when the list keeps only this node.
  auto alone = cm::plan_moves(st, members_of({"a"}), "a", 10);
  ASSERT_TRUE(alone);
  EXPECT_TRUE(alone->moves.empty());
  EXPECT_EQ(alone->total, 0u);
}

// -- export, import, prune ----------------------------------------------------

class cluster_move_stores : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = std::make_unique<test::temp_dir>("tenure-move");
    a_path_ = dir_->path() + "/a";
    out_ = dir_->path() + "/bundles";
    a_ = open_db(a_path_);
    ASSERT_TRUE(a_);
    ASSERT_NO_FATAL_FAILURE(fill(*a_, f_));
  }

  std::unique_ptr<storage::rocksdb_store> open(const std::string& name) {
    return open_db(dir_->path() + "/" + name);
  }

  std::string bundle(const std::string& to) const {
    return out_ + "/" + to + ".tmove";
  }

  std::unique_ptr<test::temp_dir> dir_;
  std::string a_path_;
  std::string out_;
  std::unique_ptr<storage::rocksdb_store> a_;
  filled f_;
  ownership next_ = members_of({"a", "b", "d"});
};

TEST_F(cluster_move_stores, exactly_the_assigned_rows_move) {
  auto before = content(*a_);
  auto exported = cm::export_moves(*a_, next_, "a", out_);
  ASSERT_TRUE(exported) << error_message(exported.error());
  ASSERT_EQ(exported->bundles.size(), 2u);
  EXPECT_EQ(exported->bundles[0].to, "b");
  EXPECT_EQ(exported->bundles[1].to, "d");
  // Webhook rows and their expiry rows, the email index and storage format
  // markers.
  EXPECT_EQ(exported->local_rows, 6u);
  EXPECT_EQ(exported->unknown_rows, 1u);
  EXPECT_FALSE(std::filesystem::exists(bundle("a")));
  // The export wrote nothing into the source.
  EXPECT_EQ(content(*a_), before);
  // The plan and the bundles agree on the entities.
  auto plan = cm::plan_moves(*a_, next_, "a", 0);
  ASSERT_TRUE(plan);
  for (size_t i = 0; i < 2; ++i)
    EXPECT_EQ(exported->bundles[i].entities.total(), plan->moves[i].count);

  std::map<std::string, std::unique_ptr<storage::rocksdb_store>> dest;
  for (auto& b : exported->bundles) {
    dest[b.to] = open(b.to);
    ASSERT_TRUE(dest[b.to]);
    auto imported = cm::import_bundle(*dest[b.to], b.path, b.to);
    ASSERT_TRUE(imported) << error_message(imported.error());
    EXPECT_EQ(imported->from, "a");
    EXPECT_EQ(imported->to, b.to);
    EXPECT_EQ(imported->written, b.rows.total());
    EXPECT_EQ(imported->already_present, 0u);
    EXPECT_EQ(imported->rows.by_cf, b.rows.by_cf);
  }
  a_->close();
  a_.reset();
  auto pruned = cm::prune_moved(a_path_ + "", next_, "a");
  ASSERT_TRUE(pruned) << error_message(pruned.error());
  a_ = open_db(a_path_);
  ASSERT_TRUE(a_);

  // Every row is in exactly the store the oracle names, unchanged.
  auto after_a = content(*a_);
  auto after_b = content(*dest["b"]);
  auto after_d = content(*dest["d"]);
  std::map<std::string, size_t> moved_to;
  for (auto& [k, v] : before) {
    auto family = static_cast<cf>(k.first);
    auto home = oracle_home(f_, family, k.second, v);
    ASSERT_NE(home, "?") << storage::to_string(family) << " row not placed";
    auto where = home.empty() ? std::string{"a"} : next_.owner_of(home).name;
    auto in = [&](const row_map& m) {
      auto i = m.find(k);
      return i != m.end() && i->second == v;
    };
    EXPECT_EQ(in(after_a), where == "a")
      << storage::to_string(family) << " row of " << home;
    EXPECT_EQ(in(after_b), where == "b")
      << storage::to_string(family) << " row of " << home;
    EXPECT_EQ(in(after_d), where == "d")
      << storage::to_string(family) << " row of " << home;
    ++moved_to[where];
  }
  // ... and no store has any other row.
  EXPECT_EQ(after_a.size(), moved_to["a"]);
  EXPECT_EQ(after_b.size(), moved_to["b"]);
  EXPECT_EQ(after_d.size(), moved_to["d"]);
  EXPECT_GT(moved_to["b"], 0u);
  EXPECT_GT(moved_to["d"], 0u);
  EXPECT_EQ(pruned->rows.total(), moved_to["b"] + moved_to["d"]);

  // Moved entities decode with their history, their timers are due on the
  // new store as before, and cases sit with their subscriptions.
  auto far = t0 + std::chrono::duration_cast<duration>(days{4000});
  size_t checked_apps = 0;
  size_t checked_cases = 0;
  for (auto& [name, st] : dest) {
    auto due = st->due_timers(far);
    ASSERT_TRUE(due);
    size_t timers = 0;
    for (auto& id : f_.apps) {
      if (next_.owner_of(id).name != name)
        continue;
      auto app = app_io::load(*st, id);
      ASSERT_TRUE(app && *app) << id;
      EXPECT_EQ((*app)->id.str(), id);
      auto h = app_io::history(*st, id);
      ASSERT_TRUE(h && !h->empty()) << id;
      EXPECT_EQ(h->front().type, "app_submitted");
      auto ts = st->timers_of(id);
      ASSERT_TRUE(ts);
      EXPECT_FALSE(ts->empty()) << id;
      timers += ts->size();
      ++checked_apps;
    }
    for (auto& [cid, sub] : f_.cases) {
      if (next_.owner_of(sub).name != name)
        continue;
      auto c = case_io::load(*st, cid);
      ASSERT_TRUE(c && *c) << cid;
      EXPECT_EQ((*c)->subscription.str(), sub);
      ASSERT_TRUE(sub_io::load(*st, sub) && *sub_io::load(*st, sub));
      auto cure = st->timers_of(sub, "cure_deadline");
      ASSERT_TRUE(cure);
      EXPECT_EQ(cure->size(), 1u) << sub;
      ++checked_cases;
    }
    EXPECT_GE(due->size(), timers);
    // Every timer the new store holds is due by its index too.
    for (auto& t : *due) {
      auto idx = st->timers_of(t.entity, t.kind);
      ASSERT_TRUE(idx);
      EXPECT_EQ(std::count_if(idx->begin(), idx->end(),
                              [&](const timer& x) { return x.id == t.id; }),
                1)
        << t.kind;
    }
  }
  EXPECT_GT(checked_apps, 0u);
  EXPECT_GT(checked_cases, 0u);

  // Pruning again finds nothing more.
  a_->close();
  a_.reset();
  auto again = cm::prune_moved(a_path_, next_, "a");
  ASSERT_TRUE(again) << error_message(again.error());
  EXPECT_EQ(again->rows.total(), 0u);
}

TEST_F(cluster_move_stores, importing_twice_is_harmless) {
  auto exported = cm::export_moves(*a_, next_, "a", out_);
  ASSERT_TRUE(exported) << error_message(exported.error());
  auto d = open("d");
  ASSERT_TRUE(d);
  auto first = cm::import_bundle(*d, bundle("d"), "d");
  ASSERT_TRUE(first) << error_message(first.error());
  auto once = dump(*d);
  auto second = cm::import_bundle(*d, bundle("d"), "d");
  ASSERT_TRUE(second) << error_message(second.error());
  EXPECT_EQ(second->written, 0u);
  EXPECT_EQ(second->already_present, first->rows.total());
  EXPECT_EQ(dump(*d), once);
}

TEST_F(cluster_move_stores, damaged_bundles_are_refused_and_write_nothing) {
  auto exported = cm::export_moves(*a_, next_, "a", out_);
  ASSERT_TRUE(exported) << error_message(exported.error());
  auto good = read_all(bundle("d"));
  ASSERT_GT(good.size(), 200u);
  auto d = open("d");
  ASSERT_TRUE(d);
  auto empty = dump(*d);
  auto damaged = out_ + "/damaged.tmove";
  auto refused = [&](const std::string& bytes, const char* what) {
    write_all(damaged, bytes);
    auto r = cm::import_bundle(*d, damaged, "d");
    EXPECT_FALSE(r) << what;
    if (!r) {
      EXPECT_EQ(r.error(), errc::corrupt_data)
        << what << ": " << error_message(r.error());
    }
    EXPECT_EQ(dump(*d), empty) << what << ": something was written";
  };
  // A flipped byte in each part of the file.
  for (size_t pos : {size_t{3}, size_t{20}, good.size() / 3, good.size() / 2,
                     good.size() - 40, good.size() - 1}) {
    auto bytes = good;
    bytes[pos] = static_cast<char>(bytes[pos] ^ 0x01);
    refused(bytes, ("flipped byte " + std::to_string(pos)).c_str());
  }
  // Truncated anywhere, or with bytes appended.
  for (size_t len : {size_t{0}, size_t{7}, good.size() / 2, good.size() - 33,
                     good.size() - 1})
    refused(good.substr(0, len), ("truncated " + std::to_string(len)).c_str());
  refused(good + "x", "trailing byte");
  // Not addressed to this node.
  auto other = cm::import_bundle(*d, bundle("b"), "d");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error(), errc::invalid_argument);
  EXPECT_NE(error_message(other.error()).find("'b'"), std::string::npos)
    << error_message(other.error());
  EXPECT_EQ(dump(*d), empty);
  // The intact bundle still imports.
  auto ok = cm::import_bundle(*d, bundle("d"), "d");
  EXPECT_TRUE(ok) << error_message(ok.error());
}

TEST_F(cluster_move_stores, conflicting_rows_are_refused_and_write_nothing) {
  auto exported = cm::export_moves(*a_, next_, "a", out_);
  ASSERT_TRUE(exported) << error_message(exported.error());
  auto d = open("d");
  ASSERT_TRUE(d);
  // The destination holds another version of an entity the bundle brings.
  std::string moved;
  for (auto& id : f_.apps)
    if (next_.owner_of(id).name == "d") {
      moved = id;
      break;
    }
  ASSERT_FALSE(moved.empty());
  storage::batch b;
  b.put_snapshot(moved, 7, "other bytes", 0);
  ASSERT_FALSE(d->commit_sync(std::move(b)));
  auto before = dump(*d);
  auto r = cm::import_bundle(*d, bundle("d"), "d");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::conflict);
  EXPECT_NE(error_message(r.error()).find(moved), std::string::npos)
    << error_message(r.error());
  EXPECT_EQ(dump(*d), before);
  // A coupon conflict names the pool, never the code.
  auto c = open("c");
  ASSERT_TRUE(c);
  std::string pool_bundle;
  for (auto& bi : exported->bundles)
    if (bi.rows[cf::coupons] > 0)
      pool_bundle = bi.to;
  ASSERT_FALSE(pool_bundle.empty()) << "no pool moves in this sample";
  auto rows = a_->scan(cf::coupons, {});
  ASSERT_TRUE(rows);
  std::string code_key;
  for (auto& row : *rows) {
    auto h = cm::owner_key_of(cf::coupons, row.key, row.value);
    if (h && next_.owner_of(h->key).name == pool_bundle
        && row.key.find("CODE-") != std::string::npos) {
      code_key = row.key;
      break;
    }
  }
  ASSERT_FALSE(code_key.empty());
  storage::batch cb;
  cb.put(cf::coupons, code_key, "another state");
  ASSERT_FALSE(c->commit_sync(std::move(cb)));
  auto cr = cm::import_bundle(*c, bundle(pool_bundle), pool_bundle);
  ASSERT_FALSE(cr);
  EXPECT_EQ(cr.error(), errc::conflict);
  auto msg = error_message(cr.error());
  EXPECT_EQ(msg.find("CODE-"), std::string::npos) << msg;
  EXPECT_NE(msg.find("coupon row of pool"), std::string::npos) << msg;
}

TEST_F(cluster_move_stores, prune_refuses_a_store_in_use) {
  // a_ is open: RocksDB's LOCK is held, as by a running node.
  auto r = cm::prune_moved(a_path_, next_, "a");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::storage_failure);
  EXPECT_NE(error_message(r.error()).find("lock"), std::string::npos)
    << error_message(r.error());
}

// -- end to end: tenured, tenure-move, tenured --------------------------------

namespace {

std::string move_bin() {
  return test::build_dir() + "/nodes/tenure-move";
}

struct run_result {
  int code = -1;
  std::string out;
  std::string err;
};

run_result run_move(std::vector<std::string> args) {
  args.insert(args.begin(), move_bin());
  test::child_process p{args};
  run_result r;
  auto code = p.wait(60s);
  r.code = code ? *code : -1;
  r.out = p.out();
  r.err = p.err();
  return r;
}

struct http_reply {
  int status = 0;
  json body;
};

class client {
public:
  client(int port, std::string token)
    : cli_("127.0.0.1", port) {
    cli_.set_connection_timeout(5, 0);
    cli_.set_read_timeout(30, 0);
    headers_.emplace("Authorization", "Bearer " + token);
  }

  http_reply get(const std::string& path) {
    return wrap(cli_.Get(path.c_str(), headers_));
  }

  http_reply post(const std::string& path, const json& body,
                  const std::string& idem = {}) {
    auto h = headers_;
    if (!idem.empty())
      h.emplace("Idempotency-Key", idem);
    return wrap(cli_.Post(path.c_str(), h, body.dump(), "application/json"));
  }

private:
  static http_reply wrap(const httplib::Result& r) {
    http_reply out;
    if (!r)
      return out;
    out.status = r->status;
    out.body = json::parse(r->body, nullptr, false);
    return out;
  }

  httplib::Client cli_;
  httplib::Headers headers_;
};

json edu_application(const std::string& tag) {
  auto site = "https://" + tag + ".example.org";
  return json{
    {"program", "edu"},
    {"channel", "sheerid"},
    {"applicant",
     {{"name", "Ada Lovelace"},
      {"email", tag + "@example.org"},
      {"job_title", "Lecturer"},
      {"country", "DE"}}},
    {"organisation", {{"name", tag}, {"country", "DE"}, {"website", site}}},
    {"edu", {{"institution", tag}, {"level", "university"}}},
    {"hosting", "saas"},
    {"seats", 25},
    {"support", "without"},
    {"term", "1y"}};
}

std::vector<std::string> history_types(const json& app) {
  std::vector<std::string> out;
  if (app.contains("history") && app["history"].is_array())
    for (auto& h : app["history"])
      out.push_back(h.value("type", std::string{}));
  return out;
}

bool starts_with(const std::vector<std::string>& x,
                 const std::vector<std::string>& prefix) {
  return x.size() >= prefix.size()
         && std::equal(prefix.begin(), prefix.end(), x.begin());
}

} // namespace

TEST(cluster_move_e2e, a_new_member_serves_what_it_imported) {
  ASSERT_TRUE(std::filesystem::exists(move_bin())) << move_bin();
  test::temp_dir dir{"tenure-move-e2e"};
  auto data_a = dir.path() + "/a";
  auto data_d = dir.path() + "/d";
  auto out = dir.path() + "/bundles";
  const std::string members = "a@127.0.0.1:9101,d@127.0.0.1:9104";
  auto next = cm::parse_members(members);
  ASSERT_TRUE(next);

  // Node a alone: submit applications until both a and d (under the new
  // list) own at least two.
  std::map<std::string, std::vector<std::string>> owned; // node -> app ids
  std::map<std::string, std::vector<std::string>> histories;
  {
    test::tenured_node a{data_a, {"--clock", "manual"}};
    ASSERT_TRUE(a.line) << a.proc.err();
    ASSERT_GT(a.port, 0);
    client http{a.port, test::trim(test::read_file(data_a + "/admin.token"))};
    for (int i = 0; i < 40 && (owned["a"].size() < 2 || owned["d"].size() < 2);
         ++i) {
      auto tag = "move-" + std::to_string(i) + "-" + test::random_hex(3);
      auto r = http.post("/v1/applications", edu_application(tag),
                         i % 2 ? "idem-" + tag : std::string{});
      ASSERT_EQ(r.status, 201) << r.body.dump();
      auto id = r.body["id"].get<std::string>();
      owned[next->owner_of(id).name].push_back(id);
    }
    ASSERT_GE(owned["a"].size(), 2u);
    ASSERT_GE(owned["d"].size(), 2u);
    for (auto& [node, ids] : owned)
      for (auto& id : ids) {
        auto r = http.get("/v1/applications/" + id);
        ASSERT_EQ(r.status, 200);
        histories[id] = history_types(r.body);
        ASSERT_FALSE(histories[id].empty()) << r.body.dump();
      }
    // Offline only: the running node holds the store's lock.
    auto busy = run_move(
      {"plan", "--data", data_a, "--node", "a", "--members", members});
    EXPECT_EQ(busy.code, 1) << busy.out << busy.err;
    EXPECT_NE(busy.err.find("stop the node first"), std::string::npos)
      << busy.err;
    ASSERT_EQ(a.stop(), std::optional<int>{0});
  }

  // Usage errors exit 2.
  EXPECT_EQ(run_move({}).code, 2);
  EXPECT_EQ(run_move({"export", "--data", data_a, "--node", "a"}).code, 2);
  EXPECT_EQ(run_move({"plan", "--data", data_a, "--node", "a", "--members",
                      "a@127.0.0.1"})
              .code,
            2);
  EXPECT_EQ(run_move({"launch", "--data", data_a}).code, 2);

  auto plan = run_move({"plan", "--data", data_a, "--node", "a", "--members",
                        members, "--limit", "100"});
  ASSERT_EQ(plan.code, 0) << plan.out << plan.err;
  EXPECT_NE(plan.out.find("a -> d"), std::string::npos) << plan.out;
  for (auto& id : owned["d"])
    EXPECT_NE(plan.out.find(id), std::string::npos) << plan.out;
  for (auto& id : owned["a"])
    EXPECT_EQ(plan.out.find(id), std::string::npos) << plan.out;

  auto exp = run_move({"export", "--data", data_a, "--node", "a", "--members",
                       members, "--out", out});
  ASSERT_EQ(exp.code, 0) << exp.out << exp.err;
  ASSERT_TRUE(std::filesystem::exists(out + "/d.tmove")) << exp.out;
  EXPECT_FALSE(std::filesystem::exists(out + "/a.tmove"));

  auto wrong = run_move(
    {"import", "--data", data_d, "--node", "e", "--bundle", out + "/d.tmove"});
  EXPECT_EQ(wrong.code, 1) << wrong.out << wrong.err;
  EXPECT_NE(wrong.err.find("addressed to node 'd'"), std::string::npos)
    << wrong.err;

  auto imp = run_move(
    {"import", "--data", data_d, "--node", "d", "--bundle", out + "/d.tmove"});
  ASSERT_EQ(imp.code, 0) << imp.out << imp.err;
  auto imp2 = run_move(
    {"import", "--data", data_d, "--node", "d", "--bundle", out + "/d.tmove"});
  ASSERT_EQ(imp2.code, 0) << imp2.out << imp2.err;
  EXPECT_NE(imp2.out.find("written 0"), std::string::npos) << imp2.out;

  auto prune = run_move(
    {"prune", "--data", data_a, "--node", "a", "--members", members});
  ASSERT_EQ(prune.code, 0) << prune.out << prune.err;

  // Node d, standalone on its imported store: the moved applications with
  // their history. Their verification timers moved too: due since the
  // submission, they fire on d (and only there), which extends the history.
  {
    test::tenured_node d{data_d, {"--clock", "manual"}};
    ASSERT_TRUE(d.line) << d.proc.err();
    ASSERT_GT(d.port, 0);
    client http{d.port, test::trim(test::read_file(data_d + "/admin.token"))};
    for (auto& id : owned["d"]) {
      http_reply last;
      bool started = test::eventually([&] {
        last = http.get("/v1/applications/" + id);
        return last.status == 200
               && last.body.value("verification_attempts", 0) >= 1;
      });
      ASSERT_TRUE(started) << id << ": " << last.body.dump();
      EXPECT_TRUE(starts_with(history_types(last.body), histories[id]))
        << id << ": " << last.body["history"].dump();
      EXPECT_EQ(history_types(last.body).back(), "app_verification_started")
        << id << ": " << last.body["history"].dump();
    }
    for (auto& id : owned["a"])
      EXPECT_EQ(http.get("/v1/applications/" + id).status, 404) << id;
    // The next timer of each (the verifier's answer is overdue in 2 days).
    auto timers = http.get("/v1/timers");
    ASSERT_EQ(timers.status, 200) << timers.body.dump();
    auto text = timers.body.dump();
    for (auto& id : owned["d"])
      EXPECT_NE(text.find(id), std::string::npos)
        << id << " has no timer on d: " << text;
    for (auto& id : owned["a"])
      EXPECT_EQ(text.find(id), std::string::npos)
        << id << " has a timer on d: " << text;
    ASSERT_EQ(d.stop(), std::optional<int>{0});
  }

  // Node a keeps only its own.
  {
    test::tenured_node a{data_a, {"--clock", "manual"}};
    ASSERT_TRUE(a.line) << a.proc.err();
    client http{a.port, test::trim(test::read_file(data_a + "/admin.token"))};
    for (auto& id : owned["a"]) {
      auto r = http.get("/v1/applications/" + id);
      ASSERT_EQ(r.status, 200) << id;
      EXPECT_TRUE(starts_with(history_types(r.body), histories[id]))
        << id << ": " << r.body["history"].dump();
    }
    for (auto& id : owned["d"])
      EXPECT_EQ(http.get("/v1/applications/" + id).status, 404) << id;
    ASSERT_EQ(a.stop(), std::optional<int>{0});
  }
}
