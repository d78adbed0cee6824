//! The state shared by a node's handles and its task.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use swim_checked_core::{MemberEvent, TimerTable, UserMessage};
use tokio::sync::{broadcast, watch};

use crate::seal::KeyState;
use crate::stats::{IoCounters, ShellStats};
use crate::view::View;

/// State shared by the node task and its handles.
pub(crate) struct Shared {
    /// Everything a step of the task changes, behind the one lock a step takes.
    pub state: Mutex<State>,
    /// What the task counts after a step, once it released the lock: datagrams sent and receive
    /// errors.
    pub io: IoCounters,
    /// The keys and encryption mode, changed by handles, read by the task.
    pub keys: Arc<KeyState>,
    pub event_capacity: usize,
}

/// A channel to subscribers: created on the first subscription; taken (closing every stream)
/// when the task stops.
pub(crate) struct EventSlot<T> {
    pub sender: Option<broadcast::Sender<Arc<T>>>,
    pub closed: bool,
}

impl<T> Default for EventSlot<T> {
    fn default() -> Self {
        EventSlot {
            sender: None,
            closed: false,
        }
    }
}

impl<T> EventSlot<T> {
    /// A new receiver (one that ends at once if the task has stopped).
    pub fn subscribe(&mut self, capacity: usize) -> broadcast::Receiver<Arc<T>> {
        if self.closed {
            return broadcast::channel(1).1;
        }
        self.sender
            .get_or_insert_with(|| broadcast::channel(capacity).0)
            .subscribe()
    }

    /// The sender, if anyone subscribed.
    pub fn live(&self) -> Option<broadcast::Sender<Arc<T>>> {
        self.sender.clone().filter(|s| s.receiver_count() > 0)
    }

    /// Close every stream.
    pub fn close(&mut self) {
        self.closed = true;
        self.sender = None;
    }
}

/// What the task changes and the handles read.
pub(crate) struct State {
    pub core: swim_checked_core::Node,
    pub timers: TimerTable,
    pub stats: ShellStats,
    pub events: EventSlot<MemberEvent>,
    pub messages: EventSlot<UserMessage>,
    /// The view as last published to watchers (kept current only while someone watches).
    pub view: watch::Sender<View>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::broadcast::error::TryRecvError;

    use super::EventSlot;

    /// Events are built for a channel only while someone holds a receiver of it.
    #[test]
    fn a_slot_is_live_only_while_someone_listens() {
        let mut slot = EventSlot::<u32>::default();
        assert!(slot.live().is_none(), "nobody subscribed yet");
        let first = slot.subscribe(4);
        let second = slot.subscribe(4);
        assert!(slot.live().is_some());
        drop(first);
        assert!(slot.live().is_some(), "one receiver is left");
        drop(second);
        assert!(slot.live().is_none(), "every receiver is gone");
        let mut late = slot.subscribe(4);
        assert!(
            slot.live().is_some(),
            "a new subscriber makes it live again"
        );
        slot.close();
        assert!(slot.live().is_none());
        assert_eq!(
            late.try_recv(),
            Err(TryRecvError::Closed),
            "closing ends every stream"
        );
    }
}
