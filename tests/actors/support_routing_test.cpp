#include "actors/support_routing.hpp"

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "messages/errc.hpp"
#include "tests/support/process.hpp"

using namespace tenure;

namespace {

/// As in config/programs.json (inbox, support_macro).
std::map<program, program_contact> contacts() {
  return {{program::edu, {"education@denomas.com", "EDU Response"}},
          {program::oss, {"opensource@denomas.com", "OSS Response"}},
          {program::startups, {"startups@denomas.com", "Startup Response"}}};
}

const program all_programs[] = {program::edu, program::oss, program::startups};

std::string routing_file() {
  return test::source_dir() + "/config/routing.json";
}

routing_table shipped() {
  auto rt = routing_table::load(routing_file(), contacts());
  if (!rt)
    ADD_FAILURE() << error_message(rt.error());
  return rt ? std::move(*rt) : routing_table{};
}

triage_result by_category(const routing_table& rt, program p,
                          const std::string& category) {
  auto r = rt.triage(triage_request{p, category, ""});
  if (!r) {
    ADD_FAILURE() << category << ": " << error_message(r.error());
    return {};
  }
  return *r;
}

std::string classify(const routing_table& rt, program p,
                     const std::string& text) {
  auto r = rt.triage(triage_request{p, "", text});
  if (!r) {
    ADD_FAILURE() << error_message(r.error());
    return {};
  }
  return r->category;
}

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// A small valid table; the malformed-config tests break one thing each.
const std::string minimal = R"({
  "categories": [
    {"category": "code_already_used", "phase": "booking",
     "source": "Denomas Customers Portal", "dri": "Denomas Support",
     "action": "escalate", "channel": "#community-programs",
     "guidance": "Raise it in #community-programs.",
     "keywords": ["already been used"]},
    {"category": "apply_or_renew", "phase": "any", "source": "Support ticket",
     "dri": "Community Programs team", "action": "send_macro",
     "macro": "General::{{program_macro}}",
     "guidance": "Send the macro.", "keywords": ["renew"],
     "overrides": {"edu": {"dri": "Education Program team"}}},
    {"category": "general_enquiry", "phase": "any", "source": "Support ticket",
     "dri": "Community Programs team", "action": "direct_to_inbox",
     "inbox": "{{program_inbox}}", "guidance": "Write to {{program_inbox}}.",
     "keywords": []}
  ]
})";

const std::string origin = "test/routing.json";

/// `minimal` with the first `from` replaced by `to`.
std::string edited(const std::string& from, const std::string& to) {
  auto out = minimal;
  auto pos = out.find(from);
  if (pos == std::string::npos) {
    ADD_FAILURE() << "not in the minimal table: " << from;
    return out;
  }
  return out.replace(pos, from.size(), to);
}

/// Parses `text` expecting a config error; returns its message.
std::string config_error(const std::string& text) {
  auto rt = routing_table::parse(text, origin, contacts());
  if (rt) {
    ADD_FAILURE() << "accepted a malformed table";
    return {};
  }
  EXPECT_TRUE(rt.error() == errc::config_invalid) << error_code(rt.error());
  return error_message(rt.error());
}

} // namespace

// -- the shipped table --------------------------------------------------------

TEST(support_routing, shipped_table_loads_with_every_category_of_the_seeds) {
  auto rt = shipped();
  auto cats = rt.categories();
  for (auto c : {"apply_or_renew", "product_transfer", "organisation_missing",
                 "no_reply_after_days", "code_already_used", "code_invalid",
                 "seat_concerns", "false_rejection", "rejection_unresolved",
                 "success_email_missing", "form_not_working", "portal_problem",
                 "wrong_seats_or_hosting", "general_enquiry"})
    EXPECT_NE(std::find(cats.begin(), cats.end(), c), cats.end()) << c;
}

TEST(support_routing, every_route_is_complete_for_every_program) {
  auto rt = shipped();
  for (auto p : all_programs)
    for (auto& c : rt.categories()) {
      auto r = by_category(rt, p, c);
      SCOPED_TRACE(c + " for " + to_string(p));
      EXPECT_EQ(r.category, c);
      EXPECT_FALSE(r.dri.empty());
      EXPECT_FALSE(r.guidance.empty());
      for (auto* s : {&r.macro, &r.inbox, &r.guidance, &r.dri, &r.channel})
        EXPECT_FALSE(has(*s, "{{")) << *s;
      if (r.action == "send_macro") {
        EXPECT_FALSE(r.macro.empty());
      } else if (r.action == "direct_to_inbox") {
        EXPECT_FALSE(r.inbox.empty());
      } else if (r.action == "escalate") {
        EXPECT_EQ(r.channel, "#community-programs");
      }
    }
}

TEST(support_routing, apply_or_renew_sends_the_programs_macro) {
  auto rt = shipped();
  std::map<program, std::string> macro
    = {{program::edu, "General::EDU Response"},
       {program::oss, "General::OSS Response"},
       {program::startups, "General::Startup Response"}};
  for (auto p : all_programs) {
    auto r = by_category(rt, p, "apply_or_renew");
    EXPECT_EQ(r.action, "send_macro");
    EXPECT_EQ(r.macro, macro[p]);
    EXPECT_TRUE(has(r.guidance, macro[p])) << r.guidance;
  }
}

TEST(support_routing, product_transfer_and_organisation_go_to_the_inbox) {
  auto rt = shipped();
  std::map<program, std::string> inbox
    = {{program::edu, "education@denomas.com"},
       {program::oss, "opensource@denomas.com"},
       {program::startups, "startups@denomas.com"}};
  for (auto p : all_programs)
    for (auto c : {"product_transfer", "organisation_missing",
                   "wrong_seats_or_hosting", "general_enquiry"}) {
      auto r = by_category(rt, p, c);
      SCOPED_TRACE(std::string{c} + " for " + to_string(p));
      EXPECT_EQ(r.action, "direct_to_inbox");
      EXPECT_EQ(r.inbox, inbox[p]);
      EXPECT_TRUE(has(r.guidance, inbox[p])) << r.guidance;
      EXPECT_EQ(r.dri, "Community Programs team");
      EXPECT_EQ(r.macro, "");
    }
  EXPECT_TRUE(
    has(by_category(rt, program::oss, "wrong_seats_or_hosting").guidance,
        "add-on quote"));
}

TEST(support_routing, code_already_used_escalates_to_community_programs) {
  auto rt = shipped();
  auto r = by_category(rt, program::edu, "code_already_used");
  EXPECT_EQ(r.action, "escalate");
  EXPECT_EQ(r.channel, "#community-programs");
  EXPECT_EQ(r.dri, "Denomas Support");
  EXPECT_TRUE(has(r.guidance, "This code has already been used."));
}

TEST(support_routing, no_reply_after_days_escalates_with_the_inbox) {
  auto rt = shipped();
  auto r = by_category(rt, program::startups, "no_reply_after_days");
  EXPECT_EQ(r.action, "escalate");
  EXPECT_EQ(r.channel, "#community-programs");
  EXPECT_EQ(r.dri, "Community Programs team");
  EXPECT_EQ(r.inbox, "startups@denomas.com");
}

TEST(support_routing, code_invalid_and_portal_problems_are_support_tickets) {
  auto rt = shipped();
  for (auto c : {"code_invalid", "portal_problem"}) {
    auto r = by_category(rt, program::oss, c);
    EXPECT_EQ(r.dri, "Denomas Support") << c;
    EXPECT_EQ(r.action, "open_ticket") << c;
    EXPECT_EQ(r.channel, "") << c;
  }
  EXPECT_TRUE(has(by_category(rt, program::oss, "code_invalid").guidance,
                  "This code is not valid. Try re-entering the code from "
                  "your email."));
}

TEST(support_routing, seat_concerns_explain_the_true_up_rule) {
  auto rt = shipped();
  auto r = by_category(rt, program::edu, "seat_concerns");
  EXPECT_EQ(r.action, "explain");
  EXPECT_TRUE(has(r.guidance, "true-up cost is zero")) << r.guidance;
  EXPECT_TRUE(has(r.guidance, "overage seats are added to the renewal term"))
    << r.guidance;
}

TEST(support_routing, false_rejection_differs_between_edu_and_oss) {
  auto rt = shipped();
  auto edu = by_category(rt, program::edu, "false_rejection");
  EXPECT_EQ(edu.dri, "SheerID");
  EXPECT_EQ(edu.action, "contact_verifier");
  EXPECT_TRUE(has(edu.guidance, "SheerID from the rejection email"));
  auto oss = by_category(rt, program::oss, "false_rejection");
  EXPECT_EQ(oss.dri, "Open Source Program team");
  EXPECT_EQ(oss.action, "direct_to_inbox");
  EXPECT_EQ(oss.inbox, "opensource@denomas.com");
  EXPECT_TRUE(has(oss.guidance, "opensource@denomas.com from the rejection"));
  // Startups apply through Marketo, not SheerID.
  auto st = by_category(rt, program::startups, "false_rejection");
  EXPECT_EQ(st.action, "direct_to_inbox");
  EXPECT_EQ(st.inbox, "startups@denomas.com");
}

TEST(support_routing, sheerid_rows_go_to_sheerid_except_for_startups) {
  auto rt = shipped();
  for (auto c : {"success_email_missing", "form_not_working"}) {
    for (auto p : {program::edu, program::oss}) {
      auto r = by_category(rt, p, c);
      EXPECT_EQ(r.dri, "SheerID") << c;
      EXPECT_EQ(r.action, "contact_verifier") << c;
    }
    auto st = by_category(rt, program::startups, c);
    EXPECT_EQ(st.action, "direct_to_inbox") << c;
    EXPECT_EQ(st.inbox, "startups@denomas.com") << c;
  }
  EXPECT_TRUE(
    has(by_category(rt, program::edu, "success_email_missing").guidance,
        "resends"));
  auto unresolved = by_category(rt, program::edu, "rejection_unresolved");
  EXPECT_EQ(unresolved.dri, "Education Program team");
  EXPECT_EQ(unresolved.inbox, "education@denomas.com");
}

// -- classification -----------------------------------------------------------

TEST(support_routing, classifies_realistic_ticket_texts) {
  auto rt = shipped();
  struct example {
    const char* text;
    const char* category;
  };
  const example examples[] = {
    {"I get 'This code has already been used.' at checkout",
     "code_already_used"},
    {"Hello, checkout says \xE2\x80\x9CThis code has already been used.\xE2\x80"
     "\x9D what now?",
     "code_already_used"},
    {"The portal says: This code is not valid. Try re-entering the code from "
     "your email.",
     "code_invalid"},
    {"We applied for 50 seats but now have 80 developers. Will we pay a "
     "true-up at renewal?",
     "seat_concerns"},
    {"I accidentally chose SaaS instead of Self-Managed when redeeming the "
     "coupon",
     "product_transfer"},
    {"We redeemed the coupon but picked Self-Managed instead of SaaS.",
     "product_transfer"},
    {"Our university is not in the list on the verification page",
     "organisation_missing"},
    {"I emailed the team a week ago and haven\xE2\x80\x99t heard back.",
     "no_reply_after_days"},
    {"How do I renew our Denomas for Open Source subscription?",
     "apply_or_renew"},
    {"I would like to apply for the startups program", "apply_or_renew"},
    {"My application was rejected but we are an accredited university",
     "false_rejection"},
    {"SheerID could not resolve my case about the rejection",
     "rejection_unresolved"},
    {"I never received the success email after verification",
     "success_email_missing"},
    {"The application form is not responding when I click submit",
     "form_not_working"},
    {"After the code worked, the Customers Portal shows an error on my "
     "subscription page",
     "portal_problem"},
    {"We entered the wrong number of seats and the license has already been "
     "granted",
     "wrong_seats_or_hosting"},
    {"Do you offer discounts for registered non-profits?", "general_enquiry"},
  };
  for (auto& ex : examples)
    EXPECT_EQ(classify(rt, program::oss, ex.text), ex.category) << ex.text;
}

TEST(support_routing, classification_matches_where_words_start) {
  auto rt = shipped();
  // "activate" inside "deactivate" does not count.
  EXPECT_EQ(rt.classify("Please deactivate my old account"), "general_enquiry");
  EXPECT_EQ(rt.classify("Please activate my account"), "portal_problem");
  // "renew" as the start of "renewal" does.
  EXPECT_EQ(rt.classify("Our RENEWAL is next month"), "apply_or_renew");
  // Case and white space do not matter.
  EXPECT_EQ(rt.classify("HAVEN'T\n\n   HEARD  BACK"), "no_reply_after_days");
}

TEST(support_routing, longest_keyword_wins_and_ties_go_to_table_order) {
  auto rt = routing_table::parse(R"({"categories": [
    {"category": "first", "phase": "any", "source": "s", "dri": "d",
     "action": "explain", "guidance": "g", "keywords": ["seat", "abcd"]},
    {"category": "second", "phase": "any", "source": "s", "dri": "d",
     "action": "explain", "guidance": "g", "keywords": ["true-up", "wxyz"]},
    {"category": "general_enquiry", "phase": "any", "source": "s", "dri": "d",
     "action": "explain", "guidance": "g", "keywords": []}]})",
                                 origin, contacts());
  ASSERT_TRUE(rt) << error_message(rt.error());
  EXPECT_EQ(rt->classify("a seat and a true-up"), "second");
  EXPECT_EQ(rt->classify("wxyz abcd"), "first");
  EXPECT_EQ(rt->classify("abcd wxyz"), "first");
  EXPECT_EQ(rt->classify("wxyz"), "second");
  EXPECT_EQ(rt->classify("nothing here"), "general_enquiry");
}

TEST(support_routing, normalizes_ticket_text) {
  EXPECT_EQ(normalize_ticket_text("  Haven\xE2\x80\x99t\t\r\nHEARD "),
            "haven't heard");
  EXPECT_EQ(
    normalize_ticket_text("true\xE2\x80\x93up \xE2\x80\x9Cx\xE2\x80\x9D"),
    "true-up \"x\"");
  EXPECT_EQ(normalize_ticket_text("a\xC2\xA0"
                                  "b"),
            "a b");
}

// -- triage errors ------------------------------------------------------------

TEST(support_routing, unknown_category_lists_the_known_ones) {
  auto rt = shipped();
  auto r = rt.triage(triage_request{program::edu, "coupon_trouble", ""});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::invalid_argument);
  auto msg = error_message(r.error());
  EXPECT_TRUE(has(msg, "category")) << msg;
  EXPECT_TRUE(has(msg, "'coupon_trouble'")) << msg;
  for (auto& c : rt.categories())
    EXPECT_TRUE(has(msg, c)) << msg;
  // A category that is not an id is not repeated.
  auto odd = rt.triage(
    triage_request{program::edu, "Bearer s3cr3t-t0ken please route me", ""});
  ASSERT_FALSE(odd);
  EXPECT_TRUE(odd.error() == errc::invalid_argument);
  EXPECT_FALSE(has(error_message(odd.error()), "s3cr3t"))
    << error_message(odd.error());
}

TEST(support_routing, exactly_one_of_category_and_text) {
  auto rt = shipped();
  auto both = rt.triage(
    triage_request{program::oss, "seat_concerns", "my code XK7-SECRET-99"});
  ASSERT_FALSE(both);
  EXPECT_TRUE(both.error() == errc::invalid_argument);
  auto msg = error_message(both.error());
  EXPECT_TRUE(has(msg, "category") && has(msg, "text")) << msg;
  EXPECT_FALSE(has(msg, "XK7-SECRET-99")) << msg;
  for (auto text : {"", " \n\t"}) {
    auto neither = rt.triage(triage_request{program::oss, "", text});
    ASSERT_FALSE(neither);
    EXPECT_TRUE(neither.error() == errc::invalid_argument);
    auto m = error_message(neither.error());
    EXPECT_TRUE(has(m, "category") && has(m, "text")) << m;
  }
}

TEST(support_routing, program_must_be_a_community_program) {
  auto rt = shipped();
  auto r = rt.triage(triage_request{program::none, "seat_concerns", ""});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::invalid_argument);
  EXPECT_TRUE(has(error_message(r.error()), "program"))
    << error_message(r.error());
  auto bad
    = rt.triage(triage_request{static_cast<program>(42), "seat_concerns", ""});
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error() == errc::invalid_argument);
}

TEST(support_routing, long_text_is_refused_without_echo) {
  auto rt = shipped();
  std::string text(routing_table::max_text_size + 1, 'x');
  text.replace(0, 17, "already been used");
  auto r = rt.triage(triage_request{program::edu, "", text});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::too_large);
  EXPECT_FALSE(has(error_message(r.error()), "xxxx"));
  text.resize(routing_table::max_text_size);
  EXPECT_EQ(classify(rt, program::edu, text), "code_already_used");
}

TEST(support_routing, an_empty_table_refuses_to_triage) {
  routing_table rt;
  auto r = rt.triage(triage_request{program::edu, "seat_concerns", ""});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == errc::config_invalid);
}

// -- malformed tables ---------------------------------------------------------

TEST(support_routing, the_minimal_table_is_valid) {
  auto rt = routing_table::parse(minimal, origin, contacts());
  ASSERT_TRUE(rt) << error_message(rt.error());
  auto r = rt->triage(triage_request{program::edu, "apply_or_renew", ""});
  ASSERT_TRUE(r) << error_message(r.error());
  EXPECT_EQ(r->macro, "General::EDU Response");
  EXPECT_EQ(r->dri, "Education Program team");
  EXPECT_EQ(by_category(*rt, program::oss, "apply_or_renew").dri,
            "Community Programs team");
  EXPECT_EQ(by_category(*rt, program::startups, "general_enquiry").guidance,
            "Write to startups@denomas.com.");
}

TEST(support_routing, refuses_unknown_keys) {
  auto top
    = config_error(edited(R"("categories":)", R"("extra": 1, "categories":)"));
  EXPECT_TRUE(has(top, origin + ": extra: unknown key")) << top;
  auto entry = config_error(
    edited(R"("phase": "booking",)", R"("phase": "booking", "priority": 1,)"));
  EXPECT_TRUE(has(entry, origin + ": categories[0].priority: unknown key"))
    << entry;
  auto ov = config_error(edited(R"({"dri": "Education Program team"})",
                                R"({"dri": "x", "keywords": ["a"]})"));
  EXPECT_TRUE(has(ov, origin
                        + ": categories[1].overrides.edu.keywords: "
                          "unknown key"))
    << ov;
  auto prog = config_error(edited(R"("edu": {"dri")", R"("k12": {"dri")"));
  EXPECT_TRUE(has(prog, origin
                          + ": categories[1].overrides.k12: unknown "
                            "program"))
    << prog;
}

TEST(support_routing, refuses_wrong_types) {
  auto kw = config_error(edited(R"(["renew"])", R"("renew")"));
  EXPECT_TRUE(has(kw, origin + ": categories[1].keywords: expected an array"))
    << kw;
  auto dri = config_error(edited(R"("dri": "Denomas Support")", R"("dri": 7)"));
  EXPECT_TRUE(has(dri, origin + ": categories[0].dri: expected a string"))
    << dri;
  auto item = config_error(edited(R"(["renew"])", R"(["renew", 3])"));
  EXPECT_TRUE(has(item, origin
                          + ": categories[1].keywords[1]: expected a "
                            "string"))
    << item;
  auto cats = config_error(R"({"categories": {}})");
  EXPECT_TRUE(has(cats, origin + ": categories: expected a non-empty array"))
    << cats;
  auto top = config_error("[]");
  EXPECT_TRUE(has(top, origin + ": (top level): expected an object")) << top;
}

TEST(support_routing, refuses_duplicate_keys) {
  auto msg = config_error(edited(R"("dri": "Denomas Support",)",
                                 R"("dri": "Denomas Support", "dri": "x",)"));
  EXPECT_TRUE(has(msg, origin + ": categories[0].dri: key appears twice"))
    << msg;
}

TEST(support_routing, refuses_missing_and_invalid_values) {
  auto missing = config_error(edited(R"("guidance": "Send the macro.",)", ""));
  EXPECT_TRUE(has(missing, origin + ": categories[1].guidance: missing"))
    << missing;
  auto action = config_error(edited(R"("escalate")", R"("mail")"));
  EXPECT_TRUE(has(action, origin + ": categories[0].action: unknown action"))
    << action;
  EXPECT_TRUE(has(action, "send_macro")) << action;
  auto phase = config_error(edited(R"("booking")", R"("checkout")"));
  EXPECT_TRUE(has(phase, origin + ": categories[0].phase: unknown phase"))
    << phase;
  auto id = config_error(edited(R"("code_already_used")", R"("Code Used")"));
  EXPECT_TRUE(has(id, origin + ": categories[0].category: expected lower"))
    << id;
  auto channel = config_error(
    edited(R"("#community-programs")", R"("community programs")"));
  EXPECT_TRUE(has(channel, origin
                             + ": categories[0].channel: expected a "
                               "chat channel"))
    << channel;
  auto placeholder = config_error(edited("{{program_macro}}", "{{program}}"));
  EXPECT_TRUE(has(placeholder, origin
                                 + ": categories[1].macro: unknown "
                                   "placeholder {{program}}"))
    << placeholder;
  auto dri_ph = config_error(
    edited(R"("dri": "Denomas Support")", R"("dri": "{{program_inbox}}")"));
  EXPECT_TRUE(has(dri_ph, origin
                            + ": categories[0].dri: takes no "
                              "placeholders"))
    << dri_ph;
  auto upper = config_error(edited(R"(["renew"])", R"(["Renew"])"));
  EXPECT_TRUE(has(upper, origin
                           + ": categories[1].keywords[0]: expected a "
                             "lower case phrase"))
    << upper;
}

TEST(support_routing, refuses_an_action_without_its_target) {
  auto macro
    = config_error(edited(R"("macro": "General::{{program_macro}}",)", ""));
  EXPECT_TRUE(has(macro, origin
                           + ": categories[1]: action send_macro needs "
                             "a non-empty macro"))
    << macro;
  auto channel
    = config_error(edited(R"("channel": "#community-programs",)", ""));
  EXPECT_TRUE(has(channel, origin
                             + ": categories[0]: action escalate needs "
                               "a non-empty channel"))
    << channel;
  auto ov = config_error(edited(R"({"dri": "Education Program team"})",
                                R"({"action": "direct_to_inbox"})"));
  EXPECT_TRUE(has(ov, origin
                        + ": categories[1].overrides.edu: action "
                          "direct_to_inbox needs a non-empty inbox"))
    << ov;
}

TEST(support_routing, refuses_repeats_across_entries) {
  auto cat = config_error(edited(R"("category": "apply_or_renew")",
                                 R"("category": "code_already_used")"));
  EXPECT_TRUE(has(cat, origin
                         + ": categories[1].category: "
                           "'code_already_used' appears twice"))
    << cat;
  auto kw = config_error(edited(R"(["renew"])", R"(["already been used"])"));
  EXPECT_TRUE(has(kw, origin
                        + ": categories[1].keywords[0]: 'already been "
                          "used' is also a keyword of categories[0]"))
    << kw;
}

TEST(support_routing, refuses_a_table_without_the_fallback) {
  auto msg = config_error(
    edited(R"("category": "general_enquiry")", R"("category": "other")"));
  EXPECT_TRUE(has(msg, origin + ": categories: no general_enquiry")) << msg;
}

TEST(support_routing, refuses_malformed_json_and_missing_files) {
  auto msg = config_error(minimal.substr(0, minimal.size() / 2));
  EXPECT_TRUE(has(msg, origin + ": malformed JSON")) << msg;
  auto rt = routing_table::load("/nonexistent/routing.json", contacts());
  ASSERT_FALSE(rt);
  EXPECT_TRUE(rt.error() == errc::config_invalid);
  EXPECT_TRUE(
    has(error_message(rt.error()), "/nonexistent/routing.json: cannot open"));
}

TEST(support_routing, refuses_missing_program_contacts) {
  auto cs = contacts();
  cs.erase(program::oss);
  auto rt = routing_table::parse(minimal, origin, cs);
  ASSERT_FALSE(rt);
  EXPECT_TRUE(rt.error() == errc::config_invalid);
  EXPECT_TRUE(has(error_message(rt.error()), "program oss"))
    << error_message(rt.error());
}
