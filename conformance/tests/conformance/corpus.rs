//! `cargo test -p conformance`: every node of every trace in `traces/` replayed against a real
//! `swim-checked` node on loopback UDP, in the clear and again sealed. Any divergence fails,
//! with a readable diff.

use std::sync::Arc;
use std::time::Instant;

use conformance::corpus::{default_dir, load_dir, replay_all, runtime};
use conformance::{Keys, Options};

#[test]
fn corpus_replays_without_divergence() {
    replay_corpus(&Options::default());
}

/// Every datagram sealed both ways, the node in the middle of a key rotation; before its start
/// inputs each node must drop forged datagrams (in the clear, under a key it does not hold,
/// altered).
#[test]
fn corpus_replays_sealed_without_divergence() {
    replay_corpus(&Options {
        keys: Some(Keys::fixed()),
        ..Options::default()
    });
}

fn replay_corpus(opts: &Options) {
    let dir = default_dir();
    let scripts: Vec<_> = load_dir(&dir)
        .unwrap_or_else(|e| panic!("reading the corpus: {e}"))
        .into_iter()
        .map(Arc::new)
        .collect();
    assert!(
        !scripts.is_empty(),
        "no traces in {}: run `cargo run --release -p model -- export-traces`",
        dir.display()
    );
    let started = Instant::now();
    let summary = runtime().block_on(replay_all(&scripts, opts, 8, 10));
    println!("{}\nin {:.1?}", summary.describe(), started.elapsed());
    for d in summary.divergences.iter().take(20) {
        println!("\n{d}");
    }
    assert!(
        summary.divergences.is_empty(),
        "{} of {} replays diverged (first ones above)",
        summary.divergences.len(),
        summary.replays
    );
    assert_eq!(
        summary.replays,
        scripts.iter().map(|s| s.starts.len()).sum::<usize>()
    );
}
