//! The event queue: what happens next, in simulated time (microseconds), ties broken by the
//! order events were scheduled, so a run never depends on heap internals.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use swim_checked_core::{Message, Millis, Timer};

/// Something due at an instant.
#[derive(Clone, Debug)]
pub enum Due {
    /// A datagram reaches member `to` (sent from member `from`).
    Deliver {
        from: u32,
        to: u32,
        msg: Box<Message>,
        /// Already held back once by a slow member: hand it over now.
        deferred: bool,
    },
    /// Timer `timer` of member `node` in its life `life`, set for `at` on the member's clock.
    Timer {
        node: u32,
        life: u32,
        timer: Timer,
        at: Millis,
        deferred: bool,
    },
    /// The scenario's timeline entry `index`.
    Scenario { index: usize },
    /// The end of a temporary fault started by timeline entry `index`.
    Lift { index: usize },
    /// A periodic look at the whole cluster (progress, convergence after a heal).
    Sample,
    /// Member `node` rejoins under a new id after being declared dead.
    Rejoin { node: u32 },
}

struct Entry {
    at: u64,
    seq: u64,
    due: Due,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed: the heap pops the earliest, then the first scheduled.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Events by time, first scheduled first among equals.
#[derive(Default)]
pub struct EventQueue {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl std::fmt::Debug for EventQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EventQueue({} pending)", self.heap.len())
    }
}

impl EventQueue {
    pub fn push(&mut self, at: u64, due: Due) {
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            due,
        });
    }

    /// The earliest event, if any.
    pub fn pop(&mut self) -> Option<(u64, Due)> {
        self.heap.pop().map(|e| (e.at, e.due))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_first_scheduled() {
        let mut q = EventQueue::default();
        q.push(5, Due::Scenario { index: 0 });
        q.push(3, Due::Scenario { index: 1 });
        q.push(5, Due::Scenario { index: 2 });
        let order: Vec<usize> = std::iter::from_fn(|| q.pop())
            .map(|(_, d)| match d {
                Due::Scenario { index } => index,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(order, vec![1, 0, 2]);
    }
}
