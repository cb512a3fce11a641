#include "actors/outreach_desk.hpp"

#include <algorithm>
#include <cctype>
#include <random>
#include <set>

#include <fmt/format.h>

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "actors/atoms.hpp"
#include "actors/entity_io.hpp"
#include "actors/lifecycle.hpp"
#include "actors/log.hpp"
#include "actors/unexpected.hpp"
#include "messages/codec.hpp"
#include "messages/errc.hpp"

namespace tenure {

namespace {

const log::logger lg{"outreach"};

using self_ptr = caf::stateful_actor<outreach_desk_state>*;
using account_io = entity_io<account, account_event>;
using program_io = entity_io<outreach_program, program_event>;

std::string lower(std::string s) {
  for (auto& ch : s)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

/// The meta row that finds an account by its CRM reference.
std::string ref_key(const std::string& ref) {
  return "acct_ref/" + lower(ref);
}

/// Decodes a snapshot row's value (be64 version, then the record).
template <class T>
caf::expected<T> from_snapshot_row(const std::string& value) {
  if (value.size() < 8)
    return make_error(errc::corrupt_data, "snapshot row too short");
  return decode<T>(std::string_view{value}.substr(8));
}

/// The desk's work, on its own thread (the actor is detached).
struct book {
  outreach_deps deps;

  time_point now() const {
    return deps.clock->now();
  }

  // -- reads ------------------------------------------------------------------

  caf::expected<account> load_account(const acct_id& id) const {
    auto a = account_io::load(*deps.store, id.str());
    if (!a)
      return std::move(a.error());
    if (!*a)
      return make_error(errc::not_found, "no account " + id.str());
    return std::move(**a);
  }

  caf::expected<account> by_ref(const std::string& ref) const {
    auto row = deps.store->get(storage::cf::meta, ref_key(ref));
    if (!row)
      return std::move(row.error());
    auto id = *row ? acct_id::parse(**row) : std::nullopt;
    if (!id)
      return make_error(errc::not_found,
                        "no account with reference " + ref.substr(0, 60));
    return load_account(*id);
  }

  caf::expected<outreach_program> load_program(const prg_id& id) const {
    auto p = program_io::load(*deps.store, id.str());
    if (!p)
      return std::move(p.error());
    if (!*p)
      return make_error(errc::not_found, "no outreach program " + id.str());
    return std::move(**p);
  }

  caf::expected<outreach_counts> load_counts(const prg_id& id) const {
    auto row = deps.store->get(storage::cf::outreach, outreach_counts_key(id));
    if (!row)
      return std::move(row.error());
    if (!*row)
      return outreach_counts{};
    return decode<outreach_counts>(**row);
  }

  caf::expected<outreach_delivery> load_delivery(const ntf_id& id) const {
    auto row
      = deps.store->get(storage::cf::outreach, outreach_delivery_key(id));
    if (!row)
      return std::move(row.error());
    if (!*row)
      return make_error(errc::not_found, "no outreach email " + id.str());
    return decode<outreach_delivery>(**row);
  }

  caf::expected<program_view> view(const prg_id& id) const {
    auto p = load_program(id);
    if (!p)
      return std::move(p.error());
    auto c = load_counts(id);
    if (!c)
      return std::move(c.error());
    program_view v;
    v.program = std::move(*p);
    v.counts = *c;
    return v;
  }

  // -- accounts ---------------------------------------------------------------

  caf::expected<account> put(put_account cmd) {
    auto t = now();
    auto& a = cmd.acct;
    // Trim what people paste.
    for (auto& c : a.contacts) {
      while (!c.email.empty()
             && std::isspace(static_cast<unsigned char>(c.email.back())))
        c.email.pop_back();
      while (!c.email.empty()
             && std::isspace(static_cast<unsigned char>(c.email.front())))
        c.email.erase(0, 1);
    }
    if (auto err = validate_account(a))
      return err;
    std::optional<account> before;
    if (a.id.empty() && !a.external_ref.empty()) {
      auto row = deps.store->get(storage::cf::meta, ref_key(a.external_ref));
      if (!row)
        return std::move(row.error());
      if (*row) {
        auto id = acct_id::parse(**row);
        if (!id)
          return make_error(errc::corrupt_data, "account reference row");
        a.id = *id;
      }
    }
    if (!a.id.empty()) {
      auto old = load_account(a.id);
      if (!old)
        return std::move(old.error());
      before = std::move(*old);
    } else {
      a.id = deps.ids->next<acct_id>(t);
    }
    // Contacts keep their ids (matched by id, else by address) and their
    // bounce mark while their address stays.
    for (auto& c : a.contacts) {
      const contact* prev = nullptr;
      if (before)
        for (auto& o : before->contacts)
          if ((!c.id.empty() && o.id == c.id)
              || (c.id.empty() && lower(o.email) == lower(c.email)))
            prev = &o;
      if (!c.id.empty() && !prev)
        return make_error(errc::invalid_argument,
                          "contacts: no contact " + c.id.str().substr(0, 40)
                            + " at account " + a.id.str());
      if (prev) {
        c.id = prev->id;
        c.bounced = lower(prev->email) == lower(c.email) && prev->bounced;
      } else {
        c.id = deps.ids->next<con_id>(t);
        c.bounced = false;
      }
    }
    storage::batch b;
    if (before && before->external_ref != a.external_ref
        && !before->external_ref.empty())
      b.erase(storage::cf::meta, ref_key(before->external_ref));
    if (!a.external_ref.empty())
      b.put(storage::cf::meta, ref_key(a.external_ref), a.id.str());
    auto after = account_io::record(b, before, {acct_saved{a, cmd.by}}, t);
    if (auto err = deps.store->commit_sync(std::move(b)))
      return err;
    return after;
  }

  caf::expected<account> import(import_account cmd) {
    auto row
      = deps.store->get(storage::cf::meta, ref_key(cmd.acct.external_ref));
    if (!row)
      return std::move(row.error());
    if (*row) {
      auto id = acct_id::parse(**row);
      if (!id)
        return make_error(errc::corrupt_data, "account reference row");
      auto stored = load_account(*id);
      if (!stored)
        return std::move(stored.error());
      cmd.acct = merge_import(std::move(*stored), cmd.acct);
    }
    return put(put_account{std::move(cmd.acct), std::move(cmd.by)});
  }

  caf::expected<account> add(add_contact cmd) {
    auto a = load_account(cmd.account);
    if (!a)
      return std::move(a.error());
    cmd.contact.id = con_id{};
    a->contacts.push_back(std::move(cmd.contact));
    return put(put_account{std::move(*a), std::move(cmd.by)});
  }

  caf::expected<std::vector<account>> accounts(const list_accounts& q) const {
    auto rows = deps.store->scan(storage::cf::snapshots, acct_id::prefix,
                                 std::min<size_t>(q.limit, 1000), q.after);
    if (!rows)
      return std::move(rows.error());
    std::vector<account> out;
    for (auto& r : *rows) {
      auto a = from_snapshot_row<account>(r.value);
      if (!a)
        return std::move(a.error());
      out.push_back(std::move(*a));
    }
    return out;
  }

  // -- programs ---------------------------------------------------------------

  caf::expected<program_view> create(create_program cmd) {
    auto t = now();
    auto& p = cmd.program;
    if (auto err = validate_program(p, t))
      return err;
    p.id = deps.ids->next<prg_id>(t);
    p.state = outreach_state::draft;
    p.system = false;
    p.created_at = t;
    p.launched_at = p.ended_at = time_point{};
    p.steps_sent = 0;
    storage::batch b;
    auto after = program_io::record(b, std::nullopt, {prg_created{p}}, t);
    b.put(storage::cf::outreach, outreach_counts_key(p.id),
          encode(outreach_counts{}));
    if (auto err = deps.store->commit_sync(std::move(b)))
      return err;
    lg.info("program created id={} kind={} steps={} by={}", after.id.str(),
            to_string(after.kind), after.steps.size(), after.created_by);
    return program_view{after, {}};
  }

  caf::expected<std::vector<program_view>>
  programs(const list_programs& q) const {
    auto rows = deps.store->scan(storage::cf::snapshots, prg_id::prefix,
                                 std::min<size_t>(q.limit, 1000), q.after);
    if (!rows)
      return std::move(rows.error());
    std::vector<program_view> out;
    for (auto& r : *rows) {
      auto p = from_snapshot_row<outreach_program>(r.value);
      if (!p)
        return std::move(p.error());
      auto c = load_counts(p->id);
      if (!c)
        return std::move(c.error());
      out.push_back(program_view{std::move(*p), *c});
    }
    return out;
  }

  caf::expected<program_view> act(const prg_id& id,
                                  const program_command& cmd) {
    auto p = load_program(id);
    if (!p)
      return std::move(p.error());
    auto t = now();
    auto evs = decide(*p, cmd, t);
    if (!evs)
      return std::move(evs.error());
    storage::batch b;
    auto after = program_io::record(b, std::optional{*p}, *evs, t);
    if (std::holds_alternative<launch_program>(cmd)) {
      auto times = step_times(after, t);
      for (size_t i = 0; i < times.size(); ++i)
        if (times[i]) {
          timer tm;
          tm.id = deps.ids->next<tmr_id>(t);
          tm.due = *times[i];
          tm.owner = std::string{outreach_owner};
          tm.entity = after.id.str();
          tm.kind = step_kind(static_cast<uint32_t>(i));
          b.put_timer(tm);
        }
    } else if (std::holds_alternative<stop_program>(cmd)) {
      b.cancel_timers(after.id.str());
    }
    if (auto err = deps.store->commit_sync(std::move(b)))
      return err;
    lg.info("program {} id={} state={}",
            std::holds_alternative<launch_program>(cmd) ? "launched"
                                                        : "stopped",
            after.id.str(), to_string(after.state));
    auto c = load_counts(after.id);
    if (!c)
      return std::move(c.error());
    return program_view{after, *c};
  }

  caf::expected<resolution> explain(const explain_recipients& q) const {
    auto p = load_program(q.program);
    if (!p)
      return std::move(p.error());
    auto a = load_account(q.account);
    if (!a)
      return std::move(a.error());
    auto r = resolve_recipients(*p, *a);
    r.lines.insert(r.lines.begin(), "program " + p->id.str() + " ("
                                      + to_string(p->kind) + ", " + p->name
                                      + ") and account " + a->id.str() + " ("
                                      + a->name + ", " + to_string(a->segment)
                                      + ", " + to_string(a->hosting) + ", "
                                      + to_string(a->stage) + ")");
    return r;
  }

  // -- sending ----------------------------------------------------------------

  /// One page of step `step`; true when the step is done (or void), false
  /// when pages remain (the timer stays and is fired again at once).
  caf::expected<bool> send_page(const timer& tm, uint32_t step) {
    auto p = load_program(prg_id::parse(tm.entity).value_or(prg_id{}));
    if (!p) {
      if (p.error() == errc::not_found) {
        storage::batch b;
        b.delete_timer(tm);
        if (auto err = deps.store->commit_sync(std::move(b)))
          return err;
        return true;
      }
      return std::move(p.error());
    }
    auto t = now();
    if (p->state != outreach_state::running || step != p->steps_sent
        || step >= p->steps.size()) {
      // Stopped, or this step was recorded before (a second firing).
      storage::batch b;
      b.delete_timer(tm);
      if (auto err = deps.store->commit_sync(std::move(b)))
        return err;
      return true;
    }
    auto cursor_key = outreach_cursor_key(p->id, step);
    auto cursor_row = deps.store->get(storage::cf::outreach, cursor_key);
    if (!cursor_row)
      return std::move(cursor_row.error());
    // The cursor: the last account done, and the totals so far.
    std::string after;
    uint64_t accounts = 0, recipients = 0;
    if (*cursor_row) {
      auto& v = **cursor_row;
      auto sep = v.find('\n');
      auto sep2 = v.find('\n', sep + 1);
      if (sep == std::string::npos || sep2 == std::string::npos)
        return make_error(errc::corrupt_data, "outreach cursor row");
      after = v.substr(0, sep);
      accounts = std::stoull(v.substr(sep + 1, sep2 - sep - 1));
      recipients = std::stoull(v.substr(sep2 + 1));
    }
    auto rows = deps.store->scan(storage::cf::snapshots, acct_id::prefix,
                                 deps.page, after);
    if (!rows)
      return std::move(rows.error());
    auto counts = load_counts(p->id);
    if (!counts)
      return std::move(counts.error());
    storage::batch b;
    bool skip_answered = only_non_responders(*p, step);
    for (auto& r : *rows) {
      auto a = from_snapshot_row<account>(r.value);
      if (!a) {
        // One unreadable account must not hold back the program.
        lg.error("account unreadable while sending program={} key={} "
                 "error={}",
                 p->id.str(), r.key.substr(0, 40), error_message(a.error()));
        continue;
      }
      auto res = resolve_recipients(*p, *a);
      if (!res.in_audience || res.recipients.empty())
        continue;
      ++accounts;
      for (auto& rc : res.recipients) {
        if (skip_answered) {
          auto answered = deps.store->get(
            storage::cf::outreach, outreach_answered_key(p->id, rc.contact));
          if (!answered)
            return std::move(answered.error());
          if (*answered)
            continue;
        }
        auto id = deps.ids->next<ntf_id>(t);
        auto urls = deps.urls ? deps.urls(*p, id) : tracking_urls{};
        auto n = outreach_email(*p, step, *a, rc, urls);
        n.id = id;
        outreach_delivery d;
        d.id = id;
        d.program = p->id;
        d.step = step;
        d.account = a->id;
        d.contact = rc.contact;
        d.email = rc.email;
        d.sent_at = t;
        b.put(storage::cf::outreach, outreach_delivery_key(id), encode(d));
        add_notification(b, std::move(n), *deps.ids, t);
        ++recipients;
        ++counts->sent;
      }
    }
    b.put(storage::cf::outreach, outreach_counts_key(p->id), encode(*counts));
    bool done = rows->size() < deps.page;
    if (done) {
      auto evs = decide(*p, finish_step{step, accounts, recipients}, t);
      if (!evs)
        return std::move(evs.error());
      program_io::record(b, std::optional{*p}, *evs, t);
      b.erase(storage::cf::outreach, cursor_key);
      b.delete_timer(tm);
    } else {
      b.put(storage::cf::outreach, cursor_key,
            rows->back().key + "\n" + std::to_string(accounts) + "\n"
              + std::to_string(recipients));
    }
    if (auto err = deps.store->commit_sync(std::move(b)))
      return err;
    if (done)
      lg.info("program step sent id={} step={} accounts={} recipients={}",
              p->id.str(), step, accounts, recipients);
    return done;
  }

  // -- tracking ---------------------------------------------------------------

  caf::expected<bool> track_one(const track_delivery& q) {
    auto d = load_delivery(q.delivery);
    if (!d)
      return std::move(d.error());
    if (d->program != q.program)
      return make_error(errc::not_found, "no outreach email " + q.delivery.str()
                                           + " of " + q.program.str());
    auto counts = load_counts(d->program);
    if (!counts)
      return std::move(counts.error());
    auto t = now();
    if (!track(*d, *counts, q.kind, t))
      return false;
    storage::batch b;
    b.put(storage::cf::outreach, outreach_delivery_key(d->id), encode(*d));
    b.put(storage::cf::outreach, outreach_counts_key(d->program),
          encode(*counts));
    if (q.kind == track_kind::bounce && !d->account.empty()) {
      auto a = load_account(d->account);
      if (a) {
        bool still = std::any_of(a->contacts.begin(), a->contacts.end(),
                                 [&](const contact& c) {
                                   return c.id == d->contact && !c.bounced
                                          && lower(c.email) == lower(d->email);
                                 });
        if (still)
          account_io::record(b, *a, {acct_contact_bounced{d->contact, d->id}},
                             t);
      } else if (a.error() != errc::not_found) {
        return std::move(a.error());
      }
    }
    if (auto err = deps.store->commit_sync(std::move(b)))
      return err;
    return true;
  }

  caf::expected<survey_response> answer(const answer_survey& q) {
    auto p = load_program(q.program);
    if (!p)
      return std::move(p.error());
    auto d = load_delivery(q.delivery);
    if (!d)
      return std::move(d.error());
    if (d->program != p->id)
      return make_error(errc::not_found, "no outreach email " + q.delivery.str()
                                           + " of " + q.program.str());
    // One answer per person: the reminder's link and the invitation's are
    // two emails to the same contact.
    if (!d->contact.empty()) {
      auto answered = deps.store->get(storage::cf::outreach,
                                      outreach_answered_key(p->id, d->contact));
      if (!answered)
        return std::move(answered.error());
      if (*answered)
        return make_error(errc::already_exists,
                          "this survey was answered before");
    }
    auto counts = load_counts(p->id);
    if (!counts)
      return std::move(counts.error());
    auto t = now();
    // A random id, not a ULID: a time-ordered (or sequential) id would
    // date the answer and order the answers of an anonymous survey.
    std::string rid;
    {
      std::random_device rd;
      for (int i = 0; i < 4; ++i)
        rid += fmt::format("{:08x}", rd());
    }
    auto r = respond(*p, *d, *counts, q.score, q.comment, rid, t);
    if (!r)
      return std::move(r.error());
    storage::batch b;
    b.put(storage::cf::outreach, outreach_delivery_key(d->id), encode(*d));
    b.put(storage::cf::outreach, outreach_counts_key(p->id), encode(*counts));
    b.put(storage::cf::outreach, outreach_response_key(p->id, r->id),
          encode(*r));
    b.put(storage::cf::outreach, outreach_answered_key(p->id, d->contact), "");
    if (auto err = deps.store->commit_sync(std::move(b)))
      return err;
    return r;
  }

  caf::expected<std::string> enroll(const notification& n) {
    auto sys = system_program_for(n.template_name);
    if (!sys)
      return std::string{};
    auto t = now();
    storage::batch b;
    auto p = program_io::load(*deps.store, sys->id.str());
    if (!p)
      return std::move(p.error());
    if (!*p) {
      auto made = *sys;
      made.created_at = made.launched_at = t;
      program_io::record(b, std::nullopt, {prg_created{made}}, t);
    }
    auto existing
      = deps.store->get(storage::cf::outreach, outreach_delivery_key(n.id));
    if (!existing)
      return std::move(existing.error());
    if (!*existing) {
      auto counts = load_counts(sys->id);
      if (!counts)
        return std::move(counts.error());
      outreach_delivery d;
      d.id = n.id;
      d.program = sys->id;
      d.email = n.recipient;
      d.sent_at = t;
      ++counts->sent;
      b.put(storage::cf::outreach, outreach_delivery_key(n.id), encode(d));
      b.put(storage::cf::outreach, outreach_counts_key(sys->id),
            encode(*counts));
    }
    if (!b.empty())
      if (auto err = deps.store->commit_sync(std::move(b)))
        return err;
    return deps.urls ? deps.urls(*sys, n.id).pixel : std::string{};
  }

  caf::expected<std::vector<survey_response>>
  responses(const list_responses& q) const {
    auto prefix = outreach_response_key(q.program, "");
    auto rows = deps.store->scan(
      storage::cf::outreach, prefix, std::min<size_t>(q.limit, 1000),
      q.after.empty() ? std::string{} : prefix + q.after);
    if (!rows)
      return std::move(rows.error());
    std::vector<survey_response> out;
    for (auto& r : *rows) {
      auto x = decode<survey_response>(r.value);
      if (!x)
        return std::move(x.error());
      out.push_back(std::move(*x));
    }
    return out;
  }
};

} // namespace

std::optional<outreach_program>
system_program_for(const std::string& template_name) {
  // Fixed ids, the same on every node and every start.
  auto make = [](const char* body, const char* name, lifecycle_stage st) {
    outreach_program p;
    p.id = prg_id::from_body(body);
    p.name = name;
    p.kind = outreach_kind::email;
    p.stage = st;
    p.system = true;
    p.state = outreach_state::running;
    p.created_by = "system";
    outreach_step s;
    s.subject = name;
    s.body = "(the lifecycle's own notification)";
    p.steps.push_back(s);
    return p;
  };
  if (template_name == "renewal_reminder")
    return make("00000000000000000000000001", "Renewal reminders",
                lifecycle_stage::retention);
  if (template_name == "compliance_notice")
    return make("00000000000000000000000002", "Compliance notices",
                lifecycle_stage::retention);
  return std::nullopt;
}

std::string outreach_counts_key(const prg_id& p) {
  return "c/" + p.str();
}

std::string outreach_delivery_key(const ntf_id& n) {
  return "d/" + n.str();
}

std::string outreach_response_key(const prg_id& p, const std::string& id) {
  return "r/" + p.str() + "/" + id;
}

std::string outreach_answered_key(const prg_id& p, const con_id& c) {
  return "a/" + p.str() + "/" + c.str();
}

std::string outreach_cursor_key(const prg_id& p, uint32_t step) {
  return "s/" + p.str() + "/" + std::to_string(step);
}

namespace {

/// A handler's answer: the value, or the error.
template <class T>
caf::result<T> reply(caf::expected<T>&& x) {
  if (!x)
    return std::move(x.error());
  return std::move(*x);
}

} // namespace

caf::behavior outreach_desk(self_ptr self, outreach_deps deps) {
  self->set_default_handler(drop_unexpected);
  auto bk = std::make_shared<book>(book{std::move(deps)});
  return {
    [=](put_account& cmd) -> caf::result<account> {
      return reply(bk->put(std::move(cmd)));
    },
    [=](import_account& cmd) -> caf::result<account> {
      return reply(bk->import(std::move(cmd)));
    },
    [=](const enroll_notification& q) -> caf::result<std::string> {
      return reply(bk->enroll(q.ntf));
    },
    [=](add_contact& cmd) -> caf::result<account> {
      return reply(bk->add(std::move(cmd)));
    },
    [=](get_atom, const std::string& ref) -> caf::result<account> {
      return reply(bk->by_ref(ref));
    },
    [=](get_atom, const acct_id& id) -> caf::result<account> {
      return reply(bk->load_account(id));
    },
    [=](const list_accounts& q) -> caf::result<std::vector<account>> {
      return reply(bk->accounts(q));
    },
    [=](create_program& cmd) -> caf::result<program_view> {
      return reply(bk->create(std::move(cmd)));
    },
    [=](get_atom, const prg_id& id) -> caf::result<program_view> {
      return reply(bk->view(id));
    },
    [=](const list_programs& q) -> caf::result<std::vector<program_view>> {
      return reply(bk->programs(q));
    },
    [=](const start_program& a) -> caf::result<program_view> {
      return reply(bk->act(a.program, launch_program{a.by}));
    },
    [=](const halt_program& a) -> caf::result<program_view> {
      return reply(bk->act(a.program, stop_program{a.by}));
    },
    [=](const explain_recipients& q) -> caf::result<resolution> {
      return reply(bk->explain(q));
    },
    [=](const track_delivery& q) -> caf::result<bool> {
      return reply(bk->track_one(q));
    },
    [=](const report_bounce& q) -> caf::result<bool> {
      auto d = bk->load_delivery(q.delivery);
      if (!d)
        return std::move(d.error());
      auto r
        = bk->track_one(track_delivery{d->program, d->id, track_kind::bounce});
      if (!r)
        return std::move(r.error());
      return *r;
    },
    [=](const answer_survey& q) -> caf::result<survey_response> {
      return reply(bk->answer(q));
    },
    [=](const list_responses& q) -> caf::result<std::vector<survey_response>> {
      return reply(bk->responses(q));
    },
    [=](fire_atom, const timer& t) -> caf::result<bool> {
      auto step = step_of_kind(t.kind);
      if (!step) {
        lg.error("unknown timer kind={} entity={}", t.kind.substr(0, 40),
                 t.entity.substr(0, 40));
        storage::batch b;
        b.delete_timer(t);
        if (auto err = bk->deps.store->commit_sync(std::move(b)))
          return err;
        return false;
      }
      // Page after page until the step is done: each page is one commit;
      // between pages other messages wait (the desk is one writer).
      for (;;) {
        auto done = bk->send_page(t, *step);
        if (!done) {
          lg.error("sending failed program={} step={} error={}",
                   t.entity.substr(0, 40), *step, error_message(done.error()));
          return std::move(done.error());
        }
        if (*done)
          return true;
      }
    },
  };
}

} // namespace tenure
