//! What a replay needs from a trace, read once: the core configuration, each node's start and
//! every step with what must follow it.

use std::net::SocketAddr;

use model::checker::{Input, PickRecord, Playback, Setup, Step, SwimModel, Trace};
use swim_checked_core::{Config, Member, Message, Meta, Millis, NodeId, TimerTable};

/// How a node of the trace starts: created at `at`, then fed `inputs` (datagrams from other
/// model nodes, at `at`), consuming `picks`; afterwards it has armed `timers` and holds `view`.
#[derive(Clone, Debug)]
pub struct Start {
    pub index: usize,
    pub id: NodeId,
    pub addr: SocketAddr,
    pub at: Millis,
    /// The node's metadata at the start (its zone, in a zoned world).
    pub meta: Meta,
    pub inputs: Vec<(usize, Message)>,
    pub picks: Vec<PickRecord>,
    pub timers: TimerTable,
    pub view: Vec<Member>,
}

/// One trace, ready to replay.
#[derive(Clone, Debug)]
pub struct Script {
    /// Where it came from (a file name), for messages.
    pub name: String,
    pub config: Config,
    pub starts: Vec<Start>,
    pub steps: Vec<Step>,
    /// The stepping node's armed timers after each step (`None`: no node stepped).
    pub timers: Vec<Option<TimerTable>>,
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
                inputs: start.inputs,
                picks,
                timers: start.host.timers.clone(),
                view: start.host.node.members().cloned().collect(),
            });
        }
        // Timers after each step: the stepping node's table, fired timer removed, effects
        // applied.
        let mut tables: Vec<TimerTable> = starts.iter().map(|s| s.timers.clone()).collect();
        let mut timers = Vec::new();
        for step in &trace.steps {
            if let Input::Crash { node } = step.input {
                tables[node].clear();
            }
            let Some(i) = step.node else {
                timers.push(None);
                continue;
            };
            if let Input::Timer { timer, .. } = step.input {
                tables[i].cancel(timer);
            }
            for effect in &step.effects {
                tables[i].apply(effect);
            }
            timers.push(Some(tables[i].clone()));
        }
        Ok(Script {
            name,
            config,
            starts,
            steps: trace.steps.clone(),
            timers,
        })
    }

    /// The model index of an address of the trace.
    pub fn index_of(&self, addr: SocketAddr) -> Option<usize> {
        self.starts.iter().position(|s| s.addr == addr)
    }

    /// The armed timers of the stepping node after step `k`.
    pub fn timers_after(&self, k: usize) -> Option<&TimerTable> {
        self.timers.get(k)?.as_ref()
    }
}
