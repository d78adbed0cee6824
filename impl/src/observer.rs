//! Watching a node step by step: the hook for conformance replay and deterministic tests.

use std::net::SocketAddr;

use swim_checked_core::{Command, DecodeError, Effect, Member, Message, Millis, Timer};

/// One input the node task fed to the core.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// The node was created (`Node::start` of the core) as `me`: its id, name, generation,
    /// address and metadata, which a replica needs to start the same way.
    Start {
        /// The node's own record as it started.
        me: &'a Member,
    },
    /// A datagram decoded to `msg`, from the source address `from`.
    Message {
        /// The datagram's source address.
        from: SocketAddr,
        /// What it decoded to.
        msg: &'a Message,
    },
    /// A timer came due.
    Timer(Timer),
    /// A user command; `result` is the core's answer.
    Command {
        /// The command.
        command: &'a Command,
        /// Whether the core accepted it.
        result: &'a Result<(), swim_checked_core::CommandError>,
    },
}

/// One transition of the core as the shell carried it out.
#[derive(Clone, Copy, Debug)]
pub struct Step<'a> {
    /// The time passed to the core.
    pub now: Millis,
    /// What the core was fed.
    pub input: Input<'a>,
    /// The core's effects, in order; by the time the observer sees them, datagrams were handed
    /// to the transport, timers updated and events published.
    pub effects: &'a [Effect],
}

/// Sees every transition of one node, synchronously, on the node task.
///
/// Keep the callbacks short and non-blocking. They run outside the node's lock, so calling the
/// [`Node`](crate::Node) handle's read methods (`members`, `timers`, ...) from them is fine.
pub trait Observer: Send + Sync + 'static {
    /// The core handled one input.
    fn on_step(&self, step: &Step<'_>) {
        let _ = step;
    }

    /// A datagram was dropped before reaching the core.
    fn on_drop(&self, now: Millis, from: SocketAddr, len: usize, error: &DecodeError) {
        let _ = (now, from, len, error);
    }

    /// The task has handled everything that was due and is about to wait for the next datagram,
    /// command or deadline (`None`: no timer armed).
    fn on_idle(&self, now: Millis, next_deadline: Option<Millis>) {
        let _ = (now, next_deadline);
    }
}
