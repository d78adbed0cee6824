//! What a recording of a node's run holds, step by step, for checking it against the model
//! afterwards (the `conformance` package's validator): the input of each transition, its time,
//! the random choices the core consumed and the effects. A node is recorded through an
//! [`Observer`](crate::harness::Observer) and a [`RecordingPicker`]; the agent's `--record`
//! writes these as JSON lines.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use swim_checked_core::{Command, Config, Effect, Member, Message, Millis, NodeId, Pick, Timer};

use crate::observer::{Input, Step};
use crate::pick::Picker;

/// The first line of a recording file: what a replica needs besides the steps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordHeader {
    /// The protocol configuration the node ran.
    pub config: Config,
}

/// One random choice the core made: a value in `0..n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickRecord {
    /// The range asked for.
    pub n: usize,
    /// The value picked.
    pub value: usize,
}

/// The input of one recorded transition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordedInput {
    /// The node started as `me` (id, name, generation, address, metadata).
    Start {
        /// The node's own record as it started.
        me: Member,
    },
    /// A datagram from `from` decoded to `msg`.
    Message {
        /// The datagram's source address.
        from: SocketAddr,
        /// What it decoded to.
        msg: Message,
    },
    /// A timer came due.
    Timer(Timer),
    /// A user command, and whether the core accepted it.
    Command {
        /// The command.
        command: Command,
        /// Whether the core accepted it.
        accepted: bool,
    },
}

impl RecordedInput {
    /// The record of what the observer saw.
    pub fn of(input: &Input<'_>) -> Self {
        match *input {
            Input::Start { me } => RecordedInput::Start { me: me.clone() },
            Input::Message { from, msg } => RecordedInput::Message {
                from,
                msg: msg.clone(),
            },
            Input::Timer(timer) => RecordedInput::Timer(timer),
            Input::Command { command, result } => RecordedInput::Command {
                command: command.clone(),
                accepted: result.is_ok(),
            },
        }
    }
}

/// One transition of one node as its task carried it out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedStep {
    /// The time the core was given.
    pub now: Millis,
    /// What it was fed.
    pub input: RecordedInput,
    /// The picks the core consumed during the step, in order.
    pub picks: Vec<PickRecord>,
    /// The effects, in order.
    pub effects: Vec<Effect>,
}

impl RecordedStep {
    /// The record of `step`, which consumed `picks`.
    pub fn of(step: &Step<'_>, picks: Vec<PickRecord>) -> Self {
        RecordedStep {
            now: step.now,
            input: RecordedInput::of(&step.input),
            picks,
            effects: step.effects.to_vec(),
        }
    }
}

/// The picks a [`RecordingPicker`] made since they were last taken; shared with the observer,
/// which takes them with each step (both run on the node's task, one after the other).
#[derive(Clone, Debug, Default)]
pub struct PickLog(Arc<Mutex<Vec<PickRecord>>>);

impl PickLog {
    /// The picks made since the last call, in order.
    pub fn take(&self) -> Vec<PickRecord> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A [`Picker`] that writes down every pick of the picker it wraps in a [`PickLog`].
#[derive(Debug)]
pub struct RecordingPicker<P> {
    inner: P,
    log: PickLog,
}

impl<P: Picker> RecordingPicker<P> {
    /// Wrap `inner`; its picks go to the returned log.
    pub fn new(inner: P) -> (Self, PickLog) {
        let log = PickLog::default();
        (
            RecordingPicker {
                inner,
                log: log.clone(),
            },
            log,
        )
    }
}

impl<P: Picker> Pick for RecordingPicker<P> {
    fn pick(&mut self, n: usize) -> usize {
        let value = self.inner.pick(n);
        (self.log.0.lock().unwrap_or_else(|e| e.into_inner())).push(PickRecord { n, value });
        value
    }
}

impl<P: Picker> Picker for RecordingPicker<P> {
    fn node_id(&mut self) -> NodeId {
        self.inner.node_id()
    }
}
