//! The committed corpus (`traces/`) against the model of this commit.
//!
//! Each trace is re-recorded from its own inputs and must come out identical: a change in the
//! core's behaviour fails here until the corpus is exported again
//! (`cargo run --release -p model -- export-traces`). The summary (trace count, steps per
//! trace, features covered) is an insta snapshot, so the corpus's coverage is reviewed too.

use std::path::{Path, PathBuf};

use model::checker::export;
use model::checker::{Setup, SwimModel, Trace};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces")
}

/// Every `*.json` under the corpus directory, by path relative to it.
fn load() -> Vec<(String, Trace)> {
    fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                collect(&path, out);
            } else if path.extension().is_some_and(|x| x == "json") {
                out.push(path);
            }
        }
    }
    let dir = corpus_dir();
    let mut files = Vec::new();
    collect(&dir, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.strip_prefix(&dir).unwrap().display().to_string();
            let text = std::fs::read_to_string(&p).unwrap();
            let trace: Trace =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, trace)
        })
        .collect()
}

#[test]
fn every_trace_is_what_the_model_does_now() {
    let traces = load();
    assert!(
        !traces.is_empty(),
        "no traces in {}",
        corpus_dir().display()
    );
    for (name, trace) in &traces {
        let setup = Setup::from_trace(&trace.setup)
            .unwrap_or_else(|| panic!("{name}: a setup this model cannot rebuild"));
        let model = SwimModel::new(setup);
        // Each step with the picks it recorded, played back: a pick asked differently fails
        // here, naming the step.
        let (mut again, _) = (trace.rerun(&model)).unwrap_or_else(|e| panic!("{name}: {e}"));
        again.seed = trace.seed;
        again.covers = trace.covers.clone();
        again.property = trace.property.clone();
        if again != *trace {
            let i = (again.steps.iter().zip(&trace.steps)).position(|(a, b)| a != b);
            panic!(
                "{name}: the model now records this run differently (first differing step: \
                 {i:?}); if the change is intended, export the corpus again"
            );
        }
        // The file is exactly what the exporter writes.
        let text = std::fs::read_to_string(corpus_dir().join(name)).unwrap();
        assert_eq!(
            text,
            trace.to_json() + "\n",
            "{name}: not in the exporter's format"
        );
    }
}

#[test]
fn corpus_summary() {
    let summary = export::summary(&load()).unwrap_or_else(|e| panic!("{e}"));
    insta::assert_snapshot!(summary);
}
