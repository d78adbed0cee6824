//! The integration tests of the conformance suite, in one test binary (one link instead of
//! six):
//!
//! - [`corpus`]: every node of every trace in `traces/` replayed against a real node;
//! - [`replay`]: seeded walks made on the spot, replayed the same way;
//! - [`harness`]: the harness catches each kind of tampering with a trace;
//! - [`validate`]: recorded runs of real nodes validated against the model;
//! - [`sim`]: members of simulator runs (and, under `--cfg swim_faults`, a simulator
//!   counterexample of a broken core) replayed against real nodes;
//! - `faults` (under `--cfg swim_faults`): each broken shell diverges from the traces.
//!
//! Run one part with a filter, e.g. `cargo test -p conformance --test conformance validate::`.

mod corpus;
#[cfg(swim_faults)]
mod faults;
mod harness;
mod replay;
mod sim;
mod validate;
