//! The foca cluster: a small tokio UDP driver for `foca::Foca`, one task per node owning the
//! instance, its socket and its timers, drained through foca's `AccumulatingRuntime` after
//! every input.
//!
//! Configuration mapping (foca 2 against the shared settings):
//! - probe period 200 ms (`probe_period`), probe timeout 100 ms (`probe_rtt`), 3 indirect
//!   helpers (`num_indirect_probes`): exact.
//! - suspicion multiplier 4: foca has no Lifeguard suspicion timeout (no shrinking timeout
//!   with confirmations, no local health multiplier, no nack); it waits a fixed
//!   `suspect_to_down_after`, set here by foca's own LAN formula at our period:
//!   `4 x max(1, log10 n) x 200 ms` (1.04 s at n = 20), which is Lifeguard's *minimum*.
//! - everything else at `Config::new_lan(n)` (foca's memberlist-derived LAN preset):
//!   retransmissions `4 x log10(n + 1)`, periodic gossip of pending updates to 3 members
//!   every 200 ms, an announce to one member every 30 s (its anti-entropy, where memberlist
//!   and swim-checked run push-pull), notify-down on, 1,400-byte datagrams, postcard codec.
//! - identities are `(address, bump)` and renew themselves when declared down (foca's
//!   auto-rejoin), as a live process refutes in the other two libraries.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use foca::{AccumulatingRuntime, Foca, OwnedNotification, PostcardCodec, Timer};
use foca_rand::SeedableRng;
use foca_rand::rngs::StdRng;
use rand::{Rng, SeedableRng as _};
use serde::{Deserialize, Serialize};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::cluster::{
    Cluster, INDIRECT_CHECKS, Kind, PROBE_PERIOD, PROBE_TIMEOUT, Report, SUSPICION_MULT, abort_all,
};

/// A foca identity: the address plus a counter bumped on each automatic rejoin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Id {
    addr: SocketAddr,
    bump: u64,
}

impl foca::Identity for Id {
    type Addr = SocketAddr;

    fn renew(&self) -> Option<Self> {
        Some(Id {
            addr: self.addr,
            bump: self.bump.wrapping_add(1),
        })
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.bump > adversary.bump
    }
}

fn config(n: usize) -> foca::Config {
    let size = NonZeroU32::new(n.max(1) as u32).expect("non-zero");
    let mut c = foca::Config::new_lan(size);
    c.probe_period = PROBE_PERIOD;
    c.probe_rtt = PROBE_TIMEOUT;
    c.num_indirect_probes = NonZeroUsize::new(INDIRECT_CHECKS).expect("non-zero");
    let scale = (n as f64).log10().max(1.0);
    c.suspect_to_down_after = PROBE_PERIOD.mul_f64(f64::from(SUSPICION_MULT) * scale);
    c
}

/// What a node's task publishes for the harness to read.
#[derive(Debug, Default)]
struct Shared {
    /// Members held active (alive or suspect), itself included.
    view: AtomicUsize,
    /// Cluster updates still to be piggybacked.
    backlog: AtomicUsize,
    datagrams: AtomicU64,
    bytes: AtomicU64,
    probes_failed: AtomicU64,
    /// Send loss probability, in millionths.
    loss_ppm: AtomicU64,
}

/// Where a node's task sends its reports, and how it names the other nodes.
struct Reporting {
    node: usize,
    index: Arc<HashMap<SocketAddr, usize>>,
    tx: mpsc::UnboundedSender<Report>,
}

pub(crate) struct FocaCluster {
    addrs: Vec<SocketAddr>,
    shared: Vec<Arc<Shared>>,
    joins: Vec<mpsc::UnboundedSender<Id>>,
    tasks: Vec<JoinHandle<()>>,
    rx: mpsc::UnboundedReceiver<Report>,
}

impl Cluster for FocaCluster {
    async fn start(n: usize, reports: bool) -> Self {
        let mut sockets = Vec::with_capacity(n);
        for _ in 0..n {
            sockets.push(
                UdpSocket::bind("127.0.0.1:0")
                    .await
                    .expect("bind 127.0.0.1"),
            );
        }
        let addrs: Vec<SocketAddr> = sockets
            .iter()
            .map(|s| s.local_addr().expect("bound"))
            .collect();
        let index: Arc<HashMap<SocketAddr, usize>> =
            Arc::new(addrs.iter().enumerate().map(|(i, a)| (*a, i)).collect());
        let (tx, rx) = mpsc::unbounded_channel();
        let (mut shared, mut joins, mut tasks) = (Vec::new(), Vec::new(), Vec::new());
        for (i, socket) in sockets.into_iter().enumerate() {
            let state = Arc::new(Shared::default());
            state.view.store(1, Ordering::Relaxed);
            let (join_tx, join_rx) = mpsc::unbounded_channel();
            let reporting = reports.then(|| Reporting {
                node: i,
                index: index.clone(),
                tx: tx.clone(),
            });
            let id = Id {
                addr: addrs[i],
                bump: 0,
            };
            let foca = Foca::new(
                id,
                config(n),
                StdRng::seed_from_u64(i as u64),
                PostcardCodec,
            );
            tasks.push(tokio::spawn(run(
                foca,
                socket,
                state.clone(),
                join_rx,
                reporting,
                i as u64,
            )));
            shared.push(state);
            joins.push(join_tx);
            tokio::time::sleep(PROBE_PERIOD / n as u32).await;
        }
        FocaCluster {
            addrs,
            shared,
            joins,
            tasks,
            rx,
        }
    }

    fn join_all(&self, spread: Duration) {
        let seed = Id {
            addr: self.addrs[0],
            bump: 0,
        };
        let n = self.joins.len() as u32;
        for (i, join) in self.joins.iter().enumerate().skip(1) {
            let (join, seed) = (join.clone(), seed.clone());
            let delay = spread * i as u32 / n;
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = join.send(seed);
            });
        }
    }

    fn view(&self, i: usize) -> usize {
        self.shared[i].view.load(Ordering::Relaxed)
    }

    fn settled(&self) -> bool {
        self.shared
            .iter()
            .all(|s| s.backlog.load(Ordering::Relaxed) == 0)
    }

    fn abort(&self, i: usize) {
        self.tasks[i].abort();
    }

    fn set_send_loss(&self, p: f64) {
        for s in &self.shared {
            s.loss_ppm.store((p * 1e6) as u64, Ordering::Relaxed);
        }
    }

    fn sent(&self) -> (u64, u64) {
        self.shared.iter().fold((0, 0), |(d, b), s| {
            (
                d + s.datagrams.load(Ordering::Relaxed),
                b + s.bytes.load(Ordering::Relaxed),
            )
        })
    }

    fn suspicions_raised(&self) -> u64 {
        self.shared
            .iter()
            .map(|s| s.probes_failed.load(Ordering::Relaxed))
            .sum()
    }

    fn reports(&mut self) -> &mut mpsc::UnboundedReceiver<Report> {
        &mut self.rx
    }

    async fn shutdown(self) {
        abort_all(self.tasks).await;
    }
}

type Node = Foca<Id, PostcardCodec, StdRng, foca::NoCustomBroadcast>;

/// One node: receive, fire due timers, take join requests; after each, drain the runtime
/// (send, schedule, notify) and publish the view.
async fn run(
    mut foca: Node,
    socket: UdpSocket,
    shared: Arc<Shared>,
    mut joins: mpsc::UnboundedReceiver<Id>,
    reporting: Option<Reporting>,
    seed: u64,
) {
    let mut runtime = AccumulatingRuntime::new();
    let mut timers: BinaryHeap<Reverse<(Instant, u64, Timer<Id>)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut loss_rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut buf = vec![0u8; 1500];
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    let sleep = tokio::time::sleep_until(far);
    tokio::pin!(sleep);
    let mut armed = far;
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                if let Ok((len, _)) = received {
                    let _ = foca.handle_data(&buf[..len], &mut runtime);
                }
            }
            () = &mut sleep => {
                let now = Instant::now();
                while let Some(Reverse((at, _, _))) = timers.peek() {
                    if *at > now {
                        break;
                    }
                    let Some(Reverse((_, _, timer))) = timers.pop() else { break };
                    let _ = foca.handle_timer(timer, &mut runtime);
                }
            }
            Some(seed) = joins.recv() => {
                let _ = foca.announce(seed, &mut runtime);
            }
        }
        let loss = shared.loss_ppm.load(Ordering::Relaxed);
        while let Some((to, data)) = runtime.to_send() {
            shared.datagrams.fetch_add(1, Ordering::Relaxed);
            shared.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
            if loss > 0 && loss_rng.random_range(0..1_000_000) < loss {
                continue;
            }
            let _ = socket.try_send_to(&data, to.addr);
        }
        let now = Instant::now();
        while let Some((after, timer)) = runtime.to_schedule() {
            timers.push(Reverse((now + after, seq, timer)));
            seq += 1;
        }
        while let Some(notification) = runtime.to_notify() {
            let (kind, about) = match notification {
                OwnedNotification::MemberDown(id) => (Kind::Down, id),
                OwnedNotification::ProbeFailed(_, id) => {
                    shared.probes_failed.fetch_add(1, Ordering::Relaxed);
                    (Kind::Suspect, id)
                }
                _ => continue,
            };
            if let Some(r) = &reporting
                && let Some(&about) = r.index.get(&about.addr)
            {
                let _ = r.tx.send(Report {
                    node: r.node,
                    about,
                    kind,
                    at: now,
                });
            }
        }
        shared.view.store(foca.num_members() + 1, Ordering::Relaxed);
        shared
            .backlog
            .store(foca.updates_backlog(), Ordering::Relaxed);
        let next = timers.peek().map_or(far, |Reverse((at, _, _))| *at);
        if next != armed {
            sleep.as_mut().reset(next);
            armed = next;
        }
    }
}
