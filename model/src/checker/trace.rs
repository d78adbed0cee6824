//! Traces: a run of the model as data (PROTOCOL.md §11).
//!
//! A [`Trace`] is what `check` writes for a counterexample and what the conformance corpus is
//! made of: the setup, then one [`Step`] per model action. A step is one input to one node (a
//! delivered datagram, a fired timer, a user command) or one move of the environment (drop,
//! duplicate, replay, advance the clock, crash, pause, resume), the random picks the node consumed, and
//! what must follow: the node's effects in order (datagrams sent, timers set with their deadlines
//! or cancelled, events) and its resulting view.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stateright::Path;

use super::{Action, Datagram, Setup, State, SwimModel, Transition, node_addr, node_id};
use swim_checked_core::{
    Config, Effect, Member, Message, Meta, Millis, NodeId, NodeStats, Pick, Timer,
};

/// Version of the trace format.
pub const FORMAT_VERSION: u32 = 1;

/// A command of the application to its node.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserCommand {
    Leave,
    SetMeta(Meta),
    ConfirmDead(NodeId),
    /// Come back under this new id (after leaving or being removed).
    Rejoin(NodeId),
    /// Gossip application data to every member (PROTOCOL.md §13).
    Broadcast(Vec<u8>),
    /// Send application data to one member.
    SendTo(NodeId, Vec<u8>),
}

impl fmt::Display for UserCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserCommand::Leave => write!(f, "leave"),
            UserCommand::SetMeta(meta) => write!(f, "set metadata {meta:?}"),
            UserCommand::ConfirmDead(id) => write!(f, "confirm {} dead", super::report::id(*id)),
            UserCommand::Rejoin(id) => write!(f, "rejoin as {}", super::report::id(*id)),
            UserCommand::Broadcast(payload) => write!(f, "broadcast {payload:?}"),
            UserCommand::SendTo(id, payload) => {
                write!(f, "send {payload:?} to {}", super::report::id(*id))
            }
        }
    }
}

/// What one step feeds in. Nodes are model indices (`node_id(i)`, `node_addr(i)`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Input {
    /// Not set yet.
    #[default]
    None,
    /// The network hands `msg` to node `to` (it came from node `from`'s address).
    Deliver {
        from: usize,
        to: usize,
        msg: Message,
    },
    /// The network loses one copy of `msg`.
    Drop {
        from: usize,
        to: usize,
        msg: Message,
    },
    /// The network will deliver one more copy of `msg`.
    Duplicate {
        from: usize,
        to: usize,
        msg: Message,
    },
    /// The network delivers `msg` again, a datagram node `from` sent to node `to` earlier in
    /// the run: one more copy in flight, handed over by a later `deliver` step (PROTOCOL.md
    /// §12: what an outsider on the wire can still do once datagrams are authenticated).
    Replay {
        from: usize,
        to: usize,
        msg: Message,
    },
    /// A timer of node `node` fires.
    Timer { node: usize, timer: Timer },
    /// The clock moves to `to`.
    Advance { to: Millis },
    /// Node `node` stops.
    Crash { node: usize },
    /// Crashed node `node` starts again at its second address and its next generation, and
    /// joins through the others' addresses.
    Restart { node: usize },
    /// Node `node` stops taking steps for a while.
    Pause { node: usize },
    /// Node `node` runs again (its overdue timers fire next).
    Resume { node: usize },
    /// The application of node `node` asks something.
    Command { node: usize, command: UserCommand },
    /// The harness hands node `to` a datagram its shell must drop before the core sees it:
    /// `msg`, as node `from` would send it, but labelled for another cluster or padded past
    /// `max_datagram` (PROTOCOL.md §11). The model takes no step; the node must take none.
    Outsider {
        from: usize,
        to: usize,
        msg: Message,
        wrong: Outsider,
    },
}

/// How an [`Input::Outsider`] datagram is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outsider {
    /// Labelled for another cluster.
    OtherCluster,
    /// One byte longer than `max_datagram`.
    Oversize,
    /// Its sender's own record piggybacked with metadata one byte over `max_meta_bytes`.
    MetaOverLimit,
    /// Its sender's own record piggybacked as suspected by more members than the wire allows.
    TooManySuspecters,
}

impl Outsider {
    /// As step kinds and file names spell it.
    pub fn name(self) -> &'static str {
        match self {
            Outsider::OtherCluster => "other_cluster",
            Outsider::Oversize => "oversize",
            Outsider::MetaOverLimit => "meta_over_limit",
            Outsider::TooManySuspecters => "too_many_suspecters",
        }
    }
}

impl Input {
    pub fn from_action(action: &Action) -> Input {
        let dg = |d: &super::Datagram| (d.from, d.to, d.msg.clone());
        match action {
            Action::Deliver(d, _) => {
                let (from, to, msg) = dg(d);
                Input::Deliver { from, to, msg }
            }
            Action::Drop(d) => {
                let (from, to, msg) = dg(d);
                Input::Drop { from, to, msg }
            }
            Action::Duplicate(d) => {
                let (from, to, msg) = dg(d);
                Input::Duplicate { from, to, msg }
            }
            Action::Replay(d) => {
                let (from, to, msg) = dg(d);
                Input::Replay { from, to, msg }
            }
            Action::Fire(node, timer, _) => Input::Timer {
                node: *node,
                timer: *timer,
            },
            Action::Advance(to) => Input::Advance { to: *to },
            Action::Crash(node) => Input::Crash { node: *node },
            Action::Restart(node) => Input::Restart { node: *node },
            Action::Pause(node) => Input::Pause { node: *node },
            Action::Resume(node) => Input::Resume { node: *node },
            Action::Command(node, command, _) => Input::Command {
                node: *node,
                command: command.clone(),
            },
            Action::Outsider(d, kind) => {
                let (from, to, msg) = dg(d);
                Input::Outsider {
                    from,
                    to,
                    msg,
                    wrong: *kind,
                }
            }
        }
    }
}

/// One random choice: the node asked for a value in `0..n` and got `value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickRecord {
    pub n: usize,
    pub value: usize,
}

/// Plays back recorded picks, in order, and notes the first way the questions asked differ
/// from the record: a pick asked beyond the record, a pick asked in another range than
/// recorded, or recorded picks left over at the end ([`Playback::finish`]). It never fails a
/// pick: past a difference it answers the recorded value (reduced to the range asked) or 0,
/// and the caller reports the difference once the step is over.
///
/// The checker runs a trace's steps again with it ([`SwimModel::apply_recorded`]); the
/// conformance suite plays back a trace's picks to a real node, and a recorded node's picks
/// to the model, with it.
#[derive(Clone, Debug, Default)]
pub struct Playback {
    picks: VecDeque<PickRecord>,
    /// Picks asked so far.
    consumed: usize,
    error: Option<String>,
}

impl Playback {
    /// Play back `picks`.
    pub fn new(picks: impl IntoIterator<Item = PickRecord>) -> Self {
        Playback {
            picks: picks.into_iter().collect(),
            ..Playback::default()
        }
    }

    /// Picks asked so far.
    pub fn consumed(&self) -> usize {
        self.consumed
    }

    /// Recorded picks not asked for yet.
    pub fn left(&self) -> usize {
        self.picks.len()
    }

    /// Note a difference found outside [`Pick::pick`] (kept only if it is the first).
    pub fn fail(&mut self, what: impl Into<String>) {
        self.error.get_or_insert_with(|| what.into());
    }

    /// The first difference noted since the last call, if any.
    pub fn take_error(&mut self) -> Option<String> {
        self.error.take()
    }

    /// The end of the playback: the first difference noted, or the recorded picks nobody asked
    /// for.
    pub fn finish(mut self) -> Result<(), String> {
        if let Some(error) = self.take_error() {
            return Err(error);
        }
        match self.left() {
            0 => Ok(()),
            left => Err(format!(
                "{} picks asked, {} recorded: {left} left over",
                self.consumed,
                self.consumed + left
            )),
        }
    }
}

impl Pick for Playback {
    fn pick(&mut self, n: usize) -> usize {
        let k = self.consumed;
        self.consumed += 1;
        match self.picks.pop_front() {
            Some(p) if p.n == n => p.value,
            Some(p) => {
                self.fail(format!(
                    "pick {k} asked in 0..{n}, recorded in 0..{} (value {})",
                    p.n, p.value
                ));
                p.value % n.max(1)
            }
            None => {
                self.fail(format!(
                    "pick {k} asked in 0..{n}, but the record has no more (an extra pick)"
                ));
                0
            }
        }
    }
}

/// One step of a run: the input, the picks it consumed, and what followed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Model time when the step happens.
    pub now: Millis,
    pub input: Input,
    /// The node that took the step, for node inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub picks: Vec<PickRecord>,
    /// The node's effects, in order.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub effects: Vec<Effect>,
    /// The node's view after the step: itself first, then every member in id order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view: Option<Vec<Member>>,
}

/// A model node's identity in a trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceNode {
    pub index: usize,
    pub id: NodeId,
    pub addr: std::net::SocketAddr,
    /// The node's protocol counters at the end of the run, which a replay's node must end
    /// with too (absent in recordings that do not carry them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<NodeStats>,
}

/// The setup a trace was recorded with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceSetup {
    pub nodes: usize,
    pub drops: u8,
    pub duplicates: u8,
    pub crashes: u8,
    pub pauses: u8,
    pub leaves: u8,
    pub meta_changes: u8,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rejoins: u8,
    /// Restarts at a second address (absent: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restarts: u8,
    /// Absent (0) in traces of worlds without replays, so older traces read the same.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replays: u8,
    /// The node cut off and when (absent: no partition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<super::setup::Partition>,
    /// Zones of the nodes' metadata (absent: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub zones: u8,
    /// Application broadcasts and direct messages (absent: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub broadcasts: u8,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub directs: u8,
    /// Metadata padded to `max_meta_bytes` (absent: not).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub packed: bool,
    pub horizon: Millis,
    pub disturb_until: Millis,
    pub stagger: Millis,
    /// Recorded in shell order (every conformance trace is).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shell_order: bool,
    /// The core configuration fields that differ between setups.
    pub probe_interval: Millis,
    pub probe_timeout: Millis,
    pub indirect_checks: usize,
    pub suspicion_mult: u32,
    pub suspicion_max_mult: u32,
    pub suspicion_confirmations: usize,
    pub max_health: u8,
    pub retransmit_mult: u32,
    pub max_datagram: usize,
    /// Absent when the scaled-down config's, so older traces read the same.
    #[serde(
        default = "scaled_meta_bytes",
        skip_serializing_if = "is_scaled_meta_bytes"
    )]
    pub max_meta_bytes: usize,
    pub sync_interval: Millis,
    pub unreachable: bool,
    pub leave_timeout: Millis,
    /// Absent (never expires) in traces of worlds whose tombstones last, so older traces read
    /// the same.
    #[serde(default = "never", skip_serializing_if = "is_never")]
    pub tombstone_ttl: Millis,
    /// Lifeguard's switches (PROTOCOL.md §4-§6): absent when on, so older traces read the same.
    #[serde(default = "on", skip_serializing_if = "is_on")]
    pub lifeguard_local_health: bool,
    #[serde(default = "on", skip_serializing_if = "is_on")]
    pub lifeguard_dynamic_suspicion: bool,
    #[serde(default = "on", skip_serializing_if = "is_on")]
    pub lifeguard_buddy: bool,
    /// PROTOCOL.md §14's switches, off in the scaled-down config: absent when off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_rejoin: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub isolation_hold: bool,
    /// PROTOCOL.md §15's selector, uniform in the scaled-down config: absent when uniform.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub zone_helpers: bool,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub far_pass_every: u8,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub indirect_rounds: u8,
    /// PROTOCOL.md §12's intake bounds, when they differ from the scaled-down config's (which
    /// never act): absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intake: Option<IntakeBounds>,
}

/// The intake bounds of a [`TraceSetup`] (see [`Config`]'s fields of the same names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeBounds {
    pub max_new_per_datagram: usize,
    pub max_new_per_source: usize,
    pub max_unanswered: usize,
    pub unanswered_free: usize,
}

impl IntakeBounds {
    fn of(c: &Config) -> IntakeBounds {
        IntakeBounds {
            max_new_per_datagram: c.max_new_per_datagram,
            max_new_per_source: c.max_new_per_source,
            max_unanswered: c.max_unanswered,
            unanswered_free: c.unanswered_free,
        }
    }

    /// `c`'s bounds, or `None` if they are the scaled-down config's.
    fn recorded(c: &Config) -> Option<IntakeBounds> {
        let bounds = IntakeBounds::of(c);
        (bounds != IntakeBounds::of(&Setup::scaled_config(c.unreachable))).then_some(bounds)
    }
}

fn one() -> u8 {
    1
}

fn is_one(n: &u8) -> bool {
    *n == 1
}

fn on() -> bool {
    true
}

fn is_on(switch: &bool) -> bool {
    *switch
}

fn never() -> Millis {
    swim_checked_core::config::NEVER
}

fn is_never(ttl: &Millis) -> bool {
    *ttl == never()
}

/// A whole run, as written to a JSON file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    pub format: u32,
    /// The property this run is a counterexample (or an example) of, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    pub setup: TraceSetup,
    /// Seed of the random walk that found it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// What a corpus trace was chosen for: the features it covers first (see `export`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub covers: Vec<String>,
    pub nodes: Vec<TraceNode>,
    /// Picks each node consumed while learning of its peers at the start.
    pub initial_picks: Vec<Vec<PickRecord>>,
    pub steps: Vec<Step>,
}

impl Trace {
    /// Replay a run of `model` from `init` along `actions`, recording every step.
    pub fn record(
        model: &SwimModel,
        init: &State,
        actions: impl IntoIterator<Item = Action>,
    ) -> (Trace, Vec<State>) {
        let steps = actions.into_iter().map(|a| (a, None));
        Trace::record_steps(model, init, steps).expect("no recorded picks to differ from")
    }

    /// Run this trace's steps again on `model`, from its initial state, each with the picks
    /// the trace recorded for it (played back: a pick asked differently is an error naming the
    /// step), and record what the model does now.
    pub fn rerun(&self, model: &SwimModel) -> Result<(Trace, Vec<State>), String> {
        let actions = (self.actions())
            .ok_or("a step with no input, or naming a node the setup does not have")?;
        let steps = (actions.into_iter().zip(&self.steps)).map(|(a, s)| (a, Some(&s.picks[..])));
        Trace::record_steps(model, &model.initial_state(), steps)
    }

    /// Run `steps` from `init`, recording each: an action with the picks it carries, or with
    /// recorded picks to play back.
    fn record_steps<'p>(
        model: &SwimModel,
        init: &State,
        steps: impl IntoIterator<Item = (Action, Option<&'p [PickRecord]>)>,
    ) -> Result<(Trace, Vec<State>), String> {
        let s = &model.setup;
        let c = &s.core;
        let mut states = vec![init.clone()];
        let mut recorded = Vec::new();
        let mut state = init.clone();
        for (k, (action, picks)) in steps.into_iter().enumerate() {
            let mut step = Step::default();
            state = match picks {
                None => model.apply(&state, &action, Some(&mut step)),
                Some(picks) => model
                    .apply_recorded(&state, &action, picks, Some(&mut step))
                    .map_err(|e| format!("step {k} ({action}): {e}"))?,
            };
            recorded.push(step);
            states.push(state.clone());
        }
        let steps = recorded;
        let trace = Trace {
            format: FORMAT_VERSION,
            property: None,
            setup: TraceSetup {
                nodes: s.nodes,
                drops: s.drops,
                duplicates: s.duplicates,
                crashes: s.crashes,
                pauses: s.pauses,
                leaves: s.leaves,
                meta_changes: s.meta_changes,
                rejoins: s.rejoins,
                restarts: s.restarts,
                replays: s.replays,
                partition: s.partition,
                zones: s.zones,
                broadcasts: s.broadcasts,
                directs: s.directs,
                packed: s.packed,
                horizon: s.horizon,
                disturb_until: s.disturb_until(),
                stagger: s.stagger,
                shell_order: s.shell_order,
                probe_interval: c.probe_interval,
                probe_timeout: c.probe_timeout,
                indirect_checks: c.indirect_checks,
                suspicion_mult: c.suspicion_mult,
                suspicion_max_mult: c.suspicion_max_mult,
                suspicion_confirmations: c.suspicion_confirmations,
                max_health: c.max_health,
                retransmit_mult: c.retransmit_mult,
                max_datagram: c.max_datagram,
                max_meta_bytes: c.max_meta_bytes,
                sync_interval: c.sync_interval,
                unreachable: c.unreachable,
                leave_timeout: c.leave_timeout,
                tombstone_ttl: c.tombstone_ttl,
                lifeguard_local_health: c.lifeguard_local_health,
                lifeguard_dynamic_suspicion: c.lifeguard_dynamic_suspicion,
                lifeguard_buddy: c.lifeguard_buddy,
                auto_rejoin: c.auto_rejoin,
                isolation_hold: c.isolation_hold,
                zone_helpers: c.zone_helpers,
                far_pass_every: c.far_pass_every,
                indirect_rounds: c.indirect_rounds,
                intake: IntakeBounds::recorded(c),
            },
            seed: None,
            covers: Vec::new(),
            nodes: (0..s.nodes)
                .map(|i| TraceNode {
                    index: i,
                    id: node_id(i),
                    addr: node_addr(i),
                    stats: Some(state.hosts[i].node.stats()),
                })
                .collect(),
            initial_picks: model.initial_picks(),
            steps,
        };
        Ok((trace, states))
    }

    /// Record a stateright path.
    pub fn from_path(model: &SwimModel, path: &Path<State, Transition>) -> (Trace, Vec<State>) {
        let init = path.clone().into_states().swap_remove(0);
        let actions = path.clone().into_actions().into_iter().map(|t| t.action);
        Trace::record(model, &init, actions)
    }

    /// The model actions of the steps, to run the trace again (`None` if a step names a node
    /// the setup does not have, or has no input).
    pub fn actions(&self) -> Option<Vec<Action>> {
        let n = self.setup.nodes;
        let picks = |step: &Step| step.picks.iter().map(|p| p.value as u8).collect::<Vec<_>>();
        let dg = |from: usize, to: usize, msg: &Message| {
            (from < n && to < n).then(|| Arc::new(Datagram::new(from, to, msg.clone())))
        };
        let node = |i: usize| (i < n).then_some(i);
        self.steps
            .iter()
            .map(|step| {
                Some(match &step.input {
                    Input::None => return None,
                    Input::Deliver { from, to, msg } => {
                        Action::Deliver(dg(*from, *to, msg)?, picks(step))
                    }
                    Input::Drop { from, to, msg } => Action::Drop(dg(*from, *to, msg)?),
                    Input::Duplicate { from, to, msg } => Action::Duplicate(dg(*from, *to, msg)?),
                    Input::Replay { from, to, msg } => Action::Replay(dg(*from, *to, msg)?),
                    Input::Timer { node: i, timer } => Action::Fire(node(*i)?, *timer, picks(step)),
                    Input::Advance { to } => Action::Advance(*to),
                    Input::Crash { node: i } => Action::Crash(node(*i)?),
                    Input::Restart { node: i } => Action::Restart(node(*i)?),
                    Input::Pause { node: i } => Action::Pause(node(*i)?),
                    Input::Resume { node: i } => Action::Resume(node(*i)?),
                    Input::Command { node: i, command } => {
                        Action::Command(node(*i)?, command.clone(), picks(step))
                    }
                    Input::Outsider {
                        from,
                        to,
                        msg,
                        wrong,
                    } => Action::Outsider(dg(*from, *to, msg)?, *wrong),
                })
            })
            .collect()
    }

    /// JSON for review: the header pretty-printed, then one line per step, so a change in
    /// behaviour shows in a diff as the steps it changed (and the corpus stays a few MB).
    pub fn to_json(&self) -> String {
        // Everything but the steps (the bulk of a trace, written below line by line).
        let header = Trace {
            format: self.format,
            property: self.property.clone(),
            setup: self.setup.clone(),
            seed: self.seed,
            covers: self.covers.clone(),
            nodes: self.nodes.clone(),
            initial_picks: self.initial_picks.clone(),
            steps: Vec::new(),
        };
        let header = serde_json::to_string_pretty(&header).expect("a trace serializes");
        steps_by_line(&header, &self.steps)
    }
}

/// `header` (pretty JSON whose last field is an empty `steps`) with `steps` filled in, one step
/// per line: how traces and the simulator's counterexamples are written.
pub fn steps_by_line(header: &str, steps: &[Step]) -> String {
    let steps: Vec<String> = (steps.iter())
        .map(|s| {
            format!(
                "    {}",
                serde_json::to_string(s).expect("a step serializes")
            )
        })
        .collect();
    let steps = match steps.is_empty() {
        true => "[]".to_string(),
        false => format!("[\n{}\n  ]", steps.join(",\n")),
    };
    let head = header
        .strip_suffix("\"steps\": []\n}")
        .expect("`steps` is the last field");
    format!("{head}\"steps\": {steps}\n}}")
}

impl TraceSetup {
    /// The core configuration the trace was recorded with: the scaled-down one, with the
    /// recorded timings and limits (what a replay must run its nodes with).
    pub fn config(&self) -> Config {
        let mut c = Setup::scaled_config(self.unreachable);
        c.probe_interval = self.probe_interval;
        c.probe_timeout = self.probe_timeout;
        c.indirect_checks = self.indirect_checks;
        c.suspicion_mult = self.suspicion_mult;
        c.suspicion_max_mult = self.suspicion_max_mult;
        c.suspicion_confirmations = self.suspicion_confirmations;
        c.max_health = self.max_health;
        c.retransmit_mult = self.retransmit_mult;
        c.max_datagram = self.max_datagram;
        c.max_meta_bytes = self.max_meta_bytes;
        c.sync_interval = self.sync_interval;
        c.leave_timeout = self.leave_timeout;
        c.tombstone_ttl = self.tombstone_ttl;
        c.lifeguard_local_health = self.lifeguard_local_health;
        c.lifeguard_dynamic_suspicion = self.lifeguard_dynamic_suspicion;
        c.lifeguard_buddy = self.lifeguard_buddy;
        c.auto_rejoin = self.auto_rejoin;
        c.isolation_hold = self.isolation_hold;
        c.zone_helpers = self.zone_helpers;
        c.far_pass_every = self.far_pass_every;
        c.indirect_rounds = self.indirect_rounds;
        if let Some(b) = self.intake {
            c.max_new_per_datagram = b.max_new_per_datagram;
            c.max_new_per_source = b.max_new_per_source;
            c.max_unanswered = b.max_unanswered;
            c.unanswered_free = b.unanswered_free;
        }
        c
    }
}

impl Setup {
    /// The setup a trace was recorded with (`None` if the trace's core configuration is not a
    /// scaled-down one this version can rebuild).
    pub fn from_trace(t: &TraceSetup) -> Option<Setup> {
        let mut setup = Setup::new(t.nodes);
        setup.drops = t.drops;
        setup.duplicates = t.duplicates;
        setup.crashes = t.crashes;
        setup.pauses = t.pauses;
        setup.leaves = t.leaves;
        setup.meta_changes = t.meta_changes;
        setup.rejoins = t.rejoins;
        setup.restarts = t.restarts;
        setup.replays = t.replays;
        setup.partition = t.partition;
        setup.zones = t.zones;
        setup.broadcasts = t.broadcasts;
        setup.directs = t.directs;
        setup.packed = t.packed;
        setup.horizon = t.horizon;
        setup.stagger = t.stagger;
        setup.shell_order = t.shell_order;
        setup.stop_when_quiet = false;
        setup.core = t.config();
        (setup.validate().is_ok() && setup.disturb_until() == t.disturb_until).then_some(setup)
    }
}

fn scaled_meta_bytes() -> usize {
    Setup::scaled_config(false).max_meta_bytes
}

fn is_scaled_meta_bytes(n: &usize) -> bool {
    *n == scaled_meta_bytes()
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}
