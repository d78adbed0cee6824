//! Shared test helpers: drive one [`Node`] with scripted randomness and injected time, and
//! look at the effects it returns.
//!
//! Conventions: the node under test is `id(1)` at `addr(1)`; peer `i` is `id(i)` at `addr(i)`.

use std::collections::VecDeque;
use std::net::SocketAddr;

use proptest::test_runner::{Config as ProptestConfig, RngSeed};

use swim_checked_core::{
    Body, Command, CommandError, Config, Effect, Member, MemberEvent, Message, Meta, Millis, Node,
    NodeId, Pick, Status, Timer,
};

pub fn addr(i: u64) -> SocketAddr {
    SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 7946))
}

pub fn id(i: u64) -> NodeId {
    NodeId(i)
}

/// Randomness scripted by the test: queued answers first, then always 0.
#[derive(Debug, Default)]
pub struct Script(pub VecDeque<usize>);

impl Script {
    pub fn push(&mut self, answers: &[usize]) {
        self.0.extend(answers);
    }
}

impl Pick for Script {
    fn pick(&mut self, _n: usize) -> usize {
        self.0.pop_front().unwrap_or(0)
    }
}

/// A small seeded PRNG (splitmix64): deterministic randomness for simulations.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n >= 1`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent as u64
    }
}

impl Pick for Rng {
    fn pick(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
}

/// Proptest settings: `cases` cases from a fixed seed, so every run explores the same inputs
/// (set `PROPTEST_RNG_SEED` to explore others).
pub fn proptest_config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(cases);
    if config.rng_seed == RngSeed::Random {
        config.rng_seed = RngSeed::Fixed(0x5EED_CAFE);
    }
    config
}

// ----- records -----

pub fn alive(i: u64, inc: u64) -> Member {
    Member::alive(id(i), addr(i), inc, Meta::default())
}

pub fn record(i: u64, inc: u64, status: Status) -> Member {
    alive(i, inc).with_status(status, inc)
}

pub fn suspect(i: u64, inc: u64, by: &[u64]) -> Member {
    let mut m = record(i, inc, Status::Suspect);
    m.suspecters = by.iter().map(|&b| id(b)).collect();
    m
}

/// The lattice part of a record: what the merge is defined on.
pub fn lattice(m: &Member) -> (u64, u64, Status, Vec<NodeId>) {
    (m.generation, m.incarnation, m.status, m.suspecters.clone())
}

// ----- the driver -----

/// One node under test, its clock and its scripted randomness.
#[derive(Debug)]
pub struct Driver {
    pub node: Node,
    pub now: Millis,
    pub script: Script,
}

impl Driver {
    /// Node `id(me)` at `addr(me)`, started at time 0; also returns its start-up effects.
    pub fn new_as(config: Config, me: u64) -> (Self, Vec<Effect>) {
        let mut out = Vec::new();
        let node = Node::new(config, id(me), addr(me), Meta::default(), 0, &mut out)
            .expect("valid config");
        (
            Driver {
                node,
                now: 0,
                script: Script::default(),
            },
            out,
        )
    }

    pub fn new(config: Config) -> Self {
        Self::new_as(config, 1).0
    }

    /// Node 1 that already knows `peers` as `alive(0)` (each learnt from its own record, sent
    /// from its own address: one sync datagram may introduce only a few new members).
    pub fn with_peers(config: Config, peers: impl IntoIterator<Item = u64>) -> Self {
        let mut d = Self::new(config);
        for p in peers {
            d.recv(
                p,
                Body::Sync {
                    reply: false,
                    members: vec![alive(p, 0)],
                },
                vec![],
            );
        }
        d
    }

    /// Deliver a message from peer `from` (sent from `addr(from)`).
    pub fn recv(&mut self, from: u64, body: Body, gossip: Vec<Member>) -> Vec<Effect> {
        let msg = Message {
            from: id(from),
            body,
            gossip,
        };
        let mut out = Vec::new();
        self.node
            .handle_message(self.now, addr(from), msg, &mut self.script, &mut out);
        out
    }

    /// Deliver piggybacked gossip only (on a sync part that asks nothing back).
    pub fn gossip(&mut self, from: u64, gossip: Vec<Member>) -> Vec<Effect> {
        self.recv(
            from,
            Body::Sync {
                reply: false,
                members: vec![],
            },
            gossip,
        )
    }

    pub fn timer(&mut self, timer: Timer) -> Vec<Effect> {
        let mut out = Vec::new();
        self.node
            .handle_timer(self.now, timer, &mut self.script, &mut out);
        out
    }

    /// Move the clock to `at` and fire `timer`.
    pub fn timer_at(&mut self, at: Millis, timer: Timer) -> Vec<Effect> {
        assert!(at >= self.now, "time goes forward");
        self.now = at;
        self.timer(timer)
    }

    pub fn cmd(&mut self, command: Command) -> Result<Vec<Effect>, CommandError> {
        let mut out = Vec::new();
        self.node
            .handle_command(self.now, command, &mut self.script, &mut out)?;
        Ok(out)
    }

    pub fn me(&self) -> &Member {
        self.node.local_member()
    }

    pub fn status_of(&self, i: u64) -> Option<Status> {
        self.node.member(id(i)).map(|m| m.status)
    }

    /// Start a protocol period at `at`: returns `(seq, target)` of the ping sent and all effects.
    pub fn probe_at(&mut self, at: Millis) -> (u32, NodeId, Vec<Effect>) {
        let out = self.timer_at(at, Timer::Tick);
        let (seq, target) = pings(&out)
            .first()
            .map(|&(_, seq, target)| (seq, target))
            .expect("the tick sends a ping");
        (seq, target, out)
    }
}

// ----- effects -----

pub fn sends(effects: &[Effect]) -> Vec<(SocketAddr, &Message)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to, msg } => Some((*to, msg)),
            _ => None,
        })
        .collect()
}

pub fn events(effects: &[Effect]) -> Vec<&MemberEvent> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Event(ev) => Some(ev),
            _ => None,
        })
        .collect()
}

/// The last deadline set for `timer`, if any.
pub fn timer_set(effects: &[Effect], timer: Timer) -> Option<Millis> {
    effects.iter().rev().find_map(|e| match e {
        Effect::SetTimer { timer: t, at } if *t == timer => Some(*at),
        _ => None,
    })
}

pub fn cancelled(effects: &[Effect], timer: Timer) -> bool {
    effects
        .iter()
        .any(|e| matches!(e, Effect::CancelTimer { timer: t } if *t == timer))
}

/// `(to, seq, target)` of every ping sent.
pub fn pings(effects: &[Effect]) -> Vec<(SocketAddr, u32, NodeId)> {
    sends(effects)
        .into_iter()
        .filter_map(|(to, m)| match m.body {
            Body::Ping { seq, target } => Some((to, seq, target)),
            _ => None,
        })
        .collect()
}

/// `(to, seq, target)` of every ping-req sent.
pub fn ping_reqs(effects: &[Effect]) -> Vec<(SocketAddr, u32, NodeId)> {
    sends(effects)
        .into_iter()
        .filter_map(|(to, m)| match m.body {
            Body::PingReq { seq, target, .. } => Some((to, seq, target)),
            _ => None,
        })
        .collect()
}

/// Every record piggybacked or synced in the messages sent.
pub fn carried(effects: &[Effect]) -> Vec<&Member> {
    sends(effects)
        .into_iter()
        .flat_map(|(_, m)| {
            let synced: &[Member] = match &m.body {
                Body::Sync { members, .. } => members,
                _ => &[],
            };
            m.gossip.iter().chain(synced)
        })
        .collect()
}

/// The peer index of an id made by [`id`].
pub fn peer(id: NodeId) -> u64 {
    id.0
}

/// `config` without PROTOCOL.md §14 (automatic rejoin, isolation hold): for the tests of the
/// rules underneath, where a node declared dead stops and every expired suspicion is a verdict.
pub fn classic(config: Config) -> Config {
    Config {
        auto_rejoin: false,
        isolation_hold: false,
        ..config
    }
}
