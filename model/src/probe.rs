//! Failure detection book-keeping: the round-robin probe order, probes in flight, and indirect
//! probes run on behalf of others.

use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::member::{Member, NodeId};
use crate::membership::Membership;
use crate::pick::{Pick, draw, shuffle};

/// Round-robin walk over the other live members: random order, new members inserted at a random
/// not-yet-visited position, reshuffled after each full pass. A member is probed at least once
/// every `2n - 1` periods.
///
/// Only the rest of the current pass is kept: the part already walked decides nothing (the next
/// pass is drawn afresh from the table), so two nodes that differ only in it are the same state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ProbeOrder {
    rest: VecDeque<NodeId>,
}

impl ProbeOrder {
    /// Add a newly known member somewhere in the rest of this pass.
    pub fn insert(&mut self, id: NodeId, rng: &mut dyn Pick) {
        let pos = draw(rng, self.rest.len() + 1);
        self.rest.insert(pos, id);
    }

    /// The next live member to probe, reshuffling when a pass ends. `None` when alone.
    pub fn next_target(&mut self, members: &Membership, rng: &mut dyn Pick) -> Option<NodeId> {
        self.next_where(members, rng, |m| !m.status.is_terminal())
    }

    /// The next member that `keep` accepts: the rest of this pass first, then a new pass over
    /// every such member of the table, reshuffled. `None` when there is none.
    pub fn next_where(
        &mut self,
        members: &Membership,
        rng: &mut dyn Pick,
        keep: impl Fn(&Member) -> bool,
    ) -> Option<NodeId> {
        for _ in 0..2 {
            while let Some(id) = self.rest.pop_front() {
                if members.get(id).is_some_and(|r| keep(&r.member)) {
                    return Some(id);
                }
            }
            // End of a pass: rebuild from the table and reshuffle.
            let mut pass: Vec<NodeId> = (members.iter())
                .filter(|r| keep(&r.member))
                .map(|r| r.member.id)
                .collect();
            shuffle(rng, &mut pass);
            self.rest = pass.into();
            if self.rest.is_empty() {
                return None;
            }
        }
        None
    }

    /// The same order with ids renamed (the model checker's symmetry reduction).
    #[cfg(feature = "checker")]
    pub(crate) fn renamed(&self, id: &dyn Fn(NodeId) -> NodeId) -> Self {
        ProbeOrder {
            rest: self.rest.iter().map(|&i| id(i)).collect(),
        }
    }

    /// The members still to visit in this pass, next first.
    pub fn rest(&self) -> impl ExactSizeIterator<Item = NodeId> + '_ {
        self.rest.iter().copied()
    }
}

/// A probe this node started, alive until the end of its protocol period.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Probe {
    pub target: NodeId,
    pub target_addr: SocketAddr,
    /// Incarnation of the target when probed: a suspicion raised for this probe uses it.
    pub incarnation: u64,
    pub acked: bool,
    /// Judged failed before the period ended (every helper nacked); kept until the tick.
    pub failed: bool,
    /// Helpers asked to probe indirectly.
    pub helpers: u8,
    /// Helpers asked whose nack has not come yet.
    pub awaiting: Vec<NodeId>,
}

impl Probe {
    /// Nacks received: one per helper asked that answered.
    pub fn nacks(&self) -> usize {
        self.helpers as usize - self.awaiting.len()
    }
}

/// An indirect probe run for another node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Relay {
    pub origin: SocketAddr,
    pub origin_id: NodeId,
    pub origin_seq: u32,
    /// The nack went out; the relay now only waits to forward a late ack.
    pub nacked: bool,
}
