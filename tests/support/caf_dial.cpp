// A minimal CAF node for the transport tests of tests/nodes: it dials a
// cluster port the way a member does (CAF's middleman, or its OpenSSL
// manager) and says whether the BASP handshake completed, or it publishes an
// actor for such a dial. It knows nothing of Tenure: whatever a member
// refuses here, it refuses at the transport, before any cluster hello.
//
//   caf_dial dial HOST PORT SECONDS [OPTION...]
//     -> `connected published=yes|no`, exit 0; `failed error=...`, exit 2
//   caf_dial serve SECONDS [OPTION...]
//     -> `serving port=N`, then serves until SIGTERM/SIGINT, at most
//        SECONDS; exit 2 if it cannot
//   caf_dial handshake HOST PORT SECONDS cafile=F [certificate=F key=F]
//     -> a bare OpenSSL client (TLS 1.2, the server verified against F, a
//        client certificate only when given), no CAF at all:
//        `handshake ok`, exit 0; `handshake failed error=...`, exit 2
//
// OPTION is `plain` (the default: no OpenSSL module) or one of
// `certificate=F`, `key=F`, `cafile=F`: any of them loads CAF's OpenSSL
// module with those settings; `tls` loads it with none (CAF then uses
// anonymous ECDH and verifies no peer).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>

#include <csignal>
#include <ctime>

#include <pthread.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/scoped_actor.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace {

int usage() {
  std::fprintf(stderr, "usage: caf_dial dial HOST PORT SECONDS [OPTION...]\n"
                       "       caf_dial serve SECONDS [OPTION...]\n"
                       "       caf_dial handshake HOST PORT SECONDS "
                       "cafile=F [certificate=F key=F]\n");
  return 64;
}

/// The OpenSSL errors queued so far, or `fallback`.
std::string ssl_errors(const char* fallback) {
  std::string out;
  while (auto e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    out += out.empty() ? buf : std::string{" "} + buf;
  }
  return out.empty() ? fallback : out;
}

/// `handshake`: one TLS 1.2 handshake with a blocking socket whose reads and
/// writes time out after `seconds`.
int handshake(const std::string& host, uint16_t port, int seconds,
              const caf::actor_system_config& cfg) {
  auto fail = [](const std::string& why) {
    std::printf("handshake failed error=%s\n", why.c_str());
    return 2;
  };
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{
    SSL_CTX_new(TLS_client_method()), SSL_CTX_free};
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1
      || SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION) != 1)
    return fail(ssl_errors("cannot create a context"));
  if (SSL_CTX_load_verify_locations(ctx.get(), cfg.openssl_cafile.c_str(),
                                    nullptr)
      != 1)
    return fail(ssl_errors("cannot load the CA"));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (!cfg.openssl_certificate.empty()
      && (SSL_CTX_use_certificate_chain_file(ctx.get(),
                                             cfg.openssl_certificate.c_str())
            != 1
          || SSL_CTX_use_PrivateKey_file(ctx.get(), cfg.openssl_key.c_str(),
                                         SSL_FILETYPE_PEM)
               != 1))
    return fail(ssl_errors("cannot load the certificate"));
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return fail("socket");
  timeval tv{seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1
      || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return fail("cannot connect");
  }
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl{SSL_new(ctx.get()), SSL_free};
  SSL_set_fd(ssl.get(), fd);
  auto ret = SSL_connect(ssl.get());
  int rc = 0;
  if (ret == 1) {
    // TLS 1.2: the server's Finished has arrived, so it accepted our
    // certificate (or the lack of one).
    std::printf("handshake ok\n");
    SSL_shutdown(ssl.get());
  } else {
    rc = fail(ssl_errors("the server closed the connection"));
  }
  ::close(fd);
  return rc;
}

/// Applies `plain`, `tls`, `certificate=`, `key=`, `cafile=`; returns whether
/// the OpenSSL module is wanted, or -1 for an unknown option.
int apply(caf::actor_system_config& cfg, const std::string& opt) {
  auto eq = opt.find('=');
  auto key = opt.substr(0, eq);
  auto value = eq == std::string::npos ? std::string{} : opt.substr(eq + 1);
  if (opt == "plain")
    return 0;
  if (opt == "tls")
    return 1;
  if (eq == std::string::npos)
    return -1;
  if (key == "certificate")
    cfg.openssl_certificate = value;
  else if (key == "key")
    cfg.openssl_key = value;
  else if (key == "cafile")
    cfg.openssl_cafile = value;
  else
    return -1;
  return 1;
}

// The unused argument is not decoration: CAF 0.17.6 stores a zero-argument
// spawn's arguments as a null shared_ptr and binds `*args_` anyway
// (caf/detail/init_fun_factory.hpp), which UBSan reports as a reference
// bound to null. Tenure's actors all take arguments.
caf::behavior answer_anything(caf::event_based_actor*, int) {
  return {[](caf::ok_atom) { return caf::ok_atom::value; }};
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 3)
    return usage();
  std::string mode = argv[1];
  bool dial = mode == "dial" || mode == "handshake";
  if (!dial && mode != "serve")
    return usage();
  int first_opt = dial ? 5 : 3;
  if (argc < first_opt)
    return usage();
  auto seconds = std::chrono::seconds(std::atoi(argv[first_opt - 1]));
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  bool tls = false;
  for (int i = first_opt; i < argc; ++i) {
    auto r = apply(cfg, argv[i]);
    if (r < 0)
      return usage();
    tls = tls || r == 1;
  }
  std::string host = dial ? argv[2] : "";
  auto port = dial ? static_cast<uint16_t>(std::atoi(argv[3])) : uint16_t{0};
  if (mode == "handshake")
    return handshake(host, port, std::atoi(argv[4]), cfg);
  if (tls)
    cfg.load<caf::openssl::manager>();
  if (!dial) {
    // Blocked before CAF's threads start, so that they inherit the mask and
    // sigtimedwait below takes the signal.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  }
  caf::actor_system sys{cfg};
  if (!dial) {
    auto a = sys.spawn(answer_anything, 0);
    auto got = tls ? caf::openssl::publish(a, 0, "127.0.0.1", true)
                   : sys.middleman().publish(a, 0, "127.0.0.1", true);
    if (!got) {
      std::printf("failed error=%s\n", sys.render(got.error()).c_str());
      return 2;
    }
    std::printf("serving port=%u\n", static_cast<unsigned>(*got));
    std::fflush(stdout);
    // Until the test stops it (SIGTERM, SIGINT; SIGKILL needs no waiting),
    // at most SECONDS.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    timespec most{static_cast<time_t>(seconds.count()), 0};
    (void)sigtimedwait(&stop, nullptr, &most);
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    return 0;
  }
  auto mm
    = tls ? caf::actor_cast<caf::actor>(sys.openssl_manager().actor_handle())
          : caf::actor_cast<caf::actor>(sys.middleman().actor_handle());
  int rc = 2;
  caf::scoped_actor self{sys};
  self->request(mm, seconds, caf::connect_atom::value, host, port)
    .receive(
      [&](const caf::node_id&, caf::strong_actor_ptr& ptr,
          const std::set<std::string>&) {
        std::printf("connected published=%s\n", ptr ? "yes" : "no");
        rc = 0;
      },
      [&](caf::error& err) {
        std::printf("failed error=%s\n", sys.render(err).c_str());
      });
  std::fflush(stdout);
  return rc;
}
