//! Checking a [`Recording`] of real nodes against the model, step by step.
//!
//! The model is the core's transition functions plus its environment rules. For every node, a
//! replica [`swim_checked_core::Node`] is started the way the recorded node said it started;
//! then every recorded step must be one the model allows from the replica's state:
//!
//! - time never goes backwards;
//! - a fired timer was armed by an earlier step and was due (`deadline <= now`);
//! - a received datagram was sent earlier (at the same time or before) by the node at its
//!   source address, to this node, with exactly this content, and was not received already
//!   (the network may lose datagrams, not invent or duplicate them here);
//! - fed the same input at the same time with the same random picks, the replica produces
//!   exactly the recorded effects (datagrams, timers with deadlines, events) and consumes
//!   exactly the recorded picks; a command is accepted or refused alike.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;

use model::checker::Playback;
use swim_checked::harness::{Effect, Message, Millis};
use swim_checked_core::{Config, TimerTable};

use crate::record::{RecordedInput, RecordedStep, Recording};

/// What a validated recording amounted to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Validated {
    /// Steps checked against the model.
    pub steps: usize,
    /// Datagrams received, each matched with the send it came from.
    pub delivered: usize,
    /// Datagrams sent and never received (lost, sent to a stopped node, or in flight at the
    /// end).
    pub undelivered: usize,
    /// Datagrams received from a process after its recording ended, with no recorded send:
    /// sent in the step the process was killed in before it could write it down. Only where
    /// recordings may end anywhere ([`Process::may_end_early`]).
    pub unrecorded_sends: usize,
}

/// The first step of a recording the model does not allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Which run: `seed 7`, a directory.
    pub run: String,
    /// Which node process: `node 2`, a file.
    pub node: String,
    /// Index of the step in the node's recording.
    pub step: usize,
    pub now: Millis,
    pub what: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} step {} at {} ms: {}",
            self.run, self.node, self.step, self.now, self.what
        )
    }
}

impl std::error::Error for Divergence {}

/// The recording of one node process, from its start until it stopped (or was killed).
#[derive(Clone, Copy, Debug)]
pub struct Process<'a> {
    /// What to call it in a divergence.
    pub name: &'a str,
    pub config: &'a Config,
    pub steps: &'a [RecordedStep],
    /// Whether the recording may end right after a step whose datagrams went out but which
    /// was not written down (a process killed between sending and writing).
    pub may_end_early: bool,
}

/// A datagram as the network saw it.
type Wire = (SocketAddr, SocketAddr, Message);

/// Validate every step of `recording` (in-process nodes: every step is recorded).
pub fn validate(recording: &Recording) -> Result<Validated, Divergence> {
    let names: Vec<String> = (0..recording.nodes.len())
        .map(|n| format!("node {n}"))
        .collect();
    let processes: Vec<Process<'_>> = (recording.nodes.iter().zip(&names))
        .map(|(steps, name)| Process {
            name,
            config: &recording.config,
            steps,
            may_end_early: false,
        })
        .collect();
    validate_processes(&format!("seed {}", recording.scenario.seed), &processes)
}

/// Validate every step of every process of the run `run`, and every datagram received
/// against the sends.
pub fn validate_processes(run: &str, processes: &[Process<'_>]) -> Result<Validated, Divergence> {
    let mut sends: HashMap<Wire, Vec<Millis>> = HashMap::new();
    let mut receipts: Vec<(Millis, usize, usize, Wire)> = Vec::new();
    // Per address, the processes that ran there: the times of their first and last steps,
    // and whether their recording may have lost its last step.
    let mut lives: HashMap<SocketAddr, Vec<(Millis, Millis, bool)>> = HashMap::new();
    let mut validated = Validated::default();
    let fail = |node: usize, step: usize, now: Millis, what: String| Divergence {
        run: run.to_owned(),
        node: processes[node].name.to_owned(),
        step,
        now,
        what,
    };
    for (node, process) in processes.iter().enumerate() {
        let mut replica = Replica::default();
        for (index, step) in process.steps.iter().enumerate() {
            let addr = replica
                .check(process.config, step)
                .map_err(|what| fail(node, index, step.now, what))?;
            for effect in &step.effects {
                if let Effect::Send { to, msg } = effect {
                    sends
                        .entry((addr, *to, msg.clone()))
                        .or_default()
                        .push(step.now);
                }
            }
            if let RecordedInput::Message { from, msg } = &step.input {
                receipts.push((step.now, node, index, (*from, addr, msg.clone())));
            }
            validated.steps += 1;
        }
        if let (Some(first), Some(last), Some((_, addr))) =
            (process.steps.first(), process.steps.last(), &replica.core)
        {
            (lives.entry(*addr).or_default()).push((first.now, last.now, process.may_end_early));
        }
    }
    // A receipt no recorded send explains is excused only if the process at its source
    // address then was one whose recording may have lost its last step, and had ended.
    let after_end = |from: SocketAddr, now: Millis| {
        let latest = (lives.get(&from).into_iter().flatten())
            .filter(|&&(first, ..)| first <= now)
            .max_by_key(|&&(first, ..)| first);
        latest.is_some_and(|&(_, last, may_end_early)| may_end_early && last <= now)
    };
    // Each receipt takes the earliest matching send not taken yet, which must not be later.
    receipts.sort_by_key(|&(now, node, index, _)| (now, node, index));
    for queue in sends.values_mut() {
        queue.sort_unstable_by(|a, b| b.cmp(a)); // earliest last, to pop
    }
    for (now, node, index, wire) in receipts {
        let sent = sends.get_mut(&wire).and_then(|q| {
            let at = *q.last()?;
            (at <= now).then(|| q.pop())
        });
        if sent.is_some() {
            validated.delivered += 1;
        } else if after_end(wire.0, now) {
            validated.unrecorded_sends += 1;
        } else {
            return Err(fail(
                node,
                index,
                now,
                format!(
                    "received from {} a datagram nobody sent it (or received it twice): {:?}",
                    wire.0, wire.2
                ),
            ));
        }
    }
    validated.undelivered = sends.values().map(Vec::len).sum();
    Ok(validated)
}

/// The model's copy of one recorded node.
#[derive(Default)]
struct Replica {
    core: Option<(swim_checked_core::Node, SocketAddr)>,
    timers: TimerTable,
    now: Millis,
}

impl Replica {
    /// Check one step; returns the node's address.
    fn check(&mut self, config: &Config, step: &RecordedStep) -> Result<SocketAddr, String> {
        if step.now < self.now {
            return Err(format!("time went back from {} ms", self.now));
        }
        self.now = step.now;
        let now = step.now;
        let mut out = Vec::new();
        // The replica's picks are the recorded node's, played back.
        let mut replay = Playback::new((step.picks.iter()).map(|p| model::checker::PickRecord {
            n: p.n,
            value: p.value,
        }));
        match (&mut self.core, &step.input) {
            (None, RecordedInput::Start { me }) => {
                let node =
                    swim_checked_core::Node::start(config.clone(), me.clone(), now, &mut out)
                        .map_err(|e| format!("the model refuses to start the node: {e}"))?;
                self.core = Some((node, me.addr));
            }
            (None, input) => return Err(format!("{input:?} before the node started")),
            (Some(_), RecordedInput::Start { .. }) => return Err("started twice".into()),
            (Some((core, _)), RecordedInput::Timer(timer)) => {
                match self.timers.cancel(*timer) {
                    Some(at) if at <= now => {}
                    Some(at) => return Err(format!("{timer:?} fired before its deadline {at}")),
                    None => return Err(format!("{timer:?} fired but was not armed")),
                }
                core.handle_timer(now, *timer, &mut replay, &mut out);
            }
            (Some((core, _)), RecordedInput::Message { from, msg }) => {
                core.handle_message(now, *from, msg.clone(), &mut replay, &mut out);
            }
            (Some((core, _)), RecordedInput::Command { command, accepted }) => {
                let result = core.handle_command(now, command.clone(), &mut replay, &mut out);
                if result.is_ok() != *accepted {
                    return Err(format!(
                        "command {command:?}: the model answers {result:?}, the node {}",
                        if *accepted {
                            "accepted it"
                        } else {
                            "refused it"
                        }
                    ));
                }
            }
        }
        replay.finish()?;
        if out != step.effects {
            return Err(effects_diff(&out, &step.effects));
        }
        for effect in &out {
            self.timers.apply(effect);
        }
        Ok(self.core.as_ref().map(|(_, addr)| *addr).expect("started"))
    }
}

/// Where two effect lists first differ.
fn effects_diff(model: &[Effect], node: &[Effect]) -> String {
    let at = model
        .iter()
        .zip(node)
        .position(|(a, b)| a != b)
        .unwrap_or(model.len().min(node.len()));
    format!(
        "effects differ at #{at} (model {} effects, node {}):\n  model: {:?}\n  node:  {:?}",
        model.len(),
        node.len(),
        model.get(at),
        node.get(at)
    )
}
