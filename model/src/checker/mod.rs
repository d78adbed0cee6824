//! The model checker: a hand-written [`stateright::Model`] over the real core.
//!
//! The state is `N` [`Node`]s (the very state machine production runs) plus their environment:
//! the datagrams in flight (a multiset), each node's pending timers with their deadlines, a
//! discrete clock, each node's life (up, paused, crashed) and budgets for faults and user
//! commands. Every action is one input to one node, or one move of the environment:
//!
//! | action | when |
//! |---|---|
//! | deliver a datagram | its destination is up |
//! | fire a timer | it is due (`deadline <= now`) on an up node |
//! | resume a paused node | always (and before the clock may pass the disturbance window) |
//! | advance the clock | nothing above is enabled: one millisecond if a datagram is on its way, else to the next deadline (within the horizon) |
//! | drop / duplicate a datagram, crash / pause a node | budget left, inside the disturbance window |
//! | leave, set metadata, confirm dead, rejoin (user commands) | budget left, inside the disturbance window |
//!
//! A datagram takes one millisecond: sent at `t`, it is delivered (or dropped, or duplicated)
//! at `t + 1`, before the clock moves on. The network is fast next to the protocol's timers (a
//! period is 10 ms), so a lost probe is a drop, a pause or a crash, never a slow wire.
//! Datagrams arriving in the same millisecond reach a node in every order; one sent later
//! arrives later. The fixed latency is what makes a node's inputs of one instant independent of
//! the other nodes' (nothing sent in an instant arrives in it), which the reductions for large
//! worlds rely on ([`Setup::node_order`], [`instants`]). Every
//! random choice the core asks for ([`swim_checked_core::Pick`]) is explored: an input that picks becomes one
//! action per sequence of outcomes. Timer durations are the core's own (LHM scaling, Lifeguard
//! suspicion timeout) on the scaled-down [`Setup::scaled_config`].
//!
//! Faults and commands stop at [`Setup::disturb_until`], `horizon - settle`, so that every run
//! ends with a fault-free stretch long enough for detection and dissemination: that is what makes
//! "convergence at rest" and "completeness" bounded safety properties (see [`properties`]).

pub mod export;
pub mod instants;
pub mod properties;
pub mod report;
pub mod symmetry;
pub mod trace;
pub mod walk;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use stateright::{Model, Property};

use swim_checked_core::status::precedence;
use swim_checked_core::suspicion::Bounds;
use swim_checked_core::{
    Command, Config, Effect, Member, Message, Meta, Millis, Node, NodeId, Phase, Pick, Status,
    Timer,
};

pub use properties::{Kind, PropertyInfo};
pub use trace::{Input, PickRecord, Step, Trace, UserCommand};

// ----- the world being checked -----

/// What world to check: how many nodes, which faults, how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Nodes in the cluster (2 to 5), all members from the start.
    pub nodes: usize,
    /// Datagrams the network may lose.
    pub drops: u8,
    /// Datagrams the network may deliver twice.
    pub duplicates: u8,
    /// Nodes that may crash (for good: a restarted process is a new member).
    pub crashes: u8,
    /// Times a node may be paused (a slow node: its timers and deliveries wait).
    pub pauses: u8,
    /// Graceful leaves.
    pub leaves: u8,
    /// Metadata changes (each raises the owner's incarnation).
    pub meta_changes: u8,
    /// Rejoins under a new id, by a node that left or was removed (see [`rejoin_id`]).
    pub rejoins: u8,
    /// Model time at which the run ends (milliseconds of the scaled-down config).
    pub horizon: Millis,
    /// Node `i` starts `i x stagger` ms after node 0 (0: all protocol periods aligned, the
    /// most concurrent and the largest space).
    pub stagger: Millis,
    /// Explore only the orders a real node task can show (see [`SwimModel::inputs`]): the
    /// conformance corpus is exported this way.
    pub shell_order: bool,
    /// Within an instant, nodes take their inputs in index order: node `j` takes a step only
    /// once no node before it has a datagram to take or a timer due (see
    /// [`SwimModel::inputs`]). A partial-order reduction for large worlds (`check` turns it
    /// on from four nodes). It is sound because nothing sent in an instant arrives in it:
    /// steps of different nodes in one instant touch different hosts and only add to what
    /// arrives later, so any run of an instant can be reordered node by node, each node
    /// keeping its own order, into one this rule allows, ending in the same state. So every
    /// state at which the clock moves is still reached, and every node still goes through
    /// every sequence of views it can. Crashes and losses, which touch one host or one
    /// datagram, are ordered the same way: a node crashes between its own inputs or once no
    /// node has anything left to take, and the datagrams to an up node are lost in their
    /// order.
    /// What is not visited are mixes of two nodes at different points of one instant: a
    /// property relating two nodes' states is checked there at every instant start and as
    /// each node steps, but a breach that begins and ends inside one millisecond could be
    /// missed (`tests/reduction.rs` shows the reduced search reaching the same instant
    /// starts, verdicts and broken cores).
    pub node_order: bool,
    /// End a run as soon as it is quiet ([`SwimModel::is_quiet`]): nothing can change a view
    /// any more, so the rest of the horizon adds states but nothing to check. On for `check`;
    /// off for the conformance corpus, whose traces run to the horizon.
    pub stop_when_quiet: bool,
    /// The core's configuration (validated).
    pub core: Config,
    /// Deliberate bugs the nodes run with (tests only).
    #[cfg(swim_faults)]
    pub faults: swim_checked_core::faults::Faults,
}

impl Setup {
    /// The default world of `check`: one drop, one crash, Lifeguard on, protocol periods
    /// aligned (every node ticks at the same instants: the most concurrent case).
    pub fn new(nodes: usize) -> Self {
        let core = Self::scaled_config(false);
        let mut setup = Setup {
            nodes,
            drops: 1,
            duplicates: 0,
            crashes: 1,
            pauses: 0,
            leaves: 0,
            meta_changes: 0,
            rejoins: 0,
            horizon: 0,
            stagger: 0,
            shell_order: false,
            node_order: false,
            stop_when_quiet: true,
            core,
            #[cfg(swim_faults)]
            faults: swim_checked_core::faults::Faults::NONE,
        };
        setup.horizon = setup.settle() + 2 * setup.core.probe_interval;
        setup
    }

    /// The same world without any fault (datagrams may still be duplicated): where accuracy
    /// is checked.
    pub fn reliable(mut self) -> Self {
        self.drops = 0;
        self.crashes = 0;
        self.pauses = 0;
        self
    }

    /// The core's configuration scaled down so the state space stays small: a 10 ms protocol
    /// period, one helper per indirect probe, one Lifeguard confirmation (reachable with three
    /// nodes), suspicion of 1 to 3 periods, LHM up to 1 (periods of 10 or 20 ms), each update
    /// piggybacked twice, push-pull sync every 3 periods (without it, an update whose few
    /// transmits all went to one member never reaches the others: the checker shows it). The
    /// formulas are the production ones.
    pub fn scaled_config(unreachable: bool) -> Config {
        let config = Config {
            probe_interval: 10,
            probe_timeout: 5,
            direct_probes: 1,
            indirect_checks: 1,
            suspicion_mult: 1,
            suspicion_max_mult: 3,
            suspicion_confirmations: 1,
            max_health: 1,
            retransmit_mult: 2,
            max_datagram: 512,
            sync_interval: 30,
            tombstone_ttl: swim_checked_core::config::NEVER,
            purged_memory: 16,
            max_members: 16,
            max_meta_bytes: 32,
            max_relays: 8,
            unreachable,
            label: String::new(),
            join_retry_interval: 10,
            join_attempts: 1,
            leave_timeout: 20,
        };
        config.validate().expect("the scaled-down config is valid");
        config
    }

    /// Whether no datagram is lost, no node crashes and no node pauses.
    pub fn is_reliable(&self) -> bool {
        self.drops == 0 && self.crashes == 0 && self.pauses == 0
    }

    /// The slowest protocol period: the base interval at the worst local health.
    pub fn slowest_period(&self) -> Millis {
        self.core.probe_interval * (self.core.max_health as Millis + 1)
    }

    /// Completeness bound `D`: after a crash (and the last disturbance), every running node holds
    /// the crashed node dead within `D`. Each survivor probes each of its `n - 1` peers once per
    /// pass of its probe order, so two probes of the same member are at most `2(n-1) - 1`
    /// periods apart; the failed probe is judged one period later; one more period absorbs the
    /// phase of the ticks; the suspicion then lasts at most Lifeguard's maximum. Periods are
    /// counted at the worst local health.
    pub fn detection_bound(&self) -> Millis {
        let n = self.nodes as Millis;
        let bounds = Bounds::new(&self.core, self.nodes);
        (2 * (n - 1) + 1) * self.slowest_period() + bounds.max
    }

    /// Fault-free time every run ends with: detection, then two push-pull rounds to spread
    /// the last changes.
    pub fn settle(&self) -> Millis {
        self.detection_bound() + 2 * self.core.sync_interval.max(self.slowest_period())
    }

    /// A horizon whose disturbance window fits a leave (one period in), its end and a rejoin.
    pub fn rejoin_horizon(&self) -> Millis {
        self.settle() + self.core.leave_timeout + 3 * self.core.probe_interval
    }

    /// Faults and commands happen strictly before this time.
    pub fn disturb_until(&self) -> Millis {
        self.horizon.saturating_sub(self.settle())
    }

    /// A short description, e.g. `3 nodes, 1 drop, 1 crash, horizon 190 ms`.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("{} nodes", self.nodes)];
        let mut add = |n: u8, what: &str| {
            if n > 0 {
                parts.push(format!("{n} {what}{}", if n > 1 { "s" } else { "" }));
            }
        };
        add(self.drops, "drop");
        add(self.duplicates, "duplicate");
        add(self.crashes, "crash");
        add(self.pauses, "pause");
        add(self.leaves, "leave");
        add(self.meta_changes, "metadata change");
        add(self.rejoins, "rejoin");
        if self.is_reliable() {
            parts.push("reliable network".into());
        }
        if self.core.unreachable {
            parts.push("unreachable on".into());
        }
        if self.stagger > 0 {
            parts.push(format!("stagger {} ms", self.stagger));
        }
        if self.shell_order {
            parts.push("shell order".into());
        }
        parts.push(format!(
            "horizon {} ms, faults before {} ms",
            self.horizon,
            self.disturb_until()
        ));
        parts.join(", ")
    }

    /// Why this setup cannot be checked, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        if !(2..=5).contains(&self.nodes) {
            return Err(format!("--nodes {} is outside 2..=5", self.nodes));
        }
        self.core.validate().map_err(|e| e.to_string())?;
        let disturbs = self.drops
            + self.duplicates
            + self.crashes
            + self.pauses
            + self.leaves
            + self.meta_changes
            + self.rejoins;
        if disturbs > 0 && self.disturb_until() == 0 {
            return Err(format!(
                "--horizon {} leaves no time for faults: it must exceed the settle time of {} ms",
                self.horizon,
                self.settle()
            ));
        }
        Ok(())
    }
}

/// Ids of one model node's successive lives are this far apart.
const GENERATION: u64 = 8;

/// Model node `i` has id `n{i+1}`.
pub fn node_id(i: usize) -> NodeId {
    NodeId(i as u64 + 1)
}

/// The id a model node takes when it rejoins: `n{i+1}` becomes `n{i+1}'`, then `n{i+1}''`
/// (raw ids `i+1`, `i+1+8`, `i+1+16`, ...).
pub fn rejoin_id(id: NodeId) -> NodeId {
    NodeId(id.0 + GENERATION)
}

/// How many times the node that owns `id` had rejoined when it took it.
pub fn generation(id: NodeId) -> u64 {
    id.0.saturating_sub(1) / GENERATION
}

/// The id of model node `i` in its `g`th life.
pub fn node_id_in(i: usize, g: u64) -> NodeId {
    NodeId(node_id(i).0 + g * GENERATION)
}

/// Model node `i` listens on `127.0.0.1:7001+i`.
pub fn node_addr(i: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7001 + i as u16)
}

/// The model index of the node that owns (or owned) a node id, if it is one.
pub fn index_of(id: NodeId) -> Option<usize> {
    (id.0.checked_sub(1)).map(|v| (v % GENERATION) as usize)
}

fn index_of_addr(addr: SocketAddr) -> Option<usize> {
    (addr.port() as usize).checked_sub(7001)
}

// ----- the state -----

/// Where a node is in its life, as the environment sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Life {
    Up,
    /// Slow: its timers and deliveries wait.
    Paused,
    /// Gone for good since `at`.
    Crashed {
        at: Millis,
    },
}

/// A fixed-key hash of anything: states hash the cached hashes of their parts.
fn stable_hash<T: Hash + ?Sized>(value: &T) -> u64 {
    ahash::RandomState::with_seeds(7, 11, 13, 17).hash_one(value)
}

/// One node and what the environment keeps for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// The core's state machine (shared until a step changes it).
    pub node: Arc<Node>,
    /// Hash of `node`, kept up to date: a state hashes only what changed.
    node_hash: u64,
    pub life: Life,
    /// Armed timers and their deadlines, sorted.
    pub timers: Vec<(Timer, Millis)>,
}

/// A crashed host hashes as its identity, its own record and when it crashed: nothing else it
/// holds can act or change again, and the properties read nothing else of it (its frozen view
/// keeps satisfying `incarnation authority`, as incarnations only grow), so runs that differ
/// only in what a node knew when it crashed are one state to the checker.
impl Hash for Host {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.life.hash(state);
        if let Life::Crashed { .. } = self.life {
            (self.node.id(), self.node.local_member()).hash(state);
            return;
        }
        self.node_hash.hash(state);
        self.timers.hash(state);
    }
}

impl Host {
    pub fn new(node: Node, life: Life, timers: Vec<(Timer, Millis)>) -> Self {
        Host {
            node_hash: stable_hash(&node),
            node: Arc::new(node),
            life,
            timers,
        }
    }

    /// Change the node (copied if shared) and rehash it.
    fn update<R>(&mut self, f: impl FnOnce(&mut Node) -> R) -> R {
        let r = f(Arc::make_mut(&mut self.node));
        self.node_hash = stable_hash(&*self.node);
        r
    }

    /// Up or paused, and still a member (running or leaving).
    pub fn participates(&self) -> bool {
        !matches!(self.life, Life::Crashed { .. })
            && matches!(self.node.phase(), Phase::Running | Phase::Leaving)
    }

    /// Up, paused or not, and running.
    pub fn is_running(&self) -> bool {
        !matches!(self.life, Life::Crashed { .. }) && self.node.phase() == Phase::Running
    }

    fn set_timer(&mut self, timer: Timer, at: Millis) {
        match self.timers.binary_search_by(|(t, _)| t.cmp(&timer)) {
            Ok(i) => self.timers[i].1 = at,
            Err(i) => self.timers.insert(i, (timer, at)),
        }
    }

    /// Some armed timer is due at `now`.
    fn has_due_timer(&self, now: Millis) -> bool {
        self.timers.iter().any(|&(_, at)| at <= now)
    }

    fn cancel_timer(&mut self, timer: Timer) {
        if let Ok(i) = self.timers.binary_search_by(|(t, _)| t.cmp(&timer)) {
            self.timers.remove(i);
        }
    }
}

/// A datagram in flight between two model nodes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Datagram {
    pub from: usize,
    pub to: usize,
    pub msg: Message,
    /// Hash of the above, computed once.
    hash: u64,
}

impl Datagram {
    pub fn new(from: usize, to: usize, msg: Message) -> Self {
        let hash = stable_hash(&(from, to, &msg));
        Datagram {
            from,
            to,
            msg,
            hash,
        }
    }
}

impl Hash for Datagram {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.hash.hash(state);
    }
}

/// Faults and commands still allowed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Budget {
    pub drops: u8,
    pub duplicates: u8,
    pub crashes: u8,
    pub pauses: u8,
    pub leaves: u8,
    pub meta_changes: u8,
    pub rejoins: u8,
}

/// History the properties need and the state alone does not show. The two flags are set by
/// the step that breaks the rule (they stay false in a correct run, so they split no states).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ghost {
    /// Time of the last fault or command (completeness counts from the later of this and the
    /// crash).
    pub last_disturbance: Millis,
    /// Some node's record of some member moved down the lattice.
    pub moved_down: bool,
    /// Some node held a member dead, then alive or suspect.
    pub resurrected: bool,
}

/// The copies of one datagram in flight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Copies {
    /// Deliverable now.
    pub ready: u8,
    /// Sent this instant: deliverable from the next (one millisecond later).
    pub fresh: u8,
}

impl Copies {
    pub fn total(self) -> u8 {
        self.ready + self.fresh
    }
}

/// The whole world: nodes, network, clock, budgets.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    pub now: Millis,
    pub hosts: Vec<Host>,
    /// Datagrams in flight with their copies, sorted.
    pub net: Vec<(Arc<Datagram>, Copies)>,
    pub budget: Budget,
    pub ghost: Ghost,
}

impl State {
    /// Put one more copy of `dg` on the wire: `fresh` if it was sent this instant.
    fn add_datagram(&mut self, dg: Datagram, fresh: bool) {
        let i = match self.net.binary_search_by(|(d, _)| (**d).cmp(&dg)) {
            Ok(i) => i,
            Err(i) => {
                self.net.insert(i, (Arc::new(dg), Copies::default()));
                i
            }
        };
        let copies = &mut self.net[i].1;
        if fresh {
            copies.fresh += 1;
        } else {
            copies.ready += 1;
        }
    }

    /// Take one deliverable copy of `dg` off the wire.
    fn remove_datagram(&mut self, dg: &Datagram) {
        if let Ok(i) = self.net.binary_search_by(|(d, _)| (**d).cmp(dg)) {
            let copies = &mut self.net[i].1;
            copies.ready = copies.ready.saturating_sub(1);
            if copies.total() == 0 {
                self.net.remove(i);
            }
        }
    }

    /// Datagrams that can be delivered now (one entry per distinct datagram).
    pub fn deliverable(&self) -> impl Iterator<Item = &Arc<Datagram>> {
        (self.net.iter())
            .filter(|(_, c)| c.ready > 0)
            .map(|(d, _)| d)
    }

    /// The next instant the clock can move to: the earliest deadline after `now` among up
    /// nodes, or the next millisecond if a datagram sent this instant waits to arrive.
    pub fn next_instant(&self) -> Option<Millis> {
        let arrival = self.in_transit().then_some(self.now + 1);
        [self.next_deadline(), arrival].into_iter().flatten().min()
    }

    /// Some datagram sent this instant is on its way.
    pub fn in_transit(&self) -> bool {
        self.net.iter().any(|(_, c)| c.fresh > 0)
    }

    /// Some up node has a timer due.
    pub fn timer_due(&self) -> bool {
        (self.hosts.iter()).any(|h| h.life == Life::Up && h.has_due_timer(self.now))
    }

    /// Whether node `i` has an input it must take before the clock moves: a deliverable
    /// datagram or a due timer (while it is up).
    pub fn has_urgent_input(&self, i: usize) -> bool {
        let h = &self.hosts[i];
        h.life == Life::Up && (h.has_due_timer(self.now) || self.deliverable().any(|d| d.to == i))
    }

    /// Earliest deadline after `now` among up nodes.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.hosts
            .iter()
            .filter(|h| h.life == Life::Up)
            .flat_map(|h| h.timers.iter().map(|&(_, at)| at))
            .filter(|&at| at > self.now)
            .min()
    }

    /// Some datagram can be delivered or some timer can fire.
    fn has_urgent_step(&self) -> bool {
        self.deliverable()
            .any(|d| self.hosts[d.to].life == Life::Up)
            || self.timer_due()
    }
}

// ----- actions -----

/// The sequence of outcomes the core's [`Pick`]s received during one step.
pub type Picks = Vec<u8>;

/// One step of the model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Hand a datagram to its destination.
    Deliver(Arc<Datagram>, Picks),
    /// Fire a due timer of node `i`.
    Fire(usize, Timer, Picks),
    /// Let a paused node run again.
    Resume(usize),
    /// Move the clock to the next deadline.
    Advance(Millis),
    /// Lose a datagram.
    Drop(Arc<Datagram>),
    /// Deliver a datagram twice (one more copy in flight).
    Duplicate(Arc<Datagram>),
    /// Node `i` stops for good.
    Crash(usize),
    /// Node `i` stops taking steps for a while.
    Pause(usize),
    /// The application of node `i` asks something.
    Command(usize, UserCommand, Picks),
}

impl Action {
    /// The node that takes the step (none for the clock).
    pub fn node(&self) -> Option<usize> {
        match self {
            Action::Deliver(d, _) | Action::Drop(d) | Action::Duplicate(d) => Some(d.to),
            Action::Fire(i, ..)
            | Action::Resume(i)
            | Action::Crash(i)
            | Action::Pause(i)
            | Action::Command(i, ..) => Some(*i),
            Action::Advance(_) => None,
        }
    }

    /// Whether a node takes this step (and may make random picks).
    pub fn is_node_input(&self) -> bool {
        matches!(
            self,
            Action::Deliver(..) | Action::Fire(..) | Action::Command(..)
        )
    }

    fn picks(&self) -> &[u8] {
        match self {
            Action::Deliver(_, p) | Action::Fire(_, _, p) | Action::Command(_, _, p) => p,
            _ => &[],
        }
    }

    fn with_picks(&self, picks: Picks) -> Action {
        match self {
            Action::Deliver(d, _) => Action::Deliver(d.clone(), picks),
            Action::Fire(i, t, _) => Action::Fire(*i, *t, picks),
            Action::Command(i, c, _) => Action::Command(*i, c.clone(), picks),
            other => other.clone(),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let picks = |p: &[u8]| {
            if p.is_empty() {
                String::new()
            } else {
                format!(" picks {p:?}")
            }
        };
        match self {
            Action::Deliver(d, p) => write!(
                f,
                "deliver {} n{}->n{}{}",
                report::message(&d.msg),
                d.from + 1,
                d.to + 1,
                picks(p)
            ),
            Action::Fire(i, t, p) => {
                write!(f, "n{} timer {}{}", i + 1, report::timer(*t), picks(p))
            }
            Action::Resume(i) => write!(f, "resume n{}", i + 1),
            Action::Advance(t) => write!(f, "advance clock to {t} ms"),
            Action::Drop(d) => write!(
                f,
                "drop {} n{}->n{}",
                report::message(&d.msg),
                d.from + 1,
                d.to + 1
            ),
            Action::Duplicate(d) => write!(
                f,
                "duplicate {} n{}->n{}",
                report::message(&d.msg),
                d.from + 1,
                d.to + 1
            ),
            Action::Crash(i) => write!(f, "crash n{}", i + 1),
            Action::Pause(i) => write!(f, "pause n{}", i + 1),
            Action::Command(i, c, p) => write!(f, "n{} command {c}{}", i + 1, picks(p)),
        }
    }
}

// ----- picks -----

/// Replays a prefix of outcomes, answers 0 beyond it, and records every question asked.
#[derive(Debug)]
pub struct Replay<'a> {
    prefix: &'a [u8],
    /// `(n, outcome)` for every pick, in order.
    pub asked: Vec<(usize, usize)>,
}

impl<'a> Replay<'a> {
    pub fn new(prefix: &'a [u8]) -> Self {
        Replay {
            prefix,
            asked: Vec::new(),
        }
    }

    /// The outcomes given so far.
    pub fn outcomes(&self) -> Picks {
        self.asked.iter().map(|&(_, v)| v as u8).collect()
    }
}

impl Pick for Replay<'_> {
    fn pick(&mut self, n: usize) -> usize {
        let v = self.prefix.get(self.asked.len()).map_or(0, |&v| v as usize) % n.max(1);
        self.asked.push((n, v));
        v
    }
}

/// Run `run` once per complete sequence of outcomes of the picks it makes (all zeros first),
/// returning each sequence with its result.
fn pick_sequences<T>(mut run: impl FnMut(&mut Replay) -> T) -> Vec<(Picks, T)> {
    let mut done = Vec::new();
    let mut todo: Vec<Picks> = vec![Vec::new()];
    while let Some(prefix) = todo.pop() {
        let mut replay = Replay::new(&prefix);
        let result = run(&mut replay);
        let seq = replay.outcomes();
        for i in (prefix.len()..seq.len()).rev() {
            for v in (1..replay.asked[i].0).rev() {
                let mut next = seq[..i].to_vec();
                next.push(v as u8);
                todo.push(next);
            }
        }
        done.push((seq, result));
    }
    done
}

/// An action together with the state it leads to. `actions()` has to run every node input
/// anyway (to learn which random picks it asks for), so it keeps the result for `next_state`.
/// Equality, hashing and printing look at the action only.
#[derive(Clone)]
pub struct Transition {
    pub action: Action,
    next: Option<Arc<State>>,
}

impl Transition {
    /// An action whose next state `next_state` will compute.
    pub fn new(action: Action) -> Self {
        Transition { action, next: None }
    }
}

impl PartialEq for Transition {
    fn eq(&self, other: &Self) -> bool {
        self.action == other.action
    }
}

impl Eq for Transition {}

impl Hash for Transition {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.action.hash(state);
    }
}

impl fmt::Debug for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.action.fmt(f)
    }
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.action.fmt(f)
    }
}

// ----- the model -----

/// The stateright model of a SWIM + Lifeguard cluster over the real core.
#[derive(Clone, Debug)]
pub struct SwimModel {
    pub setup: Setup,
    /// Completeness bound, cached.
    pub detection_bound: Millis,
    pub disturb_until: Millis,
}

impl SwimModel {
    pub fn new(setup: Setup) -> Self {
        SwimModel {
            detection_bound: setup.detection_bound(),
            disturb_until: setup.disturb_until(),
            setup,
        }
    }

    /// Node `i` at the start: a member of the cluster already (the join happened earlier),
    /// alive at incarnation 0, knowing its peers (learning them picks their places in its
    /// probe order), the news of the join already spread, its first probe tick one period
    /// (plus its stagger) away.
    fn initial_host(&self, i: usize, replay: &mut Replay) -> Host {
        let n = self.setup.nodes;
        let start = i as Millis * self.setup.stagger;
        let mut out = Vec::new();
        #[allow(unused_mut)]
        let mut node = Node::new(
            self.setup.core.clone(),
            node_id(i),
            node_addr(i),
            Meta::default(),
            start,
            &mut out,
        )
        .expect("valid setup");
        #[cfg(swim_faults)]
        node.set_faults(self.setup.faults);
        let peer = node_addr((i + 1) % n);
        let peers = Message {
            from: node_id((i + 1) % n),
            body: swim_checked_core::Body::Sync {
                reply: false,
                members: (0..n)
                    .filter(|&j| j != i)
                    .map(|j| Member::alive(node_id(j), node_addr(j), 0, Meta::default()))
                    .collect(),
            },
            gossip: Vec::new(),
        };
        node.handle_message(start, peer, peers, replay, &mut out);
        // The join was long ago: its news went out with earlier acks (dropped here).
        for _ in 0..64 {
            if node.gossip().is_empty() {
                break;
            }
            let ping = Message {
                from: node_id((i + 1) % n),
                body: swim_checked_core::Body::Ping {
                    seq: 0,
                    target: node_id(i),
                },
                gossip: Vec::new(),
            };
            node.handle_message(start, peer, ping, replay, &mut Vec::new());
        }
        let mut host = Host::new(node, Life::Up, Vec::new());
        for effect in out {
            match effect {
                Effect::SetTimer { timer, at } => host.set_timer(timer, at),
                Effect::CancelTimer { timer } => host.cancel_timer(timer),
                _ => {}
            }
        }
        host
    }

    /// The picks of node `i`'s start: where each peer goes in its first probe order, chosen so
    /// that the first pass walks the ring from the node after `i` (`n2` probes `n3`, `n4`,
    /// `n1`). Every node then stands where a rotation of the ids puts another, so the initial
    /// state is symmetric under rotations and the symmetry reduction can merge, for example,
    /// "`n1` crashes" with "`n2` crashes" at the same instant. Every later pass is drawn as it
    /// goes, with all outcomes explored.
    fn initial_order_picks(&self, i: usize) -> Vec<u8> {
        let n = self.setup.nodes;
        let ring_pos = |j: usize| (j + n - i - 1) % n; // 0 for i+1, n-2 for i-1
        let mut placed: Vec<usize> = Vec::new();
        (0..n)
            .filter(|&j| j != i)
            .filter_map(|j| {
                // Peers are learnt in id order; each goes after those before it in the ring.
                // The first one goes into an empty order: no pick is asked for it.
                let before = placed
                    .iter()
                    .filter(|&&k| ring_pos(k) < ring_pos(j))
                    .count();
                placed.push(j);
                (placed.len() > 1).then_some(before as u8)
            })
            .collect()
    }

    /// The state every run starts from (see [`SwimModel::initial_order_picks`]).
    pub fn initial_state(&self) -> State {
        let s = &self.setup;
        State {
            now: 0,
            hosts: (0..s.nodes)
                .map(|i| self.initial_host(i, &mut Replay::new(&self.initial_order_picks(i))))
                .collect(),
            net: Vec::new(),
            budget: Budget {
                drops: s.drops,
                duplicates: s.duplicates,
                crashes: s.crashes,
                pauses: s.pauses,
                leaves: s.leaves,
                meta_changes: s.meta_changes,
                rejoins: s.rejoins,
            },
            ghost: Ghost::default(),
        }
    }

    /// The picks (with their ranges) each node made at the start.
    pub fn initial_picks(&self) -> Vec<Vec<PickRecord>> {
        (0..self.setup.nodes)
            .map(|i| {
                let picks = self.initial_order_picks(i);
                let mut replay = Replay::new(&picks);
                self.initial_host(i, &mut replay);
                (replay.asked.iter())
                    .map(|&(n, value)| PickRecord { n, value })
                    .collect()
            })
            .collect()
    }

    /// Run `action` from `state` with the picks it carries. `step`, if given, receives the
    /// record of what happened (for traces and reports).
    pub fn apply(&self, state: &State, action: &Action, step: Option<&mut Step>) -> State {
        self.apply_replaying(state, action, &mut Replay::new(action.picks()), step)
    }

    /// Run `action` from `state`, answering the node's picks from `replay`.
    fn apply_replaying(
        &self,
        state: &State,
        action: &Action,
        replay: &mut Replay,
        mut step: Option<&mut Step>,
    ) -> State {
        let mut next = state.clone();
        let now = state.now;
        let disturbance = match action {
            Action::Deliver(d, _) => {
                next.remove_datagram(d);
                let (from, msg) = (node_addr(d.from), d.msg.clone());
                self.run_node(
                    &mut next,
                    d.to,
                    replay,
                    step.as_deref_mut(),
                    |node, r, out| node.handle_message(now, from, msg, r, out),
                );
                false
            }
            Action::Fire(i, timer, _) => {
                next.hosts[*i].cancel_timer(*timer);
                self.run_node(
                    &mut next,
                    *i,
                    replay,
                    step.as_deref_mut(),
                    |node, r, out| node.handle_timer(now, *timer, r, out),
                );
                false
            }
            Action::Command(i, command, _) => {
                match command {
                    UserCommand::Leave => next.budget.leaves -= 1,
                    UserCommand::SetMeta(_) => next.budget.meta_changes -= 1,
                    UserCommand::ConfirmDead(_) => {}
                    UserCommand::Rejoin(_) => next.budget.rejoins -= 1,
                }
                let command = command.to_core();
                self.run_node(
                    &mut next,
                    *i,
                    replay,
                    step.as_deref_mut(),
                    |node, r, out| {
                        // A refused command changes nothing; actions() only offers valid ones.
                        let _ = node.handle_command(now, command, r, out);
                    },
                );
                true
            }
            Action::Resume(i) => {
                next.hosts[*i].life = Life::Up;
                true
            }
            Action::Advance(t) => {
                next.now = *t;
                for (_, copies) in &mut next.net {
                    copies.ready += copies.fresh;
                    copies.fresh = 0;
                }
                false
            }
            Action::Drop(d) => {
                next.remove_datagram(d);
                next.budget.drops -= 1;
                true
            }
            Action::Duplicate(d) => {
                next.add_datagram((**d).clone(), false);
                next.budget.duplicates -= 1;
                true
            }
            Action::Crash(i) => {
                let host = &mut next.hosts[*i];
                host.life = Life::Crashed { at: now };
                host.timers.clear();
                next.net.retain(|(d, _)| d.to != *i);
                next.budget.crashes -= 1;
                true
            }
            Action::Pause(i) => {
                next.hosts[*i].life = Life::Paused;
                next.budget.pauses -= 1;
                true
            }
        };
        if disturbance {
            next.ghost.last_disturbance = now;
        }
        // The time of the last disturbance is read only by completeness, as `max(crash, it) + D`
        // for a crashed host whose deadline is still ahead. Forget it otherwise (a later crash
        // counts from itself), so runs that differ only in when a past fault happened are one
        // state.
        let binding = (next.hosts.iter()).any(|c| {
            properties::completeness_deadline(self, &next, c).is_some_and(|d| next.now < d)
        });
        if !binding {
            next.ghost.last_disturbance = 0;
        }
        if let Some(step) = step {
            step.now = now;
            step.input = Input::from_action(action);
        }
        next
    }

    /// Give node `i` one input, then carry out its effects: datagrams into the network,
    /// timers into its timer list. Checks the two transition properties on its view.
    fn run_node(
        &self,
        next: &mut State,
        i: usize,
        replay: &mut Replay,
        step: Option<&mut Step>,
        input: impl FnOnce(&mut Node, &mut Replay, &mut Vec<Effect>),
    ) {
        let before = Arc::clone(&next.hosts[i].node);
        let mut out = Vec::new();
        next.hosts[i].update(|node| input(node, replay, &mut out));
        for effect in &out {
            match effect {
                Effect::Send { to, msg } => {
                    let Some(j) = index_of_addr(*to).filter(|&j| j < next.hosts.len()) else {
                        continue;
                    };
                    if matches!(next.hosts[j].life, Life::Crashed { .. }) {
                        continue; // lost: nobody listens there any more
                    }
                    next.add_datagram(Datagram::new(i, j, msg.clone()), true);
                }
                Effect::SetTimer { timer, at } => next.hosts[i].set_timer(*timer, *at),
                Effect::CancelTimer { timer } => next.hosts[i].cancel_timer(*timer),
                Effect::Event(_) => {}
            }
        }
        let after = &next.hosts[i].node;
        for now in after.members() {
            let Some(then) = before.member(now.id) else {
                continue;
            };
            if precedence(now.status, now.incarnation) < precedence(then.status, then.incarnation) {
                next.ghost.moved_down = true;
            }
            if then.status.is_terminal() && !now.status.is_terminal() {
                next.ghost.resurrected = true;
            }
        }
        if let Some(step) = step {
            step.node = Some(i);
            step.picks = (replay.asked.iter())
                .map(|&(n, value)| PickRecord { n, value })
                .collect();
            step.effects = out;
            step.view = Some(after.members().cloned().collect());
        }
    }

    /// The metadata a node sets with its next change.
    fn next_meta(node: &Node) -> Meta {
        Meta::from_pairs([("rev", (node.local_member().incarnation + 1).to_string())])
    }

    /// Every enabled input, in a deterministic order, before its picks are known.
    ///
    /// With [`Setup::shell_order`], only the inputs a node task can take in that order: an up
    /// node with due timers fires them first, in (deadline, timer) order, before it takes a
    /// datagram or a command (the task drains its socket between inputs, but a step of the
    /// model is one input); nothing reaches a node before it starts (`i x stagger`), and no
    /// command is given before every node started.
    pub fn inputs(&self, s: &State) -> Vec<Action> {
        let mut inputs = self.all_inputs(s);
        if self.setup.node_order {
            let first = (0..s.hosts.len()).find(|&i| s.has_urgent_input(i));
            inputs.retain(|a| match a {
                // A crash touches only its host: it commutes with the other nodes' steps, so
                // it happens between the node's own inputs or once the instant is done.
                Action::Crash(i) => first.is_none_or(|f| f == *i),
                // A loss touches only its datagram: it commutes with every delivery, so the
                // datagrams to an up node, which takes them all before the clock moves, are
                // lost in their order. (Those to a paused node wait, so any of them may go
                // first; and a copy is not ordered: it fixes a double delivery.)
                Action::Drop(d) => {
                    first.is_none_or(|f| d.to <= f)
                        && (s.hosts[d.to].life != Life::Up
                            || s.deliverable().all(|e| e.to != d.to || e >= d))
                }
                _ => a.node().is_none_or(|j| first.is_none_or(|f| j <= f)),
            });
        }
        if !self.setup.shell_order {
            return inputs;
        }
        let stagger = self.setup.stagger;
        let last_start = (s.hosts.len() as Millis).saturating_sub(1) * stagger;
        let first_due = |i: usize| -> Option<(Millis, Timer)> {
            (s.hosts[i].timers.iter())
                .filter(|&&(_, at)| at <= s.now)
                .map(|&(t, at)| (at, t))
                .min()
        };
        let ready = |i: usize| first_due(i).is_none() && s.now >= i as Millis * stagger;
        inputs
            .into_iter()
            .filter(|a| match a {
                Action::Fire(i, timer, _) => first_due(*i).is_some_and(|(_, t)| t == *timer),
                Action::Deliver(d, _) => ready(d.to),
                Action::Command(i, ..) => ready(*i) && s.now >= last_start,
                _ => true,
            })
            .collect()
    }

    /// Whether the run has come to a state no step can change the views of: past the fault
    /// window; nothing deliverable, nothing due, nobody paused; every node taking part runs,
    /// has no update queued, no probe unanswered, no relay open, no raised health multiplier,
    /// and holds the same view, in which every member not dead or left is a running node
    /// held alive. From there, with no fault and no command left, every probe is acked, every
    /// push-pull exchanges equal views and no timer changes a record, so every property that
    /// holds here holds to the horizon (`tests/checker.rs` explores the futures of such states
    /// to check it).
    pub fn is_quiet(&self, s: &State) -> bool {
        let held_alive_and_running = |m: &Member| {
            m.status == Status::Alive
                && index_of(m.id)
                    .and_then(|j| s.hosts.get(j))
                    .is_some_and(|h| h.node.id() == m.id && h.life == Life::Up && h.is_running())
        };
        s.now >= self.disturb_until
            && !s.has_urgent_step()
            && !s.in_transit()
            && s.hosts.iter().all(|h| h.life != Life::Paused)
            && s.hosts.iter().filter(|h| h.participates()).all(|h| {
                let node = &h.node;
                node.phase() == Phase::Running
                    && node.gossip().is_empty()
                    && node.relays().is_empty()
                    && node.health() == 0
                    && node.probes().values().all(|p| p.acked)
                    && node
                        .members()
                        .all(|m| m.status.is_terminal() || held_alive_and_running(m))
            })
            && properties::converged(s)
    }

    /// Whether the run ends here because it is quiet ([`Setup::stop_when_quiet`]).
    pub fn ended_quiet(&self, s: &State) -> bool {
        self.setup.stop_when_quiet && self.is_quiet(s)
    }

    /// Every enabled input in any order a node could see.
    fn all_inputs(&self, s: &State) -> Vec<Action> {
        if self.ended_quiet(s) {
            return Vec::new();
        }
        let mut out = Vec::new();
        // Protocol steps: deliveries and due timers.
        for d in s.deliverable() {
            if s.hosts[d.to].life == Life::Up {
                out.push(Action::Deliver(d.clone(), Vec::new()));
            }
        }
        for (i, h) in s.hosts.iter().enumerate() {
            if h.life == Life::Up {
                for &(timer, at) in &h.timers {
                    if at <= s.now {
                        out.push(Action::Fire(i, timer, Vec::new()));
                    }
                }
            }
        }
        for (i, h) in s.hosts.iter().enumerate() {
            if h.life == Life::Paused {
                out.push(Action::Resume(i));
            }
        }
        // The clock, once nothing is due (and, past the disturbance window, nobody paused).
        let held_back =
            s.hosts.iter().any(|h| h.life == Life::Paused) && s.now >= self.disturb_until;
        if !s.has_urgent_step()
            && !held_back
            && let Some(t) = s.next_instant()
            && t <= self.setup.horizon
        {
            out.push(Action::Advance(t));
        }
        // Faults and commands, inside the disturbance window.
        if s.now >= self.disturb_until {
            return out;
        }
        let b = s.budget;
        for d in s.deliverable() {
            if b.drops > 0 {
                out.push(Action::Drop(d.clone()));
            }
            if b.duplicates > 0 {
                out.push(Action::Duplicate(d.clone()));
            }
        }
        for (i, h) in s.hosts.iter().enumerate() {
            let gone = matches!(h.node.phase(), Phase::Left | Phase::Removed);
            if b.rejoins > 0 && h.life == Life::Up && gone {
                let c = UserCommand::Rejoin(rejoin_id(h.node.id()));
                out.push(Action::Command(i, c, vec![]));
            }
            if !h.participates() {
                continue;
            }
            if b.crashes > 0 {
                out.push(Action::Crash(i));
            }
            if h.life != Life::Up || h.node.phase() != Phase::Running {
                continue;
            }
            if b.pauses > 0 {
                out.push(Action::Pause(i));
            }
            if b.leaves > 0 {
                out.push(Action::Command(i, UserCommand::Leave, vec![]));
            }
            if b.meta_changes > 0 {
                let meta = Self::next_meta(&h.node);
                out.push(Action::Command(i, UserCommand::SetMeta(meta), vec![]));
            }
            if self.setup.core.unreachable {
                for m in h.node.members() {
                    if m.status == Status::Unreachable {
                        let c = UserCommand::ConfirmDead(m.id);
                        out.push(Action::Command(i, c, vec![]));
                    }
                }
            }
        }
        out
    }

    /// Every way `input` can go: one action (with its next state) per sequence of outcomes of
    /// the picks the node makes, just one for moves of the environment.
    pub fn outcomes(&self, s: &State, input: Action) -> Vec<(Action, State)> {
        if input.is_node_input() {
            (pick_sequences(|r| self.apply_replaying(s, &input, r, None)).into_iter())
                .map(|(picks, next)| (input.with_picks(picks), next))
                .collect()
        } else {
            let next = self.apply(s, &input, None);
            vec![(input, next)]
        }
    }
}

impl Model for SwimModel {
    type State = State;
    type Action = Transition;

    fn init_states(&self) -> Vec<State> {
        vec![self.initial_state()]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Transition>) {
        for input in self.inputs(s) {
            for (action, next) in self.outcomes(s, input) {
                actions.push(Transition {
                    action,
                    next: Some(Arc::new(next)),
                });
            }
        }
    }

    fn next_state(&self, state: &State, t: Transition) -> Option<State> {
        Some(match t.next {
            Some(next) => Arc::try_unwrap(next).unwrap_or_else(|shared| (*shared).clone()),
            None => self.apply(state, &t.action, None),
        })
    }

    fn format_action(&self, t: &Transition) -> String {
        t.action.to_string()
    }

    fn format_step(&self, last: &State, t: Transition) -> Option<String> {
        let mut step = Step::default();
        let next = self.apply(last, &t.action, Some(&mut step));
        Some(format!(
            "{}\n\n{}",
            report::step(&step),
            report::state(self, &next)
        ))
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties::all()
    }

    fn within_boundary(&self, state: &State) -> bool {
        state.now <= self.setup.horizon
    }
}

impl UserCommand {
    /// The core's command.
    pub fn to_core(&self) -> Command {
        match self {
            UserCommand::Leave => Command::Leave,
            UserCommand::SetMeta(meta) => Command::SetMeta(meta.clone()),
            UserCommand::ConfirmDead(id) => Command::ConfirmDead(*id),
            UserCommand::Rejoin(id) => Command::Rejoin { id: *id },
        }
    }
}
