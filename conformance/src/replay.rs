//! Replaying one node of a trace against a real `swim-checked` node on loopback UDP.
//!
//! Node `i` of the trace runs as a real [`swim_checked::Node`] on its own UDP socket, with a
//! [`ManualClock`], a [`Picker`] that plays back the trace's picks and an [`Observer`]. Every
//! other model node `j` is a harness-owned UDP socket at `j`'s address: the harness delivers
//! datagrams to node `i` from there, exactly as the trace's steps say, and reads what node `i`
//! sends there. Steps of the other nodes are not run: what they send to `i` is taken from the
//! trace (and checked to be in flight when the trace delivers it). A duplicated or replayed
//! datagram is one more copy in flight (a replay must be of a datagram sent to `i` earlier in
//! the trace); its delivery sends node `i` the same bytes again. A crashed node `i` that
//! restarts in the trace runs again as a second real node, at its second address and next
//! generation, from the restart to the end; a restart of another node moves its socket there.
//!
//! Time moves only when node `i` is about to take its next step: the clock is set to the
//! step's time, and if timers are due the shell fires them at once, in (deadline, timer) order.
//! Traces are recorded in the same "shell order", so those firings must be the trace's next
//! steps of node `i`. Each transition the observer reports is compared with the trace's step:
//! the input, the time, the picks consumed, the datagrams sent (decoded, per destination, in
//! order), the armed timers, the events published, the application data delivered and the
//! resulting view. After the last step the shell's own counters ([`swim_checked::Stats`]) and
//! its `metrics` series ([`crate::metered`]) must agree with what the harness sent and read and
//! what the observer saw.
//!
//! With [`Options::keys`] the replay is sealed: every datagram both ways is encrypted, the node
//! is mid key rotation (see [`crate::framing`]), and before its start inputs the node must drop
//! a datagram in the clear, one sealed under a key it does not hold and one whose ciphertext
//! was altered.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use model::checker::report;
use model::checker::{Input, Outsider, Playback, Step, UserCommand, padded_meta};
use swim_checked::NodeId;
use swim_checked::harness::{Clock, DecodeError, ManualClock, Observer, Pick, Picker};
use swim_checked_core::codec::MAX_SUSPECTERS;
use swim_checked_core::{
    Command, CommandError, Effect, EventKind, Member, MemberEvent, Message, Meta, Millis, Status,
    Timer, TimerTable, UserKind, UserMessage, Wire,
};
use tokio::sync::mpsc;

use crate::framing::{Framing, Keys};
use crate::metered::series_name;
use crate::script::{Script, Start};
use crate::space::Space;

/// How a replay runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Longest wait for the node to react (a step, or going idle).
    pub timeout: Duration,
    /// Seal every datagram both ways under these keys (the node requires sealed datagrams);
    /// `None`: in the clear.
    pub keys: Option<Keys>,
    /// Run the node with a deliberately broken shell.
    #[cfg(swim_faults)]
    pub fault: Option<swim_checked::faults::ShellFault>,
    /// Run the node with a deliberately broken core (to replay a broken core's recording).
    #[cfg(swim_faults)]
    pub core_faults: swim_checked_core::faults::Faults,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(20),
            keys: None,
            #[cfg(swim_faults)]
            fault: None,
            #[cfg(swim_faults)]
            core_faults: Default::default(),
        }
    }
}

/// The first difference between the trace and the real node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The trace (file name).
    pub trace: String,
    /// The model node being replayed.
    pub node: usize,
    /// The trace step (index), if the divergence is at one.
    pub step: Option<usize>,
    /// The step, as the trace describes it.
    pub context: String,
    /// What differed, one item per aspect.
    pub diffs: Vec<String>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: replaying n{}: ", self.trace, self.node + 1)?;
        match self.step {
            Some(k) => write!(f, "step {k}: {}", self.context)?,
            None => write!(f, "{}", self.context)?,
        }
        for d in &self.diffs {
            write!(f, "\n  - {}", d.replace('\n', "\n    "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Divergence {}

/// What one replay did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Steps of the node compared (start inputs not counted).
    pub steps: usize,
    /// Datagrams the harness delivered (start inputs included).
    pub delivered: usize,
    /// Datagrams of the node the harness read and compared.
    pub sent: usize,
}

// ----- what the observer sees -----

/// An input as the node task reported it (addresses in the trace's space).
#[derive(Clone, Debug)]
enum Seen {
    Message {
        from: SocketAddr,
        msg: Message,
    },
    Timer(Timer),
    Command {
        command: Command,
        result: Result<(), CommandError>,
    },
}

/// One transition of the node and its outcome, captured when the observer saw it.
#[derive(Clone, Debug)]
struct Observed {
    now: Millis,
    input: Seen,
    /// Datagrams read from the harness sockets, by destination (trace addresses), in order.
    sent: BTreeMap<SocketAddr, Vec<Result<Message, String>>>,
    timers: Vec<(Timer, Millis)>,
    /// Armed timers whose deadline `Node::timer` reports otherwise than `Node::timers`.
    timer_lookups: Vec<String>,
    view: Vec<Member>,
    /// `Node::cluster_size`: Lifeguard's `n`, which must be the view's live members plus the
    /// node itself.
    cluster_size: usize,
    events: Vec<MemberEvent>,
    /// Application data the node delivered (`messages`).
    delivered: Vec<UserMessage>,
    /// Picks consumed during the transition.
    picks: usize,
    /// The first pick the trace did not have, if any.
    pick_error: Option<String>,
}

#[derive(Debug)]
enum Report {
    Step(Box<Observed>),
    Drop {
        /// [`DecodeError::reason`] and the error's text.
        code: &'static str,
        reason: String,
    },
    Idle {
        next: Option<Millis>,
    },
}

/// Plays back the picks of one node, in order: its start's, then those of each of its steps.
/// Never panics on the node task: an unexpected pick is noted and answered all the same (see
/// [`Playback`]), and the harness reports it after the step.
#[derive(Clone, Debug)]
struct TapePicker(Arc<Mutex<Playback>>);

impl Pick for TapePicker {
    fn pick(&mut self, n: usize) -> usize {
        lock(&self.0).pick(n)
    }
}

impl Picker for TapePicker {
    fn node_id(&mut self) -> NodeId {
        lock(&self.0).fail("the node asked for a fresh id");
        NodeId(0)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The observer: on every transition it reads the harness sockets (a loopback `send_to` is in
/// the receiver's buffer when it returns), the timer map, the view and the events.
struct Tap {
    tx: mpsc::UnboundedSender<Report>,
    node: OnceLock<swim_checked::Node>,
    events: Mutex<Option<swim_checked::Events>>,
    messages: Mutex<Option<swim_checked::Messages>>,
    sockets: Arc<Vec<(SocketAddr, UdpSocket)>>,
    node_addr: SocketAddr,
    framing: Arc<Framing>,
    tape: Arc<Mutex<Playback>>,
    space: Space,
    /// Picks consumed before the current transition.
    picks_before: Mutex<usize>,
    /// What the shell's counters must say, as the observer and the harness sockets saw it.
    counted: Mutex<Counted>,
}

/// The harness's own count of what a node did, to hold the shell's [`swim_checked::Stats`]
/// and `metrics` series against.
#[derive(Debug, Default)]
struct Counted {
    /// Datagrams (and their bytes) the harness sockets received from the node.
    datagrams_out: u64,
    bytes_out: u64,
    /// Events in the effects of the node's steps, by kind, and those from suspect to alive.
    events: u64,
    kinds: BTreeMap<&'static str, u64>,
    refuted: u64,
    /// Application data in the effects of the node's steps: broadcasts and direct messages.
    broadcasts: u64,
    directs: u64,
    /// Datagrams the observer saw dropped, by reason.
    dropped: BTreeMap<&'static str, u64>,
}

impl Tap {
    /// The observer of one process of the node, listening at `node_addr` (the replay's space).
    fn new(
        sockets: Arc<Vec<(SocketAddr, UdpSocket)>>,
        node_addr: SocketAddr,
        framing: Arc<Framing>,
        tape: Arc<Mutex<Playback>>,
        space: Space,
    ) -> (Arc<Tap>, mpsc::UnboundedReceiver<Report>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let picks_before = Mutex::new(lock(&tape).consumed());
        let tap = Tap {
            tx,
            node: OnceLock::new(),
            events: Mutex::new(None),
            messages: Mutex::new(None),
            sockets,
            node_addr,
            framing,
            tape,
            space,
            picks_before,
            counted: Mutex::default(),
        };
        (Arc::new(tap), rx)
    }

    fn read_sockets(&self) -> BTreeMap<SocketAddr, Vec<Result<Message, String>>> {
        let mut out: BTreeMap<SocketAddr, Vec<Result<Message, String>>> = BTreeMap::new();
        let mut buf = vec![0u8; 65536];
        for (model_addr, socket) in self.sockets.iter() {
            loop {
                let got = match socket.recv_from(&mut buf) {
                    Ok((len, src)) if src == self.node_addr => {
                        let mut counted = lock(&self.counted);
                        counted.datagrams_out += 1;
                        counted.bytes_out += len as u64;
                        (self.framing.decode(&buf[..len]))
                            .map(|m| self.space.message_to_model(&m))
                            .map_err(|e| format!("undecodable datagram ({e})"))
                    }
                    Ok((len, src)) => Err(format!("{len}-byte datagram from stranger {src}")),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => Err(format!("receive error {e}")),
                };
                out.entry(*model_addr).or_default().push(got);
            }
        }
        out
    }
}

impl Observer for Tap {
    fn on_step(&self, step: &swim_checked::harness::Step<'_>) {
        {
            let mut counted = lock(&self.counted);
            for effect in step.effects {
                match effect {
                    Effect::Event(e) => {
                        counted.events += 1;
                        *counted.kinds.entry(e.kind().name()).or_default() += 1;
                        let refuted = e.from == Some(Status::Suspect) && e.to == Status::Alive;
                        counted.refuted += u64::from(refuted);
                    }
                    Effect::Deliver(m) if m.kind == UserKind::Broadcast => counted.broadcasts += 1,
                    Effect::Deliver(_) => counted.directs += 1,
                    _ => {}
                }
            }
        }
        let input = match step.input {
            // Node::new: part of the start, which the harness checks as a whole.
            swim_checked::harness::Input::Start { .. } => return,
            swim_checked::harness::Input::Message { from, msg } => Seen::Message {
                from: self.space.to_model(from),
                msg: self.space.message_to_model(msg),
            },
            swim_checked::harness::Input::Timer(t) => Seen::Timer(t),
            swim_checked::harness::Input::Command { command, result } => Seen::Command {
                command: match command {
                    Command::Join { seeds } => Command::Join {
                        seeds: seeds.iter().map(|&a| self.space.to_model(a)).collect(),
                    },
                    other => other.clone(),
                },
                result: result.clone(),
            },
        };
        let (timers, view, cluster_size) = match self.node.get() {
            Some(node) => (
                node.timers(),
                node.members()
                    .iter()
                    .map(|m| self.space.member_to_model(m))
                    .collect(),
                node.cluster_size(),
            ),
            None => (Vec::new(), Vec::new(), 0),
        };
        let timer_lookups = match self.node.get() {
            Some(node) => (timers.iter())
                .filter_map(|&(t, at)| {
                    let said = node.timer(t);
                    (said != Some(at)).then(|| {
                        format!(
                            "Node::timer({}) is {said:?}, Node::timers has {at}",
                            report::timer(t)
                        )
                    })
                })
                .collect(),
            None => Vec::new(),
        };
        let mut events = Vec::new();
        if let Some(rx) = lock(&self.events).as_mut() {
            while let Some(e) = rx.try_recv() {
                events.push(self.space.event_to_model(&e));
            }
        }
        let mut delivered = Vec::new();
        if let Some(rx) = lock(&self.messages).as_mut() {
            while let Some(m) = rx.try_recv() {
                delivered.push(m);
            }
        }
        let (picks, pick_error) = {
            let mut tape = lock(&self.tape);
            let mut before = lock(&self.picks_before);
            let picks = tape.consumed() - *before;
            *before = tape.consumed();
            (picks, tape.take_error())
        };
        let observed = Observed {
            now: step.now,
            input,
            sent: self.read_sockets(),
            timers,
            timer_lookups,
            view,
            cluster_size,
            events,
            delivered,
            picks,
            pick_error,
        };
        let _ = self.tx.send(Report::Step(Box::new(observed)));
    }

    fn on_drop(&self, _now: Millis, _from: SocketAddr, _len: usize, error: &DecodeError) {
        *lock(&self.counted)
            .dropped
            .entry(error.reason())
            .or_default() += 1;
        let _ = self.tx.send(Report::Drop {
            code: error.reason(),
            reason: error.to_string(),
        });
    }

    fn on_idle(&self, _now: Millis, next: Option<Millis>) {
        let _ = self.tx.send(Report::Idle { next });
    }
}

// ----- the harness -----

struct Harness<'a> {
    script: &'a Script,
    i: usize,
    space: Space,
    opts: &'a Options,
    node: swim_checked::Node,
    clock: ManualClock,
    rx: mpsc::UnboundedReceiver<Report>,
    /// How node `i` starts.
    me: &'a Start,
    /// Harness sockets, one per address of another node, shared with the observer.
    sockets: Arc<Vec<(SocketAddr, UdpSocket)>>,
    /// Where each model node listens now, in the trace's space (a restart moves one).
    addrs: BTreeMap<usize, SocketAddr>,
    framing: Arc<Framing>,
    tape: Arc<Mutex<Playback>>,
    /// Transitions reported and not yet compared.
    queue: VecDeque<Observed>,
    /// `Some(next deadline)` when the last report was "idle".
    idle: Option<Option<Millis>>,
    /// Datagrams to node `i` in flight in the model: (sender, message).
    in_flight: Vec<(usize, Message)>,
    /// Every datagram ever sent to node `i` in the trace: what the network may replay.
    sent_to_me: Vec<(usize, Message)>,
    /// The observer of the node's current process, to read its counts at the end.
    tap: Arc<Tap>,
    /// Datagrams and UDP payload bytes the harness sent the node's current process.
    datagrams_in: u64,
    bytes_in: u64,
    done: Replayed,
}

impl Drop for Harness<'_> {
    fn drop(&mut self) {
        // The observer holds a handle of the node: stop the task explicitly (a cancelled
        // replay included).
        self.node.abort();
    }
}

/// Replay model node `i` of `script`.
pub async fn replay_node(
    script: &Script,
    i: usize,
    opts: &Options,
) -> Result<Replayed, Divergence> {
    let Some(me) = script.start(i) else {
        return Err(Divergence {
            trace: script.name.clone(),
            node: i,
            step: None,
            context: "could not start".into(),
            diffs: vec![format!("the trace has no start for n{}", i + 1)],
        });
    };
    let mut attempts = 0;
    let mut harness = loop {
        match Harness::bind(script, me, opts, script.addressing.fresh()).await {
            Ok(h) => break h,
            Err(e) if e.kind() == ErrorKind::AddrInUse && attempts < 50 => attempts += 1,
            Err(e) => {
                return Err(Divergence {
                    trace: script.name.clone(),
                    node: i,
                    step: None,
                    context: "could not start".into(),
                    diffs: vec![format!("starting the node on loopback failed: {e}")],
                });
            }
        }
    };
    let result = harness.run().await;
    harness.node.abort();
    let _ = tokio::time::timeout(opts.timeout, harness.node.stopped()).await;
    result.map(|()| harness.done)
}

/// Start a process of node `id`, as `tap` says where: the shell node of the trace's
/// configuration, keys and faults, its picks from the tape, reported to `tap`, at `generation`
/// (`None`: the builder's default). Checks that the node reports what it was given.
async fn start_node(
    script: &Script,
    opts: &Options,
    id: NodeId,
    meta: Meta,
    clock: &ManualClock,
    tap: &Arc<Tap>,
    generation: Option<u64>,
) -> std::io::Result<swim_checked::Node> {
    let config = config_file(&script.config)?;
    // Before the node registers its series, so that they are read back.
    crate::metered::install().map_err(std::io::Error::other)?;
    let builder = swim_checked::Node::builder(config.clone())
        .id(id)
        .meta(meta)
        .clock(clock.clone())
        .picker(TapePicker(tap.tape.clone()))
        .observer(tap.clone());
    let builder = match generation {
        Some(generation) => builder.generation(generation),
        None => builder,
    };
    let builder = match &opts.keys {
        Some(keys) => {
            let (keyring, mode) = keys.node_side().map_err(std::io::Error::other)?;
            builder.keyring(keyring).encryption(mode)
        }
        None => builder,
    };
    #[cfg(swim_faults)]
    let builder = match opts.fault {
        Some(fault) => builder.fault(fault),
        None => builder,
    }
    .core_faults(opts.core_faults);
    let node = builder.bind(tap.node_addr).await.map_err(|e| match e {
        swim_checked::Error::Io { error, .. } => error,
        other => std::io::Error::other(other.to_string()),
    })?;
    // The node runs what it was given, and says so.
    if node.config() != config {
        return Err(std::io::Error::other(format!(
            "the node reports another configuration than it was built with: {:?}",
            node.config()
        )));
    }
    if let Some(keys) = &opts.keys {
        let (ring, mode) = keys.node_side().map_err(std::io::Error::other)?;
        // Installing a key the node holds already changes nothing.
        let older = ring.keys()[1].clone();
        node.install_key(older)
            .map_err(|e| std::io::Error::other(format!("installing a held key: {e}")))?;
        if node.keys() != ring.keys() || node.encryption() != mode {
            return Err(std::io::Error::other(format!(
                "the node holds {} keys in {:?}, not the two it was given (primary first) in {mode:?}",
                node.keys().len(),
                node.encryption()
            )));
        }
    }
    *lock(&tap.events) = Some(node.subscribe());
    *lock(&tap.messages) = Some(node.messages());
    let _ = tap.node.set(node.clone());
    Ok(node)
}

impl<'a> Harness<'a> {
    async fn bind(
        script: &'a Script,
        me: &'a Start,
        opts: &'a Options,
        space: Space,
    ) -> std::io::Result<Harness<'a>> {
        let i = me.index;
        let mut sockets = Vec::new();
        let others = (script.addrs.iter().chain(&script.moved)).filter(|&(&j, _)| j != i);
        for (_, &addr) in others {
            let socket = UdpSocket::bind(space.to_replay(addr))?;
            socket.set_nonblocking(true)?;
            sockets.push((addr, socket));
        }
        let sockets = Arc::new(sockets);
        let steps = script.steps.iter().filter(|step| step.node == Some(i));
        let picks = (me.picks.iter()).chain(steps.flat_map(|step| &step.picks));
        let tape = Arc::new(Mutex::new(Playback::new(picks.copied())));
        let framing = Arc::new(Framing::new(Wire::new(&script.config), opts.keys.as_ref()));
        let node_addr = space.to_replay(me.addr);
        let (tap, rx) = Tap::new(
            sockets.clone(),
            node_addr,
            framing.clone(),
            tape.clone(),
            space,
        );
        let clock = ManualClock::new(me.at);
        let node = start_node(script, opts, me.id, me.meta.clone(), &clock, &tap, None).await?;
        Ok(Harness {
            script,
            i,
            me,
            space,
            opts,
            node,
            clock,
            rx,
            sockets,
            addrs: script.addrs.clone(),
            framing,
            tape,
            queue: VecDeque::new(),
            idle: None,
            in_flight: Vec::new(),
            sent_to_me: Vec::new(),
            tap,
            datagrams_in: 0,
            bytes_in: 0,
            done: Replayed::default(),
        })
    }

    fn fail(
        &self,
        step: Option<usize>,
        context: impl Into<String>,
        diffs: Vec<String>,
    ) -> Divergence {
        Divergence {
            trace: self.script.name.clone(),
            node: self.i,
            step,
            context: context.into(),
            diffs,
        }
    }

    fn fail_at(&self, k: usize, diffs: Vec<String>) -> Divergence {
        let step = &self.script.steps[k];
        self.fail(
            Some(k),
            format!("t={} {}", step.now, report::input(&step.input)),
            diffs,
        )
    }

    /// The next report of the node, within the timeout.
    async fn recv(&mut self, waiting_for: &str) -> Result<Report, String> {
        match tokio::time::timeout(self.opts.timeout, self.rx.recv()).await {
            Ok(Some(report)) => Ok(report),
            Ok(None) => Err(format!("the node task stopped while {waiting_for}")),
            Err(_) => Err(format!(
                "no word from the node within {:?} while {waiting_for}",
                self.opts.timeout
            )),
        }
    }

    /// Take reports until the node is idle with nothing due at the current time.
    async fn settle(&mut self) -> Result<(), String> {
        loop {
            if let Some(next) = self.idle
                && next.is_none_or(|d| d > self.clock.now())
            {
                return Ok(());
            }
            match self.recv("waiting for the node to go idle").await? {
                Report::Step(o) => {
                    self.idle = None;
                    self.queue.push_back(*o);
                }
                Report::Idle { next } => self.idle = Some(next),
                Report::Drop { reason, .. } => {
                    return Err(format!("the node dropped a datagram: {reason}"));
                }
            }
        }
    }

    /// The next transition of the node, after the harness fed it an input.
    async fn next_step(&mut self, waiting_for: &str) -> Result<Observed, String> {
        loop {
            match self.recv(waiting_for).await? {
                Report::Step(o) => {
                    self.idle = None;
                    return Ok(*o);
                }
                Report::Idle { next } => self.idle = Some(next),
                Report::Drop { reason, .. } => {
                    return Err(format!("the node dropped the datagram: {reason}"));
                }
            }
        }
    }

    fn send_from(&mut self, j: usize, msg: &Message, framing: &Framing) -> Result<(), String> {
        let bytes = framing
            .encode(&self.space.message_to_replay(msg))
            .map_err(|e| format!("the trace's message does not encode: {e}"))?;
        self.send_bytes(j, &bytes)
    }

    /// Hand the node `msg` from node `j` as an outsider whose datagram is `wrong`: the shell
    /// must drop it, for that reason, and the node take no step.
    async fn outsider(&mut self, j: usize, msg: &Message, wrong: Outsider) -> Result<(), String> {
        let mut msg = msg.clone();
        let sender = |meta: Meta| Member::alive(msg.from, addr_of(&self.addrs, j), 0, meta);
        match wrong {
            Outsider::MetaOverLimit => {
                let meta = padded_meta(self.script.config.max_meta_bytes + 1);
                msg.gossip.push(sender(meta));
            }
            Outsider::TooManySuspecters => {
                let mut suspect = sender(Meta::default()).with_status(Status::Suspect, 0);
                suspect.suspecters = (1..=MAX_SUSPECTERS as u64 + 1).map(NodeId).collect();
                msg.gossip.push(suspect);
            }
            Outsider::OtherCluster | Outsider::Oversize => {}
        }
        let msg = self.space.message_to_replay(&msg);
        let (bytes, code) = match wrong {
            Outsider::OtherCluster => (self.other_cluster().encode(&msg), "label_mismatch"),
            Outsider::Oversize => {
                let over = self.script.config.max_datagram + 1;
                let bytes = self.framing.encode(&msg).map(|mut b| {
                    b.resize(over.max(b.len()), 0);
                    b
                });
                (bytes, "oversized")
            }
            Outsider::MetaOverLimit | Outsider::TooManySuspecters => {
                (self.framing.encode(&msg), "invalid")
            }
        };
        let bytes = bytes.map_err(|e| format!("the trace's message does not encode: {e}"))?;
        let what = format!("a datagram {}", wrong.name());
        self.expect_drop(j, &bytes, code, &what).await
    }

    /// The same keys as the node's, on another cluster's label.
    fn other_cluster(&self) -> Framing {
        let mut other = self.script.config.clone();
        other.label = format!("{}-other", other.label);
        self.framing.relabelled(Wire::new(&other))
    }

    /// Hand the node `bytes` from node `j` (`what`, for the text of a divergence): the shell
    /// must drop them as `code` ([`DecodeError::reason`]), the node take no step, and its
    /// protocol state (the core, compared whole) be as it was.
    async fn expect_drop(
        &mut self,
        j: usize,
        bytes: &[u8],
        code: &str,
        what: &str,
    ) -> Result<(), String> {
        let before = self.node.with_core(|core| core.clone());
        self.send_bytes(j, bytes)?;
        match self
            .recv(&format!("waiting for {what} to be dropped"))
            .await?
        {
            Report::Drop { code: c, .. } if c == code => {}
            Report::Drop { reason, .. } => {
                return Err(format!(
                    "the node dropped {what} for another reason than {code}: {reason}"
                ));
            }
            Report::Step(o) => {
                return Err(format!(
                    "the node took a step on {what}, which it must drop: {}",
                    seen(&o.input)
                ));
            }
            Report::Idle { .. } => {
                return Err(format!("the node ignored {what} without reporting a drop"));
            }
        }
        self.idle = None;
        self.settle().await?;
        if self.node.with_core(|core| *core != before) {
            return Err(format!("dropping {what} changed the node's state"));
        }
        Ok(())
    }

    fn send_bytes(&mut self, j: usize, bytes: &[u8]) -> Result<(), String> {
        let from = self.addrs.get(&j).filter(|_| j != self.i);
        let Some((_, socket)) = from.and_then(|&a| self.sockets.iter().find(|(s, _)| *s == a))
        else {
            return Err(if j == self.i {
                format!("the trace has n{} send to itself", j + 1)
            } else {
                format!("the trace names no address for n{}", j + 1)
            });
        };
        let to = self.space.to_replay(addr_of(&self.addrs, self.i));
        socket
            .send_to(bytes, to)
            .map_err(|e| format!("sending to the node failed: {e}"))?;
        self.done.delivered += 1;
        self.datagrams_in += 1;
        self.bytes_in += bytes.len() as u64;
        Ok(())
    }

    async fn run(&mut self) -> Result<(), Divergence> {
        self.boot().await?;
        let mut crashed = false;
        for k in 0..self.script.steps.len() {
            let step = &self.script.steps[k];
            let i = self.i;
            let restarts_me = matches!(step.input, Input::Restart { node } if node == i);
            if crashed && !restarts_me {
                if step.node == Some(i) {
                    return Err(self.fail_at(
                        k,
                        vec!["trace inconsistent: a step of the crashed node".into()],
                    ));
                }
                continue;
            }
            match &step.input {
                Input::Deliver { from, to, msg } if *to == i => {
                    if self.script.complete {
                        self.take_in_flight(k, *from, msg)?;
                    }
                    self.node_step(k).await?;
                }
                Input::Timer { node, .. } | Input::Command { node, .. } if *node == i => {
                    self.node_step(k).await?;
                }
                Input::Drop { from, to, msg } if *to == i => self.take_in_flight(k, *from, msg)?,
                Input::Duplicate { from, to, msg } if *to == i => {
                    self.in_flight.push((*from, msg.clone()));
                }
                // A replayed datagram is one more copy in flight; its `deliver` step sends the
                // node the same bytes again.
                Input::Replay { from, to, msg } if *to == i => {
                    let sent = (self.sent_to_me.iter()).any(|(f, m)| f == from && m == msg);
                    if !sent {
                        return Err(self.fail_at(
                            k,
                            vec![format!(
                                "trace inconsistent: n{} never sent {} to n{}, so it cannot be \
                                 replayed",
                                from + 1,
                                report::message(msg),
                                i + 1
                            )],
                        ));
                    }
                    self.in_flight.push((*from, msg.clone()));
                }
                Input::Outsider {
                    from,
                    to,
                    msg,
                    wrong,
                } if *to == i => {
                    self.settle().await.map_err(|e| self.fail_at(k, vec![e]))?;
                    (self.outsider(*from, msg, *wrong).await)
                        .map_err(|e| self.fail_at(k, vec![e]))?;
                }
                Input::Crash { node } if *node == i => {
                    self.settle().await.map_err(|e| self.fail_at(k, vec![e]))?;
                    if let Some(o) = self.queue.pop_front() {
                        return Err(self.fail_at(k, vec![unexpected(&o)]));
                    }
                    self.node.abort();
                    crashed = true;
                }
                Input::Restart { .. } if restarts_me => {
                    if !crashed {
                        return Err(self.fail_at(
                            k,
                            vec!["trace inconsistent: a restart of a running node".into()],
                        ));
                    }
                    self.node_step(k).await?;
                    crashed = false;
                }
                _ => {
                    // Another node's new process listens elsewhere; what its old one sent
                    // is lost (and so cannot be replayed either).
                    if let Input::Restart { node: j } = step.input {
                        self.addrs.insert(j, addr_of(&self.script.moved, j));
                        self.in_flight.retain(|(from, _)| *from != j);
                        self.sent_to_me.retain(|(from, _)| *from != j);
                    }
                    // Another node's step: what it sends to `i` is now in flight.
                    if let Some(j) = step.node
                        && j != i
                    {
                        let me = addr_of(&self.addrs, i);
                        for e in &step.effects {
                            if let Effect::Send { to, msg } = e
                                && *to == me
                            {
                                self.in_flight.push((j, msg.clone()));
                                self.sent_to_me.push((j, msg.clone()));
                            }
                        }
                    }
                }
            }
        }
        if !crashed {
            let end = self.script.steps.len();
            self.settle()
                .await
                .map_err(|e| self.fail(None, format!("after the last step ({end})"), vec![e]))?;
            if let Some(o) = self.queue.pop_front() {
                return Err(self.fail(
                    None,
                    format!("after the last step ({end})"),
                    vec![unexpected(&o)],
                ));
            }
            let diffs = self.diff_counters();
            if !diffs.is_empty() {
                return Err(self.fail(None, format!("the shell's counters ({end} steps)"), diffs));
            }
            let diffs = self.diff_published();
            if !diffs.is_empty() {
                return Err(self.fail(None, format!("the published view ({end} steps)"), diffs));
            }
            (self.shut_down().await).map_err(|e| self.fail(None, "shutdown", vec![e]))?;
        }
        Ok(())
    }

    /// Stop the node as an application does: `shutdown` returns once the task has stopped
    /// and its socket is closed, and then every stream of the node ends.
    async fn shut_down(&mut self) -> Result<(), String> {
        let timeout = self.opts.timeout;
        // `stopped` waits while the node runs, and returns once it ended.
        let mut stopped = std::pin::pin!(self.node.stopped());
        let ready = {
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            stopped.as_mut().poll(&mut cx).is_ready()
        };
        if ready {
            return Err("Node::stopped returned while the node runs".into());
        }
        match tokio::time::timeout(timeout, self.node.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("shutdown failed: {e}")),
            Err(_) => return Err(format!("shutdown did not return within {timeout:?}")),
        }
        if self.node.is_running() {
            return Err("the node task still runs after shutdown returned".into());
        }
        if tokio::time::timeout(timeout, stopped).await.is_err() {
            return Err(format!(
                "Node::stopped did not return within {timeout:?} of shutdown"
            ));
        }
        if let Err(e) = UdpSocket::bind(self.tap.node_addr) {
            return Err(format!(
                "the node's address is still taken after shutdown: {e}"
            ));
        }
        let events = lock(&self.tap.events).take();
        if let Some(mut events) = events {
            match tokio::time::timeout(timeout, events.recv()).await {
                Ok(None) => {}
                Ok(Some(e)) => return Err(format!("an event after shutdown: {}", event(&e))),
                Err(_) => return Err("the event stream did not end after shutdown".into()),
            }
        }
        let messages = lock(&self.tap.messages).take();
        if let Some(mut messages) = messages {
            match tokio::time::timeout(timeout, messages.recv()).await {
                Ok(None) => {}
                Ok(Some(m)) => return Err(format!("application data after shutdown: {m:?}")),
                Err(_) => return Err("the message stream did not end after shutdown".into()),
            }
        }
        Ok(())
    }

    /// The shell's [`swim_checked::Stats`] against the harness's own count: datagrams and bytes
    /// each way, drops by reason, events, and no send, encode or receive error.
    fn diff_counters(&self) -> Vec<String> {
        let _ = self.tap.read_sockets(); // anything sent since the last step is counted too
        let stats = self.node.stats();
        let counted = lock(&self.tap.counted);
        // Counts the shell reports twice, as a `Stats` field and as a `metrics` series.
        let both = [
            (
                "datagrams_in",
                "swim_datagrams_received_total",
                stats.datagrams_in,
                self.datagrams_in,
            ),
            (
                "bytes_in",
                "swim_bytes_received_total",
                stats.bytes_in,
                self.bytes_in,
            ),
            (
                "datagrams_out",
                "swim_datagrams_sent_total",
                stats.datagrams_out,
                counted.datagrams_out,
            ),
            (
                "bytes_out",
                "swim_bytes_sent_total",
                stats.bytes_out,
                counted.bytes_out,
            ),
            (
                "send_errors",
                "swim_send_errors_total",
                stats.send_errors,
                0,
            ),
        ];
        let mut pairs: Vec<(&str, u64, u64)> = (both.iter())
            .map(|&(field, _, said, seen)| (field, said, seen))
            .collect();
        pairs.extend([
            ("events", stats.events, counted.events),
            (
                "suspicions_refuted",
                stats.suspicions_refuted,
                counted.refuted,
            ),
            (
                "core.user_delivered",
                stats.core.user_delivered,
                counted.broadcasts,
            ),
            (
                "core.direct_delivered",
                stats.core.direct_delivered,
                counted.directs,
            ),
            ("encode_errors", stats.encode_errors, 0),
            ("recv_errors", stats.recv_errors, 0),
        ]);
        for (reason, n) in stats.dropped.iter() {
            pairs.push((reason, n, counted.dropped.get(reason).copied().unwrap_or(0)));
        }
        let mut diffs: Vec<String> = (pairs.into_iter())
            .filter(|(_, said, seen)| said != seen)
            .map(|(name, said, seen)| {
                format!("stats: {name} is {said}, the harness counted {seen}")
            })
            .collect();
        let series = both.map(|(_, series, _, seen)| (series.to_owned(), seen));
        diffs.extend(self.diff_metrics(series.into(), &stats, &counted));
        // The core's own counters: as the model's node ended the run.
        if let Some(model) = self.me.stats
            && model != stats.core
        {
            diffs.push(format!(
                "stats.core differs from the model's at the end of the run:\n  node:  {:?}\n  model: {model:?}",
                stats.core
            ));
        }
        diffs
    }

    /// The node's `metrics` series against the same counts: every series it registers, each
    /// as the harness counted (`counters`, with drops by reason and events by kind added
    /// here), and its gauges as the node reads now (which catches a gauge never set or set
    /// from another reading; local health is 0 at the end of most traces).
    fn diff_metrics(
        &self,
        mut counters: BTreeMap<String, u64>,
        stats: &swim_checked::Stats,
        counted: &Counted,
    ) -> Vec<String> {
        let series = match crate::metered::series_of(self.tap.node_addr) {
            Ok(series) => series,
            Err(e) => return vec![format!("metrics: {e}")],
        };
        for reason in swim_checked::Drops::REASONS {
            let n = counted.dropped.get(reason).copied().unwrap_or(0);
            let name = series_name("swim_datagrams_dropped_total", &[("reason", reason)]);
            counters.insert(name, n);
        }
        for kind in EventKind::ALL.map(EventKind::name) {
            let n = counted.kinds.get(kind).copied().unwrap_or(0);
            counters.insert(
                series_name("swim_member_events_total", &[("kind", kind)]),
                n,
            );
        }
        let gauges: BTreeMap<String, f64> = [
            ("swim_local_health", f64::from(stats.health)),
            ("swim_cluster_size", self.node.cluster_size() as f64),
        ]
        .map(|(name, v)| (name.to_owned(), v))
        .into();
        let mut diffs = Vec::new();
        for (name, said, seen) in differing(&series.counters, &counters) {
            diffs.push(format!(
                "metrics: {name} is {said}, the harness counted {seen}"
            ));
        }
        for (name, said, seen) in differing(&series.gauges, &gauges) {
            diffs.push(format!(
                "metrics: gauge {name} is {said}, the node reads {seen}"
            ));
        }
        diffs
    }

    /// The view as the shell publishes it (`Node::watch`, brought up to date when a watcher
    /// subscribes) and its live members (`Node::live_members`) must be the view the core holds.
    fn diff_published(&self) -> Vec<String> {
        let members = self.node.members();
        let live: Vec<Member> = (members.iter())
            .filter(|m| !m.status.is_terminal())
            .cloned()
            .collect();
        let view = self.node.watch().borrow().clone();
        let mut diffs = Vec::new();
        if view.members() != members.as_slice() || view.local() != &members[0] {
            diffs.push(format!(
                "watch: the published view is {:?}, the node's {members:?}",
                view.members()
            ));
        }
        if (members.iter()).any(|m| view.get(m.id) != Some(m)) {
            diffs.push("watch: the published view finds other records by id".into());
        }
        if view.live().cloned().collect::<Vec<_>>() != live || view.live_count() != live.len() {
            diffs.push(format!(
                "watch: the published live members differ from the view's: {:?}",
                view.live().collect::<Vec<_>>()
            ));
        }
        if self.node.live_members() != live {
            diffs.push(format!(
                "live_members is {:?}, the view's live members {live:?}",
                self.node.live_members()
            ));
        }
        diffs
    }

    fn take_in_flight(&mut self, k: usize, from: usize, msg: &Message) -> Result<(), Divergence> {
        match self
            .in_flight
            .iter()
            .position(|(f, m)| *f == from && m == msg)
        {
            Some(p) => {
                self.in_flight.remove(p);
                Ok(())
            }
            None => Err(self.fail_at(
                k,
                vec![format!(
                    "trace inconsistent: n{} never sent {} to n{}",
                    from + 1,
                    report::message(msg),
                    self.i + 1
                )],
            )),
        }
    }

    /// Create the node's state as the trace's start does: a label probe first (a datagram of
    /// another cluster must be dropped), then the start inputs; compare picks, timers and view.
    async fn boot(&mut self) -> Result<(), Divergence> {
        let me = self.me;
        let fail = |h: &Self, diffs: Vec<String>| h.fail(None, "start", diffs);
        self.settle().await.map_err(|e| fail(self, vec![e]))?;
        if me.inputs_at != me.at {
            self.clock.set(me.inputs_at);
            self.settle().await.map_err(|e| fail(self, vec![e]))?;
            if let Some(o) = self.queue.pop_front() {
                return Err(fail(self, vec![unexpected(&o)]));
            }
        }
        // The smallest start input, labelled for another cluster (it must still fit a
        // datagram), and its forgeries (when sealed, three more): each must be dropped.
        let probe = (me.inputs.iter()).min_by_key(|(_, msg)| self.framing.wire().datagram_len(msg));
        if let Some((from, msg)) = probe {
            let msg = self.space.message_to_replay(msg);
            let encoded = (self.other_cluster().encode(&msg))
                .and_then(|other| Ok((other, self.framing.forgeries(&msg)?)));
            let (other, forgeries) = encoded.map_err(|e| {
                fail(
                    self,
                    vec![format!("the trace's message does not encode: {e}")],
                )
            })?;
            let other_cluster = "a datagram labelled for another cluster";
            (self
                .expect_drop(*from, &other, "label_mismatch", other_cluster)
                .await)
                .map_err(|e| fail(self, vec![e]))?;
            for forgery in forgeries {
                (self
                    .expect_drop(*from, &forgery.bytes, forgery.code, forgery.what)
                    .await)
                    .map_err(|e| fail(self, vec![e]))?;
            }
        }
        for (n, (from, msg)) in me.inputs.iter().enumerate() {
            let framing = self.framing.clone();
            self.send_from(*from, msg, &framing)
                .map_err(|e| fail(self, vec![e]))?;
            let o = self
                .next_step("waiting for a start input to be handled")
                .await
                .map_err(|e| fail(self, vec![e]))?;
            let expected = Seen::Message {
                from: addr_of(&self.addrs, *from),
                msg: msg.clone(),
            };
            if !same_input(&expected, &o.input) {
                return Err(fail(
                    self,
                    vec![format!(
                        "start input {n}: expected {expected:?}, the node took {:?}",
                        o.input
                    )],
                ));
            }
            if let Some(e) = o.pick_error {
                return Err(fail(self, vec![format!("start input {n}: {e}")]));
            }
            self.settle().await.map_err(|e| fail(self, vec![e]))?;
            if let Some(o) = self.queue.pop_front() {
                return Err(fail(self, vec![unexpected(&o)]));
            }
        }
        // The start's own datagrams (acks of the draining pings) are not part of the run.
        let mut diffs = Vec::new();
        let consumed = lock(&self.tape).consumed();
        if consumed != me.picks.len() {
            diffs.push(format!(
                "picks: the trace's start makes {}, the node made {consumed}",
                me.picks.len()
            ));
        }
        diff_timers(&mut diffs, &me.timers, &self.node.timers());
        let view: Vec<Member> = (self.node.members().iter())
            .map(|m| self.space.member_to_model(m))
            .collect();
        diff_view(&mut diffs, &me.view, &view);
        if !diffs.is_empty() {
            return Err(fail(self, diffs));
        }
        Ok(())
    }

    /// Node `i` starts again at `now`, as the model restarts it: a new process of the same id
    /// and metadata at its second address and next generation, which joins through the
    /// others' addresses (in index order). Returns the join's transition.
    async fn start_again(&mut self, now: Millis) -> Result<Observed, String> {
        let i = self.i;
        let Some(&addr) = self.script.moved.get(&i) else {
            return Err(format!("the trace names no second address for n{}", i + 1));
        };
        let old = self.node.local_member();
        self.clock.set(now);
        let node_addr = self.space.to_replay(addr);
        let (tap, rx) = Tap::new(
            self.sockets.clone(),
            node_addr,
            self.framing.clone(),
            self.tape.clone(),
            self.space,
        );
        let generation = Some(old.generation + 1);
        let node = start_node(
            self.script,
            self.opts,
            old.id,
            old.meta,
            &self.clock,
            &tap,
            generation,
        )
        .await
        .map_err(|e| format!("starting the node again at {node_addr} failed: {e}"))?;
        (self.node, self.tap, self.rx) = (node, tap, rx);
        (self.idle, self.datagrams_in, self.bytes_in) = (None, 0, 0);
        self.addrs.insert(i, addr);
        self.settle().await?;
        if let Some(o) = self.queue.pop_front() {
            return Err(unexpected(&o));
        }
        let seeds: Vec<SocketAddr> = (seeds(&self.addrs, i))
            .map(|a| self.space.to_replay(a))
            .collect();
        let node = self.node.clone();
        // Not awaited: the join answers once a seed does.
        tokio::spawn(async move { node.join(seeds).await });
        self.next_step("waiting for the join of the node's new process")
            .await
    }

    /// Node `i`'s step `k`: take the transition the node already reported, or bring it about
    /// (set the clock, deliver the datagram, run the command), then compare.
    async fn node_step(&mut self, k: usize) -> Result<(), Divergence> {
        let step = &self.script.steps[k];
        let observed = match self.queue.pop_front() {
            Some(o) => o,
            None => self
                .bring_about(k)
                .await
                .map_err(|e| self.fail_at(k, vec![e]))?,
        };
        let timers = self.script.timers_after(k);
        let diffs = compare(self.script, &self.addrs, step, timers, &observed);
        self.done.steps += 1;
        self.done.sent += observed.sent.values().map(Vec::len).sum::<usize>();
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(self.fail_at(k, diffs))
        }
    }

    /// A metadata call that changes nothing (setting `key` to the value it has, or removing
    /// it while absent) answers so and leaves the node as it was: no raised incarnation.
    async fn expect_meta_unchanged(&mut self, key: &str) -> Result<(), String> {
        self.settle().await?;
        let queued = self.queue.len();
        let before = self.node.with_core(|core| core.clone());
        let (call, answer) = match before.local_member().meta.get(key) {
            Some(value) => (
                "set_meta_key to the value it has",
                self.node.set_meta_key(key, value).await,
            ),
            None => (
                "remove_meta_key of an absent key",
                self.node.remove_meta_key(key).await,
            ),
        };
        if !matches!(answer, Ok(false)) {
            return Err(format!("{call} answered {answer:?}, not Ok(false)"));
        }
        // The node reports going idle after the request: no step may come before that.
        self.idle = None;
        self.settle().await?;
        if let Some(o) = self.queue.get(queued) {
            return Err(format!("{call} made a step: {}", seen(&o.input)));
        }
        if self.node.with_core(|core| core.clone()) != before {
            return Err(format!("{call} changed the node"));
        }
        Ok(())
    }

    async fn bring_about(&mut self, k: usize) -> Result<Observed, String> {
        let step = &self.script.steps[k];
        if let Input::Restart { .. } = step.input {
            return self.start_again(step.now).await;
        }
        self.settle().await?;
        if let Some(o) = self.queue.pop_front() {
            return Ok(o);
        }
        self.clock.set(step.now);
        self.settle().await?;
        if let Some(o) = self.queue.pop_front() {
            return Ok(o);
        }
        // One key set (the model's metadata changes are): through the key-level API, which
        // reads the node's metadata itself and answers whether it changed.
        if let Input::Command {
            command: UserCommand::SetMeta(meta),
            ..
        } = &step.input
            && let Some((key, value)) =
                (self.node).with_core(|core| one_key_set(&core.local_member().meta, meta))
        {
            self.expect_meta_unchanged(&key).await?;
            let changed = self.node.set_meta_key(&key, value).await;
            if !matches!(changed, Ok(true)) {
                return Err(format!(
                    "set_meta_key answered {changed:?} to a change of one key"
                ));
            }
            let observed = self
                .next_step("waiting for the metadata change to be handled")
                .await?;
            // Now the key holds the value: setting it again changes nothing.
            self.expect_meta_unchanged(&key).await?;
            return Ok(observed);
        }
        match &step.input {
            Input::Timer { timer, .. } => Err(format!(
                "the node fires nothing at t={}: the trace fires {}, the node's next deadline is {}",
                step.now,
                report::timer(*timer),
                match self.idle.flatten() {
                    Some(d) => format!("t={d}"),
                    None => "none".into(),
                }
            )),
            Input::Deliver { from, msg, .. } => {
                // A copy altered on the way arrives first: dropped, and nothing changes.
                let copy = (self.framing.tampered(&self.space.message_to_replay(msg)))
                    .map_err(|e| format!("the trace's message does not encode: {e}"))?;
                self.expect_drop(*from, &copy.bytes, copy.code, copy.what)
                    .await?;
                let framing = self.framing.clone();
                self.send_from(*from, msg, &framing)?;
                self.next_step("waiting for the delivered datagram to be handled")
                    .await
            }
            Input::Command { command, .. } => {
                let node = self.node.clone();
                let command = command.clone();
                // Not awaited: `leave` answers only once the leave is over (the observer reports
                // the command's result).
                tokio::spawn(async move {
                    let _ = match command {
                        UserCommand::Leave => node.leave().await,
                        UserCommand::SetMeta(meta) => node.set_metadata(meta).await,
                        UserCommand::ConfirmDead(id) => node.confirm_dead(id).await,
                        UserCommand::Rejoin(id) => node.rejoin_as(id).await.map(drop),
                        UserCommand::Broadcast(payload) => node.broadcast(payload).await,
                        UserCommand::SendTo(id, payload) => node.send_to(id, payload).await,
                    };
                });
                self.next_step("waiting for the command to be handled")
                    .await
            }
            other => Err(format!("not a step of the node: {other:?}")),
        }
    }
}

/// The one key whose value `new` sets (added or changed) when `new` is `current` with that
/// key set; `None` for any other change.
fn one_key_set(current: &Meta, new: &Meta) -> Option<(String, String)> {
    let kept = current.iter().all(|(k, _)| new.get(k).is_some());
    let mut set = new.iter().filter(|&(k, v)| current.get(k) != Some(v));
    match (kept, set.next(), set.next()) {
        (true, Some((k, v)), None) => Some((k.to_owned(), v.to_owned())),
        _ => None,
    }
}

/// The node's configuration as a deployment hands it over, a TOML document that the shell
/// loads: the trace's fields, durations in integer milliseconds (one of the loader's two forms).
/// What the shell writes back (durations as `"10ms"`, `"1s"`: the loader's other form) must
/// load as the same configuration, and that one runs the node.
fn config_file(config: &swim_checked_core::Config) -> std::io::Result<swim_checked::Config> {
    let text = toml::to_string(config)
        .map_err(|e| std::io::Error::other(format!("the trace's config as TOML: {e}")))?;
    let loaded: swim_checked::Config = toml::from_str(&text).map_err(|e| {
        std::io::Error::other(format!("the config file does not load: {e}\n{text}"))
    })?;
    let written = toml::to_string(&loaded)
        .map_err(|e| std::io::Error::other(format!("the loaded config as TOML: {e}")))?;
    let reloaded: swim_checked::Config = toml::from_str(&written).map_err(|e| {
        std::io::Error::other(format!(
            "the config the shell wrote does not load: {e}\n{written}"
        ))
    })?;
    if reloaded != loaded {
        return Err(std::io::Error::other(format!(
            "the config the shell wrote loads as another:\n{written}"
        )));
    }
    Ok(reloaded)
}

/// Where a restarted node `i` joins through, as the model has it: every other node's current
/// address in `addrs`, in index order.
fn seeds(addrs: &BTreeMap<usize, SocketAddr>, i: usize) -> impl Iterator<Item = SocketAddr> + '_ {
    (addrs.iter())
        .filter(move |&(&j, _)| j != i)
        .map(|(_, &a)| a)
}

/// The address of node `j` in `addrs` (an unknown node has none, and so matches no address).
fn addr_of(addrs: &BTreeMap<usize, SocketAddr>, j: usize) -> SocketAddr {
    (addrs.get(&j).copied()).unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
}

fn unexpected(o: &Observed) -> String {
    format!(
        "the node took a step the trace does not have next: t={} {}",
        o.now,
        seen(&o.input)
    )
}

fn seen(input: &Seen) -> String {
    match input {
        Seen::Message { from, msg } => format!("receives {} from {from}", report::message(msg)),
        Seen::Timer(t) => format!("timer {} fires", report::timer(*t)),
        Seen::Command { command, result } => format!("command {command:?} ({result:?})"),
    }
}

fn same_input(expected: &Seen, got: &Seen) -> bool {
    match (expected, got) {
        (Seen::Message { from, msg }, Seen::Message { from: f, msg: m }) => from == f && msg == m,
        _ => false,
    }
}

/// Every difference between the trace's step and the node's transition, where `addrs` are the
/// nodes' addresses after the step.
fn compare(
    script: &Script,
    addrs: &BTreeMap<usize, SocketAddr>,
    step: &Step,
    timers: Option<&TimerTable>,
    o: &Observed,
) -> Vec<String> {
    let mut diffs = Vec::new();
    let input_ok = match (&step.input, &o.input) {
        (Input::Deliver { from, msg, .. }, Seen::Message { from: f, msg: m }) => {
            addr_of(addrs, *from) == *f && msg == m
        }
        // A new process joins through the others' addresses, in index order.
        (Input::Restart { node }, Seen::Command { command, .. }) => {
            let seeds = seeds(addrs, *node).collect();
            *command == Command::Join { seeds }
        }
        (Input::Timer { timer, .. }, Seen::Timer(t)) => timer == t,
        (Input::Command { command, .. }, Seen::Command { command: c, .. }) => {
            command.to_core() == *c
        }
        _ => false,
    };
    if !input_ok {
        diffs.push(format!(
            "input: the trace has {}, the node took {}",
            report::input(&step.input),
            seen(&o.input)
        ));
        return diffs;
    }
    if let Seen::Command { result: Err(e), .. } = &o.input {
        diffs.push(format!("command refused by the node: {e:?}"));
    }
    if step.now != o.now {
        diffs.push(format!(
            "time: the trace is at t={}, the node at t={}",
            step.now, o.now
        ));
    }
    if let Some(e) = &o.pick_error {
        diffs.push(format!("picks: {e}"));
    } else if o.picks != step.picks.len() {
        diffs.push(format!(
            "picks: the trace's step makes {}, the node made {}",
            step.picks.len(),
            o.picks
        ));
    }
    // Datagrams, per destination, in order.
    let mut expected: BTreeMap<SocketAddr, Vec<Result<Message, String>>> = BTreeMap::new();
    let mut events = Vec::new();
    let mut delivered = Vec::new();
    for e in &step.effects {
        match e {
            Effect::Send { to, msg } => expected.entry(*to).or_default().push(Ok(msg.clone())),
            Effect::Event(ev) => events.push(ev.clone()),
            Effect::Deliver(m) => delivered.push(m.clone()),
            _ => {}
        }
    }
    if delivered != o.delivered {
        diffs.push(format!(
            "application data delivered:\n  trace: {delivered:?}\n  node:  {:?}",
            o.delivered
        ));
    }
    let dests: std::collections::BTreeSet<&SocketAddr> =
        expected.keys().chain(o.sent.keys()).collect();
    for to in dests {
        let want = expected.get(to).map_or(&[][..], Vec::as_slice);
        let got = o.sent.get(to).map_or(&[][..], Vec::as_slice);
        if want != got {
            let name = match script.index_of(*to) {
                Some(j) => format!("n{}", j + 1),
                None => to.to_string(),
            };
            diffs.push(format!(
                "datagrams to {name}:\n  trace: {}\n  node:  {}",
                datagrams(want, got),
                datagrams(got, want)
            ));
        }
    }
    if let Some(timers) = timers {
        diff_timers(&mut diffs, timers, &o.timers);
    }
    diffs.extend(o.timer_lookups.iter().cloned());
    if events != o.events {
        let show = |es: &[MemberEvent]| {
            if es.is_empty() {
                "(none)".to_string()
            } else {
                es.iter().map(event).collect::<Vec<_>>().join("; ")
            }
        };
        diffs.push(format!(
            "events:\n  trace: {}\n  node:  {}",
            show(&events),
            show(&o.events)
        ));
    }
    if let Some(view) = &step.view {
        diff_view(&mut diffs, view, &o.view);
        // Itself, whatever its status, and every record that is neither dead nor left.
        let live = 1
            + (view.iter().skip(1))
                .filter(|m| !m.status.is_terminal())
                .count();
        if o.cluster_size != live {
            diffs.push(format!(
                "cluster size: the trace's view holds {live} members in the cluster, the node \
                 says {}",
                o.cluster_size
            ));
        }
    }
    diffs
}

fn event(e: &MemberEvent) -> String {
    format!(
        "{} {} -> {}",
        report::member(&e.member),
        e.from.map_or("unknown", |s| s.name()),
        e.to.name()
    )
}

/// `ours`, compactly; in full (`Debug`) when the compact forms cannot tell it from `theirs`.
fn datagrams(ours: &[Result<Message, String>], theirs: &[Result<Message, String>]) -> String {
    let short = |d: &Result<Message, String>| match d {
        Ok(m) => report::message(m),
        Err(e) => e.clone(),
    };
    if ours.is_empty() {
        return "(none)".into();
    }
    let a: Vec<String> = ours.iter().map(short).collect();
    let b: Vec<String> = theirs.iter().map(short).collect();
    if a == b {
        format!("{ours:?}")
    } else {
        a.join("; ")
    }
}

fn diff_timers(diffs: &mut Vec<String>, want: &TimerTable, got: &[(Timer, Millis)]) {
    let mut want: Vec<_> = want.iter().collect();
    let mut got = got.to_vec();
    want.sort();
    got.sort();
    if want != got {
        let show = |ts: &[(Timer, Millis)]| {
            if ts.is_empty() {
                "(none)".to_string()
            } else {
                ts.iter()
                    .map(|(t, at)| format!("{} at {at}", report::timer(*t)))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        diffs.push(format!(
            "timers:\n  trace: {}\n  node:  {}",
            show(&want),
            show(&got)
        ));
    }
}

fn diff_view(diffs: &mut Vec<String>, want: &[Member], got: &[Member]) {
    if want != got {
        let (a, b) = (report::view(want), report::view(got));
        if a == b {
            diffs.push(format!("view:\n  trace: {want:?}\n  node:  {got:?}"));
        } else {
            diffs.push(format!("view:\n  trace: {a}\n  node:  {b}"));
        }
    }
}

/// The entries on which two maps differ, with what each holds (`-` for nothing).
fn differing<V: PartialEq + std::fmt::Display>(
    said: &BTreeMap<String, V>,
    seen: &BTreeMap<String, V>,
) -> Vec<(String, String, String)> {
    let show = |v: Option<&V>| v.map_or("-".to_owned(), V::to_string);
    (said.keys().chain(seen.keys()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|name| said.get(*name) != seen.get(*name))
        .map(|name| (name.clone(), show(said.get(name)), show(seen.get(name))))
        .collect()
}
