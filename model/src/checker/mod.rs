//! The model checker: a hand-written [`stateright::Model`] over the real core.
//!
//! The state is `N` [`Node`](swim_checked_core::Node)s (the very state machine production
//! runs) plus their environment: the datagrams in flight (a multiset), each node's pending
//! timers with their deadlines, a discrete clock, each node's life (up, paused, crashed),
//! budgets for faults and user commands, and, while a replay is left, the datagrams sent so far. Every action is one input to one node, or one move of
//! the environment:
//!
//! | action | when |
//! |---|---|
//! | deliver a datagram | its destination is up |
//! | fire a timer | it is due (`deadline <= now`) on an up node |
//! | resume a paused node | always (and before the clock may pass the disturbance window) |
//! | advance the clock | nothing above is enabled: one millisecond if a datagram is on its way, else to the next deadline (within the horizon) |
//! | drop / duplicate a datagram, crash / pause a node, restart a crashed one elsewhere | budget left, inside the disturbance window |
//! | replay a datagram sent earlier ([`State::history`]) | budget left, inside the disturbance window, once nothing but the clock can move |
//! | leave, set metadata, confirm dead, rejoin (user commands) | budget left, inside the disturbance window |
//!
//! A datagram takes one millisecond: sent at `t`, it is delivered (or dropped, or duplicated)
//! at `t + 1`, before the clock moves on. The network is fast next to the protocol's timers (a
//! period is 10 ms), so a lost probe is a drop, a pause or a crash, never a slow wire.
//! Datagrams arriving in the same millisecond reach a node in every order; one sent later
//! arrives later. The fixed latency is what makes a node's inputs of one instant independent of
//! the other nodes' (nothing sent in an instant arrives in it), which the reductions for large
//! worlds rely on ([`Setup::node_order`], [`reduce::instants`]). Every random choice the
//! core asks for ([`swim_checked_core::Pick`]) is explored: an input that picks becomes one
//! action per sequence of outcomes ([`picks`]). Timer durations are the core's own (LHM
//! scaling, Lifeguard suspicion timeout) on the scaled-down [`Setup::scaled_config`].
//!
//! Faults and commands stop at [`Setup::disturb_until`], `horizon - settle`, so that every run
//! ends with a fault-free stretch long enough for detection and dissemination: that is what makes
//! "convergence at rest" and "completeness" bounded safety properties (see [`properties`]).
//!
//! Read top to bottom: [`setup`] (the world) and [`worlds`] (the ones `check` runs), [`state`],
//! [`action`], [`picks`] (the outcomes of the core's random choices), [`model`] (the
//! [`stateright::Model`]), then the reductions for large worlds ([`reduce`]), the
//! [`properties`] and the per-step [`rules`] some of them read, and the tools around the
//! checker: [`trace`], [`report`], [`walk`], [`export`].

pub mod action;
pub mod export;
pub mod model;
pub mod picks;
pub mod properties;
pub mod reduce;
pub mod report;
pub mod rules;
pub mod setup;
pub mod state;
pub mod trace;
pub mod walk;
pub mod worlds;

pub use action::{Action, Picks, Transition};
pub use model::SwimModel;
pub use picks::Replay;
pub use properties::{Kind, PropertyInfo};
pub use setup::{
    Setup, generation, index_of, index_of_addr, moved_addr, node_addr, node_id, node_id_in,
    padded_meta, rejoin_id,
};
pub use state::{Budget, Copies, Datagram, Ghost, Host, Life, Marks, State, UserLog};
pub use trace::{Input, Outsider, PickRecord, Playback, Step, Trace, UserCommand};

pub(crate) use state::stable_hash;
