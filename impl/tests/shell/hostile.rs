//! The hostile-input campaign, CI-sized: 10^5 datagrams of every class (random bytes, mutated
//! genuine datagrams, another label, another version, replays, genuine messages sealed with a
//! wrong key, forged plaintext records) at one node of a real three-node cluster on loopback
//! that runs with a key (derived from the seed). Every non-replay datagram must be counted as
//! a drop (under the one reason of its class where it has one: `label_mismatch`,
//! `unsupported_version`, `unauthenticated`, `plaintext_refused`), every replay processed, no
//! view may change anywhere, and the node must still answer a (sealed) ping.
//!
//! Deterministic: node ids and datagrams come from a fixed seed, the sender never runs more
//! than a window ahead of what the node handled (no loss in the socket), and the test waits on
//! the node's counters, not on time. The full campaign is the `hostile` bench
//! (`impl/benches/hostile`, whose lab this test includes).

#[path = "../../benches/hostile/lab.rs"]
mod lab;

use std::time::Duration;

use swim_checked::Stats;
use swim_checked::harness::core::Config;

use lab::{Class, Expect, Lab};

const SEED: u64 = 0x5eed_0b5e;
const DATAGRAMS: [(Class, u64); 7] = [
    (Class::Random, 20_000),
    (Class::Mutated, 30_000),
    (Class::WrongLabel, 10_000),
    (Class::WrongVersion, 10_000),
    (Class::Replay, 10_000),
    (Class::WrongKey, 10_000),
    (Class::Forged, 10_000),
];
const GENEROUS: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_datagrams_are_dropped_and_change_no_view() {
    let lab = Lab::start(Config::local(), 3, SEED, 64, true).await;
    let mut hostile = lab.hostile(SEED);
    // Every recorded (sealed) datagram opens with the lab's key.
    assert!(hostile.genuine() >= 64, "{:?}", hostile.genuine_kinds());
    let mut sent = 0u64;
    for (class, n) in DATAGRAMS {
        let expect = class.expect(lab.keyed());
        let before: Vec<Stats> = lab.stats();
        let (processed0, dropped0) = (lab.tally.processed(), lab.tally.dropped());

        let socket = lab.attacker.try_clone().unwrap();
        let tally = lab.tally.clone();
        let (back, total, result) = tokio::task::spawn_blocking(move || {
            let result = lab::attack(&socket, &tally, &mut hostile, class, n, 64, &mut sent);
            (hostile, sent, result.map_err(|e| e.to_string()))
        })
        .await
        .unwrap();
        (hostile, sent) = (back, total);
        result.unwrap_or_else(|e| panic!("{}: {e}", class.name()));

        // The node counted every datagram it was sent (received, and dropped by reason).
        let victim = lab.victim();
        lab::poll_until(GENEROUS, "the victim's counters", || {
            let now = victim.stats();
            now.datagrams_in - before[0].datagrams_in >= n
                && now.dropped.total() - before[0].dropped.total() == lab.tally.dropped() - dropped0
        })
        .await;
        let after: Vec<Stats> = lab.stats();
        let processed = lab.tally.processed() - processed0;
        let dropped = lab.tally.dropped() - dropped0;
        let drops = after[0].dropped.total() - before[0].dropped.total();
        match expect {
            Expect::Dropped => {
                assert_eq!((dropped, processed, drops), (n, 0, n), "{}", class.name());
                if let Some(reason) = class.reason(lab.keyed()) {
                    let counted = after[0].dropped.get(reason).unwrap()
                        - before[0].dropped.get(reason).unwrap();
                    assert_eq!(counted, n, "{}: drops as {reason}", class.name());
                }
            }
            Expect::Processed => {
                assert_eq!((dropped, processed, drops), (0, n, 0), "{}", class.name())
            }
            other => panic!("{} is {other}: not a CI class", class.name()),
        }
        for (i, (a, b)) in after.iter().zip(&before).enumerate() {
            assert_eq!(
                a.events - b.events,
                0,
                "{}: node {i} saw its view change",
                class.name()
            );
        }
        assert!(lab.all_alive(), "{}: a member is not alive", class.name());
    }
    assert!(
        lab.nodes.iter().all(|n| n.is_running()),
        "a node task ended"
    );
    let (sealer, addr, id) = (lab.sealer(), lab.victim().local_addr(), lab.victim().id());
    let answers = tokio::task::spawn_blocking(move || {
        lab::answers_ping(&sealer, addr, id, Duration::from_secs(10))
    })
    .await
    .unwrap();
    assert!(answers, "the victim no longer answers pings");
    lab.shutdown().await;
}
