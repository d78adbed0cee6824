//! The reverse direction of conformance: randomized fault runs of real `swim-checked` nodes (lossy
//! transport, aborted, stalled and leaving nodes, metadata changes), recorded step by step and
//! validated against the model. Each run is determined by its seed.
//!
//! `CONFORMANCE_RUNS` (default 1000) sets the number of runs, split over four tests.

use conformance::record::{Scenario, record};
use conformance::validate::{Validated, validate};
use swim_checked::harness::core::Config;

const SHARDS: u64 = 4;

fn runs() -> u64 {
    std::env::var("CONFORMANCE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// The config the runs use: the local preset (short timers, Lifeguard on).
fn config() -> Config {
    Config::local()
}

async fn shard(shard: u64) {
    let config = config();
    let mut total = Validated::default();
    let mut runs_done = 0;
    let mut faults = [0usize; 6];
    for seed in (0..runs()).filter(|s| s % SHARDS == shard) {
        let scenario = Scenario::random(seed, &config);
        let started = std::time::Instant::now();
        let recording = record(&scenario, &config)
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: {scenario:?}: {e}"));
        assert_eq!(
            recording.decode_drops, 0,
            "seed {seed}: undecodable datagram"
        );
        let validated =
            validate(&recording).unwrap_or_else(|d| panic!("{d}\nscenario: {scenario:?}"));
        // A run where nothing happens would validate trivially.
        assert!(
            validated.delivered > 0,
            "seed {seed}: no datagram was delivered"
        );
        if std::env::var_os("CONFORMANCE_VERBOSE").is_some() {
            eprintln!(
                "seed {seed} (loss {}): {validated:?}, {} lost, last step at {:?} ms, in {:?}",
                scenario.loss,
                recording.lost,
                recording
                    .nodes
                    .iter()
                    .filter_map(|n| n.last().map(|s| s.now))
                    .max(),
                started.elapsed()
            );
        }
        total.steps += validated.steps;
        total.delivered += validated.delivered;
        total.undelivered += validated.undelivered;
        runs_done += 1;
        for (count, happened) in faults.iter_mut().zip([
            scenario.loss > 0.0,
            scenario.abort.is_some(),
            scenario.stall.is_some(),
            scenario.leave.is_some(),
            scenario.set_meta.is_some(),
            scenario.rejoin.is_some(),
        ]) {
            *count += happened as usize;
        }
    }
    println!(
        "shard {shard}: {runs_done} runs ({} lossy, {} with an abort, {} a stall, {} a leave, \
         {} a metadata change, {} a rejoin), {} steps validated, {} datagrams delivered, {} not",
        faults[0],
        faults[1],
        faults[2],
        faults[3],
        faults[4],
        faults[5],
        total.steps,
        total.delivered,
        total.undelivered
    );
    // Every kind of fault was exercised.
    assert!(
        runs_done < 40 || faults.iter().all(|&n| n > 0),
        "{faults:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_runs_are_model_steps_0() {
    shard(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_runs_are_model_steps_1() {
    shard(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_runs_are_model_steps_2() {
    shard(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_runs_are_model_steps_3() {
    shard(3).await;
}

/// The validator is not a rubber stamp: each kind of tampering with a genuine recording is
/// caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_recordings_are_rejected() {
    use conformance::record::{RecordedInput, Recording};
    use swim_checked::harness::{Effect, Timer};

    let config = config();
    let scenario = Scenario {
        loss: 0.0,
        abort: None,
        stall: None,
        leave: None,
        rejoin: None,
        set_meta: None,
        ..Scenario::random(3, &config)
    };
    let recording = record(&scenario, &config).await.unwrap();
    validate(&recording).expect("the genuine recording is valid");

    let find = |rec: &Recording, pred: &dyn Fn(&RecordedInput) -> bool| -> (usize, usize) {
        for (n, steps) in rec.nodes.iter().enumerate() {
            if let Some(i) = steps.iter().position(|s| pred(&s.input)) {
                return (n, i);
            }
        }
        panic!("no such step")
    };
    let tick = |i: &RecordedInput| matches!(i, RecordedInput::Timer(Timer::Tick));
    let ping = |i: &RecordedInput| matches!(i, RecordedInput::Message { msg, .. } if msg.body.kind() == "ping");
    let mut tampered: Vec<(&str, Recording)> = Vec::new();

    let mut rec = recording.clone();
    let (n, i) = (0..rec.nodes.len())
        .flat_map(|n| (1..rec.nodes[n].len()).map(move |i| (n, i)))
        .find(|&(n, i)| {
            tick(&rec.nodes[n][i].input) && rec.nodes[n][i - 1].now < rec.nodes[n][i].now
        })
        .expect("a tick after a quiet moment");
    rec.nodes[n][i].now = rec.nodes[n][i - 1].now;
    tampered.push(("timer fired before its deadline", rec));

    let mut rec = recording.clone();
    let (n, i) = find(&rec, &tick);
    rec.nodes[n][i].input = RecordedInput::Timer(Timer::Relay(u32::MAX));
    tampered.push(("timer fired that was never armed", rec));

    let mut rec = recording.clone();
    let (n, i) = find(&rec, &|i| matches!(i, RecordedInput::Timer(Timer::Tick)));
    let step = &mut rec.nodes[n][i];
    let pos = step
        .effects
        .iter()
        .position(|e| matches!(e, Effect::Send { .. }))
        .expect("a tick sends a ping");
    step.effects.remove(pos);
    tampered.push(("ping not sent", rec));

    let mut rec = recording.clone();
    let (n, i) = find(&rec, &ping);
    let again = rec.nodes[n][i].clone();
    rec.nodes[n].insert(i + 1, again);
    tampered.push(("datagram received twice", rec));

    let mut rec = recording.clone();
    let (n, i) = find(&rec, &ping);
    if let RecordedInput::Message { msg, .. } = &mut rec.nodes[n][i].input {
        msg.from = swim_checked::NodeId(msg.from.0 + 100);
    }
    tampered.push(("datagram altered on the way", rec));

    let mut rec = recording.clone();
    let (n, i) = find(&rec, &|i| matches!(i, RecordedInput::Timer(Timer::Tick)));
    for step in &mut rec.nodes[n][i..] {
        if let Some(p) = step.picks.first_mut() {
            p.value = (p.value + 1) % p.n.max(2);
            break;
        }
    }
    tampered.push(("different random pick", rec));

    let mut rec = recording.clone();
    let (n, i) = find(&rec, &tick);
    for effect in &mut rec.nodes[n][i].effects {
        if let Effect::SetTimer { at, .. } = effect {
            *at += 1;
        }
    }
    tampered.push(("timer armed at another deadline", rec));

    for (what, rec) in tampered {
        assert!(validate(&rec).is_err(), "{what}: not caught");
    }
}
