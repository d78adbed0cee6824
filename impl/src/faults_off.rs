//! The fault hooks of a correct shell: every method is the identity or a constant, so the node
//! task's calls compile to nothing. Built without `--cfg swim_faults`; with it, `faults.rs` is
//! compiled instead, with the same crate-private [`Hooks`] API.

use std::borrow::Cow;

use swim_checked_core::{DecodeError, MemberEvent, Message, Millis, Timer, TimerTable, Wire};

/// The hooks of a node task: none of them changes anything.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Hooks;

impl Hooks {
    /// The hooks of a correct shell.
    #[inline(always)]
    pub fn correct() -> Self {
        Hooks
    }

    /// The same hooks for a node with this configuration.
    #[inline(always)]
    pub fn configured(self, _config: &swim_checked_core::Config) -> Self {
        self
    }

    /// Give the node's core its deliberate bugs: none.
    #[inline(always)]
    pub fn break_core(&self, _core: &mut swim_checked_core::Node) {}

    /// The deadline the timer map stores for `SetTimer { timer, at }`: `at`.
    #[inline(always)]
    pub fn deadline(&self, _timer: Timer, at: Millis, _now: impl FnOnce() -> Millis) -> Millis {
        at
    }

    /// Whether the timer map carries out a cancel: always.
    #[inline(always)]
    pub fn cancels(&self) -> bool {
        true
    }

    /// The timer that fires next, if due: (deadline, timer) order.
    #[inline(always)]
    pub fn pop_due(&self, timers: &mut TimerTable, now: Millis) -> Option<Timer> {
        timers.pop_due(now)
    }

    /// Whether the event is published: always.
    #[inline(always)]
    pub fn publishes(&self, _event: &MemberEvent) -> bool {
        true
    }

    /// Whether each received datagram is handed to the core twice: never.
    #[inline(always)]
    pub fn applies_twice(&self) -> bool {
        false
    }

    /// The message put on the wire: `msg` itself.
    #[inline(always)]
    pub fn outgoing<'m>(&self, msg: &'m Message) -> Option<Cow<'m, Message>> {
        Some(Cow::Borrowed(msg))
    }

    /// What the shell makes of a received datagram: what the codec made of it.
    #[inline(always)]
    pub fn decoded(
        &self,
        decoded: Result<Message, DecodeError>,
        _wire: &Wire,
        _bytes: &[u8],
    ) -> Result<Message, DecodeError> {
        decoded
    }
}
