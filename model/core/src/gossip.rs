//! The dissemination queue: updates waiting to be piggybacked, least-sent first.
//!
//! The queue holds member ids, not records: the update sent about a member is always its
//! current record in the node's table (every change of a record re-queues it), looked up
//! when a datagram is packed. A join burst queues an update per member, so this keeps the
//! burst at a few bytes per member instead of a copy of every record.
//!
//! Updates live in a slab; a FIFO bucket per transmit count orders them (least-sent first,
//! oldest first within a count). Packing a datagram pops from the lowest buckets and pushes to
//! the next one, so the hot path does no tree lookups. A replaced update leaves a stale handle
//! behind, recognised by its epoch and dropped lazily; equality and hashing look only at the
//! live order, so two queues that will behave the same compare equal.

use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};

use crate::codec::{encoded_len, varint_len};
use crate::member::{Member, NodeId};

/// How many times each update is piggybacked: `mult x ceil(log10(n + 1))`.
pub fn retransmit_limit(mult: u32, n: usize) -> u32 {
    let scale = ((n as f64) + 1.0).log10().ceil().max(1.0) as u32;
    mult.saturating_mul(scale)
}

#[derive(Clone, Debug)]
struct Entry {
    id: NodeId,
    transmits: u32,
    /// Which enqueue this is: handles with another epoch are stale. 32 bits: a stale handle
    /// could pass for a live entry only if exactly 2^32 enqueues later its slot held an entry
    /// at the same transmit count, and then one update would be sent twice.
    epoch: u32,
}

/// A position in a bucket: slab slot and the epoch of the entry it was made for (8 bytes: a
/// burst queues one per member).
type Handle = (u32, u32);

/// Updates to disseminate: one per member (a newer update replaces the older one).
#[derive(Clone, Debug, Default)]
pub struct Gossip {
    slab: Vec<Option<Entry>>,
    free: Vec<usize>,
    index: BTreeMap<NodeId, usize>,
    /// `buckets[t]`: handles of updates sent `t` times, oldest first.
    buckets: Vec<VecDeque<Handle>>,
    stale: usize,
    epochs: u32,
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
    fn live(&self, (slot, epoch): Handle, transmits: u32) -> Option<&Entry> {
        self.slab[slot as usize]
            .as_ref()
            .filter(|e| e.epoch == epoch && e.transmits == transmits)
    }

    /// Live updates in send order, with their transmit counts.
    fn in_order(&self) -> impl Iterator<Item = &Entry> {
        self.buckets
            .iter()
            .enumerate()
            .flat_map(move |(t, bucket)| bucket.iter().filter_map(move |&h| self.live(h, t as u32)))
    }

    /// Queue an update about `id` (its record changed) with a fresh transmit count, replacing
    /// any older one.
    pub fn enqueue(&mut self, id: NodeId) {
        self.remove(id);
        self.epochs = self.epochs.wrapping_add(1);
        let entry = Entry {
            id,
            transmits: 0,
            epoch: self.epochs,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot] = Some(entry);
                slot
            }
            None => {
                self.slab.push(Some(entry));
                self.slab.len() - 1
            }
        };
        self.index.insert(id, slot);
        if self.buckets.is_empty() {
            self.buckets.push(VecDeque::new());
        }
        self.buckets[0].push_back((slot as u32, self.epochs));
    }

    /// Forget the update about `id` (its handle goes stale).
    pub fn remove(&mut self, id: NodeId) {
        if let Some(&slot) = self.index.get(&id) {
            self.release(slot);
            self.stale += 1;
            self.compact_if_needed();
        }
    }

    /// Empty `slot` and forget its entry (any handle to it goes stale).
    fn release(&mut self, slot: usize) {
        if let Some(entry) = self.slab[slot].take() {
            self.index.remove(&entry.id);
            self.free.push(slot);
        }
    }

    /// Give memory back once most slots are free (the queue drains between bursts).
    fn shrink_if_sparse(&mut self) {
        if self.slab.len() <= 64 || self.index.len() * 4 > self.slab.len() {
            return;
        }
        let order: Vec<(usize, u32)> = self
            .buckets
            .iter()
            .enumerate()
            .flat_map(|(t, b)| b.iter().map(move |&h| (h, t as u32)))
            .filter(|&(h, t)| self.live(h, t).is_some())
            .map(|(h, t)| (h.0 as usize, t))
            .collect();
        let mut slab = Vec::with_capacity(self.index.len());
        let mut buckets: Vec<VecDeque<Handle>> = Vec::new();
        for (slot, t) in order {
            let entry = self.slab[slot].take().expect("live entry");
            if buckets.len() <= t as usize {
                buckets.resize_with(t as usize + 1, VecDeque::new);
            }
            buckets[t as usize].push_back((slab.len() as u32, entry.epoch));
            self.index.insert(entry.id, slab.len());
            slab.push(Some(entry));
        }
        self.slab = slab;
        self.buckets = buckets;
        self.free = Vec::new();
        self.stale = 0;
    }

    /// Whether an update about `id` is still being disseminated.
    pub fn contains(&self, id: NodeId) -> bool {
        self.index.contains_key(&id)
    }

    /// Transmits so far of the update about `id`.
    pub fn transmits(&self, id: NodeId) -> Option<u32> {
        let slot = *self.index.get(&id)?;
        self.slab[slot].as_ref().map(|e| e.transmits)
    }

    /// Queued updates in send order (least-sent first): whose, and sent how many times.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, u32)> + '_ {
        self.in_order().map(|e| (e.id, e.transmits))
    }

    /// Updates queued.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no update is queued.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The same queue with every id renamed by `id` (the model checker's symmetry
    /// reduction): same slots, same send order.
    pub(crate) fn renamed(&self, id: &dyn Fn(NodeId) -> NodeId) -> Self {
        let mut out = self.clone();
        for entry in out.slab.iter_mut().flatten() {
            entry.id = id(entry.id);
        }
        out.index = (self.index.iter())
            .map(|(&member, &slot)| (id(member), slot))
            .collect();
        out
    }

    /// Pack updates into `budget`, least-sent first, skipping `except`; each packed update
    /// spends one transmit, and updates that reach `limit` transmits leave the queue.
    /// `record` gives the current record of a member (an update about a member no longer
    /// known, its tombstone purged, is dropped).
    pub fn pack<'a>(
        &mut self,
        budget: &mut Budget,
        limit: u32,
        except: &[NodeId],
        record: &dyn Fn(NodeId) -> Option<&'a Member>,
        out: &mut Vec<Member>,
    ) {
        let mut picked: Vec<usize> = Vec::new();
        out.reserve(budget.free / 32);
        let mut skips = 0;
        'buckets: for t in 0..self.buckets.len() {
            if t as u32 >= limit {
                // The cluster shrank: these were sent enough already.
                for bucket in t..self.buckets.len() {
                    while let Some(h) = self.buckets[bucket].pop_front() {
                        if self.live(h, bucket as u32).is_some() {
                            self.release(h.0 as usize);
                        } else {
                            self.stale = self.stale.saturating_sub(1);
                        }
                    }
                }
                break;
            }
            let mut i = 0;
            while i < self.buckets[t].len() {
                let h = self.buckets[t][i];
                let Some(entry) = self.live(h, t as u32) else {
                    self.buckets[t].remove(i);
                    self.stale = self.stale.saturating_sub(1);
                    continue;
                };
                if except.contains(&entry.id) {
                    i += 1;
                    continue;
                }
                let Some(member) = record(entry.id) else {
                    self.buckets[t].remove(i);
                    self.release(h.0 as usize);
                    continue;
                };
                if budget.take(encoded_len(member)) {
                    out.push(member.clone());
                    self.buckets[t].remove(i);
                    picked.push(h.0 as usize);
                    continue;
                }
                skips += 1;
                if skips > MAX_SKIPS || budget.free < 8 {
                    break 'buckets;
                }
                i += 1;
            }
        }
        for slot in picked {
            let entry = self.slab[slot].as_mut().expect("picked entry is live");
            entry.transmits += 1;
            let (t, epoch) = (entry.transmits, entry.epoch);
            if t >= limit {
                self.release(slot);
            } else {
                if self.buckets.len() <= t as usize {
                    self.buckets.resize_with(t as usize + 1, VecDeque::new);
                }
                self.buckets[t as usize].push_back((slot as u32, epoch));
            }
        }
        self.release_empty_buckets();
        self.shrink_if_sparse();
    }

    /// Free the buffers of drained buckets: a burst of updates moves through every transmit
    /// count, and each bucket would otherwise keep the burst's capacity.
    fn release_empty_buckets(&mut self) {
        for bucket in &mut self.buckets {
            if bucket.is_empty() && bucket.capacity() > 0 {
                *bucket = VecDeque::new();
            }
        }
        while self.buckets.last().is_some_and(VecDeque::is_empty) {
            self.buckets.pop();
        }
    }

    /// Drop stale handles once they outnumber live ones (bounds memory under churn).
    fn compact_if_needed(&mut self) {
        if self.stale <= self.index.len() + 32 {
            return;
        }
        let slab = &self.slab;
        for (t, bucket) in self.buckets.iter_mut().enumerate() {
            bucket.retain(|&(slot, epoch)| {
                slab[slot as usize]
                    .as_ref()
                    .is_some_and(|e| e.epoch == epoch && e.transmits == t as u32)
            });
        }
        self.stale = 0;
    }
}

/// Queues are equal when they will send updates about the same members in the same order
/// (the records sent are the node's, compared with its table).
impl PartialEq for Gossip {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .in_order()
                .zip(other.in_order())
                .all(|(a, b)| a.transmits == b.transmits && a.id == b.id)
    }
}

impl Eq for Gossip {}

impl Hash for Gossip {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.len().hash(state);
        for e in self.in_order() {
            e.transmits.hash(state);
            e.id.hash(state);
        }
    }
}
