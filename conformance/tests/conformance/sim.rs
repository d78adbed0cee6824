//! Members of simulator runs replayed against real nodes: a recorded member of a run over a
//! faulty network replays without divergence; under `--cfg swim_faults`, a simulator
//! counterexample of a broken core replays step for step on a library node running the same
//! broken core, and a correct library node diverges from it by the violating step.

use conformance::Options;
use conformance::corpus::runtime;
use conformance::sim_replay;
use model::checker::Step;
use model::sim::runner::RecordedStart;
use model::sim::{Scenario, Simulation};
use swim_checked_core::Effect;

/// `nodes` members over a network with loss (uniform and bursty), two zones with their own
/// latency, clock drift and offsets, crashes, a metadata update, leaves, one-way loss and a
/// partition long enough for each side to declare the other dead, then its heal (members of
/// the small side come back under new ids), and a leave. No member joins, restarts or is slow:
/// those cannot be replayed.
fn faulty(nodes: usize, duration_s: f64) -> Scenario {
    let split = nodes / 5;
    Scenario::parse(&format!(
        r#"
        name = "sim-replay"
        nodes = {nodes}
        duration_s = {duration_s}
        zones = ["a", "b"]
        drift_ppm = 200
        clock_offset_ms = 50000
        [latency.default]
        kind = "log_normal"
        median_ms = 0.5
        sigma = 0.5
        [[latency.pair]]
        zones = ["a", "b"]
        dist = {{ kind = "uniform", min_ms = 10, max_ms = 20 }}
        [loss]
        uniform = 0.02
        burst = {{ enter = 0.001, leave = 0.2, loss = 0.7 }}
        [[event]]
        at_s = 2
        kind = "crash"
        nodes = "random:3"
        [[event]]
        at_s = 3
        kind = "update"
        nodes = "5,13,21"
        [[event]]
        at_s = 4
        kind = "leave"
        nodes = "random:2"
        [[event]]
        at_s = 23
        kind = "leave"
        nodes = "13"
        [[event]]
        at_s = 5
        kind = "one_way_loss"
        from = "zone:a"
        to = "zone:b"
        loss = 0.3
        until_s = 8
        [[event]]
        at_s = 8
        kind = "partition"
        groups = ["0..{split}", "{split}..{nodes}"]
        until_s = 20
        "#
    ))
    .expect("a valid scenario")
}

/// Members 0, 5 and 13 of a 40-member run, recorded whole and replayed: no divergence. Member
/// 5 updates its metadata, is cut off and comes back under a new id; member 13 updates and
/// leaves.
/// Then one deadline of a recording moved by a millisecond: the replay diverges there.
#[test]
fn recorded_members_of_a_faulty_run_replay_without_divergence() {
    let scenario = faulty(40, 30.0);
    let config = scenario.config().unwrap();
    let rt = runtime();
    let replay = |member: usize, steps: &[Step], starts: &[RecordedStart]| {
        let name = format!("member {member}");
        let script =
            sim_replay::script(name, config.clone(), member, starts, steps).expect("replayable");
        rt.block_on(conformance::replay_node(
            &script,
            member,
            &Options::default(),
        ))
    };
    let mut compared = 0;
    let mut last = None;
    for member in [0, 5, 13] {
        let mut sim = Simulation::new(scenario.clone()).unwrap();
        sim.record(member, u64::MAX);
        let outcome = sim.run();
        assert_eq!(outcome.violation, None);
        let replayed =
            (replay(member, &outcome.trace, &outcome.starts)).unwrap_or_else(|d| panic!("{d}"));
        let mut kinds = std::collections::BTreeMap::new();
        for step in &outcome.trace {
            *kinds
                .entry(conformance::corpus::kind(&step.input))
                .or_insert(0) += 1;
        }
        println!(
            "member {member}: {} steps compared, {} datagrams delivered, {} read; {kinds:?}",
            replayed.steps, replayed.delivered, replayed.sent
        );
        assert_eq!(
            replayed.steps,
            outcome.trace.len() - 1,
            "every step but the start's"
        );
        compared += replayed.steps;
        last = Some((member, outcome));
    }
    assert!(compared > 300, "{compared} steps compared");
    let (member, outcome) = last.expect("recorded");
    let mut steps = outcome.trace;
    let k = (steps.iter().enumerate().skip(1))
        .rev()
        .find_map(|(k, s)| {
            let set = s
                .effects
                .iter()
                .any(|e| matches!(e, Effect::SetTimer { .. }));
            set.then_some(k)
        })
        .expect("a step that arms a timer");
    for e in &mut steps[k].effects {
        if let Effect::SetTimer { at, .. } = e {
            *at += 1;
            break;
        }
    }
    let d = replay(member, &steps, &outcome.starts).expect_err("a moved deadline is caught");
    println!("{d}");
    // The script's steps are the recording's after the first (the bootstrap sync).
    assert_eq!(d.step, Some(k - 1), "{d}");
    assert!(d.diffs.iter().any(|x| x.contains("timers")), "{d}");
}

#[cfg(swim_faults)]
mod broken {
    use super::*;
    use model::checker::properties::NO_RESURRECTION;
    use model::sim::counterexample::Counterexample;
    use swim_checked_core::faults::{Fault, Faults};

    /// A 200-member run whose members merge `alive` over `dead` (a higher incarnation wins):
    /// the simulator catches it and writes the violating member's counterexample.
    fn counterexample(faults: Faults) -> Counterexample {
        let scenario = faulty(200, 25.0);
        let mut sim = Simulation::new(scenario.clone()).unwrap();
        sim.set_faults(faults);
        let found = sim.run().violation.expect("the broken core is caught");
        assert_eq!(found.violation.property, NO_RESURRECTION);
        let mut again = Simulation::new(scenario.clone()).unwrap();
        again.set_faults(faults);
        again.record(found.member, found.step);
        let recorded = again.run();
        let cx = Counterexample::new(&scenario, &found, recorded.starts, recorded.trace);
        // Through the file format, as `model sim run` writes it.
        serde_json::from_str(&cx.to_json()).expect("a counterexample parses back")
    }

    #[test]
    fn a_counterexample_replays_on_the_same_broken_core_and_not_on_the_correct_one() {
        let faults = Faults::from(Fault::MergeRevivesDead);
        let cx = counterexample(faults);
        println!(
            "member {} broke {:?} at {:.3}s in {} steps: {}",
            cx.member,
            cx.property,
            cx.at_s,
            cx.steps.len(),
            cx.detail
        );
        let rt = runtime();
        let broken = Options {
            core_faults: faults,
            ..Options::default()
        };
        let replayed = rt
            .block_on(sim_replay::replay_counterexample("broken", &cx, &broken))
            .expect("replayable")
            .unwrap_or_else(|d| panic!("the same broken core diverged: {d}"));
        assert_eq!(
            replayed.steps,
            cx.steps.len() - 1,
            "every step but the start's"
        );
        let divergence = rt
            .block_on(sim_replay::replay_counterexample(
                "correct",
                &cx,
                &Options::default(),
            ))
            .expect("replayable")
            .expect_err("the correct core cannot do what the broken one did");
        println!("{divergence}");
        // The script's steps are the counterexample's after the first (the bootstrap sync);
        // the violating step is the last.
        let violating = cx.steps.len() - 2;
        assert!(
            divergence.step.is_some_and(|k| k <= violating),
            "{divergence}"
        );
    }
}
