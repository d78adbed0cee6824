//! Conformance between the model and the production library (PROTOCOL.md §11).
//!
//! The model checker's explored runs, exported as traces in `traces/`, are replayed against real
//! [`swim-checked`](swim_checked) nodes on loopback UDP: see [`replay`] for how, [`corpus`] for
//! running them all. A member of a simulator run (a simulator counterexample) is replayed the
//! same way: see [`sim_replay`].

pub mod agent_records;
pub mod corpus;
pub mod framing;
pub mod generate;
pub mod metered;
pub mod record;
pub mod replay;
pub mod script;
pub mod sim_replay;
pub mod space;
pub mod validate;

pub use framing::Keys;
pub use replay::{Divergence, Options, Replayed, replay_node};
pub use script::Script;
