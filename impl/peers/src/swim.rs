//! The cluster of this library: `swim-checked` nodes over its own UDP transport, with loss on
//! send through its `Lossy` wrapper, at the shared settings and `Config::default()` otherwise.
//! `Swim<true>` seals every datagram with one random key (XChaCha20-Poly1305), the price of
//! encryption side by side with the clear run.

use std::collections::HashMap;
use std::time::Duration;

use swim_checked::harness::{LossControl, Lossy, UdpTransport};
use swim_checked::{Config, EventKind, Key, Keyring, Node, Phase};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::cluster::{
    Cluster, INDIRECT_CHECKS, Kind, PROBE_PERIOD, PROBE_TIMEOUT, Report, SUSPICION_MULT,
};

fn config() -> Config {
    Config {
        probe_interval: PROBE_PERIOD,
        probe_timeout: PROBE_TIMEOUT,
        indirect_checks: INDIRECT_CHECKS,
        suspicion_mult: SUSPICION_MULT,
        ..Config::default()
    }
}

pub(crate) struct Swim<const KEYED: bool> {
    nodes: Vec<Node>,
    controls: Vec<LossControl>,
    rx: mpsc::UnboundedReceiver<Report>,
}

impl<const KEYED: bool> Cluster for Swim<KEYED> {
    async fn start(n: usize, reports: bool) -> Self {
        let config = config();
        let keyring = KEYED.then(|| Keyring::new(Key::generate().expect("a random key")));
        let (tx, rx) = mpsc::unbounded_channel();
        let (mut nodes, mut controls) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..n {
            let udp = UdpTransport::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1");
            let lossy = Lossy::new(udp, 0.0, 7 + i as u64);
            controls.push(lossy.control());
            let capacity = if reports { 1024 } else { 16 };
            let mut builder = Node::builder(config.clone()).event_capacity(capacity);
            if let Some(keyring) = &keyring {
                builder = builder.keyring(keyring.clone());
            }
            let node = builder.start(lossy).expect("start a node");
            nodes.push(node);
            tokio::time::sleep(PROBE_PERIOD / n as u32).await;
        }
        if reports {
            let index: HashMap<_, _> = nodes.iter().enumerate().map(|(i, x)| (x.id(), i)).collect();
            for (i, node) in nodes.iter().enumerate() {
                let (mut events, tx, index) = (node.subscribe(), tx.clone(), index.clone());
                tokio::spawn(async move {
                    while let Some(event) = events.recv().await {
                        let kind = match event.kind() {
                            EventKind::Suspect => Kind::Suspect,
                            EventKind::Dead | EventKind::Left => Kind::Down,
                            _ => continue,
                        };
                        let Some(&about) = index.get(&event.member.id) else {
                            continue;
                        };
                        let report = Report {
                            node: i,
                            about,
                            kind,
                            at: Instant::now(),
                        };
                        if tx.send(report).is_err() {
                            break;
                        }
                    }
                });
            }
        }
        Swim {
            nodes,
            controls,
            rx,
        }
    }

    fn join_all(&self, spread: Duration) {
        let seed = self.nodes[0].local_addr();
        let n = self.nodes.len() as u32;
        for (i, node) in self.nodes.iter().enumerate().skip(1) {
            let node = node.clone();
            let delay = spread * i as u32 / n;
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = node.join([seed]).await;
            });
        }
    }

    fn view(&self, i: usize) -> usize {
        self.nodes[i].cluster_size()
    }

    fn settled(&self) -> bool {
        self.nodes.iter().all(|x| x.stats().gossip_queued == 0)
    }

    fn removed(&self) -> Option<usize> {
        Some(
            self.nodes
                .iter()
                .filter(|x| x.phase() == Phase::Removed)
                .count(),
        )
    }

    fn abort(&self, i: usize) {
        self.nodes[i].abort();
    }

    fn set_send_loss(&self, p: f64) {
        for c in &self.controls {
            c.set_send_loss(p);
        }
    }

    fn sent(&self) -> (u64, u64) {
        self.nodes.iter().fold((0, 0), |(d, b), x| {
            let s = x.stats();
            (d + s.datagrams_out, b + s.bytes_out)
        })
    }

    fn suspicions_raised(&self) -> u64 {
        self.nodes.iter().map(|x| x.stats().suspicions_raised).sum()
    }

    fn reports(&mut self) -> &mut mpsc::UnboundedReceiver<Report> {
        &mut self.rx
    }

    async fn shutdown(self) {
        for node in &self.nodes {
            node.abort();
        }
        for node in &self.nodes {
            let _ = tokio::time::timeout(Duration::from_secs(5), node.stopped()).await;
        }
    }
}
