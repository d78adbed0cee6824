//! Smoke test: a few cores wired through a perfect in-memory network.
use std::net::SocketAddr;

use swim_checked_core::{Command, Config, Effect, Meta, Node, NodeId, Status, TimerTable};

struct Net {
    nodes: Vec<Node>,
    timers: Vec<TimerTable>,
    inflight: Vec<(u64, usize, SocketAddr, swim_checked_core::Message)>,
    crashed: Vec<bool>,
    now: u64,
    seed: u64,
}

fn addr(i: usize) -> SocketAddr {
    format!("127.0.0.1:{}", 7000 + i).parse().unwrap()
}

impl Net {
    fn new(n: usize) -> Self {
        let mut net = Net {
            nodes: vec![],
            timers: vec![],
            inflight: vec![],
            crashed: vec![false; n],
            now: 0,
            seed: 7,
        };
        for i in 0..n {
            let mut out = vec![];
            let node = Node::new(
                Config::local(),
                NodeId(i as u64 + 1),
                addr(i),
                Meta::default(),
                0,
                &mut out,
            )
            .unwrap();
            net.nodes.push(node);
            net.timers.push(TimerTable::new());
            net.apply(i, out);
        }
        net
    }
    fn rng(&mut self) -> impl FnMut(usize) -> usize + use<> {
        self.seed = self
            .seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut s = self.seed;
        move |n| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
            ((s >> 33) as usize) % n
        }
    }
    fn apply(&mut self, i: usize, out: Vec<Effect>) {
        for e in out {
            if self.timers[i].apply(&e) {
                continue;
            }
            if let Effect::Send { to, msg } = e {
                self.inflight.push((self.now + 1, i, to, msg));
            }
        }
    }
    fn run_until(&mut self, end: u64) {
        while self.now < end {
            self.now += 1;
            let due: Vec<_> = self
                .inflight
                .iter()
                .filter(|m| m.0 <= self.now)
                .cloned()
                .collect();
            self.inflight.retain(|m| m.0 > self.now);
            for (_, from, to, msg) in due {
                let Some(j) = (0..self.nodes.len()).find(|&j| addr(j) == to) else {
                    continue;
                };
                if self.crashed[j] {
                    continue;
                }
                let mut out = vec![];
                let mut rng = self.rng();
                self.nodes[j].handle_message(self.now, addr(from), msg, &mut rng, &mut out);
                self.apply(j, out);
            }
            for i in 0..self.nodes.len() {
                if self.crashed[i] {
                    continue;
                }
                while let Some(t) = self.timers[i].pop_due(self.now) {
                    let mut out = vec![];
                    let mut rng = self.rng();
                    self.nodes[i].handle_timer(self.now, t, &mut rng, &mut out);
                    self.apply(i, out);
                }
            }
        }
    }
}

#[test]
fn cluster_forms_and_detects_a_crash() {
    let mut net = Net::new(5);
    for i in 1..5 {
        let mut out = vec![];
        let mut rng = net.rng();
        net.nodes[i]
            .handle_command(
                0,
                Command::Join {
                    seeds: vec![addr(0)],
                },
                &mut rng,
                &mut out,
            )
            .unwrap();
        net.apply(i, out);
    }
    net.run_until(3_000);
    for n in &net.nodes {
        assert_eq!(
            n.members().filter(|m| m.status == Status::Alive).count(),
            5,
            "{:?}",
            n.members().collect::<Vec<_>>()
        );
    }
    net.crashed[4] = true;
    net.run_until(3_000 + 20_000);
    for n in &net.nodes[..4] {
        assert_eq!(n.member(NodeId(5)).unwrap().status, Status::Dead);
        assert_eq!(n.members().filter(|m| m.status == Status::Alive).count(), 4);
    }
}
