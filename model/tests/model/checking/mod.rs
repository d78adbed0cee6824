//! Helpers shared by the checker tests (`checker.rs`, `reduction.rs`): small worlds, the
//! fingerprint the checker tells states apart by, and the first counterexample of a run.
#![allow(dead_code)] // some helpers serve only the `swim_faults` tests

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::hash::{DefaultHasher, Hash, Hasher};

use model::checker::{Setup, SwimModel};
use stateright::{Checker, HasDiscoveries, Model, Path};

/// A world of `nodes` nodes without any fault or command, ending `window` ms after its
/// settle time (faults may happen before `window`).
pub fn world(nodes: usize, window: u64, tweak: impl FnOnce(&mut Setup)) -> Setup {
    let mut setup = Setup::new(nodes).reliable();
    tweak(&mut setup);
    setup.horizon = setup.settle() + window;
    setup.validate().expect("valid test world");
    setup
}

/// Two aligned nodes whose only disturbance on the wire is one replay (`replays`: 0 or 1),
/// with one metadata change. Push-pull runs every 15 ms, so each node sends its full view
/// (with its own record at incarnation 0) at 15 and 16 ms, alone in its instant, and nothing
/// else carries an old record: inside the 28 ms window no node sends a full view and another
/// datagram in the same instant (the ticks are at 10 and 20 ms, the next push-pull at 30), so
/// without a replay no node can receive a record older than one it already holds. A replay
/// can: the view sent at 15 ms, delivered again after the newer record arrived with a ping.
pub fn replayed_full_view(replays: u8) -> Setup {
    world(2, 28, |s| {
        s.core.sync_interval = 15;
        s.meta_changes = 1;
        s.replays = replays;
    })
}

/// What a checker run found: the properties discovered and the unique states.
pub struct Outcome {
    pub found: BTreeSet<&'static str>,
    pub unique: usize,
}

/// Run the checker (one thread, depth first) until `until`.
pub fn explore(setup: Setup, until: HasDiscoveries, symmetry: bool) -> Outcome {
    let mut builder = SwimModel::new(setup)
        .checker()
        .threads(1)
        .finish_when(until);
    if symmetry {
        builder = builder.symmetry();
    }
    let checker = builder.spawn_dfs().join();
    Outcome {
        found: checker.discoveries().keys().copied().collect(),
        unique: checker.unique_state_count(),
    }
}

/// What the checker tells states apart by.
pub fn fingerprint(s: &impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// How the checker walks the space.
pub enum Search {
    Bfs,
    Dfs,
}

/// Run the checker on `model` until it discovers `property`; the path it reports.
pub fn counterexample<M>(
    model: &M,
    property: &'static str,
    search: Search,
) -> Path<M::State, M::Action>
where
    M: Model + Clone + Send + Sync + 'static,
    M::State: Clone + Debug + Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + Debug + PartialEq,
{
    let builder = model
        .clone()
        .checker()
        .finish_when(HasDiscoveries::AnyOf([property].into_iter().collect()));
    let path = match search {
        Search::Bfs => builder.spawn_bfs().join().discovery(property),
        Search::Dfs => builder.spawn_dfs().join().discovery(property),
    };
    path.expect("a counterexample")
}
