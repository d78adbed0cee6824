//! The membership table: one record per known member, tombstones for the dead.

use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

use crate::Millis;
use crate::config::NEVER;
use crate::member::{Member, NodeId};
use crate::status::Status;

/// A member as this node knows it, and since when its status holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Record {
    /// The member's latest record here.
    pub member: Member,
    /// When the current status began here (suspicion start, time of death).
    pub since: Millis,
}

/// Counts the changes to a table that can change which members an order over it accepts
/// (inserts, status changes, purges, any record lent out to change), so an order knows
/// when what it checked of the table is stale (`ProbeOrder`). Not part of the table's value:
/// equal tables may have different stamps, so it never compares or hashes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stamp(u64);

impl PartialEq for Stamp {
    fn eq(&self, _: &Stamp) -> bool {
        true
    }
}

impl Eq for Stamp {}

impl Hash for Stamp {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}

impl Stamp {
    /// Whether both stamps name the same table state (0 names none).
    pub fn matches(self, other: Stamp) -> bool {
        self.0 != 0 && self.0 == other.0
    }
}

/// All members known to this node, except itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    /// Sorted by id. A sorted vector, not a map: a record is ~100 bytes and a B-tree filled by
    /// a join (ids arrive in order) spends as much again on half-empty nodes; lookups are a
    /// binary search, and inserts (a member joining) shift the tail, cheap at cluster sizes.
    records: Vec<Record>,
    /// The ids of `records`, in the same order: searches run over this compact copy (8 bytes
    /// a member, not ~100), which at 1,000 members stays in cache where a search over the
    /// records missed it at nearly every step.
    ids: Vec<NodeId>,
    /// Members with a non-terminal status.
    live: usize,
    /// Dead members in order of death: purged once their TTL passes.
    tombstones: VecDeque<(Millis, NodeId)>,
    /// Ids purged after their tombstone expired, with the generation purged: records of that
    /// generation or an older one are still refused (bounded, oldest forgotten).
    purged: BTreeMap<NodeId, u64>,
    purged_order: VecDeque<NodeId>,
    /// How many records (tombstones included) hold each address: derived from `records`, so
    /// that "is this address a member's?" (the anti-amplification rule) is a lookup.
    addrs: BTreeMap<SocketAddr, u32>,
    /// Changes so far (see [`Stamp`]; not part of the table's value).
    changes: Stamp,
}

impl Membership {
    /// The table's current state, as an order over it remembers it ([`Stamp`]).
    pub fn stamp(&self) -> Stamp {
        Stamp(self.changes.0 + 1)
    }

    fn changed(&mut self) {
        self.changes.0 += 1;
    }

    /// Hash what decides this table's future behaviour (the model checker's fingerprint): a
    /// record's `since` only while it is a suspicion (its timer runs from it), and the times of
    /// death only if `tombstone_ttl` can expire (they only drive the purge). Two tables that
    /// differ elsewhere behave alike, so the checker may explore them once.
    pub fn hash_behaviour<H: Hasher>(&self, tombstone_ttl: Millis, state: &mut H) {
        for r in &self.records {
            r.member.hash(state);
            if r.member.status == Status::Suspect {
                r.since.hash(state);
            }
        }
        if tombstone_ttl < NEVER {
            self.tombstones.hash(state);
        }
        self.purged.hash(state);
    }

    fn position(&self, id: NodeId) -> Result<usize, usize> {
        self.ids.binary_search(&id)
    }

    /// The record of `id`, if known (tombstones included).
    pub fn get(&self, id: NodeId) -> Option<&Record> {
        self.position(id).ok().map(|i| &self.records[i])
    }

    /// The record of `id`, to change in place (then report the change: [`Self::status_changed`]).
    pub fn get_mut(&mut self, id: NodeId) -> Option<&mut Record> {
        self.changed();
        self.position(id).ok().map(|i| &mut self.records[i])
    }

    /// Records in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Record> {
        self.records.iter()
    }

    /// Every record, tombstones included.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no member is known, not even a tombstone.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Members not dead or left.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Whether some record (tombstones included) holds the address `addr`.
    pub fn has_addr(&self, addr: SocketAddr) -> bool {
        self.addrs.contains_key(&addr)
    }

    /// Whether some generation of `id` was purged.
    pub fn is_purged(&self, id: NodeId) -> bool {
        self.purged.contains_key(&id)
    }

    /// The generation of `id` purged here, if any.
    pub fn purged_generation(&self, id: NodeId) -> Option<u64> {
        self.purged.get(&id).copied()
    }

    /// Whether `member`'s generation was purged (or an older one than it claims is newer):
    /// its records must stay unknown.
    pub fn is_purged_record(&self, member: &Member) -> bool {
        self.purged
            .get(&member.id)
            .is_some_and(|&g| member.generation <= g)
    }

    /// The record of `id` moved from address `from` (a new generation listens elsewhere).
    pub fn readdress(&mut self, id: NodeId, from: SocketAddr) {
        let Some(to) = self.get(id).map(|r| r.member.addr) else {
            return;
        };
        if to == from {
            return;
        }
        self.release_addr(from);
        *self.addrs.entry(to).or_default() += 1;
    }

    /// One record fewer holds `addr`.
    fn release_addr(&mut self, addr: SocketAddr) {
        if let Some(n) = self.addrs.get_mut(&addr) {
            *n -= 1;
            if *n == 0 {
                self.addrs.remove(&addr);
            }
        }
    }

    /// Insert a record for an unknown member.
    pub fn insert(&mut self, member: Member, now: Millis) {
        let Err(at) = self.position(member.id) else {
            debug_assert!(false, "{} is known already", member.id);
            return;
        };
        self.changed();
        if member.status.is_terminal() {
            self.tombstones.push_back((now, member.id));
        } else {
            self.live += 1;
        }
        if self.records.len() == self.records.capacity() {
            // Grow by a quarter, not double: the table is most of a node's memory.
            self.records.reserve_exact(self.records.len() / 4 + 4);
        }
        self.ids.insert(at, member.id);
        *self.addrs.entry(member.addr).or_default() += 1;
        self.records.insert(at, Record { member, since: now });
    }

    /// Book-keeping after the record of `id` moved from `from` to its current status.
    pub fn status_changed(&mut self, id: NodeId, from: Status, now: Millis) {
        // `get_mut` counts the change.
        let Some(rec) = self.get_mut(id) else {
            return;
        };
        let to = rec.member.status;
        // A suspicion at a higher incarnation is a new suspicion: its clock starts now.
        if from != to || to == Status::Suspect {
            rec.since = now;
        }
        if !from.is_terminal() && to.is_terminal() {
            self.live -= 1;
            self.tombstones.push_back((now, id));
        } else if from.is_terminal() && !to.is_terminal() {
            // A new generation of a dead member (or a deliberately broken merge in the
            // checker's tests): live again, and its old tombstone must not purge it.
            self.live += 1;
            self.tombstones.retain(|&(_, dead)| dead != id);
        }
    }

    /// Drop tombstones older than `ttl`; remember their ids (up to `memory` of them).
    pub fn purge(&mut self, now: Millis, ttl: Millis, memory: usize) -> usize {
        let mut purged = 0;
        while let Some(&(died, id)) = self.tombstones.front() {
            if now.saturating_sub(died) < ttl {
                break;
            }
            self.tombstones.pop_front();
            self.changed();
            let mut generation = 0;
            if let Ok(i) = self.position(id) {
                self.ids.remove(i);
                let member = self.records.remove(i).member;
                generation = member.generation;
                self.release_addr(member.addr);
            }
            purged += 1;
            if memory > 0 && self.purged.insert(id, generation).is_none() {
                self.purged_order.push_back(id);
                if self.purged_order.len() > memory
                    && let Some(old) = self.purged_order.pop_front()
                {
                    self.purged.remove(&old);
                }
            }
        }
        if purged > 0 && self.records.len() < self.records.capacity() / 2 {
            self.records.shrink_to_fit();
            self.ids.shrink_to_fit();
        }
        purged
    }

    /// The same table with ids renamed by `id` and records by `member` (the model checker's
    /// symmetry reduction).
    pub(crate) fn renamed(
        &self,
        id: &dyn Fn(NodeId) -> NodeId,
        member: &dyn Fn(&Member) -> Member,
    ) -> Self {
        let mut records: Vec<Record> = (self.records.iter())
            .map(|r| Record {
                member: member(&r.member),
                since: r.since,
            })
            .collect();
        records.sort_unstable_by_key(|r| r.member.id);
        let mut addrs = BTreeMap::new();
        for r in &records {
            *addrs.entry(r.member.addr).or_default() += 1;
        }
        Membership {
            addrs,
            ids: records.iter().map(|r| r.member.id).collect(),
            records,
            live: self.live,
            tombstones: self.tombstones.iter().map(|&(t, i)| (t, id(i))).collect(),
            purged: self.purged.iter().map(|(&i, &g)| (id(i), g)).collect(),
            purged_order: self.purged_order.iter().map(|&i| id(i)).collect(),
            // A new table: no order's check of the old one holds for it.
            changes: Stamp(self.changes.0 + 1),
        }
    }
}
