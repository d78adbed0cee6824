//! Node order: within an instant, nodes take their inputs in index order (see
//! [`Setup::node_order`](crate::checker::Setup::node_order) for why every state at which the
//! clock moves is still reached).

use crate::checker::{Action, Life, State};

/// Keep only the `inputs` (all enabled in `s`) that the node-order rule allows: node `j` takes
/// a step only once no node before it has a datagram to take or a timer due.
pub fn retain(s: &State, inputs: &mut Vec<Action>) {
    let first = (0..s.hosts.len()).find(|&i| s.has_urgent_input(i));
    inputs.retain(|a| match a {
        // A crash touches only its host: it commutes with the other nodes' steps, so
        // it happens between the node's own inputs or once the instant is done.
        Action::Crash(i) => first.is_none_or(|f| f == *i),
        // A loss touches only its datagram: it commutes with every delivery, so the
        // datagrams to an up node, which takes them all before the clock moves, are
        // lost in their order. (Those to a paused node wait, so any of them may go
        // first; and a copy is not ordered: it fixes a double delivery.)
        Action::Drop(d) => {
            first.is_none_or(|f| d.to <= f)
                && (s.hosts[d.to].life != Life::Up
                    || s.deliverable().all(|e| e.to != d.to || e >= d))
        }
        // A replay is offered only once nothing is left to take in the instant (its copy
        // arrives in the next one): after every node's steps already.
        Action::Replay(_) => first.is_none(),
        // A restart loses what the old process still had in flight, which the others may be
        // about to take: it comes once nothing is left to take in the instant (a restriction,
        // like a crash's order; restarts are checked in three-node worlds, without this rule).
        Action::Restart(_) => first.is_none(),
        _ => a.node().is_none_or(|j| first.is_none_or(|f| j <= f)),
    });
}
