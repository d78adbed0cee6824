//! The integration tests of the model checker, in one test binary (one link instead of three):
//!
//! - [`checker`]: the checker checks itself (every property holds on the real core, each
//!   safety property catches a broken core under `--cfg swim_faults`);
//! - [`reduction`]: the reductions against the plain model;
//! - [`corpus`]: the committed corpus (`traces/`) against the model of this commit;
//! - [`sim`]: the simulator (a 200-member run with faults; broken cores caught online).
//!
//! Run one part with a filter, e.g. `cargo test -p model --test model corpus::`.

mod checker;
mod checking;
mod corpus;
mod reduction;
mod sim;
