//! Bounds on what strangers can make a node do (PROTOCOL.md §12, "Bounds on hostile input"):
//! no amplification toward an address that has not proved it receives our datagrams, a bound
//! on the new members one datagram or one source may introduce, a cap on members that never
//! answered a probe, and a bound on incarnation jumps.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;

use crate::Millis;
use crate::codec::{encoded_len, varint_len};
use crate::effect::Effect;
use crate::member::{Member, NodeId};
use crate::message::{Body, Message};

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
    pub(super) new: usize,
    /// A reply to our own sync request: exempt up to `max_members`.
    pub(super) exempt: bool,
    /// Whether the source was validated when the datagram arrived (what the datagram itself
    /// carries cannot validate its own source).
    pub(super) validated: bool,
}

impl Node {
    /// Whether `addr` has proved it receives our datagrams, or is taken to: a member we hold
    /// at that address (any status; without encryption a forger can plant such a record),
    /// an address that answered our validation ping, or our own.
    pub(super) fn is_validated(&self, addr: SocketAddr) -> bool {
        addr == self.me.addr || self.members.has_addr(addr) || self.guard.validated.contains(&addr)
    }

    /// Bytes we may still send to `addr`: `None` when it is validated (the source of the
    /// datagram being handled counts as it was when the datagram arrived).
    pub(super) fn allowance(&self, addr: SocketAddr) -> Option<usize> {
        let arrived_unvalidated = self
            .intake
            .is_some_and(|i| i.source == addr && !i.validated);
        if !arrived_unvalidated && self.is_validated(addr) {
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

    /// The size of `msg` as a datagram, header and the larger (sealed) envelope included. Bytes
    /// received and sent are both counted so: exact on the wire when the cluster seals, and in
    /// the clear a request of `r` bytes can buy up to `3 (r + 36)` (see PROTOCOL.md §12).
    pub(super) fn datagram_len(&self, msg: &Message) -> usize {
        self.overhead + encoded_len(msg)
    }

    /// A datagram of `len` bytes arrived from `from`: credit an unvalidated source.
    pub(super) fn note_received(&mut self, from: SocketAddr, len: usize) {
        if self.is_validated(from) {
            return;
        }
        let guard = &mut self.guard;
        if let Some(s) = guard.strangers.iter_mut().find(|s| s.addr == from) {
            s.received += len as u64;
            return;
        }
        if guard.strangers.len() >= self.config.max_strangers {
            guard.strangers.pop_front();
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
        let Some(i) =
            (self.guard.strangers.iter()).position(|s| s.addr == from && s.ping == Some(seq))
        else {
            return false;
        };
        let stranger = self.guard.strangers.remove(i).expect("found above");
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

    /// A stranger asked for our view: send what its budget allows (our own record first, then
    /// room for a validation ping, then more records); the rest follows its ack.
    pub(super) fn reply_to_stranger(
        &mut self,
        to: SocketAddr,
        sender: NodeId,
        out: &mut Vec<Effect>,
    ) {
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
        let ping_len = self.datagram_len(&ping);
        let empty = Message {
            from: self.me.id,
            body: Body::Sync {
                reply: false,
                members: Vec::new(),
            },
            gossip: Vec::new(),
        };
        let base = self.datagram_len(&empty);
        let view: Vec<Member> = self.members().cloned().collect();
        let total = view.len();
        let mut members: Vec<Member> = Vec::new();
        let mut size = base;
        for m in view {
            let grow = encoded_len(&m) + varint_len(members.len() + 1) - varint_len(members.len());
            // Our own record if it fits at all; the others only with room left for the ping.
            let limit = match members.is_empty() {
                true => left,
                false => left.saturating_sub(ping_len),
            };
            if size + grow > limit.min(self.config.max_datagram) {
                break;
            }
            size += grow;
            members.push(m);
        }
        let complete = members.len() == total;
        let mut spent = 0;
        if !members.is_empty() {
            let msg = self.sync_message(to, false, members);
            if let Effect::Send { msg, .. } = &msg {
                spent = self.datagram_len(msg);
            }
            out.push(msg);
        }
        self.charge(to, spent);
        if complete {
            return;
        }
        self.stats.replies_limited += 1;
        let Some(s) = self.guard.strangers.iter_mut().find(|s| s.addr == to) else {
            return;
        };
        s.owed_view = true;
        if spent + ping_len <= left {
            s.ping = Some(seq);
            s.sent += ping_len as u64;
            out.push(Effect::Send { to, msg: ping });
        }
    }

    /// Whether the intake bounds can ever act: with `max_members` no larger than every one of
    /// them, no datagram, source or backlog can exceed them, and their state is not kept.
    pub(super) fn guarded(&self) -> bool {
        let c = &self.config;
        c.max_members
            > c.max_new_per_datagram
                .min(c.max_new_per_source)
                .min(c.unanswered_free)
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
        body: &Body,
        validated: bool,
    ) -> Intake {
        let exempt = matches!(body, Body::Sync { reply: false, .. })
            && (self.guard.awaiting_view.iter()).any(|&(a, until)| a == from && now < until);
        Intake {
            source: from,
            new: 0,
            exempt,
            validated,
        }
    }

    /// May the datagram being handled introduce `incoming`? Counts what it refuses.
    pub(super) fn admit(&mut self, incoming: &Member) -> bool {
        if !self.guarded() {
            return true;
        }
        let Some(intake) = self.intake else {
            return true; // our own records (a suspicion, a confirmation, our old self)
        };
        if intake.exempt {
            return true;
        }
        let c = &self.config;
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
        if !incoming.status.is_terminal() && self.guard.unanswered.len() >= c.max_unanswered {
            self.stats.dropped_unanswered_full += 1;
            return false;
        }
        if self.guard.introduced.len() >= self.config.max_strangers
            && !self.guard.introduced.contains_key(&intake.source)
        {
            // Too many sources this period: the rest wait for the next one.
            self.stats.dropped_new_per_source += 1;
            return false;
        }
        true
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
        intake.new += 1;
        if intake.exempt {
            return; // vouched for by a member we asked
        }
        *self.guard.introduced.entry(intake.source).or_default() += 1;
        if !incoming.status.is_terminal() {
            self.guard.unanswered.insert(incoming.id);
        }
    }

    /// Whether the regular probe order skips members that never answered (too many of them).
    pub(super) fn throttled(&self) -> bool {
        self.guarded() && self.guard.unanswered.len() > self.config.unanswered_free
    }

    /// The unanswered member for this period's extra probe slot (round-robin by id).
    pub(super) fn next_unanswered(&mut self) -> Option<NodeId> {
        use std::ops::Bound::{Excluded, Unbounded};
        let set = &self.guard.unanswered;
        let next = match self.guard.unanswered_cursor {
            Some(c) => set.range((Excluded(c), Unbounded)).next().or(set.first()),
            None => set.first(),
        }
        .copied();
        self.guard.unanswered_cursor = next;
        next
    }

    /// Does `incoming` jump too far above the highest incarnation seen for its member?
    pub(super) fn jumps(&mut self, incoming: &Member) -> bool {
        let highest =
            super::record(&self.me, &self.members, incoming.id).map_or(0, |m| m.incarnation);
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
