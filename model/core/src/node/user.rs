//! Application data (PROTOCOL.md §13): broadcasts queued and gossiped every `gossip_interval`
//! while any wait, direct messages sent at once, and their delivery to the application.

use crate::Millis;
use crate::effect::Effect;
use crate::faults::Fault;
use crate::member::{Member, NodeId};
use crate::message::Body;
use crate::pick::Pick;
use crate::status::Status;
use crate::timer::Timer;
use crate::user::{Broadcast, UserKind, UserMessage};

use super::{CommandError, Node, Phase};

impl Node {
    fn check_payload(&self, payload: &[u8]) -> Result<(), CommandError> {
        let max = self.config.user_payload_limit();
        if payload.len() > max {
            return Err(CommandError::PayloadTooLarge {
                len: payload.len(),
                max,
            });
        }
        Ok(())
    }

    /// `Command::Broadcast`: queue our broadcast for gossip.
    pub(super) fn broadcast(
        &mut self,
        now: Millis,
        payload: Vec<u8>,
        out: &mut Vec<Effect>,
    ) -> Result<(), CommandError> {
        self.check_payload(&payload)?;
        let broadcast = self.user.next_own(self.me.id, payload);
        // Remembered, so that it is not delivered here when it comes back.
        self.user.remember(&broadcast, self.config.user_dedup);
        self.queue_broadcast(now, broadcast, out);
        Ok(())
    }

    /// `Command::SendTo`: one datagram to a member we hold alive or suspect.
    pub(super) fn send_to(
        &mut self,
        to: NodeId,
        payload: Vec<u8>,
        out: &mut Vec<Effect>,
    ) -> Result<(), CommandError> {
        self.check_payload(&payload)?;
        if to == self.me.id {
            return Err(CommandError::ToSelf);
        }
        let rec = self
            .members
            .get(to)
            .ok_or(CommandError::UnknownMember(to))?;
        if rec.member.status.is_terminal() {
            return Err(CommandError::AlreadyDead(to));
        }
        let addr = rec.member.addr;
        self.send(addr, Some(to), Body::Direct { payload }, out);
        Ok(())
    }

    /// Queue a broadcast whose identity was just remembered; the gossip timer runs while the
    /// queue is not empty.
    fn queue_broadcast(&mut self, now: Millis, broadcast: Broadcast, out: &mut Vec<Effect>) {
        let idle = self.user.is_empty();
        if self.user.push(broadcast, self.config.user_queue) {
            self.stats.user_dropped += 1;
        }
        if idle {
            out.push(Effect::SetTimer {
                timer: Timer::Gossip,
                at: now + self.config.gossip_interval,
            });
        }
    }

    /// Broadcasts received: deliver the ones not seen before, and pass them on (unless
    /// leaving).
    pub(super) fn on_gossip(
        &mut self,
        now: Millis,
        sender: NodeId,
        broadcasts: Vec<Broadcast>,
        out: &mut Vec<Effect>,
    ) {
        for broadcast in broadcasts {
            let new = self.user.remember(&broadcast, self.config.user_dedup);
            if !new && !self.faults.has(Fault::ForgetsBroadcasts) {
                self.stats.user_duplicates += 1;
                continue;
            }
            let from = if self.faults.has(Fault::DeliversFromRelayer) {
                sender
            } else {
                broadcast.origin
            };
            let message = UserMessage {
                from,
                kind: UserKind::Broadcast,
                payload: broadcast.payload.clone(),
            };
            if self.phase == Phase::Running {
                self.queue_broadcast(now, broadcast, out);
            }
            self.stats.user_delivered += 1;
            out.push(Effect::Deliver(message));
        }
    }

    /// A direct message for us.
    pub(super) fn on_direct(&mut self, sender: NodeId, payload: Vec<u8>, out: &mut Vec<Effect>) {
        self.stats.direct_delivered += 1;
        out.push(Effect::Deliver(UserMessage {
            from: sender,
            kind: UserKind::Direct,
            payload,
        }));
    }

    /// Gossip the waiting broadcasts to the next `user_fanout` live members of a round-robin
    /// order (so a broadcast's transmits go to distinct members), membership updates first;
    /// run again while broadcasts wait.
    pub(super) fn gossip_timer(&mut self, now: Millis, rng: &mut dyn Pick, out: &mut Vec<Effect>) {
        if self.phase != Phase::Running || self.user.is_empty() {
            return;
        }
        let live = |m: &Member| matches!(m.status, Status::Alive | Status::Suspect);
        let mut targets: Vec<NodeId> = Vec::with_capacity(self.config.user_fanout);
        while targets.len() < self.config.user_fanout {
            // A repeat means a new pass began with a member this round already has: the
            // round ends there (the new pass goes on from the next round).
            match self.gossip_order.next_where(&self.members, rng, live) {
                Some(id) if !targets.contains(&id) => targets.push(id),
                _ => break,
            }
        }
        for id in targets {
            let addr = self.members.get(id).map(|r| r.member.addr);
            if let Some(addr) = addr {
                let body = Body::Gossip {
                    broadcasts: Vec::new(),
                };
                self.send(addr, Some(id), body, out);
            }
        }
        if !self.user.is_empty() {
            out.push(Effect::SetTimer {
                timer: Timer::Gossip,
                at: now + self.config.gossip_interval,
            });
        }
    }
}
