//! The deterministic simulator: thousands of real core nodes over a simulated network, the
//! checker's safety properties evaluated on every step (`cargo run --release -p model -- sim`).
//!
//! The model checker proves the properties of PROTOCOL.md §9 for every behaviour of 3 to 5
//! nodes; the simulator runs the same [`swim_checked_core::Node`] at the sizes users run
//! (hundreds to tens of thousands of members, zones, loss, partitions, slow members, crashes,
//! restarts, joins, leaves, clock drift), one seeded path at a time, and measures what the
//! protocol does there: detection times, dissemination, false suspicions, traffic.
//!
//! Read in order: [`scenario`] (a run as data), [`network`], [`clock`], [`queue`],
//! [`online`] (the properties, checked as it runs), [`metrics`], [`runner`] (the loop), and
//! [`figures`] (the sweeps behind `docs/benchmarks.md`), and [`lifeguard`] (Lifeguard's
//! experiment: its components on and off).

pub mod clock;
pub mod counterexample;
pub mod figures;
pub mod lifeguard;
pub mod metrics;
pub mod network;
pub mod online;
pub mod queue;
pub mod runner;
pub mod scenario;
pub mod zones;

pub use metrics::Report;
pub use runner::{Found, Outcome, Simulation};
pub use scenario::Scenario;
