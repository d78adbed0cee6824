//! The timers a node owns, and the table a driver keeps of them.
//!
//! The core never waits: it asks its driver to arm ([`Effect::SetTimer`]) or cancel
//! ([`Effect::CancelTimer`]) a timer and expects to be handed [`Timer`] back once its deadline
//! has come. [`TimerTable`] is that bookkeeping, written once for every driver: the library's
//! node task, the model checker and the conformance harness all fold effects into it.

use serde::{Deserialize, Serialize};

use crate::Millis;
use crate::effect::Effect;
use crate::member::NodeId;

/// A timer the node owns. Setting a timer that is already armed moves its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Timer {
    /// Start of the next protocol period.
    Tick,
    /// No direct ack for probe `seq`: time to ask helpers; then each later indirect round.
    ProbeTimeout(u32),
    /// Indirect probe `seq` run for someone else: send the nack, later forget it.
    Relay(u32),
    /// Suspicion of this member expires.
    Suspicion(NodeId),
    /// Next push-pull anti-entropy round.
    Sync,
    /// Retry the join if no seed has answered.
    JoinRetry,
    /// Stop waiting for the `left` record to spread.
    LeaveDone,
    /// Send the next gossip datagrams (armed only while application broadcasts wait).
    Gossip,
}

/// The armed timers of one node, one deadline per [`Timer`].
///
/// Setting an armed timer moves its deadline. Timers due at the same instant fire in
/// `(deadline, timer)` order, so every driver hands a node the same sequence of inputs. Kept as
/// a vector sorted by timer: a node has a handful armed at a time, and the model checker clones
/// and hashes millions of tables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimerTable {
    armed: Vec<(Timer, Millis)>,
}

impl TimerTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Arm `timer` for `at`, moving it if it was armed.
    pub fn set(&mut self, timer: Timer, at: Millis) {
        match self.armed.binary_search_by(|(t, _)| t.cmp(&timer)) {
            Ok(i) => self.armed[i].1 = at,
            Err(i) => self.armed.insert(i, (timer, at)),
        }
    }

    /// Disarm `timer`; returns its deadline if it was armed.
    pub fn cancel(&mut self, timer: Timer) -> Option<Millis> {
        let i = self.armed.binary_search_by(|(t, _)| t.cmp(&timer)).ok()?;
        Some(self.armed.remove(i).1)
    }

    /// Carry out a timer effect; returns whether `effect` was one.
    pub fn apply(&mut self, effect: &Effect) -> bool {
        match *effect {
            Effect::SetTimer { timer, at } => self.set(timer, at),
            Effect::CancelTimer { timer } => {
                self.cancel(timer);
            }
            _ => return false,
        }
        true
    }

    /// The deadline of `timer`, if armed.
    pub fn get(&self, timer: Timer) -> Option<Millis> {
        let i = self.armed.binary_search_by(|(t, _)| t.cmp(&timer)).ok()?;
        Some(self.armed[i].1)
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.armed.iter().map(|&(_, at)| at).min()
    }

    /// The timer that fires next and its deadline: earliest deadline, then timer order.
    pub fn next(&self) -> Option<(Timer, Millis)> {
        self.armed.iter().min_by_key(|&&(t, at)| (at, t)).copied()
    }

    /// Whether some timer is due at `now`.
    pub fn is_due(&self, now: Millis) -> bool {
        self.armed.iter().any(|&(_, at)| at <= now)
    }

    /// Disarm and return the timer that fires next, if it is due at `now`.
    pub fn pop_due(&mut self, now: Millis) -> Option<Timer> {
        let (timer, at) = self.next()?;
        if at > now {
            return None;
        }
        self.cancel(timer);
        Some(timer)
    }

    /// Armed timers with their deadlines, in timer order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (Timer, Millis)> + '_ {
        self.armed.iter().copied()
    }

    /// How many timers are armed.
    pub fn len(&self) -> usize {
        self.armed.len()
    }

    /// Whether no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.armed.is_empty()
    }

    /// Disarm every timer.
    pub fn clear(&mut self) {
        self.armed.clear();
    }
}

impl FromIterator<(Timer, Millis)> for TimerTable {
    fn from_iter<I: IntoIterator<Item = (Timer, Millis)>>(iter: I) -> Self {
        let mut table = TimerTable::new();
        for (timer, at) in iter {
            table.set(timer, at);
        }
        table
    }
}

/// The timers a sequence of effects leaves armed, each carried out in order.
impl<'a> FromIterator<&'a Effect> for TimerTable {
    fn from_iter<I: IntoIterator<Item = &'a Effect>>(effects: I) -> Self {
        let mut table = TimerTable::new();
        for effect in effects {
            table.apply(effect);
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_moves_and_due_timers_pop_in_deadline_then_timer_order() {
        let mut t = TimerTable::new();
        t.set(Timer::Sync, 100);
        t.set(Timer::Suspicion(NodeId(2)), 50);
        t.set(Timer::Tick, 50);
        t.set(Timer::Sync, 30);
        assert_eq!(t.len(), 3);
        assert!(!t.is_empty());
        assert_eq!(t.next_deadline(), Some(30));
        assert_eq!(t.pop_due(20), None);
        assert_eq!(t.pop_due(60), Some(Timer::Sync));
        assert_eq!(t.pop_due(60), Some(Timer::Tick));
        assert_eq!(t.pop_due(60), Some(Timer::Suspicion(NodeId(2))));
        assert_eq!(t.pop_due(60), None);
        assert!(t.is_empty());
    }

    #[test]
    fn effects_fold_in_and_other_effects_are_left_alone() {
        let mut t = TimerTable::new();
        assert!(t.apply(&Effect::SetTimer {
            timer: Timer::JoinRetry,
            at: 10
        }));
        assert_eq!(t.get(Timer::JoinRetry), Some(10));
        assert!(t.apply(&Effect::CancelTimer {
            timer: Timer::JoinRetry
        }));
        assert_eq!(t.get(Timer::JoinRetry), None);
        assert!(!t.is_due(u64::MAX));
        assert_eq!(t.cancel(Timer::Tick), None);
    }
}
