//! The stream of member events of one node.

use std::sync::Arc;

use swim_checked_core::MemberEvent;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// Member events of one node, in the order the core emitted them
/// ([`Node::subscribe`](crate::Node::subscribe)).
///
/// Each subscriber has its own bounded buffer (`Builder::event_capacity`); a subscriber that
/// falls behind skips the oldest events (counted by [`Events::lagged`]) rather than slowing the
/// node. The stream ends (`recv` returns `None`) when the node task stops.
#[derive(Debug)]
pub struct Events {
    rx: broadcast::Receiver<Arc<MemberEvent>>,
    lagged: u64,
}

impl Events {
    pub(crate) fn new(rx: broadcast::Receiver<Arc<MemberEvent>>) -> Self {
        Events { rx, lagged: 0 }
    }

    /// The next event; `None` once the node has stopped and every event was read.
    pub async fn recv(&mut self) -> Option<MemberEvent> {
        loop {
            match self.rx.recv().await {
                Ok(event) => return Some(Arc::unwrap_or_clone(event)),
                Err(RecvError::Lagged(n)) => {
                    self.lagged += n;
                    tracing::warn!(skipped = n, "event subscriber lagged behind");
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<MemberEvent> {
        loop {
            match self.rx.try_recv() {
                Ok(event) => return Some(Arc::unwrap_or_clone(event)),
                Err(TryRecvError::Lagged(n)) => self.lagged += n,
                Err(TryRecvError::Empty | TryRecvError::Closed) => return None,
            }
        }
    }

    /// Events skipped because this subscriber fell behind.
    pub fn lagged(&self) -> u64 {
        self.lagged
    }

    /// The underlying tokio receiver (for `tokio_stream::wrappers::BroadcastStream` and the
    /// like). Events are shared between subscribers, hence the `Arc`.
    pub fn into_inner(self) -> broadcast::Receiver<Arc<MemberEvent>> {
        self.rx
    }
}
