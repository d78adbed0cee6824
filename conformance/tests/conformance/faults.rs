//! The replay bites: each deliberately broken shell (`swim_checked::faults`) diverges from the
//! traces.
#![cfg(swim_faults)]

use std::sync::Arc;

use conformance::corpus::{default_dir, load_dir, replay_all, runtime};
use conformance::{Keys, Options, Script, generate};
use swim_checked::faults::ShellFault;

/// The corpus (when exported) and runs of every world made on the spot.
fn scripts() -> Vec<Arc<Script>> {
    let dir = default_dir();
    let mut scripts: Vec<Arc<Script>> = if dir.is_dir() {
        (load_dir(&dir).unwrap_or_else(|e| panic!("reading the corpus: {e}")))
            .into_iter()
            .map(Arc::new)
            .collect()
    } else {
        Vec::new()
    };
    for (name, setup) in generate::worlds() {
        for k in 0..4 {
            let trace = generate::walk(setup.clone(), 11, k);
            let script = Script::from_trace(format!("{name}-walk{k}"), &trace).expect("readable");
            scripts.push(Arc::new(script));
        }
    }
    scripts
}

#[test]
fn every_broken_shell_is_caught() {
    let scripts = scripts();
    let rt = runtime();
    let mut caught = Vec::new();
    let mut missed = Vec::new();
    for fault in ShellFault::ALL {
        let opts = Options {
            fault: Some(fault),
            keys: fault.needs_keys().then(Keys::fixed),
            ..Options::default()
        };
        let summary = rt.block_on(replay_all(&scripts, &opts, 8, 1));
        match summary.divergences.first() {
            Some(d) => {
                println!("{fault:?}: caught\n{d}\n");
                caught.push(fault);
            }
            None => {
                println!("{fault:?}: MISSED ({})\n", summary.describe());
                missed.push(fault);
            }
        }
    }
    println!(
        "broken shells caught: {}/{}",
        caught.len(),
        ShellFault::ALL.len()
    );
    assert!(missed.is_empty(), "missed: {missed:?}");
}
