//! Cluster benchmarks: every node in this process on 127.0.0.1, real UDP, real time.
//!
//! ```sh
//! cargo bench -p swim-checked --bench cluster -- detect   # or loss, idle, join, broadcast, all
//! cargo bench -p swim-checked --bench cluster -- detect --reps 50
//! ```
//!
//! Prints one JSON line per scenario. Settings: probe interval 200 ms, probe timeout 100 ms,
//! 3 indirect probes, suspicion multiplier 4, Lifeguard on, everything else at the defaults
//! (`Config::default()`). CPU is user+sys CPU-seconds of the whole process per node per second;
//! bytes are UDP payload bytes sent. Node starts are spread over one probe period (separate
//! processes do not tick in lockstep), and each crash happens at a different point of the
//! period.
//!
//! - `detect`: n = 20, converged, one node's task aborted (no leave), fresh cluster each
//!   repetition. Time to the first suspicion anywhere (in probe periods), to the first dead
//!   verdict and until every survivor holds it dead.
//! - `loss`: n = 20, every datagram dropped with probability `--loss` (10%) on send, no real
//!   failure: dead and suspect events about live nodes, automatic rejoins, and the members out
//!   of the cluster at the end (a running node not held alive at its generation by every other),
//!   then again once the loss is off and every view agrees (or 30 s passed).
//! - `idle`: n = 200, converged, then measured: CPU, resident memory and bytes sent per node.
//! - `join`: n = 100 joining through one seed at once: time until every node sees all alive.
//! - `broadcast`: n = 100, converged, then 1 KB of application data per second cluster-wide
//!   (four 256-byte broadcasts a second, from members in turn) for `--secs` (default 30):
//!   whether every member received every broadcast, how long the last one took, queue drops,
//!   and dead or suspect events about live nodes meanwhile (none expected).
//!
//! `BENCH_VERBOSE=1` prints each `detect` repetition's events about the victim to stderr.

// A counting global allocator (to report live heap per node, in `measure`) is the one place
// that needs `unsafe`.
#![allow(unsafe_code)]

mod measure;
mod process_stats;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use clap::Parser;
use serde_json::{Value, json};
use swim_checked::harness::core::Config;
use swim_checked::harness::{LossControl, Lossy, Transport, UdpTransport, Wire};
use swim_checked::{EventKind, MemberEvent, Node, Status};
use tokio::sync::mpsc;
use tokio::time::Instant;

use measure::{
    KINDS, Traffic, cpu_seconds, heap_bytes, malloc_trim, max, median, peak_heap_bytes, reset_peak,
    round, rss_bytes, summary,
};

#[derive(Debug, Parser)]
struct Args {
    /// detect, loss, idle, join, broadcast or all.
    #[arg(default_value = "all")]
    scenario: String,
    /// Repetitions (default: 10 for detect, 5 for join, 1 for loss and idle).
    #[arg(long)]
    reps: Option<usize>,
    /// Override the cluster size.
    #[arg(long)]
    n: Option<usize>,
    /// Override the measured duration of loss and idle, in seconds.
    #[arg(long)]
    secs: Option<u64>,
    /// tokio worker threads (0: a current-thread runtime).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seal every datagram with a random key (XChaCha20-Poly1305, `Encryption::Require`).
    #[arg(long)]
    key: bool,
    /// Internal: run one idle repetition and print its raw figures (the parent process runs
    /// each repetition in a fresh process this way).
    #[arg(long, hide = true)]
    idle_rep: bool,
    /// detect and loss: run 1 KB/s of application broadcasts meanwhile (as `broadcast` does).
    #[arg(long)]
    with_broadcasts: bool,
    /// loss: the probability that a datagram is dropped on send.
    #[arg(long, default_value_t = 0.10, value_parser = probability)]
    loss: f64,
    /// Passed by `cargo bench` to every bench target; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// The issue's settings; everything else at the defaults (`Config::default()`, the LAN preset:
/// push-pull sync every 30 s, scaled up with log n above 32 members).
fn config() -> Config {
    Config {
        probe_interval: 200,
        probe_timeout: 100,
        indirect_checks: 3,
        suspicion_mult: 4,
        ..Config::default()
    }
}

fn main() {
    let args = Args::parse();
    let runtime = if args.threads == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
            .unwrap()
    };
    if args.key {
        let key = swim_checked::Key::generate().expect("a random key");
        KEYRING
            .set(swim_checked::Keyring::new(key))
            .expect("set once");
    }
    runtime.block_on(async {
        if args.idle_rep {
            let rep = idle_rep(args.n.unwrap_or(200), args.secs.unwrap_or(30)).await;
            emit(serde_json::to_value(&rep).expect("figures serialize"));
            return;
        }
        let all = args.scenario == "all";
        if all || args.scenario == "detect" {
            let (n, reps) = (args.n.unwrap_or(20), args.reps.unwrap_or(10));
            emit(detect(n, reps, args.with_broadcasts).await);
        }
        if all || args.scenario == "loss" {
            let reps = args.reps.unwrap_or(1);
            let (n, secs) = (args.n.unwrap_or(20), args.secs.unwrap_or(60));
            emit(loss(n, secs, reps, args.loss, args.with_broadcasts).await);
        }
        if all || args.scenario == "idle" {
            let reps = args.reps.unwrap_or(1);
            let (n, secs) = (args.n.unwrap_or(200), args.secs.unwrap_or(30));
            emit(idle(n, secs, reps, args.threads).await);
        }
        if all || args.scenario == "join" {
            emit(join(args.n.unwrap_or(100), args.reps.unwrap_or(5)).await);
        }
        if all || args.scenario == "broadcast" {
            emit(broadcast(args.n.unwrap_or(100), args.secs.unwrap_or(30)).await);
        }
    });
}

/// The keyring of every node (`--key`), none without.
static KEYRING: std::sync::OnceLock<swim_checked::Keyring> = std::sync::OnceLock::new();

fn emit(line: Value) {
    println!("{line}");
}

/// The bench's transport: UDP, optionally lossy, counting bytes by kind.
struct Bench {
    inner: Lossy<UdpTransport>,
    traffic: Arc<Traffic>,
    header: usize,
}

impl Transport for Bench {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.inner.poll_recv(cx, buf)
    }
    fn send(&mut self, datagram: &[u8], to: SocketAddr) -> io::Result<()> {
        self.traffic.add(self.header, datagram);
        self.inner.send(datagram, to)
    }
}

// ----- clusters -----

struct Cluster {
    nodes: Vec<Node>,
    controls: Vec<LossControl>,
    traffic: Arc<Traffic>,
}

impl Cluster {
    /// Running nodes that some other node does not hold alive at their current generation
    /// (every node counts as out if it is not running).
    fn members_out(&self) -> usize {
        let me: Vec<_> = self.nodes.iter().map(Node::local_member).collect();
        (0..self.nodes.len())
            .filter(|&i| {
                self.nodes[i].phase() != swim_checked::Phase::Running
                    || (0..self.nodes.len()).any(|j| {
                        j != i
                            && !self.nodes[j].member(me[i].id).is_some_and(|m| {
                                m.status == Status::Alive && m.generation == me[i].generation
                            })
                    })
            })
            .count()
    }

    async fn start(n: usize, config: &Config, subscribe_capacity: usize) -> Cluster {
        let traffic = Arc::new(Traffic::default());
        let header = Wire::new(config).header_len();
        let mut nodes = Vec::with_capacity(n);
        let mut controls = Vec::with_capacity(n);
        for i in 0..n {
            let udp = UdpTransport::bind("127.0.0.1:0").await.unwrap();
            let lossy = Lossy::new(udp, 0.0, 7 + i as u64);
            controls.push(lossy.control());
            let transport = Bench {
                inner: lossy,
                traffic: traffic.clone(),
                header,
            };
            let mut builder = Node::builder(config.clone()).event_capacity(subscribe_capacity);
            if let Some(keyring) = KEYRING.get() {
                builder = builder.keyring(keyring.clone());
            }
            let node = builder.start(transport).unwrap();
            nodes.push(node);
            // Spread the starts over one period, as independent processes would be: nodes
            // started in the same millisecond tick in lockstep for ever.
            tokio::time::sleep(Duration::from_micros(
                config.probe_interval * 1_000 / n as u64,
            ))
            .await;
        }
        Cluster {
            nodes,
            controls,
            traffic,
        }
    }

    /// Every node joins through node 0, all at once; `watch` tells when each node holds all
    /// `n` alive (times since the joins began).
    async fn join_all(&self) -> Vec<Duration> {
        let n = self.nodes.len();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let start = Instant::now();
        for (i, node) in self.nodes.iter().enumerate() {
            let mut events = node.subscribe();
            let tx = tx.clone();
            let node = node.clone();
            tokio::spawn(async move {
                // Check the view after each event (a lagging subscriber skips events but the
                // view is always current).
                let all_alive = |node: &Node| {
                    node.with_core(|core| {
                        core.cluster_size() == n
                            && core
                                .members()
                                .all(|m| m.status == Status::Alive || m.status.is_terminal())
                    })
                };
                while events.recv().await.is_some() {
                    if all_alive(&node) {
                        let _ = tx.send((i, start.elapsed()));
                        break;
                    }
                }
            });
        }
        drop(tx);
        let seed = self.nodes[0].local_addr();
        for node in &self.nodes[1..] {
            let node = node.clone();
            tokio::spawn(async move {
                let _ = node.join([seed]).await;
            });
        }
        let mut done = vec![Duration::MAX; n];
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut count = 0;
        while count < n {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((i, t))) => {
                    done[i] = t;
                    count += 1;
                }
                _ => break,
            }
        }
        done
    }

    /// Join every node through node 0 and wait (polling the views every 100 ms, without
    /// subscribing, so no event buffer is allocated) until all hold all alive.
    async fn join_polling(&self) -> Duration {
        let n = self.nodes.len();
        let start = Instant::now();
        let seed = self.nodes[0].local_addr();
        for node in &self.nodes[1..] {
            let node = node.clone();
            tokio::spawn(async move {
                let _ = node.join([seed]).await;
            });
        }
        let deadline = start + Duration::from_secs(120);
        loop {
            let done = self.nodes.iter().all(|node| {
                node.with_core(|core| {
                    core.cluster_size() == n && core.members().all(|m| m.status == Status::Alive)
                })
            });
            if done {
                return start.elapsed();
            }
            if Instant::now() > deadline {
                return Duration::MAX;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Forward the events of every node (from now on) into one channel.
    fn merge_events(&self) -> mpsc::UnboundedReceiver<(usize, MemberEvent, Instant)> {
        let (tx, rx) = mpsc::unbounded_channel();
        for (i, node) in self.nodes.iter().enumerate() {
            let mut events = node.subscribe();
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(event) = events.recv().await {
                    if tx.send((i, event, Instant::now())).is_err() {
                        break;
                    }
                }
            });
        }
        rx
    }

    /// Application broadcasts at [`BROADCAST_BYTES_PER_S`] from the members in turn, until
    /// aborted (a stopped member's turn is skipped).
    fn broadcast_traffic(&self) -> tokio::task::JoinHandle<()> {
        let nodes = self.nodes.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_millis(1_000 / BROADCASTS_PER_S));
            for index in 0u64.. {
                ticker.tick().await;
                let mut payload = vec![0u8; BROADCAST_SIZE];
                payload[..8].copy_from_slice(&index.to_le_bytes());
                let from = index as usize * 37 % nodes.len();
                let _ = nodes[from].broadcast(payload).await;
            }
        })
    }

    async fn shutdown(self) {
        for node in &self.nodes {
            node.abort();
        }
        for node in &self.nodes {
            node.stopped().await;
        }
    }
}

fn secs(d: Duration) -> f64 {
    if d == Duration::MAX {
        f64::INFINITY
    } else {
        d.as_secs_f64()
    }
}

// ----- scenarios -----

async fn detect(n: usize, reps: usize, with_broadcasts: bool) -> Value {
    let config = config();
    let period = config.probe_interval as f64 / 1000.0;
    let (mut first_suspicion, mut all_dead, mut false_suspicions) = (Vec::new(), Vec::new(), 0);
    let (mut first_dead, mut not_detected) = (Vec::new(), 0);
    for rep in 0..reps {
        let cluster = Cluster::start(n, &config, 1024).await;
        let joined = cluster.join_all().await;
        assert!(joined.iter().all(|d| *d != Duration::MAX), "no convergence");
        // Let the join gossip die down: a converged, quiet cluster.
        tokio::time::sleep(Duration::from_millis(5 * config.probe_interval)).await;
        let traffic = with_broadcasts.then(|| cluster.broadcast_traffic());
        let mut events = cluster.merge_events();
        // Crash at a random point of the protocol period.
        let offset = (rep as u64 * 7_919 + 13) % config.probe_interval;
        tokio::time::sleep(Duration::from_millis(offset)).await;
        let victim_index = (rep * 7 + 3) % n;
        let victim = cluster.nodes[victim_index].id();
        cluster.nodes[victim_index].abort();
        let crash = Instant::now();
        let mut suspected: Option<Duration> = None;
        let mut dead = vec![false; n];
        dead[victim_index] = true;
        let (mut earliest_dead, mut last_dead) = (Duration::MAX, Duration::MAX);
        let deadline = crash + Duration::from_secs(30);
        while let Ok(Some((i, event, at))) = tokio::time::timeout_at(deadline, events.recv()).await
        {
            if std::env::var_os("BENCH_VERBOSE").is_some() && event.member.id == victim {
                eprintln!(
                    "rep {rep} node {i}: {:?} at {:.2} periods",
                    event.kind(),
                    (at - crash).as_secs_f64() / period
                );
            }
            if event.member.id != victim {
                if event.kind() == EventKind::Suspect {
                    false_suspicions += 1;
                }
                continue;
            }
            match event.kind() {
                EventKind::Suspect => {
                    suspected.get_or_insert(at - crash);
                }
                EventKind::Dead => {
                    suspected.get_or_insert(at - crash);
                    earliest_dead = earliest_dead.min(at - crash);
                    dead[i] = true;
                    if dead.iter().all(|d| *d) {
                        last_dead = at - crash;
                        break;
                    }
                }
                _ => {}
            }
        }
        if last_dead == Duration::MAX {
            not_detected += 1;
        }
        first_suspicion.push(suspected.map_or(f64::INFINITY, |d| d.as_secs_f64() / period));
        first_dead.push(secs(earliest_dead));
        all_dead.push(secs(last_dead));
        traffic.inspect(|t| t.abort());
        cluster.shutdown().await;
    }
    json!({
        "scenario": "detect",
        "n": n,
        "reps": reps,
        "app_bytes_per_s": if with_broadcasts { BROADCAST_BYTES_PER_S } else { 0 },
        "first_suspicion_periods": summary(&first_suspicion),
        "first_dead_s": summary(&first_dead),
        "all_survivors_dead_s": summary(&all_dead),
        "not_detected": not_detected,
        "suspicions_of_live_nodes": false_suspicions,
        "goals": {
            "first_suspicion_median_le_1.6_periods": median(&first_suspicion) <= 1.6,
            "all_dead_median_le_1.7_s": median(&all_dead) <= 1.7,
            "all_dead_max_le_2.2_s": max(&all_dead) <= 2.2,
        },
    })
}

async fn loss(n: usize, secs: u64, reps: usize, p: f64, with_broadcasts: bool) -> Value {
    let config = config();
    let (mut dead_events, mut suspect_events, mut drop_ratio) =
        (Vec::new(), Vec::new(), Vec::new());
    let (mut rejoins, mut out_at_end, mut out_after, mut settle_s) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut max_lhm = 0;
    for _ in 0..reps {
        let cluster = Cluster::start(n, &config, 1024).await;
        cluster.join_all().await;
        let traffic = with_broadcasts.then(|| cluster.broadcast_traffic());
        let mut events = cluster.merge_events();
        for c in &cluster.controls {
            c.set_send_loss(p);
        }
        let sent_before: u64 = cluster.nodes.iter().map(|x| x.stats().datagrams_out).sum();
        let end = Instant::now() + Duration::from_secs(secs);
        let (mut dead, mut suspect) = (0u64, 0u64);
        while let Ok(Some((_, event, _))) = tokio::time::timeout_at(end, events.recv()).await {
            match event.kind() {
                EventKind::Dead | EventKind::Left => dead += 1,
                EventKind::Suspect => suspect += 1,
                _ => {}
            }
        }
        let sent: u64 = cluster
            .nodes
            .iter()
            .map(|x| x.stats().datagrams_out)
            .sum::<u64>()
            - sent_before;
        let dropped: u64 = cluster.controls.iter().map(|c| c.sent_dropped()).sum();
        max_lhm = cluster
            .nodes
            .iter()
            .map(|x| x.stats().health)
            .max()
            .unwrap_or(0)
            .max(max_lhm);
        out_at_end.push(cluster.members_out() as f64);
        // Loss off: how long until every view holds every running node alive again.
        for c in &cluster.controls {
            c.set_send_loss(0.0);
        }
        let healed = Instant::now();
        let deadline = healed + Duration::from_secs(30);
        while cluster.members_out() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        settle_s.push(healed.elapsed().as_secs_f64());
        out_after.push(cluster.members_out() as f64);
        rejoins.push(
            (cluster.nodes.iter())
                .map(|x| x.stats().core.auto_rejoins)
                .sum::<u64>() as f64,
        );
        dead_events.push(dead as f64);
        suspect_events.push(suspect as f64);
        drop_ratio.push(dropped as f64 / (sent + dropped).max(1) as f64);
        traffic.inspect(|t| t.abort());
        cluster.shutdown().await;
    }
    json!({
        "scenario": "loss",
        "n": n,
        "app_bytes_per_s": if with_broadcasts { BROADCAST_BYTES_PER_S } else { 0 },
        "secs": secs,
        "reps": reps,
        "send_loss": p,
        "measured_drop_ratio": summary(&drop_ratio),
        "automatic_rejoins": summary(&rejoins),
        "members_out_at_end": summary(&out_at_end),
        "members_out_after_loss_off": summary(&out_after),
        "secs_to_one_view_after_loss_off": summary(&settle_s),
        "dead_events_about_live_nodes": summary(&dead_events),
        "suspect_events_about_live_nodes": summary(&suspect_events),
        "max_lhm_at_end": max_lhm,
        "goals": {
            "zero_out_at_end": out_at_end.iter().all(|d| *d == 0.0),
            "zero_dead": dead_events.iter().all(|d| *d == 0.0),
            "zero_suspect": suspect_events.iter().all(|d| *d == 0.0),
        },
    })
}

/// What one idle repetition measured, per node (passed from a child process as JSON).
#[derive(serde::Serialize, serde::Deserialize)]
struct IdleRep {
    converge: f64,
    settle: f64,
    cpu: f64,
    rss: f64,
    rss_trim: f64,
    heap: f64,
    heap_alone: f64,
    peak: f64,
    bytes: f64,
    kinds: BTreeMap<String, f64>,
}

/// Idle, each repetition in a fresh process (`--idle-rep`): memory freed by one repetition
/// stays mapped in the process, so a second repetition in the same process would measure
/// almost no resident growth.
async fn idle(n: usize, duration: u64, reps: usize, threads: usize) -> Value {
    let mut runs = Vec::new();
    if reps == 1 {
        runs.push(idle_rep(n, duration).await);
    } else {
        let exe = std::env::current_exe().expect("the bench's own path");
        for _ in 0..reps {
            let output = std::process::Command::new(&exe)
                .args(["idle", "--idle-rep", "--n", &n.to_string()])
                .args([
                    "--secs",
                    &duration.to_string(),
                    "--threads",
                    &threads.to_string(),
                ])
                .args(KEYRING.get().map(|_| "--key"))
                .output()
                .expect("run one idle repetition");
            assert!(output.status.success(), "an idle repetition failed");
            let line = String::from_utf8_lossy(&output.stdout);
            runs.push(serde_json::from_str(line.trim()).expect("an idle repetition's figures"));
        }
    }
    let col = |f: fn(&IdleRep) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
    let (cpu, rss, bytes) = (col(|r| r.cpu), col(|r| r.rss), col(|r| r.bytes));
    let mut kinds: BTreeMap<String, f64> = BTreeMap::new();
    for r in &runs {
        for (k, v) in &r.kinds {
            *kinds.entry(k.clone()).or_default() += v / runs.len() as f64;
        }
    }
    let kinds: BTreeMap<String, f64> = kinds.into_iter().map(|(k, v)| (k, round(v))).collect();
    json!({
        "scenario": "idle",
        "key": KEYRING.get().is_some(),
        "n": n,
        "secs": duration,
        "reps": reps,
        "converged_s": summary(&col(|r| r.converge)),
        "gossip_settled_s": summary(&col(|r| r.settle)),
        "cpu_s_per_node_s": summary(&cpu),
        "rss_bytes_per_node": summary(&rss),
        "rss_bytes_per_node_after_malloc_trim": summary(&col(|r| r.rss_trim)),
        "heap_bytes_per_node": summary(&col(|r| r.heap)),
        "heap_bytes_per_node_before_join": summary(&col(|r| r.heap_alone)),
        "peak_heap_bytes_per_node": summary(&col(|r| r.peak)),
        "bytes_sent_per_node_s": summary(&bytes),
        "bytes_sent_per_node_s_by_kind": kinds,
        "goals": {
            "cpu_lt_0.0003": median(&cpu) < 0.0003,
            "rss_lt_64KiB": median(&rss) < 65_536.0,
            "bytes_lt_250": median(&bytes) < 250.0,
        },
    })
}

/// One idle repetition: start, join, wait for gossip to settle, then measure `duration` s.
async fn idle_rep(n: usize, duration: u64) -> IdleRep {
    let config = config();
    malloc_trim();
    let rss_before = rss_bytes();
    let heap_before = heap_bytes();
    reset_peak();
    let cluster = Cluster::start(n, &config, 256).await;
    let heap_alone = (heap_bytes() - heap_before) as f64 / n as f64;
    let took = cluster.join_polling().await;
    // Idle means nothing left to tell: wait until every node has piggybacked the join's
    // news as many times as it should (polled, bounded).
    let quiet = Instant::now();
    while cluster.nodes.iter().any(|x| x.stats().gossip_queued > 0) {
        assert!(
            quiet.elapsed() < Duration::from_secs(120),
            "gossip never settled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let settle = secs(took + quiet.elapsed());
    let cpu0 = cpu_seconds();
    let out0: u64 = cluster.nodes.iter().map(|x| x.stats().bytes_out).sum();
    let kinds0 = cluster.traffic.snapshot();
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(duration)).await;
    let elapsed = start.elapsed().as_secs_f64();
    let cpu1 = cpu_seconds();
    let out1: u64 = cluster.nodes.iter().map(|x| x.stats().bytes_out).sum();
    let kinds1 = cluster.traffic.snapshot();
    let rss_after = rss_bytes();
    let heap_after = heap_bytes();
    malloc_trim();
    let rss_trimmed = rss_bytes();
    let live = cluster.nodes.iter().all(|x| x.cluster_size() == n);
    assert!(live, "the idle cluster lost members");
    let per = (n as f64) * elapsed;
    let rep = IdleRep {
        converge: secs(took),
        settle,
        cpu: (cpu1 - cpu0) / per,
        rss: rss_after.saturating_sub(rss_before) as f64 / n as f64,
        rss_trim: rss_trimmed.saturating_sub(rss_before) as f64 / n as f64,
        heap: (heap_after - heap_before) as f64 / n as f64,
        heap_alone,
        peak: (peak_heap_bytes() - heap_before) as f64 / n as f64,
        bytes: (out1 - out0) as f64 / per,
        kinds: (KINDS.iter().enumerate())
            .map(|(i, kind)| (kind.to_string(), (kinds1[i] - kinds0[i]) as f64 / per))
            .collect(),
    };
    cluster.shutdown().await;
    rep
}

async fn join(n: usize, reps: usize) -> Value {
    let config = config();
    let (mut all, mut med) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let cluster = Cluster::start(n, &config, 1024).await;
        let done = cluster.join_all().await;
        let times: Vec<f64> = done.iter().map(|d| secs(*d)).collect();
        all.push(times.iter().copied().fold(0.0, f64::max));
        med.push(median(&times));
        cluster.shutdown().await;
    }
    json!({
        "scenario": "join",
        "n": n,
        "reps": reps,
        "all_see_all_alive_s": summary(&all),
        "median_node_sees_all_alive_s": summary(&med),
        "goals": { "all_within_0.4_s": median(&all) <= 0.4 },
    })
}

/// Broadcasts a second cluster-wide, and their size: 1 KB/s of application data.
const BROADCASTS_PER_S: u64 = 4;
const BROADCAST_SIZE: usize = 256;
const BROADCAST_BYTES_PER_S: usize = BROADCASTS_PER_S as usize * BROADCAST_SIZE;

/// Application broadcasts at 1 KB/s cluster-wide: four 256-byte broadcasts a second.
async fn broadcast(n: usize, secs: u64) -> Value {
    const PER_SECOND: u64 = BROADCASTS_PER_S;
    const SIZE: usize = BROADCAST_SIZE;
    let config = config();
    let cluster = Cluster::start(n, &config, 1024).await;
    cluster.join_all().await;
    let total = (secs * PER_SECOND) as usize;
    // received[node][broadcast]: when it arrived there.
    let received = Arc::new(std::sync::Mutex::new(vec![vec![None; total]; n]));
    let start = Instant::now();
    for (i, node) in cluster.nodes.iter().enumerate() {
        let mut inbox = node.messages();
        let received = received.clone();
        tokio::spawn(async move {
            while let Some(m) = inbox.recv().await {
                let index = u64::from_le_bytes(m.payload[..8].try_into().unwrap()) as usize;
                received.lock().unwrap()[i][index] = Some(start.elapsed());
            }
        });
    }
    let mut events = cluster.merge_events();
    let sent_before: u64 = cluster.nodes.iter().map(|x| x.stats().bytes_out).sum();
    let mut sent_at = Vec::with_capacity(total);
    let mut origin = Vec::with_capacity(total);
    let mut ticker = tokio::time::interval(Duration::from_millis(1_000 / PER_SECOND));
    for index in 0..total {
        ticker.tick().await;
        let mut payload = vec![0u8; SIZE];
        payload[..8].copy_from_slice(&(index as u64).to_le_bytes());
        let from = index * 37 % n;
        sent_at.push(start.elapsed());
        origin.push(from);
        cluster.nodes[from].broadcast(payload).await.unwrap();
    }
    let sending = start.elapsed();
    // Let the last broadcasts spread: until every member has every one, or 10 s.
    let complete = |r: &Vec<Vec<Option<Duration>>>| {
        (0..total).all(|b| (0..n).all(|i| i == origin[b] || r[i][b].is_some()))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !complete(&received.lock().unwrap()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = start.elapsed();
    let (mut dead, mut suspect) = (0u64, 0u64);
    while let Ok((_, event, _)) = events.try_recv() {
        match event.kind() {
            EventKind::Dead | EventKind::Left => dead += 1,
            EventKind::Suspect => suspect += 1,
            _ => {}
        }
    }
    let r = received.lock().unwrap().clone();
    let (mut missed, mut incomplete) = (0u64, 0u64);
    let mut last_arrival = Vec::with_capacity(total);
    for b in 0..total {
        let mut latest = Duration::ZERO;
        let mut missing = 0;
        for (i, node) in r.iter().enumerate() {
            if i == origin[b] {
                continue;
            }
            match node[b] {
                Some(at) => latest = latest.max(at - sent_at[b]),
                None => missing += 1,
            }
        }
        missed += missing;
        incomplete += (missing > 0) as u64;
        last_arrival.push(latest.as_secs_f64());
    }
    let stats: Vec<_> = cluster.nodes.iter().map(|x| x.stats()).collect();
    let bytes: u64 = stats.iter().map(|s| s.bytes_out).sum::<u64>() - sent_before;
    let dropped: u64 = stats.iter().map(|s| s.core.user_dropped).sum();
    let duplicates: u64 = stats.iter().map(|s| s.core.user_duplicates).sum();
    cluster.shutdown().await;
    json!({
        "scenario": "broadcast",
        "n": n,
        "secs": secs,
        "broadcasts": total,
        "payload_bytes": SIZE,
        "app_bytes_per_s": PER_SECOND as usize * SIZE,
        "deliveries_missed": missed,
        "broadcasts_not_everywhere": incomplete,
        "last_member_received_after_s": {
            "median": round(median(&last_arrival)),
            "max": round(max(&last_arrival)),
        },
        "queue_drops": dropped,
        "duplicates_ignored": duplicates,
        "bytes_out_per_node_per_s": round(bytes as f64 / n as f64 / elapsed.as_secs_f64()),
        "sending_s": round(sending.as_secs_f64()),
        "dead_events_about_live_nodes": dead,
        "suspect_events_about_live_nodes": suspect,
        "goals": {
            "every_member_every_broadcast": missed == 0,
            "no_dead": dead == 0,
        },
    })
}

/// A probability in 0.0..=1.0, for `--loss`.
fn probability(s: &str) -> Result<f64, String> {
    let p: f64 = s
        .parse()
        .map_err(|e| format!("{s:?} is not a number: {e}"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability (0.0 to 1.0)"))
    }
}
