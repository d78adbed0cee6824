//! The dissemination queue: updates waiting to be piggybacked, least-sent first.

use std::collections::{BTreeMap, BTreeSet};

use crate::codec::{encoded_len, varint_len};
use crate::member::{Member, NodeId};

/// How many times each update is piggybacked: `mult x ceil(log10(n + 1))`.
pub fn retransmit_limit(mult: u32, n: usize) -> u32 {
    let scale = ((n as f64) + 1.0).log10().ceil().max(1.0) as u32;
    mult.saturating_mul(scale)
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Entry {
    member: Member,
    transmits: u32,
    size: usize,
}

/// Updates to disseminate: one per member (a newer update replaces the older one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Gossip {
    entries: BTreeMap<NodeId, Entry>,
    /// `(transmits, id)`: the send order, least-sent first.
    order: BTreeSet<(u32, NodeId)>,
}

/// Room left in a datagram for piggybacked updates.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Bytes still free, assuming the gossip vector's length prefix is one byte.
    pub free: usize,
    /// Updates packed so far.
    pub count: usize,
}

impl Budget {
    /// Take `size` bytes for one more update if it fits (accounting for the length prefix).
    pub fn take(&mut self, size: usize) -> bool {
        let prefix_growth = varint_len(self.count + 1) - varint_len(self.count);
        let need = size + prefix_growth;
        if need > self.free {
            return false;
        }
        self.free -= need;
        self.count += 1;
        true
    }
}

/// Non-fitting entries looked past before a packing gives up (keeps packing O(1)-ish).
const MAX_SKIPS: usize = 16;

impl Gossip {
    /// Queue `member` with a fresh transmit count, replacing any older update about it.
    pub fn enqueue(&mut self, member: Member) {
        let id = member.id;
        if let Some(old) = self.entries.remove(&id) {
            self.order.remove(&(old.transmits, id));
        }
        let size = encoded_len(&member);
        self.entries.insert(
            id,
            Entry {
                member,
                transmits: 0,
                size,
            },
        );
        self.order.insert((0, id));
    }

    /// Forget the update about `id`.
    pub fn remove(&mut self, id: NodeId) {
        if let Some(old) = self.entries.remove(&id) {
            self.order.remove(&(old.transmits, id));
        }
    }

    /// Whether an update about `id` is still being disseminated.
    pub fn contains(&self, id: NodeId) -> bool {
        self.entries.contains_key(&id)
    }

    /// Transmits so far of the update about `id`.
    pub fn transmits(&self, id: NodeId) -> Option<u32> {
        self.entries.get(&id).map(|e| e.transmits)
    }

    /// Updates queued.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Pack updates into `budget`, least-sent first, skipping `except`; each packed update
    /// spends one transmit, and updates that reach `limit` transmits leave the queue.
    pub fn pack(
        &mut self,
        budget: &mut Budget,
        limit: u32,
        except: Option<NodeId>,
        out: &mut Vec<Member>,
    ) {
        let mut picked: Vec<(u32, NodeId)> = Vec::new();
        let mut exhausted: Vec<(u32, NodeId)> = Vec::new();
        let mut skips = 0;
        for &(transmits, id) in &self.order {
            if transmits >= limit {
                exhausted.push((transmits, id));
                continue;
            }
            if Some(id) == except {
                continue;
            }
            let entry = &self.entries[&id];
            if budget.take(entry.size) {
                out.push(entry.member.clone());
                picked.push((transmits, id));
            } else {
                skips += 1;
                if skips > MAX_SKIPS || budget.free < 8 {
                    break;
                }
            }
        }
        for key in exhausted {
            self.order.remove(&key);
            self.entries.remove(&key.1);
        }
        for (transmits, id) in picked {
            self.order.remove(&(transmits, id));
            let sent = transmits + 1;
            if sent >= limit {
                self.entries.remove(&id);
            } else {
                self.entries.get_mut(&id).expect("picked entry").transmits = sent;
                self.order.insert((sent, id));
            }
        }
    }
}
