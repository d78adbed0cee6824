//! The protocol messages. Every message carries piggybacked gossip.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::member::{Member, NodeId};
use crate::user::Broadcast;

/// One datagram's worth of protocol: who sent it, what it asks, and the gossip riding along.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Message {
    /// The sender's id (replies go to the datagram's source address).
    pub from: NodeId,
    /// What the message asks.
    pub body: Body,
    /// Piggybacked updates, least-sent first (a suspect or dead destination's own record first).
    pub gossip: Vec<Member>,
}

/// What a message asks of its receiver.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Body {
    /// Are you alive? `target` guards against a restarted process answering for its old id.
    Ping {
        /// The prober's sequence number, echoed in the ack.
        seq: u32,
        /// Whom the prober means to reach.
        target: NodeId,
    },
    /// Please probe `target` for me and forward its ack (or a nack if it stays silent).
    PingReq {
        /// The origin's sequence number, echoed in the forwarded ack or nack.
        seq: u32,
        /// The member to probe.
        target: NodeId,
        /// Where to probe it.
        target_addr: SocketAddr,
    },
    /// Answer to `ping(seq)`, sent directly or forwarded by a helper.
    Ack {
        /// The sequence number of the ping answered.
        seq: u32,
    },
    /// A helper's "still no answer" at 80% of its timeout: the helper itself is healthy.
    Nack {
        /// The sequence number of the origin's ping-req.
        seq: u32,
    },
    /// Part of a full view (push-pull anti-entropy, join, leave). `reply` asks the receiver to
    /// answer with its own full view.
    Sync {
        /// Whether the receiver should answer with its own full view.
        reply: bool,
        /// Records from the sender's view.
        members: Vec<Member>,
    },
    /// Gossip alone (PROTOCOL.md §13): sent every `gossip_interval` to `user_fanout` members
    /// while application broadcasts wait; piggybacks membership updates first, then
    /// `broadcasts` in the room left. Never answered.
    Gossip {
        /// Application broadcasts, least-sent first.
        broadcasts: Vec<Broadcast>,
    },
    /// Application data for the receiver alone (PROTOCOL.md §13). Never answered.
    Direct {
        /// The application's bytes.
        payload: Vec<u8>,
    },
}

impl Message {
    /// The same message with every node id and address in it mapped (see
    /// [`Member::renamed`]).
    pub fn renamed(
        &self,
        id: &dyn Fn(NodeId) -> NodeId,
        addr: &dyn Fn(SocketAddr) -> SocketAddr,
    ) -> Message {
        let body = match &self.body {
            Body::Ping { seq, target } => Body::Ping {
                seq: *seq,
                target: id(*target),
            },
            Body::PingReq {
                seq,
                target,
                target_addr,
            } => Body::PingReq {
                seq: *seq,
                target: id(*target),
                target_addr: addr(*target_addr),
            },
            Body::Sync { reply, members } => Body::Sync {
                reply: *reply,
                members: members.iter().map(|m| m.renamed(id, addr)).collect(),
            },
            Body::Gossip { broadcasts } => Body::Gossip {
                broadcasts: (broadcasts.iter())
                    .map(|b| Broadcast {
                        origin: id(b.origin),
                        ..b.clone()
                    })
                    .collect(),
            },
            other => other.clone(),
        };
        Message {
            from: id(self.from),
            body,
            gossip: self.gossip.iter().map(|m| m.renamed(id, addr)).collect(),
        }
    }
}

impl Body {
    /// Short name for logs and traces.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Ping { .. } => "ping",
            Body::PingReq { .. } => "ping_req",
            Body::Ack { .. } => "ack",
            Body::Nack { .. } => "nack",
            Body::Sync { .. } => "sync",
            Body::Gossip { .. } => "gossip",
            Body::Direct { .. } => "direct",
        }
    }
}
