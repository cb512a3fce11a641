// tenure: the operator shell.
//
// For now this prints its usage; the remote shell (a CAF client of a node's
// shell endpoint with REPL, completion, one-shot mode and --json) comes with
// the gateway-and-shell issue. It exits 64 (EX_USAGE) for anything but
// --help/--version, so scripts cannot mistake it for a working shell.

#include <cstdio>
#include <cstring>

namespace {

constexpr const char* usage = R"(usage: tenure [--node HOST:PORT] [--token TOKEN] [--json] [-c COMMAND]

The Tenure operator shell: connects to a tenured node and runs commands.

options:
  --node HOST:PORT   the node's shell endpoint (default 127.0.0.1:8641)
  --token TOKEN      operator token (default: $TENURE_TOKEN)
  -c COMMAND         run one command and exit (for scripts)
  --json             machine-readable output
  --help             this text
  --version          print the version

status: this build is the foundation release; the shell's commands are not
available yet. Use the node's log and data directory meanwhile.
)";

} // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(usage, stdout);
      return 0;
    }
    if (std::strcmp(argv[i], "--version") == 0) {
      std::puts("tenure 0.1.0");
      return 0;
    }
  }
  std::fputs("tenure: the operator shell is not available in this build; "
             "see tenure --help\n",
             stderr);
  return 64;
}
