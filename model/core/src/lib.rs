//! The SWIM + Lifeguard membership protocol as a pure, deterministic state machine.
//!
//! This crate is the *core* shared by the model checker and the production library: no
//! sockets, no clock and no random number generator live here. A [`Node`] takes inputs (the
//! current time, a received [`Message`], a fired [`Timer`] or a user [`Command`]), asks its caller
//! for randomness through [`Pick`], and answers with [`Effect`]s: datagrams to send, timers to
//! set or cancel, and [`MemberEvent`]s to report.
//!
//! ```
//! use swim_checked_core::{Config, Effect, Node, NodeId, Meta, Timer};
//!
//! let addr = "127.0.0.1:7946".parse().unwrap();
//! let mut effects = Vec::new();
//! let mut node = Node::new(Config::lan(), NodeId(1), addr, Meta::default(), 0, &mut effects).unwrap();
//! // A fresh node arms its first probe tick one probe interval from now.
//! assert!(effects.contains(&Effect::SetTimer { timer: Timer::Tick, at: 1_000 }));
//! assert_eq!(node.members().count(), 1); // only itself
//! # let _ = &mut node;
//! ```

#![warn(missing_docs)]

pub mod codec;
pub mod config;
pub mod effect;
#[cfg(swim_faults)]
pub mod faults;
#[cfg(not(swim_faults))]
mod faults;
pub mod gossip;
pub mod health;
pub mod member;
pub mod membership;
pub mod message;
pub mod node;
pub mod pick;
pub mod probe;
pub mod status;
pub mod suspicion;
pub mod timer;
pub mod user;
pub mod zone;

pub use codec::{DecodeError, EncodeError, Envelope, SealedLayout, Wire};
pub use config::{Config, ConfigError};
pub use effect::{Effect, EventKind, MemberEvent};
pub use member::{Member, Meta, Name, NodeId};
pub use message::{Body, Message};
pub use node::{Command, CommandError, Node, NodeStats, Phase};
pub use pick::Pick;
pub use status::{Merge, Status};
pub use timer::{Timer, TimerTable};
pub use user::{Broadcast, UserKind, UserMessage};

/// Milliseconds on the caller's clock. The core never reads a clock: every input carries `now`.
pub type Millis = u64;
