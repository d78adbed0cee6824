//! Replaying one member of a simulator run (a counterexample, or any recorded member) against a
//! real `swim-checked` node, with [`replay`](crate::replay)'s harness.
//!
//! A simulator recording ([`Counterexample`]) holds one member's steps as checker trace steps,
//! with every datagram it received whole, and how it started ([`RecordedStart`]). It becomes a
//! [`Script`] with one start, the member's: created on its clock at `at`, then its first step
//! (the bootstrap sync) and the settling pings as start inputs, at the time of that step. The
//! simulator hands the bootstrap sync over whole, a message no datagram can carry past some
//! hundred members: the replay sends its members in order, in as many syncs as it takes. The
//! core takes a sync member by member, so the start is the same (its picks, timers and view
//! are compared, as a checker trace's start is). Every
//! member the replayed one hears of gets a harness socket at its address; the member's
//! datagrams to any of them are read and compared. Simulator members listen on loopback
//! addresses of their own, all on one port ([`sim_addr`]); a replay moves them to a port of its
//! own ([`Addressing::SharedPort`]), so nothing leaves the machine.
//!
//! A member that joined or restarted during the run cannot be replayed: a join has no trace
//! form. Nor, faithfully, can a member the scenario made slow: the simulator hands it its inputs
//! late, in arrival order, where a shell fires due timers first.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use model::checker::{Input, PickRecord, Step};
use model::sim::counterexample::Counterexample;
use model::sim::runner::{RecordedStart, SIM_PORT, sim_addr, sim_index};
use swim_checked_core::{Body, Config, Effect, Message, Meta, TimerTable, Wire};

use crate::replay::{Divergence, Options, Replayed, replay_node};
use crate::script::{Script, Start};
use crate::space::Addressing;

/// One member's recording, as a script to replay.
pub fn script(
    name: impl Into<String>,
    config: Config,
    member: usize,
    starts: &[RecordedStart],
    steps: &[Step],
) -> Result<Script, String> {
    let name = name.into();
    let unsupported = |why: String| format!("{name}: member {member} cannot be replayed: {why}");
    let [start] = starts else {
        return Err(unsupported(match starts.len() {
            0 => "its start is not recorded".into(),
            n => format!("it started {n} times (a join has no trace form)"),
        }));
    };
    if start.after_steps != 0 {
        return Err(unsupported("it joined during the run".into()));
    }
    let Some((first, rest)) = steps.split_first() else {
        return Err(unsupported("no step recorded".into()));
    };
    let (peer, sync) = match &first.input {
        Input::Deliver { from, to, msg }
            if *to == member && matches!(msg.body, Body::Sync { .. }) =>
        {
            (*from, msg.clone())
        }
        other => {
            return Err(unsupported(format!(
                "its first step is not the bootstrap sync but {other:?}"
            )));
        }
    };
    if let Some(k) = steps.iter().position(|s| s.node != Some(member)) {
        return Err(format!("{name}: step {k} is not member {member}'s"));
    }
    if let Some(k) = steps.iter().position(|s| matches!(s.input, Input::None)) {
        return Err(unsupported(format!(
            "step {k} is a join (or a command without trace form)"
        )));
    }
    let Some(view) = start.view.clone() else {
        return Err(unsupported("its view once started is not recorded".into()));
    };
    let wire = Wire::new(&config);
    let mut inputs: Vec<(usize, Message)> = (in_datagrams(&wire, sync).into_iter())
        .map(|m| (peer, m))
        .collect();
    let mut picks: Vec<PickRecord> = first.picks.clone();
    if let Some(settle) = &start.settle {
        inputs.extend((0..settle.count).map(|_| (settle.from, settle.ping.clone())));
        picks.extend(&settle.picks);
    }
    let timers: TimerTable = start.effects.iter().chain(&first.effects).collect();
    let addr = sim_addr(member);
    let addrs = heard_of(member, &inputs, steps)?;
    let start = Start {
        index: member,
        id: start.id,
        addr,
        at: start.at,
        // Its zone, when the scenario has several (the member's own record comes first).
        meta: (view.iter().find(|m| m.id == start.id))
            .map_or_else(Meta::default, |m| m.meta.clone()),
        inputs_at: first.now,
        inputs,
        picks,
        timers,
        view,
        stats: None,
    };
    Ok(Script::new(
        name,
        config,
        Addressing::SharedPort(SIM_PORT),
        addrs,
        vec![start],
        rest.to_vec(),
        false,
    ))
}

/// A counterexample's member, as a script to replay.
pub fn counterexample_script(name: &str, cx: &Counterexample) -> Result<Script, String> {
    let config = cx.scenario.config()?;
    script(name, config, cx.member, &cx.starts, &cx.steps)
}

/// Replay a counterexample's member against a real node.
pub async fn replay_counterexample(
    name: &str,
    cx: &Counterexample,
    opts: &Options,
) -> Result<Result<Replayed, Divergence>, String> {
    let script = counterexample_script(name, cx)?;
    Ok(replay_node(&script, cx.member, opts).await)
}

/// A sync too large for one datagram as several, the same members in the same order; any other
/// message as it is.
fn in_datagrams(wire: &Wire, msg: Message) -> Vec<Message> {
    let fits = |m: &Message| wire.datagram_len(m) <= wire.max_datagram();
    let Body::Sync { reply, members } = &msg.body else {
        return vec![msg];
    };
    if fits(&msg) {
        return vec![msg];
    }
    let part = |members: Vec<_>| Message {
        body: Body::Sync {
            reply: *reply,
            members,
        },
        ..msg.clone()
    };
    let mut parts = Vec::new();
    let mut current = Vec::new();
    for member in members {
        current.push(member.clone());
        if current.len() > 1 && !fits(&part(current.clone())) {
            let last = current.pop().expect("just pushed");
            parts.push(part(std::mem::replace(&mut current, vec![last])));
        }
    }
    parts.push(part(current));
    parts
}

/// Every member the replayed one hears from, sends to or hears of (an address in a datagram it
/// received), by index: the addresses the harness must listen on to see all it sends.
fn heard_of(
    member: usize,
    inputs: &[(usize, Message)],
    steps: &[Step],
) -> Result<BTreeMap<usize, SocketAddr>, String> {
    let seen = RefCell::new(BTreeSet::from([sim_addr(member)]));
    let note = |a: SocketAddr| {
        seen.borrow_mut().insert(a);
        a
    };
    let hear = |from: usize, msg: &Message| {
        note(sim_addr(from));
        msg.renamed(&|id| id, &note);
    };
    for (from, msg) in inputs {
        hear(*from, msg);
    }
    for step in steps {
        if let Input::Deliver { from, msg, .. } = &step.input {
            hear(*from, msg);
        }
        for effect in &step.effects {
            if let Effect::Send { to, .. } = effect {
                note(*to);
            }
        }
    }
    seen.into_inner()
        .into_iter()
        .map(|a| match sim_index(a) {
            Some(i) => Ok((i, a)),
            None => Err(format!("{a} is not a simulator member's address")),
        })
        .collect()
}
