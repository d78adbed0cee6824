//! Time, injectable: the node task reads `now` from a [`Clock`] and sleeps until its next
//! deadline through it.
//!
//! Production uses [`TokioClock`] (tokio's time, so `tokio::time::pause` works too). Tests and
//! the conformance harness use [`ManualClock`]: time stands still until the test advances it, and
//! advancing it wakes every node task whose next deadline has come.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use swim_checked_core::Millis;
use tokio::sync::watch;

/// A future that completes at a deadline of a [`Clock`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The source of time of one node.
///
/// `now` is in milliseconds on the clock's own scale (the core only compares and adds them);
/// it must never go backwards. `sleep_until(d)` completes once `now() >= d`. The node task asks
/// for a new sleep only when its next deadline changes, and drops it once it completed.
pub trait Clock: Send + Sync + 'static {
    /// The current time, in milliseconds.
    fn now(&self) -> Millis;
    /// A future that completes once [`Clock::now`] has reached `deadline`.
    fn sleep_until(&self, deadline: Millis) -> Sleep;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Millis {
        (**self).now()
    }
    fn sleep_until(&self, deadline: Millis) -> Sleep {
        (**self).sleep_until(deadline)
    }
}

/// tokio's clock, counted in milliseconds from the moment it was created (the default).
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock whose time 0 is now.
    pub fn new() -> Self {
        TokioClock {
            origin: tokio::time::Instant::now(),
        }
    }

    /// The instant of time 0.
    pub fn origin(&self) -> tokio::time::Instant {
        self.origin
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Millis {
        self.origin.elapsed().as_millis() as Millis
    }

    fn sleep_until(&self, deadline: Millis) -> Sleep {
        Box::pin(tokio::time::sleep_until(
            self.origin + Duration::from_millis(deadline),
        ))
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it): a restarted process's
/// generation, above its previous one's unless the clock went back.
pub(crate) fn wall_clock_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The system's wall clock, in milliseconds since the Unix epoch, never going backwards.
///
/// For recordings of runs across processes: processes on one host (network namespaces share
/// its clock) read the same time, so a datagram's receipt is never stamped before its send.
/// Each reading is the system clock's own (not an offset of a monotonic one, which would
/// disagree with another process's by a millisecond now and then). Should the system clock
/// step back, time stands still until it caught up.
#[derive(Debug, Default)]
pub struct WallClock {
    /// The latest time read: `now` never returns less.
    last: AtomicU64,
}

impl WallClock {
    /// The system's wall clock.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Clock for WallClock {
    fn now(&self) -> Millis {
        let read = wall_clock_millis();
        self.last.fetch_max(read, Ordering::Relaxed).max(read)
    }

    fn sleep_until(&self, deadline: Millis) -> Sleep {
        Box::pin(async move {
            // Slept in steps of tokio's clock until the wall clock says so.
            loop {
                let now = wall_clock_millis();
                if now >= deadline {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(deadline - now)).await;
            }
        })
    }
}

/// A clock that moves only when told to. Clones share the same time.
///
/// Advancing it wakes every node task sleeping on it; each one then handles the timers that came
/// due (and any datagrams waiting in its socket first). Pair it with an
/// [`Observer`](crate::harness::Observer) to know when a node has finished reacting.
///
/// ```
/// use swim_checked::harness::{Clock, ManualClock};
/// let clock = ManualClock::new(0);
/// clock.advance(250);
/// assert_eq!(clock.now(), 250);
/// clock.set(1_000);
/// assert_eq!(clock.now(), 1_000);
/// ```
#[derive(Clone)]
pub struct ManualClock {
    time: Arc<watch::Sender<Millis>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Millis) -> Self {
        ManualClock {
            time: Arc::new(watch::Sender::new(start)),
        }
    }

    /// Move time forward by `by` milliseconds; returns the new time.
    pub fn advance(&self, by: Millis) -> Millis {
        let mut now = 0;
        self.time.send_modify(|t| {
            *t = t.saturating_add(by);
            now = *t;
        });
        now
    }

    /// Move time forward to `to` (never backwards: an earlier `to` is ignored).
    pub fn set(&self, to: Millis) {
        self.time.send_if_modified(|t| {
            if to > *t {
                *t = to;
                true
            } else {
                false
            }
        });
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &*self.time.borrow())
            .finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        *self.time.borrow()
    }

    fn sleep_until(&self, deadline: Millis) -> Sleep {
        let mut rx = self.time.subscribe();
        Box::pin(async move {
            if rx.wait_for(|&t| t >= deadline).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_wall_clock_reads_the_system_clock_and_sleeps_until_it_says_so() {
        let clock = WallClock::new();
        let before = wall_clock_millis();
        let now = clock.now();
        assert!(now >= before && now <= wall_clock_millis(), "{now}");
        // Never backwards, even if the system clock stepped back.
        clock.last.store(now + 60_000, Ordering::Relaxed);
        assert_eq!(clock.now(), now + 60_000);
        clock.last.store(0, Ordering::Relaxed);

        let deadline = clock.now() + 30;
        clock.sleep_until(deadline).await;
        assert!(clock.now() >= deadline);
    }
}
