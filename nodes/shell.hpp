#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

/// The operator shell's logic, free of I/O: the command table, parsing a
/// command line into requests for the node's shell endpoint
/// (nodes/shell_protocol.hpp), running a command over an injected transport
/// and formatting the answers. `tenure` (nodes/tenure.cpp) adds the CAF
/// connection, the REPL and the flags; tests drive everything else with a
/// fake transport.
namespace tenure::shell {

/// The exit codes of `tenure`, documented in `tenure --help`.
enum class exit_code : int {
  /// The command succeeded.
  ok = 0,
  /// The node refused the command (4xx other than 401/403: not found,
  /// illegal transition, refused, invalid argument).
  refused = 1,
  /// Unknown command or bad arguments; detected locally, nothing was sent.
  usage = 2,
  /// The node cannot be reached, did not answer in time, or failed (5xx).
  unreachable = 3,
  /// The token is missing or unknown (401) or lacks the scope (403).
  unauthorized = 4,
};

/// The exit code for an answer with HTTP-like `status`; 0 means no answer.
exit_code exit_code_of(int32_t status);

/// One request to the node, shaped like HTTP (nodes/shell_protocol.hpp).
struct request {
  /// `GET` or `POST`.
  std::string method;
  /// Path and URL-encoded query, e.g. `/v1/applications?state=booked`.
  std::string target;
  /// `application/json`, `text/csv`, or empty for a GET.
  std::string content_type;
  std::string body;
  /// Empty for a GET; fresh and random for each POST (derived from the
  /// file for coupon imports, so that a re-run is a replay).
  std::string idempotency_key;
};

/// The node's answer.
struct response {
  /// The HTTP status; 0 when nothing came back (cannot connect, timeout),
  /// and `body` then says why in plain text.
  int32_t status = 0;
  std::string body;
};

/// Sends one request and waits for its answer. Never throws.
using transport = std::function<response(const request&)>;

/// Splits a command line into words: blanks separate words, `"double
/// quoted"` and `'single quoted'` parts join a word, a backslash escapes the
/// next character (outside single quotes; inside double quotes only `"` and
/// `\`). Returns false and sets `error` on an unterminated quote or a
/// trailing backslash.
bool split_words(const std::string& line, std::vector<std::string>& words,
                 std::string& error);

/// Percent-encodes everything but unreserved characters (RFC 3986), for a
/// query value or a path segment.
std::string url_encode(const std::string& text);

/// One entry of the command table.
struct command_info {
  /// The command's words, e.g. `app show`.
  std::string name;
  /// How to call it, e.g. `app show ID`.
  std::string synopsis;
  /// One line for `help`.
  std::string summary;
  /// More for `help COMMAND`: the route, options, examples.
  std::string details;
  /// The options it takes, e.g. `--state` (for completion).
  std::vector<std::string> options;
};

/// Every command, in the order `help` lists them.
const std::vector<command_info>& commands();

/// The overview `help` prints.
std::string help_text();

/// `help TOPIC`: the commands whose name is or starts with `topic` (`app`,
/// `app show`); false when there is none.
bool help_text(const std::string& topic, std::string& out);

/// Candidates that complete the word `prefix` after the complete words
/// `before` of a command line: command names, sub-commands, options.
std::vector<std::string> complete(const std::vector<std::string>& before,
                                  const std::string& prefix);

/// What applies to every command.
struct settings {
  /// Recorded as `by`, `reviewer`, `opened_by`, `requested_by`; empty lets
  /// the node record the token's key name.
  std::string operator_name;
  /// Print the node's JSON instead of text.
  bool json = false;
};

/// What a command line asks for, computed without any I/O.
struct plan {
  enum class kind {
    /// An empty line.
    nothing,
    /// `help [TOPIC]`, answered locally.
    help,
    /// `quit`, `exit`.
    quit,
    /// One request.
    single,
    /// A listing: `requests[0]` without `limit` and `cursor`; the runner
    /// follows `next_cursor` until `limit` items.
    paged,
    /// Several independent requests, e.g. the stock of every program.
    multi,
    /// `coupon import`: the runner reads `file` and sends it in chunks.
    import,
    /// `accounts import`: the runner reads the CSV `file`, checks its
    /// header and sends it in parts of whole accounts, with progress.
    account_import,
    /// `outreach create`: the runner reads the JSON object in `file` and
    /// sends it as the body of `requests[0]`, whose body holds the fields
    /// to add when the file has none of that name (`by`).
    upload,
  };

  kind what = kind::nothing;
  /// The command's name in the table, e.g. `app find`.
  std::string command;
  std::vector<request> requests;
  /// Paged: the most items to fetch.
  size_t limit = 0;
  /// Help: the topic (may be empty).
  std::string topic;
  /// Import: the program and the file (also the file of an account import
  /// or an upload).
  std::string program;
  std::string file;
  /// `--json` or `--as NAME` given on this command line.
  bool json = false;
  std::string operator_name;
};

/// Parses the words of a command line. Returns false and sets `error` (a
/// usage message naming the command) on an unknown command or bad
/// arguments.
bool parse(const std::vector<std::string>& words, const settings& cfg,
           plan& out, std::string& error);

/// Splits and parses a command line.
bool parse(const std::string& line, const settings& cfg, plan& out,
           std::string& error);

/// The most lines a coupon import sends per request.
constexpr size_t import_chunk_lines = 5000;

/// Splits `text` into chunks of at most `max_lines` lines at line
/// boundaries; every chunk keeps its line ends, and concatenating the chunks
/// gives `text` back. Precondition: `max_lines > 0`.
std::vector<std::string> split_chunks(const std::string& text,
                                      size_t max_lines);

/// The number of lines of `text` (a last line without `\n` counts).
size_t count_lines(const std::string& text);

/// The idempotency key of chunk `index` of an import of `content` into
/// `program`: equal for a re-run of the same file, so the node answers the
/// first result again instead of importing twice.
std::string import_key(const std::string& program, const std::string& content,
                       size_t index);

/// A fresh random idempotency key.
std::string random_key();

/// The most contact lines an account import sends per request; a part may
/// hold more when one account has more lines (at most 200 contacts).
constexpr size_t account_part_lines = 500;

/// The header an account CSV starts with (what `POST /v1/accounts/import`
/// reads; case does not matter).
constexpr const char* account_csv_header
  = "account_ref,account_name,segment,hosting,stage,contact_name,email,roles";

/// One request of an account import: the header and the lines of whole
/// accounts.
struct account_part {
  /// The header line, then the part's lines, each ending in `\n`.
  std::string body;
  /// The file's line number (from 1, the header's included) of each line
  /// of `body` after its header: line N of the part is `lines[N - 2]`.
  std::vector<size_t> lines;
};

/// Splits an account CSV into parts of about `max_lines` contact lines
/// that never split an account (the lines with the same `account_ref`,
/// compared without case, go into one part, in the order of the account's
/// first line). A UTF-8 BOM, CRLF and blank lines are fine; blank lines are
/// left out. Returns false and sets `error` when the file has no header,
/// another header, or no contact line. Precondition: `max_lines > 0`.
bool split_account_csv(const std::string& text, size_t max_lines,
                       std::vector<account_part>& parts, std::string& error);

/// What running a command needs from the outside.
struct io {
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  transport send;
  /// Reads a whole file; false and `error` set when it cannot.
  std::function<bool(const std::string& path, std::string& content,
                     std::string& error)>
    read_file;
  /// Called after each chunk of an import with lines done and total; may
  /// be empty (no progress bar).
  std::function<void(size_t done, size_t total)> progress;
};

/// Runs `p` (not `help` or `quit`, which the caller answers): sends its
/// requests, prints the result to `io.out` (text, or JSON with `--json`) and
/// errors as `tenure: CODE: MESSAGE` to `io.err`; with `--json` stdout holds
/// one JSON document also on errors (the node's error body, or an
/// `{"error": ...}` of the shell's own). Returns the exit code.
exit_code run(const plan& p, const settings& cfg, io& io);

/// Prints a usage error the way `run` prints errors. Returns
/// `exit_code::usage`.
exit_code usage_error(const std::string& message, const settings& cfg, io& io);

/// Formats a successful answer `body` of `command` for humans: aligned
/// `key: value` blocks for records, tables for lists, history as `seq time
/// type summary` lines. Bodies that are not JSON come back unchanged.
std::string format_human(const std::string& command, const std::string& body);

/// `body` pretty-printed with its keys in the node's order; unchanged when
/// it is not JSON.
std::string format_json(const std::string& body);

} // namespace tenure::shell
