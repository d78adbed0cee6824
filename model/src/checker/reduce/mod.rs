//! The reductions that make large worlds checkable, each sound because a datagram takes one
//! millisecond (nothing sent in an instant arrives in it):
//!
//! - [`node_order`]: within an instant, nodes take their inputs in index order
//!   ([`Setup::node_order`](super::Setup::node_order));
//! - [`instants`]: the checker stores only the states at which a timer instant starts;
//! - [`symmetry`]: states equal up to a renaming of the nodes are explored once.
//!
//! [`growth`] measures the reduced space level by level (how it grows from leap to leap).

pub mod growth;
pub mod instants;
pub mod node_order;
pub mod symmetry;
