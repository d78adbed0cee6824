//! What a replay needs from a trace, read once: the core configuration, each node's start and
//! every step with what must follow it. A checker trace gives every node's; a simulator
//! recording one member's (see [`crate::sim_replay`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use model::checker::{Input, PickRecord, Playback, Setup, Step, SwimModel, Trace, moved_addr};
use swim_checked_core::{Config, Member, Message, Meta, Millis, NodeId, NodeStats, TimerTable};

use crate::space::Addressing;

/// How a node of the trace starts: created at `at`, then fed `inputs` (datagrams from other
/// model nodes, at `inputs_at`), consuming `picks`; afterwards it has armed `timers` and holds
/// `view`.
#[derive(Clone, Debug)]
pub struct Start {
    pub index: usize,
    pub id: NodeId,
    pub addr: SocketAddr,
    pub at: Millis,
    /// The node's metadata at the start (its zone, in a zoned world).
    pub meta: Meta,
    pub inputs_at: Millis,
    pub inputs: Vec<(usize, Message)>,
    pub picks: Vec<PickRecord>,
    pub timers: TimerTable,
    pub view: Vec<Member>,
    /// The core's counters at the end of the run, when the trace records them.
    pub stats: Option<NodeStats>,
}

/// One trace, ready to replay.
#[derive(Clone, Debug)]
pub struct Script {
    /// Where it came from (a file name), for messages.
    pub name: String,
    pub config: Config,
    /// How its addresses move onto a replay's.
    pub addressing: Addressing,
    /// The address of every node the replayed nodes hear from or send to, by index.
    pub addrs: BTreeMap<usize, SocketAddr>,
    /// The second address of every node that restarts in the trace (its new process listens
    /// there from the restart on).
    pub moved: BTreeMap<usize, SocketAddr>,
    /// The nodes that can be replayed.
    pub starts: Vec<Start>,
    pub steps: Vec<Step>,
    /// The stepping node's armed timers after each step (`None`: no node stepped).
    pub timers: Vec<Option<TimerTable>>,
    /// Whether `steps` are every node's (a checker trace), so that each datagram delivered
    /// must have been sent by a step before; a simulator recording has one member's steps and
    /// the datagrams it received whole.
    pub complete: bool,
}

impl Script {
    /// Read a trace.
    pub fn from_trace(name: impl Into<String>, trace: &Trace) -> Result<Script, String> {
        let name = name.into();
        if trace.format != 1 {
            return Err(format!(
                "{name}: trace format {} (this harness reads 1)",
                trace.format
            ));
        }
        let t = &trace.setup;
        let config = t.config();
        let setup = Setup::from_trace(t)
            .ok_or_else(|| format!("{name}: a setup this model cannot rebuild"))?;
        if trace.nodes.len() != setup.nodes {
            return Err(format!(
                "{name}: {} nodes listed for a setup of {}",
                trace.nodes.len(),
                setup.nodes
            ));
        }
        // Each node starts as the checker starts it, with the trace's picks played back.
        let model = SwimModel::new(setup);
        let mut starts = Vec::new();
        for node in &trace.nodes {
            let i = node.index;
            let picks = trace.initial_picks.get(i).cloned().unwrap_or_default();
            let mut playback = Playback::new(picks.iter().copied());
            let start = model.start(i, &mut playback);
            (playback.finish()).map_err(|e| format!("{name}: n{}'s start: {e}", i + 1))?;
            starts.push(Start {
                index: i,
                id: node.id,
                addr: node.addr,
                at: i as Millis * t.stagger,
                meta: start.host.node.local_member().meta.clone(),
                inputs_at: i as Millis * t.stagger,
                inputs: start.inputs,
                picks,
                timers: start.host.timers.clone(),
                view: start.host.node.members().cloned().collect(),
                stats: node.stats,
            });
        }
        let addrs = starts.iter().map(|s| (s.index, s.addr)).collect();
        let mut script = Script::new(
            name,
            config,
            Addressing::SharedIp,
            addrs,
            starts,
            trace.steps.clone(),
            true,
        );
        for step in &trace.steps {
            if let Input::Restart { node } = step.input {
                script.moved.insert(node, moved_addr(node));
            }
        }
        Ok(script)
    }

    /// A script of these starts and steps; the timers after each step worked out.
    pub fn new(
        name: String,
        config: Config,
        addressing: Addressing,
        addrs: BTreeMap<usize, SocketAddr>,
        starts: Vec<Start>,
        steps: Vec<Step>,
        complete: bool,
    ) -> Script {
        // Timers after each step: the stepping node's table, fired timer removed, effects
        // applied.
        let mut tables: BTreeMap<usize, TimerTable> =
            starts.iter().map(|s| (s.index, s.timers.clone())).collect();
        let mut timers = Vec::new();
        for step in &steps {
            if let Input::Crash { node } = step.input {
                tables.entry(node).or_default().clear();
            }
            let Some(i) = step.node else {
                timers.push(None);
                continue;
            };
            let table = tables.entry(i).or_default();
            if let Input::Timer { timer, .. } = step.input {
                table.cancel(timer);
            }
            for effect in &step.effects {
                table.apply(effect);
            }
            timers.push(Some(table.clone()));
        }
        Script {
            name,
            config,
            addressing,
            addrs,
            moved: BTreeMap::new(),
            starts,
            steps,
            timers,
            complete,
        }
    }

    /// How node `i` starts, if it can be replayed.
    pub fn start(&self, i: usize) -> Option<&Start> {
        self.starts.iter().find(|s| s.index == i)
    }

    /// The model index of an address of the trace (a node's first or second).
    pub fn index_of(&self, addr: SocketAddr) -> Option<usize> {
        (self.addrs.iter().chain(&self.moved)).find_map(|(&i, &a)| (a == addr).then_some(i))
    }

    /// The armed timers of the stepping node after step `k`.
    pub fn timers_after(&self, k: usize) -> Option<&TimerTable> {
        self.timers.get(k)?.as_ref()
    }
}
