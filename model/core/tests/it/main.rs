//! The core's integration tests, in one binary (one link instead of one per file).
//!
//! Each module is one area of the protocol; `common` holds the driver and helpers they share.

mod codec;
mod common;
mod config;
mod gossip;
mod guard;
mod health;
mod lattice;
mod lifecycle;
mod network;
mod probing;
mod props;
mod refutation;
mod rejoin;
mod sim_smoke;
mod suspicion;
mod user;
