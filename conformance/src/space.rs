//! Address spaces: a trace's addresses and a replay's.
//!
//! Model node `i` of a checker trace listens on `127.0.0.1:7001+i`: each replay binds its node
//! and the harness sockets on a loopback address of its own, `127.a.b.c`, with the same ports.
//! Simulator member `i` listens on its own loopback address, all on one port: each replay of a
//! member binds the same addresses on a port of its own. Either way replays run in parallel
//! (and beside other tests on `127.0.0.1`). Every address in what goes in (messages, commands)
//! is moved into the replay's space and every address in what comes out (datagrams, view,
//! events) back into the trace's. Only the part shared by every address of the trace changes,
//! so the order of addresses (which the core may depend on) is kept.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};

use swim_checked_core::{Member, MemberEvent, Message};

/// The IP of the trace's addresses.
pub const MODEL_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// What every address of a trace shares, and so what a replay moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addressing {
    /// One IP ([`MODEL_IP`]), a port per node: the checker's traces.
    SharedIp,
    /// One port, a loopback IP per member: the simulator's recordings.
    SharedPort(u16),
}

impl Addressing {
    /// A space of its own for one replay.
    pub fn fresh(self) -> Space {
        match self {
            Addressing::SharedIp => Space::new(next_ip()),
            Addressing::SharedPort(port) => Space::ports(port, next_port(port)),
        }
    }
}

/// Maps the trace's addresses to a replay's and back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// The trace's IP is [`MODEL_IP`]; the replay's is this one.
    Ip(IpAddr),
    /// The trace's addresses are loopback on port `model`; the replay's on port `replay`.
    Port { model: u16, replay: u16 },
}

impl Space {
    /// The checker's addresses, moved to IP `replay`.
    pub fn new(replay: Ipv4Addr) -> Self {
        Space::Ip(IpAddr::V4(replay))
    }

    /// The simulator's addresses (loopback, on port `model`), moved to port `replay`.
    pub fn ports(model: u16, replay: u16) -> Self {
        Space::Port { model, replay }
    }

    /// A trace address in the replay's space.
    pub fn to_replay(&self, addr: SocketAddr) -> SocketAddr {
        match *self {
            Space::Ip(replay) => swap(addr, MODEL_IP, replay),
            Space::Port { model, replay } => swap_port(addr, model, replay),
        }
    }

    /// A replay address in the trace's space.
    pub fn to_model(&self, addr: SocketAddr) -> SocketAddr {
        match *self {
            Space::Ip(replay) => swap(addr, replay, MODEL_IP),
            Space::Port { model, replay } => swap_port(addr, replay, model),
        }
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

fn swap_port(addr: SocketAddr, from: u16, to: u16) -> SocketAddr {
    if addr.ip().is_loopback() && addr.port() == from {
        SocketAddr::new(addr.ip(), to)
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

/// Ports handed out so far in this process.
static NEXT_PORT: AtomicU32 = AtomicU32::new(0);

/// A fresh port for one replay of a trace on port `model`: one that takes as many bytes on the
/// wire (a varint: 2 bytes below 16384, 3 above), so that every datagram keeps its size and the
/// core packs the same gossip into it; below the usual ephemeral range, so that the system
/// hands it to no one else; spread by process id like [`next_ip`]. (`model` is at least 128.)
pub fn next_port(model: u16) -> u16 {
    let (first, span) = if model < 1 << 14 {
        (10_000, 6_000)
    } else {
        (20_000, 10_000)
    };
    let n = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
    (first + (std::process::id().wrapping_mul(7919).wrapping_add(n)) % span) as u16
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
    fn port_translation_round_trips_and_keeps_order() {
        let space = Space::ports(7946, 12345);
        let a: SocketAddr = "127.1.0.0:7946".parse().unwrap();
        let b: SocketAddr = "127.1.0.9:7946".parse().unwrap();
        let (ra, rb) = (space.to_replay(a), space.to_replay(b));
        assert_eq!(ra, "127.1.0.0:12345".parse().unwrap());
        assert!(ra < rb);
        assert_eq!(space.to_model(rb), b);
        let other: SocketAddr = "10.0.0.1:7946".parse().unwrap();
        assert_eq!(space.to_replay(other), other);
    }

    #[test]
    fn fresh_ports_take_as_many_bytes_on_the_wire() {
        let len = |port: u16| swim_checked_core::codec::varint_len(port as usize);
        for model in [7946, 20_000] {
            for _ in 0..1000 {
                assert_eq!(len(next_port(model)), len(model));
            }
        }
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
