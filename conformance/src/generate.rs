//! Traces made on the spot: seeded random walks of the model in shell order, for tests that
//! need runs beyond the corpus (and for the harness's own tests).

use model::checker::export::random_walk;
use model::checker::{Setup, SwimModel, Trace};

/// Walk `k` of seed `seed` over `setup`, in the shell's order (the model's `shell_order`
/// filter: a node fires its due timers in (deadline, timer) order before anything else, and
/// takes no input before it started), to the end of the run.
pub fn walk(mut setup: Setup, seed: u64, k: u64) -> Trace {
    setup.shell_order = true;
    setup.stop_when_quiet = false;
    let model = SwimModel::new(setup);
    let actions = random_walk(&model, seed, k);
    let (mut trace, _) = Trace::record(&model, &model.initial_state(), actions);
    trace.seed = Some(seed);
    trace
}

/// A mix of worlds for tests: faults (drop, crash), pauses, duplicates with commands,
/// `unreachable` on with confirmations, and staggered starts.
pub fn worlds() -> Vec<(&'static str, Setup)> {
    let mut faults = Setup::new(3);
    faults.drops = 2;
    let mut pauses = Setup::new(3);
    pauses.crashes = 0;
    pauses.pauses = 1;
    let mut reliable = Setup::new(3).reliable();
    reliable.duplicates = 1;
    reliable.leaves = 1;
    reliable.meta_changes = 2;
    reliable.stagger = 1;
    let mut unreachable = Setup::new(3);
    unreachable.core = Setup::scaled_config(true);
    unreachable.crashes = 1;
    unreachable.drops = 0;
    unreachable.horizon = unreachable.settle() + 8 * unreachable.core.probe_interval;
    let mut four = Setup::new(4);
    four.stagger = 3;
    four.duplicates = 1;
    four.meta_changes = 1;
    vec![
        ("faults", faults),
        ("pauses", pauses),
        ("reliable", reliable),
        ("unreachable", unreachable),
        ("four", four),
    ]
}
