//! The model checker checks itself: the real core satisfies every property in small worlds, and
//! each safety property catches a deliberately broken core (`swim_checked_core::faults`).
//!
//! Worlds here are small (2 or 3 nodes, short horizons) so that `cargo test` stays fast; the
//! large ones belong to `cargo run --release -p model -- check`.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hasher};

use model::checker::properties::{self, Kind};
use model::checker::reduce::symmetry::{Renaming, representative};
#[cfg(swim_faults)]
use model::checker::trace::Trace;
use model::checker::walk;
use model::checker::{Setup, State, SwimModel, node_id};
use stateright::{HasDiscoveries, Model};
use swim_checked_core::NodeId;
#[cfg(swim_faults)]
use swim_checked_core::faults::{Fault, Faults};

use crate::checking::{
    Outcome, Search, counterexample, explore, fingerprint, replayed_full_view, world,
};
use swim_checked_core::suspicion::Bounds;

/// Explore the whole space; the real core must violate nothing and reach every applicable
/// reachability property.
fn assert_all_hold(setup: Setup) -> Outcome {
    let outcome = explore(setup.clone(), HasDiscoveries::AnyFailures, false);
    for p in properties::PROPERTIES {
        let hit = outcome.found.contains(p.name);
        match p.kind {
            Kind::Safety => assert!(!hit, "{} violated in {}", p.name, setup.describe()),
            Kind::Reachability if (p.applies)(&setup) => {
                assert!(hit, "{} not reached in {}", p.name, setup.describe())
            }
            Kind::Reachability => {}
        }
    }
    outcome
}

/// Run the checker on a core with `fault` until `property` is discovered.
#[cfg(swim_faults)]
fn discovers(setup: Setup, fault: Fault, property: &'static str) -> bool {
    let mut setup = setup;
    setup.faults = Faults::from(fault);
    let until = HasDiscoveries::AnyOf([property].into_iter().collect());
    explore(setup, until, false).found.contains(property)
}

// ----- the real core -----

#[test]
fn real_core_two_nodes_with_faults() {
    assert_all_hold(world(2, 20, |s| {
        s.drops = 1;
        s.crashes = 1;
    }));
}

#[test]
fn real_core_two_nodes_reliable_with_commands() {
    assert_all_hold(world(2, 20, |s| {
        s.duplicates = 1;
        s.leaves = 1;
        s.meta_changes = 1;
    }));
}

#[test]
fn real_core_two_nodes_leave_then_rejoin() {
    let core = Setup::scaled_config(false);
    let window = core.leave_timeout + 3 * core.probe_interval;
    let outcome = assert_all_hold(world(2, window, |s| {
        s.leaves = 1;
        s.rejoins = 1;
    }));
    assert!(outcome.found.contains(properties::REACH_REJOINED));
}

#[test]
fn real_core_three_nodes_with_a_crash() {
    let outcome = assert_all_hold(world(3, 10, |s| s.crashes = 1));
    assert!(outcome.unique > 1_000);
}

#[test]
fn real_core_two_nodes_with_a_pause_and_unreachable() {
    assert_all_hold(world(2, 20, |s| {
        s.pauses = 1;
        s.crashes = 1;
        s.core = Setup::scaled_config(true);
    }));
}

#[test]
fn real_core_ignores_a_replayed_old_record() {
    let outcome = assert_all_hold(replayed_full_view(1));
    let without = explore(replayed_full_view(0), HasDiscoveries::AnyFailures, false);
    assert!(outcome.unique > without.unique);
}

/// Three aligned nodes, a crash and a replay: every property holds, and the symmetry reduction
/// (which renames the replay history like the datagrams in flight) finds the same with fewer
/// states.
#[test]
fn real_core_three_nodes_with_a_replay_and_a_crash() {
    let setup = world(3, 10, |s| {
        s.crashes = 1;
        s.replays = 1;
    });
    let plain = assert_all_hold(setup.clone());
    let reduced = explore(setup, HasDiscoveries::AnyFailures, true);
    assert_eq!(plain.found, reduced.found);
    assert!(
        reduced.unique * 2 < plain.unique,
        "symmetry: {} states, without: {}",
        reduced.unique,
        plain.unique
    );
}

// ----- each safety property catches a broken core -----

#[cfg(swim_faults)]
#[test]
fn monotone_views_catches_last_writer_wins_merge() {
    let setup = world(3, 20, |s| s.crashes = 1);
    assert!(discovers(
        setup,
        Fault::MergeLastWriterWins,
        properties::MONOTONE_VIEWS
    ));
}

/// A merge that takes whatever record arrives is caught in a world whose only disturbance on
/// the wire is one replay, and not in the same world without it: it is the replay that bites.
#[cfg(swim_faults)]
#[test]
fn monotone_views_catches_last_writer_wins_only_thanks_to_a_replay() {
    assert!(
        !discovers(
            replayed_full_view(0),
            Fault::MergeLastWriterWins,
            properties::MONOTONE_VIEWS
        ),
        "without a replay no old record arrives after a newer one"
    );
    let mut setup = replayed_full_view(1);
    setup.faults = Fault::MergeLastWriterWins.into();
    let model = SwimModel::new(setup);
    let path = counterexample(&model, properties::MONOTONE_VIEWS, Search::Bfs);
    let (trace, _) = Trace::from_path(&model, &path);
    let replays = (trace.steps.iter())
        .filter(|s| matches!(s.input, model::checker::Input::Replay { .. }))
        .count();
    assert_eq!(replays, 1, "the counterexample replays one datagram");
    assert!(
        !(trace.steps.iter()).any(|s| matches!(
            s.input,
            model::checker::Input::Drop { .. }
                | model::checker::Input::Duplicate { .. }
                | model::checker::Input::Crash { .. }
                | model::checker::Input::Pause { .. }
        )),
        "no other fault on the wire"
    );
}

#[cfg(swim_faults)]
#[test]
fn no_resurrection_catches_merge_reviving_the_dead() {
    let setup = world(2, 60, |s| {
        s.drops = 3;
        s.meta_changes = 1;
    });
    assert!(discovers(
        setup,
        Fault::MergeRevivesDead,
        properties::NO_RESURRECTION
    ));
}

#[cfg(swim_faults)]
#[test]
fn self_view_catches_applying_gossip_about_self() {
    let setup = world(2, 20, |s| s.drops = 2);
    assert!(discovers(
        setup,
        Fault::AppliesGossipAboutSelf,
        properties::SELF_VIEW
    ));
}

#[cfg(swim_faults)]
#[test]
fn incarnation_authority_catches_suspicion_at_a_higher_incarnation() {
    let setup = world(2, 20, |s| s.drops = 2);
    assert!(discovers(
        setup,
        Fault::SuspectsAtHigherIncarnation,
        properties::INCARNATION_AUTHORITY
    ));
}

#[cfg(swim_faults)]
#[test]
fn accuracy_catches_ignored_acks() {
    let setup = world(2, 20, |_| {});
    assert!(discovers(setup, Fault::IgnoresAcks, properties::ACCURACY));
}

#[cfg(swim_faults)]
#[test]
fn convergence_catches_merge_forgetting_metadata() {
    let setup = world(2, 20, |s| s.meta_changes = 1);
    assert!(discovers(
        setup,
        Fault::MergeForgetsMetadata,
        properties::CONVERGENCE
    ));
}

#[cfg(swim_faults)]
#[test]
fn completeness_catches_suspicions_that_never_expire() {
    let setup = world(2, 20, |s| s.crashes = 1);
    assert!(discovers(
        setup,
        Fault::SuspicionNeverExpires,
        properties::COMPLETENESS
    ));
}

// ----- reachability properties catch cores that never exercise a rule -----

#[cfg(swim_faults)]
#[test]
fn confirmations_are_reached_only_if_they_shorten_suspicions() {
    let setup = world(3, 10, |s| s.crashes = 1);
    assert!(!discovers(
        setup,
        Fault::SuspicionIgnoresConfirmations,
        properties::REACH_CONFIRMED
    ));
}

#[cfg(swim_faults)]
#[test]
fn refutation_is_reached_only_if_it_raises_the_incarnation() {
    let setup = world(2, 20, |s| s.drops = 2);
    assert!(!discovers(
        setup,
        Fault::RefutesWithoutRaising,
        properties::REACH_REFUTED
    ));
}

// ----- symmetry -----

/// Three aligned nodes (no stagger, so they are interchangeable) and a short fault-free run;
/// broken cores violate properties there without any network fault.
#[cfg(swim_faults)]
fn aligned_trio() -> Setup {
    let mut setup = Setup::new(3).reliable();
    setup.stagger = 0;
    setup.horizon = 50;
    // The run starts quiet: keep it going, it is the steps that matter here.
    setup.stop_when_quiet = false;
    setup
}

#[cfg(swim_faults)]
#[test]
fn symmetry_cuts_the_state_count_and_finds_the_same_violations() {
    let plain = explore(aligned_trio(), HasDiscoveries::AnyFailures, false);
    let reduced = explore(aligned_trio(), HasDiscoveries::AnyFailures, true);
    assert!(
        reduced.unique * 10 < plain.unique * 9,
        "symmetry: {} states, without: {}",
        reduced.unique,
        plain.unique
    );
    assert_eq!(plain.found, reduced.found);

    let ignores_acks = Faults::from(Fault::IgnoresAcks);
    let broken = [
        (ignores_acks, properties::ACCURACY),
        (
            ignores_acks.with(Fault::SuspectsAtHigherIncarnation),
            properties::INCARNATION_AUTHORITY,
        ),
        (
            ignores_acks.with(Fault::AppliesGossipAboutSelf),
            properties::SELF_VIEW,
        ),
    ];
    for (faults, property) in broken {
        let mut setup = aligned_trio();
        setup.faults = faults;
        let plain = explore(setup.clone(), HasDiscoveries::AnyFailures, false);
        let reduced = explore(setup, HasDiscoveries::AnyFailures, true);
        assert!(
            plain.found.contains(property),
            "{faults:?} without symmetry"
        );
        assert!(reduced.found.contains(property), "{faults:?} with symmetry");
    }

    // Two aligned nodes with a crash: completeness bites with and without symmetry too.
    let mut duo = world(2, 20, |s| s.crashes = 1);
    duo.stagger = 0;
    duo.faults = Fault::SuspicionNeverExpires.into();
    for symmetry in [false, true] {
        let found = explore(duo.clone(), HasDiscoveries::AnyFailures, symmetry).found;
        assert!(
            found.contains(properties::COMPLETENESS),
            "symmetry {symmetry}"
        );
    }
}

// ----- quiet runs -----

/// Every host's records of every member, itself included.
fn views(s: &State) -> Vec<Vec<swim_checked_core::Member>> {
    s.hosts
        .iter()
        .map(|h| h.node.members().cloned().collect())
        .collect()
}

/// `check` ends a run once it is quiet. That is sound only if no step after a quiet state
/// changes any view: walk whole spaces without the cut-off and follow every future of every
/// quiet state to the horizon.
#[test]
fn nothing_changes_a_view_once_a_run_is_quiet() {
    let worlds = [
        world(3, 10, |s| s.crashes = 1),
        world(3, 10, |s| s.drops = 2),
        world(3, 10, |s| {
            s.leaves = 1;
            s.meta_changes = 1;
            s.stagger = 1;
        }),
        world(2, 20, |s| {
            s.pauses = 1;
            s.crashes = 1;
            s.core = Setup::scaled_config(true);
        }),
        world(2, 20, |s| s.drops = 3),
    ];
    for mut setup in worlds {
        setup.stop_when_quiet = false;
        let name = setup.describe();
        let model = SwimModel::new(setup);
        // Each entry: a state and the views of the quiet state it descends from, if any.
        let mut stack: Vec<(State, Option<Vec<Vec<swim_checked_core::Member>>>)> =
            model.init_states().into_iter().map(|s| (s, None)).collect();
        let (mut seen, mut actions) = (HashSet::new(), Vec::new());
        let (mut quiet, mut after_quiet) = (0, 0);
        while let Some((s, mut since_quiet)) = stack.pop() {
            if !seen.insert((fingerprint(&s), since_quiet.is_some())) {
                continue;
            }
            match &since_quiet {
                Some(v) => {
                    after_quiet += 1;
                    assert_eq!(&views(&s), v, "{name}: a view changed after a quiet state");
                }
                None if model.is_quiet(&s) => {
                    quiet += 1;
                    since_quiet = Some(views(&s));
                }
                None => {}
            }
            model.actions(&s, &mut actions);
            for a in actions.drain(..) {
                if let Some(next) = model.next_state(&s, a).filter(|n| model.within_boundary(n)) {
                    stack.push((next, since_quiet.clone()));
                }
            }
        }
        println!("{name}: {quiet} quiet states, {after_quiet} states after them");
        assert!(
            quiet > 0 && after_quiet > quiet,
            "{name}: {quiet} quiet states, {after_quiet} after"
        );
    }
}

/// Random states of a walk, each renamed by every permutation: all have one representative
/// (one state to the checker).
#[test]
fn representatives_are_canonical() {
    let mut setup = world(3, 20, |s| {
        s.drops = 1;
        s.crashes = 1;
        s.meta_changes = 1;
        s.replays = 1;
    });
    setup.stagger = 0;
    let model = SwimModel::new(setup);
    let mut rng = walk::SplitMix::new(5);
    let mut checked = 0;
    for _ in 0..20 {
        let mut state = model.initial_state();
        for _ in 0..60 {
            let inputs = model.inputs(&state);
            if inputs.is_empty() {
                break;
            }
            let input = inputs[rng.below(inputs.len())].clone();
            let mut outcomes = model.outcomes(&state, input);
            state = outcomes.swap_remove(rng.below(outcomes.len())).1;
            if rng.below(4) == 0 {
                let canonical = fingerprint(&representative(&state));
                for perm in [[1, 0, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1], [0, 2, 1]] {
                    let renamed = Renaming::new(perm.to_vec()).state(&state);
                    assert_eq!(
                        fingerprint(&representative(&renamed)),
                        canonical,
                        "{state:?}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 50);
}

// ----- traces, walks, the command line -----

#[cfg(swim_faults)]
#[test]
fn counterexamples_become_json_traces_that_replay() {
    let mut setup = world(2, 20, |s| s.drops = 2);
    setup.faults = Fault::AppliesGossipAboutSelf.into();
    let model = SwimModel::new(setup);
    let path = counterexample(&model, properties::SELF_VIEW, Search::Bfs);
    let (trace, states) = Trace::from_path(&model, &path);
    assert_eq!(states.last(), Some(path.last_state()));
    assert!(!(properties::info(properties::SELF_VIEW)
        .unwrap()
        .condition)(&model, states.last().unwrap()));
    // The step that broke the rule shows the node's view with itself suspect.
    assert!(trace.steps.iter().any(|s| s.view.as_ref().is_some_and(|v| {
        v.first()
            .is_some_and(|me| me.status == swim_checked_core::Status::Suspect)
    })));
    let json = trace.to_json();
    let back: Trace = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, trace);
    assert_eq!(back.format, model::checker::trace::FORMAT_VERSION);
}

#[cfg(swim_faults)]
#[test]
fn walks_are_reproducible_and_find_violations() {
    let setup = world(3, 30, |s| {
        s.drops = 2;
        s.crashes = 1;
        s.pauses = 1;
    });
    let model = SwimModel::new(setup.clone());
    let a = walk::simulate(&model, 9, 20, 400, |_| {});
    let b = walk::simulate(&model, 9, 20, 400, |_| {});
    assert_eq!(a.steps, b.steps);
    assert!(a.violations.is_empty(), "{:?}", a.violations.keys());
    assert!(a.finished > 0);

    let mut broken = setup;
    broken.faults = Fault::SuspectsAtHigherIncarnation.into();
    let model = SwimModel::new(broken);
    let report = walk::simulate(&model, 1, 50, 400, |_| {});
    assert!(
        report
            .violations
            .contains_key(properties::INCARNATION_AUTHORITY)
    );
}

fn run_cli(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_model"))
        .args(args)
        .current_dir(std::env::temp_dir())
        .output()
        .expect("runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The command line refuses `args`, and its output names `what` is wrong.
fn refuses(args: &[&str], what: &str) {
    let (code, out) = run_cli(args);
    assert_ne!(code, 0, "{args:?} was accepted: {out}");
    assert!(
        out.contains(what),
        "{args:?} refused without naming {what}: {out}"
    );
}

#[test]
fn cli_checks_a_small_world_and_rejects_bad_arguments() {
    let small = [
        "check",
        "--nodes",
        "2",
        "--drops",
        "1",
        "--crashes",
        "1",
        "--threads",
        "1",
    ];
    let (code, out) = run_cli(&small);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("all properties hold"), "{out}");
    assert!(out.contains("convergence at rest"), "{out}");

    // The same world reduced: the same verdicts, and the run says it stored instant starts.
    let (code, out) = run_cli(&[&small[..], &["--reduce", "on"]].concat());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("all properties hold"), "{out}");
    assert!(out.contains("instant starts stored"), "{out}");
    assert!(out.contains("in instants"), "{out}");

    refuses(&["check", "--reduce", "sometimes"], "--reduce");

    refuses(&["check", "--nodes", "9"], "--nodes");

    refuses(
        &["check", "--horizon", "50", "--drops", "1"],
        "no time for faults",
    );

    let (code, _) = run_cli(&["check", "--bfs", "--symmetry"]);
    assert_ne!(code, 0);

    let (code, _) = run_cli(&["frobnicate"]);
    assert_ne!(code, 0);
}

/// States are plain data: a clone hashes and compares equal (stateright relies on it).
#[test]
fn states_hash_deterministically() {
    let model = SwimModel::new(world(3, 10, |s| s.crashes = 1));
    let a = model.init_states();
    let b = model.init_states();
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
        assert_eq!(fingerprint(x), fingerprint(y));
    }
}

// ----- the fingerprint -----

#[test]
fn the_fingerprint_leaves_out_only_times_nothing_reads() {
    use swim_checked_core::config::NEVER;
    use swim_checked_core::membership::Membership;
    use swim_checked_core::{Member, Meta, NodeId, Status};

    let fingerprint = |m: &Membership, ttl: u64| {
        let mut h = DefaultHasher::new();
        m.hash_behaviour(ttl, &mut h);
        h.finish()
    };
    // The same member learned dead (and first seen) at different times.
    let table = |seen: u64, died: u64, status: Status| {
        let mut m = Membership::default();
        let addr = "127.0.0.1:7000".parse().unwrap();
        m.insert(Member::alive(NodeId(2), addr, 0, Meta::default()), seen);
        m.get_mut(NodeId(2)).unwrap().member.status = status;
        m.status_changed(NodeId(2), Status::Alive, died);
        m
    };
    let (a, b) = (table(0, 50, Status::Dead), table(3, 55, Status::Dead));
    assert_ne!(a, b);
    assert_eq!(fingerprint(&a, NEVER), fingerprint(&b, NEVER));
    // A tombstone that can expire keeps its time of death.
    assert_ne!(fingerprint(&a, 1_000), fingerprint(&b, 1_000));
    // A suspicion keeps its start: its timer runs from it.
    let (a, b) = (table(0, 50, Status::Suspect), table(0, 55, Status::Suspect));
    assert_ne!(fingerprint(&a, NEVER), fingerprint(&b, NEVER));
}

#[test]
fn the_first_probe_orders_walk_the_ring_so_the_start_is_rotation_symmetric() {
    for nodes in 2..=5 {
        let model = SwimModel::new(Setup::new(nodes));
        let s = model.initial_state();
        for (i, h) in s.hosts.iter().enumerate() {
            let order: Vec<NodeId> = h.node.probe_order().rest().collect();
            let ring: Vec<NodeId> = (1..nodes).map(|k| node_id((i + k) % nodes)).collect();
            assert_eq!(order, ring, "{nodes} nodes, n{}", i + 1);
        }
        // Renaming every node to the next one gives the same state back.
        let rotate = Renaming::new((0..nodes).map(|i| (i + 1) % nodes).collect());
        assert_eq!(rotate.state(&s), s, "{nodes} nodes");
    }
}

// ----- the default worlds -----

/// The default world labelled `label`.
fn default_world(label: &str) -> Setup {
    let world = model::checker::worlds::defaults()
        .into_iter()
        .find(|w| w.label == label);
    world.expect("a default world").setup
}

/// The small targeted worlds of `check`: every property holds and every reachability property
/// that applies is discovered (the large ones are left to `check` itself).
#[test]
fn real_core_small_targeted_worlds() {
    for label in ["meta race", "leave race", "rejoin", "health", "tombstones"] {
        let setup = default_world(label);
        setup.validate().expect("valid default world");
        assert_all_hold(setup);
    }
}

/// Only a crashed node restarts: a world with more restarts than crashes is refused, naming
/// both options.
#[test]
fn restarts_need_as_many_crashes() {
    let mut setup = Setup::new(3);
    setup.crashes = 0;
    setup.restarts = 1;
    let err = setup.validate().expect_err("a restart without a crash");
    assert!(
        err.contains("--restarts 1") && err.contains("--crashes 0"),
        "{err}"
    );
    setup.crashes = 1;
    setup.validate().expect("one crash, one restart");
}

/// Lifeguard's worlds, each with components switched off: every property holds, and every
/// reachability property that applies is discovered; each world runs its switch off.
#[test]
fn lifeguard_worlds_hold_with_each_component_off() {
    let worlds = model::checker::worlds::lifeguard_worlds();
    let off = |l: &str| {
        let c = &worlds
            .iter()
            .find(|w| w.label == l)
            .expect("a world")
            .setup
            .core;
        [
            c.lifeguard_local_health,
            c.lifeguard_dynamic_suspicion,
            c.lifeguard_buddy,
        ]
    };
    assert_eq!(off("no local health"), [false, true, true]);
    assert_eq!(off("fixed suspicion"), [true, false, true]);
    assert_eq!(off("no buddy"), [true, true, false]);
    assert_eq!(off("swim"), [false, false, false]);
    for w in &worlds {
        w.setup.validate().expect("valid Lifeguard world");
        assert_all_hold(w.setup.clone());
    }
}

/// A core that ignores Lifeguard's switches is caught in the switches' worlds: health that
/// moves with local health off, a suspicion armed past `Min` with the dynamic suspicion off.
/// (With the buddy system off, the rule catches a record sent to its subject from outside the
/// gossip queue, but not a queued one sent first without spending a transmit: the "no buddy"
/// world does not catch this core.)
#[cfg(swim_faults)]
#[test]
fn each_rule_catches_a_core_that_ignores_its_switch() {
    let world = |label: &str| {
        let worlds = model::checker::worlds::lifeguard_worlds();
        let w = worlds.into_iter().find(|w| w.label == label);
        w.expect("a Lifeguard world").setup
    };
    let fault = Fault::IgnoresLifeguardSwitches;
    assert!(discovers(
        world("no local health"),
        fault,
        properties::LOCAL_HEALTH
    ));
    assert!(discovers(
        world("fixed suspicion"),
        fault,
        properties::SUSPICION_DEADLINE
    ));
}

/// The suspicion deadline rule's formula with the dynamic suspicion off: `Min` whatever the
/// confirmations, where the switch on gives `Max` unconfirmed.
#[test]
fn the_suspicion_rule_reads_the_switch() {
    use model::checker::rules::suspicion_timeout;
    let on = Setup::scaled_config(false);
    let off = swim_checked_core::Config {
        lifeguard_dynamic_suspicion: false,
        ..on.clone()
    };
    assert_eq!(suspicion_timeout(&on, 3, 0), 30);
    for c in 0..3 {
        assert_eq!(suspicion_timeout(&off, 3, c), 10);
    }
}

/// Every new reachability property applies in some default world, and every default world's
/// setup is valid.
#[test]
fn every_property_applies_in_some_default_world() {
    let worlds = model::checker::worlds::defaults();
    for w in &worlds {
        w.setup.validate().expect("valid default world");
    }
    for p in properties::PROPERTIES {
        assert!(
            worlds.iter().any(|w| (p.applies)(&w.setup)),
            "{} applies in no default world",
            p.name
        );
    }
}

/// A merge that lets a higher-incarnation `alive` override `dead` fails the default `pause`
/// world: the paused node is declared dead, wakes up, refutes the suspicion it finds and its
/// fresh record races the verdict.
#[cfg(swim_faults)]
#[test]
fn no_resurrection_catches_merge_reviving_the_dead_in_the_default_pause_world() {
    assert!(discovers(
        default_world("pause"),
        Fault::MergeRevivesDead,
        properties::NO_RESURRECTION
    ));
}

// ----- the rules checked on each step -----

#[cfg(swim_faults)]
#[test]
fn local_health_catches_a_helper_counting_its_relays() {
    let setup = world(3, 10, |s| s.crashes = 1);
    assert!(discovers(
        setup,
        Fault::HealthCountsRelays,
        properties::LOCAL_HEALTH
    ));
}

/// `max(1, log10 3) x 20 = 20` ms, where `ln 3` gives 21: three nodes and alpha 2 tell the
/// log base apart. Ignoring confirmations is a wrong deadline too.
#[cfg(swim_faults)]
#[test]
fn suspicion_deadline_catches_a_wrong_log_base_and_ignored_confirmations() {
    let setup = world(3, 10, |s| {
        s.crashes = 1;
        s.core.suspicion_mult = 2;
    });
    assert!(discovers(
        setup.clone(),
        Fault::SuspicionNaturalLog,
        properties::SUSPICION_DEADLINE
    ));
    assert!(discovers(
        setup,
        Fault::SuspicionIgnoresConfirmations,
        properties::SUSPICION_DEADLINE
    ));
}

#[test]
fn the_suspicion_formula_follows_the_protocol() {
    use model::checker::rules::suspicion_timeout;
    let mut config = Setup::scaled_config(false);
    config.suspicion_mult = 2;
    // n = 3, K = 1: Max (60) unconfirmed, Min (20) with one confirmation.
    assert_eq!(suspicion_timeout(&config, 3, 0), 60);
    assert_eq!(suspicion_timeout(&config, 3, 1), 20);
    // n = 2: nobody could confirm, so the minimum at once.
    assert_eq!(suspicion_timeout(&config, 2, 0), 20);
    // log10 scales from n = 10 on: 2 x log10(20) x 10 = 26.02 ms.
    assert_eq!(suspicion_timeout(&config, 20, 1), 26);
}

#[cfg(swim_faults)]
#[test]
fn retransmit_limit_catches_unbounded_piggybacking() {
    let setup = world(2, 20, |s| s.meta_changes = 1);
    assert!(discovers(
        setup,
        Fault::RetransmitsUnbounded,
        properties::RETRANSMIT_LIMIT
    ));
}

#[cfg(swim_faults)]
#[test]
fn buddy_first_catches_a_message_without_the_suspicion() {
    // Three nodes: the suspicion's transmits go to the third node too, so a ping to the
    // suspect later finds nothing of it left in the queue to put first by chance.
    let setup = world(3, 10, |s| s.crashes = 1);
    assert!(discovers(setup, Fault::NoBuddy, properties::BUDDY_FIRST));
}

/// A push-pull that overwrites records is caught when an old full view arrives after a newer
/// record: the replayed view of `replayed_full_view`.
#[cfg(swim_faults)]
#[test]
fn push_pull_never_lowers_catches_a_sync_that_overwrites() {
    assert!(discovers(
        replayed_full_view(1),
        Fault::SyncOverwrites,
        properties::SYNC_NEVER_LOWERS
    ));
}

#[cfg(swim_faults)]
#[test]
fn probe_round_robin_catches_a_period_that_skips_a_member() {
    let setup = world(3, 10, |s| s.crashes = 1);
    assert!(discovers(
        setup,
        Fault::ProbeSkipsMember,
        properties::PROBE_ROUND_ROBIN
    ));
}

// ----- check reports every world -----

#[test]
fn cli_checks_several_default_worlds() {
    let (code, out) = run_cli(&[
        "check",
        "--world",
        "health",
        "--world",
        "meta race",
        "--threads",
        "1",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("== health") && out.contains("== meta race"),
        "{out}"
    );
    assert!(out.contains("all properties hold"), "{out}");
    // Both worlds at once, one thread each: the same table, in the same order.
    let table = |out: &str| -> Vec<String> {
        (out.lines())
            .skip_while(|l| !l.starts_with("kind"))
            .take_while(|l| !l.starts_with("total time"))
            .map(str::to_string)
            .collect()
    };
    let (code, side_by_side) = run_cli(&[
        "check",
        "--world",
        "health",
        "--world",
        "meta race",
        "--threads",
        "2",
        "--worlds-at-once",
        "2",
    ]);
    assert_eq!(code, 0, "{side_by_side}");
    assert!(!table(&out).is_empty(), "{out}");
    assert_eq!(table(&side_by_side), table(&out), "{side_by_side}");
    refuses(&["check", "--worlds-at-once", "0"], "--worlds-at-once");
    refuses(&["check", "--world", "no such world"], "no default world");
}

/// `growth` counts a small world to the end, and refuses what it cannot run, naming it.
#[test]
fn cli_growth_counts_a_world_and_rejects_bad_arguments() {
    let (code, out) = run_cli(&["growth", "--world", "health", "--threads", "1"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("every level expanded"), "{out}");
    refuses(&["growth", "--threads", "0"], "--threads");
    refuses(&["growth", "--world", "no such world"], "no default world");
    refuses(&["growth", "--max-pending", "many"], "--max-pending");
}

/// The default `check` itself, as the README runs it: every property holds and every
/// reachability property is reached. Ignored because it takes a minute at the test profile's
/// `opt-level`; `scripts/mutants.sh` runs it, so that `check` is part of the tool that judges a
/// mutant (CI runs the check in release instead).
#[test]
#[ignore = "a minute; run by scripts/mutants.sh and CI's release check"]
fn the_default_check_holds_and_reaches_everything() {
    let (code, out) = run_cli(&["check"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("all properties hold"), "{out}");
    assert!(!out.contains("was never reached"), "{out}");
}

/// A world that fails does not stop `check`: the next world runs and is reported, and the
/// run exits 1 naming the failing world.
#[cfg(swim_faults)]
#[test]
fn cli_runs_every_world_after_a_failure() {
    let (code, out) = run_cli(&[
        "check",
        "--fault",
        "HealthCountsRelays",
        "--world",
        "health",
        "--world",
        "meta race",
        "--threads",
        "1",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("counterexample to \"local health\" in the health world"),
        "{out}"
    );
    assert!(out.contains("== meta race"), "{out}");
    let header = out
        .lines()
        .find(|l| l.starts_with("kind"))
        .expect("a table");
    assert!(
        header.contains("health") && header.contains("meta race"),
        "{out}"
    );
    let health_row = (out.lines())
        .find(|l| l.starts_with("safety") && l.contains("local health"))
        .expect("a row");
    assert!(
        health_row.contains("VIOLATED") && health_row.contains("holds"),
        "{out}"
    );
    assert!(out.contains("FAILED in: health"), "{out}");
}

/// The partition world (PROTOCOL.md §14): every property holds, and a node declared dead
/// during the cut is seen rejoining at its next generation.
#[test]
fn the_partition_world_heals() {
    let w = model::checker::worlds::partition_world();
    let p = w.setup.partition.expect("a partition");
    // The cut outlasts the longest suspicion, so the verdict can land inside it.
    let longest = Bounds::new(&w.setup.core, w.setup.nodes).max;
    assert!(
        p.until - p.from > longest,
        "{p:?}, longest suspicion {longest} ms"
    );
    assert_all_hold(w.setup);
}

/// "heal at rest" bites: without automatic rejoin the cut node stays removed after the heal.
#[test]
fn heal_at_rest_catches_a_core_without_auto_rejoin() {
    let mut setup = model::checker::worlds::partition_world().setup;
    setup.core.auto_rejoin = false;
    let path = counterexample(&SwimModel::new(setup), properties::HEAL, Search::Dfs);
    let last = path.last_state();
    assert!(last.hosts.iter().any(|h| !h.is_running()), "{last:?}");
}

/// "only the cut node re-identifies" bites: a cut node that judges its own suspicions
/// declares the others dead, and after the heal its verdicts make them rejoin too.
#[test]
fn the_cut_alone_property_catches_a_core_without_isolation_hold() {
    let mut setup = model::checker::worlds::partition_world().setup;
    setup.core.isolation_hold = false;
    counterexample(&SwimModel::new(setup), properties::CUT_ALONE, Search::Dfs);
}

// ----- topology-aware selection (PROTOCOL.md §15) -----

/// Helpers drawn uniformly, whatever fates they share with the probe, are caught in the
/// `zoned` world by "helpers by zone".
#[cfg(swim_faults)]
#[test]
fn helpers_by_zone_catches_helpers_drawn_uniformly() {
    assert!(discovers(
        model::checker::worlds::zoned_world().setup,
        Fault::HelpersIgnoreZones,
        properties::ZONE_HELPERS
    ));
}

/// A second indirect round that asks the first round's helper again is caught in the
/// `rounds` world by "helpers asked once a probe".
#[cfg(swim_faults)]
#[test]
fn helpers_once_catches_a_later_round_reasking() {
    assert!(discovers(
        model::checker::worlds::rounds_world().setup,
        Fault::LaterRoundsReask,
        properties::HELPERS_ONCE
    ));
}

/// A probe order that never holds members of other zones again is caught in the `zoned`
/// world by "probe round-robin" (more near passes in a row than `far_pass_every - 1`).
#[cfg(swim_faults)]
#[test]
fn probe_round_robin_catches_far_members_never_probed() {
    assert!(discovers(
        model::checker::worlds::zoned_world().setup,
        Fault::FarMembersSkipped,
        properties::PROBE_ROUND_ROBIN
    ));
}

// ----- bounds on hostile input (PROTOCOL.md §12) -----

/// The guard world labelled `label` (`worlds::guard_worlds`).
#[cfg(swim_faults)]
fn guard_world(label: &str) -> Setup {
    (model::checker::worlds::guard_worlds().into_iter())
        .find(|w| w.label == label)
        .expect("a guard world")
        .setup
}

/// "probe round-robin": a period of a node whose live members all wait probes none.
#[cfg(swim_faults)]
#[test]
fn probe_round_robin_catches_no_extra_slot() {
    assert!(discovers(
        guard_world("throttle"),
        Fault::NoExtraProbeSlot,
        properties::PROBE_ROUND_ROBIN
    ));
}

/// "broadcast delivered once": a node that forgets the broadcasts it saw delivers a copy that
/// arrives again (a duplicate, or its own coming back).
#[cfg(swim_faults)]
#[test]
fn broadcast_once_catches_forgotten_identities() {
    assert!(discovers(
        model::checker::worlds::application_world().setup,
        Fault::ForgetsBroadcasts,
        properties::BROADCAST_ONCE
    ));
}

/// "application data as sent": a relayed broadcast delivered as from its relayer.
#[cfg(swim_faults)]
#[test]
fn application_data_as_sent_catches_the_relayer_as_origin() {
    assert!(discovers(
        model::checker::worlds::application_world().setup,
        Fault::DeliversFromRelayer,
        properties::USER_AS_SENT
    ));
}

/// "broadcast sends": broadcasts sent without counting their transmits.
#[cfg(swim_faults)]
#[test]
fn broadcast_sends_catches_unbounded_sends() {
    assert!(discovers(
        model::checker::worlds::application_world().setup,
        Fault::BroadcastsUnbounded,
        properties::BROADCAST_SENDS
    ));
}

/// "probe round-robin": a member that answers while it waits outside the order is not put
/// back into the pass.
#[cfg(swim_faults)]
#[test]
fn probe_round_robin_catches_an_answered_member_left_out() {
    assert!(discovers(
        guard_world("throttle"),
        Fault::AnsweredStaysOut,
        properties::PROBE_ROUND_ROBIN
    ));
}

/// "no amplification": a node that takes a member's id as proof of any address answers the
/// address a restarted member comes back at beyond its budget.
#[cfg(swim_faults)]
#[test]
fn no_amplification_catches_a_moved_address_trusted() {
    assert!(discovers(
        guard_world("restart"),
        Fault::TrustsMovedAddress,
        properties::NO_AMPLIFICATION
    ));
}

/// "bounded intake": a node that admits whatever a datagram introduces holds more members
/// that never answered than it may.
#[cfg(swim_faults)]
#[test]
fn bounded_intake_catches_unbounded_admission() {
    assert!(discovers(
        guard_world("intake"),
        Fault::AdmitsUnbounded,
        properties::BOUNDED_INTAKE
    ));
}

/// "nacks conclude a round": a probe whose every helper nacked still waits for the tick.
#[cfg(swim_faults)]
#[test]
fn nacks_conclude_catches_a_probe_left_to_the_tick() {
    assert!(discovers(
        Setup::new(3),
        Fault::NacksWaitForTheTick,
        properties::NACKS_CONCLUDE
    ));
}
