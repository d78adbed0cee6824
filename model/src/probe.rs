//! Failure detection book-keeping: the round-robin probe order, probes in flight, and indirect
//! probes run on behalf of others.

use std::net::SocketAddr;

use crate::member::{Member, NodeId};
use crate::membership::Membership;
use crate::pick::{Pick, draw, shuffle};

/// Round-robin walk over the other live members: random order, new members inserted at a random
/// not-yet-visited position, reshuffled after each full pass. A member is probed at least once
/// every `2n - 1` periods.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ProbeOrder {
    list: Vec<NodeId>,
    next: usize,
}

impl ProbeOrder {
    /// Add a newly known member somewhere in the rest of this pass.
    pub fn insert(&mut self, id: NodeId, rng: &mut dyn Pick) {
        let pos = self.next + draw(rng, self.list.len() - self.next + 1);
        self.list.insert(pos, id);
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
            while self.next < self.list.len() {
                let id = self.list[self.next];
                self.next += 1;
                if members.get(id).is_some_and(|r| keep(&r.member)) {
                    return Some(id);
                }
            }
            // End of a pass: rebuild from the table and reshuffle.
            self.list.clear();
            self.list.extend(
                (members.iter())
                    .filter(|r| keep(&r.member))
                    .map(|r| r.member.id),
            );
            shuffle(rng, &mut self.list);
            self.next = 0;
            if self.list.is_empty() {
                return None;
            }
        }
        None
    }

    /// The same order with ids renamed (the model checker's symmetry reduction).
    #[cfg(feature = "checker")]
    pub(crate) fn renamed(&self, id: &dyn Fn(NodeId) -> NodeId) -> Self {
        ProbeOrder {
            list: self.list.iter().map(|&i| id(i)).collect(),
            next: self.next,
        }
    }

    /// The current order (for inspection and tests).
    pub fn as_slice(&self) -> &[NodeId] {
        &self.list
    }

    /// Position of the next member to probe.
    pub fn position(&self) -> usize {
        self.next
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
