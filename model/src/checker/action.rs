//! The steps of the model: one input to one node or one move of the environment
//! ([`Action`]), and the [`Transition`] stateright sees (the action with the state it leads to).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use swim_checked_core::{Millis, Timer};

use super::report;
use super::state::{Datagram, State};
use super::trace::{Outsider, UserCommand};

/// The sequence of outcomes the core's [`Pick`](swim_checked_core::Pick)s received during one step.
pub type Picks = Vec<u8>;

/// One step of the model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Hand a datagram to its destination.
    Deliver(Arc<Datagram>, Picks),
    /// Fire a due timer of node `i`.
    Fire(usize, Timer, Picks),
    /// Let a paused node run again.
    Resume(usize),
    /// Move the clock to the next deadline.
    Advance(Millis),
    /// Lose a datagram.
    Drop(Arc<Datagram>),
    /// Deliver a datagram twice (one more copy in flight).
    Duplicate(Arc<Datagram>),
    /// Deliver again a datagram sent earlier in the run (from [`State::history`]): one more
    /// copy in flight, arriving one millisecond later like any datagram sent now.
    Replay(Arc<Datagram>),
    /// Node `i` stops.
    Crash(usize),
    /// Crashed node `i` starts again at its second address and its next generation.
    Restart(usize),
    /// Node `i` stops taking steps for a while.
    Pause(usize),
    /// The application of node `i` asks something.
    Command(usize, UserCommand, Picks),
    /// A datagram the shell of its destination must drop (only in corpus traces: the core
    /// never sees it, so the model takes no step).
    Outsider(Arc<Datagram>, Outsider),
}

impl Action {
    /// The node that takes the step (none for the clock).
    pub fn node(&self) -> Option<usize> {
        match self {
            Action::Deliver(d, _)
            | Action::Drop(d)
            | Action::Duplicate(d)
            | Action::Replay(d)
            | Action::Outsider(d, _) => Some(d.to),
            Action::Fire(i, ..)
            | Action::Resume(i)
            | Action::Crash(i)
            | Action::Restart(i)
            | Action::Pause(i)
            | Action::Command(i, ..) => Some(*i),
            Action::Advance(_) => None,
        }
    }

    /// Whether a node takes this step (and may make random picks).
    pub fn is_node_input(&self) -> bool {
        matches!(
            self,
            Action::Deliver(..) | Action::Fire(..) | Action::Command(..)
        )
    }

    pub(crate) fn picks(&self) -> &[u8] {
        match self {
            Action::Deliver(_, p) | Action::Fire(_, _, p) | Action::Command(_, _, p) => p,
            _ => &[],
        }
    }

    pub(crate) fn with_picks(&self, picks: Picks) -> Action {
        match self {
            Action::Deliver(d, _) => Action::Deliver(d.clone(), picks),
            Action::Fire(i, t, _) => Action::Fire(*i, *t, picks),
            Action::Command(i, c, _) => Action::Command(*i, c.clone(), picks),
            other => other.clone(),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let picks = |p: &[u8]| {
            if p.is_empty() {
                String::new()
            } else {
                format!(" picks {p:?}")
            }
        };
        match self {
            Action::Deliver(d, p) => write!(
                f,
                "deliver {} n{}->n{}{}",
                report::message(&d.msg),
                d.from + 1,
                d.to + 1,
                picks(p)
            ),
            Action::Fire(i, t, p) => {
                write!(f, "n{} timer {}{}", i + 1, report::timer(*t), picks(p))
            }
            Action::Resume(i) => write!(f, "resume n{}", i + 1),
            Action::Advance(t) => write!(f, "advance clock to {t} ms"),
            Action::Drop(d) => write!(
                f,
                "drop {} n{}->n{}",
                report::message(&d.msg),
                d.from + 1,
                d.to + 1
            ),
            Action::Duplicate(d) => write!(
                f,
                "duplicate {} n{}->n{}",
                report::message(&d.msg),
                d.from + 1,
                d.to + 1
            ),
            Action::Replay(d) => write!(
                f,
                "replay {} n{}->n{}",
                report::message(&d.msg),
                d.from + 1,
                d.to + 1
            ),
            Action::Crash(i) => write!(f, "crash n{}", i + 1),
            Action::Restart(i) => write!(f, "restart n{} at its second address", i + 1),
            Action::Pause(i) => write!(f, "pause n{}", i + 1),
            Action::Command(i, c, p) => write!(f, "n{} command {c}{}", i + 1, picks(p)),
            Action::Outsider(d, kind) => write!(
                f,
                "outsider ({}) {} n{}->n{}",
                kind.name(),
                report::message(&d.msg),
                d.from + 1,
                d.to + 1
            ),
        }
    }
}

/// An action together with the state it leads to. `actions()` has to run every node input
/// anyway (to learn which random picks it asks for), so it keeps the result for `next_state`.
/// Equality, hashing and printing look at the action only.
#[derive(Clone)]
pub struct Transition {
    pub action: Action,
    pub(crate) next: Option<Arc<State>>,
}

impl Transition {
    /// An action whose next state `next_state` will compute.
    pub fn new(action: Action) -> Self {
        Transition { action, next: None }
    }
}

impl PartialEq for Transition {
    fn eq(&self, other: &Self) -> bool {
        self.action == other.action
    }
}

impl Eq for Transition {}

impl Hash for Transition {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.action.hash(state);
    }
}

impl fmt::Debug for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.action.fmt(f)
    }
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.action.fmt(f)
    }
}
