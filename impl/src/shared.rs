//! The state shared by a node's handles and its task.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use swim_checked_core::{MemberEvent, TimerTable};
use tokio::sync::broadcast;

use crate::stats::ShellStats;

/// State shared by the node task and its handles.
pub(crate) struct Shared {
    pub state: Mutex<State>,
    /// Created on the first `subscribe`; taken (closing every stream) when the task stops.
    pub events: Mutex<EventSlot>,
    pub event_capacity: usize,
}

pub(crate) struct EventSlot {
    pub sender: Option<broadcast::Sender<Arc<MemberEvent>>>,
    pub closed: bool,
}

/// What the task changes and the handles read.
pub(crate) struct State {
    pub core: swim_checked_core::Node,
    pub timers: TimerTable,
    pub stats: ShellStats,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn events(&self) -> MutexGuard<'_, EventSlot> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
