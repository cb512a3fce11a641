// tenure-move: the offline membership change (issue 6, README "Changing
// cluster membership (offline move)").
//
// Every subcommand works on a stopped node's data directory and opens its
// store the way tenured does (`DATA/db`); a running node holds the store's
// lock, and the command then refuses. It prints counts and entity ids, never
// coupon codes, tokens or Idempotency-Keys. Exit codes: 0 done, 1 failed,
// 2 usage error.

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "messages/errc.hpp"
#include "nodes/cluster_move.hpp"
#include "storage/store.hpp"

namespace {

namespace cm = tenure::cluster_move;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

constexpr const char* usage
  = R"(usage: tenure-move COMMAND --data DIR --node NAME [options]

Moves entities between the stores of cluster members when the member list
changes. Offline: stop the node first (the command refuses a store in use).

commands:
  plan    --members LIST [--limit N]
          what the new member list moves away from this node (writes nothing)
  export  --members LIST --out DIR
          one bundle DIR/<member>.tmove per member that receives entities
  import  --bundle FILE
          imports a bundle addressed to this node (checked first; importing
          twice is harmless)
  prune   --members LIST
          deletes what this node no longer owns; run it after every
          destination imported its bundle

options:
  --data DIR       the node's data directory (its store is DIR/db)
  --node NAME      this node's name in the cluster
  --members LIST   the NEW member list: name@host:port,name@host:port,...
  --out DIR        where export writes its bundles
  --bundle FILE    the bundle to import
  --limit N        plan: entity ids listed per destination (default 20)
  --help           this text

exit codes: 0 done, 1 failed, 2 usage error.
)";

struct args {
  std::string command;
  std::map<std::string, std::string> opts;
};

int usage_error(const std::string& what) {
  std::fprintf(stderr, "tenure-move: %s\n(see tenure-move --help)\n",
               what.c_str());
  return exit_usage;
}

int failed(const std::string& what) {
  std::fprintf(stderr, "tenure-move: %s\n", what.c_str());
  return exit_failed;
}

/// Whether `err` says that RocksDB's LOCK is held: a running node.
bool locked(const caf::error& err) {
  std::string lower;
  for (char c : tenure::error_message(err))
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("lock") != std::string::npos;
}

/// The message of a store that cannot be opened or written.
std::string store_failure(const std::string& path, const caf::error& err) {
  auto msg = tenure::error_message(err);
  if (locked(err))
    return "the store " + path
           + " is in use (its LOCK is held): stop the node first, the move "
             "is offline ("
           + msg + ")";
  return "the store " + path + ": " + msg;
}

bool valid_node_name(std::string_view name) {
  if (name.empty() || name.size() > 64)
    return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_'
        && c != '-')
      return false;
  return true;
}

std::string kinds_text(const cm::entity_counts& k) {
  std::vector<std::string> parts;
  auto add = [&](uint64_t n, const char* one, const char* many) {
    if (n > 0)
      parts.push_back(fmt::format("{} {}", n, n == 1 ? one : many));
  };
  add(k.applications, "application", "applications");
  add(k.subscriptions, "subscription", "subscriptions");
  add(k.compliance_cases, "compliance case", "compliance cases");
  add(k.emergency_licenses, "emergency license", "emergency licenses");
  add(k.coupon_pools, "coupon pool", "coupon pools");
  add(k.other, "other", "other");
  std::string out;
  for (auto& p : parts)
    out += (out.empty() ? "" : ", ") + p;
  return out.empty() ? "none" : out;
}

std::string rows_text(const cm::row_counts& r) {
  std::string out;
  for (auto family : tenure::storage::all_cfs)
    if (r[family] > 0)
      out += fmt::format("{}{} {}", out.empty() ? "" : ", ", r[family],
                         tenure::storage::to_string(family));
  return out.empty() ? "none" : out;
}

/// Opens DATA/db like tenured does.
caf::expected<std::unique_ptr<tenure::storage::rocksdb_store>>
open_store(const std::string& db, bool create) {
  tenure::storage::store_options opts;
  opts.path = db;
  opts.create_if_missing = create;
  opts.sync = true;
  auto st = tenure::storage::rocksdb_store::open(opts);
  return st;
}

int run(const args& a) {
  auto opt = [&](const char* name) -> std::optional<std::string> {
    auto i = a.opts.find(name);
    if (i == a.opts.end())
      return std::nullopt;
    return i->second;
  };
  // Which options each command takes, required first.
  static const std::map<
    std::string, std::pair<std::vector<std::string>, std::vector<std::string>>>
    spec{
      {"plan", {{"data", "node", "members"}, {"limit"}}},
      {"export", {{"data", "node", "members", "out"}, {}}},
      {"import", {{"data", "node", "bundle"}, {}}},
      {"prune", {{"data", "node", "members"}, {}}},
    };
  auto s = spec.find(a.command);
  if (s == spec.end())
    return usage_error("unknown command '" + a.command
                       + "'; expected plan, export, import or prune");
  auto& [required, optional] = s->second;
  for (auto& r : required)
    if (!a.opts.count(r) || a.opts.at(r).empty())
      return usage_error(a.command + ": --" + r + " is required");
  for (auto& [name, value] : a.opts)
    if (std::find(required.begin(), required.end(), name) == required.end()
        && std::find(optional.begin(), optional.end(), name) == optional.end())
      return usage_error(a.command + ": --" + name + " does not apply");
  auto node = *opt("node");
  if (!valid_node_name(node))
    return usage_error("--node: 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' "
                       "or '-'");
  std::optional<tenure::ownership> members;
  if (auto list = opt("members")) {
    auto parsed = cm::parse_members(*list);
    if (!parsed)
      return usage_error("--" + tenure::error_message(parsed.error()));
    members = std::move(*parsed);
  }
  size_t limit = 20;
  if (auto l = opt("limit")) {
    char* end = nullptr;
    auto n = std::strtoull(l->c_str(), &end, 10);
    if (l->empty() || *end != '\0' || n > 100000)
      return usage_error("--limit: a number 0..100000");
    limit = static_cast<size_t>(n);
  }
  auto data = std::filesystem::absolute(*opt("data")).lexically_normal();
  auto db = (data / "db").string();
  bool create = a.command == "import";
  if (!create && !std::filesystem::exists(data / "db" / "CURRENT"))
    return failed("no store at " + db
                  + " (is --data the node's data "
                    "directory?)");
  if (create) {
    std::error_code ec;
    std::filesystem::create_directories(data, ec);
    if (ec)
      return failed("cannot create " + data.string() + ": " + ec.message());
  }

  if (a.command == "prune") {
    std::printf("prune: node %s, store %s\n", node.c_str(), db.c_str());
    auto rep = cm::prune_moved(db, *members, node);
    if (!rep) {
      if (rep.error() == tenure::errc::storage_failure)
        return failed(store_failure(db, rep.error()));
      return failed(tenure::error_message(rep.error()));
    }
    std::printf("  deleted %llu rows (%s)\n",
                static_cast<unsigned long long>(rep->rows.total()),
                rows_text(rep->rows).c_str());
    std::printf("  entities deleted: %s\n", kinds_text(rep->entities).c_str());
    std::printf("  kept: %llu node-local rows, %llu rows of unknown kind\n",
                static_cast<unsigned long long>(rep->local_rows),
                static_cast<unsigned long long>(rep->unknown_rows));
    return exit_ok;
  }

  auto st = open_store(db, create);
  if (!st)
    return failed(store_failure(db, st.error()));
  auto& store = **st;
  int rc = exit_ok;
  if (a.command == "plan") {
    auto plan = cm::plan_moves(store, *members, node, limit);
    if (!plan) {
      rc = failed(tenure::error_message(plan.error()));
    } else {
      std::printf("plan: node %s, %llu entities move, %llu stay\n",
                  node.c_str(), static_cast<unsigned long long>(plan->total),
                  static_cast<unsigned long long>(plan->staying));
      for (auto& m : plan->moves) {
        std::printf("  %s -> %s: %llu (%s)\n", m.from.c_str(), m.to.c_str(),
                    static_cast<unsigned long long>(m.count),
                    kinds_text(m.kinds).c_str());
        for (auto& id : m.entities)
          std::printf("    %s\n", id.c_str());
        if (m.entities.size() < m.count)
          std::printf(
            "    ... and %llu more\n",
            static_cast<unsigned long long>(m.count - m.entities.size()));
      }
    }
  } else if (a.command == "export") {
    auto out = std::filesystem::absolute(*opt("out")).lexically_normal();
    auto rep = cm::export_moves(store, *members, node, out.string());
    if (!rep) {
      rc = failed(tenure::error_message(rep.error()));
    } else {
      std::printf("export: node %s, %zu bundles in %s\n", node.c_str(),
                  rep->bundles.size(), out.c_str());
      for (auto& b : rep->bundles)
        std::printf("  %s: %s, %llu rows (%s); entities: %s\n", b.to.c_str(),
                    b.path.c_str(),
                    static_cast<unsigned long long>(b.rows.total()),
                    rows_text(b.rows).c_str(), kinds_text(b.entities).c_str());
      std::printf("  staying here: %llu node-local rows, %llu rows of "
                  "unknown kind\n",
                  static_cast<unsigned long long>(rep->local_rows),
                  static_cast<unsigned long long>(rep->unknown_rows));
      if (!rep->bundles.empty())
        std::printf("next: `tenure-move import` each bundle on its member, "
                    "then `tenure-move prune` here\n");
    }
  } else { // import
    auto bundle = *opt("bundle");
    auto rep = cm::import_bundle(store, bundle, node);
    if (!rep) {
      rc = failed(tenure::error_message(rep.error()));
    } else {
      std::printf("import: bundle from %s to %s: %llu rows (%s)\n",
                  rep->from.c_str(), rep->to.c_str(),
                  static_cast<unsigned long long>(rep->rows.total()),
                  rows_text(rep->rows).c_str());
      std::printf("  written %llu, already present %llu; entities: %s\n",
                  static_cast<unsigned long long>(rep->written),
                  static_cast<unsigned long long>(rep->already_present),
                  kinds_text(rep->entities).c_str());
    }
  }
  store.close();
  return rc;
}

} // namespace

int main(int argc, char** argv) {
  args a;
  std::vector<std::string> rest(argv + 1, argv + argc);
  if (rest.empty())
    return usage_error("a command is required");
  for (auto& x : rest)
    if (x == "--help" || x == "-h") {
      std::fputs(usage, stdout);
      return exit_ok;
    }
  a.command = rest.front();
  for (size_t i = 1; i < rest.size(); ++i) {
    auto& x = rest[i];
    if (x.rfind("--", 0) != 0)
      return usage_error("unexpected argument '" + x + "'");
    auto name = x.substr(2);
    std::string value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else {
      if (i + 1 >= rest.size())
        return usage_error("--" + name + " needs a value");
      value = rest[++i];
    }
    if (!a.opts.emplace(name, value).second)
      return usage_error("--" + name + " given twice");
  }
  return run(a);
}
