#pragma once

#include <caf/atom.hpp>

/// Message tags (CAF 0.17 atoms, at most 10 characters).
namespace tenure {

/// Ask an entity for its state.
using get_atom = caf::atom_constant<caf::atom("get")>;
/// Ask an entity for its history.
using history_atom = caf::atom_constant<caf::atom("history")>;
/// An entity's commit finished (sent by the store's callback).
using committed_atom = caf::atom_constant<caf::atom("committed")>;
/// An entity was idle for the passivation time.
using idle_atom = caf::atom_constant<caf::atom("idle")>;
/// The registry lets an idle entity go.
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
/// Registry statistics.
using stats_atom = caf::atom_constant<caf::atom("stats")>;
/// Checkout: a code is being redeemed (pool → application).
using checkout_atom = caf::atom_constant<caf::atom("checkout")>;
/// The pool learns that a code was redeemed.
using redeemed_atom = caf::atom_constant<caf::atom("redeemed")>;
/// Read raw coupon codes (privileged).
using codes_atom = caf::atom_constant<caf::atom("codes")>;
/// The registry's throttle refills.
using tick_atom = caf::atom_constant<caf::atom("tick")>;
/// Look up the actor of an entity (operators, tests).
using whereis_atom = caf::atom_constant<caf::atom("whereis")>;

/// A durable timer came due (supervisor → the entity or desk it concerns).
using fire_atom = caf::atom_constant<caf::atom("fire")>;
/// Fire everything due now and answer when done (tests, `clock advance`).
using flush_atom = caf::atom_constant<caf::atom("flush")>;
/// Find records (emergency licenses by email).
using find_atom = caf::atom_constant<caf::atom("find")>;
/// Send an emergency license again from its record.
using resend_atom = caf::atom_constant<caf::atom("resend")>;
/// The manual review queue.
using queue_atom = caf::atom_constant<caf::atom("queue")>;
/// The outbox: delivery status and retry of failed notifications.
using outbox_atom = caf::atom_constant<caf::atom("outbox")>;
/// Retry a failed notification now.
using retry_atom = caf::atom_constant<caf::atom("retry")>;

/// A withdrawn application gives its place or its reserved code back.
using release_atom = caf::atom_constant<caf::atom("release")>;

} // namespace tenure
