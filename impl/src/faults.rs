//! Deliberately broken shells, for the conformance harness's own tests.
//!
//! Compiled only with `--cfg swim_faults` (`RUSTFLAGS="--cfg swim_faults"`), which nothing sets
//! but the tests of the `conformance` package; without it the node task's hooks are no-ops. Each [`ShellFault`] is one wrong rule of the shell (encoding, the timer
//! map, events, decoding), never of the core; a node runs with at most one, chosen through
//! [`Builder::fault`](crate::Builder::fault), so nodes of one process do not share any global.
//! The conformance replay must notice every one of them (`conformance/tests/faults.rs`).
//! A node can also run a deliberately broken core
//! ([`Builder::core_faults`](crate::Builder::core_faults)), to replay what a broken core did
//! elsewhere (a simulator counterexample) step for step.

use std::borrow::Cow;

use swim_checked_core::{
    Body, DecodeError, Member, MemberEvent, Message, Meta, Millis, Status, Timer, TimerTable, Wire,
};

/// One wrong rule of the shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ShellFault {
    /// Acks go out with the sequence number plus one.
    AckWrongSeq,
    /// The encoder leaves out the piggybacked gossip.
    PiggybackDropped,
    /// The probe tick is armed one base interval after now, ignoring the core's deadline (which
    /// Lifeguard's local health multiplier scales).
    UnscaledTick,
    /// Events about a member becoming suspect are not published.
    SuspectEventMissing,
    /// Nacks are never sent.
    NackNeverSent,
    /// Every received datagram is handed to the core twice.
    DatagramAppliedTwice,
    /// The encoder drops the last metadata entry of every member record it carries.
    MetadataTruncated,
    /// Cancelled timers stay armed in the timer map.
    CancelIgnored,
    /// Timers due at the same time fire in reverse order.
    DueTimersReversed,
    /// Datagrams of another cluster (another label) are accepted.
    LabelUnchecked,
    /// Every timer is armed one millisecond after the core's deadline.
    DeadlineLate,
    /// Datagrams in the clear are accepted where only sealed ones are (`Encryption::Require`).
    PlaintextAccepted,
}

impl ShellFault {
    /// Every fault, in declaration order.
    pub const ALL: [ShellFault; 12] = [
        ShellFault::AckWrongSeq,
        ShellFault::PiggybackDropped,
        ShellFault::UnscaledTick,
        ShellFault::SuspectEventMissing,
        ShellFault::NackNeverSent,
        ShellFault::DatagramAppliedTwice,
        ShellFault::MetadataTruncated,
        ShellFault::CancelIgnored,
        ShellFault::DueTimersReversed,
        ShellFault::LabelUnchecked,
        ShellFault::DeadlineLate,
        ShellFault::PlaintextAccepted,
    ];

    /// Whether the fault shows only where datagrams are sealed.
    pub fn needs_keys(self) -> bool {
        self == ShellFault::PlaintextAccepted
    }
}

/// The fault a node task runs with, and what its hooks need to know.
#[derive(Clone, Debug, Default)]
pub(crate) struct Hooks {
    fault: Option<ShellFault>,
    /// The core's deliberate bugs.
    core: swim_checked_core::faults::Faults,
    config: Option<swim_checked_core::Config>,
    interval: Millis,
}

impl Hooks {
    /// The hooks of a correct shell (no fault).
    pub fn correct() -> Self {
        Hooks::default()
    }

    /// The hooks of a shell broken by `fault`, once the node's configuration is known
    /// ([`Hooks::configured`]).
    pub fn broken(self, fault: ShellFault) -> Self {
        Hooks {
            fault: Some(fault),
            ..self
        }
    }

    /// The same hooks, the core run with `faults`.
    pub fn core_broken(self, faults: swim_checked_core::faults::Faults) -> Self {
        Hooks {
            core: faults,
            ..self
        }
    }

    /// Give the node's core its deliberate bugs (before its first input).
    pub fn break_core(&self, core: &mut swim_checked_core::Node) {
        core.set_faults(self.core);
    }

    /// The same hooks for a node with `config` (checked: the node is starting).
    pub fn configured(self, config: &swim_checked_core::Config) -> Self {
        Hooks {
            config: Some(config.clone()),
            interval: config.probe_interval,
            ..self
        }
    }

    /// The deadline the timer map stores for `SetTimer { timer, at }` at time `now()`.
    pub fn deadline(&self, timer: Timer, at: Millis, now: impl FnOnce() -> Millis) -> Millis {
        match self.fault {
            Some(ShellFault::UnscaledTick) if timer == Timer::Tick => now() + self.interval,
            Some(ShellFault::DeadlineLate) => at + 1,
            _ => at,
        }
    }

    /// Whether the timer map carries out a cancel.
    pub fn cancels(&self) -> bool {
        self.fault != Some(ShellFault::CancelIgnored)
    }

    /// The timer that fires next, if due: (deadline, timer) order, or latest first among those
    /// of the earliest deadline.
    pub fn pop_due(&self, timers: &mut TimerTable, now: Millis) -> Option<Timer> {
        if self.fault == Some(ShellFault::DueTimersReversed) {
            pop_due_reversed(timers, now)
        } else {
            timers.pop_due(now)
        }
    }

    /// Whether the event is published.
    pub fn publishes(&self, event: &MemberEvent) -> bool {
        !(self.fault == Some(ShellFault::SuspectEventMissing) && event.to == Status::Suspect)
    }

    /// Whether each received datagram is handed to the core twice.
    pub fn applies_twice(&self) -> bool {
        self.fault == Some(ShellFault::DatagramAppliedTwice)
    }

    /// The message the broken encoder puts on the wire instead of `msg` (`None`: nothing).
    pub fn outgoing<'m>(&self, msg: &'m Message) -> Option<Cow<'m, Message>> {
        let mut msg = msg.clone();
        match self.fault {
            Some(ShellFault::AckWrongSeq) => {
                if let Body::Ack { seq } = &mut msg.body {
                    *seq = seq.wrapping_add(1);
                }
            }
            Some(ShellFault::PiggybackDropped) => msg.gossip.clear(),
            Some(ShellFault::NackNeverSent) if matches!(msg.body, Body::Nack { .. }) => {
                return None;
            }
            Some(ShellFault::MetadataTruncated) => {
                msg.gossip.iter_mut().for_each(truncate_meta);
                if let Body::Sync { members, .. } = &mut msg.body {
                    members.iter_mut().for_each(truncate_meta);
                }
            }
            _ => {}
        }
        Some(Cow::Owned(msg))
    }

    /// What a shell that skips the label check makes of a datagram whose label did not match:
    /// `bytes` decoded (in the clear) under the label their header carries, as if it were ours.
    /// A shell that skips the mode check decodes a refused plaintext datagram all the same.
    pub fn decoded(
        &self,
        decoded: Result<Message, DecodeError>,
        wire: &Wire,
        bytes: &[u8],
    ) -> Result<Message, DecodeError> {
        match decoded {
            Err(DecodeError::PlaintextRefused)
                if self.fault == Some(ShellFault::PlaintextAccepted) =>
            {
                wire.decode(bytes)
            }
            Err(DecodeError::LabelMismatch) if self.fault == Some(ShellFault::LabelUnchecked) => {
                let theirs = bytes.get(3).map_or(0, |&l| l as usize);
                let Some(label) = bytes.get(4..4 + theirs) else {
                    return Err(DecodeError::LabelMismatch);
                };
                let (Ok(label), Some(config)) = (std::str::from_utf8(label), &self.config) else {
                    return Err(DecodeError::LabelMismatch);
                };
                let config = swim_checked_core::Config {
                    label: label.to_owned(),
                    ..config.clone()
                };
                Wire::new(&config).decode(bytes)
            }
            other => other,
        }
    }
}

/// Disarm and return the latest timer among those of the earliest deadline, if due (timers due
/// together fire in reverse order).
fn pop_due_reversed(timers: &mut TimerTable, now: Millis) -> Option<Timer> {
    let at = timers.next_deadline().filter(|&at| at <= now)?;
    let timer = timers
        .iter()
        .filter(|&(_, deadline)| deadline == at)
        .map(|(timer, _)| timer)
        .max()?;
    timers.cancel(timer);
    Some(timer)
}

fn truncate_meta(member: &mut Member) {
    let mut pairs: Vec<(&str, &str)> = member.meta.iter().collect();
    pairs.pop();
    member.meta = Meta::from_pairs(pairs);
}
