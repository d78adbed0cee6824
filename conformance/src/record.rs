//! Recording what real `swim-checked` nodes do: the reverse direction of conformance.
//!
//! A [`Scenario`] starts a few real nodes on loopback UDP with one [`ManualClock`], a seeded
//! random source and a lossy transport, then drives the cluster from deadline to deadline
//! while it applies the scenario's faults (an aborted node, a stalled node, a graceful leave, a
//! rejoin under a new id after it, a metadata change). Every transition each node's task
//! carries out is captured through its [`Observer`], together with the random picks the core
//! consumed, as a [`Recording`] that [`crate::validate`] checks against the model step by step.
//!
//! Time stands still while datagrams fly: the driver moves the clock only once the network is
//! quiet (every datagram that reached a socket was handled and every running node is idle),
//! so protocol timing is exact whatever the machine's load. The seed fixes the scenario, every
//! random pick and every loss decision; what it does not fix is the order in which a node reads
//! datagrams that arrive at the same instant from different peers (the nodes run concurrently).
//! Every such order is a behaviour the model allows, so the validation must pass for all.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swim_checked::harness::{
    DecodeError, Lossy, ManualClock, Millis, Observer, PickLog, RecordingPicker, RngPicker, Step,
    Transport, UdpTransport,
};
use swim_checked::{Meta, Node, NodeId};
use swim_checked_core::Config;
use tokio::sync::Notify;

/// The longest the run waits, in wall time, for the nodes to go quiet, to take a command or to
/// answer a join. The run's clock is manual: whatever stays undone past this never happens.
const WAIT: Duration = Duration::from_secs(60);

/// One transition of one node, its input and a random choice, as the library records them.
pub use swim_checked::harness::{PickRecord, RecordedInput, RecordedStep};

/// Everything the nodes of one run did.
#[derive(Clone, Debug)]
pub struct Recording {
    pub scenario: Scenario,
    pub config: Config,
    /// Per node, its transitions in the order its task took them.
    pub nodes: Vec<Vec<RecordedStep>>,
    /// Datagrams that failed to decode (there should be none in a clean run).
    pub decode_drops: u64,
    /// Datagrams the lossy transports dropped on send.
    pub lost: u64,
}

impl Recording {
    /// Transitions recorded across all nodes.
    pub fn steps(&self) -> usize {
        self.nodes.iter().map(Vec::len).sum()
    }
}

/// A randomized fault run, fully determined by its seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub seed: u64,
    /// Nodes in the cluster; node 0 is the seed every other node joins through.
    pub nodes: usize,
    /// Probability that a datagram is lost on send.
    pub loss: f64,
    /// Model time at which the run stops.
    pub duration: Millis,
    /// Abort node `.0`'s task (a crash) at time `.1`.
    pub abort: Option<(usize, Millis)>,
    /// Stall node `.0`'s task at time `.1` for `.2` ms (a paused process).
    pub stall: Option<(usize, Millis, Millis)>,
    /// Node `.0` leaves gracefully at time `.1`.
    pub leave: Option<(usize, Millis)>,
    /// Node `.0` (the one that left) rejoins under a new id at time `.1`.
    pub rejoin: Option<(usize, Millis)>,
    /// Node `.0` changes its metadata at time `.1`.
    pub set_meta: Option<(usize, Millis)>,
}

impl Scenario {
    /// A random scenario: 3 to 5 nodes, 0-20% loss, and each fault with some probability,
    /// at distinct nodes and times within the run. Node 0 (the seed) is never faulted.
    pub fn random(seed: u64, config: &Config) -> Scenario {
        let mut rng = StdRng::seed_from_u64(seed);
        let nodes = rng.random_range(3..=5usize);
        let period = config.probe_interval;
        let duration = 100 * period;
        let mut victims: Vec<usize> = (1..nodes).collect();
        let mut fault = |p: f64, rng: &mut StdRng| -> Option<(usize, Millis)> {
            if victims.is_empty() || !rng.random_bool(p) {
                return None;
            }
            let node = victims.swap_remove(rng.random_range(0..victims.len()));
            Some((node, rng.random_range(period..duration * 3 / 4)))
        };
        let abort = fault(0.5, &mut rng);
        let stall = fault(0.5, &mut rng).map(|(node, at)| {
            let length = rng.random_range(period..6 * period);
            (node, at, length)
        });
        let leave = fault(0.3, &mut rng);
        // Most nodes that leave come back, once the leave is over.
        let rejoin = leave.filter(|_| rng.random_bool(0.6)).map(|(node, at)| {
            let back = at + config.leave_timeout + rng.random_range(period..4 * period);
            (node, back.min(duration - period))
        });
        let set_meta = fault(0.4, &mut rng);
        let loss = [0.0, 0.05, 0.1, 0.2][rng.random_range(0..4)];
        Scenario {
            seed,
            nodes,
            loss,
            duration,
            abort,
            stall,
            leave,
            rejoin,
            set_meta,
        }
    }

    /// The scheduled faults, in time order (ties: by node).
    fn schedule(&self) -> Vec<(Millis, usize, Fault)> {
        let mut out = Vec::new();
        if let Some((node, at)) = self.abort {
            out.push((at, node, Fault::Abort));
        }
        if let Some((node, at, length)) = self.stall {
            out.push((at, node, Fault::Stall(length)));
        }
        if let Some((node, at)) = self.leave {
            out.push((at, node, Fault::Leave));
        }
        if let Some((node, at)) = self.set_meta {
            out.push((at, node, Fault::SetMeta));
        }
        if let Some((node, at)) = self.rejoin {
            out.push((at, node, Fault::Rejoin));
        }
        out.sort_by_key(|&(at, node, _)| (at, node));
        out
    }
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    Abort,
    Stall(Millis),
    Leave,
    SetMeta,
    Rejoin,
}

/// Per node: what the driver needs to know to tell when the network is quiet.
#[derive(Debug, Default)]
struct NodeWatch {
    addr: Option<SocketAddr>,
    /// Still running (not aborted).
    live: bool,
    /// Stalled until this time.
    stalled_until: Option<Millis>,
    idle: bool,
    next: Option<Millis>,
    /// Datagrams the node's task read (decoded or not).
    handled: u64,
    steps: Vec<RecordedStep>,
}

#[derive(Debug, Default)]
struct World {
    nodes: Vec<NodeWatch>,
    /// Datagrams that reached each socket.
    arrived: HashMap<SocketAddr, u64>,
    decode_drops: u64,
}

/// The shared view of all nodes of a run.
#[derive(Debug, Default)]
struct Net {
    world: Mutex<World>,
    notify: Notify,
}

impl Net {
    fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether every running node handled everything due at `now`.
    fn quiet(&self, now: Millis) -> bool {
        let w = self.lock();
        w.nodes.iter().all(|n| {
            if !n.live || n.stalled_until.is_some_and(|until| until > now) {
                return true;
            }
            let arrived = n.addr.and_then(|a| w.arrived.get(&a)).copied();
            n.idle && n.next.is_none_or(|d| d > now) && n.handled == arrived.unwrap_or(0)
        })
    }

    async fn settle(&self, now: Millis) -> Result<(), String> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.quiet(now) {
                return Ok(());
            }
            if tokio::time::timeout(WAIT, notified).await.is_err() {
                let w = self.lock();
                let state: Vec<String> = (w.nodes.iter().enumerate())
                    .map(|(i, n)| {
                        let arrived = n.addr.and_then(|a| w.arrived.get(&a)).copied();
                        format!(
                            "node {i}: live {} stalled {:?} idle {} next {:?} handled {} of {}",
                            n.live,
                            n.stalled_until,
                            n.idle,
                            n.next,
                            n.handled,
                            arrived.unwrap_or(0)
                        )
                    })
                    .collect();
                return Err(format!(
                    "the network never went quiet at {now} ms (waited {WAIT:?}): {}",
                    state.join("; ")
                ));
            }
        }
    }

    /// Wait until node `index` has recorded more than `steps` steps.
    async fn wait_steps(&self, index: usize, steps: usize) -> Result<(), String> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lock().nodes[index].steps.len() > steps {
                return Ok(());
            }
            if tokio::time::timeout(WAIT, notified).await.is_err() {
                return Err(format!("node {index} never took its command"));
            }
        }
    }

    /// The earliest time something happens on its own: a timer or the end of a stall.
    fn next_deadline(&self) -> Option<Millis> {
        let w = self.lock();
        (w.nodes.iter().filter(|n| n.live))
            // A stalled node does nothing before its stall ends.
            .filter_map(|n| n.stalled_until.or(n.next))
            .min()
    }
}

/// The observer of node `index`: records its steps and tells the driver when it is idle.
struct Tap {
    net: Arc<Net>,
    index: usize,
    /// The picks of the node's [`RecordingPicker`].
    picks: PickLog,
}

impl Observer for Tap {
    fn on_step(&self, step: &Step<'_>) {
        let record = RecordedStep::of(step, self.picks.take());
        let mut w = self.net.lock();
        let node = &mut w.nodes[self.index];
        node.idle = false;
        if let RecordedInput::Message { .. } = record.input {
            node.handled += 1;
        }
        node.steps.push(record);
    }

    fn on_drop(&self, _now: Millis, _from: SocketAddr, _len: usize, _error: &DecodeError) {
        let mut w = self.net.lock();
        w.nodes[self.index].handled += 1;
        w.decode_drops += 1;
    }

    fn on_idle(&self, _now: Millis, next: Option<Millis>) {
        {
            let mut w = self.net.lock();
            let node = &mut w.nodes[self.index];
            node.idle = true;
            node.next = next;
        }
        self.net.notify.notify_waiters();
    }
}

/// Counts the datagrams that actually reach the socket (after the lossy wrapper's drops), so
/// the driver knows how many each node has to read.
struct Counted {
    inner: UdpTransport,
    net: Arc<Net>,
}

impl Transport for Counted {
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
        // Count first: the receiver may read the datagram before `send` returns.
        *self.net.lock().arrived.entry(to).or_default() += 1;
        let sent = self.inner.send(datagram, to);
        if sent.is_err() {
            *self.net.lock().arrived.entry(to).or_default() -= 1;
        }
        sent
    }
}

/// Run `scenario` with `config` on real nodes and record every transition.
pub async fn record(scenario: &Scenario, config: &Config) -> Result<Recording, String> {
    let net = Arc::new(Net::default());
    let clock = ManualClock::new(0);
    let mut nodes = Vec::new();
    let mut losses = Vec::new();
    // A loopback IP of the run's own: a port another run freed (a node it aborted, which its
    // peers still probe) can be handed to this run too, and their datagrams must not meet.
    let ip = crate::space::next_ip();
    for index in 0..scenario.nodes {
        let socket = UdpTransport::bind(SocketAddr::from((ip, 0)))
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let addr = socket.local_addr().map_err(|e| e.to_string())?;
        net.lock().nodes.push(NodeWatch {
            addr: Some(addr),
            live: true,
            ..NodeWatch::default()
        });
        let transport = Lossy::new(
            Counted {
                inner: socket,
                net: net.clone(),
            },
            0.0, // lossless while joining; the scenario's loss starts after
            scenario.seed.wrapping_mul(31).wrapping_add(index as u64),
        );
        losses.push(transport.control());
        let id = NodeId(index as u64 + 1);
        let meta = Meta::from_pairs([("node", index.to_string())]);
        let (picker, picks) = RecordingPicker::new(RngPicker::seeded(
            scenario.seed.wrapping_mul(7919).wrapping_add(index as u64),
        ));
        let node = Node::builder(config.clone())
            .id(id)
            .meta(meta)
            .clock(clock.clone())
            .picker(picker)
            .observer(Arc::new(Tap {
                net: net.clone(),
                index,
                picks,
            }))
            .start(transport)
            .map_err(|e| format!("start node {index}: {e}"))?;
        nodes.push(node);
    }
    let seed = nodes[0].local_addr();
    for node in &nodes[1..] {
        // The seed answers at once: a join needs no time to pass, and its deadline (on the
        // manual clock) never comes, so a join that is not answered is cut here.
        tokio::time::timeout(WAIT, node.join([seed]))
            .await
            .map_err(|_| format!("join: no answer from the seed within {WAIT:?}"))?
            .map_err(|e| format!("join: {e}"))?;
    }
    for loss in &losses {
        loss.set_send_loss(scenario.loss);
    }

    let mut schedule = scenario.schedule().into_iter().peekable();
    let mut pending = Vec::new();
    loop {
        let now = swim_checked::harness::Clock::now(&clock);
        net.settle(now).await?;
        while let Some(&(at, index, fault)) = schedule.peek() {
            if at > now {
                break;
            }
            schedule.next();
            let node = &nodes[index];
            match fault {
                Fault::Abort => {
                    node.abort();
                    node.stopped().await;
                    net.lock().nodes[index].live = false;
                }
                Fault::Stall(length) => {
                    node.stall(Duration::from_millis(length))
                        .await
                        .map_err(|e| format!("stall: {e}"))?;
                    let mut w = net.lock();
                    w.nodes[index].stalled_until = Some(now + length);
                    w.nodes[index].idle = false;
                }
                Fault::Leave => {
                    // `leave` answers once the leave spread (or timed out): let it run, but
                    // wait until the task took the command, so that it happens at `now`.
                    let before = net.lock().nodes[index].steps.len();
                    let node = node.clone();
                    pending.push(tokio::spawn(async move { node.leave().await }));
                    net.wait_steps(index, before).await?;
                }
                Fault::Rejoin => {
                    // Refused if the leave has not finished yet (the run is cut short): the
                    // refusal is a step like any other.
                    match node.rejoin().await {
                        Ok(_) | Err(swim_checked::Error::Rejected(_)) => {}
                        Err(e) => return Err(format!("rejoin: {e}")),
                    }
                }
                Fault::SetMeta => {
                    let meta = Meta::from_pairs([("node", format!("{index}")), ("v", "2".into())]);
                    // Refused when the node was declared dead meanwhile (a lossy run): the
                    // refusal is a step like any other.
                    match node.set_metadata(meta).await {
                        Ok(()) | Err(swim_checked::Error::Rejected(_)) => {}
                        Err(e) => return Err(format!("set_metadata: {e}")),
                    }
                }
            }
            net.settle(now).await?;
        }
        {
            let mut w = net.lock();
            for n in &mut w.nodes {
                if n.stalled_until.is_some_and(|until| until <= now) {
                    n.stalled_until = None;
                }
            }
        }
        let next = [net.next_deadline(), schedule.peek().map(|&(at, ..)| at)]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(at) if at <= scenario.duration => clock.set(at.max(now + 1)),
            _ => break,
        }
    }
    for node in &nodes {
        node.abort();
    }
    for node in &nodes {
        node.stopped().await;
    }
    for task in pending {
        task.abort();
    }
    let w = net.lock();
    Ok(Recording {
        scenario: scenario.clone(),
        config: config.clone(),
        nodes: w.nodes.iter().map(|n| n.steps.clone()).collect(),
        decode_drops: w.decode_drops,
        lost: losses.iter().map(|l| l.sent_dropped()).sum(),
    })
}
