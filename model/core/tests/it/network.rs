//! N cores wired through an in-memory network that loses, delays, reorders and duplicates
//! datagrams (every one goes through the codec), under random user commands, crashes and
//! spurious timers. After every step the PROTOCOL.md §9 safety properties are checked:
//! monotone views, no resurrection, self always alive at its own incarnation while running,
//! no incarnation above its owner's. Deterministic tests add accuracy on a reliable network,
//! completeness after a crash, and convergence once the network heals.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use crate::common::{Rng, *};
use proptest::prelude::*;
use swim_checked_core::status::join;
use swim_checked_core::{
    Command, Config, Effect, EventKind, Member, Meta, Millis, Node, NodeId, Phase, Status, Timer,
    TimerTable, Wire,
};

#[derive(Clone, Debug)]
enum Op {
    Leave,
    SetMeta(u8),
    ConfirmDead(usize),
    Rejoin,
    Crash,
    /// Fire a timer that may not be armed (a shell racing a cancel).
    Spurious(u8, u32),
}

#[derive(Clone, Debug)]
struct Faults {
    loss: u32,
    dup: u32,
    max_delay: Millis,
    /// Side of the partition of each node: datagrams between sides are lost.
    sides: Option<Vec<u8>>,
}

const RELIABLE: Faults = Faults {
    loss: 0,
    dup: 0,
    max_delay: 40,
    sides: None,
};

struct Sim {
    wire: Wire,
    cap: usize,
    nodes: Vec<Node>,
    timers: Vec<TimerTable>,
    crashed: Vec<bool>,
    /// (delivery time, sequence) -> (destination index, source address, datagram)
    net: BTreeMap<(Millis, u64), (usize, SocketAddr, Vec<u8>)>,
    sent: u64,
    now: Millis,
    rng: Rng,
    faults: Faults,
    next_id: u64,
    // What the safety properties remember.
    seen: Vec<BTreeMap<NodeId, Member>>,
    dead: Vec<BTreeSet<NodeId>>,
    owner_inc: BTreeMap<NodeId, u64>,
    suspicions: usize,
    /// Rejoin (as the application would) as soon as the cluster removes a node.
    auto_rejoin: bool,
    rejoins: usize,
}

impl Sim {
    fn new(n: usize, config: Config, seed: u64, faults: Faults) -> Self {
        let mut sim = Sim {
            wire: Wire::new(&config),
            cap: config.suspicion_confirmations + 1,
            nodes: Vec::new(),
            timers: vec![TimerTable::new(); n],
            crashed: vec![false; n],
            net: BTreeMap::new(),
            sent: 0,
            now: 0,
            rng: Rng(seed),
            faults,
            next_id: 1_000,
            seen: vec![BTreeMap::new(); n],
            dead: vec![BTreeSet::new(); n],
            owner_inc: BTreeMap::new(),
            suspicions: 0,
            auto_rejoin: false,
            rejoins: 0,
        };
        for i in 0..n {
            let mut out = Vec::new();
            let node = Node::new(
                config.clone(),
                id(i as u64 + 1),
                addr(i as u64 + 1),
                Meta::default(),
                0,
                &mut out,
            )
            .unwrap();
            sim.nodes.push(node);
            sim.after(i, out);
        }
        for i in 1..n {
            sim.command(
                i,
                Command::Join {
                    seeds: vec![addr(1)],
                },
            );
        }
        sim
    }

    fn index_of(&self, to: SocketAddr) -> Option<usize> {
        (0..self.nodes.len()).find(|&j| addr(j as u64 + 1) == to)
    }

    /// Carry out the effects of a step of node `i`, then check the properties.
    fn after(&mut self, i: usize, out: Vec<Effect>) {
        for e in out {
            if let Effect::SetTimer { timer, at } = e {
                assert!(at > self.now, "{timer:?} armed in the past");
            }
            if self.timers[i].apply(&e) {
                continue;
            }
            match e {
                Effect::Send { to, msg } => {
                    assert_eq!(msg.from, self.nodes[i].id());
                    let bytes = self.wire.encode(&msg).expect("every datagram fits");
                    let Some(j) = self.index_of(to) else { continue };
                    if let Some(sides) = &self.faults.sides
                        && sides[i] != sides[j]
                    {
                        continue;
                    }
                    let copies = 1 + self.rng.chance(self.faults.dup) as usize;
                    for _ in 0..copies {
                        if self.rng.chance(self.faults.loss) {
                            continue;
                        }
                        let at = self.now + 1 + self.rng.below(self.faults.max_delay);
                        self.sent += 1;
                        self.net
                            .insert((at, self.sent), (j, addr(i as u64 + 1), bytes.clone()));
                    }
                }
                Effect::Event(ev) => {
                    if ev.kind() == EventKind::Suspect {
                        self.suspicions += 1;
                    }
                }
                Effect::SetTimer { .. } | Effect::CancelTimer { .. } => {} // applied above
                Effect::Deliver(_) => {} // no application data in these runs
            }
        }
        self.check(i);
        if self.auto_rejoin && self.nodes[i].phase() == Phase::Removed {
            self.rejoins += 1;
            self.command(i, Command::Rejoin { id: NodeId(0) });
        }
    }

    /// PROTOCOL.md §9 safety properties 1-4, for observer `o`.
    fn check(&mut self, o: usize) {
        let node = &self.nodes[o];
        let me = node.local_member();
        let inc = self.owner_inc.entry(me.id).or_insert(0);
        assert!(
            me.incarnation >= *inc,
            "{:?} lowered its own incarnation",
            me.id
        );
        *inc = me.incarnation;
        if node.phase() == Phase::Running {
            assert_eq!(me.status, Status::Alive, "self-view of {:?}", me.id);
            assert_eq!(node.member(me.id), Some(me));
            assert_eq!(node.members().filter(|m| m.id == me.id).count(), 1);
        }
        for m in node.members() {
            let owner = self.owner_inc.get(&m.id).copied();
            assert!(
                owner.is_some_and(|inc| m.incarnation <= inc),
                "node {o} holds {m:?} above its owner's incarnation {owner:?}"
            );
            if let Some(prev) = self.seen[o].get(&m.id) {
                assert_eq!(
                    lattice(&join(prev, m, self.cap)),
                    lattice(m),
                    "node {o}: view of {:?} went down from {prev:?} to {m:?}",
                    m.id
                );
            }
            if self.dead[o].contains(&m.id) {
                assert!(m.status.is_terminal(), "node {o}: {:?} resurrected", m.id);
            }
            if m.status.is_terminal() {
                self.dead[o].insert(m.id);
            }
            self.seen[o].insert(m.id, m.clone());
        }
    }

    fn command(&mut self, i: usize, mut command: Command) {
        if let Command::Rejoin { id } = &mut command {
            self.next_id += 1;
            *id = NodeId(self.next_id);
        }
        let mut out = Vec::new();
        let before = self.nodes[i].clone();
        let result = self.nodes[i].handle_command(self.now, command, &mut self.rng, &mut out);
        if result.is_err() {
            assert!(
                out.is_empty() && self.nodes[i] == before,
                "refused but acted"
            );
        }
        self.after(i, out);
    }

    fn op(&mut self, i: usize, op: Op) {
        if self.crashed[i] {
            return;
        }
        match op {
            Op::Leave => self.command(i, Command::Leave),
            Op::SetMeta(v) => self.command(
                i,
                Command::SetMeta(Meta::from_pairs([("v", v.to_string())])),
            ),
            Op::ConfirmDead(pick) => {
                let others: Vec<NodeId> = self.nodes[i].members().skip(1).map(|m| m.id).collect();
                if !others.is_empty() {
                    let target = others[pick % others.len()];
                    self.command(i, Command::ConfirmDead(target));
                }
            }
            Op::Rejoin => self.command(i, Command::Rejoin { id: NodeId(0) }),
            Op::Crash => self.crashed[i] = true,
            Op::Spurious(kind, arg) => {
                let timer = match kind % 6 {
                    0 => Timer::Tick,
                    1 => Timer::ProbeTimeout(arg % 64),
                    2 => Timer::Relay(arg % 64),
                    3 => Timer::Suspicion(id(arg as u64 % 6 + 1)),
                    4 => Timer::Sync,
                    _ => Timer::JoinRetry,
                };
                self.fire(i, timer);
            }
        }
    }

    fn fire(&mut self, i: usize, timer: Timer) {
        let mut out = Vec::new();
        self.nodes[i].handle_timer(self.now, timer, &mut self.rng, &mut out);
        self.after(i, out);
    }

    /// The next timer due among running processes: (deadline, node, timer).
    fn next_timer(&self) -> Option<(Millis, usize, Timer)> {
        (0..self.nodes.len())
            .filter(|&i| !self.crashed[i])
            .filter_map(|i| self.timers[i].next().map(|(t, at)| (at, i, t)))
            .min()
    }

    /// Run until `end`, interleaving the scheduled `ops` (sorted by time).
    fn run(&mut self, end: Millis, ops: &mut Vec<(Millis, usize, Op)>) {
        loop {
            let msg_at = self.net.keys().next().map(|k| k.0);
            let timer = self.next_timer();
            let op_at = ops.first().map(|o| o.0);
            let next = [msg_at, timer.map(|t| t.0), op_at]
                .into_iter()
                .flatten()
                .min();
            let Some(at) = next.filter(|&at| at <= end) else {
                self.now = end;
                return;
            };
            self.now = at;
            if msg_at == Some(at) {
                let (_, (j, from, bytes)) = self.net.pop_first().unwrap();
                if self.crashed[j] {
                    continue;
                }
                let msg = self.wire.decode(&bytes).expect("our own datagrams decode");
                let mut out = Vec::new();
                self.nodes[j].handle_message(self.now, from, msg, &mut self.rng, &mut out);
                self.after(j, out);
            } else if let Some((t_at, i, t)) = timer.filter(|t| t.0 == at) {
                debug_assert_eq!(t_at, at);
                self.timers[i].cancel(t);
                self.fire(i, t);
            } else {
                let (_, i, op) = ops.remove(0);
                let i = i % self.nodes.len();
                self.op(i, op);
            }
        }
    }

    fn running(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| !self.crashed[i] && self.nodes[i].phase() == Phase::Running)
            .collect()
    }

    /// Non-terminal records (ourselves included) as `id -> (incarnation, status)`.
    fn live_view(&self, i: usize) -> BTreeMap<NodeId, (u64, Status)> {
        self.nodes[i]
            .members()
            .filter(|m| !m.status.is_terminal())
            .map(|m| (m.id, (m.incarnation, m.status)))
            .collect()
    }
}

fn sim_config(unreachable: bool) -> Config {
    let mut config = classic(Config::local());
    config.unreachable = unreachable;
    config.tombstone_ttl = 5_000; // purge during the run, remember purged ids
    config.sync_interval = 3_000; // frequent anti-entropy: more traffic, faster healing
    config
}

fn long_memory() -> Config {
    let mut config = classic(Config::local());
    config.tombstone_ttl = 600_000;
    config
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Leave),
        2 => any::<u8>().prop_map(Op::SetMeta),
        2 => any::<usize>().prop_map(Op::ConfirmDead),
        2 => Just(Op::Rejoin),
        1 => Just(Op::Crash),
        3 => (any::<u8>(), any::<u32>()).prop_map(|(k, a)| Op::Spurious(k, a)),
    ]
}

proptest! {
    #![proptest_config(proptest_config(64))]

    #[test]
    fn a_lossy_network_never_breaks_safety(
        n in 2..=5usize,
        seed in any::<u64>(),
        loss in 0..40u32,
        dup in 0..10u32,
        max_delay in 1..250u64,
        unreachable in any::<bool>(),
        auto_rejoin in any::<bool>(),
        ops in proptest::collection::vec((0..20_000u64, any::<usize>(), op()), 0..12),
    ) {
        let mut ops = ops;
        ops.sort_by_key(|o| o.0);
        let faults = Faults { loss, dup, max_delay, sides: None };
        let mut sim = Sim::new(n, sim_config(unreachable), seed, faults);
        sim.auto_rejoin = auto_rejoin;
        // Every step is checked inside the simulation; a violation panics with its story.
        sim.run(25_000, &mut ops);
    }
}

#[test]
fn a_reliable_network_suspects_nobody() {
    for seed in 0..4 {
        let mut sim = Sim::new(5, sim_config(false), seed, RELIABLE);
        sim.run(60_000, &mut Vec::new());
        assert_eq!(sim.suspicions, 0, "seed {seed}");
        for i in 0..5 {
            assert_eq!(sim.nodes[i].cluster_size(), 5, "seed {seed} node {i}");
            assert!(sim.nodes[i].members().all(|m| m.status == Status::Alive));
            assert_eq!(sim.nodes[i].health(), 0);
        }
    }
}

#[test]
fn a_crashed_node_is_declared_dead_by_everyone() {
    for seed in 0..4 {
        let mut sim = Sim::new(5, long_memory(), seed, RELIABLE);
        sim.run(5_000, &mut Vec::new());
        sim.crashed[4] = true;
        let crashed = sim.nodes[4].id();
        sim.run(5_000 + 15_000, &mut Vec::new());
        for i in 0..4 {
            assert_eq!(
                sim.nodes[i].member(crashed).map(|m| m.status),
                Some(Status::Dead),
                "seed {seed} node {i}"
            );
            assert_eq!(sim.nodes[i].cluster_size(), 4);
        }
    }
}

#[test]
fn views_converge_once_the_network_heals() {
    let mut rejoins = 0;
    for seed in 0..6 {
        // 45%: with three indirect rounds a probe rarely fails at 30%, and no one is removed.
        let faults = Faults {
            loss: 45,
            dup: 5,
            max_delay: 150,
            sides: None,
        };
        let mut sim = Sim::new(5, long_memory(), seed, faults);
        sim.auto_rejoin = true;
        sim.run(20_000, &mut Vec::new());
        sim.faults = RELIABLE;
        sim.run(20_000 + 120_000, &mut Vec::new());
        rejoins += sim.rejoins;
        // Every process runs (under its latest id) and all agree on who is in the cluster.
        assert_eq!(sim.running().len(), 5, "seed {seed}");
        let reference = sim.live_view(0);
        for i in 0..5 {
            assert_eq!(
                sim.live_view(i),
                reference,
                "seed {seed}: node {i} disagrees"
            );
            let me = sim.nodes[i].local_member();
            assert_eq!(
                reference.get(&me.id),
                Some(&(me.incarnation, Status::Alive))
            );
        }
        assert_eq!(reference.len(), 5, "seed {seed}");
    }
    assert!(
        rejoins > 0,
        "the lossy phase removed someone: the test exercised healing"
    );
}

#[test]
fn a_healed_partition_becomes_one_cluster_again() {
    // Each side declares the other dead; once the network heals, anti-entropy reaches the
    // dead, they learn they were removed, rejoin under new ids, and everyone converges.
    for seed in 0..4 {
        let mut sim = Sim::new(5, long_memory(), seed, RELIABLE);
        sim.auto_rejoin = true;
        sim.run(20_000, &mut Vec::new()); // one anti-entropy round completes any join
        let sizes: Vec<usize> = (0..5).map(|i| sim.nodes[i].cluster_size()).collect();
        assert_eq!(sizes, vec![5; 5], "seed {seed}: formed");
        sim.faults.sides = Some(vec![0, 0, 1, 1, 1]);
        sim.run(45_000, &mut Vec::new());
        for i in 0..5 {
            let size = if i < 2 { 2 } else { 3 };
            assert_eq!(sim.nodes[i].cluster_size(), size, "seed {seed}: split");
        }
        sim.faults.sides = None;
        sim.run(45_000 + 120_000, &mut Vec::new());
        assert!(sim.rejoins > 0);
        let reference = sim.live_view(0);
        assert_eq!(reference.len(), 5, "seed {seed}: {reference:?}");
        for i in 0..5 {
            assert_eq!(sim.nodes[i].phase(), Phase::Running);
            assert_eq!(
                sim.live_view(i),
                reference,
                "seed {seed}: node {i} disagrees"
            );
        }
    }
}
