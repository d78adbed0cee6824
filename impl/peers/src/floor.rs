//! The floor: nodes that send and receive the same datagrams at the same rate over the same
//! kind of socket as a membership library at idle (tokio UDP, one task per node, one timer per
//! period), and do nothing else. No library can idle for less on this machine.
//!
//! Each period a node sends a "ping" to a random peer, which answers with an "ack" of the
//! same size: two datagrams sent and two received per node per period, as a SWIM node with
//! nothing to suspect. The parent passes the rate and size it measured for swim-checked in the
//! same repetition (`--floor-rate`, `--floor-bytes`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::cluster::{Cluster, PROBE_PERIOD, Report, abort_all};

/// Datagrams sent per node per second and bytes per datagram.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) rate: f64,
    pub(crate) bytes: usize,
}

/// Set once by `main` from the command line before the cluster starts.
pub(crate) static SHAPE: OnceLock<Shape> = OnceLock::new();

const PING: u8 = 0;
const ACK: u8 = 1;

#[derive(Debug, Default)]
struct Counters {
    datagrams: AtomicU64,
    bytes: AtomicU64,
}

pub(crate) struct Floor {
    n: usize,
    counters: Arc<Counters>,
    tasks: Vec<JoinHandle<()>>,
    rx: mpsc::UnboundedReceiver<Report>,
}

impl Cluster for Floor {
    async fn start(n: usize, _reports: bool) -> Self {
        let shape = *SHAPE
            .get()
            .expect("the floor's shape is set before it starts");
        // Two datagrams sent per node per round (a ping out, an ack back for someone's ping).
        let period = Duration::from_secs_f64(2.0 / shape.rate.max(1e-3));
        let mut sockets = Vec::with_capacity(n);
        for _ in 0..n {
            sockets.push(
                UdpSocket::bind("127.0.0.1:0")
                    .await
                    .expect("bind 127.0.0.1"),
            );
        }
        let peers: Arc<Vec<SocketAddr>> = Arc::new(
            sockets
                .iter()
                .map(|s| s.local_addr().expect("bound"))
                .collect(),
        );
        let counters = Arc::new(Counters::default());
        let mut tasks = Vec::with_capacity(n);
        for (i, socket) in sockets.into_iter().enumerate() {
            let (peers, counters) = (peers.clone(), counters.clone());
            tasks.push(tokio::spawn(run(
                i,
                socket,
                peers,
                counters,
                period,
                shape.bytes,
            )));
            tokio::time::sleep(PROBE_PERIOD / n as u32).await;
        }
        let (_, rx) = mpsc::unbounded_channel();
        Floor {
            n,
            counters,
            tasks,
            rx,
        }
    }

    fn join_all(&self, _spread: Duration) {}

    fn view(&self, _i: usize) -> usize {
        self.n
    }

    fn settled(&self) -> bool {
        true
    }

    fn abort(&self, i: usize) {
        self.tasks[i].abort();
    }

    fn set_send_loss(&self, _p: f64) {}

    fn sent(&self) -> (u64, u64) {
        let c = &self.counters;
        (
            c.datagrams.load(Ordering::Relaxed),
            c.bytes.load(Ordering::Relaxed),
        )
    }

    fn suspicions_raised(&self) -> u64 {
        0
    }

    fn reports(&mut self) -> &mut mpsc::UnboundedReceiver<Report> {
        &mut self.rx
    }

    async fn shutdown(self) {
        abort_all(self.tasks).await;
    }
}

async fn run(
    me: usize,
    socket: UdpSocket,
    peers: Arc<Vec<SocketAddr>>,
    counters: Arc<Counters>,
    period: Duration,
    bytes: usize,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(me as u64);
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut out = vec![0u8; bytes.max(1)];
    let mut buf = vec![0u8; 1500];
    let send = |socket: &UdpSocket, out: &[u8], to: SocketAddr| {
        if socket.try_send_to(out, to).is_ok() {
            counters.datagrams.fetch_add(1, Ordering::Relaxed);
            counters
                .bytes
                .fetch_add(out.len() as u64, Ordering::Relaxed);
        }
    };
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if peers.len() < 2 {
                    continue;
                }
                let mut to = rng.random_range(0..peers.len() - 1);
                if to >= me {
                    to += 1;
                }
                out[0] = PING;
                send(&socket, &out, peers[to]);
            }
            // Polled in place, as the library's transport does: no receive future to build
            // and drop on every turn of the loop.
            received = std::future::poll_fn(|cx| {
                let mut read = ReadBuf::new(&mut buf);
                socket
                    .poll_recv_from(cx, &mut read)
                    .map_ok(|from| (read.filled().len(), from))
            }) => {
                if let Ok((len, from)) = received
                    && len > 0
                    && buf[0] == PING
                {
                    out[0] = ACK;
                    send(&socket, &out, from);
                }
            }
        }
    }
}
