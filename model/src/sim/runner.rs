//! The discrete-event simulator: `N` real [`Node`]s (the core the library and the checker
//! run, nothing re-implemented) over the simulated [`Network`], driven by one [`EventQueue`].
//!
//! Each member is a slot: its node (absent before it joins, dropped when it crashes), its
//! timers ([`TimerTable`], the same bookkeeping every driver uses), its clock and whether it
//! is slow. One step is one input to one member: a datagram, a due timer or a command. Its
//! effects are carried out at once: datagrams go through the network into the queue, timers
//! into the table and the queue, events into the [`Metrics`]. The [`OnlineCheck`] compares the
//! member's records before and after every step.
//!
//! Everything random comes from three generators seeded from the scenario's seed: the
//! network's draws, the core's picks, and the timeline's choices (which members crash). The
//! queue breaks ties by scheduling order, so a run is a function of its scenario.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use rand::rngs::StdRng;
use rand::seq::index;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use swim_checked_core::zone::ZONE_KEY;
use swim_checked_core::{
    Body, Command, Config, Effect, Member, MemberEvent, Message, Meta, Millis, Node, NodeId, Phase,
    Pick, Status, Timer, TimerTable, Wire,
};

use super::clock::Clock;
use super::metrics::{Heal, Metrics, Report, Subject};
use super::network::{Lost, Network};
use super::online::{Named, OnlineCheck, Scope, Violation};
use super::queue::{Due, EventQueue};
use super::scenario::{Event, Scenario, Selector};
use crate::checker::trace::{Input, PickRecord, Step, UserCommand};

/// A simulated second, in the queue's microseconds.
const SECOND: u64 = 1_000_000;

/// What every member's clock reads at least when the run starts, in ms.
const UPTIME_MS: f64 = 3_600_000.0;

/// Where a member is in the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Life {
    /// A spare, not started yet.
    Absent,
    Up,
    Crashed,
}

/// One member of the simulation.
#[derive(Debug)]
struct Slot {
    node: Option<Node>,
    life: Life,
    timers: TimerTable,
    /// Bumped at every start: timers of an earlier life are ignored.
    life_no: u32,
    /// How many ids this member has had before its current one.
    generation: u32,
    clock: Clock,
    /// While slow: every input is handled this many microseconds late, in arrival order.
    slow: Option<u64>,
    /// While slow, its timers fire on time: only datagrams wait.
    timers_on_time: bool,
    /// When the slow member handles the last input held back so far (none goes before it).
    busy_until: u64,
    /// When its current life began.
    started: u64,
}

impl Slot {
    /// When an input arriving at `now` is to be handled, if not now: `delay` later while the
    /// member is slow, and never before the inputs held back earlier (so they keep their
    /// order, also once the member is no longer slow). `None` for an input already held back.
    fn hold_back(&mut self, now: u64, deferred: bool) -> Option<u64> {
        if deferred {
            return None;
        }
        let ready = now + self.slow.unwrap_or(0);
        if ready == now && self.busy_until < now {
            return None;
        }
        self.busy_until = self.busy_until.max(ready);
        Some(self.busy_until)
    }
}

/// The id member `i` has in its `generation`th life.
pub fn sim_id(i: usize, generation: u32) -> NodeId {
    NodeId((u64::from(generation) << 32) | (i as u64 + 1))
}

/// The member that owns (or owned) `id`, and in which life.
pub fn sim_owner(id: NodeId) -> (usize, u32) {
    (
        ((id.0 & 0xffff_ffff).wrapping_sub(1)) as usize,
        (id.0 >> 32) as u32,
    )
}

/// The port every member listens on.
pub const SIM_PORT: u16 = 7946;

/// Where member addresses start: `127.1.0.0`, so that none is in `127.0.x.y` (where
/// `127.0.0.1` is).
const FIRST_ADDR: u32 = 1 << 16;

/// The most members a run can have (each needs an address in `127.1.0.0` to
/// `127.255.255.255`).
pub const MAX_MEMBERS: usize = (1 << 24) - FIRST_ADDR as usize;

/// Member `i` listens on `127.a.b.c:7946`, `a.b.c` being `i + 65536`: a loopback address of its
/// own, so that a member of a run can be replayed against a real node (`conformance`'s
/// `sim_replay`) with nothing sent off the machine. The order of the addresses is the order of
/// the members.
pub fn sim_addr(i: usize) -> SocketAddr {
    let [_, a, b, c] = (i as u32 + FIRST_ADDR).to_be_bytes();
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, a, b, c)), SIM_PORT)
}

/// The member listening on `addr`, if it is a member's address ([`sim_addr`]'s inverse).
pub fn sim_index(addr: SocketAddr) -> Option<usize> {
    match addr.ip() {
        IpAddr::V4(v4) if addr.port() == SIM_PORT => {
            let [first, a, b, c] = v4.octets();
            let n = u32::from_be_bytes([0, a, b, c]);
            (first == 127)
                .then_some(n)?
                .checked_sub(FIRST_ADDR)
                .map(|i| i as usize)
        }
        _ => None,
    }
}

/// The deliberate bug a name names (a [`Fault`](swim_checked_core::faults::Fault)'s, e.g.
/// `MergeRevivesDead`), as a set; `None`: none. For the command lines that run broken cores.
#[cfg(swim_faults)]
pub fn faults_named(name: Option<&str>) -> Result<swim_checked_core::faults::Faults, String> {
    use swim_checked_core::faults::{Fault, Faults};
    let Some(name) = name else {
        return Ok(Faults::NONE);
    };
    (Fault::ALL.iter())
        .find(|f| format!("{f:?}") == name)
        .map(|&f| Faults::from(f))
        .ok_or_else(|| format!("unknown fault {name:?} (one of {:?})", Fault::ALL))
}

/// The core's randomness, from the simulator's seeded generator (noting the picks when a
/// trace is recorded).
struct Picks<'a> {
    rng: &'a mut StdRng,
    noted: Option<&'a mut Vec<PickRecord>>,
}

impl Pick for Picks<'_> {
    fn pick(&mut self, n: usize) -> usize {
        let value = if n <= 1 {
            0
        } else {
            self.rng.random_range(0..n)
        };
        if let Some(noted) = self.noted.as_mut() {
            noted.push(PickRecord { n, value });
        }
        value
    }
}

/// One input to one member.
enum NodeInput {
    Message { from: usize, msg: Message },
    Timer(Timer),
    Command(Command),
}

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    /// The first property broken, with where and when.
    pub violation: Option<Found>,
    /// The steps of the recorded member, if one was (see [`Simulation::record`]).
    pub trace: Vec<Step>,
    /// The recorded member's starts, one per life (its node's creation is not a step).
    pub starts: Vec<RecordedStart>,
}

/// How the recorded member started a life: what a replay must do, besides its steps, to run
/// it as the simulator did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedStart {
    /// How many of the recorded steps came before it.
    pub after_steps: usize,
    pub id: NodeId,
    /// Its clock when its node was created.
    pub at: Millis,
    /// What creating the node did (the timers it armed).
    pub effects: Vec<Effect>,
    /// With `settled_start`: the pings after its first step that drained its join news.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub settle: Option<Settle>,
    /// Its view once started (after its first step and the settling pings), for a member of
    /// the initial cluster.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub view: Option<Vec<Member>>,
}

/// The pings `Simulation::settle` hands a member from `from` (their acks go nowhere).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settle {
    pub from: usize,
    pub ping: Message,
    pub count: usize,
    /// The picks they consumed.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub picks: Vec<PickRecord>,
}

/// A broken property found at a step.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    pub violation: Violation,
    pub member: usize,
    pub id: NodeId,
    /// Simulated seconds.
    pub at_s: f64,
    /// The run's step count when it broke (a rerun recording stops there).
    pub step: u64,
}

/// A simulation in progress.
pub struct Simulation {
    scenario: Scenario,
    config: Config,
    wire: Wire,
    slots: Vec<Slot>,
    /// The last own record of ids whose owners moved on (crashed or rejoined).
    retired: HashMap<NodeId, Member>,
    net: Network,
    queue: EventQueue,
    net_rng: StdRng,
    pick_rng: StdRng,
    choice_rng: StdRng,
    now: u64,
    end: u64,
    check: OnlineCheck,
    metrics: Metrics,
    out: Vec<Effect>,
    violation: Option<Found>,
    /// Members made slow by each timeline entry, until its lift.
    slowed: HashMap<usize, Vec<usize>>,
    /// Record the steps of this member, stopping at that step count.
    record: Option<(usize, u64)>,
    trace: Vec<Step>,
    starts: Vec<RecordedStart>,
    /// Show a progress bar.
    progress: bool,
    #[cfg(swim_faults)]
    faults: swim_checked_core::faults::Faults,
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Simulation({}, {:?})", self.scenario.name, self.queue)
    }
}

impl Simulation {
    pub fn new(scenario: Scenario) -> Result<Simulation, String> {
        scenario.validate()?;
        let config = scenario.config()?;
        let seed = scenario.seed;
        let derive =
            |stream: u64| StdRng::seed_from_u64(seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut choice_rng = derive(3);
        let capacity = scenario.capacity();
        let slots = (0..capacity)
            .map(|_| {
                let drift = scenario.drift_ppm * 1e-6;
                let rate = if drift > 0.0 {
                    1.0 + choice_rng.random_range(-drift..drift)
                } else {
                    1.0
                };
                // Every clock has run a while (so a start can be staggered back in time),
                // plus the scenario's spread of offsets.
                let offset = UPTIME_MS
                    + if scenario.clock_offset_ms > 0.0 {
                        choice_rng.random_range(0.0..scenario.clock_offset_ms)
                    } else {
                        0.0
                    };
                Slot {
                    node: None,
                    life: Life::Absent,
                    timers: TimerTable::new(),
                    life_no: 0,
                    generation: 0,
                    clock: Clock::new(offset, rate),
                    slow: None,
                    timers_on_time: false,
                    busy_until: 0,
                    started: 0,
                }
            })
            .collect();
        let scope = if scenario.whole_view_check {
            Scope::Whole
        } else {
            Scope::Touched
        };
        Ok(Simulation {
            wire: Wire::new(&config),
            config,
            slots,
            retired: HashMap::new(),
            net: Network::new(&scenario),
            queue: EventQueue::default(),
            net_rng: derive(1),
            pick_rng: derive(2),
            choice_rng,
            now: 0,
            end: (scenario.duration_s * SECOND as f64) as u64,
            check: OnlineCheck::new(scope),
            metrics: Metrics::new(capacity),
            out: Vec::new(),
            violation: None,
            slowed: HashMap::new(),
            record: None,
            trace: Vec::new(),
            starts: Vec::new(),
            progress: false,
            scenario,
            #[cfg(swim_faults)]
            faults: Default::default(),
        })
    }

    /// Record every step of member `member` (checker [`Step`]s) and its starts, stopping the
    /// run at step `until` (`u64::MAX`: at its end): how a violation found by a run is written
    /// out, by running the seed again. The last step carries the member's view.
    pub fn record(&mut self, member: usize, until: u64) {
        self.record = Some((member, until));
    }

    /// Show a progress bar on standard error (also when it is not a terminal).
    pub fn progress(&mut self, on: bool) {
        self.progress = on;
    }

    /// Run every member with these deliberate bugs (the simulator's own tests).
    #[cfg(swim_faults)]
    pub fn set_faults(&mut self, faults: swim_checked_core::faults::Faults) {
        self.faults = faults;
    }

    /// Run the scenario to its end (or its first violation).
    pub fn run(mut self) -> Outcome {
        self.bootstrap();
        for (index, e) in self.scenario.events.iter().enumerate() {
            let at = (e.at_s * SECOND as f64) as u64;
            self.queue.push(at, Due::Scenario { index });
        }
        self.queue.push(SECOND, Due::Sample);
        let bar = self.progress_bar();
        while let Some((at, due)) = self.queue.pop() {
            if at > self.end {
                break;
            }
            self.now = at;
            match due {
                Due::Deliver {
                    from,
                    to,
                    msg,
                    deferred,
                } => self.deliver(from as usize, to as usize, *msg, deferred),
                Due::Timer {
                    node,
                    life,
                    timer,
                    at,
                    deferred,
                } => self.fire(node as usize, life, timer, at, deferred),
                Due::Scenario { index } => self.timeline(index),
                Due::Lift { index } => self.lift(index),
                Due::Sample => {
                    self.sample();
                    bar.set_position(self.now / SECOND);
                    self.queue.push(self.now + SECOND, Due::Sample);
                }
                Due::Rejoin { node } => self.rejoin(node as usize),
            }
            if self.violation.is_some() {
                break;
            }
            if let Some((_, until)) = self.record
                && self.metrics.steps >= until
            {
                break;
            }
        }
        bar.finish_and_clear();
        if let Some((i, _)) = self.record
            && let (Some(last), Some(node)) = (self.trace.last_mut(), self.slots[i].node.as_ref())
        {
            last.view
                .get_or_insert_with(|| node.members().cloned().collect());
        }
        let slots = &self.slots;
        let witness = |i: usize, since: u64| {
            let s = &slots[i];
            s.life == Life::Up
                && s.started <= since
                && s.node.as_ref().is_some_and(|n| n.phase() == Phase::Running)
        };
        Outcome {
            report: self.metrics.report(&witness),
            violation: self.violation,
            trace: self.trace,
            starts: self.starts,
        }
    }

    fn progress_bar(&self) -> indicatif::ProgressBar {
        let shown = self.progress || std::io::stderr().is_terminal();
        if !shown {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new(self.end / SECOND);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} sim s",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(self.scenario.name.clone());
        bar
    }

    // ----- members -----

    /// The first `nodes` members start as one converged cluster: each learns every other
    /// alive at incarnation 0 from one sync, its periods staggered over the first interval.
    fn bootstrap(&mut self) {
        let n = self.scenario.nodes;
        let everyone: Vec<Member> = (0..n)
            .map(|j| Member::alive(sim_id(j, 0), sim_addr(j), 0, self.meta(j, None)))
            .collect();
        for i in 0..n {
            let jitter = self.choice_rng.random_range(0..self.config.probe_interval);
            self.start(i, jitter);
            let peer = (i + 1) % n;
            let mut members = everyone.clone();
            members.remove(i);
            let msg = Message {
                from: sim_id(peer, 0),
                body: Body::Sync {
                    reply: false,
                    members,
                },
                gossip: Vec::new(),
            };
            self.step(i, NodeInput::Message { from: peer, msg });
            if self.scenario.settled_start {
                self.settle(i, peer);
            }
            if self.recording(i)
                && let (Some(start), Some(node)) =
                    (self.starts.last_mut(), self.slots[i].node.as_ref())
            {
                start.view = Some(node.members().cloned().collect());
            }
        }
    }

    fn recording(&self, i: usize) -> bool {
        self.record.is_some_and(|(r, _)| r == i)
    }

    /// Member `i`'s join news went out long ago: hand it pings from `peer` until its gossip
    /// queue is empty, dropping the acks (as the checker's worlds start).
    fn settle(&mut self, i: usize, peer: usize) {
        let recording = self.recording(i);
        let slot = &mut self.slots[i];
        let Some(node) = slot.node.as_mut() else {
            return;
        };
        let now = slot.clock.local(self.now);
        let ping = Message {
            from: sim_id(peer, 0),
            body: Body::Ping {
                seq: 0,
                target: node.id(),
            },
            gossip: Vec::new(),
        };
        let mut noted = Vec::new();
        let mut picks = Picks {
            rng: &mut self.pick_rng,
            noted: recording.then_some(&mut noted),
        };
        let mut dropped = Vec::new();
        let mut count = 0;
        // Each ack carries some updates and each update is sent a bounded number of times:
        // the bound only guards against a broken core that never empties its queue.
        let most = 64 * self.scenario.nodes.max(64);
        for _ in 0..most {
            if node.gossip().is_empty() {
                break;
            }
            node.handle_message(now, sim_addr(peer), ping.clone(), &mut picks, &mut dropped);
            dropped.clear();
            count += 1;
        }
        if let Some(start) = self.starts.last_mut().filter(|_| recording) {
            start.settle = Some(Settle {
                from: peer,
                ping,
                count,
                picks: noted,
            });
        }
    }

    /// Start member `i` in a new life (its clock reads `early` ms more than it would).
    fn start(&mut self, i: usize, early: Millis) {
        let meta = self.meta(i, None);
        let slot = &mut self.slots[i];
        if slot.life != Life::Absent {
            slot.generation += 1;
        }
        slot.life = Life::Up;
        slot.life_no += 1;
        slot.timers.clear();
        slot.started = self.now;
        let now = slot.clock.local(self.now).saturating_sub(early);
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let id = sim_id(i, slot.generation);
        #[allow(unused_mut)]
        let mut node = Node::new(self.config.clone(), id, sim_addr(i), meta, now, &mut out)
            .expect("the scenario's configuration was validated");
        #[cfg(swim_faults)]
        node.set_faults(self.faults);
        slot.node = Some(node);
        if self.record.is_some_and(|(r, _)| r == i) {
            self.starts.push(RecordedStart {
                after_steps: self.trace.len(),
                id,
                at: now,
                effects: out.clone(),
                settle: None,
                view: None,
            });
        }
        self.effects(i, &mut out);
        self.out = out;
    }

    /// Member `i`'s metadata: its zone when the scenario has several (PROTOCOL.md §15 reads
    /// it), and the revision an update event gave it.
    fn meta(&self, i: usize, rev: Option<u64>) -> Meta {
        let zone = (self.scenario.zones.len() > 1).then(|| {
            (
                ZONE_KEY.to_string(),
                self.scenario.zones[self.net.zone(i)].clone(),
            )
        });
        let rev = rev.map(|r| ("rev".to_string(), r.to_string()));
        Meta::from_pairs(zone.into_iter().chain(rev))
    }

    /// Up to three running members other than `i`, drawn, to join through.
    fn seeds(&mut self, i: usize) -> Vec<SocketAddr> {
        let up: Vec<usize> = (0..self.slots.len())
            .filter(|&j| j != i && self.running(j))
            .collect();
        let k = up.len().min(3);
        index::sample(&mut self.choice_rng, up.len(), k)
            .into_iter()
            .map(|x| sim_addr(up[x]))
            .collect()
    }

    fn running(&self, i: usize) -> bool {
        let s = &self.slots[i];
        s.life == Life::Up && s.node.as_ref().is_some_and(|n| n.phase() == Phase::Running)
    }

    /// How the subject of an event stands.
    fn subject(&self, id: NodeId) -> Subject {
        let (i, generation) = sim_owner(id);
        match self.slots.get(i) {
            Some(s) if s.generation == generation && self.running(i) => {
                if s.slow.is_some() {
                    Subject::Slow
                } else {
                    Subject::Healthy
                }
            }
            _ => Subject::Gone,
        }
    }

    /// The owner's own record of `id`, if known (incarnation authority).
    fn own(slots: &[Slot], retired: &HashMap<NodeId, Member>, id: NodeId) -> Option<Member> {
        let (i, generation) = sim_owner(id);
        let slot = slots.get(i)?;
        match &slot.node {
            Some(node) if slot.generation == generation && node.id() == id => {
                Some(node.local_member().clone())
            }
            _ => retired.get(&id).cloned(),
        }
    }

    // ----- steps -----

    fn deliver(&mut self, from: usize, to: usize, msg: Message, deferred: bool) {
        let slot = &mut self.slots[to];
        if slot.life != Life::Up {
            self.metrics.lost_down += 1;
            return;
        }
        if let Some(at) = slot.hold_back(self.now, deferred) {
            let msg = Box::new(msg);
            let due = Due::Deliver {
                from: from as u32,
                to: to as u32,
                msg,
                deferred: true,
            };
            self.queue.push(at, due);
            return;
        }
        self.step(to, NodeInput::Message { from, msg });
    }

    fn fire(&mut self, i: usize, life: u32, timer: Timer, at: Millis, deferred: bool) {
        let slot = &mut self.slots[i];
        if slot.life != Life::Up || slot.life_no != life || slot.timers.get(timer) != Some(at) {
            return; // moved, cancelled, or of an earlier life
        }
        let held = if slot.timers_on_time {
            None
        } else {
            slot.hold_back(self.now, deferred)
        };
        if let Some(when) = held {
            let due = Due::Timer {
                node: i as u32,
                life,
                timer,
                at,
                deferred: true,
            };
            self.queue.push(when, due);
            return;
        }
        if deferred {
            // Held back while slow: its turn among the inputs that waited.
            slot.timers.cancel(timer);
            self.step(i, NodeInput::Timer(timer));
            return;
        }
        // Every timer due at this deadline fires now, in (deadline, timer) order, as the
        // library's shell and the checker fire them ([`TimerTable::pop_due`]), whatever order
        // they were armed in: so that a recorded member can be replayed against the library.
        // (Their own queue entries find them fired.)
        while let Some(due) = self.slots[i].timers.pop_due(at) {
            self.step(i, NodeInput::Timer(due));
            if self.violation.is_some() || self.record.is_some_and(|(_, u)| self.metrics.steps >= u)
            {
                break;
            }
        }
    }

    /// One input to member `i`, its effects carried out, the properties checked.
    fn step(&mut self, i: usize, input: NodeInput) {
        let recording = self.recording(i);
        let slot = &mut self.slots[i];
        let Some(node) = slot.node.as_mut() else {
            return;
        };
        let now = slot.clock.local(self.now);
        let named = match &input {
            NodeInput::Message { msg, .. } => Named::Message(msg),
            NodeInput::Timer(t) => Named::Timer(*t),
            NodeInput::Command(Command::ConfirmDead(id)) => Named::Command(Some(*id)),
            NodeInput::Command(_) => Named::Command(None),
        };
        self.check.before(node, named);
        let mut step = recording.then(|| Step {
            now,
            node: Some(i),
            input: match &input {
                NodeInput::Message { from, msg } => Input::Deliver {
                    from: *from,
                    to: i,
                    msg: msg.clone(),
                },
                NodeInput::Timer(timer) => Input::Timer {
                    node: i,
                    timer: *timer,
                },
                NodeInput::Command(c) => match user_command(c) {
                    Some(command) => Input::Command { node: i, command },
                    None => Input::None,
                },
            },
            ..Step::default()
        });
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let mut picks = Picks {
            rng: &mut self.pick_rng,
            noted: step.as_mut().map(|s| &mut s.picks),
        };
        match input {
            NodeInput::Message { from, msg } => {
                node.handle_message(now, sim_addr(from), msg, &mut picks, &mut out)
            }
            NodeInput::Timer(timer) => node.handle_timer(now, timer, &mut picks, &mut out),
            NodeInput::Command(command) => {
                if node
                    .handle_command(now, command, &mut picks, &mut out)
                    .is_err()
                {
                    self.metrics.commands_refused += 1;
                }
            }
        }
        self.metrics.steps += 1;
        let node = self.slots[i].node.as_ref().expect("stepped above");
        let events = out.iter().filter_map(|e| match e {
            Effect::Event(e) => Some(e),
            _ => None,
        });
        let (slots, retired) = (&self.slots, &self.retired);
        let checked = self
            .check
            .after(node, events, &|id| Self::own(slots, retired, id));
        if let Some(mut step) = step {
            step.effects = out.clone();
            if checked.is_err() || self.record.is_some_and(|(_, u)| self.metrics.steps >= u) {
                step.view = Some(node.members().cloned().collect());
            }
            self.trace.push(step);
        }
        if let Err(violation) = checked {
            self.violation = Some(Found {
                violation,
                member: i,
                id: node.id(),
                at_s: self.now as f64 / SECOND as f64,
                step: self.metrics.steps,
            });
        }
        self.effects(i, &mut out);
        self.out = out;
    }

    /// Carry out member `i`'s effects, in order.
    fn effects(&mut self, i: usize, out: &mut Vec<Effect>) {
        for effect in out.drain(..) {
            match effect {
                Effect::Send { to, msg } => self.send(i, to, msg),
                Effect::SetTimer { timer, at } => {
                    let slot = &mut self.slots[i];
                    slot.timers.set(timer, at);
                    let due = Due::Timer {
                        node: i as u32,
                        life: slot.life_no,
                        timer,
                        at,
                        deferred: false,
                    };
                    let when = slot.clock.sim_us(at).max(self.now);
                    self.queue.push(when, due);
                }
                Effect::CancelTimer { timer } => {
                    self.slots[i].timers.cancel(timer);
                }
                Effect::Event(e) => self.event(i, &e),
                // No scenario sends application data: nothing to deliver to.
                Effect::Deliver(_) => {}
            }
        }
    }

    fn send(&mut self, i: usize, to: SocketAddr, msg: Message) {
        let len = self.wire.datagram_len(&msg) as u64;
        self.metrics.datagrams += 1;
        self.metrics.bytes += len;
        let Some(j) = sim_index(to).filter(|&j| j < self.slots.len()) else {
            self.metrics.lost_down += 1;
            return;
        };
        if self.net.zone(i) != self.net.zone(j) {
            self.metrics.cross_zone_bytes += len;
        }
        match self.net.route(&mut self.net_rng, i, j) {
            Ok(delay) => {
                let due = Due::Deliver {
                    from: i as u32,
                    to: j as u32,
                    msg: Box::new(msg),
                    deferred: false,
                };
                self.queue.push(self.now + delay, due);
            }
            Err(Lost::Loss) => self.metrics.lost_loss += 1,
            Err(Lost::Partition) => self.metrics.lost_partition += 1,
            Err(Lost::OneWay) => self.metrics.lost_one_way += 1,
        }
    }

    fn event(&mut self, i: usize, e: &MemberEvent) {
        let subject = self.subject(e.member.id);
        self.metrics.event(i, e, self.now, subject);
        let me = self.slots[i].node.as_ref().map(Node::id);
        if Some(e.member.id) == me && e.to == Status::Dead {
            // The cluster declared us dead: come back under a new id, as applications do.
            let after = self.scenario.rejoin_removed_after_s;
            if after >= 0.0 {
                let at = self.now + (after * SECOND as f64) as u64;
                self.queue.push(at, Due::Rejoin { node: i as u32 });
            }
        }
    }

    fn rejoin(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        let Some(node) = slot.node.as_ref() else {
            return;
        };
        if slot.life != Life::Up || node.phase() != Phase::Removed {
            return;
        }
        self.retired.insert(node.id(), node.local_member().clone());
        slot.generation += 1;
        let id = sim_id(i, slot.generation);
        slot.started = self.now;
        self.step(i, NodeInput::Command(Command::Rejoin { id }));
    }

    // ----- the timeline -----

    /// The members `sel` names among those `eligible`.
    fn select(&mut self, sel: &str, eligible: impl Fn(&Self, usize) -> bool) -> Vec<usize> {
        let Ok(sel) = Selector::parse(sel) else {
            return Vec::new(); // validated with the scenario
        };
        let pool: Vec<usize> = (0..self.slots.len())
            .filter(|&i| eligible(self, i))
            .collect();
        match sel {
            Selector::All => pool,
            Selector::Zone(z) => {
                let zone = self.scenario.zone_index(&z).unwrap_or(usize::MAX);
                pool.into_iter()
                    .filter(|&i| self.net.zone(i) == zone)
                    .collect()
            }
            Selector::Range(a, b) => pool.into_iter().filter(|i| (a..b).contains(i)).collect(),
            Selector::List(l) => pool.into_iter().filter(|i| l.contains(i)).collect(),
            Selector::Random(k) => self.draw(pool, k),
            Selector::Fraction(f) => {
                let k = (pool.len() as f64 * f).round() as usize;
                self.draw(pool, k)
            }
        }
    }

    fn draw(&mut self, pool: Vec<usize>, k: usize) -> Vec<usize> {
        let mut chosen: Vec<usize> =
            index::sample(&mut self.choice_rng, pool.len(), k.min(pool.len()))
                .into_iter()
                .map(|x| pool[x])
                .collect();
        chosen.sort_unstable();
        chosen
    }

    fn timeline(&mut self, index: usize) {
        let what = self.scenario.events[index].what.clone();
        let until = |u: Option<f64>| u.map(|s| (s * SECOND as f64) as u64);
        match what {
            Event::Crash { nodes } => {
                for i in self.select(&nodes, |s, i| s.slots[i].life == Life::Up) {
                    let slot = &mut self.slots[i];
                    if let Some(node) = slot.node.take() {
                        self.retired.insert(node.id(), node.local_member().clone());
                        self.metrics.crashed(node.id(), self.now);
                    }
                    slot.life = Life::Crashed;
                    slot.timers.clear();
                    slot.slow = None;
                    slot.timers_on_time = false;
                }
            }
            Event::Restart { nodes } => {
                for i in self.select(&nodes, |s, i| s.slots[i].life == Life::Crashed) {
                    self.start(i, 0);
                    self.join(i);
                }
            }
            Event::Join { count } => {
                let absent: Vec<usize> = (0..self.slots.len())
                    .filter(|&i| self.slots[i].life == Life::Absent)
                    .take(count)
                    .collect();
                for i in absent {
                    self.start(i, 0);
                    self.join(i);
                }
            }
            Event::Leave { nodes } => {
                for i in self.select(&nodes, Self::running) {
                    self.step(i, NodeInput::Command(Command::Leave));
                }
            }
            Event::Update { nodes } => {
                for i in self.select(&nodes, Self::running) {
                    let Some(node) = self.slots[i].node.as_ref() else {
                        continue;
                    };
                    let me = node.local_member().clone();
                    let meta = self.meta(i, Some(me.incarnation + 1));
                    self.metrics.updated(me.id, me.incarnation + 1, self.now);
                    self.step(i, NodeInput::Command(Command::SetMeta(meta)));
                }
            }
            Event::Partition { groups, until_s } => {
                let mut sides = vec![groups.len() as u16; self.slots.len()];
                for (k, g) in groups.iter().enumerate() {
                    for i in self.select(g, |_, _| true) {
                        sides[i] = k as u16;
                    }
                }
                self.net.partition(sides);
                if let Some(at) = until(until_s) {
                    self.queue.push(at, Due::Lift { index });
                }
            }
            Event::Heal => self.heal(),
            Event::OneWayLoss {
                from,
                to,
                loss,
                until_s,
            } => {
                let mask = |sel: Vec<usize>, n: usize| {
                    let mut m = vec![false; n];
                    for i in sel {
                        m[i] = true;
                    }
                    m
                };
                let n = self.slots.len();
                let from = mask(self.select(&from, |_, _| true), n);
                let to = mask(self.select(&to, |_, _| true), n);
                self.net.add_one_way(index as u64, from, to, loss);
                if let Some(at) = until(until_s) {
                    self.queue.push(at, Due::Lift { index });
                }
            }
            Event::Slow {
                nodes,
                delay_ms,
                until_s,
                timers_on_time,
            } => {
                let chosen = self.select(&nodes, |s, i| s.slots[i].life == Life::Up);
                let delay = (delay_ms * 1_000.0) as u64;
                for &i in &chosen {
                    self.slots[i].slow = Some(delay);
                    self.slots[i].timers_on_time = timers_on_time;
                }
                self.slowed.insert(index, chosen);
                if let Some(at) = until(until_s) {
                    self.queue.push(at, Due::Lift { index });
                }
            }
            Event::SetLoss { uniform } => self.net.set_uniform_loss(uniform),
        }
    }

    /// End the temporary fault of timeline entry `index`.
    fn lift(&mut self, index: usize) {
        match &self.scenario.events[index].what {
            Event::Partition { .. } => self.heal(),
            Event::OneWayLoss { .. } => self.net.remove_one_way(index as u64),
            Event::Slow { .. } => {
                for i in self.slowed.remove(&index).unwrap_or_default() {
                    self.slots[i].slow = None;
                    self.slots[i].timers_on_time = false;
                }
            }
            _ => {}
        }
    }

    fn heal(&mut self) {
        if self.net.partitioned() {
            self.net.heal();
            self.metrics.heals.push(Heal {
                at: self.now,
                converged_at: None,
            });
        }
    }

    fn join(&mut self, i: usize) {
        let seeds = self.seeds(i);
        if !seeds.is_empty() {
            self.step(i, NodeInput::Command(Command::Join { seeds }));
        }
    }

    /// Once a simulated second: member-seconds, and convergence after a heal.
    fn sample(&mut self) {
        let up: Vec<usize> = (0..self.slots.len()).filter(|&i| self.running(i)).collect();
        self.metrics.member_seconds += up.len() as f64;
        let pending = self
            .metrics
            .heals
            .iter()
            .any(|h| h.converged_at.is_none() && !self.net.partitioned());
        if pending && self.converged(&up) {
            let now = self.now;
            for h in self.metrics.heals.iter_mut() {
                h.converged_at.get_or_insert(now);
            }
        }
    }

    /// Every running member holds every other running member alive.
    fn converged(&self, up: &[usize]) -> bool {
        let ids: Vec<NodeId> = up
            .iter()
            .filter_map(|&i| self.slots[i].node.as_ref().map(Node::id))
            .collect();
        up.iter().all(|&i| {
            let Some(node) = self.slots[i].node.as_ref() else {
                return true;
            };
            ids.iter()
                .all(|&id| node.member(id).is_some_and(|m| m.status == Status::Alive))
        })
    }
}

/// The trace form of a command (a join has none: the checker's worlds start joined; nor has
/// application data, which no world sends).
fn user_command(c: &Command) -> Option<UserCommand> {
    match c {
        Command::Leave => Some(UserCommand::Leave),
        Command::SetMeta(meta) => Some(UserCommand::SetMeta(meta.clone())),
        Command::ConfirmDead(id) => Some(UserCommand::ConfirmDead(*id)),
        Command::Rejoin { id } => Some(UserCommand::Rejoin(*id)),
        Command::Join { .. } | Command::Broadcast(_) | Command::SendTo { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_addresses_are_loopback_ordered_and_invertible() {
        let members = [0, 1, 255, 256, 65_535, 65_536, MAX_MEMBERS - 1];
        for &i in &members {
            let addr = sim_addr(i);
            assert!(addr.ip().is_loopback(), "{addr}");
            assert_eq!(sim_index(addr), Some(i), "{addr}");
        }
        assert!(members.windows(2).all(|w| sim_addr(w[0]) < sim_addr(w[1])));
        assert_eq!(sim_addr(0).to_string(), "127.1.0.0:7946");
        for other in [
            "127.0.0.1:7946",
            "127.0.255.255:7946",
            "10.0.0.1:7946",
            "127.1.0.0:7001",
        ] {
            assert_eq!(sim_index(other.parse().unwrap()), None, "{other}");
        }
    }
}
