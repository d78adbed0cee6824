//! Failure detection book-keeping: the round-robin probe order, probes in flight, and indirect
//! probes run on behalf of others.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

use crate::member::{Member, NodeId};
use crate::membership::{Membership, Record, Stamp};
use crate::pick::{Pick, draw};

/// Round-robin walk over the other live members, each pass in a uniformly random order. A
/// member is probed at least once every `2n - 1` periods (`(f + 1)(n - 1)` when members of
/// other zones are in one pass of `f`: [`ProbeOrder::next_near`]).
///
/// The first pass follows an order fixed as members are learnt (each one inserted at a random
/// position of what is left of it). Every later pass is *drawn as it goes*: it keeps the set of
/// members still to visit, sorted, and each visit picks one of them uniformly, which is the
/// law of shuffling the pass at its start. Only what is left is kept: two nodes that walked the
/// same members in different orders, or that will walk the rest in different orders, are the
/// same state until the next draw (the model checker counts them once).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ProbeOrder {
    /// The members still to visit in this pass: in order while `drawn` is false, else sorted.
    rest: VecDeque<NodeId>,
    /// The pass is drawn as it goes (every pass after the first).
    drawn: bool,
    /// Passes since the last one that held every member (0: this one does). Stays 0 unless
    /// far members are in one pass of several.
    near_passes: u8,
    /// The table's state when every member of `rest` was last known to be kept, by a `keep`
    /// that rejects only for good ([`ProbeOrder::next_near`]): while the table has not changed
    /// since, a draw needs no walk over it.
    kept_at: Stamp,
}

impl ProbeOrder {
    /// Add a newly known member to the rest of this pass (at a random position of a fixed
    /// order).
    pub fn insert(&mut self, id: NodeId, rng: &mut dyn Pick) {
        if self.drawn {
            if let Err(pos) = self.rest.binary_search(&id) {
                self.rest.insert(pos, id);
            }
        } else {
            let pos = draw(rng, self.rest.len() + 1);
            self.rest.insert(pos, id);
        }
    }

    /// Put `id` back in this pass if it is not there (a member a `for_good` draw left out
    /// that `keep` accepts again).
    pub fn put_back(&mut self, id: NodeId, rng: &mut dyn Pick) {
        if !self.rest.contains(&id) {
            self.insert(id, rng);
        }
    }

    /// Put `id` at a fresh place of this pass, wherever it was (a member live again).
    pub fn reinsert(&mut self, id: NodeId, rng: &mut dyn Pick) {
        self.rest.retain(|&r| r != id);
        self.insert(id, rng);
    }

    /// The next live member to probe, starting a new pass when this one is over. `None` when
    /// alone.
    pub fn next_target(&mut self, members: &Membership, rng: &mut dyn Pick) -> Option<NodeId> {
        self.next_where(members, rng, |m| !m.status.is_terminal())
    }

    /// The next member that `keep` accepts: one left in this pass if any (members it rejects
    /// when their turn comes are passed over), else the first of a new pass over every such
    /// member of the table. `None` when there is none.
    pub fn next_where(
        &mut self,
        members: &Membership,
        rng: &mut dyn Pick,
        keep: impl Fn(&Member) -> bool,
    ) -> Option<NodeId> {
        self.next_near(members, rng, keep, |_| true, 1, false)
    }

    /// As [`ProbeOrder::next_where`], but only one new pass in `far_every` holds the members
    /// `near` rejects; the others hold only near ones (or every member, when no near one is
    /// kept). A kept member is then visited at least once every `far_every + 1` passes.
    ///
    /// With `for_good`, the caller promises that `keep` rejects a member for good while the
    /// table does not change (a dead one, say), or until the caller puts it back
    /// ([`ProbeOrder::put_back`]): the rejected ones then leave the pass at the first draw after
    /// a change, and the draws until the next change need no walk over the table. For a `keep`
    /// that keeps its word the picks are the same either way; an idle node at 1,000 members
    /// spent a third of its CPU on that walk, once per probe.
    pub fn next_near(
        &mut self,
        members: &Membership,
        rng: &mut dyn Pick,
        keep: impl Fn(&Member) -> bool,
        near: impl Fn(&Member) -> bool,
        far_every: u8,
        for_good: bool,
    ) -> Option<NodeId> {
        for _ in 0..2 {
            if self.drawn {
                if for_good && !self.kept_at.matches(members.stamp()) {
                    let mut table = members.iter().peekable();
                    self.rest.retain(|&id| kept(&mut table, id, &keep));
                    self.kept_at = members.stamp();
                }
                let left = if for_good {
                    self.rest.len()
                } else {
                    self.kept_in_rest(members, &keep).count()
                };
                if left > 0 {
                    let nth = draw(rng, left);
                    let at = if for_good {
                        nth
                    } else {
                        self.kept_in_rest(members, &keep).nth(nth)?
                    };
                    return self.rest.remove(at);
                }
            } else {
                while let Some(id) = self.rest.pop_front() {
                    if members.get(id).is_some_and(|r| keep(&r.member)) {
                        return Some(id);
                    }
                }
            }
            // End of a pass: every member `keep` accepts (only near ones in a near pass),
            // drawn as the pass goes.
            self.near_passes = if self.near_passes + 1 < far_every {
                self.near_passes + 1
            } else {
                0
            };
            let pass = |near_only: bool| -> VecDeque<NodeId> {
                (members.iter())
                    .filter(|r| keep(&r.member) && (!near_only || near(&r.member)))
                    .map(|r| r.member.id)
                    .collect()
            };
            self.rest = pass(self.near_passes > 0);
            if self.rest.is_empty() && self.near_passes > 0 {
                self.near_passes = 0;
                self.rest = pass(false);
            }
            self.drawn = true;
            self.kept_at = members.stamp();
            if self.rest.is_empty() {
                return None;
            }
        }
        None
    }

    /// Positions in `rest` (sorted, in a drawn pass) of the members that `keep` accepts, by one
    /// walk over `rest` and the table side by side (both sorted by id). A table lookup per
    /// member instead made each probe O(n log n) and most of an idle node's CPU at n = 1,000.
    fn kept_in_rest<'a>(
        &'a self,
        members: &'a Membership,
        keep: &'a impl Fn(&Member) -> bool,
    ) -> impl Iterator<Item = usize> + 'a {
        let mut table = members.iter().peekable();
        (self.rest.iter().enumerate())
            .filter_map(move |(i, &id)| kept(&mut table, id, keep).then_some(i))
    }

    /// Hash the members left that could still be visited (`gone`: rejected for good, e.g.
    /// dead), in the order that decides anything: the model checker's fingerprint of a node.
    pub(crate) fn hash_behaviour<H: Hasher>(&self, gone: impl Fn(NodeId) -> bool, state: &mut H) {
        self.drawn.hash(state);
        // Only when counted: a uniform walk keeps the fingerprints it had before zones.
        if self.near_passes > 0 {
            self.near_passes.hash(state);
        }
        for &id in self.rest.iter().filter(|&&id| !gone(id)) {
            id.hash(state);
        }
    }

    /// The same order with ids renamed (the model checker's symmetry reduction).
    pub(crate) fn renamed(&self, id: &dyn Fn(NodeId) -> NodeId) -> Self {
        let mut rest: VecDeque<NodeId> = self.rest.iter().map(|&i| id(i)).collect();
        if self.drawn {
            rest.make_contiguous().sort_unstable();
        }
        ProbeOrder {
            rest,
            drawn: self.drawn,
            near_passes: self.near_passes,
            // Renamed ids: check the renamed table afresh.
            kept_at: Stamp::default(),
        }
    }

    /// The members still to visit in this pass: next first while the pass follows a fixed
    /// order, else sorted.
    pub fn rest(&self) -> impl ExactSizeIterator<Item = NodeId> + '_ {
        self.rest.iter().copied()
    }

    /// Whether this pass is drawn as it goes (every pass after the first).
    pub fn is_drawn(&self) -> bool {
        self.drawn
    }

    /// Whether this pass holds only near members ([`ProbeOrder::next_near`]).
    pub fn is_near_pass(&self) -> bool {
        self.near_passes > 0
    }

    /// Near passes in a row up to this one (0: this pass holds every member).
    pub fn near_passes(&self) -> u8 {
        self.near_passes
    }
}

/// One step of a walk over the table beside a sorted pass: whether the table holds `id` and
/// `keep` accepts it. `table` moves past every id below `id`, so ids must come in order.
fn kept<'a>(
    table: &mut std::iter::Peekable<impl Iterator<Item = &'a Record>>,
    id: NodeId,
    keep: &impl Fn(&Member) -> bool,
) -> bool {
    while table.next_if(|r| r.member.id < id).is_some() {}
    table
        .peek()
        .is_some_and(|r| r.member.id == id && keep(&r.member))
}

/// A probe this node started, alive until the end of its protocol period.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Probe {
    /// The member probed.
    pub target: NodeId,
    /// Where it was probed.
    pub target_addr: SocketAddr,
    /// Generation of the target when probed: no suspicion is raised for this probe if the
    /// target has a new one by then.
    pub generation: u64,
    /// Incarnation of the target when probed: a suspicion raised for this probe uses it.
    pub incarnation: u64,
    /// An ack came, directly or through a helper.
    pub acked: bool,
    /// Judged failed before the period ended (every helper nacked); kept until the tick.
    pub failed: bool,
    /// Helpers asked to probe indirectly in the first round.
    pub helpers: u8,
    /// First-round helpers whose nack has not come yet. Later rounds' helpers are not
    /// awaited: their nacks would come after the period ends, so their silence says nothing
    /// about this node's health.
    pub awaiting: Vec<NodeId>,
    /// Indirect rounds started (`Config::indirect_rounds` at most).
    pub rounds: u8,
    /// Helpers asked in earlier rounds, which later rounds pass over; kept only while a later
    /// round is to come.
    pub asked: Vec<NodeId>,
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
    /// Where the ping-req came from: the ack or nack goes there.
    pub origin: SocketAddr,
    /// Who asked.
    pub origin_id: NodeId,
    /// The origin's sequence number, echoed back.
    pub origin_seq: u32,
    /// The nack went out; the relay now only waits to forward a late ack.
    pub nacked: bool,
}

#[cfg(test)]
mod tests {
    use std::hash::DefaultHasher;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};

    use super::*;
    use crate::member::Meta;
    use crate::status::Status;

    fn member(id: u64, status: Status) -> Member {
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7000 + id as u16);
        Member::alive(NodeId(id), addr, 0, Meta::default()).with_status(status, 0)
    }

    #[test]
    fn a_dead_member_left_in_a_pass_changes_neither_the_walk_nor_the_fingerprint() {
        let mut members = Membership::default();
        members.insert(member(2, Status::Alive), 0);
        members.insert(member(3, Status::Dead), 0);
        members.insert(member(4, Status::Alive), 0);
        let dead = |id: NodeId| {
            members
                .get(id)
                .is_some_and(|r| r.member.status.is_terminal())
        };
        let fingerprint = |o: &ProbeOrder| {
            let mut h = DefaultHasher::new();
            o.hash_behaviour(dead, &mut h);
            h.finish()
        };
        let order = |ids: &[u64]| ProbeOrder {
            rest: ids.iter().map(|&i| NodeId(i)).collect(),
            drawn: true,
            near_passes: 0,
            kept_at: Stamp::default(),
        };
        let (with, without) = (order(&[2, 3, 4]), order(&[2, 4]));
        assert_eq!(fingerprint(&with), fingerprint(&without));
        assert_ne!(fingerprint(&with), fingerprint(&order(&[3, 4])));
        for pick in 0..2 {
            let walk = |mut o: ProbeOrder| {
                let mut ranges = Vec::new();
                let mut rng = |n: usize| {
                    ranges.push(n);
                    pick
                };
                let visits: Vec<_> = (0..3).map(|_| o.next_target(&members, &mut rng)).collect();
                (visits, ranges)
            };
            assert_eq!(walk(with.clone()), walk(without.clone()));
        }
    }

    proptest::proptest! {
        /// With far members in one pass of `f`, every live member is visited at least once
        /// every `(f + 1)(n - 1)` visits, whatever the draws.
        #[test]
        fn far_members_are_visited_within_the_stated_bound(
            zones in proptest::collection::vec(0u8..3, 1..10),
            f in 1u8..5,
            draws in proptest::collection::vec(0usize..1000, 256),
        ) {
            let mut members = Membership::default();
            for (i, &z) in zones.iter().enumerate() {
                let meta = crate::member::Meta::from_pairs([(crate::zone::ZONE_KEY, ["a", "b", "c"][z as usize])]);
                let m = member(i as u64 + 2, Status::Alive);
                members.insert(Member { meta, ..m }, 0);
            }
            let n = zones.len() as u64 + 1; // and us, in zone "a"
            let near = |m: &Member| crate::zone::zone_of(m) == Some("a");
            let mut order = ProbeOrder::default();
            for r in members.iter() {
                order.insert(r.member.id, &mut |k: usize| k - 1);
            }
            let mut draws = draws.into_iter().cycle();
            let mut rng = |k: usize| draws.next().unwrap_or(0) % k;
            let mut last = std::collections::BTreeMap::new();
            let bound = (f as u64 + 1) * (n - 1);
            for visit in 0..(4 * bound) {
                let id = order.next_near(&members, &mut rng, |_| true, near, f, false).unwrap();
                if let Some(prev) = last.insert(id, visit) {
                    proptest::prop_assert!(visit - prev <= bound, "{id:?} waited {} > {bound}", visit - prev);
                }
            }
            for r in members.iter() {
                proptest::prop_assert!(last.contains_key(&r.member.id), "{:?} never visited", r.member.id);
            }
        }
    }

    proptest::proptest! {
        /// The side-by-side walk finds exactly the members a lookup per member finds: ids in
        /// the pass but not in the table (purged), and members `keep` rejects, are skipped.
        #[test]
        fn the_walk_over_rest_and_table_equals_a_lookup_per_member(
            table in proptest::collection::btree_map(0u64..64, 0u8..4, 0..40),
            rest in proptest::collection::btree_set(0u64..64, 0..40),
        ) {
            let mut members = Membership::default();
            for (&id, &s) in &table {
                let status = [Status::Alive, Status::Suspect, Status::Dead, Status::Left][s as usize];
                members.insert(member(id, status), 0);
            }
            let order = ProbeOrder {
                rest: rest.iter().map(|&i| NodeId(i)).collect(),
                drawn: true,
                near_passes: 0,
                kept_at: Stamp::default(),
            };
            let keep = |m: &Member| !m.status.is_terminal();
            let walked: Vec<usize> = order.kept_in_rest(&members, &keep).collect();
            let looked_up: Vec<usize> = (0..order.rest.len())
                .filter(|&i| members.get(order.rest[i]).is_some_and(|r| keep(&r.member)))
                .collect();
            proptest::prop_assert_eq!(walked, looked_up);
        }

        /// Drawing `for_good` picks what the walk picks, through deaths, joins and new
        /// passes: the cached check never lets a dead member through or changes a pick. (It
        /// fails if the stamp misses a change: the table's, or a new pass's.)
        #[test]
        fn drawing_for_good_picks_as_the_walk_does(
            start in proptest::collection::btree_set(0u64..48, 1..24),
            ops in proptest::collection::vec((0u8..4, 0u64..48, 0usize..1000), 0..120),
        ) {
            let mut members = Membership::default();
            for &id in &start {
                members.insert(member(id, Status::Alive), 0);
            }
            let (mut walk, mut cached) = (ProbeOrder::default(), ProbeOrder::default());
            let keep = |m: &Member| !m.status.is_terminal();
            for (op, id, v) in ops {
                let mut rng = |k: usize| v % k;
                match op {
                    0 | 1 => {
                        let a = walk.next_near(&members, &mut rng, keep, |_| true, 1, false);
                        let b = cached.next_near(&members, &mut rng, keep, |_| true, 1, true);
                        proptest::prop_assert_eq!(a, b);
                        if let Some(x) = a {
                            proptest::prop_assert!(keep(&members.get(x).unwrap().member));
                        }
                    }
                    2 => {
                        let Some(from) = members.get(NodeId(id)).map(|r| r.member.status) else {
                            continue;
                        };
                        members.get_mut(NodeId(id)).unwrap().member.status = Status::Dead;
                        members.status_changed(NodeId(id), from, 0);
                    }
                    _ => {
                        if members.get(NodeId(id)).is_none() {
                            members.insert(member(id, Status::Alive), 0);
                            walk.insert(NodeId(id), &mut rng);
                            cached.insert(NodeId(id), &mut rng);
                        }
                    }
                }
            }
        }
    }
}
