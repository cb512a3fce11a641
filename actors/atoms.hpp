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

} // namespace tenure
