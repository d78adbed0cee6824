//! Bounds on what strangers can make a node do (PROTOCOL.md §12, "Bounds on hostile input"):
//! no amplification toward an address that has not proved it receives our datagrams, a bound
//! on the new members one datagram or one source may introduce, a cap on members that never
//! answered a probe, and a bound on incarnation jumps.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;

use crate::Millis;
use crate::codec::{encoded_len, plaintext_overhead};
use crate::effect::Effect;
use crate::faults::Fault;
use crate::member::{Member, NodeId};
use crate::message::{Body, Message};
use crate::pick::{Pick, draw};

use super::Node;

/// An address that has sent us datagrams but not yet proved it receives ours.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Stranger {
    pub(super) addr: SocketAddr,
    /// Bytes received from it (header included).
    pub(super) received: u64,
    /// Bytes sent to it (header included).
    pub(super) sent: u64,
    /// Our validation ping to it: an ack with this sequence number from it validates it.
    pub(super) ping: Option<u32>,
    /// It asked for our view and got only part of it: the rest follows its validation.
    pub(super) owed_view: bool,
}

/// The anti-amplification book-keeping and the intake bounds' state.
///
/// Everything here is bounded by the configuration. Only what the bounds can ever act on is
/// kept: with `max_members` no larger than the intake bounds (the model checker's worlds),
/// the intake state stays empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Guard {
    /// Unvalidated addresses, oldest first (at most `max_strangers`).
    pub(super) strangers: VecDeque<Stranger>,
    /// How many of `strangers` await the ack of our validation ping: while none do, an ack
    /// skips the search through them (a full list is a thousand cold entries).
    pub(super) pinged: usize,
    /// Addresses that answered our validation ping, oldest first (at most `max_validated`).
    pub(super) validated: VecDeque<SocketAddr>,
    /// Live members that never answered a probe of ours (at most `max_unanswered`).
    pub(super) unanswered: BTreeSet<NodeId>,
    /// The last unanswered member given the extra probe slot (round-robin by id).
    pub(super) unanswered_cursor: Option<NodeId>,
    /// Where we asked for a view (`reply = true`), until when its reply is exempt from the
    /// intake bounds.
    pub(super) awaiting_view: Vec<(SocketAddr, Millis)>,
    /// New members introduced per source address this protocol period.
    pub(super) introduced: BTreeMap<SocketAddr, usize>,
}

/// How many views we await at once (seeds and the push-pull partner).
const MAX_AWAITING: usize = 16;

/// What the datagram being handled has introduced so far (not part of the node's state: it
/// lives for one `handle_message`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Intake {
    pub(super) source: SocketAddr,
    /// The sender's id: its own record, at the source address, is how a member joins.
    pub(super) sender: NodeId,
    pub(super) new: usize,
    /// A reply to our own sync request (a seed's, our push-pull partner's): exempt up to
    /// `max_members`, and the members it lists are taken as answered.
    pub(super) asked: bool,
    /// From a live member that answered our probes, at its own address: not bounded per
    /// datagram or source (gossip spreads through such members, and bounding them drops a
    /// join storm's news), but what it introduces still counts as unanswered.
    pub(super) answered: bool,
    /// Whether the source was validated when the datagram arrived (what the datagram itself
    /// carries cannot validate its own source).
    pub(super) validated: bool,
}

impl Node {
    /// Whether `addr` has proved it receives our datagrams, or is taken to: a member we hold
    /// at that address (any status; without encryption a forger can plant such a record),
    /// an address that answered our validation ping, or our own. `id`, the member the
    /// datagram is from or to, is looked at first: its record nearly always holds `addr`, and
    /// that search runs over the compact id index rather than the address map.
    pub(super) fn is_validated(&self, addr: SocketAddr, id: Option<NodeId>) -> bool {
        addr == self.me.addr
            || (id.and_then(|id| self.members.get(id))).is_some_and(|r| {
                r.member.addr == addr || self.faults.has(Fault::TrustsMovedAddress)
            })
            || self.members.has_addr(addr)
            || self.guard.validated.contains(&addr)
            || self.guard.awaiting_view.iter().any(|&(a, _)| a == addr)
    }

    /// Bytes we may still send to `addr` (member `id`'s, if known): `None` when it is
    /// validated (the source of the datagram being handled counts as it was when the datagram
    /// arrived).
    pub(super) fn allowance(&self, addr: SocketAddr, id: Option<NodeId>) -> Option<usize> {
        let arrived_unvalidated = self
            .intake
            .is_some_and(|i| i.source == addr && !i.validated);
        if !arrived_unvalidated && self.is_validated(addr, id) {
            return None;
        }
        Some(self.stranger_budget(addr))
    }

    /// What is left of the budget of the stranger at `addr` (0 if it is not remembered).
    fn stranger_budget(&self, addr: SocketAddr) -> usize {
        let factor = self.config.amplification_factor as u64;
        match self.guard.strangers.iter().find(|s| s.addr == addr) {
            Some(s) => (s.received.saturating_mul(factor)).saturating_sub(s.sent) as usize,
            None => 0,
        }
    }

    /// Count bytes sent to an unvalidated address.
    pub(super) fn charge(&mut self, addr: SocketAddr, bytes: usize) {
        if let Some(s) = self.guard.strangers.iter_mut().find(|s| s.addr == addr) {
            s.sent += bytes as u64;
        }
    }

    /// The most bytes `msg` can take on the wire when we send it (the larger envelope): what
    /// a stranger's budget is charged.
    pub(super) fn sent_len(&self, msg: &Message) -> usize {
        self.overhead + encoded_len(msg)
    }

    /// The fewest bytes `msg` can have taken on the wire when it reached us (a plaintext
    /// envelope): what a stranger is credited, so the budget holds in every encryption mode.
    pub(super) fn received_len(&self, msg: &Message) -> usize {
        plaintext_overhead(&self.config.label) + encoded_len(msg)
    }

    /// A datagram of `len` bytes arrived from `from`, which is not validated: credit it.
    pub(super) fn note_received(&mut self, from: SocketAddr, len: usize) {
        let guard = &mut self.guard;
        if let Some(s) = guard.strangers.iter_mut().find(|s| s.addr == from) {
            s.received += len as u64;
            return;
        }
        if guard.strangers.len() >= self.config.max_strangers
            && let Some(evicted) = guard.strangers.pop_front()
            && evicted.ping.is_some()
        {
            guard.pinged -= 1;
        }
        guard.strangers.push_back(Stranger {
            addr: from,
            received: len as u64,
            sent: 0,
            ping: None,
            owed_view: false,
        });
    }

    /// An ack arrived from `from`: if it answers our validation ping, `from` is validated,
    /// and gets the view it was owed. Returns whether it was such an ack.
    pub(super) fn validation_ack(
        &mut self,
        from: SocketAddr,
        seq: u32,
        out: &mut Vec<Effect>,
    ) -> bool {
        if self.guard.pinged == 0 {
            return false;
        }
        let Some(i) =
            (self.guard.strangers.iter()).position(|s| s.addr == from && s.ping == Some(seq))
        else {
            return false;
        };
        let stranger = self.guard.strangers.remove(i).expect("found above");
        self.guard.pinged -= 1;
        if self.guard.validated.len() >= self.config.max_validated {
            self.guard.validated.pop_front();
        }
        self.guard.validated.push_back(from);
        self.stats.strangers_validated += 1;
        if stranger.owed_view {
            self.send_view(from, false, out);
        }
        true
    }

    /// A stranger asked for our view: only a validation ping (smaller than any request, so
    /// within its budget); its ack proves the address receives ours, and the whole view
    /// follows it. A join costs one round trip more than with a member's address.
    pub(super) fn reply_to_stranger(
        &mut self,
        to: SocketAddr,
        sender: NodeId,
        out: &mut Vec<Effect>,
    ) {
        self.stats.replies_limited += 1;
        let left = self.stranger_budget(to);
        let seq = self.next_seq();
        let ping = Message {
            from: self.me.id,
            body: Body::Ping {
                seq,
                target: sender,
            },
            gossip: Vec::new(),
        };
        let ping_len = self.sent_len(&ping);
        let Some(s) = self.guard.strangers.iter_mut().find(|s| s.addr == to) else {
            return;
        };
        s.owed_view = true;
        if ping_len > left {
            return; // not even a ping fits: the joiner's retry brings more budget
        }
        if s.ping.replace(seq).is_none() {
            self.guard.pinged += 1;
        }
        s.sent += ping_len as u64;
        out.push(Effect::Send { to, msg: ping });
    }

    /// Whether the intake bounds can ever act ([`crate::Config::intake_bounds_act`]).
    pub(super) fn guarded(&self) -> bool {
        self.config.intake_bounds_act()
    }

    /// We ask `to` for its view: its reply is exempt from the intake bounds for two periods.
    pub(super) fn await_view(&mut self, now: Millis, to: SocketAddr) {
        if !self.guarded() {
            return;
        }
        let until = now + 2 * self.config.probe_interval;
        let list = &mut self.guard.awaiting_view;
        list.retain(|&(a, u)| a != to && u > now);
        if list.len() >= MAX_AWAITING {
            list.remove(0);
        }
        list.push((to, until));
    }

    /// How the datagram from `from` may introduce members.
    pub(super) fn intake(
        &self,
        now: Millis,
        from: SocketAddr,
        msg: &Message,
        validated: bool,
    ) -> Intake {
        let asked = matches!(msg.body, Body::Sync { reply: false, .. })
            && (self.guard.awaiting_view.iter()).any(|&(a, until)| a == from && now < until);
        // A live member that answered our probes, writing from its own address: gossip
        // spreads through such members, and bounding them would drop a join storm's news.
        let answered = self.members.get(msg.from).is_some_and(|r| {
            r.member.addr == from
                && !r.member.status.is_terminal()
                && !self.guard.unanswered.contains(&msg.from)
        });
        Intake {
            source: from,
            sender: msg.from,
            new: 0,
            asked,
            answered,
            validated,
        }
    }

    /// May the datagram being handled introduce `incoming`? Counts what it refuses.
    pub(super) fn admit(&mut self, incoming: &Member) -> bool {
        if !self.guarded() || self.faults.has(Fault::AdmitsUnbounded) {
            return true;
        }
        let Some(intake) = self.intake else {
            return true; // our own records (a suspicion, a confirmation, our old self)
        };
        let c = &self.config;
        if intake.asked {
            return true;
        }
        if intake.answered {
            return incoming.status.is_terminal() || self.unanswered_room();
        }
        if incoming.id == intake.sender && incoming.addr == intake.source {
            // A member introducing itself from its own address: how every join starts. It
            // counts as unanswered, so that cap still bounds it.
            return incoming.status.is_terminal() || self.unanswered_room();
        }
        if intake.new >= c.max_new_per_datagram {
            self.stats.dropped_new_per_datagram += 1;
            return false;
        }
        let from_source = self
            .guard
            .introduced
            .get(&intake.source)
            .copied()
            .unwrap_or(0);
        if from_source >= c.max_new_per_source {
            self.stats.dropped_new_per_source += 1;
            return false;
        }
        if self.guard.introduced.len() >= c.max_strangers
            && !self.guard.introduced.contains_key(&intake.source)
        {
            // Too many sources this period (the count per source is bounded memory): the
            // rest wait for the next one.
            self.stats.dropped_new_per_source += 1;
            return false;
        }
        incoming.status.is_terminal() || self.unanswered_room()
    }

    /// `incoming` was admitted and inserted: count it against its datagram and source, and
    /// remember that it never answered us.
    pub(super) fn admitted(&mut self, incoming: &Member) {
        if !self.guarded() {
            return;
        }
        let Some(intake) = self.intake.as_mut() else {
            return;
        };
        if intake.asked {
            return; // vouched for by a member we asked
        }
        if !incoming.status.is_terminal() {
            self.guard.unanswered.insert(incoming.id);
        }
        if intake.answered || (incoming.id == intake.sender && incoming.addr == intake.source) {
            return; // not counted against its datagram or source
        }
        intake.new += 1;
        *self.guard.introduced.entry(intake.source).or_default() += 1;
    }

    /// Whether one more live member that never answered may be held; counts a refusal.
    fn unanswered_room(&mut self) -> bool {
        if self.guard.unanswered.len() >= self.config.max_unanswered {
            self.stats.dropped_unanswered_full += 1;
            return false;
        }
        true
    }

    /// Whether the regular probe order skips members that never answered: when they are more
    /// than `unanswered_free` and outnumber the members that did. Until then they at most
    /// double a probe cycle (a join storm's newcomers stay in it); past it, a flood of
    /// records that never answer cannot stretch it at all.
    pub fn throttled(&self) -> bool {
        if !self.guarded() {
            return false;
        }
        let unanswered = self.guard.unanswered.len();
        let answered = (self.cluster_size() - 1).saturating_sub(unanswered);
        unanswered > self.config.unanswered_free.max(answered)
    }

    /// The unanswered member for this period's extra probe slot: round-robin by id from a
    /// random start, so that members throttled at once do not all probe the same member in
    /// step (a 200-member simulation that started them in the same period never saw a crash).
    pub(super) fn next_unanswered(&mut self, rng: &mut dyn Pick) -> Option<NodeId> {
        use std::ops::Bound::{Excluded, Unbounded};
        let set = &self.guard.unanswered;
        let next = match self.guard.unanswered_cursor {
            Some(c) => set.range((Excluded(c), Unbounded)).next().or(set.first()),
            None if set.is_empty() => None,
            None => set.iter().nth(draw(rng, set.len())),
        }
        .copied();
        self.guard.unanswered_cursor = next;
        next
    }

    /// Does `incoming` jump too far above the highest generation, or (within that generation)
    /// incarnation, seen for its member?
    pub(super) fn jumps(&mut self, incoming: &Member) -> bool {
        let held = super::record(&self.me, &self.members, incoming.id)
            .map_or((0, 0), |m| (m.generation, m.incarnation));
        if incoming.generation > held.0.saturating_add(self.config.max_generation_jump)
            || incoming.generation > crate::member::MAX_GENERATION
        {
            self.stats.dropped_generation_jump += 1;
            return true;
        }
        // A newer generation starts its incarnations over.
        let highest = if incoming.generation == held.0 {
            held.1
        } else {
            0
        };
        if incoming.incarnation > highest.saturating_add(self.config.max_incarnation_jump) {
            self.stats.dropped_incarnation_jump += 1;
            return true;
        }
        false
    }
}

impl Guard {
    /// The same book-keeping with ids and addresses renamed (the model checker's symmetry
    /// reduction).
    pub(super) fn renamed(
        &self,
        id: &dyn Fn(NodeId) -> NodeId,
        addr: &dyn Fn(SocketAddr) -> SocketAddr,
    ) -> Guard {
        Guard {
            strangers: (self.strangers.iter())
                .map(|s| Stranger {
                    addr: addr(s.addr),
                    ..s.clone()
                })
                .collect(),
            pinged: self.pinged,
            validated: self.validated.iter().map(|&a| addr(a)).collect(),
            unanswered: self.unanswered.iter().map(|&i| id(i)).collect(),
            unanswered_cursor: self.unanswered_cursor.map(id),
            awaiting_view: (self.awaiting_view.iter())
                .map(|&(a, u)| (addr(a), u))
                .collect(),
            introduced: (self.introduced.iter())
                .map(|(&a, &n)| (addr(a), n))
                .collect(),
        }
    }
}
