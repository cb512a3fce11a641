// tenured: the Tenure node daemon.
//
// Composition root (STYLE.md, after Seastar's main.cc): every service is
// started here in dependency order, handed its dependencies explicitly, and
// stopped in reverse order. No singletons, no global lookups.
//
//   start: flags -> settings -> log level -> clock -> templates, secrets,
//          keys, routing table -> store -> actor system -> coupon pools
//          -> registry -> supervisors -> API -> gateway -> shell endpoint
//   stop (SIGINT/SIGTERM): gateway and shell endpoint (in-flight requests
//          finish) -> supervisors, registry, entity actors and pools
//          -> actor system -> store

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <pthread.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/clock.hpp"
#include "actors/coupon_pool.hpp"
#include "actors/log.hpp"
#include "actors/mail_sink.hpp"
#include "actors/outreach_desk.hpp"
#include "actors/registry.hpp"
#include "actors/support_routing.hpp"
#include "actors/supervisors.hpp"
#include "actors/templates.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"
#include "nodes/clock_state.hpp"
#include "nodes/api.hpp"
#include "nodes/auth.hpp"
#include "nodes/cluster.hpp"
#include "nodes/gateway.hpp"
#include "nodes/shell_protocol.hpp"
#include "nodes/tracking.hpp"
#include "nodes/settings.hpp"
#include "nodes/verifier_http.hpp"
#include "storage/store.hpp"

namespace {

constexpr int exit_ok = 0;
constexpr int exit_cannot_start = 1;
constexpr int exit_usage = 64;

constexpr const char* usage = R"(usage: tenured [options]

The Tenure node daemon: the store, the actors and the HTTP gateway.

options:
  --config FILE        configuration file (default: config/tenured.conf)
  --data DIR           data directory; overrides tenure.node.data-dir
  --http-port PORT     gateway port, 0 = any free port; overrides
                       tenure.node.http-port
  --shell-port PORT    operator shell endpoint port, 0 = any free port;
                       overrides tenure.node.shell-port
  --clock KIND         system | manual | accelerated; overrides
                       tenure.node.clock
  --log-level LEVEL    trace | debug | info | warn | error; overrides
                       tenure.node.log-level
  --node NAME          this node's name among tenure.cluster.members;
                       overrides tenure.cluster.node (one configuration
                       file can serve every member)
  --help               this text

Stops cleanly on SIGINT or SIGTERM (in-flight commits finish); exit codes:
0 clean stop, 1 cannot start, 64 bad flags.
)";

struct flags {
  std::string config = "config/tenured.conf";
  std::optional<std::string> data;
  std::optional<uint16_t> http_port;
  std::optional<uint16_t> shell_port;
  std::optional<std::string> clock;
  std::optional<std::string> log_level;
  std::optional<std::string> node;
  bool help = false;
};

/// Parses our flags; prints the problem and returns nothing on bad input.
std::optional<flags> parse_flags(int argc, char** argv) {
  flags result;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (auto eq = arg.find('='); eq != std::string::npos) {
        auto v = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        return v;
      }
      if (i + 1 < argc)
        return std::string{argv[++i]};
      return std::nullopt;
    };
    if (arg == "--help" || arg == "-h") {
      result.help = true;
      continue;
    }
    auto name = arg.substr(0, arg.find('='));
    if (name != "--config" && name != "--data" && name != "--http-port"
        && name != "--shell-port" && name != "--clock" && name != "--log-level"
        && name != "--node") {
      std::fprintf(stderr, "tenured: unknown option '%s'; see --help\n",
                   arg.c_str());
      return std::nullopt;
    }
    auto v = value();
    if (!v || v->empty()) {
      std::fprintf(stderr, "tenured: option %s needs a value\n", name.c_str());
      return std::nullopt;
    }
    if (name == "--config") {
      result.config = *v;
    } else if (name == "--data") {
      result.data = *v;
    } else if (name == "--http-port" || name == "--shell-port") {
      char* end = nullptr;
      auto port = std::strtol(v->c_str(), &end, 10);
      if (*end != '\0' || port < 0 || port > 65535) {
        std::fprintf(stderr, "tenured: %s: '%s' is not a port (0-65535)\n",
                     name.c_str(), v->c_str());
        return std::nullopt;
      }
      (name == "--http-port" ? result.http_port : result.shell_port)
        = static_cast<uint16_t>(port);
    } else if (name == "--clock") {
      result.clock = *v;
    } else if (name == "--node") {
      result.node = *v;
    } else {
      result.log_level = *v;
    }
  }
  return result;
}

/// Blocks SIGINT and SIGTERM in this thread and every thread it starts, so
/// that `wait_for_stop_signal` can take them synchronously.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int wait_for_stop_signal(const sigset_t& set) {
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
    // nop: retry on EINTR
  }
  return sig;
}

int run(const flags& fl, const sigset_t& stop_signals) {
  tenure::log::logger log{"tenured"};

  // -- settings ---------------------------------------------------------------
  caf::actor_system_config cfg;
  tenure::add_message_types(cfg);
  cfg.load<caf::io::middleman>();
  auto loaded = tenure::load_settings(cfg, fl.config);
  if (!loaded) {
    std::fprintf(stderr, "tenured: cannot start: %s\n",
                 tenure::error_message(loaded.error()).c_str());
    return exit_cannot_start;
  }
  auto& settings = *loaded;
  if (fl.data)
    settings.node.data_dir = *fl.data;
  if (fl.http_port)
    settings.node.http_port = *fl.http_port;
  if (fl.shell_port)
    settings.node.shell_port = *fl.shell_port;
  if (settings.node.http_port != 0
      && settings.node.http_port == settings.node.shell_port) {
    std::fprintf(stderr,
                 "tenured: cannot start: the HTTP and shell ports are both "
                 "%u\n",
                 static_cast<unsigned>(settings.node.http_port));
    return exit_cannot_start;
  }
  if (fl.clock)
    settings.node.clock = *fl.clock;
  if (fl.log_level)
    settings.node.log_level = *fl.log_level;
  if (fl.node)
    settings.cluster.node = *fl.node;

  // -- cluster ----------------------------------------------------------------
  // Checked before anything is opened. TLS between members needs CAF's
  // OpenSSL module, loaded before the actor system exists.
  std::optional<tenure::cluster_config> cluster_cfg;
  if (!settings.cluster.node.empty() || !settings.cluster.members.empty()) {
    auto fail = [&](const std::string& what) {
      std::fprintf(stderr, "tenured: cannot start: %s: %s\n", fl.config.c_str(),
                   what.c_str());
      return exit_cannot_start;
    };
    if (settings.cluster.node.empty())
      return fail("tenure.cluster.node: empty while tenure.cluster.members "
                  "is set (set it, or start with --node NAME)");
    if (settings.cluster.members.empty())
      return fail("tenure.cluster.members: no members for node '"
                  + settings.cluster.node + "'");
    auto members = tenure::parse_members(settings.cluster.members);
    if (!members)
      return fail("tenure.cluster." + tenure::error_message(members.error()));
    if (settings.cluster.secret_file.empty())
      return fail("tenure.cluster.secret-file: required with members (a file "
                  "of at least 32 bytes that every member shares)");
    auto secret = tenure::read_secret_file(settings.cluster.secret_file);
    if (!secret)
      return fail(tenure::error_message(secret.error()));
    tenure::cluster_config cc;
    cc.self = settings.cluster.node;
    cc.members = std::move(*members);
    cc.secret = std::move(*secret);
    cc.connect_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      settings.cluster.connect_timeout);
    cc.reconnect = std::chrono::duration_cast<std::chrono::milliseconds>(
      settings.cluster.reconnect);
    cc.request_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      settings.gateway.request_timeout);
    cc.workers = settings.gateway.threads;
    auto cert = caf::get_or(cfg, "openssl.certificate", std::string{});
    auto key = caf::get_or(cfg, "openssl.key", std::string{});
    if (cert.empty() != key.empty())
      return fail("openssl: set both certificate and key, or neither");
    cc.tls = !cert.empty();
    if (cc.tls)
      cfg.load<caf::openssl::manager>();
    cluster_cfg = std::move(cc);
  }

  tenure::log::level lvl;
  if (!tenure::log::from_string(settings.node.log_level, lvl)) {
    std::fprintf(stderr,
                 "tenured: cannot start: log level '%s' is not one of trace, "
                 "debug, info, warn, error\n",
                 settings.node.log_level.c_str());
    return exit_cannot_start;
  }
  tenure::log::set_level(lvl);

  // -- notifications and the verifier
  // ------------------------------------------ Checked before anything is
  // opened: a template that cannot render or an unreadable secret stops the
  // node at start, not at the first email.
  auto templates = tenure::template_set::load(
    settings.files.templates, tenure::program_texts_of(settings));
  if (!templates) {
    std::fprintf(stderr, "tenured: cannot start: %s\n",
                 tenure::error_message(templates.error()).c_str());
    return exit_cannot_start;
  }
  auto smtp_password
    = tenure::read_secret_file(settings.outbox.smtp_password_file);
  auto verifier_key = tenure::read_secret_file(settings.verifier.key_file);
  for (auto* secret : {&smtp_password, &verifier_key})
    if (!*secret) {
      std::fprintf(stderr, "tenured: cannot start: %s\n",
                   tenure::error_message(secret->error()).c_str());
      return exit_cannot_start;
    }
  tenure::smtp_options smtp_opts;
  smtp_opts.url = settings.outbox.smtp_url;
  smtp_opts.username = settings.outbox.smtp_user;
  smtp_opts.password = *smtp_password;
  smtp_opts.from = templates->from();
  if (!smtp_opts.url.empty())
    if (auto err = tenure::check_smtp_options(smtp_opts)) {
      std::fprintf(stderr, "tenured: cannot start: tenure.outbox: %s\n",
                   tenure::error_message(err).c_str());
      return exit_cannot_start;
    }
  auto policy = tenure::lifecycle_policy_of(settings);
  std::map<tenure::program, tenure::program_contact> contacts;
  for (auto& [p, info] : settings.programs)
    contacts[p] = tenure::program_contact{info.inbox, info.support_macro};
  auto routing = tenure::routing_table::load(settings.files.routing, contacts);
  if (!routing) {
    std::fprintf(stderr, "tenured: cannot start: %s\n",
                 tenure::error_message(routing.error()).c_str());
    return exit_cannot_start;
  }

  // -- store ------------------------------------------------------------------
  std::error_code ec;
  auto data_dir = std::filesystem::absolute(settings.node.data_dir, ec);
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    std::fprintf(stderr,
                 "tenured: cannot start: cannot create data dir %s: %s\n",
                 data_dir.c_str(), ec.message().c_str());
    return exit_cannot_start;
  }
  // -- clock ------------------------------------------------------------------
  // A manual or accelerated clock resumes where DATA/clock.json says it was
  // (nodes/clock_state.hpp): time never goes back across a restart.
  auto clock_file = (data_dir / "clock.json").string();
  std::optional<tenure::clock_state> saved_clock;
  if (settings.node.clock != "system") {
    auto saved = tenure::read_clock_state(clock_file);
    if (!saved) {
      std::fprintf(stderr, "tenured: cannot start: %s\n",
                   tenure::error_message(saved.error()).c_str());
      return exit_cannot_start;
    }
    saved_clock = std::move(*saved);
  }
  auto wall = tenure::system_clock{}.now();
  auto clk = tenure::make_clock(
    settings.node.clock, settings.node.clock_days_per_second,
    tenure::resume_point(settings.node.clock, saved_clock, wall));
  if (!clk) {
    std::fprintf(stderr, "tenured: cannot start: %s\n",
                 tenure::error_message(clk.error()).c_str());
    return exit_cannot_start;
  }
  if (settings.node.clock != "system") {
    tenure::clock_state st{
      settings.node.clock, tenure::to_unix_ms((*clk)->now()),
      tenure::to_unix_ms(wall), settings.node.clock_days_per_second};
    if (auto err = tenure::write_clock_state(clock_file, st)) {
      std::fprintf(stderr, "tenured: cannot start: %s\n",
                   tenure::error_message(err).c_str());
      return exit_cannot_start;
    }
    // Every move of the manual clock is kept (an operator's or a test's
    // action, rare); a failed write is logged, the move stands.
    if (auto* manual = dynamic_cast<tenure::manual_clock*>(clk->get()))
      manual->subscribe([clock_file](tenure::time_point t) {
        tenure::clock_state now_st{
          "manual", tenure::to_unix_ms(t),
          tenure::to_unix_ms(tenure::system_clock{}.now()), 0};
        if (auto err = tenure::write_clock_state(clock_file, now_st))
          tenure::log::logger{"clock"}.warn("clock state not kept error={}",
                                            tenure::error_message(err));
      });
  }

  tenure::storage::store_options store_opts;
  store_opts.path = (data_dir / "db").string();
  store_opts.sync = settings.store.sync;
  store_opts.max_group_commits = settings.store.max_group_commits;
  store_opts.max_group_bytes = settings.store.max_group_bytes;
  store_opts.block_cache_bytes = settings.store.block_cache_bytes;
  auto store = tenure::storage::rocksdb_store::open(store_opts);
  if (!store) {
    std::fprintf(stderr, "tenured: cannot start: %s\n",
                 tenure::error_message(store.error()).c_str());
    return exit_cannot_start;
  }
  log.info("store opened path={} sync={}", store_opts.path,
           store_opts.sync ? "on" : "off");

  if (auto err = tenure::ensure_email_index(**store)) {
    std::fprintf(stderr, "tenured: cannot start: email index: %s\n",
                 tenure::error_message(err).c_str());
    return exit_cannot_start;
  }

  // -- API keys and the verifier callback's secret
  // ------------------------------ Written on first start, so a new node is
  // usable at once and secure by default: the admin token is in a file only its
  // owner can read.
  auto keys_file = settings.gateway.keys_file.empty()
                     ? (data_dir / "keys.json").string()
                     : settings.gateway.keys_file;
  auto first
    = tenure::ensure_keys_file(keys_file, (data_dir / "admin.token").string());
  if (!first) {
    std::fprintf(stderr, "tenured: cannot start: %s\n",
                 tenure::error_message(first.error()).c_str());
    return exit_cannot_start;
  }
  if (*first) {
    std::printf("tenured: admin token written to %s (keys in %s)\n",
                (*first)->token_file.c_str(), (*first)->keys_file.c_str());
    std::fflush(stdout);
    log.info("first start: admin key created keys={} token_file={}",
             (*first)->keys_file, (*first)->token_file);
  }
  auto keys = tenure::key_ring::load(keys_file);
  if (!keys) {
    std::fprintf(stderr, "tenured: cannot start: %s\n",
                 tenure::error_message(keys.error()).c_str());
    return exit_cannot_start;
  }
  auto secret_file = settings.verifier.callback_secret_file.empty()
                       ? (data_dir / "verifier-callback.secret").string()
                       : settings.verifier.callback_secret_file;
  if (settings.verifier.callback_secret_file.empty())
    if (auto made = tenure::ensure_secret_file(secret_file); !made) {
      std::fprintf(stderr, "tenured: cannot start: %s\n",
                   tenure::error_message(made.error()).c_str());
      return exit_cannot_start;
    }
  auto callback_secret = tenure::read_secret_file(secret_file);
  if (!callback_secret || callback_secret->size() < 16) {
    std::fprintf(stderr, "tenured: cannot start: %s\n",
                 callback_secret
                   ? (secret_file
                      + ": the callback secret must be at least 16 "
                        "characters")
                       .c_str()
                   : tenure::error_message(callback_secret.error()).c_str());
    return exit_cannot_start;
  }

  // The secret of outreach emails' tracked addresses (nodes/tracking.hpp).
  auto tracking_file = settings.outbox.tracking_secret_file.empty()
                         ? (data_dir / "tracking.secret").string()
                         : settings.outbox.tracking_secret_file;
  if (settings.outbox.tracking_secret_file.empty())
    if (auto made = tenure::ensure_secret_file(tracking_file); !made) {
      std::fprintf(stderr, "tenured: cannot start: %s\n",
                   tenure::error_message(made.error()).c_str());
      return exit_cannot_start;
    }
  auto tracking_secret = tenure::read_secret_file(tracking_file);
  if (!tracking_secret || tracking_secret->size() < 16) {
    std::fprintf(stderr, "tenured: cannot start: %s\n",
                 tracking_secret
                   ? (tracking_file
                      + ": the tracking secret must be at least 16 "
                        "characters")
                       .c_str()
                   : tenure::error_message(tracking_secret.error()).c_str());
    return exit_cannot_start;
  }
  // Without a tracking-url, the gateway's port once it listens (the
  // configured one may be 0: any free port).
  auto tracking_url = settings.outbox.tracking_url;
  while (!tracking_url.empty() && tracking_url.back() == '/')
    tracking_url.pop_back();
  auto bound_http_port
    = std::make_shared<std::atomic<unsigned>>(settings.node.http_port);

  // -- actors -----------------------------------------------------------------
  // The actor system is a scope: its destructor waits for all actors, so it
  // ends before the store it uses is closed below.
  int exit_code = exit_ok;
  {
    caf::actor_system sys{cfg};
    log.info("actor system up scheduler.max-threads={}",
             caf::get_or(cfg, "scheduler.max-threads", size_t{0}));
    tenure::id_generator ids;
    std::unique_ptr<tenure::cluster> cl;
    if (cluster_cfg) {
      auto made = tenure::cluster::make(sys, *cluster_cfg);
      if (!made) {
        std::fprintf(stderr, "tenured: cannot start: %s: %s\n",
                     fl.config.c_str(),
                     tenure::error_message(made.error()).c_str());
        return exit_cannot_start;
      }
      cl = std::move(*made);
      // Every entity is born on its owner (see id_generator::only).
      ids.only([c = cl.get()](std::string_view id) { return c->owns(id); });
    }
    tenure::registry_deps reg_deps;
    reg_deps.store = store->get();
    reg_deps.clock = clk->get();
    reg_deps.rules = &settings.eligibility;
    reg_deps.ids = &ids;
    reg_deps.idle_after = settings.registry.idle_passivation;
    reg_deps.max_activations_per_second
      = settings.registry.max_activations_per_second;
    reg_deps.skus = &settings.skus.all();
    reg_deps.policy = &policy;
    // One coupon pool per program; the registry is spawned after them and
    // introduced to them, since each needs the other. In a cluster a node
    // runs the pools it owns; the others are proxies to their owners.
    std::vector<caf::actor> pools;
    std::array<caf::actor, 3> local_pools;
    for (auto p : {tenure::program::edu, tenure::program::oss,
                   tenure::program::startups}) {
      if (cl)
        if (auto there = cl->remote_pool(p)) {
          reg_deps.pools[static_cast<size_t>(p)] = *there;
          reg_deps.pools_here[static_cast<size_t>(p)] = false;
          continue;
        }
      tenure::coupon_pool_deps pd;
      pd.store = store->get();
      pd.clock = clk->get();
      pd.ids = &ids;
      if (auto i = settings.policy.forecasts.find(p);
          i != settings.policy.forecasts.end())
        pd.forecast = i->second;
      if (auto i = settings.programs.find(p); i != settings.programs.end())
        pd.low_stock_recipient = i->second.inbox;
      pools.push_back(sys.spawn(tenure::coupon_pool_actor, p, pd));
      reg_deps.pools[static_cast<size_t>(p)] = pools.back();
      local_pools[static_cast<size_t>(p)] = pools.back();
    }
    if (cl)
      reg_deps.elsewhere
        = [c = cl.get()](std::string_view id) { return c->registry_of(id); };
    auto registry = sys.spawn(tenure::registry_actor, reg_deps);
    for (auto& pool : pools)
      caf::anon_send(pool, registry);

    // -- supervisors ----------------------------------------------------------
    auto mail_dir = settings.outbox.mail_dir.empty()
                      ? (data_dir / "mail").string()
                      : settings.outbox.mail_dir;
    tenure::maildir_sink maildir{mail_dir};
    std::unique_ptr<tenure::smtp_sink> smtp;
    if (!smtp_opts.url.empty())
      smtp = std::make_unique<tenure::smtp_sink>(smtp_opts, &maildir);
    tenure::mail_sink* sink
      = smtp ? static_cast<tenure::mail_sink*>(smtp.get()) : &maildir;
    std::shared_ptr<tenure::verifier_client> verifier;
    if (settings.verifier.url.empty()) {
      verifier = std::make_shared<tenure::fake_verifier>();
    } else {
      tenure::http_verifier_options vo;
      vo.url = settings.verifier.url;
      vo.key = *verifier_key;
      vo.timeout = settings.verifier.timeout;
      verifier = std::make_shared<tenure::http_verifier>(vo);
    }
    // The outreach desk runs on one member: the owner of `outreach`.
    caf::actor outreach;
    if (!cl || cl->owns("outreach")) {
      tenure::outreach_deps od;
      od.store = store->get();
      od.clock = clk->get();
      od.ids = &ids;
      od.urls = [base = tracking_url, port = bound_http_port,
                 secret = *tracking_secret](const tenure::outreach_program& p,
                                            const tenure::ntf_id& n) {
        return tenure::make_tracking_urls(
          base.empty() ? "http://127.0.0.1:" + std::to_string(port->load())
                       : base,
          secret, p, n);
      };
      outreach = sys.spawn<caf::detached>(tenure::outreach_desk, od);
    }
    tenure::supervisors_deps sup_deps;
    sup_deps.outreach = outreach;
    sup_deps.store = store->get();
    sup_deps.clock = clk->get();
    sup_deps.ids = &ids;
    sup_deps.policy = &policy;
    sup_deps.registry = registry;
    sup_deps.verifier = verifier;
    // Renewal reminders and compliance notices are tracked like outreach
    // emails (their built-in programs count sends, opens and clicks) where
    // this node runs the outreach desk; elsewhere they go out untracked.
    sup_deps.deliver = [&](const tenure::notification& n) {
      if (outreach && tenure::system_program_for(n.template_name)) {
        caf::scoped_actor self{sys};
        std::string pixel;
        self
          ->request(outreach, std::chrono::seconds(5),
                    tenure::enroll_notification{n})
          .receive([&](std::string& url) { pixel = std::move(url); },
                   [&](caf::error& err) {
                     log.warn("notification goes out untracked id={} "
                              "error={}",
                              n.id.str(), tenure::error_message(err));
                   });
        if (!pixel.empty()) {
          auto tracked = n;
          tracked.params["tracking_pixel"] = pixel;
          return tenure::render_and_deliver(*templates, *sink, tracked);
        }
      }
      return tenure::render_and_deliver(*templates, *sink, n);
    };
    sup_deps.outbox_max_attempts = settings.outbox.max_attempts;
    sup_deps.outbox_backoff = settings.outbox.backoff;
    sup_deps.timer_batch = settings.timers.batch;
    sup_deps.timer_poll = std::chrono::duration_cast<std::chrono::milliseconds>(
      settings.timers.poll);
    auto sv = tenure::spawn_supervisors(sys, sup_deps);
    log.info("supervisors up outbox={} verifier={}", sink->describe(),
             settings.verifier.url.empty() ? std::string{"local stand-in"}
                                           : verifier->describe());
    // Entity actors end with the registry; the system's destructor below
    // waits for them, and their last commits complete in the store.
    auto stop_actors = [&] {
      sv.stop();
      caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
      for (auto& pool : pools)
        caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
      if (outreach)
        caf::anon_send_exit(outreach, caf::exit_reason::user_shutdown);
    };

    // -- API, gateway and shell endpoint
    // ---------------------------------------
    tenure::api_deps api_deps;
    api_deps.sys = &sys;
    api_deps.store = store->get();
    api_deps.clock = clk->get();
    api_deps.manual = dynamic_cast<tenure::manual_clock*>(clk->get());
    api_deps.registry = registry;
    api_deps.pools = reg_deps.pools;
    api_deps.cluster = cl.get();
    api_deps.skus = &settings.skus.all();
    api_deps.ids = &ids;
    api_deps.sv = &sv;
    api_deps.keys = &*keys;
    api_deps.callback_secret = *callback_secret;
    api_deps.outreach = outreach;
    api_deps.tracking_secret = *tracking_secret;
    api_deps.routing = &*routing;
    api_deps.node_name = cl ? cl->self() : "tenured@" + settings.node.host;
    api_deps.data_dir = data_dir.string();
    api_deps.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      settings.gateway.request_timeout);
    api_deps.ready = [&] { return (*store)->is_open(); };
    tenure::api app{api_deps};

    tenure::gateway_options gw_opts;
    gw_opts.host = settings.node.host;
    gw_opts.port = settings.node.http_port;
    gw_opts.threads = settings.gateway.threads;
    gw_opts.max_body_bytes = settings.gateway.max_body_mib << 20;
    gw_opts.io_timeout_seconds
      = static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(
                           settings.gateway.io_timeout)
                           .count());
    tenure::gateway gw{gw_opts, app};
    auto port = gw.bind();
    // The shell endpoint: one detached actor answering the operator shell
    // through the same API (nodes/shell_protocol.hpp). Detached because
    // each request blocks while the actors answer; operators are few, so
    // their commands are served one after the other.
    // The API travels as a spawn argument: CAF 0.17 dereferences a null
    // argument tuple when a spawned function takes none (UBSan reports it).
    auto shell = sys.spawn<caf::detached>(
      [](caf::event_based_actor*, tenure::api* app) -> caf::behavior {
        return {
          [app](tenure::shell_atom, const std::string& method,
                const std::string& target, const std::string& token,
                const std::string& content_type, const std::string& body,
                const std::string& idempotency_key) {
            tenure::api_request req;
            req.method = method;
            tenure::split_target(target, req.path, req.query);
            req.authorization
              = token.empty() ? std::string{} : "Bearer " + token;
            req.content_type = content_type;
            req.body = body;
            req.idempotency_key = idempotency_key;
            auto res = app->handle(req);
            return caf::make_message(static_cast<int32_t>(res.status),
                                     std::move(res.body));
          },
        };
      },
      &app);
    caf::expected<uint16_t> shell_port{caf::error{}};
    caf::expected<uint16_t> cluster_port{uint16_t{0}};
    if (port)
      // reuse_addr: a node restarted right after a shell was connected
      // finds its port in TIME_WAIT; SO_REUSEADDR (not SO_REUSEPORT) still
      // refuses a port another process listens on.
      shell_port = sys.middleman().publish(caf::actor_cast<caf::actor>(shell),
                                           settings.node.shell_port,
                                           settings.node.host.c_str(), true);
    if (!port) {
      std::fprintf(stderr, "tenured: cannot start: %s\n",
                   tenure::error_message(port.error()).c_str());
      exit_code = exit_cannot_start;
    } else if (!shell_port) {
      std::fprintf(stderr,
                   "tenured: cannot start: cannot listen on %s:%u for the "
                   "shell (in use, or not an address of this host); set "
                   "tenure.node.shell-port or --shell-port\n",
                   settings.node.host.c_str(),
                   static_cast<unsigned>(settings.node.shell_port));
      exit_code = exit_cannot_start;
    } else if (cl && !(cluster_port = cl->serve(&app, registry, local_pools))) {
      std::fprintf(stderr, "tenured: cannot start: %s\n",
                   tenure::error_message(cluster_port.error()).c_str());
      exit_code = exit_cannot_start;
    } else {
      bound_http_port->store(*port);
      gw.start();
      // The one line scripts and tests look for.
      // Cluster members append their name and cluster port, so that
      // readers of the single-node line still match.
      std::string member;
      if (cl)
        member = " node=" + cl->self()
                 + " cluster=" + cl->members().find(cl->self())->host + ":"
                 + std::to_string(*cluster_port);
      std::printf("tenured: listening http=%s:%u shell=%s:%u data=%s "
                  "clock=%s%s\n",
                  settings.node.host.c_str(), static_cast<unsigned>(*port),
                  settings.node.host.c_str(),
                  static_cast<unsigned>(*shell_port), data_dir.c_str(),
                  std::string{(*clk)->kind()}.c_str(), member.c_str());
      std::fflush(stdout);
      log.info("ready http={}:{} shell={}:{} clock={} now={}",
               settings.node.host, *port, settings.node.host, *shell_port,
               (*clk)->kind(), tenure::to_iso8601((*clk)->now()));
      auto sig = wait_for_stop_signal(stop_signals);
      log.info("stopping signal={}", sig == SIGINT ? "SIGINT" : "SIGTERM");
      // In-flight requests finish before stop() returns; later ones are
      // refused at the socket.
      gw.stop();
      if (cl)
        cl->stop(); // forwarded requests in flight finish first
      sys.middleman().unpublish(caf::actor_cast<caf::actor>(shell),
                                *shell_port);
    }
    if (cl)
      cl->stop();
    // The shell actor uses `app`, which ends with this scope: wait until it
    // finished its last request.
    caf::anon_send_exit(shell, caf::exit_reason::user_shutdown);
    {
      caf::scoped_actor waiter{sys};
      waiter->wait_for(shell);
    }
    stop_actors();
    // The actors use what this scope declared after `sys` (the mail sinks,
    // the id generator, the cluster): wait for them here, before those are
    // destroyed, not in the system's destructor after them. (An outbox
    // delivery in flight at SIGTERM read the freed maildir sink; ASan.)
    sys.await_all_actors_done();
  }
  // In-flight commits finish before close() returns.
  (*store)->close();
  log.info("stopped");
  return exit_code;
}

} // namespace

int main(int argc, char** argv) {
  auto stop_signals = block_stop_signals();
  auto fl = parse_flags(argc, argv);
  if (!fl)
    return exit_usage;
  if (fl->help) {
    std::fputs(usage, stdout);
    return exit_ok;
  }
  return run(*fl, stop_signals);
}
