#pragma once

#include <cstdint>

#include <caf/atom.hpp>

/// How the operator shell (`tenure`) talks to a node.
///
/// `tenured` publishes one actor through CAF's middleman on
/// `tenure.node.shell-port` (`--shell-port`; loopback by default, since a
/// plain BASP port is neither encrypted nor authenticated, see
/// RELIABILITY.md). The shell connects with `middleman().remote_actor` and
/// sends every command as an HTTP-shaped request, which the node answers
/// through the same router, scopes, validation and idempotency as the HTTP
/// gateway (docs/openapi.yaml is the catalog of both):
///
///     (shell_atom, method, target, token, content_type, body,
///      idempotency_key)   // atom + six std::string
///       -> (int32_t status, std::string body)
///
/// `target` is the path with its query, e.g. `/v1/applications?state=booked`;
/// `token` is the operator's bearer token without `Bearer `; `body` is JSON
/// (or CSV for coupon imports); `idempotency_key` may be empty. The reply's
/// body is the gateway's JSON, errors included
/// (`{"error": {"code", "message"}}`). Only CAF's built-in types cross the
/// wire, so shell and node need no shared type-id block.
namespace tenure {

using shell_atom = caf::atom_constant<caf::atom("shell")>;

/// Default port of the shell endpoint. Default: 8641.
constexpr uint16_t default_shell_port = 8641;

} // namespace tenure
