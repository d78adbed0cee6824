//! The [`stateright::Model`]: the initial state, the enabled inputs and how a step runs.

use std::sync::Arc;

use stateright::{Model, Property};

use swim_checked_core::codec::{datagram_overhead, encoded_len};
use swim_checked_core::{
    Command, Effect, Member, Message, Meta, Millis, Node, Phase, Pick, Status, Timer,
};

use super::action::{Action, Transition};
use super::picks::{Noted, Replay, pick_sequences};
use super::rules::{self, Cause};
use super::setup::{Setup, index_of, index_of_addr, moved_addr, node_addr, node_id, rejoin_id};
use super::state::{Budget, Datagram, Ghost, Host, Life, Marks, State, Strangers};
use super::trace::{Input, PickRecord, Playback, Step, UserCommand};
use super::{properties, reduce, report};

/// How a model node started ([`SwimModel::start`]): the host it became, and the datagrams it
/// was fed on the way (the sender's model index and the message, all at its start time).
#[derive(Clone, Debug)]
pub struct Start {
    pub host: Host,
    pub inputs: Vec<(usize, Message)>,
    /// What it received from addresses it held no record of (the amplification rule's credit).
    pub strangers: Strangers,
}

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
    /// probe order, answered by `picks`), the news of the join already spread, its first probe
    /// tick one period (plus its stagger) away. The checker answers the picks with
    /// [`SwimModel::initial_order_picks`]; a replay plays back a trace's `initial_picks`.
    pub fn start(&self, i: usize, picks: &mut dyn Pick) -> Start {
        let n = self.setup.nodes;
        let start = i as Millis * self.setup.stagger;
        let mut out = Vec::new();
        let me = Member::alive(node_id(i), node_addr(i), 0, self.setup.meta(i));
        let mut node = self.node(me, start, &mut out);
        let peer = node_addr((i + 1) % n);
        // The peers' records, in sync datagrams from the next node, split as a real node splits
        // its view: as many records to a datagram as its byte budget holds.
        let sync = |members: Vec<Member>| Message {
            from: node_id((i + 1) % n),
            body: swim_checked_core::Body::Sync {
                reply: false,
                members,
            },
            gossip: Vec::new(),
        };
        let core = &self.setup.core;
        let room =
            core.max_datagram - datagram_overhead(&core.label) - encoded_len(&sync(Vec::new()));
        // (bytes, records) of each datagram.
        let mut chunks: Vec<(usize, Vec<Member>)> = Vec::new();
        for j in (0..n).filter(|&j| j != i) {
            let member = Member::alive(node_id(j), node_addr(j), 0, self.setup.meta(j));
            let len = encoded_len(&member);
            match chunks.last_mut() {
                Some((used, records)) if *used + len <= room => {
                    *used += len;
                    records.push(member);
                }
                _ => chunks.push((len, vec![member])),
            }
        }
        let mut inputs = Vec::new();
        let mut strangers = Strangers::default();
        for (_, members) in chunks {
            let peers = sync(members);
            inputs.push(((i + 1) % n, peers.clone()));
            rules::arrival(i, &node, peer, &peers, &mut strangers);
            node.handle_message(start, peer, peers, picks, &mut out);
        }
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
            inputs.push(((i + 1) % n, ping.clone()));
            rules::arrival(i, &node, peer, &ping, &mut strangers);
            node.handle_message(start, peer, ping, picks, &mut Vec::new());
        }
        Start {
            host: Host::new(node, Life::Up, out.iter().collect()),
            inputs,
            strangers,
        }
    }

    /// The picks of node `i`'s start: where each peer goes in its first probe order, chosen so
    /// that the first pass walks the ring from the node after `i` (`n2` probes `n3`, `n4`,
    /// `n1`). Every node then stands where a rotation of the ids puts another, so the initial
    /// state is symmetric under rotations and the symmetry reduction can merge, for example,
    /// "`n1` crashes" with "`n2` crashes" at the same instant. Every later pass is drawn as it
    /// goes, with all outcomes explored.
    pub fn initial_order_picks(&self, i: usize) -> Vec<u8> {
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
        let mut ghost = Ghost::default();
        let hosts = (0..s.nodes)
            .map(|i| {
                let start = self.start(i, &mut Replay::new(&self.initial_order_picks(i)));
                ghost.strangers.extend(start.strangers);
                start.host
            })
            .collect();
        State {
            now: 0,
            hosts,
            net: Vec::new(),
            budget: Budget {
                drops: s.drops,
                duplicates: s.duplicates,
                crashes: s.crashes,
                pauses: s.pauses,
                replays: s.replays,
                leaves: s.leaves,
                meta_changes: s.meta_changes,
                rejoins: s.rejoins,
                restarts: s.restarts,
                broadcasts: s.broadcasts,
                directs: s.directs,
            },
            ghost,
            history: Vec::new(),
        }
    }

    /// The picks (with their ranges) each node made at the start.
    pub fn initial_picks(&self) -> Vec<Vec<PickRecord>> {
        (0..self.setup.nodes)
            .map(|i| {
                let picks = self.initial_order_picks(i);
                let mut replay = Replay::new(&picks);
                self.start(i, &mut replay);
                replay.records()
            })
            .collect()
    }

    /// Run `action` from `state` with the picks it carries. `step`, if given, receives the
    /// record of what happened (for traces and reports).
    pub fn apply(&self, state: &State, action: &Action, step: Option<&mut Step>) -> State {
        self.apply_picking(state, action, &mut Replay::new(action.picks()), step)
    }

    /// Run `action` from `state` with the picks a trace recorded for it, played back: a pick
    /// asked that the record does not have, or in another range, or a recorded pick left over
    /// is an error (see [`Playback`]).
    pub fn apply_recorded(
        &self,
        state: &State,
        action: &Action,
        picks: &[PickRecord],
        step: Option<&mut Step>,
    ) -> Result<State, String> {
        let mut playback = Playback::new(picks.iter().copied());
        let next = self.apply_picking(state, action, &mut playback, step);
        playback.finish().map(|()| next)
    }

    /// Run `action` from `state`, answering the node's picks from `picks`.
    fn apply_picking(
        &self,
        state: &State,
        action: &Action,
        picks: &mut dyn Pick,
        mut step: Option<&mut Step>,
    ) -> State {
        let mut next = state.clone();
        next.ghost.marks = Marks::default();
        let now = state.now;
        let disturbance = match action {
            Action::Deliver(d, _) => {
                next.remove_datagram(d);
                let (from, msg) = (next.hosts[d.from].node.addr(), d.msg.clone());
                self.run_node(
                    &mut next,
                    d.to,
                    Cause::Message(&d.msg, from),
                    picks,
                    step.as_deref_mut(),
                    |node, r, out| node.handle_message(now, from, msg, r, out),
                );
                false
            }
            Action::Fire(i, timer, _) => {
                next.hosts[*i].timers.cancel(*timer);
                let cause = Cause::Timer(*timer);
                self.run_node(
                    &mut next,
                    *i,
                    cause,
                    picks,
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
                    UserCommand::Broadcast(_) => next.budget.broadcasts -= 1,
                    UserCommand::SendTo(..) => next.budget.directs -= 1,
                }
                let cause = Cause::Command {
                    rejoin: matches!(command, UserCommand::Rejoin(_)),
                };
                let command = command.to_core();
                self.run_node(
                    &mut next,
                    *i,
                    cause,
                    picks,
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
                if !self.setup.cut(d.from, d.to, now) {
                    next.budget.drops -= 1;
                }
                true
            }
            Action::Duplicate(d) => {
                next.add_datagram((**d).clone(), false);
                next.budget.duplicates -= 1;
                true
            }
            Action::Replay(d) => {
                // Sent now, by the wire: it arrives in the next millisecond, like any datagram
                // sent in this instant (so nothing sent in an instant arrives in it).
                next.add_datagram((**d).clone(), true);
                next.budget.replays -= 1;
                true
            }
            Action::Crash(i) => {
                let host = &mut next.hosts[*i];
                host.life = Life::Crashed { at: now };
                host.timers.clear();
                next.net.retain(|(d, _)| d.to != *i);
                next.history.retain(|d| d.to != *i);
                next.budget.crashes -= 1;
                true
            }
            Action::Restart(i) => {
                self.restart(&mut next, *i, picks, step.as_deref_mut());
                true
            }
            Action::Pause(i) => {
                next.hosts[*i].life = Life::Paused;
                next.budget.pauses -= 1;
                true
            }
            // The shell drops it: nothing changes.
            Action::Outsider(..) => false,
        };
        if disturbance {
            next.ghost.last_disturbance = now;
        }
        // No replay can happen any more: forget what was sent, so that runs which differ only
        // in it are one state.
        if next.budget.replays == 0 || next.now >= self.disturb_until {
            next.history.clear();
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
    /// timers into its timer list. Judges the step against the rules ([`rules::judge`]).
    #[allow(clippy::too_many_arguments)]
    fn run_node(
        &self,
        next: &mut State,
        i: usize,
        cause: Cause,
        picks: &mut dyn Pick,
        step: Option<&mut Step>,
        input: impl FnOnce(&mut Node, &mut dyn Pick, &mut Vec<Effect>),
    ) {
        let before = Arc::clone(&next.hosts[i].node);
        let mut out = Vec::new();
        // The picks are noted only for a step's record.
        let mut noted = Noted::new(picks, step.is_some());
        next.hosts[i].update(|node| input(node, &mut noted, &mut out));
        for effect in &out {
            match effect {
                Effect::Send { to, msg } => {
                    let Some(j) = index_of_addr(*to).filter(|&j| j < next.hosts.len()) else {
                        continue;
                    };
                    let host = &next.hosts[j];
                    if matches!(host.life, Life::Crashed { .. }) || host.node.addr() != *to {
                        continue; // lost: nobody listens there any more
                    }
                    let dg = Datagram::new(i, j, msg.clone());
                    if next.budget.replays > 0 && next.now < self.disturb_until {
                        next.record_sent(&dg);
                    }
                    next.add_datagram(dg, true);
                }
                // Timers go into its table; events change nothing in the environment.
                other => {
                    next.hosts[i].timers.apply(other);
                }
            }
        }
        let after = &next.hosts[i].node;
        rules::judge(next.now, &before, after, cause, &out, &mut next.ghost);
        if let Some(step) = step {
            step.node = Some(i);
            step.picks = noted.asked;
            step.effects = out;
            step.view = Some(after.members().cloned().collect());
        }
    }

    /// A node of this world's configuration (and broken rules) starting as `me` at `now`.
    fn node(&self, me: Member, now: Millis, out: &mut Vec<Effect>) -> Node {
        #[allow(unused_mut)]
        let mut node = Node::start(self.setup.core.clone(), me, now, out).expect("valid setup");
        #[cfg(swim_faults)]
        node.set_faults(self.setup.faults);
        node
    }

    /// Crashed node `i` starts again as a new process: its id at the next generation, at its
    /// second address, joining through the others' addresses. What its old process sent and
    /// what it exchanged with strangers go with that process (the datagrams still in flight
    /// are lost, a subset of what the network may do).
    fn restart(
        &self,
        next: &mut State,
        i: usize,
        picks: &mut dyn Pick,
        mut step: Option<&mut Step>,
    ) {
        let now = next.now;
        let old = next.hosts[i].node.local_member();
        let me = Member {
            addr: moved_addr(i),
            ..old.clone()
        }
        .at_generation(old.generation + 1);
        let mut started = Vec::new();
        let node = self.node(me, now, &mut started);
        next.hosts[i] = Host::new(node, Life::Up, started.iter().collect());
        next.net.retain(|(d, _)| d.from != i);
        next.history.retain(|d| d.from != i);
        next.ghost.strangers.forget(i);
        next.budget.restarts -= 1;
        let seeds: Vec<_> = (0..next.hosts.len())
            .filter(|&j| j != i)
            .map(|j| next.hosts[j].node.addr())
            .collect();
        let cause = Cause::Command { rejoin: true };
        self.run_node(
            next,
            i,
            cause,
            picks,
            step.as_deref_mut(),
            |node, r, out| {
                (node.handle_command(now, Command::Join { seeds }, r, out))
                    .expect("the others' addresses are seeds");
            },
        );
        // The step's record holds the start's effects (its timers) before the join's.
        if let Some(step) = step {
            step.effects.splice(0..0, started);
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
    /// model is one input); nothing reaches a node before it starts (`i x stagger`), a node
    /// starts again no earlier than it first started (a process clock does not go back), and
    /// no command is given before every node started.
    pub fn inputs(&self, s: &State) -> Vec<Action> {
        let mut inputs = self.all_inputs(s);
        if self.setup.node_order {
            reduce::node_order::retain(s, &mut inputs);
        }
        if !self.setup.shell_order {
            return inputs;
        }
        let stagger = self.setup.stagger;
        let last_start = (s.hosts.len() as Millis).saturating_sub(1) * stagger;
        let first_due = |i: usize| -> Option<(Millis, Timer)> {
            (s.hosts[i].timers.iter())
                .filter(|&(_, at)| at <= s.now)
                .map(|(t, at)| (at, t))
                .min()
        };
        let ready = |i: usize| first_due(i).is_none() && s.now >= i as Millis * stagger;
        inputs
            .into_iter()
            .filter(|a| match a {
                Action::Fire(i, timer, _) => first_due(*i).is_some_and(|(_, t)| t == *timer),
                Action::Deliver(d, _) => ready(d.to),
                Action::Command(i, ..) => ready(*i) && s.now >= last_start,
                Action::Restart(i) => s.now >= *i as Millis * stagger,
                _ => true,
            })
            .collect()
    }

    /// Whether the run has come to a state no step can change the views of: past the fault
    /// window; nothing deliverable, nothing due, nobody paused; every node taking part runs,
    /// has no update or broadcast queued, no probe unanswered, no relay open, no raised
    /// health multiplier, and holds the same view, in which every member not dead or left is
    /// a running node held alive. From there, with no fault and no command left, every probe is acked, every
    /// push-pull exchanges equal views and no timer changes a record, so every property that
    /// holds here holds to the horizon (`tests/model/checker.rs` explores the futures of such
    /// states to check it).
    pub fn is_quiet(&self, s: &State) -> bool {
        let held_alive_and_running = |m: &Member| {
            m.status == Status::Alive
                && index_of(m.id)
                    .and_then(|j| s.hosts.get(j))
                    .is_some_and(|h| {
                        let me = h.node.local_member();
                        (me.id, me.generation) == (m.id, m.generation)
                            && h.life == Life::Up
                            && h.is_running()
                    })
        };
        s.now >= self.disturb_until
            && !s.has_urgent_step()
            && !s.in_transit()
            && s.hosts.iter().all(|h| h.life != Life::Paused)
            && s.hosts.iter().filter(|h| h.participates()).all(|h| {
                let node = &h.node;
                node.phase() == Phase::Running
                    && node.gossip().is_empty()
                    && node.user_queue().is_empty()
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
        // Protocol steps: deliveries and due timers. A datagram across the partition's cut is
        // lost: that is the only way it goes.
        for d in s.deliverable() {
            if self.setup.cut(d.from, d.to, s.now) {
                out.push(Action::Drop(d.clone()));
            } else if s.hosts[d.to].life == Life::Up {
                out.push(Action::Deliver(d.clone(), Vec::new()));
            }
        }
        for (i, h) in s.hosts.iter().enumerate() {
            if h.life == Life::Up {
                for (timer, at) in h.timers.iter() {
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
            if b.drops > 0 && !self.setup.cut(d.from, d.to, s.now) {
                out.push(Action::Drop(d.clone()));
            }
            if b.duplicates > 0 {
                out.push(Action::Duplicate(d.clone()));
            }
        }
        // A replay, only once the instant's steps are done (where the clock may move): its
        // copy arrives in the next millisecond wherever in the instant it was put on the wire,
        // and the history then holds everything sent in the instant, so replaying earlier in
        // it would reach no other state at which the clock moves.
        if b.replays > 0 && !s.has_urgent_step() {
            for d in &s.history {
                out.push(Action::Replay(d.clone()));
            }
        }
        for (i, h) in s.hosts.iter().enumerate() {
            if b.restarts > 0 && matches!(h.life, Life::Crashed { .. }) {
                out.push(Action::Restart(i));
            }
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
            // Payloads name their sender and how many of the kind were left: each is distinct.
            let me = i as u8 + 1;
            if b.broadcasts > 0 {
                let c = UserCommand::Broadcast(vec![me, b.broadcasts]);
                out.push(Action::Command(i, c, vec![]));
            }
            if b.directs > 0 {
                for m in h.node.members() {
                    if m.id != h.node.id() && matches!(m.status, Status::Alive | Status::Suspect) {
                        let c = UserCommand::SendTo(m.id, vec![me, b.directs]);
                        out.push(Action::Command(i, c, vec![]));
                    }
                }
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
            (pick_sequences(|r| self.apply_picking(s, &input, r, None)).into_iter())
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
            UserCommand::Broadcast(payload) => Command::Broadcast(payload.clone()),
            UserCommand::SendTo(to, payload) => Command::SendTo {
                to: *to,
                payload: payload.clone(),
            },
        }
    }
}
