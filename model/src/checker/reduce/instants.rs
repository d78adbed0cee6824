//! Whole instants: the same model, with only the states at which a timer instant starts kept
//! by the checker.
//!
//! When timers fire, the nodes' steps and the exchanges they set off (a datagram takes 1 ms)
//! interleave in every order the model allows, and most reachable states are those
//! intermediate interleavings, yet the runs come out of them through few distinct states.
//! [`InstantModel`] is a stateright model whose step is a *leap*: from a state, it explores
//! the interleavings itself, with a set of fingerprints that lives only as long as that
//! search, up to the moves of the clock to an instant at which a timer is due or nothing is
//! in flight, and offers one leap per distinct state reached that way. The checker's global
//! set then holds one fingerprint per such instant start instead of one per interleaving,
//! which is what bounds its memory (three nodes, faults world, node order: 24 thousand
//! instant starts stored for 268 thousand states searched; the price is searching again a
//! state that two leaps reach, which measured at most a third more with four nodes).
//!
//! The search inside an instant tells states apart by their plain fingerprint, not by their
//! symmetry representative: a renaming seldom maps one interleaving of an instant onto
//! another, and computing representatives took most of the run time (four nodes, one crash:
//! 22 s against 5.3 s, for the same number of states searched). The checker still merges the
//! instant starts by symmetry when asked to.
//!
//! Nothing is left unchecked: the search inside the instant evaluates every property on every
//! state it reaches. A state that breaks a safety property is offered as a leap of its own, so
//! the checker sees it and reports it with its path (the leap's steps, then the state).
//! A reachability property met inside an instant is recorded in [`InstantModel::reached`]
//! (stateright only sees the states it stores, and a witness leap would make `actions` depend
//! on what other threads found, which breaks path reconstruction).

use std::collections::HashSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use stateright::{Model, Property};

use crate::checker::properties::{Kind, PROPERTIES};
use crate::checker::{Action, State, SwimModel, stable_hash};

/// A run from one state to the next instant start (or to a state breaking a safety property):
/// every model step on the way, and the state it ends in.
#[derive(Clone)]
pub struct Leap {
    pub steps: Vec<Action>,
    next: Arc<State>,
}

impl PartialEq for Leap {
    fn eq(&self, other: &Self) -> bool {
        self.steps == other.steps
    }
}

impl Eq for Leap {}

impl Hash for Leap {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.steps.hash(state);
    }
}

impl fmt::Debug for Leap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let steps: Vec<String> = self.steps.iter().map(|a| a.to_string()).collect();
        write!(f, "{}", steps.join("; "))
    }
}

/// [`SwimModel`] stepped a timer instant at a time (see the module docs).
#[derive(Clone)]
pub struct InstantModel {
    pub inner: SwimModel,
    /// Reachability properties met by a state inside an instant, in [`PROPERTIES`] order.
    pub reached: Arc<Vec<AtomicBool>>,
    /// States reached inside instants (each search counts its own, so a state two searches
    /// reach counts twice).
    pub inner_states: Arc<AtomicU64>,
}

impl fmt::Debug for InstantModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstantModel")
            .field("setup", &self.inner.setup)
            .finish()
    }
}

impl InstantModel {
    pub fn new(inner: SwimModel) -> Self {
        InstantModel {
            inner,
            reached: Arc::new(PROPERTIES.iter().map(|_| AtomicBool::new(false)).collect()),
            inner_states: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The reachability properties met inside instants so far.
    pub fn reached_names(&self) -> Vec<&'static str> {
        (PROPERTIES.iter().zip(self.reached.iter()))
            .filter(|(_, r)| r.load(Ordering::Relaxed))
            .map(|(p, _)| p.name)
            .collect()
    }

    /// Every model step of a path of leaps, in order.
    pub fn flatten(leaps: impl IntoIterator<Item = Leap>) -> Vec<Action> {
        leaps.into_iter().flat_map(|l| l.steps).collect()
    }

    /// Whether `s` breaks a safety property; records the reachability properties it meets.
    fn check(&self, s: &State) -> bool {
        let mut broken = false;
        for (p, reached) in PROPERTIES.iter().zip(self.reached.iter()) {
            if !(p.applies)(&self.inner.setup) {
                continue;
            }
            match p.kind {
                Kind::Safety => broken |= !(p.condition)(&self.inner, s),
                Kind::Reachability => {
                    if !reached.load(Ordering::Relaxed) && (p.condition)(&self.inner, s) {
                        reached.store(true, Ordering::Relaxed);
                    }
                }
            }
        }
        broken
    }

    /// The leaps out of `start`: a depth-first search of its interleavings up to the next
    /// timer instants (see [`ends_leap`]).
    fn leaps(&self, start: &State) -> Vec<Leap> {
        // Each explored state: its parent's index and the step from it (the root has none).
        let mut tree: Vec<(usize, Option<Action>)> = vec![(0, None)];
        let path = |tree: &[(usize, Option<Action>)], mut at: usize, last: Action| {
            let mut steps = vec![last];
            while let Some(step) = &tree[at].1 {
                steps.push(step.clone());
                at = tree[at].0;
            }
            steps.reverse();
            steps
        };
        let mut seen: HashSet<u64> = HashSet::new();
        let mut left: HashSet<u64> = HashSet::new();
        let mut stack: Vec<(State, usize)> = vec![(start.clone(), 0)];
        seen.insert(stable_hash(start));
        let mut leaps = Vec::new();
        let mut count = 0;
        while let Some((state, at)) = stack.pop() {
            for input in self.inner.inputs(&state) {
                for (action, next) in self.inner.outcomes(&state, input) {
                    if !self.inner.within_boundary(&next) {
                        continue;
                    }
                    if matches!(action, Action::Advance(_)) && ends_leap(&next) {
                        if left.insert(stable_hash(&next)) {
                            let steps = path(&tree, at, action);
                            leaps.push(Leap {
                                steps,
                                next: Arc::new(next),
                            });
                        }
                        continue;
                    }
                    if !seen.insert(stable_hash(&next)) {
                        continue;
                    }
                    count += 1;
                    if self.check(&next) {
                        // Hand it to the checker, which reports it with its path.
                        let steps = path(&tree, at, action);
                        leaps.push(Leap {
                            steps,
                            next: Arc::new(next),
                        });
                        continue;
                    }
                    tree.push((at, Some(action)));
                    stack.push((next, tree.len() - 1));
                }
            }
        }
        self.inner_states.fetch_add(count, Ordering::Relaxed);
        leaps
    }
}

impl Model for InstantModel {
    type State = State;
    type Action = Leap;

    fn init_states(&self) -> Vec<State> {
        self.inner.init_states()
    }

    fn actions(&self, s: &State, actions: &mut Vec<Leap>) {
        actions.extend(self.leaps(s));
    }

    fn next_state(&self, _: &State, leap: Leap) -> Option<State> {
        Some(Arc::try_unwrap(leap.next).unwrap_or_else(|shared| (*shared).clone()))
    }

    fn format_action(&self, leap: &Leap) -> String {
        format!("{leap:?}")
    }

    fn properties(&self) -> Vec<Property<Self>> {
        // The same predicates, on the states the checker stores (instant starts and broken
        // states); the search inside instants checks the rest.
        (PROPERTIES.iter().zip(CONDITIONS))
            .map(|(p, condition)| match p.kind {
                Kind::Safety => Property::always(p.name, condition),
                Kind::Reachability => Property::sometimes(p.name, condition),
            })
            .collect()
    }

    fn within_boundary(&self, state: &State) -> bool {
        self.inner.within_boundary(state)
    }
}

/// Whether a state the clock has just moved to starts a leap: a timer is due, or nothing is
/// in flight. The clock's one-millisecond moves while datagrams are on their way stay inside
/// the leap, so a leap is a timer instant with the exchanges it sets off.
fn ends_leap(s: &State) -> bool {
    s.net.is_empty() || s.timer_due()
}

/// Property `I` of [`PROPERTIES`] as a function of this model (stateright takes plain `fn`s).
fn condition<const I: usize>(m: &InstantModel, s: &State) -> bool {
    (PROPERTIES[I].condition)(&m.inner, s)
}

type Condition = fn(&InstantModel, &State) -> bool;

const CONDITIONS: [Condition; PROPERTIES.len()] = [
    condition::<0>,
    condition::<1>,
    condition::<2>,
    condition::<3>,
    condition::<4>,
    condition::<5>,
    condition::<6>,
    condition::<7>,
    condition::<8>,
    condition::<9>,
    condition::<10>,
    condition::<11>,
    condition::<12>,
    condition::<13>,
    condition::<14>,
    condition::<15>,
    condition::<16>,
    condition::<17>,
    condition::<18>,
    condition::<19>,
    condition::<20>,
    condition::<21>,
    condition::<22>,
    condition::<23>,
    condition::<24>,
    condition::<25>,
    condition::<26>,
    condition::<27>,
    condition::<28>,
    condition::<29>,
    condition::<30>,
    condition::<31>,
    condition::<32>,
    condition::<33>,
    condition::<34>,
    condition::<35>,
    condition::<36>,
    condition::<37>,
    condition::<38>,
    condition::<39>,
    condition::<40>,
    condition::<41>,
    condition::<42>,
    condition::<43>,
    condition::<44>,
    condition::<45>,
    condition::<46>,
    condition::<47>,
    condition::<48>,
    condition::<49>,
    condition::<50>,
    condition::<51>,
    condition::<52>,
];
