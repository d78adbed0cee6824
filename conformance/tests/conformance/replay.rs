//! Replays against correct `swim-checked` nodes: every divergence is a failure.

use std::sync::Arc;
use std::time::Instant;

use conformance::corpus::{replay_all, runtime};
use conformance::{Options, Script, generate};

/// Runs of every world of [`generate::worlds`], made on the spot in shell order.
#[test]
fn generated_walks_replay_without_divergence() {
    let mut scripts = Vec::new();
    for (name, setup) in generate::worlds() {
        for k in 0..40 {
            let trace = generate::walk(setup.clone(), 11, k);
            let script = Script::from_trace(format!("{name}-walk{k}"), &trace).expect("readable");
            scripts.push(Arc::new(script));
        }
    }
    let started = Instant::now();
    let summary = runtime().block_on(replay_all(&scripts, &Options::default(), 8, 10));
    println!("{} in {:.1?}", summary.describe(), started.elapsed());
    for d in &summary.divergences {
        println!("{d}\n");
    }
    assert!(
        summary.divergences.is_empty(),
        "{} divergent replays",
        summary.divergences.len()
    );
    assert!(summary.compared > 0);
}
