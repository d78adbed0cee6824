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
    let scenario = quiet_scenario(&config);
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

/// A recording written as the agent's `--record` files (one per node) in a fresh directory.
fn write_agent_files(recording: &conformance::record::Recording, test: &str) -> std::path::PathBuf {
    use swim_checked::harness::RecordHeader;
    let dir = std::env::temp_dir().join(format!("swim-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (n, steps) in recording.nodes.iter().enumerate() {
        let header = RecordHeader {
            config: recording.config.clone(),
        };
        let mut text = serde_json::to_string(&header).unwrap() + "\n";
        for step in steps {
            text += &(serde_json::to_string(step).unwrap() + "\n");
        }
        std::fs::write(dir.join(format!("n{n}.jsonl")), text).unwrap();
    }
    dir
}

/// Agent recordings load from their files and validate as one run: a last line cut short (a
/// killed agent) is dropped, a damaged line elsewhere is an error, and a recording that ends
/// before its last sends were written down is excused for those datagrams only where
/// recordings may end anywhere (agent files), not for in-process nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_record_files_validate() {
    use conformance::agent_records::{DirError, validate_dir};
    use std::io::Write;
    use swim_checked::harness::Effect;

    let config = config();
    let scenario = quiet_scenario(&config);
    let recording = record(&scenario, &config).await.unwrap();
    let strict = validate(&recording).expect("the genuine recording is valid");

    let dir = write_agent_files(&recording, "agent-files");
    let done = validate_dir(&dir).expect("the files are valid");
    assert_eq!(done.processes, recording.nodes.len());
    assert_eq!(done.truncated, 0);
    assert_eq!(done.validated, strict, "the files hold the whole recording");

    // A killed agent's half-written last line.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("n1.jsonl"))
        .unwrap();
    file.write_all(br#"{"now":12,"input":{"tim"#).unwrap();
    drop(file);
    let done = validate_dir(&dir).expect("a cut last line is dropped");
    assert_eq!((done.truncated, done.validated), (1, strict));

    // A damaged line that is not the last one.
    let path = dir.join("n2.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[2] = "{\"now\":";
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    assert!(matches!(validate_dir(&dir), Err(DirError::Load(_))));
    let _ = std::fs::remove_dir_all(&dir);

    // Node 0's recording ends before a step whose datagram another node received.
    let mut cut = recording.clone();
    let last_send = cut.nodes[0]
        .iter()
        .rposition(|s| s.effects.iter().any(|e| matches!(e, Effect::Send { .. })))
        .expect("node 0 sent something");
    let end = cut.nodes[0][..last_send]
        .iter()
        .rposition(|s| s.now < cut.nodes[0][last_send].now)
        .map_or(1, |i| i + 1);
    cut.nodes[0].truncate(end);
    assert!(validate(&cut).is_err(), "in-process recordings are whole");
    let dir = write_agent_files(&cut, "agent-files-cut");
    let done = validate_dir(&dir).expect("a killed agent's last sends are excused");
    assert!(done.validated.unrecorded_sends > 0, "{done:?}");
    let _ = std::fs::remove_dir_all(&dir);

    // The excuse covers nothing but that: an altered datagram (here the run's first receipt,
    // long before its sender's recording ends) is still caught.
    let mut rec = recording.clone();
    let (n, i) = (rec.nodes.iter().enumerate())
        .find_map(|(n, steps)| {
            let i = steps.iter().position(|s| {
                matches!(s.input, conformance::record::RecordedInput::Message { .. })
            })?;
            Some((n, i))
        })
        .expect("a receipt");
    if let conformance::record::RecordedInput::Message { msg, .. } = &mut rec.nodes[n][i].input {
        msg.from = swim_checked::NodeId(msg.from.0 + 100);
    }
    let dir = write_agent_files(&rec, "agent-files-altered");
    assert!(
        matches!(validate_dir(&dir), Err(DirError::Diverged(_))),
        "altered datagram not caught"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Seed 3's scenario without loss or faults: every datagram is delivered.
fn quiet_scenario(config: &Config) -> Scenario {
    Scenario {
        loss: 0.0,
        abort: None,
        stall: None,
        leave: None,
        rejoin: None,
        set_meta: None,
        ..Scenario::random(3, config)
    }
}
