//! The streams a node publishes: member events and application messages.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use swim_checked_core::{MemberEvent, UserMessage};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

type Wait<T> =
    Pin<Box<dyn Future<Output = (Result<Arc<T>, RecvError>, broadcast::Receiver<Arc<T>>)> + Send>>;

/// One subscriber's end of a bounded broadcast channel, as a stream: a subscriber that falls
/// behind skips the oldest items (counted) rather than slowing the node.
struct Feed<T> {
    /// The receiver, or the wait for its next item that holds it.
    rx: Option<broadcast::Receiver<Arc<T>>>,
    wait: Option<Wait<T>>,
    lagged: u64,
    what: &'static str,
}

impl<T: Clone + Send + Sync + 'static> Feed<T> {
    fn new(rx: broadcast::Receiver<Arc<T>>, what: &'static str) -> Self {
        Feed {
            rx: Some(rx),
            wait: None,
            lagged: 0,
            what,
        }
    }

    fn lag(&mut self, n: u64) {
        self.lagged += n;
        tracing::warn!(skipped = n, "{} subscriber lagged behind", self.what);
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        loop {
            if let Some(wait) = &mut self.wait {
                let (got, rx) = std::task::ready!(wait.as_mut().poll(cx));
                self.wait = None;
                self.rx = Some(rx);
                match got {
                    Ok(item) => return Poll::Ready(Some(Arc::unwrap_or_clone(item))),
                    Err(RecvError::Lagged(n)) => self.lag(n),
                    Err(RecvError::Closed) => return Poll::Ready(None),
                }
            }
            let Some(rx) = self.rx.as_mut() else {
                return Poll::Ready(None);
            };
            match rx.try_recv() {
                Ok(item) => return Poll::Ready(Some(Arc::unwrap_or_clone(item))),
                Err(TryRecvError::Lagged(n)) => self.lag(n),
                Err(TryRecvError::Closed) => return Poll::Ready(None),
                Err(TryRecvError::Empty) => {
                    let mut rx = self.rx.take().expect("checked above");
                    self.wait = Some(Box::pin(async move { (rx.recv().await, rx) }));
                }
            }
        }
    }

    fn try_next(&mut self) -> Option<T> {
        match self.poll_next(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(item) => item,
            Poll::Pending => None,
        }
    }
}

macro_rules! stream {
    ($(#[$doc:meta])* $name:ident, $item:ty, $what:literal) => {
        $(#[$doc])*
        pub struct $name(Feed<$item>);

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).field("lagged", &self.0.lagged).finish()
            }
        }

        impl $name {
            pub(crate) fn new(rx: broadcast::Receiver<Arc<$item>>) -> Self {
                $name(Feed::new(rx, $what))
            }

            /// The next item; `None` once the node has stopped and every item was read.
            pub async fn recv(&mut self) -> Option<$item> {
                std::future::poll_fn(|cx| self.0.poll_next(cx)).await
            }

            /// The next item if one is waiting.
            pub fn try_recv(&mut self) -> Option<$item> {
                self.0.try_next()
            }

            /// Items skipped because this subscriber fell behind.
            pub fn lagged(&self) -> u64 {
                self.0.lagged
            }
        }

        impl Stream for $name {
            type Item = $item;

            fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<$item>> {
                self.get_mut().0.poll_next(cx)
            }
        }
    };
}

stream! {
    /// Member events of one node, in the order the core emitted them
    /// ([`Node::subscribe`](crate::Node::subscribe)); a [`Stream`](futures_core::Stream).
    ///
    /// Each subscriber has its own bounded buffer (`Builder::event_capacity`); a subscriber
    /// that falls behind skips the oldest events (counted by [`Events::lagged`]) rather than
    /// slowing the node. The stream ends when the node task stops.
    Events, MemberEvent, "event"
}

stream! {
    /// Application data received by one node, broadcasts and direct messages, in the order
    /// they arrived ([`Node::messages`](crate::Node::messages)); a
    /// [`Stream`](futures_core::Stream).
    ///
    /// Each subscriber has its own bounded buffer (`Builder::event_capacity`); a subscriber
    /// that falls behind skips the oldest messages (counted by [`Messages::lagged`]). Messages
    /// that arrive while nobody subscribed are not kept. The stream ends when the node task
    /// stops.
    Messages, UserMessage, "message"
}
