// storage_crash_helper: the workload of the crash test (crash_test.cpp).
//
//   storage_crash_helper PATH FIRST_ID THREADS
//
// Opens the store at PATH (sync on) and commits from THREADS threads until
// killed. Commit `id` (ids FIRST_ID, FIRST_ID+1, ... spread over the threads)
// writes, in one batch:
//   - snapshot, events 1 and 2, a timer and rows in outbox, audit and
//     idempotency, all of entity `ent_<id>`;
//   - the next event and snapshot version of `thr_<thread>`, a chain that
//     continues across crashes, with `<id>` as the event's bytes.
// Only after a commit is acknowledged does the helper print `<id>\n` on
// stdout, with one write(2): every id the test reads was durable.

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "messages/errc.hpp"
#include "messages/id.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"

using namespace tenure;
using namespace tenure::storage;

namespace {

std::string crash_timer_id(uint64_t id) {
  // Deterministic, valid ULID bodies: the id in base 32, zero padded.
  static constexpr char digits[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::string body(26, '0');
  for (int i = 25; i >= 0 && id > 0; --i) {
    body[static_cast<size_t>(i)] = digits[id % 32];
    id /= 32;
  }
  return body;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: storage_crash_helper PATH FIRST_ID THREADS\n");
    return 64;
  }
  store_options opts;
  opts.path = argv[1];
  auto first = std::strtoull(argv[2], nullptr, 10);
  auto threads = std::strtoull(argv[3], nullptr, 10);
  auto st = rocksdb_store::open(opts);
  if (!st) {
    std::fprintf(stderr, "open failed: %s\n",
                 error_message(st.error()).c_str());
    return 1;
  }
  std::atomic<bool> failed{false};
  std::vector<std::thread> workers;
  for (uint64_t k = 0; k < threads; ++k)
    workers.emplace_back([&, k] {
      auto chain = "thr_" + std::to_string(k);
      auto snap = (*st)->get_snapshot(chain);
      if (!snap) {
        failed = true;
        return;
      }
      uint64_t version = *snap ? (*snap)->version : 0;
      for (uint64_t id = first + k; !failed; id += threads) {
        auto entity = "ent_" + std::to_string(id);
        auto payload = "payload-" + std::to_string(id);
        timer t;
        t.id = tmr_id::from_body(crash_timer_id(id));
        t.due = from_unix_ms(static_cast<int64_t>(id));
        t.owner = "crash";
        t.entity = entity;
        t.kind = "k";
        batch b;
        b.append_event(entity, 1, payload);
        b.append_event(entity, 2, payload);
        b.put_timer(t);
        b.put(cf::outbox, "ntf_" + std::to_string(id), payload);
        b.put(cf::audit, "aud_" + std::to_string(id), payload);
        b.insert(cf::idempotency, idempotency_key("crash", std::to_string(id)),
                 payload);
        b.append_event(chain, version + 1, std::to_string(id));
        b.put_snapshot(chain, version + 1, std::to_string(id), version);
        b.put_snapshot(entity, 1, payload, 0);
        if (auto err = (*st)->commit_sync(std::move(b))) {
          std::fprintf(stderr, "commit %llu failed: %s\n",
                       static_cast<unsigned long long>(id),
                       error_message(err).c_str());
          failed = true;
          return;
        }
        ++version;
        auto line = std::to_string(id) + "\n";
        if (::write(1, line.data(), line.size())
            != static_cast<ssize_t>(line.size())) {
          failed = true;
          return;
        }
      }
    });
  for (auto& w : workers)
    w.join();
  return failed ? 1 : 0;
}
