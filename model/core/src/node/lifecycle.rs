//! Joining, leaving and rejoining (PROTOCOL.md §3, §7), the other user commands, and the timers
//! a node arms when it starts and cancels when it stops.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use crate::Millis;
use crate::effect::{Effect, MemberEvent};
use crate::gossip::Gossip;
use crate::health::Health;
use crate::member::{Member, Meta, NodeId};
use crate::message::Body;
use crate::pick::Pick;
use crate::status::Status;
use crate::timer::Timer;

use super::{CommandError, Node, Phase};

/// Addresses an automatic rejoin sends our view to: enough that one answers through loss,
/// few enough that a large cluster is not flooded with views.
const REJOIN_CONTACTS: usize = 4;

/// What only a join needs: the seeds to contact, the retries left, and the announce window.
///
/// Created by a join or rejoin and dropped when the node stops. Once the retries are over the
/// seeds (with a single attempt) or the window's end stay behind: nothing reads them any more,
/// but they are part of the node's identity, as they always were for the model checker.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Joining {
    /// Where to send our view; cleared when the retries give up.
    pub(super) seeds: Vec<SocketAddr>,
    /// Retries left after the current attempt.
    attempts_left: u32,
    /// Until this time every live member we learn of from a sync is told about us directly,
    /// so a join storm converges in a round trip, not in gossip rounds. Never 0 once set, so a
    /// node that joined never equals one that did not.
    announce_until: Millis,
}

/// A leave under way: who has yet to acknowledge our `left` record (PROTOCOL.md §7).
///
/// Leaving pings every live member with our `left` record at the head of the gossip (after a
/// buddy record); a member's ack of that ping (sequence number `seq`) proves it holds the
/// record, since a node merges a datagram's gossip before it answers the body. The leave completes once every member that is
/// still live here has acknowledged, or at `leave_timeout`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Departure {
    /// Sequence number of the leave pings.
    seq: u32,
    /// Members yet to acknowledge.
    pub(super) awaiting: BTreeSet<NodeId>,
}

impl Node {
    /// `Command::Join`: contact the seeds (not ourselves), retrying until one answers.
    pub(super) fn join(
        &mut self,
        now: Millis,
        seeds: Vec<SocketAddr>,
        out: &mut Vec<Effect>,
    ) -> Result<(), CommandError> {
        let seeds: Vec<SocketAddr> = seeds.into_iter().filter(|s| *s != self.me.addr).collect();
        if seeds.is_empty() {
            return Err(CommandError::NoSeeds);
        }
        self.start_join(now, seeds, out);
        Ok(())
    }

    /// Contact `seeds` now, and up to `join_attempts - 1` more times while nobody answers.
    fn start_join(&mut self, now: Millis, seeds: Vec<SocketAddr>, out: &mut Vec<Effect>) {
        self.seeds_answered.clear();
        self.joining = Some(Joining {
            seeds,
            attempts_left: self.config.join_attempts.saturating_sub(1),
            announce_until: 0,
        });
        self.contact_seeds(now, out);
    }

    fn contact_seeds(&mut self, now: Millis, out: &mut Vec<Effect>) {
        let probe_interval = self.config.probe_interval;
        let Some(joining) = self.joining.as_mut() else {
            return;
        };
        joining.announce_until = now + 2 * probe_interval;
        let (seeds, retry) = (joining.seeds.clone(), joining.attempts_left > 0);
        for seed in seeds {
            self.await_view(now, seed);
            self.send_view(seed, true, out);
        }
        if retry {
            out.push(Effect::SetTimer {
                timer: Timer::JoinRetry,
                at: now + self.config.join_retry_interval,
            });
        }
    }

    pub(super) fn join_retry(&mut self, now: Millis, out: &mut Vec<Effect>) {
        let Some(joining) = self.joining.as_mut() else {
            return;
        };
        if self.phase != Phase::Running || self.members.live() > 0 || joining.attempts_left == 0 {
            joining.seeds.clear();
            joining.attempts_left = 0;
            return;
        }
        joining.attempts_left -= 1;
        self.contact_seeds(now, out);
    }

    /// Whether a member we learn of now from a sync is to be told about us directly.
    pub(super) fn announcing(&self, now: Millis) -> bool {
        self.joining
            .as_ref()
            .is_some_and(|joining| now < joining.announce_until)
    }

    /// `Command::SetMeta`: new metadata at a raised incarnation.
    pub(super) fn set_meta(&mut self, meta: Meta) -> Result<(), CommandError> {
        let len = meta.encoded_len();
        if len > self.config.max_meta_bytes {
            return Err(CommandError::MetaTooLarge {
                len,
                max: self.config.max_meta_bytes,
            });
        }
        self.me.meta = meta;
        self.me.incarnation += 1;
        self.gossip.enqueue(self.me.id);
        Ok(())
    }

    /// `Command::ConfirmDead`: the application's verdict, merged like any `dead` record.
    pub(super) fn confirm_dead(
        &mut self,
        now: Millis,
        id: NodeId,
        rng: &mut dyn Pick,
        out: &mut Vec<Effect>,
    ) -> Result<(), CommandError> {
        if id == self.me.id {
            return Err(CommandError::IsSelf);
        }
        let rec = self
            .members
            .get(id)
            .ok_or(CommandError::UnknownMember(id))?;
        if rec.member.status.is_terminal() {
            return Err(CommandError::AlreadyDead(id));
        }
        let dead = rec.member.with_status(Status::Dead, rec.member.incarnation);
        self.apply(now, dead, rng, out);
        Ok(())
    }

    pub(super) fn leave(&mut self, now: Millis, out: &mut Vec<Effect>) {
        self.phase = Phase::Leaving;
        self.me.incarnation += 1;
        self.me.status = Status::Left;
        self.gossip.enqueue(self.me.id);
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let awaiting: BTreeSet<NodeId> = (self.members.iter())
            .filter(|r| !r.member.status.is_terminal())
            .map(|r| r.member.id)
            .collect();
        if awaiting.is_empty() {
            self.finish_leave(out);
            return;
        }
        self.departure = Some(Departure { seq, awaiting });
        self.ping_departure(out);
        out.push(Effect::SetTimer {
            timer: Timer::LeaveDone,
            at: now + self.config.leave_timeout,
        });
    }

    /// Ping every member yet to acknowledge our `left` record (which leads each datagram).
    fn ping_departure(&mut self, out: &mut Vec<Effect>) {
        let Some(departure) = &self.departure else {
            return;
        };
        let seq = departure.seq;
        let targets: Vec<(NodeId, SocketAddr)> = (departure.awaiting.iter())
            .filter_map(|&id| self.members.get(id).map(|r| (id, r.member.addr)))
            .collect();
        for (target, addr) in targets {
            self.send(addr, Some(target), Body::Ping { seq, target }, out);
        }
    }

    /// An ack while leaving: if it answers a leave ping, `sender` holds our `left` record.
    /// Returns whether it did.
    pub(super) fn leave_acked(&mut self, sender: NodeId, seq: u32, out: &mut Vec<Effect>) -> bool {
        let Some(departure) = self.departure.as_mut().filter(|d| d.seq == seq) else {
            return false;
        };
        departure.awaiting.remove(&sender);
        self.settle_departure(out);
        true
    }

    /// Stop waiting for members no longer live here; finish once nobody is left to wait for.
    fn settle_departure(&mut self, out: &mut Vec<Effect>) {
        let Some(departure) = self.departure.as_mut() else {
            return;
        };
        let members = &self.members;
        departure.awaiting.retain(|&id| {
            members
                .get(id)
                .is_some_and(|r| !r.member.status.is_terminal())
        });
        if departure.awaiting.is_empty() {
            self.finish_leave(out);
        }
    }

    /// A probe period while leaving: ping again the members that have not acknowledged (a
    /// ping or its ack may have been lost). Returns whether the leave is still under way.
    pub(super) fn departure_tick(&mut self, out: &mut Vec<Effect>) -> bool {
        self.settle_departure(out);
        if self.phase != Phase::Leaving {
            return false;
        }
        self.ping_departure(out);
        true
    }

    /// The wait for our `left` record to spread is over.
    pub(super) fn leave_timer(&mut self, out: &mut Vec<Effect>) {
        if self.phase == Phase::Leaving {
            self.finish_leave(out);
        }
    }

    pub(super) fn finish_leave(&mut self, out: &mut Vec<Effect>) {
        self.phase = Phase::Left;
        self.stop_timers(out);
        out.push(Effect::Event(MemberEvent {
            member: self.me.clone(),
            from: Some(Status::Alive),
            to: Status::Left,
            previous_generation: None,
        }));
    }

    pub(super) fn rejoin(
        &mut self,
        now: Millis,
        id: NodeId,
        rng: &mut dyn Pick,
        out: &mut Vec<Effect>,
    ) -> Result<(), CommandError> {
        if matches!(self.phase, Phase::Running | Phase::Leaving) {
            return Err(CommandError::StillMember);
        }
        if id == self.me.id {
            return Err(CommandError::SameId);
        }
        // Our old self is dead for ever; remember it like any tombstone (a `left` record stays
        // `left`: our view of the old id only moves up the lattice).
        let old = if self.me.status.is_terminal() {
            self.me.clone()
        } else {
            self.me.with_status(Status::Dead, self.me.incarnation)
        };
        if self.members.len() < self.config.max_members {
            self.members.insert(old, now);
        }
        let mut seeds: Vec<SocketAddr> = self
            .members
            .iter()
            .filter(|r| !r.member.status.is_terminal())
            .map(|r| r.member.addr)
            .collect();
        let unfinished = self.joining.take().map(|joining| joining.seeds);
        for seed in unfinished.unwrap_or_default() {
            if !seeds.contains(&seed) {
                seeds.push(seed);
            }
        }
        self.me = Member::alive(id, self.me.addr, 0, self.me.meta.clone());
        self.phase = Phase::Running;
        self.gossip = Gossip::default();
        self.probes.clear();
        self.relays.clear();
        self.health = Health::of(&self.config);
        self.arm_periodic(now, out);
        // Suspicions still pending lost their timers when we stopped: resume them.
        let suspects: Vec<NodeId> = self
            .members
            .iter()
            .filter(|r| r.member.status == Status::Suspect)
            .map(|r| r.member.id)
            .collect();
        for suspect in suspects {
            self.arm_suspicion(now, suspect, rng, out);
        }
        if !seeds.is_empty() {
            self.start_join(now, seeds, out);
        }
        Ok(())
    }

    /// Come back at `generation` after learning that the cluster holds us dead (PROTOCOL.md
    /// §14): alive at incarnation 0 with the same id, address and metadata, our new record at
    /// the head of the gossip, and our view sent to the join's seeds and to a few members we
    /// know (live ones first, lowest ids first: no pick). The view, the probe order and the
    /// timers carry on: only our own record changed.
    pub(super) fn auto_rejoin(&mut self, now: Millis, generation: u64, out: &mut Vec<Effect>) {
        let previous = self.me.generation;
        self.me = self
            .me
            .with_status(Status::Alive, 0)
            .at_generation(generation);
        self.stats.auto_rejoins += 1;
        self.gossip.enqueue(self.me.id);
        // The join's seeds still being tried, then live members (they answer), then the
        // others (we may hold everyone dead).
        let mut seeds: Vec<SocketAddr> = (self.joining.as_ref())
            .map(|j| j.seeds.clone())
            .unwrap_or_default();
        for terminal in [false, true] {
            for r in self.members.iter() {
                if seeds.len() >= REJOIN_CONTACTS {
                    break;
                }
                let addr = r.member.addr;
                if r.member.status.is_terminal() == terminal
                    && addr != self.me.addr
                    && !seeds.contains(&addr)
                {
                    seeds.push(addr);
                }
            }
        }
        out.push(Effect::Event(MemberEvent {
            member: self.me.clone(),
            from: Some(Status::Dead),
            to: Status::Alive,
            previous_generation: Some(previous),
        }));
        if !seeds.is_empty() {
            self.start_join(now, seeds, out);
        }
    }

    pub(super) fn arm_periodic(&self, now: Millis, out: &mut Vec<Effect>) {
        out.push(Effect::SetTimer {
            timer: Timer::Tick,
            at: now + self.probe_interval(),
        });
        if self.config.sync_interval > 0 {
            out.push(Effect::SetTimer {
                timer: Timer::Sync,
                at: now + self.sync_interval(),
            });
        }
    }

    /// Cancel every timer this node may have armed: it stops taking part.
    pub(super) fn stop_timers(&mut self, out: &mut Vec<Effect>) {
        let mut timers = vec![
            Timer::Tick,
            Timer::Sync,
            Timer::JoinRetry,
            Timer::LeaveDone,
            Timer::Gossip,
        ];
        timers.extend(self.probes.keys().map(|&s| Timer::ProbeTimeout(s)));
        timers.extend(self.relays.keys().map(|&s| Timer::Relay(s)));
        timers.extend(
            self.members
                .iter()
                .filter(|r| r.member.status == Status::Suspect)
                .map(|r| Timer::Suspicion(r.member.id)),
        );
        self.probes.clear();
        self.relays.clear();
        self.joining = None;
        self.departure = None;
        self.user.clear();
        self.last_sync = 0;
        out.extend(
            timers
                .into_iter()
                .map(|timer| Effect::CancelTimer { timer }),
        );
    }
}
