//! Packing datagrams (PROTOCOL.md §6): piggybacked gossip within the byte budget, the buddy
//! record first, and full views split over sync datagrams.

use std::net::SocketAddr;

use crate::codec::encoded_len;
use crate::effect::Effect;
use crate::faults::Fault;
use crate::gossip::{Budget, retransmit_limit};
use crate::member::{Member, Meta, NodeId};
use crate::message::{Body, Message};
use crate::status::Status;

use super::{Node, Phase, record};

impl Node {
    /// Send `body` to `to`, filling the rest of the datagram with gossip. If the destination is
    /// suspect (or dead) here, its own record goes first (buddy system, unless
    /// `lifeguard_buddy` is off: it learns of the suspicion at once and can refute it); while
    /// we leave, our `left` record comes next; neither spends transmits. A gossip body then
    /// takes application broadcasts in the room the membership updates left.
    pub(super) fn send(
        &mut self,
        to: SocketAddr,
        to_id: Option<NodeId>,
        body: Body,
        out: &mut Vec<Effect>,
    ) {
        let mut msg = Message {
            from: self.me.id,
            body,
            gossip: Vec::new(),
        };
        let base = self.overhead + encoded_len(&msg);
        let allowance = self.allowance(to, to_id);
        let mut free = self.config.max_datagram.saturating_sub(base);
        if let Some(left) = allowance {
            // An unvalidated address: no more than its amplification budget.
            if base > left {
                self.stats.replies_limited += 1;
                return;
            }
            free = free.min(left - base);
        }
        let mut budget = Budget { free, count: 0 };
        // Records already in the datagram, not to be packed again from the queue.
        let mut lead = [self.me.id; 2];
        let mut leading = 0;
        if let Some(t) = to_id
            && (self.config.lifeguard_buddy || self.faults.has(Fault::IgnoresLifeguardSwitches))
            && !self.faults.has(Fault::NoBuddy)
            && let Some(rec) = self.members.get(t)
            && rec.member.status != Status::Alive
            && budget.take(encoded_len(&rec.member))
        {
            msg.gossip.push(rec.member.clone());
            lead[0] = t;
            leading = 1;
        }
        // A member whose tombstone expired here is told it is dead all the same: nothing else
        // would tell it any more (PROTOCOL.md §14).
        if let Some(t) = to_id
            && leading == 0
            && t != self.me.id
            && self.members.get(t).is_none()
            && let Some(generation) = self.members.purged_generation(t)
        {
            let dead = Member::alive(t, to, 0, Meta::default())
                .at_generation(generation)
                .with_status(Status::Dead, 0);
            if budget.take(encoded_len(&dead)) {
                msg.gossip.push(dead);
                lead[0] = t;
                leading = 1;
            }
        }
        if self.phase == Phase::Leaving && budget.take(encoded_len(&self.me)) {
            msg.gossip.push(self.me.clone());
            lead[leading] = self.me.id;
            leading += 1;
        }
        let mut limit = retransmit_limit(self.config.retransmit_mult, self.cluster_size());
        if self.faults.has(Fault::RetransmitsUnbounded) {
            limit = u32::MAX;
        }
        let (me, members) = (&self.me, &self.members);
        let current = |id: NodeId| record(me, members, id);
        self.gossip.pack(
            &mut budget,
            limit,
            &lead[..leading],
            &current,
            &mut msg.gossip,
        );
        if let Body::Gossip { broadcasts } = &mut msg.body {
            let mut room = Budget {
                free: budget.free,
                count: 0,
            };
            let mut limit = retransmit_limit(self.config.user_retransmit_mult, self.cluster_size());
            if self.faults.has(Fault::BroadcastsUnbounded) {
                limit = u32::MAX;
            }
            self.user.pack(&mut room, limit, broadcasts);
        }
        if allowance.is_some() {
            let len = self.sent_len(&msg);
            self.charge(to, len);
        }
        out.push(Effect::Send { to, msg });
    }

    /// Our full view (ourselves and every record, tombstones included), split over as many
    /// sync datagrams as it takes. Only the first asks for a reply.
    pub(super) fn send_view(&mut self, to: SocketAddr, reply: bool, out: &mut Vec<Effect>) {
        let empty = Message {
            from: self.me.id,
            body: Body::Sync {
                reply,
                members: Vec::new(),
            },
            gossip: Vec::new(),
        };
        let room = self
            .config
            .max_datagram
            .saturating_sub(self.overhead + encoded_len(&empty));
        let mut chunk: Vec<Member> = Vec::new();
        let mut budget = Budget {
            free: room,
            count: 0,
        };
        let mut first = true;
        let view: Vec<&Member> = self.members().collect();
        for member in view {
            let size = encoded_len(member);
            if !budget.take(size) {
                if !chunk.is_empty() {
                    out.push(self.sync_message(to, reply && first, std::mem::take(&mut chunk)));
                    first = false;
                }
                budget = Budget {
                    free: room,
                    count: 0,
                };
                if !budget.take(size) {
                    continue; // cannot happen with a validated config
                }
            }
            chunk.push(member.clone());
        }
        if !chunk.is_empty() {
            out.push(self.sync_message(to, reply && first, chunk));
        }
    }

    pub(super) fn sync_message(&self, to: SocketAddr, reply: bool, members: Vec<Member>) -> Effect {
        Effect::Send {
            to,
            msg: Message {
                from: self.me.id,
                body: Body::Sync { reply, members },
                gossip: Vec::new(),
            },
        }
    }
}
