//! How a world's reduced space grows: its instant starts counted level by level, a level
//! being the time at which they start.
//!
//! Every leap of [`InstantModel`] moves the clock forward, so the instant starts of a world
//! fall into levels by their time, and a level is complete once every earlier level has been
//! expanded. [`measure`] expands the levels in time order, keeping for each pending level the
//! fingerprints of its states (of their symmetry representatives, when asked) and dropping
//! them once the level is expanded: memory is what is pending, not what was seen. For each
//! level it reports how many distinct instant starts it holds and how many states the
//! searches inside their instants went through.
//!
//! This is the measurement behind the five-node figures of docs/checker.md: where `check`'s
//! depth-first search gives only a running total, the levels show how the space grows from
//! one leap to the next and what an instant costs. It checks no property (`check` does).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use stateright::Model;

use super::instants::InstantModel;
use super::symmetry::representative;
use crate::checker::{State, stable_hash};

/// The instant starts of one level, as they are found.
#[derive(Default)]
struct Pending {
    seen: HashSet<u64>,
    states: Vec<State>,
}

/// One expanded level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Level {
    /// Model time of the level's instant starts, in ms.
    pub at: u64,
    /// Distinct instant starts (up to a renaming of the nodes, with symmetry).
    pub starts: u64,
    /// States searched inside the instants that start at this level.
    pub searched: u64,
    /// Instant starts found at later levels and not yet expanded, once this one was.
    pub pending: u64,
}

/// What [`measure`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Growth {
    pub levels: Vec<Level>,
    /// Whether every level was expanded (the world's whole reduced space was counted).
    pub complete: bool,
    /// The level whose expansion was stopped halfway by the memory limit, if one was.
    pub cut: Option<Cut>,
}

/// A level left half expanded: more than the limit's instant starts were waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    pub at: u64,
    pub starts: u64,
    pub expanded: u64,
}

impl Growth {
    /// Instant starts over every expanded level.
    pub fn starts(&self) -> u64 {
        self.levels.iter().map(|l| l.starts).sum()
    }
}

/// When [`measure`] stops before the space is exhausted: before a level once `time` has passed,
/// and before or inside one once more than `pending` instant starts wait (each is a whole
/// state in memory, about 15 KB with four nodes).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub time: Duration,
    pub pending: u64,
    /// Instant starts expanded between two looks at `pending`.
    pub batch: usize,
}

impl Limits {
    /// `time` and `pending`, with memory looked at every 512 instant starts.
    pub fn new(time: Duration, pending: u64) -> Self {
        Limits {
            time,
            pending,
            batch: 512,
        }
    }
}

/// Expand `model`'s levels in time order on `threads` threads, merging states equal up to a
/// renaming of the nodes if `symmetry`, until every level is expanded or a limit is met.
/// `report` sees each level as it is done.
pub fn measure(
    model: &InstantModel,
    symmetry: bool,
    threads: usize,
    limits: Limits,
    mut report: impl FnMut(&Level),
) -> Growth {
    let start = Instant::now();
    let key = |s: &State| {
        if symmetry {
            stable_hash(&representative(s))
        } else {
            stable_hash(s)
        }
    };
    let mut pending: BTreeMap<u64, Pending> = BTreeMap::new();
    for s in model.init_states() {
        add(&mut pending, key(&s), s);
    }
    let mut levels = Vec::new();
    let mut cut = None;
    while let Some((at, level)) = pending.pop_first() {
        let starts = level.states.len() as u64;
        let held = waiting(&pending) + starts;
        if start.elapsed() >= limits.time || held > limits.pending {
            pending.insert(at, level);
            break;
        }
        let before = model.inner_states.load(Ordering::Relaxed);
        // A batch at a time, so that memory is watched inside a level too: one level's
        // successors can outgrow it (five nodes: a million from 4,000 starts).
        let mut expanded = 0;
        for batch in level.states.chunks(limits.batch.max(1)) {
            for next in expand(model, batch, threads) {
                let k = key(&next);
                add(&mut pending, k, next);
            }
            expanded += batch.len() as u64;
            // The level's own states stay in memory until it is done.
            if expanded < starts && waiting(&pending) + (starts - expanded) > limits.pending {
                cut = Some(Cut {
                    at,
                    starts,
                    expanded,
                });
                break;
            }
        }
        if cut.is_some() {
            break;
        }
        let done = Level {
            at,
            starts,
            searched: model.inner_states.load(Ordering::Relaxed) - before,
            pending: waiting(&pending),
        };
        report(&done);
        levels.push(done);
    }
    Growth {
        levels,
        complete: pending.is_empty() && cut.is_none(),
        cut,
    }
}

/// Instant starts found and not yet expanded.
fn waiting(pending: &BTreeMap<u64, Pending>) -> u64 {
    pending.values().map(|p| p.states.len() as u64).sum()
}

/// Add `s` to its level unless a state with the same `key` is there already.
fn add(pending: &mut BTreeMap<u64, Pending>, key: u64, s: State) {
    let level = pending.entry(s.now).or_default();
    if level.seen.insert(key) {
        level.states.push(s);
    }
}

/// The states every leap out of `states` reaches, the leaps searched on `threads` threads.
fn expand(model: &InstantModel, states: &[State], threads: usize) -> Vec<State> {
    let chunk = states.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (states.chunks(chunk))
            .map(|part| {
                scope.spawn(move || {
                    let mut next = Vec::new();
                    let mut leaps = Vec::new();
                    for s in part {
                        model.actions(s, &mut leaps);
                        next.extend(leaps.drain(..).filter_map(|l| model.next_state(s, l)));
                    }
                    next
                })
            })
            .collect();
        (workers.into_iter())
            .flat_map(|w| w.join().expect("a leap search does not panic"))
            .collect()
    })
}
