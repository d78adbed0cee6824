//! Human-readable output: members, messages, steps, states, counterexamples, the results table.

use std::fmt::Write as _;

use super::properties::{self, Kind};
use super::trace::{Input, Step, Trace};
use super::{Life, Setup, State, SwimModel, generation, index_of};
use swim_checked_core::{Body, Effect, Member, MemberEvent, Message, NodeId, Timer};

/// `n3` for model nodes (`n3'` after a rejoin), the raw id otherwise.
pub fn id(id: NodeId) -> String {
    match index_of(id) {
        Some(i) if generation(id) < 4 => {
            format!("n{}{}", i + 1, "'".repeat(generation(id) as usize))
        }
        _ => format!("{id:?}"),
    }
}

/// `n3 suspect(0){n1}`, `n2 alive(1){rev=2}`.
pub fn member(m: &Member) -> String {
    let mut out = format!("{} {}({})", id(m.id), m.status.name(), m.incarnation);
    if m.generation > 0 {
        // Only the partition world's nodes rejoin at a new generation: `n3@1 alive(0)`.
        out = format!(
            "{}@{} {}({})",
            id(m.id),
            m.generation,
            m.status.name(),
            m.incarnation
        );
    }
    if !m.suspecters.is_empty() {
        let s: Vec<String> = m.suspecters.iter().map(|&s| id(s)).collect();
        write!(out, " by {}", s.join(",")).ok();
    }
    if !m.meta.is_empty() {
        let kv: Vec<String> = m.meta.iter().map(|(k, v)| format!("{k}={v}")).collect();
        write!(out, " [{}]", kv.join(",")).ok();
    }
    out
}

/// `n1 alive(0) | n2 alive(0) | n3 suspect(0) by n1`.
pub fn view<'a>(members: impl IntoIterator<Item = &'a Member>) -> String {
    members
        .into_iter()
        .map(member)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// `ping#3 n3 +[n3 suspect(0) by n1]`.
pub fn message(msg: &Message) -> String {
    let mut out = match &msg.body {
        Body::Ping { seq, target } => format!("ping#{seq} {}", id(*target)),
        Body::PingReq { seq, target, .. } => format!("ping-req#{seq} {}", id(*target)),
        Body::Ack { seq } => format!("ack#{seq}"),
        Body::Nack { seq } => format!("nack#{seq}"),
        Body::Sync { reply, members } => format!(
            "sync{} {{{}}}",
            if *reply { "?" } else { "" },
            view(members)
        ),
        Body::Gossip { broadcasts } => format!("gossip {{{} broadcasts}}", broadcasts.len()),
        Body::Direct { payload } => format!("direct {{{} bytes}}", payload.len()),
    };
    if !msg.gossip.is_empty() {
        write!(out, " +[{}]", view(&msg.gossip)).ok();
    }
    out
}

/// `tick`, `probe-timeout#3`, `suspicion(n3)`.
pub fn timer(t: Timer) -> String {
    match t {
        Timer::Tick => "tick".into(),
        Timer::ProbeTimeout(seq) => format!("probe-timeout#{seq}"),
        Timer::Relay(seq) => format!("relay#{seq}"),
        Timer::Suspicion(m) => format!("suspicion({})", id(m)),
        Timer::Sync => "sync".into(),
        Timer::JoinRetry => "join-retry".into(),
        Timer::LeaveDone => "leave-done".into(),
        Timer::Gossip => "gossip".into(),
    }
}

fn event(e: &MemberEvent) -> String {
    let from = e.from.map_or("unknown", |s| s.name());
    format!("{} {} -> {}", member(&e.member), from, e.to.name())
}

/// What a step fed in, on one line.
pub fn input(input: &Input) -> String {
    let n = |i: &usize| format!("n{}", i + 1);
    match input {
        Input::None => "(nothing)".into(),
        Input::Deliver { from, to, msg } => {
            format!("{} receives {} from {}", n(to), message(msg), n(from))
        }
        Input::Drop { from, to, msg } => {
            format!("network drops {} {}->{}", message(msg), n(from), n(to))
        }
        Input::Duplicate { from, to, msg } => {
            format!("network duplicates {} {}->{}", message(msg), n(from), n(to))
        }
        Input::Replay { from, to, msg } => {
            format!("network replays {} {}->{}", message(msg), n(from), n(to))
        }
        Input::Timer { node, timer: t } => format!("{} timer {} fires", n(node), timer(*t)),
        Input::Advance { to } => format!("clock advances to {to} ms"),
        Input::Crash { node } => format!("{} crashes", n(node)),
        Input::Restart { node } => format!("{} restarts at its second address", n(node)),
        Input::Pause { node } => format!("{} pauses", n(node)),
        Input::Resume { node } => format!("{} resumes", n(node)),
        Input::Command { node, command } => format!("{} application: {command}", n(node)),
        Input::Outsider {
            from,
            to,
            msg,
            wrong,
        } => format!(
            "{} gets {} from {} as an outsider ({}): dropped by its shell",
            n(to),
            message(msg),
            n(from),
            wrong.name()
        ),
    }
}

/// One step, over a few indented lines: input, picks, sends, timers, events, resulting view.
pub fn step(step: &Step) -> String {
    let mut out = format!("t={:<4} {}", step.now, input(&step.input));
    if !step.picks.is_empty() {
        let p: Vec<String> = step
            .picks
            .iter()
            .map(|p| format!("{} of 0..{}", p.value, p.n))
            .collect();
        write!(out, "\n         picks: {}", p.join(", ")).ok();
    }
    for e in &step.effects {
        let line = match e {
            Effect::Send { to, msg } => {
                let to = (to.port() as usize).saturating_sub(7000);
                format!("sends n{to} {}", message(msg))
            }
            Effect::SetTimer { timer: t, at } => format!("sets {} at {at}", timer(*t)),
            Effect::CancelTimer { timer: t } => format!("cancels {}", timer(*t)),
            Effect::Event(e) => format!("event {}", event(e)),
            Effect::Deliver(m) => format!("delivers {:?} from {}", m.kind, id(m.from)),
        };
        write!(out, "\n         {line}").ok();
    }
    if let Some(v) = &step.view {
        write!(out, "\n         view: {}", view(v)).ok();
    }
    out
}

/// The whole state: clock, budgets, each node's life, view and timers, datagrams in flight.
pub fn state(model: &SwimModel, s: &State) -> String {
    let b = &s.budget;
    let mut out = format!(
        "t={} (horizon {}, faults before {}); left: {} drops, {} dups, {} crashes, {} pauses, {} replays, {} leaves, {} meta, {} rejoins, {} restarts, {} broadcasts, {} directs",
        s.now,
        model.setup.horizon,
        model.disturb_until,
        b.drops,
        b.duplicates,
        b.crashes,
        b.pauses,
        b.replays,
        b.leaves,
        b.meta_changes,
        b.rejoins,
        b.restarts,
        b.broadcasts,
        b.directs
    );
    for (i, h) in s.hosts.iter().enumerate() {
        let life = match h.life {
            Life::Up => "up".to_string(),
            Life::Paused => "paused".to_string(),
            Life::Crashed { at } => format!("crashed at {at}"),
        };
        let timers: Vec<String> = h
            .timers
            .iter()
            .map(|(t, at)| format!("{}@{at}", timer(t)))
            .collect();
        write!(
            out,
            "\n  n{} [{life}, {:?}, lhm {}] {}\n      timers: {}",
            i + 1,
            h.node.phase(),
            h.node.health(),
            view(h.node.members()),
            timers.join(" ")
        )
        .ok();
    }
    for (d, copies) in &s.net {
        let count = copies.total();
        let mut times = if count > 1 {
            format!(" x{count}")
        } else {
            String::new()
        };
        if copies.fresh > 0 {
            times.push_str(&format!(" ({} arriving next ms)", copies.fresh));
        }
        write!(
            out,
            "\n  in flight n{}->n{}: {}{times}",
            d.from + 1,
            d.to + 1,
            message(&d.msg)
        )
        .ok();
    }
    if !s.history.is_empty() {
        write!(
            out,
            "\n  replayable: {} datagrams sent so far",
            s.history.len()
        )
        .ok();
    }
    out
}

/// A counterexample (or example), step by step, then the final state.
pub fn trace(model: &SwimModel, trace: &Trace, states: &[State]) -> String {
    let mut out = String::new();
    writeln!(out, "initial state:\n{}", state(model, &states[0])).ok();
    for (k, s) in trace.steps.iter().enumerate() {
        writeln!(out, "{:>3}. {}", k + 1, step(s)).ok();
    }
    if let Some(last) = states.last() {
        writeln!(out, "final state:\n{}", state(model, last)).ok();
    }
    out
}

/// The result of one property in one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Safety: no counterexample in the whole space.
    Holds,
    /// Safety: a counterexample.
    Violated,
    /// Reachability: an example.
    Discovered,
    /// Reachability: no example in the whole space.
    NotFound,
    /// Safety or reachability: exploration stopped early (a violation elsewhere, a limit).
    Unknown,
    /// The setup cannot exercise it.
    NotApplicable,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Violated => "VIOLATED",
            Verdict::Discovered => "discovered",
            Verdict::NotFound => "NOT FOUND",
            Verdict::Unknown => "unknown (stopped early)",
            Verdict::NotApplicable => "n/a",
        }
    }

    /// Whether this verdict fails the run.
    pub fn is_failure(self) -> bool {
        matches!(self, Verdict::Violated | Verdict::NotFound)
    }
}

/// The verdict of every property for a run over `setup` that found `found` (names of
/// discovered properties); `complete` says whether the whole space was explored.
pub fn verdicts(setup: &Setup, found: &[&str], complete: bool) -> Vec<(&'static str, Verdict)> {
    properties::PROPERTIES
        .iter()
        .map(|p| {
            let hit = found.contains(&p.name);
            let verdict = match (p.kind, hit) {
                (Kind::Safety, true) => Verdict::Violated,
                _ if !(p.applies)(setup) => Verdict::NotApplicable,
                (Kind::Safety, false) if complete => Verdict::Holds,
                (Kind::Reachability, true) => Verdict::Discovered,
                (Kind::Reachability, false) if complete => Verdict::NotFound,
                _ => Verdict::Unknown,
            };
            (p.name, verdict)
        })
        .collect()
}

/// The table: one row per property, one column per run.
pub fn table(runs: &[(String, Vec<(&'static str, Verdict)>)]) -> String {
    let name_width = properties::PROPERTIES
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(0)
        .max(8);
    let col_width = runs
        .iter()
        .map(|(label, _)| label.len())
        .max()
        .unwrap_or(0)
        .max(24);
    let mut out = format!("{:<10} {:<name_width$}", "kind", "property");
    for (label, _) in runs {
        write!(out, "  {label:<col_width$}").ok();
    }
    out.push('\n');
    for p in properties::PROPERTIES {
        let kind = match p.kind {
            Kind::Safety => "safety",
            Kind::Reachability => "reach",
        };
        write!(out, "{kind:<10} {:<name_width$}", p.name).ok();
        for (_, verdicts) in runs {
            let v = verdicts
                .iter()
                .find(|(n, _)| *n == p.name)
                .map_or("-", |(_, v)| v.label());
            write!(out, "  {v:<col_width$}").ok();
        }
        out.push('\n');
    }
    out
}
