//! Seeded random walks over the model, for configurations too large to check exhaustively.
//!
//! Stateright's `spawn_simulation` returns broken paths when `next_state` returns `None`, so
//! this is a plain walker over the model's inputs: each walk starts from the initial state and
//! takes a uniformly random enabled input (then a uniformly random outcome of its picks) until
//! the run ends (nothing enabled) or reaches the depth limit, checking every property on every
//! state. Walk `k` of seed `s` is reproducible on its own: its generator is seeded with `s`
//! and `k`.

use std::collections::BTreeMap;

use super::properties::{Kind, PROPERTIES};
use super::{Action, State, SwimModel};

/// A small, fast, seedable generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n >= 1`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// A walk that hit a property: where it started and what it did.
#[derive(Clone, Debug)]
pub struct Found {
    pub walk: u64,
    pub init: State,
    pub actions: Vec<Action>,
}

/// What the walks saw.
#[derive(Clone, Debug, Default)]
pub struct WalkReport {
    pub walks: u64,
    pub steps: u64,
    pub longest: usize,
    /// Walks that ended because no action was left (rather than at the depth limit).
    pub finished: u64,
    /// First walk violating each safety property.
    pub violations: BTreeMap<&'static str, Found>,
    /// First walk discovering each reachability property.
    pub discoveries: BTreeMap<&'static str, Found>,
}

/// The seed of walk `k` of a run seeded with `seed`.
pub fn walk_seed(seed: u64, k: u64) -> u64 {
    SplitMix::new(seed ^ k.wrapping_mul(0x2545_f491_4f6c_dd1d)).next_u64()
}

/// Run walk number `k`; record properties into `report`.
pub fn walk(model: &SwimModel, seed: u64, k: u64, depth: usize, report: &mut WalkReport) {
    let mut rng = SplitMix::new(walk_seed(seed, k));
    let init = model.initial_state();
    let mut state = init.clone();
    let mut taken: Vec<Action> = Vec::new();
    let check = |state: &State, taken: &[Action], report: &mut WalkReport| {
        for p in PROPERTIES {
            let seen = match p.kind {
                Kind::Safety => report.violations.contains_key(p.name),
                Kind::Reachability => report.discoveries.contains_key(p.name),
            };
            if seen {
                continue;
            }
            let holds = (p.condition)(model, state);
            let hit = match p.kind {
                Kind::Safety => !holds,
                Kind::Reachability => holds,
            };
            if hit {
                let found = Found {
                    walk: k,
                    init: init.clone(),
                    actions: taken.to_vec(),
                };
                match p.kind {
                    Kind::Safety => report.violations.insert(p.name, found),
                    Kind::Reachability => report.discoveries.insert(p.name, found),
                };
            }
        }
    };
    check(&state, &taken, report);
    loop {
        if taken.len() >= depth {
            break;
        }
        let mut inputs = model.inputs(&state);
        if inputs.is_empty() {
            report.finished += 1;
            break;
        }
        // An input uniformly, then one of its pick outcomes uniformly.
        let input = inputs.swap_remove(rng.below(inputs.len()));
        let mut outcomes = model.outcomes(&state, input);
        let (action, next) = outcomes.swap_remove(rng.below(outcomes.len()));
        state = next;
        taken.push(action);
        report.steps += 1;
        check(&state, &taken, report);
    }
    report.walks += 1;
    report.longest = report.longest.max(taken.len());
}

/// Run `walks` walks of at most `depth` steps; `progress` is called after each walk.
pub fn simulate(
    model: &SwimModel,
    seed: u64,
    walks: u64,
    depth: usize,
    mut progress: impl FnMut(&WalkReport),
) -> WalkReport {
    let mut report = WalkReport::default();
    for k in 0..walks {
        walk(model, seed, k, depth, &mut report);
        progress(&report);
    }
    report
}
