//! The shell's timer map: one deadline per [`Timer`]; setting an armed timer moves it.

use std::collections::{BTreeMap, BTreeSet};

use swim_checked_core::{Millis, Timer};

#[derive(Clone, Debug, Default)]
pub(crate) struct Timers {
    by_timer: BTreeMap<Timer, Millis>,
    by_deadline: BTreeSet<(Millis, Timer)>,
}

impl Timers {
    pub fn set(&mut self, timer: Timer, at: Millis) {
        if let Some(old) = self.by_timer.insert(timer, at) {
            self.by_deadline.remove(&(old, timer));
        }
        self.by_deadline.insert((at, timer));
    }

    pub fn cancel(&mut self, timer: Timer) {
        if let Some(old) = self.by_timer.remove(&timer) {
            self.by_deadline.remove(&(old, timer));
        }
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Millis> {
        self.by_deadline.first().map(|&(at, _)| at)
    }

    /// Remove and return the earliest timer due at `now`.
    pub fn pop_due(&mut self, now: Millis) -> Option<Timer> {
        let &(at, timer) = self.by_deadline.first()?;
        if at > now {
            return None;
        }
        self.by_deadline.pop_first();
        self.by_timer.remove(&timer);
        Some(timer)
    }

    /// Remove and return the latest timer among those of the earliest deadline, if due (a
    /// broken shell: timers due together fire in reverse order).
    #[cfg(swim_faults)]
    pub fn pop_due_reversed(&mut self, now: Millis) -> Option<Timer> {
        let &(at, _) = self.by_deadline.first()?;
        if at > now {
            return None;
        }
        let &(at, timer) = self
            .by_deadline
            .range(..(at.saturating_add(1), Timer::Tick))
            .next_back()?;
        self.by_deadline.remove(&(at, timer));
        self.by_timer.remove(&timer);
        Some(timer)
    }

    /// Armed timers, earliest first.
    pub fn iter(&self) -> impl Iterator<Item = (Timer, Millis)> + '_ {
        self.by_deadline.iter().map(|&(at, t)| (t, at))
    }

    pub fn get(&self, timer: Timer) -> Option<Millis> {
        self.by_timer.get(&timer).copied()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_timer.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replaces_and_pops_in_deadline_order() {
        let mut t = Timers::default();
        t.set(Timer::Tick, 100);
        t.set(Timer::Sync, 50);
        t.set(Timer::Tick, 30);
        assert_eq!(t.len(), 2);
        assert_eq!(t.next(), Some(30));
        assert_eq!(t.pop_due(20), None);
        assert_eq!(t.pop_due(60), Some(Timer::Tick));
        assert_eq!(t.pop_due(60), Some(Timer::Sync));
        assert_eq!(t.pop_due(60), None);
        t.set(Timer::JoinRetry, 10);
        t.cancel(Timer::JoinRetry);
        assert_eq!(t.next(), None);
    }
}
