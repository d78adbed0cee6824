//! What a node asks its shell to do: send, arm or cancel timers, report events.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::Millis;
use crate::member::Member;
use crate::message::Message;
use crate::status::Status;
use crate::timer::Timer;

/// One output of a transition, to be carried out by the shell in order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Effect {
    Send { to: SocketAddr, msg: Message },
    SetTimer { timer: Timer, at: Millis },
    CancelTimer { timer: Timer },
    Event(MemberEvent),
}

/// A change in the local view of one member. Changes about the node itself are reported too:
/// `to: Dead` when the cluster declared it dead, `to: Left` when its own leave completed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MemberEvent {
    /// The member's record after the change.
    pub member: Member,
    /// Status before the change; `None` when the member was not known.
    pub from: Option<Status>,
    pub to: Status,
}

/// The kind of change an event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    Joined,
    Suspect,
    Unreachable,
    AliveAgain,
    Dead,
    Left,
    MetadataChanged,
}

impl MemberEvent {
    /// What kind of change this is.
    pub fn kind(&self) -> EventKind {
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
