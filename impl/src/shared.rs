//! The state shared by a node's handles and its task.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use swim_checked_core::{MemberEvent, TimerTable};
use tokio::sync::broadcast;

use crate::seal::KeyState;
use crate::stats::{IoCounters, ShellStats};

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

/// The event channel: created on the first `subscribe`; taken (closing every stream) when the
/// task stops.
pub(crate) struct EventSlot {
    pub sender: Option<broadcast::Sender<Arc<MemberEvent>>>,
    pub closed: bool,
}

/// What the task changes and the handles read.
pub(crate) struct State {
    pub core: swim_checked_core::Node,
    pub timers: TimerTable,
    pub stats: ShellStats,
    pub events: EventSlot,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
