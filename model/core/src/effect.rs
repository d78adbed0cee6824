//! What a node asks its shell to do: send, arm or cancel timers, report events.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::Millis;
use crate::member::Member;
use crate::message::Message;
use crate::status::Status;
use crate::timer::Timer;
use crate::user::UserMessage;

/// One output of a transition, to be carried out by the shell in order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Effect {
    /// Send `msg` in one datagram to `to`.
    Send {
        /// Destination address.
        to: SocketAddr,
        /// The message, to encode with [`crate::Wire`].
        msg: Message,
    },
    /// Arm `timer` (moving it if armed) to be handed back at `at`.
    SetTimer {
        /// Which timer.
        timer: Timer,
        /// Its deadline on the caller's clock.
        at: Millis,
    },
    /// Disarm `timer` if armed.
    CancelTimer {
        /// Which timer.
        timer: Timer,
    },
    /// Report a change in the view to the application.
    Event(MemberEvent),
    /// Hand application data (a broadcast seen for the first time, or a direct message) to
    /// the application.
    Deliver(UserMessage),
}

/// A change in the local view of one member. Changes about the node itself are reported too:
/// `to: Dead` when the cluster declared it dead (and it stopped), `to: Left` when its own leave
/// completed, a restart when it rejoined by itself at a new generation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MemberEvent {
    /// The member's record after the change.
    pub member: Member,
    /// Status before the change; `None` when the member was not known.
    pub from: Option<Status>,
    /// Status after the change.
    pub to: Status,
    /// The generation the member had here before, when the change is to a new one (a restart:
    /// `member.generation` is the new one).
    pub previous_generation: Option<u64>,
}

/// The kind of change an event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A member we did not know, not dead or left.
    Joined,
    /// A member became suspect.
    Suspect,
    /// A suspicion timed out; the application decides (see [`crate::Command::ConfirmDead`]).
    Unreachable,
    /// A suspect or unreachable member is alive again (it refuted).
    AliveAgain,
    /// A member was declared dead.
    Dead,
    /// A member left gracefully.
    Left,
    /// An alive member changed its metadata.
    MetadataChanged,
    /// A member came back at a new generation (a restarted process, or a node that rejoined
    /// by itself after being declared dead).
    Restarted,
}

impl EventKind {
    /// Every kind, in declaration order (`kind as usize` is its index). A new kind goes here
    /// too: the test `event_kinds_are_listed_by_index_and_named` names every kind with its
    /// place here in an exhaustive match, which stops compiling when a kind is added.
    pub const ALL: [EventKind; 8] = [
        EventKind::Joined,
        EventKind::Suspect,
        EventKind::Unreachable,
        EventKind::AliveAgain,
        EventKind::Dead,
        EventKind::Left,
        EventKind::MetadataChanged,
        EventKind::Restarted,
    ];

    /// The kind's name in snake case, as the agent's API and the metrics' `kind` label spell it.
    pub const fn name(self) -> &'static str {
        match self {
            EventKind::Joined => "joined",
            EventKind::Suspect => "suspect",
            EventKind::Unreachable => "unreachable",
            EventKind::AliveAgain => "alive_again",
            EventKind::Dead => "dead",
            EventKind::Left => "left",
            EventKind::MetadataChanged => "metadata_changed",
            EventKind::Restarted => "restarted",
        }
    }
}

impl MemberEvent {
    /// What kind of change this is.
    pub fn kind(&self) -> EventKind {
        if self.previous_generation.is_some() && !self.to.is_terminal() {
            return EventKind::Restarted;
        }
        match (self.from, self.to) {
            (_, Status::Dead) => EventKind::Dead,
            (_, Status::Left) => EventKind::Left,
            (None, _) => EventKind::Joined,
            (_, Status::Suspect) => EventKind::Suspect,
            (_, Status::Unreachable) => EventKind::Unreachable,
            (Some(Status::Alive), Status::Alive) => EventKind::MetadataChanged,
            (Some(_), Status::Alive) => EventKind::AliveAgain,
        }
    }
}
