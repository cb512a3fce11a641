#include "nodes/cluster_move.hpp"

#include <algorithm>
#include <utility>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "actors/lifecycle.hpp"
#include "messages/codec.hpp"
#include "messages/errc.hpp"
#include "messages/id.hpp"
#include "messages/records.hpp"
#include "storage/batch.hpp"
#include "storage/keys.hpp"

namespace tenure::cluster_move {

namespace {

using storage::cf;

bool starts_with(std::string_view x, std::string_view prefix) {
  return x.substr(0, prefix.size()) == prefix;
}

row_home owned(std::string_view key) {
  // Accounts and outreach programs all live with the outreach desk, on the
  // owner of `outreach` (see nodes/api.cpp, `place`).
  if (key.rfind("acct_", 0) == 0 || key.rfind("prg_", 0) == 0)
    return row_home{row_home::kind::owned, "outreach"};
  return row_home{row_home::kind::owned, std::string{key}};
}

row_home local() {
  return row_home{row_home::kind::local, {}};
}

row_home unknown() {
  return row_home{row_home::kind::unknown, {}};
}

caf::error corrupt(cf family, std::string what) {
  return make_error(errc::corrupt_data,
                    fmt::format("{}: {}", storage::to_string(family), what));
}

/// At most 80 printable characters of `x`, for messages about rows whose
/// keys are entity ids (never called with coupon codes or client keys).
std::string shown(std::string_view x) {
  std::string out;
  for (char c : x.substr(0, 80))
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

// -- where rows belong --------------------------------------------------------
//
// The rule: a row lives with the member that writes it. Each commit is one
// atomic batch on one store, so all rows one commit writes must share a
// store, and the member that handles an entity's commands (the owner of its
// id: requests are routed by id, and ids are minted on their owner) must
// find them there. Per column family:
//
// snapshots    An entity by its id (app_, sub_, em_, ...). Exception: a
//              compliance case (case_) goes by its subscription (the
//              `subscription` of the case's snapshot): the subscription
//              actor opens, cures and closes cases in the same commit as
//              its own events, and after a move the case id alone may hash
//              to another member than its subscription. No other entity is
//              written by another entity's commits over its life: a
//              subscription provisioned by a redemption is written once in
//              the application's commit and then only by its own actor, so
//              it goes by its own id; emergency licenses are written by the
//              emergency desk for themselves (issue, resend, expiry).
// events       With their entity's snapshot (same rule, case -> subscription).
// timers       With the timer's `entity` (same rule): the owner's supervisor
//              fires it and the entity's actor deletes it in the commit of
//              its effect. Outbox delivery timers name the notification.
// timer_index  With the timer (by the entity in its key). Not exported: the
//              importer rebuilds it with `batch::put_timer`.
// outbox       By the notification id: the outbox dispatcher of the member
//              holding the row delivers it, driven by the delivery timer,
//              which names the same id; pending notifications move with it
//              and are delivered there (at least once, as always).
// coupons      Codes (`program 0 code`) and pool waiting rows
//              (`program 0 ~waiting 0 app`) by `pool/<program>`: one pool
//              actor per program, on `pool_owner(program)`, hands out codes.
// audit        By the audit id (minted on the member that wrote it, with
//              the license or refusal it records); looked up by email, which
//              fans out to all members.
// idempotency  `request 0 <key name> 0 <key>` by `idem/<key>`: a retried
//              POST goes to the owner of its Idempotency-Key, which must
//              find the first answer. `webhook_sig 0 ...` and
//              `webhook_event 0 ...` are local: replay and dedupe guards of
//              verifier callbacks that expire within a day; a moved
//              application is handled by the new member, which would not
//              consult them anyway (a replay across a move is refused by the
//              signature's timestamp tolerance).
// meta         `email/<email> 0 <entity>` with the entity (the index is
//              written in the entity's first commit). `review/<due><app>`
//              with the application. `emergency/<sub>` (the running license
//              of a subscription) with the license it names: the license's
//              expiry commit erases it. `audit_email/<email>/<aud>` with the
//              audit record. `active_subscription/<program>/<org>` with
//              `org/<program>/<org>`, where the organisation's applications
//              are answered (see api.cpp) and so where it is checked.
//              `idem_exp/<be64><row key>` with the idempotency row it expires
//              (so `local` for webhook rows). `email_index_v1` and
//              `tenure.storage.format` are the store's own markers: local.
//              Anything else is unknown and stays.

constexpr std::string_view case_prefix = case_id::prefix;

/// The subscription in a case's snapshot row.
caf::expected<std::string> case_subscription(std::string_view id,
                                             std::string_view value) {
  if (value.size() < 8)
    return corrupt(cf::snapshots,
                   fmt::format("row of {} is too short", shown(id)));
  auto c = decode<compliance_case>(value.substr(8));
  if (!c)
    return corrupt(cf::snapshots,
                   fmt::format("case {} does not decode: {}", shown(id),
                               error_message(c.error())));
  if (c->subscription.empty())
    return corrupt(cf::snapshots,
                   fmt::format("case {} names no subscription", shown(id)));
  return c->subscription.str();
}

/// The home of a row of `entity` (cases by their subscription).
caf::expected<row_home> entity_home(cf family, std::string_view entity,
                                    const case_lookup& cases) {
  if (entity.empty())
    return corrupt(family, "row without an entity");
  if (!starts_with(entity, case_prefix))
    return owned(entity);
  if (!cases)
    return make_error(errc::invalid_argument,
                      fmt::format("{}: a row of case {} goes with the "
                                  "case's subscription, but no case lookup "
                                  "was given",
                                  storage::to_string(family), shown(entity)));
  auto sub = cases(entity);
  if (!sub)
    return std::move(sub.error());
  return owned(*sub);
}

/// `request 0 <key name> 0 <key>` -> `idem/<key>`.
caf::expected<row_home> idempotency_home(std::string_view key) {
  std::string_view parts[3];
  auto n = storage::split_key(key, parts, 3);
  if (parts[0] == "request") {
    if (n != 3 || parts[2].empty())
      return corrupt(cf::idempotency, "request row without a key");
    std::string home = "idem/";
    home.append(parts[2]);
    return row_home{row_home::kind::owned, std::move(home)};
  }
  if (n >= 2 && (parts[0] == "webhook_sig" || parts[0] == "webhook_event"))
    return local();
  return unknown();
}

caf::expected<row_home> meta_home(std::string_view key, std::string_view value,
                                  const case_lookup& cases) {
  if (key == "email_index_v1" || key == "tenure.storage.format")
    return local();
  if (starts_with(key, "email/")) {
    auto sep = key.find(storage::key_separator);
    if (sep == std::string_view::npos)
      return corrupt(cf::meta, "email index row without an entity");
    return entity_home(cf::meta, key.substr(sep + 1), cases);
  }
  if (starts_with(key, review_queue_prefix)) {
    auto head = review_queue_prefix.size() + 8;
    if (key.size() <= head)
      return corrupt(cf::meta, "review queue row without an application");
    return entity_home(cf::meta, key.substr(head), cases);
  }
  if (starts_with(key, "emergency/")) {
    if (value.empty())
      return corrupt(cf::meta, "running license row of " + shown(key.substr(10))
                                 + " names no license");
    return owned(value);
  }
  if (starts_with(key, "audit_email/")) {
    auto slash = key.rfind('/');
    if (slash + 1 >= key.size() || slash < 12)
      return corrupt(cf::meta, "audit email index row without an id");
    return owned(key.substr(slash + 1));
  }
  if (starts_with(key, "active_subscription/")) {
    // By organisation: an organisation's applications go to the owner of
    // `org/<program>/<org key>` (the gateway's routing), which checks this
    // row when one of them redeems.
    auto rest = key.substr(std::string_view{"active_subscription/"}.size());
    if (rest.find('/') == std::string_view::npos || value.empty())
      return corrupt(cf::meta, "active subscription row names none");
    return owned("org/" + std::string{rest});
  }
  if (starts_with(key, "idem_exp/")) {
    if (value.empty())
      return corrupt(cf::meta, "idempotency expiry row names no row");
    return idempotency_home(value);
  }
  return unknown();
}

} // namespace

case_lookup store_case_lookup(const storage::store& st) {
  auto cache = std::make_shared<std::unordered_map<std::string, std::string>>();
  return [&st, cache](std::string_view id) -> caf::expected<std::string> {
    std::string key{id};
    if (auto i = cache->find(key); i != cache->end())
      return i->second;
    auto row = st.get(cf::snapshots, key);
    if (!row)
      return std::move(row.error());
    if (!*row)
      return make_error(errc::corrupt_data,
                        fmt::format("rows of case {} without its snapshot: "
                                    "cannot tell its subscription",
                                    shown(id)));
    auto sub = case_subscription(id, **row);
    if (!sub)
      return sub;
    cache->emplace(std::move(key), *sub);
    return sub;
  };
}

caf::expected<row_home> owner_key_of(cf family, std::string_view key,
                                     std::string_view value,
                                     const case_lookup& cases) {
  if (key.empty())
    return corrupt(family, "empty key");
  switch (family) {
    case cf::snapshots:
      if (starts_with(key, case_prefix)) {
        auto sub = case_subscription(key, value);
        if (!sub)
          return std::move(sub.error());
        return owned(*sub);
      }
      return owned(key);
    case cf::events: {
      // entity 0x00 be64(seq)
      if (key.size() < 10 || key[key.size() - 9] != storage::key_separator)
        return corrupt(family, "malformed key");
      return entity_home(family, key.substr(0, key.size() - 9), cases);
    }
    case cf::timers: {
      auto t = decode<timer>(value);
      if (!t)
        return corrupt(family, "undecodable row: " + error_message(t.error()));
      return entity_home(family, t->entity, cases);
    }
    case cf::timer_index:
      // entity 0x00 kind 0x00 timer-id
      if (key.find(storage::key_separator) == std::string_view::npos)
        return corrupt(family, "malformed key");
      return entity_home(family, key.substr(0, key.find('\0')), cases);
    case cf::outbox:
    case cf::audit:
      return owned(key);
    case cf::coupons: {
      auto sep = key.find(storage::key_separator);
      if (sep == 0 || sep == std::string_view::npos)
        return corrupt(family, "key without a program");
      std::string home = "pool/";
      home.append(key.substr(0, sep));
      return row_home{row_home::kind::owned, std::move(home)};
    }
    case cf::idempotency:
      return idempotency_home(key);
    case cf::meta:
      return meta_home(key, value, cases);
    case cf::outreach:
      return row_home{row_home::kind::owned, "outreach"};
  }
  return unknown();
}

// -- member lists -------------------------------------------------------------

caf::expected<ownership> parse_members(std::string_view list) {
  std::vector<cluster_member> members;
  auto trim = [](std::string_view x) {
    while (!x.empty() && (x.front() == ' ' || x.front() == '\t'))
      x.remove_prefix(1);
    while (!x.empty() && (x.back() == ' ' || x.back() == '\t'))
      x.remove_suffix(1);
    return x;
  };
  size_t index = 0;
  for (;;) {
    auto comma = list.find(',');
    auto item = trim(list.substr(0, comma));
    auto bad = [&](std::string_view why) {
      return make_error(errc::invalid_argument,
                        fmt::format("members: item {} ('{}'): {}; expected "
                                    "name@host:port",
                                    index + 1, shown(item), why));
    };
    auto m = tenure::parse_member(item);
    if (!m)
      return bad(error_message(m.error()));
    members.push_back(std::move(*m));
    ++index;
    if (comma == std::string_view::npos)
      break;
    list.remove_prefix(comma + 1);
  }
  auto result = ownership::make(std::move(members));
  if (!result)
    return make_error(errc::invalid_argument,
                      "members: " + error_message(result.error()));
  return result;
}

namespace {

std::string members_text(const ownership& next) {
  std::string out;
  for (auto& m : next.members()) {
    if (!out.empty())
      out += ',';
    auto ipv6 = m.host.find(':') != std::string::npos;
    out += fmt::format("{}@{}{}{}:{}", m.name, ipv6 ? "[" : "", m.host,
                       ipv6 ? "]" : "", m.port);
  }
  return out;
}

} // namespace

// -- plan ---------------------------------------------------------------------

void entity_counts::add(std::string_view id) {
  if (starts_with(id, app_id::prefix))
    ++applications;
  else if (starts_with(id, sub_id::prefix))
    ++subscriptions;
  else if (starts_with(id, case_id::prefix))
    ++compliance_cases;
  else if (starts_with(id, em_id::prefix))
    ++emergency_licenses;
  else if (starts_with(id, "pool/"))
    ++coupon_pools;
  else
    ++other;
}

uint64_t row_counts::total() const noexcept {
  uint64_t n = 0;
  for (auto x : by_cf)
    n += x;
  return n;
}

namespace {

constexpr size_t page_size = 512;

/// Visits every row of `family` in key order, a page at a time.
template <class F>
caf::error scan_all(const storage::store& st, cf family, F&& f) {
  std::string after;
  for (;;) {
    auto rows = st.scan(family, {}, page_size, after);
    if (!rows)
      return std::move(rows.error());
    for (auto& row : *rows)
      if (auto err = f(row))
        return err;
    if (rows->size() < page_size)
      return caf::none;
    after = rows->back().key;
  }
}

/// The programs that have coupon rows, one seek per program.
caf::expected<std::vector<std::string>> pools_of(const storage::store& st) {
  std::vector<std::string> out;
  std::string after;
  for (;;) {
    auto rows = st.scan(cf::coupons, {}, 1, after);
    if (!rows)
      return std::move(rows.error());
    if (rows->empty())
      return out;
    auto& key = rows->front().key;
    auto program = key.substr(0, key.find(storage::key_separator));
    // Past every `program 0 ...` key.
    after = storage::prefix_successor(program + '\0');
    out.push_back(std::move(program));
  }
}

} // namespace

caf::expected<move_plan> plan_moves(const storage::store& st,
                                    const ownership& next,
                                    std::string_view self, size_t list_limit) {
  move_plan plan;
  plan.from.assign(self);
  std::map<std::string, planned_move> by_dest;
  auto note = [&](const std::string& id, const std::string& home) {
    auto& owner = next.owner_of(home);
    if (owner.name == self) {
      ++plan.staying;
      return;
    }
    auto& m = by_dest[owner.name];
    m.from.assign(self);
    m.to = owner.name;
    ++m.count;
    m.kinds.add(id);
    if (m.entities.size() < list_limit)
      m.entities.push_back(id);
    ++plan.total;
  };
  auto err = scan_all(st, cf::snapshots, [&](const storage::key_value& row) {
    auto home = owner_key_of(cf::snapshots, row.key, row.value);
    if (!home)
      return std::move(home.error());
    note(row.key, home->key);
    return caf::error{};
  });
  if (err)
    return err;
  auto pools = pools_of(st);
  if (!pools)
    return std::move(pools.error());
  for (auto& program : *pools)
    note("pool/" + program, "pool/" + program);
  for (auto& [name, m] : by_dest)
    plan.moves.push_back(std::move(m));
  return plan;
}

// -- the rows that move -------------------------------------------------------

namespace {

/// Receives each row that moves, with its home and destination.
using move_visitor = std::function<caf::error(
  cf, const storage::key_value&, const row_home&, const std::string& to)>;

/// Visits every row of `st` (of every family but the timer index unless
/// `with_index`) that `next` assigns to a member other than `self`; counts
/// the local and unknown rows.
caf::error visit_moving(const storage::store& st, const ownership& next,
                        std::string_view self, bool with_index,
                        uint64_t& local_rows, uint64_t& unknown_rows,
                        const move_visitor& f) {
  auto cases = store_case_lookup(st);
  for (auto family : storage::all_cfs) {
    if (family == cf::timer_index && !with_index)
      continue;
    auto err = scan_all(st, family, [&](const storage::key_value& row) {
      auto home = owner_key_of(family, row.key, row.value, cases);
      if (!home)
        return std::move(home.error());
      switch (home->what) {
        case row_home::kind::local:
          ++local_rows;
          return caf::error{};
        case row_home::kind::unknown:
          ++unknown_rows;
          return caf::error{};
        case row_home::kind::owned:
          break;
      }
      auto& owner = next.owner_of(home->key);
      if (owner.name == self)
        return caf::error{};
      return f(family, row, *home, owner.name);
    });
    if (err)
      return err;
  }
  return caf::none;
}

// -- bundle files -------------------------------------------------------------

constexpr std::string_view bundle_magic = "TENUREMV";
constexpr uint32_t bundle_version = 1;
constexpr char row_tag = 'R';
constexpr char end_tag = 'E';
constexpr size_t digest_size = 32;
/// Longest node names and member lists accepted in a header.
constexpr uint32_t max_header_string = 64 * 1024;
/// Longest key and value accepted in a row (far above what the store writes;
/// a corrupt length fails here instead of allocating gigabytes).
constexpr uint32_t max_key = 64 * 1024;
constexpr uint32_t max_value = 64u << 20;

struct md_deleter {
  void operator()(EVP_MD_CTX* ctx) const {
    EVP_MD_CTX_free(ctx);
  }
};

using md_ptr = std::unique_ptr<EVP_MD_CTX, md_deleter>;

md_ptr new_sha256() {
  md_ptr ctx{EVP_MD_CTX_new()};
  if (ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    ctx.reset();
  return ctx;
}

caf::error io_error(const std::string& what, const std::string& path) {
  return make_error(errc::storage_failure,
                    fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

void put_u32(std::string& out, uint32_t x) {
  for (int i = 3; i >= 0; --i)
    out += static_cast<char>((x >> (8 * i)) & 0xff);
}

void put_str(std::string& out, std::string_view x) {
  put_u32(out, static_cast<uint32_t>(x.size()));
  out.append(x);
}

/// Writes one bundle under `<path>.partial`, renamed to `path` by
/// `finish()`; removes the partial file unless finished.
class bundle_writer {
public:
  bundle_writer(std::string path, std::string to)
    : path_(std::move(path))
    , tmp_(path_ + ".partial")
    , to_(std::move(to)) {
    // nop
  }

  ~bundle_writer() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(tmp_.c_str());
    }
  }

  bundle_writer(const bundle_writer&) = delete;
  bundle_writer& operator=(const bundle_writer&) = delete;

  caf::error open(std::string_view from, std::string_view members) {
    md_ = new_sha256();
    if (!md_)
      return make_error(errc::storage_failure, "cannot start SHA-256");
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0)
      return io_error("cannot create", tmp_);
    std::string head{bundle_magic};
    put_u32(head, bundle_version);
    put_str(head, from);
    put_str(head, to_);
    put_str(head, members);
    return write(head);
  }

  caf::error add(cf family, std::string_view key, std::string_view value) {
    buf_.clear();
    buf_ += row_tag;
    buf_ += static_cast<char>(family);
    put_str(buf_, key);
    put_str(buf_, value);
    ++rows_;
    return write(buf_);
  }

  caf::error finish() {
    std::string tail;
    tail += end_tag;
    storage::append_be64(tail, rows_);
    if (auto err = write(tail))
      return err;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(md_.get(), digest, &len) != 1 || len != digest_size)
      return make_error(errc::storage_failure, "cannot finish SHA-256");
    if (auto err = write_raw(reinterpret_cast<const char*>(digest), len))
      return err;
    if (::fsync(fd_) != 0)
      return io_error("cannot sync", tmp_);
    if (::close(fd_) != 0) {
      fd_ = -1;
      ::unlink(tmp_.c_str());
      return io_error("cannot close", tmp_);
    }
    fd_ = -1;
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
      auto err = io_error("cannot rename to", path_);
      ::unlink(tmp_.c_str());
      return err;
    }
    // The rename is durable once the directory is synced.
    auto dir = std::filesystem::path{path_}.parent_path().string();
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
    return caf::none;
  }

private:
  caf::error write(std::string_view bytes) {
    if (EVP_DigestUpdate(md_.get(), bytes.data(), bytes.size()) != 1)
      return make_error(errc::storage_failure, "SHA-256 failed");
    return write_raw(bytes.data(), bytes.size());
  }

  caf::error write_raw(const char* data, size_t size) {
    while (size > 0) {
      auto n = ::write(fd_, data, size);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        return io_error("cannot write", tmp_);
      }
      data += n;
      size -= static_cast<size_t>(n);
    }
    return caf::none;
  }

  std::string path_;
  std::string tmp_;
  std::string to_;
  int fd_ = -1;
  md_ptr md_;
  uint64_t rows_ = 0;
  std::string buf_;
};

struct bundle_header {
  uint32_t version = 0;
  std::string from;
  std::string to;
  std::string members;
};

struct bundle_row {
  cf family = cf::meta;
  std::string key;
  std::string value;
};

/// Reads a bundle from the start, checking its structure and, at the end,
/// its row count and checksum.
class bundle_reader {
public:
  explicit bundle_reader(std::string path)
    : path_(std::move(path)) {
    // nop
  }

  ~bundle_reader() {
    if (file_)
      std::fclose(file_);
  }

  bundle_reader(const bundle_reader&) = delete;
  bundle_reader& operator=(const bundle_reader&) = delete;

  caf::expected<bundle_header> open() {
    md_ = new_sha256();
    if (!md_)
      return make_error(errc::storage_failure, "cannot start SHA-256");
    file_ = std::fopen(path_.c_str(), "rb");
    if (!file_)
      return io_error("cannot open bundle", path_);
    struct stat sb;
    if (::fstat(::fileno(file_), &sb) != 0)
      return io_error("cannot stat bundle", path_);
    size_ = static_cast<uint64_t>(sb.st_size);
    std::string magic;
    if (auto err = read(magic, bundle_magic.size()))
      return err;
    if (magic != bundle_magic)
      return bad("not a Tenure move bundle (wrong magic)");
    bundle_header h;
    if (auto err = read_u32(h.version))
      return err;
    if (h.version != bundle_version)
      return bad(fmt::format("format version {} (this build reads {})",
                             h.version, bundle_version));
    if (auto err = read_str(h.from, max_header_string))
      return err;
    if (auto err = read_str(h.to, max_header_string))
      return err;
    if (auto err = read_str(h.members, max_header_string))
      return err;
    return h;
  }

  /// The next row, or nothing after the verified trailer.
  caf::expected<std::optional<bundle_row>> next() {
    std::string tag;
    if (auto err = read(tag, 1))
      return err;
    if (tag[0] == end_tag) {
      std::string count;
      if (auto err = read(count, 8))
        return err;
      unsigned char digest[EVP_MAX_MD_SIZE];
      unsigned int len = 0;
      if (EVP_DigestFinal_ex(md_.get(), digest, &len) != 1)
        return make_error(errc::storage_failure, "cannot finish SHA-256");
      std::string stored;
      if (auto err = read(stored, digest_size, false))
        return err;
      if (pos_ != size_)
        return bad(fmt::format("{} bytes after the checksum", size_ - pos_));
      if (len != digest_size
          || std::memcmp(stored.data(), digest, digest_size) != 0)
        return bad("checksum mismatch: the file is damaged");
      if (*storage::read_be64(count) != rows_)
        return bad(fmt::format("the trailer counts {} rows, the file has {}",
                               *storage::read_be64(count), rows_));
      return std::optional<bundle_row>{};
    }
    if (tag[0] != row_tag)
      return bad(fmt::format("unexpected byte at offset {}", pos_ - 1));
    std::string family;
    if (auto err = read(family, 1))
      return err;
    auto f = static_cast<uint8_t>(family[0]);
    if (f >= storage::cf_count)
      return bad(
        fmt::format("unknown column family {} at offset {}", f, pos_ - 1));
    bundle_row row;
    row.family = static_cast<cf>(f);
    if (auto err = read_str(row.key, max_key))
      return err;
    if (auto err = read_str(row.value, max_value))
      return err;
    ++rows_;
    return std::optional<bundle_row>{std::move(row)};
  }

  /// Rows read so far.
  uint64_t rows() const noexcept {
    return rows_;
  }

  caf::error bad(std::string what) const {
    return make_error(errc::corrupt_data,
                      fmt::format("bundle {}: {}", path_, what));
  }

private:
  caf::error read(std::string& out, size_t n, bool hash = true) {
    if (n > size_ - pos_)
      return bad(fmt::format("truncated: {} bytes needed at offset {}, the "
                             "file ends at {}",
                             n, pos_, size_));
    out.resize(n);
    if (n > 0 && std::fread(out.data(), 1, n, file_) != n)
      return io_error("cannot read bundle", path_);
    pos_ += n;
    if (hash && EVP_DigestUpdate(md_.get(), out.data(), n) != 1)
      return make_error(errc::storage_failure, "SHA-256 failed");
    return caf::none;
  }

  caf::error read_u32(uint32_t& x) {
    std::string b;
    if (auto err = read(b, 4))
      return err;
    x = 0;
    for (char c : b)
      x = (x << 8) | static_cast<uint8_t>(c);
    return caf::none;
  }

  caf::error read_str(std::string& out, uint32_t max) {
    uint32_t n = 0;
    if (auto err = read_u32(n))
      return err;
    if (n > max)
      return bad(fmt::format("a field of {} bytes at offset {} (at most {})", n,
                             pos_ - 4, max));
    return read(out, n);
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  md_ptr md_;
  uint64_t size_ = 0;
  uint64_t pos_ = 0;
  uint64_t rows_ = 0;
};

} // namespace

// -- export -------------------------------------------------------------------

caf::expected<export_report> export_moves(const storage::store& st,
                                          const ownership& next,
                                          std::string_view self,
                                          const std::string& out_dir) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec)
    return make_error(
      errc::storage_failure,
      fmt::format("cannot create {}: {}", out_dir, ec.message()));
  export_report report;
  report.from.assign(self);
  auto members = members_text(next);
  struct target {
    std::unique_ptr<bundle_writer> writer;
    bundle_info info;
    std::set<std::string> pools;
  };
  std::map<std::string, target> targets;
  auto err = visit_moving(
    st, next, self, false, report.local_rows, report.unknown_rows,
    [&](cf family, const storage::key_value& row, const row_home& home,
        const std::string& to) -> caf::error {
      auto i = targets.find(to);
      if (i == targets.end()) {
        target t;
        t.info.to = to;
        t.info.path
          = (std::filesystem::path{out_dir} / (to + std::string{bundle_suffix}))
              .string();
        t.writer = std::make_unique<bundle_writer>(t.info.path, to);
        if (auto err = t.writer->open(self, members))
          return err;
        i = targets.emplace(to, std::move(t)).first;
      }
      auto& t = i->second;
      t.info.rows.add(family);
      if (family == cf::snapshots)
        t.info.entities.add(row.key);
      else if (family == cf::coupons)
        t.pools.insert(home.key);
      return t.writer->add(family, row.key, row.value);
    });
  if (err)
    return err; // the writers remove their partial files
  for (auto& [to, t] : targets) {
    if (auto err = t.writer->finish())
      return err;
    t.info.entities.coupon_pools += t.pools.size();
    report.bundles.push_back(std::move(t.info));
  }
  return report;
}

// -- import -------------------------------------------------------------------

namespace {

/// What a bundle row is, for messages: never a coupon code, an
/// Idempotency-Key or an email address.
std::string describe_row(cf family, std::string_view key) {
  switch (family) {
    case cf::snapshots:
      return "the snapshot of " + shown(key);
    case cf::events:
      if (key.size() >= 10)
        return fmt::format("event {} of {}",
                           *storage::read_be64(key.substr(key.size() - 8)),
                           shown(key.substr(0, key.size() - 9)));
      return "an event";
    case cf::timers: {
      auto id = key.substr(key.rfind('\0') + 1);
      return "timer " + shown(id);
    }
    case cf::timer_index:
      return "a timer index row of " + shown(key.substr(0, key.find('\0')));
    case cf::outbox:
      return "notification " + shown(key);
    case cf::coupons:
      return "a coupon row of pool " + shown(key.substr(0, key.find('\0')));
    case cf::audit:
      return "audit record " + shown(key);
    case cf::idempotency:
      return "an idempotency record";
    case cf::meta:
      return "a meta row (" + shown(key.substr(0, key.find('/'))) + "/...)";
    case cf::outreach:
      return "an outreach row of " + shown(key.substr(0, key.find('\0')));
  }
  return "a row";
}

/// Adds `row` to `b` the way the store's own writers would; an error for a
/// malformed row.
caf::error add_row(storage::batch& b, const bundle_row& row,
                   const std::string& path) {
  auto bad = [&](std::string what) {
    return make_error(errc::corrupt_data,
                      fmt::format("bundle {}: {}: {}", path,
                                  describe_row(row.family, row.key), what));
  };
  switch (row.family) {
    case cf::snapshots: {
      auto version = storage::read_be64(row.value);
      if (!version || *version == 0)
        return bad("no valid version");
      b.put_snapshot(row.key, *version, std::string_view{row.value}.substr(8),
                     0);
      break;
    }
    case cf::events: {
      auto& key = row.key;
      if (key.size() < 10 || key[key.size() - 9] != '\0')
        return bad("malformed key");
      auto seq
        = storage::read_be64(std::string_view{key}.substr(key.size() - 8));
      b.append_event(std::string_view{key}.substr(0, key.size() - 9), *seq,
                     row.value);
      break;
    }
    case cf::timers: {
      auto t = decode<timer>(row.value);
      if (!t)
        return bad("undecodable: " + error_message(t.error()));
      if (storage::timer_key(t->due, t->owner, t->id.str()) != row.key)
        return bad("does not match its key");
      b.put_timer(*t);
      break;
    }
    case cf::timer_index:
      return bad("timer index rows are rebuilt, never exported");
    default:
      b.put(row.family, row.key, row.value);
  }
  if (!b.valid())
    return bad(b.problem());
  return caf::none;
}

enum class presence { absent, identical };

/// Whether `st` holds `row` already; `errc::conflict` when it holds other
/// contents under its key.
caf::expected<presence> check_row(const storage::store& st,
                                  const bundle_row& row,
                                  const std::string& path) {
  auto conflict = [&](std::string what) {
    return make_error(
      errc::conflict,
      fmt::format("bundle {}: {} exists on this node with other contents; "
                  "nothing was imported. Was an earlier bundle imported here "
                  "and the node started since? Export again from the source.",
                  path, what));
  };
  auto have = st.get(row.family, row.key);
  if (!have)
    return std::move(have.error());
  if (row.family == cf::timers) {
    // The index row of the timer must point to this row (or be missing).
    auto t = decode<timer>(row.value);
    if (t) {
      auto index
        = st.get(cf::timer_index,
                 storage::timer_index_key(t->entity, t->kind, t->id.str()));
      if (!index)
        return std::move(index.error());
      if (*index && **index != storage::timer_index_value(t->due, t->owner))
        return conflict("timer " + t->id.str() + " (at another due time)");
      if (*have && **have == row.value && *index)
        return presence::identical;
      if (*have && **have != row.value)
        return conflict(describe_row(row.family, row.key));
      return presence::absent;
    }
  }
  if (!*have)
    return presence::absent;
  if (**have == row.value)
    return presence::identical;
  return conflict(describe_row(row.family, row.key));
}

constexpr size_t batch_rows = 256;
constexpr size_t batch_bytes = size_t{4} << 20;

} // namespace

caf::expected<import_report> import_bundle(storage::store& st,
                                           const std::string& path,
                                           std::string_view self) {
  import_report report;
  // Pass 1: read all of it, check everything, write nothing.
  uint64_t conflicts = 0;
  caf::error first_conflict;
  {
    bundle_reader in{path};
    auto head = in.open();
    if (!head)
      return std::move(head.error());
    if (head->to != self)
      return make_error(errc::invalid_argument,
                        fmt::format("bundle {} is addressed to node '{}', "
                                    "this is node '{}'; import it there",
                                    path, shown(head->to), shown(self)));
    report.from = head->from;
    report.to = head->to;
    std::set<std::string> pools;
    for (;;) {
      auto row = in.next();
      if (!row)
        return std::move(row.error());
      if (!*row)
        break;
      auto& r = **row;
      storage::batch probe;
      if (auto err = add_row(probe, r, path))
        return err;
      report.rows.add(r.family);
      if (r.family == cf::snapshots)
        report.entities.add(r.key);
      else if (r.family == cf::coupons)
        pools.insert(r.key.substr(0, r.key.find('\0')));
      auto have = check_row(st, r, path);
      if (!have) {
        if (have.error() != errc::conflict)
          return std::move(have.error());
        if (!first_conflict)
          first_conflict = std::move(have.error());
        ++conflicts;
      }
    }
    report.entities.coupon_pools += pools.size();
  }
  if (conflicts > 0) {
    if (conflicts == 1)
      return first_conflict;
    return make_error(
      errc::conflict,
      error_message(first_conflict)
        + fmt::format(" ({} conflicting rows in all)", conflicts));
  }
  // Pass 2: write in batches, skipping rows present already.
  bundle_reader in{path};
  auto head = in.open();
  if (!head)
    return std::move(head.error());
  storage::batch b;
  auto flush = [&]() -> caf::error {
    if (b.empty())
      return caf::none;
    auto err = st.commit_sync(std::move(b));
    b.clear();
    return err;
  };
  for (;;) {
    auto row = in.next();
    if (!row) {
      // The file changed since pass 1. Batches written so far hold valid
      // rows of the bundle; importing a good copy again completes them.
      return make_error(errc::corrupt_data,
                        "the bundle changed while it was imported: "
                          + error_message(row.error()));
    }
    if (!*row)
      break;
    auto& r = **row;
    auto have = check_row(st, r, path);
    if (!have)
      return std::move(have.error());
    if (*have == presence::identical) {
      ++report.already_present;
      continue;
    }
    if (auto err = add_row(b, r, path))
      return err;
    ++report.written;
    if (b.size() >= batch_rows || b.bytes() >= batch_bytes)
      if (auto err = flush())
        return err;
  }
  if (in.rows() != report.rows.total())
    return make_error(errc::corrupt_data,
                      "the bundle changed while it was imported");
  if (auto err = flush())
    return err;
  return report;
}

// -- prune --------------------------------------------------------------------

caf::expected<moved_rows> collect_moved(const storage::store& st,
                                        const ownership& next,
                                        std::string_view self) {
  moved_rows out;
  std::map<std::string, moved_rows::group> groups;
  std::set<std::string> pools;
  auto err = visit_moving(
    st, next, self, true, out.counts.local_rows, out.counts.unknown_rows,
    [&](cf family, const storage::key_value& row, const row_home& home,
        const std::string& to) -> caf::error {
      auto& g = groups[home.key];
      g.home = home.key;
      g.to = to;
      g.rows.emplace_back(family, row.key);
      out.counts.rows.add(family);
      if (family == cf::snapshots)
        out.counts.entities.add(row.key);
      else if (family == cf::coupons)
        pools.insert(home.key);
      return caf::error{};
    });
  if (err)
    return err;
  out.counts.entities.coupon_pools += pools.size();
  out.groups.reserve(groups.size());
  for (auto& [home, g] : groups)
    out.groups.push_back(std::move(g));
  return out;
}

namespace {

/// Deletes `groups` from `st`: one synced commit per chunk of whole groups,
/// so an interrupted prune leaves whole entities and is finished by running
/// it again.
caf::error erase_groups(storage::store& st,
                        const std::vector<moved_rows::group>& groups) {
  storage::batch b;
  size_t pending = 0;
  for (auto& g : groups) {
    for (auto& [family, key] : g.rows) {
      b.erase_raw(family, key);
      ++pending;
    }
    if (pending >= 4096) {
      if (auto err = st.commit_sync(std::exchange(b, storage::batch{})))
        return err;
      pending = 0;
    }
  }
  if (pending > 0)
    return st.commit_sync(std::move(b));
  return caf::none;
}

} // namespace

caf::expected<prune_report> prune_moved(const std::string& db_path,
                                        const ownership& next,
                                        std::string_view self) {
  storage::store_options opts;
  opts.path = db_path;
  opts.create_if_missing = false;
  opts.block_cache_bytes = size_t{16} << 20;
  opts.write_buffer_bytes = size_t{16} << 20;
  auto st = storage::rocksdb_store::open(opts);
  if (!st)
    return std::move(st.error());
  auto moved = collect_moved(**st, next, self);
  if (!moved)
    return std::move(moved.error());
  if (auto err = erase_groups(**st, moved->groups))
    return err;
  (*st)->close(); // waits for the commits
  return moved->counts;
}

} // namespace tenure::cluster_move
