//! The harness itself: a faithful trace replays clean, and each kind of tampering with a trace
//! is reported at the tampered step, naming what differs.

use std::sync::Arc;

use conformance::corpus::{replay_all, runtime};
use conformance::{Divergence, Options, Script, generate};
use model::checker::{Input, Setup, Trace};
use swim_checked_core::{Effect, Timer};

fn trace() -> Trace {
    let mut setup = Setup::new(3);
    setup.drops = 2;
    let trace = generate::walk(setup, 3, 0);
    assert!(trace.steps.len() > 50, "a walk of some length");
    trace
}

fn divergences(trace: &Trace) -> Vec<Divergence> {
    let json = trace.to_json();
    let parsed: Trace = serde_json::from_str(&json).expect("the trace parses back");
    let script = Script::from_trace("tampered", &parsed).expect("readable");
    runtime()
        .block_on(replay_all(
            &[Arc::new(script)],
            &Options::default(),
            3,
            usize::MAX,
        ))
        .divergences
}

/// The first step of node `i` (a delivery or timer) with an effect matching `f`.
fn step_with(trace: &Trace, f: impl Fn(&Effect) -> bool) -> (usize, usize) {
    let k = (trace.steps.iter())
        .position(|s| s.node.is_some() && s.effects.iter().any(&f))
        .expect("such a step");
    (k, trace.steps[k].node.expect("a node step"))
}

fn assert_caught(trace: &Trace, node: usize, k: usize, what: &str) {
    let found = divergences(trace);
    let d = found
        .iter()
        .find(|d| d.node == node)
        .unwrap_or_else(|| panic!("no divergence for n{}: {found:?}", node + 1));
    println!("{d}");
    assert_eq!(d.step, Some(k), "{d}");
    assert!(d.diffs.iter().any(|x| x.contains(what)), "{d}");
}

#[test]
fn faithful_trace_replays_clean() {
    let trace = trace();
    assert_eq!(divergences(&trace), vec![]);
}

#[test]
fn missing_datagram_is_caught() {
    let mut trace = trace();
    let (k, i) = step_with(&trace, |e| matches!(e, Effect::Send { .. }));
    let p = (trace.steps[k].effects.iter())
        .position(|e| matches!(e, Effect::Send { .. }))
        .unwrap();
    trace.steps[k].effects.remove(p);
    assert_caught(&trace, i, k, "datagrams to");
}

#[test]
fn wrong_deadline_is_caught() {
    let mut trace = trace();
    let (k, i) = step_with(&trace, |e| matches!(e, Effect::SetTimer { .. }));
    for e in &mut trace.steps[k].effects {
        if let Effect::SetTimer { at, .. } = e {
            *at += 1;
            break;
        }
    }
    assert_caught(&trace, i, k, "timers");
}

#[test]
fn wrong_view_is_caught() {
    let mut trace = trace();
    let (k, i) = step_with(&trace, |_| true);
    let view = trace.steps[k].view.as_mut().expect("a view");
    view[1].incarnation += 1;
    assert_caught(&trace, i, k, "view");
}

#[test]
fn wrong_pick_range_is_caught() {
    let mut trace = trace();
    let k = (trace.steps.iter())
        .position(|s| !s.picks.is_empty())
        .expect("a step with picks");
    let i = trace.steps[k].node.unwrap();
    trace.steps[k].picks[0].n += 1;
    assert_caught(&trace, i, k, "picks");
}

#[test]
fn missing_timer_step_is_caught() {
    let mut trace = trace();
    let k = (trace.steps.iter())
        .position(|s| {
            matches!(
                s.input,
                Input::Timer {
                    timer: Timer::Tick,
                    ..
                }
            )
        })
        .expect("a tick");
    let i = trace.steps[k].node.unwrap();
    trace.steps.remove(k);
    // The node fires the tick anyway; the trace's next step of that node is something else.
    let next = (trace.steps.iter().enumerate().skip(k))
        .find(|(_, s)| s.node == Some(i))
        .map(|(n, _)| n);
    let found = divergences(&trace);
    let d = found.iter().find(|d| d.node == i).expect("caught");
    println!("{d}");
    assert!(d.step.is_none() || d.step == next, "{d}");
}
