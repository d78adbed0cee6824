//! The model checker and verification tools of `swim-checked`: a [`stateright`] model over the
//! real protocol core ([`swim_checked_core`]), the trace format the conformance suite replays,
//! seeded random walks and the corpus exporter. The `model` binary is its command line
//! (`cargo run --release -p model -- check`).
//!
//! Nothing here is part of the production library: the checker explores the very `Node` the
//! library runs, and what it proves is about that code.

pub mod checker;
pub mod sim;
