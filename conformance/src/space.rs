//! Address spaces: a trace's addresses and a replay's.
//!
//! Model node `i` listens on `127.0.0.1:7001+i`. Each replay binds its node and the harness
//! sockets on a loopback address of its own, `127.a.b.c`, with the same ports, so that replays
//! run in parallel (and beside other tests on `127.0.0.1`). Every address in what goes in
//! (messages, commands) is moved into the replay's space and every address in what comes out
//! (datagrams, view, events) back into the trace's. Only the IP changes: the order of addresses
//! (which the core may depend on) is kept.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};

use swim_checked_core::{Member, MemberEvent, Message};

/// The IP of the trace's addresses.
pub const MODEL_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Maps the trace's IP to a replay's and back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Space {
    replay: IpAddr,
}

impl Space {
    pub fn new(replay: Ipv4Addr) -> Self {
        Space {
            replay: IpAddr::V4(replay),
        }
    }

    /// The replay's loopback IP.
    pub fn ip(&self) -> IpAddr {
        self.replay
    }

    /// A trace address in the replay's space.
    pub fn to_replay(&self, addr: SocketAddr) -> SocketAddr {
        swap(addr, MODEL_IP, self.replay)
    }

    /// A replay address in the trace's space.
    pub fn to_model(&self, addr: SocketAddr) -> SocketAddr {
        swap(addr, self.replay, MODEL_IP)
    }

    pub fn message_to_replay(&self, msg: &Message) -> Message {
        msg.renamed(&|id| id, &|a| self.to_replay(a))
    }

    pub fn message_to_model(&self, msg: &Message) -> Message {
        msg.renamed(&|id| id, &|a| self.to_model(a))
    }

    pub fn member_to_model(&self, m: &Member) -> Member {
        m.renamed(&|id| id, &|a| self.to_model(a))
    }

    pub fn event_to_model(&self, e: &MemberEvent) -> MemberEvent {
        MemberEvent {
            member: self.member_to_model(&e.member),
            ..e.clone()
        }
    }
}

fn swap(addr: SocketAddr, from: IpAddr, to: IpAddr) -> SocketAddr {
    if addr.ip() == from {
        SocketAddr::new(to, addr.port())
    } else {
        addr
    }
}

/// Loopback IPs handed out so far in this process.
static NEXT_IP: AtomicU32 = AtomicU32::new(0);

/// A fresh loopback IP `127.a.b.c` for one replay (never `127.0.0.x`). Processes start at
/// different places (by process id) so that concurrent test runs rarely meet; a replay that
/// finds its ports taken anyway asks for the next one.
pub fn next_ip() -> Ipv4Addr {
    const SPAN: u32 = 200 * 250 * 250;
    let n = NEXT_IP.fetch_add(1, Ordering::Relaxed);
    let n = (std::process::id().wrapping_mul(7919).wrapping_add(n)) % SPAN;
    let a = 20 + n / (250 * 250);
    let b = 1 + (n / 250) % 250;
    let c = 1 + n % 250;
    Ipv4Addr::new(127, a as u8, b as u8, c as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use swim_checked_core::{Body, Meta, NodeId};

    #[test]
    fn translation_round_trips_and_keeps_order() {
        let space = Space::new(Ipv4Addr::new(127, 40, 3, 9));
        let a: SocketAddr = "127.0.0.1:7001".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:7003".parse().unwrap();
        let (ra, rb) = (space.to_replay(a), space.to_replay(b));
        assert_eq!(ra, "127.40.3.9:7001".parse().unwrap());
        assert!(ra < rb);
        assert_eq!(space.to_model(rb), b);
        let other: SocketAddr = "10.0.0.1:7001".parse().unwrap();
        assert_eq!(space.to_replay(other), other);
        let msg = Message {
            from: NodeId(1),
            body: Body::PingReq {
                seq: 3,
                target: NodeId(2),
                target_addr: b,
            },
            gossip: vec![Member::alive(NodeId(3), a, 1, Meta::default())],
        };
        let there = space.message_to_replay(&msg);
        assert_eq!(there.gossip[0].addr, ra);
        assert!(matches!(there.body, Body::PingReq { target_addr, .. } if target_addr == rb));
        assert_eq!(space.message_to_model(&there), msg);
    }

    #[test]
    fn fresh_ips_are_distinct_loopback_addresses() {
        let ips: std::collections::BTreeSet<Ipv4Addr> = (0..1000).map(|_| next_ip()).collect();
        assert_eq!(ips.len(), 1000);
        assert!(
            ips.iter()
                .all(|ip| ip.is_loopback() && ip.octets()[1] >= 20)
        );
    }
}
