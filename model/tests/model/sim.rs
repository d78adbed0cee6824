//! The simulator: a 200-member run with every kind of fault holds every safety property,
//! measures what it should and is the same for the same seed; under `--cfg swim_faults`, a
//! broken core is caught by the online properties.

use model::sim::{Scenario, Simulation};

/// 200 members for 30 simulated seconds: loss (uniform and bursty), zones with their own
/// latency, clock drift, crashes, a restart, a bulk join, leaves, one-way loss, slow members
/// (12 s late: they refute suspicions of themselves after others declared them dead),
/// an update, and a partition long enough for each side to declare the other dead, then its
/// heal (where refutations race the verdicts).
fn faulty_200() -> Scenario {
    Scenario::parse(
        r#"
        name = "ci-200"
        nodes = 200
        spare = 10
        duration_s = 30
        zones = ["a", "b"]
        drift_ppm = 200
        clock_offset_ms = 50000
        [latency.default]
        kind = "log_normal"
        median_ms = 0.5
        sigma = 0.5
        [[latency.pair]]
        zones = ["a", "b"]
        dist = { kind = "uniform", min_ms = 10, max_ms = 20 }
        [loss]
        uniform = 0.01
        burst = { enter = 0.001, leave = 0.2, loss = 0.7 }
        [[event]]
        at_s = 2
        kind = "crash"
        nodes = "random:4"
        [[event]]
        at_s = 3
        kind = "update"
        nodes = "random:1"
        [[event]]
        at_s = 4
        kind = "slow"
        nodes = "random:3"
        delay_ms = 12000
        until_s = 14
        [[event]]
        at_s = 5
        kind = "join"
        count = 10
        [[event]]
        at_s = 6
        kind = "leave"
        nodes = "random:2"
        [[event]]
        at_s = 8
        kind = "one_way_loss"
        from = "zone:a"
        to = "zone:b"
        loss = 0.3
        until_s = 12
        [[event]]
        at_s = 14
        kind = "restart"
        nodes = "random:1"
        [[event]]
        at_s = 16
        kind = "partition"
        groups = ["0..20", "20..210"]
        until_s = 28
        "#,
    )
    .expect("a valid scenario")
}

#[cfg(not(swim_faults))]
#[test]
fn two_hundred_members_with_faults_hold_every_property_and_measure_them() {
    let outcome = Simulation::new(faulty_200()).unwrap().run();
    assert_eq!(outcome.violation, None);
    let r = &outcome.report;
    assert_eq!(r.failures.len(), 4);
    for f in &r.failures {
        assert!(f.first_dead_s.is_some(), "crash never detected: {f:?}");
    }
    assert!(r.updates[0].all_seen_s.is_some(), "{:?}", r.updates);
    assert!(r.lost.loss > 0 && r.lost.partition > 0 && r.lost.one_way > 0);
    assert!(r.cross_zone_bytes > 0 && r.cross_zone_bytes < r.bytes);
    assert_eq!(r.heals.len(), 1);
}

#[cfg(not(swim_faults))]
#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_another() {
    let mut s = faulty_200();
    s.duration_s = 8.0;
    let a = Simulation::new(s.clone()).unwrap().run().report;
    let b = Simulation::new(s.clone()).unwrap().run().report;
    assert_eq!(a, b);
    s.seed = 2;
    let c = Simulation::new(s).unwrap().run().report;
    assert_ne!(a, c);
}

/// Lifeguard's switches bite: the shipped slow-member scenario (10% of 100 members read
/// datagrams 2 s late, their timers on time, for 80 s), seed 1. With all three components
/// off (SWIM) healthy members are suspected and declared dead many times more often than
/// with all on; with only the local health aware suspicion off, more are declared dead.
#[cfg(not(swim_faults))]
#[test]
fn lifeguard_components_cut_false_positives_under_slow_members() {
    use model::sim::lifeguard::Switches;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/lifeguard.toml");
    let scenario = Scenario::load(&path).unwrap();
    let run = |sw: Switches| {
        let outcome = Simulation::new(sw.apply(&scenario)).unwrap().run();
        assert_eq!(outcome.violation, None, "{sw:?}");
        outcome.report
    };
    let on = run(Switches::new(true, true, true));
    let off = run(Switches::new(false, false, false));
    let fixed = run(Switches::new(true, false, true));
    assert!(
        off.false_suspicions > 5 * on.false_suspicions.max(1),
        "suspicions: SWIM {} vs Lifeguard {}",
        off.false_suspicions,
        on.false_suspicions
    );
    assert!(
        off.falsely_dead > 5 * on.falsely_dead.max(1),
        "declared dead: SWIM {} vs Lifeguard {}",
        off.falsely_dead,
        on.falsely_dead
    );
    assert!(
        fixed.falsely_dead > on.falsely_dead,
        "declared dead: fixed suspicion {} vs Lifeguard {}",
        fixed.falsely_dead,
        on.falsely_dead
    );
}

#[cfg(swim_faults)]
mod broken {
    use super::*;
    use model::checker::properties::{
        INCARNATION_AUTHORITY, MONOTONE_VIEWS, NO_RESURRECTION, SELF_VIEW,
    };
    use swim_checked_core::faults::{Fault, Faults};

    /// Run the 200-member scenario with `fault` in every member; the property it broke.
    fn caught(fault: Fault, whole_view: bool) -> Option<&'static str> {
        let mut s = faulty_200();
        s.whole_view_check = whole_view;
        let mut sim = Simulation::new(s).unwrap();
        sim.set_faults(Faults::from(fault));
        let outcome = sim.run();
        outcome.violation.map(|f| f.violation.property)
    }

    #[test]
    fn a_merge_that_lets_alive_override_dead_is_caught() {
        assert_eq!(
            caught(Fault::MergeRevivesDead, false),
            Some(NO_RESURRECTION)
        );
    }

    #[test]
    fn a_last_writer_wins_merge_is_caught() {
        assert_eq!(
            caught(Fault::MergeLastWriterWins, false),
            Some(MONOTONE_VIEWS)
        );
    }

    #[test]
    fn applying_gossip_about_oneself_is_caught() {
        assert_eq!(
            caught(Fault::AppliesGossipAboutSelf, false),
            Some(SELF_VIEW)
        );
    }

    #[test]
    fn suspecting_above_the_owners_incarnation_is_caught() {
        assert_eq!(
            caught(Fault::SuspectsAtHigherIncarnation, false),
            Some(INCARNATION_AUTHORITY)
        );
    }

    #[test]
    fn a_violation_is_written_with_the_violating_members_steps() {
        use model::sim::counterexample::Counterexample;
        let s = faulty_200();
        let faults = Faults::from(Fault::AppliesGossipAboutSelf);
        let mut sim = Simulation::new(s.clone()).unwrap();
        sim.set_faults(faults);
        let found = sim.run().violation.expect("the broken core is caught");
        let mut again = Simulation::new(s.clone()).unwrap();
        again.set_faults(faults);
        again.record(found.member, found.step);
        let outcome = again.run();
        assert_eq!(
            outcome.violation.as_ref(),
            Some(&found),
            "the seed repeats the run"
        );
        let steps = outcome.trace;
        assert!(steps.len() > 1);
        assert!(steps.iter().all(|step| step.node == Some(found.member)));
        assert!(steps.last().is_some_and(|step| step.view.is_some()));
        assert_eq!(outcome.starts.len(), 1, "a member of the initial cluster");
        assert_eq!(outcome.starts[0].after_steps, 0);
        let json = Counterexample::new(&s, &found, outcome.starts, steps).to_json();
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["property"], SELF_VIEW);
        assert_eq!(back["scenario"]["name"], "ci-200");
    }

    #[test]
    fn the_whole_view_check_catches_what_the_touched_records_catch() {
        assert_eq!(caught(Fault::MergeRevivesDead, true), Some(NO_RESURRECTION));
    }
}
