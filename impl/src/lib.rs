//! Cluster membership and failure detection over UDP for tokio: SWIM with HashiCorp's Lifeguard
//! extensions, and application data gossiped to every member.
//!
//! # Quickstart
//!
//! Start a [`Node`] on a UDP address, [`join`](Node::join) a cluster through one or more seeds,
//! then read the view ([`Node::members`], [`Node::watch`], [`Node::wait_for`]), follow the
//! [`MemberEvent`]s ([`Node::subscribe`], a `futures::Stream`), and exchange application data
//! ([`Node::broadcast`], [`Node::send_to`], [`Node::messages`]).
//!
//! ```
//! use std::time::Duration;
//! use swim_checked::{Config, EventKind, Node, UserKind};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), swim_checked::Error> {
//! // Three nodes on loopback; `Config::local()` has short periods for single-host clusters.
//! let a = Node::bind(Config::local(), "127.0.0.1:0").await?;
//! let b = Node::bind(Config::local(), "127.0.0.1:0").await?;
//! let c = Node::bind(Config::local(), "127.0.0.1:0").await?;
//!
//! // `join` returns once a seed answered, with the seeds that did and the view size.
//! let joined = b.join([a.local_addr()]).await?;
//! assert_eq!(joined.seeds, [a.local_addr()]);
//! c.join([a.local_addr()]).await?;
//!
//! // Wait until every node sees all three.
//! for node in [&a, &b, &c] {
//!     node.wait_for(|view| view.live_count() == 3, Duration::from_secs(10)).await?;
//! }
//!
//! // Metadata, one key at a time: `a` hears of the change as an event.
//! let mut events = a.subscribe();
//! b.set_meta_key("role", "worker").await?;
//! while let Some(event) = events.recv().await {
//!     if event.member.id == b.id() && event.kind() == EventKind::MetadataChanged {
//!         assert_eq!(event.member.meta.get("role"), Some("worker"));
//!         break;
//!     }
//! }
//!
//! // Application data: a broadcast reaches every member once.
//! let mut inbox = c.messages();
//! a.broadcast("hello, cluster").await?;
//! let message = inbox.recv().await.expect("node running");
//! assert_eq!((message.from, message.kind), (a.id(), UserKind::Broadcast));
//! assert_eq!(message.payload, b"hello, cluster");
//!
//! // Leave: returns once every member acknowledged; they hold `b` as left, not dead.
//! b.leave().await?;
//! for node in [&b, &c, &a] {
//!     node.shutdown().await?;
//! }
//! # Ok(()) }
//! ```
//!
//! The `examples/` directory has runnable programs: `cluster` (five nodes), `broadcast`
//! (application data), `watch` (the view as it changes). [`Config`] loads from TOML.
//!
//! # Design
//!
//! Every protocol decision is made by the sans-IO core, the [`swim_checked_core`] crate: this crate is a
//! thin shell around it. One tokio task per node selects over its socket, its next timer
//! deadline and the commands of its handles; it feeds each input to the core with the current
//! time and a random source, and carries out the effects: [`Effect::Send`](harness::Effect::Send) is encoded with
//! [`Wire`](harness::Wire) (a header with magic, protocol version and cluster label, then the core's postcard
//! codec; never more than `Config::max_datagram` bytes) and sent; [`Effect::SetTimer`](harness::Effect::SetTimer) and
//! [`Effect::CancelTimer`](harness::Effect::CancelTimer) update its [`TimerTable`](swim_checked_core::TimerTable);
//! [`Effect::Event`](harness::Effect::Event) is published to subscribers. Each input is one step under one short lock
//! of the node's state (the view, the timers, the counters); datagrams go out and events are
//! published once the lock is released, in the order of the effects.
//!
//! A datagram that does not decode (random bytes, truncated, oversized, another protocol
//! version, another cluster label, a bad checksum, a malformed body, broken limits) is dropped,
//! counted by reason in [`Stats::dropped`] and logged at debug level; it never reaches the core.
//!
//! # Encryption
//!
//! Give the node a [`Keyring`] ([`Builder::keyring`]) and every datagram is sealed with
//! XChaCha20-Poly1305 under the primary key (a fresh random nonce from the OS each time); a
//! datagram no installed key opens is dropped as `unauthenticated`, a plaintext one as
//! `plaintext_refused`. Keys rotate on a running node ([`Node::install_key`],
//! [`Node::use_key`], [`Node::remove_key`]); [`Encryption`] rolls encryption out member by
//! member. Without a key, datagrams carry a CRC-32C. See `docs/security.md`.
//!
//! ```
//! use swim_checked::{Config, Key, Keyring, Node};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), swim_checked::Error> {
//! // In production, read the key from a secret store: `head -c 32 /dev/urandom | base64`.
//! let key = Key::from_base64("q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=")?;
//! let a = Node::builder(Config::local())
//!     .keyring(Keyring::new(key.clone()))
//!     .bind("127.0.0.1:0")
//!     .await?;
//! let b = Node::builder(Config::local())
//!     .keyring(Keyring::new(key))
//!     .bind("127.0.0.1:0")
//!     .await?;
//! b.join([a.local_addr()]).await?;
//! // Rotate: install the new key everywhere, use it everywhere, remove the old one.
//! let new = Key::generate()?;
//! for node in [&a, &b] {
//!     node.install_key(new.clone())?;
//! }
//! let old = a.keys()[0].clone();
//! for node in [&a, &b] {
//!     node.use_key(&new)?;
//! }
//! for node in [&a, &b] {
//!     node.remove_key(&old)?;
//! }
//! # a.shutdown().await?; b.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! # Observability
//!
//! The node task runs in a `tracing` span `swim{node, addr}`; member events are logged at info
//! level, drops and send failures at debug, each datagram at trace. With the `metrics` feature,
//! counters and gauges go through the `metrics` facade (see the `metrics` module).
//!
//! # Features
//!
//! - `agent` (default): the `swim-agent` binary (`cargo install swim-checked`): one member per
//!   process with a JSON API, Prometheus metrics and a live dashboard over HTTP (docs/agent.md
//!   in the repository). It turns `metrics` on. A library depending on this crate writes
//!   `default-features = false` and gets none of the binary's dependencies.
//! - `metrics`: counters and gauges through the `metrics` facade.

#![warn(missing_docs)]

mod builder;
mod clock;
mod config;
mod error;
mod events;
#[cfg(swim_faults)]
pub mod faults;
// Without the cfg the node task's fault hooks are no-ops (same crate-private API).
#[cfg(not(swim_faults))]
#[path = "faults_off.rs"]
mod faults;
#[cfg(feature = "metrics")]
pub mod metrics;
// Without the feature the node task's counters and gauges are no-ops (same crate-private API).
#[cfg(not(feature = "metrics"))]
#[path = "metrics_off.rs"]
mod metrics;
mod node;
mod observer;
mod pick;
mod record;
mod seal;
mod shared;
mod stats;
mod task;
mod transport;
mod view;

pub use builder::Builder;
pub use config::{Config, ConfigBuilder};
pub use error::{Error, JoinError, SeedFailure, SeedSilence};
pub use events::{Events, Messages};
pub use node::{Joined, Node, Seed};
pub use seal::{Encryption, KEY_LEN, Key, KeyError, Keyring, MAX_KEYS};
pub use stats::{Drops, Stats};
pub use view::View;

pub use swim_checked_core::{
    CommandError, ConfigError, EventKind, Member, MemberEvent, Meta, NodeId, NodeStats, Phase,
    Status, UserKind, UserMessage,
};

pub mod harness {
    //! For test harnesses, benchmarks and the conformance suite: the injection points of a node
    //! and the protocol core's types (messages, effects, timers, the wire codec).
    //!
    //! Applications need none of this.
    //!
    //! Everything the core does not decide can be replaced through the [`Builder`](crate::Builder), which is how
    //! the deterministic tests and the conformance harness drive real nodes on real sockets:
    //!
    //! - **Time**: [`Clock`] (`now` and `sleep_until`). [`TokioClock`] by default; with a
    //!   [`ManualClock`] time moves only when the test advances it, and advancing wakes every node
    //!   task whose next deadline came. The node reads the clock for every input it feeds the core.
    //! - **Randomness**: [`Picker`] = the core's [`Pick`] plus fresh node ids. [`RngPicker`] seeded
    //!   from the OS by default, [`RngPicker::seeded`] for reproducible runs, or your own to play back
    //!   recorded choices.
    //! - **Network**: [`Transport`] (poll-receive, non-blocking send). [`UdpTransport`] by default;
    //!   [`Lossy`] wraps any transport to drop datagrams; [`Builder::start`](crate::Builder::start) takes any transport.
    //! - **Watching**: an [`Observer`] sees every transition the task carries out (the input, the
    //!   time, the effects in order, after they were applied), every dropped datagram, and each time
    //!   the task goes idle with its next deadline. Together with [`Node::timers`](crate::Node::timers) (timer map with
    //!   deadlines), [`Node::members`](crate::Node::members) (the view) and [`Node::with_core`](crate::Node::with_core) (the whole core state)
    //!   this lets a harness compare a node with a trace after every step.
    //! - **Recording**: [`RecordedStep`] records one transition (input, time, picks, effects) as
    //!   an [`Observer`] sees it, with the picks a [`RecordingPicker`] wrote down, for checking a
    //!   real run against the model afterwards; [`WallClock`] gives processes on one host one time.
    //! - **Faults**: [`Node::abort`](crate::Node::abort) kills the task as a crash would (no leave), [`Node::stall`](crate::Node::stall)
    //!   blocks it for a while as a stopped process would.
    //!
    //! Driving a node step by step (what `impl/tests/shell/manual.rs` does, and what a conformance
    //! replay needs): give every node a [`ManualClock`], a seeded or scripted [`Picker`] and an
    //! [`Observer`]. After changing the clock or sending a datagram, wait until the network is
    //! quiet: every datagram sent to a node was handled ([`Input::Message`] or
    //! [`Observer::on_drop`]), and every node reported [`Observer::on_idle`] with its next deadline
    //! beyond the current time. Then compare the [`Step`]s seen (inputs, sent messages, timers set
    //! with deadlines, events), [`Node::timers`](crate::Node::timers) and [`Node::members`](crate::Node::members) with what was expected, and
    //! advance the clock to the next deadline. Datagrams take no protocol time; timing is exact.
    //! A node reads every datagram already queued before it fires a due timer, and reads its clock
    //! once per input, so the order of inputs is the order of the steps reported.
    //!
    //! These types live here only: the crate root keeps to the application's API.
    //!
    //! ```
    //! use swim_checked::harness::{Body, Command, Effect, Input, Lossy, Message, Pick, Step, Timer, Wire};
    //! ```
    //!
    //! ```compile_fail
    //! use swim_checked::Effect;
    //! ```
    //!
    //! ```compile_fail
    //! use swim_checked::Message;
    //! ```
    //!
    //! ```compile_fail
    //! use swim_checked::Wire;
    //! ```

    pub use crate::clock::{Clock, ManualClock, Sleep, TokioClock, WallClock};
    pub use crate::observer::{Input, Observer, Step};
    pub use crate::pick::{Picker, RngPicker};
    pub use crate::record::{
        PickLog, PickRecord, RecordHeader, RecordedInput, RecordedStep, RecordingPicker,
    };
    pub use crate::transport::{LossControl, Lossy, Transport, UdpTransport};
    pub use swim_checked_core as core;
    pub use swim_checked_core::{
        Body, Broadcast, Command, DecodeError, Effect, Message, Millis, Pick, Timer, Wire,
    };
}
