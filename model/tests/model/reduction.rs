//! The network's one-millisecond latency, the two reductions it makes sound (nodes taking
//! their inputs of an instant in index order, and a checker that stores only instant starts),
//! and what a state is to the checker (a crashed host is only its identity).
//!
//! Each reduction is compared with the plain model on small worlds: the same states at every
//! instant start, the same verdicts, and the same broken cores caught.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::Ordering::Relaxed;

#[cfg(swim_faults)]
use model::checker::properties::{self, Kind};
use model::checker::reduce::instants::InstantModel;
use model::checker::{Action, Host, Setup, State, SwimModel};
use stateright::{Checker, HasDiscoveries, Model};
#[cfg(swim_faults)]
use swim_checked_core::faults::{Fault, Faults};
use swim_checked_core::{Body, Timer};

#[cfg(swim_faults)]
use crate::checking::{Search, counterexample};
use crate::checking::{explore, fingerprint, replayed_full_view, world};

/// Every state reachable right after the clock moves, and how many states were reached in all.
fn instant_starts(setup: &Setup) -> (BTreeSet<u64>, usize) {
    let model = SwimModel::new(setup.clone());
    let init = model.initial_state();
    let mut seen = HashSet::from([fingerprint(&init)]);
    let mut starts = BTreeSet::new();
    let mut stack = vec![init];
    while let Some(s) = stack.pop() {
        for input in model.inputs(&s) {
            for (action, next) in model.outcomes(&s, input) {
                if !model.within_boundary(&next) {
                    continue;
                }
                let f = fingerprint(&next);
                if matches!(action, Action::Advance(_)) {
                    starts.insert(f);
                }
                if seen.insert(f) {
                    stack.push(next);
                }
            }
        }
    }
    (starts, seen.len())
}

#[cfg(swim_faults)]
fn verdicts_by_instants(setup: &Setup, until: HasDiscoveries) -> BTreeSet<&'static str> {
    let model = InstantModel::new(SwimModel::new(setup.clone()));
    let checker = model
        .clone()
        .checker()
        .threads(1)
        .finish_when(until)
        .spawn_dfs()
        .join();
    let mut found: BTreeSet<&'static str> = checker.discoveries().keys().copied().collect();
    found.extend(model.reached_names());
    found
}

fn ordered(mut setup: Setup) -> Setup {
    setup.node_order = true;
    setup
}

#[test]
fn a_datagram_sent_in_an_instant_arrives_one_millisecond_later() {
    let model = SwimModel::new(Setup::new(3).reliable());
    let s = model.initial_state();
    let advance = model.inputs(&s);
    assert_eq!(
        advance,
        vec![Action::Advance(10)],
        "all quiet until the first tick"
    );
    let s = model.apply(&s, &advance[0], None);
    let tick = Action::Fire(0, Timer::Tick, Vec::new());
    assert!(model.inputs(&s).contains(&tick));
    let s = model.apply(&s, &tick, None);
    let ping = |s: &State| {
        s.net
            .iter()
            .find(|(d, _)| d.from == 0 && matches!(d.msg.body, Body::Ping { .. }))
            .map(|(d, c)| (d.clone(), *c))
    };
    let (dg, copies) = ping(&s).expect("n1 pinged someone");
    assert_eq!((copies.ready, copies.fresh), (0, 1));
    let inputs = model.inputs(&s);
    assert!(
        !inputs
            .iter()
            .any(|a| matches!(a, Action::Deliver(d, _) if *d == dg))
    );
    // The other nodes' ticks first; then the clock moves one millisecond, not to the next
    // deadline, and the ping can be delivered (or dropped).
    let mut s = s;
    while let Some(fire) = model
        .inputs(&s)
        .into_iter()
        .find(|a| matches!(a, Action::Fire(..)))
    {
        s = model.apply(&s, &fire, None);
    }
    assert!(model.inputs(&s).contains(&Action::Advance(11)));
    let s = model.apply(&s, &Action::Advance(11), None);
    assert_eq!(ping(&s).map(|(_, c)| (c.ready, c.fresh)), Some((1, 0)));
    assert!(
        model
            .inputs(&s)
            .iter()
            .any(|a| matches!(a, Action::Deliver(d, _) if *d == dg))
    );
}

#[test]
fn a_replay_sends_an_old_datagram_again_and_the_history_goes_with_the_budget() {
    let model = SwimModel::new(world(2, 20, |s| s.replays = 1));
    let first_but_replay =
        |s: &State| (model.inputs(s).into_iter()).find(|a| !matches!(a, Action::Replay(_)));
    // Up to the first ping's arrival and answer (the ticks are at 10 ms).
    let mut s = model.initial_state();
    while s.now < 12 {
        let a = first_but_replay(&s).expect("the run goes on");
        s = model.apply(&s, &a, None);
    }
    let ping = (s.history.iter())
        .find(|d| d.from == 0 && matches!(d.msg.body, Body::Ping { .. }))
        .cloned()
        .expect("n1's ping is in the history");
    assert!(!s.net.iter().any(|(d, _)| *d == ping), "delivered already");
    // Replays are offered once nothing is left to take in the instant.
    let replay = Action::Replay(ping.clone());
    while s.has_urgent_step() {
        assert!(!model.inputs(&s).contains(&replay));
        let a = first_but_replay(&s).unwrap();
        s = model.apply(&s, &a, None);
    }
    assert!(model.inputs(&s).contains(&replay));
    let replayed = model.apply(&s, &replay, None);
    assert_eq!(replayed.budget.replays, 0);
    assert!(
        replayed.history.is_empty(),
        "no replay left: nothing to keep"
    );
    assert!(replayed.in_transit(), "it arrives in the next millisecond");
    let now = replayed.now;
    let arrived = model.apply(&replayed, &Action::Advance(now + 1), None);
    assert!(arrived.deliverable().any(|d| *d == ping));
    // Without the replay, the history is dropped when the window closes.
    while s.now < model.disturb_until {
        let a = first_but_replay(&s).unwrap();
        s = model.apply(&s, &a, None);
    }
    assert_eq!(s.budget.replays, 1);
    assert!(s.history.is_empty(), "no replay possible past the window");
}

#[test]
fn a_crashed_host_is_only_its_identity_to_the_checker() {
    let model = SwimModel::new(Setup::new(3));
    let start = model.initial_state();
    let crashed = model.apply(&start, &Action::Crash(0), None);
    // The same node, having started a probe: its probe state and sequence numbers moved on.
    let mut busy = (*start.hosts[0].node).clone();
    busy.handle_timer(10, Timer::Tick, &mut |_: usize| 0, &mut Vec::new());
    assert_ne!(fingerprint(&busy), fingerprint(&*start.hosts[0].node));
    let with = |s: &State, node: &swim_checked_core::Node| {
        let mut s = s.clone();
        s.hosts[0] = Host::new(node.clone(), s.hosts[0].life, s.hosts[0].timers.clone());
        s
    };
    // Crashed, what it knew is gone for good: one state. Up, it decides what happens next.
    assert_eq!(fingerprint(&with(&crashed, &busy)), fingerprint(&crashed));
    assert_ne!(fingerprint(&with(&start, &busy)), fingerprint(&start));
}

#[test]
fn node_order_reaches_every_instant_start_with_fewer_states() {
    let worlds = [
        world(2, 20, |s| {
            s.drops = 1;
            s.crashes = 1;
        }),
        world(2, 20, |s| {
            s.duplicates = 1;
            s.leaves = 1;
            s.meta_changes = 1;
        }),
        world(2, 20, |s| {
            s.pauses = 1;
            s.crashes = 1;
        }),
        world(3, 10, |s| s.crashes = 1),
        world(3, 10, |s| {
            s.drops = 1;
            s.stagger = 1;
        }),
        world(3, 35, |s| s.drops = 2),
        world(2, 20, |s| {
            s.drops = 1;
            s.duplicates = 1;
            s.pauses = 1;
        }),
        world(2, 30, |s| {
            s.drops = 1;
            s.pauses = 1;
        }),
        // A replay, after the instant's steps: also where a node's inputs are ordered.
        replayed_full_view(1),
        world(3, 10, |s| {
            s.replays = 1;
            s.crashes = 1;
        }),
    ];
    for setup in worlds {
        let (all, all_count) = instant_starts(&setup);
        let (reduced, reduced_count) = instant_starts(&ordered(setup.clone()));
        assert!(
            all == reduced,
            "{}: {} instant starts in every order, {} in node order, {} of them missing",
            setup.describe(),
            all.len(),
            reduced.len(),
            all.difference(&reduced).count()
        );
        assert!(
            reduced_count < all_count,
            "{}: {reduced_count} states in node order, {all_count} in every order",
            setup.describe()
        );
        assert_eq!(
            explore(setup.clone(), HasDiscoveries::All, false).found,
            explore(ordered(setup.clone()), HasDiscoveries::All, false).found,
            "{}",
            setup.describe()
        );
    }
}

#[cfg(swim_faults)]
#[test]
fn node_order_still_catches_every_broken_core() {
    let cases = [
        (
            world(3, 20, |s| s.crashes = 1),
            Faults::from(Fault::MergeLastWriterWins),
            properties::MONOTONE_VIEWS,
        ),
        (
            world(2, 60, |s| {
                s.drops = 3;
                s.meta_changes = 1;
            }),
            Fault::MergeRevivesDead.into(),
            properties::NO_RESURRECTION,
        ),
        (
            world(2, 20, |s| s.drops = 2),
            Fault::AppliesGossipAboutSelf.into(),
            properties::SELF_VIEW,
        ),
        (
            world(2, 20, |s| s.drops = 2),
            Fault::SuspectsAtHigherIncarnation.into(),
            properties::INCARNATION_AUTHORITY,
        ),
        (
            world(2, 20, |_| {}),
            Fault::IgnoresAcks.into(),
            properties::ACCURACY,
        ),
        (
            world(2, 20, |s| s.meta_changes = 1),
            Fault::MergeForgetsMetadata.into(),
            properties::CONVERGENCE,
        ),
        (
            world(2, 20, |s| s.crashes = 1),
            Fault::SuspicionNeverExpires.into(),
            properties::COMPLETENESS,
        ),
        (
            replayed_full_view(1),
            Fault::MergeLastWriterWins.into(),
            properties::MONOTONE_VIEWS,
        ),
    ];
    for (setup, faults, property) in cases {
        let mut setup = ordered(setup);
        setup.faults = faults;
        let until = HasDiscoveries::AnyOf([property].into_iter().collect());
        assert!(
            verdicts_by_instants(&setup, until).contains(property),
            "{property} with {faults:?}"
        );
    }
}

#[test]
fn storing_instants_gives_the_same_verdicts_with_fewer_states() {
    let worlds = [
        world(2, 20, |s| {
            s.drops = 1;
            s.crashes = 1;
        }),
        world(2, 20, |s| {
            s.duplicates = 1;
            s.leaves = 1;
            s.meta_changes = 1;
        }),
        world(3, 10, |s| s.crashes = 1),
        world(2, 20, |s| {
            s.drops = 1;
            s.replays = 1;
        }),
    ];
    for setup in worlds {
        for setup in [setup.clone(), ordered(setup)] {
            let plain = SwimModel::new(setup.clone())
                .checker()
                .threads(1)
                .spawn_dfs()
                .join();
            let found: BTreeSet<&str> = plain.discoveries().keys().copied().collect();
            let model = InstantModel::new(SwimModel::new(setup.clone()));
            let leaps = model.clone().checker().threads(1).spawn_dfs().join();
            let mut by_instants: BTreeSet<&str> = leaps.discoveries().keys().copied().collect();
            by_instants.extend(model.reached_names());
            assert_eq!(found, by_instants, "{}", setup.describe());
            assert!(
                leaps.unique_state_count() * 2 < plain.unique_state_count(),
                "{}: {} instant starts, {} states",
                setup.describe(),
                leaps.unique_state_count(),
                plain.unique_state_count()
            );
        }
    }
}

#[cfg(swim_faults)]
#[test]
fn a_violation_inside_an_instant_comes_back_as_a_path_that_replays() {
    let mut setup = ordered(world(2, 20, |s| s.drops = 2));
    setup.faults = Fault::AppliesGossipAboutSelf.into();
    let model = InstantModel::new(SwimModel::new(setup));
    let path = counterexample(&model, properties::SELF_VIEW, Search::Dfs);
    let init = path.clone().into_states().swap_remove(0);
    let steps = InstantModel::flatten(path.clone().into_actions());
    let last = path.last_state().clone();
    let mut s = init;
    for step in &steps {
        s = model.inner.apply(&s, step, None);
    }
    assert_eq!(s, last);
    let info = properties::info(properties::SELF_VIEW).unwrap();
    assert_eq!(info.kind, Kind::Safety);
    assert!(!(info.condition)(&model.inner, &s));
}

/// Counting level by level finds exactly the instant starts the checker stores, with and
/// without symmetry, and the states searched inside them; the levels go forward in time, and
/// the memory limit stops the count before or inside a level, whose counts then stay out.
#[test]
fn growth_counts_the_instant_starts_the_checker_stores() {
    use model::checker::reduce::growth::{self, Limits};
    use std::time::Duration;
    let unlimited = Limits::new(Duration::from_secs(600), u64::MAX);
    let setups = [
        world(3, 10, |s| {
            s.crashes = 1;
            s.drops = 1;
        }),
        world(2, 20, |s| {
            s.drops = 1;
            s.replays = 1;
        }),
    ];
    let mut cuts = 0;
    for setup in setups {
        let setup = ordered(setup);
        for symmetry in [false, true] {
            let model = InstantModel::new(SwimModel::new(setup.clone()));
            let mut builder = model.clone().checker().threads(1);
            if symmetry {
                builder = builder.symmetry();
            }
            let checker = builder.spawn_dfs().join();
            let counted = InstantModel::new(SwimModel::new(setup.clone()));
            let g = growth::measure(&counted, symmetry, 2, unlimited, |_| {});
            let what = format!("{} (symmetry {symmetry})", setup.describe());
            assert!(g.complete, "{what}");
            assert_eq!(g.starts(), checker.unique_state_count() as u64, "{what}");
            let searched: u64 = g.levels.iter().map(|l| l.searched).sum();
            if !symmetry {
                // Each instant start is searched once either way.
                assert_eq!(searched, model.inner_states.load(Relaxed), "{what}");
            }
            assert!(g.levels.windows(2).all(|w| w[0].at < w[1].at), "{what}");
            assert_eq!(g.levels.last().map(|l| l.pending), Some(0), "{what}");

            // Stopped inside a level: the levels before it are reported, not that one.
            for held in g.levels.iter().map(|l| l.pending) {
                let tight = Limits {
                    pending: held,
                    batch: 1,
                    ..unlimited
                };
                let stopped = growth::measure(&counted, symmetry, 1, tight, |_| {});
                let Some(cut) = stopped.cut else { continue };
                cuts += 1;
                let k = stopped.levels.len();
                assert!(!stopped.complete, "{what}");
                assert_eq!(stopped.levels, g.levels[..k], "{what}");
                assert_eq!((cut.at, cut.starts), (g.levels[k].at, g.levels[k].starts));
                assert!(0 < cut.expanded && cut.expanded < cut.starts, "{what}");
            }
        }
    }
    // Some level's expansion went past the memory it started with.
    assert!(cuts > 0);
}
