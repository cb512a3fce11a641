// tenure: the operator shell.
//
// A CAF client of a node's shell endpoint (nodes/shell_protocol.hpp): a REPL
// with history and completion (libedit), or one command with -c for
// scripts. The commands, their requests and their output live in
// nodes/shell.{hpp,cpp}; this file adds flags, the token, the connection and
// the terminal.

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <editline/readline.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "nodes/shell.hpp"
#include "nodes/shell_protocol.hpp"

namespace shell = tenure::shell;

namespace {

constexpr const char* usage_text
  = R"(usage: tenure [OPTIONS] [-c COMMAND | COMMAND WORDS...]

The Tenure operator shell: connects to a tenured node's shell endpoint and
runs commands. Without a command it starts an interactive shell (history in
~/.tenure_history, Tab completes commands, sub-commands and options).

options:
  --node HOST:PORT     the node's shell endpoint (tenured prints it as
                       shell=HOST:PORT). Default: $TENURE_NODE, else
                       127.0.0.1:8641
  --token-file FILE    file holding the operator token. Default: the token in
                       $TENURE_TOKEN, else the file ./data/admin.token
  -c COMMAND           run one command line and exit (for scripts); words
                       after the options do the same without quoting
  --json               print the node's JSON; on errors too, stdout then holds
                       one JSON document ({"error": {"code", "message"}})
  --as NAME            who is recorded as having done it (by, reviewer,
                       opened_by, requested_by). Default: $USER
  --timeout SECONDS    how long to wait for the node, per request. Default: 30
  --help               this text
  --version            print the version

exit codes:
  0  success
  1  the node refused the command (not found, illegal transition, refused,
     invalid argument: a 4xx other than 401/403)
  2  usage error: unknown command or bad arguments (nothing was sent)
  3  the node cannot be reached, did not answer in time, or failed (5xx)
  4  unauthorized (401: no or unknown token) or forbidden (403: the token
     lacks the scope)
Errors print `tenure: CODE: MESSAGE` on stderr.

)";

// -- flags
// ------------------------------------------------------------------------

struct flags {
  std::string node;
  std::string token_file;
  std::optional<std::string> command;
  std::vector<std::string> command_words;
  bool json = false;
  std::string as;
  int timeout_seconds = 30;
  bool help = false;
  bool version = false;
};

std::string env(const char* name) {
  auto v = std::getenv(name);
  return v ? std::string{v} : std::string{};
}

/// Parses argv; false and `error` set on a usage error.
bool parse_flags(int argc, char** argv, flags& out, std::string& error) {
  out.node = env("TENURE_NODE");
  if (out.node.empty())
    out.node = "127.0.0.1:" + std::to_string(tenure::default_shell_port);
  out.as = env("USER");
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.empty() || arg[0] != '-') {
      // The first word of a command: it and the rest are the command.
      for (; i < argc; ++i)
        out.command_words.emplace_back(argv[i]);
      break;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != arg.npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    auto need = [&]() -> std::optional<std::string> {
      if (value)
        return value;
      if (i + 1 < argc)
        return std::string{argv[++i]};
      error = name + " needs a value";
      return std::nullopt;
    };
    if (name == "--help" || name == "-h") {
      out.help = true;
    } else if (name == "--version") {
      out.version = true;
    } else if (name == "--json") {
      out.json = true;
    } else if (name == "--node") {
      auto v = need();
      if (!v)
        return false;
      out.node = *v;
    } else if (name == "--token-file") {
      auto v = need();
      if (!v)
        return false;
      out.token_file = *v;
    } else if (name == "--as") {
      auto v = need();
      if (!v)
        return false;
      out.as = *v;
    } else if (name == "-c") {
      auto v = need();
      if (!v)
        return false;
      out.command = *v;
    } else if (name == "--timeout") {
      auto v = need();
      if (!v)
        return false;
      char* end = nullptr;
      errno = 0;
      auto n = std::strtol(v->c_str(), &end, 10);
      if (v->empty() || *end != '\0' || errno != 0 || n < 1 || n > 86400) {
        error = "--timeout: seconds from 1 to 86400";
        return false;
      }
      out.timeout_seconds = static_cast<int>(n);
    } else {
      error = "unknown option " + arg.substr(0, 40) + " (see tenure --help)";
      return false;
    }
  }
  if (out.command && !out.command_words.empty()) {
    error = "give -c COMMAND or command words, not both";
    return false;
  }
  return true;
}

/// Splits `HOST:PORT`; false on anything else.
bool split_host_port(const std::string& text, std::string& host,
                     uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return false;
  auto digits = text.substr(colon + 1);
  if (digits.size() > 5
      || digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  auto n = std::stoul(digits);
  if (n == 0 || n > 65535)
    return false;
  host = text.substr(0, colon);
  // [::1]:8641
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  port = static_cast<uint16_t>(n);
  return true;
}

bool read_whole_file(const std::string& path, std::string& content,
                     std::string& error) {
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    error = std::strerror(errno);
    return false;
  }
  content.assign(std::istreambuf_iterator<char>{in}, {});
  if (in.bad()) {
    error = "read error";
    return false;
  }
  return true;
}

/// The operator token: --token-file, else $TENURE_TOKEN, else
/// ./data/admin.token. Empty when none is found (the node then answers
/// 401); false only when a file named with --token-file cannot be read.
bool load_token(const flags& fl, std::string& token, std::string& error) {
  std::string text;
  if (!fl.token_file.empty()) {
    if (!read_whole_file(fl.token_file, text, error)) {
      error = "cannot read token file " + fl.token_file + ": " + error;
      return false;
    }
  } else if (auto t = env("TENURE_TOKEN"); !t.empty()) {
    text = t;
  } else {
    std::string ignored;
    read_whole_file("data/admin.token", text, ignored);
  }
  // One line; blanks around it are not part of the token.
  auto first = text.find_first_not_of(" \t\r\n");
  auto last = text.find_last_not_of(" \t\r\n");
  token = first == std::string::npos ? std::string{}
                                     : text.substr(first, last - first + 1);
  return true;
}

// -- the connection
// ---------------------------------------------------------------

/// The connection to the node's shell endpoint, opened on first use (help
/// and usage errors need no node) and again after the node went away.
class node_link {
public:
  node_link(std::string host, uint16_t port, std::string token,
            std::chrono::seconds timeout)
    : host_(std::move(host))
    , port_(port)
    , token_(std::move(token))
    , timeout_(timeout) {
    // nop
  }

  /// Whether a connection attempt never returned; the actor system must
  /// then not be destroyed (its middleman still works on it), so the
  /// program ends with `_Exit`.
  bool hung() const {
    return hung_;
  }

  shell::response send(const shell::request& req) {
    // CAF drops messages to the proxy of a node whose connection closed
    // (no error comes back): connect again first.
    if (node_ && *down_)
      node_ = nullptr;
    bool fresh = !node_;
    if (!node_) {
      std::string error;
      if (!connect(error))
        return {0, error};
    }
    auto res = ask(req);
    // A node restarted since the last command: connect again, once. POSTs
    // carry their idempotency key, so a request that did arrive is not
    // applied twice.
    if (res.status == 0 && !node_ && !fresh) {
      std::string error;
      if (!connect(error))
        return {0, error};
      res = ask(req);
    }
    return res;
  }

private:
  std::string where() const {
    return host_ + ":" + std::to_string(port_);
  }

  bool connect(std::string& error) {
    if (hung_) {
      error = "a connection attempt to " + where() + " never returned";
      return false;
    }
    if (!sys_) {
      cfg_ = std::make_unique<caf::actor_system_config>();
      cfg_->load<caf::io::middleman>();
      sys_ = std::make_unique<caf::actor_system>(*cfg_);
    }
    // `remote_actor` waits without a deadline for a peer that accepts but
    // never answers (not a CAF port): wait for it on a thread of its own.
    struct attempt {
      std::mutex mtx;
      std::condition_variable cv;
      bool done = false;
      caf::actor hdl;
      std::string error;
    };
    auto st = std::make_shared<attempt>();
    auto* sys = sys_.get();
    std::thread{[st, sys, host = host_, port = port_] {
      auto res = sys->middleman().remote_actor(host, port);
      std::lock_guard<std::mutex> guard{st->mtx};
      if (res)
        st->hdl = *res;
      else
        st->error = sys->render(res.error());
      st->done = true;
      st->cv.notify_all();
    }}.detach();
    std::unique_lock<std::mutex> guard{st->mtx};
    if (!st->cv.wait_for(guard, timeout_, [&] { return st->done; })) {
      hung_ = true;
      error = "no answer from " + where() + " within "
              + std::to_string(timeout_.count())
              + " s (is it a tenured shell port?)";
      return false;
    }
    if (!st->hdl) {
      error = "cannot connect to " + where()
              + " (is tenured running with this shell port?): " + st->error;
      return false;
    }
    node_ = st->hdl;
    // The proxy ends when the connection closes (the node stopped).
    down_ = std::make_shared<std::atomic<bool>>(false);
    node_->attach_functor(
      [down = down_](const caf::error&) { down->store(true); });
    return true;
  }

  shell::response ask(const shell::request& req) {
    shell::response out;
    caf::scoped_actor self{*sys_};
    self
      ->request(node_, timeout_, tenure::shell_atom::value, req.method,
                req.target, token_, req.content_type, req.body,
                req.idempotency_key)
      .receive(
        [&](int32_t status, std::string& body) {
          out.status = status;
          out.body = std::move(body);
        },
        [&](caf::error& err) {
          out.status = 0;
          if (err == caf::sec::request_timeout && !*down_) {
            out.body = "no answer from " + where() + " within "
                       + std::to_string(timeout_.count()) + " s";
          } else if (err == caf::sec::request_timeout) {
            out.body
              = "lost the connection to " + where() + " (the node stopped?)";
            node_ = nullptr;
          } else {
            out.body
              = "lost the connection to " + where() + ": " + sys_->render(err);
            node_ = nullptr;
          }
        });
    return out;
  }

  std::string host_;
  uint16_t port_;
  std::string token_;
  std::chrono::seconds timeout_;
  std::unique_ptr<caf::actor_system_config> cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::actor node_;
  /// Set when `node_`'s connection closed.
  std::shared_ptr<std::atomic<bool>> down_
    = std::make_shared<std::atomic<bool>>(false);
  bool hung_ = false;
};

// -- running commands
// -------------------------------------------------------------

/// Draws `coupon import`'s progress on stderr: lines done of total.
void progress_bar(size_t done, size_t total) {
  constexpr size_t width = 30;
  auto filled = total == 0 ? width : done * width / total;
  auto percent = total == 0 ? 100 : done * 100 / total;
  std::fprintf(stderr, "\rimporting [%s%s] %zu/%zu lines %3zu%%",
               std::string(filled, '#').c_str(),
               std::string(width - filled, '.').c_str(), done, total, percent);
  if (done >= total)
    std::fputc('\n', stderr);
  std::fflush(stderr);
}

/// Runs one command line; `quit` set when it asks to leave.
shell::exit_code run_line(const std::string& line, const shell::settings& cfg,
                          node_link& link, bool& quit) {
  shell::io io;
  io.out = &std::cout;
  io.err = &std::cerr;
  io.send = [&](const shell::request& r) { return link.send(r); };
  io.read_file = read_whole_file;
  if (::isatty(STDERR_FILENO))
    io.progress = progress_bar;
  shell::plan p;
  std::string error;
  if (!shell::parse(line, cfg, p, error)) {
    // --json anywhere on the line asks for JSON errors too.
    auto s = cfg;
    s.json = s.json || line.find("--json") != std::string::npos;
    auto rc = shell::usage_error(error, s, io);
    std::cout.flush();
    return rc;
  }
  auto rc = shell::exit_code::ok;
  switch (p.what) {
    case shell::plan::kind::nothing:
      break;
    case shell::plan::kind::quit:
      quit = true;
      break;
    case shell::plan::kind::help: {
      std::string text;
      if (p.topic.empty())
        std::cout << shell::help_text();
      else if (shell::help_text(p.topic, text))
        std::cout << text;
      else
        rc = shell::usage_error("help: no command '" + p.topic.substr(0, 40)
                                  + "' (try 'help')",
                                cfg, io);
      break;
    }
    default:
      rc = shell::run(p, cfg, io);
  }
  std::cout.flush();
  return rc;
}

// -- the REPL
// ---------------------------------------------------------------------

std::vector<std::string> candidates;

char* next_candidate(const char*, int state) {
  static size_t index = 0;
  if (state == 0)
    index = 0;
  if (index < candidates.size())
    return ::strdup(candidates[index++].c_str());
  return nullptr;
}

char** complete_line(const char* text, int start, int) {
  // Never fall back to file names.
  rl_attempted_completion_over = 1;
  std::vector<std::string> before;
  std::string error;
  if (!shell::split_words(std::string{rl_line_buffer, size_t(start)}, before,
                          error))
    return nullptr;
  candidates = shell::complete(before, text);
  if (candidates.empty())
    return nullptr;
  return rl_completion_matches(text, next_candidate);
}

int repl(const std::string& where, const shell::settings& cfg,
         node_link& link) {
  bool quit = false;
  if (!::isatty(STDIN_FILENO)) {
    // Piped input: plain lines, no prompt, no history.
    std::string line;
    while (!quit && std::getline(std::cin, line))
      run_line(line, cfg, link, quit);
    return 0;
  }
  auto home = env("HOME");
  auto history = home.empty() ? std::string{} : home + "/.tenure_history";
  using_history();
  stifle_history(1000);
  if (!history.empty())
    read_history(history.c_str());
  rl_attempted_completion_function = complete_line;
  auto prompt = "tenure " + where + "> ";
  std::cout << "tenure: node " << where
            << "; 'help' lists the commands, Tab completes, 'quit' leaves.\n";
  while (!quit) {
    char* raw = readline(prompt.c_str());
    if (!raw) {
      std::cout << "\n";
      break;
    }
    std::string line{raw};
    std::free(raw);
    if (line.find_first_not_of(" \t") == std::string::npos)
      continue;
    add_history(line.c_str());
    if (!history.empty())
      write_history(history.c_str());
    run_line(line, cfg, link, quit);
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  flags fl;
  std::string error;
  if (!parse_flags(argc, argv, fl, error)) {
    std::fprintf(stderr, "tenure: usage: %s\n", error.c_str());
    return static_cast<int>(shell::exit_code::usage);
  }
  if (fl.help) {
    std::fputs(usage_text, stdout);
    std::fputs(shell::help_text().c_str(), stdout);
    return 0;
  }
  if (fl.version) {
    std::puts("tenure 0.1.0");
    return 0;
  }
  std::string host;
  uint16_t port = 0;
  if (!split_host_port(fl.node, host, port)) {
    std::fprintf(stderr, "tenure: usage: --node: HOST:PORT, not '%s'\n",
                 fl.node.substr(0, 80).c_str());
    return static_cast<int>(shell::exit_code::usage);
  }
  std::string token;
  if (!load_token(fl, token, error)) {
    std::fprintf(stderr, "tenure: unauthorized: %s\n", error.c_str());
    return static_cast<int>(shell::exit_code::unauthorized);
  }
  // Without a token every command ends in 401: say where one comes from.
  const char* no_token_hint
    = "tenure: hint: no operator token found (--token-file FILE, "
      "$TENURE_TOKEN, or ./data/admin.token)\n";
  shell::settings cfg;
  cfg.json = fl.json;
  cfg.operator_name = fl.as;
  int rc = 0;
  {
    node_link link{host, port, token, std::chrono::seconds{fl.timeout_seconds}};
    bool quit = false;
    if (fl.command) {
      rc = static_cast<int>(run_line(*fl.command, cfg, link, quit));
    } else if (!fl.command_words.empty()) {
      // The words come split by the calling shell: no second quoting pass.
      std::string line;
      for (auto& w : fl.command_words) {
        std::string quoted = "'";
        for (auto ch : w)
          quoted += ch == '\'' ? std::string{"'\\''"} : std::string(1, ch);
        line += (line.empty() ? "" : " ") + quoted + "'";
      }
      rc = static_cast<int>(run_line(line, cfg, link, quit));
    } else {
      if (token.empty())
        std::fputs(no_token_hint, stderr);
      rc = repl(fl.node, cfg, link);
    }
    if (token.empty() && rc == static_cast<int>(shell::exit_code::unauthorized))
      std::fputs(no_token_hint, stderr);
    if (link.hung()) {
      std::cout.flush();
      std::cerr.flush();
      std::_Exit(rc);
    }
  }
  return rc;
}
