//! Application data (PROTOCOL.md §13): broadcasts gossiped to every member and direct messages
//! to one member, carried for the application and never read by the protocol.
//!
//! Broadcasts wait in their own bounded queue, least-sent first, and leave it after a retransmit
//! budget of their own. They ride in gossip datagrams ([`crate::Body::Gossip`]) after the
//! membership updates, which take the byte budget first: application data never crowds
//! membership out. Each broadcast is identified by its origin and the origin's sequence
//! number; the last `Config::user_dedup` identities seen are remembered (bounded memory) so
//! that each is delivered once.

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::codec::encoded_len;
use crate::gossip::Budget;
use crate::member::NodeId;

/// An application broadcast on the wire: who sent it first, its number there, the bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Broadcast {
    /// The member that broadcast it.
    pub origin: NodeId,
    /// The origin's sequence number: `(origin, seq)` identifies the broadcast.
    pub seq: u64,
    /// The application's bytes.
    pub payload: Vec<u8>,
}

/// How application data reached this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum UserKind {
    /// Gossiped to every member ([`crate::Command::Broadcast`]).
    Broadcast,
    /// Sent to this member alone ([`crate::Command::SendTo`]).
    Direct,
}

/// Application data delivered to this node ([`crate::Effect::Deliver`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UserMessage {
    /// Who sent it: the origin of a broadcast (not the member that relayed it last), the
    /// sender of a direct message.
    pub from: NodeId,
    /// Broadcast or direct.
    pub kind: UserKind,
    /// The application's bytes.
    pub payload: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Queued {
    broadcast: Broadcast,
    transmits: u32,
    /// Order of arrival, to keep the oldest first among equally sent ones.
    arrival: u64,
}

/// Broadcasts waiting to be gossiped, and the identities already seen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct UserQueue {
    queued: Vec<Queued>,
    arrivals: u64,
    /// Identities seen, oldest first (bounded by `Config::user_dedup`).
    seen_order: VecDeque<(NodeId, u64)>,
    seen: BTreeSet<(NodeId, u64)>,
    /// Sequence number of our next broadcast.
    next_seq: u64,
}

impl UserQueue {
    /// Broadcasts waiting to be sent.
    pub fn len(&self) -> usize {
        self.queued.len()
    }

    /// Whether no broadcast waits.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Number our next broadcast (`origin` is our id).
    pub fn next_own(&mut self, origin: NodeId, payload: Vec<u8>) -> Broadcast {
        let seq = self.next_seq;
        self.next_seq += 1;
        Broadcast {
            origin,
            seq,
            payload,
        }
    }

    /// Remember the identity of `broadcast` (forgetting the oldest beyond `dedup`); returns
    /// whether it was new.
    pub fn remember(&mut self, broadcast: &Broadcast, dedup: usize) -> bool {
        let key = (broadcast.origin, broadcast.seq);
        if !self.seen.insert(key) {
            return false;
        }
        self.seen_order.push_back(key);
        while self.seen_order.len() > dedup.max(1) {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }

    /// Queue `broadcast` (its identity already remembered); when `capacity` broadcasts wait
    /// already, the most-sent one (the oldest among those) leaves for it. Returns whether one
    /// left.
    pub fn push(&mut self, broadcast: Broadcast, capacity: usize) -> bool {
        let mut evicted = false;
        if self.queued.len() >= capacity.max(1) {
            let most_sent = (0..self.queued.len())
                .max_by_key(|&i| {
                    let q = &self.queued[i];
                    (q.transmits, std::cmp::Reverse(q.arrival))
                })
                .expect("queue is full, so not empty");
            self.queued.swap_remove(most_sent);
            evicted = true;
        }
        self.arrivals += 1;
        self.queued.push(Queued {
            broadcast,
            transmits: 0,
            arrival: self.arrivals,
        });
        evicted
    }

    /// Pack broadcasts into `budget`, least-sent first (oldest first among equals); each packed
    /// broadcast spends one transmit and leaves the queue once it reached `limit`.
    pub fn pack(&mut self, budget: &mut Budget, limit: u32, out: &mut Vec<Broadcast>) {
        self.queued.sort_by_key(|q| (q.transmits, q.arrival));
        for q in &mut self.queued {
            if budget.free < 8 {
                break;
            }
            if budget.take(encoded_len(&q.broadcast)) {
                out.push(q.broadcast.clone());
                q.transmits += 1;
            }
        }
        self.queued.retain(|q| q.transmits < limit);
    }

    /// Forget the waiting broadcasts (the node stopped); identities seen stay remembered.
    pub fn clear(&mut self) {
        self.queued.clear();
    }

    /// The same queue with every origin renamed (the model checker's symmetry reduction).
    pub(crate) fn renamed(&self, id: &dyn Fn(NodeId) -> NodeId) -> Self {
        let mut out = self.clone();
        for q in &mut out.queued {
            q.broadcast.origin = id(q.broadcast.origin);
        }
        out.seen_order = self.seen_order.iter().map(|&(o, s)| (id(o), s)).collect();
        out.seen = out.seen_order.iter().copied().collect();
        out
    }
}
